//! Queued ingestion into the Azurite storage emulator (started by `scripts/azurite.sh` on
//! 127.0.0.1 with free ports and a temp dir), with the management endpoint served by the stand-in
//! and SAS URLs signed with Azurite's well-known dev account key. Verifies the blob gunzips to all
//! records, the queue message decodes with the right fields, and a re-sent batch carries the same
//! ingest-by tag. Skips with a loud message when node/npm are not installed.

mod support;

use std::io::Read;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use hubble_adx::{
    AdxClient, AdxConfig, AuthConfig, Batch, CancellationToken, IngestMode, Secret, Url,
};
use sha2::Sha256;
use support::{ndjson, resources_rows, StandIn};
use tokio::io::{AsyncBufReadExt, BufReader};

const ACCOUNT: &str = "devstoreaccount1";
/// Azurite's documented, public development key (not a secret).
const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

fn tool_present(name: &str) -> bool {
    std::process::Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// An account SAS (version 2019-12-12) for blob+queue, all resource types, broad permissions.
fn account_sas() -> String {
    let (sv, ss, srt, sp, se, spr) = (
        "2019-12-12",
        "bq",
        "sco",
        "rwdlacup",
        "2099-01-01T00:00:00Z",
        "https,http",
    );
    let to_sign = format!("{ACCOUNT}\n{sp}\n{ss}\n{srt}\n\n{se}\n\n{spr}\n{sv}\n");
    let key = base64::engine::general_purpose::STANDARD
        .decode(ACCOUNT_KEY)
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(to_sign.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let sig: String = url::form_urlencoded::byte_serialize(sig.as_bytes()).collect();
    format!(
        "sv={sv}&ss={ss}&srt={srt}&sp={sp}&se={se}&spr={}&sig={sig}",
        "https%2Chttp"
    )
}

fn xml_values<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    xml.split(open.as_str())
        .skip(1)
        .filter_map(|part| part.split(close.as_str()).next())
        .collect()
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Waits until an HTTP request to `port` gets a response (any status).
async fn wait_for_http(port: u16) {
    hubble_adx::install_crypto_provider();
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if http
            .get(format!("http://127.0.0.1:{port}/"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("Azurite on 127.0.0.1:{port} answered no HTTP request within 300 tries");
}

/// A running Azurite: blob and queue base URLs of the dev account. `None` (after a loud message)
/// when node/npm are missing.
struct Azurite {
    child: tokio::process::Child,
    blob_base: String,
    queue_base: String,
    _data: tempfile::TempDir,
}

async fn start_azurite(test: &str) -> Option<Azurite> {
    if !tool_present("node") || !tool_present("npm") {
        eprintln!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
             !!! SKIPPED {test}: node/npm are not installed, so the\n\
             !!! Azurite storage emulator cannot run. Install Node.js to run this test.\n\
             !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
        );
        return None;
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/azurite.sh");
    let data_dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new("bash")
        .arg(&script)
        .arg("run")
        .arg(data_dir.path())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(300), lines.next_line())
        .await
        .expect("azurite.sh printed its ports")
        .unwrap()
        .expect("azurite.sh output");
    let port = |key: &str| -> u16 {
        first
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(key))
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {first:?}"))
    };
    let (blob_port, queue_port) = (port("blob="), port("queue="));
    // Not only until they listen: under load Azurite has reset the first request's connection.
    wait_for_http(blob_port).await;
    wait_for_http(queue_port).await;
    Some(Azurite {
        child,
        blob_base: format!("http://127.0.0.1:{blob_port}/{ACCOUNT}"),
        queue_base: format!("http://127.0.0.1:{queue_port}/{ACCOUNT}"),
        _data: data_dir,
    })
}

/// Creates a container or a queue (`{base}/{name}?restype=container` or `{base}/{name}`).
async fn create(http: &reqwest::Client, url: String) {
    let r = http
        .put(url)
        .header("x-ms-version", "2019-12-12")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        201,
        "create: {}",
        r.text().await.unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_ingestion_into_azurite() {
    let Some(mut azurite) = start_azurite("queued_ingestion_into_azurite").await else {
        return;
    };
    let blob_base = azurite.blob_base.clone();
    let queue_base = azurite.queue_base.clone();
    let sas = account_sas();
    hubble_adx::install_crypto_provider();
    let http = reqwest::Client::new();
    let r = http
        .put(format!("{blob_base}/tmp1?restype=container&{sas}"))
        .header("x-ms-version", "2019-12-12")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        201,
        "create container: {}",
        r.text().await.unwrap()
    );
    let r = http
        .put(format!("{queue_base}/ready1?{sas}"))
        .header("x-ms-version", "2019-12-12")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        201,
        "create queue: {}",
        r.text().await.unwrap()
    );

    let s = StandIn::start().await;
    *s.state.resources_override.lock().unwrap() = Some(resources_rows(&[
        ("TempStorage", format!("{blob_base}/tmp1?{sas}")),
        (
            "SecuredReadyForAggregationQueue",
            format!("{queue_base}/ready1?{sas}"),
        ),
    ]));
    let mut cfg = AdxConfig::new(
        Url::parse(&s.url()).unwrap(),
        "Net",
        "HubbleFlows",
        "HubbleFlowsMapping",
        AuthConfig::StaticToken(Secret::new("t")),
    );
    cfg.mode = IngestMode::Queued;
    cfg.ingest_endpoint = Some(Url::parse(&s.url()).unwrap());
    let client = AdxClient::new(cfg, CancellationToken::new()).unwrap();
    let data = ndjson("azurite", 2000, 500);
    let batch = Batch::from_ndjson(data.clone());
    let receipt = client.ingest(&batch).await.unwrap();
    assert_eq!(receipt.queued_blobs, 1);
    client
        .ingest(&Batch::from_ndjson(data.clone()))
        .await
        .unwrap();

    // Both blobs are in the container and gunzip to exactly the batch.
    let list = http
        .get(format!(
            "{blob_base}/tmp1?restype=container&comp=list&{sas}"
        ))
        .header("x-ms-version", "2019-12-12")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let names = xml_values(&list, "Name");
    assert_eq!(names.len(), 2, "{list}");
    for name in &names {
        assert!(
            name.starts_with("Net__HubbleFlows__") && name.ends_with(".json.gz"),
            "{name}"
        );
    }

    // Both messages decode; each BlobPath fetches a blob with all records; same dedup tag.
    let xml = http
        .get(format!(
            "{queue_base}/ready1/messages?numofmessages=32&{sas}"
        ))
        .header("x-ms-version", "2019-12-12")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let texts = xml_values(&xml, "MessageText");
    assert_eq!(texts.len(), 2, "{xml}");
    let mut tags = Vec::new();
    for text in texts {
        let json = base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap();
        let m: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(m["RawDataSize"], data.len());
        assert_eq!(m["DatabaseName"], "Net");
        assert_eq!(m["TableName"], "HubbleFlows");
        let p = &m["AdditionalProperties"];
        assert_eq!(p["format"], "json");
        assert_eq!(p["ingestionMappingReference"], "HubbleFlowsMapping");
        assert_eq!(p["authorizationContext"], "AUTHCTX-SECRET");
        assert_eq!(p["ingestIfNotExists"], format!("[\"{}\"]", batch.id));
        tags.push(p["tags"].as_str().unwrap().to_string());
        let blob = http
            .get(m["BlobPath"].as_str().unwrap())
            .header("x-ms-version", "2019-12-12")
            .send()
            .await
            .unwrap();
        assert_eq!(blob.status().as_u16(), 200);
        assert_eq!(gunzip(&blob.bytes().await.unwrap()), data);
    }
    assert_eq!(tags[0], format!("[\"ingest-by:{}\"]", batch.id));
    assert_eq!(
        tags[0], tags[1],
        "a re-sent batch carries the same ingest-by tag"
    );
    let _ = azurite.child.kill().await;
}

/// A status message as ADX writes it into the failed/successful-ingestions queues (base64 JSON).
fn status_message(source_id: &str, table: &str, failure: Option<(&str, &str)>) -> String {
    let mut m = serde_json::json!({
        "OperationId": "0f0e0d0c-0000-4000-8000-000000000001", "Database": "Net", "Table": table,
        "IngestionSourceId": source_id,
        "IngestionSourcePath": "https://acct.blob.core.windows.net/tmp1/x.json.gz",
        "RootActivityId": "0f0e0d0c-0000-4000-8000-000000000002",
    });
    match failure {
        Some((code, status)) => {
            m["FailedOn"] = "2026-12-04T10:00:00Z".into();
            m["ErrorCode"] = code.into();
            m["FailureStatus"] = status.into();
            m["Details"] = "Mapping reference 'HubbleFlowsMapping' was not found.".into();
            m["OriginatesFromUpdatePolicy"] = false.into();
            m["ShouldRetry"] = false.into();
        }
        None => m["SucceededOn"] = "2026-12-04T10:00:00Z".into(),
    }
    let text = base64::engine::general_purpose::STANDARD.encode(m.to_string());
    format!("<QueueMessage><MessageText>{text}</MessageText></QueueMessage>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingestion_reports_are_read_matched_and_deleted() {
    let Some(mut azurite) = start_azurite("ingestion_reports_are_read_matched_and_deleted").await
    else {
        return;
    };
    let (blob_base, queue_base) = (azurite.blob_base.clone(), azurite.queue_base.clone());
    let sas = account_sas();
    hubble_adx::install_crypto_provider();
    let http = reqwest::Client::new();
    create(&http, format!("{blob_base}/tmp1?restype=container&{sas}")).await;
    for q in ["ready1", "failed1", "success1"] {
        create(&http, format!("{queue_base}/{q}?{sas}")).await;
    }
    let s = StandIn::start().await;
    *s.state.resources_override.lock().unwrap() = Some(resources_rows(&[
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
    ]));
    let mut cfg = AdxConfig::new(
        Url::parse(&s.url()).unwrap(),
        "Net",
        "HubbleFlows",
        "HubbleFlowsMapping",
        AuthConfig::StaticToken(Secret::new("t")),
    );
    cfg.mode = IngestMode::Queued;
    cfg.ingest_endpoint = Some(Url::parse(&s.url()).unwrap());
    cfg.report_successes = true;
    cfg.dedup = hubble_adx::Dedup::None;
    let client = AdxClient::new(cfg, CancellationToken::new()).unwrap();
    let first = ndjson("bad", 10, 100);
    let second = ndjson("good", 10, 100);
    let r1 = client
        .ingest(&Batch::from_ndjson(first.clone()))
        .await
        .unwrap();
    let r2 = client
        .ingest(&Batch::from_ndjson(second.clone()))
        .await
        .unwrap();
    assert_eq!(r1.queued.len(), 1);
    assert_eq!(
        r1.queued[0].data, first,
        "the receipt hands back the blob's records"
    );
    let (bad_id, good_id) = (
        r1.queued[0].source_id.clone(),
        r2.queued[0].source_id.clone(),
    );

    // The queued messages carry those ids, ask for successes too, and (Dedup::None) carry no tags.
    let xml = http
        .get(format!(
            "{queue_base}/ready1/messages?numofmessages=32&{sas}"
        ))
        .header("x-ms-version", "2019-12-12")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ids: Vec<String> = xml_values(&xml, "MessageText")
        .into_iter()
        .map(|t| {
            let m: serde_json::Value = serde_json::from_slice(
                &base64::engine::general_purpose::STANDARD.decode(t).unwrap(),
            )
            .unwrap();
            assert_eq!(m["ReportLevel"], 2);
            assert!(m["AdditionalProperties"].get("tags").is_none(), "{m}");
            m["Id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ids, [bad_id.clone(), good_id.clone()]);

    // ADX (here: the test) reports a failure for the first, a success for the second, and a failure
    // for another table's blob.
    for (queue, body) in [
        (
            "failed1",
            status_message(
                &bad_id,
                "HubbleFlows",
                Some(("BadRequest_MappingReferenceWasNotFound", "Permanent")),
            ),
        ),
        (
            "failed1",
            status_message(
                "someone-else",
                "OtherTable",
                Some(("BadRequest_EmptyBlob", "Permanent")),
            ),
        ),
        ("success1", status_message(&good_id, "HubbleFlows", None)),
    ] {
        let r = http
            .post(format!("{queue_base}/{queue}/messages?{sas}"))
            .header("x-ms-version", "2019-12-12")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
    }
    let reports = client.poll_reports(Duration::from_secs(1)).await.unwrap();
    assert_eq!(reports.len(), 2, "{reports:?}");
    let failure = &reports[0];
    assert_eq!(failure.kind, hubble_adx::ReportKind::Failure);
    assert_eq!(failure.source_id, bad_id);
    assert_eq!(failure.error_code, "BadRequest_MappingReferenceWasNotFound");
    assert_eq!(failure.failure_status, "Permanent");
    assert!(failure.details.contains("was not found"), "{failure:?}");
    assert_eq!(reports[1].kind, hubble_adx::ReportKind::Success);
    assert_eq!(reports[1].source_id, good_id);
    for r in &reports {
        client.ack_report(r).await.unwrap();
    }
    // Acknowledged messages are gone; the other table's notification is left for its owner.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(client
        .poll_reports(Duration::from_secs(1))
        .await
        .unwrap()
        .is_empty());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let left = http
        .get(format!(
            "{queue_base}/failed1/messages?peekonly=true&numofmessages=32&{sas}"
        ))
        .header("x-ms-version", "2019-12-12")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(xml_values(&left, "MessageText").len(), 1, "{left}");
    let _ = azurite.child.kill().await;
}
