//! The one parallel, order-keeping pipeline: every source (files and stdin for `replay`/`filter`, followed files
//! and stdin for the daemon) feeds it, and every command consumes its output the same way.
//!
//! One reader thread runs the [`Source`], frames what it emits (one [`Framer`] per stream, so a file's partial
//! CRI line or docker entry is joined across blocks) and numbers the batches; `workers` threads take them from
//! one shared queue (whichever worker is free takes the next batch, so a worker slowed on one batch does not
//! hold the others up) and run the current [`Processor`] (loaded per batch, so a reload takes effect at the next
//! batch). The calling thread puts the results back in exactly the order the batches were emitted (a reorder
//! ring indexed by batch number) and hands them, with their acknowledgement, to the consumer. At most
//! [`in_flight`] batches exist at once (the reader takes a permit per batch and the consumer returns it), so
//! memory stays bounded whatever the input size, their buffers are reused, and a consumer that stops taking
//! results (a full spool) stops the reader: that is the daemon's backpressure. With a tick, the consumer is also
//! called when no result arrived for that long (the daemon's flush interval). See ARCHITECTURE.md ("pipeline").

use crate::frame::{Format, Framer, LineBatch};
use crate::process::{PrefilterGate, Processor};
use crate::source::{Ack, BlockSink, Source, Stream};
use crate::stats::{BatchStats, InputProblem};
use arc_swap::ArcSwap;
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// How to frame and process.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Input framing.
    pub format: Format,
    /// Longest logical line accepted.
    pub max_line_bytes: usize,
    /// Read block size for sources that read blocks.
    pub block_size: usize,
    /// Worker threads.
    pub workers: usize,
    /// Call the consumer with [`Event::Tick`] when no result arrived for this long.
    pub tick: Option<Duration>,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            format: Format::Auto,
            max_line_bytes: 1 << 20,
            block_size: 1 << 20,
            workers: thread::available_parallelism().map_or(1, |n| n.get()),
            tick: None,
        }
    }
}

/// What a run saw.
#[derive(Debug, Default)]
pub struct RunOutcome {
    /// Counters over all inputs.
    pub stats: BatchStats,
    /// Inputs that could not be opened or ended early.
    pub problems: Vec<InputProblem>,
}

/// One processed batch, in input order.
pub struct Output<'a> {
    /// The encoded records (or passed-through lines). The consumer may take the buffer, leaving another (empty)
    /// one in its place; the pipeline reuses whatever is left here for a later batch.
    pub out: &'a mut Vec<u8>,
    /// What processing counted.
    pub stats: &'a BatchStats,
    /// What to acknowledge once `out` is durable (none while a partial line of the stream is still held).
    pub ack: Option<Ack>,
    /// The input the batch came from (for per-input metrics).
    pub origin: Option<&'a Arc<str>>,
    /// Raw bytes the source read for this batch.
    pub input_bytes: u64,
}

/// What the consumer is called with.
pub enum Event<'a> {
    /// A processed batch.
    Batch(Output<'a>),
    /// No result arrived for the configured tick.
    Tick,
}

struct Job {
    /// The batch's number in emission order.
    seq: usize,
    batch: LineBatch,
    out: Vec<u8>,
    /// Raw framing left to the worker: the batch holds this many unframed bytes.
    unframed: Option<usize>,
    ack: Option<Ack>,
    origin: Option<Arc<str>>,
    input_bytes: u64,
}

struct Done {
    seq: usize,
    batch: LineBatch,
    out: Vec<u8>,
    stats: BatchStats,
    ack: Option<Ack>,
    origin: Option<Arc<str>>,
    input_bytes: u64,
}

/// The reader side of the pipeline, handed to the [`Source`] as its [`BlockSink`]: frames what the source
/// emits and sends it on.
struct Emitter {
    jobs: Sender<Job>,
    /// One permit per batch in flight; the consumer returns it when it is done with the batch.
    permits: Receiver<()>,
    pool: Receiver<(LineBatch, Vec<u8>)>,
    framers: HashMap<Stream, Framer>,
    /// Output buffers that came back from the consumer, reused by the next jobs.
    spare_outs: Vec<Vec<u8>>,
    format: Format,
    max_line_bytes: usize,
    seq: usize,
}

