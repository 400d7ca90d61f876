//! Azure AD access tokens for ADX, hand-written on reqwest.
//!
//! Why not `azure_identity`: it drags in `azure_core`/`typespec` (178 crates against 116 for
//! reqwest alone, counted with `cargo tree` when the choice was made) for three small, well-documented HTTP exchanges, and it
//! hides the knobs we need to test (IMDS base URL, authority host over loopback http, retry rules).
//! The three flows here are ~200 lines and fully covered by tests against a local stand-in.
//!
//! Owns: token acquisition (workload identity client assertion, IMDS managed identity, client
//! secret, static token), caching and refresh. Guarantees: tokens are cached and refreshed 5
//! minutes before expiry; one refresh is in flight at a time (others wait for it); a 401 forces at
//! most one refresh per rejected token; the federated token file and client-secret file are read
//! on every exchange; tokens and secrets are only ever held in [`Secret`] and never appear in logs
//! or error messages (only AAD's `error`/`error_description` fields are reported).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::sync::Mutex;
use url::Url;

use crate::config::{AuthConfig, ClientSecretSource};
use crate::Secret;

/// Refresh this long before the token expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
const IMDS_API_VERSION: &str = "2018-02-01";

/// Why a token could not be obtained. Never contains a token or secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{flow}: {message}")]
pub struct AuthError {
    /// `workload identity`, `managed identity`, `client secret`.
    pub flow: &'static str,
    pub message: String,
}

#[derive(Debug, Clone)]
struct CachedToken {
    token: Secret,
    refresh_at: Option<Instant>,
}

/// Caching token source shared by all requests of one client.
#[derive(Debug)]
pub(crate) struct TokenProvider {
    http: reqwest::Client,
    auth: AuthConfig,
    scope: String,
    cache: Mutex<Option<CachedToken>>,
    imds_retry_base: Duration,
    /// Successful token exchanges (first token and every refresh).
    exchanges: std::sync::atomic::AtomicU64,
}

impl TokenProvider {
    pub(crate) fn new(http: reqwest::Client, auth: AuthConfig, scope: String) -> Self {
        TokenProvider {
            http,
            auth,
            scope,
            cache: Mutex::new(None),
            imds_retry_base: Duration::from_secs(1),
            exchanges: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Successful token exchanges so far.
    pub(crate) fn exchanges(&self) -> u64 {
        self.exchanges.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A valid token, from cache or freshly obtained (one exchange in flight at a time).
    pub(crate) async fn token(&self) -> Result<Secret, AuthError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref() {
            if c.refresh_at.is_none_or(|at| Instant::now() < at) {
                return Ok(c.token.clone());
            }
        }
        let fresh = self.fetch().await?;
        self.exchanges
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let token = fresh.token.clone();
        *cache = Some(fresh);
        Ok(token)
    }

    /// After a 401 with `rejected`: refresh unless someone already replaced that token.
    pub(crate) async fn refresh_rejected(&self, rejected: &Secret) -> Result<Secret, AuthError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref() {
            if &c.token != rejected {
                return Ok(c.token.clone());
            }
        }
        if matches!(self.auth, AuthConfig::StaticToken(_)) {
            return Ok(rejected.clone());
        }
        tracing::info!(
            flow = self.flow_name(),
            "access token rejected with 401; refreshing it"
        );
        let fresh = self.fetch().await?;
        self.exchanges
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let token = fresh.token.clone();
        *cache = Some(fresh);
        Ok(token)
    }

    fn flow_name(&self) -> &'static str {
        match self.auth {
            AuthConfig::WorkloadIdentity { .. } => "workload identity",
            AuthConfig::ManagedIdentity { .. } => "managed identity",
            AuthConfig::ClientSecret { .. } => "client secret",
            AuthConfig::StaticToken(_) => "static token",
        }
    }

