//! `release-gate webhook`: the HTTPS server the API server calls for admission. It serves
//! `/healthz` and `/readyz` over TLS and holds the pinned policy bundle (hot-reloaded, failing
//! closed); the admission review endpoints plug in here.

use crate::admission::certs::{CertConfig, SelfManaged};
use crate::admission::report::AuditSink;
use crate::admission::resolve::{TagResolution, TagResolver};
use crate::admission::server::{AdmissionState, routes};
use crate::admission::{Admission, AdmissionConfig, Mode, ReleaseIndex};
use crate::evidence::{RegistryClient, RegistryConfig};
use crate::policy::PolicyHolder;
use crate::shutdown::Shutdown;
use crate::telemetry::Metrics;
use anyhow::Context as _;
use axum::{Router, http::StatusCode, routing::get};
use axum_server::tls_rustls::RustlsConfig;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Flags of the webhook server.
#[derive(Debug, Clone, Args)]
pub struct WebhookArgs {
    /// Address the HTTPS webhook listens on.
    #[arg(
        long,
        env = "RELEASE_GATE_WEBHOOK_ADDR",
        default_value = "0.0.0.0:8443"
    )]
    pub webhook_addr: SocketAddr,
    /// PEM certificate chain served by the webhook. Without it (and without
    /// --self-managed-certs) a self-signed certificate for localhost is generated (fine for
    /// trying things out; the API server must then be given that certificate as caBundle).
    #[arg(
        long,
        env = "RELEASE_GATE_TLS_CERT",
        requires = "tls_key",
        conflicts_with = "self_managed_certs"
    )]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key matching --tls-cert.
    #[arg(long, env = "RELEASE_GATE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// What a denial does in namespaces without a `releasegate.dev/mode` label: enforce (deny),
    /// warn (admit with warnings kubectl prints) or audit (admit, log and count).
    #[arg(long, env = "RELEASE_GATE_ADMISSION_MODE", value_enum, default_value_t = Mode::Enforce)]
    pub admission_mode: Mode,
    /// Namespaces admitted without a decision (repeat the flag, or comma-separate in the
    /// environment variable). The defaults keep the control plane and the gate itself running.
    #[arg(
        long = "exempt-namespace",
        env = "RELEASE_GATE_EXEMPT_NAMESPACES",
        value_delimiter = ',',
        default_values_t = ["kube-system".to_string(), "kube-public".to_string(), "kube-node-lease".to_string(), "release-gate".to_string()]
    )]
    pub exempt_namespaces: Vec<String>,
    /// The webhook answers within this many milliseconds whatever happens (a late decision is
    /// a denial saying so). Keep it below the webhook configuration's timeoutSeconds.
    #[arg(
        long,
        env = "RELEASE_GATE_ADMISSION_DEADLINE_MS",
        default_value_t = 2000
    )]
    pub admission_deadline_ms: u64,
    /// Write every AdmissionReview the webhook receives to DIR/<uid>.json, to reproduce a
    /// decision (`release-gate admission input --review FILE`, then `release-gate policy
    /// eval`). A debugging aid: the files hold the workloads' specs.
    #[arg(long, env = "RELEASE_GATE_RECORD_REVIEWS")]
    pub record_reviews: Option<PathBuf>,
    #[command(flatten)]
    pub certs: SelfManagedCertArgs,
    #[command(flatten)]
    pub tags: TagResolutionArgs,
}

