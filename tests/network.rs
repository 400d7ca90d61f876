//! The network inputs of `run` against real clients over loopback: Fluentd's own Python client
//! (`fluent-logger`), hand-built Forward messages from Python `msgpack` (every message mode, EventTime,
//! gzip-compressed packed forward, chunk acknowledgements compared byte for byte, the shared-key handshake),
//! an at-least-once resending client across a `kill -9` of the daemon, hostile input for every limit, and the
//! HTTP input with Python `urllib` (json, json_lines, msgpack, gzip, zstd, garbage, a full spool).
//!
//! The Python clients live in `tests/clients/fluent_client.py` and run in the venv that `scripts/pyenv.sh`
//! installs (`scripts/test.sh` runs it and sets `HUBBLE_INGEST_TEST_PYTHON`); without it every test here says
//! so loudly on stderr and passes without testing anything.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use support::adx::{AdxStandIn, Mode};
use support::flows::{self, FlowGen};
use support::http;
use support::process::{hubble_ingest, Proc};
use support::{wait_until, TestDir};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The venv's python, or `None` (after saying so loudly).
fn python() -> Option<PathBuf> {
    support::python::with_modules(
        "fluent, msgpack, zstandard",
        "fluent-logger/msgpack/zstandard",
    )
}

fn client_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/fluent_client.py")
}

