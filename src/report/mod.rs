//! `replay --report FILE`: a self-contained picture of the kept flows (what was blocked, who tried, when).
//!
//! The module owns three steps:
//! - [`aggregate`]: bounded, streaming aggregation of each kept flow on the worker threads, one
//!   [`FlowAggregate`] per worker thread held in [`AggregateShards`] and merged at the end;
//! - [`ReportData`]: the aggregates plus the run's context (inputs, filter, CIDR-group sources, skipped lines),
//!   cut to the top rows with exact "other" buckets — the one model both renderers use, so the HTML and the
//!   JSON always show the same numbers;
//! - [`html`] and [`json`]: the renderers. The HTML is one file with everything inline (no script, no external
//!   resource, a Content-Security-Policy that forbids both), readable without JavaScript; every flow-derived
//!   value is HTML-escaped.

pub mod aggregate;
pub mod html;
pub mod json;

pub use aggregate::FlowAggregate;

use crate::stats::{BatchStats, InputProblem};
use aggregate::{format_minute, format_rfc3339, split_pair_key, TopCounter, BUCKET_WIDTHS};
use hubble_cidr::{PrefixTable, TableStats};
use hubble_flow::{RecordKind, Skip};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::thread::ThreadId;

pub use crate::settings::ReportFormat;

/// Rows shown per table.
pub const TABLE_ROWS: usize = 20;
/// Rows and columns of the source × destination matrix.
pub const MATRIX_SIZE: usize = 12;
/// Most bars drawn in the timeline; the bucket width is the narrowest that fits.
pub const MAX_BARS: usize = 180;

/// One [`FlowAggregate`] per worker thread, so workers never contend: a worker locks its own shard once per
/// batch. Batches go to workers in a fixed rotation, so each shard's content (and the merged result) does
/// not depend on timing.
#[derive(Debug)]
pub struct AggregateShards {
    shards: Vec<Mutex<FlowAggregate>>,
    owners: Mutex<Vec<ThreadId>>,
}

impl AggregateShards {
    /// Shards for up to `workers` threads (more threads share shards, still correctly).
    pub fn new(workers: usize) -> Self {
        AggregateShards {
            shards: (0..workers.max(1))
                .map(|_| Mutex::new(FlowAggregate::default()))
                .collect(),
            owners: Mutex::new(Vec::new()),
        }
    }

    /// The calling thread's shard, locked.
    pub fn for_current_thread(&self) -> MutexGuard<'_, FlowAggregate> {
        let me = std::thread::current().id();
        let index = {
            let mut owners = self.owners.lock().unwrap_or_else(|e| e.into_inner());
            match owners.iter().position(|&t| t == me) {
                Some(i) => i,
                None => {
                    owners.push(me);
                    owners.len() - 1
                }
            }
        } % self.shards.len();
        self.shards[index].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// All shards merged, in shard order.
    pub fn merged(&self) -> FlowAggregate {
        let mut all = FlowAggregate::default();
        for s in &self.shards {
            all.merge(&s.lock().unwrap_or_else(|e| e.into_inner()));
        }
        all
    }
}

/// What the report says about the run besides the flows.
#[derive(Debug, Clone, Default)]
pub struct RunContext {
    /// Inputs in order: name and size (none for stdin).
    pub inputs: Vec<(String, Option<u64>)>,
    /// The filter in effect, one line per part.
    pub filter: Vec<String>,
    /// CIDR-group sources as given.
    pub cidr_sources: Vec<String>,
    /// Sizes of the loaded CIDR-group table.
    pub cidr_table: Option<TableStats>,
    /// Bytes read from the inputs.
    pub input_bytes: u64,
    /// Wall time of the run, in seconds.
    pub seconds: f64,
}

/// Everything a report shows; serialised as is for `--report-format json`.
#[derive(Debug, Clone, Serialize)]
pub struct ReportData {
    /// `hubble-ingest <version>`.
    pub generator: String,
    /// Inputs, filter and CIDR-group sources.
    pub run: RunSection,
    /// Line and record counts, skipped lines by reason.
    pub lines: LineSection,
    /// Kept flows.
    pub kept_flows: u64,
    /// Earliest and latest flow time among kept flows (RFC 3339, UTC).
    pub time_range: Option<[String; 2]>,
    /// Kept flows per time bucket.
    pub timeline: TimelineSection,
    /// Top-N tables.
    pub tables: Tables,
    /// Source workloads × destinations.
    pub matrix: MatrixSection,
}

