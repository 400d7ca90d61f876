//! Semantics the conformance file does not cover: non-flow records, nil-propagating getters, list combination,
//! build errors that name the filter, warnings and the default filter.

use super::*;
use crate::record::decode;

fn set(include: &str, exclude: &str) -> FilterSet {
    FilterSet::build(
        parse_filter_list(include).unwrap(),
        parse_filter_list(exclude).unwrap(),
    )
    .unwrap()
}

fn keep(s: &FilterSet, line: &str) -> bool {
    s.keep(&decode(line.as_bytes()).unwrap())
}

const LOST: &str = r#"{"lost_events":{"source":"PERF_EVENT_RING_BUFFER","num_events_lost":"3"}}"#;
const AGENT: &str = r#"{"agent_event":{"type":"POLICY_UPDATED"},"node_name":"n"}"#;
const AGENT_NUM: &str = r#"{"agentEvent":{"type":9}}"#;
const DEBUG: &str = r#"{"debug_event":{"type":"DBG_CT_LOOKUP"}}"#;
const NODE_STATUS: &str = r#"{"node_status":{}}"#;
const DENY_FLOW: &str = r#"{"flow":{"verdict":"DROPPED","drop_reason_desc":"POLICY_DENY","event_type":{"type":1,"sub_type":181},"traffic_direction":"EGRESS","IP":{"source":"10.0.0.1","destination":"1.1.1.1"}}}"#;
const DENIED_FLOW: &str = r#"{"flow":{"verdict":"DROPPED","drop_reason_desc":"POLICY_DENIED","event_type":{"type":1,"sub_type":133},"traffic_direction":"EGRESS"}}"#;

#[test]
fn empty_include_list_keeps_everything() {
    let s = set("", "");
    for l in [LOST, AGENT, DEBUG, NODE_STATUS, DENY_FLOW] {
        assert!(keep(&s, l), "{l}");
    }
    let s = set("{}", "");
    assert!(keep(&s, NODE_STATUS));
}

