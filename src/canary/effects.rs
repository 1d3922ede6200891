//! Carries out the effects the state machine recorded in `status.pendingActions`. Each one is
//! idempotent (apply, replace to a recorded value, scale to a number, create-if-absent by a
//! fixed name), so running it again after a crash changes nothing more.

use super::context::{DrillContext, DrillError};
use super::outbox;
use super::workload::{
    CLAIM_ANNOTATION, canary_deployment, canary_name, canary_template, recorded_template,
    template_hash,
};
use crate::api::{
    CanaryDrill, CanaryDrillStatus, Decision, DecisionScope, DecisionSpec, DecisionType,
    DrillAction, HardenedRelease, Notice, PendingAction, StableRevision,
};
use crate::events::publish_event;
use crate::evidence::reference::Digest;
use crate::reconcile::FIELD_MANAGER;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Resource, ResourceExt};

/// Replace attempts when the Deployment controller keeps changing the target under us.
const REPLACE_ATTEMPTS: u32 = 5;

/// Runs the pending actions in order, removing each from `status.pendingActions` once done.
/// On a failure the rest stays recorded (the caller writes it), so an effect that succeeded
/// is not repeated — a Notify before a failing effect does not publish twice — and the one
/// that failed runs again later (every effect is idempotent).
pub async fn run_pending(
    ctx: &DrillContext,
    drill: &CanaryDrill,
    status: &mut CanaryDrillStatus,
) -> Result<(), DrillError> {
    while let Some(a) = status.pending_actions.first().cloned() {
        run_one(ctx, drill, status, &a).await?;
        status.pending_actions.remove(0);
    }
    Ok(())
}

/// A drill deleted mid-run: the canary to 0, the target's recorded replicas back, the claim
/// released. The target's template is left as it is: deleting a drill is not a rollback (the
/// canary never changed the target's template; a promotion that already happened stays).
pub async fn clean_up(ctx: &DrillContext, drill: &CanaryDrill) -> Result<(), DrillError> {
    let mut status = drill.status.clone().unwrap_or_default();
    let running = !status.phase.unwrap_or_default().is_terminal();
    let mut actions = Vec::new();
    if running && status.stable_revision.is_some() {
        actions.push(DrillAction::RemoveCanary);
    }
    actions.push(DrillAction::Release);
    for action in actions {
        let a = PendingAction {
            action,
            notice: None,
            message: None,
            key: None,
        };
        run_one(ctx, drill, &mut status, &a).await?;
    }
    Ok(())
}

async fn run_one(
    ctx: &DrillContext,
    drill: &CanaryDrill,
    status: &mut CanaryDrillStatus,
    a: &PendingAction,
) -> Result<(), DrillError> {
    let ns = drill.namespace().unwrap_or_default();
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ns);
    let target = drill.spec.target.name.as_str();
    let canary = canary_name(target);
    match a.action {
        DrillAction::EnsureCanary => {
            let stable = recorded(status)?;
            let template = canary_template_of(drill, stable)?;
            let hash = template_hash(&template);
            let Some(current) = deployments
                .get_opt(target)
                .await
                .map_err(DrillError::kube("read the target"))?
            else {
                return Ok(()); // the machine fails the drill on its next step
            };
            let dep = canary_deployment(drill, &current, &template, &hash);
            deployments
                .patch(
                    &canary,
                    &PatchParams::apply(FIELD_MANAGER).force(),
                    &Patch::Apply(&dep),
                )
                .await
                .map_err(DrillError::kube("apply the canary Deployment"))?;
            let stable_replicas = (stable.replicas - drill.spec.canary.replicas).max(0);
            scale(&deployments, target, stable_replicas).await?;
        }
        DrillAction::RemoveCanary => {
            scale(&deployments, &canary, 0).await?;
            if let Some(stable) = &status.stable_revision {
                scale(&deployments, target, stable.replicas).await?;
            }
        }
        DrillAction::RestoreStable => {
            let stable = recorded(status)?;
            let template = recorded_template(stable).map_err(DrillError::workload)?;
            set_template(&deployments, target, template, stable.replicas).await?;
            scale(&deployments, &canary, 0).await?;
            tracing::info!(
                namespace = ns,
                drill = drill.name_any(),
                target,
                image = stable.image,
                "rolled the target back to the recorded stable revision"
            );
        }
        DrillAction::Promote => {
            let stable = recorded(status)?;
            let template = canary_template_of(drill, stable)?;
            set_template(&deployments, target, template, stable.replicas).await?;
            scale(&deployments, &canary, 0).await?;
        }
        DrillAction::WriteDecision => {
            let name = write_decision(ctx, drill, status).await?;
            status.decision_ref = Some(name);
        }
        DrillAction::Release => {
            if let Some(dep) = deployments
                .get_opt(target)
                .await
                .map_err(DrillError::kube("read the target"))?
                && dep.annotations().get(CLAIM_ANNOTATION) == Some(&drill.name_any())
            {
                let patch =
                    serde_json::json!({"metadata": {"annotations": {CLAIM_ANNOTATION: null}}});
                deployments
                    .patch(target, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map_err(DrillError::kube("release the claim on the target"))?;
            }
        }
        DrillAction::Notify => notify(ctx, drill, status, a).await,
    }
    Ok(())
}

