//! Flags, environment and the `--config` file → [`crate::settings`]: the only place that turns the command line
//! into the typed values everything else consumes. See ARCHITECTURE.md ("settings").
//!
//! `--config FILE`: a YAML file whose keys are the subcommand's long option names (`state-dir`, `input`, `sink`,
//! `cidr-groups`, `adx-cluster`, ...; `snake_case` also accepted). Precedence: command-line flag > environment
//! variable (`HUBBLE_INGEST_*`) > config file > built-in default.
//!
//! The file is merged by turning each key the command line and environment do not already set into the
//! equivalent flag, so the file means exactly what the flags mean and `--help` documents both. Unknown keys and
//! values of the wrong shape are errors naming the file and line. Keys are applied in the file's order (an
//! order-sensitive `not:` applies to the key after it, as `--not` does to the next flag).

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
    let map: Vec<(String, serde_json::Value)> = if text.trim().is_empty() {
        Vec::new()
    } else {
        match serde_saphyr::from_str::<OrderedMap>(&text) {
            Ok(m) => m.0,
            Err(e) => {
                // A document that parses but is not a mapping gets a clearer message.
                if serde_saphyr::from_str::<serde_json::Value>(&text).is_ok_and(|v| !v.is_object())
                {
                    return Err(ConfigError(format!(
                        "{file}:1: expected a mapping of option names to values"
                    )));
                }
                return Err(ConfigError(format!("{file}: {e}")));
            }
        }
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
        // Switches (`--not`, `-A`, `--encrypted`, ...) store values but take none on the command line (only an
        // ignored `=VALUE`): they are booleans here.
        let takes_value = arg.get_action().takes_values()
            && arg.get_num_args().is_none_or(|n| n.min_values() > 0);
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

/// A YAML mapping with its keys in file order (serde_json's own map sorts them).
struct OrderedMap(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for OrderedMap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = OrderedMap;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a mapping of option names to values")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<OrderedMap, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, serde_json::Value>()? {
                    out.push((k, v));
                }
                Ok(OrderedMap(out))
            }
        }
        d.deserialize_map(Visitor)
    }
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

// ---- The command line → settings -------------------------------------------------------------------------

use crate::cli::{
    observe_flags_in_order, AdxArgs, AdxAuth, AdxDedup, AdxMode, Cli, FilterArgs, FilterCmdArgs,
    InputArgs, ProgressMode, ReplayArgs, RunArgs,
};
use crate::error::Error;
use crate::settings::{
    check_unique_sinks, EnrichSettings, FilterCommandSettings, FilterSettings, InputSettings,
    NetworkSettings, PipelineSettings, RecordSettings, ReplaySettings, RunSettings, SettingsSource,
    SinkSettings, SinkSpec,
};
use std::sync::Arc;

/// The whole command line as clap sees it after merging the config file.
pub struct CommandLine {
    /// The parsed options.
    pub cli: Cli,
    /// `hubble observe` flags of the subcommand, in argv order.
    pub observe: Vec<(String, String)>,
    /// The config file, when one was given.
    pub config_file: Option<std::path::PathBuf>,
}

/// Parses `argv` (with `--config` merged in). `Err(Ok(e))` is clap's own error (help, version, usage), which the
/// caller prints and exits with; `Err(Err(e))` a config file error.
pub fn parse_command_line(argv: Vec<OsString>) -> Result<CommandLine, Result<clap::Error, Error>> {
    use clap::{CommandFactory, FromArgMatches};
    let cmd = Cli::command().arg(config_arg());
    let config_file = config_path(&argv).map(std::path::PathBuf::from);
    let argv = match &config_file {
        Some(path) => {
            merge(&cmd, argv, path).map_err(|e| Err(Error::Config(format!("config: {e}"))))?
        }
        None => argv,
    };
    let matches = cmd.try_get_matches_from(argv).map_err(Ok)?;
    let cli = Cli::from_arg_matches(&matches).map_err(Ok)?;
    let observe = matches
        .subcommand()
        .map(|(_, m)| observe_flags_in_order(m))
        .unwrap_or_default();
    Ok(CommandLine {
        cli,
        observe,
        config_file,
    })
}

