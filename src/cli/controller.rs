//! `release-gate controller`: runs the HardenedRelease and CanaryDrill reconcilers until
//! SIGTERM, with health and metrics endpoints.

use crate::shutdown::Shutdown;
use crate::telemetry::{Metrics, serve_health};
use anyhow::Context as _;
use clap::Args;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Flags of the controllers.
#[derive(Debug, Clone, Args)]
pub struct ControllerArgs {
    /// Address of the plain-HTTP /healthz, /readyz and /metrics endpoints of the controllers.
    #[arg(
        long,
        env = "RELEASE_GATE_CONTROLLER_HEALTH_ADDR",
        default_value = "0.0.0.0:8080"
    )]
    pub controller_health_addr: SocketAddr,
    /// Watch only this namespace instead of the whole cluster.
    #[arg(long, env = "RELEASE_GATE_WATCH_NAMESPACE")]
    pub watch_namespace: Option<String>,
}

pub async fn run(args: ControllerArgs, shutdown: Shutdown) -> anyhow::Result<()> {
    let ControllerArgs {
        controller_health_addr,
        watch_namespace,
    } = args;
    let client = kube::Client::try_default().await.context(
        "cannot build a Kubernetes client: set KUBECONFIG or run inside a cluster with a service account",
    )?;
    let version = client
        .apiserver_version()
        .await
        .context("cannot reach the Kubernetes API server")?;
    tracing::info!(
        server = %version.git_version,
        "connected to the Kubernetes API server"
    );
    let metrics = Metrics::shared();
    let ready = Arc::new(AtomicBool::new(false));
    let health = tokio::spawn(serve_health(
        controller_health_addr,
        metrics.clone(),
        ready.clone(),
        shutdown.clone(),
    ));
    let ctx = Arc::new(crate::reconcile::Context {
        client: client.clone(),
        metrics: metrics.clone(),
    });
    ready.store(true, Ordering::Relaxed);
    tokio::join!(
        crate::release::run(ctx.clone(), watch_namespace.clone(), shutdown.clone()),
        crate::canary::run(ctx, watch_namespace, shutdown),
    );
    health
        .await
        .context("health server task failed")?
        .with_context(|| format!("health server on {controller_health_addr}"))?;
    tracing::info!("controllers shut down cleanly");
    Ok(())
}
