//! [`AdxClient`]: the public entry point. Owns mode dispatch (streaming / queued / managed), the
//! retry loop, 401 handling, 413 splitting, the managed-mode fallback and cool-down, and the
//! concurrency limit. Guarantees:
//! - a transient failure is retried (jittered exponential backoff, `Retry-After` honoured) until it
//!   succeeds, a configured limit is hit, or the shutdown token fires (checked between attempts and
//!   while waiting for a permit; once one piece reports `Cancelled` the batch's other in-flight
//!   requests are dropped — the caller still holds the batch and re-sends it later);
//! - `Ok` means every record of the batch was accepted by ADX (streaming) or queued for ingestion;
//! - at most `concurrency` HTTP requests are in flight across all calls; a batch is compressed one
//!   ≤ `max_request_bytes` piece at a time per permit holder, so memory is bounded by batch size ×
//!   concurrent calls;
//! - a permanent error aborts the batch (pieces already accepted stay ingested: the caller's
//!   dead-letter replay may then duplicate them, removable by `Uuid`).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::auth::TokenProvider;
use crate::backoff::{sleep_or_cancel, Backoff};
use crate::batch::{batch_id, halve, has_records, split_records, Batch};
use crate::config::{AdxConfig, ConfigError, IngestMode};
use crate::error::{Failure, IngestError};
use crate::http::RequestContext;
use crate::queued::{QueuedBlob, QueuedIngestor};
use crate::Secret;

/// What a successful [`AdxClient::ingest`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestReceipt {
    /// Records in the batch.
    pub records: usize,
    /// Pieces accepted by streaming ingestion.
    pub streamed_requests: u32,
    /// Blobs queued (queued mode, or managed fallback).
    pub queued_blobs: u32,
    /// HTTP ingest attempts made (including retries).
    pub attempts: u32,
    /// Retries after transient failures.
    pub retries: u32,
    /// Times a 413 made the client split a piece.
    pub splits: u32,
    /// Uncompressed / compressed bytes sent in successful requests.
    pub bytes_uncompressed: u64,
    pub bytes_compressed: u64,
    /// The blobs queued (queued mode, managed fallback), whose ingestion ADX reports later.
    pub queued: Vec<QueuedSource>,
}

#[derive(Debug, Default)]
struct Stats {
    streamed: AtomicU32,
    queued: AtomicU32,
    attempts: AtomicU32,
    retries: AtomicU32,
    splits: AtomicU32,
    raw: AtomicU64,
    gz: AtomicU64,
    queued_sources: std::sync::Mutex<Vec<QueuedSource>>,
}

/// One blob queued for ingestion: ADX reports its fate later under `source_id`
/// ([`AdxClient::poll_reports`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedSource {
    /// The ingestion message `Id` (ADX's `IngestionSourceId`).
    pub source_id: String,
    /// The blob's records (uncompressed NDJSON), for the caller to keep until ADX reports.
    pub data: Bytes,
}

/// Why the retry loop stopped without success.
#[derive(Debug)]
enum Stop {
    Error(IngestError),
    TooLarge(String),
    Exhausted { attempts: u32, last: String },
}

impl Stop {
    fn into_error(self) -> IngestError {
        match self {
            Stop::Error(e) => e,
            Stop::TooLarge(m) => IngestError::client("PayloadTooLarge", m),
            Stop::Exhausted { attempts, last } => IngestError::RetriesExhausted { attempts, last },
        }
    }
}

/// Async ADX ingestion client. Cheap to clone (shared state).
#[derive(Debug, Clone)]
pub struct AdxClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// What the streaming and queued request modules need (they know nothing of this type).
    ctx: RequestContext,
    tokens: TokenProvider,
    permits: Semaphore,
    queued: Option<QueuedIngestor>,
    shutdown: CancellationToken,
    /// Managed mode: streaming is skipped until this instant.
    streaming_paused_until: std::sync::Mutex<Option<Instant>>,
}

impl std::ops::Deref for Inner {
    type Target = RequestContext;
    fn deref(&self) -> &RequestContext {
        &self.ctx
    }
}