/// Input options → settings.
pub fn input_settings(a: &InputArgs) -> InputSettings {
    InputSettings {
        format: a.format.into(),
        max_line_bytes: usize::try_from(a.max_line_bytes).unwrap_or(usize::MAX),
        workers: a
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1),
        prefilter: !a.no_prefilter,
    }
}

/// Filter options → settings.
pub fn filter_settings(a: &FilterArgs, observe: &[(String, String)]) -> FilterSettings {
    FilterSettings {
        allowlist: a.allowlist.clone(),
        denylist: a.denylist.clone(),
        flowlogs: a.flowlogs.clone(),
        flowlog: a.flowlog.clone(),
        observe: observe.to_vec(),
    }
}

/// `replay`'s default `--adx-max-retry-duration`: a one-shot command must end, and 10 minutes outlasts the
/// usual throttling and failover windows. `run` defaults to unbounded (its spool holds the data).
pub const REPLAY_MAX_RETRY: std::time::Duration = std::time::Duration::from_secs(600);

/// `--adx-*` options and the standard Azure variables → a validated client configuration. Errors name the
/// option or variable, never a secret's value.
/// `default_max_retry` applies when `--adx-max-retry-duration` is not given (`None`: unbounded).
pub fn adx_config(
    args: &AdxArgs,
    default_max_retry: Option<std::time::Duration>,
) -> Result<hubble_adx::AdxConfig, Error> {
    use hubble_adx::{parse_url, AdxConfig, AuthConfig, IngestMode};
    let adx = |e: String| Error::Config(format!("adx: {e}"));
    let cluster = args
        .adx_cluster
        .as_deref()
        .ok_or_else(|| adx("the adx sink needs --adx-cluster".into()))?;
    let database = args
        .adx_database
        .as_deref()
        .ok_or_else(|| adx("the adx sink needs --adx-database".into()))?;
    let cluster = parse_url("--adx-cluster", cluster).map_err(|e| adx(e.to_string()))?;
    let auth = match args.adx_auth {
        AdxAuth::WorkloadIdentity => AuthConfig::workload_identity_from_env(),
        AdxAuth::ClientSecret => {
            AuthConfig::client_secret_from_env(args.adx_client_secret_file.clone())
        }
        AdxAuth::ManagedIdentity => Ok(AuthConfig::managed_identity(args.adx_client_id.clone())),
    }
    .map_err(|e| adx(format!("--adx-auth: {e}")))?;
    let mut cfg = AdxConfig::new(cluster, database, &args.adx_table, &args.adx_mapping, auth);
    cfg.mode = match args.adx_mode {
        AdxMode::Streaming => IngestMode::Streaming,
        AdxMode::Queued => IngestMode::Queued,
        AdxMode::Managed => IngestMode::Managed,
    };
    if let Some(e) = &args.adx_ingest_endpoint {
        cfg.ingest_endpoint =
            Some(parse_url("--adx-ingest-endpoint", e).map_err(|e| adx(e.to_string()))?);
    }
    if let Some(scope) = &args.adx_scope {
        cfg.scope = Some(scope.clone());
    }
    cfg.dedup = match args.adx_dedup {
        AdxDedup::IngestBy => hubble_adx::Dedup::IngestBy,
        AdxDedup::None => hubble_adx::Dedup::None,
    };
    cfg.concurrency = args.adx_concurrency.max(1);
    cfg.retry.max_elapsed = match args.adx_max_retry_duration {
        None => default_max_retry,
        Some(crate::cli::RetryBudget::Unbounded) => None,
        Some(crate::cli::RetryBudget::For(d)) => Some(d),
    };
    cfg.validate().map_err(|e| adx(e.to_string()))?;
    Ok(cfg)
}

