//! The HTTP input: Fluent Bit's `out_http` (`format` json, json_lines or msgpack; `compress` gzip or zstd) and
//! any client POSTing NDJSON to `http://HOST:PORT/PATH`.
//!
//! Bodies: `Content-Type` containing `msgpack` → a stream of MessagePack records (maps) or `[time, record]`
//! entries; otherwise JSON — a JSON array of records/entries, or one record/entry per line. A record's line is
//! its record key (`log`) string, or the record itself when it is an exporter object (has `flow`).
//! `Content-Encoding` gzip or zstd is decompressed up to the decompression limit.
//!
//! Answers: 200 only after every record of the request is durable (in the spool, or in a local file sink that
//! took it directly); 503 with `Retry-After` when the spool is full or the records could not be confirmed in
//! time (Fluent Bit retries); 400 (malformed body, no usable record), 413 (too large) and 415 (unknown encoding)
//! only for requests that can never succeed.

use crate::source::forward::decode::{append_record_line, gunzip, RecordLine, RecordOptions};
use crate::source::forward::msgpack::{self, Value};
use crate::source::network::{BatchSender, NetworkBatch, NetworkLimits, SendError};
use crate::source::tls::TlsReloader;
use crate::telemetry::metrics::Metrics;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{header, Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::HashMap;
use std::convert::Infallible;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, Semaphore};

/// Seconds a client is told to wait before retrying under backpressure.
const RETRY_AFTER_SECS: u64 = 5;

/// One HTTP listener's settings.
pub struct HttpConfig {
    /// The metrics label (the `--input` value).
    pub label: String,
    /// Where to listen.
    pub addr: SocketAddr,
    /// The only path accepted.
    pub path: String,
    /// TLS.
    pub tls: Option<Arc<TlsReloader>>,
    /// Record → line settings.
    pub records: RecordOptions,
    /// Limits.
    pub limits: NetworkLimits,
    /// Longest wait for the spool to confirm a request's records before answering 503.
    pub ack_timeout: Duration,
}

struct Ctx {
    cfg: HttpConfig,
    tx: BatchSender,
    metrics: Arc<Metrics>,
}

/// A request that can never succeed (or one refused for now), with its status and metrics reason.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused {
    /// HTTP status.
    pub status: StatusCode,
    /// Metrics label.
    pub reason: &'static str,
}

fn refused(status: StatusCode, reason: &'static str) -> Refused {
    Refused { status, reason }
}

/// Binds and spawns the accept loop on the current runtime; returns the bound address.
pub async fn start(
    cfg: HttpConfig,
    tx: BatchSender,
    metrics: Arc<Metrics>,
) -> std::io::Result<SocketAddr> {
    metrics.register_network_input(&cfg.label);
    let listener = tokio::net::TcpListener::bind(cfg.addr).await?;
    let bound = listener.local_addr()?;
    let sem = Arc::new(Semaphore::new(cfg.limits.max_connections.max(1)));
    let ctx = Arc::new(Ctx { cfg, tx, metrics });
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let Ok(permit) = Arc::clone(&sem).try_acquire_owned() else {
                ctx.metrics
                    .net_reject(&ctx.cfg.label, "too_many_connections");
                continue;
            };
            let ctx = Arc::clone(&ctx);
            tokio::spawn(async move {
                let _permit = permit;
                let label = Metrics::label("input", &ctx.cfg.label);
                ctx.metrics
                    .net_connections_opened
                    .get_or_create(&label)
                    .inc();
                ctx.metrics.net_connections.get_or_create(&label).inc();
                let svc_ctx = Arc::clone(&ctx);
                let svc = service_fn(move |req: Request<Incoming>| {
                    let ctx = Arc::clone(&svc_ctx);
                    async move { Ok::<_, Infallible>(handle(&ctx, req).await) }
                });
                let mut builder = http1::Builder::new();
                builder
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(30));
                match ctx.cfg.tls.as_ref().and_then(|t| t.acceptor()) {
                    Some(acceptor) => {
                        match tokio::time::timeout(Duration::from_secs(30), acceptor.accept(stream))
                            .await
                        {
                            Ok(Ok(s)) => {
                                let _ = builder.serve_connection(TokioIo::new(s), svc).await;
                            }
                            _ => ctx.metrics.net_reject(&ctx.cfg.label, "tls_handshake"),
                        }
                    }
                    None if ctx.cfg.tls.is_some() => {
                        ctx.metrics.net_reject(&ctx.cfg.label, "tls_unavailable")
                    }
                    None => {
                        let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                    }
                }
                ctx.metrics.net_connections.get_or_create(&label).dec();
            });
        }
    });
    Ok(bound)
}

