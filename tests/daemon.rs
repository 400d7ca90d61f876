//! `hubble-ingest run` as a real process against real files and real servers on 127.0.0.1: `kill -9` at random
//! moments while a writer appends and rotates (kubelet and lumberjack schemes) or just appends (gzip file sink
//! and ADX sink at once), an ADX outage (503 and refused connections) that the spool absorbs, a permanent ADX
//! error that dead-letters a batch which `replay` re-sends later, a full spool that pauses reading, SIGTERM
//! within the grace period and during startup, stdin ending, the HTTP endpoints, and regression cases for the
//! spool's crash leftovers and for files rotated (and gzipped) while the daemon is down or starting.
//!
//! The tests run one at a time (a process-wide lock) so that a loaded 2-core machine does not starve the
//! daemons; every wait is a poll with a deadline. Randomized tests print their seed; rerun one with
//! `HUBBLE_TEST_SEED=<seed>`. A failed test keeps its directory (path printed) with inputs, state and sink; the
//! kill -9 rotation tests also write `history.txt` there (each instance's log, spool and checkpoints).

mod support;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use support::adx::{AdxStandIn, Mode};
use support::flows::{self, FlowGen};
use support::http;
use support::process::{hubble_ingest, Proc};
use support::rotation::{writer_thread, Scheme};
use support::{wait_every, wait_until, XorShift};

static SERIAL: Mutex<()> = Mutex::new(());

/// Runs the daemon tests one at a time.
fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// `run` with small batches and short intervals, JSON logs, state in `state`.
fn run_cmd(state: &Path, inputs: &[String], extra: &[String], env: &[(String, String)]) -> Command {
    let mut cmd = hubble_ingest();
    cmd.arg("run");
    for i in inputs {
        cmd.arg("--input").arg(i);
    }
    if !extra.iter().any(|a| a == "--batch-max-bytes") {
        cmd.args(["--batch-max-bytes", "32KiB"]);
    }
    if !extra.iter().any(|a| a == "--flush-interval") {
        cmd.args(["--flush-interval", "100ms"]);
    }
    cmd.arg("--state-dir")
        .arg(state)
        .args(["--poll-interval", "50ms", "--log-format", "json"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn spool_segments(state: &Path) -> usize {
    fs::read_dir(state.join("spool"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".seg"))
                .count()
        })
        .unwrap_or(0)
}

fn quarantined(state: &Path) -> usize {
    fs::read_dir(state.join("spool").join("quarantine"))
        .map(|rd| rd.count())
        .unwrap_or(0)
}

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open input for append");
    f.write_all(text.as_bytes()).expect("append input");
}

/// `n` random lines (raw framing), newline-terminated.
fn lines(gen: &mut FlowGen, rng: &mut XorShift, n: usize) -> String {
    let mut s = String::new();
    for _ in 0..n {
        s.push_str(&gen.next_line(rng));
        s.push('\n');
    }
    s
}

fn metrics(addr: std::net::SocketAddr) -> String {
    match http::get(addr, "/metrics") {
        Ok((200, body)) => body,
        _ => String::new(),
    }
}

fn metric(addr: std::net::SocketAddr, name: &str, label: &str) -> f64 {
    http::metric(&metrics(addr), name, label).unwrap_or(-1.0)
}

/// Asserts every line of the sink file is a complete JSON record (none torn), and returns their uuids.
fn strict_sink_uuids(path: &Path) -> Vec<String> {
    let text = fs::read_to_string(path).expect("sink file is UTF-8");
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "the sink file ends with a torn record: {:?}",
        &text[text.len().saturating_sub(200)..]
    );
    let (uuids, bad) = flows::sink_uuids(&text);
    assert!(
        bad.is_empty(),
        "{} sink lines are not complete JSON records, e.g. {:?}",
        bad.len(),
        bad.first().map(|l| &l[..l.len().min(300)])
    );
    uuids
}

fn assert_clean_exit(d: &mut Proc, within: Duration, what: &str) -> Duration {
    let t0 = Instant::now();
    d.signal("TERM");
    let st = d.wait_exit(within);
    let took = t0.elapsed();
    assert!(
        st.is_some_and(|s| s.success()),
        "{what}: expected exit 0 within {within:?} after SIGTERM, got {st:?} after {took:?}\n{}",
        d.log_tail(40)
    );
    took
}

// ---------------------------------------------------------------------------------------------------------
// 1. kill -9 while a writer appends and rotates (writers in support/rotation.rs).
// ---------------------------------------------------------------------------------------------------------

