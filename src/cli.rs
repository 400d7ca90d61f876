//! Command-line interface: clap definitions of the subcommands and options, nothing else (`config.rs` turns them
//! into settings). See ARCHITECTURE.md ("command layer").
//!
//! Filter flags follow `hubble observe`: their relative order matters (`--not` applies to the next flag), so
//! [`observe_flags_in_order`] recovers argv order from clap's indices. Value-less filter flags (`--not`, `-A`,
//! `-4`, `--encrypted`, ...) are appended switches, so that every occurrence keeps its own index; like hubble's
//! (pflag `NoOptDefVal`) they take an optional `=VALUE` that is ignored (`--not=false` is still a `--not`).

use crate::frame::Format;
use crate::settings::SinkSpec;
use clap::{ArgMatches, Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Ship Cilium Hubble flow logs into Azure Data Explorer or local files.
///
/// Reads cilium-agent output (raw, CRI, docker json-file or Fluent Bit records), keeps the flows that matter
/// (default: policy-deny drops on egress, i.e. `--type drop:181 --traffic-direction egress`), tags addresses
/// with their CIDR groups, and writes one flat JSON record per flow.
#[derive(Debug, Parser)]
#[command(name = "hubble-ingest", version, propagate_version = true)]
pub struct Cli {
    /// Subcommand.
    #[command(subcommand)]
    pub command: Command,
    /// Log output format (stderr).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "HUBBLE_INGEST_LOG_FORMAT"
    )]
    pub log_format: LogFormat,
    /// Log level filter (tracing env-filter syntax, e.g. `info`, `hubble_ingest=debug`).
    #[arg(
        long,
        global = true,
        default_value = "info",
        env = "HUBBLE_INGEST_LOG_LEVEL"
    )]
    pub log_level: String,
}

/// Log formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Subcommands.
// Parsed once per process; boxing `RunArgs` would only add noise to every use.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read files (plain or .gz) or stdin to the end, deliver the kept flows, print a summary, exit.
    Replay(ReplayArgs),
    /// Print the input records that pass the filter, byte for byte, in input order (a grep for exporter output).
    Filter(FilterCmdArgs),
    /// Print the CIDR groups (and their labels) that contain each IP, one JSON object per IP.
    CidrLookup(CidrLookupArgs),
    /// Validate filters and CIDR-group sources; exit 2 with file:line messages on error.
    Check(CheckArgs),
    /// Daemon: follow --input files (or stdin), or receive from Fluent Bit/Fluentd (forward://, http://), until
    /// SIGTERM/SIGINT; spool durably, deliver to every sink.
    Run(RunArgs),
    /// Print the KQL for the ADX table, its JSON ingestion mapping, the streaming policy, the extent-tags retention
    /// policy for `ingest-by:` tags, a dedup view and the record's JSON Schema.
    Schema(SchemaArgs),
}

/// `run` options.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Files to follow (glob; repeatable; include rotated names such as `0.log*` so files rotated while the
    /// daemon was down are drained), or `-` for stdin, or network listeners: `forward://HOST:PORT` and
    /// `forward+unix:///PATH` (Fluentd Forward protocol: Fluent Bit/Fluentd `out_forward`), `http://HOST:PORT/PATH`
    /// (Fluent Bit `out_http` json/json_lines/msgpack, NDJSON POSTs). Network listeners can be combined with
    /// each other, not with files or stdin.
    #[arg(
        long = "input",
        value_name = "GLOB|-|URL",
        required = true,
        env = "HUBBLE_INGEST_INPUT",
        value_delimiter = ','
    )]
    pub inputs: Vec<String>,
    /// Spool, checkpoints and dead letters live here.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/var/lib/hubble-ingest",
        env = "HUBBLE_INGEST_STATE_DIR"
    )]
    pub state_dir: PathBuf,
    /// Read files present at the first start from the beginning (default: from their end).
    #[arg(long, env = "HUBBLE_INGEST_READ_FROM_HEAD")]
    pub read_from_head: bool,
    /// Longest time a kept flow waits in memory before its batch is spooled.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration, env = "HUBBLE_INGEST_FLUSH_INTERVAL")]
    pub flush_interval: std::time::Duration,
    /// Batch size that triggers spooling (uncompressed NDJSON bytes).
    #[arg(long, value_name = "SIZE", default_value = "4MiB", value_parser = parse_size, env = "HUBBLE_INGEST_BATCH_MAX_BYTES")]
    pub batch_max_bytes: u64,
    /// Spool size at which reading pauses until sinks catch up (backpressure; nothing is dropped).
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = parse_size, env = "HUBBLE_INGEST_SPOOL_MAX_BYTES")]
    pub spool_max_bytes: u64,
    /// Grace period for sinks after SIGTERM/SIGINT (what is not delivered stays spooled).
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = parse_duration, env = "HUBBLE_INGEST_SHUTDOWN_TIMEOUT")]
    pub shutdown_timeout: std::time::Duration,
    /// Serve /metrics, /healthz and /readyz on this address (e.g. 0.0.0.0:9090).
    #[arg(long, value_name = "ADDR", env = "HUBBLE_INGEST_METRICS_ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// How often files are polled for new data.
    #[arg(long, value_name = "DURATION", default_value = "250ms", value_parser = parse_duration, env = "HUBBLE_INGEST_POLL_INTERVAL")]
    pub poll_interval: std::time::Duration,
    /// Input options.
    #[command(flatten)]
    pub input: InputArgs,
    /// Network input options.
    #[command(flatten)]
    pub network: NetworkArgs,
    /// Filter options.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Enrichment options.
    #[command(flatten)]
    pub enrich: EnrichArgs,
    /// Where records go: `file:PATH` (`.gz` → gzip), `stdout`, `adx`; repeatable.
    #[arg(
        long = "sink",
        value_name = "SINK",
        required = true,
        env = "HUBBLE_INGEST_SINK",
        value_delimiter = ','
    )]
    pub sinks: Vec<SinkSpec>,
    /// Leave the original flow object out of the records (the `Flow` column).
    #[arg(long, env = "HUBBLE_INGEST_NO_FLOW_COLUMN")]
    pub no_flow_column: bool,
    /// ADX sink options.
    #[command(flatten)]
    pub adx: AdxArgs,
}

