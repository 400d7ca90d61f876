//! Queued ingestion (Kusto "queued ingestion" REST protocol): `.get ingestion resources` and `.get kusto identity
//! token` on the data-management endpoint (cached for `resources_refresh`, dropped on storage
//! 403/404 so a rotated SAS is re-fetched), Put Blob `*.json.gz` to a TempStorage container and a
//! base64 ingestion message to a SecuredReadyForAggregationQueue, both rotated round-robin.
//! Guarantees: `RawDataSize` is the uncompressed size; with [`crate::Dedup::IngestBy`] (the
//! default) `tags` = `["ingest-by:<id>"]` and `ingestIfNotExists` = `["<id>"]` (JSON-encoded
//! strings), so a re-sent batch with the same id is not ingested twice; with
//! [`crate::Dedup::None`] neither is sent (no tag metadata, blobs aggregate; a re-send duplicates); SAS URLs and the authorization context never appear in logs or errors.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use base64::Engine;
use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use tokio::sync::Mutex;
use url::Url;

use crate::config::{check_endpoint, AdxConfig};
use crate::error::{classify_adx, Failure, IngestError};
use crate::http::{rfc3339_now, uuid_v4, RequestContext};
use crate::Secret;

pub(crate) const STORAGE_API_VERSION: &str = "2019-12-12";
/// Azure queue messages are limited to 64 KiB.
const MAX_QUEUE_MESSAGE: usize = 64 * 1024;

/// What `.get ingestion resources` + `.get kusto identity token` returned.
#[derive(Debug)]
pub(crate) struct Resources {
    /// TempStorage container URLs with SAS (secret).
    containers: Vec<Secret>,
    /// SecuredReadyForAggregationQueue URLs with SAS (secret).
    queues: Vec<Secret>,
    authorization_context: Secret,
    /// FailedIngestionsQueue URLs with SAS (secret): ADX's failure notifications.
    pub(crate) failure_queues: Vec<Secret>,
    /// SuccessfulIngestionsQueue URLs with SAS (secret): success notifications (ReportLevel 2).
    pub(crate) success_queues: Vec<Secret>,
    fetched_at: Instant,
}

/// The queued-ingestion state of one client.
#[derive(Debug)]
pub(crate) struct QueuedIngestor {
    mgmt_url: Url,
    resources: Mutex<Option<Arc<Resources>>>,
    next_container: AtomicUsize,
    next_queue: AtomicUsize,
}

/// The blob of one queued piece: compressed body plus what the message needs.
#[derive(Debug, Clone)]
pub(crate) struct QueuedBlob {
    pub gz: Bytes,
    pub raw_size: usize,
    /// The ingest-by / ingestIfNotExists key.
    pub dedup_id: String,
    /// The message `Id`, kept across retries: ADX's notifications name it as `IngestionSourceId`.
    pub source_id: String,
}

impl QueuedIngestor {
    pub(crate) fn new(config: &AdxConfig) -> Result<Self, crate::ConfigError> {
        let mut mgmt_url = config.resolved_ingest_endpoint()?;
        mgmt_url.set_path("/v1/rest/mgmt");
        mgmt_url.set_query(None);
        Ok(QueuedIngestor {
            mgmt_url,
            resources: Mutex::new(None),
            next_container: AtomicUsize::new(0),
            next_queue: AtomicUsize::new(0),
        })
    }

    /// Uploads the blob (unless a previous attempt did: `uploaded`) and posts the queue message.
    pub(crate) async fn ingest(
        &self,
        inner: &RequestContext,
        blob: &QueuedBlob,
        uploaded: &std::sync::Mutex<Option<Secret>>,
        token: Secret,
    ) -> Result<(), Failure> {
        let resources = self.resources(inner, &token).await?;
        let existing = uploaded.lock().map(|g| g.clone()).unwrap_or(None);
        let blob_url = match existing {
            Some(url) => url,
            None => {
                let url = self.put_blob(inner, &resources, blob).await?;
                if let Ok(mut g) = uploaded.lock() {
                    *g = Some(url.clone());
                }
                url
            }
        };
        let message = ingestion_message(&inner.config, &resources, &blob_url, blob);
        self.put_message(inner, &resources, &message).await
    }

