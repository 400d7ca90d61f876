//! The real binary's queued ADX ingestion into Azurite (blob + queue storage) with the management endpoint
//! served by the stand-in, and ADX's later verdicts posted by the test into the failed- and
//! successful-ingestions queues as ADX writes them: `run` must count the failure by ADX error code, log it,
//! dead-letter exactly the records of the failed blob, release the succeeded one, and delete both
//! notifications. Skips loudly without node/npm.

mod support;

use std::io::Read;
use std::process::Stdio;
use std::time::Duration;
use support::adx::{AdxStandIn, Mode};
use support::azurite::{self, request, xml_values};
use support::flows::FlowGen;
use support::process::{hubble_ingest, Proc};
use support::{http, wait_until, TestDir};

fn append(path: &std::path::Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open input");
    f.write_all(text.as_bytes()).expect("append input");
}

/// The queued ingestion messages in `queue` (peeked, so they stay): (Id, BlobPath).
fn queued_messages(queue_base: &str, sas: &str) -> Vec<(String, String)> {
    queued_message_json(queue_base, sas)
        .iter()
        .map(|m| {
            (
                m["Id"].as_str().unwrap_or_default().to_owned(),
                m["BlobPath"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The queued ingestion messages as JSON (peeked).
fn queued_message_json(queue_base: &str, sas: &str) -> Vec<serde_json::Value> {
    let (status, body) = request(
        "GET",
        &format!("{queue_base}/ready1/messages?peekonly=true&numofmessages=32&{sas}"),
        b"",
    );
    assert_eq!(status, 200);
    xml_values(&String::from_utf8_lossy(&body), "MessageText")
        .iter()
        .map(|t| {
            let json = azurite::base64_decode(t).expect("base64 message");
            let m: serde_json::Value = serde_json::from_slice(&json).expect("JSON message");
            assert_eq!(m["ReportLevel"], 2, "run asks for success reports: {m}");
            m
        })
        .collect()
}

/// The uuids in a blob (gzip NDJSON), fetched with its SAS URL.
fn blob_uuids(blob_path: &str) -> Vec<String> {
    let (status, gz) = request("GET", blob_path, b"");
    assert_eq!(status, 200);
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .expect("gzip blob");
    uuids(&text)
}

fn uuids(ndjson: &str) -> Vec<String> {
    let mut u: Vec<String> = ndjson
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["Uuid"].as_str().map(str::to_owned))
        .collect();
    u.sort();
    u
}

/// A notification as ADX writes it into its status queues (base64 of the status JSON).
fn notification(source_id: &str, failure: Option<&str>) -> Vec<u8> {
    let mut m = serde_json::json!({
        "OperationId": "5e7d0000-0000-4000-8000-000000000001", "Database": "db", "Table": "HubbleFlows",
        "IngestionSourceId": source_id,
        "IngestionSourcePath": "https://acct.blob.core.windows.net/tmp1/blob.json.gz",
        "RootActivityId": "5e7d0000-0000-4000-8000-000000000002",
    });
    match failure {
        Some(code) => {
            m["FailedOn"] = "2026-12-04T10:00:00Z".into();
            m["ErrorCode"] = code.into();
            m["FailureStatus"] = "Permanent".into();
            m["Details"] =
                "Mapping reference 'HubbleFlowsMapping' of type 'Json' was not found.".into();
            m["OriginatesFromUpdatePolicy"] = false.into();
            m["ShouldRetry"] = false.into();
        }
        None => m["SucceededOn"] = "2026-12-04T10:00:00Z".into(),
    }
    format!(
        "<QueueMessage><MessageText>{}</MessageText></QueueMessage>",
        azurite::base64_encode(m.to_string().as_bytes())
    )
    .into_bytes()
}

/// Azurite with the container and queues, and the stand-in's management endpoint pointing at them.
fn storage(az: &azurite::Azurite, sas: &str) -> AdxStandIn {
    let (blob_base, queue_base) = (az.blob_base.clone(), az.queue_base.clone());
    let (status, body) = request(
        "PUT",
        &format!("{blob_base}/tmp1?restype=container&{sas}"),
        b"",
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    for q in ["ready1", "failed1", "success1"] {
        assert_eq!(
            request("PUT", &format!("{queue_base}/{q}?{sas}"), b"").0,
            201
        );
    }
    let adx = AdxStandIn::start(Mode::Up);
    adx.set_ingestion_resources(&[
        ("TempStorage", format!("{blob_base}/tmp1?{sas}")),
        (
            "SecuredReadyForAggregationQueue",
            format!("{queue_base}/ready1?{sas}"),
        ),
        (
            "FailedIngestionsQueue",
            format!("{queue_base}/failed1?{sas}"),
        ),
        (
            "SuccessfulIngestionsQueue",
            format!("{queue_base}/success1?{sas}"),
        ),
    ]);
    adx
}

/// `run` in queued mode on `input` into the stand-in, with `extra` flags.
fn queued_daemon(
    adx: &AdxStandIn,
    input: &std::path::Path,
    state: &std::path::Path,
    extra: &[&str],
) -> Proc {
    let mut cmd = hubble_ingest();
    cmd.arg("run")
        .arg("--input")
        .arg(input)
        .arg("--read-from-head")
        .arg("--state-dir")
        .arg(state)
        .args([
            "--flush-interval",
            "100ms",
            "--poll-interval",
            "50ms",
            "--log-format",
            "json",
            "--metrics-addr",
            "127.0.0.1:0",
            "--adx-mode",
            "queued",
            "--adx-ingest-endpoint",
            &adx.url(),
            "--adx-report-interval",
            "200ms",
        ])
        .args(extra)
        .args(adx.sink_args())
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    for (k, v) in adx.env() {
        cmd.env(k, v);
    }
    Proc::spawn(&mut cmd)
}

fn files_ending(dir: &std::path::Path, suffix: &str) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().ends_with(suffix))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn queued_failure_notification_dead_letters_exactly_that_blob() {
    let Some(az) = azurite::start("queued_failure_notification_dead_letters_exactly_that_blob")
    else {
        return;
    };
    let sas = azurite::account_sas();
    let queue_base = az.queue_base.clone();
    let adx = storage(&az, &sas);

    let dir = TestDir::new();
    let state = dir.path().join("state");
    let input = dir.path().join("flows.log");
    let mut gen = FlowGen::new(0x0e0e_0001);
    let first: String = (0..25).map(|_| gen.kept_flow() + "\n").collect();
    let mut first_uuids = gen.kept.clone();
    first_uuids.sort();
    append(&input, &first);

    let mut d = queued_daemon(&adx, &input, &state, &[]);
    let m = d.metrics_addr(Duration::from_secs(20));
    assert!(
        wait_until(Duration::from_secs(30), || queued_messages(
            &queue_base,
            &sas
        )
        .len()
            == 1),
        "first blob not queued\n{}",
        d.log_tail(30)
    );
    let second: String = (0..25).map(|_| gen.kept_flow() + "\n").collect();
    append(&input, &second);
    assert!(
        wait_until(Duration::from_secs(30), || queued_messages(
            &queue_base,
            &sas
        )
        .len()
            == 2),
        "second blob not queued\n{}",
        d.log_tail(30)
    );
    let messages = queued_messages(&queue_base, &sas);
    for m in queued_message_json(&queue_base, &sas) {
        let tags = m["AdditionalProperties"]["tags"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            tags.starts_with("[\"ingest-by:"),
            "--adx-dedup ingest-by is the default: {m}"
        );
    }
    let (bad_id, bad_blob) = messages[0].clone();
    let (good_id, _) = messages[1].clone();
    assert_eq!(
        blob_uuids(&bad_blob),
        first_uuids,
        "the first blob holds the first batch"
    );
    let pending = state.join("adx-queued");
    assert!(
        wait_until(Duration::from_secs(10), || files_ending(
            &pending, ".ndjson"
        )
        .len()
            == 2),
        "both blobs kept until ADX reports"
    );
    assert_eq!(
        http::metric(
            &http::get(m, "/metrics").unwrap().1,
            "hubble_ingest_adx_queued_pending",
            ""
        ),
        Some(2.0)
    );

    // ADX's verdicts: the first blob failed (mapping), the second succeeded.
    let post = |queue: &str, body: Vec<u8>| {
        let (status, _) = request(
            "POST",
            &format!("{queue_base}/{queue}/messages?{sas}"),
            &body,
        );
        assert_eq!(status, 201);
    };
    post(
        "failed1",
        notification(&bad_id, Some("BadRequest_MappingReferenceWasNotFound")),
    );
    post("success1", notification(&good_id, None));

    let dead = state.join("dead-letter");
    assert!(
        wait_until(Duration::from_secs(20), || files_ending(
            &pending, ".ndjson"
        )
        .is_empty()),
        "notifications not handled\n{}",
        d.log_tail(30)
    );
    let letters = files_ending(&dead, "-adx-queued.ndjson");
    assert_eq!(letters.len(), 1, "one dead letter: {letters:?}");
    assert_eq!(
        files_ending(&dead, ".ndjson").len(),
        1,
        "nothing else dead-lettered"
    );
    let text = std::fs::read_to_string(&letters[0]).unwrap();
    assert_eq!(
        uuids(&text),
        first_uuids,
        "exactly the failed blob's records"
    );
    // The dead-letter format every sink uses: the records as sent, and a JSON sidecar saying why.
    let error = std::fs::read_to_string(letters[0].with_extension("error.json")).unwrap();
    let sidecar: serde_json::Value = serde_json::from_str(&error).unwrap();
    assert_eq!(sidecar["sink"], "adx-queued", "{error}");
    assert_eq!(sidecar["kind"], "rejected", "{error}");
    assert_eq!(
        sidecar["code"], "BadRequest_MappingReferenceWasNotFound",
        "{error}"
    );
    assert_eq!(sidecar["records"], first_uuids.len() as u64, "{error}");
    let message = sidecar["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("Permanent") && message.contains(&bad_id),
        "{error}"
    );
    let resend = sidecar["resend"].as_str().unwrap_or_default();
    assert!(
        resend.starts_with("hubble-ingest replay ")
            && resend.contains("--sink adx")
            && resend.contains("--adx-mode queued"),
        "{error}"
    );

    let metrics = http::get(m, "/metrics").unwrap().1;
    assert_eq!(
        http::metric(
            &metrics,
            "hubble_ingest_adx_queued_failures_total",
            "code=\"BadRequest_MappingReferenceWasNotFound\""
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        http::metric(&metrics, "hubble_ingest_adx_queued_pending", ""),
        Some(0.0)
    );
    assert_eq!(
        http::metric(&metrics, "hubble_ingest_dead_letters_total", "sink=\"adx\""),
        Some(1.0)
    );
    assert_eq!(
        http::metric(
            &metrics,
            "hubble_ingest_dead_lettered_records_total",
            "sink=\"adx\""
        ),
        Some(first_uuids.len() as f64)
    );
    assert!(
        d.log().lines().any(|l| l.contains("\"level\":\"ERROR\"")
            && l.contains("BadRequest_MappingReferenceWasNotFound")),
        "the failure is logged with its ADX code\n{}",
        d.log_tail(20)
    );
    // Both notifications were deleted from ADX's queues.
    for q in ["failed1", "success1"] {
        let (_, body) = request(
            "GET",
            &format!("{queue_base}/{q}/messages?peekonly=true&{sas}"),
            b"",
        );
        assert!(
            xml_values(&String::from_utf8_lossy(&body), "MessageText").is_empty(),
            "{q} still holds a notification"
        );
    }
    d.signal("TERM");
    assert!(d.wait_exit(Duration::from_secs(10)).is_some());
}

#[test]
fn adx_dedup_none_sends_no_ingest_by_tags() {
    let Some(az) = azurite::start("adx_dedup_none_sends_no_ingest_by_tags") else {
        return;
    };
    let sas = azurite::account_sas();
    let adx = storage(&az, &sas);
    let dir = TestDir::new();
    let state = dir.path().join("state");
    let input = dir.path().join("flows.log");
    let mut gen = FlowGen::new(0x0e0e_0002);
    append(
        &input,
        &(0..10).map(|_| gen.kept_flow() + "\n").collect::<String>(),
    );
    let mut d = queued_daemon(&adx, &input, &state, &["--adx-dedup", "none"]);
    assert!(
        wait_until(Duration::from_secs(30), || queued_messages(
            &az.queue_base,
            &sas
        )
        .len()
            == 1),
        "blob not queued\n{}",
        d.log_tail(30)
    );
    let m = &queued_message_json(&az.queue_base, &sas)[0];
    let props = &m["AdditionalProperties"];
    assert!(props.get("tags").is_none(), "{m}");
    assert!(props.get("ingestIfNotExists").is_none(), "{m}");
    assert_eq!(props["ingestionMappingReference"], "HubbleFlowsMapping");
    d.signal("TERM");
    assert!(d.wait_exit(Duration::from_secs(10)).is_some());
}

#[test]
fn a_queued_blob_whose_copy_cannot_be_kept_is_sent_again_and_counted_once() {
    let Some(az) = azurite::start("a_queued_blob_whose_copy_cannot_be_kept_is_sent_again") else {
        return;
    };
    let sas = azurite::account_sas();
    let adx = storage(&az, &sas);
    let dir = TestDir::new();
    let state = dir.path().join("state");
    let input = dir.path().join("flows.log");
    let mut d = queued_daemon(&adx, &input, &state, &[]);
    let m = d.metrics_addr(Duration::from_secs(20));
    // The copies' directory exists once the sink is open; make it unusable (a file in its place).
    let kept = state.join("adx-queued");
    assert!(wait_until(Duration::from_secs(10), || kept.is_dir()));
    std::fs::remove_dir(&kept).unwrap();
    std::fs::write(&kept, b"not a directory").unwrap();

    let mut gen = FlowGen::new(0x0e0e_0003);
    append(
        &input,
        &(0..10).map(|_| gen.kept_flow() + "\n").collect::<String>(),
    );
    let mut batch_uuids = gen.kept.clone();
    batch_uuids.sort();
    // Queued, but its copy cannot be written: the records are not accepted, the blob is queued again.
    assert!(
        wait_until(Duration::from_secs(30), || queued_messages(
            &az.queue_base,
            &sas
        )
        .len()
            >= 2),
        "blob not re-sent\n{}",
        d.log_tail(30)
    );
    let metrics = http::get(m, "/metrics").unwrap().1;
    assert!(
        http::metric(
            &metrics,
            "hubble_ingest_sink_retries_total",
            "sink=\"adx\",reason=\"io\""
        )
        .unwrap_or(0.0)
            >= 1.0,
        "{metrics}"
    );
    assert_eq!(
        http::metric(&metrics, "hubble_ingest_sink_records_total", "sink=\"adx\"").unwrap_or(0.0),
        0.0,
        "nothing counted as delivered while its copy cannot be kept\n{metrics}"
    );
    assert!(
        d.log().contains("cannot keep the records of queued blob"),
        "{}",
        d.log_tail(20)
    );

    std::fs::remove_file(&kept).unwrap();
    std::fs::create_dir(&kept).unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || files_ending(&kept, ".ndjson")
            .len()
            == 1),
        "copy never kept\n{}",
        d.log_tail(30)
    );
    let copy = std::fs::read_to_string(&files_ending(&kept, ".ndjson")[0]).unwrap();
    assert_eq!(uuids(&copy), batch_uuids, "the copy holds the batch");
    let messages = queued_message_json(&az.queue_base, &sas);
    let tags: std::collections::BTreeSet<String> = messages
        .iter()
        .map(|m| {
            m["AdditionalProperties"]["tags"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(
        tags.len(),
        1,
        "every re-send carries the same ingest-by tag, so ADX ingests the blob once: {messages:?}"
    );
    assert!(wait_until(Duration::from_secs(10), || http::metric(
        &http::get(m, "/metrics").unwrap().1,
        "hubble_ingest_sink_records_total",
        "sink=\"adx\""
    ) == Some(
        batch_uuids.len() as f64
    )));
    d.signal("TERM");
    assert!(d.wait_exit(Duration::from_secs(10)).is_some());
}
