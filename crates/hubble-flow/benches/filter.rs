//! Prefilter throughput and decode+filter cost per record on realistic exporter output.
//!
//! The corpus imitates cilium-agent stdout with the exporter writing to it: 80% flow records (forwarded traces,
//! policy verdicts, default-deny drops), 2% of all lines policy-deny EGRESS drops (kept by the default filter),
//! the rest agent log lines. Run: `cargo bench -p hubble-flow --bench filter`. The `go_regex` group compares
//! patterns compiled by `goregex` (Go syntax) with the Rust patterns the former Go→Rust translation produced.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use hubble_flow::filter::FilterSet;
use hubble_flow::prefilter::Prefilter;
use hubble_flow::record::decode;
use std::hint::black_box;

fn forwarded(i: usize) -> String {
    format!(
        r#"{{"flow":{{"time":"2026-07-31T10:41:{:02}.{:09}Z","uuid":"5b1c{:04x}-8dd3-486b-beca-3d17d9d5{:04x}","verdict":"FORWARDED","ethernet":{{"source":"46:e5:ea:1f:95:ff","destination":"d6:ec:b0:4a:ff:46"}},"IP":{{"source":"10.0.{}.{}","destination":"10.0.2.1","ipVersion":"IPv4"}},"l4":{{"TCP":{{"source_port":{},"destination_port":8080,"flags":{{"ACK":true,"PSH":true}}}}}},"source":{{"ID":1231,"identity":25339,"cluster_name":"topgun","namespace":"bookinfo","labels":["k8s:app=reviews","k8s:io.cilium.k8s.policy.cluster=topgun","k8s:io.cilium.k8s.policy.serviceaccount=bookinfo-reviews","k8s:io.kubernetes.pod.namespace=bookinfo","k8s:version=v1"],"pod_name":"reviews-v1-545db77b95-s6jb8","workloads":[{{"name":"reviews-v1","kind":"Deployment"}}]}},"destination":{{"ID":88,"identity":31337,"cluster_name":"topgun","namespace":"bookinfo","labels":["k8s:app=ratings","k8s:io.kubernetes.pod.namespace=bookinfo"],"pod_name":"ratings-v1-6c9dbf6b45-9rq2x"}},"Type":"L3_L4","node_name":"topgun/cilium-w{}","event_type":{{"type":4,"sub_type":{}}},"traffic_direction":"EGRESS","trace_observation_point":"TO_STACK","is_reply":false,"Summary":"TCP Flags: ACK, PSH"}},"node_name":"topgun/cilium-w{}","time":"2026-07-31T10:41:{:02}.{:09}Z"}}"#,
        i % 60,
        i * 7919 % 1_000_000_000,
        i % 65536,
        (i * 31) % 65536,
        i % 4,
        i % 250,
        30000 + i % 30000,
        i % 3,
        i % 4,
        i % 3,
        i % 60,
        i * 7919 % 1_000_000_000
    )
}

fn drop_line(i: usize, reason: u32, desc: &str, dir: &str) -> String {
    format!(
        r#"{{"flow":{{"time":"2026-07-31T10:41:02.{:09}Z","uuid":"cd75b2ac-8dd3-486b-beca-3d17d9d5{:04x}","verdict":"DROPPED","drop_reason":{reason},"ethernet":{{"source":"62:6b:d0:a4:c5:63","destination":"6e:d0:ea:78:fc:0a"}},"IP":{{"source":"10.0.1.235","destination":"10.0.0.{}","ipVersion":"IPv4"}},"l4":{{"TCP":{{"source_port":{},"destination_port":80,"flags":{{"SYN":true}}}}}},"source":{{"ID":423,"identity":24753,"cluster_name":"topgun","namespace":"net-lab","labels":["k8s:app=traffic-generator"],"pod_name":"traffic-generator-9b649846d-bxqfc","workloads":[{{"name":"traffic-generator","kind":"Deployment"}}]}},"destination":{{"identity":16777218,"labels":["cidrgroup:io.cilium.policy.cidrgroupname/egress-traffic-blocking","reserved:world"]}},"Type":"L3_L4","node_name":"topgun/cilium-w1","event_type":{{"type":1,"sub_type":{reason}}},"traffic_direction":"{dir}","drop_reason_desc":"{desc}","Summary":"TCP Flags: SYN"}},"node_name":"topgun/cilium-w1","time":"2026-07-31T10:41:02.{:09}Z"}}"#,
        i,
        i % 65536,
        i % 250,
        40000 + i % 20000,
        i
    )
}

fn agent_log(i: usize) -> String {
    format!(
        r#"time="2026-07-31T10:41:02.{:09}Z" level=info msg="Policy imported via API, recalculating..." policyAddRequest=1f2e{} policyRevision={} subsys=daemon"#,
        i,
        i,
        i % 1000
    )
}

