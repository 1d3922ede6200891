//! The drill shell: read the drill fresh, carry out pending effects, observe the target, the
//! canary and the due window, call the state machine, and write its status by server-side
//! apply with the drill's resourceVersion as a precondition — so two decisions can never both
//! land, and a decision is in etcd before any of its effects runs.

use super::context::{DrillContext, DrillError};
use super::effects;
use super::judge::judge;
use super::machine::{self, Claim, JudgedWindow, Manual, Observation, Step};
use super::outbox;
use super::settings::{Settings, next_run};
use super::source::{self, Subject};
use super::workload::{
    CLAIM_ANNOTATION, canary_name, canary_ready, canary_template, stable_available, target_view,
    template_hash,
};
use crate::api::{CanaryDrill, CanaryDrillStatus, DrillPhase, Track};
use crate::reconcile::FIELD_MANAGER;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, MicroTime};
use k8s_openapi::jiff::Timestamp;
use kube::api::{ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

const KIND: &str = "CanaryDrill";
/// Annotation on a drill through which a person aborts (`abort`) or promotes (`promote`) the
/// run in progress; the controller removes it when the run ends.
pub const ACTION_ANNOTATION: &str = "releasegate.dev/action";
/// Finalizer: a drill deleted in the middle of a run first gives the target its recorded
/// replicas back and releases its claim (the canary Deployment goes with the drill).
pub const FINALIZER: &str = "releasegate.dev/canary-drill";
/// Steps per reconcile: a start is Pending → (effects) → Progressing; more than a handful in
/// a row means something loops, and the requeue picks it up again.
const MAX_STEPS: usize = 12;
/// How often a drill waiting on Deployments looks again; the Deployment watches usually wake
/// it sooner.
const POLL: Duration = Duration::from_secs(1);
/// How often a drill with undelivered CloudEvents looks at its outbox.
const OUTBOX_POLL: Duration = Duration::from_secs(2);

/// Reconciles one drill.
pub async fn reconcile(
    drill: Arc<CanaryDrill>,
    ctx: Arc<DrillContext>,
) -> Result<Action, DrillError> {
    let _timer = ctx.metrics.reconcile_started(KIND);
    let ns = drill
        .namespace()
        .ok_or_else(|| DrillError::MissingNamespace(drill.name_any()))?;
    let name = drill.name_any();
    let api: Api<CanaryDrill> = Api::namespaced(ctx.client.clone(), &ns);
    // A fresh read: the watch cache may not have our own last status write yet, and a step
    // decided from a stale status would be refused by the precondition anyway.
    let Some(mut current) = api
        .get_opt(&name)
        .await
        .map_err(DrillError::kube("read the drill"))?
    else {
        ctx.metrics.drill.forget(&ns, &name);
        return Ok(Action::await_change());
    };
    if current.metadata.deletion_timestamp.is_some() {
        if current.finalizers().iter().any(|f| f == FINALIZER) {
            effects::clean_up(&ctx, &current).await?;
            let rest: Vec<&String> = current
                .finalizers()
                .iter()
                .filter(|f| *f != FINALIZER)
                .collect();
            set_finalizers(&api, &current, rest).await?;
        }
        ctx.metrics.drill.forget(&ns, &name);
        return Ok(Action::await_change());
    }
    if !current.finalizers().iter().any(|f| f == FINALIZER) {
        let mut all: Vec<&String> = current.finalizers().iter().collect();
        let ours = FINALIZER.to_string();
        all.push(&ours);
        current = set_finalizers(&api, &current, all).await?;
    }
    let st = current.status.clone().unwrap_or_default();
    if let Some((next, struck)) = outbox::sync(&ctx, &current, &st).await {
        current = record_effects(&api, &current, &st, &next).await?;
        ctx.forget_finished(&struck);
    }
    let settings = match Settings::from_spec(&current.spec) {
        Ok(s) => s,
        Err(e) => {
            let mut st = current.status.clone().unwrap_or_default();
            let reason = e.to_string();
            if st.reason.as_deref() != Some(reason.as_str()) {
                st.phase = Some(DrillPhase::Failed);
                st.reason = Some(reason.clone());
                st.conditions = vec![invalid_spec(&reason)];
                st.observed_generation = current.metadata.generation;
                write_status(&api, &current, &st).await?;
            }
            ctx.metrics.drill.set_phase(&ns, &name, DrillPhase::Failed);
            return Ok(Action::await_change());
        }
    };
    for _ in 0..MAX_STEPS {
        let status = current.status.clone().unwrap_or_default();
        if !status.pending_actions.is_empty() {
            let mut next = status.clone();
            let ran = effects::run_pending(&ctx, &current, &mut next).await;
            if let Err(e) = ran {
                // Record what did run, so it is not run again; then retry the rest.
                if next.pending_actions.len() < status.pending_actions.len() {
                    record_effects(&api, &current, &status, &next).await?;
                }
                return Err(e);
            }
            current = record_effects(&api, &current, &status, &next).await?;
            continue;
        }
        let now = Timestamp::now();
        let obs = observe(&ctx, &current, &status, &settings, now).await?;
        let step = machine::step(&status, &settings, &obs, now);
        let mut next = step.status.clone();
        next.observed_generation = current.metadata.generation;
        if next == status {
            break;
        }
        current = write_status(&api, &current, &next).await?;
        record_metrics(&ctx, &ns, &name, &step);
    }
    let status = current.status.clone().unwrap_or_default();
    let phase = status.phase.unwrap_or_default();
    ctx.metrics.drill.set_phase(&ns, &name, phase);
    if phase.is_terminal() && current.annotations().contains_key(ACTION_ANNOTATION) {
        // The manual action was for the run that just ended; a scheduled drill's next run
        // must not inherit it.
        let patch = serde_json::json!({"metadata": {"annotations": {ACTION_ANNOTATION: null}}});
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(DrillError::kube("remove the manual action annotation"))?;
    }
    Ok(Action::requeue(wake_up(
        &status,
        &settings,
        Timestamp::now(),
    )))
}

/// Retries soon after a lost race, later after other failures.
pub fn error_policy(drill: Arc<CanaryDrill>, error: &DrillError, ctx: Arc<DrillContext>) -> Action {
    ctx.metrics.reconcile_failed(KIND, error.metric_label());
    if error.is_conflict() {
        tracing::debug!(drill = %drill.name_any(), error = %error, "drill status moved on; retrying");
        return Action::requeue(Duration::from_millis(100));
    }
    tracing::warn!(drill = %drill.name_any(), error = %error, "drill reconcile failed");
    Action::requeue(Duration::from_secs(3))
}

/// When to look again: at the end of the window being measured, at the scheduled time, soon
/// while Deployments roll, or never (a change wakes the drill).
fn wake_up(status: &CanaryDrillStatus, settings: &Settings, now: Timestamp) -> Duration {
    let next = next_look(status, settings, now);
    if status.outbox.is_empty() {
        next
    } else {
        // CloudEvents in flight: strike them from status soon after they are delivered.
        next.min(OUTBOX_POLL)
    }
}

fn next_look(status: &CanaryDrillStatus, settings: &Settings, now: Timestamp) -> Duration {
    let until = |t: &MicroTime| {
        let d = t.0.duration_since(now);
        // A little past the instant, so the window is surely over when we look.
        Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(0)) + Duration::from_millis(20)
    };
    match status.phase.unwrap_or_default() {
        DrillPhase::Pending if settings.scheduled => {
            status.next_run_time.as_ref().map_or(POLL, until)
        }
        DrillPhase::Pending | DrillPhase::Progressing | DrillPhase::RollingBack => POLL,
        DrillPhase::Analyzing | DrillPhase::RolledBack => match &status.window_start {
            Some(start) => match start.0.checked_add(settings.window) {
                Ok(end) => until(&MicroTime(end)),
                Err(_) => POLL,
            },
            None => POLL,
        },
        DrillPhase::Promoted | DrillPhase::Restored | DrillPhase::Failed => {
            match &status.next_run_time {
                Some(t) => until(t),
                None if settings.scheduled => POLL,
                None => Duration::from_secs(3600),
            }
        }
    }
}

