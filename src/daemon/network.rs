//! Starts the network inputs of `run` (`forward://`, `forward+unix://`, `http://`) on the process runtime, from
//! the `--input` URLs and the network settings, and returns the pipeline source that receives from them.
//!
//! Guarantees: secrets (shared key, passwords) are read from files or the environment only and never appear in
//! errors or logs; every listener is bound before `run` reports itself ready.

use crate::error::Error;
use crate::settings::NetworkSettings;
use crate::source::forward::decode::RecordOptions;
use crate::source::forward::handshake::Credentials;
use crate::source::forward::server::{self, ForwardConfig, ListenAddr};
use crate::source::http_input::{self, HttpConfig};
use crate::source::network::{batch_channel, NetworkLimits, NetworkSource};
use crate::source::tls::TlsReloader;
use crate::telemetry::metrics::Metrics;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Environment variable holding the Forward shared key (alternative to `--shared-key-file`).
pub const SHARED_KEY_ENV: &str = "HUBBLE_INGEST_SHARED_KEY";

/// A parsed network `--input`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkSpec {
    /// `forward://HOST:PORT` or `forward+unix:///PATH`.
    Forward(ListenAddr),
    /// `http://HOST:PORT/PATH`.
    Http(SocketAddr, String),
}

fn socket_addr(hostport: &str, input: &str) -> Result<SocketAddr, String> {
    hostport
        .to_socket_addrs()
        .map_err(|e| format!("--input {input}: {e}"))?
        .next()
        .ok_or_else(|| format!("--input {input}: no address"))
}

/// `Some` for a network URL (parsed or an error), `None` for a file glob or `-`.
pub fn parse_spec(input: &str) -> Option<Result<NetworkSpec, String>> {
    if let Some(path) = input.strip_prefix("forward+unix://") {
        if !path.starts_with('/') {
            return Some(Err(format!(
                "--input {input}: expected forward+unix:///ABSOLUTE/PATH"
            )));
        }
        return Some(Ok(NetworkSpec::Forward(ListenAddr::Unix(PathBuf::from(
            path,
        )))));
    }
    if let Some(hostport) = input.strip_prefix("forward://") {
        let hostport = hostport.trim_end_matches('/');
        return Some(
            socket_addr(hostport, input).map(|a| NetworkSpec::Forward(ListenAddr::Tcp(a))),
        );
    }
    if let Some(rest) = input.strip_prefix("http://") {
        let (hostport, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        return Some(socket_addr(hostport, input).map(|a| NetworkSpec::Http(a, path.to_owned())));
    }
    if input.contains("://") {
        return Some(Err(format!(
            "--input {input}: unknown scheme (forward://, forward+unix://, http://)"
        )));
    }
    None
}

fn read_secret_file(path: &std::path::Path, what: &str) -> Result<Vec<u8>, String> {
    let mut v = std::fs::read(path)
        .map_err(|e| format!("{what} {}: cannot read: {}", path.display(), e.kind()))?;
    while v.last().is_some_and(|b| b.is_ascii_whitespace()) {
        v.pop();
    }
    if v.is_empty() {
        return Err(format!("{what} {}: empty", path.display()));
    }
    Ok(v)
}

fn credentials(n: &NetworkSettings) -> Result<Option<Credentials>, String> {
    let key = match (&n.shared_key_file, std::env::var_os(SHARED_KEY_ENV)) {
        (Some(f), _) => Some(read_secret_file(f, "--shared-key-file")?),
        (None, Some(v)) if !v.is_empty() => {
            use std::os::unix::ffi::OsStrExt;
            Some(v.as_bytes().to_vec())
        }
        _ => None,
    };
    let mut users = Vec::new();
    if let Some(f) = &n.users_file {
        let text = read_secret_file(f, "--users-file")?;
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            let line = line.trim_ascii();
            if line.is_empty() || line.starts_with(b"#") {
                continue;
            }
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                return Err(format!(
                    "--users-file {}:{}: expected username:password",
                    f.display(),
                    i + 1
                ));
            };
            users.push((line[..colon].to_vec(), line[colon + 1..].to_vec()));
        }
    }
    let Some(shared_key) = key else {
        if !users.is_empty() {
            return Err(
                "--users-file needs a shared key (--shared-key-file or HUBBLE_INGEST_SHARED_KEY)"
                    .into(),
            );
        }
        return Ok(None);
    };
    let self_hostname = n.self_hostname.clone().unwrap_or_else(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_owned())
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "hubble-ingest".to_owned())
    });
    Ok(Some(Credentials {
        shared_key,
        users,
        self_hostname,
    }))
}

