//! Where bytes come from. A [`Source`] reads its input in blocks of whole lines and hands them to a
//! [`BlockSink`] (the pipeline's emitter), tagged with the [`Stream`] they belong to (framing state is kept per stream) and,
//! where the source can resume, the [`Ack`] that says how far the input is consumed once the batch's output is
//! durable. Sources: [`files`] (files, gzip, stdin, read to their end: `replay`, `filter`), [`tail`] (followed
//! files: the daemon), [`stdin`] (the daemon's stdin, which never blocks a shutdown). [`input`] opens and reads
//! blocks. See ARCHITECTURE.md ("source", and how to add an input).

pub mod files;
pub mod forward;
pub mod http_input;
pub mod input;
pub mod network;
pub mod stdin;
pub mod tail;
pub mod tls;

use crate::frame::LineBatch;
use crate::stats::InputProblem;
use hubble_tail::FileId;
use std::sync::Arc;

/// Which framing state a block belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// The `n`-th input of a list (or stdin).
    Input(usize),
    /// A followed file, by content id.
    File(FileId),
    /// Logical lines already (records received from the network): framed as raw lines whatever `--format`.
    Records,
}

/// How far an input is consumed, to acknowledge once the output of everything before it is durable.
#[derive(Debug)]
pub enum Ack {
    /// A followed file is consumed up to `offset` (acknowledged to its checkpoint).
    FileOffset {
        /// The file.
        file: FileId,
        /// The offset after the last line of the batch.
        offset: u64,
    },
    /// A network peer waits for this batch: sent `true` once its records are durable (a Forward `ack`, an
    /// HTTP 2xx); dropped unsent, the peer sends the batch again.
    Notify(tokio::sync::oneshot::Sender<bool>),
}

/// Where a source hands its blocks (implemented by the pipeline, which frames and processes them).
pub trait BlockSink {
    /// An empty batch to fill with raw bytes (reusing returned buffers where possible).
    fn batch(&mut self) -> LineBatch;
    /// Longest logical line accepted.
    fn max_line_bytes(&self) -> usize;
    /// Hands over the first `len` raw bytes of `batch` (whole physical lines) as part of `stream`, with what
    /// to acknowledge once their output is durable, the input's name for metrics and the raw bytes read.
    /// Returns false when the pipeline has closed: the source should stop.
    fn emit(
        &mut self,
        stream: Stream,
        batch: LineBatch,
        len: usize,
        ack: Option<Ack>,
        origin: Option<&Arc<str>>,
        input_bytes: u64,
    ) -> bool;
    /// Ends `stream` (a partial line it holds is processed as the last line). False when the pipeline closed.
    fn end_stream(&mut self, stream: Stream, origin: Option<&Arc<str>>) -> bool;
    /// Forgets the framing state of streams for which `live` is false (files that are gone).
    fn retain_streams(&mut self, live: &dyn Fn(&Stream) -> bool);
}

/// A producer of blocks of whole lines.
pub trait Source: Send {
    /// Reads until the input ends (or the source is told to stop), handing blocks to `emit`; stops early when
    /// `emit` reports the pipeline closed. Returns the problems it met (inputs that could not be opened or
    /// ended early), which are also logged.
    fn run(&mut self, emit: &mut dyn BlockSink) -> Vec<InputProblem>;
}
