//! `hubble observe` flags against the real hubble CLI v1.19.4 (`../shared/conformance/observe_flags.jsonl`, made
//! with `hubble observe --print-raw-filters ARGV`): each argv goes through this binary's own command line (clap,
//! [`observe_flags_in_order`]) and filter translation, and the resulting allowlist and denylist must equal the
//! CLI's, compared as normalised `FlowFilter` values (both sides decoded into `FlowFilterSpec`; the order of the
//! OR'ed filters in a list is not significant). Where the CLI rejects the flags, so must we. Flags of `hubble
//! observe` that are not filters (`--since`, `--last`, `-o`, ...) are removed first; cases whose error comes from
//! them are not applicable. When the file is absent the test passes with a visible SKIPPED message
//! (`HUBBLE_INGEST_SHARED` may name the `shared` directory).

use clap::{CommandFactory, FromArgMatches};
use hubble_flow::filter::{observe, parse_filter_list, FlowFilterSpec};
use hubble_ingest::cli::{observe_flags_in_order, Cli, Command};
use serde_json::Value;
use std::path::PathBuf;

fn oracle_path() -> PathBuf {
    let shared = std::env::var_os("HUBBLE_INGEST_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    shared.join("conformance/observe_flags.jsonl")
}

/// `hubble observe` options that are not filters: (name, takes a value).
const NOT_FILTERS: &[(&str, bool)] = &[
    ("--since", true),
    ("--until", true),
    ("--first", true),
    ("--last", true),
    ("-o", true),
    ("--output", true),
    ("--all", false),
    ("--follow", false),
    ("-f", false),
];

/// The argv without non-filter options; `None` when one of them is malformed or they conflict (the CLI's error
/// is then about them, not about filters).
fn filter_argv(argv: &[String], error: Option<&str>) -> Option<Vec<String>> {
    if let Some(e) = error {
        if e.contains("--first")
            || e.contains("--last")
            || e.contains("since")
            || e.contains("output format")
        {
            return None;
        }
    }
    let mut out = Vec::new();
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        let name = a.split('=').next().unwrap_or(a);
        match NOT_FILTERS.iter().find(|(n, _)| *n == name) {
            Some((_, true)) if !a.contains('=') => {
                it.next();
            }
            Some(_) => {}
            None => out.push(a.clone()),
        }
    }
    Some(out)
}

type Lists = (Vec<FlowFilterSpec>, Vec<FlowFilterSpec>);

/// Runs `argv` through the command line and the translation, as `replay` does.
fn translate(argv: &[String]) -> Result<Lists, String> {
    let mut full = vec![
        "hubble-ingest".to_owned(),
        "replay".to_owned(),
        "x.log".to_owned(),
    ];
    full.extend(argv.iter().cloned());
    let m = Cli::command()
        .try_get_matches_from(full)
        .map_err(|e| e.to_string())?;
    let cli = Cli::from_arg_matches(&m).map_err(|e| e.to_string())?;
    let Command::Replay(args) = cli.command else {
        return Err("not replay".into());
    };
    let (_, sub) = m.subcommand().ok_or("no subcommand")?;
    let flags = observe_flags_in_order(sub);
    let (mut allow, mut deny) =
        observe::filters_from_flags(flags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(|e| e.to_string())?;
    for v in &args.filter.allowlist {
        allow.extend(parse_filter_list(v)?);
    }
    for v in &args.filter.denylist {
        deny.extend(parse_filter_list(v)?);
    }
    Ok((allow, deny))
}

fn oracle_list(v: &Value) -> Result<Vec<FlowFilterSpec>, String> {
    serde_json::from_value(v.clone()).map_err(|e| format!("oracle filter: {e}"))
}

/// Order-insensitive form of an OR'ed filter list.
fn normalised(list: &[FlowFilterSpec]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(FlowFilterSpec::to_json).collect();
    v.sort();
    v
}

#[test]
fn hubble_observe_flags_conformance() {
    let path = oracle_path();
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!(
            "SKIPPED: observe flags oracle not found at {}",
            path.display()
        );
        eprintln!(
            "SKIPPED: observe flags oracle not found at {}",
            path.display()
        );
        return;
    };
    let mut failures = Vec::new();
    let (mut total, mut not_applicable, mut errors_agreed, mut lists_agreed) = (0, 0, 0, 0);
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        total += 1;
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        let argv: Vec<String> = serde_json::from_value(v["argv"].clone()).unwrap_or_default();
        let error = v.get("error").and_then(Value::as_str);
        let Some(argv) = filter_argv(&argv, error) else {
            not_applicable += 1;
            continue;
        };
        let got = translate(&argv);
        match (error, got) {
            (Some(_), Err(_)) => errors_agreed += 1,
            (Some(e), Ok((a, d))) => failures.push(format!(
                "line {}: {argv:?}: hubble rejects it ({e}), we give allow {:?} deny {:?}",
                i + 1,
                normalised(&a),
                normalised(&d)
            )),
            (None, Err(e)) => failures.push(format!(
                "line {}: {argv:?}: hubble accepts it, we reject it: {e}",
                i + 1
            )),
            (None, Ok((a, d))) => {
                let want = oracle_list(&v["allowlist"]).and_then(|wa| {
                    oracle_list(&v["denylist"]).map(|wd| (normalised(&wa), normalised(&wd)))
                });
                match want {
                    Ok(want) if want == (normalised(&a), normalised(&d)) => lists_agreed += 1,
                    Ok(want) => failures.push(format!(
                        "line {}: {argv:?}:\n  hubble allow {:?} deny {:?}\n  ours   allow {:?} deny {:?}",
                        i + 1,
                        want.0,
                        want.1,
                        normalised(&a),
                        normalised(&d)
                    )),
                    Err(e) => failures.push(format!("line {}: {e}", i + 1)),
                }
            }
        }
    }
    let summary = format!(
        "observe flags conformance: {total} cases, {lists_agreed} lists equal, {errors_agreed} errors agreed, \
         {not_applicable} not applicable (non-filter options), {} failed",
        failures.len()
    );
    println!("{summary}");
    eprintln!("{summary}");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(lists_agreed > 0);
}