/// Starts every network listener named in `inputs`; `None` when there is none. The source stops receiving
/// when `stop` is set.
pub fn start(
    inputs: &[String],
    n: &NetworkSettings,
    runtime: &tokio::runtime::Handle,
    metrics: &Arc<Metrics>,
    stop: &Arc<AtomicBool>,
) -> Result<Option<NetworkSource>, Error> {
    let mut specs = Vec::new();
    for input in inputs {
        if let Some(spec) = parse_spec(input) {
            specs.push((input.clone(), spec.map_err(Error::Config)?));
        }
    }
    if specs.is_empty() {
        return Ok(None);
    }
    if specs.len() != inputs.len() {
        return Err(Error::Config(
            "network inputs (forward://, http://) cannot be combined with files or stdin".into(),
        ));
    }
    let creds = credentials(n).map_err(Error::Config)?;
    let tls = match (&n.tls_cert_file, &n.tls_key_file) {
        (Some(c), Some(k)) => Some(Arc::new(TlsReloader::new(c, k).map_err(Error::Config)?)),
        _ => None,
    };
    let records = RecordOptions {
        record_key: n.record_key.as_bytes().to_vec(),
        max_decompressed_bytes: n.max_decompressed_bytes,
    };
    let limits = NetworkLimits {
        max_message_bytes: n.max_message_bytes,
        max_decompressed_bytes: records.max_decompressed_bytes,
        max_connections: n.max_connections,
    };
    let (tx, rx) = batch_channel(64);
    for (input, spec) in specs {
        match spec {
            NetworkSpec::Forward(addr) => {
                if creds.is_none() {
                    tracing::warn!(%input, "forward input without a shared key: any client that can connect is accepted");
                }
                let cfg = ForwardConfig {
                    label: input.clone(),
                    tls: if matches!(addr, ListenAddr::Tcp(_)) {
                        tls.clone()
                    } else {
                        None
                    },
                    addr,
                    credentials: creds.clone(),
                    records: records.clone(),
                    limits: limits.clone(),
                };
                let bound = runtime
                    .block_on(server::start(cfg, tx.clone(), Arc::clone(metrics)))
                    .map_err(|e| Error::Config(format!("--input {input}: {e}")))?;
                tracing::info!(%input, %bound, tls = tls.is_some(), handshake = creds.is_some(), "forward input listening");
            }
            NetworkSpec::Http(addr, path) => {
                let cfg = HttpConfig {
                    label: input.clone(),
                    addr,
                    path,
                    tls: tls.clone(),
                    records: records.clone(),
                    limits: limits.clone(),
                    ack_timeout: n.http_ack_timeout,
                };
                let bound = runtime
                    .block_on(http_input::start(cfg, tx.clone(), Arc::clone(metrics)))
                    .map_err(|e| Error::Config(format!("--input {input}: {e}")))?;
                tracing::info!(%input, %bound, tls = tls.is_some(), "http input listening");
            }
        }
    }
    Ok(Some(NetworkSource::new(
        rx,
        runtime.clone(),
        Arc::clone(stop),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_network_inputs() {
        assert_eq!(
            parse_spec("forward://127.0.0.1:24224"),
            Some(Ok(NetworkSpec::Forward(ListenAddr::Tcp(
                "127.0.0.1:24224".parse().unwrap()
            ))))
        );
        assert_eq!(
            parse_spec("forward+unix:///run/fb.sock"),
            Some(Ok(NetworkSpec::Forward(ListenAddr::Unix(
                "/run/fb.sock".into()
            ))))
        );
        assert_eq!(
            parse_spec("http://127.0.0.1:8080/ingest"),
            Some(Ok(NetworkSpec::Http(
                "127.0.0.1:8080".parse().unwrap(),
                "/ingest".into()
            )))
        );
        assert_eq!(
            parse_spec("http://127.0.0.1:8080"),
            Some(Ok(NetworkSpec::Http(
                "127.0.0.1:8080".parse().unwrap(),
                "/".into()
            )))
        );
        assert!(matches!(parse_spec("forward+unix://rel"), Some(Err(_))));
        assert!(matches!(parse_spec("ftp://x"), Some(Err(_))));
        assert_eq!(parse_spec("/var/log/containers/*.log"), None);
        assert_eq!(parse_spec("-"), None);
    }
}
