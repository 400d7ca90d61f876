//! A minimal ADX stand-in on 127.0.0.1 for driving the daemon's `adx` sink: the Azure AD token endpoint
//! (`POST /{tenant}/oauth2/v2.0/token`) and streaming ingestion (`POST /v1/rest/ingest/{db}/{table}?...`, gzip
//! body). It records every ingested record and can be switched between [`Mode`]s: up, 503, connection refused
//! (listener closed and open connections aborted), or a permanent 400 (mapping not found).
//!
//! It runs on its own small tokio runtime so tests stay plain `#[test]` functions.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The body ADX sends when an ingestion mapping does not exist (a permanent error).
pub const MAPPING_NOT_FOUND: &str = r#"{"error":{"code":"BadRequest_MappingReferenceWasNotFound","message":"x","@permanent":true}}"#;

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

async fn handle(
    shared: Arc<Shared>,
    mode: watch::Receiver<Mode>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let post = req.method() == hyper::Method::POST;
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
    let current = *mode.borrow();
    match current {
        Mode::Unavailable | Mode::Refused => {
            shared.failed_requests.fetch_add(1, Ordering::SeqCst);
            return Ok(reply(
                503,
                r#"{"error":{"code":"ServiceUnavailable","message":"down for the test","@permanent":false}}"#,
            ));
        }
        Mode::RejectMapping => {
            shared.failed_requests.fetch_add(1, Ordering::SeqCst);
            return Ok(reply(400, MAPPING_NOT_FOUND));
        }
        Mode::Up => {}
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
    shared.ok_requests.fetch_add(1, Ordering::SeqCst);
    Ok(reply(200, r#"{"Tables":[]}"#))
}
