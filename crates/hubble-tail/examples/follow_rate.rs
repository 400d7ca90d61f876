//! Follow a file appended at a fixed rate by another thread; report throughput, the tailer thread's CPU per MB
//! and the write→delivery latency.
//!
//! `cargo run --release -p hubble-tail --example follow_rate -- [lines_per_sec] [seconds] [line_bytes]`
//! (defaults 50000, 10, 1100). Linux only (reads /proc/thread-self/stat for the thread's CPU time).

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hubble_tail::{Checkpoints, Tailer, TailerConfig};

fn thread_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after_comm = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    // After the command name: state is field 3, utime 14, stime 15 (1-based in proc(5)).
    let ticks = |i: usize| {
        fields
            .get(i - 3)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(14) + ticks(15)) / 100.0
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rate = args.first().copied().unwrap_or(50_000);
    let seconds = args.get(1).copied().unwrap_or(10);
    let line_bytes = args.get(2).copied().unwrap_or(1100) as usize;

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("0.log");
    // The file exists with content before the tailer starts, as a container log does; a file that is still
    // empty is only picked up by the next glob scan (`discover_interval`, 1 s).
    std::fs::write(&path, b"startup line\n").expect("create");
    let mut cfg = TailerConfig::new(vec![path.to_string_lossy().into_owned()]);
    cfg.read_from_head = true;
    let mut tailer = Tailer::new(cfg, Checkpoints::in_memory()).expect("tailer");

    let start = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let writer_done = done.clone();
    let writer_path = path.clone();
    let writer = std::thread::spawn(move || {
        let mut file = OpenOptions::new()
            .append(true)
            .open(&writer_path)
            .expect("open");
        let total = rate * seconds;
        let tick = Duration::from_millis(10);
        let per_tick = (rate / 100).max(1);
        let mut written = 0u64;
        let mut buf = Vec::new();
        while written < total {
            let due = start + tick * (written / per_tick) as u32;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            buf.clear();
            for _ in 0..per_tick.min(total - written) {
                let ts = start.elapsed().as_nanos();
                let head = format!("2025-01-23T07:50:22Z stdout F {ts:020} ");
                buf.extend_from_slice(head.as_bytes());
                buf.extend(std::iter::repeat_n(
                    b'x',
                    line_bytes.saturating_sub(head.len() + 1),
                ));
                buf.push(b'\n');
                written += 1;
            }
            file.write_all(&buf).expect("write");
        }
        writer_done.store(true, Ordering::SeqCst);
        written
    });

    let cpu0 = thread_cpu_secs();
    let mut bytes = 0u64;
    let mut lines = 0u64;
    let mut latencies: Vec<u64> = Vec::new();
    loop {
        let finished = done.load(Ordering::SeqCst);
        let stats = tailer
            .poll(&mut |c| {
                let now = start.elapsed().as_nanos() as u64;
                for l in c.bytes.split(|b| *b == b'\n').filter(|l| l.len() > 50) {
                    let ts = std::str::from_utf8(&l[30..50])
                        .ok()
                        .and_then(|s| s.parse::<u64>().ok())
                        .unwrap_or(now);
                    latencies.push(now.saturating_sub(ts));
                }
                bytes += c.bytes.len() as u64;
            })
            .expect("poll");
        lines += stats.lines;
        if finished && stats.is_idle() {
            break;
        }
        if stats.is_idle() {
            std::thread::sleep(tailer.idle_wait());
        }
    }
    let cpu = thread_cpu_secs() - cpu0;
    let wall = start.elapsed().as_secs_f64();
    let written = writer.join().expect("writer");
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1e6
    };
    let mb = bytes as f64 / 1e6;
    println!(
        "lines written {written}, delivered {lines}, {mb:.1} MB in {wall:.2} s = {:.1} MB/s",
        mb / wall
    );
    println!(
        "tailer thread CPU {cpu:.2} s = {:.1}% of one core, {:.2} ms CPU per MB",
        100.0 * cpu / wall,
        1000.0 * cpu / mb
    );
    println!(
        "latency write→delivery ms: p50 {:.1}, p99 {:.1}, max {:.1}",
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
}
