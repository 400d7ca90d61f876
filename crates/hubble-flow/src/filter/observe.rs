//! `hubble observe`-style filter flags → (allowlist, denylist), exactly as hubble's `flows_filter.go` builds them.
//!
//! Guarantees: flags are applied in argv order. Flags without a `from-`/`to-` prefix (`--ip`, `--pod`, `--label`,
//! `--fqdn`, `--service`, `--port`, `--identity`, `--workload`, `--cluster`) fill two filters, a source-side one
//! and a destination-side one, that are OR'ed; every other flag applies to both; repeated flags append values;
//! `--not` sends the next single flag to the denylist; namespaces (`--namespace`, `--from-namespace`,
//! `--to-namespace`, `--all-namespaces`, ...) are folded into the pod/service filters at the end; when both sides
//! end up equal only one filter is emitted. Conflicting flags and namespace conflicts are errors with hubble's
//! messages. `--allowlist`/`--denylist` take raw FlowFilter JSON and are appended to the respective list.

use super::spec::{
    parse_filter_list, EventTypeFilterSpec, ExperimentalSpec, FlowFilterSpec, HttpHeaderSpec,
    NetworkInterfaceSpec, TcpFlagsSpec, WorkloadSpec,
};
use super::FilterError;
use crate::enums::{DROP_REASON, VERDICT};

/// Monitor message type names accepted by `--type` (cilium v1.19 `monitorAPI.MessageTypeNames`).
const MESSAGE_TYPES: &[(&str, i32)] = &[
    ("drop", 1),
    ("debug", 2),
    ("capture", 3),
    ("trace", 4),
    ("policy-verdict", 5),
    ("trace-sock", 7),
    ("l7", 129),
    ("agent", 130),
];

/// Trace observation point names (`monitorAPI.TraceObservationPoints`).
const TRACE_POINTS: &[(&str, i32)] = &[
    ("to-endpoint", 0),
    ("to-proxy", 1),
    ("to-host", 2),
    ("to-stack", 3),
    ("to-overlay", 4),
    ("from-endpoint", 5),
    ("from-proxy", 6),
    ("from-host", 7),
    ("from-stack", 8),
    ("from-overlay", 9),
    ("from-network", 10),
    ("to-network", 11),
    ("from-crypto", 12),
    ("to-crypto", 13),
];

/// Agent event sub-type names (hubble `agentEventSubtypes`, monitor `AgentNotify*` numbering).
const AGENT_SUBTYPES: &[(&str, i32)] = &[
    ("unspecified", 0),
    ("message", 1),
    ("agent-started", 2),
    ("policy-updated", 5),
    ("policy-deleted", 6),
    ("endpoint-regenerate-success", 3),
    ("endpoint-regenerate-failure", 4),
    ("endpoint-created", 7),
    ("endpoint-deleted", 8),
    ("ipcache-upserted", 9),
    ("ipcache-deleted", 10),
];

/// Reserved identity names (`identity.GetReservedID`).
const RESERVED_IDENTITIES: &[(&str, u32)] = &[
    ("host", 1),
    ("world", 2),
    ("unmanaged", 3),
    ("health", 4),
    ("init", 5),
    ("remote-node", 6),
    ("kube-apiserver", 7),
    ("ingress", 8),
    ("world-ipv4", 9),
    ("world-ipv6", 10),
    ("encrypted-overlay", 11),
];

/// Flag groups that cannot be combined (hubble `newFlowFilter().conflicts`).
const CONFLICTS: &[&[&str]] = &[
    &[
        "from-fqdn",
        "from-ip",
        "ip",
        "fqdn",
        "from-namespace",
        "namespace",
        "from-all-namespaces",
        "all-namespaces",
    ],
    &["from-fqdn", "from-ip", "ip", "fqdn", "from-pod", "pod"],
    &[
        "to-fqdn",
        "to-ip",
        "ip",
        "fqdn",
        "to-namespace",
        "namespace",
        "to-all-namespaces",
        "all-namespaces",
    ],
    &["to-fqdn", "to-ip", "ip", "fqdn", "to-pod", "pod"],
    &["to-pod", "namespace", "all-namespaces"],
    &["from-pod", "namespace", "all-namespaces"],
    &["to-service", "namespace", "all-namespaces"],
    &["from-service", "namespace", "all-namespaces"],
    &["snat-ip"],
    &["label", "from-label"],
    &["label", "to-label"],
    &["service", "from-service"],
    &["service", "to-service"],
    &["verdict"],
    &["drop-reason-desc"],
    &["type"],
    &["http-status"],
    &["http-method"],
    &["http-path"],
    &["http-url"],
    &["http-header"],
    &["protocol"],
    &["port", "to-port"],
    &["port", "from-port"],
    &["identity", "to-identity"],
    &["identity", "from-identity"],
    &["workload", "to-workload"],
    &["workload", "from-workload"],
    &["node-label"],
    &["tcp-flags"],
    &["uuid"],
    &["traffic-direction"],
    &["cel-expression"],
    &["encrypted", "unencrypted"],
];

