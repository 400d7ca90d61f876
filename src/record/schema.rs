//! The output record's columns, each declared once: name, KQL type and JSON shape. The encoder writes only
//! [`Column`] values (so it cannot write an undeclared column), and everything needed to create the ADX table is
//! rendered from [`Column::ALL`]: `.create-merge table`, the JSON ingestion mapping (path `$.C` for column `C`),
//! the streaming ingestion policy, a JSON Schema of the record and a `Uuid` dedup view. Names that are not plain
//! identifiers are quoted. See ARCHITECTURE.md ("record") for how to add a column.

use std::fmt::Write as _;

/// Kusto scalar types used by the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KqlType {
    /// `datetime`.
    DateTime,
    /// `string`.
    String,
    /// `int` (32-bit).
    Int,
    /// `long` (64-bit).
    Long,
    /// `dynamic` (any JSON value).
    Dynamic,
}

impl KqlType {
    /// The KQL spelling (`datetime`, `string`, ...).
    pub fn as_kql(self) -> &'static str {
        match self {
            KqlType::DateTime => "datetime",
            KqlType::String => "string",
            KqlType::Int => "int",
            KqlType::Long => "long",
            KqlType::Dynamic => "dynamic",
        }
    }
}

/// The JSON shape of a column's values, for the JSON Schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// What the KQL type implies (string, date-time string, integer).
    Scalar,
    /// An array of strings.
    Strings,
    /// An object of string values.
    StringMap,
    /// An array of objects.
    Objects,
    /// Any object.
    Object,
}

/// Default table name used by `schemas/` files.
pub const DEFAULT_TABLE: &str = "HubbleFlows";
/// Default mapping name used by `schemas/` files.
pub const DEFAULT_MAPPING: &str = "HubbleFlowsMapping";

macro_rules! columns {
    ($($(#[doc = $doc:literal])* $variant:ident: $kql:ident $(, $shape:ident)?;)*) => {
        /// A column of the output record, in table order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Column {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Column {
            /// Every column, in table order.
            pub const ALL: &'static [Column] = &[$(Column::$variant,)*];

            /// The column name (also the record's JSON key).
            pub const fn name(self) -> &'static str {
                match self {
                    $(Column::$variant => stringify!($variant),)*
                }
            }

            /// The JSON key with its quotes and colon (`"Name":`), as the encoder writes it.
            pub const fn json_key(self) -> &'static str {
                match self {
                    $(Column::$variant => concat!("\"", stringify!($variant), "\":"),)*
                }
            }

            /// The KQL type.
            pub const fn kql_type(self) -> KqlType {
                match self {
                    $(Column::$variant => KqlType::$kql,)*
                }
            }

            /// The JSON shape of the values.
            pub const fn shape(self) -> Shape {
                match self {
                    $(Column::$variant => columns!(@shape $($shape)?),)*
                }
            }
        }
    };
    (@shape) => { Shape::Scalar };
    (@shape $shape:ident) => { Shape::$shape };
}

columns! {
    /// The flow's time (RFC 3339, nanoseconds).
    Timestamp: DateTime;
    /// The flow's UUID (dedup key).
    Uuid: String;
    /// The node that observed the flow (without the cluster prefix).
    NodeName: String;
    /// The cluster (from `cluster/node` or the source endpoint).
    ClusterName: String;
    /// FORWARDED, DROPPED, ...
    Verdict: String;
    /// The numeric drop reason (absent when 0).
    DropReason: Int;
    /// The drop reason's name (POLICY_DENY, ...).
    DropReasonDesc: String;
    /// INGRESS or EGRESS.
    TrafficDirection: String;
    /// The monitor event type (1 = drop).
    EventType: Int;
    /// The monitor event sub type (181 = policy deny for drops).
    EventSubType: Int;
    /// IPv4 or IPv6.
    IpVersion: String;
    /// TCP, UDP, ICMPv4, ICMPv6, SCTP.
    Protocol: String;
    /// Source address.
    SourceIP: String;
    /// Destination address.
    DestinationIP: String;
    /// Source port (absent when 0).
    SourcePort: Int;
    /// Destination port (absent when 0).
    DestinationPort: Int;
    /// Set TCP flags, comma-separated.
    TcpFlags: String;
    /// Source namespace.
    SourceNamespace: String;
    /// Source pod.
    SourcePod: String;
    /// Source security identity.
    SourceIdentity: Long;
    /// Source labels.
    SourceLabels: Dynamic, Strings;
    /// Source workloads (`{name, kind}`).
    SourceWorkloads: Dynamic, Objects;
    /// Destination namespace.
    DestinationNamespace: String;
    /// Destination pod.
    DestinationPod: String;
    /// Destination security identity.
    DestinationIdentity: Long;
    /// Destination labels.
    DestinationLabels: Dynamic, Strings;
    /// Destination workloads (`{name, kind}`).
    DestinationWorkloads: Dynamic, Objects;
    /// DNS names of the destination.
    DestinationNames: Dynamic, Strings;
    /// CIDR groups containing the source address.
    SourceCidrGroups: Dynamic, Strings;
    /// CIDR groups containing the destination address.
    DestinationCidrGroups: Dynamic, Strings;
    /// Labels of the source's CIDR groups.
    SourceCidrGroupLabels: Dynamic, StringMap;
    /// Labels of the destination's CIDR groups.
    DestinationCidrGroupLabels: Dynamic, StringMap;
    /// The policies that denied the flow (in its direction).
    PolicyDeniedBy: Dynamic, Objects;
    /// Hubble's one-line summary.
    Summary: String;
    /// Flows this record stands for: 1, or the sum of the counts of an aggregated record (Cilium 1.19
    /// `fieldAggregate`); `sum(FlowCount)` counts flows.
    FlowCount: Long;
    /// Ingress flows of an aggregated record.
    IngressFlowCount: Long;
    /// Egress flows of an aggregated record.
    EgressFlowCount: Long;
    /// Flows of unknown direction of an aggregated record.
    UnknownDirectionFlowCount: Long;
    /// The original flow object, byte for byte.
    Flow: Dynamic, Object;
}

