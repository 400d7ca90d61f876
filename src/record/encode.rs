//! Encoding one kept flow as the flat output record (one NDJSON line; the ADX table's columns).
//!
//! Guarantees: only [`Column`]s declared in [`super::schema`] are written, in table order; absent values are
//! omitted, never written as null or empty strings; the original flow object is copied through byte for byte into
//! `Flow` (unless disabled). The writer appends to a caller-owned buffer and allocates nothing per record; CIDR-group
//! tags arrive already looked up ([`Enrichment`], one lookup per address) and are copied from the JSON fragments
//! the prefix table precomputed.

use super::schema::Column;
use crate::enrich::Enrichment;
use hubble_flow::enums::{EnumTable, DROP_REASON, IP_VERSION, TRAFFIC_DIRECTION, VERDICT};
use hubble_flow::flow::{Endpoint, Flow, StrList};
use hubble_flow::json::EnumValue;
use hubble_flow::string_stop::string_stop;

/// Encoder options.
#[derive(Debug, Clone, Copy)]
pub struct EncodeOptions {
    /// Write the whole original flow object into the `Flow` column.
    pub include_flow: bool,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions { include_flow: true }
    }
}

/// Appends the output record of `flow` (followed by `\n`) to `out`.
pub fn encode_flow(
    flow: &Flow<'_>,
    raw: &str,
    envelope_node: Option<&str>,
    tags: &Enrichment<'_>,
    opts: EncodeOptions,
    out: &mut Vec<u8>,
) {
    let mut w = ObjectWriter::new(out);
    if let Some(t) = &flow.time {
        w.str_field(Column::Timestamp, t);
    }
    if let Some(u) = &flow.uuid {
        w.str_field(Column::Uuid, u);
    }
    let node = flow.node_name.as_deref().or(envelope_node);
    let (cluster, node) = match node.and_then(|n| n.split_once('/')) {
        Some((c, n)) => (Some(c), Some(n)),
        None => (None, node),
    };
    if let Some(n) = node.filter(|n| !n.is_empty()) {
        w.str_field(Column::NodeName, n);
    }
    let cluster = cluster
        .filter(|c| !c.is_empty())
        .or_else(|| endpoint_cluster(flow.source.as_ref()));
    if let Some(c) = cluster {
        w.str_field(Column::ClusterName, c);
    }
    w.enum_field(Column::Verdict, flow.verdict.as_ref(), &VERDICT);
    if let Some(d) = flow.drop_reason.filter(|&d| d != 0) {
        w.u64_field(Column::DropReason, u64::from(d));
    }
    w.enum_field(
        Column::DropReasonDesc,
        flow.drop_reason_desc.as_ref(),
        &DROP_REASON,
    );
    w.enum_field(
        Column::TrafficDirection,
        flow.traffic_direction.as_ref(),
        &TRAFFIC_DIRECTION,
    );
    if let Some(et) = flow.event_type {
        w.i64_field(Column::EventType, i64::from(et.event_type));
        w.i64_field(Column::EventSubType, i64::from(et.sub_type));
    }
    if let Some(ip) = &flow.ip {
        w.enum_field(Column::IpVersion, ip.ip_version.as_ref(), &IP_VERSION);
    }
    if let Some(l4) = &flow.l4 {
        if let Some(p) = l4.protocol() {
            w.str_field(Column::Protocol, p.name());
        }
    }
    let (src_ip, dst_ip) = match &flow.ip {
        Some(ip) => (ip.source.as_deref(), ip.destination.as_deref()),
        None => (None, None),
    };
    if let Some(s) = src_ip.filter(|s| !s.is_empty()) {
        w.str_field(Column::SourceIP, s);
    }
    if let Some(d) = dst_ip.filter(|s| !s.is_empty()) {
        w.str_field(Column::DestinationIP, d);
    }
    if let Some(l4) = &flow.l4 {
        if let Some((sp, dp)) = l4.ports() {
            if sp != 0 {
                w.u64_field(Column::SourcePort, u64::from(sp));
            }
            if dp != 0 {
                w.u64_field(Column::DestinationPort, u64::from(dp));
            }
        }
        if let Some(flags) = l4.tcp.as_ref().and_then(|t| t.flags) {
            let mut any = false;
            for (name, set) in flags.iter() {
                if set {
                    if any {
                        w.out.push(b',');
                    } else {
                        w.key(Column::TcpFlags);
                        w.out.push(b'"');
                        any = true;
                    }
                    w.out.extend_from_slice(name.as_bytes());
                }
            }
            if any {
                w.out.push(b'"');
            }
        }
    }
    w.endpoint(&SOURCE, flow.source.as_ref());
    w.endpoint(&DESTINATION, flow.destination.as_ref());
    w.str_array_field(Column::DestinationNames, &flow.destination_names);
    let (src, dst) = (tags.source_groups(), tags.destination_groups());
    if let Some(m) = src {
        w.key(Column::SourceCidrGroups);
        m.write_groups_json(w.out);
    }
    if let Some(m) = dst {
        w.key(Column::DestinationCidrGroups);
        m.write_groups_json(w.out);
    }
    if let Some(m) = src.filter(|m| m.labels().len() > 0) {
        w.key(Column::SourceCidrGroupLabels);
        m.write_labels_json(w.out);
    }
    if let Some(m) = dst.filter(|m| m.labels().len() > 0) {
        w.key(Column::DestinationCidrGroupLabels);
        m.write_labels_json(w.out);
    }
    let egress = matches!(
        flow.traffic_direction
            .as_ref()
            .and_then(|v| TRAFFIC_DIRECTION.code(v)),
        Some(2)
    );
    let denied = if egress {
        flow.egress_denied_by.or(flow.ingress_denied_by)
    } else {
        flow.ingress_denied_by.or(flow.egress_denied_by)
    };
    if let Some(d) = denied {
        w.raw_field(Column::PolicyDeniedBy, d.get());
    }
    if let Some(s) = &flow.summary {
        w.str_field(Column::Summary, s);
    }
    // Aggregated exporter records (Cilium ≥ 1.19) stand for several flows; `sum(FlowCount)` counts flows
    // whether or not the exporter aggregates.
    match &flow.aggregate {
        None => w.u64_field(Column::FlowCount, 1),
        Some(a) => {
            w.u64_field(Column::FlowCount, a.flow_count());
            w.u64_field(Column::IngressFlowCount, u64::from(a.ingress_flow_count));
            w.u64_field(Column::EgressFlowCount, u64::from(a.egress_flow_count));
            w.u64_field(
                Column::UnknownDirectionFlowCount,
                u64::from(a.unknown_direction_flow_count),
            );
        }
    }
    if opts.include_flow {
        w.raw_field(Column::Flow, raw);
    }
    w.finish();
}

