//! Tailer throughput: reading a backlog from the beginning, and following a file appended between polls.
//! Throughput is in bytes of complete lines handed out; CPU cost per MB = 1 / throughput (one thread).

use std::fs::OpenOptions;
use std::hint::black_box;
use std::io::Write;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hubble_tail::{Checkpoints, Tailer, TailerConfig};

/// A CRI-framed line of about 1.1 KB shaped like a Hubble exporter flow record.
fn line(i: u64) -> Vec<u8> {
    let mut l = format!(
        "2025-01-23T07:50:22.{i:09}Z stdout F {{\"flow\":{{\"time\":\"2025-01-23T07:50:22.{i:09}Z\",\"uuid\":\"{i:032x}\",\"verdict\":\"DROPPED\",\"drop_reason\":181,\"IP\":{{\"source\":\"10.0.1.23\",\"destination\":\"52.1.2.3\",\"ipVersion\":\"IPv4\"}},\"l4\":{{\"TCP\":{{\"source_port\":43512,\"destination_port\":443,\"flags\":{{\"SYN\":true}}}}}},\"traffic_direction\":\"EGRESS\",\"Summary\":\""
    )
    .into_bytes();
    l.extend(std::iter::repeat_n(b'x', 1100usize.saturating_sub(l.len())));
    l.extend_from_slice(b"\"}}\n");
    l
}

fn block(lines: u64, from: u64) -> Vec<u8> {
    (from..from + lines).flat_map(line).collect()
}

fn config(dir: &std::path::Path) -> TailerConfig {
    let mut cfg = TailerConfig::new(vec![dir.join("*.log").to_string_lossy().into_owned()]);
    cfg.read_from_head = true;
    cfg.discover_interval = Duration::from_secs(3600);
    cfg
}

fn read_backlog(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let data = block(30_000, 0); // ~33 MB
    std::fs::write(dir.path().join("0.log"), &data).unwrap();
    let mut group = c.benchmark_group("tail");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.sample_size(10);
    group.bench_function("read_backlog_33MB", |b| {
        b.iter(|| {
            let mut tailer = Tailer::new(config(dir.path()), Checkpoints::in_memory()).unwrap();
            let mut total = 0u64;
            loop {
                let stats = tailer
                    .poll(&mut |c| total += black_box(c.bytes).len() as u64)
                    .unwrap();
                if stats.is_idle() {
                    break;
                }
            }
            assert_eq!(total, data.len() as u64);
        })
    });
    group.finish();
}

fn follow_appends(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("0.log");
    std::fs::write(&path, line(0)).unwrap();
    let mut cfg = config(dir.path());
    cfg.rotate_wait = Duration::ZERO;
    let mut tailer = Tailer::new(cfg, Checkpoints::in_memory()).unwrap();
    let mut sink = 0u64;
    tailer.poll(&mut |c| sink += c.bytes.len() as u64).unwrap();
    let mut writer = OpenOptions::new().append(true).open(&path).unwrap();
    let mut next_line = 1u64;
    let chunk_len = block(60, 0).len() as u64; // ~66 KB per write, like a busy exporter between two polls
    let mut appended = 0u64;
    let mut group = c.benchmark_group("tail");
    group.throughput(Throughput::Bytes(chunk_len));
    group.bench_function("poll_after_66KB_append", |b| {
        // Only the polls are timed (the writer's cost is not the tailer's). Every ~10 MB the file is rotated
        // kubelet-style (rename away, new file) so it stays the size it has in production.
        b.iter_custom(|iters| {
            let mut polling = Duration::ZERO;
            for _ in 0..iters {
                let mut rotated = false;
                if appended >= 10_000_000 {
                    std::fs::rename(&path, dir.path().join("0.log.20250101-000000")).unwrap();
                    writer = OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)
                        .unwrap();
                    appended = 0;
                    rotated = true;
                }
                // Distinct lines, so each rotated file has its own first line (its id).
                let chunk = block(60, next_line);
                next_line += 60;
                writer.write_all(&chunk).unwrap();
                appended += chunk.len() as u64;
                let started = std::time::Instant::now();
                if rotated {
                    tailer.discover_now();
                }
                let mut got = 0u64;
                for _ in 0..1000 {
                    if got >= chunk.len() as u64 {
                        break;
                    }
                    tailer
                        .poll(&mut |c| got += black_box(c.bytes).len() as u64)
                        .unwrap();
                }
                polling += started.elapsed();
                assert_eq!(got, chunk.len() as u64);
            }
            polling
        })
    });
    group.finish();
}

criterion_group!(benches, read_backlog, follow_appends);
criterion_main!(benches);
