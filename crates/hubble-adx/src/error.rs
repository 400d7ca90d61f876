//! Error values and the classification of ADX/storage/AAD responses. Owns: [`IngestError`] (what
//! the caller acts on), the internal [`Failure`] (what one attempt produced) and the OneApiError
//! parser. Guarantees: no error text ever contains a token, a secret or a SAS URL (reqwest errors
//! are stripped of their URL); classification follows the Kusto error documentation (OneApiError `@permanent`, HTTP status):
//! `@permanent: true`, 400, 403, 404 → permanent (unless the body says `@permanent: false`);
//! 401 → refresh the token once; 413 → split; everything else (429, 5xx, timeouts, connection
//! errors, unknown statuses) → transient.

use std::fmt;
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

/// What [`crate::AdxClient::ingest`] returns on failure. Transient failures never surface unless a
/// retry limit was configured (then [`IngestError::RetriesExhausted`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// ADX (or the client) rejected the batch for good: dead-letter it, do not retry automatically.
    #[error("{}", PermanentDisplay { status: *status, code, message, activity_id: activity_id.as_deref() })]
    Permanent {
        /// HTTP status, `None` when the client itself refused the batch (e.g. a record over 4 MiB).
        status: Option<u16>,
        /// ADX error code (`BadRequest_MappingReferenceWasNotFound`, ...) or a client code.
        code: String,
        /// Human-readable detail (`error.@message`, else `error.message`).
        message: String,
        /// `error.@context.activityId` or the `x-ms-activity-id` header, for Microsoft support.
        activity_id: Option<String>,
    },
    /// The shutdown token fired while waiting to retry; the batch may be partly ingested.
    #[error("ingestion cancelled by shutdown")]
    Cancelled,
    /// A configured retry limit (`max_attempts` / `max_elapsed`) was reached.
    #[error("gave up after {attempts} attempts: {last}")]
    RetriesExhausted { attempts: u32, last: String },
}

impl IngestError {
    /// True for errors whose batch belongs in the dead-letter directory.
    pub fn is_permanent(&self) -> bool {
        matches!(self, IngestError::Permanent { .. })
    }

    pub(crate) fn client(code: &str, message: String) -> Self {
        IngestError::Permanent {
            status: None,
            code: code.to_string(),
            message,
            activity_id: None,
        }
    }
}

struct PermanentDisplay<'a> {
    status: Option<u16>,
    code: &'a str,
    message: &'a str,
    activity_id: Option<&'a str>,
}

impl fmt::Display for PermanentDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("permanent ingestion error")?;
        if let Some(s) = self.status {
            write!(f, " (HTTP {s})")?;
        }
        write!(f, " {}: {}", self.code, self.message)?;
        if let Some(a) = self.activity_id {
            write!(f, " [activity id {a}]")?;
        }
        Ok(())
    }
}

/// Why a transient failure is retried, as reported to an [`crate::IngestObserver`] (a metric label in the
/// binary: `sink_retries{reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryReason {
    /// HTTP 429: the service throttled the request.
    Throttled,
    /// HTTP 5xx from the service.
    Http5xx,
    /// The request timed out (client timeout or HTTP 408/504-like answers without a body verdict).
    Timeout,
    /// The connection could not be established (refused, DNS, TLS handshake).
    Connect,
    /// HTTP 401 (a fresh token is fetched first), or 401 again with a fresh token.
    Unauthorized,
    /// No access token could be obtained from Azure AD / IMDS.
    Token,
    /// Anything else transient: a connection reset mid-request, an unexpected status, storage errors.
    Other,
}

impl RetryReason {
    /// Every reason, for registering metric series.
    pub const ALL: [RetryReason; 7] = [
        RetryReason::Throttled,
        RetryReason::Http5xx,
        RetryReason::Timeout,
        RetryReason::Connect,
        RetryReason::Unauthorized,
        RetryReason::Token,
        RetryReason::Other,
    ];

