//! A byte-level test in front of JSON parsing that may only say "certainly not kept".
//!
//! [`Prefilter::new`] derives *evidence* from the include filters of a [`FilterSet`]: for each filter, a list of
//! clauses that every kept flow line must contain (AND over fields, OR within a field); the filters are OR'ed.
//! Evidence is either a substring (a uuid, an exact IP, a pod name prefix, a namespace, ...) or a key/value check
//! (`"sub_type"` or `"subType"`, optional JSON whitespace, `:`, whitespace, then `181` or a quoted `"181"`; enum
//! fields by name `"EGRESS"` or number `2`). Fields whose match cannot be read off the bytes safely (regexes,
//! label selectors, case-insensitive methods, CIDRs, values whose zero/absent form matches) impose nothing.
//!
//! Guarantee: [`Prefilter::may_keep`] never returns false for a line that `record::decode` + [`FilterSet::keep`]
//! would keep. Lines with any backslash (a JSON escape could spell a key or value differently) and lines with a
//! non-flow record key (`lost_events`, `agent_event`, `debug_event`, `node_status`, or their lowerCamel forms)
//! always pass. Evidence comes from the include filters only (the exclude list can only remove records).
//! `may_keep` does not allocate: all finders are built once.

use crate::filter::namespaced_name::parse_namespace_name;
use crate::filter::{FilterSet, FlowFilterSpec};
use crate::record::{flow_object_start, skip_ws};
use memchr::memmem::Finder;

/// The byte-level prefilter.
#[derive(Debug)]
pub struct Prefilter {
    /// Some include filter yields no evidence (or there are no include filters): every line passes.
    always: bool,
    /// One conjunction of clauses per include filter.
    filters: Vec<Vec<Clause>>,
    /// `vent` (of `_event`/`Event`) and `tatus` (of `_status`/`Status`): markers of non-flow record keys,
    /// verified by the bytes before them. Checked only for lines the evidence rejects.
    vent: Finder<'static>,
    tatus: Finder<'static>,
}

/// OR over options, each an AND of needles.
#[derive(Debug)]
struct Clause {
    options: Vec<Vec<Needle>>,
}

#[derive(Debug)]
enum Needle {
    /// The bytes must occur somewhere in the line.
    Substring(Box<Finder<'static>>),
    /// One of the keys, then `ws : ws`, then one of the values.
    KeyValue {
        /// The longest common prefix of the quoted keys (one scan finds every candidate).
        prefix: Box<Finder<'static>>,
        /// The quoted keys.
        keys: Vec<Box<[u8]>>,
        /// Accepted string values (without quotes).
        names: Vec<Box<[u8]>>,
        /// Accepted integers (as a JSON number, or, when `quoted_ints`, a decimal string).
        ints: Vec<i64>,
        quoted_ints: bool,
        /// Integers are uint32 values compared by their low 16 bits (ports: Cilium casts them to uint16).
        low16: bool,
    },
}

fn finder(bytes: &[u8]) -> Finder<'static> {
    Finder::new(bytes).into_owned()
}

/// (finder of the longest common prefix of the quoted keys, the quoted keys).
fn quoted_keys(keys: &[&str]) -> (Box<Finder<'static>>, Vec<Box<[u8]>>) {
    let quoted: Vec<Box<[u8]>> = keys
        .iter()
        .map(|k| format!("\"{k}\"").into_bytes().into_boxed_slice())
        .collect();
    let first: &[u8] = quoted.first().map_or(&[], |q| q);
    let mut len = first.len();
    for q in &quoted {
        len = len.min(q.len());
        while len > 0 && q[..len] != first[..len] {
            len -= 1;
        }
    }
    (Box::new(finder(&first[..len])), quoted)
}

fn substring(s: &str) -> Needle {
    Needle::Substring(Box::new(finder(s.as_bytes())))
}