    async fn fetch(&self) -> Result<CachedToken, AuthError> {
        let flow = self.flow_name();
        let err = |message: String| AuthError { flow, message };
        match &self.auth {
            AuthConfig::StaticToken(t) => Ok(CachedToken {
                token: t.clone(),
                refresh_at: None,
            }),
            AuthConfig::WorkloadIdentity {
                tenant_id,
                client_id,
                token_file,
                authority,
            } => {
                let assertion = std::fs::read_to_string(token_file).map_err(|e| {
                    err(format!(
                        "cannot read AZURE_FEDERATED_TOKEN_FILE {}: {e}",
                        token_file.display()
                    ))
                })?;
                let form = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("client_id", client_id)
                    .append_pair("grant_type", "client_credentials")
                    .append_pair(
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    )
                    .append_pair("client_assertion", assertion.trim())
                    .append_pair("scope", &self.scope)
                    .finish();
                self.aad_exchange(flow, authority, tenant_id, Secret::new(form))
                    .await
            }
            AuthConfig::ClientSecret {
                tenant_id,
                client_id,
                secret,
                authority,
            } => {
                let secret = read_client_secret(secret).map_err(err)?;
                let form = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("client_id", client_id)
                    .append_pair("grant_type", "client_credentials")
                    .append_pair("client_secret", secret.expose())
                    .append_pair("scope", &self.scope)
                    .finish();
                self.aad_exchange(flow, authority, tenant_id, Secret::new(form))
                    .await
            }
            AuthConfig::ManagedIdentity {
                client_id,
                endpoint,
            } => self.imds(client_id.as_deref(), endpoint).await,
        }
    }

    /// `POST {authority}/{tenant}/oauth2/v2.0/token` with a form that holds a credential.
    async fn aad_exchange(
        &self,
        flow: &'static str,
        authority: &Url,
        tenant: &str,
        form: Secret,
    ) -> Result<CachedToken, AuthError> {
        let err = |message: String| AuthError { flow, message };
        let url = format!(
            "{}/{}/oauth2/v2.0/token",
            authority.as_str().trim_end_matches('/'),
            tenant
        );
        let response = self
            .http
            .post(&url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(form.expose().to_string())
            .send()
            .await
            .map_err(|e| {
                err(format!(
                    "token request to {url} failed: {}",
                    e.without_url()
                ))
            })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| {
            err(format!(
                "token response from {url} unreadable: {}",
                e.without_url()
            ))
        })?;
        if !status.is_success() {
            return Err(err(format!(
                "token endpoint {url} answered {status}: {}",
                aad_error(&body)
            )));
        }
        parse_token_response(&body).map_err(err)
    }

    /// IMDS with the documented retry rules: 404/429/5xx/connection errors → 1 s, 2 s, 4 s (3
    /// retries); 410 → every 10 s for up to 70 s; other 4xx → no retry.
    async fn imds(
        &self,
        client_id: Option<&str>,
        endpoint: &Url,
    ) -> Result<CachedToken, AuthError> {
        let flow = "managed identity";
        let err = |message: String| AuthError { flow, message };
        let mut url = endpoint.clone();
        url.set_path("/metadata/identity/oauth2/token");
        {
            let mut q = url.query_pairs_mut();
            q.clear();
            q.append_pair("api-version", IMDS_API_VERSION);
            q.append_pair("resource", self.scope.trim_end_matches("/.default"));
            if let Some(id) = client_id {
                q.append_pair("client_id", id);
            }
        }
        let mut delays = ImdsRetry::new(self.imds_retry_base);
        loop {
            let outcome = self
                .http
                .get(url.clone())
                .header("Metadata", "true")
                .send()
                .await;
            let (retry_delay, message) = match outcome {
                Ok(response) => {
                    let status = response.status();
                    let body = response.bytes().await.unwrap_or_default();
                    if status.is_success() {
                        return parse_token_response(&body).map_err(err);
                    }
                    let message = format!("IMDS answered {status}: {}", aad_error(&body));
                    (delays.after_status(status), message)
                }
                Err(e) => (
                    delays.after_unreachable(),
                    format!("IMDS unreachable: {}", e.without_url()),
                ),
            };
            match retry_delay {
                Some(delay) => {
                    tracing::warn!(flow, retry_in = ?delay, "{message}");
                    tokio::time::sleep(delay).await;
                }
                None => return Err(err(message)),
            }
        }
    }
}

/// IMDS's documented retry schedule, as two `backon` policies (the retry policy type of the whole project):
/// 404/429/5xx/unreachable → `base`, 2×, 4× (3 retries); 410 → every 10×`base`, 7 times (70 s).
struct ImdsRetry {
    transient: backon::ExponentialBackoff,
    gone: backon::ConstantBackoff,
}

