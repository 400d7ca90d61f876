//! The real binary against the bundled fixtures: replay with every framing, gzip (whole and cut), bad input,
//! the `filter` grep, and configuration errors.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hubble-ingest"))
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run hubble-ingest")
}

fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each output line is JSON"))
        .collect()
}

/// Replays `inputs` with the default filter into a file sink; returns (records, summary JSON, output).
fn replay(inputs: &[&Path], extra: &[&str]) -> (Vec<Value>, Value, Output) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("flows.ndjson");
    let sink = format!("file:{}", out.display());
    let mut args: Vec<String> = vec![
        "replay".into(),
        "--summary-json".into(),
        "--sink".into(),
        sink,
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(inputs.iter().map(|p| p.display().to_string()));
    let output = bin().args(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary = stderr
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Value>(l).ok())
        .unwrap_or(Value::Null);
    (records(&out), summary, output)
}

/// Flows in the fixture the default filter keeps, by an independent reading of the JSON.
fn expected_default_kept(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| {
            let f = &v["flow"];
            f["event_type"]["type"] == 1
                && f["event_type"]["sub_type"] == 181
                && f["traffic_direction"] == "EGRESS"
        })
        .count()
}

#[test]
fn replay_keeps_egress_policy_deny_drops_only() {
    let input = fixture("agent-stdout.log");
    let (recs, summary, out) = replay(&[&input], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = expected_default_kept(&input);
    assert_eq!(expected, 19, "fixture changed");
    assert_eq!(recs.len(), expected);
    for r in &recs {
        assert_eq!(r["TrafficDirection"], "EGRESS");
        assert_eq!(r["EventType"], 1);
        assert_eq!(r["EventSubType"], 181);
        assert_eq!(r["Verdict"], "DROPPED");
        assert_eq!(r["DropReasonDesc"], "POLICY_DENY");
        assert_eq!(r["NodeName"], "aks-nodepool1-31337-vmss000002");
        assert_eq!(r["ClusterName"], "aks-prod");
        assert!(r["Uuid"].is_string() && r["Timestamp"].is_string());
        assert_eq!(r["PolicyDeniedBy"][0]["name"], "deny-geo-egress");
        assert_eq!(r["Flow"]["uuid"], r["Uuid"]);
    }
    assert_eq!(summary["kept_flows"], 19);
    assert_eq!(summary["records"]["agent_event"], 1, "{summary}");
    assert_eq!(summary["records"]["lost_events"], 1, "{summary}");
}

#[test]
fn every_framing_yields_the_same_records() {
    let dir = tempfile::tempdir().unwrap();
    let raw40 = dir.path().join("raw40.log");
    let text = std::fs::read_to_string(fixture("agent-stdout.log")).unwrap();
    let first40: Vec<&str> = text.lines().take(40).collect();
    std::fs::write(&raw40, first40.join("\n") + "\n").unwrap();
    let (expected, _, _) = replay(&[&raw40], &[]);
    assert!(!expected.is_empty());
    for (name, format) in [
        ("cri-0.log", "cri"),
        ("docker-json.log", "docker"),
        ("fluentbit.jsonl", "fluentbit"),
    ] {
        for fmt in ["auto", format] {
            let (recs, summary, out) = replay(&[&fixture(name)], &["--format", fmt]);
            assert!(out.status.success());
            assert_eq!(recs, expected, "{name} with --format {fmt}");
            assert_eq!(summary["skipped"]["malformed_frame"], 0, "{name}");
        }
    }
}

#[test]
fn gzip_rotated_file_is_read_across_members() {
    let (recs, _, out) = replay(&[&fixture("agent-stdout.log.20251125-120000.gz")], &[]);
    assert!(out.status.success());
    assert_eq!(recs.len(), 19);
}

#[test]
fn cut_gzip_keeps_records_before_the_cut_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.log.gz");
    let bytes = std::fs::read(fixture("agent-stdout.log.20251125-120000.gz")).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() - 700]).unwrap();
    let (recs, _, out) = replay(&[&cut], &[]);
    assert!(
        out.status.success(),
        "a cut gzip is bad input, not a failure"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cut.log.gz") && stderr.contains("gzip"),
        "{stderr}"
    );
    assert!(
        !recs.is_empty() && recs.len() < 19,
        "kept {} records",
        recs.len()
    );
}

