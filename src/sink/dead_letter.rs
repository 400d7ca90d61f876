//! Dead letters: records a sink did not deliver — rejected permanently, or (for `replay`) not delivered within
//! the retry budget — kept durably beside why, so an operator can fix the cause and re-send exactly them.
//! Both the daemon's delivery loops and the replay ADX sink write them here, in one format:
//!
//! - `<dir>/<seq>-<piece>-<sink>.ndjson`: the records, byte for byte as they were sent, and nothing else, so
//!   `hubble-ingest replay <that file> --sink ...` reads it as-is. For ADX, a dead letter holds exactly the
//!   records of one rejected request: its sibling requests were ingested and are not in it, so re-sending it
//!   duplicates nothing.
//! - `<same stem>.error.json`: one JSON object saying why ([`DeadLetterInfo`]: kind, ADX's error code and
//!   message, HTTP status, activity id, the `x-ms-client-request-id` sent, the time, the record count and the
//!   command that re-sends the records). `replay` never reads it (it only reads the inputs it is given).
//!
//! Guarantees: both files are fsynced and the directory synced before [`write`] returns, and a `.ndjson` appears
//! (by rename) only once its sidecar is durable; names never collide (`seq` is unique per writer, `piece` per
//! batch); error text is escaped by the JSON encoder.

use crate::spool::sync_dir;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Why records were dead-lettered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLetterKind {
    /// The destination rejected them for good (fix the cause, then re-send).
    Rejected,
    /// They could not be delivered within the retry budget (the destination was unreachable or throttling).
    NotDelivered,
}

impl DeadLetterKind {
    /// `rejected` or `not_delivered`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterKind::Rejected => "rejected",
            DeadLetterKind::NotDelivered => "not_delivered",
        }
    }
}

/// What the `.error.json` sidecar says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterInfo {
    /// Rejected or not delivered.
    pub kind: DeadLetterKind,
    /// HTTP status of the rejection, if there was one.
    pub status: Option<u16>,
    /// The destination's error code (`BadRequest_MappingReferenceWasNotFound`, ...), or a client code.
    pub code: String,
    /// The destination's message.
    pub message: String,
    /// The service's activity id (for Microsoft support).
    pub activity_id: Option<String>,
    /// The `x-ms-client-request-id` of the request that carried the records.
    pub client_request_id: Option<String>,
    /// When the sink stopped trying.
    pub at: SystemTime,
    /// Records in the dead letter.
    pub records: u64,
    /// The sink's options for the command that re-sends the records (`--sink adx --adx-cluster ...`), without
    /// secrets; the file path is added by [`write`].
    pub resend_args: String,
}

impl DeadLetterInfo {
    /// A one-line summary for logs.
    pub fn summary(&self) -> String {
        let mut s = format!("{} {}", self.kind.as_str(), self.code);
        if let Some(st) = self.status {
            s.push_str(&format!(" (HTTP {st})"));
        }
        s.push_str(": ");
        s.push_str(&self.message);
        if let Some(id) = &self.client_request_id {
            s.push_str(&format!(" [client request id {id}]"));
        }
        s
    }
}

/// RFC 3339 UTC with nanoseconds.
pub fn rfc3339(t: SystemTime) -> String {
    let ns = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    crate::report::aggregate::format_rfc3339(i128::try_from(ns).unwrap_or(0))
}

/// The command that re-sends the dead letter at `path`.
pub fn resend_command(path: &Path, resend_args: &str) -> String {
    format!(
        "hubble-ingest replay {} {resend_args}",
        shell_quote(&path.display().to_string())
    )
}

pub(crate) fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:=,@".contains(&b))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The sidecar of a dead letter: `x.ndjson` → `x.error.json`.
pub fn sidecar(path: &Path) -> PathBuf {
    path.with_extension("error.json")
}

/// Writes a dead letter: `<dir>/<seq>-<piece>-<sink>.ndjson` (exactly `payload`) and its `.error.json`, durably.
pub fn write(
    dir: &Path,
    seq: u64,
    piece: usize,
    sink: &str,
    payload: &[u8],
    info: &DeadLetterInfo,
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let safe: String = sink
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = dir.join(format!("{seq:020}-{piece:04}-{safe}.ndjson"));
    // The records go to a temporary name first and are renamed after the sidecar is durable: a `.ndjson` in the
    // directory always has its `.error.json`.
    let tmp = path.with_extension("ndjson.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(payload)?;
    f.sync_all()?;
    let meta = serde_json::json!({
        "sink": sink,
        "kind": info.kind.as_str(),
        "records": info.records,
        "status": info.status,
        "code": info.code,
        "message": info.message,
        "activity_id": info.activity_id,
        "client_request_id": info.client_request_id,
        "at": rfc3339(info.at),
        "resend": resend_command(&path, &info.resend_args),
    });
    let mut e = std::fs::File::create(sidecar(&path))?;
    writeln!(e, "{meta:#}")?;
    e.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    sync_dir(dir)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_file_holds_only_the_payload_and_the_sidecar_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let info = DeadLetterInfo {
            kind: DeadLetterKind::Rejected,
            status: Some(400),
            code: "BadRequest_MappingReferenceWasNotFound".into(),
            message: "Mapping 'M' \"quoted\" could not be found".into(),
            activity_id: Some("act".into()),
            client_request_id: Some("hubble-ingest.Ingest;id".into()),
            at: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(86_400),
            records: 2,
            resend_args: "--sink adx --adx-cluster https://c.kusto.windows.net".into(),
        };
        let path = write(dir.path(), 7, 1, "adx", b"{\"a\":1}\n{\"a\":2}\n", &info).unwrap();
        assert_eq!(
            path.file_name().unwrap().to_str().unwrap(),
            "00000000000000000007-0001-adx.ndjson"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"a\":1}\n{\"a\":2}\n");
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(sidecar(&path)).unwrap()).unwrap();
        assert_eq!(meta["kind"], "rejected");
        assert_eq!(meta["code"], "BadRequest_MappingReferenceWasNotFound");
        assert_eq!(meta["message"], "Mapping 'M' \"quoted\" could not be found");
        assert_eq!(meta["status"], 400);
        assert_eq!(meta["records"], 2);
        assert_eq!(meta["client_request_id"], "hubble-ingest.Ingest;id");
        assert!(meta["at"]
            .as_str()
            .unwrap()
            .starts_with("1970-01-02T00:00:00"));
        assert_eq!(
            meta["resend"],
            format!(
                "hubble-ingest replay {} --sink adx --adx-cluster https://c.kusto.windows.net",
                path.display()
            )
        );
    }

    #[test]
    fn resend_command_quotes_odd_paths() {
        assert_eq!(
            resend_command(Path::new("/a b/it's.ndjson"), "--sink adx"),
            r"hubble-ingest replay '/a b/it'\''s.ndjson' --sink adx"
        );
    }
}