fn record_instance(history: &Path, d: &Proc, state: &Path, what: &str) {
    let mut spool: Vec<String> = fs::read_dir(state.join("spool"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    spool.sort();
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(history)
        .expect("history");
    let _ = writeln!(
        f,
        "=== {what} (pid {}); spool after: {spool:?}\n{}",
        d.pid(),
        d.log()
    );
    {
        let cp = fs::read_to_string(state.join("checkpoints.json")).unwrap_or_default();
        let _ = writeln!(f, "checkpoints: {cp}");
        if let Some(logs) = state.parent().map(|p| p.join("logs")) {
            let mut l: Vec<String> = fs::read_dir(&logs)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| {
                    format!(
                        "{} {}",
                        e.file_name().to_string_lossy(),
                        e.metadata().map(|m| m.len()).unwrap_or(0)
                    )
                })
                .collect();
            l.sort();
            let _ = writeln!(f, "logs: {l:?}");
        }
        if let Some(out) = state.parent().map(|p| p.join("out/flows.ndjson")) {
            let len = fs::metadata(out).map(|m| m.len()).unwrap_or(0);
            let _ = writeln!(f, "sink bytes: {len}");
        }
    }
}

fn kill9_while_writing_and_rotating(scheme: Scheme, run: u32) {
    let _serial = serial();
    let seed = support::seed();
    let ctx = format!("{scheme:?}, seed {seed} (rerun with HUBBLE_TEST_SEED={seed})");
    eprintln!("kill -9 test: {ctx}");
    let dir = support::TestDir::new();
    let logs = dir.path().join("logs");
    fs::create_dir_all(&logs).expect("mkdir logs");
    let state = dir.path().join("state");
    let out = dir.path().join("out").join("flows.ndjson");
    let glob = match scheme {
        Scheme::Kubelet => format!("{}/0.log*", logs.display()),
        Scheme::Lumberjack => format!("{}/events*.log*", logs.display()),
    };
    let mut args = vec![
        "--read-from-head".to_owned(),
        "--sink".to_owned(),
        format!("file:{}", out.display()),
        "--shutdown-timeout".to_owned(),
        "5s".to_owned(),
    ];
    // The file sink alone takes batches without the spool (`DirectSink`); with a second sink every batch goes
    // through the spool and its delivery loop. One scheme crashes each path.
    if scheme == Scheme::Lumberjack {
        args.extend(["--sink".to_owned(), "file:/dev/null".to_owned()]);
    }
    let start_daemon = || {
        Proc::spawn(&mut run_cmd(
            &state,
            std::slice::from_ref(&glob),
            &args,
            &[],
        ))
    };

    // After each instance: its log, the spool listing, checkpoints, input files and sink size (history.txt, kept
    // with the test directory when the test fails).
    let history = dir.path().join("history.txt");
    let writer = writer_thread(logs.clone(), scheme, seed, run, Duration::from_secs(8));
    let mut rng = XorShift::new(seed);
    let mut kills = 0u32;
    while !writer.is_finished() {
        let mut d = start_daemon();
        std::thread::sleep(Duration::from_millis(rng.range(100, 1200)));
        assert!(
            d.is_running(),
            "the daemon exited on its own before kill #{}: {ctx}\n{}",
            kills + 1,
            d.log_tail(40)
        );
        d.kill9();
        kills += 1;
        record_instance(&history, &d, &state, &format!("kill -9 #{kills}"));
        if rng.chance(30) {
            // Down for a while: rotations (and gzips) happen while nobody watches.
            std::thread::sleep(Duration::from_millis(rng.range(0, 600)));
        }
    }
    let written = writer.join().expect("writer thread");
    assert!(
        written.rotations >= 3,
        "too few rotations: {}",
        written.rotations
    );

    // A clean stop in the middle of catching up, then a restart that drains everything.
    let mut d = start_daemon();
    assert!(
        d.wait_log("hubble-ingest running", Duration::from_secs(30)),
        "{ctx}\n{}",
        d.log_tail(30)
    );
    std::thread::sleep(Duration::from_millis(rng.range(50, 500)));
    assert_clean_exit(&mut d, Duration::from_secs(20), &ctx);
    record_instance(&history, &d, &state, "SIGTERM while catching up");
    let mut d = start_daemon();
    // (SIGTERM before startup finished kills the process: see `sigterm_during_startup_exits_0`.)
    assert!(
        d.wait_log("hubble-ingest running", Duration::from_secs(30)),
        "{ctx}\n{}",
        d.log_tail(30)
    );
    let mut last_missing = usize::MAX;
    let drained = wait_every(Duration::from_secs(40), Duration::from_millis(250), || {
        let got = flows::quick_uuids(&fs::read(&out).unwrap_or_default());
        last_missing = flows::missing(&written.kept, &got).len();
        last_missing == 0 && spool_segments(&state) == 0
    });
    record_instance(&history, &d, &state, "final instance");
    assert!(
        drained,
        "not drained: {last_missing} of {} kept flows missing, {} segments spooled: {ctx}\n{}",
        written.kept.len(),
        spool_segments(&state),
        d.log_tail(40)
    );
    assert_clean_exit(&mut d, Duration::from_secs(20), &ctx);

    let got = strict_sink_uuids(&out);
    let missing = flows::missing(&written.kept, &got);
    assert!(
        missing.is_empty(),
        "{} kept flows lost (e.g. {:?}): {ctx}",
        missing.len(),
        missing.first()
    );
    let unkept: std::collections::HashSet<&String> = written.unkept.iter().collect();
    let wrongly_kept = got.iter().filter(|u| unkept.contains(u)).count();
    assert_eq!(
        wrongly_kept, 0,
        "flows the filter drops reached the sink: {ctx}"
    );
    let unknown = flows::missing(&got, &written.kept);
    assert!(
        unknown.is_empty(),
        "records with uuids never written: {unknown:?}"
    );
    assert_eq!(
        quarantined(&state),
        0,
        "spool segments were quarantined: {ctx}"
    );
    eprintln!(
        "kill -9 test {ctx}: {kills} kills, {} rotations ({} gzipped), {} kept flows written, {} records in \
         the sink, {} duplicates",
        written.rotations,
        written.gzipped,
        written.kept.len(),
        got.len(),
        flows::duplicates(&got)
    );
}

#[test]
fn kill9_during_kubelet_rotation_loses_no_flow_and_tears_no_record() {
    kill9_while_writing_and_rotating(Scheme::Kubelet, 0x1001);
}

#[test]
fn kill9_during_lumberjack_rotation_loses_no_flow_and_tears_no_record() {
    kill9_while_writing_and_rotating(Scheme::Lumberjack, 0x1002);
}

// ---------------------------------------------------------------------------------------------------------
// 2. Sink outage and permanent errors.
// ---------------------------------------------------------------------------------------------------------

fn adx_daemon(state: &Path, input: &str, adx: &AdxStandIn, extra: &[&str]) -> Proc {
    let mut args: Vec<String> = vec![
        "--read-from-head".into(),
        "--metrics-addr".into(),
        "127.0.0.1:0".into(),
    ];
    args.extend(adx.sink_args());
    args.extend(extra.iter().map(|s| s.to_string()));
    Proc::spawn(&mut run_cmd(state, &[input.to_owned()], &args, &adx.env()))
}

/// The common ground of the ADX daemon tests: the test lock, an ADX stand-in in `mode`, a directory holding
/// `state/` and the followed `events.log`, and the flow generator and random source that write it.
struct AdxCase {
    _serial: MutexGuard<'static, ()>,
    adx: AdxStandIn,
    dir: support::TestDir,
    state: std::path::PathBuf,
    input: std::path::PathBuf,
    gen: FlowGen,
    rng: XorShift,
}

impl AdxCase {
    fn new(mode: Mode, gen_seed: u32, rng_seed: u64) -> AdxCase {
        let serial = serial();
        let dir = support::TestDir::new();
        AdxCase {
            _serial: serial,
            adx: AdxStandIn::start(mode),
            state: dir.path().join("state"),
            input: dir.path().join("events.log"),
            dir,
            gen: FlowGen::new(gen_seed),
            rng: XorShift::new(rng_seed),
        }
    }

    /// Appends `n` generated lines (kept flows among noise) to the input.
    fn append_lines(&mut self, n: usize) {
        append(&self.input, &lines(&mut self.gen, &mut self.rng, n));
    }

    /// The daemon following the input into the stand-in, with `extra` arguments.
    fn daemon(&self, extra: &[&str]) -> Proc {
        adx_daemon(
            &self.state,
            &self.input.display().to_string(),
            &self.adx,
            extra,
        )
    }
}

#[test]
fn adx_outage_grows_the_spool_then_drains_it_without_loss() {
    let mut c = AdxCase::new(Mode::Unavailable, 0x2001, 2001);
    c.append_lines(200);
    let mut d = adx_daemon(
        &c.state,
        &format!("{}/events*.log*", c.dir.path().display()),
        &c.adx,
        &["--batch-max-bytes", "16KiB"],
    );
    let m = d.metrics_addr(Duration::from_secs(20));

    // 503: nothing is accepted, batches pile up in the spool.
    assert!(
        wait_until(Duration::from_secs(20), || c.adx.failed_requests() >= 2
            && metric(m, "hubble_ingest_spool_bytes", "") > 0.0),
        "no 503 seen or spool empty: failed={} spool={}\n{}",
        c.adx.failed_requests(),
        metric(m, "hubble_ingest_spool_bytes", ""),
        d.log_tail(30)
    );
    // The client's own retries are visible, by reason.
    assert!(
        wait_until(Duration::from_secs(10), || metric(
            m,
            "hubble_ingest_sink_retries_total",
            "reason=\"http_5xx\""
        ) >= 1.0),
        "503 retries not counted in sink_retries{{reason=\"http_5xx\"}}:\n{}",
        metrics(m)
    );
    let spooled_1 = metric(m, "hubble_ingest_spool_bytes", "");
    append(&c.input, &lines(&mut c.gen, &mut c.rng, 300));
    assert!(
        wait_until(Duration::from_secs(20), || metric(
            m,
            "hubble_ingest_spool_bytes",
            ""
        ) > spooled_1
            && spool_segments(&c.state) >= 2),
        "the spool did not grow during the 503 outage: {spooled_1} → {}",
        metric(m, "hubble_ingest_spool_bytes", "")
    );

    // Connection refused: still nothing lost, the spool keeps growing.
    c.adx.set_mode(Mode::Refused);
    let spooled_2 = metric(m, "hubble_ingest_spool_bytes", "");
    append(&c.input, &lines(&mut c.gen, &mut c.rng, 300));
    assert!(
        wait_until(Duration::from_secs(20), || metric(
            m,
            "hubble_ingest_spool_bytes",
            ""
        ) > spooled_2),
        "the spool did not grow while connections were refused"
    );
    assert!(
        wait_until(Duration::from_secs(20), || d
            .log()
            .contains("connect error")),
        "no delivery attempt met the refused connection\n{}",
        d.log_tail(30)
    );
    assert_eq!(
        c.adx.ok_requests(),
        0,
        "nothing may be accepted during the outage"
    );
    assert!(
        wait_until(Duration::from_secs(10), || metric(
            m,
            "hubble_ingest_sink_retries_total",
            "reason=\"connect\""
        ) >= 1.0),
        "refused connections not counted in sink_retries{{reason=\"connect\"}}"
    );
    assert!(
        d.is_running(),
        "the daemon died during the outage:\n{}",
        d.log_tail(30)
    );
    let peak_segments = spool_segments(&c.state);

    // Back up: everything arrives, the spool drains.
    c.adx.set_mode(Mode::Up);
    let mut missing = usize::MAX;
    let drained = wait_until(Duration::from_secs(50), || {
        missing = flows::missing(&c.gen.kept, &c.adx.uuids()).len();
        missing == 0
            && spool_segments(&c.state) == 0
            && metric(m, "hubble_ingest_spool_bytes", "") == 0.0
    });
    assert!(
        drained,
        "{missing} of {} flows missing after the outage, {} segments left\n{}",
        c.gen.kept.len(),
        spool_segments(&c.state),
        d.log_tail(30)
    );
    let got = c.adx.uuids();
    let unkept: std::collections::HashSet<&String> = c.gen.unkept.iter().collect();
    assert!(
        got.iter().all(|u| !unkept.contains(u)),
        "dropped flows were sent"
    );
    assert_eq!(c.adx.bad_bodies(), 0, "a request body was not gzip NDJSON");
    let text = metrics(m);
    assert!(
        http::metric(&text, "hubble_ingest_sink_records_total", "sink=\"adx\"")
            .is_some_and(|n| n >= c.gen.kept.len() as f64),
        "sink_records for adx: {:?}",
        http::metric(&text, "hubble_ingest_sink_records_total", "sink=\"adx\"")
    );
    eprintln!(
        "outage: peak {peak_segments} segments; {} records for {} flows ({} duplicates); {} failed requests",
        got.len(),
        c.gen.kept.len(),
        flows::duplicates(&got),
        c.adx.failed_requests()
    );
    assert_clean_exit(&mut d, Duration::from_secs(10), "after the outage");
}

#[test]
fn permanent_adx_error_dead_letters_the_batch_and_replay_resends_it() {
    let mut c = AdxCase::new(Mode::RejectMapping, 0x2002, 2002);
    // Three chunks written one after the other: at least three rejected requests in a row.
    let chunks: Vec<String> = (0..3).map(|_| lines(&mut c.gen, &mut c.rng, 27)).collect();
    let first_kept = c.gen.kept.clone();
    append(&c.input, &chunks[0]);
    let mut d = c.daemon(&[]);
    let m = d.metrics_addr(Duration::from_secs(20));

    let dead = c.state.join("dead-letter");
    let dead_letter_uuids = || -> Vec<String> {
        let mut u = Vec::new();
        for e in fs::read_dir(&dead).into_iter().flatten().flatten() {
            if e.path().extension().is_some_and(|x| x == "ndjson") {
                u.extend(flows::quick_uuids(&fs::read(e.path()).unwrap_or_default()));
            }
        }
        u
    };
    let letter_files = || {
        fs::read_dir(&dead)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "ndjson"))
            .count()
    };
    let mut seen = 0;
    for chunk in &chunks[1..] {
        assert!(
            wait_until(Duration::from_secs(20), || letter_files() > seen
                && spool_segments(&c.state) == 0),
            "no new dead letter\n{}",
            d.log_tail(30)
        );
        seen = letter_files();
        append(&c.input, chunk);
    }
    assert!(
        wait_until(Duration::from_secs(30), || flows::missing(
            &first_kept,
            &dead_letter_uuids()
        )
        .is_empty()
            && spool_segments(&c.state) == 0),
        "the rejected batches did not all reach {}: {} of {} flows there\n{}",
        dead.display(),
        dead_letter_uuids().len(),
        first_kept.len(),
        d.log_tail(30)
    );
    let mut ndjson = Vec::new();
    for e in fs::read_dir(&dead).expect("dead-letter dir").flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "ndjson") {
            let err = p.with_extension("error.json");
            let why = fs::read_to_string(&err)
                .unwrap_or_else(|e| panic!("{} has no {}: {e}", p.display(), err.display()));
            let why: serde_json::Value = serde_json::from_str(&why).expect("sidecar is JSON");
            assert_eq!(
                why["code"],
                "BadRequest_MappingReferenceWasNotFound",
                "{} does not name the ADX error code: {why}",
                err.display()
            );
            assert_eq!(why["message"], support::adx::MAPPING_NOT_FOUND_MESSAGE);
            assert_eq!(why["kind"], "rejected");
            assert!(
                why["client_request_id"]
                    .as_str()
                    .is_some_and(|id| id.starts_with("hubble-ingest.Ingest;")),
                "{why}"
            );
            assert!(
                why["resend"].as_str().is_some_and(|c| c
                    .starts_with(&format!("hubble-ingest replay {}", p.display()))
                    && c.contains("--sink adx")),
                "{why}"
            );
            ndjson.push(p);
        }
    }
    assert!(!ndjson.is_empty());
    assert!(
        metric(m, "hubble_ingest_dead_letters_total", "sink=\"adx\"") >= ndjson.len() as f64,
        "dead_letters metric: {}",
        metric(m, "hubble_ingest_dead_letters_total", "sink=\"adx\"")
    );
    assert!(
        d.is_running(),
        "the daemon stopped after a permanent error:\n{}",
        d.log_tail(30)
    );
    assert_eq!(http::get(m, "/healthz").map(|r| r.0), Ok(200));
    assert_eq!(
        http::get(m, "/readyz").map(|r| r.0),
        Ok(503),
        "{} rejected requests in a row must make /readyz fail",
        ndjson.len()
    );

    // The cause is fixed: new flows are delivered by the same daemon...
    c.adx.set_mode(Mode::Up);
    append(&c.input, &lines(&mut c.gen, &mut c.rng, 40));
    let later: Vec<String> = c.gen.kept[first_kept.len()..].to_vec();
    assert!(
        wait_until(Duration::from_secs(30), || flows::missing(
            &later,
            &c.adx.uuids()
        )
        .is_empty()),
        "flows written after the fix were not delivered\n{}",
        d.log_tail(30)
    );
    assert!(
        flows::missing(&first_kept, &c.adx.uuids()).len() == first_kept.len(),
        "dead-lettered flows must not have been delivered yet"
    );
    assert!(
        wait_until(Duration::from_secs(10), || http::get(m, "/readyz")
            .map(|r| r.0)
            == Ok(200)),
        "/readyz did not recover once batches were accepted again"
    );
    assert_clean_exit(&mut d, Duration::from_secs(10), "after dead-lettering");

    // ...and `replay` re-sends the dead letters.
    let replay_state = c.dir.path().join("replay-state");
    let mut cmd = hubble_ingest();
    cmd.arg("replay")
        .args(&ndjson)
        .arg("--state-dir")
        .arg(&replay_state)
        .args(c.adx.sink_args())
        .stdin(Stdio::null());
    for (k, v) in c.adx.env() {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run replay");
    assert!(
        out.status.success(),
        "replay of the dead letters failed: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let got = c.adx.uuids();
    let missing = flows::missing(&first_kept, &got);
    assert!(
        missing.is_empty(),
        "{} dead-lettered flows not re-sent by replay: {:?}",
        missing.len(),
        missing.first()
    );
    assert_eq!(
        fs::read_dir(replay_state.join("dead-letter")).map_or(0, |rd| rd.count()),
        0,
        "replay dead-lettered again"
    );
    // The re-sent records carry the same columns as the originals.
    let rec = c
        .adx
        .records()
        .into_iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
        .find(|v| v["Uuid"] == first_kept[0].as_str())
        .expect("the first dead-lettered flow was re-sent");
    assert_eq!(rec["Verdict"], "DROPPED");
    assert_eq!(rec["TrafficDirection"], "EGRESS");
    assert_eq!(rec["EventSubType"], 181);
    assert_eq!(rec["Flow"]["uuid"], first_kept[0].as_str());
}

#[test]
fn one_rejected_request_of_a_large_batch_dead_letters_only_its_records() {
    let mut c = AdxCase::new(Mode::Up, 0x2003, 0);
    // A 12 MiB batch goes out as three ≤ 4 MiB requests; the second to arrive is rejected. The input makes
    // between one and two batches of records (about 1.8 KB each), so exactly one batch fills and is delivered
    // while the rest waits for the 60 s flush: with two full batches the second one's delivery raced the
    // assertions below.
    c.adx.reject_request(2);
    let mut text = String::new();
    for _ in 0..8_000 {
        text.push_str(&c.gen.kept_flow());
        text.push('\n');
    }
    append(&c.input, &text);
    let mut d = c.daemon(&["--batch-max-bytes", "12MiB", "--flush-interval", "60s"]);
    let m = d.metrics_addr(Duration::from_secs(20));
    let dead = c.state.join("dead-letter");
    let letters = || -> Vec<std::path::PathBuf> {
        fs::read_dir(&dead)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "ndjson"))
            .collect()
    };
    assert!(
        wait_until(Duration::from_secs(60), || letters().len() == 1
            && c.adx.ok_requests() >= 2
            && metric(m, "hubble_ingest_sink_records_total", "sink=\"adx\"")
                > 0.0),
        "no dead letter and two accepted requests: {:?}, ok={}\n{}",
        letters(),
        c.adx.ok_requests(),
        d.log_tail(30)
    );
    let rejected = c.adx.rejected();
    assert_eq!(rejected.len(), 1);
    let letter = &letters()[0];
    let lines: Vec<String> = fs::read_to_string(letter)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        lines, rejected[0].1,
        "the dead letter is exactly the rejected request"
    );
    let why: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(letter.with_extension("error.json")).unwrap())
            .unwrap();
    assert_eq!(why["client_request_id"], rejected[0].0.as_str());
    assert_eq!(why["code"], "BadRequest_MappingReferenceWasNotFound");
    let dead_uuids: std::collections::HashSet<String> =
        flows::quick_uuids(lines.join("\n").as_bytes())
            .into_iter()
            .collect();
    let got = c.adx.uuids();
    assert_eq!(flows::duplicates(&got), 0, "siblings were re-sent");
    assert!(
        got.iter().all(|u| !dead_uuids.contains(u)),
        "a dead-lettered record was ingested"
    );
    assert_eq!(
        metric(m, "hubble_ingest_sink_records_total", "sink=\"adx\""),
        got.len() as f64
    );
    assert_eq!(
        metric(
            m,
            "hubble_ingest_dead_lettered_records_total",
            "sink=\"adx\""
        ),
        lines.len() as f64
    );
    eprintln!(
        "large batch: {} records accepted in {} requests, {} dead-lettered",
        got.len(),
        c.adx.ok_requests(),
        lines.len()
    );
    assert_clean_exit(
        &mut d,
        Duration::from_secs(20),
        "after a partial dead letter",
    );
}

