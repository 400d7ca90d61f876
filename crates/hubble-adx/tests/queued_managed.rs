//! Queued and managed ingestion against the stand-in's management endpoint and minimal storage:
//! blob content, queue message fields, dedup tags, resource caching and rotation, managed
//! fallback on 413 / exhausted retries / oversize records, and the return to streaming.

mod support;

use std::io::Read;
use std::time::Duration;

use base64::Engine;
use hubble_adx::{
    batch_id, AdxClient, AdxConfig, AuthConfig, Batch, CancellationToken, IngestMode, Secret, Url,
};
use support::{ndjson, Fault, StandIn};

fn config(s: &StandIn, mode: IngestMode) -> AdxConfig {
    let mut c = AdxConfig::new(
        Url::parse(&s.url()).unwrap(),
        "Net",
        "HubbleFlows",
        "HubbleFlowsMapping",
        AuthConfig::StaticToken(Secret::new("static-token")),
    );
    c.mode = mode;
    c.ingest_endpoint = Some(Url::parse(&s.url()).unwrap());
    c.retry.initial_backoff = Duration::from_millis(5);
    c.retry.max_backoff = Duration::from_millis(20);
    c
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn decode_message(xml: &str) -> serde_json::Value {
    let b64 = xml
        .strip_prefix("<QueueMessage><MessageText>")
        .and_then(|r| r.strip_suffix("</MessageText></QueueMessage>"))
        .unwrap();
    let json = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    serde_json::from_slice(&json).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_blob_and_message() {
    let s = StandIn::start().await;
    let c = AdxClient::new(config(&s, IngestMode::Queued), CancellationToken::new()).unwrap();
    let data = ndjson("q", 300, 300);
    let batch = Batch::from_ndjson(data.clone());
    let receipt = c.ingest(&batch).await.unwrap();
    assert_eq!(receipt.queued_blobs, 1);
    assert_eq!(receipt.streamed_requests, 0);
    assert!(
        s.requests().is_empty(),
        "queued mode never calls the streaming endpoint"
    );

    let blobs = s.state.blobs.lock().unwrap().clone();
    assert_eq!(blobs.len(), 1);
    assert!(
        blobs[0].0.starts_with("tmp1/Net__HubbleFlows__"),
        "{}",
        blobs[0].0
    );
    assert!(blobs[0].0.ends_with(".json.gz"));
    assert_eq!(gunzip(&blobs[0].1), data);

    let messages = s.state.queue_messages.lock().unwrap().clone();
    assert_eq!(messages.len(), 1);
    let m = decode_message(&messages[0]);
    assert_eq!(m["RawDataSize"], data.len());
    assert_eq!(m["DatabaseName"], "Net");
    assert_eq!(m["TableName"], "HubbleFlows");
    assert!(m["BlobPath"]
        .as_str()
        .unwrap()
        .contains("/storage/tmp1/Net__HubbleFlows__"));
    assert!(m["BlobPath"]
        .as_str()
        .unwrap()
        .ends_with(".json.gz?sv=2019-12-12&sig=SASSECRET"));
    assert_eq!(m["ReportLevel"], 0);
    assert_eq!(m["FlushImmediately"], false);
    let p = &m["AdditionalProperties"];
    assert_eq!(p["format"], "json");
    assert_eq!(p["ingestionMappingReference"], "HubbleFlowsMapping");
    assert_eq!(p["ingestionMappingType"], "Json");
    assert_eq!(p["authorizationContext"], "AUTHCTX-SECRET");
    assert_eq!(p["tags"], format!("[\"ingest-by:{}\"]", batch.id));
    assert_eq!(p["ingestIfNotExists"], format!("[\"{}\"]", batch.id));

    // Re-sending the same batch: same dedup tag, next container/queue, cached resources.
    c.ingest(&Batch::from_ndjson(data.clone())).await.unwrap();
    let blobs = s.state.blobs.lock().unwrap().clone();
    assert!(blobs[1].0.starts_with("tmp2/"), "containers rotate");
    let messages = s.state.queue_messages.lock().unwrap().clone();
    let m2 = decode_message(&messages[1]);
    assert_eq!(m2["AdditionalProperties"]["tags"], p["tags"]);
    assert_eq!(
        m2["AdditionalProperties"]["ingestIfNotExists"],
        p["ingestIfNotExists"]
    );
    assert_ne!(m2["Id"], m["Id"]);
    let mgmt = s.state.mgmt_requests.lock().unwrap().clone();
    assert_eq!(
        mgmt,
        vec![".get ingestion resources", ".get kusto identity token"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_falls_back_on_413() {
    let s = StandIn::start().await;
    *s.state.max_body.lock().unwrap() = Some(1000);
    let c = AdxClient::new(config(&s, IngestMode::Managed), CancellationToken::new()).unwrap();
    let data = ndjson("m413", 50, 200);
    let r = c.ingest(&Batch::from_ndjson(data.clone())).await.unwrap();
    assert_eq!((r.streamed_requests, r.queued_blobs), (0, 1));
    assert_eq!(s.requests().len(), 1, "no retry of a 413 in managed mode");
    assert_eq!(gunzip(&s.state.blobs.lock().unwrap()[0].1), data);
    assert!(s.records().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_falls_back_after_transient_retries_then_returns() {
    let s = StandIn::start().await;
    let mut cfg = config(&s, IngestMode::Managed);
    cfg.managed.streaming_cooldown = Duration::from_secs(2);
    let c = AdxClient::new(cfg, CancellationToken::new()).unwrap();
    *s.state.always.lock().unwrap() = Some(Fault::Status {
        code: 503,
        body: String::new(),
        retry_after: None,
    });
    let first = ndjson("m1", 20, 200);
    let r = c.ingest(&Batch::from_ndjson(first.clone())).await.unwrap();
    assert_eq!(r.queued_blobs, 1);
    assert_eq!(
        s.requests().len(),
        3,
        "3 streaming attempts (the SDKs' count) before falling back"
    );

    // During the cool-down, batches go queued directly.
    let second = ndjson("m2", 20, 200);
    let r = c.ingest(&Batch::from_ndjson(second.clone())).await.unwrap();
    assert_eq!((r.streamed_requests, r.queued_blobs), (0, 1));
    assert_eq!(s.requests().len(), 3);

    // After it, streaming again.
    *s.state.always.lock().unwrap() = None;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let third = ndjson("m3", 20, 200);
    let r = c.ingest(&Batch::from_ndjson(third.clone())).await.unwrap();
    assert_eq!((r.streamed_requests, r.queued_blobs), (1, 0));
    let blobs = s.state.blobs.lock().unwrap().clone();
    assert_eq!(gunzip(&blobs[0].1), first);
    assert_eq!(gunzip(&blobs[1].1), second);
    assert_eq!(s.records().len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_sends_oversize_records_queued_and_keeps_streaming_the_rest() {
    let s = StandIn::start().await;
    let mut cfg = config(&s, IngestMode::Managed);
    cfg.max_request_bytes = 4096;
    let c = AdxClient::new(cfg, CancellationToken::new()).unwrap();
    let mut data = ndjson("small", 10, 100);
    let big = ndjson("big", 1, 10_000);
    data.extend_from_slice(&big);
    let r = c.ingest(&Batch::from_ndjson(data)).await.unwrap();
    assert_eq!(r.queued_blobs, 1);
    assert!(r.streamed_requests >= 1);
    assert_eq!(s.records().len(), 10);
    let blobs = s.state.blobs.lock().unwrap().clone();
    assert_eq!(gunzip(&blobs[0].1), big);
    let m = decode_message(&s.state.queue_messages.lock().unwrap()[0]);
    assert_eq!(
        m["AdditionalProperties"]["tags"],
        format!("[\"ingest-by:{}\"]", batch_id(&big))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_refuses_insecure_storage_urls() {
    let s = StandIn::start().await;
    let c = AdxClient::new(config(&s, IngestMode::Queued), CancellationToken::new()).unwrap();
    *s.state.storage_base.lock().unwrap() = Some("http://ingest.example.com/storage".into());
    let err = c
        .ingest(&Batch::from_ndjson(ndjson("x", 2, 100)))
        .await
        .unwrap_err();
    match err {
        hubble_adx::IngestError::Permanent { code, .. } => assert_eq!(code, "InsecureStorageUrl"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mgmt_throttling_and_expired_sas_are_retried() {
    let s = StandIn::start().await;
    let c = AdxClient::new(config(&s, IngestMode::Queued), CancellationToken::new()).unwrap();
    s.state.mgmt_faults.lock().unwrap().extend([429, 429]);
    // The first Put Blob fails as an expired SAS would: resources are fetched again.
    s.state.storage_faults.lock().unwrap().push_back(403);
    let data = ndjson("retry", 30, 100);
    let r = c.ingest(&Batch::from_ndjson(data.clone())).await.unwrap();
    assert_eq!(r.queued_blobs, 1);
    assert_eq!(r.retries, 3);
    let mgmt = s.state.mgmt_requests.lock().unwrap().clone();
    assert_eq!(
        mgmt,
        vec![
            ".get ingestion resources",
            ".get ingestion resources",
            ".get ingestion resources",
            ".get kusto identity token",
            ".get ingestion resources",
            ".get kusto identity token",
        ]
    );
    let blobs = s.state.blobs.lock().unwrap().clone();
    assert_eq!(blobs.len(), 1);
    assert_eq!(gunzip(&blobs[0].1), data);
    assert_eq!(s.state.queue_messages.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_failure_does_not_upload_the_blob_twice() {
    let s = StandIn::start().await;
    let c = AdxClient::new(config(&s, IngestMode::Queued), CancellationToken::new()).unwrap();
    s.state.queue_faults.lock().unwrap().extend([500u16, 503]);
    let data = ndjson("two", 3, 100);
    let r = c.ingest(&Batch::from_ndjson(data.clone())).await.unwrap();
    assert_eq!((r.queued_blobs, r.retries), (1, 2));
    let blobs = s.state.blobs.lock().unwrap().clone();
    assert_eq!(
        blobs.len(),
        1,
        "blob uploaded once, only the message is re-posted"
    );
    let messages = s.state.queue_messages.lock().unwrap().clone();
    assert_eq!(messages.len(), 1);
    let m = decode_message(&messages[0]);
    assert!(m["BlobPath"].as_str().unwrap().contains(&blobs[0].0));
}
