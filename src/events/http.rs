//! The one outbound HTTP client of the drill shell (Prometheus queries, CloudEvents sink):
//! hyper with rustls, as the registry client uses, with a deadline on every request.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::time::Duration;

/// A pooled HTTP/1 client over http and https.
pub type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Responses larger than this are cut off: a Prometheus instant query or a sink's reply is a
/// few kB; 4 MiB leaves room without letting a broken server fill memory.
const MAX_RESPONSE: usize = 4 << 20;

/// An outbound request that failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("invalid request to {url}: {reason}")]
    Request { url: String, reason: String },
    #[error("{url}: {source}")]
    Send {
        url: String,
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    #[error("{url}: reading the response: {source}")]
    Body {
        url: String,
        #[source]
        source: hyper::Error,
    },
    #[error("{url}: no answer within {secs}s")]
    Timeout { url: String, secs: u64 },
    #[error("{url}: response larger than {MAX_RESPONSE} bytes")]
    TooLarge { url: String },
}

/// Builds the client: the platform's root certificates, rustls with ring.
pub fn http_client() -> HttpClient {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
        // ring supports the default protocol versions; the fallback only guards a build
        // without them.
        .unwrap_or_else(|_| {
            rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        });
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(Duration::from_secs(5)));
    http.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(https)
}

/// GETs `url`; returns the status and the body.
pub async fn get(
    client: &HttpClient,
    url: &str,
    timeout: Duration,
) -> Result<(http::StatusCode, Bytes), HttpError> {
    let req = http::Request::get(url)
        .body(Full::new(Bytes::new()))
        .map_err(|e| HttpError::Request {
            url: url.into(),
            reason: e.to_string(),
        })?;
    send(client, req, timeout).await
}

/// POSTs `body` with `headers` to `url`; returns the status and the body.
pub async fn post(
    client: &HttpClient,
    url: &str,
    headers: &http::HeaderMap,
    body: Bytes,
    timeout: Duration,
) -> Result<(http::StatusCode, Bytes), HttpError> {
    let mut req = http::Request::post(url)
        .body(Full::new(body))
        .map_err(|e| HttpError::Request {
            url: url.into(),
            reason: e.to_string(),
        })?;
    req.headers_mut().extend(headers.clone());
    send(client, req, timeout).await
}

async fn send(
    client: &HttpClient,
    req: http::Request<Full<Bytes>>,
    timeout: Duration,
) -> Result<(http::StatusCode, Bytes), HttpError> {
    let url = req.uri().to_string();
    let work = async {
        let resp = client
            .request(req)
            .await
            .map_err(|source| HttpError::Send {
                url: url.clone(),
                source,
            })?;
        let status = resp.status();
        let limited = http_body_util::Limited::new(resp.into_body(), MAX_RESPONSE);
        let body = limited
            .collect()
            .await
            .map_err(|e| match e.downcast::<hyper::Error>() {
                Ok(source) => HttpError::Body {
                    url: url.clone(),
                    source: *source,
                },
                Err(_) => HttpError::TooLarge { url: url.clone() },
            })?
            .to_bytes();
        Ok((status, body))
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| HttpError::Timeout {
            url: url.clone(),
            secs: timeout.as_secs(),
        })?
}
