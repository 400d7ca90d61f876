//! `hubble-ingest replay --sink adx` as a real process against the ADX stand-in on 127.0.0.1 (`support::adx`):
//! the user report of issue 10 (a 40k-line CRI log, one streaming request rejected with
//! `BadRequest_MappingReferenceWasNotFound`): exit 1, a dead letter holding exactly that request's records with
//! ADX's code, message and request id, every other record ingested once, a summary that adds up, and a re-send
//! that duplicates nothing; a retry budget that runs out (dead-lettered as not delivered, exit 1); throttling
//! and a lost reply retried, counted in the summary and delivered (exit 0).

mod support;

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::adx::{AdxStandIn, Mode, MAPPING_NOT_FOUND_MESSAGE};
use support::flows::{self, FlowGen};
use support::process::hubble_ingest;
use support::XorShift;

/// A CRI log (kubelet format, some lines split in `P`/`F` chunks) of about `n` physical lines.
fn cri_log(gen: &mut FlowGen, rng: &mut XorShift, n: usize) -> String {
    let mut out = String::new();
    let mut physical = 0;
    while physical < n {
        let line = gen.next_line(rng);
        let split = rng.chance(5);
        let t = gen.cri_time();
        out.push_str(&flows::cri(&t, "stdout", &line, split));
        physical += if split { 2 } else { 1 };
    }
    out
}

fn replay(adx: &AdxStandIn, state: &Path, inputs: &[PathBuf], extra: &[&str]) -> (Output, Value) {
    replay_with(adx, state, inputs, extra, true)
}

fn replay_with(
    adx: &AdxStandIn,
    state: &Path,
    inputs: &[PathBuf],
    extra: &[&str],
    json: bool,
) -> (Output, Value) {
    let mut cmd = hubble_ingest();
    cmd.arg("replay");
    if json {
        cmd.arg("--summary-json");
    }
    cmd.arg("--state-dir")
        .arg(state)
        .args(adx.sink_args())
        .args(extra)
        .args(inputs)
        .stdin(Stdio::null());
    for (k, v) in adx.env() {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run replay");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary = stderr
        .lines()
        .rev()
        .find_map(|l| {
            serde_json::from_str::<Value>(l)
                .ok()
                .filter(|v| v.get("sinks").is_some())
        })
        .unwrap_or(Value::Null);
    (out, summary)
}

fn dead_letters(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "ndjson"))
        .collect();
    v.sort();
    v
}

fn uuid_of(line: &str) -> String {
    serde_json::from_str::<Value>(line).expect("record is JSON")["Uuid"]
        .as_str()
        .expect("record has a Uuid")
        .to_owned()
}

fn counts(v: &[String]) -> HashMap<&str, usize> {
    let mut m = HashMap::new();
    for u in v {
        *m.entry(u.as_str()).or_insert(0) += 1;
    }
    m
}

