//! Configuration of the ADX client: endpoints, database/table/mapping, ingestion mode, auth,
//! concurrency, timeouts and retry policy. Guarantees: [`AdxConfig::validate`] refuses any
//! `http://` cluster, ingest or authority URL whose host is not loopback, and every error names the
//! option it is about and why. Secrets are never stored here: a client secret is referenced by
//! environment variable name or file path and read at token-exchange time.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

/// How batches reach ADX.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestMode {
    /// `POST /v1/rest/ingest/...` on the engine endpoint; data visible in about a second.
    Streaming,
    /// Blob upload + queue message on the `ingest-` endpoint; latency set by the batching policy.
    Queued,
    /// Streaming, falling back to queued on 413/oversize or after transient retries are exhausted.
    Managed,
}

impl std::str::FromStr for IngestMode {
    type Err = ConfigError;

    /// `streaming`, `queued` or `managed` (the `--adx-mode` values).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "streaming" => Ok(IngestMode::Streaming),
            "queued" => Ok(IngestMode::Queued),
            "managed" => Ok(IngestMode::Managed),
            other => Err(ConfigError::Invalid {
                option: "--adx-mode",
                reason: format!("'{other}' is not one of streaming, queued, managed"),
            }),
        }
    }
}

/// How queued blobs are protected against being ingested twice when a batch is re-sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dedup {
    /// Each blob carries `tags: ["ingest-by:<batch id>"]` and `ingestIfNotExists: ["<batch id>"]`:
    /// a re-sent batch (after a lost reply, a restart) is skipped by ADX. Costs one extent tag per
    /// blob and forces single-blob ingestion (no aggregation); expire the tags with the
    /// extent-tags retention policy `hubble-ingest schema` prints.
    IngestBy,
    /// No tags: blobs aggregate freely and no tag metadata accumulates, but a batch re-sent after
    /// a lost reply is ingested twice (remove duplicates by `Uuid`).
    None,
}

impl std::str::FromStr for Dedup {
    type Err = ConfigError;

    /// `ingest-by` or `none` (the `--adx-dedup` values).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ingest-by" => Ok(Dedup::IngestBy),
            "none" => Ok(Dedup::None),
            other => Err(ConfigError::Invalid {
                option: "--adx-dedup",
                reason: format!("'{other}' is not one of ingest-by, none"),
            }),
        }
    }
}

/// Retry policy for transient failures (429, 5xx, timeouts, connection errors).
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// First backoff delay (jittered between 50% and 100%).
    pub initial_backoff: Duration,
    /// Upper bound of the exponential backoff (a server `Retry-After` may exceed it, up to `max_retry_after`).
    pub max_backoff: Duration,
    /// Longest `Retry-After` honoured.
    pub max_retry_after: Duration,
    /// Give up after this many attempts (`None`: never; the default).
    pub max_attempts: Option<u32>,
    /// Give up on a request once this much time has passed since its first attempt (`None`: never; the
    /// default). A retry whose wait would end past it is not started. The binary's `--adx-max-retry-duration`.
    pub max_elapsed: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(600),
            max_attempts: None,
            max_elapsed: None,
        }
    }
}

/// Managed-mode policy.
#[derive(Debug, Clone)]
pub struct ManagedPolicy {
    /// Streaming attempts for one request before it is sent queued instead (the SDKs use 3).
    pub streaming_attempts: u32,
    /// After a fallback caused by exhausted transient retries, send queued for this long, then try streaming again.
    pub streaming_cooldown: Duration,
}

impl Default for ManagedPolicy {
    fn default() -> Self {
        ManagedPolicy {
            streaming_attempts: 3,
            streaming_cooldown: Duration::from_secs(300),
        }
    }
}

/// Where a client secret is read from, at every token exchange (so a rotated secret is picked up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientSecretSource {
    /// Environment variable name (normally `AZURE_CLIENT_SECRET`).
    Env(String),
    /// File whose content (trimmed) is the secret.
    File(PathBuf),
}

/// Azure AD authentication.
#[derive(Debug, Clone)]
pub enum AuthConfig {
    /// AKS workload identity: client assertion from a projected token file, re-read on every exchange.
    WorkloadIdentity {
        tenant_id: String,
        client_id: String,
        token_file: PathBuf,
        authority: Url,
    },
    /// Managed identity through IMDS (`client_id: None` = system-assigned).
    ManagedIdentity {
        client_id: Option<String>,
        /// IMDS base URL, `http://169.254.169.254` unless overridden (tests).
        endpoint: Url,
    },
    /// Service principal with a client secret.
    ClientSecret {
        tenant_id: String,
        client_id: String,
        secret: ClientSecretSource,
        authority: Url,
    },
    /// A fixed bearer token (local emulators, tests). Never expires, never refreshed.
    StaticToken(crate::Secret),
}

