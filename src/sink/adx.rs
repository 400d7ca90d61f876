//! The ADX sinks over the `hubble-adx` client: [`AdxRecordSink`] for `replay` and [`AdxBatchSink`] for the
//! daemon's delivery loops, and [`RetryCounter`], the observer that turns the client's retries into
//! `sink_retries{sink="adx",reason}` (daemon) or the replay summary's retry counts.
//!
//! For `replay`, records are batched (4 MiB of NDJSON per batch) and up to `concurrency` batches are in flight
//! at once while replay goes on reading, so compression and network round trips overlap with parsing. Memory is
//! bounded by batch size × concurrency, whatever the input size. The client splits a batch into requests and
//! says which requests' records were accepted, rejected or not delivered within `--adx-max-retry-duration`:
//! only the rejected and the undelivered records are written to the dead-letter directory (one dead letter per
//! request, with ADX's error code and message, the request id and the re-send command), so re-sending a dead
//! letter never duplicates an ingested record. Every record the sink was given is counted as delivered,
//! dead-lettered or not delivered ([`SinkDelivery`]); `flush` waits for every batch in flight.

use super::batch::{BatchSink, Delivery, Pending, Rejected};
use super::dead_letter::{self, DeadLetterInfo, DeadLetterKind};
use super::{Sink, SinkDelivery};
use crate::telemetry::metrics::Metrics;
use hubble_adx::{
    AdxClient, AdxConfig, AuthConfig, Batch, ClientSecretSource, FailedPiece, IngestError,
    IngestMode, IngestObserver, IngestOutcome, RetryEvent,
};
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

/// Counts the client's retries by reason, and reports them to the metrics when given.
#[derive(Default)]
pub struct RetryCounter {
    counts: Mutex<BTreeMap<&'static str, u64>>,
    metrics: Option<Arc<Metrics>>,
}

impl RetryCounter {
    /// A counter that also increments `sink_retries{sink="adx",reason}`.
    pub fn with_metrics(metrics: Arc<Metrics>) -> Self {
        for reason in hubble_adx::RetryReason::ALL {
            metrics
                .sink_retries
                .get_or_create(&Metrics::labels2("sink", "adx", "reason", reason.as_str()))
                .inc_by(0);
        }
        RetryCounter {
            counts: Mutex::default(),
            metrics: Some(metrics),
        }
    }

    /// Retries so far, by reason.
    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

impl IngestObserver for RetryCounter {
    fn on_retry(&self, event: &RetryEvent) {
        if let Ok(mut c) = self.counts.lock() {
            *c.entry(event.reason.as_str()).or_insert(0) += 1;
        }
        if let Some(m) = &self.metrics {
            m.sink_retry("adx", event.reason.as_str());
        }
    }
}

/// The options of the command that re-sends a dead letter to the same table (no secrets: they come from the
/// environment or a file, as for the original run).
pub fn resend_args(cfg: &AdxConfig) -> String {
    let q = |s: &str| dead_letter::shell_quote(s);
    let mut a = format!(
        "--sink adx --adx-cluster {} --adx-database {} --adx-table {} --adx-mapping {}",
        q(cfg.cluster.as_str().trim_end_matches('/')),
        q(&cfg.database),
        q(&cfg.table),
        q(&cfg.mapping)
    );
    match cfg.mode {
        IngestMode::Streaming => {}
        IngestMode::Queued => a.push_str(" --adx-mode queued"),
        IngestMode::Managed => a.push_str(" --adx-mode managed"),
    }
    if let Some(e) = &cfg.ingest_endpoint {
        a.push_str(&format!(" --adx-ingest-endpoint {}", q(e.as_str())));
    }
    match &cfg.auth {
        AuthConfig::WorkloadIdentity { .. } => {}
        AuthConfig::ManagedIdentity { client_id, .. } => {
            a.push_str(" --adx-auth managed-identity");
            if let Some(id) = client_id {
                a.push_str(&format!(" --adx-client-id {}", q(id)));
            }
        }
        AuthConfig::ClientSecret { secret, .. } => {
            a.push_str(" --adx-auth client-secret");
            if let ClientSecretSource::File(p) = secret {
                a.push_str(&format!(
                    " --adx-client-secret-file {}",
                    q(&p.display().to_string())
                ));
            }
        }
        _ => {}
    }
    a
}

/// The dead-letter description of a failed piece.
fn dead_letter_info(
    piece: &FailedPiece,
    kind: DeadLetterKind,
    resend_args: &str,
) -> DeadLetterInfo {
    let (status, code, message, activity_id) = match &piece.error {
        IngestError::Permanent {
            status,
            code,
            message,
            activity_id,
        } => (*status, code.clone(), message.clone(), activity_id.clone()),
        IngestError::RetriesExhausted { attempts, last } => (
            None,
            "NotDelivered".to_owned(),
            format!("gave up after {attempts} attempts within --adx-max-retry-duration: {last}"),
            None,
        ),
        IngestError::Cancelled => (
            None,
            "Cancelled".to_owned(),
            "delivery was cancelled by shutdown".to_owned(),
            None,
        ),
    };
    DeadLetterInfo {
        kind,
        status,
        code,
        message,
        activity_id,
        client_request_id: piece.client_request_id.clone(),
        at: piece.at,
        records: piece.records as u64,
        resend_args: resend_args.to_owned(),
    }
}

type InFlight = JoinHandle<IngestOutcome>;

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
    resend_args: String,
    seq: u64,
    retries: Arc<RetryCounter>,
    delivery: SinkDelivery,
}

