//! The Hubble `flow.Flow` message as protojson writes it, decoded by borrowing from the input line.
//!
//! Only the fields that filters or the output record use are declared; everything else is skipped by serde.
//! Field names are the proto names Cilium's exporter emits (`UseProtoNames`), with the lowerCamel JSON names
//! protojson also accepts as aliases. Strings are `Cow`: borrowed unless the JSON escapes them
//! (the `deserialize_with` helpers of [`crate::json`] make that true for optional strings and list elements
//! too, which serde's derive alone would allocate); a non-empty list is one `Vec` allocation, except a list of
//! strings the scanner found compact, which is kept as the line's text ([`StrList`]). Integers accept
//! numbers or strings, enums names or numbers ([`crate::json`]). Absent and zero values are `None`/empty,
//! exactly the cases protojson omits.

use crate::json::{list, opt_str, opt_u32, opt_u64, str_list, u32_or_zero, EnumValue, RawJson};
pub use crate::str_list::StrList;
pub use crate::workload_list::{Workload, WorkloadList, WorkloadRef};
use serde::Deserialize;
use std::borrow::Cow;

/// Label lists (`source:key=value`): the line's own text when it is compact and unescaped, else a `Vec` of
/// items each borrowed unless escaped ([`StrList`]). Inline storage (`SmallVec`) was measured and lost, because the
/// flow struct grew to ~2 KB and serde moves it several times per decode (PARSERS.md, "single pass").
pub type Labels<'a> = StrList<'a>;
/// FQDN lists (`source_names`, `destination_names`), as [`Labels`].
pub type Names<'a> = StrList<'a>;
/// An endpoint's workloads: the line's own text when it is in the exporter's exact form, else a `Vec`
/// ([`WorkloadList`]).
pub type Workloads<'a> = WorkloadList<'a>;
/// HTTP headers.
pub type Headers<'a> = Vec<HttpHeader<'a>>;

