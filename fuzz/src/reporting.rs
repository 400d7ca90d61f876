//! The report's aggregation and rendering on arbitrary input (`report_flows`).
//!
//! The input is split into lines; every line that decodes to a flow with valid addresses is counted, even
//! lines into one aggregate and odd lines into another, both with capacity 2 so that pruning and the
//! doorkeeper bitset start after a handful of distinct keys; the second is merged into the first, as worker
//! shards are. Properties (a violation panics):
//! - every counter's held counts and `other` add up to its `total` exactly;
//! - every counter keeps Misra–Gries's bound, `max_error × (capacity + 1) ≤ other`, and holds at most
//!   `2 × capacity` keys;
//! - the merged aggregate counted every such flow once;
//! - building the report model and rendering it as HTML and JSON never panics, and the HTML holds no element
//!   a flow value could have smuggled in (`<script`, `<iframe`, `<img`, `<object`, `<embed`), and no `<svg`
//!   but the page's own charts.

use hubble_flow::record::{decode, Record};
use hubble_ingest::enrich::enrich;
use hubble_ingest::report::aggregate::TopCounter;
use hubble_ingest::report::{html, json, FlowAggregate, ReportData, RunContext};
use hubble_ingest::stats::BatchStats;

/// Aggregates the flows among `data`'s lines, checks the counters, renders the report.
pub fn check_report(data: &[u8]) {
    let even = aggregate(data);
    render(&even, data.len() as u64);
}

/// The merged aggregate of `data`'s flows, its counters checked.
fn aggregate(data: &[u8]) -> FlowAggregate {
    let mut even = FlowAggregate::with_capacity(2);
    let mut odd = FlowAggregate::with_capacity(2);
    let mut flows = 0u64;
    for (i, line) in data.split(|&b| b == b'\n').enumerate() {
        let Ok(Record::Flow {
            flow, node_name, ..
        }) = decode(line)
        else {
            continue;
        };
        // The pipeline skips a kept flow whose address is not an IP (counted as invalid input).
        let Ok(tags) = enrich(&flow, None) else {
            continue;
        };
        let agg = if i % 2 == 0 { &mut even } else { &mut odd };
        agg.add_flow(&flow, node_name.as_deref(), &tags);
        flows += 1;
    }
    even.merge(&odd);
    assert_eq!(even.flows, flows, "every flow counted once");
    for c in even.counters() {
        check_counter(c);
    }
    even
}

/// Renders `agg` as both formats and checks the page for markup from flow values.
fn render(agg: &FlowAggregate, input_bytes: u64) {
    let ctx = RunContext {
        inputs: vec![("fuzz".into(), Some(input_bytes))],
        filter: vec![],
        cidr_sources: vec![],
        cidr_table: None,
        input_bytes,
        seconds: 0.0,
    };
    let model = ReportData::build(agg, &BatchStats::default(), &[], &ctx, None);
    let _ = json::render(&model);
    let page = html::render(&model).to_ascii_lowercase();
    for tag in ["<script", "<iframe", "<img", "<object", "<embed"] {
        assert!(!page.contains(tag), "{tag} in the page");
    }
    for (at, _) in page.match_indices("<svg") {
        assert!(
            page[at..].starts_with("<svg role=\"img\""),
            "an <svg> that is not the page's own chart"
        );
    }
}

fn check_counter(c: &TopCounter) {
    let held: u64 = c.top(usize::MAX).iter().map(|&(_, n)| n).sum();
    assert_eq!(held + c.other(), c.total(), "counts and other add up");
    assert!(
        c.max_error() * (c.capacity() as u64 + 1) <= c.other(),
        "max_error {} with capacity {} and other {}",
        c.max_error(),
        c.capacity(),
        c.other()
    );
    assert!(c.len() <= 2 * c.capacity(), "{} keys held", c.len());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Not vacuous: the fixture's flows are counted, and with capacity 2 the counters prune (so the bound
    /// and the doorkeeper are exercised) and still pass every check; its hostile values render as text.
    #[test]
    fn the_fixture_prunes_and_passes() {
        let data = include_bytes!("../../fixtures/agent-stdout.log");
        let agg = aggregate(data);
        assert!(agg.flows > 10, "{} flows", agg.flows);
        assert!(agg.counters().iter().any(|c| c.max_error() > 0));
        let hostile = br#"{"flow":{"time":"2025-11-25T12:00:00Z","verdict":"DROPPED","IP":{"source":"10.0.0.1","destination":"203.0.113.9"},"source":{"namespace":"ns\"><svg onload=alert(1)>","pod_name":"<script>alert(2)</script>","labels":["k8s:app=<img src=x>"]},"destination_names":["<iframe>.example."],"traffic_direction":"EGRESS"}}"#;
        check_report(hostile);
        assert_eq!(aggregate(hostile).flows, 1);
    }
}
