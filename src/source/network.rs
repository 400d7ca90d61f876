//! The hand-off from network inputs (Forward, HTTP) to the daemon's ingest loop.
//!
//! A server turns each accepted message into one [`NetworkBatch`]: newline-terminated lines plus a one-shot
//! acknowledgement handle. Batches travel through a bounded channel; when the ingest loop stops receiving
//! (spool full), the channel fills and Forward connections stop reading their sockets (TCP backpressure), while
//! the HTTP input answers 503 with `Retry-After`.
//!
//! [`NetworkSource`] is the pipeline's source over that channel: each batch becomes one block of the
//! [`Stream::Records`] stream carrying an [`Ack::Notify`]. Guarantee (kept by the consumer, see
//! `daemon::ingest`): `ack` is sent `true` only after a spool append that contains every record of the batch
//! has returned; a batch whose `ack` is dropped or sent `false` was not acknowledged, and the client must send
//! it again.

use super::{Ack, BlockSink, Source, Stream};
use crate::stats::InputProblem;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// The lines of one accepted message and its acknowledgement handle.
#[derive(Debug)]
pub struct NetworkBatch {
    /// Logical lines, each terminated by `\n`.
    pub lines: Vec<u8>,
    /// Records the lines came from.
    pub records: u64,
    /// Sent `true` once every record is durable (in the spool, or in a local file sink that took it directly).
    pub ack: oneshot::Sender<bool>,
}

/// The servers' end of the channel.
#[derive(Clone, Debug)]
pub struct BatchSender {
    tx: mpsc::Sender<NetworkBatch>,
    paused: Arc<AtomicBool>,
}

/// The ingest loop's end of the channel.
#[derive(Debug)]
pub struct BatchReceiver {
    rx: mpsc::Receiver<NetworkBatch>,
    paused: Arc<AtomicBool>,
}

/// A bounded channel of `capacity` batches.
pub fn batch_channel(capacity: usize) -> (BatchSender, BatchReceiver) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let paused = Arc::new(AtomicBool::new(false));
    (
        BatchSender {
            tx,
            paused: Arc::clone(&paused),
        },
        BatchReceiver { rx, paused },
    )
}

/// Why a batch was not handed over.
#[derive(Debug, PartialEq, Eq)]
pub enum SendError {
    /// The ingest loop is not receiving (spool full) or the channel is full.
    Busy,
    /// The ingest loop has stopped.
    Closed,
}

impl BatchSender {
    /// Hands a batch over, waiting while the channel is full (backpressure).
    pub async fn send(&self, batch: NetworkBatch) -> Result<(), SendError> {
        self.tx.send(batch).await.map_err(|_| SendError::Closed)
    }

    /// Hands a batch over only if that can happen now and the ingest loop is not paused.
    pub fn try_send(&self, batch: NetworkBatch) -> Result<(), SendError> {
        if self.paused.load(Ordering::Relaxed) {
            return Err(SendError::Busy);
        }
        self.tx.try_send(batch).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => SendError::Busy,
            mpsc::error::TrySendError::Closed(_) => SendError::Closed,
        })
    }

    /// Whether the ingest loop has said it is not receiving (spool full).
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }
}

/// What [`BatchReceiver::recv_timeout`] got.
#[derive(Debug)]
pub enum Received {
    /// A batch.
    Batch(NetworkBatch),
    /// Nothing within the timeout.
    Timeout,
    /// Every sender is gone.
    Closed,
}

impl BatchReceiver {
    /// The flag that says receiving is paused (spool full); HTTP clients are then answered 503 at once. The
    /// consumer that waits for spool room sets it.
    pub fn pause_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.paused)
    }

    /// A batch if one is ready now.
    pub fn try_recv(&mut self) -> Option<NetworkBatch> {
        self.rx.try_recv().ok()
    }

    /// Waits up to `timeout` for a batch. Called from a plain thread; `rt` drives the timer.
    pub fn recv_timeout(&mut self, rt: &tokio::runtime::Handle, timeout: Duration) -> Received {
        if let Some(b) = self.try_recv() {
            return Received::Batch(b);
        }
        let rx = &mut self.rx;
        match rt.block_on(async { tokio::time::timeout(timeout, rx.recv()).await }) {
            Ok(Some(b)) => Received::Batch(b),
            Ok(None) => Received::Closed,
            Err(_) => Received::Timeout,
        }
    }
}

/// Settings shared by the network inputs.
#[derive(Debug, Clone)]
pub struct NetworkLimits {
    /// Largest message (Forward message or HTTP body, as received).
    pub max_message_bytes: usize,
    /// Largest decompressed payload of one message.
    pub max_decompressed_bytes: usize,
    /// Most connections open at once, per listener.
    pub max_connections: usize,
}

/// The network inputs as a pipeline source: batches until every listener is gone or `stop` is set.
pub struct NetworkSource {
    rx: BatchReceiver,
    runtime: tokio::runtime::Handle,
    stop: Arc<AtomicBool>,
}

impl NetworkSource {
    /// A source receiving from `rx` (the listeners run on `runtime`) until `stop` is set.
    pub fn new(rx: BatchReceiver, runtime: tokio::runtime::Handle, stop: Arc<AtomicBool>) -> Self {
        NetworkSource { rx, runtime, stop }
    }

    /// The flag the consumer sets while the spool is full (see [`BatchReceiver::pause_flag`]).
    pub fn pause_flag(&self) -> Arc<AtomicBool> {
        self.rx.pause_flag()
    }
}

impl Source for NetworkSource {
    fn run(&mut self, emit: &mut dyn BlockSink) -> Vec<InputProblem> {
        while !self.stop.load(Ordering::Relaxed) {
            match self
                .rx
                .recv_timeout(&self.runtime, Duration::from_millis(100))
            {
                Received::Batch(b) => {
                    let mut batch = emit.batch();
                    batch.buf.extend_from_slice(&b.lines);
                    let n = batch.buf.len();
                    if !emit.emit(
                        Stream::Records,
                        batch,
                        n,
                        Some(Ack::Notify(b.ack)),
                        None,
                        n as u64,
                    ) {
                        break;
                    }
                }
                Received::Timeout => {}
                Received::Closed => break,
            }
        }
        Vec::new()
    }
}