fn kv_int(keys: &[&str], ints: Vec<i64>) -> Needle {
    let (prefix, keys) = quoted_keys(keys);
    Needle::KeyValue {
        prefix,
        keys,
        names: Vec::new(),
        ints,
        quoted_ints: true,
        low16: false,
    }
}

/// Port evidence: any uint32 whose low 16 bits are one of `ports` (Cilium compares `uint16(port)`).
fn kv_port(keys: &[&str], ports: Vec<i64>) -> Needle {
    match kv_int(keys, ports) {
        Needle::KeyValue {
            prefix,
            keys,
            names,
            ints,
            quoted_ints,
            ..
        } => Needle::KeyValue {
            prefix,
            keys,
            names,
            ints,
            quoted_ints,
            low16: true,
        },
        other => other,
    }
}

fn kv_enum(keys: &[&str], codes: &[i32], table: &crate::enums::EnumTable) -> Needle {
    let (prefix, keys) = quoted_keys(keys);
    Needle::KeyValue {
        prefix,
        keys,
        names: codes
            .iter()
            .filter_map(|&c| table.name_of(c))
            .map(|n| n.as_bytes().to_vec().into_boxed_slice())
            .collect(),
        ints: codes.iter().map(|&c| i64::from(c)).collect(),
        quoted_ints: false,
        low16: false,
    }
}

fn one(n: Needle) -> Clause {
    Clause {
        options: vec![vec![n]],
    }
}

/// A clause of single-needle options; `None` if any option is unconstrained.
fn any_of<T>(items: &[T], f: impl Fn(&T) -> Option<Vec<Needle>>) -> Option<Clause> {
    let mut options = Vec::with_capacity(items.len());
    for it in items {
        let needles = f(it)?;
        if needles.is_empty() {
            return None;
        }
        options.push(needles);
    }
    if options.is_empty() {
        None
    } else {
        Some(Clause { options })
    }
}

fn lit(s: &str) -> Option<Vec<Needle>> {
    if s.is_empty() {
        None
    } else {
        Some(vec![substring(s)])
    }
}

/// The literal segments of an FQDN pattern that every matching name contains, in canonical form.
fn fqdn_segments(pattern: &str) -> Option<Vec<Needle>> {
    let p = pattern.trim();
    let p = p.strip_suffix('.').unwrap_or(p).to_lowercase();
    let segs: Vec<Needle> = p
        .split('*')
        .filter(|s| !s.is_empty())
        .map(substring)
        .collect();
    if segs.is_empty() {
        None
    } else {
        Some(segs)
    }
}

