//! Settings: every option of every command as plain, validated, typed values.
//!
//! The command layer (`main.rs`, `cli.rs`, `config.rs`, `commands/`) turns flags, `HUBBLE_INGEST_*` variables and
//! the `--config` file (in that precedence, keeping the file's key order) into these values once; everything below
//! consumes them and never sees clap types or argv. A daemon reload builds a fresh [`RunSettings`] from the same
//! sources through a [`SettingsSource`] and compares the parts that may change at run time ([`FilterSettings`],
//! [`EnrichSettings`]). Building a value validates it: a filter that does not build, an ADX configuration that
//! is incomplete, or a sink named twice is a [`crate::error::Error::Config`] (exit code 2) before any input is read.
//! See ARCHITECTURE.md ("settings").

use crate::error::Error;
use crate::frame::Format;
use hubble_flow::filter::{flowlogs, observe, parse_filter_list, FilterSet, FlowFilterSpec};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How inputs are read and processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSettings {
    /// Framing (`auto` detects per file).
    pub format: Format,
    /// Longest logical line accepted.
    pub max_line_bytes: usize,
    /// Worker threads of the pipeline.
    pub workers: usize,
    /// Let the byte-level prefilter reject lines unparsed.
    pub prefilter: bool,
}

/// Where the filter comes from: raw FlowFilter JSON, a `flowlogs.yaml` entry, `hubble observe` flags. No option
/// at all selects the default (policy-deny drops on egress).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterSettings {
    /// `--allowlist` values (FlowFilter JSON lists), in order.
    pub allowlist: Vec<String>,
    /// `--denylist` values, in order.
    pub denylist: Vec<String>,
    /// `--flowlogs` file.
    pub flowlogs: Option<PathBuf>,
    /// `--flowlog` entry name.
    pub flowlog: Option<String>,
    /// `hubble observe` flags as `(long name, value)` in argv order (`("not", "")` for `--not`).
    pub observe: Vec<(String, String)>,
}

impl FilterSettings {
    /// Whether any filter option was given (otherwise the default filter applies).
    pub fn any(&self) -> bool {
        !self.allowlist.is_empty()
            || !self.denylist.is_empty()
            || self.flowlogs.is_some()
            || !self.observe.is_empty()
    }

    /// Builds the filter set (reading `flowlogs` from disk). Any filter option replaces the default entirely;
    /// as in Cilium, an empty allowlist with a denylist keeps everything not denied.
    pub fn build(&self) -> Result<FilterSet, Error> {
        let config = |e: String| Error::Config(format!("filter: {e}"));
        if !self.any() {
            return FilterSet::build(vec![FilterSet::default_policy_deny_egress()], Vec::new())
                .map_err(|e| config(e.to_string()));
        }
        let mut include: Vec<FlowFilterSpec> = Vec::new();
        let mut exclude: Vec<FlowFilterSpec> = Vec::new();
        for (flag, list, values) in [
            ("--allowlist", &mut include, &self.allowlist),
            ("--denylist", &mut exclude, &self.denylist),
        ] {
            for (i, v) in values.iter().enumerate() {
                let parsed =
                    parse_filter_list(v).map_err(|e| config(format!("{flag} #{}: {e}", i + 1)))?;
                // Build each option's filters alone first, so an error names the option that carries it.
                FilterSet::build(parsed.clone(), Vec::new())
                    .map_err(|e| config(format!("{flag} #{}: {e}", i + 1)))?;
                list.extend(parsed);
            }
        }
        if let Some(path) = &self.flowlogs {
            let file = flowlogs::FlowLogsFile::load(path).map_err(|e| config(e.to_string()))?;
            let entry = file
                .select(self.flowlog.as_deref())
                .map_err(|e| config(e.to_string()))?;
            include.extend(entry.config.include_filters.iter().cloned());
            exclude.extend(entry.config.exclude_filters.iter().cloned());
        }
        if !self.observe.is_empty() {
            let (inc, exc) = observe::filters_from_flags(
                self.observe.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            )
            .map_err(|e| config(e.to_string()))?;
            include.extend(inc);
            exclude.extend(exc);
        }
        FilterSet::build(include, exclude).map_err(|e| config(e.to_string()))
    }
}

/// CIDR-group sources (files, directories, `k8s`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnrichSettings {
    /// The sources, in order.
    pub cidr_groups: Vec<PathBuf>,
}

/// A sink as named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkSpec {
    /// `file:PATH` (gzip when PATH ends in `.gz`).
    File(PathBuf),
    /// `stdout`.
    Stdout,
    /// `adx` (configured by the `--adx-*` options).
    Adx,
}

impl std::str::FromStr for SinkSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "stdout" | "-" => Ok(SinkSpec::Stdout),
            "adx" => Ok(SinkSpec::Adx),
            _ => match s.strip_prefix("file:") {
                Some(p) if !p.is_empty() => Ok(SinkSpec::File(PathBuf::from(p))),
                _ => Err(format!(
                    "unknown sink {s:?}: expected file:PATH, stdout or adx"
                )),
            },
        }
    }
}

