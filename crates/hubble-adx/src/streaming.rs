//! One streaming-ingestion request (Kusto REST API, "Streaming ingestion"): `POST {cluster}/v1/rest/ingest/{db}/
//! {table}?streamFormat=Json&mappingName={mapping}` with a gzip body and the headers ADX expects.
//! Guarantees: a fresh `x-ms-client-request-id` per request; the token only travels in a header
//! marked sensitive; the response is classified by [`crate::error::classify_adx`].

use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_ENCODING};
use url::Url;

use crate::error::{classify_adx, Failure};
use crate::http::uuid_v4;
use crate::http::RequestContext;
use crate::Secret;

/// The streaming endpoint URL for the configured database/table/mapping. Streaming is served by
/// the engine, so an `ingest-` prefix on the cluster host is removed (as the Go SDK does).
pub(crate) fn streaming_url(cluster: &Url, database: &str, table: &str, mapping: &str) -> Url {
    let mut url = cluster.clone();
    url.set_query(None);
    if let Some(engine) = cluster.host_str().and_then(|h| h.strip_prefix("ingest-")) {
        if !engine.is_empty() {
            let engine = engine.to_string();
            let _ = url.set_host(Some(&engine));
        }
    }
    if let Ok(mut segments) = url.path_segments_mut() {
        segments
            .clear()
            .extend(["v1", "rest", "ingest", database, table]);
    }
    url.query_pairs_mut()
        .append_pair("streamFormat", "Json")
        .append_pair("mappingName", mapping);
    url
}

/// A fresh `x-ms-client-request-id` for a streaming request (`{app}.Ingest;{uuid}`, the SDKs' shape).
pub(crate) fn request_id(app_name: &str) -> String {
    format!("{app_name}.Ingest;{}", uuid_v4())
}

/// Sends one gzip body with `request_id`; `Ok` only on 2xx.
pub(crate) async fn post(
    inner: &RequestContext,
    gz: Bytes,
    token: Secret,
    request_id: &str,
) -> Result<(), Failure> {
    let response = inner
        .http
        .post(inner.streaming_url.clone())
        .bearer_auth(token.expose())
        .header(CONTENT_ENCODING, "gzip")
        .header(ACCEPT, "application/json")
        .header("x-ms-client-request-id", request_id)
        .header("x-ms-app", &inner.config.app_name)
        .header("x-ms-client-version", &inner.client_version)
        .body(gz)
        .send()
        .await
        .map_err(|e| Failure::from_reqwest("streaming ingest", e))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(|e| Failure::from_reqwest("streaming ingest response", e))?;
    tracing::debug!(
        request_id,
        status = status.as_u16(),
        "streaming ingest request done"
    );
    if status.is_success() {
        return Ok(());
    }
    Err(classify_adx(status, &headers, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_shape() {
        let u = streaming_url(
            &Url::parse("https://c.kusto.windows.net/").unwrap(),
            "db",
            "T",
            "M",
        );
        assert_eq!(
            u.as_str(),
            "https://c.kusto.windows.net/v1/rest/ingest/db/T?streamFormat=Json&mappingName=M"
        );
        let u = streaming_url(
            &Url::parse("http://127.0.0.1:9/").unwrap(),
            "my db",
            "T/x",
            "M&1",
        );
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:9/v1/rest/ingest/my%20db/T%2Fx?streamFormat=Json&mappingName=M%261"
        );
    }
}
