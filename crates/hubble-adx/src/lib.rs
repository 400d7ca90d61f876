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
//!   rather than using the `azure_identity` crate. Why: `azure_identity` needs `azure_core` and
//!   `typespec` (178 crates in the tree against 116 for reqwest alone) for three small, documented
//!   HTTP exchanges (~250 lines here), and it does not expose what we must control and test: the
//!   IMDS base URL, the IMDS retry rules, an authority on loopback `http://` for tests, re-reading
//!   the federated token file on every exchange, and one refresh in flight with a forced refresh on
//!   401. Tokens and secrets live in [`Secret`] and never reach logs, errors or `Debug` output.
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
mod secret;
mod streaming;

pub use auth::AuthError;
pub use batch::{batch_id, count_records, has_records, Batch};
pub use client::AdxClient;
pub use config::{
    check_endpoint, is_loopback_host, parse_url, AdxConfig, AuthConfig, ClientSecretSource,
    ConfigError, IngestMode, ManagedPolicy, RetryPolicy, DEFAULT_AUTHORITY, DEFAULT_IMDS_ENDPOINT,
    DEFAULT_MAX_REQUEST_BYTES, DEFAULT_SCOPE,
};
pub use error::{IngestError, OneApiError, RetryReason};
pub use gzip::gzip;
pub use http::install_crypto_provider;
pub use observe::{IngestObserver, Observer, RetryEvent};
pub use outcome::{FailedPiece, IngestOutcome, IngestReceipt};
pub use secret::Secret;
pub use tokio_util::sync::CancellationToken;
pub use url::Url;
