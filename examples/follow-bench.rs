//! Follow-mode benchmark driver in Rust (`scripts/bench-follow.py` is the Python original, whose writer and sink
//! monitor use most of a core at 50 k realistic flows/s and so cannot measure latency or higher rates).
//!
//! Starts `hubble-ingest run --format cri` on a pod log directory, appends CRI-framed exporter lines to `0.log`
//! at a fixed rate (each line from `--lines`, cycled, with a fresh uuid that encodes its sequence number),
//! rotates the file like the kubelet (rename at `--rotate-bytes`; with `--max-files N`, rotated files beyond
//! N - 1 are deleted as the kubelet does, so a daemon that falls behind loses them; by default none is deleted,
//! so falling behind shows as growing latency instead), and tails the file sink on another thread: each record's latency is the
//! time from the write of its line to the moment the monitor read it from the sink. The daemon's CPU comes from
//! `/proc/PID/stat`, its peak RSS from `VmHWM`.
//!
//! ```text
//! follow-bench --bin target/release/hubble-ingest --lines flows.log --rate 50000 --seconds 15 \
//!     [--rotate-bytes 10485760] [--max-files 5] [--cidr-groups FILE] [--daemon-args "--flush-interval 200ms"]
//! ```
//!
//! Prints one JSON line. `late_p99_s` is the p99 latency of the lines written in the last third of the run: if
//! it is well above `latency_p99_s` of the whole run, the daemon falls behind (backlog growth) at this rate.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

