//! The `stdout` sink: records to standard output, flushed per batch.

use super::Sink;
use std::io::{self, Write};

/// Writes records to standard output.
pub struct StdoutSink {
    out: io::BufWriter<io::Stdout>,
}

impl StdoutSink {
    /// A sink on this process's stdout.
    pub fn new() -> Self {
        StdoutSink {
            out: io::BufWriter::with_capacity(256 * 1024, io::stdout()),
        }
    }
}

impl Default for StdoutSink {
    fn default() -> Self {
        Self::new()
    }
}

impl Sink for StdoutSink {
    fn name(&self) -> &str {
        "stdout"
    }
    fn write(&mut self, records: &[u8]) -> io::Result<()> {
        self.out.write_all(records)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
