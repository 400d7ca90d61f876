//! Delivering spooled batches: one [`SegmentSink`] per configured sink, each fed every segment in order.
//!
//! A delivery either succeeds (the segment is marked done for that sink), fails permanently (the batch goes to
//! the dead-letter directory with the error, is logged once and counted, and is marked done so it never blocks
//! the queue), or fails transiently (retried with jittered exponential backoff until it succeeds or the daemon
//! stops; the batch stays spooled).

use super::Sink;
use hubble_adx::{AdxClient, Batch, IngestError};
use std::io;
use std::sync::Arc;

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
pub trait SegmentSink: Send {
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
pub struct LocalSegmentSink {
    name: String,
    sink: Box<dyn Sink>,
}

impl LocalSegmentSink {
    /// Wraps a local sink.
    pub fn new(sink: Box<dyn Sink>) -> Self {
        LocalSegmentSink {
            name: sink.name().to_owned(),
            sink,
        }
    }
}

impl SegmentSink for LocalSegmentSink {
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

/// The ADX sink: the hubble-adx client driven from a delivery thread.
pub struct AdxSegmentSink {
    client: Arc<AdxClient>,
    runtime: tokio::runtime::Handle,
    metrics: Option<Arc<crate::telemetry::metrics::Metrics>>,
}

impl AdxSegmentSink {
    /// A sink on `client`, whose futures run on `runtime`.
    pub fn new(client: Arc<AdxClient>, runtime: tokio::runtime::Handle) -> Self {
        AdxSegmentSink {
            client,
            runtime,
            metrics: None,
        }
    }

    /// Reports token exchanges into `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<crate::telemetry::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }
}

impl SegmentSink for AdxSegmentSink {
    fn name(&self) -> &str {
        "adx"
    }

    fn deliver(
        &mut self,
        payload: &[u8],
        records: u64,
        batch_id: &str,
    ) -> Result<(), DeliveryError> {
        let batch = Batch::new(
            payload.to_vec(),
            usize::try_from(records).unwrap_or(usize::MAX),
            batch_id.to_owned(),
        );
        let result = self.runtime.block_on(self.client.ingest(&batch));
        if let Some(m) = &self.metrics {
            m.token_refreshes.set(self.client.token_exchanges() as i64);
        }
        match result {
            Ok(_) => Ok(()),
            Err(IngestError::Cancelled) => Err(DeliveryError::Cancelled),
            Err(e) if e.is_permanent() => Err(DeliveryError::Permanent(e.to_string())),
            Err(e) => Err(DeliveryError::Transient(e.to_string())),
        }
    }
}
