//! Compiles one [`FlowFilterSpec`] into matchers, one per set field (AND'ed), as cilium's `BuildFilter` with
//! `DefaultFilters` does.
//!
//! Guarantees: every field of the spec is either compiled or rejected (CEL is rejected as unsupported); a build
//! error names the field and the reason; a spec with no field set compiles to "match everything". Empty lists are
//! "unset" (proto3 repeated fields have no presence).

use super::spec::FlowFilterSpec;
use super::{event_type, http, ip, l4, labels, namespaced_name, patterns, scalar, Event};
use std::fmt;

/// A compiled per-field test.
pub type MatchFn = Box<dyn Fn(Event<'_, '_>) -> bool + Send + Sync>;

/// One compiled FlowFilter: all matchers must match.
pub struct CompiledFilter {
    matchers: Vec<(&'static str, MatchFn)>,
}

impl fmt::Debug for CompiledFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: Vec<&str> = self.matchers.iter().map(|(n, _)| *n).collect();
        f.debug_struct("CompiledFilter")
            .field("fields", &fields)
            .finish()
    }
}

impl CompiledFilter {
    /// Whether every field test matches (`MatchAll`).
    pub fn matches(&self, ev: Event<'_, '_>) -> bool {
        self.matchers.iter().all(|(_, m)| m(ev))
    }
}