fn endpoint_cluster<'f>(ep: Option<&'f Endpoint<'_>>) -> Option<&'f str> {
    ep.and_then(|e| e.cluster_name.as_deref())
        .filter(|c| !c.is_empty())
}

/// The columns of one side of the flow.
struct EndpointColumns {
    namespace: Column,
    pod: Column,
    identity: Column,
    labels: Column,
    workloads: Column,
}

const SOURCE: EndpointColumns = EndpointColumns {
    namespace: Column::SourceNamespace,
    pod: Column::SourcePod,
    identity: Column::SourceIdentity,
    labels: Column::SourceLabels,
    workloads: Column::SourceWorkloads,
};

const DESTINATION: EndpointColumns = EndpointColumns {
    namespace: Column::DestinationNamespace,
    pod: Column::DestinationPod,
    identity: Column::DestinationIdentity,
    labels: Column::DestinationLabels,
    workloads: Column::DestinationWorkloads,
};

struct ObjectWriter<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> ObjectWriter<'o> {
    fn new(out: &'o mut Vec<u8>) -> Self {
        out.push(b'{');
        ObjectWriter { out, first: true }
    }

    fn key(&mut self, k: Column) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.extend_from_slice(k.json_key().as_bytes());
    }

    fn str_field(&mut self, k: Column, v: &str) {
        self.key(k);
        write_json_str(self.out, v);
    }

    fn raw_field(&mut self, k: Column, raw_json: &str) {
        self.key(k);
        self.out.extend_from_slice(raw_json.as_bytes());
    }

    fn u64_field(&mut self, k: Column, v: u64) {
        self.key(k);
        let mut b = itoa::Buffer::new();
        self.out.extend_from_slice(b.format(v).as_bytes());
    }

    fn i64_field(&mut self, k: Column, v: i64) {
        self.key(k);
        let mut b = itoa::Buffer::new();
        self.out.extend_from_slice(b.format(v).as_bytes());
    }

    /// Writes an enum by its canonical name; a number without a known name is written as its decimal text.
    fn enum_field(&mut self, k: Column, v: Option<&EnumValue<'_>>, table: &EnumTable) {
        match v {
            None => {}
            Some(EnumValue::Name(n)) => self.str_field(k, n),
            Some(EnumValue::Number(n)) => {
                match i32::try_from(*n).ok().and_then(|c| table.name_of(c)) {
                    Some(name) => self.str_field(k, name),
                    None => {
                        let mut b = itoa::Buffer::new();
                        let s = b.format(*n);
                        self.key(k);
                        write_json_str(self.out, s);
                    }
                }
            }
        }
    }

    fn str_array_field(&mut self, k: Column, items: &StrList<'_>) {
        if items.is_empty() {
            return;
        }
        self.key(k);
        // The line's own text, when it is already what the loop below would write.
        if let Some(json) = items.compact_json() {
            self.out.extend_from_slice(json.as_bytes());
            return;
        }
        self.out.push(b'[');
        for (i, s) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            write_json_str(self.out, s);
        }
        self.out.push(b']');
    }

    fn endpoint(&mut self, cols: &EndpointColumns, ep: Option<&Endpoint<'_>>) {
        let Some(ep) = ep else { return };
        if let Some(ns) = ep.namespace.as_deref().filter(|s| !s.is_empty()) {
            self.str_field(cols.namespace, ns);
        }
        if let Some(pod) = ep.pod_name.as_deref().filter(|s| !s.is_empty()) {
            self.str_field(cols.pod, pod);
        }
        if let Some(id) = ep.identity.filter(|&i| i != 0) {
            self.u64_field(cols.identity, u64::from(id));
        }
        self.str_array_field(cols.labels, &ep.labels);
        if let Some(json) = ep.workloads.compact_json() {
            // The line's own text, when it is already what the loop below would write.
            self.key(cols.workloads);
            self.out.extend_from_slice(json.as_bytes());
        } else if !ep.workloads.is_empty() {
            self.key(cols.workloads);
            self.out.push(b'[');
            for (i, wl) in ep.workloads.iter().enumerate() {
                if i > 0 {
                    self.out.push(b',');
                }
                self.out.push(b'{');
                let mut first = true;
                for (k, v) in [("name", wl.name), ("kind", wl.kind)] {
                    if let Some(v) = v {
                        if !first {
                            self.out.push(b',');
                        }
                        first = false;
                        self.out.push(b'"');
                        self.out.extend_from_slice(k.as_bytes());
                        self.out.extend_from_slice(b"\":");
                        write_json_str(self.out, v);
                    }
                }
                self.out.push(b'}');
            }
            self.out.push(b']');
        }
    }

    fn finish(self) {
        self.out.extend_from_slice(b"}\n");
    }
}

