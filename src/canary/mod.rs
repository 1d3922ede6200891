//! CanaryDrill: a canary judged window by window against an error and latency budget, that
//! rolls back by itself after `breachWindows` consecutive breaches, exactly once, and proves
//! the stable revision recovered.
//!
//! Pure cores: [`judge`] (one window → Pass / Breach / NoData), [`machine`] (status,
//! observation, now → next status and the effects to carry out), [`settings`] (spec → numbers,
//! cron), [`workload`] (the canary Deployment and the readiness checks as values) and the
//! synthetic half of [`source`]. The shell: [`reconcile`] (observe, step, write status first),
//! [`effects`] (carry out what the machine decided, idempotently), Prometheus queries in
//! [`source`]; records go out through `crate::events`.

mod context;
mod effects;
pub mod judge;
pub mod machine;
mod metrics;
mod outbox;
pub mod reconcile;
pub mod settings;
pub mod source;
pub mod workload;

pub use context::{DrillContext, DrillError};
pub use metrics::{DrillLabels, DrillMetrics};
pub use outbox::cloudevent_type;

use crate::api::CanaryDrill;
use crate::reconcile::Context;
use crate::shutdown::Shutdown;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use std::sync::Arc;

/// Runs the reconciler until `shutdown` resolves. Besides the drills it watches the canary
/// Deployments it owns and the targets it has claimed, so a rollout finishing wakes the drill
/// at once rather than at its next poll.
pub async fn run(ctx: Arc<Context>, namespace: Option<String>, shutdown: Shutdown) {
    let client = ctx.client.clone();
    let (drills, deployments): (Api<CanaryDrill>, Api<Deployment>) = match &namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
        ),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    let drill_ctx = Arc::new(DrillContext::new(client, ctx.metrics.clone()));
    let config = watcher::Config::default().any_semantic();
    Controller::new(drills, config.clone())
        .owns(deployments.clone(), config.clone())
        .watches(deployments, config, |dep: Deployment| {
            let ns = dep.namespace();
            dep.annotations()
                .get(workload::CLAIM_ANNOTATION)
                .map(|holder| match &ns {
                    Some(ns) => ObjectRef::<CanaryDrill>::new(holder).within(ns),
                    None => ObjectRef::new(holder),
                })
        })
        .graceful_shutdown_on(shutdown)
        .run(reconcile::reconcile, reconcile::error_policy, drill_ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %e, "CanaryDrill reconcile loop");
            }
        })
        .await;
    tracing::info!("CanaryDrill controller stopped");
}