/// The run's inputs and configuration.
#[derive(Debug, Clone, Serialize)]
pub struct RunSection {
    /// Inputs in order.
    pub inputs: Vec<InputEntry>,
    /// Bytes read.
    pub input_bytes: u64,
    /// Wall time in seconds.
    pub seconds: f64,
    /// The filter in effect, one line per part.
    pub filter: Vec<String>,
    /// CIDR-group sources as given.
    pub cidr_group_sources: Vec<String>,
    /// Groups in the loaded table.
    pub cidr_groups: Option<usize>,
    /// Prefixes in the loaded table (IPv4 + IPv6).
    pub cidr_prefixes: Option<usize>,
}

/// One input.
#[derive(Debug, Clone, Serialize)]
pub struct InputEntry {
    /// Path or `<stdin>`.
    pub name: String,
    /// Size in bytes (none for stdin).
    pub bytes: Option<u64>,
}

/// Line and record counts.
#[derive(Debug, Clone, Serialize)]
pub struct LineSection {
    /// Physical lines read.
    pub physical: u64,
    /// Logical lines after framing.
    pub logical: u64,
    /// Parsed exporter records by kind.
    pub records: BTreeMap<String, u64>,
    /// Lines the prefilter rejected unparsed.
    pub prefiltered: u64,
    /// Lines skipped, by reason (only reasons with a count).
    pub skipped: BTreeMap<String, u64>,
    /// Of the skipped lines, those that are bad input (malformed, truncated, invalid).
    pub bad_input: u64,
    /// Input problems (cannot open, cut-short gzip).
    pub problems: Vec<String>,
}

/// The timeline.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineSection {
    /// Bucket width in seconds.
    pub bucket_seconds: i64,
    /// Stack categories (drop reason, or verdict for flows without one).
    pub categories: Vec<String>,
    /// Flows per category over all buckets.
    pub category_totals: Vec<u64>,
    /// Buckets from the first to the last flow.
    pub buckets: Vec<Bucket>,
    /// Kept flows without a usable time.
    pub untimed: u64,
}

/// One timeline bucket.
#[derive(Debug, Clone, Serialize)]
pub struct Bucket {
    /// Bucket start, `YYYY-MM-DD HH:MM` UTC.
    pub start: String,
    /// Flows per category (same order as `categories`).
    pub counts: Vec<u64>,
}

/// A top-N table.
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    /// Values counted (kept flows, or names for FQDNs, policies for policies).
    pub total: u64,
    /// Shown rows, largest first.
    pub rows: Vec<Row>,
    /// Counted values not in a shown row (`total − sum(rows)`).
    pub other: u64,
    /// Largest amount any shown count may be below its true count (0: exact).
    pub max_error: u64,
}

/// A table row.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The value (a workload, IP, name, ...).
    pub key: String,
    /// Flows.
    pub count: u64,
    /// Share of kept flows.
    pub share: f64,
    /// Destination CIDR groups (destination IP table, with a CIDR-group table).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    /// Merged labels of those groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

/// All tables.
#[derive(Debug, Clone, Serialize)]
pub struct Tables {
    /// Kept flows by verdict.
    pub verdicts: Table,
    /// By destination IP, with groups and labels.
    pub destination_ips: Table,
    /// By destination CIDR groups (empty without a CIDR-group table).
    pub destination_groups: Table,
    /// By destination FQDN.
    pub destination_names: Table,
    /// By source workload.
    pub source_workloads: Table,
    /// By source namespace.
    pub source_namespaces: Table,
    /// By source pod.
    pub source_pods: Table,
    /// By source label set (identity labels, namespace- and policy-derived ones left out).
    pub source_labels: Table,
    /// By protocol and destination port.
    pub ports: Table,
    /// By node.
    pub nodes: Table,
    /// By denying policy (`kind namespace/name (egress|ingress)`).
    pub policies: Table,
}

/// Source workloads × destinations.
#[derive(Debug, Clone, Serialize)]
pub struct MatrixSection {
    /// Row labels (top source workloads).
    pub sources: Vec<String>,
    /// Column labels (top destinations: in-cluster workload, CIDR groups, FQDN or IP).
    pub destinations: Vec<String>,
    /// `counts[row][column]`.
    pub counts: Vec<Vec<u64>>,
    /// Largest amount any cell may be below its true count (0: exact).
    pub max_error: u64,
}

fn table(c: &TopCounter, kept: u64, rows: usize) -> Table {
    let top = c.top(rows);
    let shown: u64 = top.iter().map(|r| r.1).sum();
    Table {
        total: c.total(),
        other: c.total().saturating_sub(shown),
        max_error: c.max_error(),
        rows: top
            .into_iter()
            .map(|(k, n)| Row {
                key: k.to_owned(),
                count: n,
                share: share(n, kept),
                groups: None,
                labels: None,
            })
            .collect(),
    }
}

fn share(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        n as f64 / of as f64
    }
}

