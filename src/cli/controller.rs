//! `release-gate controller`: runs the HardenedRelease and CanaryDrill reconcilers until
//! SIGTERM, with health and metrics endpoints. With `--leader-elect`, only the holder of a
//! Lease reconciles (kube-lease-manager): another instance waits for the Lease, and an
//! instance that loses it stops reconciling until it holds it again.

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
    #[command(flatten)]
    pub lease: LeaseArgs,
}

/// Leader election: which Lease, who we are, and how long a holder keeps it unrenewed.
#[derive(Debug, Clone, Args)]
pub struct LeaseArgs {
    /// Reconcile only while holding the Lease (run several replicas; one reconciles, the others
    /// wait to take over). Without it the process always reconciles: run one replica only.
    #[arg(long, env = "RELEASE_GATE_LEADER_ELECT")]
    pub leader_elect: bool,
    /// The Lease's name (in --operator-namespace).
    #[arg(
        long,
        env = "RELEASE_GATE_LEASE_NAME",
        default_value = "release-gate-controller"
    )]
    pub lease_name: String,
    /// This instance's identity in the Lease (default: the Pod name from POD_NAME or HOSTNAME,
    /// and the process id).
    #[arg(long, env = "RELEASE_GATE_LEASE_IDENTITY")]
    pub lease_identity: Option<String>,
    /// Seconds a holder keeps the Lease without renewing it: how long a dead leader's work
    /// waits for another instance.
    #[arg(long, env = "RELEASE_GATE_LEASE_DURATION", default_value_t = 15)]
    pub lease_duration: u64,
    /// Seconds before the Lease expires that its holder renews it (the clock skew tolerated);
    /// less than --lease-duration.
    #[arg(long, env = "RELEASE_GATE_LEASE_GRACE", default_value_t = 5)]
    pub lease_grace: u64,
}

impl LeaseArgs {
    /// This instance's identity and the Lease parameters, or why the flags do not make them.
    fn params(&self) -> anyhow::Result<(String, kube_lease_manager::LeaseParams)> {
        let LeaseArgs {
            leader_elect: _,
            lease_name: _,
            lease_identity,
            lease_duration,
            lease_grace,
        } = self;
        if *lease_grace == 0 || lease_grace >= lease_duration {
            anyhow::bail!(
                "--lease-grace {lease_grace} must be more than 0 and less than --lease-duration {lease_duration} (e.g. 5 and 15)"
            );
        }
        let identity = match lease_identity.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(id) => id.to_owned(),
            None => {
                let host = std::env::var("POD_NAME")
                    .or_else(|_| std::env::var("HOSTNAME"))
                    .ok()
                    .filter(|s| !s.is_empty())
                    .or_else(|| {
                        std::fs::read_to_string("/proc/sys/kernel/hostname")
                            .ok()
                            .map(|s| s.trim().to_owned())
                    })
                    .unwrap_or_else(|| "release-gate".to_owned());
                format!("{host}-{}", std::process::id())
            }
        };
        let params =
            kube_lease_manager::LeaseParams::new(identity.clone(), *lease_duration, *lease_grace);
        Ok((identity, params))
    }
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
        lease,
    } = args;
    let lease_params = if lease.leader_elect {
        Some(lease.params()?)
    } else {
        None
    };
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
        recorder: crate::events::Recorder::new(client.clone(), "release-gate".into()),
    });
    let reconcilers = Reconcilers {
        ctx,
        settings: move || crate::release::Settings {
            policy: policy.clone(),
            registry: registry.clone(),
            operator_namespace: operator_namespace.clone(),
            template: template.clone(),
        },
        watch_namespace,
    };
    // Every replica is ready (it serves health, and in `run` admission); only the leader
    // reconciles.
    ready.store(true, Ordering::Relaxed);
    match lease_params {
        None => {
            metrics.leader(true);
            reconcilers.run(shutdown.clone()).await;
        }
        Some((identity, params)) => {
            let lease_namespace = reconcilers.operator_namespace();
            let lease = Lease {
                name: lease.lease_name.clone(),
                namespace: lease_namespace,
                identity,
                params,
            };
            lead(&client, lease, &reconcilers, &metrics, shutdown.clone()).await?;
        }
    }
    health
        .await
        .context("health server task failed")?
        .with_context(|| format!("health server on {controller_health_addr}"))?;
    tracing::info!("controllers shut down cleanly");
    Ok(())
}

/// The reconcilers of one term (all of the process's life, or one term of leadership).
struct Reconcilers<S> {
    ctx: Arc<crate::reconcile::Context>,
    settings: S,
    watch_namespace: Option<String>,
}

impl<S: Fn() -> crate::release::Settings> Reconcilers<S> {
    fn operator_namespace(&self) -> String {
        (self.settings)().operator_namespace
    }

    /// Runs the HardenedRelease and CanaryDrill reconcilers until `stop`.
    async fn run(&self, stop: Shutdown) {
        tokio::join!(
            crate::release::run(
                self.ctx.clone(),
                (self.settings)(),
                self.watch_namespace.clone(),
                stop.clone()
            ),
            crate::canary::run(self.ctx.clone(), self.watch_namespace.clone(), stop),
        );
    }
}

/// The leader Lease and this instance's part in it.
struct Lease {
    name: String,
    namespace: String,
    identity: String,
    params: kube_lease_manager::LeaseParams,
}

/// Runs the reconcilers while this instance holds the Lease, until `shutdown`; the Lease is
/// released on the way out so another instance takes over at once.
async fn lead<S: Fn() -> crate::release::Settings>(
    client: &kube::Client,
    lease: Lease,
    reconcilers: &Reconcilers<S>,
    metrics: &Metrics,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    use futures::FutureExt as _;
    let Lease {
        name,
        namespace,
        identity,
        params,
    } = lease;
    let (name, namespace) = (name.as_str(), namespace.as_str());
    let manager = kube_lease_manager::LeaseManager::new(
        client.clone(),
        name,
        namespace,
        params,
        kube_lease_manager::LeaseCreateMode::AutoCreate,
    )
    .await
    .with_context(|| format!("cannot use the Lease {namespace}/{name} for leader election"))?;
    let (leader, lease_task) = manager.watch().await;
    tracing::info!(lease = %format!("{namespace}/{name}"), %identity, "waiting for the Lease");
    loop {
        metrics.leader(false);
        let mut waiting = leader.clone();
        tokio::select! {
            _ = shutdown.clone() => break,
            became = waiting.wait_for(|l| *l) => if became.is_err() {
                anyhow::bail!("the Lease manager stopped");
            },
        }
        tracing::info!(lease = %format!("{namespace}/{name}"), "holding the Lease: reconciling");
        metrics.leader(true);
        let mut losing = leader.clone();
        let outer = shutdown.clone();
        let term: Shutdown = async move {
            tokio::select! {
                _ = outer => {},
                _ = losing.wait_for(|l| !*l) => {},
            }
        }
        .boxed()
        .shared();
        reconcilers.run(term).await;
        if shutdown.peek().is_some() {
            break;
        }
        tracing::warn!(lease = %format!("{namespace}/{name}"), "lost the Lease: stopped reconciling until it is held again");
    }
    metrics.leader(false);
    // Dropping the last receiver makes the manager release the Lease and return.
    drop(leader);
    match lease_task.await {
        Ok(Ok(_)) => tracing::info!("Lease released"),
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot release the Lease; it expires by itself"),
        Err(e) => tracing::warn!(error = %e, "the Lease task failed"),
    }
    Ok(())
}