/// A Hubble flow. See the module docs for the decoding rules.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Flow<'a> {
    /// `time`: RFC 3339 timestamp.
    #[serde(borrow, deserialize_with = "opt_str")]
    pub time: Option<Cow<'a, str>>,
    /// `uuid`.
    #[serde(borrow, deserialize_with = "opt_str")]
    pub uuid: Option<Cow<'a, str>>,
    /// `verdict` (`flow.Verdict`).
    #[serde(borrow)]
    pub verdict: Option<EnumValue<'a>>,
    /// `drop_reason` (deprecated uint32 code).
    #[serde(alias = "dropReason", deserialize_with = "opt_u32")]
    pub drop_reason: Option<u32>,
    /// `IP`.
    #[serde(rename = "IP", borrow)]
    pub ip: Option<Ip<'a>>,
    /// `l4`.
    pub l4: Option<Layer4>,
    /// `source` endpoint.
    #[serde(borrow)]
    pub source: Option<Endpoint<'a>>,
    /// `destination` endpoint.
    #[serde(borrow)]
    pub destination: Option<Endpoint<'a>>,
    /// `Type` (`flow.FlowType`).
    #[serde(rename = "Type", borrow)]
    pub flow_type: Option<EnumValue<'a>>,
    /// `node_name`: `cluster/node` in recent versions, plain node name before.
    #[serde(alias = "nodeName", borrow, deserialize_with = "opt_str")]
    pub node_name: Option<Cow<'a, str>>,
    /// `node_labels`.
    #[serde(alias = "nodeLabels", borrow, deserialize_with = "str_list")]
    pub node_labels: Labels<'a>,
    /// `source_names` (FQDNs).
    #[serde(alias = "sourceNames", borrow, deserialize_with = "str_list")]
    pub source_names: Names<'a>,
    /// `destination_names` (FQDNs).
    #[serde(alias = "destinationNames", borrow, deserialize_with = "str_list")]
    pub destination_names: Names<'a>,
    /// `l7`.
    #[serde(borrow)]
    pub l7: Option<Layer7<'a>>,
    /// `reply` (deprecated bool).
    pub reply: Option<bool>,
    /// `event_type` (`flow.CiliumEventType`).
    #[serde(alias = "eventType")]
    pub event_type: Option<CiliumEventType>,
    /// `source_service`.
    #[serde(alias = "sourceService", borrow)]
    pub source_service: Option<Service<'a>>,
    /// `destination_service`.
    #[serde(alias = "destinationService", borrow)]
    pub destination_service: Option<Service<'a>>,
    /// `traffic_direction` (`flow.TrafficDirection`).
    #[serde(alias = "trafficDirection", borrow)]
    pub traffic_direction: Option<EnumValue<'a>>,
    /// `trace_observation_point`.
    #[serde(alias = "traceObservationPoint", borrow)]
    pub trace_observation_point: Option<EnumValue<'a>>,
    /// `ip_trace_id`.
    #[serde(alias = "ipTraceId")]
    pub ip_trace_id: Option<IpTraceId>,
    /// `drop_reason_desc` (`flow.DropReason`).
    #[serde(alias = "dropReasonDesc", borrow)]
    pub drop_reason_desc: Option<EnumValue<'a>>,
    /// `is_reply` (BoolValue: present even when false).
    #[serde(alias = "isReply")]
    pub is_reply: Option<bool>,
    /// `interface`.
    #[serde(borrow)]
    pub interface: Option<NetworkInterface<'a>>,
    /// `trace_context`.
    #[serde(alias = "traceContext", borrow)]
    pub trace_context: Option<TraceContext<'a>>,
    /// `Summary` (deprecated human summary).
    #[serde(
        rename = "Summary",
        alias = "summary",
        borrow,
        deserialize_with = "opt_str"
    )]
    pub summary: Option<Cow<'a, str>>,
    /// `egress_denied_by`, passed through unparsed.
    #[serde(alias = "egressDeniedBy", borrow)]
    pub egress_denied_by: Option<RawJson<'a>>,
    /// `ingress_denied_by`, passed through unparsed.
    #[serde(alias = "ingressDeniedBy", borrow)]
    pub ingress_denied_by: Option<RawJson<'a>>,
    /// `aggregate`: flow counts of an aggregated record (Cilium ≥ 1.19 exporters with aggregation).
    pub aggregate: Option<Aggregate>,
}

/// `flow.Aggregate`: how many flows an aggregated exporter record stands for, by traffic direction (Cilium's
/// aggregator counts each flow once, under its `traffic_direction`; zero counts are omitted by protojson).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Aggregate {
    /// `ingress_flow_count`.
    #[serde(alias = "ingressFlowCount", deserialize_with = "u32_or_zero")]
    pub ingress_flow_count: u32,
    /// `egress_flow_count`.
    #[serde(alias = "egressFlowCount", deserialize_with = "u32_or_zero")]
    pub egress_flow_count: u32,
    /// `unknown_direction_flow_count`.
    #[serde(alias = "unknownDirectionFlowCount", deserialize_with = "u32_or_zero")]
    pub unknown_direction_flow_count: u32,
}

impl Flow<'_> {
    /// The drop reason's name: `drop_reason_desc` as sent when it is a name, else its number's name in
    /// `flow.DropReason`, else the deprecated `drop_reason` code's name (0 means none). `None` when there is no
    /// reason or only numbers this build does not know. The one rule for every place that shows a reason (the
    /// summary, the report).
    pub fn drop_reason_name(&self) -> Option<&str> {
        use crate::enums::DROP_REASON;
        self.drop_reason_desc
            .as_ref()
            .and_then(|v| DROP_REASON.name(v))
            .or_else(|| {
                self.drop_reason
                    .filter(|&c| c != 0)
                    .and_then(|c| i32::try_from(c).ok())
                    .and_then(|c| DROP_REASON.name_of(c))
            })
    }
}

