//! [`AdxClient`]: the public entry point. Owns mode dispatch (streaming / queued / managed), the
//! retry loop, 401 handling, 413 splitting, the managed-mode fallback and cool-down, and the
//! concurrency limit. Guarantees:
//! - a transient failure is retried (jittered exponential backoff, `Retry-After` honoured) until it
//!   succeeds, the retry budget ([`crate::RetryPolicy`]: attempts, `max_elapsed`) runs out, or the
//!   shutdown token fires (checked between attempts, while waiting for a permit and during a request);
//!   every retry is reported to the configured [`crate::IngestObserver`] with its reason;
//! - every piece of a batch (≤ `max_request_bytes` request, or a 413 half of one) ends in exactly one
//!   of accepted, rejected (permanent error, with ADX's code and message and the request id) or
//!   undelivered (budget exhausted, shutdown): [`AdxClient::ingest_outcome`]. A permanent error on
//!   one piece neither cancels nor hides its siblings, so the caller dead-letters exactly the
//!   rejected records and re-sending them never duplicates an accepted one;
//! - at most `concurrency` HTTP requests are in flight across all calls; a batch is compressed one
//!   ≤ `max_request_bytes` piece at a time per permit holder, so memory is bounded by batch size ×
//!   concurrent calls.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::auth::TokenProvider;
use crate::backoff::{sleep_or_cancel, Backoff};
use crate::batch::{batch_id, count_records, halve, has_records, split_records, Batch};
use crate::config::{AdxConfig, ConfigError, IngestMode};
use crate::error::{Failure, IngestError, RetryReason};
use crate::http::RequestContext;
use crate::observe::RetryEvent;
use crate::outcome::{FailedPiece, IngestOutcome, IngestReceipt, QueuedSource};
use crate::queued::{QueuedBlob, QueuedIngestor};
use crate::Secret;

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

/// Why the retry loop stopped without success.
#[derive(Debug, Clone)]
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

/// Why one piece failed, with the request that carried it last.
#[derive(Debug, Clone)]
struct Failed {
    stop: Stop,
    request_id: Option<String>,
    at: SystemTime,
}

impl Failed {
    fn now(stop: Stop) -> Self {
        Failed {
            stop,
            request_id: None,
            at: SystemTime::now(),
        }
    }
}

/// The fate of one piece inside the client.
struct Done {
    data: Bytes,
    result: Result<(), Failed>,
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
                config.observer.clone(),
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

    /// Delivers `batch`, all or error: `Ok` when every record was accepted (or queued), else the first
    /// permanent error, else why the rest was not delivered. Pieces accepted before an error stay ingested:
    /// callers that dead-letter use [`AdxClient::ingest_outcome`], which says which records failed.
    pub async fn ingest(&self, batch: &Batch) -> Result<IngestReceipt, IngestError> {
        self.ingest_outcome(batch).await.into_result()
    }

    /// Delivers `batch` and says what happened to every record: accepted, rejected (with ADX's error) or
    /// undelivered (retry budget exhausted, shutdown). Transient failures are retried inside.
    pub async fn ingest_outcome(&self, batch: &Batch) -> IngestOutcome {
        let stats = Arc::new(Stats::default());
        let mut done = Vec::new();
        if has_records(&batch.data) {
            match self.inner.config.mode {
                IngestMode::Queued => {
                    let result = self
                        .inner
                        .clone()
                        .deliver_queued(batch.data.clone(), batch.id.clone(), stats.clone())
                        .await
                        .map_err(Failed::now);
                    done.push(Done {
                        data: batch.data.clone(),
                        result,
                    });
                }
                IngestMode::Streaming | IngestMode::Managed => {
                    done = self.deliver_pieces(batch, &stats).await;
                }
            }
        }
        let mut outcome = IngestOutcome {
            receipt: IngestReceipt {
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
            },
            ..IngestOutcome::default()
        };
        for d in done {
            let records = count_records(&d.data);
            match d.result {
                Ok(()) => outcome.accepted_records += records,
                Err(f) => {
                    let error = f.stop.into_error();
                    let piece = FailedPiece {
                        data: d.data,
                        records,
                        client_request_id: f.request_id,
                        at: f.at,
                        error,
                    };
                    if piece.error.is_permanent() {
                        outcome.rejected.push(piece);
                    } else {
                        outcome.undelivered.push(piece);
                    }
                }
            }
        }
        outcome
    }

