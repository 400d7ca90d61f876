//! The observer hook: how a caller sees what the client does inside one `ingest` call without this crate
//! knowing the caller's types (metrics, logs). Owns [`IngestObserver`] (the trait), [`RetryEvent`] (one retry)
//! and [`Observer`] (the optional, cloneable slot in [`crate::AdxConfig`]). Guarantees: every retry the client
//! makes after a transient failure — streaming, queued, management, token (IMDS retries, and a failed background
//! refresh when its retry is scheduled) — is reported exactly once, before the client waits, with its
//! [`RetryReason`]; events carry no token, secret or SAS URL.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::RetryReason;

/// One retry the client is about to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryEvent {
    /// What was retried (`streaming ingest`, `queued ingest`).
    pub what: &'static str,
    /// Why.
    pub reason: RetryReason,
    /// Transient failures of this request so far (1 for the first retry).
    pub attempt: u32,
    /// How long the client waits before the next attempt (`Retry-After` included).
    pub delay: Duration,
}

/// Receives the client's events. Called on the client's tasks: keep it cheap and non-blocking.
pub trait IngestObserver: Send + Sync {
    /// A transient failure will be retried after `event.delay`.
    fn on_retry(&self, event: &RetryEvent);
}

/// The observer slot of [`crate::AdxConfig`]: none by default.
#[derive(Clone, Default)]
pub struct Observer(Option<Arc<dyn IngestObserver>>);

impl Observer {
    /// An observer slot holding `observer`.
    pub fn new(observer: Arc<dyn IngestObserver>) -> Self {
        Observer(Some(observer))
    }

    pub(crate) fn retry(&self, event: &RetryEvent) {
        if let Some(o) = &self.0 {
            o.on_retry(event);
        }
    }
}

impl fmt::Debug for Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Observer(set)"
        } else {
            "Observer(none)"
        })
    }
}