/// The sinks of a command, with what they need.
#[derive(Debug, Clone)]
pub struct SinkSettings {
    /// The sinks, in order (each at most once).
    pub specs: Vec<SinkSpec>,
    /// The validated ADX client configuration, present exactly when `specs` names `adx`.
    pub adx: Option<hubble_adx::AdxConfig>,
    /// Where rejected batches are written.
    pub dead_letter_dir: PathBuf,
    /// `run`, ADX queued/managed: where queued blobs' records wait for ADX's report (`STATE_DIR/adx-queued`).
    pub adx_queued_dir: PathBuf,
    /// `run`, ADX queued/managed: how often ADX's ingestion notifications are read.
    pub adx_report_interval: std::time::Duration,
}

/// The output record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordSettings {
    /// Write the original flow object into the `Flow` column.
    pub include_flow: bool,
}

/// What `replay` and `run` share: how input is read and processed, and where records go.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    /// Reading and processing.
    pub input: InputSettings,
    /// The filter's sources (compared on reload).
    pub filter: FilterSettings,
    /// The filter, built and validated.
    pub filter_set: Arc<FilterSet>,
    /// CIDR-group sources (compared on reload).
    pub enrich: EnrichSettings,
    /// Sinks.
    pub sinks: SinkSettings,
    /// Record options.
    pub record: RecordSettings,
}

/// Report file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// One self-contained HTML page (inline CSS and SVG, no script).
    Html,
    /// The same aggregates as JSON, for scripts.
    Json,
}

impl ReportFormat {
    /// The format a report path implies when `--report-format` is not given (`.json` → JSON, else HTML).
    pub fn for_path(path: &std::path::Path) -> ReportFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("json") => ReportFormat::Json,
            _ => ReportFormat::Html,
        }
    }
}

/// `replay`.
#[derive(Debug, Clone)]
pub struct ReplaySettings {
    /// Inputs in order (`-` is stdin).
    pub inputs: Vec<String>,
    /// Processing and sinks.
    pub pipeline: PipelineSettings,
    /// `--report`: where to write the report of the kept flows, and in which format.
    pub report: Option<(PathBuf, ReportFormat)>,
    /// Progress bar on stderr.
    pub progress: bool,
    /// Summary as JSON.
    pub summary_json: bool,
}

/// `filter`.
#[derive(Debug, Clone)]
pub struct FilterCommandSettings {
    /// Inputs in order (`-` is stdin).
    pub inputs: Vec<String>,
    /// Reading and processing.
    pub input: InputSettings,
    /// The filter, built and validated.
    pub filter_set: Arc<FilterSet>,
}

/// Options of the network inputs (`forward://`, `forward+unix://`, `http://`). Secrets are named by file (or
/// read from the environment by the listener code), never held here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSettings {
    /// Record key holding the flow line.
    pub record_key: String,
    /// File holding the Forward shared key.
    pub shared_key_file: Option<PathBuf>,
    /// File of `username:password` lines for the Forward handshake.
    pub users_file: Option<PathBuf>,
    /// Hostname sent in the handshake.
    pub self_hostname: Option<String>,
    /// TLS certificate chain (PEM).
    pub tls_cert_file: Option<PathBuf>,
    /// TLS private key (PEM).
    pub tls_key_file: Option<PathBuf>,
    /// Most connections per listener.
    pub max_connections: usize,
    /// Largest message as received.
    pub max_message_bytes: usize,
    /// Largest decompressed payload of one message.
    pub max_decompressed_bytes: usize,
    /// How long an HTTP request waits for its records to be spooled.
    pub http_ack_timeout: Duration,
}

/// `run` (the daemon).
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// File globs to follow, or `-` alone for stdin.
    pub inputs: Vec<String>,
    /// Spool, checkpoints and dead letters.
    pub state_dir: PathBuf,
    /// Read files present at the first start from their beginning.
    pub read_from_head: bool,
    /// Longest time a kept flow waits in memory.
    pub flush_interval: Duration,
    /// Batch size that triggers spooling.
    pub batch_max_bytes: usize,
    /// Spool size at which reading pauses.
    pub spool_max_bytes: u64,
    /// Grace period for sinks after a stop signal.
    pub shutdown_timeout: Duration,
    /// Where `/metrics`, `/healthz`, `/readyz` are served.
    pub metrics_addr: Option<SocketAddr>,
    /// How often files are polled.
    pub poll_interval: Duration,
    /// Processing and sinks.
    pub pipeline: PipelineSettings,
    /// Network input options.
    pub network: NetworkSettings,
    /// Files whose change means "build the settings again" (the `--config` file).
    pub config_file: Option<PathBuf>,
}

/// Builds [`RunSettings`] again from the sources the process started with (flags, environment, config file), for
/// reloads. Implemented by the command layer, so the daemon never parses a command line.
pub trait SettingsSource: Send {
    /// Reads the sources again and validates the result.
    fn load(&self) -> Result<RunSettings, Error>;
}

/// Checks that no sink is named twice.
pub fn check_unique_sinks(specs: &[SinkSpec]) -> Result<(), Error> {
    for (i, s) in specs.iter().enumerate() {
        if specs[..i].contains(s) {
            return Err(Error::Config(format!("sink {s:?} is configured twice")));
        }
    }
    Ok(())
}