/// A build failure: (proto field name, reason).
pub type BuildError = (&'static str, String);

/// Compiles a spec.
pub fn compile(spec: &FlowFilterSpec) -> Result<CompiledFilter, BuildError> {
    let mut m: Vec<(&'static str, MatchFn)> = Vec::new();
    let mut add = |name: &'static str, r: Result<MatchFn, String>| -> Result<(), BuildError> {
        m.push((name, r.map_err(|e| (name, e))?));
        Ok(())
    };
    let s = spec;
    if !s.uuid.is_empty() {
        add("uuid", Ok(scalar::uuid(s.uuid.clone())))?;
    }
    if !s.event_type.is_empty() {
        add("event_type", Ok(event_type::matcher(s.event_type.clone())))?;
    }
    if !s.verdict.is_empty() {
        add("verdict", Ok(scalar::verdict(s.verdict.clone())))?;
    }
    if !s.drop_reason_desc.is_empty() {
        add(
            "drop_reason_desc",
            Ok(scalar::drop_reason_desc(s.drop_reason_desc.clone())),
        )?;
    }
    if !s.reply.is_empty() {
        add("reply", Ok(scalar::reply(s.reply.clone())))?;
    }
    if !s.source_identity.is_empty() {
        add(
            "source_identity",
            Ok(scalar::identity(
                s.source_identity.clone(),
                scalar::Side::Source,
            )),
        )?;
    }
    if !s.destination_identity.is_empty() {
        add(
            "destination_identity",
            Ok(scalar::identity(
                s.destination_identity.clone(),
                scalar::Side::Destination,
            )),
        )?;
    }
    if !s.protocol.is_empty() {
        add("protocol", l4::protocol(&s.protocol))?;
    }
    if !s.source_ip.is_empty() {
        add("source_ip", ip::matcher(&s.source_ip, ip::Which::Source))?;
    }
    if !s.destination_ip.is_empty() {
        add(
            "destination_ip",
            ip::matcher(&s.destination_ip, ip::Which::Destination),
        )?;
    }
    if !s.source_ip_xlated.is_empty() {
        add(
            "source_ip_xlated",
            ip::matcher(&s.source_ip_xlated, ip::Which::SourceXlated),
        )?;
    }
    if !s.source_pod.is_empty() {
        add(
            "source_pod",
            namespaced_name::matcher(&s.source_pod, namespaced_name::Target::SourcePod),
        )?;
    }
    if !s.destination_pod.is_empty() {
        add(
            "destination_pod",
            namespaced_name::matcher(&s.destination_pod, namespaced_name::Target::DestinationPod),
        )?;
    }
    if !s.source_workload.is_empty() {
        add(
            "source_workload",
            Ok(scalar::workload(
                s.source_workload.clone(),
                scalar::Side::Source,
            )),
        )?;
    }
    if !s.destination_workload.is_empty() {
        add(
            "destination_workload",
            Ok(scalar::workload(
                s.destination_workload.clone(),
                scalar::Side::Destination,
            )),
        )?;
    }
    if !s.source_service.is_empty() {
        add(
            "source_service",
            namespaced_name::matcher(&s.source_service, namespaced_name::Target::SourceService),
        )?;
    }
    if !s.destination_service.is_empty() {
        add(
            "destination_service",
            namespaced_name::matcher(
                &s.destination_service,
                namespaced_name::Target::DestinationService,
            ),
        )?;
    }
    if !s.source_fqdn.is_empty() {
        add(
            "source_fqdn",
            patterns::fqdn_matcher(&s.source_fqdn, patterns::Names::Source),
        )?;
    }
    if !s.destination_fqdn.is_empty() {
        add(
            "destination_fqdn",
            patterns::fqdn_matcher(&s.destination_fqdn, patterns::Names::Destination),
        )?;
    }
    if !s.dns_query.is_empty() {
        add("dns_query", http::dns_query(&s.dns_query))?;
    }
    if !s.source_label.is_empty() {
        add(
            "source_label",
            labels::matcher(&s.source_label, labels::Which::Source),
        )?;
    }
    if !s.destination_label.is_empty() {
        add(
            "destination_label",
            labels::matcher(&s.destination_label, labels::Which::Destination),
        )?;
    }
    if !s.node_labels.is_empty() {
        add(
            "node_labels",
            labels::matcher(&s.node_labels, labels::Which::Node),
        )?;
    }
    if !s.source_port.is_empty() {
        add("source_port", l4::port(&s.source_port, true))?;
    }
    if !s.destination_port.is_empty() {
        add("destination_port", l4::port(&s.destination_port, false))?;
    }
    http::add_matchers(s, &mut add)?;
    if !s.tcp_flags.is_empty() {
        add("tcp_flags", Ok(l4::tcp_flags(s.tcp_flags.clone())))?;
    }
    if !s.node_name.is_empty() {
        add("node_name", patterns::node_name_matcher(&s.node_name))?;
    }
    if !s.ip_version.is_empty() {
        add("ip_version", Ok(scalar::ip_version(s.ip_version.clone())))?;
    }
    if !s.trace_id.is_empty() {
        add("trace_id", Ok(scalar::trace_id(s.trace_id.clone())))?;
    }
    if !s.ip_trace_id.is_empty() {
        add(
            "ip_trace_id",
            Ok(scalar::ip_trace_id(s.ip_trace_id.clone())),
        )?;
    }
    if !s.traffic_direction.is_empty() {
        add(
            "traffic_direction",
            Ok(scalar::traffic_direction(s.traffic_direction.clone())),
        )?;
    }
    if !s.interface.is_empty() {
        add("interface", Ok(scalar::interface(s.interface.clone())))?;
    }
    if !s.source_cluster_name.is_empty() {
        add(
            "source_cluster_name",
            scalar::cluster_name(s.source_cluster_name.clone(), scalar::Side::Source),
        )?;
    }
    if !s.destination_cluster_name.is_empty() {
        add(
            "destination_cluster_name",
            scalar::cluster_name(
                s.destination_cluster_name.clone(),
                scalar::Side::Destination,
            ),
        )?;
    }
    if !s.encrypted.is_empty() {
        add("encrypted", Ok(scalar::encrypted(s.encrypted.clone())))?;
    }
    if let Some(x) = &s.experimental {
        if !x.cel_expression.is_empty() {
            return Err((
                "experimental.cel_expression",
                "CEL expressions are not supported by hubble-ingest; express the condition with FlowFilter fields"
                    .to_string(),
            ));
        }
    }
    Ok(CompiledFilter { matchers: m })
}

/// Valid-but-suspicious settings in a spec, as human-readable sentences.
pub fn warnings(spec: &FlowFilterSpec) -> Vec<String> {
    let mut out = Vec::new();
    for (i, et) in spec.event_type.iter().enumerate() {
        if et.sub_type != 0 && !et.match_sub_type {
            out.push(format!(
                "event_type[{i}] sets sub_type {} without match_sub_type: true; Cilium ignores the sub type, so this \
                 matches every event of type {} (add \"match_sub_type\": true to filter on the sub type)",
                et.sub_type, et.event_type
            ));
        }
    }
    out
}