/// The public Azure AD authority.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com/";
/// The IMDS base URL.
pub const DEFAULT_IMDS_ENDPOINT: &str = "http://169.254.169.254";
/// The scope the Azure SDKs request for Kusto in the public cloud (used when the cluster has no
/// auth metadata endpoint).
pub const DEFAULT_SCOPE: &str = "https://kusto.kusto.windows.net/.default";
/// Largest uncompressed body per streaming request (ADX limit: 4 MB).
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

impl AuthConfig {
    /// Workload identity from `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_FEDERATED_TOKEN_FILE`,
    /// `AZURE_AUTHORITY_HOST` (optional).
    pub fn workload_identity_from_env() -> Result<Self, ConfigError> {
        Self::workload_identity_from(|k| std::env::var(k).ok())
    }

    /// As [`AuthConfig::workload_identity_from_env`], with a custom variable lookup.
    pub fn workload_identity_from(
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        Ok(AuthConfig::WorkloadIdentity {
            tenant_id: required_env(&env, "AZURE_TENANT_ID")?,
            client_id: required_env(&env, "AZURE_CLIENT_ID")?,
            token_file: PathBuf::from(required_env(&env, "AZURE_FEDERATED_TOKEN_FILE")?),
            authority: authority_from(&env)?,
        })
    }

    /// Client secret: `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, and the secret from `secret_file` if
    /// given, else from `AZURE_CLIENT_SECRET` (which must then be set).
    pub fn client_secret_from_env(secret_file: Option<PathBuf>) -> Result<Self, ConfigError> {
        Self::client_secret_from(|k| std::env::var(k).ok(), secret_file)
    }

    /// As [`AuthConfig::client_secret_from_env`], with a custom variable lookup.
    pub fn client_secret_from(
        env: impl Fn(&str) -> Option<String>,
        secret_file: Option<PathBuf>,
    ) -> Result<Self, ConfigError> {
        let secret = match secret_file {
            Some(path) => ClientSecretSource::File(path),
            None => {
                required_env(&env, "AZURE_CLIENT_SECRET")?;
                ClientSecretSource::Env("AZURE_CLIENT_SECRET".to_string())
            }
        };
        Ok(AuthConfig::ClientSecret {
            tenant_id: required_env(&env, "AZURE_TENANT_ID")?,
            client_id: required_env(&env, "AZURE_CLIENT_ID")?,
            secret,
            authority: authority_from(&env)?,
        })
    }

    /// Managed identity via IMDS; `client_id` selects a user-assigned identity.
    pub fn managed_identity(client_id: Option<String>) -> Self {
        AuthConfig::ManagedIdentity {
            client_id,
            endpoint: default_imds(),
        }
    }
}

fn default_imds() -> Url {
    #[allow(clippy::expect_used)]
    Url::parse(DEFAULT_IMDS_ENDPOINT).expect("the IMDS constant is a valid URL")
}

fn required_env(
    env: &impl Fn(&str) -> Option<String>,
    var: &'static str,
) -> Result<String, ConfigError> {
    match env(var) {
        Some(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
        _ => Err(ConfigError::MissingEnv { var }),
    }
}

fn authority_from(env: &impl Fn(&str) -> Option<String>) -> Result<Url, ConfigError> {
    let raw = env("AZURE_AUTHORITY_HOST")
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_AUTHORITY.to_string());
    parse_url("AZURE_AUTHORITY_HOST", raw.trim())
}

/// Parses a URL, naming the option in the error.
pub fn parse_url(option: &'static str, raw: &str) -> Result<Url, ConfigError> {
    Url::parse(raw).map_err(|e| ConfigError::Invalid {
        option,
        reason: format!("'{raw}' is not a URL: {e}"),
    })
}