/// Flags of tag resolution (tag-only images).
#[derive(Debug, Clone, Args)]
pub struct TagResolutionArgs {
    /// What a tag-only image gets where the namespace has no `releasegate.dev/tag-resolution`
    /// label: strict (denied: pin the image by digest) or lenient (resolved to its digest by a
    /// short, cached registry lookup, then judged as that digest; a failed lookup denies).
    #[arg(long, env = "RELEASE_GATE_TAG_RESOLUTION", value_enum, default_value_t = TagResolution::Strict)]
    pub tag_resolution: TagResolution,
    /// How long a resolved tag is reused without asking the registry again (e.g. 60s, 5m).
    #[arg(long, env = "RELEASE_GATE_TAG_CACHE_TTL", default_value = "60s",
          value_parser = crate::evidence::vuln_facts::parse_duration)]
    pub tag_cache_ttl: Duration,
    /// Budget of one tag lookup in milliseconds; below --admission-deadline-ms, so a slow
    /// registry is a clear denial, not a timeout.
    #[arg(
        long,
        env = "RELEASE_GATE_TAG_LOOKUP_TIMEOUT_MS",
        default_value_t = 1000
    )]
    pub tag_lookup_timeout_ms: u64,
    /// Registry hosts (host:port) tag lookups reach over plain HTTP. Repeat or comma-separate.
    #[arg(
        long = "tag-lookup-insecure-registry",
        env = "RELEASE_GATE_INSECURE_REGISTRIES",
        value_delimiter = ','
    )]
    pub tag_lookup_insecure_registries: Vec<String>,
    /// Registry credentials for tag lookups: a docker `config.json` / `.dockerconfigjson`.
    #[arg(long, env = "RELEASE_GATE_REGISTRY_CONFIG")]
    pub tag_lookup_registry_config: Option<PathBuf>,
    /// Extra CA certificates (PEM) trusted for registry TLS by tag lookups.
    #[arg(long, env = "RELEASE_GATE_REGISTRY_CA_FILE")]
    pub tag_lookup_registry_ca_file: Option<PathBuf>,
}

impl TagResolutionArgs {
    /// The default resolution and the resolver (always built: a namespace label may ask for
    /// lenient resolution where the default is strict). The lookup must fit the deadline.
    fn build(self, deadline_ms: u64) -> anyhow::Result<(TagResolution, TagResolver)> {
        let TagResolutionArgs {
            tag_resolution,
            tag_cache_ttl,
            tag_lookup_timeout_ms,
            tag_lookup_insecure_registries,
            tag_lookup_registry_config,
            tag_lookup_registry_ca_file,
        } = self;
        if tag_lookup_timeout_ms == 0 || tag_lookup_timeout_ms >= deadline_ms {
            anyhow::bail!(
                "--tag-lookup-timeout-ms {tag_lookup_timeout_ms} must be above 0 and below --admission-deadline-ms {deadline_ms}, so a slow registry is answered with a clear denial"
            );
        }
        let credentials = match &tag_lookup_registry_config {
            Some(p) => {
                let bytes = std::fs::read(p).with_context(|| {
                    format!("cannot read --tag-lookup-registry-config {}", p.display())
                })?;
                crate::evidence::registry::parse_docker_config(&bytes)
                    .with_context(|| format!("--tag-lookup-registry-config {}", p.display()))?
            }
            None => Default::default(),
        };
        let extra_ca_pem = match &tag_lookup_registry_ca_file {
            Some(p) => Some(std::fs::read(p).with_context(|| {
                format!("cannot read --tag-lookup-registry-ca-file {}", p.display())
            })?),
            None => None,
        };
        let timeout = Duration::from_millis(tag_lookup_timeout_ms);
        let registry = RegistryClient::new(RegistryConfig {
            insecure: tag_lookup_insecure_registries,
            extra_ca_pem,
            credentials,
            timeout: Some(timeout),
        })
        .context("cannot build the registry client for tag lookups")?;
        Ok((
            tag_resolution,
            TagResolver::new(
                registry,
                tag_cache_ttl,
                timeout,
                Metrics::shared().admission.tag_lookups.clone(),
            ),
        ))
    }
}