fn recorded(status: &CanaryDrillStatus) -> Result<&StableRevision, DrillError> {
    status
        .stable_revision
        .as_ref()
        .ok_or(DrillError::Inconsistent(
            "an effect that needs the stable revision ran before it was recorded",
        ))
}

fn canary_template_of(
    drill: &CanaryDrill,
    stable: &StableRevision,
) -> Result<PodTemplateSpec, DrillError> {
    let base = recorded_template(stable).map_err(DrillError::workload)?;
    canary_template(&base, &drill.spec.canary, &stable.container).map_err(DrillError::workload)
}

/// Sets `spec.replicas`; a missing Deployment is nothing to scale.
async fn scale(deployments: &Api<Deployment>, name: &str, replicas: i32) -> Result<(), DrillError> {
    let patch = serde_json::json!({"spec": {"replicas": replicas}});
    match deployments
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(DrillError::kube("scale a Deployment")(e)),
    }
}

/// Gives the target exactly `template` and `replicas` (a replace, not a merge, so nothing of
/// another template survives), retrying when the object changed under us.
async fn set_template(
    deployments: &Api<Deployment>,
    name: &str,
    template: PodTemplateSpec,
    replicas: i32,
) -> Result<(), DrillError> {
    for attempt in 1..=REPLACE_ATTEMPTS {
        let Some(mut dep) = deployments
            .get_opt(name)
            .await
            .map_err(DrillError::kube("read the target"))?
        else {
            return Ok(());
        };
        let spec = dep.spec.get_or_insert_with(Default::default);
        spec.template = template.clone();
        spec.replicas = Some(replicas);
        match deployments
            .replace(name, &PostParams::default(), &dep)
            .await
        {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 && attempt < REPLACE_ATTEMPTS => continue,
            Err(e) => return Err(DrillError::kube("replace the target's template")(e)),
        }
    }
    Ok(())
}

/// The rollback Decision, one per run, by name: creating it again finds it there.
async fn write_decision(
    ctx: &DrillContext,
    drill: &CanaryDrill,
    status: &CanaryDrillStatus,
) -> Result<String, DrillError> {
    let ns = drill.namespace().unwrap_or_default();
    let name = format!("{}-rollback-{}", drill.name_any(), status.run.max(1));
    let stable = status.stable_revision.as_ref();
    let canary_image = drill
        .spec
        .canary
        .image
        .clone()
        .unwrap_or_else(|| "(template patch)".into());
    let evidence: Vec<String> = status
        .windows
        .iter()
        .map(|w| {
            format!(
                "window {} [{:?}] {:?} ({:?}): {}",
                w.index, w.track, w.verdict, w.counted_as, w.reason
            )
        })
        .collect();
    let rationale = format!(
        "CanaryDrill {ns}/{} rolled Deployment {} back from the canary {canary_image} to the recorded stable revision {} \
         (template {}): {}.\nWindow evidence:\n{}",
        drill.name_any(),
        drill.spec.target.name,
        stable.map(|s| s.image.as_str()).unwrap_or("?"),
        stable
            .map(|s| s.template_hash.get(..12).unwrap_or(""))
            .unwrap_or("?"),
        status
            .reason
            .as_deref()
            .unwrap_or("the budget was breached"),
        evidence.join("\n")
    );
    let digests = stable.map(|s| canary_digests(drill, s)).unwrap_or_default();
    let releases = releases_of(ctx, &ns, &digests, drill.spec.canary.image.as_deref()).await?;
    let mut decision = Decision::new(
        &name,
        DecisionSpec {
            kind: DecisionType::Rollback,
            owner: drill.spec.owner.clone(),
            rationale: rationale.chars().take(4096).collect(),
            residual_risk: drill.spec.residual_risk,
            // Naming the canary's digests and releases quarantines them (policy package
            // `releasegate.quarantine`) until an Approval created after this one clears them.
            scope: DecisionScope {
                drills: vec![drill.name_any()],
                digests,
                releases,
                ..DecisionScope::default()
            },
            expires: None,
        },
    );
    decision.metadata.namespace = Some(ns.clone());
    decision.metadata.labels =
        Some([("releasegate.dev/drill".to_string(), drill.name_any())].into());
    // The structured evidence, for tools; the rationale says the same in words.
    let windows = serde_json::to_string(&status.windows).unwrap_or_default();
    decision.metadata.annotations =
        Some([("releasegate.dev/window-evidence".to_string(), windows)].into());
    let api: Api<Decision> = Api::namespaced(ctx.client.clone(), &ns);
    match api.create(&PostParams::default(), &decision).await {
        Ok(_) => Ok(name),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(name),
        Err(e) => Err(DrillError::kube("create the rollback Decision")(e)),
    }
}