impl Emitter {
    fn spare_out(&mut self, out: Vec<u8>) {
        if self.spare_outs.len() < 4 {
            self.spare_outs.push(out);
        }
    }

    fn send(&mut self, mut job: Job) -> bool {
        // Waits while `in_flight` batches are out (a slow consumer); fails when the consumer has gone.
        if self.permits.recv().is_err() {
            return false;
        }
        if let Some(out) = self.spare_outs.pop() {
            job.out = out;
        }
        job.seq = self.seq;
        self.seq += 1;
        self.jobs.send(job).is_ok()
    }
}

impl BlockSink for Emitter {
    /// An empty batch to fill (from the pool of returned buffers when one is there).
    fn batch(&mut self) -> LineBatch {
        match self.pool.try_recv() {
            Ok((mut b, out)) => {
                b.clear();
                b.max_line_bytes = self.max_line_bytes;
                // The output buffer goes back with the next job.
                self.spare_out(out);
                b
            }
            Err(_) => LineBatch::new(self.max_line_bytes),
        }
    }

    fn max_line_bytes(&self) -> usize {
        self.max_line_bytes
    }

    /// Frames the first `len` raw bytes of `batch` (whole physical lines, or the tail of a stream at its end) as
    /// part of `stream` and sends them to the workers. `ack` is passed on only if the stream's framer holds no
    /// partial logical line afterwards (otherwise acknowledging `ack` would skip that partial line on a restart).
    /// Returns false when the pipeline has closed (the consumer failed): the source should stop.
    fn emit(
        &mut self,
        stream: Stream,
        mut batch: LineBatch,
        len: usize,
        ack: Option<Ack>,
        origin: Option<&Arc<str>>,
        input_bytes: u64,
    ) -> bool {
        // Records received from the network are logical lines already.
        let format = match stream {
            Stream::Records => Format::Raw,
            _ => self.format,
        };
        let framer = self
            .framers
            .entry(stream)
            .or_insert_with(|| Framer::new(format));
        framer.resolve(&batch.buf[..len]);
        // Stateless (raw) framing is left to the workers, so it runs on all cores.
        let unframed = if framer.is_stateless() {
            Some(len)
        } else {
            framer.frame_block(&mut batch, len);
            None
        };
        let ack = ack.filter(|_| !framer.has_pending());
        self.send(Job {
            seq: 0,
            batch,
            out: Vec::new(),
            unframed,
            ack,
            origin: origin.cloned(),
            input_bytes,
        })
    }

    /// Ends `stream`: what its framer still holds (a partial line at the end of a file) is emitted as a last
    /// batch, and the framer is dropped. Returns false when the pipeline has closed.
    fn end_stream(&mut self, stream: Stream, origin: Option<&Arc<str>>) -> bool {
        let Some(mut framer) = self.framers.remove(&stream) else {
            return true;
        };
        let mut batch = self.batch();
        framer.finish(&mut batch);
        if batch.is_empty() && batch.counts == Default::default() {
            return true;
        }
        self.send(Job {
            seq: 0,
            batch,
            out: Vec::new(),
            unframed: None,
            ack: None,
            origin: origin.cloned(),
            input_bytes: 0,
        })
    }

    /// Forgets streams not in `live` (files that are gone), without emitting what they hold.
    fn retain_streams(&mut self, live: &dyn Fn(&Stream) -> bool) {
        self.framers.retain(|s, _| live(s));
    }
}

