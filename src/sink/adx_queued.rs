//! Queued ADX blobs that ADX has not reported on yet, and the task that reads ADX's reports.
//!
//! Queued ingestion answers "accepted" when the blob and its queue message are in storage; ADX ingests (or
//! rejects) it minutes later and says so only in its failed- and successful-ingestions queues. The rule that
//! loses nothing, used by `run` in `queued` and `managed` modes:
//!
//! 1. every blob is queued with `ReportLevel` 2 (failures and successes);
//! 2. before the spool segment is marked delivered for `adx`, the records of each queued blob are written
//!    durably (fsync, rename, directory fsync) to `STATE_DIR/adx-queued/<source id>.ndjson` ([`PendingBlobs`]);
//!    if that fails, that blob's records are not reported accepted: `AdxBatchSink` hands them back as pending,
//!    the segment stays spooled and they are queued again (same content, same `ingest-by` tag);
//! 3. a poller reads ADX's notifications for the table every `--adx-report-interval`: a success deletes the
//!    blob's file; a failure moves exactly that blob's records to the dead-letter directory (the format of
//!    `dead_letter.rs`: the records as sent, and an `.error.json` sidecar with the ADX error code, details,
//!    failure status, operation and activity ids and the re-send command), counts it in
//!    `adx_queued_failures{code}` and `dead_letters{sink="adx"}`, and logs it; a notification is deleted
//!    from ADX's queue only after that, so a crash in between re-reads it;
//! 4. notifications about blobs this node does not hold (other nodes, other tools) are left in the queue
//!    for their owner;
//! 5. a blob ADX never reports on stays in `adx-queued/` (counted by `adx_queued_pending`): nothing is
//!    dropped on a timer; an operator can replay such a file once `.show ingestion failures` or the table
//!    shows what happened.
//!
//! Known limits: the notification queues are shared by every client of the cluster, so with many nodes a
//! node reads (and hides for the visibility timeout) others' notifications too, which delays each node's
//! own by a few polls; a notification no node acknowledges before the queue's message lifetime leaves its
//! blob in `adx-queued/` (kept, counted, never dropped). A crash after a blob is queued but before its copy
//! is written leaves the segment undelivered: it is queued again, and with `--adx-dedup ingest-by` ADX skips
//! the duplicate — should ADX report that skip as a failure, the blob's records are dead-lettered although
//! ingested (re-sending them is then a no-op with the same tag, or a duplicate without it).
//!
//! Guarantees: a file name is a source id this process generated (a UUID), never a value read from a
//! notification unless it has that shape; notification text is logged as data, never as a path.

use super::dead_letter::{self, DeadLetterInfo, DeadLetterKind};
use crate::telemetry::metrics::Metrics;
use hubble_adx::{AdxClient, CancellationToken, IngestionReport, ReportKind};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The directory of queued blobs awaiting ADX's report.
#[derive(Debug)]
pub struct PendingBlobs {
    dir: PathBuf,
}

/// True for the UUID shape this process gives source ids (`8-4-4-4-12` lower-case hex).
fn is_source_id(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_digit() || ('a'..='f').contains(&c),
        })
}

impl PendingBlobs {
    /// Opens (creates) `dir`.
    pub fn open(dir: &Path) -> io::Result<PendingBlobs> {
        std::fs::create_dir_all(dir)?;
        Ok(PendingBlobs {
            dir: dir.to_owned(),
        })
    }

    fn path(&self, source_id: &str) -> Option<PathBuf> {
        is_source_id(source_id).then(|| self.dir.join(format!("{source_id}.ndjson")))
    }

    /// Durably keeps `records` under `source_id` (temp file, fsync, rename, directory fsync).
    pub fn keep(&self, source_id: &str, records: &[u8]) -> io::Result<()> {
        let path = self
            .path(source_id)
            .ok_or_else(|| io::Error::other(format!("'{source_id}' is not a source id")))?;
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(records)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(&self.dir)?.sync_all()
    }

    /// The records kept under `source_id`, if this process queued that blob.
    pub fn get(&self, source_id: &str) -> Option<Vec<u8>> {
        std::fs::read(self.path(source_id)?).ok()
    }

    /// Forgets `source_id` (ADX reported on it).
    pub fn remove(&self, source_id: &str) -> io::Result<()> {
        match self.path(source_id) {
            Some(p) => match std::fs::remove_file(p) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// Blobs still awaiting a report.
    pub fn count(&self) -> usize {
        std::fs::read_dir(&self.dir).map_or(0, |rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".ndjson"))
                .count()
        })
    }
}