/// Flags of the self-managed certificates (the chart's default when cert-manager is not used).
#[derive(Debug, Clone, Args)]
pub struct SelfManagedCertArgs {
    /// Be the webhook's own CA: keep a CA and a serving certificate for the Service's DNS names
    /// in a Secret (shared by replicas, kept across restarts), write the CA into the
    /// ValidatingWebhookConfiguration's caBundle, renew the certificate before it expires and
    /// serve the renewed one without a restart.
    #[arg(long, env = "RELEASE_GATE_SELF_MANAGED_CERTS")]
    pub self_managed_certs: bool,
    /// The Secret (in --webhook-namespace) that holds the CA and the serving certificate.
    #[arg(
        long,
        env = "RELEASE_GATE_CERT_SECRET",
        default_value = "release-gate-webhook-tls"
    )]
    pub cert_secret: String,
    /// The namespace of the webhook's Service and Secret (default: the client's namespace,
    /// i.e. the Pod's own).
    #[arg(long, env = "RELEASE_GATE_WEBHOOK_NAMESPACE")]
    pub webhook_namespace: Option<String>,
    /// The Service the API server calls the webhook through (its DNS names go into the
    /// certificate).
    #[arg(
        long,
        env = "RELEASE_GATE_WEBHOOK_SERVICE",
        default_value = "release-gate"
    )]
    pub webhook_service: String,
    /// The ValidatingWebhookConfiguration whose caBundle is kept at the CA.
    #[arg(
        long,
        env = "RELEASE_GATE_WEBHOOK_CONFIGURATION",
        default_value = "release-gate"
    )]
    pub webhook_configuration: String,
    /// A further DNS name or IP address for the serving certificate (repeatable).
    #[arg(
        long = "cert-extra-name",
        env = "RELEASE_GATE_CERT_EXTRA_NAMES",
        value_delimiter = ','
    )]
    pub cert_extra_names: Vec<String>,
    /// Validity of a serving certificate (e.g. 30d, 12h, 90s).
    #[arg(long, env = "RELEASE_GATE_CERT_LIFETIME", default_value = "30d",
          value_parser = crate::evidence::vuln_facts::parse_duration)]
    pub cert_lifetime: Duration,
    /// Renew the serving certificate once this fraction of its lifetime has passed.
    #[arg(long, env = "RELEASE_GATE_CERT_RENEW_FRACTION", default_value = "0.667",
          value_parser = crate::admission::certs::parse_fraction)]
    pub cert_renew_fraction: f64,
}

/// How often the certificate files are checked for a rotation (cert-manager and the kubelet
/// update a mounted Secret within a minute or so; the served certificate follows within this).
const CERT_POLL: Duration = Duration::from_secs(5);

/// Serves a rotated certificate without a restart: when the certificate and key files both
/// change (and still parse as a matching pair), new TLS handshakes use them; a half-written or
/// mismatched pair keeps the old one and is logged.
async fn reload_certificate(tls: RustlsConfig, cert: PathBuf, key: PathBuf, shutdown: Shutdown) {
    let read = |c: &PathBuf, k: &PathBuf| (std::fs::read(c).ok(), std::fs::read(k).ok());
    let mut served = read(&cert, &key);
    let mut ticker = tokio::time::interval(CERT_POLL);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = ticker.tick() => {}
        }
        let now = read(&cert, &key);
        let (Some(c), Some(k)) = (&now.0, &now.1) else {
            continue;
        };
        if now.0 == served.0 || now.1 == served.1 {
            // Both files change on a rotation; one alone is a write in progress.
            continue;
        }
        match tls.reload_from_pem(c.clone(), k.clone()).await {
            Ok(()) => {
                tracing::info!(cert = %cert.display(), "serving the rotated webhook certificate");
                served = now;
            }
            Err(e) => tracing::warn!(cert = %cert.display(), error = %e,
                "the certificate files changed but do not load; still serving the previous certificate"),
        }
    }
}

/// `/readyz`: 200 while a pinned bundle is served (or none is configured), 503 with the
/// reason otherwise. A failed reload is reported while the last good bundle keeps serving.
fn readiness(policy: Option<&PolicyHolder>, index: Option<&ReleaseIndex>) -> (StatusCode, String) {
    let Some(policy) = policy else {
        return (StatusCode::OK, "ready".into());
    };
    if index.is_some_and(|i| !i.synced()) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the release index is still syncing with the API server".into(),
        );
    }
    let status = policy.status();
    match (&status.serving, &status.failure) {
        (Some((digest, _)), None) => (StatusCode::OK, format!("ready: policy {digest}")),
        (Some((digest, _)), Some(failure)) => (
            StatusCode::OK,
            format!("ready: policy {digest}; the bundle on disk did not load: {failure}"),
        ),
        (None, failure) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "not ready: no policy bundle loaded: {}",
                failure.as_deref().unwrap_or("not loaded yet")
            ),
        ),
    }
}