/// The digests the canary ran that the stable revision does not: the images of the canary's
/// pod template pinned by digest (`…@sha256:…`), minus the recorded stable template's.
fn canary_digests(drill: &CanaryDrill, stable: &StableRevision) -> Vec<String> {
    let Ok(template) = recorded_template(stable) else {
        return Vec::new();
    };
    let stable_digests = pinned_digests(&template);
    let Ok(canary) = canary_template(&template, &drill.spec.canary, &stable.container) else {
        return Vec::new();
    };
    let mut out: Vec<String> = pinned_digests(&canary)
        .into_iter()
        .filter(|d| !stable_digests.contains(d))
        .collect();
    out.sort();
    out.dedup();
    out
}

fn pinned_digests(t: &PodTemplateSpec) -> Vec<String> {
    let Some(pod) = t.spec.as_ref() else {
        return Vec::new();
    };
    pod.containers
        .iter()
        .chain(pod.init_containers.iter().flatten())
        .filter_map(|c| c.image.as_deref())
        .filter_map(|image| image.rsplit_once('@').map(|(_, d)| d))
        .filter_map(|d| Digest::parse(d).ok())
        .map(|d| d.as_str().to_owned())
        .collect()
}

/// The HardenedReleases of `ns` bound to one of `digests`, or whose image is the canary's.
async fn releases_of(
    ctx: &DrillContext,
    ns: &str,
    digests: &[String],
    image: Option<&str>,
) -> Result<Vec<String>, DrillError> {
    let api: Api<HardenedRelease> = Api::namespaced(ctx.client.clone(), ns);
    let list = api
        .list(&Default::default())
        .await
        .map_err(DrillError::kube("list the HardenedReleases the canary ran"))?;
    let mut names: Vec<String> = list
        .items
        .iter()
        .filter(|hr| {
            let bound = hr
                .status
                .as_ref()
                .and_then(|s| s.verified_digest.as_ref())
                .is_some_and(|d| digests.contains(d));
            bound || image.is_some_and(|i| hr.spec.image == i)
        })
        .map(ResourceExt::name_any)
        .collect();
    names.sort();
    Ok(names)
}

/// Publishes the Kubernetes Event, and records the CloudEvent in `status.outbox` and queues
/// it; neither failing stops the drill.
async fn notify(
    ctx: &DrillContext,
    drill: &CanaryDrill,
    status: &mut CanaryDrillStatus,
    a: &PendingAction,
) {
    let Some(notice) = a.notice else { return };
    let message = a.message.clone().unwrap_or_default();
    let warning = matches!(
        notice,
        Notice::BudgetBreached
            | Notice::RollbackStarted
            | Notice::RecoveryFailed
            | Notice::DrillFailed
    );
    publish_event(
        &ctx.recorder,
        &drill.object_ref(&()),
        &format!("{notice:?}"),
        &message,
        warning,
    )
    .await;
    let key = a.key.clone().unwrap_or_else(|| format!("{notice:?}"));
    if let Some(entry) = outbox::entry(drill, status, notice, &key, &message)
        && !status.outbox.iter().any(|e| e.id == entry.id)
    {
        status.outbox.push(entry.clone());
        outbox::send(ctx, drill, &entry).await;
    }
}
