//! Generates realistic cilium-agent output of any size for benchmarks and tests, and CIDR-group manifests.
//!
//! ```text
//! cargo run --release --example gen-flows -- logs --bytes 500MB --flow-share 0.8 --kept-share 0.02 > agent.log
//! cargo run --release --example gen-flows -- logs --lines 1000 --kept-share 1 --format cri > 0.log
//! cargo run --release --example gen-flows -- cidr-groups --prefixes 200000 > groups.yaml
//! ```
//!
//! `logs` writes a mix of agent log lines (logrus text, slog text, JSON) and Hubble exporter records: traced and
//! forwarded flows, policy verdicts, drops with other reasons, ingress policy-deny drops, DNS/L7 flows, lost
//! events — and, at `--kept-share`, egress policy-deny drops (what the default filter keeps). Kept flows go to
//! destinations inside 203.0.113.0/24, 198.51.100.0/24, 192.0.2.0/24 and 2001:db8::/32 half of the time, so
//! the `cidr-groups` output (which always includes those) tags them. Deterministic for a given `--seed`.
//!
//! `--shape realistic` (the default) writes flows with the size and shape of real exporter output (compare
//! captures of `hubble observe -o json` / the exporter file): 5–8 labels per endpoint, workloads, node labels,
//! ethernet, `file`, policy fields, `destination_names` on a share of world destinations, DNS and HTTP L7
//! records, IPv6, ICMP, and `egress_denied_by` with policy labels; sources come from a fixed pool of pods, as
//! in a real cluster. The mean kept-flow line is about 1.5 KB (real captures: 1.2–1.6 KB). `--shape compact` writes the smaller, simpler
//! flows earlier benchmarks used (about 0.9 KB per kept flow).

use std::io::{self, BufWriter, Write};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Raw,
    Cri,
    Docker,
}

struct Opts {
    bytes: Option<u64>,
    lines: Option<u64>,
    flow_share: f64,
    kept_share: f64,
    format: Format,
    seed: u64,
    realistic: bool,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("logs") => logs(&args[1..]),
        Some("cidr-groups") => cidr_groups(&args[1..]),
        _ => Err("usage: gen-flows logs [--bytes N|--lines N] [--flow-share F] [--kept-share F] [--format raw|cri|docker] [--shape realistic|compact] [--seed N]\n       gen-flows cidr-groups [--prefixes N] [--groups N] [--seed N]".to_owned()),
    };
    if let Err(e) = result {
        eprintln!("gen-flows: {e}");
        std::process::exit(2);
    }
}

