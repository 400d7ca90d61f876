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

async fn wait_for_port(port: u16) {
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("Azurite did not listen on 127.0.0.1:{port} within 30 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_ingestion_into_azurite() {
    if !tool_present("node") || !tool_present("npm") {
        eprintln!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
             !!! SKIPPED queued_ingestion_into_azurite: node/npm are not installed, so the\n\
             !!! Azurite storage emulator cannot run. Install Node.js to run this test.\n\
             !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
        );
        return;
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
    wait_for_port(blob_port).await;
    wait_for_port(queue_port).await;

    let sas = account_sas();
    let blob_base = format!("http://127.0.0.1:{blob_port}/{ACCOUNT}");
    let queue_base = format!("http://127.0.0.1:{queue_port}/{ACCOUNT}");
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
    let _ = child.kill().await;
}