    pub(crate) async fn resources(
        &self,
        inner: &RequestContext,
        token: &Secret,
    ) -> Result<Arc<Resources>, Failure> {
        let mut cached = self.resources.lock().await;
        if let Some(r) = cached.as_ref() {
            if r.fetched_at.elapsed() < inner.config.resources_refresh {
                return Ok(r.clone());
            }
        }
        let table = self.mgmt(inner, token, ".get ingestion resources").await?;
        let mut containers = Vec::new();
        let mut queues = Vec::new();
        let mut failure_queues = Vec::new();
        let mut success_queues = Vec::new();
        let kind = column(&table, "ResourceTypeName")?;
        let root = column(&table, "StorageRoot")?;
        for row in rows(&table) {
            let (Some(k), Some(r)) = (cell(row, kind), cell(row, root)) else {
                continue;
            };
            match k {
                "TempStorage" => containers.push(Secret::new(r)),
                "SecuredReadyForAggregationQueue" => queues.push(Secret::new(r)),
                "FailedIngestionsQueue" => failure_queues.push(Secret::new(r)),
                "SuccessfulIngestionsQueue" => success_queues.push(Secret::new(r)),
                _ => {}
            }
        }
        if containers.is_empty() || queues.is_empty() {
            return Err(Failure::transient(format!(
                ".get ingestion resources returned {} TempStorage and {} SecuredReadyForAggregationQueue entries",
                containers.len(),
                queues.len()
            )));
        }
        let identity = self.mgmt(inner, token, ".get kusto identity token").await?;
        let ctx_col = column(&identity, "AuthorizationContext")?;
        let authorization_context = rows(&identity)
            .next()
            .and_then(|row| cell(row, ctx_col))
            .map(Secret::new)
            .ok_or_else(|| {
                Failure::transient(".get kusto identity token returned no AuthorizationContext")
            })?;
        tracing::info!(
            containers = containers.len(),
            queues = queues.len(),
            "loaded ADX ingestion resources"
        );
        let fresh = Arc::new(Resources {
            containers,
            queues,
            authorization_context,
            failure_queues,
            success_queues,
            fetched_at: Instant::now(),
        });
        *cached = Some(fresh.clone());
        Ok(fresh)
    }

    pub(crate) async fn forget_resources(&self) {
        *self.resources.lock().await = None;
    }

    /// `POST {ingest}/v1/rest/mgmt` and return the first table of the v1 response.
    async fn mgmt(
        &self,
        inner: &RequestContext,
        token: &Secret,
        csl: &str,
    ) -> Result<serde_json::Value, Failure> {
        let body = serde_json::json!({"db": "NetDefaultDB", "csl": csl}).to_string();
        let response = inner
            .http
            .post(self.mgmt_url.clone())
            .bearer_auth(token.expose())
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .header(ACCEPT, "application/json")
            .header(
                "x-ms-client-request-id",
                format!("{}.Mgmt;{}", inner.config.app_name, uuid_v4()),
            )
            .header("x-ms-app", &inner.config.app_name)
            .header("x-ms-client-version", &inner.client_version)
            .body(body)
            .send()
            .await
            .map_err(|e| Failure::from_reqwest(csl, e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Failure::from_reqwest(csl, e))?;
        if !status.is_success() {
            return Err(match classify_adx(status, &headers, &bytes) {
                Failure::Transient {
                    reason,
                    retry_after,
                    kind,
                } => Failure::Transient {
                    reason: format!("{csl}: {reason}"),
                    retry_after,
                    kind,
                },
                other => other,
            });
        }
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|_| Failure::transient(format!("{csl}: response is not JSON")))?;
        value
            .get("Tables")
            .and_then(|t| t.get(0))
            .cloned()
            .ok_or_else(|| Failure::transient(format!("{csl}: response has no Tables[0]")))
    }

    async fn put_blob(
        &self,
        inner: &RequestContext,
        resources: &Resources,
        blob: &QueuedBlob,
    ) -> Result<Secret, Failure> {
        let i = self.next_container.fetch_add(1, Ordering::Relaxed) % resources.containers.len();
        let name = format!(
            "{}__{}__{}__{}.json.gz",
            sanitize(&inner.config.database),
            sanitize(&inner.config.table),
            &blob.dedup_id,
            uuid_v4()
        );
        let url = storage_url(resources.containers[i].expose(), Some(&name), "TempStorage")?;
        let response = inner
            .http
            .put(url.clone())
            .header("x-ms-blob-type", "BlockBlob")
            .header("x-ms-version", STORAGE_API_VERSION)
            .header(
                "x-ms-date",
                httpdate::fmt_http_date(std::time::SystemTime::now()),
            )
            .header("x-ms-client-request-id", uuid_v4())
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(blob.gz.clone())
            .send()
            .await
            .map_err(|e| Failure::from_reqwest("put blob", e))?;
        self.storage_outcome("put blob", response).await?;
        Ok(Secret::new(url.as_str()))
    }