/// Options of the network inputs (`forward://`, `forward+unix://`, `http://`).
///
/// Secrets are read from files (or, for the shared key, the `HUBBLE_INGEST_SHARED_KEY` environment variable),
/// never from the command line.
#[derive(Debug, Clone, Args)]
pub struct NetworkArgs {
    /// The record key holding the exporter line (Fluent Bit's tail input with the CRI parser: `log`). Records
    /// without it that carry a `flow` key are taken whole as the exporter object.
    #[arg(
        long,
        value_name = "KEY",
        default_value = "log",
        env = "HUBBLE_INGEST_RECORD_KEY"
    )]
    pub record_key: String,
    /// File holding the Forward shared key (enables the HELO/PING/PONG handshake; clients must use the same
    /// `Shared_Key`). Alternatively set HUBBLE_INGEST_SHARED_KEY in the environment.
    #[arg(long, value_name = "FILE", env = "HUBBLE_INGEST_SHARED_KEY_FILE")]
    pub shared_key_file: Option<PathBuf>,
    /// File of `username:password` lines: Forward clients must also send one of these (needs a shared key).
    #[arg(long, value_name = "FILE", env = "HUBBLE_INGEST_USERS_FILE")]
    pub users_file: Option<PathBuf>,
    /// Hostname the Forward server announces in the handshake (default: the host's name).
    #[arg(long, value_name = "NAME", env = "HUBBLE_INGEST_SELF_HOSTNAME")]
    pub self_hostname: Option<String>,
    /// PEM certificate chain for TLS on the network inputs (reloaded when it changes).
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key_file",
        env = "HUBBLE_INGEST_TLS_CERT_FILE"
    )]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key for TLS on the network inputs (reloaded when it changes).
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_cert_file",
        env = "HUBBLE_INGEST_TLS_KEY_FILE"
    )]
    pub tls_key_file: Option<PathBuf>,
    /// Most connections open at once per network listener; more are closed at once and counted.
    #[arg(
        long,
        value_name = "N",
        default_value = "256",
        env = "HUBBLE_INGEST_MAX_CONNECTIONS"
    )]
    pub max_connections: usize,
    /// Largest Forward message or HTTP body, as received; larger ones close the connection (Forward) or get 413.
    #[arg(long, value_name = "SIZE", default_value = "16MiB", value_parser = parse_size, env = "HUBBLE_INGEST_MAX_MESSAGE_BYTES")]
    pub max_message_bytes: u64,
    /// Largest decompressed size of one message (gzip/zstd); more is refused as a decompression bomb.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size, env = "HUBBLE_INGEST_MAX_DECOMPRESSED_BYTES")]
    pub max_decompressed_bytes: u64,
    /// Longest an HTTP request waits for its records to be durable (spooled, or written by a local file sink)
    /// before it is answered 503 (retry).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration, env = "HUBBLE_INGEST_HTTP_ACK_TIMEOUT")]
    pub http_ack_timeout: std::time::Duration,
}

/// `schema` options.
#[derive(Debug, Clone, Args)]
pub struct SchemaArgs {
    /// Table name.
    #[arg(long, default_value = "HubbleFlows")]
    pub table: String,
    /// JSON ingestion mapping name.
    #[arg(long, default_value = "HubbleFlowsMapping")]
    pub mapping: String,
}

/// ADX ingestion modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AdxMode {
    /// Streaming ingestion (seconds of latency; 4 MiB per request).
    Streaming,
    /// Queued ingestion through blob + queue (minutes of latency; dedup by batch id).
    Queued,
    /// Streaming, falling back to queued on 413 or exhausted transient retries.
    Managed,
}