async fn observe(
    ctx: &DrillContext,
    drill: &CanaryDrill,
    status: &CanaryDrillStatus,
    settings: &Settings,
    now: Timestamp,
) -> Result<Observation, DrillError> {
    let ns = drill.namespace().unwrap_or_default();
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ns);
    let phase = status.phase.unwrap_or_default();
    let mut obs = Observation {
        next_run: match &drill.spec.schedule {
            Some(s) => next_run(s, now).ok(),
            None => None,
        },
        manual: manual_action(drill),
        ..Observation::default()
    };
    if phase.is_terminal() {
        return Ok(obs);
    }
    let target_name = &drill.spec.target.name;
    let target = deployments
        .get_opt(target_name)
        .await
        .map_err(DrillError::kube("read the target"))?;
    let container = match &status.stable_revision {
        Some(s) => Some(s.container.clone()),
        None => drill.spec.canary.container.clone(),
    };
    if let Some(dep) = &target {
        match target_view(dep, container.as_deref()) {
            Ok(v) => obs.target = Some(v),
            Err(e) => obs.problem = Some(e.to_string()),
        }
    }
    match phase {
        DrillPhase::Pending if machine::start_due(status, settings, now) => {
            if let (Some(dep), Some(view)) = (&target, &obs.target) {
                let stable: k8s_openapi::api::core::v1::PodTemplateSpec = dep
                    .spec
                    .as_ref()
                    .map(|s| s.template.clone())
                    .unwrap_or_default();
                match canary_template(&stable, &drill.spec.canary, &view.container) {
                    Ok(t) => obs.canary_template_hash = Some(template_hash(&t)),
                    Err(e) => obs.problem = Some(e.to_string()),
                }
                if obs.problem.is_none() {
                    obs.claim = claim(ctx, drill, dep).await?;
                }
            }
        }
        DrillPhase::Progressing => {
            let canary = deployments
                .get_opt(&canary_name(target_name))
                .await
                .map_err(DrillError::kube("read the canary Deployment"))?;
            obs.canary_ready = match (&canary, &status.canary_template_hash) {
                (Some(c), Some(h)) => canary_ready(c, h),
                _ => false,
            };
        }
        DrillPhase::RollingBack => {
            let canary = deployments
                .get_opt(&canary_name(target_name))
                .await
                .map_err(DrillError::kube("read the canary Deployment"))?;
            obs.stable_available = match (&target, &status.stable_revision) {
                (Some(t), Some(s)) => stable_available(t, s, canary.as_ref()),
                _ => false,
            };
        }
        _ => {}
    }
    if let Some((track, start, end)) = machine::due_window(status, settings, now) {
        let position = match track {
            Track::Canary => status.windows.last().map_or(0, |w| w.index) + 1,
            Track::Stable => {
                status
                    .windows
                    .iter()
                    .filter(|w| w.track == Track::Stable)
                    .count() as u32
                    + 1
            }
        };
        let measured = if let Some(syn) = &drill.spec.metrics.synthetic {
            source::synthetic(syn, &drill.spec.budget, track, position)
        } else if let Some(prom) = &drill.spec.metrics.prometheus {
            let deployment = match track {
                Track::Canary => canary_name(target_name),
                Track::Stable => target_name.clone(),
            };
            let subject = Subject {
                namespace: ns.clone(),
                pod_template_hash: pod_template_hash(ctx, &ns, &deployment).await,
                deployment,
                track,
            };
            source::prometheus(&ctx.http, prom, &subject, &drill.spec.window, end).await
        } else {
            // The API server's validation requires one source; a status says so if not.
            super::judge::Measurements {
                query: "spec.metrics names no source".into(),
                ..Default::default()
            }
        };
        let judgement = judge(&measured, &drill.spec.budget, drill.spec.no_data_policy);
        obs.window = Some(JudgedWindow {
            track,
            start,
            end,
            judgement,
        });
    }
    Ok(obs)
}

