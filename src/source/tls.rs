//! TLS for the network inputs: a rustls server configuration from PEM certificate-chain and key files, reloaded
//! when either file changes (cert-manager and Secret volume updates rotate them in place).
//!
//! Guarantees: a reload that fails (unreadable or mismatched files, e.g. caught between the two writes) keeps
//! the previous configuration and is retried at the next connection; the key is never logged.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio_rustls::TlsAcceptor;

/// Loads and reloads the server certificate.
pub struct TlsReloader {
    cert: PathBuf,
    key: PathBuf,
    state: Mutex<(Option<SystemTime>, Option<SystemTime>, TlsAcceptor)>,
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn load(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("certificate file {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "certificate file {}: no certificate",
            cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|_| format!("key file {}: no readable private key", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("TLS certificate and key: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}

impl TlsReloader {
    /// Loads the files now (an error here is a configuration error).
    pub fn new(cert: &Path, key: &Path) -> Result<TlsReloader, String> {
        let (cm, km) = (mtime(cert), mtime(key));
        let acceptor = load(cert, key)?;
        Ok(TlsReloader {
            cert: cert.to_owned(),
            key: key.to_owned(),
            state: Mutex::new((cm, km, acceptor)),
        })
    }

    /// The acceptor to use for a new connection, reloading first if a file changed.
    pub fn acceptor(&self) -> Option<TlsAcceptor> {
        let mut st = self.state.lock().ok()?;
        let (cm, km) = (mtime(&self.cert), mtime(&self.key));
        if (cm, km) != (st.0, st.1) {
            match load(&self.cert, &self.key) {
                Ok(a) => {
                    tracing::info!(cert = %self.cert.display(), "TLS certificate reloaded");
                    *st = (cm, km, a);
                }
                Err(e) => {
                    tracing::warn!("TLS reload failed, keeping the previous certificate: {e}")
                }
            }
        }
        Some(st.2.clone())
    }
}