/// Serves the webhook until `shutdown`; `policy` is the loaded, pinned bundle (see
/// [`super::policy_args::PolicyArgs`]), or None when no bundle is configured.
pub async fn run(
    args: WebhookArgs,
    policy: Option<Arc<PolicyHolder>>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let WebhookArgs {
        webhook_addr,
        tls_cert,
        tls_key,
        admission_mode,
        exempt_namespaces,
        admission_deadline_ms,
        record_reviews,
        certs,
        tags,
    } = args;
    let (tag_resolution, resolver) = tags.build(admission_deadline_ms)?;
    let SelfManagedCertArgs {
        self_managed_certs,
        cert_secret,
        webhook_namespace,
        webhook_service,
        webhook_configuration,
        cert_extra_names,
        cert_lifetime,
        cert_renew_fraction,
    } = certs;
    // The index and the self-managed certificates need the API server; without a policy there
    // is nothing to decide with, and /validate fails closed without either.
    let client = if policy.is_some() || self_managed_certs {
        Some(kube::Client::try_default().await.context(
            "the admission index and self-managed certificates need the API server: set KUBECONFIG or run inside a cluster",
        )?)
    } else {
        None
    };
    let (index, audit) = match (&policy, &client) {
        (Some(_), Some(client)) => {
            let client = client.clone();
            (
                Some(ReleaseIndex::start(client.clone())),
                Some(AuditSink::new(client)),
            )
        }
        _ => (None, None),
    };
    let deadline = Duration::from_millis(admission_deadline_ms);
    let admission = Arc::new(Admission {
        config: AdmissionConfig {
            default_mode: admission_mode,
            exempt_namespaces: exempt_namespaces.into_iter().collect(),
            tag_resolution,
        },
        policy: policy.clone(),
        index: index.clone(),
        audit,
        resolver: Some(resolver),
    });
    let state = AdmissionState {
        admission,
        metrics: Metrics::shared().admission.clone(),
        deadline,
        record_reviews,
    };
    let tls = match (tls_cert, tls_key, client) {
        (_, _, Some(client)) if self_managed_certs => {
            let namespace =
                webhook_namespace.unwrap_or_else(|| client.default_namespace().to_string());
            let manager = SelfManaged::new(
                client,
                CertConfig {
                    namespace,
                    secret: cert_secret,
                    service: webhook_service,
                    webhook_configuration,
                    extra_names: cert_extra_names,
                    lifetime: cert_lifetime,
                    renew_fraction: cert_renew_fraction,
                },
            );
            let set = manager
                .current()
                .await
                .context("self-managed webhook certificates")?;
            let tls = RustlsConfig::from_pem(
                set.cert_pem.clone().into_bytes(),
                set.key_pem.clone().into_bytes(),
            )
            .await
            .context("cannot use the self-managed webhook certificate")?;
            // A missing configuration (not installed yet) is retried by the maintenance loop;
            // the server starts either way.
            if let Err(e) = manager.patch_ca_bundle(&set.ca_pem).await {
                tracing::warn!(error = %e, "cannot write the caBundle yet; retrying");
            }
            tokio::spawn(manager.maintain(tls.clone(), set, shutdown.clone()));
            tls
        }
        (Some(cert), Some(key), _) => {
            let tls = RustlsConfig::from_pem_file(&cert, &key)
                .await
                .with_context(|| {
                    format!(
                        "cannot load the webhook certificate --tls-cert {} / --tls-key {}",
                        cert.display(),
                        key.display()
                    )
                })?;
            tokio::spawn(reload_certificate(tls.clone(), cert, key, shutdown.clone()));
            tls
        }
        _ => {
            let cert =
                rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
                    .context("cannot generate a self-signed webhook certificate")?;
            tracing::warn!("no --tls-cert given: serving a self-signed certificate for localhost");
            RustlsConfig::from_pem(
                cert.cert.pem().into_bytes(),
                cert.signing_key.serialize_pem().into_bytes(),
            )
            .await
            .context("cannot use the generated webhook certificate")?
        }
    };
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/metrics",
            get(|| async {
                (
                    [(
                        "content-type",
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    Metrics::shared().encode(),
                )
            }),
        )
        .route(
            "/readyz",
            get(move || {
                let policy = policy.clone();
                let index = index.clone();
                async move { readiness(policy.as_deref(), index.as_ref()) }
            }),
        )
        .merge(routes(state));
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        // In-flight admission calls get the API server's own deadline to finish.
        stopper.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    tracing::info!(addr = %webhook_addr, "webhook serving HTTPS");
    // TCP_NODELAY, as Go's servers set it: an answer is a few small writes (HTTP/2 frames in
    // TLS records) that must not wait for the client's ACK of the previous one.
    let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(tls)
        .acceptor(axum_server::accept::NoDelayAcceptor::new());
    axum_server::bind(webhook_addr)
        .acceptor(acceptor)
        .handle(handle)
        .serve(app.into_make_service())
        .await
        .with_context(|| format!("webhook server on {webhook_addr}"))?;
    tracing::info!("webhook shut down cleanly");
    Ok(())
}

/// Flags of `release-gate admission input`.
#[derive(Debug, Clone, Args)]
pub struct AdmissionInputArgs {
    /// The AdmissionReview (JSON), e.g. one written by `webhook --record-reviews DIR`.
    #[arg(long, env = "RELEASE_GATE_ADMISSION_REVIEW")]
    pub review: PathBuf,
    /// How long to wait for the release index to sync with the API server, in seconds.
    #[arg(
        long,
        env = "RELEASE_GATE_ADMISSION_SYNC_TIMEOUT",
        default_value_t = 30
    )]
    pub sync_timeout: u64,
    #[command(flatten)]
    pub tags: TagResolutionArgs,
}

