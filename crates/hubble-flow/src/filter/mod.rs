//! Cilium's flow filters: allow/deny lists of `FlowFilter`s with the exact semantics of cilium v1.19
//! `pkg/hubble/filters`, and their front-ends.
//!
//! - [`spec`]: the deserialisable `FlowFilter` ([`FlowFilterSpec`]) and the allowlist text syntax.
//! - [`build`]: compiles a spec into matchers (one per set field, AND'ed); build errors name the filter.
//! - matcher families: [`ip`], [`namespaced_name`] (pods and services as `namespace/name-prefix`), [`patterns`] (FQDN and node-name globs), [`labels`] (selectors),
//!   [`http`] (with [`goregex`]: Go RE2 syntax on Rust regex), [`l4`] (protocol, ports, TCP flags),
//!   [`event_type`], [`scalar`] (enum/identity/uuid fields).
//! - front-ends: [`flowlogs`] (dynamic exporter YAML), [`observe`] (`hubble observe` flags).
//!
//! Guarantees: [`FilterSet::keep`] = `include.any(matches) && !exclude.any(matches)`, an empty include list
//! admits everything, and non-flow records (lost/agent/debug events, node status) pass or fail exactly as Cilium
//! decides. `keep` does not allocate: regexes, prefixes and selectors are compiled once in [`FilterSet::build`].

pub mod build;
pub mod event_type;
pub mod flowlogs;
pub mod goregex;
pub mod http;
pub mod ip;
pub mod l4;
pub mod labels;
pub mod namespaced_name;
pub mod observe;
pub mod patterns;
pub mod scalar;
pub mod spec;

pub use spec::{
    parse_filter_list, EventTypeFilterSpec, ExperimentalSpec, FlowFilterSpec, HttpHeaderSpec,
    NetworkInterfaceSpec, TcpFlagsSpec, WorkloadSpec,
};

use crate::enums::{AGENT_EVENT_TYPE, DEBUG_EVENT_TYPE};
use crate::flow::Flow;
use crate::json::EnumValue;
use crate::record::Record;
use build::CompiledFilter;
use std::fmt;

/// Which list a filter belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterList {
    /// The allowlist (`includeFilters`, `--hubble-export-allowlist`).
    Include,
    /// The denylist (`excludeFilters`, `--hubble-export-denylist`).
    Exclude,
}

impl fmt::Display for FilterList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FilterList::Include => "include",
            FilterList::Exclude => "exclude",
        })
    }
}