/// Everything the client needs. Build with [`AdxConfig::new`] and adjust fields.
#[derive(Debug, Clone)]
pub struct AdxConfig {
    /// Engine endpoint, e.g. `https://mycluster.westeurope.kusto.windows.net`.
    pub cluster: Url,
    /// Data-management endpoint for queued ingestion (default: cluster host prefixed with `ingest-`).
    pub ingest_endpoint: Option<Url>,
    pub database: String,
    pub table: String,
    /// Name of the pre-created JSON ingestion mapping.
    pub mapping: String,
    pub mode: IngestMode,
    pub auth: AuthConfig,
    /// HTTP requests in flight across all `ingest` calls (default 4).
    pub concurrency: usize,
    /// Whole-request timeout (default 60 s).
    pub request_timeout: Duration,
    /// TCP/TLS connect timeout (default 10 s).
    pub connect_timeout: Duration,
    /// AAD scope; `None` (the default): `{KustoServiceResourceId}/.default` from the cluster's
    /// `/v1/rest/auth/metadata`, or [`DEFAULT_SCOPE`] when the cluster answers 404 there.
    pub scope: Option<String>,
    /// Dedup tags on queued blobs (default: `ingest-by`).
    pub dedup: Dedup,
    /// Queued blobs ask for success notifications too (`ReportLevel` 2 instead of 0), so a caller
    /// keeping a copy until ADX reports can release it ([`crate::AdxClient::poll_reports`]).
    pub report_successes: bool,
    /// Sent as `x-ms-app` and in `x-ms-client-request-id`.
    pub app_name: String,
    pub app_version: String,
    pub retry: RetryPolicy,
    pub managed: ManagedPolicy,
    /// Largest uncompressed body per streaming request (default 4 MiB).
    pub max_request_bytes: usize,
    /// gzip level 0-9 (default 1: zlib-rs level 1 is several times faster than 6 for ~10% more bytes).
    pub gzip_level: u32,
    /// How long `.get ingestion resources` / identity token results are reused (default 1 h).
    pub resources_refresh: Duration,
    /// Extra trusted CA certificates (PEM), added to the system roots (TLS-inspecting proxies,
    /// private endpoints, tests).
    pub extra_ca_certificates_pem: Vec<Vec<u8>>,
    /// Told about every retry (metrics in the caller); none by default.
    pub observer: crate::observe::Observer,
}

impl AdxConfig {
    /// A configuration with every default: streaming mode, concurrency 4, unlimited retries.
    pub fn new(
        cluster: Url,
        database: impl Into<String>,
        table: impl Into<String>,
        mapping: impl Into<String>,
        auth: AuthConfig,
    ) -> Self {
        AdxConfig {
            cluster,
            ingest_endpoint: None,
            database: database.into(),
            table: table.into(),
            mapping: mapping.into(),
            mode: IngestMode::Streaming,
            auth,
            concurrency: 4,
            request_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            scope: None,
            dedup: Dedup::IngestBy,
            report_successes: false,
            app_name: "hubble-ingest".to_string(),
            app_version: env!("CARGO_PKG_VERSION").to_string(),
            retry: RetryPolicy::default(),
            managed: ManagedPolicy::default(),
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            gzip_level: 1,
            resources_refresh: Duration::from_secs(3600),
            extra_ca_certificates_pem: Vec::new(),
            observer: crate::observe::Observer::default(),
        }
    }

    /// Checks every field; the error names the option (CLI spelling) and the reason.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_endpoint("--adx-cluster", &self.cluster)?;
        if let Some(ingest) = &self.ingest_endpoint {
            check_endpoint("--adx-ingest-endpoint", ingest)?;
        }
        if self.mode != IngestMode::Streaming {
            self.resolved_ingest_endpoint()?;
        }
        for (option, value) in [
            ("--adx-database", &self.database),
            ("--adx-table", &self.table),
            ("--adx-mapping", &self.mapping),
        ] {
            if value.trim().is_empty() {
                return Err(ConfigError::Invalid {
                    option,
                    reason: "must not be empty".to_string(),
                });
            }
        }
        if self.concurrency == 0 {
            return Err(invalid("concurrency", "must be at least 1"));
        }
        if self.scope.as_deref().is_some_and(|s| s.trim().is_empty()) {
            return Err(invalid("--adx-scope", "must not be empty"));
        }
        if self.max_request_bytes < 1024 {
            return Err(invalid("max_request_bytes", "must be at least 1024"));
        }
        if self.gzip_level > 9 {
            return Err(invalid("gzip_level", "must be 0-9"));
        }
        if self.managed.streaming_attempts == 0 {
            return Err(invalid("managed.streaming_attempts", "must be at least 1"));
        }
        match &self.auth {
            AuthConfig::WorkloadIdentity { authority, .. }
            | AuthConfig::ClientSecret { authority, .. } => {
                check_endpoint("AZURE_AUTHORITY_HOST", authority)?;
            }
            AuthConfig::ManagedIdentity { endpoint, .. } => {
                if !matches!(endpoint.scheme(), "http" | "https") || endpoint.host_str().is_none() {
                    return Err(invalid(
                        "IMDS endpoint",
                        "must be an http(s) URL with a host",
                    ));
                }
            }
            AuthConfig::StaticToken(_) => {}
        }
        Ok(())
    }

    /// The data-management endpoint: the configured one, or the cluster with `ingest-` prefixed to its host.
    pub fn resolved_ingest_endpoint(&self) -> Result<Url, ConfigError> {
        if let Some(url) = &self.ingest_endpoint {
            return Ok(url.clone());
        }
        let host = self.cluster.host_str().unwrap_or_default();
        if host.starts_with("ingest-") {
            return Ok(self.cluster.clone());
        }
        if host.is_empty()
            || host.parse::<IpAddr>().is_ok()
            || host.starts_with('[')
            || host == "localhost"
        {
            return Err(ConfigError::Invalid {
                option: "--adx-ingest-endpoint",
                reason: format!(
                    "cannot derive the ingest- endpoint from cluster host '{host}'; set it explicitly"
                ),
            });
        }
        let mut url = self.cluster.clone();
        url.set_host(Some(&format!("ingest-{host}"))).map_err(|e| {
            invalid(
                "--adx-ingest-endpoint",
                &format!("derived host is invalid: {e}"),
            )
        })?;
        Ok(url)
    }
}

