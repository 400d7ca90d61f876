//! Property: the prefilter never rejects a line the full pipeline keeps.
//!
//! Random include/exclude filters (drawn from the fields that produce prefilter evidence and others) and random
//! flow records (and non-flow records) rendered with random spacing, key order, lowerCamel keys, enums as
//! numbers, quoted integers and random `\u` escapes. For every pair: `!may_keep(line) ⇒ !keep(decode(line))`.

use hubble_flow::filter::{
    EventTypeFilterSpec, FilterSet, FlowFilterSpec, HttpHeaderSpec, NetworkInterfaceSpec,
    TcpFlagsSpec, WorkloadSpec,
};
use hubble_flow::prefilter::Prefilter;
use hubble_flow::record::decode;
use proptest::prelude::*;

/// Deterministic generator driven by a proptest seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len())]
    }
}

const UUIDS: &[&str] = &["u-1", "u-2", "cd75-aa"];
const IPS: &[&str] = &["10.0.0.1", "10.0.0.2", "1.1.1.1", "f00d::1", "192.168.1.10"];
const CIDRS: &[&str] = &["10.0.0.0/24", "f00d::/16", "192.168.0.0/16"];
const NAMESPACES: &[&str] = &["default", "kube-system", "net-lab"];
const PODS: &[&str] = &["xwing-1", "deathstar-7", "coredns-abc", "tg"];
const POD_FILTERS: &[&str] = &[
    "kube-system/",
    "xwing",
    "net-lab/tg",
    "/coredns",
    "default/death",
];
const CLUSTERS: &[&str] = &["c1", "topgun"];
const NAMES: &[&str] = &["cilium.io", "www.example.com", "api.example.com."];
const FQDN_PATTERNS: &[&str] = &["*.example.com", "cilium.io", "www.*", "*"];
const METHODS: &[&str] = &["GET", "POST", "get"];
const URLS: &[&str] = &["http://h/page/1", "/api/v1?x=1", "http://h:80/a%20b"];
const HEADER_KEYS: &[&str] = &["Host", "X-Id"];
const HEADER_VALUES: &[&str] = &["h", "7"];
const IFACES: &[&str] = &["eth0", "lxc1"];
const LABELS: &[&str] = &["k8s:app=foo", "reserved:world", "k8s:n=5", "cidrgroup:x"];
const SELECTORS: &[&str] = &["k8s:app=foo", "!k8s:app", "reserved:world", "", "n>3"];
const NODES: &[&str] = &["topgun/cilium-w1", "kind-worker", "c1/n2"];
const NODE_PATTERNS: &[&str] = &["topgun/*", "kind-*", "c1/"];
const VERDICTS: &[(&str, i64)] = &[
    ("FORWARDED", 1),
    ("DROPPED", 2),
    ("AUDIT", 4),
    ("VERDICT_UNKNOWN", 0),
];
const DIRECTIONS: &[(&str, i64)] = &[
    ("INGRESS", 1),
    ("EGRESS", 2),
    ("TRAFFIC_DIRECTION_UNKNOWN", 0),
];
const DROP_REASONS: &[(&str, i64)] = &[
    ("POLICY_DENIED", 133),
    ("POLICY_DENY", 181),
    ("INVALID_SOURCE_IP", 132),
];
const IP_VERSIONS: &[(&str, i64)] = &[("IPv4", 1), ("IPv6", 2)];
const EVENT_TYPES: &[i32] = &[0, 1, 4, 5, 129];
const SUB_TYPES: &[i32] = &[0, 3, 133, 181];
const PORTS: &[u32] = &[0, 53, 80, 443];
/// Ports as flows carry them: uint32 values, some above 65535 whose low 16 bits are a filter port (Cilium
/// compares `uint16(port)`: 65616 is port 80, 65536 is port 0).
const FLOW_PORTS: &[u32] = &[
    0,
    53,
    80,
    443,
    65536,
    65589,
    65616,
    65979,
    131_152,
    4_294_901_840,
];
const IDENTITIES: &[u32] = &[0, 2, 16777218, 24753];
const TRACE_IDS: &[&str] = &["t1", "t2"];
const IP_TRACE_IDS: &[u64] = &[7, 1234567];
const HTTP_CODES: &[u32] = &[0, 200, 503];