#[test]
fn a_dead_letter_that_cannot_be_written_is_retried_alone_not_re_sent() {
    let mut c = AdxCase::new(Mode::RejectMapping, 0x2005, 0);
    fs::create_dir_all(&c.state).unwrap();
    // The dead-letter directory's path is taken by a file: writing a dead letter fails until it is removed.
    let dead = c.state.join("dead-letter");
    fs::write(&dead, "in the way").unwrap();
    for _ in 0..20 {
        append(&c.input, &format!("{}\n", c.gen.kept_flow()));
    }
    let mut d = c.daemon(&[]);
    let m = d.metrics_addr(Duration::from_secs(20));
    assert!(
        wait_until(Duration::from_secs(30), || d
            .log()
            .matches("dead letter cannot be written")
            .count()
            >= 3),
        "the failed dead-letter write was not retried\n{}",
        d.log_tail(30)
    );
    assert_eq!(
        c.adx.failed_requests(),
        1,
        "the rejected batch was sent again"
    );
    assert_eq!(
        metric(m, "hubble_ingest_dead_letters_total", "sink=\"adx\""),
        0.0
    );
    assert_eq!(
        spool_segments(&c.state),
        1,
        "the segment stays spooled meanwhile"
    );
    fs::remove_file(&dead).unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || spool_segments(&c.state) == 0),
        "the dead letter was not written once possible\n{}",
        d.log_tail(30)
    );
    assert_eq!(
        c.adx.failed_requests(),
        1,
        "the rejected batch was sent again"
    );
    assert_eq!(
        metric(m, "hubble_ingest_dead_letters_total", "sink=\"adx\""),
        1.0
    );
    let letters: Vec<_> = fs::read_dir(&dead)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "ndjson"))
        .collect();
    assert_eq!(letters.len(), 1);
    let uuids = flows::quick_uuids(&fs::read(letters[0].path()).unwrap());
    assert!(flows::missing(&c.gen.kept, &uuids).is_empty());
    assert_eq!(uuids.len(), c.gen.kept.len());
    assert_clean_exit(
        &mut d,
        Duration::from_secs(10),
        "after the dead-letter retry",
    );
}