/// `release-gate admission input`: prints the policy input the webhook builds for a review,
/// from the cluster's current releases, Decisions and Namespaces (and lenient tag resolution
/// as configured), so the decision can be replayed with `release-gate policy eval --input`.
pub async fn print_input(args: AdmissionInputArgs) -> anyhow::Result<()> {
    let AdmissionInputArgs {
        review,
        sync_timeout,
        tags,
    } = args;
    let body = std::fs::read(&review)
        .with_context(|| format!("cannot read --review {}", review.display()))?;
    let parsed = crate::admission::review::Review::parse(&body)
        .with_context(|| format!("--review {}", review.display()))?;
    let namespace = parsed.namespace().map(str::to_string).with_context(|| {
        format!(
            "--review {}: request.namespace is missing",
            review.display()
        )
    })?;
    let (tag_resolution, resolver) = tags.build(u64::MAX)?;
    let client = kube::Client::try_default()
        .await
        .context("the release index needs the API server: set KUBECONFIG")?;
    let index = ReleaseIndex::start(client);
    let started = std::time::Instant::now();
    while !index.synced() {
        if started.elapsed() > Duration::from_secs(sync_timeout) {
            anyhow::bail!(
                "the release index did not sync with the API server within {sync_timeout} s"
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let admission = Admission {
        config: AdmissionConfig {
            tag_resolution,
            ..AdmissionConfig::default()
        },
        policy: None,
        index: None,
        audit: None,
        resolver: Some(resolver),
    };
    let labels = index.namespace_labels(&namespace);
    let input = admission
        .input(&parsed, parsed.kind(), &namespace, &labels, &index)
        .await
        .map_err(|reasons| {
            anyhow::anyhow!(
                "the webhook would deny before the policy: {}",
                reasons.join("; ")
            )
        })?;
    let text = serde_json::to_string_pretty(&input).context("cannot print the input")?;
    println!("{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_lookup_must_fit_inside_the_admission_deadline() {
        let args = |ms: u64| TagResolutionArgs {
            tag_resolution: TagResolution::Lenient,
            tag_cache_ttl: Duration::from_secs(60),
            tag_lookup_timeout_ms: ms,
            tag_lookup_insecure_registries: vec![],
            tag_lookup_registry_config: None,
            tag_lookup_registry_ca_file: None,
        };
        for bad in [0, 2000, 5000] {
            let e = args(bad).build(2000).err().expect("refused").to_string();
            assert!(
                e.contains("--tag-lookup-timeout-ms") && e.contains("--admission-deadline-ms 2000"),
                "{e}"
            );
        }
        assert!(args(1000).build(2000).is_ok());
        let mut missing = args(1000);
        missing.tag_lookup_registry_config = Some("/nonexistent/config.json".into());
        let e = format!("{:#}", missing.build(2000).err().expect("refused"));
        assert!(
            e.contains("--tag-lookup-registry-config /nonexistent/config.json"),
            "{e}"
        );
    }

    #[test]
    fn readiness_says_which_bundle_or_why_none() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        let pinned = PolicyHolder::new(
            &dir,
            crate::policy::Pin::Digest(format!("sha256:{}", "0".repeat(64))),
        );
        let (code, text) = readiness(Some(&pinned), None);
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert!(text.contains("refusing to load it"), "{text}");
        let loaded = PolicyHolder::new(&dir, crate::policy::Pin::Unpinned);
        let (code, text) = readiness(Some(&loaded), None);
        assert_eq!(code, StatusCode::OK);
        assert!(text.starts_with("ready: policy sha256:"), "{text}");
    }
}