fn vm_hwm_kib(pid: u32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The lines of `path` that have a `"uuid":"…"`, split around the uuid's value.
fn pieces(path: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let data = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let finder = memchr::memmem::Finder::new(b"\"uuid\":\"");
    data.split(|&b| b == b'\n')
        .filter_map(|l| {
            let at = finder.find(l)? + 8;
            let end = at + memchr::memchr(b'"', &l[at..])?;
            Some((l[..at].to_vec(), l[end..].to_vec()))
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bin = arg(&args, "--bin").unwrap_or_else(|| "target/release/hubble-ingest".into());
    let lines = PathBuf::from(arg(&args, "--lines").expect("--lines FILE"));
    let rate: u64 = arg(&args, "--rate").map_or(50_000, |v| v.parse().expect("--rate"));
    let seconds: u64 = arg(&args, "--seconds").map_or(15, |v| v.parse().expect("--seconds"));
    let rotate_bytes: u64 =
        arg(&args, "--rotate-bytes").map_or(10 << 20, |v| v.parse().expect("--rotate-bytes"));
    let groups = arg(&args, "--cidr-groups");
    let max_files: u32 = arg(&args, "--max-files").map_or(0, |v| v.parse().expect("--max-files"));

    let pieces = pieces(&lines);
    assert!(
        !pieces.is_empty(),
        "no line with a uuid in {}",
        lines.display()
    );
    let mean_line = pieces
        .iter()
        .map(|(a, b)| a.len() + b.len() + 36)
        .sum::<usize>()
        / pieces.len();

    let root = tempfile::Builder::new()
        .prefix("hi-follow-")
        .tempdir()
        .expect("temp dir");
    let logdir = root.path().join("pods");
    fs::create_dir_all(&logdir).expect("log dir");
    let log = logdir.join("0.log");
    let sink = root.path().join("out.ndjson");
    File::create(&log).expect("log file");
    let mut cmd = Command::new(&bin);
    cmd.arg("run")
        .arg("--input")
        .arg(logdir.join("0.log*"))
        .arg("--state-dir")
        .arg(root.path().join("state"))
        .arg("--sink")
        .arg(format!("file:{}", sink.display()))
        .arg("--format")
        .arg("cri")
        .stderr(File::create(root.path().join("daemon.log")).expect("daemon log"));
    if let Some(g) = &groups {
        cmd.arg("--cidr-groups").arg(g);
    }
    // Further daemon flags, e.g. `--daemon-args "--flush-interval 200ms"`.
    if let Some(extra) = arg(&args, "--daemon-args") {
        cmd.args(extra.split_whitespace());
    }
    let mut daemon = cmd.stdin(Stdio::null()).spawn().expect("start the daemon");
    let pid = daemon.id();
    std::thread::sleep(Duration::from_secs(1));
    let cpu_before = cpu_ticks(pid);

    let total = (rate * seconds) as usize;
    // Write time of each sequence number, in ns since `start` (+1, so 0 means not written yet).
    let written_at: Arc<Vec<AtomicU64>> = Arc::new((0..total).map(|_| AtomicU64::new(0)).collect());
    let start = Instant::now();
    let monitor_stop = Arc::new(AtomicBool::new(false));
    // Records the monitor has seen so far (distinct), for the drain below.
    let delivered_so_far = Arc::new(AtomicU64::new(0));

    let monitor = {
        let written_at = Arc::clone(&written_at);
        let stop = Arc::clone(&monitor_stop);
        let delivered_so_far = Arc::clone(&delivered_so_far);
        let sink = sink.clone();
        std::thread::spawn(move || {
            let finder = memchr::memmem::Finder::new(b"\"Uuid\":\"");
            let mut seen = vec![false; written_at.len()];
            let mut latencies: Vec<(u64, f64)> = Vec::with_capacity(written_at.len());
            let (mut delivered, mut duplicates, mut foreign) = (0u64, 0u64, 0u64);
            let mut file: Option<File> = None;
            let mut pos = 0u64;
            let mut buf: Vec<u8> = Vec::new();
            let mut chunk = vec![0u8; 4 << 20];
            while !stop.load(Ordering::Relaxed) {
                if file.is_none() {
                    file = File::open(&sink).ok();
                }
                let n = match file.as_mut() {
                    Some(f) => f
                        .seek(SeekFrom::Start(pos))
                        .and_then(|_| f.read(&mut chunk))
                        .unwrap_or(0),
                    None => 0,
                };
                if n == 0 {
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                }
                pos += n as u64;
                let now = start.elapsed().as_nanos() as u64;
                buf.extend_from_slice(&chunk[..n]);
                let mut consumed = 0;
                while let Some(nl) = memchr::memchr(b'\n', &buf[consumed..]) {
                    let line = &buf[consumed..consumed + nl];
                    consumed += nl + 1;
                    let seq = finder
                        .find(line)
                        .and_then(|at| line.get(at + 8..at + 16))
                        .and_then(|hex| std::str::from_utf8(hex).ok())
                        .and_then(|hex| usize::from_str_radix(hex, 16).ok())
                        .filter(|&s| s < seen.len());
                    let Some(seq) = seq else {
                        foreign += 1;
                        continue;
                    };
                    if std::mem::replace(&mut seen[seq], true) {
                        duplicates += 1;
                        continue;
                    }
                    delivered += 1;
                    delivered_so_far.store(delivered, Ordering::Relaxed);
                    let w = written_at[seq].load(Ordering::Acquire);
                    if w > 0 {
                        latencies.push((seq as u64, (now.saturating_sub(w - 1)) as f64 / 1e9));
                    }
                }
                buf.drain(..consumed);
            }
            (latencies, delivered, duplicates, foreign)
        })
    };

    // The writer: every 10 ms, the lines due by now.
    let mut out = OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open log");
    let mut size = 0u64;
    let mut rotations = 0u32;
    let mut seq = 0usize;
    let mut batch: Vec<u8> = Vec::with_capacity(8 << 20);
    const TS: &[u8] = b"2026-12-05T00:00:00.000000000Z stdout F ";
    while seq < total {
        let elapsed = start.elapsed();
        let due = ((elapsed.as_secs_f64() * rate as f64) as usize).min(total);
        batch.clear();
        let stamp = elapsed.as_nanos() as u64 + 1;
        while seq < due {
            let (pre, post) = &pieces[seq % pieces.len()];
            batch.extend_from_slice(TS);
            batch.extend_from_slice(pre);
            batch.extend_from_slice(format!("{seq:08x}-0000-4000-8000-000000000000").as_bytes());
            batch.extend_from_slice(post);
            batch.push(b'\n');
            written_at[seq].store(stamp, Ordering::Release);
            seq += 1;
        }
        out.write_all(&batch).expect("write log");
        size += batch.len() as u64;
        if size >= rotate_bytes {
            drop(out);
            fs::rename(&log, logdir.join(format!("0.log.{rotations}"))).expect("rotate");
            // Like the kubelet's `containerLogMaxFiles` (5 by default): the current file and N - 1 rotated ones.
            if let Some(old) = max_files
                .checked_sub(1)
                .and_then(|kept| rotations.checked_sub(kept))
            {
                let _ = fs::remove_file(logdir.join(format!("0.log.{old}")));
            }
            rotations += 1;
            out = File::create(&log).expect("new log");
            size = 0;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let write_secs = start.elapsed().as_secs_f64();

    // Drain: everything delivered (as the monitor counts it; re-reading a sink of many GB to count its lines
    // took longer than the run), or 15 s.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if delivered_so_far.load(Ordering::Relaxed) >= total as u64 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(100));
    // USER_HZ is 100 on Linux.
    let cpu = cpu_ticks(pid).saturating_sub(cpu_before) as f64 / 100.0;
    let peak = vm_hwm_kib(pid);
    let elapsed = start.elapsed().as_secs_f64();
    monitor_stop.store(true, Ordering::Relaxed);
    let (mut latencies, delivered, duplicates, foreign) = monitor.join().expect("monitor");
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let _ = daemon.wait();

    if delivered < total as u64 {
        // Why: the daemon's own account of what it skipped or lost track of.
        let log = fs::read_to_string(root.path().join("daemon.log")).unwrap_or_default();
        for line in log
            .lines()
            .filter(|l| !l.contains("Released") && !l.contains("Renamed"))
            .take(40)
        {
            eprintln!("daemon: {line}");
        }
    }
    let late_from = (total as u64) * 2 / 3;
    let mut late: Vec<f64> = latencies
        .iter()
        .filter(|(s, _)| *s >= late_from)
        .map(|&(_, l)| l)
        .collect();
    let mut all: Vec<f64> = latencies.drain(..).map(|(_, l)| l).collect();
    let pct = |v: &mut Vec<f64>, q: f64| -> f64 {
        if v.is_empty() {
            return f64::NAN;
        }
        v.sort_by(|a, b| a.total_cmp(b));
        v[((q * v.len() as f64) as usize).min(v.len() - 1)]
    };
    println!(
        "{{\"rate_flows_per_s\":{rate},\"mean_flow_line_bytes\":{mean_line},\"seconds\":{seconds},\
         \"write_seconds\":{write_secs:.2},\"flows_written\":{total},\"flows_delivered\":{delivered},\
         \"duplicates\":{duplicates},\"foreign_lines\":{foreign},\"missing\":{},\"rotations\":{rotations},\
         \"cpu_share_of_one_core\":{:.3},\"peak_rss_kib\":{peak},\"latency_p50_s\":{:.3},\
         \"latency_p99_s\":{:.3},\"latency_max_s\":{:.3},\"late_p99_s\":{:.3}}}",
        total as u64 - delivered,
        cpu / elapsed,
        pct(&mut all, 0.5),
        pct(&mut all, 0.99),
        pct(&mut all, 1.0),
        pct(&mut late, 0.99),
    );
}
