//! A Forward protocol load generator for `scripts/bench-forward.sh`: N connections, each sending
//! PackedForward messages (optionally gzip-compressed, `CompressedPackedForward`) with a `chunk` id and waiting
//! for the ack before sending the next — what Fluent Bit's `out_forward` with `Require_ack_response On` does.
//! Python is far too slow to saturate the server, hence Rust.
//!
//! ```text
//! forward-sender --target 127.0.0.1:24224 --lines flows.log --connections 100 --records 2000000 \
//!     --per-message 500 --compress gzip
//! ```
//!
//! Prints one JSON line: records acked, seconds, records/s, messages, bytes sent.

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

fn str_hdr(out: &mut Vec<u8>, n: usize) {
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else if n < 256 {
        out.extend_from_slice(&[0xd9, n as u8]);
    } else if n < 65536 {
        out.push(0xda);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    str_hdr(out, s.len());
    out.extend_from_slice(s);
}

/// `[EventTime, {"log": line, "stream": "stdout", "_p": "F", "time": "..."}]`, as Fluent Bit's tail + CRI makes.
fn entry(out: &mut Vec<u8>, line: &[u8], i: u32) {
    out.push(0x92);
    out.extend_from_slice(&[0xd7, 0x00]);
    out.extend_from_slice(&1_767_225_600u32.wrapping_add(i).to_be_bytes());
    out.extend_from_slice(&(i % 1_000_000_000).to_be_bytes());
    out.push(0x84);
    put_str(out, b"time");
    put_str(out, b"2026-01-01T00:00:00.000000000Z");
    put_str(out, b"stream");
    put_str(out, b"stdout");
    put_str(out, b"_p");
    put_str(out, b"F");
    put_str(out, b"log");
    put_str(out, line);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let target = arg(&args, "--target", "127.0.0.1:24224");
    let lines_path = arg(&args, "--lines", "");
    let connections: usize = arg(&args, "--connections", "100")
        .parse()
        .expect("--connections");
    let total: u64 = arg(&args, "--records", "1000000")
        .parse()
        .expect("--records");
    let per_message: usize = arg(&args, "--per-message", "500")
        .parse()
        .expect("--per-message");
    let gzip = arg(&args, "--compress", "gzip") == "gzip";
    let lines: Vec<Vec<u8>> =
        std::io::BufReader::new(std::fs::File::open(&lines_path).expect("--lines"))
            .lines()
            .map_while(Result::ok)
            .filter(|l| !l.is_empty())
            .map(String::into_bytes)
            .collect();
    assert!(!lines.is_empty(), "no lines in {lines_path}");
    // One pre-built payload per connection (different lines each), reused with a fresh chunk id per message.
    let payloads: Vec<Arc<Vec<u8>>> = (0..connections)
        .map(|c| {
            let mut packed = Vec::new();
            for k in 0..per_message {
                entry(
                    &mut packed,
                    &lines[(c * per_message + k) % lines.len()],
                    k as u32,
                );
            }
            if gzip {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(&packed).expect("gzip");
                packed = e.finish().expect("gzip");
            }
            Arc::new(packed)
        })
        .collect();
    let messages_total = total.div_ceil(per_message as u64);
    let next = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let acked = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let handles: Vec<_> = payloads
        .into_iter()
        .enumerate()
        .map(|(c, payload)| {
            let (next, bytes, acked, target) = (
                Arc::clone(&next),
                Arc::clone(&bytes),
                Arc::clone(&acked),
                target.clone(),
            );
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(&target).expect("connect");
                s.set_nodelay(true).ok();
                let mut msg = Vec::with_capacity(payload.len() + 128);
                let mut buf = [0u8; 64];
                loop {
                    let m = next.fetch_add(1, Ordering::Relaxed);
                    if m >= messages_total {
                        return;
                    }
                    let chunk = format!("{c:04}-{m:012}");
                    msg.clear();
                    msg.push(0x93);
                    put_str(&mut msg, b"cilium.agent");
                    msg.push(0xc6);
                    msg.extend_from_slice(&(payload.len() as u32).to_be_bytes());
                    msg.extend_from_slice(&payload);
                    msg.push(if gzip { 0x83 } else { 0x82 });
                    put_str(&mut msg, b"chunk");
                    put_str(&mut msg, chunk.as_bytes());
                    put_str(&mut msg, b"size");
                    msg.push(0xcd);
                    msg.extend_from_slice(&(per_message as u16).to_be_bytes());
                    if gzip {
                        put_str(&mut msg, b"compressed");
                        put_str(&mut msg, b"gzip");
                    }
                    s.write_all(&msg).expect("send");
                    bytes.fetch_add(msg.len() as u64, Ordering::Relaxed);
                    // {"ack": "<chunk>"}: 0x81, "ack", str header, chunk.
                    let want = 1 + 4 + 1 + chunk.len();
                    s.read_exact(&mut buf[..want]).expect("ack");
                    assert_eq!(&buf[6..want], chunk.as_bytes(), "ack for another chunk");
                    acked.fetch_add(per_message as u64, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("sender thread");
    }
    let secs = t0.elapsed().as_secs_f64();
    let records = acked.load(Ordering::Relaxed);
    println!(
        "{{\"records\":{records},\"seconds\":{secs:.3},\"records_per_s\":{:.0},\"messages\":{messages_total},\"bytes_sent\":{}}}",
        records as f64 / secs,
        bytes.load(Ordering::Relaxed)
    );
}
