//! The ingest loop: followed files (or stdin) → framing → processing → batch → spool → checkpoint.
//!
//! Guarantees: a file offset is acknowledged to the tailer (and so checkpointed) only after every record read up
//! to it is durable in the spool, and never past a partial line the framer still holds; when the spool is full,
//! reading stops (the files on disk are the buffer) and resumes as sinks catch up. On stop, the batch in memory
//! is spooled and checkpoints are persisted before returning. Network batches (Forward, HTTP) are acknowledged
//! only after the spool append holding their records returned; while the spool is full they are not received
//! (the bounded channel then holds back the connections), and on stop unspooled ones are dropped unacknowledged.

use crate::frame::{Format, Framer, LineBatch};
use crate::ops::metrics::Metrics;
use crate::output::spool::Spool;
use crate::process::Processor;
use crate::source::input::BlockReader;
use crate::source::network::{BatchReceiver, Received};
use crate::stats::BatchStats;
use arc_swap::ArcSwap;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use hubble_tail::{FileId, Tailer};
use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where lines come from.
pub enum Input {
    /// Followed files.
    Tail(Box<Tailer>),
    /// Blocks read from stdin by a reader thread; the channel closes at end of input.
    Stdin(Receiver<LineBatch>),
    /// Batches from network inputs (Forward, HTTP), each with an acknowledgement handle.
    Network(NetworkInput),
}

/// The receiving end of the network inputs.
pub struct NetworkInput {
    /// Batches from every network listener.
    pub rx: BatchReceiver,
    /// The runtime the listeners run on (drives the receive timeout).
    pub runtime: tokio::runtime::Handle,
}

/// Ingest settings.
pub struct IngestConfig {
    /// Input framing.
    pub format: Format,
    /// Longest logical line.
    pub max_line_bytes: usize,
    /// Spool when the batch reaches this many bytes.
    pub batch_max_bytes: usize,
    /// Spool at least this often while records wait.
    pub flush_interval: Duration,
}

/// Shared handles of the ingest loop.
pub struct IngestContext {
    /// The current processor (swapped on reload).
    pub processor: Arc<ArcSwap<Processor>>,
    /// The spool.
    pub spool: Arc<Spool>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Set to stop reading.
    pub stop: Arc<AtomicBool>,
    /// Rung after each spooled segment.
    pub doorbell: Arc<super::deliver::Doorbell>,
}

struct Pending {
    out: Vec<u8>,
    records: u64,
    since: Option<Instant>,
    acks: HashMap<FileId, u64>,
    /// Acknowledgements of network batches whose records are in `out`.
    net_acks: Vec<tokio::sync::oneshot::Sender<bool>>,
}

impl Pending {
    fn due(&self, cfg: &IngestConfig) -> bool {
        self.out.len() >= cfg.batch_max_bytes
            || self
                .since
                .is_some_and(|t| t.elapsed() >= cfg.flush_interval)
    }
}

/// Spools the pending batch (if any records) and acknowledges the offsets it covers.
fn flush(ctx: &IngestContext, tailer: Option<&Tailer>, p: &mut Pending) -> io::Result<()> {
    if !p.out.is_empty() {
        ctx.spool.append(&p.out, p.records)?;
        ctx.metrics.spool_bytes.set(ctx.spool.bytes() as i64);
        ctx.metrics.spool_segments.set(ctx.spool.segments() as i64);
        ctx.doorbell.ring();
    }
    for ack in p.net_acks.drain(..) {
        // The connection may be gone; its client resends and the duplicate is harmless.
        let _ = ack.send(true);
    }
    if let Some(t) = tailer {
        for (file, offset) in p.acks.drain() {
            t.ack(file, offset);
        }
        if let Err(e) = t.checkpoints().persist() {
            tracing::error!("cannot persist checkpoints: {e}");
        }
        for f in t.open_files() {
            if f.compressed {
                continue;
            }
            let acked = t.checkpoints().get(&f.file).unwrap_or(0);
            let size = std::fs::metadata(&f.path).map_or(acked, |m| m.len());
            ctx.metrics
                .checkpoint_lag_bytes
                .get_or_create(&Metrics::label("input", &f.path.display().to_string()))
                .set(size.saturating_sub(acked) as i64);
        }
    }
    p.out.clear();
    p.records = 0;
    p.since = None;
    Ok(())
}

