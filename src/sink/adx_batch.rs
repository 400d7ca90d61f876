//! The ADX sink for `replay`: records are batched (up to `--batch-max-bytes`, default 4 MiB) and each batch is
//! delivered before replay goes on; a batch ADX rejects permanently is written to the dead-letter directory
//! (and counted), so one bad batch does not stop a replay and nothing is silently lost.

use super::deliver::{AdxSegmentSink, DeliveryError, SegmentSink};
use super::Sink;
use std::io;
use std::path::PathBuf;

/// Batches records for ADX.
pub struct AdxBatchSink {
    inner: AdxSegmentSink,
    buf: Vec<u8>,
    records: u64,
    max_bytes: usize,
    dead_letter_dir: PathBuf,
    seq: u64,
    /// Batches moved to the dead-letter directory.
    pub dead_letters: u64,
    _runtime: tokio::runtime::Runtime,
}

impl AdxBatchSink {
    /// A batching sink over `inner`; `runtime` drives the client and is kept alive with the sink.
    pub fn new(
        inner: AdxSegmentSink,
        runtime: tokio::runtime::Runtime,
        max_bytes: usize,
        dead_letter_dir: PathBuf,
    ) -> Self {
        AdxBatchSink {
            inner,
            buf: Vec::with_capacity(max_bytes + (1 << 20)),
            records: 0,
            max_bytes,
            dead_letter_dir,
            seq: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            dead_letters: 0,
            _runtime: runtime,
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let id = hubble_adx::batch_id(&self.buf);
        match self.inner.deliver(&self.buf, self.records, &id) {
            Ok(()) => {}
            Err(DeliveryError::Permanent(msg)) => {
                self.seq += 1;
                let path = crate::daemon::deliver::dead_letter(
                    &self.dead_letter_dir,
                    self.seq,
                    "adx",
                    &self.buf,
                    &msg,
                )?;
                self.dead_letters += 1;
                tracing::error!(records = self.records, dead_letter = %path.display(), "ADX rejected a batch permanently: {msg}");
            }
            Err(DeliveryError::Transient(msg)) => return Err(io::Error::other(msg)),
            Err(DeliveryError::Cancelled) => return Err(io::Error::other("cancelled")),
        }
        self.buf.clear();
        self.records = 0;
        Ok(())
    }
}

impl Sink for AdxBatchSink {
    fn name(&self) -> &str {
        "adx"
    }

    fn write(&mut self, records: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(records);
        self.records += memchr::memchr_iter(b'\n', records).count() as u64;
        if self.buf.len() >= self.max_bytes {
            self.send()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}
