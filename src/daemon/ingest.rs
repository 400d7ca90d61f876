//! The daemon's consumer of the pipeline: processed batches → one spool segment (or one direct delivery) per
//! flush → acknowledgements.
//!
//! Guarantees: a source's [`Ack`] is applied (a file checkpointed, a network peer answered) only after every
//! record output before it is durable in the spool, or in the daemon's only sink when that is a local file that
//! took the batch directly ([`DirectSink`]: nothing older queued, no spool write); a batch is spooled when it
//! reaches `batch_max_bytes` or when its oldest input is `flush_interval` old, and at once when a network peer
//! waits for an acknowledgement and no other result is ready (group commit: what arrived together is spooled
//! together). While the spool is full the consumer waits before taking the next result, which stops the
//! pipeline and so the reading (the files on disk are the buffer); nothing is dropped. A spool write that
//! fails (disk full) is retried with the retry policy until it succeeds or the daemon stops; its records stay in
//! memory and its offsets unacknowledged meanwhile. Checkpoints are written to disk at most once per
//! [`CHECKPOINT_WRITE_INTERVAL`] (a crash re-reads at most that much). When the pipeline ends (stop, or end of
//! stdin), what is in memory is spooled and checkpoints are persisted.

use crate::deliver::{DirectSink, Doorbell};
use crate::pipeline::{self, Event, Output, PipelineConfig};
use crate::process::Processor;
use crate::source::{Ack, Source};
use crate::spool::Spool;
use crate::telemetry::metrics::Metrics;
use arc_swap::ArcSwap;
use hubble_tail::{Checkpoints, FileId};
use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Batching settings.
pub struct IngestConfig {
    /// Spool when the batch reaches this many bytes.
    pub batch_max_bytes: usize,
    /// Spool at least this often while input waits.
    pub flush_interval: Duration,
}

/// Shared handles of the consumer.
pub struct IngestContext {
    /// The spool.
    pub spool: Arc<Spool>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Set to stop (reading stops; what is in memory is spooled).
    pub stop: Arc<AtomicBool>,
    /// Rung after each spooled segment.
    pub doorbell: Arc<Doorbell>,
    /// Where file offsets are acknowledged (none for stdin).
    pub checkpoints: Option<Checkpoints>,
    /// Set while the spool is full (network inputs then refuse at once instead of queueing).
    pub paused: Option<Arc<AtomicBool>>,
    /// The only sink, when it is durable on this machine: batches go to it without a spool write while it keeps
    /// up.
    pub direct: Option<DirectSink>,
}

#[derive(Default)]
struct Pending {
    /// The records, in pieces: the pipeline's output buffers, taken as they are (see [`take`]).
    pieces: Vec<Vec<u8>>,
    /// Bytes in `pieces`.
    bytes: usize,
    records: u64,
    since: Option<Instant>,
    acks: HashMap<FileId, u64>,
    /// When the checkpoints were last written to disk (kept across flushes).
    persisted_at: Option<Instant>,
    /// Network peers waiting for records that are in `out`.
    notify: Vec<tokio::sync::oneshot::Sender<bool>>,
}

impl Pending {
    fn due(&self, cfg: &IngestConfig) -> bool {
        self.bytes >= cfg.batch_max_bytes
            || self
                .since
                .is_some_and(|t| t.elapsed() >= cfg.flush_interval)
    }
}

/// How often, at most, acknowledged file offsets are written to disk: each write is a file write, an fsync, a
/// rename and a directory fsync, and a flush happens about 20 times a second at 50 k flows/s. Between writes the
/// offsets advance in memory only, so a crash re-reads at most about this much input (duplicates, never a
/// loss: an offset is acknowledged only once its records are durable). Stopping writes them at once.
const CHECKPOINT_WRITE_INTERVAL: Duration = Duration::from_secs(1);

