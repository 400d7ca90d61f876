//! `--config FILE`: a YAML file whose keys are the subcommand's long option names (`state-dir`, `input`, `sink`,
//! `cidr-groups`, `adx-cluster`, ...; `snake_case` also accepted). Precedence: command-line flag > environment
//! variable (`HUBBLE_INGEST_*`) > config file > built-in default.
//!
//! The file is merged by turning each key the command line and environment do not already set into the
//! equivalent flag, so the file means exactly what the flags mean and `--help` documents both. Unknown keys and
//! values of the wrong shape are errors naming the file and line.

use clap::Command;
use std::ffi::OsString;
use std::path::Path;

/// A configuration error (exit code 2), already formatted as `FILE:LINE: message`.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Finds `--config FILE` / `--config=FILE` in `args` (or `HUBBLE_INGEST_CONFIG`).
pub fn config_path(args: &[OsString]) -> Option<OsString> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        if s == "--config" {
            return it.next().cloned();
        }
        if let Some(v) = s.strip_prefix("--config=") {
            return Some(OsString::from(v));
        }
        if s == "--" {
            break;
        }
    }
    std::env::var_os("HUBBLE_INGEST_CONFIG")
}

fn line_of(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            let t = l.trim_start();
            !l.starts_with([' ', '\t', '-'])
                && (t.starts_with(&format!("{key}:")) || t.starts_with(&format!("\"{key}\":")))
        })
        .map_or(0, |i| i + 1)
}

/// Returns `args` with the config file's settings appended as flags (for keys not already set by a flag or an
/// environment variable). `cmd` is the whole CLI; the subcommand is taken from `args`.
pub fn merge(
    cmd: &Command,
    args: Vec<OsString>,
    path: &Path,
) -> Result<Vec<OsString>, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("{file}: cannot read: {e}")))?;
    let doc: serde_json::Value = if text.trim().is_empty() {
        serde_json::Value::Object(Default::default())
    } else {
        serde_saphyr::from_str(&text).map_err(|e| ConfigError(format!("{file}: {e}")))?
    };
    let serde_json::Value::Object(map) = doc else {
        return Err(ConfigError(format!(
            "{file}:1: expected a mapping of option names to values"
        )));
    };
    let sub_name = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .find(|a| cmd.find_subcommand(a).is_some())
        .ok_or_else(|| ConfigError(format!("{file}: --config needs a subcommand (e.g. run)")))?;
    let sub = cmd
        .find_subcommand(&sub_name)
        .ok_or_else(|| ConfigError(format!("{file}: unknown subcommand {sub_name}")))?;
    let given: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut out = args;
    for (raw_key, value) in map {
        let key = raw_key.replace('_', "-");
        let line = line_of(&text, &raw_key);
        let at = |msg: String| ConfigError(format!("{file}:{line}: {raw_key}: {msg}"));
        if key == "config" {
            return Err(at("a config file cannot name another config file".into()));
        }
        let Some(arg) = sub
            .get_arguments()
            .chain(cmd.get_arguments())
            .find(|a| a.get_long() == Some(key.as_str()))
        else {
            // The daemon's configuration file also serves the other subcommands: `run` options a subcommand
            // does not have are skipped (`check` validates them by parsing the whole file as `run` would).
            let known_to_run = cmd.find_subcommand("run").is_some_and(|r| {
                r.get_arguments()
                    .any(|a| a.get_long() == Some(key.as_str()))
            });
            if known_to_run {
                // One file serves the node: `replay`, `filter`, `check` ... take the keys they have.
                continue;
            }
            return Err(at(format!("unknown option for `{sub_name}`")));
        };
        let flag = format!("--{key}");
        if given
            .iter()
            .any(|g| *g == flag || g.starts_with(&format!("{flag}=")))
        {
            continue;
        }
        if arg.get_env().is_some_and(|v| std::env::var_os(v).is_some()) {
            continue;
        }
        let takes_value = arg.get_action().takes_values();
        match (takes_value, value) {
            (false, serde_json::Value::Bool(true)) => out.push(flag.into()),
            (false, serde_json::Value::Bool(false)) => {}
            (false, _) => return Err(at("expected true or false".into())),
            (true, serde_json::Value::Array(items)) => {
                for item in items {
                    out.push(flag.clone().into());
                    out.push(scalar(&item).map_err(&at)?.into());
                }
            }
            (true, v) => {
                out.push(flag.into());
                out.push(scalar(&v).map_err(&at)?.into());
            }
        }
    }
    Ok(out)
}

fn scalar(v: &serde_json::Value) -> Result<String, String> {
    match v {
        serde_json::Value::String(s) => Ok(s.clone()),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        serde_json::Value::Bool(b) => Ok(b.to_string()),
        // Filters given as YAML mappings (allowlist/denylist) become their JSON text.
        serde_json::Value::Object(_) => Ok(v.to_string()),
        other => Err(format!(
            "expected a value or a list of values, found {other}"
        )),
    }
}

/// Parses the config file as `run` would (with no other arguments): every value is checked by the same parsers
/// as the flags. Returns clap's error message on failure.
pub fn validate_as_run(cmd: &Command, path: &Path) -> Result<clap::ArgMatches, String> {
    let argv: Vec<OsString> = vec!["hubble-ingest".into(), "run".into()];
    let merged = merge(cmd, argv, path).map_err(|e| e.0)?;
    cmd.clone()
        .try_get_matches_from(merged)
        .map_err(|e| format!("{}: {}", path.display(), e.render()))
}

