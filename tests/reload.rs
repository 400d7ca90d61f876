//! The daemon reloads its filter configuration when the `flowlogs.yaml` changes; a bad reload keeps the previous
//! filter. Real binary, real files.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn flow(uuid: &str, verdict: &str) -> String {
    format!(
        r#"{{"flow":{{"time":"2026-11-25T12:00:00Z","uuid":"{uuid}","verdict":"{verdict}","IP":{{"source":"10.0.0.1","destination":"203.0.113.9","ipVersion":"IPv4"}},"event_type":{{"type":4}},"traffic_direction":"EGRESS"}}}}"#
    )
}

fn append(path: &Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn uuids(sink: &Path) -> Vec<String> {
    std::fs::read_to_string(sink)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["Uuid"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn flowlogs(verdict: &str) -> String {
    format!("flowLogs:\n- name: only\n  filePath: stdout\n  includeFilters:\n  - verdict: [{verdict}]\n")
}

#[test]
fn filter_reloads_on_change_and_keeps_the_old_one_on_error() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("0.log");
    let sink = dir.path().join("out.ndjson");
    let fl = dir.path().join("flowlogs.yaml");
    std::fs::write(&fl, flowlogs("FORWARDED")).unwrap();
    append(
        &input,
        &[flow("a-fwd", "FORWARDED"), flow("a-drop", "DROPPED")],
    );
    let _d = Daemon(
        Command::new(env!("CARGO_BIN_EXE_hubble-ingest"))
            .args([
                "run",
                "--read-from-head",
                "--flush-interval",
                "100ms",
                "--poll-interval",
                "50ms",
            ])
            .arg("--input")
            .arg(dir.path().join("0.log*"))
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .arg("--sink")
            .arg(format!("file:{}", sink.display()))
            .arg("--flowlogs")
            .arg(&fl)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the first record", Duration::from_secs(20), || {
        (uuids(&sink) == ["a-fwd"]).then_some(())
    });

    // Change the filter: from now on only drops are kept.
    std::fs::write(&fl, flowlogs("DROPPED")).unwrap();
    // The watcher polls every 2 s; give it time, then append.
    std::thread::sleep(Duration::from_millis(3000));
    append(
        &input,
        &[flow("b-fwd", "FORWARDED"), flow("b-drop", "DROPPED")],
    );
    wait_for("the reloaded filter", Duration::from_secs(20), || {
        (uuids(&sink) == ["a-fwd", "b-drop"]).then_some(())
    });

    // A broken file keeps the previous (DROPPED) filter.
    std::fs::write(
        &fl,
        "flowLogs:\n- name: only\n  includeFilters:\n  - verdict: [NOT_A_VERDICT]\n",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(3000));
    append(
        &input,
        &[flow("c-fwd", "FORWARDED"), flow("c-drop", "DROPPED")],
    );
    wait_for(
        "records under the kept filter",
        Duration::from_secs(20),
        || (uuids(&sink) == ["a-fwd", "b-drop", "c-drop"]).then_some(()),
    );
}