/// Runs `source` through the current processor; `consume` receives each batch's output in order (and ticks).
/// Returns when the source has finished and every batch was consumed, or at the first consumer error.
pub fn run<S, F>(
    source: S,
    cfg: &PipelineConfig,
    processor: Arc<ArcSwap<Processor>>,
    mut consume: F,
) -> io::Result<RunOutcome>
where
    S: Source + 'static,
    F: FnMut(Event<'_>) -> io::Result<()>,
{
    let workers = cfg.workers.max(1);
    let limit = in_flight(workers);
    let (pool_tx, pool_rx) = bounded::<(LineBatch, Vec<u8>)>(limit);
    let (permit_tx, permit_rx) = bounded::<()>(limit);
    for _ in 0..limit {
        let _ = permit_tx.try_send(());
    }
    let (job_tx, job_rx) = bounded::<Job>(limit);
    let (done_tx, done_rx) = bounded::<Done>(limit);
    let mut handles = Vec::with_capacity(workers);
    for _ in 0..workers {
        let p = Arc::clone(&processor);
        let (jobs, done) = (job_rx.clone(), done_tx.clone());
        handles.push(
            thread::Builder::new()
                .name("worker".into())
                .spawn(move || worker(&p, jobs, done))?,
        );
    }
    // The workers hold the only other ends: the channels close when they (or the reader) are gone.
    drop((job_rx, done_tx));
    let mut emitter = Emitter {
        jobs: job_tx,
        permits: permit_rx,
        pool: pool_rx,
        framers: HashMap::new(),
        spare_outs: Vec::new(),
        format: cfg.format,
        max_line_bytes: cfg.max_line_bytes,
        seq: 0,
    };
    let mut source = source;
    let reader = thread::Builder::new()
        .name("reader".into())
        .spawn(move || source.run(&mut emitter))?;

    let mut outcome = RunOutcome::default();
    let mut consume_err = None;
    // Results that arrived before an earlier batch's: slot `seq % limit` (fewer than `limit` are out at once).
    let mut reorder: Vec<Option<Done>> = (0..limit).map(|_| None).collect();
    let mut next = 0usize;
    'results: loop {
        let done = match cfg.tick {
            None => match done_rx.recv() {
                Ok(d) => d,
                Err(_) => break,
            },
            Some(t) => match done_rx.recv_timeout(t) {
                Ok(d) => d,
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(e) = consume(Event::Tick) {
                        consume_err = Some(e);
                        break;
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            },
        };
        let slot = done.seq % limit;
        debug_assert!(
            reorder[slot].is_none(),
            "more than `limit` batches in flight"
        );
        reorder[slot] = Some(done);
        while let Some(mut done) = reorder[next % limit].take() {
            next += 1;
            outcome.stats.merge(&done.stats);
            let event = Event::Batch(Output {
                out: &mut done.out,
                stats: &done.stats,
                ack: done.ack,
                origin: done.origin.as_ref(),
                input_bytes: done.input_bytes,
            });
            if let Err(e) = consume(event) {
                consume_err = Some(e);
                break 'results;
            }
            let mut out = done.out;
            out.clear();
            let _ = pool_tx.try_send((done.batch, out));
            let _ = permit_tx.try_send(());
        }
    }
    // Closing the result channel stops the workers (at their next result), which closes the job channel; closing
    // the permits stops a reader waiting for one.
    drop(done_rx);
    drop(permit_tx);
    drop(pool_tx);
    let problems = reader
        .join()
        .map_err(|_| io::Error::other("reader thread panicked"))?;
    for h in handles {
        h.join()
            .map_err(|_| io::Error::other("worker thread panicked"))?;
    }
    if let Some(e) = consume_err {
        return Err(e);
    }
    outcome.problems = problems;
    Ok(outcome)
}

/// Most batches out at once (sent by the reader and not yet consumed) for `workers` workers: as many as with one
/// being processed and one waiting per worker, plus one being consumed and one ready behind it. Which worker
/// holds which does not matter: a worker slowed on one batch (a descheduled thread on a busy machine) lets the
/// others run this far ahead.
pub fn in_flight(workers: usize) -> usize {
    2 * workers + 2
}

fn worker(p: &ArcSwap<Processor>, jobs: Receiver<Job>, done: Sender<Done>) {
    let mut gate = PrefilterGate::default();
    for mut job in jobs {
        if let Some(n) = job.unframed {
            Framer::new(Format::Raw).frame_block(&mut job.batch, n);
        }
        let mut stats = BatchStats::default();
        p.load()
            .process_gated(&job.batch, &mut job.out, &mut stats, &mut gate);
        if done
            .send(Done {
                seq: job.seq,
                batch: job.batch,
                out: job.out,
                stats,
                ack: job.ack,
                origin: job.origin,
                input_bytes: job.input_bytes,
            })
            .is_err()
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::OutputMode;
    use hubble_flow::filter::FilterSet;
    use proptest::prelude::*;
    use std::io::Write as _;

    /// Emits one batch per entry of `sizes`, that many flow lines each (`{"flow":{"uuid":"batch-line"}}`), as one
    /// raw input stream.
    struct Batches(Vec<usize>);

    fn line(batch: usize, i: usize) -> String {
        format!("{{\"flow\":{{\"uuid\":\"{batch}-{i}\"}}}}\n")
    }

    impl Source for Batches {
        fn run(&mut self, emit: &mut dyn BlockSink) -> Vec<InputProblem> {
            for (b, &n) in self.0.iter().enumerate() {
                let mut batch = emit.batch();
                for i in 0..n {
                    let _ = batch.buf.write_all(line(b, i).as_bytes());
                }
                let len = batch.buf.len();
                if !emit.emit(Stream::Input(0), batch, len, None, None, len as u64) {
                    return Vec::new();
                }
            }
            emit.end_stream(Stream::Input(0), None);
            Vec::new()
        }
    }

    /// A processor passing every record through as it came (empty filter), and raw framing on `workers`.
    fn pass_through(workers: usize) -> (Arc<ArcSwap<Processor>>, PipelineConfig) {
        let filter = Arc::new(FilterSet::build(vec![], vec![]).expect("empty filter"));
        let processor = Processor::new(filter, None, OutputMode::Passthrough);
        let cfg = PipelineConfig {
            format: Format::Raw,
            workers,
            ..PipelineConfig::default()
        };
        (Arc::new(ArcSwap::from_pointee(processor)), cfg)
    }

    /// Runs the pipeline in pass-through mode (everything kept) and returns what the consumer saw, in order,
    /// and the number of batches it was called with.
    fn run_batches(sizes: Vec<usize>, workers: usize) -> (Vec<u8>, usize) {
        let (processor, cfg) = pass_through(workers);
        let (mut seen, mut batches) = (Vec::new(), 0);
        run(Batches(sizes), &cfg, processor, |event| {
            if let Event::Batch(o) = event {
                seen.extend_from_slice(o.out);
                batches += 1;
            }
            Ok(())
        })
        .expect("pipeline");
        (seen, batches)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Model: the output is the input, in input order, whatever the number of workers and however unequal
        /// the batches (a large batch finishes after the small ones emitted behind it, which the reorder ring
        /// must hold back; a ring slot overwritten would lose or repeat a batch here).
        #[test]
        fn output_is_the_input_in_order(
            sizes in proptest::collection::vec(prop_oneof![0usize..4, 300usize..1200], 1..40),
            workers in 1usize..5,
        ) {
            let expected: Vec<u8> = sizes
                .iter()
                .enumerate()
                .flat_map(|(b, &n)| (0..n).flat_map(move |i| line(b, i).into_bytes()))
                .collect();
            let (seen, batches) = run_batches(sizes.clone(), workers);
            prop_assert_eq!(batches, sizes.len());
            prop_assert!(seen == expected, "output out of order or incomplete");
        }
    }

    #[test]
    fn a_consumer_error_stops_the_reader_and_is_returned() {
        let (processor, cfg) = pass_through(2);
        // Far more batches than can be in flight: the reader must stop rather than block forever.
        let mut calls = 0;
        let err = run(Batches(vec![10; 10_000]), &cfg, processor, |_| {
            calls += 1;
            if calls == 3 {
                Err(io::Error::other("sink failed"))
            } else {
                Ok(())
            }
        })
        .expect_err("the consumer's error");
        assert_eq!(err.to_string(), "sink failed");
        assert_eq!(calls, 3);
    }
}