impl Aggregate {
    /// The number of flows the record stands for: the sum of the three counts.
    pub fn flow_count(&self) -> u64 {
        u64::from(self.ingress_flow_count)
            + u64::from(self.egress_flow_count)
            + u64::from(self.unknown_direction_flow_count)
    }
}

/// `flow.IP`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Ip<'a> {
    /// Source address text.
    #[serde(borrow, deserialize_with = "opt_str")]
    pub source: Option<Cow<'a, str>>,
    /// Source address after SNAT.
    #[serde(alias = "sourceXlated", borrow, deserialize_with = "opt_str")]
    pub source_xlated: Option<Cow<'a, str>>,
    /// Destination address text.
    #[serde(borrow, deserialize_with = "opt_str")]
    pub destination: Option<Cow<'a, str>>,
    /// `ipVersion` (`flow.IPVersion`; this is the proto name).
    #[serde(rename = "ipVersion", alias = "ip_version", borrow)]
    pub ip_version: Option<EnumValue<'a>>,
    /// `encrypted`.
    pub encrypted: Option<bool>,
}

/// `flow.Layer4` (a oneof: at most one member is set).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Layer4 {
    /// TCP.
    #[serde(rename = "TCP")]
    pub tcp: Option<Tcp>,
    /// UDP.
    #[serde(rename = "UDP")]
    pub udp: Option<Ports>,
    /// SCTP.
    #[serde(rename = "SCTP")]
    pub sctp: Option<Ports>,
    /// ICMPv4.
    #[serde(rename = "ICMPv4")]
    pub icmpv4: Option<Icmp>,
    /// ICMPv6.
    #[serde(rename = "ICMPv6")]
    pub icmpv6: Option<Icmp>,
    /// VRRP.
    #[serde(rename = "VRRP")]
    pub vrrp: Option<serde::de::IgnoredAny>,
    /// IGMP.
    #[serde(rename = "IGMP")]
    pub igmp: Option<serde::de::IgnoredAny>,
}

/// The L4 protocol carried by a flow, with its ports where it has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
    /// ICMPv4.
    Icmpv4,
    /// ICMPv6.
    Icmpv6,
    /// VRRP.
    Vrrp,
    /// IGMP.
    Igmp,
}

impl L4Protocol {
    /// The `l4` key name, as the output record's `Protocol` column spells it.
    pub fn name(self) -> &'static str {
        match self {
            L4Protocol::Tcp => "TCP",
            L4Protocol::Udp => "UDP",
            L4Protocol::Sctp => "SCTP",
            L4Protocol::Icmpv4 => "ICMPv4",
            L4Protocol::Icmpv6 => "ICMPv6",
            L4Protocol::Vrrp => "VRRP",
            L4Protocol::Igmp => "IGMP",
        }
    }
}

impl Layer4 {
    /// Which oneof member is set (the first, in proto order, if the JSON sets several).
    pub fn protocol(&self) -> Option<L4Protocol> {
        if self.tcp.is_some() {
            Some(L4Protocol::Tcp)
        } else if self.udp.is_some() {
            Some(L4Protocol::Udp)
        } else if self.icmpv4.is_some() {
            Some(L4Protocol::Icmpv4)
        } else if self.icmpv6.is_some() {
            Some(L4Protocol::Icmpv6)
        } else if self.sctp.is_some() {
            Some(L4Protocol::Sctp)
        } else if self.vrrp.is_some() {
            Some(L4Protocol::Vrrp)
        } else if self.igmp.is_some() {
            Some(L4Protocol::Igmp)
        } else {
            None
        }
    }

    /// (source port, destination port) for the protocols that carry ports (TCP, UDP, SCTP).
    pub fn ports(&self) -> Option<(u32, u32)> {
        if let Some(t) = &self.tcp {
            Some((t.source_port, t.destination_port))
        } else if let Some(u) = &self.udp {
            Some((u.source_port, u.destination_port))
        } else {
            self.sctp
                .as_ref()
                .map(|s| (s.source_port, s.destination_port))
        }
    }
}