/// One denying policy as the exporter writes it in `egress_denied_by` / `ingress_denied_by`.
#[derive(serde::Deserialize)]
struct DenyingPolicy<'a> {
    #[serde(borrow, default)]
    name: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    namespace: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    kind: Option<std::borrow::Cow<'a, str>>,
}

/// Policies table: each counted `*_denied_by` list is split into its policies (a list with two policies counts
/// for both).
fn policy_table(c: &TopCounter, kept: u64) -> Table {
    let mut by_policy = TopCounter::new(c.capacity());
    for (key, n) in c.top(usize::MAX) {
        let (dir, raw) = match key.split_at_checked(1) {
            Some(("E", raw)) => ("egress", raw),
            Some(("I", raw)) => ("ingress", raw),
            _ => ("?", key),
        };
        match serde_json::from_str::<Vec<DenyingPolicy>>(raw) {
            Ok(list) if !list.is_empty() => {
                for p in list {
                    let mut label = String::new();
                    if let Some(k) = p.kind.as_deref().filter(|k| !k.is_empty()) {
                        label.push_str(k);
                        label.push(' ');
                    }
                    if let Some(ns) = p.namespace.as_deref().filter(|k| !k.is_empty()) {
                        label.push_str(ns);
                        label.push('/');
                    }
                    label.push_str(p.name.as_deref().unwrap_or("(unnamed)"));
                    label.push_str(&format!(" ({dir})"));
                    by_policy.add(&label, n);
                }
            }
            _ => by_policy.add(&format!("{raw} ({dir})"), n),
        }
    }
    let mut t = table(&by_policy, kept, TABLE_ROWS);
    // Lists the pruning dropped are still counted: in `other`.
    t.total += c.other();
    t.other += c.other();
    t.max_error = c.max_error();
    t
}

impl ReportData {
    /// Builds the report model from the merged aggregate and the run's totals. `tagger` (the CIDR-group table
    /// in effect) gives the destination IP rows their groups and labels.
    pub fn build(
        agg: &FlowAggregate,
        stats: &BatchStats,
        problems: &[InputProblem],
        ctx: &RunContext,
        tagger: Option<&PrefixTable>,
    ) -> ReportData {
        let kept = agg.flows;
        let mut skipped: BTreeMap<String, u64> = Skip::ALL
            .iter()
            .map(|&k| (k.name().to_owned(), stats.skip(k)))
            .chain([
                ("oversize".to_owned(), stats.frame.oversize),
                ("malformed_frame".to_owned(), stats.frame.malformed_frame),
                ("invalid_ip".to_owned(), stats.invalid_ip),
            ])
            .collect();
        skipped.retain(|_, n| *n > 0);
        let records = RecordKind::ALL
            .iter()
            .map(|&k| (k.name().to_owned(), stats.record(k)))
            .collect();

        let tl = &agg.timeline;
        let span = match (tl.first_ns, tl.last_ns) {
            (Some(f), Some(l)) => i64::try_from((l - f) / 1_000_000_000).unwrap_or(i64::MAX),
            _ => 0,
        };
        let width = BUCKET_WIDTHS
            .iter()
            .copied()
            .find(|&w| w >= tl.width() && span / w < MAX_BARS as i64)
            .unwrap_or_else(|| {
                let mut w = tl.width().max(BUCKET_WIDTHS[BUCKET_WIDTHS.len() - 1]);
                while span / w >= MAX_BARS as i64 {
                    w = w.saturating_mul(2);
                }
                w
            });
        let timeline = TimelineSection {
            bucket_seconds: width,
            categories: tl.categories().iter().map(|c| c.to_string()).collect(),
            category_totals: tl.category_totals().to_vec(),
            buckets: tl
                .series(width)
                .into_iter()
                .map(|(s, counts)| Bucket {
                    start: format_minute(s),
                    counts,
                })
                .collect(),
            untimed: tl.untimed,
        };

        let mut destination_ips = table(&agg.destination_ips, kept, TABLE_ROWS);
        if let Some(t) = tagger {
            for r in &mut destination_ips.rows {
                if let Ok(ip) = r.key.parse::<IpAddr>() {
                    let m = t.lookup(ip);
                    r.groups = Some(m.names().map(str::to_owned).collect());
                    r.labels = Some(
                        m.labels()
                            .map(|(k, v)| (k.to_owned(), v.to_owned()))
                            .collect(),
                    );
                }
            }
        }

        let sources: Vec<String> = agg
            .source_workloads
            .top(MATRIX_SIZE)
            .into_iter()
            .map(|(k, _)| k.to_owned())
            .collect();
        let pairs = agg.matrix.top(usize::MAX);
        let mut columns = TopCounter::new(agg.matrix.capacity());
        for &(k, n) in &pairs {
            if let Some((_, d)) = split_pair_key(k) {
                columns.add(d, n);
            }
        }
        let destinations: Vec<String> = columns
            .top(MATRIX_SIZE)
            .into_iter()
            .map(|(k, _)| k.to_owned())
            .collect();
        let mut counts = vec![vec![0u64; destinations.len()]; sources.len()];
        for (k, n) in pairs {
            if let Some((s, d)) = split_pair_key(k) {
                if let (Some(i), Some(j)) = (
                    sources.iter().position(|x| x == s),
                    destinations.iter().position(|x| x == d),
                ) {
                    counts[i][j] += n;
                }
            }
        }

        ReportData {
            generator: format!("hubble-ingest {}", env!("CARGO_PKG_VERSION")),
            run: RunSection {
                inputs: ctx
                    .inputs
                    .iter()
                    .map(|(name, bytes)| InputEntry {
                        name: name.clone(),
                        bytes: *bytes,
                    })
                    .collect(),
                input_bytes: ctx.input_bytes,
                seconds: ctx.seconds,
                filter: ctx.filter.clone(),
                cidr_group_sources: ctx.cidr_sources.clone(),
                cidr_groups: ctx.cidr_table.map(|t| t.groups),
                cidr_prefixes: ctx.cidr_table.map(|t| t.prefixes_v4 + t.prefixes_v6),
            },
            lines: LineSection {
                physical: stats.frame.physical_lines,
                logical: stats.lines,
                records,
                prefiltered: stats.prefiltered,
                skipped,
                bad_input: stats.bad_input(),
                problems: problems
                    .iter()
                    .map(|p| format!("{}: {}", p.input, p.message))
                    .collect(),
            },
            kept_flows: kept,
            time_range: match (tl.first_ns, tl.last_ns) {
                (Some(f), Some(l)) => Some([format_rfc3339(f), format_rfc3339(l)]),
                _ => None,
            },
            timeline,
            tables: Tables {
                verdicts: table(&agg.verdicts, kept, TABLE_ROWS),
                destination_ips,
                destination_groups: table(&agg.destination_groups, kept, TABLE_ROWS),
                destination_names: table(&agg.destination_names, kept, TABLE_ROWS),
                source_workloads: table(&agg.source_workloads, kept, TABLE_ROWS),
                source_namespaces: table(&agg.source_namespaces, kept, TABLE_ROWS),
                source_pods: table(&agg.source_pods, kept, TABLE_ROWS),
                source_labels: table(&agg.source_labels, kept, TABLE_ROWS),
                ports: table(&agg.ports, kept, TABLE_ROWS),
                nodes: table(&agg.nodes, kept, TABLE_ROWS),
                policies: policy_table(&agg.policies, kept),
            },
            matrix: MatrixSection {
                sources,
                destinations,
                counts,
                max_error: agg.matrix.max_error(),
            },
        }
    }
}