/// Spools with retries: a spool write failure (disk full) is retried until it works or the loop is stopped.
fn flush_until_ok(ctx: &IngestContext, tailer: Option<&Tailer>, p: &mut Pending, stopping: bool) {
    let mut delay = Duration::from_millis(200);
    loop {
        match flush(ctx, tailer, p) {
            Ok(()) => return,
            Err(e) => {
                tracing::error!("cannot write to the spool (records stay in memory, offsets are not checkpointed): {e}");
                if stopping {
                    return;
                }
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(10));
                if ctx.stop.load(Ordering::Relaxed) {
                    return;
                }
            }
        }
    }
}

fn process_into(
    processor: &Processor,
    batch: &LineBatch,
    p: &mut Pending,
    metrics: &Metrics,
) -> BatchStats {
    let mut stats = BatchStats::default();
    processor.process(batch, &mut p.out, &mut stats);
    metrics.add_batch(&stats);
    p.records += stats.kept_flows;
    if p.since.is_none() && (stats.kept_flows > 0 || !batch.is_empty()) {
        p.since = Some(Instant::now());
    }
    stats
}

/// Runs until stopped (or, for stdin, until end of input). Returns after spooling what is in memory.
pub fn run(ctx: &IngestContext, cfg: &IngestConfig, input: Input) {
    let mut p = Pending {
        out: Vec::with_capacity(cfg.batch_max_bytes + (1 << 20)),
        records: 0,
        since: None,
        acks: HashMap::new(),
        net_acks: Vec::new(),
    };
    match input {
        Input::Tail(mut tailer) => run_tail(ctx, cfg, &mut tailer, &mut p),
        Input::Stdin(rx) => run_stdin(ctx, cfg, &rx, &mut p),
        Input::Network(mut net) => run_network(ctx, cfg, &mut net, &mut p),
    }
}

fn run_network(ctx: &IngestContext, cfg: &IngestConfig, net: &mut NetworkInput, p: &mut Pending) {
    let mut batch = LineBatch::new(cfg.max_line_bytes);
    let mut framer = Framer::new(Format::Raw);
    let mut take = |b: crate::source::network::NetworkBatch, p: &mut Pending| {
        batch.clear();
        batch.buf.extend_from_slice(&b.lines);
        let n = batch.buf.len();
        framer.frame_block(&mut batch, n);
        let processor = ctx.processor.load_full();
        process_into(&processor, &batch, p, &ctx.metrics);
        p.net_acks.push(b.ack);
        if p.since.is_none() {
            p.since = Some(Instant::now());
        }
    };
    loop {
        if ctx.stop.load(Ordering::Relaxed) {
            break;
        }
        if ctx.spool.is_full() {
            net.rx.set_paused(true);
            let room = wait_for_spool_room(ctx);
            net.rx.set_paused(false);
            if !room {
                break;
            }
        }
        let timeout = p
            .since
            .map(|t| cfg.flush_interval.saturating_sub(t.elapsed()))
            .unwrap_or(Duration::from_millis(250))
            .min(Duration::from_millis(250));
        match net.rx.recv_timeout(&net.runtime, timeout) {
            Received::Batch(b) => {
                take(b, p);
                // Group commit: take what is already waiting, then spool once for all of it.
                while p.out.len() < cfg.batch_max_bytes {
                    match net.rx.try_recv() {
                        Some(b) => take(b, p),
                        None => break,
                    }
                }
            }
            Received::Timeout => {}
            Received::Closed => break,
        }
        // Clients waiting for acknowledgements are not kept waiting for the flush interval once nothing
        // more is queued.
        if p.due(cfg) || p.net_acks.iter().any(|a| !a.is_closed()) {
            flush_until_ok(ctx, None, p, false);
        }
    }
    flush_until_ok(ctx, None, p, true);
}

fn wait_for_spool_room(ctx: &IngestContext) -> bool {
    if !ctx.spool.is_full() {
        return true;
    }
    ctx.metrics.backpressure_pauses.inc();
    tracing::warn!(
        spool_bytes = ctx.spool.bytes(),
        "spool full: reading paused until sinks catch up"
    );
    while ctx.spool.is_full() && !ctx.stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
    }
    !ctx.stop.load(Ordering::Relaxed)
}

