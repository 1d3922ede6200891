//! The drill's state machine as a plain function: (status, observation, now) → the next status,
//! with the effects still to carry out recorded in `status.pendingActions`. The shell writes
//! that status first and only then carries the effects out, so a controller killed at any
//! point finds the decision in etcd and finishes it; every effect is idempotent, and a
//! transition happens once because it is made from the phase recorded in status.
//!
//! Pending → Progressing → Analyzing → Promoted | RollingBack → RolledBack → Restored, and
//! Failed (with a reason) from any non-terminal phase.

use super::judge::Judgement;
use super::settings::Settings;
use crate::api::{
    CanaryDrillStatus, CountedAs, DrillAction, DrillPhase, Notice, PendingAction, RunRecord,
    StableRevision, Track, WindowResult, WindowVerdict,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, MicroTime, Time};
use k8s_openapi::jiff::Timestamp;

/// Windows kept in status: enough to read a drill, bounded so the object stays small.
const MAX_WINDOWS: usize = 100;
/// Finished runs kept in status.
const MAX_RUNS: usize = 20;

/// The target Deployment as the shell read it.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetView {
    /// sha256 of its pod template.
    pub template_hash: String,
    /// The pod template, JSON.
    pub template: String,
    /// The container the canary changes, and its image.
    pub container: String,
    pub image: String,
    /// `spec.replicas`.
    pub replicas: i32,
    /// The `deployment.kubernetes.io/revision` annotation.
    pub revision: Option<String>,
}

/// Whether this drill holds the one-drill-per-Deployment claim on its target.
#[derive(Clone, Debug, PartialEq)]
pub enum Claim {
    /// This drill holds it (or nobody needed it yet).
    Held,
    /// Another running drill, named, holds it.
    HeldBy(String),
}

/// A person's instruction, from the drill's `releasegate.dev/action` annotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Manual {
    /// Stop now and roll back to the recorded stable revision.
    Abort,
    /// Stop judging and promote the canary now.
    Promote,
}

/// One judged window, with its bounds.
#[derive(Clone, Debug, PartialEq)]
pub struct JudgedWindow {
    pub track: Track,
    pub start: Timestamp,
    pub end: Timestamp,
    pub judgement: Judgement,
}

/// What the shell observed for this step.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// The target; `None` when it does not exist.
    pub target: Option<TargetView>,
    /// The claim on the target (only consulted in Pending).
    pub claim: Claim,
    /// Why the drill cannot start on this target (e.g. a container the spec names is not in
    /// it), found by the shell in Pending.
    pub problem: Option<String>,
    /// sha256 of the canary template the shell would roll out (recorded at the start).
    pub canary_template_hash: Option<String>,
    /// The canary Deployment runs the canary template with all its replicas available.
    pub canary_ready: bool,
    /// The target runs the recorded template, fully available, and the canary is at 0.
    pub stable_available: bool,
    /// The window that was due (see [`due_window`]), judged.
    pub window: Option<JudgedWindow>,
    /// For a scheduled drill: the schedule's next occurrence after now.
    pub next_run: Option<Timestamp>,
    /// A manual abort or promotion (only acted on while Progressing or Analyzing).
    pub manual: Option<Manual>,
}

impl Default for Observation {
    fn default() -> Self {
        Self {
            target: None,
            claim: Claim::Held,
            problem: None,
            canary_template_hash: None,
            canary_ready: false,
            stable_available: false,
            window: None,
            next_run: None,
            manual: None,
        }
    }
}

/// The result of one step.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The next status (pending actions included).
    pub status: CanaryDrillStatus,
    /// `Some((from, to))` when the phase changed.
    pub transition: Option<(DrillPhase, DrillPhase)>,
    /// The window recorded by this step, if any.
    pub window: Option<WindowResult>,
}

/// The window that has ended and must be judged now, if any: the canary's during the
/// analysis, the stable revision's during the recovery.
pub fn due_window(
    status: &CanaryDrillStatus,
    settings: &Settings,
    now: Timestamp,
) -> Option<(Track, Timestamp, Timestamp)> {
    let track = match status.phase? {
        DrillPhase::Analyzing => Track::Canary,
        DrillPhase::RolledBack => Track::Stable,
        _ => return None,
    };
    let start = status.window_start.as_ref()?.0;
    let end = start.checked_add(settings.window).ok()?;
    (now >= end).then_some((track, start, end))
}

