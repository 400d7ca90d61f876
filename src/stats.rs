//! Counters of what the pipeline saw, per batch and in total, and the replay summary people read.
//!
//! Workers fill a [`BatchStats`] per batch without sharing anything; the collector merges them in order. The
//! same totals feed the end-of-replay summary and (in the daemon) the metrics.
//!
//! Memory is bounded whatever the input: the keyed counts (destinations, CIDR-group lists, drop reasons) hold at
//! most `2 × `[`SUMMARY_KEYS`] keys each after a merge. Beyond that they are Misra–Gries summaries: a shown count
//! is never above the true one and at most the map's `*_max_error` below it, so a daemon that sees millions of
//! distinct destinations over its life, or a replay of 10 M flows to random addresses, keeps the same few
//! hundred kilobytes of totals.
//!
//! See ARCHITECTURE.md ("process").

use crate::frame::FrameCounts;
use hubble_flow::{RecordKind, Skip};
use std::collections::HashMap;

/// Counts by a text key (drop reason, destination, group list). Keys come from flows, so the hasher is seeded
/// per map (foldhash's random state): fast, and not open to crafted collisions.
pub type CountMap = HashMap<Box<str>, u64, foldhash::fast::RandomState>;
/// Counts by address: a parsed IP is its own key (no text key allocated per flow), seeded like [`CountMap`].
pub type IpCountMap = HashMap<IpAddr, u64, foldhash::fast::RandomState>;
use std::fmt::Write as _;
use std::net::IpAddr;

/// Keys a keyed count keeps after pruning (it prunes when it holds more than twice this many).
pub const SUMMARY_KEYS: usize = 1024;

/// Counters for one batch (or, merged, a whole run).
#[derive(Debug, Default, Clone)]
pub struct BatchStats {
    /// Framing counters.
    pub frame: FrameCounts,
    /// Logical lines seen.
    pub lines: u64,
    /// Lines the prefilter rejected without parsing.
    pub prefiltered: u64,
    /// Of those, lines that start like an exporter flow record (`{"flow":`).
    pub prefiltered_flow_like: u64,
    /// Parsed records by kind.
    pub records: [u64; RecordKind::ALL.len()],
    /// Lines skipped by reason.
    pub skipped: [u64; Skip::ALL.len()],
    /// Flows kept by the filter.
    pub kept_flows: u64,
    /// Non-flow records the filter kept (output by `filter`, not encodable as flow records).
    pub kept_other: u64,
    /// Kept flows by drop reason name.
    pub by_drop_reason: CountMap,
    /// Kept flows by destination `namespace/pod` (flows to a pod).
    pub by_destination: CountMap,
    /// Kept flows by destination IP (flows to no pod); [`BatchStats::destination_counts`] joins both.
    pub by_destination_ip: IpCountMap,
    /// Kept flows by destination CIDR groups: their names in name order joined by `,` (one key per set of
    /// groups, whichever is the more specific for an address).
    pub by_destination_groups: CountMap,
    /// How far below the truth a shown destination count may be (`by_destination` and `by_destination_ip`
    /// together; 0 while every key was kept).
    pub destination_max_error: u64,
    /// The same for `by_destination_groups`.
    pub groups_max_error: u64,
    /// The same for `by_drop_reason`.
    pub drop_reason_max_error: u64,
    /// Kept flows skipped because an address is not an IP.
    pub invalid_ip: u64,
    /// Output bytes produced.
    pub output_bytes: u64,
    /// Output records produced (one line each), so a consumer need not count newlines in the output.
    pub output_records: u64,
}

/// Increments `map[key]`, allocating only for a key not seen before.
pub fn bump(map: &mut CountMap, key: &str) {
    if let Some(v) = map.get_mut(key) {
        *v += 1;
    } else {
        map.insert(key.into(), 1);
    }
}

impl BatchStats {
    /// Adds another batch's counters.
    pub fn merge(&mut self, o: &BatchStats) {
        self.frame.add(&o.frame);
        self.lines += o.lines;
        self.prefiltered += o.prefiltered;
        self.prefiltered_flow_like += o.prefiltered_flow_like;
        for (a, b) in self.records.iter_mut().zip(o.records.iter()) {
            *a += b;
        }
        for (a, b) in self.skipped.iter_mut().zip(o.skipped.iter()) {
            *a += b;
        }
        self.kept_flows += o.kept_flows;
        self.kept_other += o.kept_other;
        for (map, other, error, own_error) in [
            (
                &mut self.by_drop_reason,
                &o.by_drop_reason,
                &mut self.drop_reason_max_error,
                o.drop_reason_max_error,
            ),
            (
                &mut self.by_destination,
                &o.by_destination,
                &mut self.destination_max_error,
                o.destination_max_error,
            ),
            (
                &mut self.by_destination_groups,
                &o.by_destination_groups,
                &mut self.groups_max_error,
                o.groups_max_error,
            ),
        ] {
            for (k, v) in other {
                if let Some(x) = map.get_mut(k) {
                    *x += v;
                } else {
                    map.insert(k.clone(), *v);
                }
            }
            *error += own_error + prune(map, SUMMARY_KEYS);
        }
        for (ip, v) in &o.by_destination_ip {
            *self.by_destination_ip.entry(*ip).or_insert(0) += v;
        }
        self.destination_max_error += prune(&mut self.by_destination_ip, SUMMARY_KEYS);
        self.invalid_ip += o.invalid_ip;
        self.output_bytes += o.output_bytes;
        self.output_records += o.output_records;
    }