/// Short flag aliases.
fn canonical(name: &str) -> &str {
    let n = name.trim_start_matches('-');
    match n {
        "n" => "namespace",
        "A" => "all-namespaces",
        "t" => "type",
        "l" => "label",
        "4" => "ipv4",
        "6" => "ipv6",
        "http-status-code" => "http-status",
        _ => n,
    }
}

#[derive(Debug, Default)]
struct Tracker {
    left: Option<FlowFilterSpec>,
    right: Option<FlowFilterSpec>,
    ns: Vec<String>,
    src_ns: Vec<String>,
    dst_ns: Vec<String>,
    changed: Vec<String>,
}

fn err(flag: &str, reason: impl Into<String>) -> FilterError {
    FilterError::Observe {
        flag: flag.to_string(),
        reason: reason.into(),
    }
}

fn namespace_from_name(name: &str) -> &str {
    let mut parts = name.split('/');
    let first = parts.next().unwrap_or("");
    if parts.next().is_some() {
        first
    } else {
        ""
    }
}

fn ns_conflicts(nss: &[String], names: &[String]) -> Result<(), String> {
    for ns in nss {
        for name in names {
            let nn = namespace_from_name(name);
            if !nn.is_empty() && nn != ns {
                return Err(format!(
                    "namespace conflict: {ns:?} does not contain {name:?}"
                ));
            }
        }
    }
    Ok(())
}

fn inconsistent_namespaces(pods: &[String], services: &[String]) -> Result<(), String> {
    for pod in pods {
        let pod_ns = namespace_from_name(pod);
        if pod_ns.is_empty() {
            continue;
        }
        for svc in services {
            if namespace_from_name(svc) != pod_ns {
                return Err(format!(
                    "namespace of service {svc:?} conflict with pod {pod_ns:?}"
                ));
            }
        }
    }
    Ok(())
}

fn add_namespaces(filter: &[String], nss: &[String]) -> Vec<String> {
    if nss.is_empty() || filter.is_empty() {
        return filter.to_vec();
    }
    let mut out = Vec::new();
    for f in filter {
        if f.contains('/') {
            out.push(f.clone());
            continue;
        }
        for ns in nss {
            out.push(format!("{ns}/{f}"));
        }
    }
    out
}

fn apply_src(nss: &[String], ff: &mut FlowFilterSpec) {
    if ff.source_pod.is_empty() && ff.source_service.is_empty() {
        ff.source_pod = vec![String::new()];
    }
    ff.source_pod = add_namespaces(&ff.source_pod, nss);
    ff.source_service = add_namespaces(&ff.source_service, nss);
}

fn apply_dst(nss: &[String], ff: &mut FlowFilterSpec) {
    if ff.destination_pod.is_empty() && ff.destination_service.is_empty() {
        ff.destination_pod = vec![String::new()];
    }
    ff.destination_pod = add_namespaces(&ff.destination_pod, nss);
    ff.destination_service = add_namespaces(&ff.destination_service, nss);
}

/// Parses an identity like hubble's `parseIdentity`: a reserved name or a number (Go `ParseUint(s, 0, 32)`).
fn parse_identity(s: &str) -> Option<u32> {
    if let Some(&(_, id)) = RESERVED_IDENTITIES.iter().find(|(n, _)| *n == s) {
        return Some(id);
    }
    let t = s.replace('_', "");
    let (digits, radix) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (h.to_string(), 16)
    } else if let Some(o) = t.strip_prefix("0o").or_else(|| t.strip_prefix("0O")) {
        (o.to_string(), 8)
    } else if let Some(b) = t.strip_prefix("0b").or_else(|| t.strip_prefix("0B")) {
        (b.to_string(), 2)
    } else if t.len() > 1 && t.starts_with('0') {
        (t[1..].to_string(), 8)
    } else {
        (t, 10)
    };
    if digits.is_empty() || digits.starts_with('+') {
        return None;
    }
    u32::from_str_radix(&digits, radix).ok()
}

fn parse_workload(s: &str) -> WorkloadSpec {
    match s.split_once('/') {
        None => WorkloadSpec {
            name: s.to_string(),
            kind: String::new(),
        },
        Some((kind, name)) => WorkloadSpec {
            name: name.to_string(),
            kind: kind.to_string(),
        },
    }
}

fn parse_tcp_flags(val: &str) -> Result<TcpFlagsSpec, String> {
    let mut f = TcpFlagsSpec::default();
    for part in val.split(',') {
        match part.to_uppercase().as_str() {
            "SYN" => f.syn = true,
            "FIN" => f.fin = true,
            "RST" => f.rst = true,
            "PSH" => f.psh = true,
            "ACK" => f.ack = true,
            "URG" => f.urg = true,
            "ECE" => f.ece = true,
            "CWR" => f.cwr = true,
            "NS" => f.ns = true,
            _ => return Err(format!("unknown tcp flag: {part}")),
        }
    }
    Ok(f)
}