/// Dedup tags on queued blobs (`--adx-dedup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AdxDedup {
    /// Tag each queued blob `ingest-by:<batch id>` with ingestIfNotExists: a re-sent batch is not ingested
    /// twice, at the cost of one extent tag per blob and no aggregation (expire the tags with the policy
    /// `hubble-ingest schema` prints).
    IngestBy,
    /// No tags: blobs aggregate and no tag metadata accumulates, but a batch re-sent after a lost reply is
    /// ingested twice (duplicates are removable by Uuid).
    None,
}

/// Azure AD authentication methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AdxAuth {
    /// AKS workload identity (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE).
    WorkloadIdentity,
    /// Managed identity through IMDS (`--adx-client-id` for a user-assigned identity).
    ManagedIdentity,
    /// Service principal; secret from AZURE_CLIENT_SECRET or --adx-client-secret-file (never a flag value).
    ClientSecret,
}

/// ADX sink options.
#[derive(Debug, Clone, Args)]
pub struct AdxArgs {
    /// Cluster URL (https; http only for a loopback emulator).
    #[arg(long, value_name = "URL", env = "HUBBLE_INGEST_ADX_CLUSTER")]
    pub adx_cluster: Option<String>,
    /// Database.
    #[arg(long, value_name = "DB", env = "HUBBLE_INGEST_ADX_DATABASE")]
    pub adx_database: Option<String>,
    /// Table.
    #[arg(
        long,
        value_name = "TABLE",
        default_value = "HubbleFlows",
        env = "HUBBLE_INGEST_ADX_TABLE"
    )]
    pub adx_table: String,
    /// JSON ingestion mapping (see `hubble-ingest schema`).
    #[arg(
        long,
        value_name = "MAPPING",
        default_value = "HubbleFlowsMapping",
        env = "HUBBLE_INGEST_ADX_MAPPING"
    )]
    pub adx_mapping: String,
    /// Ingestion mode.
    #[arg(
        long,
        value_enum,
        default_value = "streaming",
        env = "HUBBLE_INGEST_ADX_MODE"
    )]
    pub adx_mode: AdxMode,
    /// Authentication.
    #[arg(
        long,
        value_enum,
        default_value = "workload-identity",
        env = "HUBBLE_INGEST_ADX_AUTH"
    )]
    pub adx_auth: AdxAuth,
    /// Data-management endpoint for queued ingestion (default: the cluster URL with `ingest-` prefixed).
    #[arg(long, value_name = "URL", env = "HUBBLE_INGEST_ADX_INGEST_ENDPOINT")]
    pub adx_ingest_endpoint: Option<String>,
    /// Client id of a user-assigned managed identity.
    #[arg(long, value_name = "ID", env = "HUBBLE_INGEST_ADX_CLIENT_ID")]
    pub adx_client_id: Option<String>,
    /// File holding the client secret (for --adx-auth client-secret).
    #[arg(
        long,
        value_name = "FILE",
        env = "HUBBLE_INGEST_ADX_CLIENT_SECRET_FILE"
    )]
    pub adx_client_secret_file: Option<PathBuf>,
    /// Azure AD token scope (default: `{KustoServiceResourceId}/.default` from the cluster's
    /// `/v1/rest/auth/metadata`, `https://kusto.kusto.windows.net/.default` if it answers 404).
    #[arg(long, value_name = "SCOPE", env = "HUBBLE_INGEST_ADX_SCOPE")]
    pub adx_scope: Option<String>,
    /// Dedup tags on queued blobs (queued and managed modes; streaming has none).
    #[arg(
        long,
        value_enum,
        default_value = "ingest-by",
        env = "HUBBLE_INGEST_ADX_DEDUP"
    )]
    pub adx_dedup: AdxDedup,
    /// `run` with queued or managed ingestion: how often ADX's failed/successful-ingestions notifications are
    /// read (a queued blob's records are kept in STATE_DIR/adx-queued until ADX reports on it).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration, env = "HUBBLE_INGEST_ADX_REPORT_INTERVAL")]
    pub adx_report_interval: std::time::Duration,
    /// Requests in flight at once.
    #[arg(
        long,
        value_name = "N",
        default_value = "4",
        env = "HUBBLE_INGEST_ADX_CONCURRENCY"
    )]
    pub adx_concurrency: usize,
    /// Longest time one ADX request keeps being retried after transient failures (429, 5xx, timeouts, refused
    /// connections) before its records count as not delivered: `replay` dead-letters them and exits 1, `run`
    /// keeps them spooled and tries again later. `unbounded` retries until shutdown. Default: 10m for
    /// `replay`, unbounded for `run`.
    #[arg(long, value_name = "DURATION|unbounded", value_parser = parse_retry_budget, env = "HUBBLE_INGEST_ADX_MAX_RETRY_DURATION")]
    pub adx_max_retry_duration: Option<RetryBudget>,
}

/// A retry budget: a duration, or `unbounded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryBudget {
    /// Retry until shutdown.
    Unbounded,
    /// Give up after this long.
    For(std::time::Duration),
}

