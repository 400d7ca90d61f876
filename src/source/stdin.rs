//! The daemon's stdin (`run --input -`): blocks are read on a thread of their own, handed out as soon as a read
//! brings a complete line, and the source stops at end of input or when `stop` is set, even while that thread is
//! blocked in a read (so a stop signal never waits for a pipe that stays open).

use super::input::{open, BlockReader, InputSpec};
use super::{BlockSink, Source, Stream};
use crate::frame::LineBatch;
use crate::stats::InputProblem;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Stdin, until its end or a stop.
pub struct StdinSource {
    blocks: Receiver<(LineBatch, usize)>,
    /// Emptied batches from the pipeline's pool, handed back to the reading thread to fill: reading into fresh
    /// memory faulted in and zeroed a new block for every read.
    spare: Sender<LineBatch>,
    stop: Arc<AtomicBool>,
}

/// Batches waiting for the reading thread (with the 4 filled ones queued, enough to keep it reading).
const SPARE_BATCHES: usize = 2;

impl StdinSource {
    /// Starts the reading thread. Opening (gzip detection) happens on it, so nothing waits for the first byte.
    pub fn spawn(max_line_bytes: usize, stop: Arc<AtomicBool>) -> io::Result<Self> {
        let (tx, rx) = crossbeam_channel::bounded::<(LineBatch, usize)>(4);
        let (spare_tx, spare_rx) = crossbeam_channel::bounded::<LineBatch>(SPARE_BATCHES);
        std::thread::Builder::new()
            .name("stdin-reader".into())
            .spawn(move || {
                let opened = match open(&InputSpec::Stdin, Arc::new(AtomicU64::new(0))) {
                    Ok(o) => o,
                    Err(e) => {
                        tracing::error!("reading stdin failed: {e}");
                        return;
                    }
                };
                let max_physical = max_line_bytes.saturating_mul(2).saturating_add(64 * 1024);
                let mut reader = BlockReader::new(opened, 256 * 1024, max_physical).eager();
                loop {
                    let mut batch = spare_rx
                        .try_recv()
                        .unwrap_or_else(|_| LineBatch::new(max_line_bytes));
                    match reader.next_block(&mut batch) {
                        Some(n) => {
                            if tx.send((batch, n)).is_err() {
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
        Ok(StdinSource {
            blocks: rx,
            spare: spare_tx,
            stop,
        })
    }
}

impl Source for StdinSource {
    fn run(&mut self, emit: &mut dyn BlockSink) -> Vec<InputProblem> {
        let stream = Stream::Input(0);
        while !self.stop.load(Ordering::Relaxed) {
            if self.spare.is_empty() {
                // A batch from the pool (buffers the consumer is done with), or a new one when none is back.
                let _ = self.spare.try_send(emit.batch());
            }
            match self.blocks.recv_timeout(Duration::from_millis(100)) {
                Ok((batch, n)) => {
                    if !emit.emit(stream, batch, n, None, None, n as u64) {
                        break;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    emit.end_stream(stream, None);
                    break;
                }
            }
        }
        Vec::new()
    }
}