#[test]
fn run_keeps_records_spooled_when_the_retry_budget_runs_out_and_counts_it() {
    let mut c = AdxCase::new(Mode::Unavailable, 0x2004, 2004);
    c.append_lines(200);
    let mut d = c.daemon(&["--adx-max-retry-duration", "1s"]);
    let m = d.metrics_addr(Duration::from_secs(20));
    assert!(
        wait_until(Duration::from_secs(30), || metric(
            m,
            "hubble_ingest_sink_retries_total",
            "reason=\"not_delivered\""
        ) >= 2.0),
        "the exhausted budget was not counted as sink_retries{{reason=\"not_delivered\"}}\n{}",
        d.log_tail(30)
    );
    assert!(
        spool_segments(&c.state) >= 1,
        "undelivered records must stay spooled"
    );
    assert_eq!(
        fs::read_dir(c.state.join("dead-letter")).map_or(0, |rd| rd.count()),
        0,
        "run never dead-letters what it could not deliver"
    );
    c.adx.set_mode(Mode::Up);
    assert!(
        wait_until(Duration::from_secs(30), || flows::missing(
            &c.gen.kept,
            &c.adx.uuids()
        )
        .is_empty()
            && spool_segments(&c.state) == 0),
        "not delivered after the outage\n{}",
        d.log_tail(30)
    );
    assert_clean_exit(&mut d, Duration::from_secs(10), "after the budget test");
}

// ---------------------------------------------------------------------------------------------------------
// 3. Spool full: backpressure.
// ---------------------------------------------------------------------------------------------------------

#[test]
fn full_spool_pauses_reading_with_flat_memory_then_resumes_without_loss() {
    const SPOOL_MAX: f64 = 64.0 * 1024.0;
    let mut c = AdxCase::new(Mode::Unavailable, 0x3001, 0);
    let mut text = String::new();
    for i in 0..2500 {
        text.push_str(&c.gen.kept_flow());
        text.push('\n');
        if i % 10 == 0 {
            text.push_str(&c.gen.noise());
            text.push('\n');
        }
    }
    append(&c.input, &text);
    let file_size = text.len() as f64;
    let mut d = c.daemon(&["--spool-max-bytes", "64KiB", "--batch-max-bytes", "16KiB"]);
    let m = d.metrics_addr(Duration::from_secs(20));
    let read = || metric(m, "hubble_ingest_input_bytes_total", "");
    assert!(
        wait_until(Duration::from_secs(20), || metric(
            m,
            "hubble_ingest_backpressure_pauses_total",
            ""
        ) >= 1.0),
        "reading never paused: spool {} bytes, read {} of {file_size}\n{}",
        metric(m, "hubble_ingest_spool_bytes", ""),
        read(),
        d.log_tail(30)
    );
    // Let the pass in flight finish, then watch for a while.
    std::thread::sleep(Duration::from_millis(500));
    let read_1 = read();
    let rss_1 = d.vm_rss_kib().expect("VmRSS");
    let checkpoints_1 = fs::read(c.state.join("checkpoints.json")).unwrap_or_default();
    std::thread::sleep(Duration::from_millis(2500));
    let read_2 = read();
    let rss_2 = d.vm_rss_kib().expect("VmRSS");
    let spool = metric(m, "hubble_ingest_spool_bytes", "");
    let checkpoints_2 = fs::read(c.state.join("checkpoints.json")).unwrap_or_default();
    eprintln!(
        "backpressure: read {read_2} of {file_size} bytes, spool {spool} bytes (max {SPOOL_MAX}), RSS {rss_1} → \
         {rss_2} KiB"
    );
    assert_eq!(
        read_1, read_2,
        "input kept advancing while the spool was full"
    );
    assert_eq!(
        checkpoints_1, checkpoints_2,
        "checkpoints kept advancing while paused"
    );
    assert!(
        read_2 > 0.0 && read_2 < file_size / 2.0,
        "read {read_2} of {file_size}"
    );
    assert!(
        (SPOOL_MAX..=SPOOL_MAX + 512.0 * 1024.0).contains(&spool),
        "spool {spool} bytes is not near its bound {SPOOL_MAX}"
    );
    assert!(
        rss_2 <= rss_1 + 4096,
        "memory grew while paused: {rss_1} → {rss_2} KiB"
    );

    c.adx.set_mode(Mode::Up);
    let mut missing = usize::MAX;
    assert!(
        wait_until(Duration::from_secs(50), || {
            missing = flows::missing(&c.gen.kept, &c.adx.uuids()).len();
            missing == 0 && read() == file_size
        }),
        "after the sink came back: {missing} of {} flows missing, read {} of {file_size}\n{}",
        c.gen.kept.len(),
        read(),
        d.log_tail(30)
    );
    let rss_3 = d.vm_rss_kib().expect("VmRSS");
    eprintln!("backpressure: RSS after draining {rss_3} KiB");
    assert_clean_exit(&mut d, Duration::from_secs(10), "after backpressure");
}

// ---------------------------------------------------------------------------------------------------------
// 4. SIGTERM within the grace period while the sink is down.
// ---------------------------------------------------------------------------------------------------------

#[test]
fn sigterm_exits_within_the_grace_period_and_keeps_undelivered_batches_spooled() {
    let mut c = AdxCase::new(Mode::Unavailable, 0x4001, 4001);
    c.append_lines(300);
    let mut d = c.daemon(&["--shutdown-timeout", "2s"]);
    let m = d.metrics_addr(Duration::from_secs(20));
    assert!(
        wait_until(Duration::from_secs(20), || c.adx.failed_requests() >= 1
            && metric(m, "hubble_ingest_flows_kept_total", "")
                == c.gen.kept.len() as f64
            && spool_segments(&c.state) >= 1),
        "the batch never reached the spool and the sink\n{}",
        d.log_tail(30)
    );
    let took = assert_clean_exit(
        &mut d,
        Duration::from_secs(15),
        "SIGTERM with the sink down",
    );
    eprintln!("SIGTERM with the sink down: exited in {took:?} (grace 2s)");
    assert!(
        took <= Duration::from_secs(5),
        "exit took {took:?}, more than the 2 s grace period plus slack"
    );
    let left = spool_segments(&c.state);
    assert!(left >= 1, "undelivered batches must stay in the spool");
    assert_eq!(c.adx.ok_requests(), 0);

    c.adx.set_mode(Mode::Up);
    let mut d = c.daemon(&[]);
    assert!(
        wait_until(Duration::from_secs(30), || flows::missing(
            &c.gen.kept,
            &c.adx.uuids()
        )
        .is_empty()
            && spool_segments(&c.state) == 0),
        "spooled batches were not delivered after the restart: {} of {} missing\n{}",
        flows::missing(&c.gen.kept, &c.adx.uuids()).len(),
        c.gen.kept.len(),
        d.log_tail(30)
    );
    let got = c.adx.uuids();
    eprintln!(
        "after restart: {left} spooled segments delivered, {} records, {} duplicates",
        got.len(),
        flows::duplicates(&got)
    );
    assert_clean_exit(&mut d, Duration::from_secs(10), "after delivery");
}