/// Lines in the proportions of the replay benchmark: 80% flows, 2% kept (policy-deny egress).
fn corpus(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| match i % 100 {
            0 | 50 => drop_line(i, 181, "POLICY_DENY", "EGRESS"),
            1..=10 => drop_line(
                i,
                133,
                "POLICY_DENIED",
                if i % 2 == 0 { "EGRESS" } else { "INGRESS" },
            ),
            11..=30 => agent_log(i),
            _ => forwarded(i),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let lines = corpus(10_000);
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let set = FilterSet::build(vec![FilterSet::default_policy_deny_egress()], vec![])
        .expect("default filter");
    let pf = Prefilter::new(&set);
    let passed = lines.iter().filter(|l| pf.may_keep(l.as_bytes())).count();
    let kept = lines
        .iter()
        .filter(|l| decode(l.as_bytes()).is_ok_and(|r| set.keep(&r)))
        .count();
    eprintln!(
        "corpus: {} lines, {} bytes, prefilter passes {}, kept {}",
        lines.len(),
        bytes,
        passed,
        kept
    );

    let mut g = c.benchmark_group("prefilter");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("default_filter_mixed_corpus", |b| {
        b.iter(|| {
            lines
                .iter()
                .filter(|l| pf.may_keep(black_box(l.as_bytes())))
                .count()
        })
    });
    g.finish();

    let flows: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("{\"flow\""))
        .collect();
    let mut g = c.benchmark_group("decode_filter");
    g.throughput(Throughput::Elements(flows.len() as u64));
    g.bench_function("decode_and_keep_per_flow", |b| {
        b.iter(|| {
            flows
                .iter()
                .filter(|l| decode(black_box(l.as_bytes())).is_ok_and(|r| set.keep(&r)))
                .count()
        })
    });
    let decoded: Vec<_> = flows
        .iter()
        .filter_map(|l| decode(l.as_bytes()).ok())
        .collect();
    g.bench_function("keep_only_default_filter", |b| {
        b.iter(|| decoded.iter().filter(|r| set.keep(black_box(r))).count())
    });
    let verbose = FilterSet::build(
        hubble_flow::filter::parse_filter_list(
            r#"{"source_label":["k8s:app=traffic-generator"],"destination_fqdn":["*.example.com"]}
               {"source_pod":["net-lab/"],"verdict":["DROPPED"],"node_name":["topgun/*"]}"#,
        )
        .expect("filters"),
        vec![],
    )
    .expect("build");
    g.bench_function("decode_and_keep_labels_pods_nodes", |b| {
        b.iter_batched(
            || (),
            |_| {
                flows
                    .iter()
                    .filter(|l| decode(black_box(l.as_bytes())).is_ok_and(|r| verbose.keep(&r)))
                    .count()
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// Inputs for the regex benches: HTTP paths, URLs and DNS names, matching and not.
fn regex_inputs() -> Vec<String> {
    let mut v = Vec::new();
    for i in 0..16 {
        v.push(format!("/api/v{}/users/{}", i % 3 + 1, 1000 + i * 37));
        v.push(format!("/static/app.{i:04x}.js?cache=payments-{i}"));
        v.push(format!("http://reviews.default.svc:9080/page/{}", i * 11));
        v.push(format!("store{i}.blob.core.windows.net"));
        v.push(format!("login-{i}.example.com.evil.xyz."));
        v.push(format!("kube-dns.kube-system.svc.cluster.local.{i}"));
    }
    v
}

/// Go patterns (compiled by `goregex`) against the Rust patterns the former translation produced for them.
fn bench_go_regex(c: &mut Criterion) {
    let inputs = regex_inputs();
    let bytes: usize = inputs.iter().map(String::len).sum();
    let cases: &[(&str, &str, &str)] = &[
        (
            "path_digits",
            r"^/api/v\d+/users/\d+$",
            r"^/api/v[0-9]+/users/[0-9]+$",
        ),
        (
            "url_unanchored",
            r"http://.*cilium\.io/page/\d+",
            r"http://.*cilium\.io/page/[0-9]+",
        ),
        (
            "dns_suffix_alternation",
            r"\.(ru|cn|xyz)\.?$",
            r"\.(ru|cn|xyz)\.?$",
        ),
        (
            "dns_anchored_class",
            r"^[a-z0-9-]+\.blob\.core\.windows\.net$",
            r"^[a-z0-9-]+\.blob\.core\.windows\.net$",
        ),
        ("word_boundary", r"\bpayments\b", r"\bpayments\b"),
        (
            "fqdn_pattern",
            r"\A(?:[-.0-9a-z]*\.example\.com|[-.0-9a-z]*\.svc\.cluster\.local)\z",
            r"\A(?:[-.0-9a-z]*\.example\.com|[-.0-9a-z]*\.svc\.cluster\.local)\z",
        ),
    ];
    let mut g = c.benchmark_group("go_regex");
    g.throughput(Throughput::Bytes(bytes as u64));
    for &(name, go, translated) in cases {
        let go_re = hubble_flow::filter::goregex::compile(go).expect("bench pattern compiles");
        let rust_re = regex::Regex::new(translated).expect("bench pattern compiles");
        for s in &inputs {
            if name != "word_boundary" {
                assert_eq!(go_re.is_match(s), rust_re.is_match(s), "{name} {s}");
            }
        }
        g.bench_function(format!("{name}/go"), |b| {
            b.iter(|| {
                inputs
                    .iter()
                    .filter(|s| go_re.is_match(black_box(s)))
                    .count()
            })
        });
        g.bench_function(format!("{name}/translated"), |b| {
            b.iter(|| {
                inputs
                    .iter()
                    .filter(|s| rust_re.is_match(black_box(s)))
                    .count()
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = regex_benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(2)).warm_up_time(std::time::Duration::from_secs(1));
    targets = bench_go_regex
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches, regex_benches);