/// Sink options → settings (the ADX configuration is built and validated only when `adx` is named).
pub fn sink_settings(
    specs: &[SinkSpec],
    adx: &AdxArgs,
    state_dir: &std::path::Path,
    default_max_retry: Option<std::time::Duration>,
) -> Result<SinkSettings, Error> {
    check_unique_sinks(specs)?;
    let adx_config = if specs.contains(&SinkSpec::Adx) {
        Some(adx_config(adx, default_max_retry)?)
    } else {
        None
    };
    Ok(SinkSettings {
        specs: specs.to_vec(),
        adx: adx_config,
        dead_letter_dir: state_dir.join("dead-letter"),
        adx_queued_dir: state_dir.join("adx-queued"),
        adx_report_interval: adx.adx_report_interval,
    })
}

/// The options `replay` and `run` share → settings (the filter is built, the sinks validated).
fn pipeline_settings(
    input: &InputArgs,
    filter: FilterSettings,
    enrich: &crate::cli::EnrichArgs,
    (sinks, adx, state_dir): (&[SinkSpec], &AdxArgs, &std::path::Path),
    no_flow_column: bool,
    default_max_retry: Option<std::time::Duration>,
) -> Result<PipelineSettings, Error> {
    let filter_set = Arc::new(filter.build()?);
    Ok(PipelineSettings {
        input: input_settings(input),
        filter,
        filter_set,
        enrich: EnrichSettings {
            cidr_groups: enrich.cidr_groups.clone(),
        },
        sinks: sink_settings(sinks, adx, state_dir, default_max_retry)?,
        record: RecordSettings {
            include_flow: !no_flow_column,
        },
    })
}

/// Network input options → settings.
fn network_settings(n: &crate::cli::NetworkArgs) -> NetworkSettings {
    NetworkSettings {
        record_key: n.record_key.clone(),
        shared_key_file: n.shared_key_file.clone(),
        users_file: n.users_file.clone(),
        self_hostname: n.self_hostname.clone(),
        tls_cert_file: n.tls_cert_file.clone(),
        tls_key_file: n.tls_key_file.clone(),
        max_connections: n.max_connections,
        max_message_bytes: usize::try_from(n.max_message_bytes).unwrap_or(usize::MAX),
        max_decompressed_bytes: usize::try_from(n.max_decompressed_bytes).unwrap_or(usize::MAX),
        http_ack_timeout: n.http_ack_timeout,
    }
}

/// `replay` options → settings.
pub fn replay_settings(
    a: &ReplayArgs,
    observe: &[(String, String)],
) -> Result<ReplaySettings, Error> {
    Ok(ReplaySettings {
        inputs: a.inputs.clone(),
        pipeline: pipeline_settings(
            &a.input,
            filter_settings(&a.filter, observe),
            &a.enrich,
            (&a.sinks, &a.adx, &a.state_dir),
            a.no_flow_column,
            Some(REPLAY_MAX_RETRY),
        )?,
        report: a.report.clone().map(|path| {
            let format = match a.report_format {
                Some(crate::cli::ReportFormatArg::Html) => crate::settings::ReportFormat::Html,
                Some(crate::cli::ReportFormatArg::Json) => crate::settings::ReportFormat::Json,
                None => crate::settings::ReportFormat::for_path(&path),
            };
            (path, format)
        }),
        progress: match a.progress {
            ProgressMode::Never => false,
            ProgressMode::Always => true,
            ProgressMode::Auto => std::io::IsTerminal::is_terminal(&std::io::stderr()),
        },
        summary_json: a.summary_json,
    })
}

/// `filter` options → settings.
pub fn filter_command_settings(
    a: &FilterCmdArgs,
    observe: &[(String, String)],
) -> Result<FilterCommandSettings, Error> {
    Ok(FilterCommandSettings {
        inputs: if a.inputs.is_empty() {
            vec!["-".to_owned()]
        } else {
            a.inputs.clone()
        },
        input: input_settings(&a.input),
        filter_set: Arc::new(filter_settings(&a.filter, observe).build()?),
    })
}