/// What the poller needs.
pub struct ReportPoller {
    /// The ADX sink's client (its resources name the notification queues).
    pub client: Arc<AdxClient>,
    /// The blobs this process queued and ADX has not reported on.
    pub pending: Arc<PendingBlobs>,
    /// Where a failed blob's records go.
    pub dead_letter_dir: PathBuf,
    /// Counters and the pending gauge.
    pub metrics: Arc<Metrics>,
    /// Time between reads of the notification queues.
    pub interval: Duration,
    /// Stops the poller (daemon shutdown).
    pub cancel: CancellationToken,
    /// The sink options of the command that re-sends a dead letter ([`super::adx::resend_args`]).
    pub resend_args: String,
}

impl ReportPoller {
    /// Polls until `cancel` fires.
    pub fn spawn(self, runtime: &tokio::runtime::Handle) {
        runtime.spawn(async move {
            self.metrics
                .adx_queued_pending
                .set(self.pending.count() as i64);
            let mut seq = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            loop {
                tokio::select! {
                    _ = self.cancel.cancelled() => return,
                    _ = tokio::time::sleep(self.interval) => {}
                }
                self.poll_once(&mut seq).await;
            }
        });
    }

    async fn poll_once(&self, seq: &mut u64) {
        // Hidden from other readers for a few intervals while this one handles them.
        let visibility = (self.interval * 4).max(Duration::from_secs(30));
        let reports = match self.client.poll_reports(visibility).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("cannot read ADX's ingestion notifications (will retry): {e}");
                return;
            }
        };
        for report in reports {
            let Some(records) = self.pending.get(&report.source_id) else {
                continue; // not a blob this node holds: leave it for its owner
            };
            let handled = match report.kind {
                ReportKind::Success => true,
                ReportKind::Failure => self.dead_letter(&report, &records, seq),
            };
            if !handled {
                continue;
            }
            if let Err(e) = self.pending.remove(&report.source_id) {
                tracing::warn!(source_id = %report.source_id, "cannot remove the queued blob's copy: {e}");
            }
            if let Err(e) = self.client.ack_report(&report).await {
                tracing::warn!(source_id = %report.source_id, "cannot delete ADX's notification (it will be read again): {e}");
            }
        }
        self.metrics
            .adx_queued_pending
            .set(self.pending.count() as i64);
    }

    /// Dead-letters the blob's records (the shared dead-letter format: the records file as sent and an
    /// `.error.json` sidecar with ADX's code and details); false (keep everything, retry later) if that cannot
    /// be written.
    fn dead_letter(&self, r: &IngestionReport, records: &[u8], seq: &mut u64) -> bool {
        let n = memchr::memchr_iter(b'\n', records).count() as u64;
        let info = DeadLetterInfo {
            kind: DeadLetterKind::Rejected,
            status: None,
            code: r.error_code.clone(),
            message: format!(
                "{} [queued ingestion failed ({} failure); source id {}, operation id {}, failed on {}, blob {}]",
                r.details, r.failure_status, r.source_id, r.operation_id, r.at, r.blob
            ),
            activity_id: (!r.root_activity_id.is_empty()).then(|| r.root_activity_id.clone()),
            client_request_id: None,
            at: std::time::SystemTime::now(),
            records: n,
            resend_args: self.resend_args.clone(),
        };
        *seq += 1;
        match dead_letter::write(&self.dead_letter_dir, *seq, 0, "adx-queued", records, &info) {
            Ok(path) => {
                self.metrics.add_adx_queued_failure(&r.error_code);
                self.metrics
                    .dead_lettered_records
                    .get_or_create(&Metrics::label("sink", "adx"))
                    .inc_by(n);
                tracing::error!(
                    code = %r.error_code,
                    failure_status = %r.failure_status,
                    records = n,
                    dead_letter = %path.display(),
                    resend = %dead_letter::resend_command(&path, &self.resend_args),
                    "ADX rejected a queued blob; its records are in the dead-letter directory (fix the cause, then re-send them): {}",
                    info.summary()
                );
                true
            }
            Err(e) => {
                tracing::error!(code = %r.error_code, "ADX rejected a queued blob and its dead letter cannot be written ({e}); keeping its copy and the notification");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_blobs_roundtrip_and_refuse_foreign_names() {
        let dir = tempfile::tempdir().unwrap();
        let p = PendingBlobs::open(&dir.path().join("q")).unwrap();
        let id = "0a1b2c3d-0000-4000-8000-00000000abcd";
        p.keep(id, b"{\"a\":1}\n").unwrap();
        assert_eq!(p.count(), 1);
        assert_eq!(p.get(id).as_deref(), Some(&b"{\"a\":1}\n"[..]));
        for hostile in [
            "../../etc/passwd",
            "0A1B2C3D-0000-4000-8000-00000000ABCD",
            "",
        ] {
            assert!(p.get(hostile).is_none());
            assert!(p.keep(hostile, b"x").is_err());
        }
        p.remove(id).unwrap();
        p.remove(id).unwrap();
        assert_eq!(p.count(), 0);
    }
}
