//! The Hubble `flow.FlowFilter` message as a deserialisable value, accepted exactly as protojson accepts it.
//!
//! Owns: the field set of cilium v1.19 `flow.proto` `FlowFilter` (and its nested messages), decoding from JSON
//! (`--hubble-export-allowlist` text, `--allowlist` flags) and YAML (`flowlogs.yaml`), and encoding back to the
//! JSON that `hubble observe --print-raw-filters` prints.
//!
//! Guarantees (protojson rules): both proto names (`source_pod`) and lowerCamel JSON names (`sourcePod`) are
//! accepted; an unknown key is an error; enums are accepted by exact name or by number; integer fields accept
//! numbers or decimal strings; `null` means "unset". Enum values are stored as numbers. Serialisation writes proto
//! names in `.proto` declaration order, omits empty fields and writes enum names (numbers for unknown values),
//! like `protojson.MarshalOptions{UseProtoNames: true}`.

use crate::enums::{EnumTable, DROP_REASON, IP_VERSION, TRAFFIC_DIRECTION, VERDICT};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use std::fmt;

/// `flow.FlowFilter`: one filter; its set fields are AND'ed, the values within a field OR'ed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[allow(missing_docs)]
pub struct FlowFilterSpec {
    #[serde(deserialize_with = "strings", skip_serializing_if = "Vec::is_empty")]
    pub uuid: Vec<String>,
    #[serde(
        alias = "sourceIp",
        deserialize_with = "strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub source_ip: Vec<String>,
    #[serde(
        alias = "sourceIpXlated",
        deserialize_with = "strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub source_ip_xlated: Vec<String>,
    #[serde(
        alias = "sourcePod",
        deserialize_with = "strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub source_pod: Vec<String>,
    #[serde(
        alias = "sourceFqdn",
        deserialize_with = "strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub source_fqdn: Vec<String>,
    #[serde(
        alias = "sourceLabel",
        deserialize_with = "strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub source_label: Vec<String>,
    #[serde(
        alias = "sourceService",
        deserialize_with = "strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub source_service: Vec<String>,
    #[serde(
        alias = "sourceWorkload",
        deserialize_with = "messages",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub source_workload: Vec<WorkloadSpec>,
    #[serde(
        alias = "sourceClusterName",
        deserialize_with = "strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub source_cluster_name: Vec<String>,
    #[serde(
        alias = "destinationIp",
        deserialize_with = "strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub destination_ip: Vec<String>,
    #[serde(
        alias = "destinationPod",
        deserialize_with = "strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub destination_pod: Vec<String>,
    #[serde(
        alias = "destinationFqdn",
        deserialize_with = "strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub destination_fqdn: Vec<String>,
    #[serde(
        alias = "destinationLabel",
        deserialize_with = "strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub destination_label: Vec<String>,
    #[serde(
        alias = "destinationService",
        deserialize_with = "strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub destination_service: Vec<String>,
    #[serde(
        alias = "destinationWorkload",
        deserialize_with = "messages",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub destination_workload: Vec<WorkloadSpec>,
    #[serde(
        alias = "destinationClusterName",
        deserialize_with = "strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub destination_cluster_name: Vec<String>,
    /// `flow.TrafficDirection` numbers.
    #[serde(
        alias = "trafficDirection",
        deserialize_with = "traffic_directions",
        serialize_with = "ser_traffic_directions",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub traffic_direction: Vec<i32>,
    /// `flow.Verdict` numbers.
    #[serde(
        deserialize_with = "verdicts",
        serialize_with = "ser_verdicts",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub verdict: Vec<i32>,
    /// `flow.DropReason` numbers.
    #[serde(
        alias = "dropReasonDesc",
        deserialize_with = "drop_reasons",
        serialize_with = "ser_drop_reasons",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub drop_reason_desc: Vec<i32>,
    #[serde(deserialize_with = "messages", skip_serializing_if = "Vec::is_empty")]
    pub interface: Vec<NetworkInterfaceSpec>,
    #[serde(
        alias = "eventType",
        deserialize_with = "messages",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub event_type: Vec<EventTypeFilterSpec>,
    #[serde(
        alias = "httpStatusCode",
        deserialize_with = "strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub http_status_code: Vec<String>,
    #[serde(deserialize_with = "strings", skip_serializing_if = "Vec::is_empty")]
    pub protocol: Vec<String>,
    #[serde(
        alias = "sourcePort",
        deserialize_with = "strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub source_port: Vec<String>,
    #[serde(
        alias = "destinationPort",
        deserialize_with = "strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub destination_port: Vec<String>,
    #[serde(deserialize_with = "bools", skip_serializing_if = "Vec::is_empty")]
    pub reply: Vec<bool>,
    #[serde(
        alias = "dnsQuery",
        deserialize_with = "strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub dns_query: Vec<String>,
    #[serde(
        alias = "sourceIdentity",
        deserialize_with = "u32s",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub source_identity: Vec<u32>,
    #[serde(
        alias = "destinationIdentity",
        deserialize_with = "u32s",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub destination_identity: Vec<u32>,
    #[serde(
        alias = "httpMethod",
        deserialize_with = "strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub http_method: Vec<String>,
    #[serde(
        alias = "httpPath",
        deserialize_with = "strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub http_path: Vec<String>,
    #[serde(
        alias = "httpUrl",
        deserialize_with = "strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub http_url: Vec<String>,
    #[serde(
        alias = "httpHeader",
        deserialize_with = "messages",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub http_header: Vec<HttpHeaderSpec>,
    #[serde(
        alias = "tcpFlags",
        deserialize_with = "messages",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tcp_flags: Vec<TcpFlagsSpec>,
    #[serde(
        alias = "nodeName",
        deserialize_with = "strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub node_name: Vec<String>,
    #[serde(
        alias = "nodeLabels",
        deserialize_with = "strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub node_labels: Vec<String>,
    /// `flow.IPVersion` numbers.
    #[serde(
        alias = "ipVersion",
        deserialize_with = "ip_versions",
        serialize_with = "ser_ip_versions",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ip_version: Vec<i32>,
    #[serde(
        alias = "traceId",
        deserialize_with = "strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub trace_id: Vec<String>,
    #[serde(
        alias = "ipTraceId",
        deserialize_with = "u64s",
        serialize_with = "ser_u64s_as_strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ip_trace_id: Vec<u64>,
    #[serde(deserialize_with = "bools", skip_serializing_if = "Vec::is_empty")]
    pub encrypted: Vec<bool>,
    #[serde(deserialize_with = "optional", skip_serializing_if = "Option::is_none")]
    pub experimental: Option<ExperimentalSpec>,
}

