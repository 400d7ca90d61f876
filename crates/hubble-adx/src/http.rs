//! Shared HTTP plumbing: the reqwest client (rustls with the pure-Rust `ring` provider, HTTP/2 via
//! ALPN), request ids and the telemetry headers ADX expects. Guarantees: one connection pool per
//! client; every request id is unique (random UUID v4).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::{AdxConfig, ConfigError};

/// What every request needs, shared by the streaming and queued request modules: the configuration, the HTTP
/// client and the fixed request values.
#[derive(Debug)]
pub(crate) struct RequestContext {
    pub(crate) config: AdxConfig,
    pub(crate) http: reqwest::Client,
    pub(crate) client_version: String,
    pub(crate) streaming_url: url::Url,
}

/// Builds the HTTP client; installs rustls' `ring` provider as the process default if none is.
pub(crate) fn build_client(config: &AdxConfig) -> Result<reqwest::Client, ConfigError> {
    install_crypto_provider();
    let mut builder = reqwest::Client::builder();
    for (i, pem) in config.extra_ca_certificates_pem.iter().enumerate() {
        let certs =
            reqwest::Certificate::from_pem_bundle(pem).map_err(|e| ConfigError::Invalid {
                option: "extra CA certificates",
                reason: format!("bundle #{} is not PEM: {}", i + 1, e.without_url()),
            })?;
        if certs.is_empty() {
            return Err(ConfigError::Invalid {
                option: "extra CA certificates",
                reason: format!("bundle #{} holds no certificate", i + 1),
            });
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder
        .timeout(config.request_timeout)
        .connect_timeout(config.connect_timeout)
        .pool_max_idle_per_host(config.concurrency.saturating_mul(2))
        .user_agent(format!(
            "{}/{} hubble-adx/{}",
            config.app_name,
            config.app_version,
            env!("CARGO_PKG_VERSION")
        ))
        .build()
        .map_err(|e| ConfigError::Http(e.without_url().to_string()))
}

/// Installs rustls' pure-Rust `ring` provider as the process default (no-op if one is installed).
/// reqwest is built with `rustls-no-provider`, so any `reqwest::Client` built outside this crate
/// needs this called first.
pub fn install_crypto_provider() {
    // Err means another provider is already installed, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A random (v4) UUID string.
pub(crate) fn uuid_v4() -> String {
    let mut b = fastrand::u128(..).to_be_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = |r: std::ops::Range<usize>| b[r].iter().map(|x| format!("{x:02x}")).collect::<String>();
    format!(
        "{}-{}-{}-{}-{}",
        h(0..4),
        h(4..6),
        h(6..8),
        h(8..10),
        h(10..16)
    )
}

/// `x-ms-client-version` in the SDKs' `Name:{version}|...` shape.
pub(crate) fn client_version(config: &AdxConfig) -> String {
    format!(
        "Kusto.hubble-adx:{{{}}}|App.{}:{{{}}}",
        env!("CARGO_PKG_VERSION"),
        config.app_name,
        config.app_version
    )
}

/// Current UTC time as RFC 3339 with seconds (`2026-01-01T00:00:00Z`).
pub(crate) fn rfc3339_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) — H. Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_shape() {
        let a = uuid_v4();
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_ne!(a, uuid_v4());
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(rfc3339_now().len(), 20);
    }
}