// ---------------------------------------------------------------------------------------------------------
// 5. Stdin ending.
// ---------------------------------------------------------------------------------------------------------

/// `run --input -` into `sink`, and the pipe that is its stdin (dropping it ends the input).
fn stdin_daemon(state: &Path, sink: &str) -> (Proc, std::process::ChildStdin) {
    let mut cmd = run_cmd(
        state,
        &["-".to_owned()],
        &["--sink".to_owned(), sink.to_owned()],
        &[],
    );
    cmd.stdin(Stdio::piped());
    let mut d = Proc::spawn(&mut cmd);
    let stdin = d.take_stdin().expect("stdin pipe");
    (d, stdin)
}

/// Waits for the exit that follows the end of stdin and asserts it is 0.
fn assert_exit_0_after_stdin(d: &mut Proc) {
    let st = d.wait_exit(Duration::from_secs(30));
    assert!(
        st.is_some_and(|s| s.success()),
        "expected exit 0 after stdin ended, got {st:?}\n{}",
        d.log_tail(30)
    );
}

#[test]
fn stdin_end_delivers_everything_then_exits_0() {
    let _serial = serial();
    let dir = support::TestDir::new();
    let state = dir.path().join("state");
    let out = dir.path().join("flows.ndjson");
    let mut gen = FlowGen::new(0x5001);
    let mut rng = XorShift::new(5001);
    let mut data = lines(&mut gen, &mut rng, 3000).into_bytes();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/agent-stdout.log");
    data.extend(fs::read(&fixture).expect("fixture"));
    let (mut d, mut stdin) = stdin_daemon(&state, &format!("file:{}", out.display()));
    let feeder = std::thread::spawn(move || {
        for chunk in data.chunks(64 * 1024) {
            stdin.write_all(chunk).expect("feed stdin");
            std::thread::sleep(Duration::from_millis(5));
        }
        // Dropping the pipe is the end of input.
    });
    feeder.join().expect("feeder");
    assert_exit_0_after_stdin(&mut d);
    let got = strict_sink_uuids(&out);
    let missing = flows::missing(&gen.kept, &got);
    assert!(missing.is_empty(), "{} flows missing", missing.len());
    assert_eq!(
        got.len(),
        gen.kept.len() + 19,
        "every kept flow exactly once (plus the fixture's 19)"
    );
    assert_eq!(flows::duplicates(&got), 0);
    assert_eq!(spool_segments(&state), 0, "delivered segments are removed");
}

#[test]
fn a_device_file_sink_delivers_every_batch() {
    // fsync(2) on /dev/null fails with EINVAL: the daemon retried every batch until the grace period ran out.
    let _serial = serial();
    let dir = support::TestDir::new();
    let state = dir.path().join("state");
    let mut gen = FlowGen::new(0x5002);
    let mut rng = XorShift::new(5002);
    let data = lines(&mut gen, &mut rng, 500).into_bytes();
    let (mut d, mut stdin) = stdin_daemon(&state, "file:/dev/null");
    stdin.write_all(&data).expect("feed stdin");
    drop(stdin);
    assert_exit_0_after_stdin(&mut d);
    assert!(!gen.kept.is_empty());
    assert_eq!(spool_segments(&state), 0, "every segment delivered");
    assert!(!d.log_tail(200).contains("delivery failed"));
}

#[test]
fn a_file_sink_that_keeps_up_takes_every_batch_without_a_spool_write() {
    let _serial = serial();
    let dir = support::TestDir::new();
    let state = dir.path().join("state");
    let input = dir.path().join("0.log");
    let out = dir.path().join("flows.ndjson");
    let mut gen = FlowGen::new(0x5003);
    let mut rng = XorShift::new(5003);
    append(&input, &lines(&mut gen, &mut rng, 200));
    let mut d = file_sink_daemon(&state, &input.display().to_string(), &out);
    let m = d.metrics_addr(Duration::from_secs(20));
    let sink = format!("sink=\"file:{}\"", out.display());
    let mut batches = 0.0;
    // Batches apart in time: each one is flushed by itself.
    for round in 1..=3 {
        if round > 1 {
            append(&input, &lines(&mut gen, &mut rng, 100));
        }
        let kept = gen.kept.clone();
        assert!(
            wait_until(Duration::from_secs(20), || all_in_file(&kept, &out)),
            "round {round}: {}",
            d.log_tail(20)
        );
        let delivered = metric(m, "hubble_ingest_sink_batches_total", &sink);
        assert!(delivered > batches, "round {round}: no new batch");
        batches = delivered;
    }
    assert_eq!(
        metric(m, "hubble_ingest_sink_direct_batches_total", ""),
        batches,
        "every batch went straight to the sink"
    );
    let spooled: Vec<_> = fs::read_dir(state.join("spool"))
        .expect("spool dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert!(
        spooled.is_empty(),
        "nothing written to the spool: {spooled:?}"
    );
    assert_clean_exit(&mut d, Duration::from_secs(10), "direct delivery");
    let got = strict_sink_uuids(&out);
    assert_eq!(got.len(), gen.kept.len(), "every kept flow once");
    assert_eq!(flows::duplicates(&got), 0);
}

/// `cmd` run under `ulimit -S -f kib` (the soft limit) with SIGXFSZ ignored: a write past `kib` KiB fails with
/// `EFBIG`, as on a full disk, until `prlimit` lifts the limit.
fn with_file_size_limit(cmd: &Command, kib: u64) -> Command {
    let mut wrapped = Command::new("bash");
    wrapped
        .arg("-c")
        .arg(format!("trap '' XFSZ; ulimit -S -f {kib}; exec \"$@\""))
        .arg("bash")
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    wrapped
}

#[test]
fn a_file_sink_that_fails_part_way_gets_its_batches_through_the_spool_without_a_torn_record() {
    let _serial = serial();
    let dir = support::TestDir::new();
    let state = dir.path().join("state");
    let input = dir.path().join("0.log");
    let out = dir.path().join("flows.ndjson");
    let mut gen = FlowGen::new(0x5004);
    let mut rng = XorShift::new(5004);
    append(&input, &lines(&mut gen, &mut rng, 3000));
    let cmd = file_sink_cmd(&state, &input.display().to_string(), &out);
    // The sink file outgrows 1 MiB; a spool segment (one pipeline batch, a few hundred KiB) never does.
    let mut d = Proc::spawn(&mut with_file_size_limit(&cmd, 1024));
    let m = d.metrics_addr(Duration::from_secs(20));
    let sink = format!("sink=\"file:{}\"", out.display());
    let io_retries = format!("{sink},reason=\"io\"");
    assert!(
        wait_until(Duration::from_secs(20), || metric(
            m,
            "hubble_ingest_sink_retries_total",
            &io_retries
        ) >= 2.0
            && spool_segments(&state) >= 1),
        "the sink never failed: {}",
        d.log_tail(20)
    );
    let direct_before = metric(m, "hubble_ingest_sink_direct_batches_total", "");
    assert!(
        direct_before >= 1.0,
        "the first batches went straight to the sink"
    );
    let lifted = Command::new("prlimit")
        .arg("--pid")
        .arg(d.pid().to_string())
        .arg("--fsize=unlimited")
        .status()
        .expect("prlimit");
    assert!(lifted.success());
    let kept = gen.kept.clone();
    assert!(
        wait_until(Duration::from_secs(30), || all_in_file(&kept, &out)
            && spool_segments(&state) == 0),
        "not drained: {}",
        d.log_tail(20)
    );
    // Caught up: batches go straight to the sink again.
    append(&input, &lines(&mut gen, &mut rng, 50));
    assert!(
        wait_until(Duration::from_secs(20), || metric(
            m,
            "hubble_ingest_sink_direct_batches_total",
            ""
        ) > direct_before),
        "{}",
        d.log_tail(20)
    );
    let kept = gen.kept.clone();
    assert!(wait_until(Duration::from_secs(20), || all_in_file(
        &kept, &out
    )));
    assert_clean_exit(&mut d, Duration::from_secs(10), "file sink failure");
    let got = strict_sink_uuids(&out);
    assert_eq!(
        flows::duplicates(&got),
        0,
        "a failed batch is cut, not kept twice"
    );
    assert_eq!(got.len(), gen.kept.len());
}

