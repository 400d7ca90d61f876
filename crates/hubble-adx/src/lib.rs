//! `hubble-adx`: an async Azure Data Explorer ingestion client for NDJSON batches.
//!
//! - [`AdxClient::ingest`] delivers a [`Batch`] by streaming ingestion (≤ 4 MiB uncompressed per
//!   gzip request, split on record boundaries), queued ingestion (blob + queue message, with
//!   `ingest-by` dedup tags) or managed ingestion (streaming with queued fallback).
//! - Errors are classified: [`IngestError::Permanent`] means "dead-letter this batch"; transient
//!   failures are retried inside with jittered exponential backoff honouring `Retry-After`, forever
//!   unless limits are configured, until the shutdown token fires ([`IngestError::Cancelled`]).
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
mod queued;
mod reports;
mod secret;
mod streaming;

pub use auth::{AuthError, TokenRequests};
pub use batch::{batch_id, count_records, has_records, Batch};
pub use client::{AdxClient, IngestReceipt, QueuedSource};
pub use config::{
    check_endpoint, is_loopback_host, parse_url, AdxConfig, AuthConfig, ClientSecretSource,
    ConfigError, Dedup, IngestMode, ManagedPolicy, RetryPolicy, DEFAULT_AUTHORITY,
    DEFAULT_IMDS_ENDPOINT, DEFAULT_MAX_REQUEST_BYTES, DEFAULT_SCOPE,
};
pub use error::{IngestError, OneApiError};
pub use gzip::gzip;
pub use http::install_crypto_provider;
pub use reports::{IngestionReport, ReportKind};
pub use secret::Secret;
pub use tokio_util::sync::CancellationToken;
pub use url::Url;