/// Replaces the drill's finalizers, with its resourceVersion as precondition.
async fn set_finalizers(
    api: &Api<CanaryDrill>,
    current: &CanaryDrill,
    finalizers: Vec<&String>,
) -> Result<CanaryDrill, DrillError> {
    let patch = serde_json::json!({"metadata": {
        "resourceVersion": current.resource_version(),
        "finalizers": finalizers,
    }});
    api.patch(
        &current.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map_err(DrillError::kube("update the drill's finalizers"))
}

/// The drill's `releasegate.dev/action` annotation: `abort` or `promote`.
fn manual_action(drill: &CanaryDrill) -> Option<Manual> {
    match drill.annotations().get(ACTION_ANNOTATION).map(|v| v.trim()) {
        None => None,
        Some("abort") => Some(Manual::Abort),
        Some("promote") => Some(Manual::Promote),
        Some(other) => {
            tracing::warn!(drill = %drill.name_any(), value = other, "{ACTION_ANNOTATION} must be abort or promote; ignored");
            None
        }
    }
}

/// Takes the one-drill-per-Deployment claim on the target, or says who holds it. The write
/// carries the target's resourceVersion, so two drills racing for it cannot both win.
async fn claim(
    ctx: &DrillContext,
    drill: &CanaryDrill,
    target: &Deployment,
) -> Result<Claim, DrillError> {
    let me = drill.name_any();
    let holder = target.annotations().get(CLAIM_ANNOTATION).cloned();
    if let Some(other) = holder.as_ref().filter(|h| **h != me) {
        let drills: Api<CanaryDrill> =
            Api::namespaced(ctx.client.clone(), &drill.namespace().unwrap_or_default());
        // A holder that still exists and has not finished keeps the target, even while it is
        // Pending: it claimed, and is about to record its stable revision.
        let running = match drills
            .get_opt(other)
            .await
            .map_err(DrillError::kube("read the drill holding the target"))?
        {
            None => false,
            Some(d) => !d
                .status
                .and_then(|s| s.phase)
                .is_some_and(DrillPhase::is_terminal),
        };
        if running {
            return Ok(Claim::HeldBy(other.clone()));
        }
    }
    if holder.as_deref() != Some(me.as_str()) {
        let patch = serde_json::json!({"metadata": {
            "resourceVersion": target.resource_version(),
            "annotations": {CLAIM_ANNOTATION: me}
        }});
        let deployments: Api<Deployment> =
            Api::namespaced(ctx.client.clone(), &drill.namespace().unwrap_or_default());
        deployments
            .patch(
                &target.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .map_err(DrillError::kube("claim the target"))?;
    }
    Ok(Claim::Held)
}

/// The `pod-template-hash` of the Deployment's current ReplicaSet, for `$podTemplateHash`.
async fn pod_template_hash(ctx: &DrillContext, ns: &str, deployment: &str) -> Option<String> {
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), ns);
    let dep = deployments.get_opt(deployment).await.ok()??;
    let revision = dep
        .annotations()
        .get("deployment.kubernetes.io/revision")?
        .clone();
    let uid = dep.uid()?;
    let rs: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), ns);
    let list = rs.list(&ListParams::default()).await.ok()?;
    list.items
        .into_iter()
        .filter(|r| r.owner_references().iter().any(|o| o.uid == uid))
        .find(|r| r.annotations().get("deployment.kubernetes.io/revision") == Some(&revision))
        .and_then(|r| r.labels().get("pod-template-hash").cloned())
}

