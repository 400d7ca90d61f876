//! Building the ADX client from the command line (`--adx-*` options and the standard Azure variables).

use crate::cli::{AdxArgs, AdxAuth, AdxMode};
use hubble_adx::{parse_url, AdxClient, AdxConfig, AuthConfig, CancellationToken, IngestMode};

/// Builds a client; the error says which option or variable is wrong (never a secret's value).
pub fn client(args: &AdxArgs, shutdown: CancellationToken) -> Result<AdxClient, String> {
    hubble_adx::install_crypto_provider();
    let cluster = args
        .adx_cluster
        .as_deref()
        .ok_or("the adx sink needs --adx-cluster")?;
    let database = args
        .adx_database
        .as_deref()
        .ok_or("the adx sink needs --adx-database")?;
    let cluster = parse_url("--adx-cluster", cluster).map_err(|e| e.to_string())?;
    let auth = match args.adx_auth {
        AdxAuth::WorkloadIdentity => AuthConfig::workload_identity_from_env(),
        AdxAuth::ClientSecret => {
            AuthConfig::client_secret_from_env(args.adx_client_secret_file.clone())
        }
        AdxAuth::ManagedIdentity => Ok(AuthConfig::managed_identity(args.adx_client_id.clone())),
    }
    .map_err(|e| format!("--adx-auth: {e}"))?;
    let mut cfg = AdxConfig::new(cluster, database, &args.adx_table, &args.adx_mapping, auth);
    cfg.mode = match args.adx_mode {
        AdxMode::Streaming => IngestMode::Streaming,
        AdxMode::Queued => IngestMode::Queued,
        AdxMode::Managed => IngestMode::Managed,
    };
    if let Some(e) = &args.adx_ingest_endpoint {
        cfg.ingest_endpoint =
            Some(parse_url("--adx-ingest-endpoint", e).map_err(|e| e.to_string())?);
    }
    if let Some(scope) = &args.adx_scope {
        cfg.scope = scope.clone();
    }
    cfg.concurrency = args.adx_concurrency.max(1);
    cfg.validate().map_err(|e| e.to_string())?;
    AdxClient::new(cfg, shutdown).map_err(|e| e.to_string())
}
