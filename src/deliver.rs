//! The delivery loop of one sink: every spooled segment, oldest first, until stopped.
//!
//! Guarantees: a segment is marked done for a sink only after the sink accepted it durably (or after it was
//! written to the dead-letter directory, for a permanent error); transient failures are retried with
//! [`crate::retry::delivery_policy`] for as long as the daemon runs. A torn segment is quarantined
//! by the spool and counted, never crashed on.
//!
//! See ARCHITECTURE.md ("deliver").

use crate::sink::batch::{BatchSink, DeliveryError};
use crate::spool::Spool;
use crate::telemetry::metrics::Metrics;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Wakes delivery loops when a segment was spooled.
#[derive(Debug, Default)]
pub struct Doorbell {
    rung: Mutex<u64>,
    cv: Condvar,
}

impl Doorbell {
    /// Rings: a new segment is there.
    pub fn ring(&self) {
        if let Ok(mut n) = self.rung.lock() {
            *n += 1;
        }
        self.cv.notify_all();
    }

    /// Waits for a ring, at most `timeout`.
    pub fn wait(&self, timeout: Duration) {
        if let Ok(g) = self.rung.lock() {
            let seen = *g;
            let _ = self.cv.wait_timeout_while(g, timeout, |n| *n == seen);
        }
    }
}

/// Shared state of the delivery loops.
pub struct DeliveryContext {
    /// The spool.
    pub spool: Arc<Spool>,
    /// Names of every configured sink (a segment is removed when all of them are done).
    pub all_sinks: Vec<String>,
    /// Where permanently failed batches go.
    pub dead_letter_dir: PathBuf,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Set to stop delivering (after the current attempt).
    pub stop: Arc<AtomicBool>,
    /// Set once no more segments will be spooled (input ended); loops then exit when they are idle.
    pub input_done: Arc<AtomicBool>,
    /// New-segment notifications.
    pub doorbell: Arc<Doorbell>,
}

/// Runs the delivery loop of `sink` until stopped (or, once input is done, until nothing is left for it).
pub fn run(ctx: &DeliveryContext, sink: &mut dyn BatchSink) {
    let name = sink.name().to_owned();
    let label = Metrics::label("sink", &name);
    ctx.metrics.register_sink(&name);
    // Consecutive batches rejected permanently: from PERMANENT_FAILURES on, the sink counts as failing
    // (`/readyz` answers 503) until a batch is accepted again.
    const PERMANENT_FAILURES: u32 = 3;
    let mut rejected_in_a_row = 0u32;
    while !ctx.stop.load(Ordering::Relaxed) {
        let ids = match ctx.spool.list() {
            Ok(ids) => ids,
            Err(e) => {
                tracing::error!(sink = %name, "cannot list the spool: {e}");
                ctx.doorbell.wait(Duration::from_secs(1));
                continue;
            }
        };
        let pending: Vec<_> = ids
            .into_iter()
            .filter(|&id| !ctx.spool.is_done(id, &name))
            .collect();
        if pending.is_empty() {
            if ctx.input_done.load(Ordering::Relaxed) {
                return;
            }
            ctx.doorbell.wait(Duration::from_millis(200));
            continue;
        }
        for id in pending {
            if ctx.stop.load(Ordering::Relaxed) {
                return;
            }
            let seg = match ctx.spool.read(id) {
                Ok(seg) => seg,
                Err(Ok(q)) => {
                    ctx.metrics.spool_quarantined.inc();
                    tracing::error!(sink = %name, path = %q.path.display(), "spool segment quarantined: {}", q.reason);
                    continue;
                }
                Err(Err(e)) => {
                    // Removed meanwhile (quarantined by another sink's loop) or unreadable: look again later.
                    tracing::warn!(sink = %name, segment = id.0, "cannot read spool segment: {e}");
                    continue;
                }
            };
            let batch_id = hubble_adx::batch_id(&seg.payload);
            let mut delays = crate::retry::delivery_policy();
            loop {
                match sink.deliver(&seg.payload, seg.records, &batch_id) {
                    Ok(()) => {
                        if rejected_in_a_row >= PERMANENT_FAILURES {
                            tracing::info!(sink = %name, "sink accepts batches again");
                        }
                        rejected_in_a_row = 0;
                        ctx.metrics.set_sink_failing(&name, false);
                        ctx.metrics.sink_batches.get_or_create(&label).inc();
                        ctx.metrics
                            .sink_records
                            .get_or_create(&label)
                            .inc_by(seg.records);
                        ctx.metrics
                            .sink_bytes
                            .get_or_create(&label)
                            .inc_by(seg.payload.len() as u64);
                        break;
                    }
                    Err(DeliveryError::Permanent(msg)) => {
                        ctx.metrics.dead_letters.get_or_create(&label).inc();
                        rejected_in_a_row = rejected_in_a_row.saturating_add(1);
                        if rejected_in_a_row == PERMANENT_FAILURES {
                            ctx.metrics.set_sink_failing(&name, true);
                            tracing::error!(sink = %name, "{PERMANENT_FAILURES} batches in a row rejected permanently: /readyz now reports not ready");
                        }
                        match crate::sink::dead_letter::write(
                            &ctx.dead_letter_dir,
                            id.0,
                            &name,
                            &seg.payload,
                            &msg,
                        ) {
                            Ok(path) => tracing::error!(
                                sink = %name, records = seg.records, dead_letter = %path.display(),
                                "batch rejected permanently, moved to the dead-letter directory (fix the cause, then `hubble-ingest replay` the file with --sink {name}): {msg}"
                            ),
                            Err(e) => {
                                tracing::error!(sink = %name, "batch rejected permanently ({msg}) and the dead letter cannot be written ({e}); keeping it spooled");
                                ctx.doorbell.wait(Duration::from_secs(5));
                                continue;
                            }
                        }
                        break;
                    }
                    Err(DeliveryError::Transient(msg)) => {
                        ctx.metrics.sink_retries.get_or_create(&label).inc();
                        let delay = delays.next().unwrap_or(Duration::from_secs(30));
                        tracing::warn!(sink = %name, retry_in_ms = delay.as_millis() as u64, "delivery failed, will retry: {msg}");
                        sleep_unless_stopped(&ctx.stop, delay);
                        if ctx.stop.load(Ordering::Relaxed) {
                            return;
                        }
                    }
                    Err(DeliveryError::Cancelled) => return,
                }
            }
            if let Err(e) = ctx.spool.mark_done(id, &name, &ctx.all_sinks) {
                tracing::error!(sink = %name, segment = id.0, "cannot record delivery in the spool: {e}");
            }
            ctx.metrics.spool_bytes.set(ctx.spool.bytes() as i64);
            ctx.metrics.spool_segments.set(ctx.spool.segments() as i64);
        }
    }
}

fn sleep_unless_stopped(stop: &AtomicBool, d: Duration) {
    let step = Duration::from_millis(50);
    let mut left = d;
    while !left.is_zero() && !stop.load(Ordering::Relaxed) {
        let s = left.min(step);
        std::thread::sleep(s);
        left -= s;
    }
}