/// Writes the report to `path` in `format` (through a temporary file renamed into place).
pub fn write(path: &Path, format: ReportFormat, data: &ReportData) -> std::io::Result<()> {
    let body = match format {
        ReportFormat::Html => html::render(data),
        ReportFormat::Json => json::render(data),
    };
    let tmp = path.with_extension("tmp-report");
    std::fs::write(&tmp, body)?;
    std::fs::rename(&tmp, path)
}

/// The filter in effect as lines of text: the options given, then the allowlist as JSON.
pub fn describe_filter(
    args: &crate::settings::FilterSettings,
    filter: &hubble_flow::filter::FilterSet,
) -> Vec<String> {
    let observe_flags = &args.observe;
    let mut out = Vec::new();
    if !args.any() {
        out.push("default: egress policy-deny drops (no filter option given)".to_owned());
    }
    for (i, v) in args.allowlist.iter().enumerate() {
        out.push(format!("--allowlist #{}: {v}", i + 1));
    }
    for (i, v) in args.denylist.iter().enumerate() {
        out.push(format!("--denylist #{}: {v}", i + 1));
    }
    if let Some(p) = &args.flowlogs {
        out.push(format!(
            "--flowlogs {}{}",
            p.display(),
            args.flowlog
                .as_deref()
                .map(|n| format!(" (entry {n})"))
                .unwrap_or_default()
        ));
    }
    if !observe_flags.is_empty() {
        let flags: Vec<String> = observe_flags
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    format!("--{k}")
                } else {
                    format!("--{k} {v}")
                }
            })
            .collect();
        out.push(format!("hubble observe flags: {}", flags.join(" ")));
    }
    for spec in filter.include_specs() {
        if let Ok(j) = serde_json::to_string(spec) {
            out.push(format!("allowlist: {j}"));
        }
    }
    out
}