/// Parses `unbounded` or a duration (`30s`, `10m`, `1h`).
pub fn parse_retry_budget(s: &str) -> Result<RetryBudget, String> {
    if s.trim().eq_ignore_ascii_case("unbounded") {
        return Ok(RetryBudget::Unbounded);
    }
    match parse_duration(s)? {
        d if d.is_zero() => {
            Err("a retry duration of 0 would never retry; use e.g. 30s, or unbounded".into())
        }
        d => Ok(RetryBudget::For(d)),
    }
}

/// `replay` options.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// Input files (plain or gzip, detected by content), or `-` for stdin; read in the given order.
    #[arg(required = true, value_name = "PATH|-")]
    pub inputs: Vec<String>,
    /// Input options.
    #[command(flatten)]
    pub input: InputArgs,
    /// Filter options.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Enrichment options.
    #[command(flatten)]
    pub enrich: EnrichArgs,
    /// Where records go: `file:PATH` (`.gz` → gzip), `stdout`, `adx` (4 MiB batches, several in flight; dead
    /// letters under --state-dir); repeatable.
    #[arg(
        long = "sink",
        value_name = "SINK",
        default_value = "stdout",
        env = "HUBBLE_INGEST_SINK",
        value_delimiter = ','
    )]
    pub sinks: Vec<SinkSpec>,
    /// Leave the original flow object out of the records (the `Flow` column).
    #[arg(long)]
    pub no_flow_column: bool,
    /// Progress bar on stderr: auto (when stderr is a terminal), always, never.
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: ProgressMode,
    /// Print the summary as JSON (on stderr) instead of text.
    #[arg(long)]
    pub summary_json: bool,
    /// Also write a report of the kept flows to FILE: one self-contained HTML page (timeline by drop reason,
    /// sources × destinations, top destinations/pods/ports/nodes/policies, inputs, filter, skipped lines; no
    /// network needed to view it), or JSON with the same numbers. Memory stays bounded on any input.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Format of --report: html or json (default: json for a `.json` file name, else html).
    #[arg(long, value_enum, value_name = "FORMAT", requires = "report")]
    pub report_format: Option<ReportFormatArg>,
    /// Dead letters of the ADX sink go under this directory.
    #[arg(
        long,
        value_name = "DIR",
        default_value = ".hubble-ingest",
        env = "HUBBLE_INGEST_STATE_DIR"
    )]
    pub state_dir: PathBuf,
    /// ADX sink options.
    #[command(flatten)]
    pub adx: AdxArgs,
}

/// `filter` options.
#[derive(Debug, Clone, Args)]
pub struct FilterCmdArgs {
    /// Input files (plain or gzip), or `-`; stdin when none is given.
    #[arg(value_name = "PATH|-")]
    pub inputs: Vec<String>,
    /// Input options.
    #[command(flatten)]
    pub input: InputArgs,
    /// Filter options.
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// `cidr-lookup` options.
#[derive(Debug, Clone, Args)]
pub struct CidrLookupArgs {
    /// Enrichment sources.
    #[command(flatten)]
    pub enrich: EnrichArgs,
    /// Addresses to look up.
    #[arg(required = true, value_name = "IP")]
    pub ips: Vec<String>,
}

/// `check` options.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Filter options.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Enrichment options.
    #[command(flatten)]
    pub enrich: EnrichArgs,
}

/// Progress bar modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// When stderr is a terminal.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// `--report-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormatArg {
    /// One self-contained HTML page (inline CSS and SVG, no script).
    Html,
    /// The same aggregates as JSON, for scripts.
    Json,
}

/// Input framing, as chosen on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Detect per file from its first non-empty line.
    Auto,
    /// One record per line.
    Raw,
    /// CRI container log (containerd, CRI-O).
    Cri,
    /// Docker json-file log.
    Docker,
    /// Fluent Bit JSON records (`{"log":..}` objects or `[time, {..}]` arrays).
    Fluentbit,
    /// A Fluentd `out_exec` chunk written with `<format> json` (one record per line); `replay` exits non-zero
    /// when any line cannot be read, so Fluentd retries the chunk.
    FluentdJson,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Auto => Format::Auto,
            FormatArg::Raw => Format::Raw,
            FormatArg::Cri => Format::Cri,
            FormatArg::Docker => Format::Docker,
            FormatArg::Fluentbit => Format::Fluentbit,
            FormatArg::FluentdJson => Format::FluentdJson,
        }
    }
}

/// Input framing options.
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// Input framing; `auto` detects per file.
    #[arg(long, value_enum, default_value = "auto", env = "HUBBLE_INGEST_FORMAT")]
    pub format: FormatArg,
    /// Longest logical line accepted; longer ones are counted and skipped (sizes like `1MiB` or bytes).
    #[arg(long, default_value = "1MiB", value_parser = parse_size, env = "HUBBLE_INGEST_MAX_LINE_BYTES")]
    pub max_line_bytes: u64,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Parse every line: exact per-kind counts of lines that can never be kept (slower). By default a byte-level
    /// prefilter rejects such lines unparsed, checking them only for truncation.
    #[arg(long)]
    pub no_prefilter: bool,
}

