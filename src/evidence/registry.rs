//! A small OCI distribution client: just the reads verification needs (manifests, blobs, tag
//! lists, referrers), with registry auth (anonymous, basic, bearer tokens, credentials from a
//! dockerconfigjson, identity tokens exchanged with the OAuth2 refresh-token grant), a custom CA, plain HTTP only for registries configured as insecure, and a
//! timeout on every call. One client holds one connection pool and one TLS config, so the
//! controller verifies many images without new TLS setup per call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::Deserialize;

use super::reference::{Digest, ImageRef};

/// Manifests are small JSON documents; a registry sending more is misbehaving.
const MAX_MANIFEST_BYTES: usize = 4 << 20;
/// Attestation layers hold whole SBOMs; large images' SBOMs reach tens of MiB.
const MAX_BLOB_BYTES: usize = 64 << 20;
/// Idle connections kept per registry host.
const MAX_IDLE_PER_HOST: usize = 8;
/// The largest read buffer of a registry connection.
const READ_BUFFER_MAX: usize = 64 << 10;
/// How long a registry found without the referrers API is taken to still lack it.
const REFERRERS_API_RECHECK: Duration = Duration::from_secs(600);
/// Per-request timeout unless configured: a registry on a LAN answers in milliseconds, a public
/// one in well under a second; 30 s leaves room for a slow token service without hanging.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Media types asked for when reading manifests.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct RegistryConfig {
    /// Registry hosts (with port) reached over plain HTTP. Nothing else ever is.
    pub insecure: Vec<String>,
    /// Extra PEM CA certificates trusted for registry TLS, in addition to the system roots.
    pub extra_ca_pem: Option<Vec<u8>>,
    /// Credentials by registry host, from a dockerconfigjson.
    pub credentials: HashMap<String, Credential>,
    /// Timeout of each HTTP call (connect, send, read the body).
    pub timeout: Option<Duration>,
}

/// Credentials for one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    Basic {
        username: String,
        password: String,
    },
    /// An identity (refresh) token, exchanged at the token service.
    IdentityToken(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
            Self::IdentityToken(_) => f.write_str("IdentityToken(***)"),
        }
    }
}

/// Why a registry call failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("registry config: {0}")]
    Config(String),
    #[error("{url}: {why}")]
    Transport { url: String, why: String },
    #[error("{url}: timed out after {secs}s")]
    Timeout { url: String, secs: u64 },
    #[error(
        "{url}: authentication required: {host} asks for credentials and none are configured for it; give a dockerconfigjson with an entry for {host}"
    )]
    AuthRequired { url: String, host: String },
    #[error(
        "{url}: the credentials for {host} were rejected (HTTP {status}); check the username and password (or identitytoken) in the dockerconfigjson"
    )]
    AuthRejected {
        url: String,
        host: String,
        status: u16,
    },
    #[error("{url}: HTTP {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("{url}: response larger than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("{url}: content does not match its digest {expected} (got {actual})")]
    DigestMismatch {
        url: String,
        expected: String,
        actual: String,
    },
    #[error("{url}: {what} does not parse: {why}")]
    Parse {
        url: String,
        what: &'static str,
        why: String,
    },
}

/// Parses a dockerconfigjson (`{"auths": {"host": {"auth": "base64(user:pass)"}}}`).
pub fn parse_docker_config(bytes: &[u8]) -> Result<HashMap<String, Credential>, RegistryError> {
    #[derive(Deserialize)]
    struct Config {
        #[serde(default)]
        auths: HashMap<String, Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        auth: Option<String>,
        username: Option<String>,
        password: Option<String>,
        identitytoken: Option<String>,
    }
    let c: Config = serde_json::from_slice(bytes)
        .map_err(|e| RegistryError::Config(format!("dockerconfigjson does not parse: {e}")))?;
    let mut out = HashMap::new();
    for (host, e) in c.auths {
        let host = host
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let host = match host.as_str() {
            "index.docker.io" | "registry-1.docker.io" => "docker.io".to_owned(),
            _ => host,
        };
        let cred = if let Some(t) = e.identitytoken.filter(|t| !t.is_empty()) {
            Credential::IdentityToken(t)
        } else if let (Some(u), Some(p)) = (e.username, e.password) {
            Credential::Basic {
                username: u,
                password: p,
            }
        } else if let Some(a) = e.auth {
            let decoded = STANDARD
                .decode(a.trim())
                .ok()
                .and_then(|d| String::from_utf8(d).ok())
                .ok_or_else(|| {
                    RegistryError::Config(format!("dockerconfigjson auth for {host} is not base64"))
                })?;
            let (u, p) = decoded.split_once(':').ok_or_else(|| {
                RegistryError::Config(format!(
                    "dockerconfigjson auth for {host} is not user:password"
                ))
            })?;
            Credential::Basic {
                username: u.to_owned(),
                password: p.to_owned(),
            }
        } else {
            continue;
        };
        out.insert(host, cred);
    }
    Ok(out)
}

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A registry client; clone it freely (clones share the pool and token cache).
#[derive(Clone)]
pub struct RegistryClient {
    http: HttpClient,
    config: Arc<RegistryConfig>,
    timeout: Duration,
    /// Bearer tokens by (host, scope).
    tokens: Arc<Mutex<HashMap<(String, String), String>>>,
    /// Registries (scheme and host) found without the referrers API, and when.
    no_referrers_api: Arc<Mutex<HashMap<String, Instant>>>,
}