    /// Splits into ≤ `max_request_bytes` pieces and delivers them concurrently (bounded by permits). Every
    /// piece runs to its own end: one piece's failure never cancels another.
    async fn deliver_pieces(&self, batch: &Batch, stats: &Arc<Stats>) -> Vec<Done> {
        let pieces = split_records(&batch.data, self.inner.config.max_request_bytes);
        let whole = pieces.len() == 1;
        let mut tasks = JoinSet::new();
        let mut spawned = HashMap::new();
        for piece in pieces {
            let inner = self.inner.clone();
            let stats = stats.clone();
            let dedup_id = if whole {
                batch.id.clone()
            } else {
                batch_id(&piece.data)
            };
            let data = piece.data.clone();
            let handle = tasks.spawn(async move {
                let data = piece.data;
                match (inner.config.mode, piece.oversize) {
                    (IngestMode::Managed, true) => {
                        let result = inner
                            .deliver_queued(data.clone(), dedup_id, stats)
                            .await
                            .map_err(Failed::now);
                        vec![Done { data, result }]
                    }
                    (_, true) => {
                        let error = IngestError::client(
                            "RecordTooLarge",
                            format!(
                                "a single record of {} bytes exceeds the {}-byte streaming limit",
                                data.len(),
                                inner.config.max_request_bytes
                            ),
                        );
                        vec![Done {
                            data,
                            result: Err(Failed::now(Stop::Error(error))),
                        }]
                    }
                    (IngestMode::Managed, false) => {
                        let result = inner.deliver_managed(data.clone(), dedup_id, stats).await;
                        vec![Done { data, result }]
                    }
                    _ => inner.deliver_streaming(data, stats).await,
                }
            });
            spawned.insert(handle.id(), data);
        }
        let mut out = Vec::new();
        while let Some(joined) = tasks.join_next_with_id().await {
            match joined {
                Ok((id, done)) => {
                    spawned.remove(&id);
                    out.extend(done);
                }
                Err(e) => {
                    // A task that panicked: its piece was not delivered (never reported as rejected).
                    if let Some(data) = spawned.remove(&e.id()) {
                        out.push(Done {
                            data,
                            result: Err(Failed::now(Stop::Exhausted {
                                attempts: 0,
                                last: format!("ingest task failed: {e}"),
                            })),
                        });
                    }
                }
            }
        }
        out
    }
}