    async fn put_message(
        &self,
        inner: &RequestContext,
        resources: &Resources,
        message: &Secret,
    ) -> Result<(), Failure> {
        let encoded = base64::engine::general_purpose::STANDARD.encode(message.expose());
        if encoded.len() > MAX_QUEUE_MESSAGE {
            return Err(Failure::Permanent(IngestError::client(
                "QueueMessageTooLarge",
                format!(
                    "ingestion message is {} bytes base64, the queue limit is 64 KiB",
                    encoded.len()
                ),
            )));
        }
        let i = self.next_queue.fetch_add(1, Ordering::Relaxed) % resources.queues.len();
        let url = storage_url(
            resources.queues[i].expose(),
            Some("messages"),
            "SecuredReadyForAggregationQueue",
        )?;
        let response = inner
            .http
            .post(url)
            .header("x-ms-version", STORAGE_API_VERSION)
            .header(
                "x-ms-date",
                httpdate::fmt_http_date(std::time::SystemTime::now()),
            )
            .header("x-ms-client-request-id", uuid_v4())
            .header(CONTENT_TYPE, "application/xml")
            .body(format!(
                "<QueueMessage><MessageText>{encoded}</MessageText></QueueMessage>"
            ))
            .send()
            .await
            .map_err(|e| Failure::from_reqwest("put message", e))?;
        self.storage_outcome("put message", response).await
    }

    /// 2xx → ok; 403/404 → forget resources (SAS rotated/expired) and retry; anything else → retry.
    async fn storage_outcome(
        &self,
        what: &str,
        response: reqwest::Response,
    ) -> Result<(), Failure> {
        let status = response.status();
        if status.is_success() {
            let _ = response.bytes().await;
            return Ok(());
        }
        let code = response
            .headers()
            .get("x-ms-error-code")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let retry_after = crate::error::retry_after(response.headers());
        let _ = response.bytes().await;
        if matches!(status.as_u16(), 401 | 403 | 404) {
            self.forget_resources().await;
        }
        Err(Failure::Transient {
            reason: format!("{what}: storage answered {status} {code}"),
            retry_after,
            kind: crate::error::RetryReason::for_status(status.as_u16()),
        })
    }
}