/// Writes the checkpoints if they changed and `force` or [`CHECKPOINT_WRITE_INTERVAL`] has passed since the
/// last write.
fn persist_checkpoints(ctx: &IngestContext, p: &mut Pending, force: bool) {
    let Some(cp) = &ctx.checkpoints else {
        return;
    };
    if !force
        && p.persisted_at
            .is_some_and(|t| t.elapsed() < CHECKPOINT_WRITE_INTERVAL)
    {
        return;
    }
    match cp.persist() {
        Ok(true) => p.persisted_at = Some(Instant::now()),
        Ok(false) => {}
        Err(e) => {
            // Tried again after the interval, not at every tick.
            p.persisted_at = Some(Instant::now());
            tracing::error!("cannot persist checkpoints: {e}");
        }
    }
}

/// Spools the pending batch (if any records), or delivers it directly, and applies the acknowledgements it
/// covers.
fn flush(ctx: &IngestContext, p: &mut Pending, stopping: bool) -> io::Result<()> {
    // Stopping, a sink that hangs must not hold the exit: the grace period (`--shutdown-timeout`) bounds the
    // delivery loops, not this thread.
    let direct = p.bytes > 0
        && !stopping
        && ctx
            .direct
            .as_ref()
            .is_some_and(|d| d.deliver(&ctx.spool, &p.pieces, p.records));
    if direct {
        ctx.spool.recycle(&mut p.pieces);
    } else if p.bytes > 0 {
        // The batch stays in memory for the delivery loops; its buffers come back through the spool.
        ctx.spool.append_kept(&mut p.pieces, p.records)?;
        ctx.metrics.spool_bytes.set(ctx.spool.bytes() as i64);
        ctx.metrics.spool_segments.set(ctx.spool.segments() as i64);
        ctx.doorbell.ring();
    }
    for peer in p.notify.drain(..) {
        // The connection may be gone; its client resends and the duplicate is harmless.
        let _ = peer.send(true);
    }
    if let Some(cp) = &ctx.checkpoints {
        for (file, offset) in p.acks.drain() {
            cp.ack(file, offset);
        }
    }
    persist_checkpoints(ctx, p, stopping);
    p.pieces.clear();
    p.bytes = 0;
    p.records = 0;
    p.since = None;
    Ok(())
}

/// Spools with retries: a spool write failure (disk full) is retried until it works or the daemon stops.
fn flush_until_ok(ctx: &IngestContext, p: &mut Pending, stopping: bool) {
    let mut delays = crate::retry::spool_write_policy();
    loop {
        match flush(ctx, p, stopping) {
            Ok(()) => return,
            Err(e) => {
                tracing::error!("cannot write to the spool (records stay in memory, offsets are not checkpointed): {e}");
                if stopping || ctx.stop.load(Ordering::Relaxed) {
                    // What earlier flushes acknowledged is still written.
                    persist_checkpoints(ctx, p, true);
                    return;
                }
                std::thread::sleep(delays.next().unwrap_or(Duration::from_secs(10)));
            }
        }
    }
}

fn wait_for_spool_room(ctx: &IngestContext) {
    if !ctx.spool.is_full() {
        return;
    }
    ctx.metrics.backpressure_pauses.inc();
    tracing::warn!(
        spool_bytes = ctx.spool.bytes(),
        "spool full: reading paused until sinks catch up"
    );
    if let Some(p) = &ctx.paused {
        p.store(true, Ordering::Relaxed);
    }
    while ctx.spool.is_full() && !ctx.stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
    }
    if let Some(p) = &ctx.paused {
        p.store(false, Ordering::Relaxed);
    }
}

fn take(ctx: &IngestContext, p: &mut Pending, o: Output<'_>) {
    ctx.metrics.add_batch(o.stats);
    if let Some(origin) = o.origin {
        let input = Metrics::label("input", origin);
        ctx.metrics
            .input_lines
            .get_or_create(&input)
            .inc_by(o.stats.frame.physical_lines);
        ctx.metrics
            .input_bytes
            .get_or_create(&input)
            .inc_by(o.input_bytes);
    }
    add_records(&ctx.spool, p, o.out);
    p.records += o.stats.kept_flows;
    match o.ack {
        Some(Ack::FileOffset { file, offset }) => {
            p.acks.insert(file, offset);
        }
        Some(Ack::Notify(peer)) => p.notify.push(peer),
        None => {}
    }
    // Even input that keeps nothing starts the clock: its offsets are acknowledged within the interval.
    if p.since.is_none() {
        p.since = Some(Instant::now());
    }
}