impl Inner {
    /// Streaming with 413 → halve and retry each half. A permanent error on one half does not stop the
    /// other; a stop for every request (shutdown, retry budget) leaves the halves not yet sent undelivered.
    async fn deliver_streaming(self: Arc<Self>, data: Bytes, stats: Arc<Stats>) -> Vec<Done> {
        let mut todo = vec![data];
        let mut out = Vec::new();
        while let Some(data) = todo.pop() {
            let failed = match self.stream_once(data.clone(), None, &stats).await {
                Ok(()) => {
                    out.push(Done {
                        data,
                        result: Ok(()),
                    });
                    continue;
                }
                Err(f) => f,
            };
            match failed.stop {
                Stop::TooLarge(ref message) => match halve(&data) {
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
                        let error = IngestError::Permanent {
                            status: Some(413),
                            code: "PayloadTooLarge".to_string(),
                            message: format!("a single record was refused as too large: {message}"),
                            activity_id: None,
                        };
                        out.push(Done {
                            data,
                            result: Err(Failed {
                                stop: Stop::Error(error),
                                ..failed
                            }),
                        });
                    }
                },
                Stop::Error(ref e) if e.is_permanent() => out.push(Done {
                    data,
                    result: Err(failed),
                }),
                _ => {
                    for rest in todo.drain(..).rev() {
                        out.push(Done {
                            data: rest,
                            result: Err(Failed {
                                request_id: None,
                                ..failed.clone()
                            }),
                        });
                    }
                    out.push(Done {
                        data,
                        result: Err(failed),
                    });
                }
            }
        }
        out
    }

    /// Managed: streaming unless paused; 413 → queued; exhausted transient retries → pause + queued.
    async fn deliver_managed(
        self: Arc<Self>,
        data: Bytes,
        dedup_id: String,
        stats: Arc<Stats>,
    ) -> Result<(), Failed> {
        if !self.streaming_paused() {
            let limit = self.config.managed.streaming_attempts;
            match self
                .stream_once(data.clone(), Some(limit), &stats)
                .await
                .map_err(|f| (f.stop.clone(), f))
            {
                Ok(()) => return Ok(()),
                Err((Stop::TooLarge(_), _)) => {
                    tracing::info!(
                        bytes = data.len(),
                        "streaming refused the request as too large; sending it queued"
                    );
                }
                Err((Stop::Exhausted { attempts, last }, _)) => {
                    let cooldown = self.config.managed.streaming_cooldown;
                    tracing::warn!(attempts, last, ?cooldown, "streaming ingestion keeps failing; using queued ingestion for the cool-down");
                    if let Ok(mut paused) = self.streaming_paused_until.lock() {
                        *paused = Some(Instant::now() + cooldown);
                    }
                }
                Err((_, failed)) => return Err(failed),
            }
        }
        self.deliver_queued(data, dedup_id, stats)
            .await
            .map_err(Failed::now)
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

    /// Compresses once, then posts with retries; a failure carries the last request id sent.
    async fn stream_once(
        self: &Arc<Self>,
        data: Bytes,
        limit: Option<u32>,
        stats: &Stats,
    ) -> Result<(), Failed> {
        let gz = self.compress(data.clone()).await.map_err(Failed::now)?;
        let gz_len = gz.len() as u64;
        let inner = self.clone();
        let last_request_id = Arc::new(Mutex::new(None::<String>));
        let ids = last_request_id.clone();
        let result = self
            .with_retries("streaming ingest", limit, stats, move |token| {
                let inner = inner.clone();
                let gz = gz.clone();
                let request_id = crate::streaming::request_id(&inner.config.app_name);
                if let Ok(mut last) = ids.lock() {
                    *last = Some(request_id.clone());
                }
                async move { crate::streaming::post(&inner, gz, token, &request_id).await }
            })
            .await;
        if let Err(stop) = result {
            return Err(Failed {
                stop,
                request_id: last_request_id.lock().ok().and_then(|l| l.clone()),
                at: SystemTime::now(),
            });
        }
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
                Err(e) => Failure::transient_kind(
                    RetryReason::Token,
                    format!("cannot obtain an access token: {e}"),
                ),
                Ok(token) => {
                    let permit = tokio::select! {
                        biased;
                        _ = self.shutdown.cancelled() => return Err(Stop::Error(IngestError::Cancelled)),
                        p = self.permits.acquire() => p,
                    };
                    stats.attempts.fetch_add(1, Ordering::Relaxed);
                    let outcome = tokio::select! {
                        biased;
                        _ = self.shutdown.cancelled() => return Err(Stop::Error(IngestError::Cancelled)),
                        o = attempt(token.clone()) => o,
                    };
                    drop(permit);
                    match outcome {
                        Ok(()) => return Ok(()),
                        Err(Failure::Unauthorized(message)) if !refreshed_after_401 => {
                            refreshed_after_401 = true;
                            tracing::info!(what, "{message}; refreshing the token and retrying");
                            match self.tokens.refresh_rejected(&token).await {
                                Ok(_) => continue,
                                Err(e) => Failure::transient_kind(
                                    RetryReason::Token,
                                    format!("token refresh after 401 failed: {e}"),
                                ),
                            }
                        }
                        Err(Failure::Unauthorized(message)) => {
                            tracing::error!(what, "{message} even with a fresh token: check the principal's Ingestor role on the database");
                            Failure::transient_kind(RetryReason::Unauthorized, message)
                        }
                        Err(f) => f,
                    }
                }
            };
            let (reason, retry_after, kind) = match failure {
                Failure::Permanent(e) => return Err(Stop::Error(e)),
                Failure::TooLarge(m) => return Err(Stop::TooLarge(m)),
                Failure::Unauthorized(m) => (m, None, RetryReason::Unauthorized),
                Failure::Transient {
                    reason,
                    retry_after,
                    kind,
                } => (reason, retry_after, kind),
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
            self.config.observer.retry(&RetryEvent {
                what,
                reason: kind,
                attempt: transient,
                delay,
            });
            tracing::warn!(what, attempt = transient, retry_in = ?delay, "transient failure, will retry: {reason}");
            sleep_or_cancel(delay, &self.shutdown)
                .await
                .map_err(Stop::Error)?;
            refreshed_after_401 = false;
        }
    }
}