fn reply(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(format!("{body}\n"))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain"),
    );
    if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
        r.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from(RETRY_AFTER_SECS),
        );
    }
    r
}

async fn handle(ctx: &Ctx, req: Request<Incoming>) -> Response<Full<Bytes>> {
    match accept(ctx, req).await {
        Ok(records) => reply(StatusCode::OK, &format!("{records} records spooled")),
        Err(r) => {
            ctx.metrics.net_reject(&ctx.cfg.label, r.reason);
            reply(r.status, r.reason)
        }
    }
}

async fn accept(ctx: &Ctx, req: Request<Incoming>) -> Result<u64, Refused> {
    if req.uri().path() != ctx.cfg.path {
        return Err(refused(StatusCode::NOT_FOUND, "wrong_path"));
    }
    if req.method() != Method::POST {
        return Err(refused(StatusCode::METHOD_NOT_ALLOWED, "wrong_method"));
    }
    let label = Metrics::label("input", &ctx.cfg.label);
    // Refuse early under backpressure, before reading the body.
    if ctx.tx.is_paused() {
        return Err(refused(StatusCode::SERVICE_UNAVAILABLE, "spool_full"));
    }
    let encoding = header_str(&req, header::CONTENT_ENCODING).to_ascii_lowercase();
    let msgpack_body = header_str(&req, header::CONTENT_TYPE)
        .to_ascii_lowercase()
        .contains("msgpack");
    let body = match Limited::new(req.into_body(), ctx.cfg.limits.max_message_bytes)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(refused(StatusCode::PAYLOAD_TOO_LARGE, "oversize_message"))
        }
        Err(_) => return Err(refused(StatusCode::BAD_REQUEST, "truncated_body")),
    };
    ctx.metrics
        .net_bytes
        .get_or_create(&label)
        .inc_by(body.len() as u64);
    let limit = ctx.cfg.limits.max_decompressed_bytes;
    let plain: Cow<'_, [u8]> = match encoding.trim() {
        "" | "identity" => Cow::Borrowed(&body[..]),
        "gzip" | "x-gzip" => Cow::Owned(gunzip(&body, limit).map_err(|e| {
            let status = if e.reason() == "decompression_bomb" {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            refused(status, e.reason())
        })?),
        "zstd" => Cow::Owned(unzstd(&body, limit)?),
        _ => {
            return Err(refused(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_compression",
            ))
        }
    };
    let mut lines = Vec::with_capacity(plain.len());
    let parsed = if msgpack_body {
        msgpack_lines(&plain, &ctx.cfg.records.record_key, &mut lines)?
    } else {
        json_lines(&plain, &ctx.cfg.records.record_key, &mut lines)?
    };
    ctx.metrics.net_messages.get_or_create(&label).inc();
    if parsed.skipped > 0 {
        ctx.metrics
            .net_reject_n(&ctx.cfg.label, "no_record_key", parsed.skipped);
        if parsed.records == 0 {
            return Err(refused(StatusCode::BAD_REQUEST, "no_usable_record"));
        }
    }
    ctx.metrics
        .net_records
        .get_or_create(&label)
        .inc_by(parsed.records);
    if parsed.records == 0 {
        return Ok(0);
    }
    let (done_tx, done_rx) = oneshot::channel();
    let batch = NetworkBatch {
        lines,
        records: parsed.records,
        ack: done_tx,
    };
    match ctx.tx.try_send(batch) {
        Ok(()) => {}
        Err(SendError::Busy) => return Err(refused(StatusCode::SERVICE_UNAVAILABLE, "spool_full")),
        Err(SendError::Closed) => {
            return Err(refused(StatusCode::SERVICE_UNAVAILABLE, "shutting_down"))
        }
    }
    match tokio::time::timeout(ctx.cfg.ack_timeout, done_rx).await {
        Ok(Ok(true)) => {
            ctx.metrics.net_acks.get_or_create(&label).inc();
            Ok(parsed.records)
        }
        Ok(_) => Err(refused(StatusCode::SERVICE_UNAVAILABLE, "not_spooled")),
        Err(_) => Err(refused(StatusCode::SERVICE_UNAVAILABLE, "spool_timeout")),
    }
}

