//! `release-gate webhook`: the HTTPS server the API server calls for admission. It serves
//! `/healthz` and `/readyz` over TLS; the admission review endpoints plug in here.

use crate::shutdown::Shutdown;
use anyhow::Context as _;
use axum::{Router, routing::get};
use axum_server::tls_rustls::RustlsConfig;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
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
}

pub async fn run(args: WebhookArgs, shutdown: Shutdown) -> anyhow::Result<()> {
    let WebhookArgs {
        webhook_addr,
        tls_cert,
        tls_key,
    } = args;
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
        .route("/readyz", get(|| async { "ready" }));
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
