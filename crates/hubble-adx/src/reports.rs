//! ADX's notifications about queued blobs: the `FailedIngestionsQueue` and
//! `SuccessfulIngestionsQueue` storage queues that `.get ingestion resources` lists.
//!
//! Owns: reading them (Azure Queue REST `GET {queue}/messages?numofmessages=32&visibilitytimeout=N`
//! with the SAS from `.get ingestion resources`), decoding each message (base64 of the status JSON:
//! `IngestionSourceId`, `Database`, `Table`, `ErrorCode`, `Details`, `FailureStatus`, `OperationId`,
//! `RootActivityId`, `FailedOn`/`SucceededOn` — the fields Microsoft's SDKs read), and deleting a
//! handled one (`DELETE {queue}/messages/{id}?popreceipt=…`).
//!
//! Guarantees: only notifications for this client's database and table are returned; a message is
//! deleted only when the caller acknowledges it, so notifications about other clients' blobs (the
//! queues are shared by everything ingesting into the cluster) reappear after the visibility timeout
//! for their owner; SAS URLs never appear in a report, a log line or an error (a report names its
//! queue by position, and the blob path is reported without its query).

use std::time::Duration;

use base64::Engine;

use crate::auth::TokenProvider;
use crate::error::{Failure, IngestError};
use crate::http::{uuid_v4, RequestContext};
use crate::queued::{storage_url, QueuedIngestor, STORAGE_API_VERSION};

/// Which queue a notification came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// `FailedIngestionsQueue`: ADX did not ingest the blob.
    Failure,
    /// `SuccessfulIngestionsQueue` (only with `ReportLevel` 2): ADX ingested the blob.
    Success,
}

/// One notification about a queued blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestionReport {
    pub kind: ReportKind,
    /// The ingestion message `Id` the blob was queued with ([`crate::QueuedSource::source_id`]).
    pub source_id: String,
    pub database: String,
    pub table: String,
    /// ADX error code (`BadRequest_MappingReferenceWasNotFound`, ...); empty for a success.
    pub error_code: String,
    /// ADX's description of the failure; empty for a success.
    pub details: String,
    /// `Permanent`, `Transient`, `Exhausted` or `Unknown`; empty for a success.
    pub failure_status: String,
    pub operation_id: String,
    pub root_activity_id: String,
    /// `FailedOn` / `SucceededOn` as ADX wrote it.
    pub at: String,
    /// The blob's path without its SAS query.
    pub blob: String,
    queue: usize,
    message_id: String,
    pop_receipt: String,
}

fn transient(reason: String) -> IngestError {
    IngestError::RetriesExhausted {
        attempts: 1,
        last: reason,
    }
}

fn from_failure(f: Failure) -> IngestError {
    match f {
        Failure::Permanent(e) => e,
        Failure::Unauthorized(m) | Failure::TooLarge(m) => transient(m),
        Failure::Transient { reason, .. } => transient(reason),
    }
}

/// Reads up to 32 notifications from every failure and success queue.
pub(crate) async fn poll(
    ctx: &RequestContext,
    queued: &QueuedIngestor,
    tokens: &TokenProvider,
    visibility: Duration,
) -> Result<Vec<IngestionReport>, IngestError> {
    let token = tokens
        .token()
        .await
        .map_err(|e| transient(format!("cannot obtain an access token: {e}")))?;
    let resources = queued.resources(ctx, &token).await.map_err(from_failure)?;
    let mut reports = Vec::new();
    let visibility = visibility.as_secs().clamp(1, 7 * 24 * 3600);
    for (kind, queues) in [
        (ReportKind::Failure, &resources.failure_queues),
        (ReportKind::Success, &resources.success_queues),
    ] {
        for (index, queue) in queues.iter().enumerate() {
            let mut url = storage_url(queue.expose(), Some("messages"), "ingestion status queue")
                .map_err(from_failure)?;
            url.query_pairs_mut()
                .append_pair("numofmessages", "32")
                .append_pair("visibilitytimeout", &visibility.to_string());
            let response = ctx
                .http
                .get(url)
                .header("x-ms-version", STORAGE_API_VERSION)
                .header("x-ms-client-request-id", uuid_v4())
                .send()
                .await
                .map_err(|e| from_failure(Failure::from_reqwest("get status messages", e)))?;
            let status = response.status();
            let body = response
                .bytes()
                .await
                .map_err(|e| from_failure(Failure::from_reqwest("get status messages", e)))?;
            if !status.is_success() {
                if matches!(status.as_u16(), 401 | 403 | 404) {
                    queued.forget_resources().await;
                }
                return Err(transient(format!(
                    "get status messages: storage answered {status}"
                )));
            }
            let xml = String::from_utf8_lossy(&body);
            for message in messages(&xml) {
                match decode(kind, index, &message) {
                    Some(r) if r.database == ctx.config.database && r.table == ctx.config.table => {
                        reports.push(r)
                    }
                    Some(_) => {}
                    None => tracing::warn!(
                        message_id = %message.id,
                        "an ingestion status message is not base64 JSON; leaving it in the queue"
                    ),
                }
            }
        }
    }
    Ok(reports)
}