/// CIDR-group enrichment options.
#[derive(Debug, Clone, Args, Default)]
pub struct EnrichArgs {
    /// CIDR-group source: a file or directory of CiliumCIDRGroup / Calico network set manifests or plain CIDR
    /// lists (group = file stem); repeatable.
    #[arg(
        long = "cidr-groups",
        value_name = "PATH",
        env = "HUBBLE_INGEST_CIDR_GROUPS",
        value_delimiter = ','
    )]
    pub cidr_groups: Vec<PathBuf>,
}

/// Filter options: raw FlowFilters, a Cilium `flowlogs.yaml`, or `hubble observe` flags.
/// No filter option at all selects the default (policy-deny drops on egress).
#[derive(Debug, Clone, Args, Default)]
pub struct FilterArgs {
    /// A Hubble FlowFilter as JSON (proto or lowerCamel names) to include; repeatable, OR-ed.
    #[arg(long, value_name = "JSON")]
    pub allowlist: Vec<String>,
    /// A Hubble FlowFilter as JSON to exclude; repeatable, OR-ed; exclusion wins.
    #[arg(long, value_name = "JSON")]
    pub denylist: Vec<String>,
    /// Take include/exclude filters from a Cilium dynamic exporter `flowlogs.yaml`.
    #[arg(long, value_name = "FILE", env = "HUBBLE_INGEST_FLOWLOGS")]
    pub flowlogs: Option<PathBuf>,
    /// Which `flowLogs` entry of `--flowlogs` to use (required when it has several).
    #[arg(long, value_name = "NAME", requires = "flowlogs")]
    pub flowlog: Option<String>,
    /// The next filter flag goes to the denylist (as `hubble observe --not`); repeatable, one per negated flag.
    #[arg(long, action = clap::ArgAction::Append, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub not: Vec<String>,
    /// Verdict (FORWARDED, DROPPED, ERROR, AUDIT, REDIRECTED, TRACED, TRANSLATED).
    #[arg(long, value_name = "VERDICT")]
    pub verdict: Vec<String>,
    /// Traffic direction (ingress, egress).
    #[arg(long, value_name = "DIR")]
    pub traffic_direction: Vec<String>,
    /// Event type `TYPE[:SUB]` (drop, trace, l7, policy-verdict, ... or numbers), e.g. `drop:181`.
    #[arg(long = "type", short = 't', value_name = "TYPE[:SUB]")]
    pub event_type: Vec<String>,
    /// Drop reason description (e.g. POLICY_DENY).
    #[arg(long, value_name = "REASON")]
    pub drop_reason_desc: Vec<String>,
    /// Source pod `[namespace/]pod-prefix`.
    #[arg(long, value_name = "POD")]
    pub from_pod: Vec<String>,
    /// Destination pod `[namespace/]pod-prefix`.
    #[arg(long, value_name = "POD")]
    pub to_pod: Vec<String>,
    /// Source or destination pod.
    #[arg(long, value_name = "POD")]
    pub pod: Vec<String>,
    /// Source or destination namespace.
    #[arg(long, short = 'n', value_name = "NS")]
    pub namespace: Vec<String>,
    /// Source namespace.
    #[arg(long, value_name = "NS")]
    pub from_namespace: Vec<String>,
    /// Destination namespace.
    #[arg(long, value_name = "NS")]
    pub to_namespace: Vec<String>,
    /// Source IP or CIDR.
    #[arg(long, value_name = "IP")]
    pub from_ip: Vec<String>,
    /// Destination IP or CIDR.
    #[arg(long, value_name = "IP")]
    pub to_ip: Vec<String>,
    /// Source or destination IP or CIDR.
    #[arg(long, value_name = "IP")]
    pub ip: Vec<String>,
    /// Source label selector.
    #[arg(long, value_name = "SELECTOR")]
    pub from_label: Vec<String>,
    /// Destination label selector.
    #[arg(long, value_name = "SELECTOR")]
    pub to_label: Vec<String>,
    /// Source or destination label selector.
    #[arg(long, short = 'l', value_name = "SELECTOR")]
    pub label: Vec<String>,
    /// Source FQDN pattern.
    #[arg(long, value_name = "FQDN")]
    pub from_fqdn: Vec<String>,
    /// Destination FQDN pattern.
    #[arg(long, value_name = "FQDN")]
    pub to_fqdn: Vec<String>,
    /// Source or destination FQDN pattern.
    #[arg(long, value_name = "FQDN")]
    pub fqdn: Vec<String>,
    /// Node name pattern (`[cluster/]node`, wildcards allowed).
    #[arg(long, value_name = "NODE")]
    pub node_name: Vec<String>,
    /// L4/L7 protocol (tcp, udp, icmp, icmpv4, icmpv6, sctp, dns, http, kafka, ...).
    #[arg(long, value_name = "PROTO")]
    pub protocol: Vec<String>,
    /// Source port.
    #[arg(long, value_name = "PORT")]
    pub from_port: Vec<String>,
    /// Destination port.
    #[arg(long, value_name = "PORT")]
    pub to_port: Vec<String>,
    /// Source or destination port.
    #[arg(long, value_name = "PORT")]
    pub port: Vec<String>,
    /// Source identity.
    #[arg(long, value_name = "ID")]
    pub from_identity: Vec<String>,
    /// Destination identity.
    #[arg(long, value_name = "ID")]
    pub to_identity: Vec<String>,
    /// Source or destination identity.
    #[arg(long, value_name = "ID")]
    pub identity: Vec<String>,
    /// Source cluster name.
    #[arg(long, value_name = "CLUSTER")]
    pub from_cluster: Vec<String>,
    /// Destination cluster name.
    #[arg(long, value_name = "CLUSTER")]
    pub to_cluster: Vec<String>,
    /// Source or destination cluster name.
    #[arg(long, value_name = "CLUSTER")]
    pub cluster: Vec<String>,
    /// Set TCP flags, e.g. `SYN,ACK`.
    #[arg(long, value_name = "FLAGS")]
    pub tcp_flags: Vec<String>,
    /// Flow UUID.
    #[arg(long, value_name = "UUID")]
    pub uuid: Vec<String>,
    /// HTTP status code (`200`, `5+`).
    #[arg(long, value_name = "CODE")]
    pub http_status: Vec<String>,
    /// HTTP method.
    #[arg(long, value_name = "METHOD")]
    pub http_method: Vec<String>,
    /// HTTP path regular expression.
    #[arg(long, value_name = "REGEX")]
    pub http_path: Vec<String>,
    /// HTTP URL regular expression.
    #[arg(long, value_name = "REGEX")]
    pub http_url: Vec<String>,
    /// HTTP header `name:value` (exact match).
    #[arg(long, value_name = "NAME:VALUE")]
    pub http_header: Vec<String>,
    /// Source or destination workload `[kind/]name`.
    #[arg(long, value_name = "WORKLOAD")]
    pub workload: Vec<String>,
    /// Source workload `[kind/]name`.
    #[arg(long, value_name = "WORKLOAD")]
    pub from_workload: Vec<String>,
    /// Destination workload `[kind/]name`.
    #[arg(long, value_name = "WORKLOAD")]
    pub to_workload: Vec<String>,
    /// Source or destination service `[namespace/]name`.
    #[arg(long, value_name = "SERVICE")]
    pub service: Vec<String>,
    /// Source service `[namespace/]name`.
    #[arg(long, value_name = "SERVICE")]
    pub from_service: Vec<String>,
    /// Destination service `[namespace/]name`.
    #[arg(long, value_name = "SERVICE")]
    pub to_service: Vec<String>,
    /// Source and destination in any namespace (as `hubble observe -A`).
    #[arg(long, short = 'A', action = clap::ArgAction::Append, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub all_namespaces: Vec<String>,
    /// Source in any namespace.
    #[arg(long, action = clap::ArgAction::Append, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub from_all_namespaces: Vec<String>,
    /// Destination in any namespace.
    #[arg(long, action = clap::ArgAction::Append, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub to_all_namespaces: Vec<String>,
    /// IP version (`4`/`v4`/`ipv4`, `6`/`v6`/`ipv6`).
    #[arg(long, value_name = "VERSION")]
    pub ip_version: Vec<String>,
    /// IPv4 flows only (`--ip-version 4`).
    #[arg(long, short = '4', action = clap::ArgAction::Append, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub ipv4: Vec<String>,
    /// IPv6 flows only (`--ip-version 6`).
    #[arg(long, short = '6', action = clap::ArgAction::Append, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub ipv6: Vec<String>,
    /// Node label selector.
    #[arg(long, value_name = "SELECTOR")]
    pub node_label: Vec<String>,
    /// Network interface name the flow was observed on.
    #[arg(long, value_name = "NAME")]
    pub interface: Vec<String>,
    /// Source IP after SNAT (IP or CIDR).
    #[arg(long, value_name = "IP")]
    pub snat_ip: Vec<String>,
    /// Trace ID (`trace_context.parent.trace_id`).
    #[arg(long, value_name = "ID")]
    pub trace_id: Vec<String>,
    /// IP option trace ID (a positive integer).
    #[arg(long, value_name = "ID")]
    pub ip_trace_id: Vec<String>,
    /// Encrypted flows only.
    #[arg(long, action = clap::ArgAction::Append, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub encrypted: Vec<String>,
    /// Unencrypted flows only.
    #[arg(long, action = clap::ArgAction::Append, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub unencrypted: Vec<String>,
    /// CEL expression (accepted as `hubble observe` accepts it; building the filter fails: CEL is not supported).
    #[arg(long, value_name = "EXPR")]
    pub cel_expression: Vec<String>,
}