/// `flow.TCP`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Tcp {
    /// Source port.
    #[serde(alias = "sourcePort", deserialize_with = "u32_or_zero")]
    pub source_port: u32,
    /// Destination port.
    #[serde(alias = "destinationPort", deserialize_with = "u32_or_zero")]
    pub destination_port: u32,
    /// Flags (absent when none is set).
    pub flags: Option<TcpFlags>,
}

/// `flow.UDP` / `flow.SCTP`: ports only.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Ports {
    /// Source port.
    #[serde(alias = "sourcePort", deserialize_with = "u32_or_zero")]
    pub source_port: u32,
    /// Destination port.
    #[serde(alias = "destinationPort", deserialize_with = "u32_or_zero")]
    pub destination_port: u32,
}

/// `flow.ICMPv4` / `flow.ICMPv6`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Icmp {
    /// ICMP type.
    #[serde(rename = "type", deserialize_with = "u32_or_zero")]
    pub icmp_type: u32,
    /// ICMP code.
    #[serde(deserialize_with = "u32_or_zero")]
    pub code: u32,
}

/// `flow.TCPFlags`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct TcpFlags {
    #[serde(rename = "FIN")]
    pub fin: bool,
    #[serde(rename = "SYN")]
    pub syn: bool,
    #[serde(rename = "RST")]
    pub rst: bool,
    #[serde(rename = "PSH")]
    pub psh: bool,
    #[serde(rename = "ACK")]
    pub ack: bool,
    #[serde(rename = "URG")]
    pub urg: bool,
    #[serde(rename = "ECE")]
    pub ece: bool,
    #[serde(rename = "CWR")]
    pub cwr: bool,
    #[serde(rename = "NS")]
    pub ns: bool,
}

impl TcpFlags {
    /// (name, set) for every flag, in proto order.
    pub fn iter(&self) -> [(&'static str, bool); 9] {
        [
            ("FIN", self.fin),
            ("SYN", self.syn),
            ("RST", self.rst),
            ("PSH", self.psh),
            ("ACK", self.ack),
            ("URG", self.urg),
            ("ECE", self.ece),
            ("CWR", self.cwr),
            ("NS", self.ns),
        ]
    }
}

/// `flow.Endpoint`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Endpoint<'a> {
    /// Endpoint id (`ID`).
    #[serde(rename = "ID", deserialize_with = "opt_u32")]
    pub id: Option<u32>,
    /// Security identity.
    #[serde(deserialize_with = "opt_u32")]
    pub identity: Option<u32>,
    /// Cluster name.
    #[serde(alias = "clusterName", borrow, deserialize_with = "opt_str")]
    pub cluster_name: Option<Cow<'a, str>>,
    /// Namespace.
    #[serde(borrow, deserialize_with = "opt_str")]
    pub namespace: Option<Cow<'a, str>>,
    /// Labels, `source:key=value`.
    #[serde(borrow, deserialize_with = "str_list")]
    pub labels: Labels<'a>,
    /// Pod name.
    #[serde(alias = "podName", borrow, deserialize_with = "opt_str")]
    pub pod_name: Option<Cow<'a, str>>,
    /// Workloads (`{name, kind}`).
    #[serde(borrow, deserialize_with = "crate::workload_list::deserialize")]
    pub workloads: Workloads<'a>,
}

/// `flow.Service`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Service<'a> {
    /// Service name.
    #[serde(borrow, deserialize_with = "opt_str")]
    pub name: Option<Cow<'a, str>>,
    /// Service namespace.
    #[serde(borrow, deserialize_with = "opt_str")]
    pub namespace: Option<Cow<'a, str>>,
}