#[test]
fn bad_input_is_counted_never_fatal() {
    // With the prefilter, lines that can never be kept are only checked for truncation.
    let (recs, summary, out) = replay(&[&fixture("bad-input.log")], &[]);
    assert!(out.status.success());
    assert_eq!(recs.len(), 2);
    assert_eq!(summary["skipped"]["malformed_json"], 1, "{summary}");
    // Parsing everything gives exact counts per kind.
    let (recs, summary, out) = replay(&[&fixture("bad-input.log")], &["--no-prefilter"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let uuids: Vec<&str> = recs.iter().map(|r| r["Uuid"].as_str().unwrap()).collect();
    assert_eq!(
        uuids.len(),
        2,
        "the two intact policy-deny records survive: {recs:?}"
    );
    let s = &summary["skipped"];
    assert_eq!(s["malformed_json"], 1, "{summary}");
    assert_eq!(s["invalid_record"], 2, "{summary}");
    assert_eq!(s["invalid_utf8"], 1, "{summary}");
    assert_eq!(s["empty"], 2, "{summary}");
    assert_eq!(s["agent_log_text"], 1, "{summary}");
    assert_eq!(summary["invalid_ip"], 1, "{summary}");
}

#[test]
fn stdin_and_several_inputs_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("o.ndjson");
    let mut child = bin()
        .args([
            "replay",
            "--sink",
            &format!("file:{}", out_path.display()),
            "-",
        ])
        .arg(fixture("bad-input.log"))
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let data = std::fs::read(fixture("agent-stdout.log")).unwrap();
    child.stdin.take().unwrap().write_all(&data).unwrap();
    assert!(child.wait().unwrap().success());
    let recs = records(&out_path);
    assert_eq!(recs.len(), 21);
    // Input order: the stdin records first, then the file's.
    assert_eq!(recs[20]["DestinationIP"], "198.51.100.77");
}

#[test]
fn filter_prints_passing_records_byte_for_byte() {
    let input = fixture("agent-stdout.log");
    let out = run(&["filter", "--verdict", "DROPPED", input.to_str().unwrap()]);
    assert!(out.status.success());
    let text = std::fs::read_to_string(&input).unwrap();
    let expected: Vec<&str> = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<Value>(l).is_ok_and(|v| v["flow"]["verdict"] == "DROPPED")
        })
        .collect();
    let got = String::from_utf8(out.stdout).unwrap();
    assert_eq!(got.lines().collect::<Vec<_>>(), expected);

    // --not sends the next flag to the denylist; non-flow records are not denied by a verdict filter.
    let out = run(&[
        "filter",
        "--not",
        "--verdict",
        "FORWARDED",
        input.to_str().unwrap(),
    ]);
    let got = String::from_utf8(out.stdout).unwrap();
    let expected: Vec<&str> = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<Value>(l).is_ok_and(|v| {
                let is_record = ["flow", "agent_event", "lost_events", "debug_event"]
                    .iter()
                    .any(|k| v.get(k).is_some());
                is_record && v["flow"]["verdict"] != "FORWARDED"
            })
        })
        .collect();
    assert_eq!(got.lines().collect::<Vec<_>>(), expected);
}

