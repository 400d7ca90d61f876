//! Per-record cost of the processing stage (prefilter → decode → filter → encode) on realistic lines:
//! a mix where 2% of lines are kept, and a corpus where every line is a kept flow.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hubble_flow::filter::FilterSet;
use hubble_ingest::frame::{Format, Framer, LineBatch};
use hubble_ingest::process::{OutputMode, Processor};
use hubble_ingest::record::encode::EncodeOptions;
use hubble_ingest::stats::BatchStats;
use std::sync::Arc;

fn batch_of(lines: &[&str], n: usize) -> LineBatch {
    let mut b = LineBatch::new(1 << 20);
    for l in lines.iter().cycle().take(n) {
        b.buf.extend_from_slice(l.as_bytes());
        b.buf.push(b'\n');
    }
    let len = b.buf.len();
    Framer::new(Format::Raw).frame_block(&mut b, len);
    b
}

fn bench(c: &mut Criterion) {
    let fixture = include_str!("../fixtures/agent-stdout.log");
    let all: Vec<&str> = fixture.lines().collect();
    let kept: Vec<&str> = all
        .iter()
        .copied()
        .filter(|l| l.contains("\"sub_type\":181") && l.contains("\"EGRESS\""))
        .collect();
    let filter = Arc::new(
        FilterSet::build(vec![FilterSet::default_policy_deny_egress()], vec![])
            .expect("default filter"),
    );
    let p = Processor::new(filter, None, OutputMode::Records(EncodeOptions::default()));
    let mut g = c.benchmark_group("process");
    for (name, lines) in [("fixture_mix", &all), ("all_kept", &kept)] {
        let batch = batch_of(lines, 2000);
        g.throughput(Throughput::Bytes(batch.buf.len() as u64));
        let mut out = Vec::with_capacity(4 << 20);
        g.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                let mut stats = BatchStats::default();
                p.process(&batch, &mut out, &mut stats);
                stats.kept_flows
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