/// The `hubble observe` flags, by clap id and long name, in the order the engine knows them.
pub const OBSERVE_FLAGS: &[(&str, &str)] = &[
    ("not", "not"),
    ("verdict", "verdict"),
    ("traffic_direction", "traffic-direction"),
    ("event_type", "type"),
    ("drop_reason_desc", "drop-reason-desc"),
    ("from_pod", "from-pod"),
    ("to_pod", "to-pod"),
    ("pod", "pod"),
    ("namespace", "namespace"),
    ("from_namespace", "from-namespace"),
    ("to_namespace", "to-namespace"),
    ("from_ip", "from-ip"),
    ("to_ip", "to-ip"),
    ("ip", "ip"),
    ("from_label", "from-label"),
    ("to_label", "to-label"),
    ("label", "label"),
    ("from_fqdn", "from-fqdn"),
    ("to_fqdn", "to-fqdn"),
    ("fqdn", "fqdn"),
    ("node_name", "node-name"),
    ("protocol", "protocol"),
    ("from_port", "from-port"),
    ("to_port", "to-port"),
    ("port", "port"),
    ("from_identity", "from-identity"),
    ("to_identity", "to-identity"),
    ("identity", "identity"),
    ("from_cluster", "from-cluster"),
    ("to_cluster", "to-cluster"),
    ("cluster", "cluster"),
    ("tcp_flags", "tcp-flags"),
    ("uuid", "uuid"),
    ("http_status", "http-status"),
    ("http_method", "http-method"),
    ("http_path", "http-path"),
    ("http_url", "http-url"),
    ("http_header", "http-header"),
    ("workload", "workload"),
    ("from_workload", "from-workload"),
    ("to_workload", "to-workload"),
    ("service", "service"),
    ("from_service", "from-service"),
    ("to_service", "to-service"),
    ("all_namespaces", "all-namespaces"),
    ("from_all_namespaces", "from-all-namespaces"),
    ("to_all_namespaces", "to-all-namespaces"),
    ("ip_version", "ip-version"),
    ("ipv4", "ipv4"),
    ("ipv6", "ipv6"),
    ("node_label", "node-label"),
    ("interface", "interface"),
    ("snat_ip", "snat-ip"),
    ("trace_id", "trace-id"),
    ("ip_trace_id", "ip-trace-id"),
    ("encrypted", "encrypted"),
    ("unencrypted", "unencrypted"),
    ("cel_expression", "cel-expression"),
];

