//! The per-line stages between framing and output: prefilter → decode → filter → enrich → encode.
//! See ARCHITECTURE.md ("process").
//!
//! A [`Processor`] is immutable and shared by all workers; [`Processor::process`] turns one [`LineBatch`] into
//! output bytes and counters. The prefilter is asked only while it saves work ([`PrefilterGate`]: in a stretch
//! of kept lines it costs and saves nothing). Per kept flow it allocates only what decoding the flow's lists
//! needs (one `Vec` per non-empty label/workload/name list; strings are borrowed unless escaped): enrich parses
//! each address once, the summary keys by that parsed address or builds `namespace/pod` in a reused buffer (a map
//! key is allocated only the first time it is seen in a batch), and the encoder appends to the batch's buffer
//! (`tests/process_alloc.rs` checks this). Output order is input order.

use crate::enrich::{enrich, Enrichment};
use crate::frame::LineBatch;
use crate::record::encode::{encode_flow, EncodeOptions};
use crate::report::{AggregateShards, FlowAggregate};
use crate::stats::{bump, BatchStats};
use hubble_cidr::PrefixTable;
use hubble_flow::filter::FilterSet;
use hubble_flow::flow::Flow;
use hubble_flow::prefilter::Prefilter;
use hubble_flow::{decode, Record, Skip};
use std::sync::Arc;

mod gate;
pub use gate::PrefilterGate;

/// What to write for a kept record.
#[derive(Debug, Clone, Copy)]
pub enum OutputMode {
    /// The flat output record of each kept flow.
    Records(EncodeOptions),
    /// The input line itself, byte for byte (the `filter` subcommand).
    Passthrough,
}

/// The shared, immutable per-line stage.
pub struct Processor {
    filter: Arc<FilterSet>,
    prefilter: Prefilter,
    tagger: Option<Arc<PrefixTable>>,
    mode: OutputMode,
    use_prefilter: bool,
    /// Whether kept flows are counted into the summary maps of [`BatchStats`] (top destinations and drop
    /// reasons, which `replay` prints and the daemon has no use for).
    summaries: bool,
    /// Per-worker report aggregates (`replay --report`), fed every kept flow.
    report: Option<Arc<AggregateShards>>,
}

impl Processor {
    /// A processor for `filter`, deriving its prefilter from it.
    pub fn new(filter: Arc<FilterSet>, tagger: Option<Arc<PrefixTable>>, mode: OutputMode) -> Self {
        let prefilter = Prefilter::new(&filter);
        Processor {
            filter,
            prefilter,
            tagger,
            mode,
            use_prefilter: true,
            summaries: true,
            report: None,
        }
    }

    /// Leaves the summary maps of [`BatchStats`] (top destinations, drop reasons) empty: for the daemon, which
    /// never prints them. The counters are kept as before.
    pub fn without_summaries(mut self) -> Self {
        self.summaries = false;
        self
    }

    /// Parses every line instead of letting the prefilter reject lines unparsed (exact per-kind counts of
    /// lines that could never be kept, at the cost of speed).
    pub fn without_prefilter(mut self) -> Self {
        self.use_prefilter = false;
        self
    }

    /// Also feeds every kept flow to `shards` (the report's aggregation; one shard per worker thread).
    pub fn with_report(mut self, shards: Arc<AggregateShards>) -> Self {
        self.report = Some(shards);
        self
    }

    /// Processes every logical line of `batch`, appending output to `out` and counting into `stats`.
    pub fn process(&self, batch: &LineBatch, out: &mut Vec<u8>, stats: &mut BatchStats) {
        self.process_gated(batch, out, stats, &mut PrefilterGate::default());
    }