/// `flow.EventTypeFilter`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventTypeFilterSpec {
    /// Monitor message type; 0 matches every type.
    #[serde(
        rename = "type",
        deserialize_with = "i32_value",
        skip_serializing_if = "is_zero_i32"
    )]
    pub event_type: i32,
    /// Whether `sub_type` is compared at all (0 is a valid sub type).
    #[serde(
        alias = "matchSubType",
        deserialize_with = "bool_value",
        skip_serializing_if = "is_false"
    )]
    pub match_sub_type: bool,
    /// Sub type (drop reason for drops, observation point for traces).
    #[serde(
        alias = "subType",
        deserialize_with = "i32_value",
        skip_serializing_if = "is_zero_i32"
    )]
    pub sub_type: i32,
}

/// `flow.Workload` used as a filter: empty fields are wildcards.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Workload name.
    #[serde(
        deserialize_with = "string_value",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    /// Workload kind.
    #[serde(
        deserialize_with = "string_value",
        skip_serializing_if = "String::is_empty"
    )]
    pub kind: String,
}

/// `flow.HTTPHeader` used as a filter (exact key and value).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpHeaderSpec {
    /// Header name.
    #[serde(
        deserialize_with = "string_value",
        skip_serializing_if = "String::is_empty"
    )]
    pub key: String,
    /// Header value.
    #[serde(
        deserialize_with = "string_value",
        skip_serializing_if = "String::is_empty"
    )]
    pub value: String,
}

