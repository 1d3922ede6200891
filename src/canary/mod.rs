//! The CanaryDrill reconciler. It records that it has seen each generation; the window judge,
//! the state machine and the rollback plug in here.

use crate::api::{CanaryDrill, CanaryDrillStatus, DrillPhase};
use crate::reconcile::{Context, Error, apply_status, error_policy};
use crate::shutdown::Shutdown;
use futures::StreamExt;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

const KIND: &str = "CanaryDrill";

/// Runs the reconciler until `shutdown` resolves.
pub async fn run(ctx: Arc<Context>, namespace: Option<String>, shutdown: Shutdown) {
    let api: Api<CanaryDrill> = match &namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    };
    Controller::new(api, watcher::Config::default().any_semantic())
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %e, "CanaryDrill reconcile loop");
            }
        })
        .await;
    tracing::info!("CanaryDrill controller stopped");
}

async fn reconcile(drill: Arc<CanaryDrill>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.metrics.reconcile_started(KIND);
    let generation = drill.metadata.generation;
    let status = drill.status.clone().unwrap_or_default();
    if status.observed_generation == generation && status.phase.is_some() {
        return Ok(Action::requeue(Duration::from_secs(3600)));
    }
    tracing::info!(namespace = ?drill.namespace(), name = %drill.name_any(), "observed CanaryDrill");
    let next = CanaryDrillStatus {
        phase: Some(DrillPhase::Pending),
        conditions: vec![crate::api::condition(
            "Ready",
            false,
            "AwaitingStart",
            "the drill has not started yet",
            generation,
        )],
        observed_generation: generation,
        ..status
    };
    apply_status(&ctx.client, drill.as_ref(), next).await?;
    Ok(Action::requeue(Duration::from_secs(3600)))
}