/// Appends `/{name}` to the path of a SAS URL, keeping its query; refuses insecure storage URLs.
pub(crate) fn storage_url(
    sas_url: &str,
    name: Option<&str>,
    what: &'static str,
) -> Result<Url, Failure> {
    let mut url = Url::parse(sas_url).map_err(|_| {
        Failure::transient(format!(
            "{what} URL from .get ingestion resources is not a URL"
        ))
    })?;
    if check_endpoint("storage URL", &url).is_err() {
        return Err(Failure::Permanent(IngestError::client(
            "InsecureStorageUrl",
            format!("{what} URL from .get ingestion resources is not https and not loopback"),
        )));
    }
    if let Some(name) = name {
        let path = format!("{}/{}", url.path().trim_end_matches('/'), name);
        url.set_path(&path);
    }
    Ok(url)
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The ingestion message JSON (the queued-ingestion message format). Secret: holds the SAS and the auth context.
pub(crate) fn ingestion_message(
    config: &AdxConfig,
    resources: &Resources,
    blob_url: &Secret,
    blob: &QueuedBlob,
) -> Secret {
    let mut message = serde_json::json!({
        "Id": blob.source_id,
        "BlobPath": blob_url.expose(),
        "RawDataSize": blob.raw_size,
        "DatabaseName": config.database,
        "TableName": config.table,
        "RetainBlobOnSuccess": false,
        "FlushImmediately": false,
        // 0 = failures only, 2 = failures and successes (a success lets the caller release its copy).
        "ReportLevel": if config.report_successes { 2 } else { 0 },
        "ReportMethod": 0,
        "SourceMessageCreationTime": rfc3339_now(),
        "ApplicationForTracing": config.app_name,
        "ClientVersionForTracing": format!("hubble-adx:{}", env!("CARGO_PKG_VERSION")),
        "AdditionalProperties": {
            "authorizationContext": resources.authorization_context.expose(),
            "format": "json",
            "ingestionMappingReference": config.mapping,
            "ingestionMappingType": "Json",
        }
    });
    if config.dedup == crate::Dedup::IngestBy {
        let tags = serde_json::json!([format!("ingest-by:{}", blob.dedup_id)]).to_string();
        let if_not_exists = serde_json::json!([blob.dedup_id]).to_string();
        message["AdditionalProperties"]["tags"] = tags.into();
        message["AdditionalProperties"]["ingestIfNotExists"] = if_not_exists.into();
    }
    Secret::new(message.to_string())
}

fn column(table: &serde_json::Value, name: &str) -> Result<usize, Failure> {
    table
        .get("Columns")
        .and_then(|c| c.as_array())
        .and_then(|cols| {
            cols.iter()
                .position(|c| c.get("ColumnName").and_then(|n| n.as_str()) == Some(name))
        })
        .ok_or_else(|| Failure::transient(format!("management response has no column {name}")))
}

fn rows(table: &serde_json::Value) -> impl Iterator<Item = &serde_json::Value> {
    table
        .get("Rows")
        .and_then(|r| r.as_array())
        .map(|r| r.iter())
        .into_iter()
        .flatten()
}

fn cell(row: &serde_json::Value, index: usize) -> Option<&str> {
    row.get(index).and_then(|v| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_fields() {
        let config = AdxConfig::new(
            Url::parse("https://c.kusto.windows.net").unwrap(),
            "db",
            "T",
            "M",
            crate::AuthConfig::StaticToken(Secret::new("t")),
        );
        let resources = Resources {
            containers: vec![],
            queues: vec![],
            authorization_context: Secret::new("ctx"),
            failure_queues: vec![],
            success_queues: vec![],
            fetched_at: Instant::now(),
        };
        let blob = QueuedBlob {
            gz: Bytes::new(),
            raw_size: 1234,
            dedup_id: "abc".to_string(),
            source_id: "5a1e0000-0000-4000-8000-000000000001".to_string(),
        };
        let m = ingestion_message(
            &config,
            &resources,
            &Secret::new("https://a/b?sig=1"),
            &blob,
        );
        let v: serde_json::Value = serde_json::from_str(m.expose()).unwrap();
        assert_eq!(v["RawDataSize"], 1234);
        assert_eq!(v["Id"], "5a1e0000-0000-4000-8000-000000000001");
        assert_eq!(v["ReportLevel"], 0);
        assert_eq!(v["DatabaseName"], "db");
        assert_eq!(v["AdditionalProperties"]["tags"], "[\"ingest-by:abc\"]");
        assert_eq!(v["AdditionalProperties"]["ingestIfNotExists"], "[\"abc\"]");
        assert_eq!(v["AdditionalProperties"]["format"], "json");
        assert_eq!(v["AdditionalProperties"]["authorizationContext"], "ctx");

        let mut untagged = config.clone();
        untagged.dedup = crate::Dedup::None;
        let m = ingestion_message(&untagged, &resources, &Secret::new("https://a/b"), &blob);
        let v: serde_json::Value = serde_json::from_str(m.expose()).unwrap();
        assert!(v["AdditionalProperties"].get("tags").is_none(), "{v}");
        assert!(
            v["AdditionalProperties"].get("ingestIfNotExists").is_none(),
            "{v}"
        );
        assert_eq!(v["AdditionalProperties"]["ingestionMappingReference"], "M");

        let mut reporting = config.clone();
        reporting.report_successes = true;
        let m = ingestion_message(&reporting, &resources, &Secret::new("https://a/b"), &blob);
        let v: serde_json::Value = serde_json::from_str(m.expose()).unwrap();
        assert_eq!(v["ReportLevel"], 2);
    }

    #[test]
    fn storage_url_keeps_sas() {
        let u = storage_url(
            "https://acct.blob.core.windows.net/cont?sv=1&sig=x",
            Some("a.json.gz"),
            "t",
        )
        .unwrap();
        assert_eq!(
            u.as_str(),
            "https://acct.blob.core.windows.net/cont/a.json.gz?sv=1&sig=x"
        );
        assert!(matches!(
            storage_url("http://acct.blob.core.windows.net/c?sig=x", None, "t"),
            Err(Failure::Permanent(_))
        ));
    }
}
