//! An ADX stand-in on 127.0.0.1 for the integration tests and the benchmark: AAD token endpoint,
//! IMDS, streaming ingestion, management (`.get ingestion resources`, `.get kusto identity token`)
//! and a minimal blob/queue storage, with scripted fault injection on the streaming endpoint.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// What the streaming endpoint does with the next request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status and body (and `Retry-After` seconds if given); nothing ingested.
    Status {
        code: u16,
        body: String,
        retry_after: Option<u64>,
    },
    /// Ingest the data, then drop the connection without a reply.
    AcceptThenDrop,
    /// Sleep, then answer 200 without ingesting (the client should have timed out).
    Delay(Duration),
}

/// One request seen by the streaming endpoint.
#[derive(Debug, Clone)]
pub struct StreamRequest {
    pub at: Instant,
    pub path_and_query: String,
    pub headers: HashMap<String, String>,
    pub raw_len: usize,
    pub outcome: &'static str,
}

#[derive(Default)]
pub struct State {
    pub faults: Mutex<VecDeque<Fault>>,
    /// Every streaming request answered with this fault (after the scripted ones), if set.
    pub always: Mutex<Option<Fault>>,
    /// Ingested record lines.
    pub records: Mutex<Vec<String>>,
    pub stream_requests: Mutex<Vec<StreamRequest>>,
    /// Bodies larger than this (uncompressed) get 413.
    pub max_body: Mutex<Option<usize>>,
    /// Tokens answered with 401.
    pub rejected_tokens: Mutex<HashSet<String>>,
    pub token_requests: Mutex<Vec<HashMap<String, String>>>,
    pub imds_requests: Mutex<Vec<(String, Option<String>)>>,
    pub imds_faults: Mutex<VecDeque<u16>>,
    pub token_lifetime_secs: Mutex<u64>,
    pub mgmt_requests: Mutex<Vec<String>>,
    /// Extra management rows; default rows point at this stand-in's storage.
    pub storage_base: Mutex<Option<String>>,
    /// Replaces the whole `.get ingestion resources` response (e.g. SAS URLs pointing at Azurite).
    pub resources_override: Mutex<Option<String>>,
    pub blobs: Mutex<Vec<(String, Bytes)>>,
    pub queue_messages: Mutex<Vec<String>>,
    pub corrupt_bodies: Mutex<u32>,
    /// HTTP version of every request (`HTTP/1.1`, `HTTP/2.0`).
    pub versions: Mutex<Vec<String>>,
    /// Next token-endpoint answers (status, body) before normal ones.
    pub token_faults: Mutex<VecDeque<(u16, String)>>,
    /// Next management-endpoint statuses before normal answers.
    pub mgmt_faults: Mutex<VecDeque<u16>>,
    /// Next Put Blob statuses before normal answers.
    pub storage_faults: Mutex<VecDeque<u16>>,
    /// Next Put Message statuses before normal answers.
    pub queue_faults: Mutex<VecDeque<u16>>,
    /// Successful streaming requests wait this long before answering.
    pub ok_delay: Mutex<Option<Duration>>,
    pub in_flight: std::sync::atomic::AtomicUsize,
    /// Benchmark mode: count records instead of parsing and keeping them.
    pub count_only: std::sync::atomic::AtomicBool,
    pub counted: std::sync::atomic::AtomicUsize,
    /// Benchmark mode: accept gzip bodies without decompressing them (the server's CPU is not ours).
    pub discard: std::sync::atomic::AtomicBool,
    pub max_in_flight: std::sync::atomic::AtomicUsize,
    /// A request whose uncompressed body contains this text is rejected with 400 [`MAPPING_NOT_FOUND`]
    /// (before any scripted fault), as ADX rejects bad data on every attempt.
    pub poison: Mutex<Option<String>>,
    /// Requests answered with an error status: (`x-ms-client-request-id`, the record lines they carried).
    pub faulted: Mutex<Vec<(String, Vec<String>)>>,
    /// `GET /v1/rest/auth/metadata` answer (status, body); `None`: the public cloud's metadata.
    pub auth_metadata: Mutex<Option<(u16, String)>>,
    pub metadata_requests: std::sync::atomic::AtomicUsize,
    /// While set, the token endpoint does not answer (a stalled refresh).
    pub hold_tokens: std::sync::atomic::AtomicBool,
}

