//! The delivery loop of one sink: every spooled segment, oldest first, until stopped; and [`DirectSink`], the
//! way around the spool for the daemon's only sink when it is a local file.
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

use crate::sink::batch::{BatchSink, Delivery, Rejected};
use crate::spool::Spool;
use crate::telemetry::metrics::Metrics;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
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
                count_accepted(&ctx.metrics, &name, &delivery);
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

/// Counts what a delivery accepted in `sink_batches`, `sink_records` and `sink_bytes`.
fn count_accepted(metrics: &Metrics, sink: &str, delivery: &Delivery) {
    if delivery.accepted_records == 0 {
        return;
    }
    let label = Metrics::label("sink", sink);
    metrics.sink_batches.get_or_create(&label).inc();
    metrics
        .sink_records
        .get_or_create(&label)
        .inc_by(delivery.accepted_records);
    metrics
        .sink_bytes
        .get_or_create(&label)
        .inc_by(delivery.accepted_bytes);
}

/// The daemon's only sink when it is durable on this machine ([`BatchSink::durable_locally`]: a file on a local
/// filesystem), held by
/// both its delivery loop (through [`SharedSink`]) and the ingest consumer, which calls [`DirectSink::deliver`]
/// instead of spooling a batch.
///
/// Guarantees: a batch is delivered directly only when no segment waits in the spool (so batches reach the sink
/// in order) and the delivery loop is not using the sink; it counts as delivered only when the sink took all of
/// it (written and fsynced), and only then may the caller apply the batch's acknowledgements, so a crash
/// re-reads it exactly as it would a spooled batch that was not yet delivered. Anything else — a failure, a
/// rejected part, an older segment queued, the loop busy — leaves the batch to be spooled and delivered by the
/// loop, with its retries; a failure counts in `sink_retries` first. What the sink took of a batch that failed
/// part-way is written again (at least once, never lost). Skipping the spool saves its durable second copy of
/// every record: with a file sink, half the daemon's writes.
pub struct DirectSink {
    sink: Arc<Mutex<Box<dyn BatchSink>>>,
    name: String,
    metrics: Arc<Metrics>,
}

/// The delivery loop's handle on a sink shared with a [`DirectSink`]: each delivery holds the sink for its
/// duration.
pub struct SharedSink {
    sink: Arc<Mutex<Box<dyn BatchSink>>>,
    name: String,
}

fn lock(sink: &Mutex<Box<dyn BatchSink>>) -> MutexGuard<'_, Box<dyn BatchSink>> {
    // Poisoned by a panic mid-delivery: like any failed write, the batch is written again by the next delivery.
    sink.lock().unwrap_or_else(PoisonError::into_inner)
}

impl DirectSink {
    /// When `sinks` is one sink durable on this machine, shares it between the consumer's direct path
    /// (returned) and its delivery loop (the [`SharedSink`] that takes its place in `sinks`); otherwise `None`,
    /// and `sinks` is left as it was.
    pub fn for_the_only_sink(
        sinks: &mut Vec<Box<dyn BatchSink>>,
        metrics: &Arc<Metrics>,
    ) -> Option<DirectSink> {
        if !matches!(sinks.as_slice(), [only] if only.durable_locally()) {
            return None;
        }
        let only = sinks.pop()?;
        let name = only.name().to_owned();
        let sink = Arc::new(Mutex::new(only));
        sinks.push(Box::new(SharedSink {
            sink: Arc::clone(&sink),
            name: name.clone(),
        }));
        Some(DirectSink {
            sink,
            name,
            metrics: Arc::clone(metrics),
        })
    }

    /// Delivers the batch in `pieces` if nothing older waits in `spool` and the delivery loop is idle; true
    /// when the sink took all of it durably (the batch must then not be spooled), false when it must be spooled.
    pub fn deliver(&self, spool: &Spool, pieces: &[Vec<u8>], records: u64) -> bool {
        if spool.segments() > 0 {
            return false;
        }
        let delivery = match self.sink.try_lock() {
            Ok(mut sink) => sink.deliver(pieces, records),
            Err(_) => return false,
        };
        count_accepted(&self.metrics, &self.name, &delivery);
        if delivery.rejected.is_empty() && delivery.pending.is_none() {
            self.metrics.sink_direct_batches.inc();
            return true;
        }
        let (reason, message) = match &delivery.pending {
            Some(p) => (p.reason, p.message.as_str()),
            None => ("io", "a part of the batch was rejected"),
        };
        self.metrics.sink_retry(&self.name, reason);
        tracing::warn!(sink = %self.name, records, "delivery failed; the batch is spooled and will be retried: {message}");
        false
    }
}