/// A fetched manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub digest: Digest,
    pub media_type: String,
    pub bytes: Bytes,
}

/// An OCI descriptor as it appears in manifests and referrers lists.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    #[serde(default)]
    pub size: i64,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    #[serde(default)]
    pub artifact_type: Option<String>,
}

/// The parts of an image manifest or index this module reads.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ManifestBody {
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub artifact_type: Option<String>,
    #[serde(default)]
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
}

impl RegistryClient {
    pub fn new(config: RegistryConfig) -> Result<Self, RegistryError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        if let Some(pem) = &config.extra_ca_pem {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<_, _>>()
                .map_err(|e| RegistryError::Config(format!("CA bundle does not parse: {e}")))?;
            if certs.is_empty() {
                return Err(RegistryError::Config(
                    "CA bundle holds no PEM certificate".into(),
                ));
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| RegistryError::Config(format!("CA certificate rejected: {e}")))?;
            }
        }
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| RegistryError::Config(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let timeout = config.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout));
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        // A burst of releases opens many connections at once; only a few stay pooled, and a
        // connection's read buffer stays small (hyper's grows to 400 kB by default, which the
        // idle pool then keeps); blobs are read in steps of at most 64 kB.
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(MAX_IDLE_PER_HOST)
            .http1_max_buf_size(READ_BUFFER_MAX)
            .build(https);
        Ok(Self {
            http,
            config: Arc::new(config),
            timeout,
            tokens: Arc::default(),
            no_referrers_api: Arc::default(),
        })
    }

    fn base_url(&self, image: &ImageRef) -> String {
        format!("{}/v2/{}", self.registry_url(image), image.repository)
    }

    /// `scheme://host` of the image's registry API.
    fn registry_url(&self, image: &ImageRef) -> String {
        let scheme = if self.config.insecure.iter().any(|h| h == &image.registry) {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{}", image.api_host())
    }

    /// Resolves the image's digest: the pinned digest, or the tag's current manifest digest.
    pub async fn resolve(&self, image: &ImageRef) -> Result<Digest, RegistryError> {
        if let Some(d) = &image.digest {
            return Ok(d.clone());
        }
        let url = format!("{}/manifests/{}", self.base_url(image), image.reference());
        match self
            .get(image, &url, MANIFEST_ACCEPT, MAX_MANIFEST_BYTES)
            .await?
        {
            Some((_, body)) => Ok(Digest::of(&body)),
            None => Err(RegistryError::Status {
                url,
                status: 404,
                body: format!("no manifest for tag {}", image.reference()),
            }),
        }
    }

    /// Reads a manifest by tag or digest; `None` when the registry has none.
    pub async fn manifest(
        &self,
        image: &ImageRef,
        reference: &str,
    ) -> Result<Option<Manifest>, RegistryError> {
        let url = format!("{}/manifests/{reference}", self.base_url(image));
        let Some((headers, bytes)) = self
            .get(image, &url, MANIFEST_ACCEPT, MAX_MANIFEST_BYTES)
            .await?
        else {
            return Ok(None);
        };
        let digest = Digest::of(&bytes);
        if reference.starts_with("sha256:") && reference != digest.as_str() {
            return Err(RegistryError::DigestMismatch {
                url,
                expected: reference.to_owned(),
                actual: digest.to_string(),
            });
        }
        let media_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Ok(Some(Manifest {
            digest,
            media_type,
            bytes,
        }))
    }

    /// Reads a blob of the `size` its descriptor declares and checks it against its digest. The
    /// body is streamed with that size as its limit, so a registry that sends more is cut off
    /// before more is held.
    pub async fn blob(
        &self,
        image: &ImageRef,
        digest: &str,
        size: u64,
    ) -> Result<Bytes, RegistryError> {
        let url = format!("{}/blobs/{digest}", self.base_url(image));
        let limit = usize::try_from(size)
            .unwrap_or(usize::MAX)
            .min(MAX_BLOB_BYTES);
        let (_, bytes) =
            self.get(image, &url, "*/*", limit)
                .await?
                .ok_or_else(|| RegistryError::Status {
                    url: url.clone(),
                    status: 404,
                    body: "blob not found".into(),
                })?;
        let actual = Digest::of(&bytes);
        if actual.as_str() != digest {
            return Err(RegistryError::DigestMismatch {
                url,
                expected: digest.to_owned(),
                actual: actual.to_string(),
            });
        }
        Ok(bytes)
    }

    /// The OCI 1.1 referrers of a digest; `None` when the registry lacks the referrers API.
    ///
    /// A registry found without the API is not asked again for [`REFERRERS_API_RECHECK`]: it
    /// would cost a request per verification for a known answer. Only an answer that shows the
    /// route is missing counts (a 404 that is not an OCI error document, or a 200 that is not an
    /// index); a registry with the API answers a missing repository with an OCI error, and is
    /// asked every time.
    pub async fn referrers(
        &self,
        image: &ImageRef,
        digest: &Digest,
    ) -> Result<Option<Vec<Descriptor>>, RegistryError> {
        let registry = self.registry_url(image);
        if self.lacks_referrers_api(&registry) {
            return Ok(None);
        }
        let url = format!("{}/referrers/{digest}", self.base_url(image));
        let (found, headers, bytes) = self
            .get_or_404(
                image,
                &url,
                "application/vnd.oci.image.index.v1+json",
                MAX_MANIFEST_BYTES,
            )
            .await?;
        let is_index = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/vnd.oci.image.index.v1+json"));
        if !found {
            if !is_oci_error(&bytes) {
                self.record_no_referrers_api(registry);
            }
            return Ok(None);
        }
        if !is_index {
            // Registries without the API may answer with something else (e.g. an HTML page).
            self.record_no_referrers_api(registry);
            return Ok(None);
        }
        let body: ManifestBody =
            serde_json::from_slice(&bytes).map_err(|e| RegistryError::Parse {
                url,
                what: "referrers index",
                why: e.to_string(),
            })?;
        Ok(Some(body.manifests))
    }

    fn lacks_referrers_api(&self, registry: &str) -> bool {
        let known = self
            .no_referrers_api
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        known
            .get(registry)
            .is_some_and(|since| since.elapsed() < REFERRERS_API_RECHECK)
    }

    fn record_no_referrers_api(&self, registry: String) {
        let mut known = self
            .no_referrers_api
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        known.insert(registry, Instant::now());
    }

    /// GET with auth; `Ok(None)` on 404.
    async fn get(
        &self,
        image: &ImageRef,
        url: &str,
        accept: &str,
        limit: usize,
    ) -> Result<Option<(HeaderMap, Bytes)>, RegistryError> {
        let (found, headers, body) = self.get_or_404(image, url, accept, limit).await?;
        Ok(found.then_some((headers, body)))
    }

    /// GET with auth: a success (`true`) or a 404 (`false`), with its headers and body.
    async fn get_or_404(
        &self,
        image: &ImageRef,
        url: &str,
        accept: &str,
        limit: usize,
    ) -> Result<(bool, HeaderMap, Bytes), RegistryError> {
        let host = image.registry.clone();
        let scope = format!("repository:{}:pull", image.repository);
        let key = (host.clone(), scope.clone());
        let cached = self.tokens.lock().ok().and_then(|t| t.get(&key).cloned());
        let mut auth = cached.map(|t| format!("Bearer {t}"));
        for attempt in 0..2 {
            let (status, headers, body) = self
                .send(Method::GET, url, accept, auth.as_deref(), limit)
                .await?;
            match status {
                s if s.is_success() => return Ok((true, headers, body)),
                StatusCode::NOT_FOUND => return Ok((false, headers, body)),
                StatusCode::UNAUTHORIZED if attempt == 0 => {
                    let challenge = headers
                        .get(header::WWW_AUTHENTICATE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    auth = Some(self.authorize(&host, &scope, &challenge, url).await?);
                }
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    return Err(self.auth_error(url, &host, status.as_u16()));
                }
                s => {
                    return Err(RegistryError::Status {
                        url: url.to_owned(),
                        status: s.as_u16(),
                        body: String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
                    });
                }
            }
        }
        Err(self.auth_error(url, &host, 401))
    }

    /// A refusal, told apart by whether credentials for `host` were sent.
    fn auth_error(&self, url: &str, host: &str, status: u16) -> RegistryError {
        if self.config.credentials.contains_key(host) {
            RegistryError::AuthRejected {
                url: url.to_owned(),
                host: host.to_owned(),
                status,
            }
        } else {
            RegistryError::AuthRequired {
                url: url.to_owned(),
                host: host.to_owned(),
            }
        }
    }

    /// Answers a `WWW-Authenticate` challenge with basic credentials or a bearer token.
    async fn authorize(
        &self,
        host: &str,
        scope: &str,
        challenge: &str,
        url: &str,
    ) -> Result<String, RegistryError> {
        let cred = self.config.credentials.get(host);
        let basic = |c: &Credential| match c {
            Credential::Basic { username, password } => Some(format!(
                "Basic {}",
                STANDARD.encode(format!("{username}:{password}"))
            )),
            Credential::IdentityToken(_) => None,
        };
        let unauthorized = || self.auth_error(url, host, 401);
        let (scheme, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return cred.and_then(basic).ok_or_else(unauthorized);
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(unauthorized());
        }
        let params = parse_challenge(params);
        let realm = params.get("realm").ok_or_else(unauthorized)?;
        let mut token_url = format!("{realm}?scope={}", urlencode(scope));
        if let Some(service) = params.get("service") {
            token_url.push_str(&format!("&service={}", urlencode(service)));
        }
        let (status, _, body) = match cred {
            // The distribution token spec's OAuth2 form (what docker and ggcr do with an
            // `identitytoken`): POST the refresh token to the realm; `access_token` comes back.
            Some(Credential::IdentityToken(refresh)) => {
                let form = {
                    let mut form = form_urlencoded::Serializer::new(String::new());
                    form.append_pair("grant_type", "refresh_token")
                        .append_pair("refresh_token", refresh)
                        .append_pair("scope", scope)
                        .append_pair("client_id", "release-gate");
                    if let Some(service) = params.get("service") {
                        form.append_pair("service", service);
                    }
                    form.finish()
                };
                token_url = realm.clone();
                self.send_with_body(
                    Method::POST,
                    &token_url,
                    "application/json",
                    None,
                    Some(("application/x-www-form-urlencoded", form.into())),
                    MAX_MANIFEST_BYTES,
                )
                .await?
            }
            _ => {
                let token_auth = cred.and_then(basic);
                self.send(
                    Method::GET,
                    &token_url,
                    "application/json",
                    token_auth.as_deref(),
                    MAX_MANIFEST_BYTES,
                )
                .await?
            }
        };
        if !status.is_success() {
            return Err(self.auth_error(&token_url, host, status.as_u16()));
        }
        #[derive(Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let t: Token = serde_json::from_slice(&body).map_err(|e| RegistryError::Parse {
            url: token_url.clone(),
            what: "token response",
            why: e.to_string(),
        })?;
        let token = t
            .token
            .or(t.access_token)
            .ok_or_else(|| RegistryError::Parse {
                url: token_url,
                what: "token response",
                why: "no token".into(),
            })?;
        if let Ok(mut cache) = self.tokens.lock() {
            cache.insert((host.to_owned(), scope.to_owned()), token.clone());
        }
        Ok(format!("Bearer {token}"))
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        accept: &str,
        auth: Option<&str>,
        limit: usize,
    ) -> Result<(StatusCode, HeaderMap, Bytes), RegistryError> {
        self.send_with_body(method, url, accept, auth, None, limit)
            .await
    }

    /// [`Self::send`] with a request body and its content type.
    async fn send_with_body(
        &self,
        method: Method,
        url: &str,
        accept: &str,
        auth: Option<&str>,
        body: Option<(&str, Bytes)>,
        limit: usize,
    ) -> Result<(StatusCode, HeaderMap, Bytes), RegistryError> {
        let transport = |why: String| RegistryError::Transport {
            url: url.to_owned(),
            why,
        };
        let mut req = Request::builder()
            .method(method)
            .uri(url)
            .header(header::ACCEPT, accept)
            .header(
                header::USER_AGENT,
                concat!("release-gate/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(a) = auth {
            req = req.header(
                header::AUTHORIZATION,
                HeaderValue::from_str(a).map_err(|e| transport(e.to_string()))?,
            );
        }
        let body = match body {
            Some((content_type, bytes)) => {
                req = req.header(header::CONTENT_TYPE, content_type);
                bytes
            }
            None => Bytes::new(),
        };
        let req = req
            .body(Full::new(body))
            .map_err(|e| transport(e.to_string()))?;
        let call = async {
            let resp = self
                .http
                .request(req)
                .await
                .map_err(|e| transport(error_chain(&e)))?;
            let (parts, body) = resp.into_parts();
            let body = Limited::new(body, limit)
                .collect()
                .await
                .map_err(|e| {
                    if e.downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some()
                    {
                        RegistryError::TooLarge {
                            url: url.to_owned(),
                            limit,
                        }
                    } else {
                        transport(e.to_string())
                    }
                })?
                .to_bytes();
            Ok((parts.status, parts.headers, body))
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| RegistryError::Timeout {
                url: url.to_owned(),
                secs: self.timeout.as_secs(),
            })?
    }
}

