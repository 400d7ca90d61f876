//! Followed files: the daemon's source over `hubble-tail` (rotation, truncation, gzip'd rotated files,
//! checkpoints).
//!
//! Guarantees: each chunk is emitted with an [`Ack::FileOffset`] for the offset after its last line, so the file
//! is checkpointed only once the consumer has made the output durable (and never past a partial line the framer
//! still holds, see [`BlockSink::emit`]). Reading stops when `stop` is set; the consumer's backpressure (a full
//! spool) stops it too, by leaving the pipeline's bounded channels full. Tailer events, and the lines, bytes and
//! checkpoint lag per input label (a followed file's path when it was opened, kept through rotations) are
//! reported in metrics.

use super::{Ack, BlockSink, Source, Stream};
use crate::stats::InputProblem;
use crate::telemetry::metrics::Metrics;
use hubble_tail::{FileId, TailEvent, Tailer};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Files followed until stopped.
pub struct TailSource {
    tailer: Tailer,
    stop: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
    /// Each open file's `input` label: its path when it was opened (or first read, for a chunk read in the poll
    /// that opened it). A rotated file keeps the name it was followed under (`0.log`, not
    /// `0.log.20261206-101500`), so rotations add no metric series; a file first found under a rotated name (at
    /// a start) is labelled by that name until it is released.
    origins: HashMap<FileId, Arc<str>>,
    /// Labels with a `checkpoint_lag_bytes` series: one whose files are all closed loses its series.
    lag_reported: HashSet<Arc<str>>,
}

impl TailSource {
    /// Follows with `tailer` until `stop` is set.
    pub fn new(tailer: Tailer, stop: Arc<AtomicBool>, metrics: Arc<Metrics>) -> Self {
        TailSource {
            tailer,
            stop,
            metrics,
            origins: HashMap::new(),
            lag_reported: HashSet::new(),
        }
    }

    /// The checkpoint table acknowledgements go to (shared with the tailer).
    pub fn checkpoints(&self) -> &hubble_tail::Checkpoints {
        self.tailer.checkpoints()
    }

    /// Sets `checkpoint_lag_bytes` per label: the unacknowledged bytes of the open plain files under it (the
    /// current `0.log` and rotated files still being drained).
    fn report_lag(&mut self) {
        let checkpoints = self.tailer.checkpoints();
        let mut lag: HashMap<Arc<str>, u64> = HashMap::new();
        for f in self.tailer.open_files() {
            let Some(size) = f.size else {
                continue;
            };
            let acked = checkpoints.get(&f.file).unwrap_or(0);
            let input = match self.origins.get(&f.file) {
                Some(origin) => origin.clone(),
                None => path_label(&f.path),
            };
            *lag.entry(input).or_default() += size.saturating_sub(acked);
        }
        for (input, bytes) in &lag {
            self.metrics
                .checkpoint_lag_bytes
                .get_or_create(&Metrics::label("input", input))
                .set(*bytes as i64);
        }
        let reported: HashSet<Arc<str>> = lag.into_keys().collect();
        for gone in self.lag_reported.difference(&reported) {
            self.metrics
                .checkpoint_lag_bytes
                .remove(&Metrics::label("input", gone));
        }
        self.lag_reported = reported;
    }
}

/// The `input` label of a path.
fn path_label(path: &Path) -> Arc<str> {
    Arc::from(path.display().to_string())
}

/// `file`'s input label; the first path it is seen under becomes it.
fn origin<'a>(
    origins: &'a mut HashMap<FileId, Arc<str>>,
    file: FileId,
    path: &Path,
) -> &'a Arc<str> {
    origins.entry(file).or_insert_with(|| path_label(path))
}

impl Source for TailSource {
    fn run(&mut self, emit: &mut dyn BlockSink) -> Vec<InputProblem> {
        let mut last_gc = Instant::now();
        let mut last_lag = Instant::now();
        let mut closed = false;
        while !self.stop.load(Ordering::Relaxed) && !closed {
            let origins = &mut self.origins;
            let polled = self.tailer.poll(&mut |chunk| {
                if closed {
                    return;
                }
                let origin = origin(origins, chunk.file, chunk.path).clone();
                let mut batch = emit.batch();
                batch.buf.extend_from_slice(chunk.bytes);
                let ack = Ack::FileOffset {
                    file: chunk.file,
                    offset: chunk.end_offset,
                };
                let n = chunk.bytes.len();
                closed = !emit.emit(
                    Stream::File(chunk.file),
                    batch,
                    n,
                    Some(ack),
                    Some(&origin),
                    n as u64,
                );
            });
            let idle = match polled {
                Ok(stats) => {
                    for ev in &stats.events {
                        self.metrics
                            .tail_events
                            .get_or_create(&Metrics::label("kind", ev.kind()))
                            .inc();
                        match ev {
                            TailEvent::Opened { file, path, .. } => {
                                origin(&mut self.origins, *file, path);
                            }
                            TailEvent::Released { file, .. } => {
                                self.origins.remove(file);
                            }
                            _ => {}
                        }
                    }
                    stats.is_idle()
                }
                Err(e) => {
                    tracing::error!("tailing failed: {e}");
                    true
                }
            };
            if last_lag.elapsed() > Duration::from_secs(1) {
                self.report_lag();
                last_lag = Instant::now();
            }
            if last_gc.elapsed() > Duration::from_secs(30) {
                let open: HashSet<FileId> = self
                    .tailer
                    .open_files()
                    .into_iter()
                    .map(|f| f.file)
                    .collect();
                emit.retain_streams(&|s| matches!(s, Stream::File(id) if open.contains(id)));
                self.origins.retain(|id, _| open.contains(id));
                last_gc = Instant::now();
            }
            if idle {
                std::thread::sleep(self.tailer.idle_wait().max(Duration::from_millis(5)));
            }
        }
        Vec::new()
    }
}