impl BatchSink for SharedSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver(&mut self, payload: &[Vec<u8>], records: u64) -> Delivery {
        lock(&self.sink).deliver(payload, records)
    }

    fn durable_locally(&self) -> bool {
        lock(&self.sink).durable_locally()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::batch::LocalBatchSink;
    use crate::sink::file::FileSink;
    use std::path::Path;

    /// A sink that keeps what it took, or fails every delivery.
    struct Recording {
        taken: Arc<Mutex<Vec<u8>>>,
        fail: bool,
    }

    impl BatchSink for Recording {
        fn name(&self) -> &str {
            "recording"
        }
        fn deliver(&mut self, payload: &[Vec<u8>], records: u64) -> Delivery {
            if self.fail {
                return Delivery::retry_all(payload, records, "recording: disk full".into(), "io");
            }
            self.taken.lock().unwrap().extend(payload.concat());
            Delivery::all(payload, records)
        }
        fn durable_locally(&self) -> bool {
            true
        }
    }

    /// A recording sink split as the daemon's only sink, beside an empty spool.
    struct Case {
        _dir: tempfile::TempDir,
        spool: Spool,
        metrics: Arc<Metrics>,
        direct: DirectSink,
        /// The delivery loop's handle.
        looped: Box<dyn BatchSink>,
        /// What the sink took.
        taken: Arc<Mutex<Vec<u8>>>,
    }

    fn case(fail: bool) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), 1 << 30).unwrap();
        let metrics = Arc::new(Metrics::new());
        let taken = Arc::new(Mutex::new(Vec::new()));
        let mut sinks: Vec<Box<dyn BatchSink>> = vec![Box::new(Recording {
            taken: Arc::clone(&taken),
            fail,
        })];
        let direct =
            DirectSink::for_the_only_sink(&mut sinks, &metrics).expect("durable sink split");
        let looped = sinks.pop().expect("the loop's handle");
        Case {
            _dir: dir,
            spool,
            metrics,
            direct,
            looped,
            taken,
        }
    }

    fn batch() -> Vec<Vec<u8>> {
        vec![b"{\"a\":1}\n".to_vec(), b"{\"a\":2}\n".to_vec()]
    }

    fn retries(metrics: &Metrics, reason: &str) -> u64 {
        metrics
            .sink_retries
            .get_or_create(&Metrics::labels2("sink", "recording", "reason", reason))
            .get()
    }

    #[test]
    fn only_a_lone_sink_durable_on_this_machine_is_split() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = Arc::new(Metrics::new());
        let file = |name: &str| -> Box<dyn BatchSink> {
            let sink = FileSink::create(&dir.path().join(name)).unwrap();
            Box::new(LocalBatchSink::new(Box::new(sink)))
        };
        let mut sinks = vec![file("out.ndjson")];
        assert!(
            DirectSink::for_the_only_sink(&mut sinks, &metrics).is_some(),
            "a regular file"
        );
        assert_eq!(sinks.len(), 1);
        let null = FileSink::create(Path::new("/dev/null")).unwrap();
        let mut sinks: Vec<Box<dyn BatchSink>> =
            vec![Box::new(LocalBatchSink::new(Box::new(null)))];
        assert!(
            DirectSink::for_the_only_sink(&mut sinks, &metrics).is_none(),
            "a device is not durable"
        );
        assert_eq!(sinks[0].name(), "file:/dev/null", "left as it was");
        let mut sinks = vec![file("a.ndjson"), file("b.ndjson")];
        assert!(
            DirectSink::for_the_only_sink(&mut sinks, &metrics).is_none(),
            "two sinks"
        );
        assert_eq!(sinks.len(), 2);
    }

    #[test]
    fn a_batch_goes_straight_to_the_sink_while_nothing_waits_in_the_spool() {
        let mut c = case(false);
        assert!(c.direct.deliver(&c.spool, &batch(), 2));
        assert_eq!(
            c.taken.lock().unwrap().as_slice(),
            b"{\"a\":1}\n{\"a\":2}\n"
        );
        assert_eq!(c.metrics.sink_direct_batches.get(), 1);
        let label = Metrics::label("sink", "recording");
        assert_eq!(c.metrics.sink_records.get_or_create(&label).get(), 2);
        assert_eq!(c.spool.segments(), 0, "nothing spooled");

        // The delivery loop holds the sink: the batch must be spooled.
        {
            let _busy = lock(&c.direct.sink);
            assert!(
                !c.direct.deliver(&c.spool, &batch(), 2),
                "the loop holds the sink"
            );
        }

        // An older segment queued: the batch must be spooled behind it, and the sink is not touched.
        c.spool.append(b"{\"a\":0}\n", 1).unwrap();
        assert!(!c.direct.deliver(&c.spool, &batch(), 2));
        assert_eq!(c.taken.lock().unwrap().len(), 16);
        assert_eq!(c.metrics.sink_direct_batches.get(), 1);
        assert_eq!(retries(&c.metrics, "io"), 0, "not a failure");

        // The delivery loop's handle reaches the same sink.
        c.looped.deliver(&[b"{\"a\":3}\n".to_vec()], 1);
        assert!(c.taken.lock().unwrap().ends_with(b"{\"a\":3}\n"));
    }

    #[test]
    fn a_failed_direct_delivery_is_counted_as_a_retry_and_left_to_the_spool() {
        let c = case(true);
        assert!(!c.direct.deliver(&c.spool, &batch(), 2));
        assert!(c.taken.lock().unwrap().is_empty());
        assert_eq!(retries(&c.metrics, "io"), 1);
        assert_eq!(c.metrics.sink_direct_batches.get(), 0);
        let label = Metrics::label("sink", "recording");
        assert_eq!(c.metrics.sink_records.get_or_create(&label).get(), 0);
    }
}