impl AdxRecordSink {
    /// A batching sink over `client`, whose requests run on `runtime`; `retries` is the client's observer.
    pub fn new(
        client: Arc<AdxClient>,
        runtime: tokio::runtime::Handle,
        max_bytes: usize,
        dead_letter_dir: PathBuf,
        retries: Arc<RetryCounter>,
    ) -> Self {
        let resend_args = resend_args(client.config());
        AdxRecordSink {
            concurrency: client.config().concurrency.max(1),
            client,
            runtime,
            buf: Vec::with_capacity(max_bytes + (1 << 20)),
            records: 0,
            max_bytes,
            in_flight: VecDeque::new(),
            delivery: SinkDelivery {
                dead_letter_dir: Some(dead_letter_dir.clone()),
                ..SinkDelivery::default()
            },
            dead_letter_dir,
            resend_args,
            seq: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            retries,
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
        self.in_flight.push_back(
            self.runtime
                .spawn(async move { client.ingest_outcome(&batch).await }),
        );
        Ok(())
    }

    fn finish_oldest(&mut self) -> io::Result<()> {
        let Some(h) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let outcome = self
            .runtime
            .block_on(h)
            .map_err(|e| io::Error::other(format!("adx delivery task failed: {e}")))?;
        self.delivery.delivered += outcome.accepted_records as u64;
        self.seq += 1;
        let failed = outcome
            .rejected
            .iter()
            .map(|p| (p, DeadLetterKind::Rejected))
            .chain(
                outcome
                    .undelivered
                    .iter()
                    .map(|p| (p, DeadLetterKind::NotDelivered)),
            );
        for (piece_no, (piece, kind)) in failed.enumerate() {
            let info = dead_letter_info(piece, kind, &self.resend_args);
            let path = dead_letter::write(
                &self.dead_letter_dir,
                self.seq,
                piece_no,
                "adx",
                &piece.data,
                &info,
            )
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "{} records {} and the dead letter cannot be written in {}: {e}",
                        piece.records,
                        kind.as_str(),
                        self.dead_letter_dir.display()
                    ),
                )
            })?;
            match kind {
                DeadLetterKind::Rejected => self.delivery.dead_lettered += piece.records as u64,
                DeadLetterKind::NotDelivered => self.delivery.not_delivered += piece.records as u64,
            }
            tracing::error!(
                records = piece.records, dead_letter = %path.display(),
                resend = %dead_letter::resend_command(&path, &self.resend_args),
                "ADX did not take these records; they are in the dead letter (fix the cause, then re-send it): {}",
                info.summary()
            );
            self.delivery.dead_letters.push(path);
        }
        Ok(())
    }
}

impl Sink for AdxRecordSink {
    fn name(&self) -> &str {
        "adx"
    }

    fn write(&mut self, records: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(records);
        let n = memchr::memchr_iter(b'\n', records).count();
        self.records += n;
        self.delivery.records += n as u64;
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
        self.delivery.dead_lettered + self.delivery.not_delivered
    }

    fn delivery(&self) -> Option<SinkDelivery> {
        let mut d = self.delivery.clone();
        d.retries = self.retries.counts();
        Some(d)
    }
}

