//! The HTML report: one self-contained page, rendered from [`ReportData`] by this binary.
//!
//! Guarantees:
//! - Everything is inline: CSS in a `<style>` element, charts as inline SVG drawn here. There is no script and
//!   no external resource, and the page's Content-Security-Policy (`default-src 'none'`) forbids both, so it
//!   opens the same on an air-gapped machine.
//! - Tables are plain HTML, readable without JavaScript; each chart also has its numbers in a table.
//! - Every value that comes from flows or from the command line (pod names, labels, FQDNs, policy names, file
//!   names) goes through [`escape`], in text, attributes and SVG `<title>`s alike: a label value
//!   `<script>alert(1)</script>` renders as that text.

use super::{ReportData, Row, Table};
use crate::stats::{group_digits, human_bytes};
use std::fmt::{self, Display, Write as _};

/// HTML-escapes `s` for text and double- or single-quoted attribute values (`& < > " '`).
pub fn escape(s: &str) -> Escaped<'_> {
    Escaped(s)
}

/// A string that displays HTML-escaped (see [`escape`]).
pub struct Escaped<'a>(&'a str);

impl Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut last = 0;
        for (i, b) in self.0.bytes().enumerate() {
            let rep = match b {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\'' => "&#39;",
                _ => continue,
            };
            f.write_str(&self.0[last..i])?;
            f.write_str(rep)?;
            last = i + 1;
        }
        f.write_str(&self.0[last..])
    }
}

const PALETTE: [&str; 12] = [
    "#d1495b", "#00798c", "#edae49", "#66a182", "#2e4057", "#8d96a3", "#7b2cbf", "#f26419",
    "#33658a", "#86bbd8", "#758e4f", "#999999",
];

