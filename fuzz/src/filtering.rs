//! Decoder and filter properties.
//!
//! - [`check_decode`]: `hubble_flow::decode` on arbitrary bytes; every decoded record goes through a fixed
//!   family of filter sets (the project default plus one set per filter family) and, for each set, the
//!   prefilter must not reject a line the set keeps.
//! - [`check_filter_spec`]: arbitrary text as an allowlist; when it parses, it must re-parse from its own
//!   `to_json` unchanged, and when it builds (as include or exclude list) it is evaluated on the decodable
//!   records of `fixtures/agent-stdout.log`, again with the prefilter soundness check.
//! - [`check_flowlogs_yaml`]: arbitrary text as a `flowlogs.yaml`; when it parses, every entry can be selected
//!   by name, and every entry whose filters build is evaluated on the same records with the same check.

use hubble_flow::filter::flowlogs::FlowLogsFile;
use hubble_flow::filter::{parse_filter_list, FilterSet, FlowFilterSpec};
use hubble_flow::prefilter::Prefilter;
use hubble_flow::{decode, Record};
use std::sync::LazyLock;

/// One filter per matcher family, each valid; used singly (so the prefilter derives evidence from it) and
/// all together.
const FAMILY_FILTERS: &[&str] = &[
    r#"{"source_ip":["10.244.0.0/16","1.1.1.1"],"destination_port":["53","443"]}"#,
    r#"{"destination_ip":["203.0.113.8","2001:db8::/32"],"ip_version":["IPv4"]}"#,
    r#"{"source_pod":["kube-system/","default/web-"],"verdict":["DROPPED","FORWARDED"]}"#,
    r#"{"destination_pod":["default/"],"traffic_direction":["EGRESS"],"reply":[false]}"#,
    r#"{"source_label":["k8s:app=web","!k8s:tier"],"destination_label":["k8s:app in (db, cache)"]}"#,
    r#"{"source_fqdn":["*.example.com"],"destination_fqdn":["api.*.svc.cluster.local"]}"#,
    r#"{"http_method":["GET","post"],"http_status_code":["2+","404"],"http_path":["/api/.*"]}"#,
    r#"{"http_url":["https?://.*\\.example\\.com/.*"]}"#,
    r#"{"tcp_flags":[{"SYN":true},{"FIN":true,"ACK":true}],"protocol":["tcp","udp","icmp"]}"#,
    r#"{"node_name":["aks-*/aks-nodepool1-*"],"node_labels":["kubernetes.io/os=linux"]}"#,
    r#"{"dns_query":[".*\\.com"],"source_identity":[2],"destination_identity":["16777217"]}"#,
    r#"{"event_type":[{"type":129},{"type":1,"match_sub_type":true,"sub_type":133}]}"#,
    r#"{"drop_reason_desc":["POLICY_DENIED","POLICY_DENY"],"source_service":["default/"]}"#,
    r#"{"destination_service":["kube-system/kube-dns"],"destination_workload":[{"kind":"Deployment","name":"web"}]}"#,
    r#"{"uuid":["a3b1799d-1c80-4066-8bdd-3eb146600000"],"trace_id":["abc"],"source_cluster_name":["c1"]}"#,
    r#"{"interface":[{"name":"eth0"},{"index":3}],"source_workload":[{"name":"cilium"}]}"#,
];

/// Filters for the exclude side of the combined set.
const EXCLUDE_FILTERS: &str = r#"{"source_pod":["kube-system/"]} {"destination_ip":["203.0.113.0/24"]} {"verdict":["AUDIT"]}"#;

/// A filter set and the prefilter derived from it.
pub struct Checked {
    name: String,
    set: FilterSet,
    prefilter: Prefilter,
}

impl Checked {
    fn new(name: String, set: FilterSet) -> Checked {
        let prefilter = Prefilter::new(&set);
        Checked {
            name,
            set,
            prefilter,
        }
    }

    /// Evaluates `record` (decoded from `line`); panics if the prefilter would have dropped a kept line.
    pub fn check(&self, line: &[u8], record: &Record<'_>) {
        let kept = self.set.keep(record);
        let _ = self.set.include_matches(record);
        if kept {
            assert!(
                self.prefilter.may_keep(line),
                "prefilter rejects a line that filter set `{}` keeps: {}",
                self.name,
                String::from_utf8_lossy(line)
            );
        }
    }
}

fn parse_fixed(text: &str) -> Vec<FlowFilterSpec> {
    match parse_filter_list(text) {
        Ok(list) => list,
        Err(e) => panic!("fuzz harness: fixed filter does not parse: {e}: {text}"),
    }
}

fn build_fixed(
    name: String,
    include: Vec<FlowFilterSpec>,
    exclude: Vec<FlowFilterSpec>,
) -> Checked {
    match FilterSet::build(include, exclude) {
        Ok(set) => Checked::new(name, set),
        Err(e) => panic!("fuzz harness: fixed filter set `{name}` does not build: {e}"),
    }
}

