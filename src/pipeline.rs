//! Running the pipeline over a list of inputs on all cores, with output in input order.
//!
//! One reader thread opens inputs in order, reads blocks of whole lines and frames them; `workers` threads run
//! the [`Processor`] on batches; the calling thread receives results in exactly the order the batches were
//! read (batch `i` goes to worker `i mod n`, and results are taken back in the same rotation) and hands them to
//! the consumer (sinks, summary, progress). Channels are bounded, so memory stays bounded whatever the input
//! size: at most `2 × workers + 2` batches exist at once, and their buffers are reused.

use crate::frame::{Format, Framer, LineBatch};
use crate::process::Processor;
use crate::source::input::{open, BlockReader, InputSpec};
use crate::stats::{BatchStats, InputProblem, ProblemKind};
use crossbeam_channel::{bounded, Receiver, Sender};
use std::io;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::thread;

/// How to read and frame inputs.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Input framing.
    pub format: Format,
    /// Longest logical line accepted.
    pub max_line_bytes: usize,
    /// Read block size.
    pub block_size: usize,
    /// Worker threads.
    pub workers: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            format: Format::Auto,
            max_line_bytes: 1 << 20,
            block_size: 1 << 20,
            workers: thread::available_parallelism().map_or(1, |n| n.get()),
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

struct Job {
    batch: LineBatch,
    out: Vec<u8>,
    /// Raw framing left to the worker: the batch holds this many unframed bytes.
    unframed: Option<usize>,
}

struct Done {
    batch: LineBatch,
    out: Vec<u8>,
    stats: BatchStats,
}

/// Runs `processor` over `inputs`; `consume` receives each batch's output and counters, in input order.
/// `raw_bytes` counts bytes consumed from the inputs (for progress).
pub fn run<F>(
    inputs: &[InputSpec],
    cfg: &PipelineConfig,
    processor: Arc<Processor>,
    raw_bytes: Arc<AtomicU64>,
    mut consume: F,
) -> io::Result<RunOutcome>
where
    F: FnMut(&[u8], &BatchStats) -> io::Result<()>,
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
        handles.push(thread::spawn(move || worker(p, jrx, dtx)));
        job_txs.push(jtx);
        done_rxs.push(drx);
    }
    let reader = {
        let inputs = inputs.to_vec();
        let cfg = cfg.clone();
        thread::spawn(move || read_all(&inputs, &cfg, job_txs, pool_rx, raw_bytes))
    };

    let mut outcome = RunOutcome::default();
    let mut consume_err = None;
    let mut i = 0usize;
    // The channel closes when the reader has finished and the workers have drained.
    while let Ok(done) = done_rxs[i % workers].recv() {
        i += 1;
        outcome.stats.merge(&done.stats);
        if let Err(e) = consume(&done.out, &done.stats) {
            consume_err = Some(e);
            break;
        }
        let mut out = done.out;
        out.clear();
        let _ = pool_tx.try_send((done.batch, out));
    }
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

fn worker(p: Arc<Processor>, jobs: Receiver<Job>, done: Sender<Done>) {
    for mut job in jobs {
        if let Some(n) = job.unframed {
            Framer::new(Format::Raw).frame_block(&mut job.batch, n);
        }
        let mut stats = BatchStats::default();
        p.process(&job.batch, &mut job.out, &mut stats);
        if done
            .send(Done {
                batch: job.batch,
                out: job.out,
                stats,
            })
            .is_err()
        {
            return;
        }
    }
}

fn read_all(
    inputs: &[InputSpec],
    cfg: &PipelineConfig,
    job_txs: Vec<Sender<Job>>,
    pool: Receiver<(LineBatch, Vec<u8>)>,
    raw_bytes: Arc<AtomicU64>,
) -> Vec<InputProblem> {
    let workers = job_txs.len();
    let mut seq = 0usize;
    let mut problems = Vec::new();
    let take = |pool: &Receiver<(LineBatch, Vec<u8>)>| match pool.try_recv() {
        Ok((mut b, o)) => {
            b.max_line_bytes = cfg.max_line_bytes;
            (b, o)
        }
        Err(_) => (
            LineBatch::new(cfg.max_line_bytes),
            Vec::with_capacity(cfg.block_size),
        ),
    };
    // A physical line may carry escaping (docker, Fluent Bit) around a logical line of the maximum size.
    let max_physical = cfg
        .max_line_bytes
        .saturating_mul(2)
        .saturating_add(64 * 1024);
    for spec in inputs {
        let opened = match open(spec, Arc::clone(&raw_bytes)) {
            Ok(o) => o,
            Err(e) => {
                let p = InputProblem {
                    input: spec.name(),
                    kind: ProblemKind::CannotOpen,
                    message: format!("cannot open: {e}"),
                };
                tracing::error!(input = %p.input, "{}", p.message);
                problems.push(p);
                continue;
            }
        };
        let gzip = opened.gzip;
        let mut reader = BlockReader::new(opened, cfg.block_size, max_physical);
        let mut framer = Framer::new(cfg.format);
        loop {
            let (mut batch, out) = take(&pool);
            let Some(n) = reader.next_block(&mut batch) else {
                framer.finish(&mut batch);
                if !batch.is_empty() || batch.counts != Default::default() {
                    let job = Job {
                        batch,
                        out,
                        unframed: None,
                    };
                    if job_txs[seq % workers].send(job).is_err() {
                        return problems;
                    }
                    seq += 1;
                }
                break;
            };
            framer.resolve(&batch.buf[..n]);
            // Stateless (raw) framing is left to the workers, so it runs on all cores.
            let unframed = if framer.is_stateless() {
                Some(n)
            } else {
                framer.frame_block(&mut batch, n);
                None
            };
            if job_txs[seq % workers]
                .send(Job {
                    batch,
                    out,
                    unframed,
                })
                .is_err()
            {
                return problems;
            }
            seq += 1;
        }
        if let Some(e) = reader.error.take() {
            let what = if gzip {
                "gzip stream ends early or is corrupt"
            } else {
                "read error"
            };
            let p = InputProblem {
                input: spec.name(),
                kind: ProblemKind::EndedEarly,
                message: format!("{what} ({e}); records before it were processed"),
            };
            tracing::warn!(input = %p.input, "{}", p.message);
            problems.push(p);
        }
    }
    problems
}
