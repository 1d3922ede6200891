//! The HardenedRelease reconciler. It records that it has seen each generation; evidence
//! verification and the Disclosure Pack plug in here (see `crate::evidence` once it lands).

use crate::api::{HardenedRelease, HardenedReleaseStatus, ReleasePhase};
use crate::reconcile::{Context, Error, apply_status, error_policy};
use crate::shutdown::Shutdown;
use futures::StreamExt;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

const KIND: &str = "HardenedRelease";

/// Runs the reconciler until `shutdown` resolves.
pub async fn run(ctx: Arc<Context>, namespace: Option<String>, shutdown: Shutdown) {
    let api: Api<HardenedRelease> = match &namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    };
    Controller::new(api, watcher::Config::default().any_semantic())
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %e, "HardenedRelease reconcile loop");
            }
        })
        .await;
    tracing::info!("HardenedRelease controller stopped");
}

async fn reconcile(hr: Arc<HardenedRelease>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.metrics.reconcile_started(KIND);
    let generation = hr.metadata.generation;
    let status = hr.status.clone().unwrap_or_default();
    if status.observed_generation == generation && status.phase.is_some() {
        return Ok(Action::requeue(Duration::from_secs(3600)));
    }
    tracing::info!(namespace = ?hr.namespace(), name = %hr.name_any(), "observed HardenedRelease");
    let next = HardenedReleaseStatus {
        phase: Some(ReleasePhase::Pending),
        conditions: vec![crate::api::condition(
            "Ready",
            false,
            "AwaitingVerification",
            "the release has not been verified yet",
            generation,
        )],
        observed_generation: generation,
        ..status
    };
    apply_status(&ctx.client, hr.as_ref(), next).await?;
    Ok(Action::requeue(Duration::from_secs(3600)))
}