#[test]
fn invalid_filters_exit_2_naming_the_filter() {
    let out = run(&[
        "replay",
        "--allowlist",
        r#"{"source_ip":["300.1.1.1"]}"#,
        fixture("agent-stdout.log").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--allowlist #1"), "{stderr}");
    let out = run(&["check", "--allowlist", r#"{"no_such_field":[1]}"#]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn flowlogs_config_is_used_and_sub_type_mistake_is_warned() {
    let input = fixture("agent-stdout.log");
    let flowlogs = fixture("flowlogs.yaml");
    let (recs, _, out) = replay(
        &[&input],
        &[
            "--flowlogs",
            flowlogs.to_str().unwrap(),
            "--flowlog",
            "egress-traffic-blocking",
        ],
    );
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("match_sub_type"), "{stderr}");
    // Without match_sub_type Cilium ignores sub_type: every egress drop passes, POLICY_DENIED (133) too.
    assert!(recs.iter().any(|r| r["EventSubType"] == 133));
    let (strict, _, _) = replay(
        &[&input],
        &[
            "--flowlogs",
            flowlogs.to_str().unwrap(),
            "--flowlog",
            "egress-policy-deny",
        ],
    );
    assert_eq!(strict.len(), 19);
    // Several entries and none named: a usage error listing the names.
    let out = run(&[
        "replay",
        "--flowlogs",
        flowlogs.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("egress-policy-deny"));
}

#[test]
fn hubble_flags_replace_the_default_filter() {
    let input = fixture("agent-stdout.log");
    let (recs, _, _) = replay(
        &[&input],
        &["--type", "drop:181", "--traffic-direction", "ingress"],
    );
    assert!(!recs.is_empty());
    assert!(recs
        .iter()
        .all(|r| r["TrafficDirection"] == "INGRESS" && r["EventSubType"] == 181));
    let (recs, _, _) = replay(&[&input], &["--to-ip", "203.0.113.7"]);
    assert!(!recs.is_empty());
    assert!(recs.iter().all(|r| r["DestinationIP"] == "203.0.113.7"));
}

/// One drop flow from `src` to 203.0.113.9 with the given destination port (any integer: Cilium's JSON carries
/// uint32 ports).
fn port_flow(uuid: &str, src: &str, dst_port: u64) -> String {
    format!(
        concat!(
            r#"{{"flow":{{"time":"2026-01-01T00:00:00Z","uuid":"{uuid}","verdict":"DROPPED","#,
            r#""IP":{{"source":"{src}","destination":"203.0.113.9","ipVersion":"IPv4"}},"#,
            r#""l4":{{"TCP":{{"source_port":40000,"destination_port":{port}}}}},"#,
            r#""event_type":{{"type":1,"sub_type":181}},"traffic_direction":"EGRESS"}},"#,
            r#""node_name":"n1","time":"2026-01-01T00:00:00Z"}}"#
        ),
        uuid = uuid,
        src = src,
        port = dst_port
    )
}

fn uuids(recs: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = recs
        .iter()
        .map(|r| r["Uuid"].as_str().unwrap_or_default().to_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn every_not_flag_joins_one_denylist_filter() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("flows.log");
    let lines = [
        port_flow("a", "10.0.0.10", 443),
        port_flow("b", "10.0.0.10", 80),
        port_flow("c", "10.0.0.11", 443),
        port_flow("d", "10.0.0.11", 80),
    ];
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    // hubble ANDs both negated flags into one denylist filter: only a flow from 10.0.0.10 on port 443 goes.
    let (recs, _, out) = replay(
        &[&input],
        &["--not", "--from-ip", "10.0.0.10", "--not", "--port", "443"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(uuids(&recs), ["b", "c", "d"]);
    // `--not=false` is still a --not (hubble ignores the value), and `--not --not` is refused.
    let (recs, _, _) = replay(&[&input], &["--not=false", "--port", "80"]);
    assert_eq!(uuids(&recs), ["a", "c"]);
    let (_, _, out) = replay(&[&input], &["--not", "--not", "--port", "80"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("consecutive --not"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ports_above_65535_match_their_low_16_bits_through_the_prefilter() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("flows.log");
    let lines = [
        port_flow("a", "10.0.0.10", 65616),
        port_flow("b", "10.0.0.10", 65617),
        port_flow("c", "10.0.0.10", 80),
    ];
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    for extra in [
        &["--to-port", "80"][..],
        &["--to-port", "80", "--no-prefilter"][..],
    ] {
        let (recs, _, out) = replay(&[&input], extra);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(uuids(&recs), ["a", "c"], "{extra:?}");
    }
}

/// Go's `strconv.Quote` for the characters of exporter JSON lines.
fn go_quote(s: &str) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

#[test]
fn records_wrapped_in_agent_log_lines_are_unwrapped() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("0.log");
    let flows = [
        port_flow("w1", "10.0.0.10", 443),
        port_flow("w2", "10.0.0.11", 80),
    ];
    // cilium v1.16 `hubble-export-file-path: stdout` as kubelet stores it: CRI entries of agent log lines.
    let lines = [
        "2024-03-15T22:23:36.000000001Z stderr F level=info msg=\"Starting Hubble server\" subsys=hubble"
            .to_string(),
        format!(
            "2024-03-15T22:23:36.1Z stdout F level=info msg={} subsys=hubble-exporter",
            go_quote(&flows[0])
        ),
        format!(
            "2024-03-15T22:23:36.2Z stdout F level=info msg={}",
            go_quote(&flows[1])
        ),
    ];
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let (recs, summary, out) = replay(&[&input], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(uuids(&recs), ["w1", "w2"]);
    assert_eq!(recs[0]["DestinationPort"], 443);
    assert_eq!(summary["unwrapped_log_lines"], 2, "{summary}");
}

/// A Fluentd `out_exec` chunk (`<format> json`, `include_time_key`, `include_tag_key`) built from the raw
/// fixture: half the records carry the agent line in `log`, the other half are exporter objects Fluentd
/// already parsed (merged into the record).
fn fluentd_chunk(dir: &Path) -> PathBuf {
    let raw = std::fs::read_to_string(fixture("agent-stdout.log")).unwrap();
    let mut out = String::new();
    for (i, line) in raw.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let parsed = serde_json::from_str::<Value>(line).ok();
        let rec = match parsed {
            Some(Value::Object(mut m)) if i % 2 == 0 && m.contains_key("flow") => {
                m.insert("tag".into(), "kubernetes.cilium".into());
                Value::Object(m)
            }
            _ => {
                serde_json::json!({"log": line, "stream": "stdout", "time": "2026-01-01T00:00:00Z", "tag": "kubernetes.cilium"})
            }
        };
        out.push_str(&rec.to_string());
        out.push('\n');
    }
    let p = dir.join("buffer.q5f1.log");
    std::fs::write(&p, out).unwrap();
    p
}

#[test]
fn fluentd_exec_chunk_yields_the_same_records_and_fails_on_unreadable_lines() {
    let dir = tempfile::tempdir().unwrap();
    let chunk = fluentd_chunk(dir.path());
    let (want, _, o) = replay(&[&fixture("agent-stdout.log")], &["--format", "raw"]);
    assert!(o.status.success());
    let (got, _, o) = replay(&[&chunk], &["--format", "fluentd-json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        got.len(),
        expected_default_kept(&fixture("agent-stdout.log"))
    );
    let uuids = |v: &[Value]| v.iter().map(|r| r["Uuid"].to_string()).collect::<Vec<_>>();
    assert_eq!(uuids(&got), uuids(&want));
    // A torn line (Fluentd wrote half a record) fails the command, so Fluentd retries the chunk.
    let mut text = std::fs::read_to_string(&chunk).unwrap();
    text.push_str("{\"log\":\"{\\\"flow\\\":{\"\n");
    let torn = dir.path().join("torn.log");
    std::fs::write(&torn, text).unwrap();
    let (_, _, o) = replay(&[&torn], &["--format", "fluentd-json"]);
    assert!(
        !o.status.success(),
        "a chunk with an unreadable line must fail"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("fluentd-json chunk not fully read"));
    // The same line under `--format fluentbit` is counted and skipped (exit 0), as before.
    let (_, _, o) = replay(&[&torn], &["--format", "fluentbit"]);
    assert!(o.status.success());
}

/// The summary's per-destination counts stay bounded on a run with more distinct destinations than it keeps
/// (a long daemon life or a 10 M-flow replay to random addresses): the JSON holds at most 2 × 1024 keys, says
/// how far its counts may be low, and still shows the one destination that had many flows, within that error.
#[test]
fn summary_destinations_are_bounded_with_their_error_stated() {
    let input = fixture("agent-stdout.log");
    let text = std::fs::read_to_string(&input).unwrap();
    let template = text
        .lines()
        .find(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or(Value::Null);
            let f = &v["flow"];
            f["event_type"]["sub_type"] == 181
                && f["traffic_direction"] == "EGRESS"
                && f["destination"]["pod_name"].is_null()
                && f["IP"]["destination"].is_string()
        })
        .expect("a kept flow to an address outside the cluster");
    let v: Value = serde_json::from_str(template).unwrap();
    let old_ip = v["flow"]["IP"]["destination"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.log");
    let mut lines = String::new();
    for n in 0u32..6000 {
        let ip = if n % 3 == 0 {
            "198.51.100.1".to_owned()
        } else {
            format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255)
        };
        lines.push_str(&template.replace(&format!("\"{old_ip}\""), &format!("\"{ip}\"")));
        lines.push('\n');
    }
    std::fs::write(&path, lines).unwrap();
    let (recs, summary, out) = replay(&[&path], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(recs.len(), 6000);
    assert_eq!(summary["kept_flows"], 6000);
    let dst = summary["by_destination"]
        .as_object()
        .expect("by_destination");
    assert!(dst.len() <= 2 * 1024, "{} keys", dst.len());
    let error = summary["by_destination_max_error"].as_u64().unwrap();
    assert!(error > 0, "4,000 distinct addresses must have been pruned");
    let heavy = dst["198.51.100.1"].as_u64().unwrap();
    assert!(heavy <= 2000 && heavy + error >= 2000, "{heavy} ± {error}");
}
