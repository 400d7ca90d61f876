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

mod support;

fn reloads(m: std::net::SocketAddr, which: &str) -> f64 {
    let text = support::http::get(m, "/metrics")
        .map(|r| r.1)
        .unwrap_or_default();
    support::http::metric(
        &text,
        &format!("hubble_ingest_{which}_reloads_total"),
        "result=\"ok\"",
    )
    .unwrap_or(0.0)
}

fn wait_reloads(m: std::net::SocketAddr, cidr: f64, filter: f64, what: &str) {
    wait_for(what, Duration::from_secs(20), || {
        (reloads(m, "cidr") == cidr && reloads(m, "filter") == filter).then_some(())
    });
    // Nothing else follows from the same change.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        (reloads(m, "cidr"), reloads(m, "filter")),
        (cidr, filter),
        "after {what}"
    );
}

fn destination_groups(sink: &Path, uuid: &str) -> Option<serde_json::Value> {
    std::fs::read_to_string(sink)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["Uuid"] == uuid)
        .map(|v| v["DestinationCidrGroups"].clone())
}

/// A change of only the CIDR-group sources (a file under them, or the option in the config file) is a CIDR
/// reload and not a filter reload; a change of only the filter (the flowlogs file, or a filter option in the
/// config file) is a filter reload and not a CIDR reload.
#[test]
fn cidr_and_filter_changes_reload_only_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("0.log");
    let sink = dir.path().join("out.ndjson");
    let groups = dir.path().join("groups");
    let more_groups = dir.path().join("more-groups");
    std::fs::create_dir_all(&groups).unwrap();
    std::fs::create_dir_all(&more_groups).unwrap();
    std::fs::write(groups.join("a.txt"), "203.0.113.0/24\n").unwrap();
    std::fs::write(more_groups.join("c.txt"), "203.0.113.9/32\n").unwrap();
    let fl = dir.path().join("flowlogs.yaml");
    std::fs::write(&fl, flowlogs("FORWARDED")).unwrap();
    let config = dir.path().join("config.yaml");
    let write_config = |cidr: &[&Path], extra: &str| {
        let list: Vec<String> = cidr
            .iter()
            .map(|p| format!("  - {}\n", p.display()))
            .collect();
        std::fs::write(
            &config,
            format!(
                "flowlogs: {}\ncidr-groups:\n{}{extra}",
                fl.display(),
                list.concat()
            ),
        )
        .unwrap();
    };
    write_config(&[&groups], "");
    append(&input, &[flow("a-fwd", "FORWARDED")]);
    let mut d = support::process::Proc::spawn(
        support::process::hubble_ingest()
            .args([
                "run",
                "--read-from-head",
                "--flush-interval",
                "100ms",
                "--poll-interval",
                "50ms",
                "--metrics-addr",
                "127.0.0.1:0",
            ])
            .arg("--config")
            .arg(&config)
            .arg("--input")
            .arg(dir.path().join("0.log*"))
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .arg("--sink")
            .arg(format!("file:{}", sink.display())),
    );
    let m = d.metrics_addr(Duration::from_secs(20));
    wait_for("the first record", Duration::from_secs(20), || {
        destination_groups(&sink, "a-fwd")
    });
    assert_eq!((reloads(m, "cidr"), reloads(m, "filter")), (0.0, 0.0));

    // 1. A new file under the CIDR-group directory.
    std::fs::write(groups.join("b.txt"), "203.0.113.9/32\n").unwrap();
    wait_reloads(m, 1.0, 0.0, "a new CIDR-group file");
    append(&input, &[flow("b-fwd", "FORWARDED")]);
    let tags = wait_for("b-fwd", Duration::from_secs(20), || {
        destination_groups(&sink, "b-fwd")
    });
    assert_eq!(tags, serde_json::json!(["b", "a"]), "{}", d.log_tail(20));

    // 2. The flowlogs file.
    std::fs::write(&fl, flowlogs("DROPPED")).unwrap();
    wait_reloads(m, 1.0, 1.0, "a flowlogs change");

    // 3. Only the CIDR-group option of the config file.
    write_config(&[&groups, &more_groups], "");
    wait_reloads(m, 2.0, 1.0, "a cidr-groups option change");

    // 4. Only a filter option of the config file.
    write_config(&[&groups, &more_groups], "verdict: [DROPPED]\n");
    wait_reloads(m, 2.0, 2.0, "a filter option change");
    append(&input, &[flow("c-drop", "DROPPED")]);
    let tags = wait_for("c-drop", Duration::from_secs(20), || {
        destination_groups(&sink, "c-drop")
    });
    let mut names: Vec<&str> = tags
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names.last(), Some(&"a"), "most specific first: {tags}");
    names.sort_unstable();
    assert_eq!(names, ["a", "b", "c"], "{}", d.log_tail(20));
}