    /// [`Processor::process`] with a [`PrefilterGate`] that outlives the batch: a pipeline worker keeps one, so
    /// the gate's decision carries over small batches (a followed file yields a few lines per read) instead of
    /// starting afresh, filtering, for each.
    pub fn process_gated(
        &self,
        batch: &LineBatch,
        out: &mut Vec<u8>,
        stats: &mut BatchStats,
        gate: &mut PrefilterGate,
    ) {
        stats.frame.add(&batch.counts);
        let start_len = out.len();
        let mut key = String::new();
        let mut report = self
            .report
            .as_deref()
            .map(AggregateShards::for_current_thread);
        for (line, may_escape) in batch.iter_escapes() {
            stats.lines += 1;
            if self.use_prefilter && gate.filtering() {
                let pass = self.prefilter.may_keep_escapes(line, may_escape);
                gate.note(!pass);
                if !pass {
                    // Not parsed, but a JSON object cut short is still recognisable for free: count it as
                    // malformed like the parser would.
                    if is_truncated_object(line) {
                        stats.skipped[Skip::MalformedJson as usize] += 1;
                    } else {
                        stats.prefiltered += 1;
                        if looks_like_flow_record(line) {
                            stats.prefiltered_flow_like += 1;
                        }
                    }
                    continue;
                }
                self.process_line(line, out, stats, &mut key, report.as_deref_mut());
            } else {
                let kept = self.process_line(line, out, stats, &mut key, report.as_deref_mut());
                gate.note(!kept);
            }
        }
        stats.output_bytes += (out.len() - start_len) as u64;
    }

    /// Decodes, filters and outputs one line the prefilter did not reject; returns whether the filter kept it
    /// (false: a line the prefilter might have saved).
    fn process_line(
        &self,
        line: &[u8],
        out: &mut Vec<u8>,
        stats: &mut BatchStats,
        key: &mut String,
        mut report: Option<&mut FlowAggregate>,
    ) -> bool {
        let rec = match decode(line) {
            Ok(r) => r,
            Err(skip) => {
                stats.skipped[skip as usize] += 1;
                return false;
            }
        };
        stats.records[rec.kind() as usize] += 1;
        if !self.filter.keep(&rec) {
            return false;
        }
        match (&rec, self.mode) {
            (
                Record::Flow {
                    flow,
                    raw,
                    node_name,
                },
                mode,
            ) => match mode {
                OutputMode::Records(opts) => {
                    let Ok(tags) = enrich(flow, self.tagger.as_deref()) else {
                        stats.invalid_ip += 1;
                        return false;
                    };
                    stats.kept_flows += 1;
                    if let Some(r) = report.as_mut() {
                        r.add_flow(flow, node_name.as_deref(), &tags);
                    }
                    if self.summaries {
                        self.aggregate(flow, &tags, stats, key);
                    }
                    encode_flow(flow, raw, node_name.as_deref(), &tags, opts, out);
                    stats.output_records += 1;
                }
                OutputMode::Passthrough => {
                    stats.kept_flows += 1;
                    if self.summaries {
                        self.aggregate(flow, &Enrichment::default(), stats, key);
                    }
                    out.extend_from_slice(line);
                    out.push(b'\n');
                    stats.output_records += 1;
                }
            },
            (_, OutputMode::Passthrough) => {
                stats.kept_other += 1;
                out.extend_from_slice(line);
                out.push(b'\n');
                stats.output_records += 1;
            }
            (_, OutputMode::Records(_)) => stats.kept_other += 1,
        }
        true
    }

    /// Counts a kept flow into the summary maps; `key` is a scratch buffer reused across the batch's flows.
    fn aggregate(
        &self,
        flow: &Flow<'_>,
        tags: &Enrichment<'_>,
        stats: &mut BatchStats,
        key: &mut String,
    ) {
        bump(
            &mut stats.by_drop_reason,
            flow.drop_reason_name().unwrap_or("(no drop reason)"),
        );
        let dst = flow.destination.as_ref();
        match (
            dst.and_then(|d| d.namespace.as_deref()),
            dst.and_then(|d| d.pod_name.as_deref()),
        ) {
            (Some(ns), Some(pod)) if !ns.is_empty() && !pod.is_empty() => {
                key.clear();
                key.push_str(ns);
                key.push('/');
                key.push_str(pod);
                bump(&mut stats.by_destination, key);
            }
            _ => {
                // The address enrich parsed; in pass-through mode (nothing enriched) it is parsed here.
                let text = flow.ip.as_ref().and_then(|ip| ip.destination.as_deref());
                match tags
                    .destination_ip
                    .or_else(|| text.and_then(|t| t.parse().ok()))
                {
                    Some(ip) => *stats.by_destination_ip.entry(ip).or_insert(0) += 1,
                    None => bump(
                        &mut stats.by_destination,
                        text.filter(|t| !t.is_empty())
                            .unwrap_or("(no destination IP)"),
                    ),
                }
            }
        }
        if tags.destination_looked_up() {
            match tags.destination_groups() {
                None => bump(&mut stats.by_destination_groups, "(no group)"),
                Some(m) => {
                    // By name: one row per set of groups, whichever prefix is more specific for this address.
                    key.clear();
                    m.push_names_by_name(",", key);
                    bump(&mut stats.by_destination_groups, key);
                }
            }
        }
    }
}

