//! Decoding a flow whose strings the JSON does not escape allocates no string: every string (optional ones and
//! list elements included) is borrowed from the line, and the only allocations are one `Vec` per non-empty list
//! (labels, workloads, names, headers). Checked with a counting global allocator (this test binary only) on the
//! fixture's flows and on realistic exporter records.
//!
//! Since the hand-written scanner (`hubble_flow::scan`) decodes the exporter layout, that holds for nested
//! skipped and raw values too (`egress_denied_by: [{.., "labels": [..]}]`): serde_json grew a nesting stack for
//! them, one allocation per such flow; the scanner allocates nothing for them. A line the scanner leaves to serde
//! (an escape) costs what serde costs.

use hubble_flow::flow::StrList;
use hubble_flow::record::{decode, decode_str_without_scanner, Record};
#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations_of;

/// A realistic exporter record (the shape of `gen-flows --shape realistic`): 8 source labels, workloads, node
/// labels, ethernet, `file`, policy labels, destination names, and the envelope.
const REALISTIC: &str = r#"{"flow":{"time":"2025-11-25T12:00:00.000000000Z","uuid":"35ceedaa-ce12-46d5-8c56-cd8a4cfc66c1","verdict":"DROPPED","ethernet":{"source":"62:6b:d0:a4:c5:1d","destination":"6e:d0:ea:78:fc:b1"},"IP":{"source":"10.244.7.103","destination":"166.255.108.10","ipVersion":"IPv4"},"l4":{"TCP":{"source_port":58465,"destination_port":8080,"flags":{"SYN":true}}},"source":{"ID":2557,"identity":55981,"cluster_name":"aks-prod","namespace":"checkout","labels":["k8s:app=frontend","k8s:version=v1","k8s:app.kubernetes.io/name=frontend","k8s:io.kubernetes.pod.namespace=checkout","k8s:io.cilium.k8s.policy.cluster=aks-prod","k8s:io.cilium.k8s.policy.serviceaccount=frontend","k8s:pod-template-hash=4e18bf0af4","k8s:io.cilium.k8s.namespace.labels.team=payments"],"pod_name":"frontend-4e18bf0af4-22d3d","workloads":[{"name":"frontend","kind":"Deployment"}]},"destination":{"identity":2,"labels":["reserved:world"]},"Type":"L3_L4","node_name":"aks-prod/aks-nodepool2-87654321-vmss000003","node_labels":["agentpool=nodepool2","kubernetes.io/os=linux","topology.kubernetes.io/zone=westeurope-3"],"destination_names":["api.example.com."],"event_type":{"type":1,"sub_type":181},"traffic_direction":"EGRESS","drop_reason":181,"file":{"name":"bpf_lxc.c","line":1614},"policy_match_type":0,"drop_reason_desc":"POLICY_DENY","egress_denied_by":[{"name":"default-deny-egress","namespace":"payments","labels":["k8s:io.cilium.k8s.policy.name=default-deny-egress"],"revision":"70","kind":"CiliumNetworkPolicy"}],"Summary":"TCP Flags: SYN"},"node_name":"aks-prod/aks-nodepool2-87654321-vmss000003","time":"2025-11-25T12:00:00.000000000Z"}"#;

const L7: &[&str] = &[
    r#"{"flow":{"time":"2025-11-25T12:00:01Z","verdict":"FORWARDED","IP":{"source":"fd00::1","destination":"fd00::2","ipVersion":"IPv6"},"l4":{"UDP":{"source_port":5353,"destination_port":53}},"l7":{"type":"REQUEST","dns":{"query":"api.example.com.","qtypes":["A"]}},"source":{"namespace":"a","pod_name":"p","labels":["k8s:app=a"]},"destination_names":["api.example.com."]},"node_name":"n1"}"#,
    r#"{"flow":{"verdict":"FORWARDED","l4":{"ICMPv4":{"type":8}},"l7":{"type":"RESPONSE","http":{"code":200,"method":"GET","url":"http://api/v1","protocol":"HTTP/1.1","headers":[{"key":"Host","value":"api"},{"key":"X-Id","value":"7"}]}}},"node_name":"n1","time":"2025-11-25T12:00:01Z"}"#,
];