/// `flow.NetworkInterface` used as a filter: 0 / empty are wildcards.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkInterfaceSpec {
    /// Interface index.
    #[serde(deserialize_with = "u32_value", skip_serializing_if = "is_zero_u32")]
    pub index: u32,
    /// Interface name.
    #[serde(
        deserialize_with = "string_value",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
}

/// `flow.TCPFlags` used as a filter: every flag set here must be set in the flow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[allow(missing_docs)]
pub struct TcpFlagsSpec {
    #[serde(
        rename = "FIN",
        deserialize_with = "bool_value",
        skip_serializing_if = "is_false"
    )]
    pub fin: bool,
    #[serde(
        rename = "SYN",
        deserialize_with = "bool_value",
        skip_serializing_if = "is_false"
    )]
    pub syn: bool,
    #[serde(
        rename = "RST",
        deserialize_with = "bool_value",
        skip_serializing_if = "is_false"
    )]
    pub rst: bool,
    #[serde(
        rename = "PSH",
        deserialize_with = "bool_value",
        skip_serializing_if = "is_false"
    )]
    pub psh: bool,
    #[serde(
        rename = "ACK",
        deserialize_with = "bool_value",
        skip_serializing_if = "is_false"
    )]
    pub ack: bool,
    #[serde(
        rename = "URG",
        deserialize_with = "bool_value",
        skip_serializing_if = "is_false"
    )]
    pub urg: bool,
    #[serde(
        rename = "ECE",
        deserialize_with = "bool_value",
        skip_serializing_if = "is_false"
    )]
    pub ece: bool,
    #[serde(
        rename = "CWR",
        deserialize_with = "bool_value",
        skip_serializing_if = "is_false"
    )]
    pub cwr: bool,
    #[serde(
        rename = "NS",
        deserialize_with = "bool_value",
        skip_serializing_if = "is_false"
    )]
    pub ns: bool,
}

impl TcpFlagsSpec {
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

/// `flow.FlowFilter.Experimental`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExperimentalSpec {
    /// CEL expressions (not supported by this implementation: building a filter that sets one fails).
    #[serde(
        alias = "celExpression",
        deserialize_with = "strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub cel_expression: Vec<String>,
}

impl FlowFilterSpec {
    /// Parses one FlowFilter JSON object.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The protojson text (`UseProtoNames`) of this filter, as `hubble observe --print-raw-filters` prints it.
    pub fn to_json(&self) -> String {
        // Serialising plain strings, numbers and bools into a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Parses Cilium's `--hubble-export-allowlist` / `--hubble-export-denylist` syntax: a whitespace-separated
/// sequence of JSON FlowFilter objects. A single JSON array of objects is accepted too. Empty input is the empty
/// list. Errors name the position (1-based object number, line and column) and the reason.
pub fn parse_filter_list(text: &str) -> Result<Vec<FlowFilterSpec>, String> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        let mut de = serde_json::Deserializer::from_str(text);
        let list: Vec<FlowFilterSpec> =
            Deserialize::deserialize(&mut de).map_err(|e| e.to_string())?;
        de.end()
            .map_err(|e| format!("after the filter array: {e}"))?;
        return Ok(list);
    }
    let mut out = Vec::new();
    let stream = serde_json::Deserializer::from_str(text).into_iter::<FlowFilterSpec>();
    for (i, item) in stream.enumerate() {
        match item {
            Ok(f) => out.push(f),
            Err(e) => return Err(format!("filter #{}: {e}", i + 1)),
        }
    }
    Ok(out)
}

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}
fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

// ---- scalar decoders (protojson rules) ----

fn integral_f64<E: de::Error>(v: f64) -> Result<i128, E> {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1.9e19 {
        Ok(v as i128)
    } else {
        Err(E::custom(format!("invalid integer value {v}")))
    }
}

/// An integer written as a JSON number or a decimal string, widened to i128 for range checks.
struct IntVisitor;

