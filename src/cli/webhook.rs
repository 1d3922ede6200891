//! `release-gate webhook`: the HTTPS server the API server calls for admission. It serves
//! `/healthz` and `/readyz` over TLS and holds the pinned policy bundle (hot-reloaded, failing
//! closed); the admission review endpoints plug in here.

use crate::policy::{Pin, PolicyHolder};
use crate::shutdown::Shutdown;
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
    /// PEM certificate chain served by the webhook. Without it a self-signed certificate for
    /// localhost is generated (fine for trying things out; the API server must then be given
    /// that certificate as caBundle).
    #[arg(long, env = "RELEASE_GATE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key matching --tls-cert.
    #[arg(long, env = "RELEASE_GATE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The Rego policy bundle directory (or mounted ConfigMap) admission is judged by. It is
    /// re-read every few seconds; the webhook is ready only while a bundle matching the pin is
    /// loaded.
    #[arg(long, env = "RELEASE_GATE_POLICY_BUNDLE")]
    pub policy_bundle: Option<PathBuf>,
    /// The bundle's pinned digest (`release-gate policy digest DIR`); any other bundle is
    /// refused and the last matching one keeps serving.
    #[arg(long, env = "RELEASE_GATE_POLICY_DIGEST", requires = "policy_bundle")]
    pub policy_digest: Option<String>,
    /// Load the bundle without a pin. For development only: whoever can write the directory
    /// decides what is admitted.
    #[arg(
        long,
        env = "RELEASE_GATE_ALLOW_UNPINNED_POLICY",
        requires = "policy_bundle",
        conflicts_with = "policy_digest"
    )]
    pub allow_unpinned_policy: bool,
}

/// How often the policy bundle is re-read (its digest compared) for changes.
const POLICY_POLL: Duration = Duration::from_secs(5);

/// The policy holder the flags ask for, or why they are not enough.
pub fn policy_holder(
    bundle: Option<PathBuf>,
    digest: Option<String>,
    allow_unpinned: bool,
) -> anyhow::Result<Option<Arc<PolicyHolder>>> {
    let Some(dir) = bundle else {
        return Ok(None);
    };
    let pin = match (digest, allow_unpinned) {
        (Some(d), _) => Pin::Digest(d),
        (None, true) => Pin::Unpinned,
        (None, false) => anyhow::bail!(
            "--policy-bundle {} needs --policy-digest (print it with `release-gate policy digest {}`) or, for development only, --allow-unpinned-policy",
            dir.display(),
            dir.display()
        ),
    };
    Ok(Some(Arc::new(PolicyHolder::new(&dir, pin))))
}

/// `/readyz`: 200 while a pinned bundle is served (or none is configured), 503 with the
/// reason otherwise. A failed reload is reported while the last good bundle keeps serving.
fn readiness(policy: Option<&PolicyHolder>) -> (StatusCode, String) {
    let Some(policy) = policy else {
        return (StatusCode::OK, "ready".into());
    };
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

pub async fn run(args: WebhookArgs, shutdown: Shutdown) -> anyhow::Result<()> {
    let WebhookArgs {
        webhook_addr,
        tls_cert,
        tls_key,
        policy_bundle,
        policy_digest,
        allow_unpinned_policy,
    } = args;
    let policy = policy_holder(policy_bundle, policy_digest, allow_unpinned_policy)?;
    if let Some(holder) = &policy {
        tokio::spawn(holder.clone().watch(POLICY_POLL, shutdown.clone()));
    }
    let tls = match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => RustlsConfig::from_pem_file(&cert, &key)
            .await
            .with_context(|| {
                format!(
                    "cannot load the webhook certificate --tls-cert {} / --tls-key {}",
                    cert.display(),
                    key.display()
                )
            })?,
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
            "/readyz",
            get(move || {
                let policy = policy.clone();
                async move { readiness(policy.as_deref()) }
            }),
        );
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        // In-flight admission calls get the API server's own deadline to finish.
        stopper.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    tracing::info!(addr = %webhook_addr, "webhook serving HTTPS");
    axum_server::bind_rustls(webhook_addr, tls)
        .handle(handle)
        .serve(app.into_make_service())
        .await
        .with_context(|| format!("webhook server on {webhook_addr}"))?;
    tracing::info!("webhook shut down cleanly");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_without_a_pin_needs_the_development_flag() {
        let err = policy_holder(Some("policies".into()), None, false).expect_err("refused");
        assert!(err.to_string().contains("--allow-unpinned-policy"), "{err}");
        assert!(policy_holder(None, None, false).expect("ok").is_none());
    }

    #[test]
    fn readiness_says_which_bundle_or_why_none() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        let pinned = PolicyHolder::new(&dir, Pin::Digest(format!("sha256:{}", "0".repeat(64))));
        let (code, text) = readiness(Some(&pinned));
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert!(text.contains("refusing to load it"), "{text}");
        let loaded = PolicyHolder::new(&dir, Pin::Unpinned);
        let (code, text) = readiness(Some(&loaded));
        assert_eq!(code, StatusCode::OK);
        assert!(text.starts_with("ready: policy sha256:"), "{text}");
    }
}