#[test]
fn replay_of_a_40k_line_cri_log_dead_letters_exactly_the_rejected_request() {
    let adx = AdxStandIn::start(Mode::Up);
    // The third streaming request is refused as ADX refuses a missing mapping; the others are accepted.
    adx.reject_request(3);
    let dir = support::TestDir::new();
    let input = dir.path().join("cilium-agent.log");
    let mut gen = FlowGen::new(0x10a1);
    let mut rng = XorShift::new(0x10a1);
    fs::write(&input, cri_log(&mut gen, &mut rng, 40_000)).unwrap();
    let state = dir.path().join("state");
    let (out, summary) = replay(&adx, &state, std::slice::from_ref(&input), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);

    assert_eq!(
        out.status.code(),
        Some(1),
        "records were dead-lettered: exit 1\n{stderr}"
    );
    let rejected = adx.rejected();
    assert_eq!(rejected.len(), 1, "exactly one request was rejected");
    let (request_id, rejected_lines) = &rejected[0];
    assert!(!rejected_lines.is_empty());

    // The dead letter holds exactly that request's records, in order, and nothing else.
    let dead_dir = state.join("dead-letter");
    let letters = dead_letters(&dead_dir);
    assert_eq!(letters.len(), 1, "one dead letter: {letters:?}");
    let text = fs::read_to_string(&letters[0]).unwrap();
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert_eq!(
        &lines, rejected_lines,
        "dead letter ≠ the rejected request's records"
    );

    // Why: ADX's code and message, the request id that was sent, the time, the command that re-sends it.
    let why: Value =
        serde_json::from_str(&fs::read_to_string(letters[0].with_extension("error.json")).unwrap())
            .unwrap();
    assert_eq!(why["kind"], "rejected");
    assert_eq!(why["code"], "BadRequest_MappingReferenceWasNotFound");
    assert_eq!(why["message"], MAPPING_NOT_FOUND_MESSAGE);
    assert_eq!(why["status"], 400);
    assert_eq!(why["activity_id"], "standin-activity");
    assert_eq!(why["client_request_id"], request_id.as_str());
    assert_eq!(why["records"], rejected_lines.len());
    assert!(
        why["at"]
            .as_str()
            .is_some_and(|t| t.len() >= 20 && t.ends_with('Z')),
        "{why}"
    );
    let resend = why["resend"].as_str().unwrap_or_default().to_owned();
    assert!(
        resend.starts_with(&format!(
            "hubble-ingest replay {} --sink adx --adx-cluster {} --adx-database db",
            letters[0].display(),
            adx.url()
        )),
        "{resend}"
    );

    // Every other kept flow reached ADX exactly once; none of the rejected ones did.
    let dead: HashSet<String> = lines.iter().map(|l| uuid_of(l)).collect();
    let got = adx.uuids();
    let got_counts = counts(&got);
    for u in &gen.kept {
        let expected = usize::from(!dead.contains(u));
        assert_eq!(
            got_counts.get(u.as_str()).copied().unwrap_or(0),
            expected,
            "flow {u}"
        );
    }
    assert_eq!(got.len() + dead.len(), gen.kept.len());

    // The summary adds up: delivered + dead-lettered = kept, lost 0, the dead letter named.
    let sink = &summary["sinks"][0];
    assert_eq!(sink["sink"], "adx", "{summary}");
    assert_eq!(summary["kept_flows"], gen.kept.len());
    assert_eq!(sink["records"], gen.kept.len());
    assert_eq!(sink["delivered"], got.len());
    assert_eq!(sink["dead_lettered"], dead.len());
    assert_eq!(sink["not_delivered"], 0);
    assert_eq!(sink["lost"], 0);
    assert_eq!(sink["dead_letters"][0], letters[0].display().to_string());
    assert!(stderr.contains("records rejected by adx"), "{stderr}");
    eprintln!(
        "40k CRI lines: {} kept, {} delivered, {} dead-lettered from request {request_id}",
        gen.kept.len(),
        got.len(),
        dead.len()
    );

    // Re-sending the dead letter (the cause fixed) delivers exactly the missing records: no duplicates.
    let (out, summary) = replay(&adx, &dir.path().join("resend-state"), &letters, &[]);
    assert!(
        out.status.success(),
        "re-send failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(summary["sinks"][0]["delivered"], dead.len());
    let got = adx.uuids();
    assert_eq!(
        got.len(),
        gen.kept.len(),
        "{} duplicates",
        flows::duplicates(&got)
    );
    assert!(flows::missing(&gen.kept, &got).is_empty());
}

#[test]
fn replay_dead_letters_records_not_delivered_within_the_retry_budget_and_exits_1() {
    let adx = AdxStandIn::start(Mode::Unavailable);
    let dir = support::TestDir::new();
    let input = dir.path().join("flows.log");
    let mut gen = FlowGen::new(0x10a2);
    let mut rng = XorShift::new(0x10a2);
    let mut text = String::new();
    for _ in 0..300 {
        text.push_str(&gen.next_line(&mut rng));
        text.push('\n');
    }
    fs::write(&input, text).unwrap();
    let state = dir.path().join("state");
    let started = std::time::Instant::now();
    let (out, summary) = replay(&adx, &state, &[input], &["--adx-max-retry-duration", "2s"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the budget bounds the replay"
    );
    let sink = &summary["sinks"][0];
    assert_eq!(sink["records"], gen.kept.len(), "{summary}");
    assert_eq!(sink["delivered"], 0);
    assert_eq!(sink["dead_lettered"], 0);
    assert_eq!(sink["not_delivered"], gen.kept.len());
    assert_eq!(sink["lost"], 0);
    assert!(
        sink["retries"]["http_5xx"].as_u64().is_some_and(|n| n >= 1),
        "{summary}"
    );
    let letters = dead_letters(&state.join("dead-letter"));
    assert_eq!(letters.len(), 1);
    let why: Value =
        serde_json::from_str(&fs::read_to_string(letters[0].with_extension("error.json")).unwrap())
            .unwrap();
    assert_eq!(why["kind"], "not_delivered");
    assert_eq!(why["code"], "NotDelivered");
    assert!(
        why["message"].as_str().is_some_and(|m| m.contains("503")),
        "{why}"
    );
    let dead: Vec<String> = fs::read_to_string(&letters[0])
        .unwrap()
        .lines()
        .map(uuid_of)
        .collect();
    assert!(flows::missing(&gen.kept, &dead).is_empty());
    assert!(
        stderr.contains("not delivered to adx within the retry budget"),
        "{stderr}"
    );
}

#[test]
fn replay_retries_throttling_and_a_lost_reply_counts_them_and_delivers_everything() {
    let adx = AdxStandIn::start(Mode::Throttled);
    adx.lose_reply();
    let dir = support::TestDir::new();
    let input = dir.path().join("flows.log");
    let mut gen = FlowGen::new(0x10a3);
    let mut rng = XorShift::new(0x10a3);
    let mut text = String::new();
    for _ in 0..200 {
        text.push_str(&gen.next_line(&mut rng));
        text.push('\n');
    }
    fs::write(&input, text).unwrap();
    let adx = std::sync::Arc::new(adx);
    let switch = {
        let adx = std::sync::Arc::clone(&adx);
        std::thread::spawn(move || {
            // Throttled until at least two 429s were answered, then up.
            support::wait_until(Duration::from_secs(20), || adx.failed_requests() >= 2);
            adx.set_mode(Mode::Up);
        })
    };
    let state = dir.path().join("state");
    let (out, summary) = replay(&adx, &state, &[input], &[]);
    switch.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let sink = &summary["sinks"][0];
    assert_eq!(sink["delivered"], gen.kept.len(), "{summary}");
    assert_eq!(sink["lost"], 0);
    assert!(
        sink["retries"]["throttled"]
            .as_u64()
            .is_some_and(|n| n >= 2),
        "{summary}"
    );
    // The lost reply: the request was ingested, its reply dropped, then re-sent (at-least-once).
    assert!(
        sink["retries"]["other"].as_u64().is_some_and(|n| n >= 1),
        "{summary}"
    );
    let got = adx.uuids();
    assert!(flows::missing(&gen.kept, &got).is_empty());
    assert!(dead_letters(&state.join("dead-letter")).is_empty());
}

#[test]
fn the_text_summary_accounts_for_every_record_and_names_the_dead_letters() {
    let adx = AdxStandIn::start(Mode::RejectMapping);
    let dir = support::TestDir::new();
    let input = dir.path().join("flows.log");
    let mut gen = FlowGen::new(0x10a4);
    let mut text = String::new();
    for _ in 0..30 {
        text.push_str(&gen.kept_flow());
        text.push('\n');
    }
    fs::write(&input, text).unwrap();
    let state = dir.path().join("state");
    let (out, _) = replay_with(&adx, &state, &[input], &[], false);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("sink adx: 30 records: 0 delivered, 30 dead-lettered (rejected), 0 not delivered, 0 lost"),
        "{stderr}"
    );
    let letters = dead_letters(&state.join("dead-letter"));
    assert_eq!(letters.len(), 1);
    assert!(
        stderr.contains(&format!("    {}", letters[0].display())),
        "the summary names the dead letter: {stderr}"
    );
    assert!(
        stderr.contains("30 records rejected by adx are in"),
        "{stderr}"
    );
}