/// Appends `s` as a JSON string literal.
pub fn write_json_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    // The bytes JSON requires escaped are exactly those that end an unescaped run.
    while let Some(i) = string_stop(bytes, start) {
        out.extend_from_slice(&bytes[start..i]);
        let b = bytes[i];
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use hubble_cidr::PrefixTable;
    use hubble_flow::{decode, Record};

    const DENY: &str = r#"{"flow":{"time":"2026-07-31T10:41:02.202450754Z","uuid":"cd75b2ac","verdict":"DROPPED","drop_reason":181,"IP":{"source":"10.0.1.235","destination":"203.0.113.7","ipVersion":"IPv4"},"l4":{"TCP":{"source_port":60524,"destination_port":443,"flags":{"SYN":true,"ACK":true}}},"source":{"ID":423,"identity":24753,"cluster_name":"topgun","namespace":"net-lab","labels":["k8s:app=tg"],"pod_name":"tg-1","workloads":[{"name":"tg","kind":"Deployment"}]},"destination":{"identity":2,"labels":["reserved:world"]},"Type":"L3_L4","node_name":"topgun/cilium-w1","destination_names":["evil.example."],"event_type":{"type":1,"sub_type":181},"traffic_direction":"EGRESS","drop_reason_desc":"POLICY_DENY","Summary":"TCP Flags: SYN \"x\"","egress_denied_by":[{"name":"deny-geo","kind":"CiliumClusterwideNetworkPolicy"}]},"node_name":"topgun/cilium-w1","time":"2026-07-31T10:41:02.202450754Z"}"#;

    fn table() -> std::sync::Arc<PrefixTable> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("groups.yaml");
        std::fs::write(
            &p,
            "apiVersion: cilium.io/v2\nkind: CiliumCIDRGroup\nmetadata:\n  name: geo-xx\n  labels:\n    geo: xx\nspec:\n  externalCIDRs:\n  - 203.0.113.0/24\n",
        )
        .unwrap();
        hubble_cidr::load_sources(&[hubble_cidr::Source::Path(p)])
            .unwrap()
            .table
    }

    fn encode(line: &str, tagger: Option<&PrefixTable>, opts: EncodeOptions) -> serde_json::Value {
        let rec = decode(line.as_bytes()).unwrap();
        let Record::Flow {
            flow,
            raw,
            node_name,
        } = rec
        else {
            panic!("not a flow")
        };
        let mut out = Vec::new();
        let tags = crate::enrich::enrich(&flow, tagger).unwrap();
        encode_flow(&flow, raw, node_name.as_deref(), &tags, opts, &mut out);
        assert_eq!(out.last(), Some(&b'\n'));
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn encodes_every_column_of_a_policy_deny_flow() {
        let t = table();
        let v = encode(DENY, Some(&*t), EncodeOptions::default());
        let expected = serde_json::json!({
            "Timestamp": "2026-07-31T10:41:02.202450754Z",
            "Uuid": "cd75b2ac",
            "NodeName": "cilium-w1",
            "ClusterName": "topgun",
            "Verdict": "DROPPED",
            "DropReason": 181,
            "DropReasonDesc": "POLICY_DENY",
            "TrafficDirection": "EGRESS",
            "EventType": 1,
            "EventSubType": 181,
            "IpVersion": "IPv4",
            "Protocol": "TCP",
            "SourceIP": "10.0.1.235",
            "DestinationIP": "203.0.113.7",
            "SourcePort": 60524,
            "DestinationPort": 443,
            "TcpFlags": "SYN,ACK",
            "SourceNamespace": "net-lab",
            "SourcePod": "tg-1",
            "SourceIdentity": 24753,
            "SourceLabels": ["k8s:app=tg"],
            "SourceWorkloads": [{"name": "tg", "kind": "Deployment"}],
            "DestinationIdentity": 2,
            "DestinationLabels": ["reserved:world"],
            "DestinationNames": ["evil.example."],
            "DestinationCidrGroups": ["geo-xx"],
            "DestinationCidrGroupLabels": {"geo": "xx"},
            "PolicyDeniedBy": [{"name": "deny-geo", "kind": "CiliumClusterwideNetworkPolicy"}],
            "Summary": "TCP Flags: SYN \"x\"",
            "FlowCount": 1,
            "Flow": serde_json::from_str::<serde_json::Value>(DENY).unwrap()["flow"].clone(),
        });
        assert_eq!(v, expected);
        // Every column appears, in table order.
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let declared: Vec<&str> = Column::ALL
            .iter()
            .map(|c| c.name())
            .filter(|n| {
                !matches!(
                    *n,
                    "DestinationNamespace"
                        | "DestinationPod"
                        | "DestinationWorkloads"
                        | "SourceCidrGroups"
                        | "SourceCidrGroupLabels"
                        | "IngressFlowCount"
                        | "EgressFlowCount"
                        | "UnknownDirectionFlowCount"
                )
            })
            .collect();
        let mut sorted = keys.clone();
        sorted.sort_by_key(|k| declared.iter().position(|d| d == k));
        assert_eq!(sorted, declared);
    }

    #[test]
    fn omits_absent_values_and_names_numeric_enums() {
        let v = encode(
            r#"{"flow":{"verdict":2,"traffic_direction":7,"IP":{"source":"::ffff:1.2.3.4"}},"node_name":"plain-node"}"#,
            None,
            EncodeOptions {
                include_flow: false,
            },
        );
        assert_eq!(
            v,
            serde_json::json!({"NodeName":"plain-node","Verdict":"DROPPED","TrafficDirection":"7","SourceIP":"::ffff:1.2.3.4","FlowCount":1})
        );
    }

    #[test]
    fn aggregated_records_carry_their_flow_counts() {
        // Cilium's aggregator output (pkg/hubble/exporter aggregation.txtar): zero counts are omitted.
        let v = encode(
            r#"{"flow":{"time":"2024-01-01T10:00:00Z","verdict":"FORWARDED","aggregate":{"unknown_direction_flow_count":3}}}"#,
            None,
            EncodeOptions {
                include_flow: false,
            },
        );
        assert_eq!(
            v,
            serde_json::json!({"Timestamp":"2024-01-01T10:00:00Z","Verdict":"FORWARDED","FlowCount":3,
                "IngressFlowCount":0,"EgressFlowCount":0,"UnknownDirectionFlowCount":3})
        );
        let v = encode(
            r#"{"flow":{"aggregate":{"ingressFlowCount":4294967295,"egress_flow_count":"2","unknown_direction_flow_count":null}}}"#,
            None,
            EncodeOptions {
                include_flow: false,
            },
        );
        assert_eq!(v["FlowCount"], 4_294_967_297u64);
        assert_eq!(v["IngressFlowCount"], 4_294_967_295u64);
        assert_eq!(v["EgressFlowCount"], 2);
        assert_eq!(v["UnknownDirectionFlowCount"], 0);
    }

    #[test]
    fn field_masked_records_keep_absent_columns_absent() {
        // A `fieldMask: [time, verdict, source.namespace, IP.destination]` exporter record.
        let v = encode(
            r#"{"flow":{"time":"2026-01-01T00:00:00Z","verdict":"DROPPED","source":{"namespace":"payments"},"IP":{"destination":"203.0.113.9"}},"node_name":"n1","time":"2026-01-01T00:00:00Z"}"#,
            None,
            EncodeOptions {
                include_flow: false,
            },
        );
        assert_eq!(
            v,
            serde_json::json!({"Timestamp":"2026-01-01T00:00:00Z","NodeName":"n1","Verdict":"DROPPED",
                "DestinationIP":"203.0.113.9","SourceNamespace":"payments","FlowCount":1})
        );
        // Masked down to nothing but the envelope: only what is there is written.
        let v = encode(
            r#"{"flow":{},"node_name":"c/n2"}"#,
            None,
            EncodeOptions {
                include_flow: false,
            },
        );
        assert_eq!(
            v,
            serde_json::json!({"NodeName":"n2","ClusterName":"c","FlowCount":1})
        );
    }

    /// The record's bytes, without the `Flow` column.
    fn encode_bytes(line: &str) -> Vec<u8> {
        let Record::Flow {
            flow,
            raw,
            node_name,
        } = decode(line.as_bytes()).unwrap()
        else {
            panic!("not a flow")
        };
        let mut out = Vec::new();
        let tags = crate::enrich::enrich(&flow, None).unwrap();
        let opts = EncodeOptions {
            include_flow: false,
        };
        encode_flow(&flow, raw, node_name.as_deref(), &tags, opts, &mut out);
        out
    }

    #[test]
    fn a_list_kept_as_the_lines_text_is_written_as_its_items_would_be() {
        // Compact lists and workloads are kept as text and copied; the same lists with a space after each `[` are
        // decoded item by item and written by the encoder. The records must be the same bytes.
        let lists = [
            r#"["k8s:app=tg"]"#,
            r#"["k8s:app=tg","reserved:world","","k8s:x=<b>&'/é😀"]"#,
        ];
        for list in lists {
            let workloads = list
                .trim_matches(['[', ']'])
                .split("\",\"")
                .map(|w| {
                    format!(
                        r#"{{"name":"{}","kind":"K{}"}}"#,
                        w.trim_matches('"'),
                        w.len()
                    )
                })
                .collect::<Vec<_>>()
                .join(",");
            let compact = format!(
                r#"{{"flow":{{"time":"t","source":{{"labels":{list},"workloads":[{workloads}]}},"destination":{{"labels":{list}}},"node_labels":{list},"source_names":{list},"destination_names":{list}}},"node_name":"n"}}"#
            );
            let spaced = compact.replace(":[\"", ":[ \"").replace(":[{", ":[ {");
            let text_form = |line: &str| match decode(line.as_bytes()).unwrap() {
                Record::Flow { flow, .. } => (
                    flow.destination_names.compact_json().is_some(),
                    flow.source.unwrap().workloads.compact_json().is_some(),
                ),
                _ => panic!("not a flow"),
            };
            assert_eq!(text_form(&compact), (true, true));
            assert_eq!(text_form(&spaced), (false, false));
            let (a, b) = (encode_bytes(&compact), encode_bytes(&spaced));
            assert_eq!(String::from_utf8_lossy(&a), String::from_utf8_lossy(&b));
            assert!(String::from_utf8_lossy(&a).contains(&format!("\"SourceLabels\":{list}")));
            assert!(
                String::from_utf8_lossy(&a).contains(&format!("\"SourceWorkloads\":[{workloads}]"))
            );
        }
    }

    #[test]
    fn escapes_strings() {
        let mut out = Vec::new();
        write_json_str(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(String::from_utf8(out).unwrap(), r#""a\"b\\c\nd\u0001é""#);
    }

    #[test]
    fn escapes_every_byte_that_needs_it_at_every_offset() {
        // Every byte value at every position of strings around the 8- and 16-byte steps, against the byte-by-byte
        // rule.
        for len in [1usize, 7, 8, 9, 15, 16, 17, 23, 31, 32, 33] {
            for pos in 0..len {
                for b in 0u8..0x80 {
                    let mut bytes = vec![b'a'; len];
                    bytes[pos] = b;
                    let s = std::str::from_utf8(&bytes).unwrap();
                    let mut out = Vec::new();
                    write_json_str(&mut out, s);
                    let back: String = serde_json::from_slice(&out).unwrap();
                    assert_eq!(back, s);
                    let escaped = out.len() != len + 2;
                    let needs = b < 0x20 || b == b'"' || b == b'\\';
                    assert_eq!(escaped, needs, "byte {b:#x} at {pos} of {len}");
                }
            }
        }
        // Multi-byte UTF-8 is copied as it is.
        let mut out = Vec::new();
        write_json_str(&mut out, "é日zz!é日zz!é日zz!é日zz!");
        assert_eq!(out, "\"é日zz!é日zz!é日zz!é日zz!\"".as_bytes());
    }
}
