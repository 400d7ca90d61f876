//! Cilium's dynamic exporter configuration (`hubble-flowlogs-config-path`, `flowlogs.yaml`).
//!
//! Owns loading, validating and selecting one `flowLogs` entry:
//! ```yaml
//! flowLogs:
//! - name: test002
//!   filePath: /var/log/network/flow-log/pa/test002.log
//!   fieldMask: [source.namespace, verdict]
//!   includeFilters: [{source_pod: ["default/"], event_type: [{type: 1}]}]
//!   excludeFilters: []
//!   end: "2023-10-09T23:59:59-07:00"
//!   aggregationOptions: {windowInterval: 30s, aggregationFields: [source, destination]}   # Cilium ≥ 1.19
//! ```
//! Guarantees: parsed with serde-saphyr; keys of an entry that this crate does not use are ignored (Go's
//! encoding/json does the same), but unknown keys *inside a filter* are errors (protojson). Cilium's validation
//! messages are reproduced (`name is required`, `duplicated flowlog name`, `filePath is required`,
//! `duplicated flowlog path`). Every error names the file, and the line where the parser knows it.

use super::spec::FlowFilterSpec;
use super::{FilterError, FilterSet};
use serde::{Deserialize, Deserializer};
use std::path::Path;

/// One `flowLogs` entry (`exporter.FlowLogConfig`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct FlowLogConfig {
    /// `name` (required, unique).
    #[serde(deserialize_with = "string_or_null")]
    pub name: String,
    /// `filePath` (required, unique; `stdout` is allowed).
    #[serde(rename = "filePath", deserialize_with = "string_or_null")]
    pub file_path: String,
    /// `fieldMask`: Flow field paths kept by the exporter.
    #[serde(rename = "fieldMask", deserialize_with = "list_or_null")]
    pub field_mask: Vec<String>,
    /// `includeFilters` (the allowlist).
    #[serde(rename = "includeFilters", deserialize_with = "list_or_null")]
    pub include_filters: Vec<FlowFilterSpec>,
    /// `excludeFilters` (the denylist).
    #[serde(rename = "excludeFilters", deserialize_with = "list_or_null")]
    pub exclude_filters: Vec<FlowFilterSpec>,
    /// `end`: RFC 3339 time after which Cilium stops this exporter (kept as written).
    pub end: Option<String>,
    /// `fileMaxSizeMb` (0 = Cilium's default 10).
    #[serde(rename = "fileMaxSizeMb")]
    pub file_max_size_mb: Option<i64>,
    /// `fileMaxBackups` (0 = Cilium's default 5).
    #[serde(rename = "fileMaxBackups")]
    pub file_max_backups: Option<i64>,
    /// `fileCompress`.
    #[serde(rename = "fileCompress")]
    pub file_compress: Option<bool>,
    /// `aggregationOptions` (Cilium ≥ 1.19, PR cilium/cilium#42011): the exporter writes one record per
    /// window and distinct `aggregationFields` values, with an `aggregate` object of flow counts (carried into
    /// the `FlowCount` columns). Accepted as written; it changes nothing in how records are read.
    #[serde(rename = "aggregationOptions")]
    pub aggregation_options: Option<AggregationOptions>,
    /// `fieldAggregate`: the field list of the flow-aggregation design (CFP-37472), accepted like
    /// `aggregationOptions.aggregationFields`.
    #[serde(rename = "fieldAggregate", deserialize_with = "list_or_null")]
    pub field_aggregate: Vec<String>,
    /// `aggregationInterval`: the window of the flow-aggregation design, accepted as written.
    #[serde(rename = "aggregationInterval")]
    pub aggregation_interval: Option<serde_json::Value>,
}

/// `aggregationOptions` of a flowlog entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct AggregationOptions {
    /// `windowInterval` (a Go duration such as `100ms`, kept as written).
    #[serde(rename = "windowInterval")]
    pub window_interval: Option<serde_json::Value>,
    /// `aggregationFields`: Flow field paths that make up the aggregation key.
    #[serde(rename = "aggregationFields", deserialize_with = "list_or_null")]
    pub aggregation_fields: Vec<String>,
}

fn string_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

fn list_or_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize)]
struct DynamicExportersConfig {
    #[serde(rename = "flowLogs", default, deserialize_with = "list_or_null")]
    flow_logs: Vec<serde_saphyr::Spanned<FlowLogConfig>>,
}

/// An entry with the line it starts on (1-based; 0 if unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowLogEntry {
    /// The entry.
    pub config: FlowLogConfig,
    /// Line of the entry in the file.
    pub line: u64,
}