/// A KQL entity name: plain identifiers as is, anything else as `['...']`.
pub fn kql_name(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("['{}']", name.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

fn kql_string(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `.create-merge table T (Col:type, ...)`.
pub fn create_table(table: &str) -> String {
    let columns: Vec<String> = Column::ALL
        .iter()
        .map(|c| format!("{}:{}", c.name(), c.kql_type().as_kql()))
        .collect();
    format!(
        ".create-merge table {} (\n    {}\n)",
        kql_name(table),
        columns.join(",\n    ")
    )
}

fn mapping_entry(c: Column) -> serde_json::Value {
    serde_json::json!({"column": c.name(), "datatype": c.kql_type().as_kql(), "Properties": {"Path": format!("$.{}", c.name())}})
}

/// The mapping JSON: one `{"column":C,"Properties":{"Path":"$.C"}}` per column.
pub fn mapping_json() -> String {
    serde_json::Value::Array(Column::ALL.iter().map(|&c| mapping_entry(c)).collect()).to_string()
}

/// `.create-or-alter table T ingestion json mapping "M" '[...]'`.
pub fn create_mapping(table: &str, mapping: &str) -> String {
    let entries: Vec<String> = Column::ALL
        .iter()
        .map(|&c| mapping_entry(c).to_string())
        .collect();
    format!(
        ".create-or-alter table {} ingestion json mapping {}\n'['\n'{}'\n']'",
        kql_name(table),
        kql_string(mapping),
        entries.join(",'\n'")
    )
}

/// `.alter table T policy streamingingestion enable`.
pub fn streaming_policy(table: &str) -> String {
    format!(
        ".alter table {} policy streamingingestion enable",
        kql_name(table)
    )
}

/// How long ADX keeps the `ingest-by:` tags of queued blobs (`--adx-dedup ingest-by`): one day.
/// A queued batch is re-sent only when its queue message may have been posted but the reply was
/// lost (retried within minutes, or at the next start from the spool); a re-send after the tag
/// expired is ingested twice (removable by `Uuid`). KQL timespan `d.hh:mm:ss`.
pub const INGEST_BY_TAG_RETENTION: &str = "1.00:00:00";

/// `.alter table T policy extent_tags_retention` dropping `ingest-by:` tags after
/// [`INGEST_BY_TAG_RETENTION`] (Microsoft advises expiring such tags: each one is extent metadata).
pub fn extent_tags_retention_policy(table: &str) -> String {
    format!(
        ".alter table {} policy extent_tags_retention ```[{{\"TagPrefix\": \"ingest-by:\", \"RetentionPeriod\": \"{INGEST_BY_TAG_RETENTION}\"}}]```",
        kql_name(table)
    )
}

/// A materialized view keeping one row per `Uuid`, plus the equivalent ad-hoc query.
pub fn dedup_view(table: &str) -> String {
    let t = kql_name(table);
    let view = kql_name(&format!("{table}Dedup"));
    format!(
        "// At-least-once delivery can store a flow twice (a reply lost after ADX accepted the data).\n\
         // This view keeps one row per Uuid; query it instead of the table.\n\
         .create materialized-view with (backfill=true) {view} on table {t}\n\
         {{\n    {t}\n    | summarize take_any(*) by Uuid\n}}\n\n\
         // Ad-hoc equivalent without the view:\n\
         // {t} | summarize take_any(*) by Uuid"
    )
}

/// JSON Schema (2020-12) of one record; `additionalProperties: false` so a stray field is caught.
pub fn json_schema() -> serde_json::Value {
    let mut properties = serde_json::Map::new();
    for &c in Column::ALL {
        let schema = match (c.shape(), c.kql_type()) {
            (Shape::Strings, _) => {
                serde_json::json!({"type": "array", "items": {"type": "string"}})
            }
            (Shape::StringMap, _) => {
                serde_json::json!({"type": "object", "additionalProperties": {"type": "string"}})
            }
            (Shape::Objects, _) => {
                serde_json::json!({"type": "array", "items": {"type": "object"}})
            }
            (Shape::Object, _) | (Shape::Scalar, KqlType::Dynamic) => {
                serde_json::json!({"type": "object"})
            }
            (Shape::Scalar, KqlType::DateTime) => {
                serde_json::json!({"type": "string", "format": "date-time"})
            }
            (Shape::Scalar, KqlType::String) => serde_json::json!({"type": "string"}),
            (Shape::Scalar, KqlType::Int) => {
                serde_json::json!({"type": "integer", "minimum": i32::MIN, "maximum": i32::MAX})
            }
            (Shape::Scalar, KqlType::Long) => serde_json::json!({"type": "integer"}),
        };
        properties.insert(c.name().to_string(), schema);
    }
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/hubble-ingest/hubble-ingest/schemas/record.schema.json",
        "title": "hubble-ingest flow record",
        "description": "One Hubble flow as written by hubble-ingest (NDJSON, one object per line). Absent values are omitted.",
        "type": "object",
        "properties": properties,
        "additionalProperties": false
    })
}

/// Everything, as one KQL script (the output of `hubble-ingest schema`).
pub fn render_schema(table: &str, mapping: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// Table for hubble-ingest flow records.\n{}\n",
        create_table(table)
    );
    let _ = writeln!(
        out,
        "// JSON ingestion mapping: column C is read from $.C of each record.\n{}\n",
        create_mapping(table, mapping)
    );
    let _ = writeln!(
        out,
        "// Streaming ingestion (also enable it on the cluster). Schema/mapping changes take up to 5 minutes\n\
         // to reach the streaming service; run `.clear cache streaming ingestion schema` after changing them.\n{}\n",
        streaming_policy(table)
    );
    let _ = writeln!(
        out,
        "// Queued ingestion with --adx-dedup ingest-by (the default) tags every blob `ingest-by:<batch id>` so a\n\
         // re-sent batch is not ingested twice. Each tag is extent metadata: expire them after a day.\n{}\n",
        extent_tags_retention_policy(table)
    );
    let _ = writeln!(out, "{}\n", dedup_view(table));
    let schema = serde_json::to_string_pretty(&json_schema()).unwrap_or_default();
    let _ = writeln!(out, "// JSON Schema of one record:");
    for line in schema.lines() {
        let _ = writeln!(out, "// {line}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_covers_exactly_the_columns() {
        let mapping: Vec<serde_json::Value> = serde_json::from_str(&mapping_json()).unwrap();
        let names: Vec<&str> = mapping
            .iter()
            .map(|m| m["column"].as_str().unwrap())
            .collect();
        let expected: Vec<&str> = Column::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names, expected);
        for m in &mapping {
            assert_eq!(
                m["Properties"]["Path"],
                format!("$.{}", m["column"].as_str().unwrap())
            );
        }
        let schema = json_schema();
        let props: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
        assert_eq!(props.len(), Column::ALL.len());
        for c in Column::ALL {
            assert!(schema["properties"].get(c.name()).is_some(), "{c:?}");
            assert_eq!(c.json_key(), format!("\"{}\":", c.name()));
        }
    }

    #[test]
    fn mapping_command_parses_back() {
        let cmd = create_mapping("T", "M");
        assert!(cmd.starts_with(".create-or-alter table T ingestion json mapping \"M\""));
        let json: String = cmd
            .lines()
            .skip(1)
            .map(|l| {
                l.trim_start_matches('\'')
                    .trim_end_matches(",'")
                    .trim_end_matches('\'')
            })
            .collect::<Vec<_>>()
            .join(",");
        let json = json.replace("[,", "[").replace(",]", "]");
        let parsed: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed.len(), Column::ALL.len());
    }

    #[test]
    fn names_are_quoted_when_needed() {
        assert_eq!(kql_name("HubbleFlows"), "HubbleFlows");
        assert_eq!(kql_name("my-table"), "['my-table']");
        assert_eq!(kql_name("it's"), "['it\\'s']");
        assert!(create_table("T").contains("Timestamp:datetime,\n    Uuid:string"));
        assert!(render_schema("T", "M").contains(".alter table T policy streamingingestion enable"));
        assert!(dedup_view("T").contains("take_any(*) by Uuid"));
        assert_eq!(
            extent_tags_retention_policy("my-table"),
            ".alter table ['my-table'] policy extent_tags_retention ```[{\"TagPrefix\": \"ingest-by:\", \"RetentionPeriod\": \"1.00:00:00\"}]```"
        );
        assert!(
            render_schema("T", "M").contains(".alter table T policy extent_tags_retention ```[")
        );
    }
}
