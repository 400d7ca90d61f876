//! A minimal ADX stand-in on 127.0.0.1 for driving the binary's `adx` sink: the Azure AD token endpoint
//! (`POST /{tenant}/oauth2/v2.0/token`) and streaming ingestion (`POST /v1/rest/ingest/{db}/{table}?...`, gzip
//! body). It answers as ADX does: a successful ingest with the v1 result table ([`STREAMING_RESULT`], which the
//! official Python SDK parses), errors with OneApiError bodies. It records every ingested record and can be
//! switched between [`Mode`]s: up, 503, 429 with `Retry-After`, connection refused (listener closed and open
//! connections aborted), or a permanent 400 (mapping not found); [`AdxStandIn::reject_request`] rejects
//! exactly the n-th streaming request, and [`AdxStandIn::lose_reply`] ingests one and drops the connection.
//!
//! It runs on its own small tokio runtime so tests stay plain `#[test]` functions.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The body ADX sends when an ingestion mapping does not exist (a permanent error, OneApiError format).
pub const MAPPING_NOT_FOUND: &str = r#"{"error":{"code":"BadRequest_MappingReferenceWasNotFound","message":"Request is invalid and cannot be executed.","@type":"Kusto.DataNode.Exceptions.MappingNotFoundException","@message":"Mapping reference 'HubbleFlowsMapping' of type 'mappingReference' in database 'db' could not be found.","@context":{"timestamp":"2026-01-01T00:00:00.0000000Z","serviceAlias":"STANDIN","clientRequestId":"","activityId":"standin-activity"},"@permanent":true}}"#;

/// The `@message` of [`MAPPING_NOT_FOUND`]: what a dead letter's message must say.
pub const MAPPING_NOT_FOUND_MESSAGE: &str =
    "Mapping reference 'HubbleFlowsMapping' of type 'mappingReference' in database 'db' could not be found.";

/// What ADX answers a successful streaming ingest with: a v1 REST result set with one table (the shape
/// Microsoft's SDK tests mock in `azure-kusto-ingest/tests/test_kusto_streaming_ingest_client.py`; the Python
/// SDK parses it as `KustoResponseDataSetV1` and fails on `{}` and on `{"Tables":[]}`).
pub const STREAMING_RESULT: &str = r#"{"Tables":[{"TableName":"Table_0","Columns":[{"ColumnName":"ConsumedRecordsCount","DataType":"Int64"},{"ColumnName":"UpdatePolicyStatus","DataType":"String"},{"ColumnName":"UpdatePolicyFailureCode","DataType":"String"},{"ColumnName":"UpdatePolicyFailureReason","DataType":"String"}],"Rows":[[0,"Inactive","Unknown",null]]}]}"#;

/// How the stand-in answers streaming ingestion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Ingest and answer 200.
    Up,
    /// Answer 503 (transient); the token endpoint still works.
    Unavailable,
    /// Refuse connections: the listener is closed and open connections are aborted.
    Refused,
    /// Answer 400 with [`MAPPING_NOT_FOUND`] (permanent).
    RejectMapping,
    /// Answer 429 with `Retry-After: 1` (throttled).
    Throttled,
    /// Ingest and answer 200 with `{}` — what the stand-in answered before it was made faithful; only as the
    /// negative control of the SDK test (Microsoft's SDK fails on it).
    EmptyReply,
}

#[derive(Default)]
struct Shared {
    records: Mutex<Vec<String>>,
    ok_requests: AtomicUsize,
    failed_requests: AtomicUsize,
    token_requests: AtomicUsize,
    /// The `scope` of every token request.
    token_scopes: Mutex<Vec<String>>,
    /// `KustoServiceResourceId` answered at `/v1/rest/auth/metadata`; `None`: 404 (as a cluster without it).
    metadata_resource: Mutex<Option<String>>,
    metadata_requests: AtomicUsize,
    /// `(ResourceTypeName, StorageRoot)` rows answered to `.get ingestion resources` (queued ingestion).
    ingestion_resources: Mutex<Vec<(String, String)>>,
    bad_bodies: AtomicUsize,
    connections: Mutex<Vec<tokio::task::AbortHandle>>,
    /// Streaming requests seen (1-based numbering for `reject_nth`).
    stream_requests: AtomicUsize,
    /// Reject exactly this streaming request (1-based) with [`MAPPING_NOT_FOUND`].
    reject_nth: Mutex<Option<usize>>,
    /// Ingest the next streaming request, then drop the connection without a reply.
    lose_next_reply: std::sync::atomic::AtomicBool,
    /// Rejected requests: (`x-ms-client-request-id`, their record lines).
    rejected: Mutex<Vec<(String, Vec<String>)>>,
}

