//! Per-piece outcomes against the local ADX stand-in: a permanent error on one request is reported for exactly
//! that request's records (ADX's code and message, the request id) while its siblings are ingested; retries
//! are reported to the observer with their reason; a retry budget that runs out leaves records undelivered,
//! never dropped; and a property test over request splits (size limit, 413 halving) and injected failures
//! (permanent per request, transient then success, lost replies, exhausted budgets).

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hubble_adx::{
    AdxClient, AdxConfig, AuthConfig, Batch, CancellationToken, IngestError, IngestObserver,
    Observer, RetryEvent, RetryPolicy, RetryReason, Secret, Url,
};
use support::{ndjson, Fault, StandIn};

fn config(s: &StandIn) -> AdxConfig {
    let mut c = AdxConfig::new(
        Url::parse(&s.url()).unwrap(),
        "Net",
        "HubbleFlows",
        "HubbleFlowsMapping",
        AuthConfig::StaticToken(Secret::new("static-token")),
    );
    c.retry = RetryPolicy {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        max_retry_after: Duration::from_secs(5),
        max_attempts: None,
        max_elapsed: Some(Duration::from_secs(30)),
    };
    c.request_timeout = Duration::from_secs(10);
    c
}

fn lines(data: &[u8]) -> Vec<String> {
    String::from_utf8(data.to_vec())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn piece_lines(data: &[u8]) -> Vec<String> {
    lines(data).into_iter().filter(|l| !l.is_empty()).collect()
}

#[derive(Default)]
struct Recorder(Mutex<Vec<RetryEvent>>);

impl IngestObserver for Recorder {
    fn on_retry(&self, event: &RetryEvent) {
        self.0.lock().unwrap().push(event.clone());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_rejected_request_is_reported_alone_and_its_siblings_are_ingested() {
    let s = StandIn::start().await;
    let mut cfg = config(&s);
    cfg.max_request_bytes = 64 * 1024;
    let c = AdxClient::new(cfg, CancellationToken::new()).unwrap();
    // The third request to arrive is refused with ADX's mapping error; the others succeed.
    for _ in 0..2 {
        s.push(Fault::Status {
            code: 503,
            body: r#"{"error":{"code":"ServiceUnavailable","message":"busy","@permanent":false}}"#
                .into(),
            retry_after: None,
        });
    }
    s.push(Fault::Status {
        code: 400,
        body: support::MAPPING_NOT_FOUND.into(),
        retry_after: None,
    });
    let data = ndjson("sib", 3000, 400); // ~1.2 MB → about 19 requests
    let sent = lines(&data);
    let outcome = c.ingest_outcome(&Batch::from_ndjson(data)).await;

    assert!(outcome.undelivered.is_empty(), "{:?}", outcome.undelivered);
    assert_eq!(
        outcome.rejected.len(),
        1,
        "exactly one request was rejected"
    );
    let rejected = &outcome.rejected[0];
    // The stand-in answered three requests with an error; the last one (the 400) carried exactly the
    // rejected records, under the request id the outcome names.
    let faulted = s.faulted();
    assert_eq!(faulted.len(), 3);
    let (rejected_id, rejected_lines) = &faulted[2];
    assert_eq!(piece_lines(&rejected.data), *rejected_lines);
    assert_eq!(rejected.records, rejected_lines.len());
    assert_eq!(
        rejected.client_request_id.as_deref(),
        Some(rejected_id.as_str())
    );
    assert!(rejected_id.starts_with("hubble-ingest.Ingest;"));
    match &rejected.error {
        IngestError::Permanent {
            status,
            code,
            message,
            activity_id,
        } => {
            assert_eq!(*status, Some(400));
            assert_eq!(code, "BadRequest_MappingReferenceWasNotFound");
            assert!(
                message.starts_with("Mapping reference 'HubbleFlowsMapping'"),
                "{message}"
            );
            assert_eq!(activity_id.as_deref(), Some("standin-mapping-activity"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(outcome.accepted_records + rejected.records, sent.len());
    // Every other record arrived exactly once; none of the rejected ones did.
    let got = support::counts(&s.records());
    let rejected_set: HashSet<&String> = rejected_lines.iter().collect();
    for line in &sent {
        let expected = usize::from(!rejected_set.contains(line));
        assert_eq!(got.get(line).copied().unwrap_or(0), expected, "{line}");
    }
    assert_eq!(outcome.receipt.retries, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_reported_to_the_observer_with_their_reason() {
    let s = StandIn::start().await;
    let recorder = Arc::new(Recorder::default());
    let mut cfg = config(&s);
    cfg.request_timeout = Duration::from_millis(500);
    cfg.observer = Observer::new(recorder.clone());
    let c = AdxClient::new(cfg, CancellationToken::new()).unwrap();
    s.push(Fault::Status {
        code: 429,
        body: r#"{"error":{"code":"TooManyRequests","message":"throttled"}}"#.into(),
        retry_after: Some(1),
    });
    s.push(Fault::Status {
        code: 503,
        body: "<html>busy</html>".into(),
        retry_after: None,
    });
    s.push(Fault::Delay(Duration::from_secs(2)));
    let data = ndjson("obs", 20, 100);
    let receipt = c.ingest(&Batch::from_ndjson(data)).await.unwrap();
    assert_eq!(receipt.retries, 3);
    let events = recorder.0.lock().unwrap().clone();
    let reasons: Vec<RetryReason> = events.iter().map(|e| e.reason).collect();
    assert_eq!(
        reasons,
        [
            RetryReason::Throttled,
            RetryReason::Http5xx,
            RetryReason::Timeout
        ]
    );
    assert_eq!(
        events.iter().map(|e| e.attempt).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(
        events[0].delay >= Duration::from_secs(1),
        "Retry-After is a floor: {:?}",
        events[0].delay
    );
    assert!(events.iter().all(|e| e.what == "streaming ingest"));

    // Connection refused: a closed port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let recorder = Arc::new(Recorder::default());
    let mut cfg = config(&s);
    cfg.cluster = Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    cfg.retry.max_attempts = Some(3);
    cfg.observer = Observer::new(recorder.clone());
    let c = AdxClient::new(cfg, CancellationToken::new()).unwrap();
    let err = c
        .ingest(&Batch::from_ndjson(ndjson("refused", 2, 100)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, IngestError::RetriesExhausted { .. }),
        "{err:?}"
    );
    let reasons: Vec<RetryReason> = recorder
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|e| e.reason)
        .collect();
    assert_eq!(reasons, [RetryReason::Connect, RetryReason::Connect]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_retry_budget_leaves_records_undelivered_not_dropped() {
    let s = StandIn::start().await;
    let mut cfg = config(&s);
    cfg.max_request_bytes = 16 * 1024;
    cfg.retry.max_elapsed = Some(Duration::from_millis(300));
    let c = AdxClient::new(cfg, CancellationToken::new()).unwrap();
    *s.state.always.lock().unwrap() = Some(Fault::Status {
        code: 503,
        body: String::new(),
        retry_after: None,
    });
    let data = ndjson("budget", 200, 300);
    let sent = lines(&data);
    let started = std::time::Instant::now();
    let outcome = c.ingest_outcome(&Batch::from_ndjson(data)).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the budget bounds the call"
    );
    assert!(outcome.rejected.is_empty());
    assert_eq!(outcome.accepted_records, 0);
    assert_eq!(outcome.undelivered_records(), sent.len());
    let mut undelivered: Vec<String> = outcome
        .undelivered
        .iter()
        .flat_map(|p| piece_lines(&p.data))
        .collect();
    undelivered.sort();
    let mut expected = sent.clone();
    expected.sort();
    assert_eq!(undelivered, expected);
    for p in &outcome.undelivered {
        match &p.error {
            IngestError::RetriesExhausted { last, .. } => assert!(last.contains("503"), "{last}"),
            other => panic!("{other:?}"),
        }
        assert!(p.client_request_id.is_some());
    }
}

/// One injected failure, in arrival order of the requests that are not poisoned.
#[derive(Debug, Clone)]
enum Injected {
    Unavailable,
    Throttled,
    LostReply,
}

fn run_case(
    records: usize,
    width: usize,
    max_request: usize,
    max_body: Option<usize>,
    poison: Vec<usize>,
    injected: Vec<Injected>,
    max_attempts: Option<u32>,
) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let s = StandIn::start().await;
        let mut cfg = config(&s);
        cfg.max_request_bytes = max_request;
        cfg.retry.max_attempts = max_attempts;
        cfg.retry.initial_backoff = Duration::from_millis(1);
        cfg.retry.max_backoff = Duration::from_millis(4);
        let c = AdxClient::new(cfg, CancellationToken::new()).unwrap();
        *s.state.max_body.lock().unwrap() = max_body;
        *s.state.poison.lock().unwrap() = Some("POISON".into());
        let lost_replies = injected
            .iter()
            .filter(|f| matches!(f, Injected::LostReply))
            .count();
        for f in injected {
            s.push(match f {
                Injected::Unavailable => Fault::Status {
                    code: 503,
                    body: String::new(),
                    retry_after: None,
                },
                Injected::Throttled => Fault::Status {
                    code: 429,
                    body: String::new(),
                    retry_after: Some(0),
                },
                Injected::LostReply => Fault::AcceptThenDrop,
            });
        }
        let mut data = Vec::new();
        let pad = "p".repeat(width);
        let poison: HashSet<usize> = poison.into_iter().filter(|i| *i < records).collect();
        for i in 0..records {
            let mark = if poison.contains(&i) { "POISON" } else { "ok" };
            data.extend_from_slice(format!(r#"{{"i":{i},"m":"{mark}","p":"{pad}"}}"#).as_bytes());
            data.push(b'\n');
        }
        let input = lines(&data);
        let outcome = c.ingest_outcome(&Batch::from_ndjson(data)).await;

        let rejected: Vec<String> = outcome
            .rejected
            .iter()
            .flat_map(|p| piece_lines(&p.data))
            .collect();
        let undelivered: Vec<String> = outcome
            .undelivered
            .iter()
            .flat_map(|p| piece_lines(&p.data))
            .collect();
        let ingested: HashMap<String, usize> = support::counts(&s.records());
        assert_eq!(
            outcome.accepted_records + outcome.rejected_records() + outcome.undelivered_records(),
            records,
            "accepted + rejected + undelivered = input"
        );
        assert_eq!(rejected.len(), outcome.rejected_records());
        assert_eq!(undelivered.len(), outcome.undelivered_records());
        let rejected_set: HashSet<&String> = rejected.iter().collect();
        let undelivered_set: HashSet<&String> = undelivered.iter().collect();
        assert_eq!(
            rejected_set.len(),
            rejected.len(),
            "a record rejected twice"
        );
        assert_eq!(
            undelivered_set.len(),
            undelivered.len(),
            "a record undelivered twice"
        );
        for line in &input {
            let in_ingested = ingested.contains_key(line);
            let in_rejected = rejected_set.contains(line);
            let in_undelivered = undelivered_set.contains(line);
            assert!(
                in_ingested || in_rejected || in_undelivered,
                "record lost: {line}"
            );
            assert!(
                !(in_ingested && in_rejected),
                "record both ingested and dead-lettered: {line}"
            );
            assert!(!(in_rejected && in_undelivered), "{line}");
            // Only a lost reply (then a give-up) makes an ingested record look undelivered.
            if in_ingested && in_undelivered {
                assert!(lost_replies > 0, "{line}");
            }
            if line.contains("POISON") {
                // Rejected, or never sent because its request's budget ran out first.
                assert!(
                    in_rejected || in_undelivered,
                    "a poisoned record was neither rejected nor undelivered: {line}"
                );
            }
        }
        for line in ingested.keys() {
            assert!(
                input.contains(line),
                "the stand-in got a record never sent: {line}"
            );
        }
        for p in &outcome.rejected {
            assert!(
                piece_lines(&p.data).iter().any(|l| l.contains("POISON")),
                "a rejected request without a poisoned record"
            );
            assert!(p.error.is_permanent());
        }
        if lost_replies == 0 {
            assert!(
                ingested.values().all(|n| *n == 1),
                "duplicates without a lost reply"
            );
        }
        if max_attempts.is_none() {
            assert!(outcome.undelivered.is_empty(), "{:?}", outcome.undelivered);
        }
    });
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]

    #[test]
    fn every_record_is_ingested_rejected_or_undelivered_and_never_both_ingested_and_rejected(
        records in 1usize..120,
        width in 10usize..400,
        max_request in 1024usize..8192,
        max_body in proptest::option::of(1500usize..6000),
        poison in proptest::collection::vec(0usize..120, 0..4),
        injected in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just(Injected::Unavailable),
                proptest::strategy::Just(Injected::Throttled),
                proptest::strategy::Just(Injected::LostReply),
            ],
            0..8,
        ),
        max_attempts in proptest::option::of(2u32..4),
    ) {
        run_case(records, width, max_request, max_body, poison, injected, max_attempts);
    }
}