fn evidence(spec: &FlowFilterSpec) -> Vec<Clause> {
    use crate::enums::{DROP_REASON, IP_VERSION, TRAFFIC_DIRECTION, VERDICT};
    let mut c: Vec<Option<Clause>> = Vec::new();
    let s = spec;
    // Most selective first.
    if !s.uuid.is_empty() {
        c.push(any_of(&s.uuid, |u| lit(u)));
    }
    if !s.event_type.is_empty() {
        c.push(any_of(&s.event_type, |t| {
            let mut n = Vec::new();
            if t.match_sub_type && t.sub_type != 0 {
                n.push(kv_int(
                    &["sub_type", "subType"],
                    vec![i64::from(t.sub_type)],
                ));
            }
            if t.event_type != 0 {
                n.push(kv_int(&["type"], vec![i64::from(t.event_type)]));
            }
            Some(n)
        }));
    }
    if !s.drop_reason_desc.is_empty() {
        c.push(Some(one(kv_enum(&["verdict"], &[2], &VERDICT))));
        if !s.drop_reason_desc.contains(&0) {
            c.push(Some(one(kv_enum(
                &["drop_reason_desc", "dropReasonDesc"],
                &s.drop_reason_desc,
                &DROP_REASON,
            ))));
        }
    }
    if !s.verdict.is_empty() && !s.verdict.contains(&0) {
        c.push(Some(one(kv_enum(&["verdict"], &s.verdict, &VERDICT))));
    }
    if !s.traffic_direction.is_empty() && !s.traffic_direction.contains(&0) {
        c.push(Some(one(kv_enum(
            &["traffic_direction", "trafficDirection"],
            &s.traffic_direction,
            &TRAFFIC_DIRECTION,
        ))));
    }
    if !s.ip_version.is_empty() && !s.ip_version.contains(&0) {
        c.push(Some(one(kv_enum(
            &["ipVersion", "ip_version"],
            &s.ip_version,
            &IP_VERSION,
        ))));
    }
    for ips in [&s.source_ip, &s.destination_ip, &s.source_ip_xlated] {
        if !ips.is_empty() {
            c.push(any_of(
                ips,
                |ip| if ip.contains('/') { None } else { lit(ip) },
            ));
        }
    }
    for names in [
        &s.source_pod,
        &s.destination_pod,
        &s.source_service,
        &s.destination_service,
    ] {
        if !names.is_empty() {
            c.push(any_of(names, |n| {
                let (ns, prefix) = parse_namespace_name(n);
                let mut v = Vec::new();
                if !ns.is_empty() {
                    v.push(substring(ns));
                }
                if !prefix.is_empty() {
                    v.push(substring(prefix));
                }
                Some(v)
            }));
        }
    }
    for names in [
        &s.source_cluster_name,
        &s.destination_cluster_name,
        &s.trace_id,
    ] {
        if !names.is_empty() {
            c.push(any_of(names, |n| lit(n)));
        }
    }
    for ws in [&s.source_workload, &s.destination_workload] {
        if !ws.is_empty() {
            c.push(any_of(ws, |w| {
                let mut v = Vec::new();
                if !w.name.is_empty() {
                    v.push(substring(&w.name));
                }
                if !w.kind.is_empty() {
                    v.push(substring(&w.kind));
                }
                Some(v)
            }));
        }
    }
    for pats in [&s.source_fqdn, &s.destination_fqdn] {
        if !pats.is_empty() {
            c.push(any_of(pats, |p| fqdn_segments(p)));
        }
    }
    if !s.http_header.is_empty() {
        c.push(any_of(&s.http_header, |h| {
            let mut v = Vec::new();
            if !h.key.is_empty() {
                v.push(substring(&h.key));
            }
            if !h.value.is_empty() {
                v.push(substring(&h.value));
            }
            Some(v)
        }));
    }
    if !s.protocol.is_empty() {
        let mut options = Vec::new();
        let mut usable = true;
        for p in &s.protocol {
            match protocol_keys(p) {
                Some(keys) => options.extend(keys.iter().map(|k| vec![substring(k)])),
                None => usable = false,
            }
        }
        c.push(if usable && !options.is_empty() {
            Some(Clause { options })
        } else {
            None
        });
    }
    let ports = [
        (&s.source_port, ["source_port", "sourcePort"]),
        (&s.destination_port, ["destination_port", "destinationPort"]),
    ];
    for (list, keys) in ports {
        if !list.is_empty() {
            let parsed: Option<Vec<i64>> = list
                .iter()
                .map(|p| p.parse::<u16>().ok().map(i64::from))
                .collect();
            c.push(match parsed {
                Some(v) if !v.contains(&0) => Some(one(kv_port(&keys, v))),
                _ => None,
            });
        }
    }
    for ids in [&s.source_identity, &s.destination_identity] {
        if !ids.is_empty() && !ids.contains(&0) {
            c.push(Some(one(kv_int(
                &["identity"],
                ids.iter().map(|&i| i64::from(i)).collect(),
            ))));
        }
    }
    if !s.ip_trace_id.is_empty() && !s.ip_trace_id.contains(&0) {
        let ints: Option<Vec<i64>> = s
            .ip_trace_id
            .iter()
            .map(|&v| i64::try_from(v).ok())
            .collect();
        if let Some(ints) = ints {
            c.push(Some(one(kv_int(&["trace_id", "traceId"], ints))));
        }
    }
    if !s.interface.is_empty() {
        c.push(any_of(&s.interface, |i| lit(&i.name)));
    }
    if !s.tcp_flags.is_empty() {
        c.push(any_of(&s.tcp_flags, |f| {
            Some(
                f.iter()
                    .iter()
                    .filter(|(_, set)| *set)
                    .map(|(name, _)| substring(&format!("\"{name}\"")))
                    .collect(),
            )
        }));
    }
    c.into_iter().flatten().collect()
}

