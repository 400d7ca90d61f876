//! Assembling the active [`FilterSet`] from the three front-ends: `--allowlist/--denylist` JSON, a Cilium
//! `flowlogs.yaml`, and `hubble observe` flags. Any filter option replaces the default entirely (as in Cilium,
//! an empty allowlist with a denylist keeps everything not denied).

use crate::cli::FilterArgs;
use hubble_flow::filter::{flowlogs, observe, parse_filter_list, FilterSet, FlowFilterSpec};

/// A filter configuration error, for exit code 2.
#[derive(Debug)]
pub struct FilterConfigError(pub String);

impl std::fmt::Display for FilterConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether any filter option was given.
pub fn any_filter_option(args: &FilterArgs, observe_flags: &[(String, String)]) -> bool {
    !args.allowlist.is_empty()
        || !args.denylist.is_empty()
        || args.flowlogs.is_some()
        || !observe_flags.is_empty()
}

/// Builds the filter set from the options (`observe_flags` in argv order).
pub fn build(
    args: &FilterArgs,
    observe_flags: &[(String, String)],
) -> Result<FilterSet, FilterConfigError> {
    if !any_filter_option(args, observe_flags) {
        return FilterSet::build(vec![FilterSet::default_policy_deny_egress()], Vec::new())
            .map_err(|e| FilterConfigError(e.to_string()));
    }
    let mut include: Vec<FlowFilterSpec> = Vec::new();
    let mut exclude: Vec<FlowFilterSpec> = Vec::new();
    for (flag, list, values) in [
        ("--allowlist", &mut include, &args.allowlist),
        ("--denylist", &mut exclude, &args.denylist),
    ] {
        for (i, v) in values.iter().enumerate() {
            let parsed = parse_filter_list(v)
                .map_err(|e| FilterConfigError(format!("{flag} #{}: {e}", i + 1)))?;
            // Build each option's filters alone first, so an error names the option that carries it.
            FilterSet::build(parsed.clone(), Vec::new())
                .map_err(|e| FilterConfigError(format!("{flag} #{}: {e}", i + 1)))?;
            list.extend(parsed);
        }
    }
    if let Some(path) = &args.flowlogs {
        let file =
            flowlogs::FlowLogsFile::load(path).map_err(|e| FilterConfigError(e.to_string()))?;
        let entry = file
            .select(args.flowlog.as_deref())
            .map_err(|e| FilterConfigError(e.to_string()))?;
        include.extend(entry.config.include_filters.iter().cloned());
        exclude.extend(entry.config.exclude_filters.iter().cloned());
    }
    if !observe_flags.is_empty() {
        let (inc, exc) = observe::filters_from_flags(
            observe_flags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .map_err(|e| FilterConfigError(e.to_string()))?;
        include.extend(inc);
        exclude.extend(exc);
    }
    FilterSet::build(include, exclude).map_err(|e| FilterConfigError(e.to_string()))
}