    /// Kept flows by destination: `namespace/pod`, or the IP in its canonical text form.
    pub fn destination_counts(&self) -> CountMap {
        let mut all = self.by_destination.clone();
        for (ip, &n) in &self.by_destination_ip {
            *all.entry(ip.to_string().into_boxed_str()).or_insert(0) += n;
        }
        all
    }

    /// Count of a record kind.
    pub fn record(&self, k: RecordKind) -> u64 {
        self.records[k as usize]
    }

    /// Count of a skip reason.
    pub fn skip(&self, s: Skip) -> u64 {
        self.skipped[s as usize]
    }

    /// Lines that were bad input (malformed, invalid UTF-8, wrong shape, unparsable frame, oversize).
    pub fn bad_input(&self) -> u64 {
        Skip::ALL
            .iter()
            .filter(|s| s.is_bad_input())
            .map(|&s| self.skip(s))
            .sum::<u64>()
            + self.frame.malformed_frame
            + self.frame.oversize
            + self.invalid_ip
    }
}

/// Bounds `map` to `keep` keys once it holds more than `2 × keep` (Misra–Gries with batched decrements): the
/// `(keep + 1)`-th largest count `t` is subtracted from every key and the keys left at zero are dropped.
/// Returns `t` (0 when nothing was pruned), by which every shown count may now be below the truth.
fn prune<K, S>(map: &mut HashMap<K, u64, S>, keep: usize) -> u64
where
    K: Eq + std::hash::Hash,
    S: std::hash::BuildHasher,
{
    if map.len() <= 2 * keep {
        return 0;
    }
    let mut counts: Vec<u64> = map.values().copied().collect();
    counts.select_nth_unstable_by(keep, |a, b| b.cmp(a));
    let t = counts[keep];
    map.retain(|_, v| {
        *v = v.saturating_sub(t);
        *v > 0
    });
    t
}

/// What went wrong with an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// The input could not be opened: none of it was read (a replay that hits this did not deliver everything).
    CannotOpen,
    /// The input ended early (a gzip stream cut short, a read error): what came before was processed.
    EndedEarly,
}

/// Per-input problems worth reporting.
#[derive(Debug, Clone)]
pub struct InputProblem {
    /// The input's name.
    pub input: String,
    /// What kind of problem.
    pub kind: ProblemKind,
    /// What went wrong.
    pub message: String,
}

/// Renders the end-of-replay summary.
pub fn render_summary(
    s: &BatchStats,
    problems: &[InputProblem],
    elapsed: std::time::Duration,
    input_bytes: u64,
) -> String {
    let mut o = String::new();
    let secs = elapsed.as_secs_f64().max(1e-9);
    let _ = writeln!(
        o,
        "hubble-ingest: read {} lines ({}) in {:.2}s ({}/s)",
        group_digits(s.frame.physical_lines),
        human_bytes(input_bytes),
        secs,
        human_bytes((input_bytes as f64 / secs) as u64)
    );
    let parsed: u64 = s.records.iter().sum();
    let _ = write!(o, "  records     ");
    let mut first = true;
    for k in RecordKind::ALL {
        let n = s.record(k);
        if n > 0 || k == RecordKind::Flow {
            let _ = write!(
                o,
                "{}{} {}",
                if first { "" } else { ", " },
                group_digits(n),
                k.name()
            );
            first = false;
        }
    }
    let _ = writeln!(o, "  ({} parsed)", group_digits(parsed));
    if s.prefiltered > 0 {
        let _ = writeln!(
            o,
            "  prefilter   {} lines rejected unparsed ({} of them flow records)",
            group_digits(s.prefiltered),
            group_digits(s.prefiltered_flow_like)
        );
    }
    let _ = write!(o, "  kept        {} flows", group_digits(s.kept_flows));
    if s.kept_other > 0 {
        let _ = write!(o, ", {} non-flow records", group_digits(s.kept_other));
    }
    let _ = writeln!(o);
    let mut skipped: Vec<(&str, u64)> = Skip::ALL
        .iter()
        .map(|&k| (k.name(), s.skip(k)))
        .chain([
            ("oversize", s.frame.oversize),
            ("malformed_frame", s.frame.malformed_frame),
            ("invalid_ip", s.invalid_ip),
        ])
        .filter(|&(_, n)| n > 0)
        .collect();
    skipped.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    if !skipped.is_empty() {
        let _ = write!(o, "  skipped     ");
        for (i, (k, n)) in skipped.iter().enumerate() {
            let _ = write!(
                o,
                "{}{} {}",
                if i > 0 { ", " } else { "" },
                group_digits(*n),
                k
            );
        }
        let _ = writeln!(o);
    }
    top(
        &mut o,
        "by drop reason",
        &s.by_drop_reason,
        s.drop_reason_max_error,
    );
    top(
        &mut o,
        "by destination",
        &s.destination_counts(),
        s.destination_max_error,
    );
    top(
        &mut o,
        "by destination CIDR groups",
        &s.by_destination_groups,
        s.groups_max_error,
    );
    for p in problems {
        let _ = writeln!(o, "  WARNING     {}: {}", p.input, p.message);
    }
    o
}

