//! Per kept flow, the process stage (prefilter, decode, filter, enrich, encode, summary) allocates nothing beyond
//! what decoding the flow's lists needs: enrich parses each address once into an `IpAddr`, the encoder appends to
//! the batch's reused buffer, and the summary keys by parsed address or into a reused key buffer. Checked with a
//! counting global allocator (this test binary only) over a batch of realistic kept flows with a distinct
//! destination address each (the worst case for the summary maps), with and without a CIDR-group table.

use hubble_flow::filter::FilterSet;
use hubble_ingest::frame::{Format, Framer, LineBatch};
use hubble_ingest::process::{OutputMode, Processor};
use hubble_ingest::record::encode::EncodeOptions;
use hubble_ingest::stats::BatchStats;
use std::sync::Arc;
#[path = "../crates/hubble-flow/tests/support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations_of;

const FLOWS: usize = 2000;

/// A realistic egress policy-deny record (the `gen-flows --shape realistic` shape) to destination `dst`.
fn line(dst: &str, i: usize) -> String {
    format!(
        r#"{{"flow":{{"time":"2025-11-25T12:00:00.000000000Z","uuid":"35ceedaa-ce12-46d5-8c56-{i:012}","verdict":"DROPPED","ethernet":{{"source":"62:6b:d0:a4:c5:1d","destination":"6e:d0:ea:78:fc:b1"}},"IP":{{"source":"10.244.7.103","destination":"{dst}","ipVersion":"IPv4"}},"l4":{{"TCP":{{"source_port":58465,"destination_port":8080,"flags":{{"SYN":true}}}}}},"source":{{"ID":2557,"identity":55981,"cluster_name":"aks-prod","namespace":"checkout","labels":["k8s:app=frontend","k8s:version=v1","k8s:app.kubernetes.io/name=frontend","k8s:io.kubernetes.pod.namespace=checkout","k8s:io.cilium.k8s.policy.cluster=aks-prod","k8s:io.cilium.k8s.policy.serviceaccount=frontend","k8s:pod-template-hash=4e18bf0af4","k8s:io.cilium.k8s.namespace.labels.team=payments"],"pod_name":"frontend-4e18bf0af4-22d3d","workloads":[{{"name":"frontend","kind":"Deployment"}}]}},"destination":{{"identity":2,"labels":["reserved:world"]}},"Type":"L3_L4","node_name":"aks-prod/aks-nodepool2-87654321-vmss000003","node_labels":["agentpool=nodepool2","kubernetes.io/os=linux","topology.kubernetes.io/zone=westeurope-3"],"destination_names":["api.example.com."],"event_type":{{"type":1,"sub_type":181}},"traffic_direction":"EGRESS","drop_reason":181,"file":{{"name":"bpf_lxc.c","line":1614}},"policy_match_type":0,"drop_reason_desc":"POLICY_DENY","egress_denied_by":[{{"name":"default-deny-egress","namespace":"payments","labels":["k8s:io.cilium.k8s.policy.name=default-deny-egress"],"revision":"70","kind":"CiliumNetworkPolicy"}}],"Summary":"TCP Flags: SYN"}},"node_name":"aks-prod/aks-nodepool2-87654321-vmss000003","time":"2025-11-25T12:00:00.000000000Z"}}"#
    )
}

fn batch() -> (LineBatch, Vec<String>) {
    let lines: Vec<String> = (0..FLOWS)
        .map(|i| line(&format!("203.0.{}.{}", (i / 250) % 256, i % 250), i))
        .collect();
    let mut b = LineBatch::new(1 << 20);
    for l in &lines {
        b.buf.extend_from_slice(l.as_bytes());
        b.buf.push(b'\n');
    }
    let len = b.buf.len();
    Framer::new(Format::Raw).frame_block(&mut b, len);
    (b, lines)
}

fn table() -> Arc<hubble_cidr::PrefixTable> {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("groups.yaml");
    std::fs::write(
        &p,
        "apiVersion: cilium.io/v2\nkind: CiliumCIDRGroup\nmetadata:\n  name: doc-net\n  labels:\n    geo: xx\nspec:\n  externalCIDRs:\n  - 203.0.0.0/16\n",
    )
    .expect("write groups");
    hubble_cidr::load_sources(&[hubble_cidr::Source::Path(p)])
        .expect("load groups")
        .table
}

fn check(tagger: Option<Arc<hubble_cidr::PrefixTable>>) {
    let filter = Arc::new(
        FilterSet::build(vec![FilterSet::default_policy_deny_egress()], vec![]).expect("filter"),
    );
    let p = Processor::new(
        filter,
        tagger,
        OutputMode::Records(EncodeOptions::default()),
    );
    let (batch, lines) = batch();
    // Decoding alone allocates nothing: the lists (source and destination labels, node labels, destination
    // names, source workloads) are kept as the line's text, and so is the nested `egress_denied_by`.
    let decode_only = allocations_of(|| {
        for l in &lines {
            assert!(hubble_flow::decode(l.as_bytes()).is_ok());
        }
    });
    // A first batch sizes the reused output buffer, as the pipeline's buffers are after their first use.
    let mut out = Vec::new();
    p.process(&batch, &mut out, &mut BatchStats::default());
    out.clear();
    let mut stats = BatchStats::default();
    let process = allocations_of(|| p.process(&batch, &mut out, &mut stats));
    assert_eq!(stats.kept_flows, FLOWS as u64);
    assert_eq!(
        stats.output_records,
        out.iter().filter(|&&b| b == b'\n').count() as u64
    );
    assert_eq!(stats.by_destination_ip.len(), FLOWS);
    let extra = process.saturating_sub(decode_only);
    eprintln!(
        "{FLOWS} kept flows: decode {decode_only} allocations, whole process stage {process} (+{extra})"
    );
    // Per batch, not per flow: the summary maps' growth (a doubling table per map) and their first keys.
    assert!(
        extra <= 40,
        "{extra} allocations beyond decoding for {FLOWS} flows"
    );
    assert_eq!(decode_only, 0, "{decode_only}");
}

#[test]
fn kept_flows_allocate_nothing_beyond_their_decoded_lists() {
    check(None);
}

#[test]
fn enriched_kept_flows_allocate_nothing_beyond_their_decoded_lists() {
    check(Some(table()));
}