fn invalid(option: &'static str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        option,
        reason: reason.to_string(),
    }
}

/// `https://` anywhere, `http://` only for a loopback host.
pub fn check_endpoint(option: &'static str, url: &Url) -> Result<(), ConfigError> {
    let host = url.host_str().unwrap_or_default();
    if host.is_empty() {
        return Err(invalid(option, &format!("'{url}' has no host")));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_host(url) => Ok(()),
        "http" => Err(ConfigError::Invalid {
            option,
            reason: format!(
                "'{url}' uses plain http:// to non-loopback host '{host}'; tokens and data would travel \
                 unencrypted. Use https:// (http:// is only accepted for 127.0.0.1, ::1 or localhost emulators)"
            ),
        }),
        other => Err(invalid(option, &format!("unsupported scheme '{other}', use https://"))),
    }
}

/// True for `localhost`, 127.0.0.0/8 and `::1`.
pub fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A configuration problem; the message says which option and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{option}: {reason}")]
    Invalid {
        option: &'static str,
        reason: String,
    },
    #[error("environment variable {var} is not set (needed for the selected --adx-auth)")]
    MissingEnv { var: &'static str },
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(cluster: &str) -> AdxConfig {
        AdxConfig::new(
            Url::parse(cluster).unwrap(),
            "db",
            "T",
            "M",
            AuthConfig::StaticToken(crate::Secret::new("t")),
        )
    }

    #[test]
    fn http_refused_unless_loopback() {
        let err = cfg("http://mycluster.kusto.windows.net")
            .validate()
            .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("--adx-cluster:"), "{text}");
        assert!(text.contains("http://"), "{text}");
        assert!(cfg("http://127.0.0.1:8080").validate().is_ok());
        assert!(cfg("http://[::1]:8080").validate().is_ok());
        assert!(cfg("http://localhost:8080").validate().is_ok());
        assert!(cfg("https://x.kusto.windows.net").validate().is_ok());
    }

    #[test]
    fn http_authority_refused() {
        let env = |k: &str| match k {
            "AZURE_TENANT_ID" => Some("t".to_string()),
            "AZURE_CLIENT_ID" => Some("c".to_string()),
            "AZURE_FEDERATED_TOKEN_FILE" => Some("/f".to_string()),
            "AZURE_AUTHORITY_HOST" => Some("http://login.example.com/".to_string()),
            _ => None,
        };
        let mut c = cfg("https://x.kusto.windows.net");
        c.auth = AuthConfig::workload_identity_from(env).unwrap();
        let err = c.validate().unwrap_err();
        assert!(
            err.to_string().starts_with("AZURE_AUTHORITY_HOST:"),
            "{err}"
        );
    }

    #[test]
    fn http_ingest_endpoint_refused() {
        let mut c = cfg("https://x.kusto.windows.net");
        c.ingest_endpoint = Some(Url::parse("http://ingest-x.kusto.windows.net").unwrap());
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("--adx-ingest-endpoint:"));
    }

    #[test]
    fn ingest_endpoint_derived() {
        let c = cfg("https://help.westeurope.kusto.windows.net");
        assert_eq!(
            c.resolved_ingest_endpoint().unwrap().as_str(),
            "https://ingest-help.westeurope.kusto.windows.net/"
        );
        let mut q = cfg("http://127.0.0.1:1");
        q.mode = IngestMode::Queued;
        assert!(q
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--adx-ingest-endpoint"));
    }

    #[test]
    fn mode_parses() {
        assert_eq!("Managed".parse::<IngestMode>(), Ok(IngestMode::Managed));
        assert!("fast"
            .parse::<IngestMode>()
            .unwrap_err()
            .to_string()
            .starts_with("--adx-mode:"));
    }

    #[test]
    fn missing_env_named() {
        let err = AuthConfig::workload_identity_from(|_| None).unwrap_err();
        assert_eq!(
            err,
            ConfigError::MissingEnv {
                var: "AZURE_TENANT_ID"
            }
        );
        let err = AuthConfig::client_secret_from(
            |k| (k != "AZURE_CLIENT_SECRET").then(|| "x".into()),
            None,
        )
        .unwrap_err();
        assert_eq!(
            err,
            ConfigError::MissingEnv {
                var: "AZURE_CLIENT_SECRET"
            }
        );
    }
}