impl Visitor<'_> for IntVisitor {
    type Value = i128;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer (number or decimal string)")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i128, E> {
        Ok(v.into())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i128, E> {
        Ok(v.into())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i128, E> {
        integral_f64(v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<i128, E> {
        if let Ok(n) = v.parse::<i128>() {
            return Ok(n);
        }
        match v.parse::<f64>() {
            Ok(f) if !v.is_empty() => integral_f64(f),
            _ => Err(E::custom(format!("invalid integer value {v:?}"))),
        }
    }
}

fn int_in<'de, D: Deserializer<'de>, T: TryFrom<i128>>(d: D, what: &str) -> Result<T, D::Error> {
    let v = d.deserialize_any(IntVisitor)?;
    T::try_from(v).map_err(|_| de::Error::custom(format!("value {v} out of range for {what}")))
}

fn i32_value<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    Ok(Option::<I32>::deserialize(d)?.map(|v| v.0).unwrap_or(0))
}
fn u32_value<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    Ok(Option::<U32>::deserialize(d)?.map(|v| v.0).unwrap_or(0))
}
fn bool_value<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(false))
}
fn string_value<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}
fn optional<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    Option::<T>::deserialize(d)
}

struct I32(i32);
impl<'de> Deserialize<'de> for I32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        int_in(d, "int32").map(I32)
    }
}
struct U32(u32);
impl<'de> Deserialize<'de> for U32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        int_in(d, "uint32").map(U32)
    }
}
struct U64(u64);
impl<'de> Deserialize<'de> for U64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        int_in(d, "uint64").map(U64)
    }
}

fn list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}
fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    list(d)
}
fn bools<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<bool>, D::Error> {
    list(d)
}
fn messages<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    list(d)
}
fn u32s<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u32>, D::Error> {
    Ok(list::<D, U32>(d)?.into_iter().map(|v| v.0).collect())
}
fn u64s<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    Ok(list::<D, U64>(d)?.into_iter().map(|v| v.0).collect())
}

