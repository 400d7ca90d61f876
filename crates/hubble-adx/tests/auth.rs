//! Auth flows against the stand-in: workload identity (token file re-read on every exchange),
//! managed identity via IMDS (query, `Metadata` header, retry on 429), token caching, background
//! refresh (a failed or stalled refresh never stops requests holding a valid token), the
//! token-request counters, and the scope (discovered from `/v1/rest/auth/metadata`, or overridden).

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use std::sync::{Arc, Mutex};

use hubble_adx::{
    AdxClient, AdxConfig, AuthConfig, Batch, CancellationToken, IngestObserver, Observer,
    RetryEvent, RetryReason, Url,
};
use support::{ndjson, StandIn, TOKEN_MARK};

/// Records the client's retry events.
#[derive(Default)]
struct Retries(Mutex<Vec<RetryEvent>>);

impl IngestObserver for Retries {
    fn on_retry(&self, event: &RetryEvent) {
        self.0.lock().unwrap().push(event.clone());
    }
}

impl Retries {
    fn attach(c: &mut AdxConfig) -> Arc<Retries> {
        let r = Arc::new(Retries::default());
        c.observer = Observer::new(r.clone());
        r
    }

    fn seen(&self) -> Vec<(&'static str, RetryReason, u32)> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|e| (e.what, e.reason, e.attempt))
            .collect()
    }
}

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
    let mut cfg = base(&s, auth);
    let retries = Retries::attach(&mut cfg);
    let c = AdxClient::new(cfg, CancellationToken::new()).unwrap();
    c.ingest(&Batch::from_ndjson(ndjson("mi", 5, 100)))
        .await
        .unwrap();
    let imds = s.state.imds_requests.lock().unwrap().clone();
    assert_eq!(imds.len(), 2, "one 429, then success");
    assert_eq!(
        retries.seen(),
        [("managed identity token", RetryReason::Token, 1)],
        "the IMDS retry is reported to the observer"
    );
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
    // A 4-second token is refreshed at half its life (the 5-minute margin does not fit) and used
    // until 3.6 s.
    *s.state.token_lifetime_secs.lock().unwrap() = 4;
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
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // Due for refresh but still valid: this request goes out with the old token while the refresh
    // runs in the background; the next one carries the new token.
    c.ingest(&Batch::from_ndjson(ndjson("e3", 1, 100)))
        .await
        .unwrap();
    // The client counts a refresh when it stores the token (the stand-in sees the request earlier: waiting on
    // that raced with the store, and e4 could still carry the old token).
    wait_until(|| c.token_requests().ok == 2).await;
    assert_eq!(s.token_requests().len(), 2);
    c.ingest(&Batch::from_ndjson(ndjson("e4", 1, 100)))
        .await
        .unwrap();
    let auth: Vec<String> = s
        .requests()
        .iter()
        .map(|r| r.headers["authorization"].clone())
        .collect();
    assert_eq!(
        auth,
        [1, 1, 1, 2].map(|n| format!("Bearer tok-{n}-{TOKEN_MARK}"))
    );
    let counts = c.token_requests();
    assert_eq!(
        (counts.credential, counts.ok, counts.error),
        ("client-secret", 2, 0)
    );
}

/// Polls `done` every 10 ms for up to 10 s (a hang guard, not a timing assertion).
async fn wait_until(mut done: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached within 10 s");
}

