//! Streaming ingestion against the local ADX stand-in: wire format and headers, splitting, and
//! every fault the issue lists. Each test asserts what arrived: all records, none corrupted,
//! duplicates only where a reply was lost.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use hubble_adx::{
    AdxClient, AdxConfig, AuthConfig, Batch, CancellationToken, ClientSecretSource, IngestError,
    RetryPolicy, Url,
};
use support::{counts, ndjson, Fault, StandIn};

fn config(s: &StandIn, secret_file: &std::path::Path) -> AdxConfig {
    let mut c = AdxConfig::new(
        Url::parse(&s.url()).unwrap(),
        "Net",
        "HubbleFlows",
        "HubbleFlowsMapping",
        AuthConfig::ClientSecret {
            tenant_id: "tenant-1".into(),
            client_id: "client-1".into(),
            secret: ClientSecretSource::File(secret_file.to_path_buf()),
            authority: Url::parse(&format!("{}/", s.url())).unwrap(),
        },
    );
    c.retry = RetryPolicy {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(80),
        max_retry_after: Duration::from_secs(5),
        max_attempts: None,
        max_elapsed: Some(Duration::from_secs(60)),
    };
    c.request_timeout = Duration::from_secs(10);
    c
}

struct Env {
    s: StandIn,
    _dir: tempfile::TempDir,
    secret: std::path::PathBuf,
}

async fn env() -> Env {
    let s = StandIn::start().await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "client-secret-VALUE\n").unwrap();
    Env {
        s,
        _dir: dir,
        secret,
    }
}

fn client(c: AdxConfig) -> AdxClient {
    AdxClient::new(c, CancellationToken::new()).unwrap()
}

