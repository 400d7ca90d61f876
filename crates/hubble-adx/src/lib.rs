//! `hubble-adx`: an async Azure Data Explorer ingestion client for NDJSON batches.
//!
//! - [`AdxClient::ingest`] delivers a [`Batch`] by streaming ingestion (≤ 4 MiB uncompressed per
//!   gzip request, split on record boundaries), queued ingestion (blob + queue message, with
//!   `ingest-by` dedup tags) or managed ingestion (streaming with queued fallback).
//! - [`AdxClient::ingest_outcome`] says what happened to every record: accepted, rejected
//!   ([`IngestError::Permanent`], ADX's code and message, the request id: dead-letter exactly these)
//!   or undelivered (retry budget exhausted, shutdown). Transient failures are retried inside with
//!   jittered exponential backoff honouring `Retry-After`, forever unless a budget is configured
//!   ([`RetryPolicy`]), until the shutdown token fires; each retry is reported to the
//!   [`IngestObserver`] in [`AdxConfig::observer`] with its [`RetryReason`].
//! - Azure AD auth (workload identity, managed identity, client secret) is hand-written on reqwest
//!   rather than using Microsoft's `azure_identity` crate: measured with `azure_identity` 1.0.0, its
//!   client-secret and workload-identity credentials refuse a loopback `http://` authority ("authority
//!   host doesn't use HTTPS scheme"), its IMDS URL is a constant no option overrides, and its token
//!   cache holds a lock across the token request and fails a request when an early refresh fails —
//!   the full record is in the `auth` module doc. Tokens are refreshed in the background; a failed
//!   refresh keeps serving the still-valid token ([`AdxClient::token_requests`] counts exchanges).
//!   The scope comes from the cluster's `/v1/rest/auth/metadata` unless [`AdxConfig::scope`] is set.
//!   Tokens and secrets live in [`Secret`] and never reach logs, errors or `Debug` output.
//! - Queued blobs are tagged per [`Dedup`] and can ask for success reports too
//!   ([`AdxConfig::report_successes`]); [`IngestReceipt::queued`] hands back each blob's source id
//!   and records, and [`AdxClient::poll_reports`] / [`AdxClient::ack_report`] read and delete ADX's
//!   notifications (failed/successful-ingestions queues) so a caller can keep a blob's records until
//!   ADX has reported on it.
//! - TLS is rustls with the pure-Rust `ring` provider (no C toolchain for aws-lc); call
//!   [`install_crypto_provider`] before building any other `reqwest::Client` in the process.
//! - The crate knows no table layout: it ingests whatever NDJSON the caller's table and JSON
//!   mapping (named in [`AdxConfig`]) accept. The Hubble record's columns live with its encoder in
//!   the `hubble-ingest` binary.

mod auth;
mod backoff;
mod batch;
mod client;
mod config;
mod error;
mod gzip;
mod http;
mod observe;
mod outcome;
mod queued;
mod reports;
mod secret;
mod streaming;

pub use auth::{AuthError, TokenRequests};
pub use batch::{batch_id, count_records, has_records, Batch};
pub use client::AdxClient;
pub use config::{
    check_endpoint, is_loopback_host, parse_url, AdxConfig, AuthConfig, ClientSecretSource,
    ConfigError, Dedup, IngestMode, ManagedPolicy, RetryPolicy, DEFAULT_AUTHORITY,
    DEFAULT_IMDS_ENDPOINT, DEFAULT_MAX_REQUEST_BYTES, DEFAULT_SCOPE,
};
pub use error::{IngestError, OneApiError, RetryReason};
pub use gzip::gzip;
pub use http::install_crypto_provider;
pub use observe::{IngestObserver, Observer, RetryEvent};
pub use outcome::{FailedPiece, IngestOutcome, IngestReceipt, QueuedSource};
pub use reports::{IngestionReport, ReportKind};
pub use secret::Secret;
pub use tokio_util::sync::CancellationToken;
pub use url::Url;