/// Whether a Pending drill may start now (a scheduled one waits for its time).
pub fn start_due(status: &CanaryDrillStatus, settings: &Settings, now: Timestamp) -> bool {
    let pending = status.phase.unwrap_or_default() == DrillPhase::Pending;
    pending && (!settings.scheduled || status.next_run_time.as_ref().is_some_and(|t| now >= t.0))
}

/// One step of the machine. Call it only when `status.pendingActions` is empty: effects
/// decided earlier are carried out before anything new is decided.
pub fn step(
    current: &CanaryDrillStatus,
    settings: &Settings,
    obs: &Observation,
    now: Timestamp,
) -> Step {
    let mut s = current.clone();
    let from = s.phase.unwrap_or_default();
    s.phase = Some(from);
    let mut recorded = None;
    let running = matches!(from, DrillPhase::Progressing | DrillPhase::Analyzing);
    match from {
        _ if running && obs.manual.is_some() && target_changed(&s, obs).is_none() => {
            match obs.manual {
                Some(Manual::Abort) => start_rollback(
                    &mut s,
                    now,
                    "aborted by hand (annotation releasegate.dev/action=abort)".into(),
                ),
                _ => promote(
                    &mut s,
                    "promoted by hand (annotation releasegate.dev/action=promote)".into(),
                ),
            }
        }
        DrillPhase::Pending => pending(&mut s, settings, obs, now),
        DrillPhase::Progressing => {
            if let Some(reason) = target_changed(&s, obs) {
                fail(&mut s, reason, true);
            } else if obs.canary_ready {
                s.phase = Some(DrillPhase::Analyzing);
                s.window_start = Some(MicroTime(now));
                s.consecutive_breaches = 0;
                s.consecutive_passes = 0;
                s.consecutive_no_data = 0;
            } else if started_before(&s, now, settings.progress_deadline) {
                let reason = format!(
                    "the canary Deployment did not become available within {}s",
                    settings.progress_deadline.as_secs()
                );
                fail(&mut s, reason, true);
            }
        }
        DrillPhase::Analyzing => {
            if let Some(reason) = target_changed(&s, obs) {
                fail(&mut s, reason, true);
            } else if let Some(w) = obs.window.as_ref().filter(|w| w.track == Track::Canary) {
                recorded = Some(record_window(&mut s, w, now));
                analyze(&mut s, settings, now, recorded.as_ref());
            }
        }
        DrillPhase::RollingBack => {
            if obs.stable_available {
                s.phase = Some(DrillPhase::RolledBack);
                s.rolled_back_time = Some(MicroTime(now));
                s.window_start = Some(MicroTime(now));
                s.consecutive_breaches = 0;
                s.consecutive_passes = 0;
                s.consecutive_no_data = 0;
                notify(&mut s, Notice::RolledBack, "the target runs the recorded stable revision again, fully available; judging its recovery".into(), None);
            }
        }
        DrillPhase::RolledBack => {
            if let Some(w) = obs.window.as_ref().filter(|w| w.track == Track::Stable) {
                let mut w = w.clone();
                // Recovery must be proven by data: a window without data never counts as a
                // pass here, whatever the policy says for the canary.
                if w.judgement.verdict == WindowVerdict::NoData {
                    w.judgement.counted_as = CountedAs::Pause;
                    w.judgement
                        .reason
                        .push_str("; after a rollback only data proves the recovery");
                }
                recorded = Some(record_window(&mut s, &w, now));
                recover(&mut s, settings, now, recorded.as_ref());
            }
        }
        DrillPhase::Promoted | DrillPhase::Restored | DrillPhase::Failed => {
            if settings.scheduled {
                match s.next_run_time.as_ref().map(|t| t.0) {
                    None => s.next_run_time = obs.next_run.map(MicroTime),
                    Some(t) if now >= t => new_run(&mut s),
                    Some(_) => {}
                }
            }
        }
    }
    let to = s.phase.unwrap_or_default();
    if to.is_terminal() && !from.is_terminal() {
        finish(&mut s, to, now, settings, obs);
    }
    let ready = ready_condition(&s);
    set_condition(&mut s.conditions, ready, now);
    Step {
        transition: (from != to).then_some((from, to)),
        status: s,
        window: recorded,
    }
}