fn header_str(req: &Request<Incoming>, name: header::HeaderName) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

fn unzstd(data: &[u8], limit: usize) -> Result<Vec<u8>, Refused> {
    let bad = || refused(StatusCode::BAD_REQUEST, "bad_zstd");
    let mut dec = zstd::stream::read::Decoder::with_buffer(data).map_err(|_| bad())?;
    // Bounds the decoder's window memory whatever the frame header claims.
    dec.window_log_max(24).map_err(|_| bad())?;
    let mut out = Vec::new();
    match dec.take(limit as u64 + 1).read_to_end(&mut out) {
        Ok(_) if out.len() > limit => {
            Err(refused(StatusCode::PAYLOAD_TOO_LARGE, "decompression_bomb"))
        }
        Ok(_) => Ok(out),
        Err(_) => Err(bad()),
    }
}

/// Records found in a body.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Records turned into lines.
    pub records: u64,
    /// Records without a usable line.
    pub skipped: u64,
}

/// A stream of MessagePack records or `[time, record]` entries → lines.
pub fn msgpack_lines(body: &[u8], key: &[u8], out: &mut Vec<u8>) -> Result<Parsed, Refused> {
    let bad = |reason| refused(StatusCode::BAD_REQUEST, reason);
    let mut p = Parsed::default();
    let mut pos = 0;
    while pos < body.len() {
        let (v, n) = msgpack::read(&body[pos..]).map_err(|_| bad("malformed_msgpack"))?;
        pos += n;
        let record = match &v {
            Value::Array(a) if a.len() == 2 => &a[1],
            other => other,
        };
        match append_record_line(record, key, out) {
            RecordLine::Line => p.records += 1,
            RecordLine::NoLine => p.skipped += 1,
            RecordLine::NotAMap => return Err(bad("wrong_type")),
        }
    }
    Ok(p)
}

/// A JSON array of records/entries, or NDJSON → lines.
pub fn json_lines(body: &[u8], key: &[u8], out: &mut Vec<u8>) -> Result<Parsed, Refused> {
    let bad = |reason| refused(StatusCode::BAD_REQUEST, reason);
    let text = std::str::from_utf8(body).map_err(|_| bad("malformed_json"))?;
    let key = std::str::from_utf8(key).map_err(|_| bad("malformed_json"))?;
    let mut p = Parsed::default();
    let trimmed = text.trim();
    if trimmed.starts_with('[') {
        if let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(trimmed) {
            // A JSON array of records (Fluent Bit `format json`) — unless it is itself one `[time, record]`.
            let is_one_entry = items.len() == 2 && !items[0].get().starts_with(['{', '[']);
            if !is_one_entry {
                for item in items {
                    json_item(item.get(), key, out, &mut p)?;
                }
                return Ok(p);
            }
        }
    }
    for line in text.lines() {
        let line = line.trim();
        if !line.is_empty() {
            json_item(line, key, out, &mut p)?;
        }
    }
    Ok(p)
}