/// The JSON keys (quoted) whose presence a `protocol` value requires.
fn protocol_keys(p: &str) -> Option<&'static [&'static str]> {
    Some(match p.to_lowercase().as_str() {
        "icmp" => &["\"ICMPv4\"", "\"ICMPv6\""],
        "icmpv4" => &["\"ICMPv4\""],
        "icmpv6" => &["\"ICMPv6\""],
        "tcp" => &["\"TCP\""],
        "udp" => &["\"UDP\""],
        "sctp" => &["\"SCTP\""],
        "vrrp" => &["\"VRRP\""],
        "igmp" => &["\"IGMP\""],
        "dns" => &["\"dns\""],
        "http" => &["\"http\""],
        "kafka" => &["\"kafka\""],
        _ => return None,
    })
}

impl Prefilter {
    /// Derives the evidence from the include filters of `set`.
    pub fn new(set: &FilterSet) -> Prefilter {
        let specs = set.include_specs();
        let filters: Vec<Vec<Clause>> = specs.iter().map(evidence).collect();
        let always = specs.is_empty() || filters.iter().any(Vec::is_empty);
        Prefilter {
            always,
            filters,
            vent: finder(b"vent"),
            tatus: finder(b"tatus"),
        }
    }

    /// Whether this prefilter passes every line (no usable evidence).
    pub fn passes_everything(&self) -> bool {
        self.always
    }

    /// False only if the full pipeline certainly would not keep this line.
    pub fn may_keep(&self, line: &[u8]) -> bool {
        self.may_keep_escapes(line, true)
    }

    /// [`Prefilter::may_keep`] for a line whose framing already looked for backslashes: `may_escape` must be
    /// true if the line holds one (false spares the prefilter its own search of the whole line).
    pub fn may_keep_escapes(&self, line: &[u8], may_escape: bool) -> bool {
        if self.always {
            return true;
        }
        if self
            .filters
            .iter()
            .any(|clauses| clauses.iter().all(|c| c.holds(line)))
        {
            return true;
        }
        if may_escape && memchr::memchr(b'\\', line).is_some() {
            return true;
        }
        // A line that opens with `{"flow":{` decodes as a flow record or not at all (the envelope's `flow` takes
        // precedence over every other record key), so its non-flow markers cannot matter: two scans saved on
        // the flows a mixed log is mostly made of.
        flow_object_start(line).is_none() && self.has_non_flow_marker(line)
    }

    /// Whether the line contains `_event`, `Event`, `_status` or `Status` (every non-flow record key
    /// `lost_events`, `agent_event`, `debug_event`, `node_status`, `lostEvents`, `agentEvent`, `debugEvent`,
    /// `nodeStatus` contains one of them).
    fn has_non_flow_marker(&self, line: &[u8]) -> bool {
        let before = |pos: usize, back: usize| pos.checked_sub(back).map(|i| line[i]);
        self.vent.find_iter(line).any(|p| {
            before(p, 1) == Some(b'E') || (before(p, 1) == Some(b'e') && before(p, 2) == Some(b'_'))
        }) || self.tatus.find_iter(line).any(|p| {
            before(p, 1) == Some(b'S') || (before(p, 1) == Some(b's') && before(p, 2) == Some(b'_'))
        })
    }
}