impl AdxClient {
    /// Validates `config` and builds the client. `shutdown` stops retry loops (→ `Cancelled`).
    pub fn new(config: AdxConfig, shutdown: CancellationToken) -> Result<Self, ConfigError> {
        config.validate()?;
        let http = crate::http::build_client(&config)?;
        let queued = match config.mode {
            IngestMode::Streaming => None,
            IngestMode::Queued | IngestMode::Managed => Some(QueuedIngestor::new(&config)?),
        };
        let inner = Inner {
            ctx: RequestContext {
                client_version: crate::http::client_version(&config),
                streaming_url: crate::streaming::streaming_url(
                    &config.cluster,
                    &config.database,
                    &config.table,
                    &config.mapping,
                ),
                http: http.clone(),
                config: config.clone(),
            },
            tokens: TokenProvider::new(
                http,
                config.auth.clone(),
                config.scope.clone(),
                &config.cluster,
                shutdown.clone(),
            ),
            permits: Semaphore::new(config.concurrency),
            queued,
            shutdown,
            streaming_paused_until: std::sync::Mutex::new(None),
        };
        Ok(AdxClient {
            inner: Arc::new(inner),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &AdxConfig {
        &self.inner.config
    }

    /// Successful Azure AD token exchanges so far (the first token and every refresh), for metrics.
    pub fn token_exchanges(&self) -> u64 {
        self.inner.tokens.requests().ok
    }

    /// Azure AD token requests so far, by result, for metrics (`token_requests{credential,result}`).
    pub fn token_requests(&self) -> crate::TokenRequests {
        self.inner.tokens.requests()
    }

    /// ADX's notifications about queued blobs for this client's database and table (at most 32 per
    /// queue per call), read from the failed- and successful-ingestions queues `.get ingestion
    /// resources` lists. Each read hides the message for `visibility`; [`AdxClient::ack_report`]
    /// deletes it, otherwise it reappears (for another reader, e.g. the daemon that queued it).
    pub async fn poll_reports(
        &self,
        visibility: std::time::Duration,
    ) -> Result<Vec<crate::IngestionReport>, IngestError> {
        crate::reports::poll(
            &self.inner.ctx,
            self.queued_ingestor()?,
            &self.inner.tokens,
            visibility,
        )
        .await
    }

    /// Deletes a notification returned by [`AdxClient::poll_reports`] (it was handled).
    pub async fn ack_report(&self, report: &crate::IngestionReport) -> Result<(), IngestError> {
        crate::reports::ack(
            &self.inner.ctx,
            self.queued_ingestor()?,
            &self.inner.tokens,
            report,
        )
        .await
    }

    fn queued_ingestor(&self) -> Result<&QueuedIngestor, IngestError> {
        self.inner.queued.as_ref().ok_or_else(|| {
            IngestError::client(
                "QueuedNotConfigured",
                "queued ingestion is not enabled in streaming mode".to_string(),
            )
        })
    }

    /// Delivers `batch`. Transient failures are retried inside; `Err(Permanent)` means dead-letter.
    pub async fn ingest(&self, batch: &Batch) -> Result<IngestReceipt, IngestError> {
        let stats = Arc::new(Stats::default());
        if has_records(&batch.data) {
            match self.inner.config.mode {
                IngestMode::Queued => {
                    self.inner
                        .clone()
                        .deliver_queued(batch.data.clone(), batch.id.clone(), stats.clone())
                        .await
                        .map_err(Stop::into_error)?;
                }
                IngestMode::Streaming | IngestMode::Managed => {
                    self.deliver_pieces(batch, &stats).await?
                }
            }
        }
        Ok(IngestReceipt {
            records: batch.records,
            streamed_requests: stats.streamed.load(Ordering::Relaxed),
            queued_blobs: stats.queued.load(Ordering::Relaxed),
            attempts: stats.attempts.load(Ordering::Relaxed),
            retries: stats.retries.load(Ordering::Relaxed),
            splits: stats.splits.load(Ordering::Relaxed),
            bytes_uncompressed: stats.raw.load(Ordering::Relaxed),
            bytes_compressed: stats.gz.load(Ordering::Relaxed),
            queued: stats
                .queued_sources
                .lock()
                .map(|mut q| std::mem::take(&mut *q))
                .unwrap_or_default(),
        })
    }

    /// Splits into ≤ `max_request_bytes` pieces and delivers them concurrently (bounded by permits).
    async fn deliver_pieces(&self, batch: &Batch, stats: &Arc<Stats>) -> Result<(), IngestError> {
        let pieces = split_records(&batch.data, self.inner.config.max_request_bytes);
        let whole = pieces.len() == 1;
        let mut tasks = JoinSet::new();
        for piece in pieces {
            let inner = self.inner.clone();
            let stats = stats.clone();
            let dedup_id = if whole {
                batch.id.clone()
            } else {
                batch_id(&piece.data)
            };
            tasks.spawn(async move {
                match (inner.config.mode, piece.oversize) {
                    (IngestMode::Managed, true) => {
                        inner.deliver_queued(piece.data, dedup_id, stats).await
                    }
                    (_, true) => Err(Stop::Error(IngestError::client(
                        "RecordTooLarge",
                        format!(
                            "a single record of {} bytes exceeds the {}-byte streaming limit",
                            piece.data.len(),
                            inner.config.max_request_bytes
                        ),
                    ))),
                    (IngestMode::Managed, false) => {
                        inner.deliver_managed(piece.data, dedup_id, stats).await
                    }
                    _ => inner.deliver_streaming(piece.data, stats).await,
                }
            });
        }
        let mut first_error = None;
        while let Some(joined) = tasks.join_next().await {
            let outcome = match joined {
                Ok(r) => r.map_err(Stop::into_error),
                Err(e) => Err(IngestError::client(
                    "InternalError",
                    format!("ingest task failed: {e}"),
                )),
            };
            if let Err(e) = outcome {
                if e.is_permanent() || first_error.is_none() {
                    first_error = Some(e);
                }
                tasks.abort_all();
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Inner {
    /// Streaming with 413 → halve and retry each half.
    async fn deliver_streaming(
        self: Arc<Self>,
        data: Bytes,
        stats: Arc<Stats>,
    ) -> Result<(), Stop> {
        let mut todo = vec![data];
        while let Some(data) = todo.pop() {
            match self.stream_once(data.clone(), None, &stats).await {
                Ok(()) => {}
                Err(Stop::TooLarge(message)) => match halve(&data) {
                    Some((a, b)) => {
                        stats.splits.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(
                            bytes = data.len(),
                            "ADX answered 413; splitting the request in two"
                        );
                        todo.push(b);
                        todo.push(a);
                    }
                    None => {
                        return Err(Stop::Error(IngestError::Permanent {
                            status: Some(413),
                            code: "PayloadTooLarge".to_string(),
                            message: format!("a single record was refused as too large: {message}"),
                            activity_id: None,
                        }))
                    }
                },
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }

    /// Managed: streaming unless paused; 413 → queued; exhausted transient retries → pause + queued.
    async fn deliver_managed(
        self: Arc<Self>,
        data: Bytes,
        dedup_id: String,
        stats: Arc<Stats>,
    ) -> Result<(), Stop> {
        if !self.streaming_paused() {
            let limit = self.config.managed.streaming_attempts;
            match self.stream_once(data.clone(), Some(limit), &stats).await {
                Ok(()) => return Ok(()),
                Err(Stop::TooLarge(_)) => {
                    tracing::info!(
                        bytes = data.len(),
                        "streaming refused the request as too large; sending it queued"
                    );
                }
                Err(Stop::Exhausted { attempts, last }) => {
                    let cooldown = self.config.managed.streaming_cooldown;
                    tracing::warn!(attempts, last, ?cooldown, "streaming ingestion keeps failing; using queued ingestion for the cool-down");
                    if let Ok(mut paused) = self.streaming_paused_until.lock() {
                        *paused = Some(Instant::now() + cooldown);
                    }
                }
                Err(other) => return Err(other),
            }
        }
        self.deliver_queued(data, dedup_id, stats).await
    }

    fn streaming_paused(&self) -> bool {
        let Ok(mut paused) = self.streaming_paused_until.lock() else {
            return false;
        };
        match *paused {
            Some(until) if Instant::now() < until => true,
            Some(_) => {
                tracing::info!("managed ingestion cool-down over; trying streaming again");
                *paused = None;
                false
            }
            None => false,
        }
    }

    /// Compresses once, then posts with retries.
    async fn stream_once(
        self: &Arc<Self>,
        data: Bytes,
        limit: Option<u32>,
        stats: &Stats,
    ) -> Result<(), Stop> {
        let gz = self.compress(data.clone()).await?;
        let gz_len = gz.len() as u64;
        let inner = self.clone();
        self.with_retries("streaming ingest", limit, stats, move |token| {
            let inner = inner.clone();
            let gz = gz.clone();
            async move { crate::streaming::post(&inner, gz, token).await }
        })
        .await?;
        stats.streamed.fetch_add(1, Ordering::Relaxed);
        stats.raw.fetch_add(data.len() as u64, Ordering::Relaxed);
        stats.gz.fetch_add(gz_len, Ordering::Relaxed);
        Ok(())
    }

    /// Queued: one blob for `data`, tagged with `dedup_id`.
    async fn deliver_queued(
        self: Arc<Self>,
        data: Bytes,
        dedup_id: String,
        stats: Arc<Stats>,
    ) -> Result<(), Stop> {
        let gz = self.compress(data.clone()).await?;
        let gz_len = gz.len() as u64;
        let source_id = crate::http::uuid_v4();
        let blob = Arc::new(QueuedBlob {
            gz,
            raw_size: data.len(),
            dedup_id,
            source_id: source_id.clone(),
        });
        let uploaded = Arc::new(std::sync::Mutex::new(None::<Secret>));
        let inner = self.clone();
        self.with_retries("queued ingest", None, &stats, move |token| {
            let inner = inner.clone();
            let blob = blob.clone();
            let uploaded = uploaded.clone();
            async move {
                match inner.queued.as_ref() {
                    Some(q) => q.ingest(&inner, &blob, &uploaded, token).await,
                    None => Err(Failure::Permanent(IngestError::client(
                        "QueuedNotConfigured",
                        "queued ingestion is not enabled in streaming mode".to_string(),
                    ))),
                }
            }
        })
        .await?;
        stats.queued.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut sources) = stats.queued_sources.lock() {
            sources.push(QueuedSource {
                source_id,
                data: data.clone(),
            });
        }
        stats.raw.fetch_add(data.len() as u64, Ordering::Relaxed);
        stats.gz.fetch_add(gz_len, Ordering::Relaxed);
        Ok(())
    }

    async fn compress(&self, data: Bytes) -> Result<Bytes, Stop> {
        let level = self.config.gzip_level;
        let gz = tokio::task::spawn_blocking(move || crate::gzip::gzip(&data, level))
            .await
            .map_err(|e| Stop::Error(IngestError::client("CompressionFailed", e.to_string())))?
            .map_err(|e| Stop::Error(IngestError::client("CompressionFailed", e.to_string())))?;
        Ok(Bytes::from(gz))
    }

    /// The retry loop shared by all request kinds. `limit`: stop after this many transient failures.
    async fn with_retries<F, Fut>(
        &self,
        what: &'static str,
        limit: Option<u32>,
        stats: &Stats,
        mut attempt: F,
    ) -> Result<(), Stop>
    where
        F: FnMut(Secret) -> Fut,
        Fut: std::future::Future<Output = Result<(), Failure>>,
    {
        let mut backoff = Backoff::new(&self.config.retry);
        let mut refreshed_after_401 = false;
        let mut transient = 0u32;
        loop {
            if self.shutdown.is_cancelled() {
                return Err(Stop::Error(IngestError::Cancelled));
            }
            let failure = match self.tokens.token().await {
                Err(e) => Failure::transient(format!("cannot obtain an access token: {e}")),
                Ok(token) => {
                    let permit = tokio::select! {
                        biased;
                        _ = self.shutdown.cancelled() => return Err(Stop::Error(IngestError::Cancelled)),
                        p = self.permits.acquire() => p,
                    };
                    stats.attempts.fetch_add(1, Ordering::Relaxed);
                    let outcome = attempt(token.clone()).await;
                    drop(permit);
                    match outcome {
                        Ok(()) => return Ok(()),
                        Err(Failure::Unauthorized(message)) if !refreshed_after_401 => {
                            refreshed_after_401 = true;
                            tracing::info!(what, "{message}; refreshing the token and retrying");
                            match self.tokens.refresh_rejected(&token).await {
                                Ok(_) => continue,
                                Err(e) => Failure::transient(format!(
                                    "token refresh after 401 failed: {e}"
                                )),
                            }
                        }
                        Err(Failure::Unauthorized(message)) => {
                            tracing::error!(what, "{message} even with a fresh token: check the principal's Ingestor role on the database");
                            Failure::transient(message)
                        }
                        Err(f) => f,
                    }
                }
            };
            let (reason, retry_after) = match failure {
                Failure::Permanent(e) => return Err(Stop::Error(e)),
                Failure::TooLarge(m) => return Err(Stop::TooLarge(m)),
                Failure::Unauthorized(m) => (m, None),
                Failure::Transient {
                    reason,
                    retry_after,
                } => (reason, retry_after),
            };
            transient += 1;
            if limit.is_some_and(|l| transient >= l) {
                return Err(Stop::Exhausted {
                    attempts: transient,
                    last: reason,
                });
            }
            let Some(delay) = backoff.next_delay(retry_after) else {
                return Err(Stop::Exhausted {
                    attempts: backoff.attempts(),
                    last: reason,
                });
            };
            stats.retries.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(what, attempt = transient, retry_in = ?delay, "transient failure, will retry: {reason}");
            sleep_or_cancel(delay, &self.shutdown)
                .await
                .map_err(Stop::Error)?;
            refreshed_after_401 = false;
        }
    }
}
