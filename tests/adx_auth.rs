//! The real binary's ADX authentication against the loopback stand-in: the token scope comes from the
//! cluster's `/v1/rest/auth/metadata`, `--adx-scope` overrides it, a cluster without that endpoint (404) gets
//! the public-cloud scope, and `run` exports `token_requests{credential,result}`.

mod support;

use std::process::{Command, Output, Stdio};
use std::time::Duration;
use support::adx::{AdxStandIn, Mode};
use support::flows::FlowGen;
use support::process::{hubble_ingest, Proc};
use support::{http, wait_until, TestDir};

/// Writes `n` kept flows to a file in `dir`; returns its path and their uuids.
fn kept_flows(dir: &TestDir, run: u32, n: usize) -> (String, Vec<String>) {
    let mut gen = FlowGen::new(run);
    let text: String = (0..n).map(|_| gen.kept_flow() + "\n").collect();
    let path = dir.path().join("flows.log");
    std::fs::write(&path, text).expect("write input");
    (path.display().to_string(), gen.kept)
}

fn replay(adx: &AdxStandIn, dir: &TestDir, input: &str, extra: &[&str]) -> Output {
    let mut cmd: Command = hubble_ingest();
    cmd.arg("replay")
        .arg(input)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .args(adx.sink_args())
        .args(extra)
        .stdin(Stdio::null());
    for (k, v) in adx.env() {
        cmd.env(k, v);
    }
    cmd.output().expect("run replay")
}

#[test]
fn replay_requests_the_scope_the_cluster_advertises() {
    let adx = AdxStandIn::start(Mode::Up);
    adx.set_metadata_resource("https://kusto.kusto.chinacloudapi.cn");
    let dir = TestDir::new();
    let (input, kept) = kept_flows(&dir, 0x5c0e_0001, 20);
    let out = replay(&adx, &dir, &input, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(adx.uuids().len(), kept.len());
    assert_eq!(adx.metadata_requests(), 1);
    assert_eq!(
        adx.token_scopes(),
        ["https://kusto.kusto.chinacloudapi.cn/.default"]
    );
}

#[test]
fn adx_scope_flag_overrides_discovery() {
    let adx = AdxStandIn::start(Mode::Up);
    adx.set_metadata_resource("https://kusto.kusto.chinacloudapi.cn");
    let dir = TestDir::new();
    let (input, kept) = kept_flows(&dir, 0x5c0e_0002, 20);
    let out = replay(
        &adx,
        &dir,
        &input,
        &["--adx-scope", "https://mycluster.example.com/.default"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(adx.uuids().len(), kept.len());
    assert_eq!(adx.metadata_requests(), 0, "not asked when configured");
    assert_eq!(
        adx.token_scopes(),
        ["https://mycluster.example.com/.default"]
    );
}

#[test]
fn cluster_without_auth_metadata_gets_the_public_cloud_scope() {
    let adx = AdxStandIn::start(Mode::Up);
    let dir = TestDir::new();
    let (input, _) = kept_flows(&dir, 0x5c0e_0003, 5);
    let out = replay(&adx, &dir, &input, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(adx.metadata_requests(), 1);
    assert_eq!(
        adx.token_scopes(),
        ["https://kusto.kusto.windows.net/.default"]
    );
}

#[test]
fn run_counts_token_requests_by_credential_and_result() {
    let adx = AdxStandIn::start(Mode::Up);
    let dir = TestDir::new();
    let (input, kept) = kept_flows(&dir, 0x5c0e_0004, 30);
    let mut cmd = hubble_ingest();
    cmd.arg("run")
        .arg("--input")
        .arg(&input)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .args([
            "--flush-interval",
            "100ms",
            "--poll-interval",
            "50ms",
            "--log-format",
            "json",
            "--metrics-addr",
            "127.0.0.1:0",
            "--read-from-head",
        ])
        .args(adx.sink_args())
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    for (k, v) in adx.env() {
        cmd.env(k, v);
    }
    let mut d = Proc::spawn(&mut cmd);
    let m = d.metrics_addr(Duration::from_secs(20));
    assert!(
        wait_until(Duration::from_secs(30), || adx.uuids().len() == kept.len()),
        "not delivered\n{}",
        d.log_tail(30)
    );
    let text = http::get(m, "/metrics").map(|r| r.1).unwrap_or_default();
    let series = |result: &str| {
        http::metric(
            &text,
            "hubble_ingest_token_requests_total",
            &format!("credential=\"client-secret\",result=\"{result}\""),
        )
    };
    assert_eq!(series("ok"), Some(1.0), "{text}");
    assert_eq!(series("error"), Some(0.0), "{text}");
    assert_eq!(adx.token_requests(), 1);
    d.signal("TERM");
    assert!(d.wait_exit(Duration::from_secs(10)).is_some());
}