// ---------------------------------------------------------------------------------------------------------
// 6. HTTP endpoints.
// ---------------------------------------------------------------------------------------------------------

/// `run` following `input` from the head into the file sink `out`, with metrics on an ephemeral port.
fn file_sink_cmd(state: &Path, input: &str, out: &Path) -> Command {
    run_cmd(
        state,
        &[input.to_owned()],
        &[
            "--read-from-head".into(),
            "--metrics-addr".into(),
            "127.0.0.1:0".into(),
            "--sink".into(),
            format!("file:{}", out.display()),
        ],
        &[],
    )
}

/// [`file_sink_cmd`], started.
fn file_sink_daemon(state: &Path, input: &str, out: &Path) -> Proc {
    Proc::spawn(&mut file_sink_cmd(state, input, out))
}

/// Whether every uuid of `kept` is in the sink file `out`.
fn all_in_file(kept: &[String], out: &Path) -> bool {
    flows::missing(kept, &flows::file_uuids(out).0).is_empty()
}

/// The `input` labels of `hubble_ingest_checkpoint_lag_bytes` in a metrics page.
fn lag_inputs(text: &str) -> Vec<String> {
    let mut inputs: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("hubble_ingest_checkpoint_lag_bytes{input=\""))
        .filter_map(|l| l.split_once("\"}").map(|(input, _)| input.to_owned()))
        .collect();
    inputs.sort();
    inputs
}

#[test]
fn per_file_metric_series_survive_rotations_without_piling_up() {
    let _serial = serial();
    let dir = support::TestDir::new();
    let state = dir.path().join("state");
    let input = dir.path().join("0.log");
    let older = dir.path().join("0.log.0");
    let rotated = dir.path().join("0.log.1");
    let out = dir.path().join("flows.ndjson");
    let mut gen = FlowGen::new(0x6101);
    let mut rng = XorShift::new(6101);
    append(&older, &lines(&mut gen, &mut rng, 50));
    append(&input, &lines(&mut gen, &mut rng, 50));
    let mut d = file_sink_daemon(&state, &format!("{}*", input.display()), &out);
    let m = d.metrics_addr(Duration::from_secs(20));
    let name = |p: &Path| p.display().to_string();
    assert!(
        wait_until(Duration::from_secs(20), || lag_inputs(&metrics(m))
            == [name(&input), name(&older)]),
        "{}",
        metrics(m)
    );
    // Rotated: the runtime still writes a few lines through its open descriptor, then into the new file.
    fs::rename(&input, &rotated).expect("rotate");
    append(&rotated, &lines(&mut gen, &mut rng, 20));
    append(&input, &lines(&mut gen, &mut rng, 50));
    // The oldest rotation is deleted, like the kubelet's: once released (rotate_wait, 5 s) its series goes.
    fs::remove_file(&older).expect("delete");
    let kept = gen.kept.clone();
    assert!(
        wait_until(Duration::from_secs(30), || all_in_file(&kept, &out)
            && lag_inputs(&metrics(m)) == [name(&input)]),
        "{}\n{}",
        metrics(m),
        d.log_tail(20)
    );
    // Lines read from the rotated file count under the name it was followed by: no series per rotated name.
    let page = metrics(m);
    let rotated_label = format!("input=\"{}\"", name(&rotated));
    assert!(!page.contains(&rotated_label), "{page}");
    let input_label = format!("input=\"{}\"", name(&input));
    assert_eq!(
        http::metric(&page, "hubble_ingest_input_lines_total", &input_label),
        Some(120.0)
    );
    assert_clean_exit(&mut d, Duration::from_secs(10), "per-file series");
}

#[test]
fn healthz_readyz_and_metrics_respond() {
    let _serial = serial();
    let dir = support::TestDir::new();
    let state = dir.path().join("state");
    let input = dir.path().join("0.log");
    let out = dir.path().join("flows.ndjson");
    let mut gen = FlowGen::new(0x6001);
    let mut rng = XorShift::new(6001);
    let text = lines(&mut gen, &mut rng, 400);
    append(&input, &text);
    let sink = format!("file:{}", out.display());
    let mut d = file_sink_daemon(&state, &input.display().to_string(), &out);
    let m = d.metrics_addr(Duration::from_secs(20));
    assert_eq!(http::get(m, "/healthz"), Ok((200, "ok\n".to_owned())));
    assert_eq!(http::get(m, "/readyz").map(|r| r.0), Ok(200));
    assert_eq!(http::get(m, "/no-such-page").map(|r| r.0), Ok(404));
    let kept = gen.kept.len() as f64;
    let sink_label = format!("sink=\"{sink}\"");
    assert!(
        wait_until(Duration::from_secs(20), || {
            let t = metrics(m);
            http::metric(&t, "hubble_ingest_sink_records_total", &sink_label) == Some(kept)
                && http::metric(&t, "hubble_ingest_checkpoint_lag_bytes", "") == Some(0.0)
                && http::metric(&t, "hubble_ingest_spool_bytes", "") == Some(0.0)
        }),
        "sink_records never reached {kept}:\n{}",
        metrics(m)
    );
    let t = metrics(m);
    // Labelled families appear once they have a sample (prometheus-client renders no empty family):
    // skipped_lines, sink_retries, dead_letters, cidr_reloads and filter_reloads are checked where they occur.
    for name in [
        "input_lines",
        "input_bytes",
        "records",
        "prefiltered_lines",
        "flows_kept",
        "sink_batches",
        "sink_records",
        "sink_bytes",
        "spool_bytes",
        "spool_segments",
        "spool_quarantined_segments",
        "backpressure_pauses",
        "checkpoint_lag_bytes",
        "tail_events",
        "cidr_prefixes",
        "cidr_groups",
    ] {
        assert!(
            t.contains(&format!("# TYPE hubble_ingest_{name} ")),
            "metric hubble_ingest_{name} is not exposed:\n{t}"
        );
    }
    let v = |name: &str, label: &str| http::metric(&t, name, label);
    assert_eq!(v("hubble_ingest_flows_kept_total", ""), Some(kept));
    let flows_total = (gen.kept.len() + gen.unkept.len()) as f64;
    // Flows the prefilter rejects unparsed are not counted as parsed records.
    let parsed_flows = v("hubble_ingest_records_total", "kind=\"flow\"").unwrap_or(-1.0);
    assert!(
        parsed_flows >= kept && parsed_flows <= flows_total,
        "records{{kind=flow}} = {parsed_flows}, kept {kept}, flows written {flows_total}"
    );
    assert!(v("hubble_ingest_prefiltered_lines_total", "").is_some_and(|n| n > 0.0));
    assert_eq!(
        v("hubble_ingest_input_lines_total", ""),
        Some(text.lines().count() as f64)
    );
    assert_eq!(
        v("hubble_ingest_input_bytes_total", ""),
        Some(text.len() as f64)
    );
    assert!(v("hubble_ingest_sink_batches_total", &sink_label).is_some_and(|n| n >= 1.0));
    assert_eq!(v("hubble_ingest_spool_bytes", ""), Some(0.0));
    assert_eq!(flows::file_uuids(&out).0.len(), gen.kept.len());
    assert_clean_exit(&mut d, Duration::from_secs(10), "metrics test");
}

#[test]
fn spool_segments_gauge_counts_queued_segments() {
    let mut c = AdxCase::new(Mode::Unavailable, 0x6002, 6002);
    c.append_lines(300);
    let mut d = c.daemon(&["--batch-max-bytes", "16KiB"]);
    let m = d.metrics_addr(Duration::from_secs(20));
    assert!(
        wait_until(Duration::from_secs(20), || spool_segments(&c.state) >= 2),
        "no segments spooled"
    );
    assert!(
        wait_until(Duration::from_secs(5), || metric(
            m,
            "hubble_ingest_spool_segments",
            ""
        ) >= 2.0),
        "hubble_ingest_spool_segments = {} while {} segments are queued",
        metric(m, "hubble_ingest_spool_segments", ""),
        spool_segments(&c.state)
    );
    d.kill9();
}