fn json_item(item: &str, key: &str, out: &mut Vec<u8>, p: &mut Parsed) -> Result<(), Refused> {
    let bad = |reason| refused(StatusCode::BAD_REQUEST, reason);
    let record: &str = if item.starts_with('[') {
        let (_, r): (&RawValue, &RawValue) =
            serde_json::from_str(item).map_err(|_| bad("malformed_json"))?;
        r.get()
    } else {
        item
    };
    let fields: HashMap<Cow<'_, str>, &RawValue> =
        serde_json::from_str(record).map_err(|_| bad("malformed_json"))?;
    if let Some(line) = fields
        .get(key)
        .and_then(|v| serde_json::from_str::<Cow<'_, str>>(v.get()).ok())
    {
        let line = line.strip_suffix('\n').unwrap_or(&line);
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
        p.records += 1;
    } else if fields.contains_key("flow") {
        if record.contains(['\n', '\r']) {
            let v: serde_json::Value =
                serde_json::from_str(record).map_err(|_| bad("malformed_json"))?;
            let _ = serde_json::to_writer(&mut *out, &v);
        } else {
            out.extend_from_slice(record.as_bytes());
        }
        out.push(b'\n');
        p.records += 1;
    } else {
        p.skipped += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(body: &str) -> (Result<Parsed, Refused>, String) {
        let mut out = Vec::new();
        let r = json_lines(body.as_bytes(), b"log", &mut out);
        (r, String::from_utf8(out).unwrap())
    }

    #[test]
    fn fluent_bit_json_array_ndjson_and_entries() {
        let (r, out) = json(r#"[{"date":1.5,"log":"a\n"},{"date":2,"log":"b"}]"#);
        assert_eq!(
            r,
            Ok(Parsed {
                records: 2,
                skipped: 0
            })
        );
        assert_eq!(out, "a\nb\n");
        let (r, out) = json(
            "{\"log\":\"a\"}\n\n{\"flow\":{\"x\":1},\"node_name\":\"n\"}\n[1,{\"log\":\"c\"}]\n",
        );
        assert_eq!(
            r,
            Ok(Parsed {
                records: 3,
                skipped: 0
            })
        );
        assert_eq!(out, "a\n{\"flow\":{\"x\":1},\"node_name\":\"n\"}\nc\n");
        let (r, out) = json("[1700000000, {\"log\":\"one entry\"}]");
        assert_eq!(
            r,
            Ok(Parsed {
                records: 1,
                skipped: 0
            })
        );
        assert_eq!(out, "one entry\n");
        // A pretty-printed exporter object is compacted to one line.
        let (r, out) = json("[{\n \"flow\": {\"a\": 1}\n}]");
        assert_eq!(
            r,
            Ok(Parsed {
                records: 1,
                skipped: 0
            })
        );
        assert_eq!(out, "{\"flow\":{\"a\":1}}\n");
    }

    #[test]
    fn garbage_and_records_without_lines() {
        assert_eq!(json("not json").0.unwrap_err().reason, "malformed_json");
        assert_eq!(
            json("{\"log\":1}\n{\"x\":2}").0,
            Ok(Parsed {
                records: 0,
                skipped: 2
            })
        );
        assert_eq!(json("").0, Ok(Parsed::default()));
    }

    #[test]
    fn msgpack_records_and_entries() {
        let mut b = Vec::new();
        msgpack::write_map_len(&mut b, 1);
        msgpack::write_str(&mut b, b"log");
        msgpack::write_str(&mut b, b"x");
        msgpack::write_array_len(&mut b, 2);
        msgpack::write_array_len(&mut b, 2);
        msgpack::write_event_time(&mut b, 1, 2);
        msgpack::write_map_len(&mut b, 0);
        msgpack::write_map_len(&mut b, 1);
        msgpack::write_str(&mut b, b"log");
        msgpack::write_str(&mut b, b"y");
        let mut out = Vec::new();
        assert_eq!(
            msgpack_lines(&b, b"log", &mut out),
            Ok(Parsed {
                records: 2,
                skipped: 0
            })
        );
        assert_eq!(out, b"x\ny\n");
        assert_eq!(
            msgpack_lines(&[0xc1], b"log", &mut out).unwrap_err().reason,
            "malformed_msgpack"
        );
    }
}