fn pending(s: &mut CanaryDrillStatus, settings: &Settings, obs: &Observation, now: Timestamp) {
    if settings.scheduled && s.next_run_time.is_none() {
        s.next_run_time = obs.next_run.map(MicroTime);
        return;
    }
    if !start_due(s, settings, now) {
        return;
    }
    let Some(target) = &obs.target else {
        fail(
            s,
            "spec.target: the Deployment does not exist".into(),
            false,
        );
        return;
    };
    if let Some(problem) = &obs.problem {
        fail(s, problem.clone(), false);
        return;
    }
    if let Claim::HeldBy(other) = &obs.claim {
        let msg = format!("CanaryDrill {other} is running on the same Deployment; this one waits");
        set_condition(
            &mut s.conditions,
            cond("Queued", true, "AnotherDrillRunning", &msg),
            now,
        );
        s.reason = Some(msg);
        return;
    }
    s.conditions.retain(|c| c.type_ != "Queued");
    s.reason = None;
    s.run = s.run.max(1);
    s.phase = Some(DrillPhase::Progressing);
    s.started_time = Some(MicroTime(now));
    s.stable_revision = Some(StableRevision {
        revision: target.revision.clone(),
        template_hash: target.template_hash.clone(),
        template: target.template.clone(),
        container: target.container.clone(),
        image: target.image.clone(),
        replicas: target.replicas,
    });
    s.canary_template_hash = obs.canary_template_hash.clone();
    push(s, DrillAction::EnsureCanary);
    let msg = format!(
        "run {}: recorded the stable revision (image {}, {} replicas, template {}); rolling out the canary",
        s.run,
        target.image,
        target.replicas,
        short(&target.template_hash)
    );
    notify(s, Notice::DrillStarted, msg, None);
}

fn analyze(
    s: &mut CanaryDrillStatus,
    settings: &Settings,
    now: Timestamp,
    w: Option<&WindowResult>,
) {
    let Some(w) = w else { return };
    if w.counted_as == CountedAs::Breach {
        let msg = format!(
            "window {} of the canary breached the budget: {}",
            w.index, w.reason
        );
        notify(s, Notice::BudgetBreached, msg, Some(w.index));
    }
    if s.consecutive_no_data >= settings.max_no_data_windows {
        let reason = format!(
            "{} consecutive windows had no data (spec.maxNoDataWindows {}), so the canary could not be judged; \
             the drill stopped and removed its canary (the target keeps its stable revision): check the metric source ({})",
            s.consecutive_no_data, settings.max_no_data_windows, w.reason
        );
        fail(s, reason, true);
    } else if s.consecutive_breaches >= settings.breach_windows {
        let reason = format!(
            "{} consecutive windows breached the budget (spec.breachWindows {})",
            s.consecutive_breaches, settings.breach_windows
        );
        start_rollback(s, now, reason);
    } else if s.consecutive_passes >= settings.success_windows {
        let reason = format!(
            "{} consecutive windows passed the budget (spec.successWindows {})",
            s.consecutive_passes, settings.success_windows
        );
        promote(s, reason);
    }
}

/// RollingBack: restore the recorded stable revision, record the Decision.
fn start_rollback(s: &mut CanaryDrillStatus, now: Timestamp, reason: String) {
    s.phase = Some(DrillPhase::RollingBack);
    s.breach_time = Some(MicroTime(now));
    s.rollback_time = Some(MicroTime(now));
    push(s, DrillAction::RestoreStable);
    push(s, DrillAction::WriteDecision);
    let msg = format!(
        "rolling back to the recorded stable revision ({}): {reason}",
        s.stable_revision
            .as_ref()
            .map(|r| r.image.as_str())
            .unwrap_or("?"),
    );
    notify(s, Notice::RollbackStarted, msg, None);
    s.reason = Some(reason);
}

/// Promoted: the target gets the canary's template.
fn promote(s: &mut CanaryDrillStatus, reason: String) {
    s.phase = Some(DrillPhase::Promoted);
    push(s, DrillAction::Promote);
    push(s, DrillAction::Release);
    notify(
        s,
        Notice::Promoted,
        format!("the canary was promoted: {reason}"),
        None,
    );
    s.reason = Some(reason);
}