/// The ADX sink: the hubble-adx client driven from a delivery thread.
pub struct AdxBatchSink {
    client: Arc<AdxClient>,
    runtime: tokio::runtime::Handle,
    metrics: Option<Arc<Metrics>>,
    /// Token requests already added to the metrics (the client's counters are totals).
    token_requests_seen: hubble_adx::TokenRequests,
    resend_args: String,
    /// Queued blobs' records, kept until ADX reports on them (queued and managed modes).
    pending: Option<Arc<super::adx_queued::PendingBlobs>>,
}

impl AdxBatchSink {
    /// A sink on `client`, whose futures run on `runtime`.
    pub fn new(client: Arc<AdxClient>, runtime: tokio::runtime::Handle) -> Self {
        AdxBatchSink {
            resend_args: resend_args(client.config()),
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

/// Concatenates pieces' records (what is left to deliver of a batch).
fn concat(pieces: &[FailedPiece]) -> Vec<u8> {
    let mut out = Vec::with_capacity(pieces.iter().map(|p| p.data.len()).sum());
    for p in pieces {
        out.extend_from_slice(&p.data);
    }
    out
}

impl BatchSink for AdxBatchSink {
    fn name(&self) -> &str {
        "adx"
    }

    fn deliver(&mut self, payload: &[Vec<u8>], records: u64) -> Delivery {
        let payload = payload.concat();
        let id = hubble_adx::batch_id(&payload);
        let batch = Batch::new(payload, usize::try_from(records).unwrap_or(usize::MAX), id);
        let outcome = self.runtime.block_on(self.client.ingest_outcome(&batch));
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
        // See adx_queued: a queued blob counts as accepted only once its records are kept until ADX reports on
        // it; a blob whose copy cannot be written is sent again with the rest (its `ingest-by` tag lets ADX skip
        // the duplicate).
        let mut unkept: Vec<(u64, &[u8])> = Vec::new();
        let mut keep_error = None;
        if let Some(kept) = &self.pending {
            for q in &outcome.receipt.queued {
                if let Err(e) = kept.keep(&q.source_id, &q.data) {
                    keep_error.get_or_insert_with(|| {
                        format!(
                            "cannot keep the records of queued blob {} until ADX reports: {e}",
                            q.source_id
                        )
                    });
                    unkept.push((hubble_adx::count_records(&q.data) as u64, &q.data[..]));
                }
            }
            if let Some(m) = &self.metrics {
                m.adx_queued_pending.set(kept.count() as i64);
            }
        }
        let unkept_records: u64 = unkept.iter().map(|(n, _)| n).sum();
        let unkept_bytes: u64 = unkept.iter().map(|(_, d)| d.len() as u64).sum();
        let accepted_bytes = (batch.data.len() as u64)
            .saturating_sub(
                outcome
                    .rejected
                    .iter()
                    .chain(&outcome.undelivered)
                    .map(|p| p.data.len() as u64)
                    .sum(),
            )
            .saturating_sub(unkept_bytes);
        let rejected = outcome
            .rejected
            .iter()
            .map(|p| Rejected {
                payload: p.data.to_vec(),
                info: dead_letter_info(p, DeadLetterKind::Rejected, &self.resend_args),
            })
            .collect();
        let pending = if !outcome.undelivered.is_empty() {
            let cancelled = outcome
                .undelivered
                .iter()
                .any(|p| p.error == IngestError::Cancelled);
            let first = &outcome.undelivered[0].error;
            let mut payload = concat(&outcome.undelivered);
            for (_, d) in &unkept {
                payload.extend_from_slice(d);
            }
            Some(Pending {
                payload,
                records: outcome.undelivered_records() as u64 + unkept_records,
                message: format!(
                    "{} of {records} records not delivered within --adx-max-retry-duration: {first}",
                    outcome.undelivered_records()
                ),
                reason: "not_delivered",
                cancelled,
            })
        } else {
            keep_error.map(|message| Pending {
                payload: unkept.iter().flat_map(|(_, d)| d.iter().copied()).collect(),
                records: unkept_records,
                message,
                reason: "io",
                cancelled: false,
            })
        };
        Delivery {
            accepted_records: (outcome.accepted_records as u64).saturating_sub(unkept_records),
            accepted_bytes,
            rejected,
            pending,
        }
    }
}