#[test]
fn sigterm_during_startup_exits_0() {
    let _serial = serial();
    let dir = support::TestDir::new();
    let logs = dir.path().join("logs");
    fs::create_dir_all(&logs).expect("mkdir");
    // Enough gzip-rotated files that startup takes a while.
    let mut gen = FlowGen::new(0x4002);
    let mut rng = XorShift::new(4002);
    for i in 0..8 {
        let text = lines(&mut gen, &mut rng, 400);
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(text.as_bytes()).expect("gzip");
        fs::write(
            logs.join(format!("0.log.20260101-00000{i}.gz")),
            enc.finish().expect("gzip"),
        )
        .expect("write");
    }
    append(&logs.join("0.log"), &lines(&mut gen, &mut rng, 10));
    let out = dir.path().join("flows.ndjson");
    let mut d = Proc::spawn(&mut run_cmd(
        &dir.path().join("state"),
        &[format!("{}/0.log*", logs.display())],
        &[
            "--read-from-head".into(),
            "--sink".into(),
            format!("file:{}", out.display()),
        ],
        &[],
    ));
    std::thread::sleep(Duration::from_millis(30));
    let running_before = d.log().contains("hubble-ingest running");
    let took = assert_clean_exit(&mut d, Duration::from_secs(20), "SIGTERM during startup");
    eprintln!(
        "SIGTERM during startup (running logged before: {running_before}): exit 0 after {took:?}"
    );
}

/// The sink's marker name in the spool (`<seq>.seg.done.<name>`): non-alphanumerics other than `-`/`_` become `_`.
fn marker_name(sink: &str) -> String {
    sink.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[test]
fn orphan_done_marker_from_a_crash_does_not_swallow_a_new_segment() {
    let _serial = serial();
    let dir = support::TestDir::new();
    let state = dir.path().join("state");
    let input = dir.path().join("events.log");
    let out = dir.path().join("flows.ndjson");
    let sink = format!("file:{}", out.display());
    let mut gen = FlowGen::new(0x7001);
    let mut rng = XorShift::new(7001);
    append(&input, &lines(&mut gen, &mut rng, 50));
    // A second sink: with the file sink alone, batches would skip the spool (`DirectSink`) and no segment
    // would meet the orphan markers.
    let args = [
        "--read-from-head".to_owned(),
        "--sink".to_owned(),
        sink.clone(),
        "--sink".to_owned(),
        "file:/dev/null".to_owned(),
    ];
    let mut d = Proc::spawn(&mut run_cmd(
        &state,
        &[input.display().to_string()],
        &args,
        &[],
    ));
    assert!(
        wait_until(Duration::from_secs(20), || all_in_file(&gen.kept, &out)
            && spool_segments(&state) == 0),
        "first batch not delivered\n{}",
        d.log_tail(30)
    );
    assert!(d.wait_log("hubble-ingest running", Duration::from_secs(10)));
    assert_clean_exit(&mut d, Duration::from_secs(10), "first run");
    // What `kill -9` between `remove_file(<seq>.seg)` and `remove_markers` in Spool::mark_done leaves behind
    // (observed in the kill -9 tests): a done marker without its segment.
    for seq in 0..4u64 {
        File::create(
            state
                .join("spool")
                .join(format!("{seq:020}.seg.done.{}", marker_name(&sink))),
        )
        .expect("orphan marker");
    }
    append(&input, &lines(&mut gen, &mut rng, 50));
    let mut d = Proc::spawn(&mut run_cmd(
        &state,
        &[input.display().to_string()],
        &args,
        &[],
    ));
    let delivered = wait_until(Duration::from_secs(20), || all_in_file(&gen.kept, &out));
    assert!(
        delivered,
        "{} of {} flows written after the crash never reached the sink; spool: {:?}",
        flows::missing(&gen.kept, &flows::file_uuids(&out).0).len(),
        gen.kept.len(),
        fs::read_dir(state.join("spool"))
            .map(|rd| rd.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
            .unwrap_or_default()
    );
    assert!(
        wait_until(Duration::from_secs(10), || spool_segments(&state) == 0),
        "spool never drained"
    );
    assert_clean_exit(&mut d, Duration::from_secs(10), "second run");
}

fn gzip_file(src: &Path, dest: &Path) {
    let data = fs::read(src).expect("read");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&data).expect("gzip");
    fs::write(dest, enc.finish().expect("gzip")).expect("write gzip");
}

/// The start both lumberjack-compression tests share: `logs/events.log` with two kept flows, read by a first
/// run of the daemon (`--read-from-head`, file sink) that then stops cleanly, leaving its checkpoint.
struct LumberjackCase {
    _serial: MutexGuard<'static, ()>,
    _dir: support::TestDir,
    logs: std::path::PathBuf,
    state: std::path::PathBuf,
    out: std::path::PathBuf,
    active: std::path::PathBuf,
    gen: FlowGen,
    rng: XorShift,
    glob: String,
    args: [String; 3],
}

impl LumberjackCase {
    fn after_a_first_run(seed: u32) -> Self {
        let serial = serial();
        let dir = support::TestDir::new();
        let logs = dir.path().join("logs");
        fs::create_dir_all(&logs).expect("mkdir");
        let mut case = LumberjackCase {
            state: dir.path().join("state"),
            out: dir.path().join("flows.ndjson"),
            active: logs.join("events.log"),
            gen: FlowGen::new(seed),
            rng: XorShift::new(u64::from(seed)),
            glob: format!("{}/events*.log*", logs.display()),
            args: [
                "--read-from-head".to_owned(),
                "--sink".to_owned(),
                format!("file:{}", dir.path().join("flows.ndjson").display()),
            ],
            logs,
            _serial: serial,
            _dir: dir,
        };
        let mut first = String::new();
        for _ in 0..2 {
            first.push_str(&case.gen.kept_flow());
            first.push('\n');
        }
        append(&case.active, &first);
        let mut d = case.start();
        assert!(
            wait_until(Duration::from_secs(20), || flows::file_uuids(&case.out)
                .0
                .len()
                == 2),
            "{}",
            d.log_tail(20)
        );
        assert!(d.wait_log("hubble-ingest running", Duration::from_secs(10)));
        assert_clean_exit(&mut d, Duration::from_secs(10), "first run");
        case
    }

    fn start(&self) -> Proc {
        Proc::spawn(&mut run_cmd(
            &self.state,
            std::slice::from_ref(&self.glob),
            &self.args,
            &[],
        ))
    }

    /// Appends `n` more lines (kept flows among others) to the active log.
    fn append_lines(&mut self, n: usize) {
        append(&self.active, &lines(&mut self.gen, &mut self.rng, n));
    }
}

#[test]
fn file_rotated_and_gzipped_while_down_is_drained_from_its_checkpoint() {
    let mut c = LumberjackCase::after_a_first_run(0x8001);
    let (logs, out) = (c.logs.clone(), c.out.clone());

    // While the daemon is down: more lines, then lumberjack rotation with compression.
    c.append_lines(400);
    let rotated = logs.join("events-2026-01-01T00-00-01.000.log");
    fs::rename(&c.active, &rotated).expect("rotate");
    gzip_file(
        &rotated,
        &logs.join("events-2026-01-01T00-00-01.000.log.gz"),
    );
    fs::remove_file(&rotated).expect("remove original");
    c.append_lines(10);

    let mut d = c.start();
    let gen = &c.gen;
    let ok = wait_until(Duration::from_secs(20), || all_in_file(&gen.kept, &out));
    let got = flows::file_uuids(&out).0;
    let missing = flows::missing(&gen.kept, &got);
    assert!(
        ok,
        "{} of {} flows missing (first {:?}, last {:?})\n{}",
        missing.len(),
        gen.kept.len(),
        missing.first(),
        missing.last(),
        d.log_tail(20)
    );
    assert_eq!(
        flows::duplicates(&got),
        0,
        "the part read before was read again"
    );
    assert!(d.wait_log("hubble-ingest running", Duration::from_secs(10)));
    assert_clean_exit(&mut d, Duration::from_secs(10), "second run");
}

#[test]
fn gzip_copy_seen_half_written_loses_nothing() {
    let mut c = LumberjackCase::after_a_first_run(0x8002);
    let (logs, out) = (c.logs.clone(), c.out.clone());

    // While the daemon is down: more lines, rotation, and lumberjack's compression is half-way through writing
    // `<rotated>.gz` (lumberjack writes the .gz in place, then removes the original).
    c.append_lines(400);
    let rotated = logs.join("events-2026-01-01T00-00-01.000.log");
    fs::rename(&c.active, &rotated).expect("rotate");
    c.append_lines(10);
    let data = fs::read(&rotated).expect("read");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&data).expect("gzip");
    let gz = enc.finish().expect("gzip");
    let gz_path = logs.join("events-2026-01-01T00-00-01.000.log.gz");
    let mut f = File::create(&gz_path).expect("create gz");
    f.write_all(&gz[..gz.len() / 2]).expect("write half");
    f.flush().expect("flush");

    let mut d = c.start();
    let gen = &c.gen;
    assert!(d.wait_log("hubble-ingest running", Duration::from_secs(10)));
    // Let it see the half-written copy for a few discovery passes, then finish the compression.
    std::thread::sleep(Duration::from_millis(2500));
    f.write_all(&gz[gz.len() / 2..]).expect("write rest");
    drop(f);
    fs::remove_file(&rotated).expect("remove original");
    let ok = wait_until(Duration::from_secs(20), || all_in_file(&gen.kept, &out));
    let got = flows::file_uuids(&out).0;
    let missing = flows::missing(&gen.kept, &got);
    assert!(
        ok,
        "{} of {} flows missing (first {:?}, last {:?})\n{}",
        missing.len(),
        gen.kept.len(),
        missing.first(),
        missing.last(),
        d.log_tail(20)
    );
    eprintln!("half-written gzip: {} duplicates", flows::duplicates(&got));
    assert_clean_exit(&mut d, Duration::from_secs(10), "second run");
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for e in fs::read_dir(from).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            fs::copy(&p, to.join(e.file_name())).expect("copy");
        }
    }
}

