//! The delivery loop of one sink: every spooled segment, oldest first, until stopped.
//!
//! Guarantees: a segment is marked done for a sink only after every record of it was either accepted durably
//! or written to the dead-letter directory (only the records the sink rejected: a rejected ADX request's
//! records, not its accepted siblings). What is still pending — a failure, or the sink's retry budget running
//! out (`--adx-max-retry-duration`) — is retried with [`crate::retry::delivery_policy`] for as long as the
//! daemon runs, re-sending only the records not yet accepted, and counted in `sink_retries{sink,reason}`. A
//! dead letter that cannot be written is retried by itself (the records are not sent again); the segment
//! stays spooled meanwhile. A torn segment is quarantined by the spool and counted, never crashed on.
//!
//! See ARCHITECTURE.md ("deliver").

use crate::sink::batch::{BatchSink, Rejected};
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
            let mut delays = crate::retry::delivery_policy();
            // What is left to deliver of this segment: all of it at first, then what the sink did not accept.
            let mut payload = std::borrow::Cow::Borrowed(seg.payload.pieces());
            let mut records = seg.records;
            let mut pieces_dead_lettered = 0usize;
            loop {
                let delivery = sink.deliver(&payload, records);
                if delivery.accepted_records > 0 {
                    ctx.metrics.sink_batches.get_or_create(&label).inc();
                    ctx.metrics
                        .sink_records
                        .get_or_create(&label)
                        .inc_by(delivery.accepted_records);
                    ctx.metrics
                        .sink_bytes
                        .get_or_create(&label)
                        .inc_by(delivery.accepted_bytes);
                }
                if delivery.rejected.is_empty() && delivery.accepted_records > 0 {
                    if rejected_in_a_row >= PERMANENT_FAILURES {
                        tracing::info!(sink = %name, "sink accepts batches again");
                    }
                    rejected_in_a_row = 0;
                    ctx.metrics.set_sink_failing(&name, false);
                }
                for rejected in &delivery.rejected {
                    rejected_in_a_row = rejected_in_a_row.saturating_add(1);
                    if rejected_in_a_row == PERMANENT_FAILURES {
                        ctx.metrics.set_sink_failing(&name, true);
                        tracing::error!(sink = %name, "{PERMANENT_FAILURES} requests in a row rejected permanently: /readyz now reports not ready");
                    }
                    if !write_dead_letter(ctx, id.0, pieces_dead_lettered, &name, rejected) {
                        return;
                    }
                    pieces_dead_lettered += 1;
                    ctx.metrics.dead_letters.get_or_create(&label).inc();
                    ctx.metrics
                        .dead_lettered_records
                        .get_or_create(&label)
                        .inc_by(rejected.info.records);
                }
                let Some(pending) = delivery.pending else {
                    break;
                };
                if pending.cancelled {
                    return;
                }
                ctx.metrics.sink_retry(&name, pending.reason);
                let delay = delays.next().unwrap_or(Duration::from_secs(30));
                tracing::warn!(sink = %name, records = pending.records, retry_in_ms = delay.as_millis() as u64, "delivery failed, will retry: {}", pending.message);
                payload = std::borrow::Cow::Owned(vec![pending.payload]);
                records = pending.records;
                sleep_unless_stopped(&ctx.stop, delay);
                if ctx.stop.load(Ordering::Relaxed) {
                    return;
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

/// Writes one dead letter, retrying the write alone (never re-sending the records) until it succeeds or the
/// daemon stops; false when stopped first (the segment then stays spooled).
fn write_dead_letter(
    ctx: &DeliveryContext,
    segment: u64,
    piece: usize,
    name: &str,
    rejected: &Rejected,
) -> bool {
    let mut delays = crate::retry::spool_write_policy();
    loop {
        match crate::sink::dead_letter::write(
            &ctx.dead_letter_dir,
            segment,
            piece,
            name,
            &rejected.payload,
            &rejected.info,
        ) {
            Ok(path) => {
                tracing::error!(
                    sink = %name, records = rejected.info.records, dead_letter = %path.display(),
                    resend = %crate::sink::dead_letter::resend_command(&path, &rejected.info.resend_args),
                    "records rejected permanently, moved to the dead-letter directory (fix the cause, then re-send them): {}",
                    rejected.info.summary()
                );
                return true;
            }
            Err(e) => {
                let delay = delays.next().unwrap_or(Duration::from_secs(10));
                tracing::error!(sink = %name, records = rejected.info.records, "records rejected permanently ({}) and the dead letter cannot be written ({e}); retrying the write in {delay:?}, the segment stays spooled", rejected.info.summary());
                sleep_unless_stopped(&ctx.stop, delay);
                if ctx.stop.load(Ordering::Relaxed) {
                    return false;
                }
            }
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