fn expected_lines(data: &[u8]) -> Vec<String> {
    String::from_utf8(data.to_vec())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn assert_exactly_once(received: &[String], sent: &[String]) {
    let c = counts(received);
    assert_eq!(received.len(), sent.len(), "record count");
    for line in sent {
        assert_eq!(
            c.get(line),
            Some(&1),
            "record {line} must arrive exactly once"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_wire_format_and_headers() {
    let e = env().await;
    let c = client(config(&e.s, &e.secret));
    let mut sent = Vec::new();
    for tag in ["a", "b", "c"] {
        let data = ndjson(tag, 200, 300);
        let data_len = data.len();
        sent.extend(expected_lines(&data));
        let receipt = c.ingest(&Batch::from_ndjson(data)).await.unwrap();
        assert_eq!(receipt.records, 200);
        assert_eq!(receipt.streamed_requests, 1);
        assert_eq!(receipt.retries, 0);
        assert_eq!(receipt.bytes_uncompressed, data_len as u64);
        assert!(
            receipt.bytes_compressed > 0 && receipt.bytes_compressed < receipt.bytes_uncompressed
        );
    }
    assert_exactly_once(&e.s.records(), &sent);
    let reqs = e.s.requests();
    assert_eq!(reqs.len(), 3);
    let mut ids = HashSet::new();
    for r in &reqs {
        assert_eq!(
            r.path_and_query,
            "/v1/rest/ingest/Net/HubbleFlows?streamFormat=Json&mappingName=HubbleFlowsMapping"
        );
        assert_eq!(r.headers["content-encoding"], "gzip");
        assert_eq!(r.headers["accept"], "application/json");
        assert_eq!(
            r.headers["authorization"],
            format!("Bearer tok-1-{}", support::TOKEN_MARK)
        );
        assert_eq!(r.headers["x-ms-app"], "hubble-ingest");
        assert!(r.headers["x-ms-client-version"].starts_with("Kusto.hubble-adx:{"));
        assert!(r.headers["x-ms-client-request-id"].starts_with("hubble-ingest.Ingest;"));
        assert!(!r.headers.contains_key("content-type"));
        ids.insert(r.headers["x-ms-client-request-id"].clone());
    }
    assert_eq!(ids.len(), 3, "request ids are unique");
    // One token exchange for all requests, with the client-credentials form.
    let tokens = e.s.token_requests();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0]["grant_type"], "client_credentials");
    assert_eq!(tokens[0]["client_id"], "client-1");
    assert_eq!(tokens[0]["client_secret"], "client-secret-VALUE");
    assert_eq!(
        tokens[0]["scope"],
        "https://kusto.kusto.windows.net/.default"
    );
    assert_eq!(*e.s.state.corrupt_bodies.lock().unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_split_to_the_request_limit_concurrently() {
    let e = env().await;
    let mut cfg = config(&e.s, &e.secret);
    cfg.max_request_bytes = 64 * 1024;
    let c = client(cfg);
    let data = ndjson("big", 3000, 400); // ~1.2 MB
    let sent = expected_lines(&data);
    let receipt = c.ingest(&Batch::from_ndjson(data)).await.unwrap();
    assert!(receipt.streamed_requests >= 18, "{receipt:?}");
    for r in e.s.requests() {
        assert!(r.raw_len <= 64 * 1024, "request of {} bytes", r.raw_len);
    }
    assert_exactly_once(&e.s.records(), &sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_honours_retry_after() {
    let e = env().await;
    let c = client(config(&e.s, &e.secret));
    e.s.push(Fault::Status {
        code: 429,
        body: r#"{"error":{"code":"TooManyRequests","message":"throttled"}}"#.into(),
        retry_after: Some(1),
    });
    let data = ndjson("t", 50, 200);
    let sent = expected_lines(&data);
    let receipt = c.ingest(&Batch::from_ndjson(data)).await.unwrap();
    assert_eq!(receipt.retries, 1);
    let reqs = e.s.requests();
    assert_eq!(reqs.len(), 2);
    let waited = reqs[1].at.duration_since(reqs[0].at);
    assert!(
        waited >= Duration::from_millis(990),
        "waited only {waited:?}"
    );
    assert_exactly_once(&e.s.records(), &sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_unavailable_burst_is_retried() {
    let e = env().await;
    let c = client(config(&e.s, &e.secret));
    for _ in 0..5 {
        e.s.push(Fault::Status {
            code: 503,
            body: "<html>Service Unavailable</html>".into(),
            retry_after: None,
        });
    }
    let data = ndjson("u", 100, 200);
    let sent = expected_lines(&data);
    let receipt = c.ingest(&Batch::from_ndjson(data)).await.unwrap();
    assert_eq!(receipt.retries, 5);
    assert_eq!(receipt.attempts, 6);
    assert_exactly_once(&e.s.records(), &sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_error_is_not_retried() {
    let e = env().await;
    let c = client(config(&e.s, &e.secret));
    e.s.push(Fault::Status {
        code: 400,
        body: r#"{"error":{"code":"BadRequest_MappingReferenceWasNotFound","message":"Request is invalid and cannot be executed.","@message":"Mapping reference 'HubbleFlowsMapping' could not be found.","@context":{"activityId":"act-42"},"@permanent":true}}"#.into(),
        retry_after: None,
    });
    let err = c
        .ingest(&Batch::from_ndjson(ndjson("p", 10, 100)))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        IngestError::Permanent {
            status: Some(400),
            code: "BadRequest_MappingReferenceWasNotFound".into(),
            message: "Mapping reference 'HubbleFlowsMapping' could not be found.".into(),
            activity_id: Some("act-42".into()),
        }
    );
    assert!(err.is_permanent());
    assert_eq!(e.s.requests().len(), 1, "no retry of a permanent error");
    assert!(e.s.records().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_and_not_found_are_permanent() {
    let e = env().await;
    let c = client(config(&e.s, &e.secret));
    for code in [403u16, 404] {
        e.s.push(Fault::Status {
            code,
            body: String::new(),
            retry_after: None,
        });
        let err = c
            .ingest(&Batch::from_ndjson(ndjson("f", 3, 100)))
            .await
            .unwrap_err();
        match err {
            IngestError::Permanent {
                status,
                activity_id,
                ..
            } => {
                assert_eq!(status, Some(code));
                assert_eq!(activity_id.as_deref(), Some("standin-activity"));
            }
            other => panic!("{code}: {other:?}"),
        }
    }
    assert!(e.s.records().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_too_large_splits_on_record_boundaries() {
    let e = env().await;
    let c = client(config(&e.s, &e.secret));
    *e.s.state.max_body.lock().unwrap() = Some(20 * 1024);
    let data = ndjson("s", 500, 300); // ~150 KB
    let sent = expected_lines(&data);
    let receipt = c.ingest(&Batch::from_ndjson(data)).await.unwrap();
    assert!(receipt.splits >= 7, "{receipt:?}");
    assert_exactly_once(&e.s.records(), &sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_record_too_large_is_permanent() {
    let e = env().await;
    let c = client(config(&e.s, &e.secret));
    *e.s.state.max_body.lock().unwrap() = Some(100);
    let err = c
        .ingest(&Batch::from_ndjson(ndjson("x", 1, 300)))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            IngestError::Permanent {
                status: Some(413),
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_reply_after_accept_duplicates_only_that_batch() {
    let e = env().await;
    let c = client(config(&e.s, &e.secret));
    let first = ndjson("before", 50, 200);
    c.ingest(&Batch::from_ndjson(first.clone())).await.unwrap();
    e.s.push(Fault::AcceptThenDrop);
    let lost = ndjson("lost", 50, 200);
    let receipt = c.ingest(&Batch::from_ndjson(lost.clone())).await.unwrap();
    assert_eq!(receipt.retries, 1);
    let after = ndjson("after", 50, 200);
    c.ingest(&Batch::from_ndjson(after.clone())).await.unwrap();
    let got = counts(&e.s.records());
    for line in expected_lines(&first)
        .iter()
        .chain(expected_lines(&after).iter())
    {
        assert_eq!(got.get(line), Some(&1), "{line}");
    }
    for line in expected_lines(&lost) {
        assert_eq!(
            got.get(&line),
            Some(&2),
            "the lost-reply batch arrives twice: {line}"
        );
    }
    assert_eq!(got.values().sum::<usize>(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_server_times_out_and_is_retried() {
    let e = env().await;
    let mut cfg = config(&e.s, &e.secret);
    cfg.request_timeout = Duration::from_secs(1);
    let c = client(cfg);
    e.s.push(Fault::Delay(Duration::from_secs(4)));
    let data = ndjson("slow", 20, 100);
    let sent = expected_lines(&data);
    let receipt = c.ingest(&Batch::from_ndjson(data)).await.unwrap();
    assert_eq!(receipt.retries, 1);
    assert_exactly_once(&e.s.records(), &sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_refreshes_the_token_once() {
    let e = env().await;
    let c = client(config(&e.s, &e.secret));
    e.s.state
        .rejected_tokens
        .lock()
        .unwrap()
        .insert(format!("tok-1-{}", support::TOKEN_MARK));
    let data = ndjson("auth", 10, 100);
    let sent = expected_lines(&data);
    let receipt = c.ingest(&Batch::from_ndjson(data)).await.unwrap();
    assert_eq!(receipt.retries, 0, "a 401 is not a backoff retry");
    assert_eq!(e.s.token_requests().len(), 2);
    let reqs = e.s.requests();
    assert_eq!(reqs[0].outcome, "401");
    assert_eq!(
        reqs[1].headers["authorization"],
        format!("Bearer tok-2-{}", support::TOKEN_MARK)
    );
    assert_exactly_once(&e.s.records(), &sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_retrying() {
    let e = env().await;
    let shutdown = CancellationToken::new();
    let mut cfg = config(&e.s, &e.secret);
    cfg.retry.max_elapsed = None;
    let c = AdxClient::new(cfg, shutdown.clone()).unwrap();
    *e.s.state.always.lock().unwrap() = Some(Fault::Status {
        code: 503,
        body: String::new(),
        retry_after: None,
    });
    let task =
        tokio::spawn(async move { c.ingest(&Batch::from_ndjson(ndjson("c", 5, 100))).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    shutdown.cancel();
    let r = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r, Err(IngestError::Cancelled));
    assert!(e.s.requests().len() >= 2);
    assert!(e.s.records().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempt_limit_gives_up_with_the_last_reason() {
    let e = env().await;
    let mut cfg = config(&e.s, &e.secret);
    cfg.retry.max_attempts = Some(3);
    let c = client(cfg);
    *e.s.state.always.lock().unwrap() = Some(Fault::Status {
        code: 500,
        body: String::new(),
        retry_after: None,
    });
    let err = c
        .ingest(&Batch::from_ndjson(ndjson("l", 5, 100)))
        .await
        .unwrap_err();
    match err {
        IngestError::RetriesExhausted { attempts, last } => {
            assert_eq!(attempts, 3);
            assert!(last.contains("500"), "{last}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.s.requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_bounded_across_calls() {
    let e = env().await;
    let mut cfg = config(&e.s, &e.secret);
    cfg.concurrency = 2;
    cfg.max_request_bytes = 8 * 1024;
    let c = client(cfg);
    *e.s.state.ok_delay.lock().unwrap() = Some(Duration::from_millis(40));
    let a = ndjson("ca", 200, 200);
    let b = ndjson("cb", 200, 200);
    let mut sent = expected_lines(&a);
    sent.extend(expected_lines(&b));
    let (c1, c2) = (c.clone(), c.clone());
    let t1 = tokio::spawn(async move { c1.ingest(&Batch::from_ndjson(a)).await });
    let t2 = tokio::spawn(async move { c2.ingest(&Batch::from_ndjson(b)).await });
    let r1 = t1.await.unwrap().unwrap();
    let r2 = t2.await.unwrap().unwrap();
    assert!(r1.streamed_requests >= 5 && r2.streamed_requests >= 5);
    let max =
        e.s.state
            .max_in_flight
            .load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        max, 2,
        "at most `concurrency` requests in flight, and the limit is reached"
    );
    assert_exactly_once(&e.s.records(), &sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_401s_cause_a_single_refresh() {
    let e = env().await;
    let mut cfg = config(&e.s, &e.secret);
    cfg.max_request_bytes = 4 * 1024;
    let c = client(cfg);
    // Obtain tok-1 first, then have ADX reject it while many pieces are in flight.
    c.ingest(&Batch::from_ndjson(ndjson("warm", 1, 100)))
        .await
        .unwrap();
    e.s.state
        .rejected_tokens
        .lock()
        .unwrap()
        .insert(format!("tok-1-{}", support::TOKEN_MARK));
    *e.s.state.ok_delay.lock().unwrap() = Some(Duration::from_millis(10));
    let data = ndjson("many", 200, 200); // ~10 pieces, 4 in flight
    let mut sent = expected_lines(&ndjson("warm", 1, 100));
    sent.extend(expected_lines(&data));
    c.ingest(&Batch::from_ndjson(data)).await.unwrap();
    assert_eq!(
        e.s.token_requests().len(),
        2,
        "one refresh for all the 401s"
    );
    assert_exactly_once(&e.s.records(), &sent);
}
