//! What one [`crate::AdxClient::ingest_outcome`] call did, request by request. Owns [`IngestOutcome`] and
//! [`FailedPiece`]. Guarantees: the pieces of a batch partition it — every record of the batch is in exactly one
//! of "accepted", [`IngestOutcome::rejected`] or [`IngestOutcome::undelivered`]; a failed piece holds exactly
//! the bytes of the request (or 413 half) that failed, so re-sending it never duplicates a sibling that ADX
//! accepted.

use std::time::SystemTime;

use bytes::Bytes;

use crate::error::IngestError;

/// What one [`crate::AdxClient::ingest`] call did (counters).
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

/// One blob queued for ingestion: ADX reports its fate later under `source_id`
/// ([`crate::AdxClient::poll_reports`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedSource {
    /// The ingestion message `Id` (ADX's `IngestionSourceId`).
    pub source_id: String,
    /// The blob's records (uncompressed NDJSON), for the caller to keep until ADX reports.
    pub data: Bytes,
}

/// Records the client could not deliver, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedPiece {
    /// The NDJSON bytes of exactly those records.
    pub data: Bytes,
    /// Records in `data`.
    pub records: usize,
    /// [`IngestError::Permanent`] (ADX's code and message) for a rejected piece;
    /// [`IngestError::RetriesExhausted`] or [`IngestError::Cancelled`] for an undelivered one.
    pub error: IngestError,
    /// The `x-ms-client-request-id` of the last request that carried these records (streaming only).
    pub client_request_id: Option<String>,
    /// When the client stopped trying.
    pub at: SystemTime,
}

/// The fate of every record of a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestOutcome {
    /// Counters of the call (requests, retries, splits, bytes).
    pub receipt: IngestReceipt,
    /// Records ADX accepted (streaming) or that were queued for ingestion.
    pub accepted_records: usize,
    /// Pieces ADX (or the client, for a record over the request limit) rejected permanently: dead-letter these.
    pub rejected: Vec<FailedPiece>,
    /// Pieces not delivered because the retry budget ran out or shutdown came first: retry or report these.
    pub undelivered: Vec<FailedPiece>,
}

impl IngestOutcome {
    /// Every record was accepted.
    pub fn is_complete(&self) -> bool {
        self.rejected.is_empty() && self.undelivered.is_empty()
    }

    /// Records rejected permanently.
    pub fn rejected_records(&self) -> usize {
        self.rejected.iter().map(|p| p.records).sum()
    }

    /// Records not delivered.
    pub fn undelivered_records(&self) -> usize {
        self.undelivered.iter().map(|p| p.records).sum()
    }

    /// The all-or-error view: `Ok` when complete, else the first permanent error, else the first undelivered
    /// piece's error (accepted pieces stay ingested either way).
    pub fn into_result(self) -> Result<IngestReceipt, IngestError> {
        if let Some(p) = self.rejected.into_iter().next() {
            return Err(p.error);
        }
        if let Some(p) = self.undelivered.into_iter().next() {
            return Err(p.error);
        }
        Ok(self.receipt)
    }
}
