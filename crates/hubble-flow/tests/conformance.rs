//! Conformance with cases taken from Cilium's own filter tests (`../shared/conformance/filter_cases.jsonl`) and
//! with Go's `regexp` (`go_regex.jsonl`); `HUBBLE_INGEST_SHARED` may name the `shared` directory instead.
//!
//! Every case must agree: `match` (OR over the filters), `build_error`, `apply` (allow/deny lists) and
//! `selector_translation`. When the file is absent the test passes with a visible SKIPPED message.

use hubble_flow::filter::labels::translate_selector;
use hubble_flow::filter::{FilterSet, FlowFilterSpec};
use hubble_flow::record::decode;
use serde_json::Value;
use std::path::PathBuf;

fn cases_path() -> PathBuf {
    // <workspace>/crates/hubble-flow -> <workspace>/../shared/conformance/filter_cases.jsonl, or the directory
    // named by HUBBLE_INGEST_SHARED (a checkout that does not sit beside `shared/`).
    let shared = std::env::var_os("HUBBLE_INGEST_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    shared.join("conformance/filter_cases.jsonl")
}

fn filters(v: &Value, key: &str) -> Result<Vec<FlowFilterSpec>, String> {
    let arr = v.get(key).cloned().unwrap_or(Value::Array(vec![]));
    serde_json::from_value(arr).map_err(|e| format!("{key}: {e}"))
}

fn run_case(v: &Value) -> Result<(), String> {
    let kind = v["kind"].as_str().unwrap_or("");
    match kind {
        "match" | "apply" => {
            let (inc, exc) = if kind == "match" {
                (filters(v, "filters")?, vec![])
            } else {
                (filters(v, "allowlist")?, filters(v, "denylist")?)
            };
            let set =
                FilterSet::build(inc, exc).map_err(|e| format!("unexpected build error: {e}"))?;
            let line = serde_json::to_string(&v["event"]).map_err(|e| e.to_string())?;
            let rec =
                decode(line.as_bytes()).map_err(|e| format!("event does not decode: {e:?}"))?;
            let got = if kind == "match" {
                set.include_matches(&rec)
            } else {
                set.keep(&rec)
            };
            let want = v["expected"].as_bool().unwrap_or(false);
            if got == want {
                Ok(())
            } else {
                Err(format!("expected {want}, got {got}"))
            }
        }
        "build_error" => {
            // A filter that does not even deserialise is also a build failure in Cilium (protojson error).
            let Ok(inc) = filters(v, "filters") else {
                return Ok(());
            };
            match FilterSet::build(inc, vec![]) {
                Err(_) => Ok(()),
                Ok(_) => Err("expected a build error, got none".into()),
            }
        }
        "selector_translation" => {
            let got = translate_selector(v["input"].as_str().unwrap_or(""));
            let want = v["expected"].as_str().unwrap_or("");
            if got == want {
                Ok(())
            } else {
                Err(format!("expected {want:?}, got {got:?}"))
            }
        }
        other => Err(format!("unknown case kind {other:?}")),
    }
}

#[test]
fn cilium_filter_conformance() {
    let path = cases_path();
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("SKIPPED: conformance file not found at {}", path.display());
        eprintln!("SKIPPED: conformance file not found at {}", path.display());
        return;
    };
    let mut failures = Vec::new();
    let mut run = 0;
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        run += 1;
        if let Err(e) = run_case(&v) {
            failures.push(format!(
                "line {} [{}] {} ({}): {e}",
                i + 1,
                v["kind"].as_str().unwrap_or(""),
                v["name"].as_str().unwrap_or(""),
                v["source"].as_str().unwrap_or("")
            ));
        }
    }
    println!("conformance: {run} cases run, {} failed", failures.len());
    eprintln!("conformance: {run} cases run, {} failed", failures.len());
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(run > 0);
}

/// Go's `regexp` on `../shared/conformance/go_regex.jsonl`: whether each pattern compiles, and for those that do,
/// every listed input's `MatchString` result.
#[test]
fn go_regexp_conformance() {
    let path = cases_path().with_file_name("go_regex.jsonl");
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("SKIPPED: Go regexp oracle not found at {}", path.display());
        eprintln!("SKIPPED: Go regexp oracle not found at {}", path.display());
        return;
    };
    let mut failures = Vec::new();
    let (mut patterns, mut matches) = (0, 0);
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        let pattern = v["pattern"].as_str().unwrap_or_default();
        let compiles = v["compiles"].as_bool().unwrap_or(false);
        patterns += 1;
        let short: String = pattern.chars().take(60).collect();
        match (hubble_flow::filter::goregex::compile(pattern), compiles) {
            (Ok(re), true) => {
                for (input, want) in v["matches"].as_object().into_iter().flatten() {
                    matches += 1;
                    let want = want.as_bool().unwrap_or(false);
                    if re.is_match(input) != want {
                        failures.push(format!(
                            "line {}: {short:?} on {input:?}: Go says {want}",
                            i + 1
                        ));
                    }
                }
            }
            (Err(_), false) => {}
            (Ok(_), false) => failures.push(format!(
                "line {}: {short:?} compiles, Go rejects it: {}",
                i + 1,
                v["error"].as_str().unwrap_or_default()
            )),
            (Err(e), true) => failures.push(format!(
                "line {}: {short:?} rejected, Go accepts it: {e}",
                i + 1
            )),
        }
    }
    println!(
        "go regexp conformance: {patterns} patterns, {matches} match checks, {} failed",
        failures.len()
    );
    eprintln!(
        "go regexp conformance: {patterns} patterns, {matches} match checks, {} failed",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(patterns > 0);
}