fn recover(
    s: &mut CanaryDrillStatus,
    settings: &Settings,
    now: Timestamp,
    w: Option<&WindowResult>,
) {
    let Some(w) = w else { return };
    if s.consecutive_no_data >= settings.max_no_data_windows {
        let msg = format!(
            "the recovery could not be proven: {} consecutive windows of the stable revision had no data after the rollback \
             (spec.maxNoDataWindows {}); check the metric source ({})",
            s.consecutive_no_data, settings.max_no_data_windows, w.reason
        );
        set_condition(
            &mut s.conditions,
            cond("Recovered", false, "NoData", &msg),
            now,
        );
        notify(s, Notice::RecoveryFailed, msg.clone(), Some(w.index));
        fail(s, msg, false);
    } else if w.counted_as == CountedAs::Breach {
        let msg = format!(
            "the stable revision breached the budget after the rollback (window {}): {}",
            w.index, w.reason
        );
        set_condition(
            &mut s.conditions,
            cond("Recovered", false, "StableBreached", &msg),
            now,
        );
        notify(s, Notice::RecoveryFailed, msg, Some(w.index));
        if s.consecutive_breaches >= settings.breach_windows {
            let reason = format!(
                "the stable revision did not recover: {} consecutive windows over budget after the rollback",
                s.consecutive_breaches
            );
            fail(s, reason, false);
        }
    } else if s.consecutive_passes >= settings.recovery_windows {
        s.phase = Some(DrillPhase::Restored);
        s.restored_time = Some(MicroTime(now));
        let mttr = s
            .breach_time
            .as_ref()
            .map(|b| now.duration_since(b.0).as_secs_f64());
        s.mttr = mttr.map(|m| format!("{m:.1}s"));
        let msg = format!(
            "the stable revision passed {} window(s) after the rollback; MTTR {}",
            s.consecutive_passes,
            s.mttr.as_deref().unwrap_or("unknown")
        );
        set_condition(
            &mut s.conditions,
            cond("Recovered", true, "BudgetMet", &msg),
            now,
        );
        s.reason = Some(msg.clone());
        push(s, DrillAction::Release);
        notify(s, Notice::Restored, msg, None);
    }
}

/// Appends the window, moves the streaks and starts the next window where this one ended.
fn record_window(s: &mut CanaryDrillStatus, w: &JudgedWindow, now: Timestamp) -> WindowResult {
    let index = s.windows.last().map_or(0, |l| l.index) + 1;
    let j = &w.judgement;
    match j.counted_as {
        CountedAs::Breach => {
            s.consecutive_breaches += 1;
            s.consecutive_passes = 0;
            s.consecutive_no_data = 0;
        }
        CountedAs::Pass => {
            s.consecutive_passes += 1;
            s.consecutive_breaches = 0;
            s.consecutive_no_data = 0;
        }
        // A paused window moves neither streak; it only counts towards maxNoDataWindows.
        CountedAs::Pause => s.consecutive_no_data += 1,
    }
    let result = WindowResult {
        index,
        track: w.track,
        start: MicroTime(w.start),
        end: MicroTime(w.end),
        error_rate: j.measurements.error_rate,
        latency_ms: j.measurements.latency_ms,
        requests: j.measurements.requests,
        verdict: j.verdict,
        counted_as: j.counted_as,
        reason: j.reason.clone(),
        query: (!j.measurements.query.is_empty()).then(|| j.measurements.query.clone()),
    };
    s.windows.push(result.clone());
    if s.windows.len() > MAX_WINDOWS {
        let excess = s.windows.len() - MAX_WINDOWS;
        s.windows.drain(..excess);
    }
    s.last_window = Some(match (j.verdict, j.counted_as) {
        (WindowVerdict::NoData, c) => format!("NoData({c:?})"),
        (v, _) => format!("{v:?}"),
    });
    s.window_start = Some(MicroTime(w.end));
    let paused = j.counted_as == CountedAs::Pause;
    let c = if paused {
        cond("Paused", true, "NoData", &j.reason)
    } else {
        cond("Paused", false, "Judging", "the last window had data")
    };
    set_condition(&mut s.conditions, c, now);
    result
}

/// A Failed drill: the canary is removed (when one may be running) and the claim released.
fn fail(s: &mut CanaryDrillStatus, reason: String, remove_canary: bool) {
    s.phase = Some(DrillPhase::Failed);
    if remove_canary {
        push(s, DrillAction::RemoveCanary);
    }
    push(s, DrillAction::Release);
    notify(s, Notice::DrillFailed, reason.clone(), None);
    s.reason = Some(reason);
}