/// A line that opens a JSON object but does not close one (a record cut short).
fn is_truncated_object(line: &[u8]) -> bool {
    let start = line.iter().position(|b| !b.is_ascii_whitespace());
    let end = line.iter().rposition(|b| !b.is_ascii_whitespace());
    match (start, end) {
        (Some(s), Some(e)) => line[s] == b'{' && line[e] != b'}',
        _ => false,
    }
}

/// Whether a line starts like an exporter flow record, for counting prefiltered lines by kind.
fn looks_like_flow_record(line: &[u8]) -> bool {
    // A plain scan of at most 32 bytes: `memmem::find` built a searcher per call (6 % of a mixed-log replay).
    let head = &line[..line.len().min(32)];
    head.windows(6).any(|w| w == b"\"flow\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{Format, Framer};
    use crate::record::encode::EncodeOptions;

    fn flow_line(uuid: usize, direction: &str) -> String {
        format!(
            r#"{{"flow":{{"time":"2025-11-25T12:00:00Z","uuid":"u-{uuid}","verdict":"DROPPED","IP":{{"source":"10.244.1.5","destination":"203.0.113.9","ipVersion":"IPv4"}},"l4":{{"TCP":{{"source_port":40000,"destination_port":443}}}},"source":{{"namespace":"payments","pod_name":"ledger-1"}},"event_type":{{"type":1,"sub_type":181}},"traffic_direction":"{direction}","drop_reason_desc":"POLICY_DENY"}},"node_name":"n1"}}"#
        )
    }

    /// `lines` as one raw-framed batch.
    fn batch(lines: &[String]) -> LineBatch {
        let mut b = LineBatch::new(1 << 20);
        for l in lines {
            b.buf.extend_from_slice(l.as_bytes());
            b.buf.push(b'\n');
        }
        let len = b.buf.len();
        Framer::new(Format::Raw).frame_block(&mut b, len);
        b
    }

    /// A processor for the default filter (egress policy-deny drops) writing records, tagging with `table`.
    fn deny_egress(table: Option<Arc<PrefixTable>>) -> Processor {
        let filter = FilterSet::build(vec![FilterSet::default_policy_deny_egress()], vec![])
            .expect("filter");
        Processor::new(
            Arc::new(filter),
            table,
            OutputMode::Records(EncodeOptions::default()),
        )
    }

    fn run(p: &Processor, lines: &[String]) -> (Vec<u8>, BatchStats) {
        let (mut out, mut stats) = (Vec::new(), BatchStats::default());
        p.process(&batch(lines), &mut out, &mut stats);
        (out, stats)
    }

    #[test]
    fn the_prefilter_is_skipped_in_kept_stretches_and_resumes_when_lines_are_not_kept() {
        // 200 kept flows, then 200 the prefilter rejects (INGRESS), then 100 kept again.
        let lines: Vec<String> = (0..500)
            .map(|i| {
                flow_line(
                    i,
                    if (200..400).contains(&i) {
                        "INGRESS"
                    } else {
                        "EGRESS"
                    },
                )
            })
            .collect();
        let (out, stats) = run(&deny_egress(None), &lines);
        let (exact_out, exact) = run(&deny_egress(None).without_prefilter(), &lines);
        assert_eq!(out, exact_out, "the gate changes no output");
        assert_eq!(stats.output_records, 300);
        // Bypassing after the first 64 kept lines; the first WORTH_IT ingress lines are decoded (not kept), then
        // filtering resumes and rejects the rest unparsed.
        assert_eq!(stats.prefiltered, 200 - u64::from(gate::WORTH_IT));
        assert_eq!(exact.prefiltered, 0);
        assert_eq!(
            stats.records[hubble_flow::RecordKind::Flow as usize],
            300 + u64::from(gate::WORTH_IT)
        );
        assert_eq!(stats.lines, 500);
    }

    #[test]
    fn without_summaries_the_maps_stay_empty_and_the_records_and_counters_are_the_same() {
        let lines: Vec<String> = (0..5).map(|i| flow_line(i, "EGRESS")).collect();
        let (out, stats) = run(&deny_egress(None), &lines);
        let (quiet_out, quiet) = run(&deny_egress(None).without_summaries(), &lines);
        assert_eq!(quiet_out, out);
        assert_eq!((quiet.kept_flows, quiet.output_records), (5, 5));
        assert_eq!((stats.kept_flows, stats.output_records), (5, 5));
        assert_eq!(stats.by_destination_ip.values().sum::<u64>(), 5);
        assert!(!stats.by_drop_reason.is_empty());
        assert!(quiet.by_destination_ip.is_empty() && quiet.by_destination.is_empty());
        assert!(quiet.by_drop_reason.is_empty() && quiet.by_destination_groups.is_empty());
    }

    #[test]
    fn the_summary_counts_a_set_of_groups_once_whichever_prefix_is_more_specific() {
        let set = hubble_cidr::GroupSet::from_prefixes([
            ("geo-ru", &["198.51.0.0/16", "198.51.200.0/24"][..]),
            ("ru", &["198.51.0.0/16", "198.51.100.0/24"][..]),
        ])
        .expect("prefixes");
        let p = deny_egress(Some(Arc::new(PrefixTable::build(&set))));
        // `ru` is the more specific group for the first address, `geo-ru` for the second.
        let lines: Vec<String> = ["198.51.100.1", "198.51.200.1", "198.51.100.2"]
            .iter()
            .enumerate()
            .map(|(i, ip)| flow_line(i, "EGRESS").replace("203.0.113.9", ip))
            .collect();
        let (out, stats) = run(&p, &lines);
        let out = String::from_utf8(out).expect("utf-8");
        // The records keep the most specific group first …
        assert!(out.contains(r#"["ru","geo-ru"]"#) && out.contains(r#"["geo-ru","ru"]"#));
        // … and the summary has one row for the set.
        assert_eq!(stats.by_destination_groups.len(), 1);
        assert_eq!(stats.by_destination_groups.get("geo-ru,ru"), Some(&3));
    }

    #[test]
    fn a_gate_carried_across_small_batches_decides_over_all_of_them() {
        let p = deny_egress(None);
        let kept: Vec<Vec<String>> = (0..10)
            .map(|b| (0..10).map(|i| flow_line(10 * b + i, "EGRESS")).collect())
            .collect();
        let rejected: Vec<String> = (0..10).map(|i| flow_line(100 + i, "INGRESS")).collect();
        // Ten batches of ten kept flows, as a followed file yields them, then ten the prefilter rejects.
        let mut gate = PrefilterGate::default();
        let (mut out, mut stats) = (Vec::new(), BatchStats::default());
        for lines in &kept {
            p.process_gated(&batch(lines), &mut out, &mut stats, &mut gate);
        }
        p.process_gated(&batch(&rejected), &mut out, &mut stats, &mut gate);
        // Bypassing since line 64: the first WORTH_IT rejected lines are decoded, the last two prefiltered.
        assert_eq!(stats.prefiltered, 10 - u64::from(gate::WORTH_IT));
        assert_eq!(stats.output_records, 100);
        // A fresh gate per batch (`process`) would still be filtering.
        let mut fresh = BatchStats::default();
        p.process(&batch(&rejected), &mut Vec::new(), &mut fresh);
        assert_eq!(fresh.prefiltered, 10);
    }
}