/// The value-less `hubble observe` flags of [`OBSERVE_FLAGS`] (clap ids): each occurrence is recorded.
const OBSERVE_SWITCHES: &[&str] = &[
    "not",
    "all_namespaces",
    "from_all_namespaces",
    "to_all_namespaces",
    "ipv4",
    "ipv6",
    "encrypted",
    "unencrypted",
];

/// The `hubble observe` flags given, as `(long name, value)` in argv order (`("not", "")` for `--not`).
pub fn observe_flags_in_order(m: &ArgMatches) -> Vec<(String, String)> {
    let mut v: Vec<(usize, String, String)> = Vec::new();
    for &(id, long) in OBSERVE_FLAGS {
        if !matches!(m.try_contains_id(id), Ok(true))
            || m.value_source(id) != Some(clap::parser::ValueSource::CommandLine)
        {
            continue;
        }
        if OBSERVE_SWITCHES.contains(&id) {
            // Every occurrence of a switch is one appended value with its own index (`--not --x a --not --y b`).
            if let Some(idx) = m.indices_of(id) {
                for i in idx {
                    let value = if id == "not" {
                        String::new()
                    } else {
                        "true".to_owned()
                    };
                    v.push((i, long.to_owned(), value));
                }
            }
            continue;
        }
        if let (Some(idx), Some(vals)) = (m.indices_of(id), m.get_many::<String>(id)) {
            for (i, val) in idx.zip(vals) {
                v.push((i, long.to_owned(), val.clone()));
            }
        }
    }
    v.sort_by_key(|(i, _, _)| *i);
    v.into_iter().map(|(_, k, val)| (k, val)).collect()
}