impl Clause {
    fn holds(&self, line: &[u8]) -> bool {
        self.options
            .iter()
            .any(|needles| needles.iter().all(|n| n.holds(line)))
    }
}

impl Needle {
    fn holds(&self, line: &[u8]) -> bool {
        match self {
            Needle::Substring(f) => f.find(line).is_some(),
            Needle::KeyValue {
                prefix,
                keys,
                names,
                ints,
                quoted_ints,
                low16,
            } => prefix.find_iter(line).any(|pos| {
                let rest = &line[pos..];
                keys.iter().any(|k| {
                    if !rest.starts_with(k) {
                        return false;
                    }
                    let mut i = skip_ws(line, pos + k.len());
                    if line.get(i) != Some(&b':') {
                        return false;
                    }
                    i = skip_ws(line, i + 1);
                    value_matches(&line[i..], names, ints, *quoted_ints, *low16)
                })
            }),
        }
    }
}

fn value_matches(
    v: &[u8],
    names: &[Box<[u8]>],
    ints: &[i64],
    quoted_ints: bool,
    low16: bool,
) -> bool {
    let int_matches = |n: i64| {
        if low16 {
            // A uint32 port (what the decoder accepts), truncated to 16 bits as Cilium does.
            (0..=i64::from(u32::MAX)).contains(&n) && ints.contains(&(n & 0xFFFF))
        } else {
            ints.contains(&n)
        }
    };
    match v.first() {
        Some(b'"') => {
            let Some(end) = memchr::memchr(b'"', &v[1..]) else {
                return false;
            };
            let content = &v[1..1 + end];
            if names.iter().any(|n| **n == *content) {
                return true;
            }
            quoted_ints
                && std::str::from_utf8(content)
                    .ok()
                    .and_then(|s| s.trim().parse::<i64>().ok())
                    .is_some_and(int_matches)
        }
        Some(b'-' | b'0'..=b'9') => {
            let len = v
                .iter()
                .position(|b| !matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                .unwrap_or(v.len());
            let Ok(tok) = std::str::from_utf8(&v[..len]) else {
                return false;
            };
            if let Ok(n) = tok.parse::<i64>() {
                return int_matches(n);
            }
            // Integral floats (`5.0`, `5e0`) are accepted by some integer decoders.
            tok.parse::<f64>()
                .is_ok_and(|f| f.fract() == 0.0 && f.abs() < 9.0e15 && int_matches(f as i64))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pf(include: &str) -> Prefilter {
        let inc = crate::filter::parse_filter_list(include).unwrap();
        Prefilter::new(&FilterSet::build(inc, vec![]).unwrap())
    }

    #[test]
    fn keeps_every_masked_record_the_filters_keep() {
        use crate::filter::tests::{MASKED, MASKED_KEPT_BY};
        for f in MASKED_KEPT_BY {
            let inc = crate::filter::parse_filter_list(f).unwrap();
            let s = FilterSet::build(inc, vec![]).unwrap();
            assert!(s.keep(&crate::decode(MASKED.as_bytes()).unwrap()), "{f}");
            assert!(
                Prefilter::new(&s).may_keep(MASKED.as_bytes()),
                "prefilter drops {f}"
            );
        }
    }

    #[test]
    fn default_filter_evidence() {
        let p = Prefilter::new(
            &FilterSet::build(vec![FilterSet::default_policy_deny_egress()], vec![]).unwrap(),
        );
        assert!(!p.passes_everything());
        assert!(p.may_keep(
            br#"{"flow":{"event_type":{"type":1,"sub_type":181},"traffic_direction":"EGRESS"}}"#
        ));
        assert!(p.may_keep(
            br#"{"flow":{"trafficDirection" : 2 ,"eventType":{"subType" : "181","type":"1"}}}"#
        ));
        assert!(!p.may_keep(
            br#"{"flow":{"event_type":{"type":1,"sub_type":133},"traffic_direction":"EGRESS"}}"#
        ));
        assert!(!p.may_keep(
            br#"{"flow":{"event_type":{"type":1,"sub_type":181},"traffic_direction":"INGRESS"}}"#
        ));
        assert!(!p.may_keep(br#"{"flow":{"event_type":{"type":1,"sub_type":1810}}}"#));
        assert!(p.may_keep(br#"{"lost_events":{}}"#));
        assert!(p.may_keep(br#"{"agentEvent":{}}"#));
        assert!(p.may_keep(br#"{ "node_status" : {}}"#));
        assert!(p.may_keep(br#"{"nodeStatus":{}}"#));
        assert!(p.may_keep(br#"{"debugEvent":{"type":1}}"#));
        assert!(p.may_keep(br#"{"time":"x","debug_event":{}}"#));
        assert!(!p.may_keep(br#"{"flow":{"event_type":{"type":4}}}"#));
        assert!(p.may_keep(br#"{"flow":{"s\u0075b_type":181}}"#));
        assert!(!p.may_keep(b"level=info msg=hello"));
        // A line opening with a flow object is a flow record (or nothing), whatever other record keys follow:
        // its non-flow markers are not consulted. Without the flow object first, they still are.
        let flow_then_event = br#"{"flow":{"event_type":{"type":4}},"agent_event":{"type":1}}"#;
        assert!(matches!(
            crate::decode(flow_then_event),
            Ok(crate::Record::Flow { .. })
        ));
        assert!(!p.may_keep(flow_then_event));
        assert!(!p.may_keep(br#" { "flow" : {"Summary":"nodeStatus"}}"#));
        assert!(p.may_keep(br#"{"flow":null,"agent_event":{"type":1}}"#));
        assert!(p.may_keep(br#"{"time":"x","flow":{},"agent_event":{}}"#));
    }

    #[test]
    fn no_evidence_means_everything_passes() {
        assert!(pf("").passes_everything());
        assert!(pf(r#"{"source_label":["k8s:app=x"]}"#).passes_everything());
        assert!(pf(r#"{"verdict":["VERDICT_UNKNOWN"]}"#).passes_everything());
        assert!(pf(r#"{"verdict":["DROPPED"]} {}"#).passes_everything());
        assert!(!pf(r#"{"verdict":["DROPPED"]}"#).passes_everything());
    }

    #[test]
    fn substring_evidence() {
        let p =
            pf(r#"{"uuid":["abc-123"]} {"source_ip":["10.0.0.1"],"source_pod":["kube-system/"]}"#);
        assert!(p.may_keep(br#"{"flow":{"uuid":"abc-123"}}"#));
        assert!(p.may_keep(
            br#"{"flow":{"IP":{"source":"10.0.0.1"},"source":{"namespace":"kube-system"}}}"#
        ));
        assert!(!p.may_keep(
            br#"{"flow":{"IP":{"source":"10.0.0.1"},"source":{"namespace":"default"}}}"#
        ));
        assert!(!p.may_keep(br#"{"flow":{"uuid":"zzz"}}"#));
    }

    #[test]
    fn ports_compare_by_their_low_16_bits() {
        let p = pf(r#"{"destination_port":["80"]}"#);
        assert!(p.may_keep(br#"{"flow":{"l4":{"TCP":{"destination_port":80}}}}"#));
        // 65616 = 65536 + 80: Cilium casts the uint32 to uint16.
        assert!(p.may_keep(br#"{"flow":{"l4":{"TCP":{"destination_port":65616}}}}"#));
        assert!(p.may_keep(br#"{"flow":{"l4":{"UDP":{"destinationPort":"4294901840"}}}}"#));
        assert!(!p.may_keep(br#"{"flow":{"l4":{"TCP":{"destination_port":65617}}}}"#));
        assert!(!p.may_keep(br#"{"flow":{"l4":{"TCP":{"destination_port":4295032912}}}}"#));
    }
}