/// Why a filter configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// A filter failed to build (invalid IP, regex, pattern, port, unsupported CEL, ...).
    #[error("{list} filter #{index} ({field}): {reason}")]
    Build {
        /// The list the filter is in.
        list: FilterList,
        /// 0-based position in that list.
        index: usize,
        /// The FlowFilter field at fault (proto name).
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Filter text (JSON/YAML) that does not parse as FlowFilters.
    #[error("{source_name}: {reason}")]
    Parse {
        /// Where the text came from (a flag, a file name, ...).
        source_name: String,
        /// The parser's message, with position where known.
        reason: String,
    },
    /// A `flowlogs.yaml` that is readable but invalid, or a `--flowlog` selection that does not resolve.
    #[error("{file}: {reason}")]
    FlowLogs {
        /// The configuration file.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// An invalid `hubble observe`-style flag.
    #[error("--{flag}: {reason}")]
    Observe {
        /// The flag name without dashes.
        flag: String,
        /// What is wrong.
        reason: String,
    },
}

/// The event a filter looks at: a flow or one of the non-flow exporter records.
#[derive(Debug, Clone, Copy)]
pub enum Event<'r, 'a> {
    /// A flow.
    Flow(&'r Flow<'a>),
    /// A lost-events record.
    Lost,
    /// An agent event with its `flow.AgentEventType` number (`None` for an unknown name).
    Agent(Option<i32>),
    /// A debug event with its `flow.DebugEventType` number (`None` for an unknown name).
    Debug(Option<i32>),
    /// A node status record (Relay only).
    NodeStatus,
}

impl<'r, 'a> Event<'r, 'a> {
    /// The view of a decoded record.
    pub fn of(r: &'r Record<'a>) -> Self {
        match r {
            Record::Flow { flow, .. } => Event::Flow(flow),
            Record::LostEvents => Event::Lost,
            Record::AgentEvent { event_type } => {
                Event::Agent(enum_or_zero(event_type, &AGENT_EVENT_TYPE))
            }
            Record::DebugEvent { event_type } => {
                Event::Debug(enum_or_zero(event_type, &DEBUG_EVENT_TYPE))
            }
            Record::NodeStatus => Event::NodeStatus,
        }
    }

    /// The flow, for flow-only filters (which are false for every other record).
    pub fn flow(&self) -> Option<&'r Flow<'a>> {
        match self {
            Event::Flow(f) => Some(f),
            _ => None,
        }
    }
}

fn enum_or_zero(v: &Option<EnumValue<'_>>, t: &crate::enums::EnumTable) -> Option<i32> {
    match v {
        None => Some(0),
        Some(v) => t.code(v),
    }
}

/// Compiled allow and deny lists.
#[derive(Debug, Default)]
pub struct FilterSet {
    include: Vec<CompiledFilter>,
    exclude: Vec<CompiledFilter>,
    include_specs: Vec<FlowFilterSpec>,
    warnings: Vec<String>,
}

impl FilterSet {
    /// Compiles both lists. The first filter that fails to build fails the whole set, as in Cilium.
    pub fn build(
        include: Vec<FlowFilterSpec>,
        exclude: Vec<FlowFilterSpec>,
    ) -> Result<FilterSet, FilterError> {
        let mut warnings = Vec::new();
        let mut compile = |list: FilterList,
                           specs: &[FlowFilterSpec]|
         -> Result<Vec<CompiledFilter>, FilterError> {
            specs
                .iter()
                .enumerate()
                .map(|(index, spec)| {
                    warnings.extend(
                        build::warnings(spec)
                            .into_iter()
                            .map(|w| format!("{list} filter #{index}: {w}")),
                    );
                    build::compile(spec).map_err(|(field, reason)| FilterError::Build {
                        list,
                        index,
                        field,
                        reason,
                    })
                })
                .collect()
        };
        let inc = compile(FilterList::Include, &include)?;
        let exc = compile(FilterList::Exclude, &exclude)?;
        Ok(FilterSet {
            include: inc,
            exclude: exc,
            include_specs: include,
            warnings,
        })
    }

    /// Parses and builds `--allowlist` / `--denylist` text (Cilium's allowlist syntax, see [`parse_filter_list`]).
    /// Parse errors name the list (`allowlist`/`denylist`) and the position.
    pub fn from_json_lists(allowlist: &str, denylist: &str) -> Result<FilterSet, FilterError> {
        let parse = |name: &str, text: &str| {
            parse_filter_list(text).map_err(|reason| FilterError::Parse {
                source_name: name.to_string(),
                reason,
            })
        };
        FilterSet::build(parse("allowlist", allowlist)?, parse("denylist", denylist)?)
    }

    /// Whether Cilium's exporter would export this record: `include.any && !exclude.any`.
    pub fn keep(&self, r: &Record<'_>) -> bool {
        self.keep_event(Event::of(r))
    }

    /// [`FilterSet::keep`] on an event view.
    pub fn keep_event(&self, ev: Event<'_, '_>) -> bool {
        let allowed = self.include.is_empty() || self.include.iter().any(|f| f.matches(ev));
        allowed && !self.exclude.iter().any(|f| f.matches(ev))
    }

    /// Whether the allow-list side matches (`MatchOne`; true for an empty list).
    pub fn include_matches(&self, r: &Record<'_>) -> bool {
        let ev = Event::of(r);
        self.include.is_empty() || self.include.iter().any(|f| f.matches(ev))
    }

    /// Human-readable warnings about filters that are valid but probably not what was meant.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The include filters as given (the prefilter derives its evidence from them).
    pub fn include_specs(&self) -> &[FlowFilterSpec] {
        &self.include_specs
    }

    /// Whether there are no include filters (everything passes the allow side).
    pub fn include_is_empty(&self) -> bool {
        self.include.is_empty()
    }

    /// The project's default filter: policy-deny (drop reason 181) drops in the EGRESS direction,
    /// `{"event_type":[{"type":1,"match_sub_type":true,"sub_type":181}],"traffic_direction":["EGRESS"]}`.
    pub fn default_policy_deny_egress() -> FlowFilterSpec {
        FlowFilterSpec {
            event_type: vec![EventTypeFilterSpec {
                event_type: 1,
                match_sub_type: true,
                sub_type: 181,
            }],
            traffic_direction: vec![2],
            ..FlowFilterSpec::default()
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