fn parse_size(s: &str) -> Result<u64, String> {
    let (num, mult) = if let Some(n) = s.strip_suffix("GB") {
        (n, 1_000_000_000)
    } else if let Some(n) = s.strip_suffix("MB") {
        (n, 1_000_000)
    } else if let Some(n) = s.strip_suffix("KB") {
        (n, 1_000)
    } else {
        (s, 1)
    };
    num.parse::<u64>()
        .map(|n| n * mult)
        .map_err(|_| format!("bad size {s}"))
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn logs(args: &[String]) -> Result<(), String> {
    let opts = Opts {
        bytes: flag(args, "--bytes").map(parse_size).transpose()?,
        lines: flag(args, "--lines")
            .map(|s| s.parse().map_err(|_| format!("bad --lines {s}")))
            .transpose()?,
        flow_share: flag(args, "--flow-share").map_or(Ok(0.8), |s| {
            s.parse().map_err(|_| "bad --flow-share".to_owned())
        })?,
        kept_share: flag(args, "--kept-share").map_or(Ok(0.02), |s| {
            s.parse().map_err(|_| "bad --kept-share".to_owned())
        })?,
        format: match flag(args, "--format").unwrap_or("raw") {
            "raw" => Format::Raw,
            "cri" => Format::Cri,
            "docker" => Format::Docker,
            f => return Err(format!("unknown --format {f}")),
        },
        seed: flag(args, "--seed")
            .map_or(Ok(1), |s| s.parse().map_err(|_| "bad --seed".to_owned()))?,
        realistic: match flag(args, "--shape").unwrap_or("realistic") {
            "realistic" => true,
            "compact" => false,
            f => return Err(format!("unknown --shape {f}")),
        },
    };
    if opts.bytes.is_none() && opts.lines.is_none() {
        return Err("give --bytes or --lines".into());
    }
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    let mut rng = Rng(opts.seed);
    let mut written = 0u64;
    let mut n = 0u64;
    let mut line = String::with_capacity(4096);
    let mut framed = Vec::with_capacity(8192);
    let start_ns: u64 = 1_764_072_000_000_000_000; // 2025-11-25T12:00:00Z
    loop {
        if opts.lines.is_some_and(|l| n >= l) || opts.bytes.is_some_and(|b| written >= b) {
            break;
        }
        // Realistic runs span about an hour per 250k lines, compact ones about four minutes.
        let ts_ns = start_ns
            + n * if opts.realistic {
                15_000_017
            } else {
                1_000_017
            };
        line.clear();
        let r = rng.next() as f64 / u64::MAX as f64;
        let flow_line = if opts.realistic {
            realistic_flow_line
        } else {
            flow_line
        };
        if r < opts.kept_share {
            flow_line(&mut rng, &mut line, ts_ns, Kind::EgressPolicyDeny);
        } else if r < opts.flow_share.max(opts.kept_share) {
            let k = match rng.below(100) {
                0..=54 => Kind::Trace,
                55..=69 => Kind::PolicyVerdict,
                70..=74 => Kind::Dns,
                75..=79 if opts.realistic => Kind::Http,
                75..=79 => Kind::Dns,
                80..=89 => Kind::OtherDrop,
                90..=97 => Kind::IngressPolicyDeny,
                _ => Kind::Lost,
            };
            flow_line(&mut rng, &mut line, ts_ns, k);
        } else {
            agent_line(&mut rng, &mut line, ts_ns);
        }
        framed.clear();
        frame(opts.format, &line, ts_ns, &mut framed);
        out.write_all(&framed).map_err(|e| e.to_string())?;
        written += framed.len() as u64;
        n += 1;
    }
    out.flush().map_err(|e| e.to_string())
}

fn rfc3339(ns: u64) -> String {
    hubble_ingest::report::aggregate::format_rfc3339(i128::from(ns))
}

fn frame(format: Format, line: &str, ts_ns: u64, out: &mut Vec<u8>) {
    match format {
        Format::Raw => {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        Format::Cri => {
            // containerd splits lines longer than 16 KiB; our lines are shorter, but split long ones anyway.
            let ts = rfc3339(ts_ns);
            let bytes = line.as_bytes();
            let mut chunks = bytes.chunks(16384).peekable();
            while let Some(c) = chunks.next() {
                let tag = if chunks.peek().is_some() { "P" } else { "F" };
                out.extend_from_slice(format!("{ts} stdout {tag} ").as_bytes());
                out.extend_from_slice(c);
                out.push(b'\n');
            }
        }
        Format::Docker => {
            let mut s = String::with_capacity(line.len() + 16);
            s.push_str(line);
            s.push('\n');
            let v = serde_json::json!({"log": s, "stream": "stdout", "time": rfc3339(ts_ns)});
            out.extend_from_slice(v.to_string().as_bytes());
            out.push(b'\n');
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    EgressPolicyDeny,
    IngressPolicyDeny,
    OtherDrop,
    Trace,
    PolicyVerdict,
    Dns,
    Http,
    Lost,
}

const NAMESPACES: &[&str] = &[
    "payments",
    "checkout",
    "web",
    "batch",
    "monitoring",
    "kube-system",
    "default",
];
const APPS: &[&str] = &["api", "worker", "frontend", "cron", "exporter", "gateway"];
const NODES: &[&str] = &[
    "aks-nodepool1-12345678-vmss000000",
    "aks-nodepool1-12345678-vmss000001",
    "aks-nodepool2-87654321-vmss000003",
];

fn uuid(rng: &mut Rng) -> String {
    let a = rng.next();
    let b = rng.next();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

fn pod_ip(rng: &mut Rng) -> String {
    format!("10.244.{}.{}", rng.below(8), 2 + rng.below(250))
}

fn world_ip(rng: &mut Rng, v6: bool) -> String {
    if v6 {
        return match rng.below(2) {
            0 => format!(
                "2001:db8:{:x}::{:x}",
                rng.below(65536),
                1 + rng.below(65535)
            ),
            _ => format!(
                "2a01:111:f400:{:x}::{:x}",
                rng.below(65536),
                1 + rng.below(65535)
            ),
        };
    }
    match rng.below(8) {
        0 => format!("203.0.113.{}", 1 + rng.below(254)),
        1 => format!("198.51.100.{}", 1 + rng.below(254)),
        2 => format!("192.0.2.{}", 1 + rng.below(254)),
        3 => "169.254.169.254".to_owned(),
        _ => format!(
            "{}.{}.{}.{}",
            11 + rng.below(180),
            rng.below(256),
            rng.below(256),
            1 + rng.below(254)
        ),
    }
}

fn flow_line(rng: &mut Rng, s: &mut String, ts_ns: u64, kind: Kind) {
    use std::fmt::Write as _;
    let ts = rfc3339(ts_ns);
    let node = format!("aks-prod/{}", rng.pick(NODES));
    if kind == Kind::Lost {
        let _ = write!(
            s,
            r#"{{"lost_events":{{"source":"PERF_EVENT_RING_BUFFER","num_events_lost":"{}","cpu":{}}},"node_name":"{}","time":"{}"}}"#,
            1 + rng.below(500),
            rng.below(4),
            node,
            ts
        );
        return;
    }
    let ns = rng.pick(NAMESPACES);
    let app = rng.pick(APPS);
    let pod = format!("{app}-{:x}-{:05x}", rng.below(1 << 32), rng.below(1 << 20));
    let v6 = rng.chance(0.1);
    let src_ip = if v6 {
        format!("fd00:10:244:{}::{:x}", rng.below(8), 2 + rng.below(250))
    } else {
        pod_ip(rng)
    };
    let egress_world = matches!(kind, Kind::EgressPolicyDeny) || rng.chance(0.3);
    let (dst_ip, dst_ep, dst_names) = if egress_world {
        let ip = world_ip(rng, v6);
        (
            ip,
            r#"{"identity":2,"labels":["reserved:world"]}"#.to_owned(),
            if rng.chance(0.5) {
                r#","destination_names":["api.example.com"]"#
            } else {
                ""
            },
        )
    } else {
        let dns = rng.pick(NAMESPACES);
        let dapp = rng.pick(APPS);
        (
            if v6 {
                format!("fd00:10:244:{}::{:x}", rng.below(8), 2 + rng.below(250))
            } else {
                pod_ip(rng)
            },
            format!(
                r#"{{"ID":{},"identity":{},"namespace":"{dns}","labels":["k8s:app={dapp}","k8s:io.kubernetes.pod.namespace={dns}"],"pod_name":"{dapp}-{:x}-{:05x}","workloads":[{{"name":"{dapp}","kind":"Deployment"}}]}}"#,
                100 + rng.below(3000),
                10000 + rng.below(60000),
                rng.below(1 << 32),
                rng.below(1 << 20)
            ),
            "",
        )
    };
    let sport = 32768 + rng.below(28000);
    let dport = *[443u64, 80, 53, 5432, 6379, 8080]
        .get(rng.below(6) as usize)
        .unwrap_or(&443);
    let (verdict, etype, sub, dir, extra) = match kind {
        Kind::EgressPolicyDeny => (
            "DROPPED",
            1,
            181,
            "EGRESS",
            r#","drop_reason":181,"drop_reason_desc":"POLICY_DENY","egress_denied_by":[{"name":"deny-geo-egress","labels":["k8s:io.cilium.k8s.policy.derived-from=CiliumClusterwideNetworkPolicy","k8s:io.cilium.k8s.policy.name=deny-geo-egress"],"revision":"42","kind":"CiliumClusterwideNetworkPolicy"}]"#,
        ),
        Kind::IngressPolicyDeny => (
            "DROPPED",
            1,
            181,
            "INGRESS",
            r#","drop_reason":181,"drop_reason_desc":"POLICY_DENY","ingress_denied_by":[{"name":"deny-ingress","revision":"7","kind":"CiliumNetworkPolicy","namespace":"payments"}]"#,
        ),
        Kind::OtherDrop => (
            "DROPPED",
            1,
            133,
            "EGRESS",
            r#","drop_reason":133,"drop_reason_desc":"POLICY_DENIED""#,
        ),
        Kind::PolicyVerdict => ("FORWARDED", 5, 0, "EGRESS", r#","policy_match_type":2"#),
        Kind::Trace | Kind::Dns | Kind::Http | Kind::Lost => (
            "FORWARDED",
            4,
            0,
            if rng.chance(0.5) { "EGRESS" } else { "INGRESS" },
            r#","trace_observation_point":"TO_STACK","trace_reason":"ESTABLISHED","is_reply":false"#,
        ),
    };
    let l4 = if kind == Kind::Dns {
        format!(r#"{{"UDP":{{"source_port":{sport},"destination_port":53}}}}"#)
    } else {
        format!(
            r#"{{"TCP":{{"source_port":{sport},"destination_port":{dport},"flags":{{"SYN":true}}}}}}"#
        )
    };
    let l7 = if kind == Kind::Dns {
        r#","l7":{"type":"REQUEST","dns":{"query":"api.example.com.","qtypes":["A"],"observation_source":"proxy"}},"Type":"L7""#
    } else {
        r#","Type":"L3_L4""#
    };
    let sub_field = if sub != 0 {
        format!(r#","sub_type":{sub}"#)
    } else {
        String::new()
    };
    let _ = write!(
        s,
        r#"{{"flow":{{"time":"{ts}","uuid":"{uuid}","verdict":"{verdict}","ethernet":{{"source":"62:6b:d0:a4:c5:63","destination":"6e:d0:ea:78:fc:0a"}},"IP":{{"source":"{src_ip}","destination":"{dst_ip}","ipVersion":"{ipv}"}},"l4":{l4},"source":{{"ID":{sid},"identity":{sident},"cluster_name":"aks-prod","namespace":"{ns}","labels":["k8s:app={app}","k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name={ns}","k8s:io.cilium.k8s.policy.cluster=aks-prod","k8s:io.kubernetes.pod.namespace={ns}"],"pod_name":"{pod}","workloads":[{{"name":"{app}","kind":"Deployment"}}]}},"destination":{dst_ep}{l7},"node_name":"{node}"{dst_names},"event_type":{{"type":{etype}{sub_field}}},"traffic_direction":"{dir}"{extra},"Summary":"TCP Flags: SYN"}},"node_name":"{node}","time":"{ts}"}}"#,
        uuid = uuid(rng),
        ipv = if v6 { "IPv6" } else { "IPv4" },
        sid = 100 + rng.below(3000),
        sident = 10000 + rng.below(60000),
    );
}

const TEAMS: &[&str] = &["platform", "payments", "growth", "data", "sre"];
const WORLD_NAMES: &[&str] = &[
    "api.stripe.com",
    "login.microsoftonline.com",
    "storage.googleapis.com",
    "github.com",
    "registry-1.docker.io",
    "pypi.org",
    "telemetry.example-vendor.io",
    "s3.eu-west-1.amazonaws.com",
];
const POLICIES: &[(&str, &str, &str)] = &[
    ("deny-geo-egress", "", "CiliumClusterwideNetworkPolicy"),
    ("default-deny-egress", "payments", "CiliumNetworkPolicy"),
    (
        "restrict-world-egress",
        "",
        "CiliumClusterwideNetworkPolicy",
    ),
    ("lockdown", "batch", "CiliumNetworkPolicy"),
];

/// A pod from a fixed pool of 600 (namespace, app, replica-set hash, pod suffix), as in a real cluster.
fn pool_pod(rng: &mut Rng) -> (usize, &'static str, &'static str, String) {
    let i = rng.below(600) as usize;
    let ns = NAMESPACES[i % NAMESPACES.len()];
    let app = REALISTIC_APPS[(i / NAMESPACES.len()) % REALISTIC_APPS.len()];
    let mut h = Rng(i as u64 * 7919 + 17);
    let pod = format!(
        "{app}-{:08x}{:02x}-{:05x}",
        h.next() as u32,
        h.below(256),
        h.below(1 << 20)
    );
    (i, ns, app, pod)
}

const REALISTIC_APPS: &[&str] = &[
    "api",
    "worker",
    "frontend",
    "cron",
    "exporter",
    "gateway",
    "ledger",
    "notifier",
    "search",
    "auth",
    "billing",
    "scheduler",
];

/// An endpoint object with 5–8 labels, a workload and (in-cluster) IDs, as Cilium writes it.
fn realistic_endpoint(rng: &mut Rng, s: &mut String, idx: usize, ns: &str, app: &str, pod: &str) {
    use std::fmt::Write as _;
    let team = TEAMS[idx % TEAMS.len()];
    let all = [
        format!("k8s:app={app}"),
        format!("k8s:version=v{}", 1 + idx % 3),
        format!("k8s:app.kubernetes.io/name={app}"),
        format!("k8s:io.kubernetes.pod.namespace={ns}"),
        "k8s:io.cilium.k8s.policy.cluster=aks-prod".to_owned(),
        format!("k8s:io.cilium.k8s.policy.serviceaccount={app}"),
        format!(
            "k8s:pod-template-hash={}",
            &pod[pod.len().saturating_sub(16)..pod.len() - 6]
        ),
        format!("k8s:io.cilium.k8s.namespace.labels.team={team}"),
        format!("k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name={ns}"),
        format!("k8s:app.kubernetes.io/part-of={team}"),
    ];
    let n = 5 + idx % 4;
    let _ = write!(
        s,
        r#"{{"ID":{},"identity":{},"cluster_name":"aks-prod","namespace":"{ns}","labels":["#,
        100 + idx * 7 % 3000,
        10000 + idx * 131 % 60000
    );
    for (i, l) in all.iter().take(n).enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push('"');
        s.push_str(l);
        s.push('"');
    }
    let _ = write!(
        s,
        r#"],"pod_name":"{pod}","workloads":[{{"name":"{app}","kind":"{}"}}]}}"#,
        if rng.chance(0.9) {
            "Deployment"
        } else {
            "StatefulSet"
        }
    );
}

/// A flow shaped like real exporter output (see the module docs).
fn realistic_flow_line(rng: &mut Rng, s: &mut String, ts_ns: u64, kind: Kind) {
    use std::fmt::Write as _;
    let ts = rfc3339(ts_ns);
    let node_i = rng.below(NODES.len() as u64) as usize;
    let node = NODES[node_i];
    if kind == Kind::Lost {
        let _ = write!(
            s,
            r#"{{"lost_events":{{"source":"PERF_EVENT_RING_BUFFER","num_events_lost":"{}","cpu":{}}},"node_name":"aks-prod/{node}","time":"{ts}"}}"#,
            1 + rng.below(500),
            rng.below(4),
        );
        return;
    }
    let (src_i, ns, app, pod) = pool_pod(rng);
    let v6 = rng.chance(0.1);
    let src_ip = if v6 {
        format!("fd00:10:244:{}::{:x}", src_i % 8, 2 + src_i % 250)
    } else {
        format!("10.244.{}.{}", src_i % 8, 2 + src_i % 250)
    };
    let icmp = matches!(kind, Kind::EgressPolicyDeny | Kind::Trace) && rng.chance(0.05);
    let world = match kind {
        Kind::EgressPolicyDeny => rng.chance(0.7),
        Kind::Dns => false,
        _ => rng.chance(0.3),
    };
    let mut dst_ep = String::with_capacity(700);
    let mut dst_names = String::new();
    let dst_ip;
    if world {
        dst_ip = world_ip(rng, v6);
        dst_ep.push_str(r#"{"identity":2,"labels":["reserved:world"]}"#);
        if rng.chance(0.4) {
            let _ = write!(
                dst_names,
                r#","destination_names":["{}"]"#,
                rng.pick(WORLD_NAMES)
            );
        }
    } else {
        let (di, dns, dapp, dpod) = if kind == Kind::Dns {
            (
                7usize,
                "kube-system",
                "coredns",
                "coredns-5d78c9869d-8xk2p".to_owned(),
            )
        } else {
            pool_pod(rng)
        };
        dst_ip = if v6 {
            format!("fd00:10:244:{}::{:x}", di % 8, 2 + di % 250)
        } else {
            format!("10.244.{}.{}", di % 8, 2 + di % 250)
        };
        realistic_endpoint(rng, &mut dst_ep, di, dns, dapp, &dpod);
    }
    let sport = 32768 + rng.below(28000);
    let dport = *[443u64, 443, 443, 80, 5432, 6379, 8080, 9092]
        .get(rng.below(8) as usize)
        .unwrap_or(&443);
    let l4 = if icmp {
        if v6 {
            r#"{"ICMPv6":{"type":128}}"#.to_owned()
        } else {
            r#"{"ICMPv4":{"type":8}}"#.to_owned()
        }
    } else if kind == Kind::Dns || (kind == Kind::EgressPolicyDeny && rng.chance(0.1)) {
        format!(r#"{{"UDP":{{"source_port":{sport},"destination_port":53}}}}"#)
    } else {
        format!(
            r#"{{"TCP":{{"source_port":{sport},"destination_port":{dport},"flags":{{"SYN":true}}}}}}"#
        )
    };
    let (verdict, etype, sub, dir, mut extra) = match kind {
        Kind::EgressPolicyDeny => {
            let (name, pns, pkind) = POLICIES[rng.below(POLICIES.len() as u64) as usize];
            let ns_field = if pns.is_empty() {
                String::new()
            } else {
                format!(r#""namespace":"{pns}","#)
            };
            (
                "DROPPED",
                1,
                181,
                "EGRESS",
                format!(
                    r#","drop_reason":181,"file":{{"name":"bpf_lxc.c","line":{}}},"policy_match_type":0,"drop_reason_desc":"POLICY_DENY","egress_denied_by":[{{"name":"{name}",{ns_field}"labels":["k8s:io.cilium.k8s.policy.name={name}"],"revision":"{}","kind":"{pkind}"}}]"#,
                    1500 + rng.below(200),
                    10 + rng.below(90)
                ),
            )
        }
        Kind::IngressPolicyDeny => (
            "DROPPED",
            1,
            181,
            "INGRESS",
            r#","drop_reason":181,"file":{"name":"bpf_lxc.c","line":2092},"drop_reason_desc":"POLICY_DENY","ingress_denied_by":[{"name":"deny-ingress","namespace":"payments","labels":["k8s:io.cilium.k8s.policy.name=deny-ingress"],"revision":"7","kind":"CiliumNetworkPolicy"}]"#.to_owned(),
        ),
        Kind::OtherDrop => (
            "DROPPED",
            1,
            133,
            "EGRESS",
            r#","drop_reason":133,"file":{"name":"bpf_lxc.c","line":1012},"drop_reason_desc":"POLICY_DENIED""#.to_owned(),
        ),
        Kind::PolicyVerdict => (
            "FORWARDED",
            5,
            0,
            "EGRESS",
            r#","policy_match_type":2"#.to_owned(),
        ),
        Kind::Trace | Kind::Dns | Kind::Http | Kind::Lost => (
            "FORWARDED",
            4,
            0,
            if rng.chance(0.5) { "EGRESS" } else { "INGRESS" },
            r#","trace_observation_point":"TO_STACK","trace_reason":"ESTABLISHED","is_reply":false"#.to_owned(),
        ),
    };
    let (etype, l7, summary) = match kind {
        Kind::Dns => (
            129,
            format!(
                r#","Type":"L7","l7":{{"type":"REQUEST","latency_ns":"0","dns":{{"query":"{}.{}.svc.cluster.local.","qtypes":["A"],"observation_source":"proxy"}}}}"#,
                rng.pick(REALISTIC_APPS),
                rng.pick(NAMESPACES)
            ),
            "DNS Query A".to_owned(),
        ),
        Kind::Http => (
            129,
            format!(
                r#","Type":"L7","l7":{{"type":"RESPONSE","latency_ns":"{}","http":{{"code":200,"method":"GET","url":"http://{dst_ip}:8080/api/v1/items?page={}","protocol":"HTTP/1.1","headers":[{{"key":"Accept","value":"application/json"}},{{"key":"User-Agent","value":"Go-http-client/1.1"}},{{"key":"X-Request-Id","value":"{}"}}]}}}}"#,
                100_000 + rng.below(9_000_000),
                rng.below(50),
                uuid(rng)
            ),
            "HTTP/1.1 200 GET".to_owned(),
        ),
        _ => (
            etype,
            r#","Type":"L3_L4""#.to_owned(),
            if icmp {
                if v6 {
                    "ICMPv6 EchoRequest"
                } else {
                    "ICMPv4 EchoRequest"
                }
                .to_owned()
            } else {
                "TCP Flags: SYN".to_owned()
            },
        ),
    };
    if sub == 0 && kind != Kind::PolicyVerdict {
        extra.push_str(r#","interface":{"index":12,"name":"lxc8f1e2d3c4b5a"}"#);
    }
    let sub_field = if sub != 0 {
        format!(r#","sub_type":{sub}"#)
    } else {
        String::new()
    };
    let mut src_ep = String::with_capacity(700);
    realistic_endpoint(rng, &mut src_ep, src_i, ns, app, &pod);
    let pool = if node_i == 2 {
        "nodepool2"
    } else {
        "nodepool1"
    };
    let _ = write!(
        s,
        r#"{{"flow":{{"time":"{ts}","uuid":"{uuid}","verdict":"{verdict}","ethernet":{{"source":"62:6b:d0:a4:c5:{m1:02x}","destination":"6e:d0:ea:78:fc:{m2:02x}"}},"IP":{{"source":"{src_ip}","destination":"{dst_ip}","ipVersion":"{ipv}"}},"l4":{l4},"source":{src_ep},"destination":{dst_ep}{l7},"node_name":"aks-prod/{node}","node_labels":["agentpool={pool}","kubernetes.io/os=linux","topology.kubernetes.io/zone=westeurope-{zone}"]{dst_names},"event_type":{{"type":{etype}{sub_field}}},"traffic_direction":"{dir}"{extra},"Summary":"{summary}"}},"node_name":"aks-prod/{node}","time":"{ts}"}}"#,
        uuid = uuid(rng),
        m1 = rng.below(256),
        m2 = rng.below(256),
        ipv = if v6 { "IPv6" } else { "IPv4" },
        zone = 1 + node_i % 3,
    );
}

fn agent_line(rng: &mut Rng, s: &mut String, ts_ns: u64) {
    use std::fmt::Write as _;
    let ts = rfc3339(ts_ns);
    match rng.below(10) {
        0..=5 => {
            let _ = write!(
                s,
                r#"time="{ts}" level=info msg="Policy imported via API, recalculating..." policyAddRequest={} policyRevision={} subsys=daemon"#,
                uuid(rng),
                rng.below(1000)
            );
        }
        6..=7 => {
            let _ = write!(
                s,
                r#"time={ts} level=debug source=/go/src/github.com/cilium/cilium/pkg/endpoint/bpf.go:1234 msg="Regenerated endpoint BPF program" module=agent.controlplane.endpoint-manager endpointID={} identity={}"#,
                rng.below(4000),
                rng.below(65000)
            );
        }
        8 => {
            let _ = write!(
                s,
                r#"{{"time":"{ts}","level":"info","msg":"Compiled new BPF template","subsys":"datapath-loader","BPFCompilationTime":"{}ms"}}"#,
                rng.below(3000)
            );
        }
        _ => {
            let _ = write!(
                s,
                r#"time="{ts}" level=warning msg="Unable to update ipcache map entry on pod add" error="no such file" hostIP=10.224.0.{} subsys=k8s-watcher"#,
                rng.below(250)
            );
        }
    }
}

fn cidr_groups(args: &[String]) -> Result<(), String> {
    let prefixes: u64 = flag(args, "--prefixes").map_or(Ok(200_000), |s| {
        s.parse().map_err(|_| "bad --prefixes".to_owned())
    })?;
    let groups: u64 = flag(args, "--groups")
        .map_or(Ok(50), |s| s.parse().map_err(|_| "bad --groups".to_owned()))?;
    let seed: u64 =
        flag(args, "--seed").map_or(Ok(7), |s| s.parse().map_err(|_| "bad --seed".to_owned()))?;
    let mut rng = Rng(seed);
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let per_group = prefixes.div_ceil(groups.max(1));
    let mut emitted = 0u64;
    for g in 0..groups.max(1) {
        let name = format!("geo-{:02}", g);
        writeln!(out, "---\napiVersion: cilium.io/v2\nkind: CiliumCIDRGroup\nmetadata:\n  name: {name}\n  labels:\n    geo: \"{g:02}\"\n    list: generated\nspec:\n  externalCIDRs:").map_err(|e| e.to_string())?;
        if g == 0 {
            for fixed in [
                "203.0.113.0/24",
                "198.51.100.0/24",
                "192.0.2.0/24",
                "2001:db8::/32",
            ] {
                writeln!(out, "  - \"{fixed}\"").map_err(|e| e.to_string())?;
                emitted += 1;
            }
        }
        let mut i = 0;
        while i < per_group && emitted < prefixes {
            let line = if rng.chance(0.15) {
                format!(
                    "  - \"2a01:{:x}:{:x}::/{}\"",
                    rng.below(65536),
                    rng.below(65536),
                    32 + rng.below(17)
                )
            } else {
                let len = [24u64, 24, 24, 23, 22, 20, 16, 28, 32][rng.below(9) as usize];
                let addr = (rng.next() as u32) & (u32::MAX << (32 - len));
                format!(
                    "  - \"{}.{}.{}.{}/{len}\"",
                    addr >> 24,
                    (addr >> 16) & 255,
                    (addr >> 8) & 255,
                    addr & 255
                )
            };
            writeln!(out, "{line}").map_err(|e| e.to_string())?;
            i += 1;
            emitted += 1;
        }
    }
    out.flush().map_err(|e| e.to_string())
}