/// The running stand-in.
pub struct AdxStandIn {
    addr: SocketAddr,
    shared: Arc<Shared>,
    mode: watch::Sender<Mode>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl AdxStandIn {
    /// Starts on a free port of 127.0.0.1 in `mode`.
    pub fn start(mode: Mode) -> AdxStandIn {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("stand-in runtime");
        let first = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        let addr = first.local_addr().expect("local addr");
        let shared = Arc::new(Shared::default());
        let (tx, rx) = watch::channel(mode);
        runtime.spawn(accept_loop(addr, Some(first), Arc::clone(&shared), rx));
        AdxStandIn {
            addr,
            shared,
            mode: tx,
            runtime: Some(runtime),
        }
    }

    /// `http://127.0.0.1:PORT` (cluster URL and authority host).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Switches the mode.
    pub fn set_mode(&self, mode: Mode) {
        self.mode.send_replace(mode);
        if mode == Mode::Refused {
            if let Ok(mut c) = self.shared.connections.lock() {
                for h in c.drain(..) {
                    h.abort();
                }
            }
        }
    }

    /// Every record line ingested so far.
    pub fn records(&self) -> Vec<String> {
        self.shared
            .records
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// The `Uuid` of every record ingested so far.
    pub fn uuids(&self) -> Vec<String> {
        self.records()
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v["Uuid"].as_str().map(str::to_owned))
            .collect()
    }

    /// Streaming requests answered 200.
    pub fn ok_requests(&self) -> usize {
        self.shared.ok_requests.load(Ordering::SeqCst)
    }

    /// Streaming requests answered with an error (503 or 400).
    pub fn failed_requests(&self) -> usize {
        self.shared.failed_requests.load(Ordering::SeqCst)
    }

    /// Rejects exactly the `n`-th streaming request (1-based, counted from the start) with 400
    /// [`MAPPING_NOT_FOUND`], whatever the mode.
    pub fn reject_request(&self, n: usize) {
        if let Ok(mut r) = self.shared.reject_nth.lock() {
            *r = Some(n);
        }
    }

    /// Ingests the next streaming request, then drops its connection without answering (a lost reply).
    pub fn lose_reply(&self) {
        self.shared.lose_next_reply.store(true, Ordering::SeqCst);
    }

    /// Requests rejected with a permanent error: (`x-ms-client-request-id`, their record lines).
    pub fn rejected(&self) -> Vec<(String, Vec<String>)> {
        self.shared
            .rejected
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// Token requests served.
    pub fn token_requests(&self) -> usize {
        self.shared.token_requests.load(Ordering::SeqCst)
    }

    /// The `scope` of every token request so far.
    pub fn token_scopes(&self) -> Vec<String> {
        self.shared
            .token_scopes
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Answers `/v1/rest/auth/metadata` with this `KustoServiceResourceId` (default: 404).
    pub fn set_metadata_resource(&self, resource: &str) {
        if let Ok(mut m) = self.shared.metadata_resource.lock() {
            *m = Some(resource.to_owned());
        }
    }

    /// Answers `.get ingestion resources` on `/v1/rest/mgmt` with these `(ResourceTypeName, StorageRoot)` rows
    /// (and `.get kusto identity token` with a fixed context), for queued ingestion into Azurite.
    pub fn set_ingestion_resources(&self, rows: &[(&str, String)]) {
        if let Ok(mut r) = self.shared.ingestion_resources.lock() {
            *r = rows
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect();
        }
    }

    /// `/v1/rest/auth/metadata` requests so far.
    pub fn metadata_requests(&self) -> usize {
        self.shared.metadata_requests.load(Ordering::SeqCst)
    }

    /// Streaming bodies that were not gzip NDJSON of JSON objects.
    pub fn bad_bodies(&self) -> usize {
        self.shared.bad_bodies.load(Ordering::SeqCst)
    }

    /// Arguments for `run`/`replay` sending to this stand-in (with [`AdxStandIn::env`]).
    pub fn sink_args(&self) -> Vec<String> {
        [
            "--sink",
            "adx",
            "--adx-cluster",
            &self.url(),
            "--adx-database",
            "db",
            "--adx-auth",
            "client-secret",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    /// The Azure identity variables for client-secret auth against this stand-in.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AZURE_TENANT_ID".into(), "tenant".into()),
            ("AZURE_CLIENT_ID".into(), "client".into()),
            ("AZURE_CLIENT_SECRET".into(), "not-a-real-secret".into()),
            ("AZURE_AUTHORITY_HOST".into(), format!("{}/", self.url())),
        ]
    }
}

impl Drop for AdxStandIn {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

async fn accept_loop(
    addr: SocketAddr,
    mut listener: Option<TcpListener>,
    shared: Arc<Shared>,
    mut rx: watch::Receiver<Mode>,
) {
    loop {
        let mode = *rx.borrow_and_update();
        if mode == Mode::Refused {
            listener = None;
            if rx.changed().await.is_err() {
                return;
            }
            continue;
        }
        if listener.is_none() {
            match TcpListener::bind(addr).await {
                Ok(l) => listener = Some(l),
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            }
        }
        let Some(l) = listener.as_ref() else { continue };
        tokio::select! {
            accepted = l.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let s = Arc::clone(&shared);
                let m = rx.clone();
                let task = tokio::spawn(async move {
                    let svc = service_fn(move |req| handle(Arc::clone(&s), m.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
                if let Ok(mut c) = shared.connections.lock() {
                    c.retain(|h| !h.is_finished());
                    c.push(task.abort_handle());
                }
            }
            changed = rx.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

/// `application/x-www-form-urlencoded` value → text (`+` and `%XX`).
fn percent_decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn reply(status: u16, body: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_owned())));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

/// The connection is dropped without a reply (a lost reply).
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("reply dropped on purpose")
    }
}

impl std::error::Error for Dropped {}

async fn handle(
    shared: Arc<Shared>,
    mode: watch::Receiver<Mode>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let path = req.uri().path().to_owned();
    let post = req.method() == hyper::Method::POST;
    let request_id = req
        .headers()
        .get("x-ms-client-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let gzip = req
        .headers()
        .get(hyper::header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes() == b"gzip");
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(reply(400, "{}")),
    };
    if !post && path == "/v1/rest/auth/metadata" {
        shared.metadata_requests.fetch_add(1, Ordering::SeqCst);
        let resource = shared.metadata_resource.lock().ok().and_then(|m| m.clone());
        if let Some(resource) = resource {
            let body = serde_json::json!({"AzureAD": {
                "LoginEndpoint": "https://login.microsoftonline.com", "LoginMfaRequired": false,
                "KustoClientAppId": "db662dc1-0cfe-4e1c-a843-19a68e65be58",
                "KustoServiceResourceId": resource}})
            .to_string();
            return Ok(reply(200, &body));
        }
    }
    if post && path.ends_with("/oauth2/v2.0/token") {
        shared.token_requests.fetch_add(1, Ordering::SeqCst);
        let scope = String::from_utf8_lossy(&body)
            .split('&')
            .find_map(|kv| kv.strip_prefix("scope="))
            .map(percent_decode)
            .unwrap_or_default();
        if let Ok(mut s) = shared.token_scopes.lock() {
            s.push(scope);
        }
        return Ok(reply(
            200,
            r#"{"token_type":"Bearer","expires_in":3600,"access_token":"standin-token"}"#,
        ));
    }
    if post && path == "/v1/rest/mgmt" {
        let csl = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["csl"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let table = |column: &str, rows: Vec<serde_json::Value>| {
            serde_json::json!({"Tables": [{"TableName": "Table_0",
                "Columns": [{"ColumnName": "ResourceTypeName", "DataType": "String"},
                            {"ColumnName": column, "DataType": "String"}],
                "Rows": rows}]})
            .to_string()
        };
        if csl == ".get ingestion resources" {
            let rows = shared
                .ingestion_resources
                .lock()
                .map(|r| r.iter().map(|(k, v)| serde_json::json!([k, v])).collect())
                .unwrap_or_default();
            return Ok(reply(200, &table("StorageRoot", rows)));
        }
        if csl == ".get kusto identity token" {
            let body = serde_json::json!({"Tables": [{"TableName": "Table_0",
                "Columns": [{"ColumnName": "AuthorizationContext", "DataType": "String"}],
                "Rows": [["standin-authorization-context"]]}]})
            .to_string();
            return Ok(reply(200, &body));
        }
    }
    if !(post && path.starts_with("/v1/rest/ingest/")) {
        return Ok(reply(
            404,
            r#"{"error":{"code":"NotFound","message":"no such path"}}"#,
        ));
    }
    let n = shared.stream_requests.fetch_add(1, Ordering::SeqCst) + 1;
    let reject_this = shared.reject_nth.lock().is_ok_and(|r| *r == Some(n));
    let current = if reject_this {
        Mode::RejectMapping
    } else {
        *mode.borrow()
    };
    match current {
        Mode::Unavailable | Mode::Refused => {
            shared.failed_requests.fetch_add(1, Ordering::SeqCst);
            return Ok(reply(
                503,
                r#"{"error":{"code":"ServiceUnavailable","message":"down for the test","@permanent":false}}"#,
            ));
        }
        Mode::Throttled => {
            shared.failed_requests.fetch_add(1, Ordering::SeqCst);
            let mut r = reply(
                429,
                r#"{"error":{"code":"TooManyRequests","message":"throttled for the test","@permanent":false}}"#,
            );
            r.headers_mut().insert(
                hyper::header::RETRY_AFTER,
                hyper::header::HeaderValue::from_static("1"),
            );
            return Ok(r);
        }
        Mode::RejectMapping => {
            shared.failed_requests.fetch_add(1, Ordering::SeqCst);
            let lines = gunzip_lines(gzip, &body);
            if let Ok(mut r) = shared.rejected.lock() {
                r.push((request_id, lines));
            }
            return Ok(reply(400, MAPPING_NOT_FOUND));
        }
        Mode::Up | Mode::EmptyReply => {}
    }
    let mut raw = Vec::new();
    let decoded = if gzip {
        flate2::read::MultiGzDecoder::new(&body[..])
            .read_to_end(&mut raw)
            .is_ok()
    } else {
        raw.extend_from_slice(&body);
        true
    };
    let text = String::from_utf8(raw).unwrap_or_default();
    let lines: Vec<&str> = text.split('\n').filter(|l| !l.is_empty()).collect();
    let all_json = lines
        .iter()
        .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| v.is_object()));
    if !decoded || !all_json || lines.is_empty() {
        shared.bad_bodies.fetch_add(1, Ordering::SeqCst);
        return Ok(reply(
            400,
            r#"{"error":{"code":"BadRequest_NoRecordsOrWrongFormat","message":"bad body","@permanent":true}}"#,
        ));
    }
    if let Ok(mut r) = shared.records.lock() {
        r.extend(lines.iter().map(|l| (*l).to_owned()));
    }
    if shared.lose_next_reply.swap(false, Ordering::SeqCst) {
        return Err(Dropped);
    }
    shared.ok_requests.fetch_add(1, Ordering::SeqCst);
    if current == Mode::EmptyReply {
        return Ok(reply(200, "{}"));
    }
    Ok(reply(200, STREAMING_RESULT))
}

/// The record lines of a (gzip) request body.
fn gunzip_lines(gzip: bool, body: &[u8]) -> Vec<String> {
    let mut raw = Vec::new();
    if gzip {
        let _ = flate2::read::MultiGzDecoder::new(body).read_to_end(&mut raw);
    } else {
        raw.extend_from_slice(body);
    }
    String::from_utf8_lossy(&raw)
        .split('\n')
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}
