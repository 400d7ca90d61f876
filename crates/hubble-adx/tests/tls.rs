//! The production transport: HTTPS with rustls (ring provider) and HTTP/2 negotiated by ALPN,
//! against the stand-in serving a self-signed certificate trusted through
//! `AdxConfig::extra_ca_certificates_pem`; and an untrusted certificate is refused (transient).

mod support;

use std::time::Duration;

use hubble_adx::{
    AdxClient, AdxConfig, AuthConfig, Batch, CancellationToken, IngestError, Secret, Url,
};
use support::{ndjson, StandIn};

fn self_signed() -> (String, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    (cert.cert.pem(), cert.signing_key.serialize_pem())
}

fn config(s: &StandIn) -> AdxConfig {
    let mut c = AdxConfig::new(
        Url::parse(&format!("https://localhost:{}", s.addr.port())).unwrap(),
        "Net",
        "T",
        "M",
        AuthConfig::StaticToken(Secret::new("t")),
    );
    c.retry.initial_backoff = Duration::from_millis(5);
    c.retry.max_backoff = Duration::from_millis(20);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_http2() {
    let (cert, key) = self_signed();
    let s = StandIn::start_tls(&cert, &key).await;
    let mut cfg = config(&s);
    cfg.extra_ca_certificates_pem = vec![cert.into_bytes()];
    let c = AdxClient::new(cfg, CancellationToken::new()).unwrap();
    let data = ndjson("tls", 100, 300);
    c.ingest(&Batch::from_ndjson(data)).await.unwrap();
    assert_eq!(s.records().len(), 100);
    assert_eq!(
        *s.state.versions.lock().unwrap(),
        vec!["HTTP/2.0".to_string()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_certificate_is_refused() {
    let (cert, key) = self_signed();
    let s = StandIn::start_tls(&cert, &key).await;
    let mut cfg = config(&s);
    cfg.retry.max_attempts = Some(2);
    let c = AdxClient::new(cfg, CancellationToken::new()).unwrap();
    let err = c
        .ingest(&Batch::from_ndjson(ndjson("x", 1, 100)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, IngestError::RetriesExhausted { .. }),
        "{err:?}"
    );
    assert!(s.records().is_empty());
}

#[test]
fn bad_ca_bundle_is_a_config_error() {
    let s_url = Url::parse("https://localhost:1").unwrap();
    let mut cfg = AdxConfig::new(
        s_url,
        "Net",
        "T",
        "M",
        AuthConfig::StaticToken(Secret::new("t")),
    );
    cfg.extra_ca_certificates_pem = vec![b"not a certificate".to_vec()];
    let err = AdxClient::new(cfg, CancellationToken::new()).unwrap_err();
    assert!(
        err.to_string().starts_with("extra CA certificates:"),
        "{err}"
    );
}