fn client_secret_auth(s: &StandIn, dir: &tempfile::TempDir) -> AuthConfig {
    let secret = dir.path().join("s");
    std::fs::write(&secret, "x").unwrap();
    let authority = format!("{}/", s.url());
    AuthConfig::client_secret_from(
        move |k| {
            Some(if k == "AZURE_AUTHORITY_HOST" {
                authority.clone()
            } else {
                "v".to_string()
            })
        },
        Some(secret),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_early_refresh_keeps_serving_the_valid_token_and_retries_later() {
    let s = StandIn::start().await;
    // Refresh due after 4 s, token usable until 7.2 s.
    *s.state.token_lifetime_secs.lock().unwrap() = 8;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = base(&s, client_secret_auth(&s, &dir));
    let retries = Retries::attach(&mut cfg);
    let c = AdxClient::new(cfg, CancellationToken::new()).unwrap();
    c.ingest(&Batch::from_ndjson(ndjson("r1", 1, 100)))
        .await
        .unwrap();
    s.state.token_faults.lock().unwrap().push_back((
        503,
        r#"{"error":"temporarily_unavailable","error_description":"AADSTS90033"}"#.into(),
    ));
    tokio::time::sleep(Duration::from_millis(4100)).await;
    // The refresh this starts fails; the request still goes out with the cached token.
    c.ingest(&Batch::from_ndjson(ndjson("r2", 1, 100)))
        .await
        .unwrap();
    wait_until(|| c.token_requests().error == 1).await;
    c.ingest(&Batch::from_ndjson(ndjson("r3", 1, 100)))
        .await
        .unwrap();
    assert_eq!(
        s.token_requests().len(),
        2,
        "no retry before half the remaining lifetime"
    );
    // Half the remaining lifetime (~1.55 s) later, a call retries the refresh in the background
    // (still about 1.3 s before the cached token expires).
    tokio::time::sleep(Duration::from_millis(1700)).await;
    c.ingest(&Batch::from_ndjson(ndjson("r4", 1, 100)))
        .await
        .unwrap();
    wait_until(|| c.token_requests().ok == 2).await;
    c.ingest(&Batch::from_ndjson(ndjson("r5", 1, 100)))
        .await
        .unwrap();
    let auth: Vec<String> = s
        .requests()
        .iter()
        .map(|r| r.headers["authorization"].clone())
        .collect();
    assert_eq!(
        auth,
        [1, 1, 1, 1, 3].map(|n| format!("Bearer tok-{n}-{TOKEN_MARK}")),
        "the failed refresh (request 2) never replaced the valid token"
    );
    let counts = c.token_requests();
    assert_eq!((counts.ok, counts.error), (2, 1));
    assert_eq!(s.records().len(), 5);
    assert_eq!(
        retries.seen(),
        [("token refresh", RetryReason::Token, 1)],
        "the failed refresh's background retry is reported, and no request was retried"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_refresh_does_not_block_requests_with_a_valid_token() {
    let s = StandIn::start().await;
    // Refresh due after 4 s, token usable until 7.2 s.
    *s.state.token_lifetime_secs.lock().unwrap() = 8;
    let dir = tempfile::tempdir().unwrap();
    let c = AdxClient::new(
        base(&s, client_secret_auth(&s, &dir)),
        CancellationToken::new(),
    )
    .unwrap();
    c.ingest(&Batch::from_ndjson(ndjson("h0", 1, 100)))
        .await
        .unwrap();
    s.state.hold_tokens.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(4100)).await;
    // The token endpoint does not answer while these run: had any of them waited for the refresh
    // (or for a lock the refresh holds), the hang guard would fire.
    for i in 0..3 {
        tokio::time::timeout(
            Duration::from_secs(20),
            c.ingest(&Batch::from_ndjson(ndjson(&format!("h{}", i + 1), 1, 100))),
        )
        .await
        .expect("a request with a valid token waited for the stalled refresh")
        .unwrap();
    }
    assert!(s.state.hold_tokens.load(Ordering::SeqCst));
    assert_eq!(s.records().len(), 4);
    assert_eq!(c.token_requests().ok, 1, "the refresh is still in flight");
    s.state.hold_tokens.store(false, Ordering::SeqCst);
    wait_until(|| c.token_requests().ok == 2).await;
    assert_eq!(
        s.token_requests().len(),
        2,
        "one refresh in flight, not one per request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_requests_share_one_token_exchange() {
    let s = StandIn::start().await;
    s.state.hold_tokens.store(true, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let c = AdxClient::new(
        base(&s, client_secret_auth(&s, &dir)),
        CancellationToken::new(),
    )
    .unwrap();
    let mut tasks = Vec::new();
    for i in 0..4 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.ingest(&Batch::from_ndjson(ndjson(&format!("c{i}"), 1, 100)))
                .await
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    s.state.hold_tokens.store(false, Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(s.token_requests().len(), 1);
    assert_eq!(s.records().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_is_discovered_from_the_cluster_auth_metadata() {
    let s = StandIn::start().await;
    *s.state.auth_metadata.lock().unwrap() = Some((
        200,
        support::public_cloud_metadata("https://kusto.kusto.usgovcloudapi.net"),
    ));
    let dir = tempfile::tempdir().unwrap();
    let c = AdxClient::new(
        base(&s, client_secret_auth(&s, &dir)),
        CancellationToken::new(),
    )
    .unwrap();
    c.ingest(&Batch::from_ndjson(ndjson("d1", 1, 100)))
        .await
        .unwrap();
    // A 401 forces a second exchange; the scope comes from the cache.
    s.state
        .rejected_tokens
        .lock()
        .unwrap()
        .insert(format!("tok-1-{TOKEN_MARK}"));
    c.ingest(&Batch::from_ndjson(ndjson("d2", 1, 100)))
        .await
        .unwrap();
    let reqs = s.token_requests();
    assert_eq!(reqs.len(), 2);
    for r in &reqs {
        assert_eq!(r["scope"], "https://kusto.kusto.usgovcloudapi.net/.default");
    }
    assert_eq!(
        s.state.metadata_requests.load(Ordering::SeqCst),
        1,
        "cached per client"
    );

    // Managed identity sends the discovered resource to IMDS.
    let auth = AuthConfig::ManagedIdentity {
        client_id: None,
        endpoint: Url::parse(&s.url()).unwrap(),
    };
    let c = AdxClient::new(base(&s, auth), CancellationToken::new()).unwrap();
    c.ingest(&Batch::from_ndjson(ndjson("d3", 1, 100)))
        .await
        .unwrap();
    let imds = s.state.imds_requests.lock().unwrap().clone();
    assert!(
        imds[0]
            .0
            .ends_with("&resource=https%3A%2F%2Fkusto.kusto.usgovcloudapi.net"),
        "{imds:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_scope_wins_and_404_means_the_public_cloud() {
    let s = StandIn::start().await;
    *s.state.auth_metadata.lock().unwrap() = Some((
        200,
        support::public_cloud_metadata("https://kusto.kusto.usgovcloudapi.net"),
    ));
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = base(&s, client_secret_auth(&s, &dir));
    cfg.scope = Some("https://mycluster.example.com/.default".to_string());
    let c = AdxClient::new(cfg, CancellationToken::new()).unwrap();
    c.ingest(&Batch::from_ndjson(ndjson("o1", 1, 100)))
        .await
        .unwrap();
    assert_eq!(
        s.token_requests()[0]["scope"],
        "https://mycluster.example.com/.default"
    );
    assert_eq!(
        s.state.metadata_requests.load(Ordering::SeqCst),
        0,
        "not asked when configured"
    );

    *s.state.auth_metadata.lock().unwrap() = Some((404, String::new()));
    let c = AdxClient::new(
        base(&s, client_secret_auth(&s, &dir)),
        CancellationToken::new(),
    )
    .unwrap();
    c.ingest(&Batch::from_ndjson(ndjson("o2", 1, 100)))
        .await
        .unwrap();
    assert_eq!(s.token_requests()[1]["scope"], hubble_adx::DEFAULT_SCOPE);
    assert_eq!(s.state.metadata_requests.load(Ordering::SeqCst), 1);

    // Any other failure is an auth error (transient, retried), never a silent default.
    *s.state.auth_metadata.lock().unwrap() = Some((503, "busy".to_string()));
    let mut cfg = base(&s, client_secret_auth(&s, &dir));
    cfg.retry.max_attempts = Some(1);
    let c = AdxClient::new(cfg, CancellationToken::new()).unwrap();
    let err = c
        .ingest(&Batch::from_ndjson(ndjson("o3", 1, 100)))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("auth metadata endpoint"), "{err}");
    assert!(!err.is_permanent());
    assert_eq!(c.token_requests().error, 1);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_a_request_waiting_for_a_stalled_token() {
    let s = StandIn::start().await;
    s.state.hold_tokens.store(true, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let shutdown = CancellationToken::new();
    let c = AdxClient::new(base(&s, client_secret_auth(&s, &dir)), shutdown.clone()).unwrap();
    let task =
        tokio::spawn(async move { c.ingest(&Batch::from_ndjson(ndjson("sd", 1, 100))).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!task.is_finished(), "waits while the token endpoint stalls");
    shutdown.cancel();
    let outcome = tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("shutdown did not stop the wait for a token")
        .unwrap();
    assert_eq!(outcome.unwrap_err(), hubble_adx::IngestError::Cancelled);
    assert!(s.records().is_empty());
    s.state.hold_tokens.store(false, Ordering::SeqCst);
}