impl ImdsRetry {
    fn new(base: Duration) -> Self {
        use backon::BackoffBuilder;
        ImdsRetry {
            transient: backon::ExponentialBuilder::new()
                .with_min_delay(base)
                .with_factor(2.0)
                .without_max_delay()
                .with_max_times(3)
                .build(),
            gone: backon::ConstantBuilder::new()
                .with_delay(base * 10)
                .with_max_times(7)
                .build(),
        }
    }

    fn after_status(&mut self, status: StatusCode) -> Option<Duration> {
        match status.as_u16() {
            410 => self.gone.next(),
            404 | 429 | 500..=599 => self.transient.next(),
            _ => None,
        }
    }

    fn after_unreachable(&mut self) -> Option<Duration> {
        self.transient.next()
    }
}

fn read_client_secret(source: &ClientSecretSource) -> Result<Secret, String> {
    let raw = match source {
        ClientSecretSource::Env(var) => {
            std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))?
        }
        ClientSecretSource::File(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read client secret file {}: {e}", path.display()))?,
    };
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err("the client secret is empty".to_string());
    }
    Ok(Secret::new(trimmed))
}

/// `access_token` + `expires_in` (number or string, as IMDS sends it) or `expires_on`.
fn parse_token_response(body: &[u8]) -> Result<CachedToken, String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| "token response is not JSON".to_string())?;
    let token = value
        .get("access_token")
        .and_then(|v| v.as_str())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| "token response has no access_token".to_string())?;
    let number = |key: &str| {
        value.get(key).and_then(|v| match v {
            serde_json::Value::Number(n) => n.as_u64(),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
    };
    let expires_in = number("expires_in")
        .or_else(|| {
            let on = number("expires_on")?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_secs();
            Some(on.saturating_sub(now))
        })
        .unwrap_or(3600);
    let lifetime = Duration::from_secs(expires_in);
    let early = if lifetime > REFRESH_MARGIN * 2 {
        lifetime - REFRESH_MARGIN
    } else {
        lifetime / 2
    };
    Ok(CachedToken {
        token: Secret::new(token),
        refresh_at: Some(Instant::now() + early),
    })
}

/// AAD's `error: error_description` (no credential is ever echoed there), else a body excerpt.
fn aad_error(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        let field = |k: &str| {
            value
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let (error, description) = (field("error"), field("error_description"));
        if !error.is_empty() || !description.is_empty() {
            let description: String = description
                .lines()
                .next()
                .unwrap_or_default()
                .chars()
                .take(400)
                .collect();
            return format!("{error}: {description}");
        }
    }
    crate::error::body_excerpt(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_response_forms() {
        let t = parse_token_response(
            br#"{"access_token":"abc","expires_in":3600,"token_type":"Bearer"}"#,
        )
        .unwrap();
        assert_eq!(t.token.expose(), "abc");
        let at = t.refresh_at.unwrap();
        let left = at.saturating_duration_since(Instant::now());
        assert!(
            left > Duration::from_secs(3200) && left <= Duration::from_secs(3300),
            "{left:?}"
        );
        let t = parse_token_response(br#"{"access_token":"x","expires_in":"600"}"#).unwrap();
        assert!(
            t.refresh_at
                .unwrap()
                .saturating_duration_since(Instant::now())
                <= Duration::from_secs(300)
        );
        assert!(parse_token_response(br#"{"expires_in":1}"#).is_err());
        let e = parse_token_response(b"<html>").unwrap_err();
        assert!(!e.contains("html"));
    }

    #[test]
    fn aad_error_text() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS70021: No matching federated identity record found.\r\nTrace ID: x","error_codes":[70021]}"#;
        assert_eq!(
            aad_error(body),
            "invalid_client: AADSTS70021: No matching federated identity record found."
        );
    }

    #[test]
    fn imds_rules() {
        let base = Duration::from_secs(1);
        let mut r = ImdsRetry::new(base);
        assert_eq!(r.after_status(StatusCode::TOO_MANY_REQUESTS), Some(base));
        assert_eq!(r.after_unreachable(), Some(base * 2));
        assert_eq!(r.after_status(StatusCode::NOT_FOUND), Some(base * 4));
        assert_eq!(r.after_status(StatusCode::INTERNAL_SERVER_ERROR), None);
        assert_eq!(r.after_status(StatusCode::BAD_REQUEST), None);
        let gone: Vec<_> = std::iter::from_fn(|| r.after_status(StatusCode::GONE)).collect();
        assert_eq!(gone, vec![base * 10; 7]);
    }
}