#[test]
fn event_type_decides_non_flow_records() {
    let s = set(r#"{"event_type":[{"type":1}]}"#, "");
    assert!(keep(&s, LOST), "lost events always match event_type");
    assert!(!keep(&s, AGENT));
    assert!(!keep(&s, DEBUG));
    assert!(!keep(&s, NODE_STATUS));
    let s = set(r#"{"event_type":[{"type":130}]}"#, "");
    assert!(keep(&s, AGENT));
    assert!(!keep(&s, DEBUG));
    // Agent sub type compares with the flow.AgentEventType number (POLICY_UPDATED = 3).
    let s = set(
        r#"{"event_type":[{"type":130,"match_sub_type":true,"sub_type":3}]}"#,
        "",
    );
    assert!(keep(&s, AGENT));
    assert!(!keep(&s, AGENT_NUM));
    let s = set(
        r#"{"event_type":[{"type":0,"match_sub_type":true,"sub_type":9}]}"#,
        "",
    );
    assert!(keep(&s, AGENT_NUM));
    let s = set(
        r#"{"event_type":[{"type":2,"match_sub_type":true,"sub_type":6}]}"#,
        "",
    );
    assert!(keep(&s, DEBUG), "DBG_CT_LOOKUP = 6");
    // Type 0 matches any debug/agent event.
    let s = set(r#"{"event_type":[{}]}"#, "");
    assert!(keep(&s, DEBUG) && keep(&s, AGENT) && keep(&s, LOST) && !keep(&s, NODE_STATUS));
    // AND with a flow field removes lost events.
    let s = set(r#"{"event_type":[{"type":1}],"verdict":["DROPPED"]}"#, "");
    assert!(!keep(&s, LOST));
    assert!(keep(&s, DENY_FLOW));
}

#[test]
fn flow_only_filters_reject_non_flows_but_nil_safe_getters_do_not() {
    for f in [
        r#"{"verdict":["VERDICT_UNKNOWN"]}"#,
        r#"{"traffic_direction":["TRAFFIC_DIRECTION_UNKNOWN"]}"#,
        r#"{"uuid":[""]}"#,
        r#"{"ip_version":["IP_NOT_USED"]}"#,
        r#"{"reply":[false]}"#,
        r#"{"encrypted":[false]}"#,
        r#"{"source_identity":[0]}"#,
    ] {
        assert!(!keep(&set(f, ""), AGENT), "{f}");
    }
    // Cilium reads labels and trace ids through nil-safe getters: non-flows have no labels / an empty trace id.
    assert!(keep(&set(r#"{"source_label":["!k8s:app"]}"#, ""), AGENT));
    assert!(keep(&set(r#"{"node_labels":[""]}"#, ""), LOST));
    assert!(keep(&set(r#"{"trace_id":[""]}"#, ""), DEBUG));
    assert!(!keep(&set(r#"{"source_label":["k8s:app"]}"#, ""), AGENT));
}

#[test]
fn default_filter_and_exclude_wins() {
    let s = FilterSet::build(vec![FilterSet::default_policy_deny_egress()], vec![]).unwrap();
    assert!(keep(&s, DENY_FLOW));
    assert!(!keep(&s, DENIED_FLOW));
    assert!(!keep(&s, AGENT));
    // traffic_direction is flow-only, so the AND removes lost events even though event_type matches them.
    assert!(!keep(&s, LOST));
    assert!(keep(
        &set(
            r#"{"event_type":[{"type":1,"match_sub_type":true,"sub_type":181}]}"#,
            ""
        ),
        LOST
    ));
    let s = FilterSet::build(
        vec![FilterSet::default_policy_deny_egress()],
        parse_filter_list(r#"{"destination_ip":["1.1.1.1"]}"#).unwrap(),
    )
    .unwrap();
    assert!(!keep(&s, DENY_FLOW));
    assert!(s.warnings().is_empty());
}

#[test]
fn sub_type_without_match_sub_type_warns_and_is_ignored() {
    let s = set(r#"{"event_type":[{"type":1,"sub_type":181}]}"#, "");
    assert_eq!(s.warnings().len(), 1);
    assert!(
        s.warnings()[0].contains("include filter #0"),
        "{}",
        s.warnings()[0]
    );
    assert!(s.warnings()[0].contains("match_sub_type"));
    assert!(
        keep(&s, DENIED_FLOW),
        "sub_type is ignored without match_sub_type"
    );
}

#[test]
fn build_errors_name_list_index_and_field() {
    let e = FilterSet::build(
        parse_filter_list(r#"{} {"source_ip":["1.2.3.4/99"]}"#).unwrap(),
        vec![],
    )
    .unwrap_err();
    assert!(matches!(
        e,
        FilterError::Build {
            list: FilterList::Include,
            index: 1,
            field: "source_ip",
            ..
        }
    ));
    assert!(
        e.to_string().starts_with("include filter #1 (source_ip):"),
        "{e}"
    );
    let e = FilterSet::build(
        vec![],
        parse_filter_list(r#"{"experimental":{"cel_expression":["true"]}}"#).unwrap(),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("exclude filter #0") && e.to_string().contains("not supported"),
        "{e}"
    );
    for bad in [
        r#"{"http_method":["GET"],"event_type":[{"type":1}]}"#,
        r#"{"http_url":["("]}"#,
        r#"{"http_status_code":["600"]}"#,
        r#"{"protocol":["bogus"]}"#,
        r#"{"source_pod":[""]}"#,
        r#"{"destination_service":["/"]}"#,
        r#"{"node_name":["a/b/c"]}"#,
        r#"{"source_label":["k8s:a in (b"]}"#,
        r#"{"destination_cluster_name":[""]}"#,
        r#"{"dns_query":["["]}"#,
    ] {
        assert!(
            FilterSet::build(parse_filter_list(bad).unwrap(), vec![]).is_err(),
            "{bad}"
        );
    }
    // http fields are fine with an l7 entry among others.
    assert!(FilterSet::build(
        parse_filter_list(r#"{"http_method":["GET"],"event_type":[{"type":1},{"type":129}]}"#)
            .unwrap(),
        vec![]
    )
    .is_ok());
}

#[test]
fn field_semantics() {
    let flow = r#"{"flow":{"verdict":"FORWARDED","IP":{"source":"10.0.0.1","destination":"f00d::1","ipVersion":"IPv6"},
        "l4":{"TCP":{"source_port":"40000","destination_port":443,"flags":{"SYN":true,"ACK":true}}},
        "source":{"namespace":"kube-system","pod_name":"coredns-abc","identity":"24753","labels":["k8s:app=dns","k8s:n=7"],"workloads":[{"name":"coredns","kind":"Deployment"}],"cluster_name":"c1"},
        "destination":{"identity":2,"labels":["reserved:world"]},
        "node_name":"kind-worker","source_names":["api.example.com"],
        "l7":{"type":"RESPONSE","http":{"code":503,"method":"get","url":"http://h/page/12?x=1","headers":[{"key":"X","value":"y"}]}},
        "event_type":{"type":129},"is_reply":true,"interface":{"index":3,"name":"eth0"},
        "trace_context":{"parent":{"trace_id":"abc"}},"ip_trace_id":{"trace_id":"99"}}}"#
        .replace('\n', "");
    let yes = [
        r#"{"source_pod":["kube-system/core"]}"#,
        r#"{"source_pod":["/coredns"]}"#,
        r#"{"destination_ip":["f00d::/16"]}"#,
        r#"{"source_ip":["10.0.0.0/8","1.1.1.1"]}"#,
        r#"{"ip_version":["IPv6"]}"#,
        r#"{"source_port":["40000"],"destination_port":["443"]}"#,
        r#"{"tcp_flags":[{"SYN":true}]}"#,
        r#"{"protocol":["TCP"]}"#,
        r#"{"protocol":["http"]}"#,
        r#"{"source_identity":[24753],"destination_identity":[2]}"#,
        r#"{"source_label":["k8s:app=dns, k8s:n>6"]}"#,
        r#"{"destination_label":["reserved:world"]}"#,
        r#"{"source_workload":[{"kind":"Deployment"}]}"#,
        r#"{"source_cluster_name":["c1"]}"#,
        r#"{"node_name":["default/kind-*"]}"#,
        r#"{"node_name":["kind-worker"]}"#,
        r#"{"source_fqdn":["*.example.com"]}"#,
        r#"{"http_status_code":["5+"]}"#,
        r#"{"http_status_code":["503"]}"#,
        r#"{"http_method":["GET"]}"#,
        r#"{"http_path":["^/page/\\d+$"]}"#,
        r#"{"http_url":["x=1"]}"#,
        r#"{"http_header":[{"key":"X","value":"y"}]}"#,
        r#"{"reply":[true]}"#,
        r#"{"interface":[{"index":3}]}"#,
        r#"{"interface":[{"name":"eth0"}]}"#,
        r#"{"trace_id":["abc"]}"#,
        r#"{"ip_trace_id":[99]}"#,
        r#"{"encrypted":[false]}"#,
        r#"{"event_type":[{"type":129}]}"#,
    ];
    for f in yes {
        assert!(keep(&set(f, ""), &flow), "{f}");
    }
    let no = [
        r#"{"source_pod":["coredns"]}"#,
        r#"{"destination_ip":["f00d::0001"]}"#,
        r#"{"tcp_flags":[{"FIN":true}]}"#,
        r#"{"protocol":["udp"]}"#,
        r#"{"source_label":["k8s:n<6"]}"#,
        r#"{"node_name":["other/kind-*"]}"#,
        r#"{"http_status_code":["4+"]}"#,
        r#"{"http_path":["x=1"]}"#,
        r#"{"http_header":[{"key":"x","value":"y"}]}"#,
        r#"{"reply":[false]}"#,
        r#"{"interface":[{"index":4,"name":"eth0"}]}"#,
        r#"{"drop_reason_desc":["DROP_REASON_UNKNOWN"]}"#,
        r#"{"destination_identity":[3]}"#,
    ];
    for f in no {
        assert!(!keep(&set(f, ""), &flow), "{f}");
    }
}

#[test]
fn drop_reason_desc_requires_dropped_and_reply_for_drops() {
    let s = set(r#"{"drop_reason_desc":["POLICY_DENY"]}"#, "");
    assert!(keep(&s, DENY_FLOW));
    assert!(!keep(
        &s,
        r#"{"flow":{"verdict":"AUDIT","drop_reason_desc":"POLICY_DENY"}}"#
    ));
    let s = set(r#"{"reply":[false]}"#, "");
    assert!(
        keep(&s, DENY_FLOW),
        "a DROPPED flow without is_reply counts as not a reply"
    );
    assert!(!keep(&s, r#"{"flow":{"verdict":"FORWARDED"}}"#));
}

fn ep_flow(src: Option<(&str, &str)>, dst: Option<(&str, &str)>) -> String {
    let ep = |e: Option<(&str, &str)>| match e {
        Some((ns, pod)) => format!(r#"{{"namespace":"{ns}","pod_name":"{pod}"}}"#),
        None => "{}".into(),
    };
    format!(
        r#"{{"flow":{{"source":{},"destination":{},"verdict":"FORWARDED"}}}}"#,
        ep(src),
        ep(dst)
    )
}

#[test]
fn pod_prefixes_and_any_namespace() {
    let s = set(r#"{"source_pod":["xwing","kube-system/coredns-"]}"#, "");
    let cases = [
        (Some(("default", "xwing")), true),
        (Some(("default", "xwing-t-65b")), true),
        (Some(("kube-system", "coredns-12345")), true),
        (Some(("kube-system", "-coredns-12345")), false),
        (Some(("default", "tiefighter")), false),
        (Some(("", "xwing")), false),
    ];
    for (src, want) in cases {
        assert_eq!(keep(&s, &ep_flow(src, None)), want, "{src:?}");
    }
    let s = set(
        r#"{"source_pod":["/xwing"]} {"destination_pod":["/xwing"]}"#,
        "",
    );
    let cases = [
        (
            ("kube-system", "coredns"),
            ("kube-system", "kube-proxy"),
            false,
        ),
        (("kube-system", "coredns"), ("default", "xwing"), true),
        (("hoth", "tiefighter"), ("endor", "xwing"), true),
        (("default", "tiefighter"), ("default", "ywing"), false),
    ];
    for (src, dst, want) in cases {
        assert_eq!(
            keep(&s, &ep_flow(Some(src), Some(dst))),
            want,
            "{src:?} {dst:?}"
        );
    }
    let s = set(r#"{"destination_service":["/kube-"]}"#, "");
    let svc = |ns: &str, name: &str| {
        format!(
            r#"{{"flow":{{"destination_service":{{"namespace":"{ns}","name":"{name}"}},"verdict":1}}}}"#
        )
    };
    assert!(keep(&s, &svc("kube-system", "kube-dns")));
    assert!(keep(&s, &svc("monitoring", "kube-prometheus")));
    assert!(!keep(&s, &svc("default", "xwing")));
}

#[test]
fn json_lists_front_end() {
    let s = FilterSet::from_json_lists(
        r#"{"verdict":["DROPPED"]}"#,
        r#"{"destination_ip":["1.1.1.1"]}"#,
    )
    .unwrap();
    assert!(!keep(&s, DENY_FLOW));
    assert!(keep(&s, DENIED_FLOW));
    let e = FilterSet::from_json_lists("{} {\"verdict\":[\"NOPE\"]}", "")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("allowlist: filter #2"), "{e}");
}

/// A record from an exporter with `fieldMask: [time, verdict, source.namespace, IP.destination]`: every other
/// field is absent, and Cilium's filters read absent fields as Go zero values through nil-safe getters.
pub(crate) const MASKED: &str = r#"{"flow":{"time":"2026-01-01T00:00:00Z","verdict":"DROPPED","source":{"namespace":"payments"},"IP":{"destination":"203.0.113.9"}},"node_name":"n1","time":"2026-01-01T00:00:00Z"}"#;

/// Filters Cilium keeps [`MASKED`] under (absent fields read as Go zero values).
pub(crate) const MASKED_KEPT_BY: &[&str] = &[
    r#"{"verdict":["DROPPED"]}"#,
    r#"{"ip_trace_id":[0]}"#,
    r#"{"trace_id":[""]}"#,
    r#"{"traffic_direction":["TRAFFIC_DIRECTION_UNKNOWN"]}"#,
    r#"{"drop_reason_desc":["DROP_REASON_UNKNOWN"]}"#,
    r#"{"encrypted":[false]}"#,
    r#"{"source_pod":["payments/"]}"#,
    r#"{"source_identity":[0]}"#,
    r#"{"destination_ip":["203.0.113.0/24"]}"#,
    r#"{"reply":[false]}"#,
];

#[test]
fn ip_trace_id_zero_matches_events_without_one() {
    // cilium ip_trace_id.go: slices.Contains(ids, ev.GetFlow().GetIpTraceId().GetTraceId()).
    let zero = set(r#"{"ip_trace_id":[0]}"#, "");
    assert!(keep(&zero, MASKED));
    assert!(keep(&zero, r#"{"flow":{"ip_trace_id":{}}}"#));
    assert!(keep(&zero, r#"{"flow":{"ip_trace_id":{"trace_id":"0"}}}"#));
    assert!(!keep(&zero, r#"{"flow":{"ip_trace_id":{"trace_id":"7"}}}"#));
    assert!(keep(&zero, LOST), "GetFlow() of a non-flow event is nil: 0");
    let seven = set(r#"{"ip_trace_id":[7]}"#, "");
    assert!(!keep(&seven, MASKED));
    assert!(!keep(&seven, LOST));
    assert!(keep(&seven, r#"{"flow":{"ip_trace_id":{"trace_id":"7"}}}"#));
}

#[test]
fn masked_records_are_filtered_on_go_zero_values() {
    let yes = MASKED_KEPT_BY;
    for f in yes {
        assert!(keep(&set(f, ""), MASKED), "{f}");
    }
    let no = [
        r#"{"verdict":["VERDICT_UNKNOWN"]}"#,
        r#"{"traffic_direction":["EGRESS"]}"#,
        r#"{"ip_trace_id":[1]}"#,
        r#"{"trace_id":["abc"]}"#,
        r#"{"encrypted":[true]}"#,
        r#"{"source_pod":["payments/api"]}"#,
        r#"{"destination_identity":[0]}"#,
        r#"{"destination_port":["0"]}"#,
        r#"{"source_ip":["0.0.0.0/0"]}"#,
        r#"{"interface":[{"name":""}]}"#,
        r#"{"source_workload":[{"name":""}]}"#,
    ];
    for f in no {
        assert!(!keep(&set(f, ""), MASKED), "{f}");
    }
}