pub const TOKEN_MARK: &str = "SECRETTOKEN";

/// What ADX answers a successful streaming ingest with: a v1 REST result set holding one table (the shape
/// Microsoft's own SDK tests mock, `azure-kusto-ingest/tests/test_kusto_streaming_ingest_client.py`; the Python
/// SDK parses the body as `KustoResponseDataSetV1` and fails on `{}` or `{"Tables":[]}`).
pub const STREAMING_RESULT: &str = r#"{"Tables":[{"TableName":"Table_0","Columns":[{"ColumnName":"ConsumedRecordsCount","DataType":"Int64"},{"ColumnName":"UpdatePolicyStatus","DataType":"String"},{"ColumnName":"UpdatePolicyFailureCode","DataType":"String"},{"ColumnName":"UpdatePolicyFailureReason","DataType":"String"}],"Rows":[[0,"Inactive","Unknown",null]]}]}"#;

/// ADX's answer when the ingestion mapping named in the request does not exist (a real OneApiError body).
pub const MAPPING_NOT_FOUND: &str = r#"{"error":{"code":"BadRequest_MappingReferenceWasNotFound","message":"Request is invalid and cannot be executed.","@type":"Kusto.DataNode.Exceptions.MappingNotFoundException","@message":"Mapping reference 'HubbleFlowsMapping' of type 'mappingReference' in database 'Net' could not be found.","@context":{"timestamp":"2026-01-01T00:00:00.0000000Z","serviceAlias":"STANDIN","clientRequestId":"","activityId":"standin-mapping-activity"},"@permanent":true}}"#;

pub struct StandIn {
    pub addr: SocketAddr,
    pub state: Arc<State>,
}

impl StandIn {
    pub async fn start() -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        *state.token_lifetime_secs.lock().unwrap() = 3600;
        let s = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = s.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| handle(state.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        StandIn { addr, state }
    }

    /// HTTPS (HTTP/1.1 and HTTP/2 by ALPN) with this certificate and key (PEM).
    pub async fn start_tls(cert_pem: &str, key_pem: &str) -> StandIn {
        use rustls::pki_types::pem::PemObject;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let certs = rustls::pki_types::CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
        let mut tls = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        *state.token_lifetime_secs.lock().unwrap() = 3600;
        let s = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = s.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let svc = service_fn(move |req| handle(state.clone(), req));
                    let _ = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
                });
            }
        });
        StandIn { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn push(&self, fault: Fault) {
        self.state.faults.lock().unwrap().push_back(fault);
    }

    pub fn records(&self) -> Vec<String> {
        self.state.records.lock().unwrap().clone()
    }

    pub fn requests(&self) -> Vec<StreamRequest> {
        self.state.stream_requests.lock().unwrap().clone()
    }

    pub fn token_requests(&self) -> Vec<HashMap<String, String>> {
        self.state.token_requests.lock().unwrap().clone()
    }

    /// Requests answered with an error status: (request id, record lines).
    pub fn faulted(&self) -> Vec<(String, Vec<String>)> {
        self.state.faulted.lock().unwrap().clone()
    }
}

#[derive(Debug)]
pub struct Dropped;
impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}
impl std::error::Error for Dropped {}

type Reply = Result<Response<Full<Bytes>>, Dropped>;