fn ip_version(v: &str) -> i32 {
    match v.to_lowercase().as_str() {
        "4" | "v4" | "ipv4" | "ip4" => 1,
        "6" | "v6" | "ipv6" | "ip6" => 2,
        _ => 0,
    }
}

fn parse_type(val: &str) -> Result<EventTypeFilterSpec, String> {
    let (t, sub) = match val.split_once(':') {
        Some((t, s)) => (t, Some(s)),
        None => (val, None),
    };
    let mut f = EventTypeFilterSpec::default();
    // hubble switches on the name lookup result: a numeric type never enables sub-type names.
    let named = MESSAGE_TYPES.iter().find(|(n, _)| *n == t).map(|&(_, v)| v);
    match named {
        Some(v) => f.event_type = v,
        None => {
            let n: u32 = t.parse().map_err(|_| {
                format!("unable to parse type '{t}', not a known type name and unable to parse as numeric value")
            })?;
            f.event_type = n as i32;
        }
    }
    if let Some(sub) = sub {
        let table = match named {
            Some(4) => TRACE_POINTS,
            Some(130) => AGENT_SUBTYPES,
            _ => &[],
        };
        if let Some(&(_, st)) = table.iter().find(|(n, _)| *n == sub) {
            f.match_sub_type = true;
            f.sub_type = st;
        } else {
            let n: u32 = sub.parse().map_err(|_| {
                format!(
                    "unable to parse event sub-type '{sub}', not a known sub-type name and unable to parse as numeric value"
                )
            })?;
            f.match_sub_type = true;
            f.sub_type = n as i32;
        }
    }
    Ok(f)
}

impl Tracker {
    fn both(&mut self, update: impl Fn(&mut FlowFilterSpec)) {
        update(self.left.get_or_insert_with(FlowFilterSpec::default));
        update(self.right.get_or_insert_with(FlowFilterSpec::default));
    }
    fn sides(&mut self, l: impl FnOnce(&mut FlowFilterSpec), r: impl FnOnce(&mut FlowFilterSpec)) {
        l(self.left.get_or_insert_with(FlowFilterSpec::default));
        r(self.right.get_or_insert_with(FlowFilterSpec::default));
    }