/// `flow.CiliumEventType`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct CiliumEventType {
    /// Monitor message type (1 drop, 4 trace, 5 policy verdict, 129 L7, ...).
    #[serde(rename = "type", deserialize_with = "i32_or_zero")]
    pub event_type: i32,
    /// Sub type (for drops: the drop reason code).
    #[serde(alias = "subType", deserialize_with = "i32_or_zero")]
    pub sub_type: i32,
}

fn i32_or_zero<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = i32;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an int32 (number or decimal string)")
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i32, E> {
            i32::try_from(v).map_err(|_| E::custom("int32 out of range"))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i32, E> {
            i32::try_from(v).map_err(|_| E::custom("int32 out of range"))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<i32, E> {
            v.trim()
                .parse()
                .map_err(|_| E::custom("invalid int32 string"))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<i32, E> {
            Ok(0)
        }
    }
    d.deserialize_any(V)
}

/// `flow.IPTraceID`.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(default)]
pub struct IpTraceId {
    /// Trace id (uint64, written as a string).
    #[serde(alias = "traceId", deserialize_with = "opt_u64")]
    pub trace_id: Option<u64>,
}

/// `flow.NetworkInterface`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NetworkInterface<'a> {
    /// Interface index.
    #[serde(deserialize_with = "u32_or_zero")]
    pub index: u32,
    /// Interface name.
    #[serde(borrow, deserialize_with = "opt_str")]
    pub name: Option<Cow<'a, str>>,
}

/// `flow.TraceContext`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TraceContext<'a> {
    /// Parent span context.
    #[serde(borrow)]
    pub parent: Option<TraceParent<'a>>,
}

/// `flow.TraceParent`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TraceParent<'a> {
    /// W3C trace id.
    #[serde(alias = "traceId", borrow, deserialize_with = "opt_str")]
    pub trace_id: Option<Cow<'a, str>>,
}

/// `flow.Layer7`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Layer7<'a> {
    /// `type` (`flow.L7FlowType`).
    #[serde(rename = "type", borrow)]
    pub l7_type: Option<EnumValue<'a>>,
    /// DNS record.
    #[serde(borrow)]
    pub dns: Option<Dns<'a>>,
    /// HTTP record.
    #[serde(borrow)]
    pub http: Option<Http<'a>>,
    /// Kafka record (only its presence matters here).
    pub kafka: Option<serde::de::IgnoredAny>,
}

/// `flow.DNS` (the fields filters use).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Dns<'a> {
    /// Query name, with its trailing `.`.
    #[serde(borrow, deserialize_with = "opt_str")]
    pub query: Option<Cow<'a, str>>,
}

/// `flow.HTTP`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Http<'a> {
    /// Status code (0 for requests).
    #[serde(deserialize_with = "u32_or_zero")]
    pub code: u32,
    /// Method.
    #[serde(borrow, deserialize_with = "opt_str")]
    pub method: Option<Cow<'a, str>>,
    /// Full URL.
    #[serde(borrow, deserialize_with = "opt_str")]
    pub url: Option<Cow<'a, str>>,
    /// Protocol (`HTTP/1.1`).
    #[serde(borrow, deserialize_with = "opt_str")]
    pub protocol: Option<Cow<'a, str>>,
    /// Headers.
    #[serde(borrow, deserialize_with = "list")]
    pub headers: Headers<'a>,
}

