//! Per-record cost of the processing stage (prefilter → decode → filter → enrich → encode → summary): the
//! fixture mix where 2% of lines are kept, the fixture's kept flows (compact, ~1 KB), and realistic kept flows
//! (the `gen-flows --shape realistic` record shape, ~1.5 KB, a distinct destination address per flow).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hubble_flow::filter::FilterSet;
use hubble_ingest::frame::{Format, Framer, LineBatch};
use hubble_ingest::process::{OutputMode, Processor};
use hubble_ingest::record::encode::EncodeOptions;
use hubble_ingest::stats::BatchStats;
use std::sync::Arc;

fn batch_of(lines: &[&str], n: usize) -> LineBatch {
    let mut b = LineBatch::new(1 << 20);
    for l in lines.iter().cycle().take(n) {
        b.buf.extend_from_slice(l.as_bytes());
        b.buf.push(b'\n');
    }
    let len = b.buf.len();
    Framer::new(Format::Raw).frame_block(&mut b, len);
    b
}

/// A realistic egress policy-deny record (labels, workloads, node labels, ethernet, `file`, policy labels,
/// destination names), to a distinct world address per `i`.
fn realistic(i: usize) -> String {
    format!(
        r#"{{"flow":{{"time":"2025-11-25T12:00:00.000000000Z","uuid":"35ceedaa-ce12-46d5-8c56-{i:012}","verdict":"DROPPED","ethernet":{{"source":"62:6b:d0:a4:c5:1d","destination":"6e:d0:ea:78:fc:b1"}},"IP":{{"source":"10.244.7.103","destination":"203.0.{}.{}","ipVersion":"IPv4"}},"l4":{{"TCP":{{"source_port":58465,"destination_port":8080,"flags":{{"SYN":true}}}}}},"source":{{"ID":2557,"identity":55981,"cluster_name":"aks-prod","namespace":"checkout","labels":["k8s:app=frontend","k8s:version=v1","k8s:app.kubernetes.io/name=frontend","k8s:io.kubernetes.pod.namespace=checkout","k8s:io.cilium.k8s.policy.cluster=aks-prod","k8s:io.cilium.k8s.policy.serviceaccount=frontend","k8s:pod-template-hash=4e18bf0af4","k8s:io.cilium.k8s.namespace.labels.team=payments"],"pod_name":"frontend-4e18bf0af4-22d3d","workloads":[{{"name":"frontend","kind":"Deployment"}}]}},"destination":{{"identity":2,"labels":["reserved:world"]}},"Type":"L3_L4","node_name":"aks-prod/aks-nodepool2-87654321-vmss000003","node_labels":["agentpool=nodepool2","kubernetes.io/os=linux","topology.kubernetes.io/zone=westeurope-3"],"destination_names":["api.example.com."],"event_type":{{"type":1,"sub_type":181}},"traffic_direction":"EGRESS","drop_reason":181,"file":{{"name":"bpf_lxc.c","line":1614}},"policy_match_type":0,"drop_reason_desc":"POLICY_DENY","egress_denied_by":[{{"name":"default-deny-egress","namespace":"payments","labels":["k8s:io.cilium.k8s.policy.name=default-deny-egress"],"revision":"70","kind":"CiliumNetworkPolicy"}}],"Summary":"TCP Flags: SYN"}},"node_name":"aks-prod/aks-nodepool2-87654321-vmss000003","time":"2025-11-25T12:00:00.000000000Z"}}"#,
        (i / 250) % 256,
        i % 250
    )
}

fn bench(c: &mut Criterion) {
    let fixture = include_str!("../fixtures/agent-stdout.log");
    let all: Vec<&str> = fixture.lines().collect();
    let kept: Vec<&str> = all
        .iter()
        .copied()
        .filter(|l| l.contains("\"sub_type\":181") && l.contains("\"EGRESS\""))
        .collect();
    let filter = Arc::new(
        FilterSet::build(vec![FilterSet::default_policy_deny_egress()], vec![])
            .expect("default filter"),
    );
    let p = Processor::new(filter, None, OutputMode::Records(EncodeOptions::default()));
    let realistic_lines: Vec<String> = (0..2000).map(realistic).collect();
    let realistic_kept: Vec<&str> = realistic_lines.iter().map(String::as_str).collect();
    let mut g = c.benchmark_group("process");
    for (name, lines) in [
        ("fixture_mix", &all),
        ("all_kept", &kept),
        ("realistic_all_kept", &realistic_kept),
    ] {
        let batch = batch_of(lines, 2000);
        g.throughput(Throughput::Bytes(batch.buf.len() as u64));
        let mut out = Vec::with_capacity(4 << 20);
        g.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                let mut stats = BatchStats::default();
                p.process(&batch, &mut out, &mut stats);
                stats.kept_flows
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