    fn check_conflicts(&self) -> Result<(), String> {
        for group in CONFLICTS {
            for flag in group.iter() {
                if self.changed.iter().any(|c| c == flag) {
                    for other in group.iter() {
                        if other != flag && self.changed.iter().any(|c| c == other) {
                            return Err(format!(
                                "filters --{flag} and --{other} cannot be combined"
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn check_namespace_conflicts(&self, ff: &Option<FlowFilterSpec>) -> Result<(), String> {
        let Some(ff) = ff else { return Ok(()) };
        ns_conflicts(&self.ns, &ff.source_pod)?;
        ns_conflicts(&self.ns, &ff.source_service)?;
        ns_conflicts(&self.ns, &ff.destination_pod)?;
        ns_conflicts(&self.ns, &ff.destination_service)?;
        ns_conflicts(&self.src_ns, &ff.source_pod)?;
        ns_conflicts(&self.src_ns, &ff.source_service)?;
        ns_conflicts(&self.dst_ns, &ff.destination_pod)?;
        ns_conflicts(&self.dst_ns, &ff.destination_service)?;
        inconsistent_namespaces(&ff.source_pod, &ff.source_service)?;
        inconsistent_namespaces(&ff.destination_pod, &ff.destination_service)
    }

    fn set(&mut self, name: &str, val: &str) -> Result<(), String> {
        if !self.changed.iter().any(|c| c == name) {
            self.changed.push(name.to_string());
        }
        self.check_conflicts()?;
        let v = val.to_string();
        match name {
            "uuid" => self.both(|f| f.uuid.push(v.clone())),
            "fqdn" => self.sides(
                |f| f.source_fqdn.push(v.clone()),
                |f| f.destination_fqdn.push(v.clone()),
            ),
            "from-fqdn" => self.both(|f| f.source_fqdn.push(v.clone())),
            "to-fqdn" => self.both(|f| f.destination_fqdn.push(v.clone())),
            "pod" => self.sides(
                |f| f.source_pod.push(v.clone()),
                |f| f.destination_pod.push(v.clone()),
            ),
            "from-pod" => self.both(|f| f.source_pod.push(v.clone())),
            "to-pod" => self.both(|f| f.destination_pod.push(v.clone())),
            "ip" => self.sides(
                |f| f.source_ip.push(v.clone()),
                |f| f.destination_ip.push(v.clone()),
            ),
            "from-ip" => self.both(|f| f.source_ip.push(v.clone())),
            "to-ip" => self.both(|f| f.destination_ip.push(v.clone())),
            "snat-ip" => self.both(|f| f.source_ip_xlated.push(v.clone())),
            "ipv4" => self.both(|f| f.ip_version.push(1)),
            "ipv6" => self.both(|f| f.ip_version.push(2)),
            "ip-version" => {
                let iv = ip_version(val);
                self.both(|f| f.ip_version.push(iv))
            }
            "label" => self.sides(
                |f| f.source_label.push(v.clone()),
                |f| f.destination_label.push(v.clone()),
            ),
            "from-label" => self.both(|f| f.source_label.push(v.clone())),
            "to-label" => self.both(|f| f.destination_label.push(v.clone())),
            "namespace" => self.ns.push(v),
            "from-namespace" => self.src_ns.push(v),
            "to-namespace" => self.dst_ns.push(v),
            "all-namespaces" => self.ns.push(String::new()),
            "from-all-namespaces" => self.src_ns.push(String::new()),
            "to-all-namespaces" => self.dst_ns.push(String::new()),
            "service" => self.sides(
                |f| f.source_service.push(v.clone()),
                |f| f.destination_service.push(v.clone()),
            ),
            "from-service" => self.both(|f| f.source_service.push(v.clone())),
            "to-service" => self.both(|f| f.destination_service.push(v.clone())),
            "port" => self.sides(
                |f| f.source_port.push(v.clone()),
                |f| f.destination_port.push(v.clone()),
            ),
            "from-port" => self.both(|f| f.source_port.push(v.clone())),
            "to-port" => self.both(|f| f.destination_port.push(v.clone())),
            "trace-id" => self.both(|f| f.trace_id.push(v.clone())),
            "ip-trace-id" => {
                if val == "0" {
                    return Err("invalid --ip-trace-id value; must be greater than 0".into());
                }
                let id: u64 = val
                    .parse()
                    .map_err(|_| format!("invalid --ip-trace-id value: {val:?}"))?;
                self.both(|f| f.ip_trace_id.push(id))
            }
            "verdict" => {
                let code = VERDICT
                    .code_of_name(val)
                    .ok_or_else(|| format!("invalid --verdict value: {val}"))?;
                self.both(|f| f.verdict.push(code))
            }
            "drop-reason-desc" => {
                if val.is_empty() {
                    return Err("empty --drop-reason-desc value".into());
                }
                let code = DROP_REASON
                    .code_of_name(val)
                    .ok_or_else(|| format!("invalid --drop-reason-desc value: {val}"))?;
                self.both(|f| f.drop_reason_desc.push(code))
            }
            "http-status" => self.both(|f| f.http_status_code.push(v.clone())),
            "http-method" => self.both(|f| f.http_method.push(v.clone())),
            "http-path" => self.both(|f| f.http_path.push(v.clone())),
            "http-url" => self.both(|f| f.http_url.push(v.clone())),
            "http-header" => {
                let (key, value) = val.split_once(':').ok_or_else(|| {
                    format!("invalid http-header value {val:?}, expected name:value")
                })?;
                let h = HttpHeaderSpec {
                    key: key.to_string(),
                    value: value.to_string(),
                };
                self.both(|f| f.http_header.push(h.clone()))
            }
            "type" => {
                let t = parse_type(val)?;
                self.both(|f| f.event_type.push(t))
            }
            "protocol" => self.both(|f| f.protocol.push(v.clone())),
            "workload" => {
                let w = parse_workload(val);
                self.sides(
                    |f| f.source_workload.push(w.clone()),
                    |f| f.destination_workload.push(w.clone()),
                )
            }
            "from-workload" => {
                let w = parse_workload(val);
                self.both(|f| f.source_workload.push(w.clone()))
            }
            "to-workload" => {
                let w = parse_workload(val);
                self.both(|f| f.destination_workload.push(w.clone()))
            }
            "identity" | "from-identity" | "to-identity" => {
                let names: Vec<&str> = RESERVED_IDENTITIES.iter().map(|(n, _)| *n).collect();
                let id = parse_identity(val).ok_or_else(|| {
                    format!(
                        "invalid security identity, expected one of {names:?} or a numeric value"
                    )
                })?;
                match name {
                    "identity" => self.sides(
                        |f| f.source_identity.push(id),
                        |f| f.destination_identity.push(id),
                    ),
                    "from-identity" => self.both(|f| f.source_identity.push(id)),
                    _ => self.both(|f| f.destination_identity.push(id)),
                }
            }
            "node-name" => self.both(|f| f.node_name.push(v.clone())),
            "node-label" => self.both(|f| f.node_labels.push(v.clone())),
            "cluster" => self.sides(
                |f| f.source_cluster_name.push(v.clone()),
                |f| f.destination_cluster_name.push(v.clone()),
            ),
            "from-cluster" => self.both(|f| f.source_cluster_name.push(v.clone())),
            "to-cluster" => self.both(|f| f.destination_cluster_name.push(v.clone())),
            "tcp-flags" => {
                let flags = parse_tcp_flags(val)?;
                self.both(|f| f.tcp_flags.push(flags))
            }
            "traffic-direction" => {
                let td = val.to_lowercase();
                let d = match td.as_str() {
                    "ingress" => 1,
                    "egress" => 2,
                    _ => {
                        return Err(format!(
                            "{td}: invalid traffic direction, expected ingress or egress"
                        ))
                    }
                };
                self.both(|f| f.traffic_direction.push(d))
            }
            "cel-expression" => self.both(|f| {
                f.experimental
                    .get_or_insert_with(ExperimentalSpec::default)
                    .cel_expression
                    .push(v.clone())
            }),
            "interface" => self.both(|f| {
                f.interface.push(NetworkInterfaceSpec {
                    index: 0,
                    name: v.clone(),
                })
            }),
            "encrypted" => self.both(|f| f.encrypted.push(true)),
            "unencrypted" => self.both(|f| f.encrypted.push(false)),
            other => return Err(format!("unknown filter flag --{other}")),
        }
        self.check_namespace_conflicts(&self.left)?;
        self.check_namespace_conflicts(&self.right)
    }

    fn flow_filters(mut self) -> Vec<FlowFilterSpec> {
        if self.left.is_none()
            && self.right.is_none()
            && self.ns.is_empty()
            && self.src_ns.is_empty()
            && self.dst_ns.is_empty()
        {
            return Vec::new();
        }
        let mut left = self.left.take().unwrap_or_default();
        let mut right = self.right.take().unwrap_or_default();
        if !self.dst_ns.is_empty() {
            apply_dst(&self.dst_ns, &mut left);
            apply_dst(&self.dst_ns, &mut right);
        }
        if !self.src_ns.is_empty() {
            apply_src(&self.src_ns, &mut left);
            apply_src(&self.src_ns, &mut right);
        }
        if !self.ns.is_empty() {
            apply_src(&self.ns, &mut left);
            apply_dst(&self.ns, &mut right);
        }
        if left == right {
            vec![left]
        } else {
            vec![left, right]
        }
    }
}

/// Filter flags that take no value (`--not`, `--ipv4`, `--all-namespaces`, ...), long names.
pub const BOOLEAN_FLAGS: &[&str] = &[
    "not",
    "ipv4",
    "ipv6",
    "all-namespaces",
    "from-all-namespaces",
    "to-all-namespaces",
    "encrypted",
    "unencrypted",
];

/// Filter flags that take a value, long names (`--allowlist`/`--denylist` take FlowFilter JSON).
pub const VALUE_FLAGS: &[&str] = &[
    "uuid",
    "fqdn",
    "from-fqdn",
    "to-fqdn",
    "pod",
    "from-pod",
    "to-pod",
    "ip",
    "from-ip",
    "to-ip",
    "snat-ip",
    "ip-version",
    "label",
    "from-label",
    "to-label",
    "namespace",
    "from-namespace",
    "to-namespace",
    "service",
    "from-service",
    "to-service",
    "port",
    "from-port",
    "to-port",
    "trace-id",
    "ip-trace-id",
    "verdict",
    "drop-reason-desc",
    "http-status",
    "http-method",
    "http-path",
    "http-url",
    "http-header",
    "type",
    "protocol",
    "workload",
    "from-workload",
    "to-workload",
    "identity",
    "from-identity",
    "to-identity",
    "node-name",
    "node-label",
    "cluster",
    "from-cluster",
    "to-cluster",
    "tcp-flags",
    "traffic-direction",
    "cel-expression",
    "interface",
    "allowlist",
    "denylist",
];

/// Whether `name` (with or without dashes, short forms allowed) is a filter flag, and whether it takes a value:
/// `Some(true)` value flag, `Some(false)` boolean flag, `None` not a filter flag.
pub fn filter_flag_takes_value(name: &str) -> Option<bool> {
    let n = canonical(name);
    if VALUE_FLAGS.contains(&n) {
        Some(true)
    } else if BOOLEAN_FLAGS.contains(&n) {
        Some(false)
    } else {
        None
    }
}

/// Converts `hubble observe` filter flags, in argv order, into (allowlist, denylist).
///
/// Flag names may be given with or without leading dashes; short forms `-n`, `-A`, `-t`, `-l`, `-4`, `-6` are
/// accepted. Boolean flags (`--not`, `--ipv4`, `--all-namespaces`, `--encrypted`, ...) ignore their value.
pub fn filters_from_flags<N, V>(
    flags: impl IntoIterator<Item = (N, V)>,
) -> Result<(Vec<FlowFilterSpec>, Vec<FlowFilterSpec>), FilterError>
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    let mut allow = Tracker::default();
    let mut deny = Tracker::default();
    let mut blacklisting = false;
    let mut raw_allow = Vec::new();
    let mut raw_deny = Vec::new();
    for (n, v) in flags {
        let name = canonical(n.as_ref());
        let val = v.as_ref();
        match name {
            "not" => {
                if blacklisting {
                    return Err(err("not", "consecutive --not statements"));
                }
                blacklisting = true;
                continue;
            }
            "allowlist" | "denylist" => {
                let list = parse_filter_list(val).map_err(|e| FilterError::Parse {
                    source_name: format!("--{name}"),
                    reason: e,
                })?;
                if name == "allowlist" {
                    raw_allow.extend(list);
                } else {
                    raw_deny.extend(list);
                }
                continue;
            }
            _ => {}
        }
        let target = if blacklisting { &mut deny } else { &mut allow };
        blacklisting = false;
        target.set(name, val).map_err(|e| err(name, e))?;
    }
    if blacklisting {
        return Err(err("not", "trailing --not"));
    }
    let mut include = allow.flow_filters();
    include.extend(raw_allow);
    let mut exclude = deny.flow_filters();
    exclude.extend(raw_deny);
    Ok((include, exclude))
}

/// Renders (allowlist, denylist) the way `hubble observe --print-raw-filters` prints them (YAML with one JSON
/// FlowFilter per single-quoted list item).
pub fn print_raw_filters(include: &[FlowFilterSpec], exclude: &[FlowFilterSpec]) -> String {
    let mut out = String::new();
    for (title, list) in [("allowlist", include), ("denylist", exclude)] {
        if list.is_empty() {
            continue;
        }
        out.push_str(title);
        out.push_str(":\n");
        for f in list {
            out.push_str("    - '");
            out.push_str(&f.to_json().replace('\'', "''"));
            out.push_str("'\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<(Vec<String>, Vec<String>), FilterError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let name = args[i];
            let boolean = matches!(
                name.trim_start_matches('-'),
                "not"
                    | "ipv4"
                    | "ipv6"
                    | "4"
                    | "6"
                    | "all-namespaces"
                    | "A"
                    | "from-all-namespaces"
                    | "to-all-namespaces"
                    | "encrypted"
                    | "unencrypted"
            );
            if boolean {
                pairs.push((name.into(), "true".into()));
                i += 1;
            } else {
                pairs.push((name.into(), args.get(i + 1).copied().unwrap_or("").into()));
                i += 2;
            }
        }
        let (a, d) = filters_from_flags(pairs)?;
        Ok((
            a.iter().map(FlowFilterSpec::to_json).collect(),
            d.iter().map(FlowFilterSpec::to_json).collect(),
        ))
    }

    fn allow(args: &[&str]) -> Vec<String> {
        run(args).unwrap().0
    }

    #[test]
    fn documented_print_raw_filters_examples() {
        // Cilium docs (export.rst) and hubble's README.
        assert_eq!(
            allow(&["--verdict", "DROPPED", "--verdict", "ERROR"]),
            vec![r#"{"verdict":["DROPPED","ERROR"]}"#]
        );
        let (a, d) = run(&["--not", "--namespace", "kube-system"]).unwrap();
        assert!(a.is_empty());
        assert_eq!(
            d,
            vec![
                r#"{"source_pod":["kube-system/"]}"#,
                r#"{"destination_pod":["kube-system/"]}"#
            ]
        );
        assert_eq!(
            allow(&[
                "--namespace",
                "payments",
                "--verdict",
                "DROPPED",
                "--protocol",
                "tcp"
            ]),
            vec![
                r#"{"source_pod":["payments/"],"verdict":["DROPPED"],"protocol":["tcp"]}"#,
                r#"{"destination_pod":["payments/"],"verdict":["DROPPED"],"protocol":["tcp"]}"#
            ]
        );
        let (a, _) =
            filters_from_flags([("type", "drop:181"), ("traffic-direction", "egress")]).unwrap();
        assert_eq!(
            a,
            vec![crate::filter::FilterSet::default_policy_deny_egress()]
        );
        assert_eq!(
            print_raw_filters(&a, &[]),
            "allowlist:\n    - '{\"traffic_direction\":[\"EGRESS\"],\"event_type\":[{\"type\":1,\"match_sub_type\":true,\"sub_type\":181}]}'\n"
        );
    }

    #[test]
    fn filter_dispatch_and_left_right() {
        // hubble TestFilterDispatch
        let (a, d) = run(&[
            "--from-ip",
            "1.2.3.4",
            "--from-ip",
            "5.6.7.8",
            "--not",
            "--to-ip",
            "5.5.5.5",
            "--verdict",
            "DROPPED",
            "-t",
            "l7",
        ])
        .unwrap();
        assert_eq!(
            a,
            vec![
                r#"{"source_ip":["1.2.3.4","5.6.7.8"],"verdict":["DROPPED"],"event_type":[{"type":129}]}"#
            ]
        );
        assert_eq!(d, vec![r#"{"destination_ip":["5.5.5.5"]}"#]);
        // hubble TestFilterLeftRight
        let (a, d) = run(&[
            "--ip",
            "1.2.3.4",
            "--ip",
            "5.6.7.8",
            "--verdict",
            "DROPPED",
            "--not",
            "--pod",
            "deathstar",
            "--not",
            "--http-status",
            "200",
            "--http-method",
            "get",
            "--http-path",
            r"/page/\d+",
            "--node-name",
            "k8s*",
        ])
        .unwrap();
        assert_eq!(
            a,
            vec![
                r#"{"source_ip":["1.2.3.4","5.6.7.8"],"verdict":["DROPPED"],"http_method":["get"],"http_path":["/page/\\d+"],"node_name":["k8s*"]}"#,
                r#"{"destination_ip":["1.2.3.4","5.6.7.8"],"verdict":["DROPPED"],"http_method":["get"],"http_path":["/page/\\d+"],"node_name":["k8s*"]}"#
            ]
        );
        assert_eq!(
            d,
            vec![
                r#"{"source_pod":["deathstar"],"http_status_code":["200"]}"#,
                r#"{"destination_pod":["deathstar"],"http_status_code":["200"]}"#
            ]
        );
    }

    #[test]
    fn types() {
        // hubble TestFilterType
        assert!(run(&["-t", "some-invalid-type"]).is_err());
        assert!(run(&["-t", "trace:some-invalid-sub-type"]).is_err());
        assert!(run(&["-t", "agent:Policy updated"]).is_err());
        assert!(run(&["-t", "4:to-endpoint"]).is_err());
        let a = allow(&[
            "-t",
            "254",
            "-t",
            "255:127",
            "-t",
            "trace:to-endpoint",
            "-t",
            "trace:from-endpoint",
            "-t",
            "4:2",
            "-t",
            "agent",
            "-t",
            "agent:3",
            "-t",
            "agent:policy-updated",
        ]);
        assert_eq!(
            a,
            vec![concat!(
                r#"{"event_type":[{"type":254},{"type":255,"match_sub_type":true,"sub_type":127},"#,
                r#"{"type":4,"match_sub_type":true},{"type":4,"match_sub_type":true,"sub_type":5},"#,
                r#"{"type":4,"match_sub_type":true,"sub_type":2},{"type":130},"#,
                r#"{"type":130,"match_sub_type":true,"sub_type":3},{"type":130,"match_sub_type":true,"sub_type":5}]}"#
            )]
        );
    }

    #[test]
    fn namespaces() {
        // hubble TestNamespace
        assert_eq!(
            allow(&["--namespace", "cilium", "--port", "443"]),
            vec![
                r#"{"source_pod":["cilium/"],"source_port":["443"]}"#,
                r#"{"destination_pod":["cilium/"],"destination_port":["443"]}"#
            ]
        );
        assert_eq!(
            allow(&["--from-namespace", "cilium", "--from-port", "443"]),
            vec![r#"{"source_pod":["cilium/"],"source_port":["443"]}"#]
        );
        assert_eq!(
            allow(&["--to-namespace", "cilium"]),
            vec![r#"{"destination_pod":["cilium/"]}"#]
        );
        assert_eq!(
            allow(&["--to-namespace", "cilium", "--port", "443"]),
            vec![
                r#"{"destination_pod":["cilium/"],"source_port":["443"]}"#,
                r#"{"destination_pod":["cilium/"],"destination_port":["443"]}"#
            ]
        );
        assert_eq!(
            allow(&["--namespace", "cilium", "--pod", "foo-9c76d6c95-tf788"]),
            vec![
                r#"{"source_pod":["cilium/foo-9c76d6c95-tf788"]}"#,
                r#"{"destination_pod":["cilium/foo-9c76d6c95-tf788"]}"#
            ]
        );
        assert_eq!(
            allow(&[
                "--namespace",
                "cilium",
                "--namespace",
                "kube-system",
                "--service",
                "foo",
                "--service",
                "bar"
            ]),
            vec![
                r#"{"source_service":["cilium/foo","kube-system/foo","cilium/bar","kube-system/bar"]}"#,
                r#"{"destination_service":["cilium/foo","kube-system/foo","cilium/bar","kube-system/bar"]}"#
            ]
        );
        assert_eq!(
            allow(&[
                "--from-namespace",
                "kube-system",
                "--to-pod",
                "cilium/foo-9c76d6c95-tf788"
            ]),
            vec![
                r#"{"source_pod":["kube-system/"],"destination_pod":["cilium/foo-9c76d6c95-tf788"]}"#
            ]
        );
        assert!(run(&[
            "--to-namespace",
            "kube-system",
            "--to-pod",
            "cilium/foo-9c76d6c95-tf788"
        ])
        .is_err());
        assert!(run(&[
            "--from-namespace",
            "kube-system",
            "--from-service",
            "cilium/foo"
        ])
        .is_err());
        assert!(run(&[
            "--from-service",
            "cilium/foo",
            "--from-pod",
            "kube-system/hubble"
        ])
        .is_err());
        assert_eq!(
            allow(&["--to-all-namespaces", "--port", "443"]),
            vec![
                r#"{"destination_pod":["/"],"source_port":["443"]}"#,
                r#"{"destination_pod":["/"],"destination_port":["443"]}"#
            ]
        );
        assert_eq!(
            allow(&["--to-all-namespaces", "--to-pod", "foo"]),
            vec![r#"{"destination_pod":["/foo"]}"#]
        );
        assert_eq!(
            allow(&["-A", "--pod", "foo"]),
            vec![
                r#"{"source_pod":["/foo"]}"#,
                r#"{"destination_pod":["/foo"]}"#
            ]
        );
    }

    #[test]
    fn conflicts_and_misc() {
        let e = run(&["--from-ip", "1.2.3.4", "--from-fqdn", "doesnt.work"]).unwrap_err();
        assert!(
            e.to_string()
                .contains("filters --from-fqdn and --from-ip cannot be combined"),
            "{e}"
        );
        let e = run(&["--from-service", "foo", "--service", "bar"]).unwrap_err();
        assert!(
            e.to_string()
                .contains("filters --service and --from-service cannot be combined"),
            "{e}"
        );
        assert!(run(&["--to-service", "foo", "--from-service", "bar"]).is_ok());
        assert!(run(&["--ip", "foo", "--namespace", "bar"]).is_err());
        assert!(run(&["--from-ip", "1.2.3.4", "--not"])
            .unwrap_err()
            .to_string()
            .contains("trailing --not"));
        assert!(run(&["--not", "--not", "--ip", "1.1.1.1"]).is_err());
        assert_eq!(
            allow(&["--identity", "1", "--identity", "world"]),
            vec![
                r#"{"source_identity":[1,2]}"#,
                r#"{"destination_identity":[1,2]}"#
            ]
        );
        assert!(run(&["--identity", "bad"]).is_err());
        assert_eq!(
            allow(&[
                "--label",
                "k1=v1,k2=v2",
                "-l",
                "k3",
                "--node-label",
                "io.cilium.egress-gateway"
            ]),
            vec![
                r#"{"source_label":["k1=v1,k2=v2","k3"],"node_labels":["io.cilium.egress-gateway"]}"#,
                r#"{"destination_label":["k1=v1,k2=v2","k3"],"node_labels":["io.cilium.egress-gateway"]}"#
            ]
        );
        assert_eq!(
            allow(&["--from-pod", "cilium", "--to-workload", "app"]),
            vec![r#"{"source_pod":["cilium"],"destination_workload":[{"name":"app"}]}"#]
        );
        assert_eq!(
            allow(&["--http-header", "foo:bar", "--http-header", "Foo:coco:bar"]),
            vec![
                r#"{"http_header":[{"key":"foo","value":"bar"},{"key":"Foo","value":"coco:bar"}]}"#
            ]
        );
        assert!(run(&["--http-header", "foobar"]).is_err());
        assert_eq!(
            allow(&[
                "--traffic-direction",
                "INGRESS",
                "--traffic-direction",
                "EgrEss"
            ]),
            vec![r#"{"traffic_direction":["INGRESS","EGRESS"]}"#]
        );
        assert!(run(&["--traffic-direction", "to the moon"]).is_err());
        assert_eq!(
            allow(&["--snat-ip", "2.2.2.2/16"]),
            vec![r#"{"source_ip_xlated":["2.2.2.2/16"]}"#]
        );
        assert_eq!(
            allow(&["--interface", "eth0"]),
            vec![r#"{"interface":[{"name":"eth0"}]}"#]
        );
        assert_eq!(
            allow(&["--cluster", "foo"]),
            vec![
                r#"{"source_cluster_name":["foo"]}"#,
                r#"{"destination_cluster_name":["foo"]}"#
            ]
        );
        for f in ["SYN", "syn", "syn,ack", "NS"] {
            assert!(run(&["--tcp-flags", f]).is_ok(), "{f}");
        }
        for f in ["unknown", "syn,unknown", "syn,", ",syn"] {
            assert!(run(&["--tcp-flags", f]).is_err(), "{f}");
        }
        assert_eq!(
            allow(&["-4", "--encrypted"]),
            vec![r#"{"ip_version":["IPv4"],"encrypted":[true]}"#]
        );
        assert!(run(&["--ip-trace-id", "0"]).is_err());
        assert!(run(&["--verdict", "dropped"]).is_err());
        assert!(run(&["--drop-reason-desc", ""]).is_err());
        assert!(run(&[]).unwrap().0.is_empty());
        let (a, d) = run(&[
            "--allowlist",
            r#"{"uuid":["x"]}"#,
            "--denylist",
            r#"{"verdict":[1]}"#,
        ])
        .unwrap();
        assert_eq!((a.len(), d.len()), (1, 1));
    }
}