/// A loaded and validated `flowlogs.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowLogsFile {
    /// The file name, for messages.
    pub file: String,
    /// The entries, in file order.
    pub entries: Vec<FlowLogEntry>,
}

fn flowlogs_err(file: &str, reason: impl Into<String>) -> FilterError {
    FilterError::FlowLogs {
        file: file.to_string(),
        reason: reason.into(),
    }
}

impl FlowLogsFile {
    /// Reads and validates a file.
    pub fn load(path: &Path) -> Result<FlowLogsFile, FilterError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| flowlogs_err(&name, format!("cannot read: {e}")))?;
        FlowLogsFile::parse(&text, &name)
    }

    /// Parses and validates YAML text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<FlowLogsFile, FilterError> {
        let cfg: DynamicExportersConfig = if text.trim().is_empty() {
            DynamicExportersConfig {
                flow_logs: Vec::new(),
            }
        } else {
            serde_saphyr::from_str(text).map_err(|e| flowlogs_err(file, e.to_string()))?
        };
        let entries: Vec<FlowLogEntry> = cfg
            .flow_logs
            .into_iter()
            .map(|s| FlowLogEntry {
                line: s.defined.line(),
                config: s.value,
            })
            .collect();
        let mut names: Vec<&str> = Vec::new();
        let mut paths: Vec<&str> = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let at =
                |msg: &str| flowlogs_err(file, format!("line {}: flowLogs[{i}]: {msg}", e.line));
            if e.config.name.is_empty() {
                return Err(at("name is required"));
            }
            if names.contains(&e.config.name.as_str()) {
                return Err(at(&format!("duplicated flowlog name {:?}", e.config.name)));
            }
            names.push(&e.config.name);
            if e.config.file_path.is_empty() {
                return Err(at("filePath is required"));
            }
            if paths.contains(&e.config.file_path.as_str()) {
                return Err(at(&format!(
                    "duplicated flowlog path {:?}",
                    e.config.file_path
                )));
            }
            paths.push(&e.config.file_path);
        }
        Ok(FlowLogsFile {
            file: file.to_string(),
            entries,
        })
    }

    /// The entry named `name`; without a name, the only entry (an error listing the names if there are several).
    pub fn select(&self, name: Option<&str>) -> Result<&FlowLogEntry, FilterError> {
        let names = || {
            self.entries
                .iter()
                .map(|e| e.config.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match name {
            Some(n) => self
                .entries
                .iter()
                .find(|e| e.config.name == n)
                .ok_or_else(|| {
                    flowlogs_err(
                        &self.file,
                        format!("no flowlog named {n:?} (available: {})", names()),
                    )
                }),
            None => match self.entries.as_slice() {
                [one] => Ok(one),
                [] => Err(flowlogs_err(&self.file, "no flowLogs entries")),
                _ => Err(flowlogs_err(
                    &self.file,
                    format!(
                        "several flowlogs defined, choose one with --flowlog NAME: {}",
                        names()
                    ),
                )),
            },
        }
    }
}

impl FlowLogEntry {
    /// Builds the entry's include/exclude filters; errors name the file, line and entry.
    pub fn filter_set(&self, file: &str) -> Result<FilterSet, FilterError> {
        FilterSet::build(
            self.config.include_filters.clone(),
            self.config.exclude_filters.clone(),
        )
        .map_err(|e| {
            flowlogs_err(
                file,
                format!("line {}: flowlog {:?}: {e}", self.line, self.config.name),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"
flowLogs:
- name: "test001"
  filePath: "/var/log/network/flow-log/pa/test001.log"
  fieldMask: []
  includeFilters: []
  excludeFilters: []
  end: "2023-10-09T23:59:59-07:00"
- name: "test002"
  filePath: "/var/log/network/flow-log/pa/test002.log"
  fieldMask: ["source.namespace", "source.pod_name", "destination.namespace", "destination.pod_name", "verdict"]
  includeFilters:
  - source_pod: ["default/"]
    event_type:
    - type: 1
  - destination_pod: ["frontend/nginx-975996d4c-7hhgt"]
  excludeFilters: []
  end: "2023-10-09T23:59:59-07:00"
- name: "test003"
  filePath: "/var/log/network/flow-log/pa/test003.log"
  fieldMask: ["source", "destination","verdict"]
  includeFilters: []
  excludeFilters:
  - destination_pod: ["ingress/"]
"#;

    #[test]
    fn parses_cilium_example_and_selects() {
        let f = FlowLogsFile::parse(VALID, "flowlogs.yaml").unwrap();
        assert_eq!(f.entries.len(), 3);
        let e = f.select(Some("test002")).unwrap();
        assert_eq!(e.config.include_filters.len(), 2);
        assert_eq!(e.config.include_filters[0].event_type[0].event_type, 1);
        assert_eq!(e.config.include_filters[0].source_pod, vec!["default/"]);
        assert!(e.line > 1);
        assert!(e.filter_set(&f.file).is_ok());
        let err = f.select(None).unwrap_err().to_string();
        assert!(err.contains("test001, test002, test003"), "{err}");
        assert!(f.select(Some("nope")).is_err());
    }

    #[test]
    fn validation_messages() {
        let e = FlowLogsFile::parse("flowLogs:\n- filePath: a\n", "f.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("f.yaml") && e.contains("name is required"),
            "{e}"
        );
        let e = FlowLogsFile::parse("flowLogs:\n- name: a\n", "f.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("filePath is required"), "{e}");
        let e = FlowLogsFile::parse(
            "flowLogs:\n- name: a\n  filePath: x\n- name: a\n  filePath: y\n",
            "f.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("duplicated flowlog name") && e.contains("line 4"),
            "{e}"
        );
        let e = FlowLogsFile::parse(
            "flowLogs:\n- name: a\n  filePath: x\n- name: b\n  filePath: x\n",
            "f.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("duplicated flowlog path"), "{e}");
    }

    #[test]
    fn filter_keys_are_strict_and_camel_case_works() {
        let e = FlowLogsFile::parse(
            "flowLogs:\n- name: a\n  filePath: x\n  includeFilters:\n  - source_pods: [\"x\"]\n",
            "f.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("f.yaml") && e.contains("source_pods"), "{e}");
        let f = FlowLogsFile::parse(
            "flowLogs:\n- name: a\n  filePath: x\n  unknownTopLevel: 1\n  includeFilters:\n  - sourcePod: [\"x\"]\n    eventType: [{type: \"1\", matchSubType: true, subType: 181}]\n    trafficDirection: [EGRESS]\n",
            "f.yaml",
        )
        .unwrap();
        let e = &f.entries[0].config.include_filters[0];
        assert_eq!(e.source_pod, vec!["x"]);
        assert_eq!(e.event_type[0].sub_type, 181);
        assert_eq!(e.traffic_direction, vec![2]);
        let one = f.select(None).unwrap();
        assert_eq!(one.config.name, "a");
    }

    #[test]
    fn build_errors_name_the_entry() {
        let f = FlowLogsFile::parse(
            "flowLogs:\n- name: bad\n  filePath: x\n  includeFilters:\n  - source_ip: [\"300.1.1.1\"]\n",
            "f.yaml",
        )
        .unwrap();
        let e = f.entries[0].filter_set(&f.file).unwrap_err().to_string();
        assert!(
            e.contains("f.yaml") && e.contains("\"bad\"") && e.contains("source_ip"),
            "{e}"
        );
    }
}

#[cfg(test)]
mod cilium_1_19_tests {
    use super::*;

    #[test]
    fn aggregation_and_field_mask_keys_are_accepted_without_warnings() {
        let f = FlowLogsFile::parse(
            concat!(
                "flowLogs:\n",
                "- name: aggregator-1\n",
                "  filePath: /var/run/cilium/hubble/aggregated.log\n",
                "  fieldMask: [source, destination, verdict, time, aggregate]\n",
                "  aggregationOptions:\n",
                "    windowInterval: 100ms\n",
                "    aggregationFields: [source, destination]\n",
                "  fieldAggregate: [source.namespace, destination.namespace]\n",
                "  aggregationInterval: 30s\n",
                "  fileMaxSizeMb: 20\n",
                "  fileMaxBackups: 3\n",
                "  fileCompress: true\n",
                "  end: \"2030-01-01T00:00:00Z\"\n",
                "  includeFilters:\n",
                "  - verdict: [DROPPED]\n",
            ),
            "flowlogs.yaml",
        )
        .unwrap();
        let e = f.select(None).unwrap();
        let agg = e.config.aggregation_options.as_ref().unwrap();
        assert_eq!(agg.aggregation_fields, ["source", "destination"]);
        assert_eq!(e.config.field_aggregate.len(), 2);
        assert_eq!(e.config.field_mask.len(), 5);
        let set = e.filter_set(&f.file).unwrap();
        assert!(set.warnings().is_empty(), "{:?}", set.warnings());
    }
}

#[cfg(test)]
mod position_tests {
    #[test]
    fn parser_errors_carry_a_position() {
        let e = super::FlowLogsFile::parse(
            "flowLogs:\n- name: a\n  filePath: x\n  includeFilters:\n  - verdict: [\"NOPE\"]\n",
            "f.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("line 5") || e.contains("5:"), "{e}");
    }
}