/// Writes the status after effects ran. If the drill changed meanwhile (an annotation, a spec
/// edit) but its status did not, nothing was decided in between: write again on the fresh
/// object rather than run the effects (and publish their notices) a second time.
async fn record_effects(
    api: &Api<CanaryDrill>,
    current: &CanaryDrill,
    before: &CanaryDrillStatus,
    after: &CanaryDrillStatus,
) -> Result<CanaryDrill, DrillError> {
    match write_status(api, current, after).await {
        Err(e) if e.is_conflict() => {
            let fresh = api
                .get(&current.name_any())
                .await
                .map_err(DrillError::kube("read the drill"))?;
            if fresh.status.as_ref() == Some(before) {
                write_status(api, &fresh, after).await
            } else {
                Err(e)
            }
        }
        other => other,
    }
}

/// Writes the status by server-side apply, with the drill's resourceVersion as precondition.
async fn write_status(
    api: &Api<CanaryDrill>,
    current: &CanaryDrill,
    status: &CanaryDrillStatus,
) -> Result<CanaryDrill, DrillError> {
    let patch = serde_json::json!({
        "apiVersion": "releasegate.dev/v1alpha1",
        "kind": KIND,
        "metadata": {"resourceVersion": current.resource_version()},
        "status": status,
    });
    api.patch_status(
        &current.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(DrillError::kube("write the drill status"))
}

fn record_metrics(ctx: &DrillContext, ns: &str, name: &str, step: &Step) {
    let m = &ctx.metrics.drill;
    if let Some(w) = &step.window {
        m.window(w.verdict, w.counted_as);
    }
    let Some((from, to)) = step.transition else {
        return;
    };
    m.set_phase(ns, name, to);
    let labels = super::metrics::DrillLabels {
        namespace: ns.into(),
        drill: name.into(),
    };
    let s = &step.status;
    let secs = |a: &Option<MicroTime>, b: &Option<MicroTime>| match (a, b) {
        (Some(a), Some(b)) => Some(b.0.duration_since(a.0).as_secs_f64()),
        _ => None,
    };
    if to == DrillPhase::RolledBack
        && let Some(d) = secs(&s.breach_time, &s.rolled_back_time)
    {
        m.breach_to_rolled_back.get_or_create(&labels).observe(d);
    }
    if to == DrillPhase::Restored
        && let Some(d) = secs(&s.breach_time, &s.restored_time)
    {
        m.mttr.get_or_create(&labels).observe(d);
    }
    if to.is_terminal() && !from.is_terminal() {
        let outcome = match (from, to) {
            (DrillPhase::RolledBack, DrillPhase::Failed) => "NotRecovered".to_string(),
            (_, p) => format!("{p:?}"),
        };
        m.outcome(&outcome);
    }
}

fn invalid_spec(reason: &str) -> Condition {
    crate::api::condition("Ready", false, "InvalidSpec", reason, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::SignedDuration;

    fn settings(scheduled: bool) -> Settings {
        Settings {
            window: SignedDuration::from_secs(10),
            breach_windows: 2,
            success_windows: 3,
            recovery_windows: 1,
            max_no_data_windows: 10,
            progress_deadline: SignedDuration::from_secs(120),
            scheduled,
        }
    }

    #[test]
    fn wakes_up_at_the_window_end_or_the_scheduled_time() {
        let now: Timestamp = "2026-11-30T10:00:00Z".parse().unwrap();
        let at = |secs| Some(MicroTime(now + SignedDuration::from_secs(secs)));
        let st = CanaryDrillStatus {
            phase: Some(DrillPhase::Analyzing),
            window_start: at(-4),
            ..Default::default()
        };
        assert_eq!(
            wake_up(&st, &settings(false), now),
            Duration::from_millis(6020)
        );
        let st = CanaryDrillStatus {
            phase: Some(DrillPhase::Restored),
            next_run_time: at(30),
            ..Default::default()
        };
        assert_eq!(
            wake_up(&st, &settings(true), now),
            Duration::from_millis(30020)
        );
        let st = CanaryDrillStatus {
            phase: Some(DrillPhase::RollingBack),
            ..Default::default()
        };
        assert_eq!(wake_up(&st, &settings(false), now), POLL);
        let late = CanaryDrillStatus {
            phase: Some(DrillPhase::Analyzing),
            window_start: at(-60),
            ..Default::default()
        };
        assert_eq!(
            wake_up(&late, &settings(false), now),
            Duration::from_millis(20),
            "overdue: at once"
        );
    }
}