/// Whether `body` is an OCI distribution error document (`{"errors": [...]}`): the answer of a
/// registry that knows the route, unlike a router's plain "404 page not found".
fn is_oci_error(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .is_ok_and(|v| v.get("errors").is_some_and(serde_json::Value::is_array))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Parses `realm="…",service="…",scope="…"`.
fn parse_challenge(params: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = params.trim();
    while !rest.is_empty() {
        let Some((k, v)) = rest.split_once('=') else {
            break;
        };
        let k = k.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let v = v.trim_start();
        let (value, tail) = if let Some(q) = v.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (&q[..end], &q[end + 1..]),
                None => (q, ""),
            }
        } else {
            match v.find(',') {
                Some(end) => (&v[..end], &v[end..]),
                None => (v, ""),
            }
        };
        out.insert(k, value.to_owned());
        rest = tail.trim_start_matches(',').trim();
    }
    out
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_an_oci_error_from_a_missing_route() {
        assert!(is_oci_error(
            br#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known"}]}"#
        ));
        assert!(is_oci_error(br#"{"errors":[]}"#));
        assert!(!is_oci_error(b"404 page not found\n"));
        assert!(!is_oci_error(b"<html><body>Not Found</body></html>"));
        assert!(!is_oci_error(br#"{"message":"not found"}"#));
        assert!(!is_oci_error(b""));
    }

    #[test]
    fn parses_bearer_challenges() {
        let p = parse_challenge(
            r#"realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#,
        );
        assert_eq!(p["realm"], "https://auth.docker.io/token");
        assert_eq!(p["service"], "registry.docker.io");
        assert_eq!(p["scope"], "repository:library/nginx:pull");
        assert_eq!(
            urlencode("repository:a/b:pull"),
            "repository%3Aa%2Fb%3Apull"
        );
    }

    #[test]
    fn parses_dockerconfigjson() {
        let c = parse_docker_config(
            br#"{"auths": {"https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNz"},
                "ghcr.io": {"username": "u", "password": "p"},
                "quay.io": {"identitytoken": "tok"}}}"#,
        )
        .unwrap();
        assert_eq!(
            c["docker.io"],
            Credential::Basic {
                username: "user".into(),
                password: "pass".into()
            }
        );
        assert!(matches!(c["ghcr.io"], Credential::Basic { .. }));
        assert_eq!(c["quay.io"], Credential::IdentityToken("tok".into()));
        assert!(
            !format!("{:?}", c["ghcr.io"]).contains('p')
                || !format!("{:?}", c["ghcr.io"]).contains("\"p\"")
        );
        assert!(parse_docker_config(b"{").is_err());
        assert!(parse_docker_config(br#"{"auths": {"h": {"auth": "!!"}}}"#).is_err());
    }

    #[test]
    fn bad_ca_bundle_is_a_config_error() {
        let e = RegistryClient::new(RegistryConfig {
            extra_ca_pem: Some(b"not a certificate".to_vec()),
            ..Default::default()
        })
        .err()
        .unwrap();
        assert!(matches!(e, RegistryError::Config(_)), "{e}");
    }
}