/// Runs the Python client; returns its JSON output (panics with its stderr when it fails).
fn client(py: &Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new(py)
        .arg(client_script())
        .args(args)
        .output()
        .expect("run python client");
    assert!(
        out.status.success(),
        "client {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "client output is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

struct Daemon {
    proc: Proc,
    metrics: std::net::SocketAddr,
}

impl Daemon {
    fn start(state: &Path, inputs: &[&str], extra: &[&str]) -> Daemon {
        Self::start_env(state, inputs, extra, &[])
    }

    fn start_env(
        state: &Path,
        inputs: &[&str],
        extra: &[&str],
        env: &[(String, String)],
    ) -> Daemon {
        let mut cmd = hubble_ingest();
        cmd.arg("run");
        for i in inputs {
            cmd.arg("--input").arg(i);
        }
        cmd.arg("--state-dir")
            .arg(state)
            .args([
                "--flush-interval",
                "100ms",
                "--metrics-addr",
                "127.0.0.1:0",
                "--log-format",
                "json",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("HUBBLE_INGEST_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        let mut proc = Proc::spawn(&mut cmd);
        let metrics = proc.metrics_addr(Duration::from_secs(30));
        Daemon { proc, metrics }
    }

    /// The address a listener bound (from its `... input listening` log line).
    fn bound(&mut self, what: &str) -> String {
        assert!(
            self.proc.wait_log(what, Duration::from_secs(10)),
            "no {what:?} line:\n{}",
            self.proc.log_tail(20)
        );
        let log = self.proc.log();
        let line = log.lines().find(|l| l.contains(what)).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON log line");
        v["fields"]["bound"]
            .as_str()
            .unwrap_or_else(|| panic!("no bound field in {line}"))
            .to_owned()
    }

    fn metric(&self, name: &str, label: &str) -> f64 {
        let text = match http::get(self.metrics, "/metrics") {
            Ok((200, body)) => body,
            _ => String::new(),
        };
        http::metric(&text, name, label).unwrap_or(0.0)
    }
}

fn write_lines(dir: &Path, name: &str, lines: &[String]) -> String {
    let p = dir.join(name);
    std::fs::write(
        &p,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    p.display().to_string()
}

/// `n` flow lines the default filter keeps, and their uuids.
fn kept(gen: &mut FlowGen, n: usize) -> (Vec<String>, Vec<String>) {
    let lines: Vec<String> = (0..n).map(|_| gen.kept_flow()).collect();
    let uuids = gen.kept[gen.kept.len() - n..].to_vec();
    (lines, uuids)
}

fn wait_for_uuids(sink: &Path, want: &[String], timeout: Duration) -> Vec<String> {
    let mut got = Vec::new();
    wait_until(timeout, || {
        got = flows::file_uuids(sink).0;
        flows::missing(want, &got).is_empty()
    });
    got
}

fn assert_all(sink: &Path, want: &[String], what: &str) -> Vec<String> {
    let got = wait_for_uuids(sink, want, Duration::from_secs(30));
    let missing = flows::missing(want, &got);
    assert!(
        missing.is_empty(),
        "{what}: {} of {} records missing from the sink, e.g. {:?}",
        missing.len(),
        want.len(),
        missing.first()
    );
    got
}

#[test]
fn fluent_logger_and_every_message_mode_reach_the_sink_with_exact_acks() {
    let Some(py) = python() else { return };
    let _g = serial();
    let dir = TestDir::new();
    let sink = dir.path().join("out.ndjson");
    let sock = dir.path().join("fwd.sock");
    let unix = format!("forward+unix://{}", sock.display());
    let mut d = Daemon::start(
        &dir.path().join("state"),
        &["forward://127.0.0.1:0", &unix],
        &["--sink", &format!("file:{}", sink.display())],
    );
    let addr = d.bound("forward input listening");
    let (host, port) = addr.rsplit_once(':').unwrap();
    let mut gen = FlowGen::new(11);
    let mut want = Vec::new();

    // Fluentd's own client (Message mode with EventTime, no acks).
    let (batch, ids) = kept(&mut gen, 120);
    let f = write_lines(dir.path(), "logger.txt", &batch);
    let r = client(&py, &["logger", host, port, &f]);
    assert_eq!(r["sent"], 120);
    want.extend(ids);

    // Hand-built messages of every mode, each with a base64 chunk id whose ack must come back byte for byte.
    for (mode, n, extra) in [
        ("message", 3, &[][..]),
        ("message-int", 3, &[][..]),
        ("forward", 60, &[][..]),
        ("packed", 60, &[][..]),
        ("gzip", 60, &[][..]),
        ("packed", 20, &["--binary-chunk"][..]),
    ] {
        let (batch, ids) = kept(&mut gen, n);
        let f = write_lines(dir.path(), &format!("{mode}.txt"), &batch);
        let mut args = vec![
            "send",
            "--target",
            &addr,
            "--mode",
            mode,
            "--per-message",
            "20",
        ];
        args.extend_from_slice(extra);
        args.push(&f);
        let r = client(&py, &args);
        let expect_acks = if mode.starts_with("message") {
            n
        } else {
            n.div_ceil(20)
        };
        assert_eq!(r["acked"], expect_acks as u64, "{mode}: {r}");
        want.extend(ids);
    }
    // The same over the unix socket.
    let (batch, ids) = kept(&mut gen, 40);
    let f = write_lines(dir.path(), "unix.txt", &batch);
    let target = format!("unix:{}", sock.display());
    let r = client(&py, &["send", "--target", &target, "--mode", "gzip", &f]);
    assert_eq!(r["acked"], 1);
    want.extend(ids);

    let got = assert_all(&sink, &want, "forward");
    assert_eq!(flows::duplicates(&got), 0, "no resends, so no duplicates");
    let tcp = "input=\"forward://127.0.0.1:0\"";
    assert!(d.metric("hubble_ingest_network_records_total", tcp) >= 120.0 + 206.0);
    assert_eq!(
        d.metric("hubble_ingest_network_acks_total", tcp),
        3.0 + 3.0 + 3.0 + 3.0 + 3.0 + 1.0
    );
    assert!(d.metric("hubble_ingest_network_connections_opened_total", tcp) >= 7.0);
    assert!(d.metric("hubble_ingest_network_bytes_total", tcp) > 0.0);
    assert_eq!(
        d.metric(
            "hubble_ingest_network_acks_total",
            &format!("input=\"{unix}\"")
        ),
        1.0
    );
}

#[test]
fn shared_key_handshake_admits_the_right_key_and_refuses_others_before_any_record() {
    let Some(py) = python() else { return };
    let _g = serial();
    let dir = TestDir::new();
    let sink = dir.path().join("out.ndjson");
    let key = dir.path().join("shared-key");
    std::fs::write(&key, "correct horse battery staple\n").unwrap();
    let users = dir.path().join("users");
    std::fs::write(&users, "# forwarders\nfluentbit:pa55word\n").unwrap();
    let bad_key = dir.path().join("bad-key");
    std::fs::write(&bad_key, "wrong key").unwrap();
    let mut d = Daemon::start(
        &dir.path().join("state"),
        &["forward://127.0.0.1:0"],
        &[
            "--sink",
            &format!("file:{}", sink.display()),
            "--shared-key-file",
            &key.display().to_string(),
            "--users-file",
            &users.display().to_string(),
            "--self-hostname",
            "ingest-node-1",
        ],
    );
    let addr = d.bound("forward input listening");
    let mut gen = FlowGen::new(12);
    let (good_lines, good) = kept(&mut gen, 50);
    let (rejected_lines, rejected) = kept(&mut gen, 30);
    let good_f = write_lines(dir.path(), "good.txt", &good_lines);
    let bad_f = write_lines(dir.path(), "bad.txt", &rejected_lines);
    let key_s = key.display().to_string();
    let bad_s = bad_key.display().to_string();
    let base = [
        "send",
        "--target",
        &addr,
        "--mode",
        "gzip",
        "--shared-key-file",
    ];
    let run = |k: &str, user: &str, pw: &str, host: &str, f: &str| {
        let mut a: Vec<&str> = base.to_vec();
        a.extend_from_slice(&[k, "--user", user, "--password", pw, "--hostname", host, f]);
        client(&py, &a)
    };
    let r = run(&bad_s, "fluentbit", "pa55word", "c1", &bad_f);
    assert_eq!(r["auth"], false, "{r}");
    assert_eq!(r["reason"], "shared_key_mismatch");
    assert_eq!(
        r["closed"], true,
        "the server must close after a refused PING: {r}"
    );
    let r = run(&key_s, "fluentbit", "wrong", "c1", &bad_f);
    assert_eq!(
        (r["auth"].clone(), r["reason"].clone()),
        (false.into(), "username_or_password_mismatch".into())
    );
    let r = run(&key_s, "fluentbit", "pa55word", "ingest-node-1", &bad_f);
    assert_eq!(r["reason"], "same_hostname");
    let r = run(&key_s, "fluentbit", "pa55word", "c1", &good_f);
    assert_eq!(
        (r["auth"].clone(), r["acked"].clone()),
        (true.into(), 1.into()),
        "{r}"
    );
    assert_all(&sink, &good, "authenticated client");
    let got = flows::file_uuids(&sink).0;
    assert!(
        flows::missing(&rejected, &got).len() == rejected.len(),
        "records of a refused client reached the sink"
    );
    assert_eq!(
        d.metric(
            "hubble_ingest_network_auth_failures_total",
            "reason=\"shared_key_mismatch\""
        ),
        1.0
    );
    assert_eq!(
        d.metric(
            "hubble_ingest_network_auth_failures_total",
            "reason=\"username_or_password_mismatch\""
        ),
        1.0
    );
    assert!(
        !d.proc.log().contains("correct horse"),
        "the shared key leaked into the log"
    );
}

#[test]
fn kill9_with_unacknowledged_chunks_in_flight_loses_nothing() {
    let Some(py) = python() else { return };
    let _g = serial();
    let dir = TestDir::new();
    let state = dir.path().join("state");
    let sink = dir.path().join("out.ndjson");
    let sink_arg = format!("file:{}", sink.display());
    // A fixed free port so the restarted daemon listens where the client reconnects.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let input = format!("forward://127.0.0.1:{port}");
    let mut d = Daemon::start(&state, &[&input], &["--sink", &sink_arg]);
    let mut gen = FlowGen::new(13);
    let (all_lines, all) = kept(&mut gen, 3000);
    let f = write_lines(dir.path(), "all.txt", &all_lines);
    let progress = dir.path().join("acked.txt");
    let target = format!("127.0.0.1:{port}");
    let resender = Command::new(&py)
        .arg(client_script())
        .args([
            "resend",
            "--target",
            &target,
            "--per-message",
            "50",
            "--sleep",
            "0.02",
            "--pause-after-file",
            &progress.display().to_string(),
            &f,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start resender");
    // Kill once some chunks are acknowledged and more are in flight.
    assert!(
        wait_until(Duration::from_secs(30), || std::fs::read_to_string(
            &progress
        )
        .map(|s| s.lines().count() >= 15)
        .unwrap_or(false)),
        "the client got no acks"
    );
    d.proc.kill9();
    std::thread::sleep(Duration::from_millis(500));
    let _d2 = Daemon::start(&state, &[&input], &["--sink", &sink_arg]);
    let out = resender.wait_with_output().expect("resender");
    assert!(
        out.status.success(),
        "resender failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        r["resends"].as_u64().unwrap() >= 1,
        "the kill caused no resend: {r}"
    );
    let got = assert_all(&sink, &all, "after kill -9 and resend");
    eprintln!(
        "kill -9: {} records, {} resent chunks, {} duplicate records in the sink",
        all.len(),
        r["resends"],
        flows::duplicates(&got)
    );
}

fn raw(py: &Path, dir: &Path, target: &str, name: &str, bytes: &[u8]) -> bool {
    let f = dir.join(format!("{name}.hex"));
    std::fs::write(
        &f,
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>(),
    )
    .unwrap();
    client(py, &["raw", "--target", target, &f.display().to_string()])["closed"]
        .as_bool()
        .unwrap_or(false)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn bin(len: usize) -> Vec<u8> {
    let mut v = vec![0xc6];
    v.extend_from_slice(&(len as u32).to_be_bytes());
    v
}

#[test]
fn hostile_input_closes_the_connection_is_counted_and_loses_nothing_acknowledged() {
    let Some(py) = python() else { return };
    let _g = serial();
    let dir = TestDir::new();
    let sink = dir.path().join("out.ndjson");
    let mut d = Daemon::start(
        &dir.path().join("state"),
        &["forward://127.0.0.1:0"],
        &[
            "--sink",
            &format!("file:{}", sink.display()),
            "--max-message-bytes",
            "64KiB",
            "--max-decompressed-bytes",
            "1MiB",
            "--max-connections",
            "3",
        ],
    );
    let addr = d.bound("forward input listening");
    let mut gen = FlowGen::new(14);
    let (before_lines, before) = kept(&mut gen, 40);
    let f = write_lines(dir.path(), "before.txt", &before_lines);
    assert_eq!(
        client(&py, &["send", "--target", &addr, "--mode", "packed", &f])["acked"],
        1
    );

    // Oversize: a bin header declaring 100 KiB.
    let mut m = vec![0x92, 0xa1, b't'];
    m.extend(bin(100 << 10));
    m.extend(vec![0u8; 1000]);
    assert!(
        raw(&py, dir.path(), &addr, "oversize", &m),
        "oversize not closed"
    );
    // Malformed msgpack: the never-used marker 0xc1.
    assert!(raw(&py, dir.path(), &addr, "malformed", &[0xc1, 0, 0]));
    // Wrong types: a map where the message array belongs; then a record that is a string.
    assert!(raw(
        &py,
        dir.path(),
        &addr,
        "map",
        &[0x81, 0xa1, b'a', 0x01]
    ));
    assert!(raw(
        &py,
        dir.path(),
        &addr,
        "strrecord",
        &[0x93, 0xa1, b't', 0x01, 0xa1, b'x']
    ));
    // A gzip bomb: 16 MiB of zeros in a few KiB, over the 1 MiB decompression limit.
    let bomb = gzip(&vec![0u8; 16 << 20]);
    let mut m = vec![0x93, 0xa1, b't'];
    m.extend(bin(bomb.len()));
    m.extend(&bomb);
    m.extend([0x81, 0xaa]);
    m.extend(b"compressed");
    m.extend([0xa4]);
    m.extend(b"gzip");
    assert!(raw(&py, dir.path(), &addr, "bomb", &m), "bomb not closed");
    // Too many connections: 5 at once with a limit of 3.
    let r = client(&py, &["hold", "--target", &addr, "5", "0"]);
    let closed = r["closed"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c.as_bool() == Some(true))
        .count();
    assert_eq!(closed, 2, "{r}");

    for (reason, at_least) in [
        ("oversize_message", 1.0),
        ("malformed_msgpack", 1.0),
        ("wrong_type", 2.0),
        ("decompression_bomb", 1.0),
        ("too_many_connections", 2.0),
    ] {
        let n = d.metric(
            "hubble_ingest_network_rejected_total",
            &format!("reason=\"{reason}\""),
        );
        assert!(
            n >= at_least,
            "{reason}: counted {n}, expected at least {at_least}"
        );
    }
    // Still serving, and what was acknowledged before is delivered.
    let (after_lines, after) = kept(&mut gen, 40);
    let f = write_lines(dir.path(), "after.txt", &after_lines);
    assert_eq!(
        client(&py, &["send", "--target", &addr, "--mode", "gzip", &f])["acked"],
        1
    );
    assert!(d.proc.is_running());
    assert_all(&sink, &[before, after].concat(), "around hostile input");
}

#[test]
fn http_input_accepts_fluent_bit_formats_and_refuses_garbage() {
    let Some(py) = python() else { return };
    let _g = serial();
    let dir = TestDir::new();
    let sink = dir.path().join("out.ndjson");
    let mut d = Daemon::start(
        &dir.path().join("state"),
        &["http://127.0.0.1:0/fluent"],
        &["--sink", &format!("file:{}", sink.display())],
    );
    let addr = d.bound("http input listening");
    let url = format!("http://{addr}/fluent");
    let mut gen = FlowGen::new(15);
    let mut want = Vec::new();
    for (format, encoding) in [
        ("json", "none"),
        ("json_lines", "gzip"),
        ("msgpack", "zstd"),
        ("ndjson-raw", "none"),
        ("json", "zstd"),
    ] {
        let (batch, ids) = kept(&mut gen, 30);
        let f = write_lines(dir.path(), &format!("{format}-{encoding}.txt"), &batch);
        let r = client(
            &py,
            &["http", &url, &f, "--format", format, "--encoding", encoding],
        );
        assert_eq!(r["status"], 200, "{format}/{encoding}: {r}");
        // 200 means durable: spooled, or fsynced by the only sink, a local file, before the answer.
        want.extend(ids);
    }
    let f = write_lines(dir.path(), "garbage.txt", &["x".to_owned()]);
    let r = client(&py, &["http", &url, &f, "--format", "garbage"]);
    assert_eq!(r["status"], 400, "{r}");
    let r = client(&py, &["http", &format!("http://{addr}/other"), &f]);
    assert_eq!(r["status"], 404, "{r}");
    assert_all(&sink, &want, "http");
    assert_eq!(
        d.metric(
            "hubble_ingest_network_acks_total",
            "input=\"http://127.0.0.1:0/fluent\""
        ),
        5.0
    );
    assert_eq!(
        d.metric(
            "hubble_ingest_network_rejected_total",
            "reason=\"malformed_json\""
        ),
        1.0
    );
}

#[test]
fn http_input_answers_503_with_retry_after_while_the_spool_is_full() {
    let Some(py) = python() else { return };
    let _g = serial();
    let dir = TestDir::new();
    let adx = AdxStandIn::start(Mode::Unavailable);
    let mut args: Vec<String> = adx.sink_args();
    args.extend(["--spool-max-bytes", "8KiB", "--http-ack-timeout", "3s"].map(String::from));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let state = dir.path().join("state");
    let mut d = Daemon::start_env(&state, &["http://127.0.0.1:0/"], &argv, &adx.env());
    let addr = d.bound("http input listening");
    let url = format!("http://{addr}/");
    let mut gen = FlowGen::new(16);
    let mut accepted = Vec::new();
    let mut refused = None;
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(60) {
        let (batch, ids) = kept(&mut gen, 20);
        let f = write_lines(dir.path(), "b.txt", &batch);
        let r = client(&py, &["http", &url, &f, "--format", "json_lines"]);
        match r["status"].as_u64() {
            Some(200) => accepted.extend(ids),
            Some(503) => {
                refused = Some(r);
                break;
            }
            other => panic!("unexpected status {other:?}: {r}"),
        }
    }
    let r = refused.expect("no 503 while the spool was full");
    assert_eq!(r["retry_after"], "5", "{r}");
    assert!(
        !accepted.is_empty(),
        "nothing was accepted before the spool filled"
    );
    // The sink recovers; the spool drains; requests are accepted again and nothing acknowledged is lost.
    adx.set_mode(Mode::Up);
    let (batch, ids) = kept(&mut gen, 20);
    let f = write_lines(dir.path(), "late.txt", &batch);
    assert!(
        wait_until(Duration::from_secs(60), || client(
            &py,
            &["http", &url, &f, "--format", "json_lines"]
        )["status"]
            == 200),
        "still refused after the sink recovered:\n{}",
        d.proc.log_tail(20)
    );
    accepted.extend(ids);
    assert!(
        wait_until(Duration::from_secs(60), || flows::missing(
            &accepted,
            &adx.uuids()
        )
        .is_empty()),
        "acknowledged records missing from ADX"
    );
    assert!(
        d.metric(
            "hubble_ingest_network_rejected_total",
            "reason=\"spool_full\""
        ) >= 1.0
    );
}

fn client_ok(py: &Path, args: &[&str]) -> bool {
    Command::new(py)
        .arg(client_script())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn write_cert(dir: &Path, name: &str) -> String {
    // A distinct subject per certificate: OpenSSL finds trust anchors by subject name.
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("hubble-ingest test {name}"),
    );
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.join("tls.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), key.serialize_pem()).unwrap();
    // A copy the client trusts, kept when the served files rotate.
    let ca = dir.join(format!("ca-{name}.crt"));
    std::fs::write(&ca, cert.pem()).unwrap();
    ca.display().to_string()
}

#[test]
fn tls_certificate_is_reloaded_when_its_files_change() {
    let Some(py) = python() else { return };
    let _g = serial();
    let dir = TestDir::new();
    let tls = dir.path().join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let ca_a = write_cert(&tls, "a");
    let sink = dir.path().join("out.ndjson");
    let mut d = Daemon::start(
        &dir.path().join("state"),
        &["forward://127.0.0.1:0"],
        &[
            "--sink",
            &format!("file:{}", sink.display()),
            "--tls-cert-file",
            &tls.join("tls.crt").display().to_string(),
            "--tls-key-file",
            &tls.join("tls.key").display().to_string(),
        ],
    );
    let addr = d.bound("forward input listening");
    let mut gen = FlowGen::new(17);
    let (lines, ids) = kept(&mut gen, 10);
    let f = write_lines(dir.path(), "a.txt", &lines);
    assert!(client_ok(
        &py,
        &["send", "--target", &addr, "--cafile", &ca_a, &f]
    ));
    // A plaintext client cannot talk to the TLS listener.
    assert!(!client_ok(&py, &["send", "--target", &addr, &f]));
    // Rotate the certificate in place (as a Secret update does); new connections get the new one.
    std::thread::sleep(Duration::from_millis(1100));
    let ca_b = write_cert(&tls, "b");
    assert!(
        wait_until(Duration::from_secs(10), || client_ok(
            &py,
            &["send", "--target", &addr, "--cafile", &ca_b, &f]
        )),
        "the new certificate is not served:\n{}",
        d.proc.log_tail(10)
    );
    assert!(
        !client_ok(&py, &["send", "--target", &addr, "--cafile", &ca_a, &f]),
        "the old certificate is still served"
    );
    assert!(d.proc.log().contains("TLS certificate reloaded"));
    assert_all(&sink, &ids, "over TLS");
    assert!(
        d.metric(
            "hubble_ingest_network_rejected_total",
            "reason=\"tls_handshake\""
        ) >= 1.0
    );
}