#[test]
fn decoding_unescaped_flows_allocates_only_its_lists() {
    // Warm up anything lazily initialised.
    assert!(matches!(
        decode(REALISTIC.as_bytes()),
        Ok(Record::Flow { .. })
    ));
    let without_policy = REALISTIC.replace(
        r#""egress_denied_by":[{"name":"default-deny-egress","namespace":"payments","labels":["k8s:io.cilium.k8s.policy.name=default-deny-egress"],"revision":"70","kind":"CiliumNetworkPolicy"}],"#,
        "",
    );
    assert_ne!(without_policy, REALISTIC);
    let mut lines: Vec<&str> = vec![&without_policy];
    lines.extend_from_slice(L7);
    let fixture = include_str!("../../../fixtures/agent-stdout.log");
    let flows: Vec<&str> = fixture
        .lines()
        .filter(|l| l.starts_with("{\"flow\"") && !l.contains('\\') && !l.contains("denied_by"))
        .collect();
    assert!(flows.len() > 30, "{} fixture flows", flows.len());
    lines.extend(flows);
    for line in lines {
        let mut lists = None;
        let n = allocations_of(|| {
            if let Ok(Record::Flow { flow, .. }) = decode(line.as_bytes()) {
                lists = Some(list_allocations(&flow));
            }
        });
        let lists = lists.unwrap_or_else(|| panic!("not a flow: {line}"));
        assert_eq!(n, lists, "{n} allocations decoding {line}");
    }
}

/// Allocations a list of `len` elements costs: the decoder reserves `reserved` (8 for strings, 1 for
/// structs) when the list has elements, then a `Vec` doubles.
fn vec_allocations(len: usize, reserved: usize) -> u64 {
    if len == 0 {
        return 0;
    }
    let (mut n, mut cap) = (1, reserved);
    while cap < len {
        cap = (cap * 2).max(4);
        n += 1;
    }
    n
}

/// Allocations a list of strings costs: none when it is kept as the line's text.
fn str_list_allocations(l: &StrList<'_>) -> u64 {
    match l.compact_json() {
        Some(_) => 0,
        None => vec_allocations(l.len(), 8),
    }
}

/// The allocations the flow's lists account for.
fn list_allocations(f: &hubble_flow::Flow<'_>) -> u64 {
    let mut n = str_list_allocations(&f.node_labels)
        + str_list_allocations(&f.source_names)
        + str_list_allocations(&f.destination_names);
    for ep in [&f.source, &f.destination].into_iter().flatten() {
        let workloads = match ep.workloads.compact_json() {
            Some(_) => 0,
            None => vec_allocations(ep.workloads.len(), 1),
        };
        n += str_list_allocations(&ep.labels) + workloads;
    }
    if let Some(h) = f.l7.as_ref().and_then(|l| l.http.as_ref()) {
        n += vec_allocations(h.headers.len(), 1);
    }
    n
}

#[test]
fn a_nested_raw_value_costs_no_allocation() {
    let mut lists = None;
    let n = allocations_of(|| {
        if let Ok(Record::Flow { flow, .. }) = decode(REALISTIC.as_bytes()) {
            lists = Some(list_allocations(&flow));
        }
    });
    let lists = lists.expect("a flow");
    // None: the four string lists (source and destination labels, node labels, destination names) and the
    // source workloads are kept as the line's text.
    assert_eq!(lists, 0);
    assert_eq!(n, lists, "{n} allocations, {lists} lists");
}

#[test]
fn escaped_strings_are_the_only_owned_ones() {
    let line = REALISTIC.replacen("k8s:app=frontend", "k8s:app=front\\u0065nd", 1);
    let n = allocations_of(|| {
        let rec = decode(line.as_bytes()).expect("decodes");
        let Record::Flow { flow, .. } = &rec else {
            panic!("not a flow")
        };
        assert_eq!(
            flow.source.as_ref().unwrap().labels.first(),
            Some("k8s:app=frontend")
        );
    });
    // The scanner leaves the line to serde at the escape, having allocated nothing (the lists before it are kept
    // as text).
    let serde_only = allocations_of(|| drop(decode_str_without_scanner(&line)));
    assert_eq!(
        n, serde_only,
        "{n} allocations, {serde_only} on the serde path alone"
    );
    let unescaped = allocations_of(|| drop(decode_str_without_scanner(REALISTIC)));
    // The escaped label's `String`, and serde_json's scratch buffer growing for unescaping it.
    assert!(
        (1..=2).contains(&(serde_only - unescaped)),
        "{serde_only} allocations, {unescaped} without the escape"
    );
}