fn reply(status: u16, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap();
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    Ok(r)
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Reply {
    let path = req.uri().path().to_string();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let method = req.method().clone();
    state
        .versions
        .lock()
        .unwrap()
        .push(format!("{:?}", req.version()));
    let headers: HashMap<String, String> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = req
        .into_body()
        .collect()
        .await
        .map_err(|_| Dropped)?
        .to_bytes();

    if path == "/v1/rest/auth/metadata" && method == hyper::Method::GET {
        state
            .metadata_requests
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let answer = state.auth_metadata.lock().unwrap().clone();
        let (code, body) = answer.unwrap_or_else(|| {
            (
                200,
                public_cloud_metadata("https://kusto.kusto.windows.net"),
            )
        });
        return reply(code, body);
    }
    if path.ends_with("/oauth2/v2.0/token") {
        while state.hold_tokens.load(std::sync::atomic::Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut f = form(&body);
        f.insert("_path".to_string(), path.clone());
        let fault = state.token_faults.lock().unwrap().pop_front();
        if let Some((code, body)) = fault {
            state.token_requests.lock().unwrap().push(f);
            return reply(code, body);
        }
        let n = {
            let mut reqs = state.token_requests.lock().unwrap();
            reqs.push(f);
            reqs.len()
        };
        let life = *state.token_lifetime_secs.lock().unwrap();
        return reply(
            200,
            format!(
                r#"{{"token_type":"Bearer","expires_in":{life},"access_token":"tok-{n}-{TOKEN_MARK}"}}"#
            ),
        );
    }
    if path == "/metadata/identity/oauth2/token" {
        state
            .imds_requests
            .lock()
            .unwrap()
            .push((path_and_query.clone(), headers.get("metadata").cloned()));
        if let Some(code) = state.imds_faults.lock().unwrap().pop_front() {
            return reply(
                code,
                r#"{"error":"throttled","error_description":"slow down"}"#,
            );
        }
        let n = state.imds_requests.lock().unwrap().len();
        return reply(
            200,
            format!(
                r#"{{"access_token":"imds-{n}-{TOKEN_MARK}","expires_in":"3599","expires_on":"1999999999","token_type":"Bearer"}}"#
            ),
        );
    }
    let authorized = || {
        let auth = headers.get("authorization").cloned().unwrap_or_default();
        let Some(token) = auth.strip_prefix("Bearer ") else {
            return false;
        };
        !token.is_empty() && !state.rejected_tokens.lock().unwrap().contains(token)
    };
    if path.starts_with("/v1/rest/ingest/") && method == hyper::Method::POST {
        return streaming(&state, path_and_query, headers.clone(), body, authorized()).await;
    }
    if path == "/v1/rest/mgmt" {
        if !authorized() {
            return reply(401, "");
        }
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let csl = v["csl"].as_str().unwrap_or_default().to_string();
        state.mgmt_requests.lock().unwrap().push(csl.clone());
        let fault = state.mgmt_faults.lock().unwrap().pop_front();
        if let Some(code) = fault {
            let mut r = reply(
                code,
                r#"{"error":{"code":"TooManyRequests","message":"throttled"}}"#,
            )?;
            r.headers_mut().insert("retry-after", "0".parse().unwrap());
            return Ok(r);
        }
        let base = state
            .storage_base
            .lock()
            .unwrap()
            .clone()
            .unwrap_or_else(|| {
                format!(
                    "http://{}/storage",
                    headers.get("host").cloned().unwrap_or_default()
                )
            });
        return match csl.as_str() {
            ".get ingestion resources" => {
                let body = state.resources_override.lock().unwrap().clone();
                reply(200, body.unwrap_or_else(|| resources_body(&base)))
            }
            ".get kusto identity token" => reply(
                200,
                r#"{"Tables":[{"TableName":"Table_0","Columns":[{"ColumnName":"AuthorizationContext","DataType":"String"}],"Rows":[["AUTHCTX-SECRET"]]}]}"#,
            ),
            _ => reply(
                400,
                r#"{"error":{"code":"BadRequest","message":"unknown command","@permanent":true}}"#,
            ),
        };
    }
    if let Some(rest) = path.strip_prefix("/storage/") {
        let faults = if method == hyper::Method::PUT {
            &state.storage_faults
        } else {
            &state.queue_faults
        };
        let fault = faults.lock().unwrap().pop_front();
        if let Some(code) = fault {
            let mut r = reply(code, "")?;
            r.headers_mut()
                .insert("x-ms-error-code", "AuthenticationFailed".parse().unwrap());
            return Ok(r);
        }
        if method == hyper::Method::PUT {
            state.blobs.lock().unwrap().push((rest.to_string(), body));
            return reply(201, "");
        }
        if rest.ends_with("/messages") && method == hyper::Method::POST {
            state
                .queue_messages
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(&body).to_string());
            return reply(201, "");
        }
    }
    reply(
        404,
        r#"{"error":{"code":"NotFound","message":"no such path"}}"#,
    )
}

/// A `/v1/rest/auth/metadata` body in the shape the public cloud answers, with this resource id.
pub fn public_cloud_metadata(resource: &str) -> String {
    serde_json::json!({"AzureAD": {
        "LoginEndpoint": "https://login.microsoftonline.com",
        "LoginMfaRequired": false,
        "KustoClientAppId": "db662dc1-0cfe-4e1c-a843-19a68e65be58",
        "KustoClientRedirectUri": "https://microsoft/kustoclient",
        "KustoServiceResourceId": resource,
        "FirstPartyAuthorityUrl": "https://login.microsoftonline.com/f8cdef31-a31e-4b4a-93e4-5f571e91255a"
    }, "dSTS": {"CloudEndpointSuffix": "windows.net", "DstsRealm": "realm://dsts.core.windows.net",
        "DstsInstance": "prod-dsts.dsts.core.windows.net", "KustoDnsHostName": "kusto.windows.net",
        "ServiceName": "kusto"}})
    .to_string()
}

/// Management rows: two containers and two queues, SAS query included.
pub fn resources_body(base: &str) -> String {
    let rows = vec![
        (
            "TempStorage",
            format!("{base}/tmp1?sv=2019-12-12&sig=SASSECRET"),
        ),
        (
            "TempStorage",
            format!("{base}/tmp2?sv=2019-12-12&sig=SASSECRET"),
        ),
        (
            "SecuredReadyForAggregationQueue",
            format!("{base}/q1?sv=2019-12-12&sig=SASSECRET"),
        ),
        (
            "SecuredReadyForAggregationQueue",
            format!("{base}/q2?sv=2019-12-12&sig=SASSECRET"),
        ),
        (
            "FailedIngestionsQueue",
            format!("{base}/failed?sv=2019-12-12&sig=SASSECRET"),
        ),
    ];
    resources_rows(&rows)
}

/// A `.get ingestion resources` v1 response with these (ResourceTypeName, StorageRoot) rows.
pub fn resources_rows(rows: &[(&str, String)]) -> String {
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|(k, v)| serde_json::json!([k, v]))
        .collect();
    serde_json::json!({"Tables":[{"TableName":"Table_0","Columns":[
        {"ColumnName":"ResourceTypeName","DataType":"String"},{"ColumnName":"StorageRoot","DataType":"String"}],
        "Rows": rows}]})
    .to_string()
}