fn run_tail(ctx: &IngestContext, cfg: &IngestConfig, tailer: &mut Tailer, p: &mut Pending) {
    let mut framers: HashMap<FileId, Framer> = HashMap::new();
    let mut batch = LineBatch::new(cfg.max_line_bytes);
    let mut last_gc = Instant::now();
    while !ctx.stop.load(Ordering::Relaxed) {
        if !wait_for_spool_room(ctx) {
            break;
        }
        let processor = ctx.processor.load_full();
        let polled = tailer.poll(&mut |chunk| {
            let framer = framers
                .entry(chunk.file)
                .or_insert_with(|| Framer::new(cfg.format));
            batch.clear();
            batch.buf.extend_from_slice(chunk.bytes);
            let n = batch.buf.len();
            framer.resolve(&batch.buf[..n]);
            framer.frame_block(&mut batch, n);
            let stats = process_into(&processor, &batch, p, &ctx.metrics);
            let input = Metrics::label("input", &chunk.path.display().to_string());
            ctx.metrics
                .input_lines
                .get_or_create(&input)
                .inc_by(stats.frame.physical_lines);
            ctx.metrics
                .input_bytes
                .get_or_create(&input)
                .inc_by(chunk.bytes.len() as u64);
            if !framer.has_pending() {
                p.acks.insert(chunk.file, chunk.end_offset);
            }
            if p.since.is_none() {
                p.since = Some(Instant::now());
            }
        });
        let idle = match polled {
            Ok(stats) => {
                for ev in tailer_events(&stats) {
                    ctx.metrics
                        .tail_events
                        .get_or_create(&Metrics::label("kind", ev))
                        .inc();
                }
                stats.is_idle()
            }
            Err(e) => {
                tracing::error!("tailing failed: {e}");
                true
            }
        };
        if p.due(cfg) {
            flush_until_ok(ctx, Some(tailer), p, false);
        }
        if last_gc.elapsed() > Duration::from_secs(30) {
            let open: std::collections::HashSet<FileId> =
                tailer.open_files().into_iter().map(|f| f.file).collect();
            framers.retain(|f, _| open.contains(f));
            last_gc = Instant::now();
        }
        if idle {
            let until_flush = p
                .since
                .map(|t| cfg.flush_interval.saturating_sub(t.elapsed()))
                .unwrap_or(tailer.poll_interval());
            std::thread::sleep(
                tailer
                    .poll_interval()
                    .min(until_flush)
                    .max(Duration::from_millis(5)),
            );
        }
    }
    flush_until_ok(ctx, Some(tailer), p, true);
}

fn tailer_events(stats: &hubble_tail::PollStats) -> Vec<&'static str> {
    stats.events.iter().map(|e| e.kind()).collect()
}

fn run_stdin(ctx: &IngestContext, cfg: &IngestConfig, rx: &Receiver<LineBatch>, p: &mut Pending) {
    let mut framer = Framer::new(cfg.format);
    loop {
        if ctx.stop.load(Ordering::Relaxed) || !wait_for_spool_room(ctx) {
            break;
        }
        let timeout = p
            .since
            .map(|t| cfg.flush_interval.saturating_sub(t.elapsed()))
            .unwrap_or(Duration::from_millis(250));
        match rx.recv_timeout(timeout) {
            Ok(mut batch) => {
                let n = batch.buf.len();
                framer.resolve(&batch.buf[..n]);
                framer.frame_block(&mut batch, n);
                let processor = ctx.processor.load_full();
                process_into(&processor, &batch, p, &ctx.metrics);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                let mut last = LineBatch::new(cfg.max_line_bytes);
                framer.finish(&mut last);
                let processor = ctx.processor.load_full();
                process_into(&processor, &last, p, &ctx.metrics);
                break;
            }
        }
        if p.due(cfg) {
            flush_until_ok(ctx, None, p, false);
        }
    }
    flush_until_ok(ctx, None, p, true);
}

/// Starts a thread reading stdin in blocks of whole lines; the channel closes at end of input. Opening (gzip
/// detection) happens on that thread, so nothing waits for the first byte.
pub fn spawn_stdin_reader(max_line_bytes: usize) -> io::Result<Receiver<LineBatch>> {
    let (tx, rx) = crossbeam_channel::bounded::<LineBatch>(4);
    std::thread::Builder::new()
        .name("stdin-reader".into())
        .spawn(move || {
            let opened = match crate::source::input::open(
                &crate::source::input::InputSpec::Stdin,
                Arc::new(std::sync::atomic::AtomicU64::new(0)),
            ) {
                Ok(o) => o,
                Err(e) => {
                    tracing::error!("reading stdin failed: {e}");
                    return;
                }
            };
            let max_physical = max_line_bytes.saturating_mul(2).saturating_add(64 * 1024);
            let mut reader = BlockReader::new(opened, 256 * 1024, max_physical).eager();
            loop {
                let mut batch = LineBatch::new(max_line_bytes);
                match reader.next_block(&mut batch) {
                    Some(n) => {
                        batch.buf.truncate(n);
                        if tx.send(batch).is_err() {
                            return;
                        }
                    }
                    None => break,
                }
            }
            if let Some(e) = reader.error.take() {
                tracing::error!("reading stdin failed: {e}");
            }
        })?;
    Ok(rx)
}