/// A JSON value to render, with the spellings the decoder accepts.
enum J {
    Obj(Vec<(Vec<&'static str>, J)>),
    Arr(Vec<J>),
    Str(String),
    /// An integer; `quotable` when its decoder accepts a decimal string.
    Int(i64, bool),
    Enum(&'static str, i64),
    Bool(bool),
}

fn k(keys: &[&'static str]) -> Vec<&'static str> {
    keys.to_vec()
}

fn s(v: &str) -> J {
    J::Str(v.to_string())
}

fn render_str(out: &mut String, v: &str, rng: &mut Rng) {
    out.push('"');
    let n = v.chars().count().max(1);
    let escaped = if rng.chance(1) {
        rng.below(n)
    } else {
        usize::MAX
    };
    for (i, c) in v.chars().enumerate() {
        if i == escaped {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else if c == '"' || c == '\\' {
            out.push('\\');
            out.push(c);
        } else {
            out.push(c);
        }
    }
    out.push('"');
}

fn ws(out: &mut String, rng: &mut Rng) {
    if rng.chance(20) {
        out.push_str(rng.pick(&[" ", "  ", "\t", "\n ", "\r\n"]));
    }
}

fn render(out: &mut String, j: &J, rng: &mut Rng) {
    match j {
        J::Obj(fields) => {
            out.push('{');
            let mut order: Vec<usize> = (0..fields.len()).collect();
            for i in (1..order.len()).rev() {
                order.swap(i, rng.below(i + 1));
            }
            for (n, &i) in order.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                ws(out, rng);
                let (keys, v) = &fields[i];
                let key = rng.pick(keys);
                render_str(out, key, rng);
                ws(out, rng);
                out.push(':');
                ws(out, rng);
                render(out, v, rng);
                ws(out, rng);
            }
            out.push('}');
        }
        J::Arr(items) => {
            out.push('[');
            for (n, v) in items.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                ws(out, rng);
                render(out, v, rng);
            }
            out.push(']');
        }
        J::Str(v) => render_str(out, v, rng),
        J::Int(v, quotable) => {
            if *quotable && rng.chance(30) {
                out.push_str(&format!("\"{v}\""));
            } else {
                out.push_str(&v.to_string());
            }
        }
        J::Enum(name, num) => {
            if rng.chance(30) {
                out.push_str(&num.to_string());
            } else {
                render_str(out, name, rng);
            }
        }
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
    }
}

fn endpoint(rng: &mut Rng) -> J {
    let mut f = Vec::new();
    if rng.chance(70) {
        f.push((k(&["namespace"]), s(rng.pick(NAMESPACES))));
    }
    if rng.chance(70) {
        f.push((k(&["pod_name", "podName"]), s(rng.pick(PODS))));
    }
    let id = rng.pick(IDENTITIES);
    if id != 0 {
        f.push((k(&["identity"]), J::Int(i64::from(id), true)));
    }
    if rng.chance(40) {
        f.push((k(&["cluster_name", "clusterName"]), s(rng.pick(CLUSTERS))));
    }
    if rng.chance(50) {
        let n = 1 + rng.below(3);
        f.push((
            k(&["labels"]),
            J::Arr((0..n).map(|_| s(rng.pick(LABELS))).collect()),
        ));
    }
    if rng.chance(30) {
        f.push((
            k(&["workloads"]),
            J::Arr(vec![J::Obj(vec![
                (k(&["name"]), s(rng.pick(PODS))),
                (k(&["kind"]), s(rng.pick(&["Deployment", "DaemonSet"]))),
            ])]),
        ));
    }
    J::Obj(f)
}

fn gen_flow(rng: &mut Rng) -> J {
    let mut f: Vec<(Vec<&'static str>, J)> = Vec::new();
    if rng.chance(50) {
        f.push((k(&["uuid"]), s(rng.pick(UUIDS))));
    }
    if rng.chance(80) {
        let (n, v) = rng.pick(VERDICTS);
        f.push((k(&["verdict"]), J::Enum(n, v)));
    }
    if rng.chance(50) {
        let (n, v) = rng.pick(DROP_REASONS);
        f.push((k(&["drop_reason_desc", "dropReasonDesc"]), J::Enum(n, v)));
    }
    if rng.chance(70) {
        let (n, v) = rng.pick(DIRECTIONS);
        f.push((k(&["traffic_direction", "trafficDirection"]), J::Enum(n, v)));
    }
    if rng.chance(85) {
        let mut et = Vec::new();
        let t = rng.pick(EVENT_TYPES);
        if t != 0 {
            et.push((k(&["type"]), J::Int(i64::from(t), true)));
        }
        let st = rng.pick(SUB_TYPES);
        if st != 0 {
            et.push((k(&["sub_type", "subType"]), J::Int(i64::from(st), true)));
        }
        f.push((k(&["event_type", "eventType"]), J::Obj(et)));
    }
    if rng.chance(80) {
        let mut ip = vec![
            (k(&["source"]), s(rng.pick(IPS))),
            (k(&["destination"]), s(rng.pick(IPS))),
        ];
        if rng.chance(60) {
            let (n, v) = rng.pick(IP_VERSIONS);
            ip.push((k(&["ipVersion", "ip_version"]), J::Enum(n, v)));
        }
        if rng.chance(20) {
            ip.push((k(&["source_xlated", "sourceXlated"]), s(rng.pick(IPS))));
        }
        if rng.chance(20) {
            ip.push((k(&["encrypted"]), J::Bool(rng.chance(50))));
        }
        f.push((k(&["IP"]), J::Obj(ip)));
    }
    if rng.chance(70) {
        let sp = rng.pick(FLOW_PORTS);
        let dp = rng.pick(FLOW_PORTS);
        let mut ports = Vec::new();
        if sp != 0 {
            ports.push((
                k(&["source_port", "sourcePort"]),
                J::Int(i64::from(sp), true),
            ));
        }
        if dp != 0 {
            ports.push((
                k(&["destination_port", "destinationPort"]),
                J::Int(i64::from(dp), true),
            ));
        }
        let l4 = match rng.below(4) {
            0 => {
                if rng.chance(60) {
                    let flags: Vec<(Vec<&'static str>, J)> = ["SYN", "ACK", "FIN", "RST"]
                        .iter()
                        .filter(|_| rng.chance(40))
                        .map(|fl| (vec![*fl], J::Bool(true)))
                        .collect();
                    ports.push((k(&["flags"]), J::Obj(flags)));
                }
                (k(&["TCP"]), J::Obj(ports))
            }
            1 => (k(&["UDP"]), J::Obj(ports)),
            2 => (
                k(&["ICMPv4"]),
                J::Obj(vec![(k(&["type"]), J::Int(8, true))]),
            ),
            _ => (k(&["SCTP"]), J::Obj(ports)),
        };
        f.push((k(&["l4"]), J::Obj(vec![l4])));
    }
    if rng.chance(80) {
        f.push((k(&["source"]), endpoint(rng)));
    }
    if rng.chance(80) {
        f.push((k(&["destination"]), endpoint(rng)));
    }
    if rng.chance(50) {
        f.push((k(&["node_name", "nodeName"]), s(rng.pick(NODES))));
    }
    if rng.chance(20) {
        f.push((
            k(&["node_labels", "nodeLabels"]),
            J::Arr(vec![s(rng.pick(LABELS))]),
        ));
    }
    if rng.chance(30) {
        f.push((
            k(&["source_names", "sourceNames"]),
            J::Arr(vec![s(rng.pick(NAMES))]),
        ));
    }
    if rng.chance(30) {
        f.push((
            k(&["destination_names", "destinationNames"]),
            J::Arr(vec![s(rng.pick(NAMES))]),
        ));
    }
    if rng.chance(35) {
        let l7 = if rng.chance(50) {
            let mut h = vec![
                (k(&["method"]), s(rng.pick(METHODS))),
                (k(&["url"]), s(rng.pick(URLS))),
                (
                    k(&["headers"]),
                    J::Arr(vec![J::Obj(vec![
                        (k(&["key"]), s(rng.pick(HEADER_KEYS))),
                        (k(&["value"]), s(rng.pick(HEADER_VALUES))),
                    ])]),
                ),
            ];
            let code = rng.pick(HTTP_CODES);
            if code != 0 {
                h.push((k(&["code"]), J::Int(i64::from(code), true)));
            }
            (k(&["http"]), J::Obj(h))
        } else {
            (
                k(&["dns"]),
                J::Obj(vec![(k(&["query"]), s(rng.pick(NAMES)))]),
            )
        };
        f.push((
            k(&["l7"]),
            J::Obj(vec![(k(&["type"]), J::Enum("REQUEST", 1)), l7]),
        ));
    }
    if rng.chance(30) {
        f.push((k(&["is_reply", "isReply"]), J::Bool(rng.chance(50))));
    }
    if rng.chance(20) {
        f.push((
            k(&["trace_context", "traceContext"]),
            J::Obj(vec![(
                k(&["parent"]),
                J::Obj(vec![(k(&["trace_id", "traceId"]), s(rng.pick(TRACE_IDS)))]),
            )]),
        ));
    }
    if rng.chance(20) {
        f.push((
            k(&["ip_trace_id", "ipTraceId"]),
            J::Obj(vec![(
                k(&["trace_id", "traceId"]),
                J::Int(rng.pick(IP_TRACE_IDS) as i64, true),
            )]),
        ));
    }
    if rng.chance(20) {
        f.push((
            k(&["interface"]),
            J::Obj(vec![(k(&["name"]), s(rng.pick(IFACES)))]),
        ));
    }
    J::Obj(f)
}

fn gen_record(rng: &mut Rng) -> String {
    let mut out = String::new();
    let rec = match rng.below(12) {
        0 => J::Obj(vec![(k(&["lost_events", "lostEvents"]), J::Obj(vec![]))]),
        1 => J::Obj(vec![(
            k(&["agent_event", "agentEvent"]),
            J::Obj(vec![(k(&["type"]), J::Enum("POLICY_UPDATED", 3))]),
        )]),
        2 => J::Obj(vec![(k(&["debug_event", "debugEvent"]), J::Obj(vec![]))]),
        3 => {
            // A bare flow. It must carry a field only flows have, or it is (rightly) an agent JSON log line:
            // `Type` is one the flow generator never writes.
            let mut f = gen_flow(rng);
            if let J::Obj(fields) = &mut f {
                fields.push((k(&["Type"]), s("L3_L4")));
            }
            f
        }
        _ => J::Obj(vec![
            (k(&["flow"]), gen_flow(rng)),
            (k(&["node_name", "nodeName"]), s(rng.pick(NODES))),
            (k(&["time"]), s("2026-07-31T10:41:02Z")),
        ]),
    };
    ws(&mut out, rng);
    render(&mut out, &rec, rng);
    out
}

fn enum_names(rng: &mut Rng, set: &[(&str, i64)]) -> Vec<i32> {
    let n = 1 + rng.below(2);
    (0..n).map(|_| rng.pick(set).1 as i32).collect()
}

fn strs(rng: &mut Rng, set: &[&str]) -> Vec<String> {
    let n = 1 + rng.below(2);
    (0..n).map(|_| rng.pick(set).to_string()).collect()
}

fn gen_filter(rng: &mut Rng) -> FlowFilterSpec {
    let mut f = FlowFilterSpec::default();
    let fields = 1 + rng.below(3);
    for _ in 0..fields {
        match rng.below(30) {
            0 => f.uuid = strs(rng, UUIDS),
            1 | 2 => f.verdict = enum_names(rng, VERDICTS),
            3 => f.drop_reason_desc = enum_names(rng, DROP_REASONS),
            4 | 5 => f.traffic_direction = enum_names(rng, DIRECTIONS),
            6..=8 => {
                let n = 1 + rng.below(2);
                f.event_type = (0..n)
                    .map(|_| EventTypeFilterSpec {
                        event_type: rng.pick(EVENT_TYPES),
                        match_sub_type: rng.chance(60),
                        sub_type: rng.pick(SUB_TYPES),
                    })
                    .collect();
            }
            9 => {
                let set = if rng.chance(70) { IPS } else { CIDRS };
                f.source_ip = strs(rng, set)
            }
            10 => f.destination_ip = strs(rng, IPS),
            11 => f.source_pod = strs(rng, POD_FILTERS),
            12 => f.destination_pod = strs(rng, POD_FILTERS),
            13 => f.source_cluster_name = strs(rng, CLUSTERS),
            14 => f.source_fqdn = strs(rng, FQDN_PATTERNS),
            15 => f.destination_fqdn = strs(rng, FQDN_PATTERNS),
            16 => f.protocol = strs(rng, &["tcp", "UDP", "icmp", "http", "dns", "sctp"]),
            17 => {
                f.source_port = PORTS
                    .iter()
                    .filter(|_| rng.chance(50))
                    .map(|p| p.to_string())
                    .collect()
            }
            18 => f.destination_port = vec![rng.pick(PORTS).to_string()],
            19 => f.source_identity = vec![rng.pick(IDENTITIES)],
            20 => f.destination_identity = vec![rng.pick(IDENTITIES)],
            21 => {
                f.tcp_flags = vec![TcpFlagsSpec {
                    syn: rng.chance(50),
                    ack: rng.chance(50),
                    ..TcpFlagsSpec::default()
                }]
            }
            22 => f.ip_version = enum_names(rng, IP_VERSIONS),
            23 => {
                f.http_header = vec![HttpHeaderSpec {
                    key: rng.pick(HEADER_KEYS).to_string(),
                    value: rng.pick(HEADER_VALUES).to_string(),
                }]
            }
            24 => {
                f.source_workload = vec![WorkloadSpec {
                    name: rng.pick(PODS).to_string(),
                    kind: String::new(),
                }]
            }
            25 => f.trace_id = strs(rng, TRACE_IDS),
            26 => f.ip_trace_id = vec![rng.pick(IP_TRACE_IDS)],
            27 => {
                f.interface = vec![NetworkInterfaceSpec {
                    index: 0,
                    name: rng.pick(IFACES).to_string(),
                }]
            }
            28 => f.source_label = strs(rng, SELECTORS),
            _ => {
                f.node_name = strs(rng, NODE_PATTERNS);
                f.http_method = if rng.chance(30) {
                    strs(rng, METHODS)
                } else {
                    vec![]
                };
                f.http_path = if rng.chance(20) {
                    vec!["^/page".into()]
                } else {
                    vec![]
                };
            }
        }
    }
    f
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(3000),
        .. ProptestConfig::default()
    })]

    #[test]
    fn prefilter_has_no_false_negatives(seed in any::<u64>()) {
        let mut rng = Rng(seed | 1);
        let n_inc = rng.below(3);
        let include: Vec<FlowFilterSpec> = (0..n_inc).map(|_| gen_filter(&mut rng)).collect();
        let exclude: Vec<FlowFilterSpec> = if rng.chance(20) { vec![gen_filter(&mut rng)] } else { vec![] };
        let Ok(set) = FilterSet::build(include, exclude) else { return Ok(()) };
        let pf = Prefilter::new(&set);
        for _ in 0..20 {
            let line = gen_record(&mut rng);
            let rec = decode(line.as_bytes());
            prop_assert!(rec.is_ok(), "generator produced an undecodable line: {line}");
            let kept = rec.as_ref().is_ok_and(|r| set.keep(r));
            if kept {
                prop_assert!(pf.may_keep(line.as_bytes()), "false negative\nfilters: {:?}\nline: {line}", set.include_specs());
            }
        }
    }
}

#[test]
fn generator_produces_kept_and_rejected_lines() {
    // The property is only meaningful if both outcomes occur, and the prefilter rejects something.
    let set = FilterSet::build(vec![FilterSet::default_policy_deny_egress()], vec![]).unwrap();
    let pf = Prefilter::new(&set);
    let mut rng = Rng(42);
    let (mut kept, mut rejected) = (0, 0);
    for _ in 0..20_000 {
        let line = gen_record(&mut rng);
        let rec = decode(line.as_bytes()).unwrap();
        if set.keep(&rec) {
            kept += 1;
            assert!(pf.may_keep(line.as_bytes()), "{line}");
        }
        if !pf.may_keep(line.as_bytes()) {
            rejected += 1;
        }
    }
    assert!(kept > 50, "kept {kept}");
    assert!(rejected > 4_000, "rejected {rejected}");
}