/// The default policy-deny-egress set, one set per [`FAMILY_FILTERS`] entry, and all of them at once with
/// [`EXCLUDE_FILTERS`].
static FIXED_SETS: LazyLock<Vec<Checked>> = LazyLock::new(|| {
    let mut sets = vec![build_fixed(
        "default".to_owned(),
        vec![FilterSet::default_policy_deny_egress()],
        vec![],
    )];
    let mut all = Vec::new();
    for (i, text) in FAMILY_FILTERS.iter().enumerate() {
        let list = parse_fixed(text);
        all.extend(list.iter().cloned());
        sets.push(build_fixed(format!("family #{i}"), list, vec![]));
    }
    sets.push(build_fixed(
        "all".to_owned(),
        all,
        parse_fixed(EXCLUDE_FILTERS),
    ));
    sets
});

/// Decodes `data`; on success runs every fixed filter set on the record.
pub fn check_decode(data: &[u8]) {
    let sets = &*FIXED_SETS;
    let Ok(record) = decode(data) else {
        return;
    };
    let _ = record.kind().name();
    for set in sets {
        set.check(data, &record);
    }
}

/// The exporter output the filter-spec target evaluates parsed filters on.
const FIXTURE: &str = include_str!("../../fixtures/agent-stdout.log");

/// The lines of [`FIXTURE`] that decode to a record, with the record.
static FIXTURE_RECORDS: LazyLock<Vec<(&'static str, Record<'static>)>> = LazyLock::new(|| {
    FIXTURE
        .lines()
        .filter_map(|line| decode(line.as_bytes()).ok().map(|r| (line, r)))
        .collect()
});

/// Parses `data` as an allowlist; checks the `to_json` round trip; builds and evaluates it on the fixture.
pub fn check_filter_spec(data: &[u8]) {
    let records = &*FIXTURE_RECORDS;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(list) = parse_filter_list(text) else {
        return;
    };
    for spec in &list {
        let json = spec.to_json();
        match parse_filter_list(&json) {
            Ok(again) => assert_eq!(
                again.as_slice(),
                std::slice::from_ref(spec),
                "to_json round trip changes the filter: {json}"
            ),
            Err(e) => panic!("to_json output does not parse: {e}: {json}"),
        }
    }
    let sides = [(list.clone(), Vec::new()), (Vec::new(), list)];
    for (i, (include, exclude)) in sides.into_iter().enumerate() {
        let Ok(set) = FilterSet::build(include, exclude) else {
            return;
        };
        let _ = set.warnings();
        let checked = Checked::new(
            if i == 0 {
                "fuzzed include"
            } else {
                "fuzzed exclude"
            }
            .to_owned(),
            set,
        );
        for (line, record) in records {
            checked.check(line.as_bytes(), record);
        }
    }
}

/// Parses `data` as a `flowlogs.yaml`; selects each entry by name; builds and evaluates each entry's filters.
pub fn check_flowlogs_yaml(data: &[u8]) {
    let records = &*FIXTURE_RECORDS;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(file) = FlowLogsFile::parse(text, "fuzz.yaml") else {
        return;
    };
    let _ = file.select(None);
    for entry in &file.entries {
        let name = entry.config.name.as_str();
        match file.select(Some(name)) {
            Ok(selected) => assert_eq!(selected.config.name, name, "select({name:?})"),
            Err(e) => panic!("entry {name:?} parsed but cannot be selected: {e}"),
        }
        let Ok(set) = entry.filter_set("fuzz.yaml") else {
            continue;
        };
        let checked = Checked::new(format!("flowlogs entry {name:?}"), set);
        for (line, record) in records {
            checked.check(line.as_bytes(), record);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_sets_build_and_the_default_prefilter_has_evidence() {
        let sets = &*FIXED_SETS;
        assert_eq!(sets.len(), FAMILY_FILTERS.len() + 2);
        assert!(!sets[0].prefilter.passes_everything());
        let with_evidence = sets
            .iter()
            .filter(|s| !s.prefilter.passes_everything())
            .count();
        assert!(with_evidence >= FAMILY_FILTERS.len() / 2, "{with_evidence}");
    }

    #[test]
    fn the_fixture_exercises_keep_and_the_prefilter_both_ways() {
        let records = &*FIXTURE_RECORDS;
        assert!(records.len() >= 40, "{}", records.len());
        let default = &FIXED_SETS[0];
        let kept = records.iter().filter(|(_, r)| default.set.keep(r)).count();
        let rejected_early = records
            .iter()
            .filter(|(l, _)| !default.prefilter.may_keep(l.as_bytes()))
            .count();
        assert!(
            kept > 0 && rejected_early > 0,
            "kept {kept}, prefilter rejects {rejected_early}"
        );
        for (line, record) in records {
            check_decode(line.as_bytes());
            for set in FIXED_SETS.iter() {
                set.check(line.as_bytes(), record);
            }
        }
    }

    #[test]
    fn flowlogs_check_accepts_the_fixture() {
        let text = include_str!("../../fixtures/flowlogs.yaml");
        let file = FlowLogsFile::parse(text, "flowlogs.yaml");
        assert_eq!(file.map(|f| f.entries.len()).ok(), Some(2));
        check_flowlogs_yaml(text.as_bytes());
    }

    #[test]
    fn filter_spec_check_accepts_the_default_filter() {
        check_filter_spec(
            br#"{"event_type":[{"type":1,"match_sub_type":true,"sub_type":181}],"traffic_direction":["EGRESS"]}"#,
        );
    }
}