/// Deletes a handled notification (404: already gone, fine).
pub(crate) async fn ack(
    ctx: &RequestContext,
    queued: &QueuedIngestor,
    tokens: &TokenProvider,
    report: &IngestionReport,
) -> Result<(), IngestError> {
    let token = tokens
        .token()
        .await
        .map_err(|e| transient(format!("cannot obtain an access token: {e}")))?;
    let resources = queued.resources(ctx, &token).await.map_err(from_failure)?;
    let queues = match report.kind {
        ReportKind::Failure => &resources.failure_queues,
        ReportKind::Success => &resources.success_queues,
    };
    let queue = queues
        .get(report.queue)
        .ok_or_else(|| transient("the status queue is no longer listed".to_string()))?;
    let mut url = storage_url(
        queue.expose(),
        Some(&format!("messages/{}", report.message_id)),
        "ingestion status queue",
    )
    .map_err(from_failure)?;
    url.query_pairs_mut()
        .append_pair("popreceipt", &report.pop_receipt);
    let response = ctx
        .http
        .delete(url)
        .header("x-ms-version", STORAGE_API_VERSION)
        .header("x-ms-client-request-id", uuid_v4())
        .send()
        .await
        .map_err(|e| from_failure(Failure::from_reqwest("delete status message", e)))?;
    let status = response.status();
    let _ = response.bytes().await;
    if status.is_success() || status.as_u16() == 404 {
        Ok(())
    } else {
        Err(transient(format!(
            "delete status message: storage answered {status}"
        )))
    }
}

/// One `<QueueMessage>` of a Get Messages response.
#[derive(Debug, PartialEq, Eq)]
struct QueueMessage {
    id: String,
    pop_receipt: String,
    text: String,
}

fn messages(xml: &str) -> Vec<QueueMessage> {
    xml.split("<QueueMessage>")
        .skip(1)
        .filter_map(|part| {
            let part = part.split("</QueueMessage>").next()?;
            Some(QueueMessage {
                id: xml_value(part, "MessageId")?,
                pop_receipt: xml_value(part, "PopReceipt")?,
                text: xml_value(part, "MessageText")?,
            })
        })
        .collect()
}

fn xml_value(xml: &str, tag: &str) -> Option<String> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

fn decode(kind: ReportKind, queue: usize, message: &QueueMessage) -> Option<IngestionReport> {
    let json = base64::engine::general_purpose::STANDARD
        .decode(message.text.trim())
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&json).ok()?;
    let text = |key: &str| match value.get(key) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let source_id = text("IngestionSourceId");
    if source_id.is_empty() {
        return None;
    }
    let failure_status = match value.get("FailureStatus") {
        Some(serde_json::Value::Number(n)) => match n.as_u64() {
            Some(1) => "Permanent",
            Some(2) => "Transient",
            Some(3) => "Exhausted",
            _ => "Unknown",
        }
        .to_string(),
        _ => text("FailureStatus"),
    };
    let blob = text("IngestionSourcePath");
    let blob = blob.split('?').next().unwrap_or_default().to_string();
    let at = match kind {
        ReportKind::Failure => text("FailedOn"),
        ReportKind::Success => text("SucceededOn"),
    };
    Some(IngestionReport {
        kind,
        source_id,
        database: text("Database"),
        table: text("Table"),
        error_code: text("ErrorCode"),
        details: text("Details"),
        failure_status,
        operation_id: text("OperationId"),
        root_activity_id: text("RootActivityId"),
        at,
        blob,
        queue,
        message_id: message.id.clone(),
        pop_receipt: message.pop_receipt.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_messages_response_decodes() {
        let status = serde_json::json!({
            "OperationId": "op-1", "Database": "Net", "Table": "HubbleFlows",
            "FailedOn": "2026-12-04T10:00:00Z", "IngestionSourceId": "src-1",
            "IngestionSourcePath": "https://acct.blob.core.windows.net/c/b.json.gz?sig=SECRET",
            "Details": "Mapping reference 'M' of type 'Json' in database 'Net' could not be found.",
            "ErrorCode": "BadRequest_MappingReferenceWasNotFound", "FailureStatus": "Permanent",
            "RootActivityId": "act-1", "OriginatesFromUpdatePolicy": false, "ShouldRetry": false
        })
        .to_string();
        let text = base64::engine::general_purpose::STANDARD.encode(status);
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><QueueMessagesList><QueueMessage><MessageId>m-1</MessageId>\
             <InsertionTime>Fri, 04 Dec 2026 10:00:00 GMT</InsertionTime><PopReceipt>AgAAAA&amp;x==</PopReceipt>\
             <DequeueCount>1</DequeueCount><MessageText>{text}</MessageText></QueueMessage></QueueMessagesList>"
        );
        let list = messages(&xml);
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].pop_receipt, "AgAAAA&x==");
        let r = decode(ReportKind::Failure, 0, &list[0]).unwrap();
        assert_eq!(r.source_id, "src-1");
        assert_eq!(r.error_code, "BadRequest_MappingReferenceWasNotFound");
        assert_eq!(r.failure_status, "Permanent");
        assert_eq!(r.blob, "https://acct.blob.core.windows.net/c/b.json.gz");
        assert!(!format!("{r:?}").contains("SECRET"));
        let numeric = QueueMessage {
            id: "m".into(),
            pop_receipt: "p".into(),
            text: base64::engine::general_purpose::STANDARD
                .encode(r#"{"IngestionSourceId":"s","FailureStatus":2}"#),
        };
        assert_eq!(
            decode(ReportKind::Failure, 0, &numeric)
                .unwrap()
                .failure_status,
            "Transient"
        );
        let junk = QueueMessage {
            id: "m".into(),
            pop_receipt: "p".into(),
            text: "not base64 json".into(),
        };
        assert!(decode(ReportKind::Failure, 0, &junk).is_none());
        assert!(messages("<QueueMessagesList />").is_empty());
    }
}