/// Parses durations like `200ms`, `5s`, `1m`, `1h` (a plain number is seconds).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: expected e.g. 200ms, 5s, 1m"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        other => {
            return Err(format!(
                "invalid duration unit {other:?} in {s:?}: use ms, s, m or h"
            ))
        }
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("invalid duration {s:?}"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// Parses sizes like `4MiB`, `512KiB`, `1GB`, `1048576`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid size {s:?}: expected e.g. 4MiB or 1048576"))?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "Ki" | "K" | "k" => 1 << 10,
        "MiB" | "Mi" | "M" => 1 << 20,
        "GiB" | "Gi" | "G" => 1 << 30,
        "KB" | "kB" => 1000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "invalid size unit {other:?} in {s:?}: use B, KiB, MiB, GiB, KB, MB or GB"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches};

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn observe_flags_keep_argv_order() {
        let m = Cli::command().get_matches_from([
            "hubble-ingest",
            "replay",
            "x.log",
            "--verdict",
            "DROPPED",
            "--not",
            "--to-ip",
            "10.0.0.1",
            "--type",
            "drop:181",
            "--verdict",
            "AUDIT",
        ]);
        let cli = Cli::from_arg_matches(&m).unwrap();
        assert!(matches!(cli.command, Command::Replay(_)));
        let (_, sub) = m.subcommand().unwrap();
        assert_eq!(
            observe_flags_in_order(sub),
            vec![
                ("verdict".to_owned(), "DROPPED".to_owned()),
                ("not".to_owned(), String::new()),
                ("to-ip".to_owned(), "10.0.0.1".to_owned()),
                ("type".to_owned(), "drop:181".to_owned()),
                ("verdict".to_owned(), "AUDIT".to_owned()),
            ]
        );
    }

    fn flags_of(argv: &[&str]) -> Vec<(String, String)> {
        let mut full = vec!["hubble-ingest", "replay", "x.log"];
        full.extend_from_slice(argv);
        let m = Cli::command().try_get_matches_from(full).unwrap();
        let (_, sub) = m.subcommand().unwrap();
        observe_flags_in_order(sub)
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_not_keeps_its_place() {
        assert_eq!(
            flags_of(&["--not", "--from-ip", "10.0.0.10", "--not", "--port", "443"]),
            pairs(&[
                ("not", ""),
                ("from-ip", "10.0.0.10"),
                ("not", ""),
                ("port", "443")
            ])
        );
        // `--not --not` reaches the translation, which rejects it as hubble does.
        let flags = flags_of(&["--not", "--not", "--verdict", "DROPPED"]);
        assert_eq!(flags.len(), 3);
        let e = hubble_flow::filter::observe::filters_from_flags(flags).unwrap_err();
        assert!(e.to_string().contains("consecutive --not"), "{e}");
    }

    #[test]
    fn switches_and_short_forms_keep_argv_order() {
        assert_eq!(
            flags_of(&[
                "-46",
                "--not",
                "-A",
                "-tdrop",
                "--encrypted",
                "--ip-version",
                "v6"
            ]),
            pairs(&[
                ("ipv4", "true"),
                ("ipv6", "true"),
                ("not", ""),
                ("all-namespaces", "true"),
                ("type", "drop"),
                ("encrypted", "true"),
                ("ip-version", "v6"),
            ])
        );
        assert_eq!(
            flags_of(&[
                "--workload",
                "deployment/api",
                "--to-service",
                "kube-system/kube-dns",
                "--node-label",
                "a=b",
                "--http-header",
                "k:v",
                "--interface",
                "eth0",
                "--snat-ip",
                "1.2.3.4",
                "--trace-id",
                "t",
                "--ip-trace-id",
                "9",
                "--cel-expression",
                "x",
                "--unencrypted",
                "--from-all-namespaces",
                "--to-all-namespaces",
                "--from-workload",
                "a",
                "--to-workload",
                "b",
                "--service",
                "s",
                "--from-service",
                "f",
            ])
            .into_iter()
            .map(|(k, _)| k)
            .collect::<Vec<_>>(),
            [
                "workload",
                "to-service",
                "node-label",
                "http-header",
                "interface",
                "snat-ip",
                "trace-id",
                "ip-trace-id",
                "cel-expression",
                "unencrypted",
                "from-all-namespaces",
                "to-all-namespaces",
                "from-workload",
                "to-workload",
                "service",
                "from-service",
            ]
        );
    }

    #[test]
    fn every_observe_flag_is_a_filter_flag_of_the_engine() {
        for (id, long) in OBSERVE_FLAGS {
            let arg = Cli::command()
                .find_subcommand("replay")
                .and_then(|r| r.get_arguments().find(|a| a.get_id() == id).cloned());
            assert!(arg.is_some(), "{id} is not a replay argument");
            assert!(
                hubble_flow::filter::observe::filter_flag_takes_value(long).is_some(),
                "{long} unknown to the engine"
            );
        }
        for long in hubble_flow::filter::observe::VALUE_FLAGS
            .iter()
            .chain(hubble_flow::filter::observe::BOOLEAN_FLAGS)
        {
            if matches!(*long, "allowlist" | "denylist") {
                continue;
            }
            assert!(
                OBSERVE_FLAGS.iter().any(|(_, l)| l == long),
                "engine flag --{long} has no command-line option"
            );
        }
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("200ms"),
            Ok(std::time::Duration::from_millis(200))
        );
        assert_eq!(parse_duration("5s"), Ok(std::time::Duration::from_secs(5)));
        assert_eq!(parse_duration("1m"), Ok(std::time::Duration::from_secs(60)));
        assert_eq!(parse_duration("3"), Ok(std::time::Duration::from_secs(3)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4MiB"), Ok(4 << 20));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("2 KB"), Ok(2000));
        assert!(parse_size("4XB").is_err());
        assert!(parse_size("MiB").is_err());
    }
}
