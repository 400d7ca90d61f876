//! Inputs read to their end, in order: files (plain or gzip, detected by content) and stdin. The source of
//! `replay` and `filter`.
//!
//! Guarantees: inputs are read in the given order, each framed on its own; an input that cannot be opened or that
//! ends early (a gzip stream cut short, a read error) is reported as an [`InputProblem`] and the run goes on with
//! what could be read.

use super::input::{open, BlockReader, InputSpec};
use super::{BlockSink, Source, Stream};
use crate::stats::{InputProblem, ProblemKind};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// Files and stdin, read to their end.
pub struct FileSource {
    inputs: Vec<InputSpec>,
    block_size: usize,
    raw_bytes: Arc<AtomicU64>,
}

impl FileSource {
    /// A source over `inputs`, reading blocks of `block_size`; `raw_bytes` counts bytes read (for progress).
    pub fn new(inputs: Vec<InputSpec>, block_size: usize, raw_bytes: Arc<AtomicU64>) -> Self {
        FileSource {
            inputs,
            block_size,
            raw_bytes,
        }
    }
}

impl Source for FileSource {
    fn run(&mut self, emit: &mut dyn BlockSink) -> Vec<InputProblem> {
        let mut problems = Vec::new();
        // A physical line may carry escaping (docker, Fluent Bit) around a logical line of the maximum size.
        let max_physical = emit
            .max_line_bytes()
            .saturating_mul(2)
            .saturating_add(64 * 1024);
        for (index, spec) in self.inputs.iter().enumerate() {
            let stream = Stream::Input(index);
            let opened = match open(spec, Arc::clone(&self.raw_bytes)) {
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
            let mut reader = BlockReader::new(opened, self.block_size, max_physical);
            loop {
                let mut batch = emit.batch();
                let Some(n) = reader.next_block(&mut batch) else {
                    // Oversize lines counted at the very end still reach the counters.
                    let counted = batch.counts != Default::default();
                    if counted && !emit.emit(stream, batch, 0, None, None, 0) {
                        return problems;
                    }
                    if !emit.end_stream(stream, None) {
                        return problems;
                    }
                    break;
                };
                if !emit.emit(stream, batch, n, None, None, n as u64) {
                    return problems;
                }
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
}
