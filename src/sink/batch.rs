//! Batch sinks: destinations the daemon's delivery loops ([`crate::deliver`]) hand whole spooled batches to, one
//! [`BatchSink`] per configured sink, each fed every segment in order. See ARCHITECTURE.md ("sink").
//!
//! A delivery either succeeds (the segment is marked done for that sink), fails permanently (the batch goes to
//! the dead-letter directory with the error, is logged once and counted, and is marked done so it never blocks
//! the queue), or fails transiently (retried with jittered exponential backoff until it succeeds or the daemon
//! stops; the batch stays spooled).

use super::Sink;
use std::io;

/// Why a delivery did not succeed.
#[derive(Debug)]
pub enum DeliveryError {
    /// Retrying cannot help (e.g. a mapping error); dead-letter the batch.
    Permanent(String),
    /// Retry later.
    Transient(String),
    /// The daemon is stopping; the batch stays spooled.
    Cancelled,
}

/// A destination for whole batches.
pub trait BatchSink: Send {
    /// The sink's stable name (spool markers, metrics, logs).
    fn name(&self) -> &str;
    /// Delivers one batch of NDJSON records; `batch_id` is stable for the batch's content.
    fn deliver(
        &mut self,
        payload: &[u8],
        records: u64,
        batch_id: &str,
    ) -> Result<(), DeliveryError>;
}

/// A local [`Sink`] (file, stdout) delivering batches durably.
pub struct LocalBatchSink {
    name: String,
    sink: Box<dyn Sink>,
}

impl LocalBatchSink {
    /// Wraps a local sink.
    pub fn new(sink: Box<dyn Sink>) -> Self {
        LocalBatchSink {
            name: sink.name().to_owned(),
            sink,
        }
    }
}

impl BatchSink for LocalBatchSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver(
        &mut self,
        payload: &[u8],
        _records: u64,
        _batch_id: &str,
    ) -> Result<(), DeliveryError> {
        let r: io::Result<()> = self.sink.write(payload).and_then(|()| self.sink.sync());
        r.map_err(|e| DeliveryError::Transient(format!("{}: {e}", self.name)))
    }
}
