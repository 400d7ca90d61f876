//! `replay --report`: the real binary renders the report for `fixtures/report-hostile.log` (five kept egress
//! policy-deny drops, one with a label `<script>alert(1)</script>`, a pod name with quotes, `&amp;` and tags, a
//! hostile FQDN and policy name; plus an agent log line, a non-kept flow and a truncated record).
//!
//! The HTML test opens the page in headless Chromium (Debian's `chromium`, installed by `scripts/test.sh`; set
//! `HUBBLE_INGEST_CHROMIUM` to use another binary), checks in the dumped DOM that the expected numbers are shown
//! and that no script element exists, and keeps a screenshot as a test artifact at
//! `target/test-artifacts/report/report.png` (next to `report.html` and the dumped `dom.html`). When Chromium
//! cannot be run, it says so loudly on stderr and skips only the browser part.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts/report");
    std::fs::create_dir_all(&dir).expect("create artifact dir");
    dir
}

/// Runs `replay --report PATH` on the hostile fixture with the fixture CIDR groups.
fn replay_with_report(report: &Path, extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let sink = format!("file:{}", dir.path().join("flows.ndjson").display());
    let groups = fixture("cidr-groups/valid/cilium-cidrgroups.yaml");
    let mut args = vec![
        "replay".to_owned(),
        "--progress".into(),
        "never".into(),
        "--sink".into(),
        sink,
        "--cidr-groups".into(),
        groups.display().to_string(),
        "--report".into(),
        report.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(fixture("report-hostile.log").display().to_string());
    let out = Command::new(env!("CARGO_BIN_EXE_hubble-ingest"))
        .args(&args)
        .output()
        .expect("run hubble-ingest");
    assert!(
        out.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn rows(table: &Value) -> Vec<(String, u64)> {
    table["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap_or_default().to_owned(),
                r["count"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

fn s(k: &str, n: u64) -> (String, u64) {
    (k.to_owned(), n)
}

#[test]
fn json_report_holds_the_aggregates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    replay_with_report(&path, &[]);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v["kept_flows"], 5);
    assert_eq!(v["lines"]["physical"], 8);
    assert_eq!(v["lines"]["skipped"]["malformed_json"], 1);
    assert_eq!(
        v["lines"]["prefiltered"], 2,
        "the agent log line and the non-kept flow"
    );
    assert_eq!(v["lines"]["bad_input"], 1);
    assert_eq!(
        v["time_range"],
        serde_json::json!([
            "2025-11-25T12:00:05.000000001Z",
            "2025-11-25T12:02:59.000000005Z"
        ])
    );
    let tl = &v["timeline"];
    assert_eq!(tl["bucket_seconds"], 60);
    assert_eq!(tl["categories"], serde_json::json!(["POLICY_DENY"]));
    let per_minute: Vec<(String, u64)> = tl["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["start"].as_str().unwrap().to_owned(),
                b["counts"][0].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        per_minute,
        vec![
            s("2025-11-25 12:00", 2),
            s("2025-11-25 12:01", 1),
            s("2025-11-25 12:02", 2)
        ]
    );
    let t = &v["tables"];
    assert_eq!(
        rows(&t["source_workloads"]),
        vec![s("shop/web", 3), s("payments/api", 2)]
    );
    assert_eq!(
        rows(&t["source_namespaces"]),
        vec![s("shop", 3), s("payments", 2)]
    );
    assert_eq!(t["source_workloads"]["other"], 0);
    assert_eq!(t["source_workloads"]["max_error"], 0);
    assert_eq!(
        rows(&t["destination_ips"]),
        vec![
            s("203.0.113.7", 2),
            s("10.244.3.5", 1),
            s("192.0.2.1", 1),
            s("198.51.100.20", 1)
        ]
    );
    let first_ip = &t["destination_ips"]["rows"][0];
    assert!((first_ip["share"].as_f64().unwrap() - 0.4).abs() < 1e-9);
    assert!(
        first_ip["groups"].as_array().is_some_and(|g| !g.is_empty()),
        "203.0.113.7 is in a fixture CIDR group: {first_ip}"
    );
    assert_eq!(
        rows(&t["ports"]),
        vec![
            s("TCP/443", 2),
            s("ICMPv4 type 8", 1),
            s("TCP/5432", 1),
            s("UDP/53", 1)
        ]
    );
    assert_eq!(
        rows(&t["nodes"]),
        vec![s("aks-prod/node-a", 3), s("aks-prod/node-b", 2)]
    );
    assert_eq!(
        rows(&t["policies"]),
        vec![
            s("CiliumClusterwideNetworkPolicy deny-world (egress)", 3),
            s(
                "CiliumClusterwideNetworkPolicy </td><script>alert(2)</script> (egress)",
                1
            ),
            s(
                "CiliumClusterwideNetworkPolicy default-deny-egress (egress)",
                1
            ),
        ]
    );
    assert_eq!(
        rows(&t["destination_names"]),
        vec![
            s("<img src=x onerror=alert(3)>.evil.example", 1),
            s("api.example.com", 1)
        ]
    );
    assert!(
        rows(&t["source_labels"]).contains(&s("k8s:app=<script>alert(1)</script>", 1)),
        "{}",
        t["source_labels"]
    );
    assert!(rows(&t["source_pods"]).contains(&s("shop/web-\"quoted\"&amp;<b>pod</b>", 1)));
    let m = &v["matrix"];
    assert_eq!(
        m["sources"],
        serde_json::json!(["shop/web", "payments/api"])
    );
    let dsts: Vec<&str> = m["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(dsts.contains(&"db/postgres"), "{dsts:?}");
    let total: u64 = m["counts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().filter_map(Value::as_u64))
        .sum();
    assert_eq!(total, 5);
    assert_eq!(
        v["run"]["inputs"][0]["bytes"],
        std::fs::metadata(fixture("report-hostile.log"))
            .unwrap()
            .len()
    );
    assert!(v["run"]["filter"][0]
        .as_str()
        .unwrap()
        .starts_with("default: egress policy-deny drops"));
}

#[test]
fn report_format_flag_overrides_the_extension() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.out");
    replay_with_report(&path, &["--report-format", "json"]);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v["kept_flows"], 5);
}

/// A Chromium binary that runs, or why not.
fn chromium() -> Result<PathBuf, String> {
    let candidates: Vec<PathBuf> = match std::env::var_os("HUBBLE_INGEST_CHROMIUM") {
        Some(p) => vec![PathBuf::from(p)],
        None => [
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ]
        .iter()
        .map(PathBuf::from)
        .collect(),
    };
    for c in &candidates {
        if let Ok(o) = Command::new(c)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
        {
            if o.status.success() {
                return Ok(c.clone());
            }
        }
    }
    Err(format!(
        "none of {candidates:?} runs (scripts/test.sh installs Debian's chromium)"
    ))
}

/// Runs Chromium headless with `args` + `url`, killing it after `timeout`; returns stdout.
fn run_chromium(
    bin: &Path,
    profile: &Path,
    args: &[String],
    url: &str,
    timeout: Duration,
) -> Result<String, String> {
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("spawn {}: {e}", bin.display()))?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("chromium did not finish within {timeout:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(e.to_string()),
        }
    }
    reader.join().map_err(|_| "reader panicked".to_owned())
}

#[test]
fn html_report_renders_numbers_and_no_injected_script_in_chromium() {
    let dir = artifacts();
    let html_path = dir.join("report.html");
    let _ = std::fs::remove_file(&html_path);
    replay_with_report(&html_path, &[]);
    let html = std::fs::read_to_string(&html_path).unwrap();

    // Static checks that need no browser.
    assert!(
        !html.to_ascii_lowercase().contains("<script"),
        "a script element in the page"
    );
    let lower = html.to_ascii_lowercase();
    for outside in [
        "http://", "https://", "<link", "<img", "<iframe", "@import", "url(",
    ] {
        assert!(
            !lower.contains(outside),
            "the page references something outside itself: {outside}"
        );
    }
    assert!(html.contains("k8s:app=&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("shop/web-&quot;quoted&quot;&amp;amp;&lt;b&gt;pod&lt;/b&gt;"));

    let bin = match chromium() {
        Ok(b) => b,
        Err(why) => {
            eprintln!(
                "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
                 !!! SKIPPING the browser part of {}: cannot run Chromium: {why}\n\
                 !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n",
                module_path!()
            );
            return;
        }
    };
    let url = format!("file://{}", html_path.display());
    let profile = tempfile::tempdir().unwrap();
    let dom = run_chromium(
        &bin,
        profile.path(),
        &["--dump-dom".to_owned()],
        &url,
        Duration::from_secs(90),
    )
    .expect("chromium --dump-dom");
    std::fs::write(dir.join("dom.html"), &dom).unwrap();
    assert!(
        dom.contains("<header>"),
        "Chromium produced no DOM: {}",
        &dom[..dom.len().min(500)]
    );

    // The numbers are in the DOM as rendered.
    assert!(dom.contains(r#"<span id="kept-flows">5</span>"#));
    assert!(dom.contains(r#"id="card-kept">5<"#));
    assert!(dom.contains(r#"id="card-bad">1<"#));
    assert!(dom.contains(r#"id="skipped-malformed_json">1<"#));
    assert!(dom.contains(r#"id="lines-physical">8<"#));
    let cell = |key: &str, n: u64| {
        format!(r#"<td class="k">{key}</td><td class="n" data-count="{n}">{n}</td>"#)
    };
    for (key, n) in [
        ("shop/web", 3),
        ("payments/api", 2),
        ("203.0.113.7", 2),
        ("TCP/443", 2),
        ("aks-prod/node-a", 3),
        ("CiliumClusterwideNetworkPolicy deny-world (egress)", 3),
    ] {
        assert!(
            dom.contains(&cell(key, n)),
            "{key} with {n} flows not in the DOM"
        );
    }
    // Hostile values are text nodes, escaped in the serialised DOM, never elements.
    assert!(dom.contains(&cell("k8s:app=&lt;script&gt;alert(1)&lt;/script&gt;", 1)));
    assert!(dom.contains(&cell(
        "CiliumClusterwideNetworkPolicy &lt;/td&gt;&lt;script&gt;alert(2)&lt;/script&gt; (egress)",
        1
    )));
    assert!(dom.contains(&cell("&lt;img src=x onerror=alert(3)&gt;.evil.example", 1)));
    assert!(dom.contains("shop/web-\"quoted\"&amp;amp;&lt;b&gt;pod&lt;/b&gt;"));
    let lower = dom.to_ascii_lowercase();
    assert!(
        !lower.contains("<script"),
        "an injected script element exists in the DOM"
    );
    assert!(
        !lower.contains("<img"),
        "an injected img element exists in the DOM"
    );
    assert!(
        !lower.contains("<b>pod"),
        "an injected b element exists in the DOM"
    );
    // Timeline: three minute buckets (2, 1, 2 flows), drawn as bars with titles.
    assert!(dom.contains("<title>2025-11-25 12:00 · POLICY_DENY: 2</title>"));
    assert!(dom.contains("<title>2025-11-25 12:01 · POLICY_DENY: 1</title>"));
    assert!(dom.contains("<title>2025-11-25 12:02 · POLICY_DENY: 2</title>"));

    // The screenshot, kept as an artifact.
    let png = dir.join("report.png");
    let _ = std::fs::remove_file(&png);
    let shot_profile = tempfile::tempdir().unwrap();
    run_chromium(
        &bin,
        shot_profile.path(),
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1400,2400".to_owned(),
        ],
        &url,
        Duration::from_secs(90),
    )
    .expect("chromium --screenshot");
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
        "screenshot is a real PNG"
    );
    eprintln!("report screenshot: {}", png.display());
}