/// An enum value by name (exact) or number.
struct EnumVisitor(&'static EnumTable);

impl Visitor<'_> for EnumVisitor {
    type Value = i32;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a {} name or number", self.0.name)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i32, E> {
        i32::try_from(v).map_err(|_| E::custom(format!("{} number {v} out of range", self.0.name)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i32, E> {
        i32::try_from(v).map_err(|_| E::custom(format!("{} number {v} out of range", self.0.name)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i32, E> {
        let n = integral_f64::<E>(v)?;
        i32::try_from(n).map_err(|_| E::custom(format!("{} number {v} out of range", self.0.name)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<i32, E> {
        self.0
            .code_of_name(v)
            .ok_or_else(|| E::custom(format!("invalid value for enum {}: {v:?}", self.0.name)))
    }
}

struct EnumListVisitor(&'static EnumTable);

impl<'de> Visitor<'de> for EnumListVisitor {
    type Value = Vec<i32>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a list of {} names or numbers", self.0.name)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Vec<i32>, E> {
        Ok(Vec::new())
    }
    fn visit_none<E: de::Error>(self) -> Result<Vec<i32>, E> {
        Ok(Vec::new())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Vec<i32>, D::Error> {
        d.deserialize_seq(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<i32>, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(EnumSeed(self.0))? {
            out.push(v);
        }
        Ok(out)
    }
}

struct EnumSeed(&'static EnumTable);

impl<'de> de::DeserializeSeed<'de> for EnumSeed {
    type Value = i32;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<i32, D::Error> {
        d.deserialize_any(EnumVisitor(self.0))
    }
}

fn enum_list<'de, D: Deserializer<'de>>(d: D, t: &'static EnumTable) -> Result<Vec<i32>, D::Error> {
    d.deserialize_option(EnumListVisitor(t))
}
fn verdicts<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i32>, D::Error> {
    enum_list(d, &VERDICT)
}
fn traffic_directions<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i32>, D::Error> {
    enum_list(d, &TRAFFIC_DIRECTION)
}
fn drop_reasons<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i32>, D::Error> {
    enum_list(d, &DROP_REASON)
}
fn ip_versions<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i32>, D::Error> {
    enum_list(d, &IP_VERSION)
}

fn ser_enum_list<S: Serializer>(v: &[i32], t: &EnumTable, s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(v.len()))?;
    for &n in v {
        match t.name_of(n) {
            Some(name) => seq.serialize_element(name)?,
            None => seq.serialize_element(&n)?,
        }
    }
    seq.end()
}
fn ser_verdicts<S: Serializer>(v: &[i32], s: S) -> Result<S::Ok, S::Error> {
    ser_enum_list(v, &VERDICT, s)
}
fn ser_traffic_directions<S: Serializer>(v: &[i32], s: S) -> Result<S::Ok, S::Error> {
    ser_enum_list(v, &TRAFFIC_DIRECTION, s)
}
fn ser_drop_reasons<S: Serializer>(v: &[i32], s: S) -> Result<S::Ok, S::Error> {
    ser_enum_list(v, &DROP_REASON, s)
}
fn ser_ip_versions<S: Serializer>(v: &[i32], s: S) -> Result<S::Ok, S::Error> {
    ser_enum_list(v, &IP_VERSION, s)
}
fn ser_u64s_as_strings<S: Serializer>(v: &[u64], s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(v.len()))?;
    for n in v {
        seq.serialize_element(&n.to_string())?;
    }
    seq.end()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proto_and_camel_names_enums_by_name_or_number() {
        let a = FlowFilterSpec::from_json(
            r#"{"event_type":[{"type":1,"match_sub_type":true,"sub_type":181}],"traffic_direction":["EGRESS"]}"#,
        )
        .unwrap();
        let b = FlowFilterSpec::from_json(
            r#"{"eventType":[{"type":"1","matchSubType":true,"subType":"181"}],"trafficDirection":[2]}"#,
        )
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.traffic_direction, vec![2]);
        assert_eq!(a.event_type[0].sub_type, 181);
        assert_eq!(
            a.to_json(),
            r#"{"traffic_direction":["EGRESS"],"event_type":[{"type":1,"match_sub_type":true,"sub_type":181}]}"#
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        assert!(FlowFilterSpec::from_json(r#"{"source_pods":["x"]}"#).is_err());
        assert!(FlowFilterSpec::from_json(r#"{"event_type":[{"type":1,"subtype":2}]}"#).is_err());
        assert!(FlowFilterSpec::from_json(r#"{"verdict":["dropped"]}"#).is_err());
        assert!(FlowFilterSpec::from_json(r#"{"verdict":["2"]}"#).is_err());
        assert!(FlowFilterSpec::from_json(r#"{"source_identity":[-1]}"#).is_err());
        assert!(FlowFilterSpec::from_json(r#"{"source_pod":"x"}"#).is_err());
        assert!(FlowFilterSpec::from_json(r#"{"source_pod":["a"],"sourcePod":["b"]}"#).is_err());
        assert!(FlowFilterSpec::from_json(r#"{"reply":["true"]}"#).is_err());
    }

    #[test]
    fn nulls_numbers_and_unknown_enum_numbers() {
        let f = FlowFilterSpec::from_json(
            r#"{"source_pod":null,"verdict":[2,99],"ip_trace_id":["18446744073709551615"],"source_identity":["7",8],"experimental":null}"#,
        )
        .unwrap();
        assert!(f.source_pod.is_empty());
        assert_eq!(f.verdict, vec![2, 99]);
        assert_eq!(f.ip_trace_id, vec![u64::MAX]);
        assert_eq!(f.source_identity, vec![7, 8]);
        assert_eq!(
            f.to_json(),
            r#"{"verdict":["DROPPED",99],"source_identity":[7,8],"ip_trace_id":["18446744073709551615"]}"#
        );
    }

    #[test]
    fn filter_list_syntax() {
        let l = parse_filter_list(" {\"verdict\":[\"DROPPED\"]}\n {\"uuid\":[\"a\"]} ").unwrap();
        assert_eq!(l.len(), 2);
        let l = parse_filter_list(r#"[{"verdict":["DROPPED"]},{"uuid":["a"]}]"#).unwrap();
        assert_eq!(l.len(), 2);
        assert!(parse_filter_list("").unwrap().is_empty());
        let e = parse_filter_list(r#"{"verdict":["DROPPED"]},{"uuid":["a"]}"#).unwrap_err();
        assert!(e.contains("filter #2"), "{e}");
        assert!(parse_filter_list(r#"{"nope":1}"#)
            .unwrap_err()
            .contains("unknown field"));
    }
}