async fn streaming(
    state: &Arc<State>,
    path_and_query: String,
    headers: HashMap<String, String>,
    body: Bytes,
    authorized: bool,
) -> Reply {
    let log = |outcome: &'static str, raw_len: usize| {
        state.stream_requests.lock().unwrap().push(StreamRequest {
            at: Instant::now(),
            path_and_query: path_and_query.clone(),
            headers: headers.clone(),
            raw_len,
            outcome,
        });
    };
    use std::sync::atomic::Ordering;
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_in_flight.fetch_max(now, Ordering::SeqCst);
    struct Leave<'a>(&'a State);
    impl Drop for Leave<'_> {
        fn drop(&mut self) {
            self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let _leave = Leave(state);
    if !authorized {
        log("401", 0);
        return reply(401, "");
    }
    if state.discard.load(Ordering::Relaxed) {
        state.counted.fetch_add(body.len(), Ordering::Relaxed);
        return reply(200, STREAMING_RESULT);
    }
    let mut raw = Vec::new();
    if headers.get("content-encoding").map(String::as_str) != Some("gzip")
        || flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut raw)
            .is_err()
    {
        *state.corrupt_bodies.lock().unwrap() += 1;
        log("corrupt", 0);
        return reply(
            400,
            r#"{"error":{"code":"BadRequest_NoRecordsOrWrongFormat","message":"bad gzip","@permanent":true}}"#,
        );
    }
    if let Some(max) = *state.max_body.lock().unwrap() {
        if raw.len() > max {
            log("413", raw.len());
            return reply(
                413,
                r#"{"error":{"code":"PayloadTooLarge","message":"too big"}}"#,
            );
        }
    }
    let lines_of = |raw: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(raw)
            .split('\n')
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    };
    let request_id = headers
        .get("x-ms-client-request-id")
        .cloned()
        .unwrap_or_default();
    let poisoned = state
        .poison
        .lock()
        .unwrap()
        .as_ref()
        .is_some_and(|p| memchr::memmem::find(&raw, p.as_bytes()).is_some());
    let fault = if poisoned {
        Some(Fault::Status {
            code: 400,
            body: MAPPING_NOT_FOUND.to_string(),
            retry_after: None,
        })
    } else {
        let scripted = state.faults.lock().unwrap().pop_front();
        scripted.or_else(|| state.always.lock().unwrap().clone())
    };
    let ingest = |state: &State| {
        if state.count_only.load(Ordering::Relaxed) {
            let n = raw.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count();
            state.counted.fetch_add(n, Ordering::Relaxed);
            return;
        }
        let text = String::from_utf8(raw.clone()).expect("utf-8 body");
        let mut records = state.records.lock().unwrap();
        for line in text.split('\n').filter(|l| !l.is_empty()) {
            serde_json::from_str::<serde_json::Value>(line).expect("each line is a JSON record");
            records.push(line.to_string());
        }
    };
    match fault {
        None => {
            let delay = *state.ok_delay.lock().unwrap();
            if let Some(d) = delay {
                tokio::time::sleep(d).await;
            }
            ingest(state);
            log("ok", raw.len());
            reply(200, STREAMING_RESULT)
        }
        Some(Fault::Status {
            code,
            body,
            retry_after,
        }) => {
            log("fault", raw.len());
            state
                .faulted
                .lock()
                .unwrap()
                .push((request_id.clone(), lines_of(&raw)));
            let mut r = reply(code, body)?;
            if let Some(s) = retry_after {
                r.headers_mut()
                    .insert("retry-after", s.to_string().parse().unwrap());
            }
            r.headers_mut()
                .insert("x-ms-activity-id", "standin-activity".parse().unwrap());
            Ok(r)
        }
        Some(Fault::AcceptThenDrop) => {
            ingest(state);
            log("accepted-then-dropped", raw.len());
            Err(Dropped)
        }
        Some(Fault::Delay(d)) => {
            log("slow", raw.len());
            tokio::time::sleep(d).await;
            reply(200, STREAMING_RESULT)
        }
    }
}

/// `n` flow-like records of about `width` bytes each, tagged with `tag` for identification.
pub fn ndjson(tag: &str, n: usize, width: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * (width + 64));
    let pad = "p".repeat(width.saturating_sub(60));
    for i in 0..n {
        out.extend_from_slice(
            format!(r#"{{"Uuid":"{tag}-{i}","Verdict":"DROPPED","Summary":"{pad}"}}"#).as_bytes(),
        );
        out.push(b'\n');
    }
    out
}

/// Counts of each record line.
pub fn counts(records: &[String]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for r in records {
        *m.entry(r.clone()).or_insert(0) += 1;
    }
    m
}
