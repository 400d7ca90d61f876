//! The ADX stand-in (`support::adx`) answers as ADX does, proved with Microsoft's own client: the official
//! Python SDK (`azure-kusto-ingest`, `KustoStreamingIngestClient`) streams records into it and must succeed
//! (it parses the reply as a v1 result set and fails on `{}`, which the negative control checks), and must raise
//! `KustoApiError` with ADX's code, message and `@permanent` when the stand-in rejects the request with its
//! OneApiError body. The SDK reaches the loopback stand-in over plain http:// through
//! `KustoConnectionStringBuilder.with_no_authentication`.
//!
//! The SDK comes from the venv `scripts/pyenv.sh` creates (`scripts/test.sh` runs it); the test skips loudly
//! without it.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use support::adx::{AdxStandIn, Mode, MAPPING_NOT_FOUND_MESSAGE};

/// The venv's python with the Kusto SDK, or `None` (after saying so loudly).
fn python() -> Option<PathBuf> {
    support::python::with_modules("azure.kusto.ingest, azure.kusto.data", "azure-kusto-ingest")
}

/// Streams `ndjson` with the SDK into `adx`; returns the client's JSON report.
fn sdk_ingest(py: &Path, adx: &AdxStandIn, ndjson: &str) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/kusto_sdk_client.py");
    let mut child = Command::new(py)
        .arg(script)
        .args([
            adx.url().as_str(),
            "db",
            "HubbleFlows",
            "HubbleFlowsMapping",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the SDK client");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(ndjson.as_bytes())
        .expect("feed the SDK client");
    let out = child.wait_with_output().expect("SDK client output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "SDK client printed no JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn records() -> String {
    (0..50)
        .map(|i| format!("{{\"Uuid\":\"sdk-{i}\",\"Verdict\":\"DROPPED\"}}\n"))
        .collect()
}

#[test]
fn the_official_python_sdk_streams_into_the_stand_in_and_sees_its_rejections() {
    let Some(py) = python() else { return };
    let adx = AdxStandIn::start(Mode::Up);

    // Success: the SDK parses the stand-in's result table.
    let r = sdk_ingest(&py, &adx, &records());
    assert_eq!(r["ok"], true, "the SDK failed on a successful ingest: {r}");
    assert_eq!(r["status"], "IngestionStatus.SUCCESS", "{r}");
    let got = adx.uuids();
    assert_eq!(got.len(), 50);
    assert!(got.iter().all(|u| u.starts_with("sdk-")));

    // A permanent rejection: the SDK raises KustoApiError with ADX's code, description and @permanent.
    adx.set_mode(Mode::RejectMapping);
    let r = sdk_ingest(&py, &adx, &records());
    assert_eq!(r["ok"], false, "{r}");
    assert_eq!(r["error_type"], "KustoApiError", "{r}");
    assert_eq!(r["code"], "BadRequest_MappingReferenceWasNotFound");
    assert_eq!(r["message"], "Request is invalid and cannot be executed.");
    assert_eq!(r["description"], MAPPING_NOT_FOUND_MESSAGE);
    assert_eq!(r["permanent"], true);

    // Throttling: the SDK's own type for a 429.
    adx.set_mode(Mode::Throttled);
    let r = sdk_ingest(&py, &adx, &records());
    assert_eq!(r["error_type"], "KustoThrottlingError", "{r}");

    // Negative control: the reply the stand-in used to send (`{}`) makes the SDK fail, so this test can tell.
    adx.set_mode(Mode::EmptyReply);
    let r = sdk_ingest(&py, &adx, &records());
    assert_eq!(r["ok"], false, "the SDK accepted an empty reply: {r}");
    assert_eq!(
        adx.uuids().len(),
        100,
        "the stand-in did ingest the control request"
    );
}