/// Adds the `--config` option to the command line: `merge` does the work before clap parses.
pub fn config_arg() -> clap::Arg {
    clap::Arg::new("config")
        .long("config")
        .global(true)
        .value_name("FILE")
        .env("HUBBLE_INGEST_CONFIG")
        .help("YAML file with option values (keys are long option names); flags and HUBBLE_INGEST_* variables override it")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::{CommandFactory, Parser};

    fn cmd() -> Command {
        Cli::command().arg(config_arg())
    }

    fn merged(yaml: &str, argv: &[&str]) -> Result<Vec<String>, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.yaml");
        std::fs::write(&p, yaml).unwrap();
        merge(&cmd(), argv.iter().map(OsString::from).collect(), &p).map(|v| {
            v.into_iter()
                .map(|s| s.to_string_lossy().into_owned())
                .collect()
        })
    }

    #[test]
    fn file_values_become_flags_and_flags_win() {
        let out = merged(
            "state-dir: /var/lib/x\ninput:\n  - /var/log/pods/*/cilium-agent/*.log*\nsink: [adx, stdout]\nread_from_head: true\nflush-interval: 2s\nallowlist:\n  - {verdict: [DROPPED]}\n",
            &["hubble-ingest", "run", "--state-dir", "/tmp/override"],
        )
        .unwrap();
        let joined = out.join(" ");
        assert!(joined.contains("--state-dir /tmp/override"), "{joined}");
        assert!(!joined.contains("/var/lib/x"), "{joined}");
        assert!(
            joined.contains("--input /var/log/pods/*/cilium-agent/*.log*"),
            "{joined}"
        );
        assert!(joined.contains("--sink adx --sink stdout"), "{joined}");
        assert!(joined.contains("--read-from-head"), "{joined}");
        assert!(joined.contains("--flush-interval 2s"), "{joined}");
        assert!(
            joined.contains(r#"--allowlist {"verdict":["DROPPED"]}"#),
            "{joined}"
        );
    }

    #[test]
    fn network_input_options_from_the_file_parse_as_run_options() {
        let out = merged(
            "input: [forward://0.0.0.0:24224, \"http://0.0.0.0:8080/fluent\"]\nsink: [stdout]\nrecord-key: message\nshared-key-file: /etc/k/key\nusers_file: /etc/k/users\nself-hostname: node-a\ntls-cert-file: /etc/t/tls.crt\ntls-key-file: /etc/t/tls.key\nmax-connections: 32\nmax-message-bytes: 8MiB\nmax-decompressed-bytes: 32MiB\nhttp-ack-timeout: 10s\n",
            &["hubble-ingest", "run"],
        )
        .unwrap();
        let cli = Cli::try_parse_from(&out).unwrap_or_else(|e| panic!("{e}: {out:?}"));
        let crate::cli::Command::Run(run) = cli.command else {
            panic!("not run")
        };
        assert_eq!(
            run.inputs,
            vec!["forward://0.0.0.0:24224", "http://0.0.0.0:8080/fluent"]
        );
        let n = &run.network;
        assert_eq!(n.record_key, "message");
        assert_eq!(
            n.shared_key_file.as_deref(),
            Some(std::path::Path::new("/etc/k/key"))
        );
        assert_eq!(
            n.users_file.as_deref(),
            Some(std::path::Path::new("/etc/k/users"))
        );
        assert_eq!(n.self_hostname.as_deref(), Some("node-a"));
        assert_eq!(
            n.tls_cert_file.as_deref(),
            Some(std::path::Path::new("/etc/t/tls.crt"))
        );
        assert_eq!(
            n.tls_key_file.as_deref(),
            Some(std::path::Path::new("/etc/t/tls.key"))
        );
        assert_eq!(n.max_connections, 32);
        assert_eq!(n.max_message_bytes, 8 << 20);
        assert_eq!(n.max_decompressed_bytes, 32 << 20);
        assert_eq!(n.http_ack_timeout, std::time::Duration::from_secs(10));
        // The shared key itself is never an option (secrets stay out of argv and config values).
        assert!(merged("shared-key: x\n", &["hubble-ingest", "run"]).is_err());
    }

    #[test]
    fn the_daemon_config_serves_replay_too() {
        let out = merged(
            "input: [/var/log/pods/x/0.log]\nflush-interval: 1s\nsink: [adx]\nadx-cluster: https://c.kusto.windows.net\n",
            &["hubble-ingest", "replay", "saved.log"],
        )
        .unwrap();
        let joined = out.join(" ");
        assert!(!joined.contains("flush-interval"), "{joined}");
        assert!(!joined.contains("--input"), "{joined}");
        assert!(joined.contains("--sink adx"), "{joined}");
        assert!(
            joined.contains("--adx-cluster https://c.kusto.windows.net"),
            "{joined}"
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_name_file_and_line() {
        let e = merged(
            "state-dir: /x\nno-such-option: 1\n",
            &["hubble-ingest", "run"],
        )
        .unwrap_err();
        assert!(
            e.0.ends_with(":2: no-such-option: unknown option for `run`"),
            "{}",
            e.0
        );
        let e = merged("read-from-head: 3\n", &["hubble-ingest", "run"]).unwrap_err();
        assert!(
            e.0.contains(":1: read-from-head: expected true or false"),
            "{}",
            e.0
        );
        let e = merged("a: [b\n", &["hubble-ingest", "run"]).unwrap_err();
        assert!(e.0.contains("config.yaml"), "{}", e.0);
    }
}