/// Adds a batch's output to the pending records. A buffer at least half full is taken as it is (the pipeline
/// gets an empty one from the spool in exchange), so the records are not copied on their way to the spool; a
/// mostly empty one (a trickle of flows) is copied into the last piece, so the pieces never hold much more
/// memory than records.
fn add_records(spool: &Spool, p: &mut Pending, out: &mut Vec<u8>) {
    if out.is_empty() {
        return;
    }
    p.bytes += out.len();
    if out.len() * 2 >= out.capacity() {
        p.pieces.push(std::mem::replace(out, spool.spare_buffer()));
        return;
    }
    match p.pieces.last_mut() {
        Some(last) if last.capacity() - last.len() >= out.len() => last.extend_from_slice(out),
        _ => {
            let mut piece = spool.spare_buffer();
            piece.reserve(out.len().max(SMALL_PIECE));
            piece.extend_from_slice(out);
            p.pieces.push(piece);
        }
    }
}

/// Room a piece gets when small outputs are copied into it.
const SMALL_PIECE: usize = 64 * 1024;

/// Runs `source` through the pipeline into the spool (or a [`DirectSink`]) until the source ends (stop, or end
/// of stdin); returns after spooling what is in memory.
pub fn run<S: Source + 'static>(
    ctx: &IngestContext,
    cfg: &IngestConfig,
    pipeline_cfg: &PipelineConfig,
    processor: Arc<ArcSwap<Processor>>,
    source: S,
) {
    let mut p = Pending::default();
    let mut pipeline_cfg = pipeline_cfg.clone();
    pipeline_cfg.tick = Some(Duration::from_millis(20).min(cfg.flush_interval));
    let result = pipeline::run(source, &pipeline_cfg, processor, |event| {
        let idle = match event {
            Event::Batch(o) => {
                take(ctx, &mut p, o);
                false
            }
            Event::Tick => true,
        };
        // Peers waiting for an acknowledgement are not kept waiting for the flush interval once nothing more
        // arrives.
        if p.due(cfg) || (idle && p.notify.iter().any(|n| !n.is_closed())) {
            flush_until_ok(ctx, &mut p, false);
        } else if idle {
            // Offsets acknowledged by the last flush and not yet written, once the interval is up.
            persist_checkpoints(ctx, &mut p, false);
        }
        wait_for_spool_room(ctx);
        Ok(())
    });
    if let Err(e) = result {
        tracing::error!("ingest pipeline failed: {e}");
    }
    flush_until_ok(ctx, &mut p, true);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_are_written_at_most_once_per_interval_and_at_once_when_stopping() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoints = Checkpoints::open(dir.path()).unwrap();
        let ctx = IngestContext {
            spool: Arc::new(Spool::open(&dir.path().join("spool"), 1 << 30).unwrap()),
            metrics: Arc::new(Metrics::new()),
            stop: Arc::new(AtomicBool::new(false)),
            doorbell: Arc::new(Doorbell::default()),
            checkpoints: Some(checkpoints.clone()),
            paused: None,
            direct: None,
        };
        let on_disk = || {
            Checkpoints::open(dir.path())
                .unwrap()
                .get(&FileId::Checksum(7))
        };
        let mut p = Pending::default();
        // The first acknowledgement is written by its flush.
        p.acks.insert(FileId::Checksum(7), 100);
        flush(&ctx, &mut p, false).unwrap();
        assert_eq!(on_disk(), Some(100));
        // The next ones, within the interval, only in memory; nor does an idle tick write them yet.
        p.acks.insert(FileId::Checksum(7), 200);
        flush(&ctx, &mut p, false).unwrap();
        persist_checkpoints(&ctx, &mut p, false);
        assert_eq!(checkpoints.get(&FileId::Checksum(7)), Some(200));
        assert_eq!(on_disk(), Some(100));
        // Once the interval is up, the next chance writes them.
        p.persisted_at = p.persisted_at.map(|t| t - CHECKPOINT_WRITE_INTERVAL);
        persist_checkpoints(&ctx, &mut p, false);
        assert_eq!(on_disk(), Some(200));
        // Stopping writes at once.
        p.acks.insert(FileId::Checksum(7), 300);
        flush(&ctx, &mut p, true).unwrap();
        assert_eq!(on_disk(), Some(300));
    }

    #[test]
    fn a_local_file_sink_takes_batches_directly_and_acknowledges_them_until_a_segment_queues() {
        use crate::sink::batch::{BatchSink, LocalBatchSink};
        use crate::sink::file::FileSink;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.ndjson");
        let mut sinks: Vec<Box<dyn BatchSink>> = vec![Box::new(LocalBatchSink::new(Box::new(
            FileSink::create(&out).unwrap(),
        )))];
        let metrics = Arc::new(Metrics::new());
        let direct =
            DirectSink::for_the_only_sink(&mut sinks, &metrics).expect("a regular file is durable");
        let checkpoints = Checkpoints::open(dir.path()).unwrap();
        let ctx = IngestContext {
            spool: Arc::new(Spool::open(&dir.path().join("spool"), 1 << 30).unwrap()),
            metrics,
            stop: Arc::new(AtomicBool::new(false)),
            doorbell: Arc::new(Doorbell::default()),
            checkpoints: Some(checkpoints.clone()),
            paused: None,
            direct: Some(direct),
        };
        let mut p = Pending::default();
        let mut piece = Vec::with_capacity(4096);
        piece.extend_from_slice(b"{\"n\":1}\n");
        let buffer = piece.as_ptr();
        p.pieces.push(piece);
        p.bytes = 8;
        p.records = 1;
        p.acks.insert(FileId::Checksum(7), 100);
        flush(&ctx, &mut p, false).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"{\"n\":1}\n");
        assert_eq!(ctx.spool.segments(), 0, "not spooled");
        assert_eq!(checkpoints.get(&FileId::Checksum(7)), Some(100));
        assert_eq!(ctx.metrics.sink_direct_batches.get(), 1);
        let reused = ctx.spool.spare_buffer();
        assert_eq!(reused.as_ptr(), buffer, "the buffer is reused");

        // A segment waits in the spool (left by a failure): the next batch queues behind it, acknowledged once
        // spooled.
        ctx.spool.append(b"{\"n\":2}\n", 1).unwrap();
        p.pieces.push(b"{\"n\":3}\n".to_vec());
        p.bytes = 8;
        p.records = 1;
        p.acks.insert(FileId::Checksum(7), 200);
        flush(&ctx, &mut p, false).unwrap();
        assert_eq!(ctx.spool.segments(), 2);
        assert_eq!(
            std::fs::read(&out).unwrap(),
            b"{\"n\":1}\n",
            "left to the delivery loop"
        );
        assert_eq!(checkpoints.get(&FileId::Checksum(7)), Some(200));
        assert_eq!(ctx.metrics.sink_direct_batches.get(), 1);
    }

    #[test]
    fn full_outputs_are_taken_and_small_ones_copied_into_one_piece() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), 1 << 30).unwrap();
        let mut p = Pending::default();
        // Nothing kept: nothing added.
        let mut out = Vec::with_capacity(600);
        add_records(&spool, &mut p, &mut out);
        assert!(p.pieces.is_empty() && p.bytes == 0);
        // At least half full: the buffer itself becomes a piece, and the pipeline gets another.
        out.extend_from_slice(&[b'a'; 600]);
        let ptr = out.as_ptr();
        add_records(&spool, &mut p, &mut out);
        assert_eq!(p.pieces.len(), 1);
        assert_eq!(p.pieces[0].as_ptr(), ptr);
        assert!(out.is_empty() && out.as_ptr() != ptr);
        // Mostly empty: copied (into a new piece, the last one being full), and the next small one joins it.
        for b in [b'b', b'c'] {
            let mut small = Vec::with_capacity(4096);
            small.extend_from_slice(&[b; 10]);
            add_records(&spool, &mut p, &mut small);
            assert_eq!(small.len(), 10, "left to the pipeline as it was");
        }
        assert_eq!(p.pieces.len(), 2);
        assert_eq!(p.bytes, 620);
        let all = p.pieces.concat();
        assert_eq!(&all[..600], &[b'a'; 600][..]);
        assert_eq!(&all[600..], b"bbbbbbbbbbcccccccccc");
    }
}