#[test]
fn rotation_during_startup_discovery_loses_nothing() {
    let _serial = serial();
    let dir = support::TestDir::new();
    let base = dir.path().join("base");
    let logs = base.join("logs");
    fs::create_dir_all(&logs).expect("mkdir");
    let mut gen = FlowGen::new(0x9001);
    // Rotated gzip files already read before: at startup each is decompressed up to its checkpoint, which
    // widens the time between fingerprinting `events.log` and opening it.
    for i in 0..10 {
        let mut text = String::new();
        text.push_str(&gen.kept_flow());
        text.push('\n');
        for _ in 0..6000 {
            text.push_str(&gen.noise());
            text.push('\n');
        }
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(text.as_bytes()).expect("gzip");
        let name = format!("events-2026-01-01T00-00-{i:02}.000.log.gz");
        fs::write(logs.join(name), enc.finish().expect("gzip")).expect("write");
    }
    append(&logs.join("events.log"), &format!("{}\n", gen.kept_flow()));
    let sink_of = |root: &Path| format!("file:{}", root.join("flows.ndjson").display());
    let glob_of = |root: &Path| format!("{}/logs/events*.log*", root.display());
    let args_of = |root: &Path| {
        vec![
            "--read-from-head".to_owned(),
            "--sink".to_owned(),
            sink_of(root),
        ]
    };
    let mut d = Proc::spawn(&mut run_cmd(
        &base.join("state"),
        &[glob_of(&base)],
        &args_of(&base),
        &[],
    ));
    assert!(
        wait_until(Duration::from_secs(60), || flows::missing(
            &gen.kept,
            &flows::file_uuids(&base.join("flows.ndjson")).0
        )
        .is_empty()),
        "setup run did not deliver\n{}",
        d.log_tail(20)
    );
    assert!(d.wait_log("hubble-ingest running", Duration::from_secs(10)));
    assert_clean_exit(&mut d, Duration::from_secs(10), "setup run");
    // File A: the active file gets more lines while the daemon is down.
    let mut a = String::new();
    for _ in 0..100 {
        a.push_str(&gen.kept_flow());
        a.push('\n');
    }
    append(&logs.join("events.log"), &a);
    let kept_before_b = gen.kept.clone();
    let mut b = String::new();
    for _ in 0..50 {
        b.push_str(&gen.kept_flow());
        b.push('\n');
    }
    // Restart, and rotate A away (a new file B takes its name) at various moments of startup.
    for (attempt, delay_ms) in (0..600).step_by(40).enumerate() {
        let root = dir.path().join(format!("try{attempt}"));
        copy_dir(&base, &root);
        let mut d = Proc::spawn(&mut run_cmd(
            &root.join("state"),
            &[glob_of(&root)],
            &args_of(&root),
            &[],
        ));
        std::thread::sleep(Duration::from_millis(delay_ms));
        let active = root.join("logs/events.log");
        fs::rename(
            &active,
            root.join("logs/events-2026-01-01T00-00-99.000.log"),
        )
        .expect("rotate");
        append(&active, &b);
        let mut all = kept_before_b.clone();
        all.extend(gen.kept[kept_before_b.len()..].iter().cloned());
        let ok = wait_until(Duration::from_secs(15), || {
            flows::missing(&all, &flows::file_uuids(&root.join("flows.ndjson")).0).is_empty()
        });
        let missing = flows::missing(&all, &flows::file_uuids(&root.join("flows.ndjson")).0).len();
        let checkpoints =
            fs::read_to_string(root.join("state/checkpoints.json")).unwrap_or_default();
        let log = d.log_tail(30);
        d.kill9();
        assert!(
            ok,
            "rotation {delay_ms} ms after start: {missing} of {} flows never delivered; checkpoints: {checkpoints}\n{log}",
            all.len()
        );
        let _ = fs::remove_dir_all(&root);
    }
}

/// Decompresses a multi-member gzip file; `strict` fails on a torn tail, otherwise what decodes is returned.
fn gunzip(path: &Path, strict: bool) -> Vec<u8> {
    use std::io::Read;
    let raw = fs::read(path).unwrap_or_default();
    let mut out = Vec::new();
    let r = flate2::read::MultiGzDecoder::new(&raw[..]).read_to_end(&mut out);
    if strict {
        r.unwrap_or_else(|e| panic!("{} is not a complete gzip stream: {e}", path.display()));
    }
    out
}

#[test]
fn kill9_while_appending_to_a_gzip_file_sink_and_adx_loses_nothing() {
    let _serial = serial();
    let seed = support::seed();
    let ctx = format!("seed {seed} (rerun with HUBBLE_TEST_SEED={seed})");
    let adx = AdxStandIn::start(Mode::Up);
    let dir = support::TestDir::new();
    let state = dir.path().join("state");
    let input = dir.path().join("events.log");
    let out = dir.path().join("flows.ndjson.gz");
    let mut args = vec![
        "--read-from-head".to_owned(),
        "--sink".to_owned(),
        format!("file:{}", out.display()),
        "--shutdown-timeout".to_owned(),
        "5s".to_owned(),
    ];
    args.extend(adx.sink_args());
    let start = || {
        Proc::spawn(&mut run_cmd(
            &state,
            &[input.display().to_string()],
            &args,
            &adx.env(),
        ))
    };
    File::create(&input).expect("create input");
    let writer = {
        let input = input.clone();
        std::thread::spawn(move || {
            let mut rng = XorShift::new(seed ^ 0xA5A5);
            let mut gen = FlowGen::new(0xA001);
            let mut f = OpenOptions::new().append(true).open(&input).expect("open");
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(6) {
                let n = rng.range(1, 20) as usize;
                let text = lines(&mut gen, &mut rng, n);
                f.write_all(text.as_bytes()).expect("append");
                std::thread::sleep(Duration::from_millis(rng.range(3, 15)));
            }
            gen
        })
    };
    let mut rng = XorShift::new(seed);
    let mut kills = 0;
    while !writer.is_finished() {
        let mut d = start();
        std::thread::sleep(Duration::from_millis(rng.range(150, 900)));
        assert!(
            d.is_running(),
            "daemon exited on its own: {ctx}\n{}",
            d.log_tail(30)
        );
        d.kill9();
        kills += 1;
    }
    let gen = writer.join().expect("writer");
    let mut d = start();
    let mut missing = (usize::MAX, usize::MAX);
    let drained = wait_every(Duration::from_secs(40), Duration::from_millis(250), || {
        let file = flows::quick_uuids(&gunzip(&out, false));
        missing = (
            flows::missing(&gen.kept, &file).len(),
            flows::missing(&gen.kept, &adx.uuids()).len(),
        );
        missing == (0, 0) && spool_segments(&state) == 0
    });
    assert!(
        drained,
        "(file, adx) missing {missing:?} of {} flows, {} segments spooled: {ctx}\n{}",
        gen.kept.len(),
        spool_segments(&state),
        d.log_tail(30)
    );
    assert!(d.wait_log("hubble-ingest running", Duration::from_secs(10)));
    assert_clean_exit(&mut d, Duration::from_secs(20), &ctx);
    let text = String::from_utf8(gunzip(&out, true)).expect("UTF-8 records");
    assert!(text.ends_with('\n'), "torn last record: {ctx}");
    let (file_uuids, bad) = flows::sink_uuids(&text);
    assert!(
        bad.is_empty(),
        "{} torn or invalid records: {ctx}",
        bad.len()
    );
    assert!(flows::missing(&gen.kept, &file_uuids).is_empty(), "{ctx}");
    let adx_uuids = adx.uuids();
    assert!(flows::missing(&gen.kept, &adx_uuids).is_empty(), "{ctx}");
    assert_eq!(adx.bad_bodies(), 0);
    eprintln!(
        "kill -9 with gzip file + adx sinks, {ctx}: {kills} kills, {} flows; duplicates: file {}, adx {}",
        gen.kept.len(),
        flows::duplicates(&file_uuids),
        flows::duplicates(&adx_uuids)
    );
}
