//! Batch sinks: destinations the daemon's delivery loops ([`crate::deliver`]) hand whole spooled batches to, one
//! [`BatchSink`] per configured sink, each fed every segment in order. See ARCHITECTURE.md ("sink").
//!
//! A delivery reports, record for record, what happened ([`Delivery`]): records accepted, records rejected for
//! good (each [`Rejected`] part holds exactly those records and why; the loop writes it to the dead-letter
//! directory and counts it), and what is still pending ([`Pending`]: not accepted yet — retried by the loop
//! with jittered exponential backoff until it succeeds or the daemon stops; the segment stays spooled). A sink
//! that splits a batch (ADX: ≤ 4 MiB requests) reports only the failed requests' records as rejected or
//! pending, so accepted siblings are neither dead-lettered nor re-sent.

use super::dead_letter::DeadLetterInfo;
use super::Sink;
use std::io;

/// Records rejected for good, with why.
#[derive(Debug, Clone)]
pub struct Rejected {
    /// Exactly the rejected records (NDJSON).
    pub payload: Vec<u8>,
    /// Why, for the dead letter's sidecar.
    pub info: DeadLetterInfo,
}

/// Records not accepted yet.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Exactly the records still to deliver (NDJSON): the whole batch, or the part not yet accepted.
    pub payload: Vec<u8>,
    /// Records in `payload`.
    pub records: u64,
    /// Why, for logs.
    pub message: String,
    /// `sink_retries{reason}` label (`io`, `not_delivered`).
    pub reason: &'static str,
    /// The daemon is stopping: do not retry now, leave the segment spooled.
    pub cancelled: bool,
}

/// What one delivery attempt did with a batch.
#[derive(Debug, Clone, Default)]
pub struct Delivery {
    /// Records accepted.
    pub accepted_records: u64,
    /// Uncompressed bytes accepted.
    pub accepted_bytes: u64,
    /// Parts rejected for good.
    pub rejected: Vec<Rejected>,
    /// The part still to deliver, if any.
    pub pending: Option<Pending>,
}

impl Delivery {
    /// Everything accepted.
    pub fn all(payload: &[Vec<u8>], records: u64) -> Self {
        Delivery {
            accepted_records: records,
            accepted_bytes: payload.iter().map(|c| c.len() as u64).sum(),
            ..Delivery::default()
        }
    }

    /// Nothing accepted; retry the whole batch.
    pub fn retry_all(
        payload: &[Vec<u8>],
        records: u64,
        message: String,
        reason: &'static str,
    ) -> Self {
        Delivery {
            pending: Some(Pending {
                payload: payload.concat(),
                records,
                message,
                reason,
                cancelled: false,
            }),
            ..Delivery::default()
        }
    }
}

/// A destination for whole batches.
pub trait BatchSink: Send {
    /// The sink's stable name (spool markers, metrics, logs).
    fn name(&self) -> &str;
    /// Delivers one batch of NDJSON records, `payload`'s pieces in order (each ends at a record boundary: the
    /// spool keeps a batch as the pipeline's outputs, not joined, and a local sink writes them as they are). A
    /// sink that needs an id stable for the batch's content (ADX's `ingest-by` tags) derives it from the records
    /// themselves: hashing every batch would cost local sinks for nothing.
    fn deliver(&mut self, payload: &[Vec<u8>], records: u64) -> Delivery;
    /// Whether an accepted delivery is as durable as a spool segment, on this machine and at once
    /// ([`Sink::durable_locally`]).
    fn durable_locally(&self) -> bool {
        false
    }
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

    fn deliver(&mut self, payload: &[Vec<u8>], records: u64) -> Delivery {
        let r: io::Result<()> = payload
            .iter()
            .try_for_each(|piece| self.sink.write(piece))
            .and_then(|()| self.sink.sync());
        match r {
            Ok(()) => Delivery::all(payload, records),
            Err(e) => Delivery::retry_all(payload, records, format!("{}: {e}", self.name), "io"),
        }
    }

    fn durable_locally(&self) -> bool {
        self.sink.durable_locally()
    }
}
