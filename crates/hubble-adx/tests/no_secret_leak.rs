//! Captures everything a failing run prints (all tracing output at TRACE level, error Display and
//! Debug, client/config Debug) and asserts no token, assertion, secret, SAS signature or
//! authorization context appears in it. Its own test binary, because it installs a global subscriber.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hubble_adx::{AdxClient, AdxConfig, AuthConfig, Batch, CancellationToken, IngestMode, Url};
use support::{ndjson, Fault, StandIn, TOKEN_MARK};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_run_never_prints_secrets() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let s = StandIn::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "SECRETASSERTION-jwt").unwrap();
    let env = |k: &str| match k {
        "AZURE_TENANT_ID" => Some("t".to_string()),
        "AZURE_CLIENT_ID" => Some("c".to_string()),
        "AZURE_FEDERATED_TOKEN_FILE" => Some(file.display().to_string()),
        "AZURE_AUTHORITY_HOST" => Some(format!("{}/", s.url())),
        _ => None,
    };
    let mut cfg = AdxConfig::new(
        Url::parse(&s.url()).unwrap(),
        "Net",
        "T",
        "M",
        AuthConfig::workload_identity_from(env).unwrap(),
    );
    cfg.mode = IngestMode::Managed;
    cfg.ingest_endpoint = Some(Url::parse(&s.url()).unwrap());
    cfg.managed.streaming_cooldown = Duration::ZERO;
    cfg.retry.initial_backoff = Duration::from_millis(5);
    cfg.retry.max_backoff = Duration::from_millis(20);
    let client = AdxClient::new(cfg.clone(), CancellationToken::new()).unwrap();
    let mut printed = String::new();

    // 1. 401 → refresh, then 503s → managed fallback to queued (SAS URLs, authorization context).
    s.state
        .rejected_tokens
        .lock()
        .unwrap()
        .insert(format!("tok-1-{TOKEN_MARK}"));
    for _ in 0..3 {
        s.push(Fault::Status {
            code: 503,
            body: "{}".into(),
            retry_after: None,
        });
    }
    let receipt = client
        .ingest(&Batch::from_ndjson(ndjson("leak", 5, 100)))
        .await
        .unwrap();
    assert_eq!(receipt.queued_blobs, 1);
    printed.push_str(&format!("{receipt:?}\n"));

    // 2. A permanent failure.
    s.push(Fault::Status {
        code: 403,
        body: r#"{"error":{"code":"Forbidden","message":"principal is not an ingestor","@permanent":true}}"#.into(),
        retry_after: None,
    });
    let err = client
        .ingest(&Batch::from_ndjson(ndjson("leak2", 5, 100)))
        .await
        .unwrap_err();
    assert!(err.is_permanent());
    printed.push_str(&format!("{err}\n{err:?}\n{client:?}\n{cfg:?}\n"));

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("transient failure"),
        "the capture works: {logs}"
    );
    printed.push_str(&logs);
    for secret in [
        TOKEN_MARK,
        "SECRETASSERTION",
        "SASSECRET",
        "AUTHCTX-SECRET",
        "sig=",
    ] {
        assert!(
            !printed.contains(secret),
            "{secret} leaked into output:\n{printed}"
        );
    }
}
