//! The ADX table for flow records (design.md "Output record") and everything needed to create it:
//! `.create-merge table`, the JSON ingestion mapping, the streaming ingestion policy, a JSON Schema
//! of the record and a `Uuid` dedup view. Guarantees: every rendering is derived from [`COLUMNS`],
//! so the table, the mapping (path `$.C` for column `C`) and the JSON Schema always name exactly
//! the same columns; names that are not plain identifiers are quoted.

use std::fmt::Write as _;

/// Kusto scalar types used by the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KqlType {
    DateTime,
    String,
    Int,
    Long,
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

/// Default table name used by `schemas/` files.
pub const DEFAULT_TABLE: &str = "HubbleFlows";
/// Default mapping name used by `schemas/` files.
pub const DEFAULT_MAPPING: &str = "HubbleFlowsMapping";

/// The record's columns, in table order.
pub const COLUMNS: &[(&str, KqlType)] = &[
    ("Timestamp", KqlType::DateTime),
    ("Uuid", KqlType::String),
    ("NodeName", KqlType::String),
    ("ClusterName", KqlType::String),
    ("Verdict", KqlType::String),
    ("DropReason", KqlType::Int),
    ("DropReasonDesc", KqlType::String),
    ("TrafficDirection", KqlType::String),
    ("EventType", KqlType::Int),
    ("EventSubType", KqlType::Int),
    ("IpVersion", KqlType::String),
    ("Protocol", KqlType::String),
    ("SourceIP", KqlType::String),
    ("DestinationIP", KqlType::String),
    ("SourcePort", KqlType::Int),
    ("DestinationPort", KqlType::Int),
    ("TcpFlags", KqlType::String),
    ("SourceNamespace", KqlType::String),
    ("SourcePod", KqlType::String),
    ("SourceIdentity", KqlType::Long),
    ("SourceLabels", KqlType::Dynamic),
    ("SourceWorkloads", KqlType::Dynamic),
    ("DestinationNamespace", KqlType::String),
    ("DestinationPod", KqlType::String),
    ("DestinationIdentity", KqlType::Long),
    ("DestinationLabels", KqlType::Dynamic),
    ("DestinationWorkloads", KqlType::Dynamic),
    ("DestinationNames", KqlType::Dynamic),
    ("SourceCidrGroups", KqlType::Dynamic),
    ("DestinationCidrGroups", KqlType::Dynamic),
    ("SourceCidrGroupLabels", KqlType::Dynamic),
    ("DestinationCidrGroupLabels", KqlType::Dynamic),
    ("PolicyDeniedBy", KqlType::Dynamic),
    ("Summary", KqlType::String),
    ("FlowCount", KqlType::Long),
    ("IngressFlowCount", KqlType::Long),
    ("EgressFlowCount", KqlType::Long),
    ("UnknownDirectionFlowCount", KqlType::Long),
    ("Flow", KqlType::Dynamic),
];

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
    let columns: Vec<String> = COLUMNS
        .iter()
        .map(|(c, t)| format!("{c}:{}", t.as_kql()))
        .collect();
    format!(
        ".create-merge table {} (\n    {}\n)",
        kql_name(table),
        columns.join(",\n    ")
    )
}

/// The mapping JSON: one `{"column":C,"Properties":{"Path":"$.C"}}` per column.
pub fn mapping_json() -> String {
    let entries: Vec<serde_json::Value> = COLUMNS
        .iter()
        .map(|(c, t)| {
            serde_json::json!({"column": c, "datatype": t.as_kql(), "Properties": {"Path": format!("$.{c}")}})
        })
        .collect();
    serde_json::Value::Array(entries).to_string()
}

/// `.create-or-alter table T ingestion json mapping "M" '[...]'`.
pub fn create_mapping(table: &str, mapping: &str) -> String {
    let entries: Vec<String> = COLUMNS
        .iter()
        .map(|(c, t)| {
            serde_json::json!({"column": c, "datatype": t.as_kql(), "Properties": {"Path": format!("$.{c}")}})
                .to_string()
        })
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
    for (name, ty) in COLUMNS {
        let schema = match (*name, ty) {
            (_, KqlType::DateTime) => serde_json::json!({"type": "string", "format": "date-time"}),
            (_, KqlType::String) => serde_json::json!({"type": "string"}),
            (_, KqlType::Int) => {
                serde_json::json!({"type": "integer", "minimum": i32::MIN, "maximum": i32::MAX})
            }
            (_, KqlType::Long) => serde_json::json!({"type": "integer"}),
            (
                "SourceLabels"
                | "DestinationLabels"
                | "DestinationNames"
                | "SourceCidrGroups"
                | "DestinationCidrGroups",
                KqlType::Dynamic,
            ) => {
                serde_json::json!({"type": "array", "items": {"type": "string"}})
            }
            ("SourceCidrGroupLabels" | "DestinationCidrGroupLabels", KqlType::Dynamic) => {
                serde_json::json!({"type": "object", "additionalProperties": {"type": "string"}})
            }
            ("SourceWorkloads" | "DestinationWorkloads" | "PolicyDeniedBy", KqlType::Dynamic) => {
                serde_json::json!({"type": "array", "items": {"type": "object"}})
            }
            (_, KqlType::Dynamic) => serde_json::json!({"type": "object"}),
        };
        properties.insert((*name).to_string(), schema);
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
        let expected: Vec<&str> = COLUMNS.iter().map(|(c, _)| *c).collect();
        assert_eq!(names, expected);
        for m in &mapping {
            assert_eq!(
                m["Properties"]["Path"],
                format!("$.{}", m["column"].as_str().unwrap())
            );
        }
        let schema = json_schema();
        let props: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
        assert_eq!(props.len(), COLUMNS.len());
        for (c, _) in COLUMNS {
            assert!(schema["properties"].get(*c).is_some(), "{c}");
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
        assert_eq!(parsed.len(), COLUMNS.len());
    }

    #[test]
    fn names_are_quoted_when_needed() {
        assert_eq!(kql_name("HubbleFlows"), "HubbleFlows");
        assert_eq!(kql_name("my-table"), "['my-table']");
        assert_eq!(kql_name("it's"), "['it\\'s']");
        assert!(create_table("T").contains("Timestamp:datetime,\n    Uuid:string"));
        assert!(render_schema("T", "M").contains(".alter table T policy streamingingestion enable"));
        assert!(dedup_view("T").contains("take_any(*) by Uuid"));
    }
}