fn finish(
    s: &mut CanaryDrillStatus,
    outcome: DrillPhase,
    now: Timestamp,
    settings: &Settings,
    obs: &Observation,
) {
    s.finished_time = Some(MicroTime(now));
    let mttr_seconds = match (outcome, &s.breach_time, &s.restored_time) {
        (DrillPhase::Restored, Some(b), Some(r)) => Some(r.0.duration_since(b.0).as_secs_f64()),
        _ => None,
    };
    s.runs.push(RunRecord {
        run: s.run.max(1),
        outcome,
        started_time: s.started_time.clone(),
        finished_time: MicroTime(now),
        mttr_seconds,
        reason: (outcome == DrillPhase::Failed)
            .then(|| s.reason.clone())
            .flatten(),
    });
    if s.runs.len() > MAX_RUNS {
        let excess = s.runs.len() - MAX_RUNS;
        s.runs.drain(..excess);
    }
    s.next_run_time = if settings.scheduled {
        obs.next_run.map(MicroTime)
    } else {
        None
    };
}

/// A scheduled drill's next run: everything of the last run goes, its record stays in `runs`.
fn new_run(s: &mut CanaryDrillStatus) {
    *s = CanaryDrillStatus {
        phase: Some(DrillPhase::Pending),
        run: s.run + 1,
        runs: std::mem::take(&mut s.runs),
        outbox: std::mem::take(&mut s.outbox),
        next_run_time: s.next_run_time.take(),
        observed_generation: s.observed_generation,
        ..CanaryDrillStatus::default()
    };
}

/// Why the drill must stop because the target changed under it, if it did.
fn target_changed(s: &CanaryDrillStatus, obs: &Observation) -> Option<String> {
    let recorded = s.stable_revision.as_ref()?;
    match &obs.target {
        None => Some("the target Deployment was deleted during the drill".into()),
        Some(t) if t.template_hash != recorded.template_hash => Some(format!(
            "the target Deployment's pod template was edited during the drill (template {} → {}, image {} → {}); \
             the drill stopped and removed its canary, keeping that edit, without rolling back",
            short(&recorded.template_hash),
            short(&t.template_hash),
            recorded.image,
            t.image
        )),
        Some(_) => None,
    }
}

fn started_before(
    s: &CanaryDrillStatus,
    now: Timestamp,
    limit: k8s_openapi::jiff::SignedDuration,
) -> bool {
    s.started_time
        .as_ref()
        .is_some_and(|t| now.duration_since(t.0) > limit)
}

fn push(s: &mut CanaryDrillStatus, action: DrillAction) {
    s.pending_actions.push(PendingAction {
        action,
        notice: None,
        message: None,
        key: None,
    });
}

fn notify(s: &mut CanaryDrillStatus, notice: Notice, message: String, window: Option<u32>) {
    let key = match window {
        Some(w) => format!("run{}-{notice:?}-w{w}", s.run.max(1)),
        None => format!("run{}-{notice:?}", s.run.max(1)),
    };
    s.pending_actions.push(PendingAction {
        action: DrillAction::Notify,
        notice: Some(notice),
        message: Some(message),
        key: Some(key),
    });
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

fn ready_condition(s: &CanaryDrillStatus) -> Condition {
    let phase = s.phase.unwrap_or_default();
    let msg = s
        .reason
        .clone()
        .unwrap_or_else(|| format!("the drill is {phase:?}"));
    match phase {
        DrillPhase::Promoted | DrillPhase::Restored => {
            cond("Ready", true, &format!("{phase:?}"), &msg)
        }
        _ => cond("Ready", false, &format!("{phase:?}"), &msg),
    }
}

fn cond(type_: &str, status: bool, reason: &str, message: &str) -> Condition {
    Condition {
        type_: type_.into(),
        status: if status { "True" } else { "False" }.into(),
        reason: reason.into(),
        message: message.chars().take(1024).collect(),
        observed_generation: None,
        last_transition_time: Time(Timestamp::UNIX_EPOCH),
    }
}

/// Sets a condition, keeping its transition time when its status did not change.
fn set_condition(conditions: &mut Vec<Condition>, mut c: Condition, now: Timestamp) {
    match conditions.iter_mut().find(|o| o.type_ == c.type_) {
        Some(old) if old.status == c.status => {
            c.last_transition_time = old.last_transition_time.clone();
            *old = c;
        }
        Some(old) => {
            c.last_transition_time = Time(now);
            *old = c;
        }
        None => {
            c.last_transition_time = Time(now);
            conditions.push(c);
        }
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
