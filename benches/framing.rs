//! Framer throughput: raw, CRI (with partial lines) and docker json-file over realistic agent output.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hubble_ingest::frame::{Format, Framer, LineBatch};

fn corpus(format: Format) -> Vec<u8> {
    let base = include_str!("../fixtures/agent-stdout.log");
    let mut out = String::new();
    for (i, line) in base.lines().cycle().take(4000).enumerate() {
        match format {
            Format::Cri => {
                let ts = format!("2025-11-25T12:00:{:02}.{:09}Z", i % 60, i);
                if i % 10 == 0 && line.len() > 200 {
                    out.push_str(&format!(
                        "{ts} stdout P {}\n{ts} stdout F {}\n",
                        &line[..100],
                        &line[100..]
                    ));
                } else {
                    out.push_str(&format!("{ts} stdout F {line}\n"));
                }
            }
            Format::Docker => {
                let v = serde_json::json!({"log": format!("{line}\n"), "stream": "stdout", "time": "2025-11-25T12:00:00.000000001Z"});
                out.push_str(&v.to_string());
                out.push('\n');
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out.into_bytes()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("framing");
    for (name, format) in [
        ("raw", Format::Raw),
        ("cri", Format::Cri),
        ("docker", Format::Docker),
    ] {
        let data = corpus(format);
        g.throughput(Throughput::Bytes(data.len() as u64));
        let mut batch = LineBatch::new(1 << 20);
        g.bench_function(name, |b| {
            b.iter(|| {
                batch.clear();
                batch.buf.extend_from_slice(&data);
                let mut f = Framer::new(format);
                f.frame_block(&mut batch, data.len());
                f.finish(&mut batch);
                batch.len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
