//! The one parallel, order-keeping pipeline: every source (files and stdin for `replay`/`filter`, followed files
//! and stdin for the daemon) feeds it, and every command consumes its output the same way.
//!
//! One reader thread runs the [`Source`], frames what it emits (one [`Framer`] per stream, so a file's partial
//! CRI line or docker entry is joined across blocks) and hands batches to `workers` threads that run the current
//! [`Processor`] (loaded per batch, so a reload takes effect at the next batch). The calling thread receives the
//! results in exactly the order the batches were emitted (batch `i` goes to worker `i mod n`, and results are
//! taken back in the same rotation) and hands them, with their acknowledgement, to the consumer. Channels are
//! bounded, so memory stays bounded whatever the input size (at most `2 × workers + 2` batches exist at once, and
//! their buffers are reused), and a consumer that stops taking results (a full spool) stops the reader: that is
//! the daemon's backpressure. With a tick, the consumer is also called when no result arrived for that long (the
//! daemon's flush interval). See ARCHITECTURE.md ("pipeline").

use crate::frame::{Format, Framer, LineBatch};
use crate::process::Processor;
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
    /// The encoded records (or passed-through lines).
    pub out: &'a [u8],
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
    batch: LineBatch,
    out: Vec<u8>,
    /// Raw framing left to the worker: the batch holds this many unframed bytes.
    unframed: Option<usize>,
    ack: Option<Ack>,
    origin: Option<Arc<str>>,
    input_bytes: u64,
}

struct Done {
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
    job_txs: Vec<Sender<Job>>,
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
        if let Some(out) = self.spare_outs.pop() {
            job.out = out;
        }
        let i = self.seq % self.job_txs.len();
        self.seq += 1;
        self.job_txs[i].send(job).is_ok()
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
    let (pool_tx, pool_rx) = bounded::<(LineBatch, Vec<u8>)>(2 * workers + 2);
    let mut job_txs = Vec::with_capacity(workers);
    let mut done_rxs = Vec::with_capacity(workers);
    let mut handles = Vec::with_capacity(workers);
    for _ in 0..workers {
        let (jtx, jrx) = bounded::<Job>(1);
        let (dtx, drx) = bounded::<Done>(1);
        let p = Arc::clone(&processor);
        handles.push(
            thread::Builder::new()
                .name("worker".into())
                .spawn(move || worker(&p, jrx, dtx))?,
        );
        job_txs.push(jtx);
        done_rxs.push(drx);
    }
    let mut emitter = Emitter {
        job_txs,
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
    let mut i = 0usize;
    loop {
        let rx = &done_rxs[i % workers];
        let done = match cfg.tick {
            None => match rx.recv() {
                Ok(d) => d,
                Err(_) => break,
            },
            Some(t) => match rx.recv_timeout(t) {
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
        i += 1;
        outcome.stats.merge(&done.stats);
        let event = Event::Batch(Output {
            out: &done.out,
            stats: &done.stats,
            ack: done.ack,
            origin: done.origin.as_ref(),
            input_bytes: done.input_bytes,
        });
        if let Err(e) = consume(event) {
            consume_err = Some(e);
            break;
        }
        let mut out = done.out;
        out.clear();
        let _ = pool_tx.try_send((done.batch, out));
    }
    // Closing the result channels stops the workers, which closes the job channels and stops the reader.
    drop(done_rxs);
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

fn worker(p: &ArcSwap<Processor>, jobs: Receiver<Job>, done: Sender<Done>) {
    for mut job in jobs {
        if let Some(n) = job.unframed {
            Framer::new(Format::Raw).frame_block(&mut job.batch, n);
        }
        let mut stats = BatchStats::default();
        p.load().process(&job.batch, &mut job.out, &mut stats);
        if done
            .send(Done {
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
