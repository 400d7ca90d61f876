//! A local ADX stand-in for benchmarks: an Azure AD token endpoint and the streaming-ingest endpoint on
//! 127.0.0.1, gunzipping and counting every record it receives (as the real service parses them).
//!
//! ```text
//! cargo run --release --example adx-standin -- 127.0.0.1:18080
//! AZURE_TENANT_ID=t AZURE_CLIENT_ID=c AZURE_CLIENT_SECRET=s AZURE_AUTHORITY_HOST=http://127.0.0.1:18080/ \
//!   hubble-ingest replay big.log --sink adx --adx-cluster http://127.0.0.1:18080 --adx-database db --adx-auth client-secret
//! ```
//! It prints `records=<n> requests=<n> bytes=<uncompressed>` to stdout every second when the counts changed.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Default)]
struct Counts {
    records: AtomicU64,
    requests: AtomicU64,
    bytes: AtomicU64,
}

async fn handle(req: Request<Incoming>, c: Arc<Counts>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let gzip = req
        .headers()
        .get("content-encoding")
        .is_some_and(|v| v.as_bytes() == b"gzip");
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return status(StatusCode::BAD_REQUEST, "{}"),
    };
    if path.ends_with("/oauth2/v2.0/token") {
        return status(
            StatusCode::OK,
            r#"{"access_token":"standin-token","expires_in":3600,"token_type":"Bearer"}"#,
        );
    }
    if path.starts_with("/v1/rest/ingest/") {
        let mut data = Vec::new();
        let ok = if gzip {
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut data)
                .is_ok()
        } else {
            data.extend_from_slice(&body);
            true
        };
        if !ok {
            return status(
                StatusCode::BAD_REQUEST,
                r#"{"error":{"code":"BadRequest","message":"bad gzip","@permanent":true}}"#,
            );
        }
        let n = data.iter().filter(|&&b| b == b'\n').count() as u64;
        c.records.fetch_add(n, Ordering::Relaxed);
        c.requests.fetch_add(1, Ordering::Relaxed);
        c.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        return status(StatusCode::OK, "{}");
    }
    status(StatusCode::NOT_FOUND, "{}")
}

fn status(code: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = code;
    r
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18080".to_owned());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        eprintln!("adx-standin listening on {}", listener.local_addr()?);
        let counts = Arc::new(Counts::default());
        let c2 = Arc::clone(&counts);
        tokio::spawn(async move {
            let mut last = 0;
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                let r = c2.records.load(Ordering::Relaxed);
                if r != last {
                    println!(
                        "records={} requests={} bytes={}",
                        r,
                        c2.requests.load(Ordering::Relaxed),
                        c2.bytes.load(Ordering::Relaxed)
                    );
                    last = r;
                }
            }
        });
        loop {
            let (stream, _) = listener.accept().await?;
            let c = Arc::clone(&counts);
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let c = Arc::clone(&c);
                    async move { Ok::<_, Infallible>(handle(req, c).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    })
}
