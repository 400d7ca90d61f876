//! The ADX sinks over the `hubble-adx` client: [`AdxRecordSink`] for `replay` and [`AdxRecordSink`] for the
//! daemon's delivery loops.
//!
//! For `replay`, records are batched (4 MiB of NDJSON per batch) and up to `concurrency` batches
//! are in flight at once while replay goes on reading, so compression and network round trips overlap with
//! parsing. Memory is bounded by batch size × concurrency, whatever the input size. A batch ADX rejects
//! permanently is written to the dead-letter directory (and counted), so one bad batch does not stop a replay
//! and nothing is silently lost; `flush` waits for every batch in flight.

use super::batch::{BatchSink, DeliveryError};
use super::Sink;
use crate::telemetry::metrics::Metrics;
use hubble_adx::{AdxClient, Batch, IngestError};
use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::task::JoinHandle;

type InFlight = JoinHandle<(Result<(), IngestError>, Batch)>;

/// Batches records for ADX and keeps several batches in flight.
pub struct AdxRecordSink {
    client: Arc<AdxClient>,
    runtime: tokio::runtime::Handle,
    buf: Vec<u8>,
    records: usize,
    max_bytes: usize,
    concurrency: usize,
    in_flight: VecDeque<InFlight>,
    dead_letter_dir: PathBuf,
    seq: u64,
    /// Batches moved to the dead-letter directory.
    pub dead_letters: u64,
    /// Records in those batches.
    pub dead_lettered_records: u64,
}

impl AdxRecordSink {
    /// A batching sink over `client`, whose requests run on `runtime`.
    pub fn new(
        client: Arc<AdxClient>,
        runtime: tokio::runtime::Handle,
        max_bytes: usize,
        concurrency: usize,
        dead_letter_dir: PathBuf,
    ) -> Self {
        AdxRecordSink {
            client,
            runtime,
            buf: Vec::with_capacity(max_bytes + (1 << 20)),
            records: 0,
            max_bytes,
            concurrency: concurrency.max(1),
            in_flight: VecDeque::new(),
            dead_letter_dir,
            seq: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            dead_letters: 0,
            dead_lettered_records: 0,
        }
    }

    fn start(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        while self.in_flight.len() >= self.concurrency {
            self.finish_oldest()?;
        }
        let data = std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(self.max_bytes + (1 << 20)),
        );
        let id = hubble_adx::batch_id(&data);
        let batch = Batch::new(data, self.records, id);
        self.records = 0;
        let client = Arc::clone(&self.client);
        self.in_flight.push_back(self.runtime.spawn(async move {
            let r = client.ingest(&batch).await.map(|_| ());
            (r, batch)
        }));
        Ok(())
    }

    fn finish_oldest(&mut self) -> io::Result<()> {
        let Some(h) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let (result, batch) = self
            .runtime
            .block_on(h)
            .map_err(|e| io::Error::other(format!("adx delivery task failed: {e}")))?;
        match result {
            Ok(()) => Ok(()),
            Err(e) if e.is_permanent() => {
                self.seq += 1;
                let msg = e.to_string();
                let path = crate::sink::dead_letter::write(
                    &self.dead_letter_dir,
                    self.seq,
                    "adx",
                    &batch.data,
                    &msg,
                )?;
                self.dead_letters += 1;
                self.dead_lettered_records += batch.records as u64;
                tracing::error!(records = batch.records, dead_letter = %path.display(), "ADX rejected a batch permanently (fix the cause, then replay the dead letter): {msg}");
                Ok(())
            }
            Err(e) => Err(io::Error::other(e.to_string())),
        }
    }
}

impl Sink for AdxRecordSink {
    fn name(&self) -> &str {
        "adx"
    }

    fn write(&mut self, records: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(records);
        self.records += memchr::memchr_iter(b'\n', records).count();
        if self.buf.len() >= self.max_bytes {
            self.start()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.start()?;
        while !self.in_flight.is_empty() {
            self.finish_oldest()?;
        }
        Ok(())
    }

    fn dead_lettered(&self) -> u64 {
        self.dead_lettered_records
    }
}

/// The ADX sink: the hubble-adx client driven from a delivery thread.
pub struct AdxBatchSink {
    client: Arc<AdxClient>,
    runtime: tokio::runtime::Handle,
    metrics: Option<Arc<Metrics>>,
    /// Token requests already added to the metrics (the client's counters are totals).
    token_requests_seen: hubble_adx::TokenRequests,
    /// Queued blobs' records, kept until ADX reports on them (queued and managed modes).
    pending: Option<Arc<super::adx_queued::PendingBlobs>>,
}

impl AdxBatchSink {
    /// A sink on `client`, whose futures run on `runtime`.
    pub fn new(client: Arc<AdxClient>, runtime: tokio::runtime::Handle) -> Self {
        AdxBatchSink {
            client,
            runtime,
            metrics: None,
            token_requests_seen: hubble_adx::TokenRequests::default(),
            pending: None,
        }
    }

    /// Reports token requests into `metrics` (`token_requests{credential,result}`, both series created at 0).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        let credential = self.client.token_requests().credential;
        if credential != "static" {
            metrics.add_token_requests(credential, 0, 0);
        }
        self.metrics = Some(metrics);
        self
    }
}

impl AdxBatchSink {
    /// Keeps each queued blob's records in `pending` before a batch counts as delivered.
    pub fn with_pending(mut self, pending: Arc<super::adx_queued::PendingBlobs>) -> Self {
        self.pending = Some(pending);
        self
    }
}

impl BatchSink for AdxBatchSink {
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
            // The client counts requests since it was built (background refreshes included); the metric is a
            // counter, so add what is new.
            let total = self.client.token_requests();
            let seen = self.token_requests_seen;
            m.add_token_requests(
                total.credential,
                total.ok.saturating_sub(seen.ok),
                total.error.saturating_sub(seen.error),
            );
            self.token_requests_seen = total;
        }
        match result {
            Ok(receipt) => {
                // See adx_queued: the spool segment may be released only once every queued blob's records
                // are kept until ADX reports on them.
                if let Some(pending) = &self.pending {
                    for q in &receipt.queued {
                        pending.keep(&q.source_id, &q.data).map_err(|e| {
                            DeliveryError::Transient(format!(
                                "cannot keep the records of queued blob {} until ADX reports: {e}",
                                q.source_id
                            ))
                        })?;
                    }
                    if let Some(m) = &self.metrics {
                        m.adx_queued_pending.set(pending.count() as i64);
                    }
                }
                Ok(())
            }
            Err(IngestError::Cancelled) => Err(DeliveryError::Cancelled),
            Err(e) if e.is_permanent() => Err(DeliveryError::Permanent(e.to_string())),
            Err(e) => Err(DeliveryError::Transient(e.to_string())),
        }
    }
}
