//! Per-flow cost of the report's aggregation (`replay --report`): [`FlowAggregate::add_flow`] over decoded,
//! realistic kept flows, the part the report adds to a replay; and two of its parts alone (`report_parts`): a
//! counter whose keys churn (destination IPs) and the flow-time parse with and without [`MinuteCache`].
//!
//! Input: the first 20,000 lines of `$HUBBLE_BENCH_FLOWS`, default
//! `target/bench-data/allkept-realistic-300MB.log` (made by `scripts/bench-report.sh`, i.e. `gen-flows logs
//! --flow-share 1 --kept-share 1 --shape realistic --seed 2`); without it, the kept flows of the bundled
//! fixture, said loudly (those repeat a few endpoints, so they understate key churn).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hubble_flow::record::{decode_str, Record};
use hubble_ingest::enrich::enrich;
use hubble_ingest::report::aggregate::{parse_rfc3339, MinuteCache, TopCounter};
use hubble_ingest::report::FlowAggregate;
use std::io::BufRead;

fn lines() -> Vec<String> {
    let path = std::env::var("HUBBLE_BENCH_FLOWS")
        .unwrap_or_else(|_| "target/bench-data/allkept-realistic-300MB.log".into());
    match std::fs::File::open(&path) {
        Ok(f) => std::io::BufReader::new(f)
            .lines()
            .map_while(Result::ok)
            .take(20_000)
            .collect(),
        Err(e) => {
            eprintln!("report bench: {path}: {e}; using the fixture's kept flows (NOT realistic)");
            include_str!("../fixtures/agent-stdout.log")
                .lines()
                .filter(|l| l.contains("\"sub_type\":181"))
                .map(str::to_owned)
                .collect()
        }
    }
}

fn bench(c: &mut Criterion) {
    let lines = lines();
    let records: Vec<Record<'_>> = lines.iter().filter_map(|l| decode_str(l).ok()).collect();
    let flows: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::Flow {
                flow, node_name, ..
            } => Some((flow, node_name.as_deref())),
            _ => None,
        })
        .collect();
    let tags: Vec<_> = flows
        .iter()
        .map(|(f, _)| enrich(f, None).unwrap_or_default())
        .collect();
    let mut g = c.benchmark_group("report");
    g.throughput(Throughput::Elements(flows.len() as u64));
    // One aggregate for the whole run, as a replay worker has: the steady state (counters full, pruning).
    let mut agg = FlowAggregate::default();
    g.bench_function("add_flow", |b| {
        b.iter(|| {
            for ((flow, node), t) in flows.iter().zip(&tags) {
                agg.add_flow(flow, *node, t);
            }
            agg.flows
        })
    });
    // The same flows decoded just before they are counted, as a replay worker does (the decoded flow is hot in
    // cache): `decode_and_add_flow` minus `decode_only` is what the report adds per flow. Counting the 20,000
    // flows decoded once up front (above) instead touches each flow's lists cold, which overstates it.
    g.bench_function("decode_only", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for l in &lines {
                if let Ok(Record::Flow { flow, .. }) = decode_str(l) {
                    n += flow.source.as_ref().map_or(0, |s| s.labels.len());
                }
            }
            n
        })
    });
    let mut agg = FlowAggregate::default();
    g.bench_function("decode_and_add_flow", |b| {
        b.iter(|| {
            for l in &lines {
                if let Ok(Record::Flow {
                    flow, node_name, ..
                }) = decode_str(l)
                {
                    let t = enrich(&flow, None).unwrap_or_default();
                    agg.add_flow(&flow, node_name.as_deref(), &t);
                }
            }
            agg.flows
        })
    });
    g.finish();

    // The parts, in isolation: a counter that sees a new key on most values (destination IPs: it prunes
    // every ~1,000 values), and the flow times (runs of one minute).
    let mut g = c.benchmark_group("report_parts");
    let ips: Vec<String> = flows
        .iter()
        .filter_map(|(f, _)| f.ip.as_ref()?.destination.as_deref().map(str::to_owned))
        .collect();
    g.throughput(Throughput::Elements(ips.len() as u64));
    let mut counter = TopCounter::new(1024);
    g.bench_function("churning_counter", |b| {
        b.iter(|| {
            for ip in &ips {
                counter.bump(ip);
            }
            counter.total()
        })
    });
    let times: Vec<&str> = flows
        .iter()
        .filter_map(|(f, _)| f.time.as_deref())
        .collect();
    g.throughput(Throughput::Elements(times.len() as u64));
    g.bench_function("parse_time", |b| {
        b.iter(|| times.iter().filter_map(|t| parse_rfc3339(t)).count())
    });
    let mut minutes = MinuteCache::default();
    g.bench_function("parse_time_minute_cache", |b| {
        b.iter(|| times.iter().filter_map(|t| minutes.parse(t)).count())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
