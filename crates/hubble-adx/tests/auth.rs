//! Auth flows against the stand-in: workload identity (token file re-read on every exchange),
//! managed identity via IMDS (query, `Metadata` header, retry on 429), token caching.

mod support;

use std::time::Duration;

use hubble_adx::{AdxClient, AdxConfig, AuthConfig, Batch, CancellationToken, Url};
use support::{ndjson, StandIn, TOKEN_MARK};

fn base(s: &StandIn, auth: AuthConfig) -> AdxConfig {
    let mut c = AdxConfig::new(Url::parse(&s.url()).unwrap(), "Net", "T", "M", auth);
    c.retry.initial_backoff = Duration::from_millis(10);
    c.retry.max_backoff = Duration::from_millis(50);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_identity_rereads_the_token_file() {
    let s = StandIn::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("azure-identity-token");
    std::fs::write(&file, "assertion-A\n").unwrap();
    let env = |k: &str| match k {
        "AZURE_TENANT_ID" => Some("tenant-9".to_string()),
        "AZURE_CLIENT_ID" => Some("wi-client".to_string()),
        "AZURE_FEDERATED_TOKEN_FILE" => Some(file.display().to_string()),
        "AZURE_AUTHORITY_HOST" => Some(format!("{}/", s.url())),
        _ => None,
    };
    let auth = AuthConfig::workload_identity_from(env).unwrap();
    let c = AdxClient::new(base(&s, auth), CancellationToken::new()).unwrap();
    c.ingest(&Batch::from_ndjson(ndjson("w1", 5, 100)))
        .await
        .unwrap();
    c.ingest(&Batch::from_ndjson(ndjson("w2", 5, 100)))
        .await
        .unwrap();
    assert_eq!(s.token_requests().len(), 1, "token cached between requests");

    // The kubelet rotates the file; the next exchange (forced here by a 401) must read the new one.
    std::fs::write(&file, "assertion-B\n").unwrap();
    s.state
        .rejected_tokens
        .lock()
        .unwrap()
        .insert(format!("tok-1-{TOKEN_MARK}"));
    c.ingest(&Batch::from_ndjson(ndjson("w3", 5, 100)))
        .await
        .unwrap();
    let reqs = s.token_requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0]["_path"], "/tenant-9/oauth2/v2.0/token");
    assert_eq!(reqs[0]["client_id"], "wi-client");
    assert_eq!(reqs[0]["grant_type"], "client_credentials");
    assert_eq!(
        reqs[0]["client_assertion_type"],
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    assert_eq!(reqs[0]["client_assertion"], "assertion-A");
    assert_eq!(reqs[1]["client_assertion"], "assertion-B");
    assert_eq!(reqs[0]["scope"], "https://kusto.kusto.windows.net/.default");
    assert_eq!(s.records().len(), 15);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_identity_via_imds_with_retry() {
    let s = StandIn::start().await;
    s.state.imds_faults.lock().unwrap().push_back(429);
    let auth = AuthConfig::ManagedIdentity {
        client_id: Some("uami-1".into()),
        endpoint: Url::parse(&s.url()).unwrap(),
    };
    let c = AdxClient::new(base(&s, auth), CancellationToken::new()).unwrap();
    c.ingest(&Batch::from_ndjson(ndjson("mi", 5, 100)))
        .await
        .unwrap();
    let imds = s.state.imds_requests.lock().unwrap().clone();
    assert_eq!(imds.len(), 2, "one 429, then success");
    for (query, metadata) in &imds {
        assert_eq!(metadata.as_deref(), Some("true"));
        assert_eq!(
            query,
            "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fkusto.kusto.windows.net&client_id=uami-1"
        );
    }
    let reqs = s.requests();
    assert_eq!(
        reqs[0].headers["authorization"],
        format!("Bearer imds-2-{TOKEN_MARK}")
    );
    assert_eq!(s.records().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_assigned_identity_sends_no_client_id() {
    let s = StandIn::start().await;
    let auth = AuthConfig::ManagedIdentity {
        client_id: None,
        endpoint: Url::parse(&s.url()).unwrap(),
    };
    let c = AdxClient::new(base(&s, auth), CancellationToken::new()).unwrap();
    c.ingest(&Batch::from_ndjson(ndjson("sys", 2, 100)))
        .await
        .unwrap();
    let imds = s.state.imds_requests.lock().unwrap().clone();
    assert_eq!(imds.len(), 1);
    assert!(!imds[0].0.contains("client_id"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_refreshed_before_expiry() {
    let s = StandIn::start().await;
    // A 2-second token is refreshed at half its life (the 5-minute margin does not fit).
    *s.state.token_lifetime_secs.lock().unwrap() = 2;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("s");
    std::fs::write(&secret, "x").unwrap();
    let auth = AuthConfig::client_secret_from(
        |k| {
            Some(if k == "AZURE_AUTHORITY_HOST" {
                format!("{}/", s.url())
            } else {
                "v".to_string()
            })
        },
        Some(secret),
    )
    .unwrap();
    let c = AdxClient::new(base(&s, auth), CancellationToken::new()).unwrap();
    c.ingest(&Batch::from_ndjson(ndjson("e1", 1, 100)))
        .await
        .unwrap();
    c.ingest(&Batch::from_ndjson(ndjson("e2", 1, 100)))
        .await
        .unwrap();
    assert_eq!(s.token_requests().len(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    c.ingest(&Batch::from_ndjson(ndjson("e3", 1, 100)))
        .await
        .unwrap();
    assert_eq!(s.token_requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_errors_are_retried_and_reported_without_secrets() {
    let s = StandIn::start().await;
    s.state.token_faults.lock().unwrap().push_back((
        400,
        r#"{"error":"invalid_client","error_description":"AADSTS70021: No matching federated identity record found for presented assertion.\r\nTrace ID: 1"}"#.into(),
    ));
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("s");
    std::fs::write(&secret, "the-client-secret").unwrap();
    let auth = AuthConfig::client_secret_from(
        |k| {
            Some(if k == "AZURE_AUTHORITY_HOST" {
                format!("{}/", s.url())
            } else {
                "v".to_string()
            })
        },
        Some(secret),
    )
    .unwrap();
    let mut cfg = base(&s, auth);
    cfg.retry.max_attempts = Some(1);
    let c = AdxClient::new(cfg, CancellationToken::new()).unwrap();
    let err = c
        .ingest(&Batch::from_ndjson(ndjson("te", 1, 100)))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("invalid_client: AADSTS70021"), "{text}");
    assert!(!text.contains("the-client-secret"));
    assert!(
        !err.is_permanent(),
        "an auth failure is not the batch's fault"
    );
    // Without a limit, the next attempt succeeds.
    let c = AdxClient::new(base(&s, c.config().auth.clone()), CancellationToken::new()).unwrap();
    c.ingest(&Batch::from_ndjson(ndjson("te2", 1, 100)))
        .await
        .unwrap();
    assert_eq!(s.records().len(), 1);
}