/// `run` options → settings.
pub fn run_settings(
    a: &RunArgs,
    observe: &[(String, String)],
    config_file: Option<std::path::PathBuf>,
) -> Result<RunSettings, Error> {
    if a.inputs.iter().any(|i| i == "-") && a.inputs.len() > 1 {
        return Err(Error::Config(
            "--input - (stdin) cannot be combined with file inputs".into(),
        ));
    }
    Ok(RunSettings {
        inputs: a.inputs.clone(),
        state_dir: a.state_dir.clone(),
        read_from_head: a.read_from_head,
        flush_interval: a.flush_interval,
        batch_max_bytes: usize::try_from(a.batch_max_bytes).unwrap_or(usize::MAX),
        spool_max_bytes: a.spool_max_bytes,
        shutdown_timeout: a.shutdown_timeout,
        metrics_addr: a.metrics_addr,
        poll_interval: a.poll_interval,
        pipeline: pipeline_settings(
            &a.input,
            filter_settings(&a.filter, observe),
            &a.enrich,
            (&a.sinks, &a.adx, &a.state_dir),
            a.no_flow_column,
            None,
        )?,
        network: network_settings(&a.network),
        config_file,
    })
}

/// Reloads [`RunSettings`] from the command line the process started with, merging the config file again.
pub struct CommandLineSource {
    argv: Vec<OsString>,
}

impl CommandLineSource {
    /// A source over `argv` (captured once, at start).
    pub fn new(argv: Vec<OsString>) -> Self {
        CommandLineSource { argv }
    }
}

impl SettingsSource for CommandLineSource {
    fn load(&self) -> Result<RunSettings, Error> {
        let line = parse_command_line(self.argv.clone()).map_err(|e| match e {
            Ok(clap) => Error::Config(clap.to_string()),
            Err(e) => e,
        })?;
        match &line.cli.command {
            crate::cli::Command::Run(a) => run_settings(a, &line.observe, line.config_file.clone()),
            _ => Err(Error::Config("not a run command line".into())),
        }
    }
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

    /// The ADX retry budget the settings of `argv` carry (managed identity: no environment needed).
    fn retry_budget(argv: &[&str]) -> Option<std::time::Duration> {
        let mut full: Vec<OsString> = argv.iter().map(OsString::from).collect();
        full.extend(
            [
                "--sink",
                "adx",
                "--adx-cluster",
                "https://c.kusto.windows.net",
                "--adx-database",
                "db",
                "--adx-auth",
                "managed-identity",
            ]
            .iter()
            .map(OsString::from),
        );
        let line = parse_command_line(full).map_err(|_| "parse").unwrap();
        let pipeline = match &line.cli.command {
            crate::cli::Command::Replay(a) => replay_settings(a, &line.observe).unwrap().pipeline,
            crate::cli::Command::Run(a) => run_settings(a, &line.observe, None).unwrap().pipeline,
            _ => unreachable!(),
        };
        pipeline.sinks.adx.unwrap().retry.max_elapsed
    }

    #[test]
    fn adx_retry_budget_defaults_per_command_and_is_settable() {
        use std::time::Duration;
        assert_eq!(
            retry_budget(&["hubble-ingest", "replay", "x.log"]),
            Some(REPLAY_MAX_RETRY)
        );
        assert_eq!(
            retry_budget(&["hubble-ingest", "run", "--input", "/x.log"]),
            None
        );
        assert_eq!(
            retry_budget(&[
                "hubble-ingest",
                "replay",
                "x.log",
                "--adx-max-retry-duration",
                "unbounded"
            ]),
            None
        );
        assert_eq!(
            retry_budget(&[
                "hubble-ingest",
                "run",
                "--input",
                "/x.log",
                "--adx-max-retry-duration",
                "90s"
            ]),
            Some(Duration::from_secs(90))
        );
        let out = merged(
            "adx-max-retry-duration: 2m\n",
            &["hubble-ingest", "replay", "x.log"],
        )
        .unwrap();
        assert!(
            out.join(" ").contains("--adx-max-retry-duration 2m"),
            "{out:?}"
        );
        assert!(crate::cli::parse_retry_budget("0s").is_err());
        assert!(crate::cli::parse_retry_budget("soon").is_err());
    }