/// `flow.HTTPHeader`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct HttpHeader<'a> {
    /// Header name.
    #[serde(borrow, deserialize_with = "opt_str")]
    pub key: Option<Cow<'a, str>>,
    /// Header value.
    #[serde(borrow, deserialize_with = "opt_str")]
    pub value: Option<Cow<'a, str>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_policy_deny_flow() {
        let line = r#"{"time":"2026-07-31T10:41:02.202450754Z","uuid":"cd75","verdict":"DROPPED","drop_reason":181,"IP":{"source":"10.0.1.235","destination":"10.0.0.21","ipVersion":"IPv4"},"l4":{"TCP":{"source_port":60524,"destination_port":80,"flags":{"SYN":true}}},"source":{"ID":423,"identity":24753,"cluster_name":"topgun","namespace":"net-lab","labels":["k8s:app=traffic-generator"],"pod_name":"tg","workloads":[{"name":"traffic-generator","kind":"Deployment"}]},"destination":{"identity":"24075"},"Type":"L3_L4","node_name":"topgun/cilium-w1","event_type":{"type":5},"traffic_direction":"EGRESS","drop_reason_desc":"POLICY_DENY","Summary":"TCP Flags: SYN","egress_denied_by":[{"name":"deny"}],"unknown_field":{"x":[1,2]}}"#;
        let f: Flow = serde_json::from_str(line).unwrap();
        assert_eq!(f.uuid.as_deref(), Some("cd75"));
        assert_eq!(f.drop_reason, Some(181));
        let l4 = f.l4.as_ref().unwrap();
        assert_eq!(l4.protocol(), Some(L4Protocol::Tcp));
        assert_eq!(l4.ports(), Some((60524, 80)));
        assert!(l4.tcp.as_ref().unwrap().flags.unwrap().syn);
        assert_eq!(f.source.as_ref().unwrap().workloads.len(), 1);
        assert_eq!(f.destination.as_ref().unwrap().identity, Some(24075));
        assert_eq!(f.event_type.unwrap().event_type, 5);
        assert_eq!(f.egress_denied_by.unwrap().get(), r#"[{"name":"deny"}]"#);
        assert!(matches!(f.traffic_direction, Some(EnumValue::Name(ref n)) if n == "EGRESS"));
    }

    #[test]
    fn camel_case_and_nulls() {
        let f: Flow = serde_json::from_str(
            r#"{"nodeName":"n","dropReasonDesc":2,"eventType":{"type":"1","subType":181},"source":{"labels":null},"isReply":false}"#,
        )
        .unwrap();
        assert_eq!(f.node_name.as_deref(), Some("n"));
        assert_eq!(f.drop_reason_desc, Some(EnumValue::Number(2)));
        assert_eq!(f.event_type.unwrap().sub_type, 181);
        assert!(f.source.unwrap().labels.is_empty());
        assert_eq!(f.is_reply, Some(false));
    }

    #[test]
    fn drop_reason_name_prefers_the_description_then_the_code() {
        let name = |json: &str| {
            let f: Flow = serde_json::from_str(json).unwrap();
            f.drop_reason_name().map(str::to_owned)
        };
        assert_eq!(
            name(r#"{"drop_reason_desc":"POLICY_DENY","drop_reason":133}"#).as_deref(),
            Some("POLICY_DENY")
        );
        assert_eq!(
            name(r#"{"drop_reason_desc":133}"#).as_deref(),
            Some("POLICY_DENIED")
        );
        // An unknown description number falls back to a known code; the code alone is used when there is no
        // description; 0 and unknown numbers name nothing.
        assert_eq!(
            name(r#"{"drop_reason_desc":99999,"drop_reason":181}"#).as_deref(),
            Some("POLICY_DENY")
        );
        assert_eq!(
            name(r#"{"drop_reason":181}"#).as_deref(),
            Some("POLICY_DENY")
        );
        assert_eq!(name(r#"{"drop_reason":0}"#), None);
        assert_eq!(
            name(r#"{"drop_reason_desc":99999,"drop_reason":99999}"#),
            None
        );
        assert_eq!(name(r#"{}"#), None);
    }

    #[test]
    fn wrong_types_are_errors_not_panics() {
        assert!(serde_json::from_str::<Flow>("42").is_err());
        assert!(serde_json::from_str::<Flow>(r#"{"IP":"x"}"#).is_err());
        assert!(
            serde_json::from_str::<Flow>(r#"{"l4":{"TCP":{"source_port":70000000000}}}"#).is_err()
        );
    }
}
