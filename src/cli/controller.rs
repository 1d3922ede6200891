//! `release-gate controller`: runs the HardenedRelease and CanaryDrill reconcilers until
//! SIGTERM, with health and metrics endpoints.

use crate::evidence::{RegistryClient, RegistryConfig};
use crate::shutdown::Shutdown;
use crate::telemetry::{Metrics, serve_health};
use anyhow::Context as _;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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
    /// The operator's namespace: where the Secrets and ConfigMaps that TrustPolicies name
    /// (keys, trusted roots) are read from.
    #[arg(
        long,
        env = "RELEASE_GATE_OPERATOR_NAMESPACE",
        default_value = "release-gate"
    )]
    pub operator_namespace: String,
    /// Registry hosts (host:port) the controller reaches over plain HTTP. Repeat or
    /// comma-separate.
    #[arg(
        long = "insecure-registry",
        env = "RELEASE_GATE_INSECURE_REGISTRIES",
        value_delimiter = ','
    )]
    pub insecure_registries: Vec<String>,
    /// Registry credentials: a docker `config.json` / `.dockerconfigjson` file (e.g. a mounted
    /// Secret of type kubernetes.io/dockerconfigjson).
    #[arg(long, env = "RELEASE_GATE_REGISTRY_CONFIG")]
    pub registry_config: Option<PathBuf>,
    /// Extra CA certificates (PEM) trusted for registry TLS.
    #[arg(long, env = "RELEASE_GATE_REGISTRY_CA_FILE")]
    pub registry_ca_file: Option<PathBuf>,
    /// Timeout of each registry call, in seconds.
    #[arg(long, env = "RELEASE_GATE_REGISTRY_TIMEOUT", default_value_t = 30)]
    pub registry_timeout: u64,
    /// A minijinja template for the Disclosure Pack, instead of the one shipped in
    /// deploy/templates/disclosure-pack.tmpl.md.
    #[arg(long, env = "RELEASE_GATE_DISCLOSURE_TEMPLATE")]
    pub disclosure_template: Option<PathBuf>,
}

/// Runs the controllers until `shutdown`; `policy` is the loaded, pinned bundle (see
/// [`super::policy_args::PolicyArgs`]), or None when no bundle is configured.
pub async fn run(
    args: ControllerArgs,
    policy: Option<Arc<crate::policy::PolicyHolder>>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let ControllerArgs {
        controller_health_addr,
        watch_namespace,
        operator_namespace,
        insecure_registries,
        registry_config,
        registry_ca_file,
        registry_timeout,
        disclosure_template,
    } = args;
    if policy.is_none() {
        tracing::warn!(
            "no --policy-bundle: every HardenedRelease is Blocked (no policy bundle loaded)"
        );
    }
    let template = match &disclosure_template {
        Some(p) => std::fs::read_to_string(p).with_context(|| {
            format!(
                "cannot read the Disclosure Pack template --disclosure-template {}",
                p.display()
            )
        })?,
        None => crate::release::pack::DEFAULT_TEMPLATE.to_owned(),
    };
    let credentials = match &registry_config {
        Some(p) => {
            let bytes = std::fs::read(p)
                .with_context(|| format!("cannot read --registry-config {}", p.display()))?;
            crate::evidence::registry::parse_docker_config(&bytes)
                .with_context(|| format!("--registry-config {}", p.display()))?
        }
        None => Default::default(),
    };
    let extra_ca_pem = match &registry_ca_file {
        Some(p) => Some(
            std::fs::read(p)
                .with_context(|| format!("cannot read --registry-ca-file {}", p.display()))?,
        ),
        None => None,
    };
    let registry = RegistryClient::new(RegistryConfig {
        insecure: insecure_registries,
        extra_ca_pem,
        credentials,
        timeout: Some(Duration::from_secs(registry_timeout.max(1))),
    })
    .context("cannot build the registry client")?;
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
        recorder: kube::runtime::events::Recorder::new(client.clone(), "release-gate".into()),
    });
    let settings = crate::release::Settings {
        policy,
        registry,
        operator_namespace,
        template,
    };
    ready.store(true, Ordering::Relaxed);
    tokio::join!(
        crate::release::run(
            ctx.clone(),
            settings,
            watch_namespace.clone(),
            shutdown.clone()
        ),
        crate::canary::run(ctx, watch_namespace, shutdown),
    );
    health
        .await
        .context("health server task failed")?
        .with_context(|| format!("health server on {controller_health_addr}"))?;
    tracing::info!("controllers shut down cleanly");
    Ok(())
}