fn top(o: &mut String, title: &str, map: &CountMap, max_error: u64) {
    if map.is_empty() {
        return;
    }
    let mut v: Vec<(&str, u64)> = map.iter().map(|(k, &n)| (&**k, n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    if max_error == 0 {
        let _ = writeln!(o, "  kept flows {title} (top 10 of {}):", v.len());
    } else {
        let _ = writeln!(
            o,
            "  kept flows {title} (top 10; too many distinct keys to count each: counts may be up to {} low):",
            group_digits(max_error)
        );
    }
    let width = v
        .iter()
        .take(10)
        .map(|(_, n)| group_digits(*n).len())
        .max()
        .unwrap_or(1);
    for (k, n) in v.iter().take(10) {
        let _ = writeln!(o, "    {:>width$}  {}", group_digits(*n), k);
    }
}

/// `1234567` → `1,234,567`.
pub fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes in binary units, one decimal.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_renders() {
        let mut a = BatchStats::default();
        a.frame.physical_lines = 10;
        a.records[RecordKind::Flow as usize] = 8;
        a.kept_flows = 2;
        bump(&mut a.by_drop_reason, "POLICY_DENY");
        bump(&mut a.by_destination, "ns/pod");
        *a.by_destination_ip
            .entry("203.0.113.7".parse().unwrap())
            .or_insert(0) += 1;
        let mut b = a.clone();
        bump(&mut b.by_drop_reason, "POLICY_DENY");
        b.skipped[Skip::MalformedJson as usize] = 1;
        a.merge(&b);
        assert_eq!(a.kept_flows, 4);
        assert_eq!(a.by_drop_reason["POLICY_DENY"], 3);
        assert_eq!(a.bad_input(), 1);
        let text = render_summary(&a, &[], std::time::Duration::from_secs(1), 2048);
        assert!(text.contains("read 20 lines (2.0 KiB)"), "{text}");
        assert!(text.contains("16 flow"), "{text}");
        assert!(text.contains("kept        4 flows"), "{text}");
        assert!(text.contains("1 malformed_json"), "{text}");
        assert!(text.contains("3  POLICY_DENY"), "{text}");
        assert_eq!(a.by_destination_ip.len(), 1);
        let dst = a.destination_counts();
        assert_eq!(dst["203.0.113.7"], 2);
        assert_eq!(dst["ns/pod"], 2);
        assert!(text.contains("2  203.0.113.7"), "{text}");
        assert_eq!(a.destination_max_error, 0);
        assert!(!text.contains("counts may be"), "{text}");
    }

    #[test]
    fn totals_stay_bounded_with_known_error() {
        let mut total = BatchStats::default();
        let heavy: IpAddr = "198.51.100.1".parse().unwrap();
        let mut truth_heavy = 0u64;
        for batch in 0..200u32 {
            let mut b = BatchStats::default();
            for i in 0..500u32 {
                let n = batch * 500 + i;
                let ip = IpAddr::from([10, (n >> 16) as u8, (n >> 8) as u8, n as u8]);
                *b.by_destination_ip.entry(ip).or_insert(0) += 1;
                bump(&mut b.by_destination, &format!("ns/pod-{n}"));
                bump(&mut b.by_destination_groups, &format!("[\"g{n}\"]"));
            }
            *b.by_destination_ip.entry(heavy).or_insert(0) += 50;
            truth_heavy += 50;
            total.merge(&b);
            assert!(total.by_destination_ip.len() <= 2 * SUMMARY_KEYS);
            assert!(total.by_destination.len() <= 2 * SUMMARY_KEYS);
            assert!(total.by_destination_groups.len() <= 2 * SUMMARY_KEYS);
        }
        // 100 k distinct keys each: pruned, with an error bound that holds.
        assert!(total.destination_max_error > 0);
        assert!(total.groups_max_error > 0);
        let shown = total.by_destination_ip[&heavy];
        assert!(shown <= truth_heavy);
        assert!(
            shown + total.destination_max_error >= truth_heavy,
            "{shown} {}",
            total.destination_max_error
        );
        let text = render_summary(&total, &[], std::time::Duration::from_secs(1), 1);
        assert!(text.contains("198.51.100.1"), "{text}");
        assert!(text.contains("counts may be up to"), "{text}");
    }

    #[test]
    fn formats_numbers() {
        assert_eq!(group_digits(1234567), "1,234,567");
        assert_eq!(group_digits(12), "12");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }
}