    /// A stable snake_case name (`throttled`, `http_5xx`, `timeout`, `connect`, `unauthorized`, `token`, `other`).
    pub fn as_str(self) -> &'static str {
        match self {
            RetryReason::Throttled => "throttled",
            RetryReason::Http5xx => "http_5xx",
            RetryReason::Timeout => "timeout",
            RetryReason::Connect => "connect",
            RetryReason::Unauthorized => "unauthorized",
            RetryReason::Token => "token",
            RetryReason::Other => "other",
        }
    }

    /// The reason an HTTP status implies.
    pub(crate) fn for_status(status: u16) -> RetryReason {
        match status {
            429 => RetryReason::Throttled,
            408 | 504 => RetryReason::Timeout,
            401 => RetryReason::Unauthorized,
            500..=599 => RetryReason::Http5xx,
            _ => RetryReason::Other,
        }
    }
}

/// The outcome of one failed attempt, before retry policy is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    Permanent(IngestError),
    /// 401: refresh the token (once) and retry.
    Unauthorized(String),
    /// 413 or a body the server found too large: split or send queued.
    TooLarge(String),
    Transient {
        reason: String,
        retry_after: Option<Duration>,
        kind: RetryReason,
    },
}

impl Failure {
    pub(crate) fn transient(reason: impl Into<String>) -> Self {
        Failure::Transient {
            reason: reason.into(),
            retry_after: None,
            kind: RetryReason::Other,
        }
    }

    /// A transient failure of a known kind.
    pub(crate) fn transient_kind(kind: RetryReason, reason: impl Into<String>) -> Self {
        Failure::Transient {
            reason: reason.into(),
            retry_after: None,
            kind,
        }
    }

    /// A reqwest error (timeout, connection reset, ...), with its URL removed (it may carry a SAS).
    pub(crate) fn from_reqwest(what: &str, err: reqwest::Error) -> Self {
        let (kind, retry) = if err.is_timeout() {
            ("timeout", RetryReason::Timeout)
        } else if err.is_connect() {
            ("connect error", RetryReason::Connect)
        } else {
            ("request error", RetryReason::Other)
        };
        let err = err.without_url();
        Failure::transient_kind(retry, format!("{what}: {kind}: {}", error_chain(&err)))
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The fields of a Kusto OneApiError body that matter for classification and reporting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OneApiError {
    pub code: Option<String>,
    pub message: Option<String>,
    pub detail: Option<String>,
    pub permanent: Option<bool>,
    pub activity_id: Option<String>,
}

impl OneApiError {
    /// Parses `{"error":{"code","message","@message","@permanent","@context":{"activityId"}}}`;
    /// `None` if the body is not such JSON.
    pub fn parse(body: &[u8]) -> Option<Self> {
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        let error = value.get("error")?;
        let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_string);
        Some(OneApiError {
            code: text(error.get("code")),
            message: text(error.get("message")),
            detail: text(error.get("@message")),
            permanent: error.get("@permanent").and_then(|v| v.as_bool()),
            activity_id: text(error.get("@context").and_then(|c| c.get("activityId"))),
        })
    }
}

const MAX_MESSAGE_CHARS: usize = 2000;

fn truncate(text: &str) -> String {
    let mut out: String = text.chars().take(MAX_MESSAGE_CHARS).collect();
    if text.chars().count() > MAX_MESSAGE_CHARS {
        out.push('…');
    }
    out
}

/// Classifies a non-success response from an ADX endpoint (streaming or management).
pub(crate) fn classify_adx(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Failure {
    let parsed = OneApiError::parse(body).unwrap_or_default();
    let header_activity = headers
        .get("x-ms-activity-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let code = parsed.code.clone().unwrap_or_else(|| {
        status
            .canonical_reason()
            .unwrap_or("HttpError")
            .replace(' ', "")
    });
    let message = parsed
        .detail
        .clone()
        .or_else(|| parsed.message.clone())
        .unwrap_or_else(|| body_excerpt(body));
    let summary = format!("HTTP {} {code}: {}", status.as_u16(), truncate(&message));
    let s = status.as_u16();
    if s == 401 {
        return Failure::Unauthorized(summary);
    }
    if s == 413 {
        return Failure::TooLarge(summary);
    }
    let permanent = match parsed.permanent {
        Some(p) => p,
        None => matches!(s, 400 | 403 | 404),
    };
    if permanent {
        return Failure::Permanent(IngestError::Permanent {
            status: Some(s),
            code,
            message: truncate(&message),
            activity_id: parsed.activity_id.or(header_activity),
        });
    }
    Failure::Transient {
        reason: summary,
        retry_after: retry_after(headers),
        kind: RetryReason::for_status(s),
    }
}

/// A short printable excerpt of a non-JSON body (proxies' HTML pages and the like).
pub(crate) fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
    let text = text.trim();
    if text.is_empty() {
        "(empty body)".to_string()
    } else {
        text.to_string()
    }
}