    #[test]
    fn keys_are_applied_in_file_order() {
        // Alphabetical order would put `from-ip` first and `not` before `to-ip` by accident of spelling.
        let out = merged(
            "verdict: DROPPED\nto-ip: 203.0.113.7\nnot: true\nfrom-ip: 10.0.0.10\n",
            &["hubble-ingest", "replay", "x.log"],
        )
        .unwrap();
        let joined = out.join(" ");
        assert!(
            joined.ends_with("--verdict DROPPED --to-ip 203.0.113.7 --not --from-ip 10.0.0.10"),
            "{joined}"
        );
    }

    #[test]
    fn a_negated_key_reaches_the_denylist_in_file_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.yaml");
        std::fs::write(&p, "verdict: DROPPED\nnot: true\nto-ip: 203.0.113.7\n").unwrap();
        let argv: Vec<OsString> = ["hubble-ingest", "replay", "x.log", "--config"]
            .iter()
            .map(OsString::from)
            .chain([p.clone().into_os_string()])
            .collect();
        let line = parse_command_line(argv).map_err(|_| "parse").unwrap();
        assert_eq!(line.config_file.as_deref(), Some(p.as_path()));
        assert_eq!(
            line.observe,
            vec![
                ("verdict".to_owned(), "DROPPED".to_owned()),
                ("not".to_owned(), String::new()),
                ("to-ip".to_owned(), "203.0.113.7".to_owned()),
            ]
        );
        let crate::cli::Command::Replay(a) = &line.cli.command else {
            panic!("not replay")
        };
        let settings = replay_settings(a, &line.observe).unwrap();
        use hubble_flow::filter::observe::{filters_from_flags, print_raw_filters};
        let (include, exclude) =
            filters_from_flags(line.observe.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
        let (allow, deny) = (
            print_raw_filters(&include, &[]),
            print_raw_filters(&[], &exclude),
        );
        assert!(
            allow.contains("DROPPED") && !allow.contains("203.0.113.7"),
            "{allow}"
        );
        assert!(deny.contains("203.0.113.7"), "{deny}");
        assert!(settings.pipeline.filter.any());
    }

    #[test]
    fn observe_filter_options_are_accepted_in_the_file() {
        let yaml = "workload: [deployment/api]\nip-version: [\"6\"]\nipv4: true\nnode-label: [\"kubernetes.io/os=linux\"]\nhttp-header: [\"x-a:1\"]\nto-service: [kube-system/kube-dns]\ninterface: [eth0]\nall-namespaces: true\nsnat-ip: [10.0.0.1]\ntrace-id: [abc]\nip-trace-id: [7]\nencrypted: true\nunencrypted: false\ncel-expression: [\"true\"]\n";
        let out = merged(yaml, &["hubble-ingest", "replay", "x.log"]).unwrap();
        let joined = out.join(" ");
        for want in [
            "--workload deployment/api",
            "--ip-version 6",
            "--node-label kubernetes.io/os=linux",
            "--http-header x-a:1",
            "--to-service kube-system/kube-dns",
            "--interface eth0",
            "--snat-ip 10.0.0.1",
            "--trace-id abc",
            "--ip-trace-id 7",
            "--cel-expression true",
        ] {
            assert!(joined.contains(want), "{want} missing in {joined}");
        }
        assert!(joined.contains("--ipv4"), "{joined}");
        assert!(!joined.contains("--ipv4 true"), "{joined}");
        assert!(joined.contains("--all-namespaces"), "{joined}");
        assert!(joined.contains("--encrypted"), "{joined}");
        assert!(!joined.contains("--unencrypted"), "{joined}");
        // The merged argv parses, and the switches reach the observe translation.
        let m = cmd().try_get_matches_from(&out).unwrap();
        let (_, sub) = m.subcommand().unwrap();
        let flags = crate::cli::observe_flags_in_order(sub);
        for name in [
            "ipv4",
            "all-namespaces",
            "encrypted",
            "workload",
            "cel-expression",
        ] {
            assert!(flags.iter().any(|(k, _)| k == name), "{name}: {flags:?}");
        }
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
