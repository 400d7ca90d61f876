//! The crate's ADX stand-in (`support`) answers as ADX does, proved with Microsoft's own client: the official
//! Python SDK (`azure-kusto-ingest`, `KustoStreamingIngestClient` with a fixed bearer token through
//! `with_token_provider`, over loopback http) streams records into it and succeeds, and raises `KustoApiError`
//! with ADX's code when the stand-in rejects the request. The client script lives with the binary's tests
//! (`tests/clients/kusto_sdk_client.py`) and runs in the venv `scripts/pyenv.sh` creates; the test skips loudly
//! without it.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use support::StandIn;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> Option<PathBuf> {
    let p = std::env::var_os("HUBBLE_INGEST_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".cache/pyenv/bin/python"));
    let ok = Command::new(&p)
        .args(["-c", "import azure.kusto.ingest, azure.kusto.data"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Some(p)
    } else {
        eprintln!(
            "\n*** SKIPPED: no Python with azure-kusto-ingest at {} — run scripts/pyenv.sh (scripts/test.sh does) ***\n",
            p.display()
        );
        None
    }
}

fn sdk_ingest(py: &Path, url: &str, ndjson: &[u8]) -> serde_json::Value {
    let mut child = Command::new(py)
        .arg(workspace().join("tests/clients/kusto_sdk_client.py"))
        .args([url, "Net", "HubbleFlows", "HubbleFlowsMapping", "sdk-token"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the SDK client");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(ndjson)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_sdk_streams_into_the_crate_stand_in() {
    let Some(py) = python() else { return };
    let s = StandIn::start().await;
    let url = s.url();
    let data = support::ndjson("sdk", 40, 120);
    let (py2, url2, data2) = (py.clone(), url.clone(), data.clone());
    let r = tokio::task::spawn_blocking(move || sdk_ingest(&py2, &url2, &data2))
        .await
        .unwrap();
    assert_eq!(r["ok"], true, "the SDK failed on a successful ingest: {r}");
    assert_eq!(r["status"], "IngestionStatus.SUCCESS", "{r}");
    assert_eq!(s.records().len(), 40);
    let req = &s.requests()[0];
    assert_eq!(req.headers["authorization"], "Bearer sdk-token");

    s.push(support::Fault::Status {
        code: 400,
        body: support::MAPPING_NOT_FOUND.into(),
        retry_after: None,
    });
    let r = tokio::task::spawn_blocking(move || sdk_ingest(&py, &url, &data))
        .await
        .unwrap();
    assert_eq!(r["error_type"], "KustoApiError", "{r}");
    assert_eq!(r["code"], "BadRequest_MappingReferenceWasNotFound");
    assert_eq!(r["permanent"], true);
}