/// `Retry-After` as delta-seconds or HTTP-date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = raw.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(secs.min(86_400.0)));
        }
    }
    let when = httpdate::parse_http_date(raw).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    const MAPPING_ERR: &str = r#"{"error":{"code":"BadRequest_MappingReferenceWasNotFound","message":"Request is invalid and cannot be executed.","@type":"Kusto.DataNode.Exceptions.MappingNotFoundException","@message":"Mapping reference 'M' of type 'mappingReference' in database 'db' could not be found.","@context":{"timestamp":"2026-01-01T00:00:00Z","activityId":"act-123"},"@permanent":true}}"#;

    #[test]
    fn permanent_mapping_error() {
        let f = classify_adx(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            MAPPING_ERR.as_bytes(),
        );
        match f {
            Failure::Permanent(IngestError::Permanent {
                status,
                code,
                message,
                activity_id,
            }) => {
                assert_eq!(status, Some(400));
                assert_eq!(code, "BadRequest_MappingReferenceWasNotFound");
                assert!(message.starts_with("Mapping reference 'M'"));
                assert_eq!(activity_id.as_deref(), Some("act-123"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn permanent_flag_wins_over_status() {
        let body = br#"{"error":{"code":"X","message":"m","@permanent":true}}"#;
        assert!(matches!(
            classify_adx(StatusCode::SERVICE_UNAVAILABLE, &HeaderMap::new(), body),
            Failure::Permanent(_)
        ));
        let body = br#"{"error":{"code":"X","message":"m","@permanent":false}}"#;
        assert!(matches!(
            classify_adx(StatusCode::BAD_REQUEST, &HeaderMap::new(), body),
            Failure::Transient { .. }
        ));
    }

    #[test]
    fn statuses() {
        let h = HeaderMap::new();
        for s in [403u16, 404] {
            let status = StatusCode::from_u16(s).unwrap();
            assert!(
                matches!(classify_adx(status, &h, b""), Failure::Permanent(_)),
                "{s}"
            );
        }
        for s in [408u16, 429, 500, 502, 503, 504, 520] {
            let status = StatusCode::from_u16(s).unwrap();
            assert!(
                matches!(
                    classify_adx(status, &h, b"<html>"),
                    Failure::Transient { .. }
                ),
                "{s}"
            );
        }
        assert!(matches!(
            classify_adx(StatusCode::UNAUTHORIZED, &h, b""),
            Failure::Unauthorized(_)
        ));
        assert!(matches!(
            classify_adx(StatusCode::PAYLOAD_TOO_LARGE, &h, b""),
            Failure::TooLarge(_)
        ));
    }

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let later = SystemTime::now() + Duration::from_secs(30);
        h.insert(
            "retry-after",
            HeaderValue::from_str(&httpdate::fmt_http_date(later)).unwrap(),
        );
        let d = retry_after(&h).unwrap();
        assert!(
            d <= Duration::from_secs(30) && d >= Duration::from_secs(28),
            "{d:?}"
        );
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn header_activity_id_fallback() {
        let mut h = HeaderMap::new();
        h.insert("x-ms-activity-id", HeaderValue::from_static("hdr-act"));
        match classify_adx(StatusCode::FORBIDDEN, &h, b"") {
            Failure::Permanent(IngestError::Permanent {
                activity_id, code, ..
            }) => {
                assert_eq!(activity_id.as_deref(), Some("hdr-act"));
                assert_eq!(code, "Forbidden");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