const STYLE: &str = r#"
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 0; color: #1d2733; background: #f6f7f9; }
header { background: #1d2733; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: #c9d1dc; }
main { padding: 8px 32px 40px; max-width: 1400px; }
section { background: #fff; border: 1px solid #dde2e8; border-radius: 6px; padding: 12px 18px 16px; margin: 16px 0; }
h2 { font-size: 17px; margin: 4px 0 10px; }
h3 { font-size: 14px; margin: 10px 0 6px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 16px; }
.card { background: #fff; border: 1px solid #dde2e8; border-radius: 6px; padding: 10px 16px; min-width: 170px; }
.card .v { font-size: 22px; font-weight: 600; }
.card .k { color: #5b6878; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; }
.grid section { margin: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #eef0f3; vertical-align: top; }
th { color: #5b6878; font-weight: 600; font-size: 12px; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.k { overflow-wrap: anywhere; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
tr.other td { color: #5b6878; font-style: italic; }
.bar { display: inline-block; height: 9px; background: #00798c; border-radius: 2px; vertical-align: middle; margin-right: 6px; }
.note { color: #5b6878; font-size: 12px; margin: 6px 0 0; }
.warn { color: #a4161a; }
ul.plain { margin: 0; padding-left: 18px; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; }
.legend span { display: inline-block; margin-right: 14px; }
.legend i { display: inline-block; width: 11px; height: 11px; margin-right: 5px; vertical-align: -1px; border-radius: 2px; }
svg text { font: 11px system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; fill: #1d2733; }
details summary { cursor: pointer; color: #33658a; margin-top: 8px; }
"#;

/// Renders the whole page.
pub fn render(d: &ReportData) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let _ = render_into(&mut o, d);
    o
}

fn render_into(o: &mut String, d: &ReportData) -> fmt::Result {
    writeln!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">"
    )?;
    writeln!(
        o,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
    )?;
    writeln!(
        o,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>hubble-ingest report: {} kept flows</title>\n<style>{STYLE}</style>\n</head>\n<body>",
        group_digits(d.kept_flows)
    )?;
    let range = match &d.time_range {
        Some([a, b]) => format!("{} – {} (UTC)", short_time(a), short_time(b)),
        None => "no flow times".to_owned(),
    };
    writeln!(
        o,
        "<header><h1>Kept flows: <span id=\"kept-flows\">{}</span></h1><p>{} · {} · {}</p></header>\n<main>",
        group_digits(d.kept_flows),
        escape(&range),
        escape(&inputs_line(d)),
        escape(&d.generator)
    )?;
    cards(o, d)?;
    timeline(o, d)?;
    matrix(o, d)?;
    let t = &d.tables;
    ip_table(o, &t.destination_ips, d.kept_flows)?;
    writeln!(o, "<div class=\"grid\">")?;
    if !t.destination_groups.rows.is_empty() {
        table(
            o,
            "destination-groups",
            "Top destination CIDR groups",
            "CIDR groups",
            &t.destination_groups,
            d.kept_flows,
        )?;
    }
    table(
        o,
        "destination-names",
        "Top destination FQDNs",
        "FQDN (destination_names)",
        &t.destination_names,
        d.kept_flows,
    )?;
    table(
        o,
        "source-workloads",
        "Top source workloads",
        "namespace/workload",
        &t.source_workloads,
        d.kept_flows,
    )?;
    table(
        o,
        "source-namespaces",
        "Top source namespaces",
        "namespace",
        &t.source_namespaces,
        d.kept_flows,
    )?;
    table(
        o,
        "source-pods",
        "Top source pods",
        "namespace/pod",
        &t.source_pods,
        d.kept_flows,
    )?;
    table(
        o,
        "source-labels",
        "Top source label sets",
        "identity labels (namespace- and policy-derived left out)",
        &t.source_labels,
        d.kept_flows,
    )?;
    table(
        o,
        "ports",
        "Ports and protocols",
        "protocol/destination port",
        &t.ports,
        d.kept_flows,
    )?;
    table(o, "nodes", "Nodes", "node", &t.nodes, d.kept_flows)?;
    table(
        o,
        "policies",
        "Policies that denied",
        "policy (direction)",
        &t.policies,
        d.kept_flows,
    )?;
    table(
        o,
        "verdicts",
        "Verdicts",
        "verdict",
        &t.verdicts,
        d.kept_flows,
    )?;
    writeln!(o, "</div>")?;
    run_section(o, d)?;
    writeln!(
        o,
        "<p class=\"note\">Shares are of kept flows. Counts are exact unless a table says otherwise (bounded \
         summaries: a shown count is never above the truth and at most the stated amount below it).</p>"
    )?;
    writeln!(o, "</main>\n</body>\n</html>")
}

fn short_time(rfc: &str) -> String {
    // 2025-11-25T12:00:01.000007919Z → 2025-11-25 12:00:01
    rfc.get(..19).unwrap_or(rfc).replacen('T', " ", 1)
}

fn inputs_line(d: &ReportData) -> String {
    let n = d.run.inputs.len();
    format!(
        "{} input{} ({})",
        n,
        if n == 1 { "" } else { "s" },
        human_bytes(d.run.input_bytes)
    )
}

fn pct(share: f64) -> String {
    let p = share * 100.0;
    if p > 0.0 && p < 0.1 {
        "<0.1 %".to_owned()
    } else {
        format!("{p:.1} %")
    }
}

fn cards(o: &mut String, d: &ReportData) -> fmt::Result {
    let card = |o: &mut String, id: &str, k: &str, v: &str| -> fmt::Result {
        writeln!(
            o,
            "<div class=\"card\"><div class=\"k\">{}</div><div class=\"v\" id=\"{}\">{}</div></div>",
            escape(k),
            escape(id),
            escape(v)
        )
    };
    writeln!(o, "<div class=\"cards\">")?;
    card(o, "card-kept", "kept flows", &group_digits(d.kept_flows))?;
    let top_reason = d
        .timeline
        .categories
        .iter()
        .zip(&d.timeline.category_totals)
        .max_by_key(|(_, n)| **n)
        .map(|(c, n)| format!("{c} ({})", group_digits(*n)))
        .unwrap_or_else(|| "—".to_owned());
    card(
        o,
        "card-top-reason",
        "top drop reason / verdict",
        &top_reason,
    )?;
    card(
        o,
        "card-sources",
        "source workloads",
        &distinct(&d.tables.source_workloads),
    )?;
    card(
        o,
        "card-destinations",
        "destination IPs",
        &distinct(&d.tables.destination_ips),
    )?;
    card(
        o,
        "card-lines",
        "lines read",
        &group_digits(d.lines.physical),
    )?;
    card(
        o,
        "card-bad",
        "bad input lines",
        &group_digits(d.lines.bad_input),
    )?;
    writeln!(o, "</div>")
}

fn distinct(t: &Table) -> String {
    if t.other == 0 && t.max_error == 0 {
        group_digits(t.rows.len() as u64)
    } else {
        format!("> {}", group_digits(t.rows.len() as u64))
    }
}

fn timeline(o: &mut String, d: &ReportData) -> fmt::Result {
    let tl = &d.timeline;
    let width_label = match tl.bucket_seconds {
        60 => "minute".to_owned(),
        3600 => "hour".to_owned(),
        86400 => "day".to_owned(),
        s if s % 86400 == 0 => format!("{} days", s / 86400),
        s if s % 3600 == 0 => format!("{} hours", s / 3600),
        s => format!("{} minutes", s / 60),
    };
    writeln!(
        o,
        "<section id=\"timeline\"><h2>Kept flows per {} (UTC), by drop reason or verdict</h2>",
        escape(&width_label)
    )?;
    if tl.buckets.is_empty() {
        writeln!(o, "<p>No kept flow has a time.</p></section>")?;
        return Ok(());
    }
    let (w, h) = (1300.0f64, 260.0f64);
    let (left, right, top, bottom) = (60.0, 10.0, 10.0, 40.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    let highest = tl
        .buckets
        .iter()
        .map(|b| b.counts.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let step = nice_step(highest.div_ceil(4));
    let max = step * highest.div_ceil(step);
    let ticks = max / step;
    let n = tl.buckets.len();
    let slot = pw / n as f64;
    let bw = (slot * 0.85).max(1.0);
    writeln!(
        o,
        "<svg role=\"img\" aria-label=\"Kept flows over time\" viewBox=\"0 0 {w} {h}\" width=\"100%\">"
    )?;
    // Y axis with three gridlines.
    for i in 0..=ticks {
        let v = step * i;
        let y = top + ph - ph * i as f64 / ticks as f64;
        writeln!(
            o,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e3e7ec\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            w - right,
            left - 6.0,
            y + 4.0,
            group_digits(v)
        )?;
    }
    for (i, b) in tl.buckets.iter().enumerate() {
        let x = left + slot * i as f64 + (slot - bw) / 2.0;
        let mut y = top + ph;
        for (c, &count) in b.counts.iter().enumerate() {
            if count == 0 {
                continue;
            }
            let bh = ph * count as f64 / max as f64;
            y -= bh;
            let cat = tl.categories.get(c).map(String::as_str).unwrap_or("?");
            writeln!(
                o,
                "<rect x=\"{x:.2}\" y=\"{y:.2}\" width=\"{bw:.2}\" height=\"{bh:.2}\" fill=\"{}\"><title>{} · {}: {}</title></rect>",
                PALETTE[c % PALETTE.len()],
                escape(&b.start),
                escape(cat),
                group_digits(count)
            )?;
        }
    }
    // X labels: about ten, evenly spaced.
    let step = n.div_ceil(10).max(1);
    for (i, b) in tl.buckets.iter().enumerate().step_by(step) {
        let x = left + slot * i as f64 + slot / 2.0;
        writeln!(
            o,
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            top + ph + 16.0,
            escape(&b.start)
        )?;
    }
    writeln!(o, "</svg>")?;
    write!(o, "<p class=\"legend\">")?;
    for (c, (name, total)) in tl.categories.iter().zip(&tl.category_totals).enumerate() {
        write!(
            o,
            "<span><i style=\"background:{}\"></i>{} ({})</span>",
            PALETTE[c % PALETTE.len()],
            escape(name),
            group_digits(*total)
        )?;
    }
    writeln!(o, "</p>")?;
    if tl.untimed > 0 {
        writeln!(
            o,
            "<p class=\"note\">{} kept flows have no usable time and are not in the chart.</p>",
            group_digits(tl.untimed)
        )?;
    }
    writeln!(
        o,
        "<details><summary>Timeline as a table</summary><table><thead><tr><th>bucket start</th>"
    )?;
    for c in &tl.categories {
        write!(o, "<th class=\"n\">{}</th>", escape(c))?;
    }
    writeln!(o, "</tr></thead><tbody>")?;
    for b in tl
        .buckets
        .iter()
        .filter(|b| b.counts.iter().any(|&c| c > 0))
    {
        write!(o, "<tr><td>{}</td>", escape(&b.start))?;
        for c in &b.counts {
            write!(o, "<td class=\"n\">{}</td>", group_digits(*c))?;
        }
        writeln!(o, "</tr>")?;
    }
    writeln!(o, "</tbody></table></details></section>")
}

/// The smallest 1, 2 or 5 × 10^k that is at least `x` (at least 1).
fn nice_step(x: u64) -> u64 {
    let mut p = 1u64;
    loop {
        for m in [1, 2, 5] {
            if m * p >= x {
                return m * p;
            }
        }
        match p.checked_mul(10) {
            Some(n) => p = n,
            None => return x.max(1),
        }
    }
}

fn truncate_label(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn matrix(o: &mut String, d: &ReportData) -> fmt::Result {
    let m = &d.matrix;
    writeln!(
        o,
        "<section id=\"matrix\"><h2>Who tried to reach what: top source workloads × destinations</h2>"
    )?;
    if m.sources.is_empty() || m.destinations.is_empty() {
        writeln!(o, "<p>No kept flows.</p></section>")?;
        return Ok(());
    }
    let (rows, cols) = (m.sources.len(), m.destinations.len());
    // Room above the grid for the rotated column labels (about 6 px per character, sin 35° ≈ 0.57).
    let longest = m
        .destinations
        .iter()
        .map(|d| d.chars().count().min(28))
        .max()
        .unwrap_or(0);
    let (left, top) = (300.0f64, (24.0 + longest as f64 * 6.2 * 0.58).min(170.0));
    let (cw, ch) = (74.0f64, 26.0f64);
    let w = left + cw * cols as f64 + 20.0;
    let h = top + ch * rows as f64 + 10.0;
    let max = m.counts.iter().flatten().copied().max().unwrap_or(0).max(1);
    writeln!(
        o,
        "<svg role=\"img\" aria-label=\"Source workloads by destination\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" style=\"max-width:100%\">"
    )?;
    for (j, dst) in m.destinations.iter().enumerate() {
        let x = left + cw * j as f64 + cw / 2.0;
        writeln!(
            o,
            "<text transform=\"translate({x:.1},{:.1}) rotate(-35)\"><title>{}</title>{}</text>",
            top - 8.0,
            escape(dst),
            escape(&truncate_label(dst, 28))
        )?;
    }
    for (i, src) in m.sources.iter().enumerate() {
        let y = top + ch * i as f64;
        writeln!(
            o,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\"><title>{}</title>{}</text>",
            left - 8.0,
            y + ch / 2.0 + 4.0,
            escape(src),
            escape(&truncate_label(src, 44))
        )?;
        for (j, dst) in m.destinations.iter().enumerate() {
            let n = m.counts[i][j];
            let x = left + cw * j as f64;
            let a = if n == 0 {
                0.0
            } else {
                0.12 + 0.88 * (n as f64 / max as f64).sqrt()
            };
            writeln!(
                o,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#00798c\" fill-opacity=\"{a:.3}\" stroke=\"#eef0f3\"><title>{} → {}: {}</title></rect>",
                cw - 1.0,
                ch - 1.0,
                escape(src),
                escape(dst),
                group_digits(n)
            )?;
            if n > 0 {
                writeln!(
                    o,
                    "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" style=\"fill:{}\">{}</text>",
                    x + cw / 2.0,
                    y + ch / 2.0 + 4.0,
                    if a > 0.55 { "#fff" } else { "#1d2733" },
                    group_digits(n)
                )?;
            }
        }
    }
    writeln!(o, "</svg>")?;
    writeln!(
        o,
        "<p class=\"note\">Destinations are the in-cluster workload, else the destination's CIDR groups, else its \
         first FQDN, else its IP.{}</p>",
        if m.max_error > 0 {
            format!(" Cells may be up to {} low (bounded summary).", group_digits(m.max_error))
        } else {
            String::new()
        }
    )?;
    writeln!(
        o,
        "<details><summary>Matrix as a table</summary><table><thead><tr><th>source</th>"
    )?;
    for dst in &m.destinations {
        write!(o, "<th class=\"n\">{}</th>", escape(dst))?;
    }
    writeln!(o, "</tr></thead><tbody>")?;
    for (i, src) in m.sources.iter().enumerate() {
        write!(o, "<tr><td class=\"k\">{}</td>", escape(src))?;
        for n in &m.counts[i] {
            write!(o, "<td class=\"n\">{}</td>", group_digits(*n))?;
        }
        writeln!(o, "</tr>")?;
    }
    writeln!(o, "</tbody></table></details></section>")
}

fn row_cells(o: &mut String, r: &Row) -> fmt::Result {
    write!(
        o,
        "<td class=\"k\">{}</td><td class=\"n\" data-count=\"{}\">{}</td><td class=\"n\"><span class=\"bar\" style=\"width:{:.0}px\"></span>{}</td>",
        escape(&r.key),
        r.count,
        group_digits(r.count),
        (r.share * 80.0).clamp(0.0, 80.0),
        pct(r.share)
    )
}

fn table_foot(o: &mut String, t: &Table, kept: u64, cols: usize) -> fmt::Result {
    if t.other > 0 {
        let share = if kept == 0 {
            0.0
        } else {
            t.other as f64 / kept as f64
        };
        writeln!(
            o,
            "<tr class=\"other\"><td class=\"k\">(other)</td><td class=\"n\" data-count=\"{}\">{}</td><td class=\"n\">{}</td>{}</tr>",
            t.other,
            group_digits(t.other),
            pct(share),
            "<td></td>".repeat(cols.saturating_sub(3))
        )?;
    }
    writeln!(o, "</tbody></table>")?;
    if t.max_error > 0 {
        writeln!(
            o,
            "<p class=\"note\">Bounded summary: counts may be up to {} low.</p>",
            group_digits(t.max_error)
        )?;
    }
    Ok(())
}

fn table(o: &mut String, id: &str, title: &str, what: &str, t: &Table, kept: u64) -> fmt::Result {
    writeln!(
        o,
        "<section id=\"{}\"><h2>{}</h2>",
        escape(id),
        escape(title)
    )?;
    if t.rows.is_empty() {
        writeln!(o, "<p>None.</p></section>")?;
        return Ok(());
    }
    writeln!(
        o,
        "<table><thead><tr><th>{}</th><th class=\"n\">flows</th><th class=\"n\">share</th></tr></thead><tbody>",
        escape(what)
    )?;
    for r in &t.rows {
        write!(o, "<tr>")?;
        row_cells(o, r)?;
        writeln!(o, "</tr>")?;
    }
    table_foot(o, t, kept, 3)?;
    writeln!(o, "</section>")
}

fn ip_table(o: &mut String, t: &Table, kept: u64) -> fmt::Result {
    writeln!(
        o,
        "<section id=\"destination-ips\"><h2>Top destination IPs</h2>"
    )?;
    if t.rows.is_empty() {
        writeln!(o, "<p>None.</p></section>")?;
        return Ok(());
    }
    let with_groups = t.rows.iter().any(|r| r.groups.is_some());
    write!(
        o,
        "<table><thead><tr><th>destination IP</th><th class=\"n\">flows</th><th class=\"n\">share</th>"
    )?;
    if with_groups {
        write!(o, "<th>CIDR groups</th><th>group labels</th>")?;
    }
    writeln!(o, "</tr></thead><tbody>")?;
    for r in &t.rows {
        write!(o, "<tr>")?;
        row_cells(o, r)?;
        if with_groups {
            let groups = r.groups.as_deref().unwrap_or_default().join(", ");
            let labels: Vec<String> = r
                .labels
                .iter()
                .flatten()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            write!(
                o,
                "<td class=\"k\">{}</td><td class=\"k\">{}</td>",
                escape(&groups),
                escape(&labels.join(", "))
            )?;
        }
        writeln!(o, "</tr>")?;
    }
    table_foot(o, t, kept, if with_groups { 5 } else { 3 })?;
    writeln!(o, "</section>")
}

fn run_section(o: &mut String, d: &ReportData) -> fmt::Result {
    let r = &d.run;
    writeln!(
        o,
        "<section id=\"run\"><h2>Inputs, filter and skipped lines</h2><div class=\"grid\">"
    )?;
    writeln!(o, "<div><h3>Inputs</h3><table><thead><tr><th>file</th><th class=\"n\">size</th></tr></thead><tbody>")?;
    for i in &r.inputs {
        writeln!(
            o,
            "<tr><td class=\"k\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&i.name),
            i.bytes.map(human_bytes).unwrap_or_else(|| "—".to_owned())
        )?;
    }
    writeln!(o, "</tbody></table>")?;
    let range = match &d.time_range {
        Some([a, b]) => format!("{a} – {b}"),
        None => "—".to_owned(),
    };
    writeln!(
        o,
        "<p class=\"note\">Read {} in {:.2} s. Kept flows from {}.</p>",
        human_bytes(r.input_bytes),
        r.seconds,
        escape(&range)
    )?;
    writeln!(o, "<h3>Filter in effect</h3><ul class=\"plain\">")?;
    for f in &r.filter {
        writeln!(o, "<li><code>{}</code></li>", escape(f))?;
    }
    writeln!(o, "</ul><h3>CIDR-group sources</h3>")?;
    if r.cidr_group_sources.is_empty() {
        writeln!(o, "<p>None (destinations are not tagged with groups).</p>")?;
    } else {
        writeln!(o, "<ul class=\"plain\">")?;
        for s in &r.cidr_group_sources {
            writeln!(o, "<li><code>{}</code></li>", escape(s))?;
        }
        writeln!(o, "</ul>")?;
        if let (Some(g), Some(p)) = (r.cidr_groups, r.cidr_prefixes) {
            writeln!(
                o,
                "<p class=\"note\">{} groups, {} prefixes.</p>",
                group_digits(g as u64),
                group_digits(p as u64)
            )?;
        }
    }
    writeln!(o, "</div><div><h3>Lines and records</h3><table><tbody>")?;
    let l = &d.lines;
    let row = |o: &mut String, id: &str, k: &str, v: u64| -> fmt::Result {
        writeln!(
            o,
            "<tr><td>{}</td><td class=\"n\" id=\"{}\">{}</td></tr>",
            escape(k),
            escape(id),
            group_digits(v)
        )
    };
    row(o, "lines-physical", "lines read", l.physical)?;
    row(o, "lines-logical", "logical lines", l.logical)?;
    for (k, v) in &l.records {
        if *v > 0 {
            row(o, &format!("records-{k}"), &format!("{k} records"), *v)?;
        }
    }
    row(
        o,
        "lines-prefiltered",
        "rejected by the prefilter, unparsed",
        l.prefiltered,
    )?;
    row(o, "lines-kept", "kept flows", d.kept_flows)?;
    writeln!(o, "</tbody></table><h3>Skipped lines by reason</h3>")?;
    if l.skipped.is_empty() {
        writeln!(o, "<p>None.</p>")?;
    } else {
        writeln!(o, "<table><tbody>")?;
        for (k, v) in &l.skipped {
            row(o, &format!("skipped-{k}"), k, *v)?;
        }
        writeln!(o, "</tbody></table>")?;
        writeln!(
            o,
            "<p class=\"note\">Bad input (malformed, truncated, invalid): <span id=\"bad-input\">{}</span> lines. Agent log lines are expected on cilium-agent's stdout.</p>",
            group_digits(l.bad_input)
        )?;
    }
    if !l.problems.is_empty() {
        writeln!(
            o,
            "<h3 class=\"warn\">Input problems</h3><ul class=\"plain\">"
        )?;
        for p in &l.problems {
            writeln!(o, "<li class=\"warn\">{}</li>", escape(p))?;
        }
        writeln!(o, "</ul>")?;
    }
    writeln!(o, "</div></div></section>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_steps_are_round() {
        assert_eq!(nice_step(0), 1);
        assert_eq!(nice_step(5), 5);
        assert_eq!(nice_step(6), 10);
        assert_eq!(nice_step(13), 20);
        assert_eq!(nice_step(4_300), 5_000);
    }

    #[test]
    fn escapes_every_special_character() {
        assert_eq!(
            escape(r#"<script>alert("x" & 'y')</script>"#).to_string(),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
        assert_eq!(escape("plain ü").to_string(), "plain ü");
        assert_eq!(escape("").to_string(), "");
    }

    #[test]
    fn hostile_values_render_as_text_everywhere() {
        use crate::report::aggregate::FlowAggregate;
        use crate::report::{ReportData, RunContext};
        use hubble_flow::flow::Flow;
        let hostile = r#"{"time":"2025-11-25T12:00:00Z","verdict":"DROPPED","drop_reason_desc":"<b>X</b>","IP":{"source":"10.0.0.1","destination":"203.0.113.9"},"source":{"namespace":"ns\"><svg onload=alert(1)>","pod_name":"p'&amp;<script>alert(2)</script>","labels":["k8s:app=<script>alert(3)</script>"]},"destination_names":["<img src=x onerror=alert(4)>.example."],"node_name":"<iframe>","traffic_direction":"EGRESS","egress_denied_by":[{"name":"</title><script>alert(5)</script>","kind":"CiliumNetworkPolicy"}]}"#;
        let f: Flow = serde_json::from_str(hostile).unwrap();
        let mut agg = FlowAggregate::default();
        agg.add_flow(&f, None, &crate::enrich::Enrichment::default());
        let ctx = RunContext {
            inputs: vec![("in<put>.log".into(), Some(1))],
            filter: vec!["--allowlist #1: <script>".into()],
            ..RunContext::default()
        };
        let data = ReportData::build(&agg, &Default::default(), &[], &ctx, None);
        let html = render(&data);
        for needle in [
            "<script",
            "<svg onload",
            "<img",
            "<iframe",
            "<b>X",
            "'&amp;<",
        ] {
            assert!(!html.contains(needle), "unescaped {needle:?} in the page");
        }
        assert!(html.contains("&lt;script&gt;alert(2)&lt;/script&gt;"));
        assert!(html.contains("&lt;/title&gt;&lt;script&gt;alert(5)"));
        assert!(html.contains("&lt;img src=x onerror=alert(4)&gt;.example."));
        assert!(html.contains("ns&quot;&gt;&lt;svg onload=alert(1)&gt;"));
        // The only <svg> elements are the two charts, and there is no script element at all.
        assert_eq!(html.matches("<svg").count(), 2);
        assert!(!html.to_ascii_lowercase().contains("<script"));
    }
}
