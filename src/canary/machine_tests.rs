//! Table-driven tests of the drill state machine, without a cluster: a small simulator plays
//! the shell (it carries out pending actions by clearing them and counts them).

use super::*;
use crate::api::{Budget, NoDataPolicy, SyntheticWindow};
use crate::canary::judge::{Measurements, judge};
use k8s_openapi::jiff::SignedDuration;

fn settings() -> Settings {
    Settings {
        window: SignedDuration::from_secs(10),
        breach_windows: 2,
        success_windows: 3,
        recovery_windows: 1,
        max_no_data_windows: 5,
        progress_deadline: SignedDuration::from_secs(120),
        scheduled: false,
    }
}

fn target(hash: &str) -> TargetView {
    TargetView {
        template_hash: hash.into(),
        template: format!("{{\"hash\":\"{hash}\"}}"),
        container: "web".into(),
        image: "registry.example.com/web:1".into(),
        replicas: 4,
        revision: Some("1".into()),
    }
}

fn budget() -> Budget {
    Budget {
        max_error_rate: 0.01,
        max_latency_ms: Some(300),
        latency_quantile: 0.99,
        min_requests: 10,
    }
}

fn measured(w: SyntheticWindow) -> Measurements {
    let (e, l, r) = match w {
        SyntheticWindow::Pass => (Some(0.0), Some(50.0), Some(100.0)),
        SyntheticWindow::Breach => (Some(0.5), Some(900.0), Some(100.0)),
        SyntheticWindow::NoData => (None, None, Some(0.0)),
    };
    Measurements {
        error_rate: e,
        latency_ms: l,
        requests: r,
        query: "synthetic".into(),
    }
}

/// Plays the shell around the machine.
struct Sim {
    s: CanaryDrillStatus,
    now: Timestamp,
    settings: Settings,
    policy: NoDataPolicy,
    target: TargetView,
    /// Every action carried out, in order.
    done: Vec<PendingAction>,
    phases: Vec<DrillPhase>,
}

impl Sim {
    fn new() -> Self {
        Self {
            s: CanaryDrillStatus::default(),
            now: "2026-11-30T10:00:00Z".parse().unwrap(),
            settings: settings(),
            policy: NoDataPolicy::Pause,
            target: target("aaaaaaaaaaaaaaaa"),
            done: Vec::new(),
            phases: Vec::new(),
        }
    }

    fn obs(&self) -> Observation {
        Observation {
            target: Some(self.target.clone()),
            canary_template_hash: Some("cccc".into()),
            ..Observation::default()
        }
    }

    fn step(&mut self, obs: Observation) -> Step {
        assert!(
            self.s.pending_actions.is_empty(),
            "the shell runs pending actions first"
        );
        let step = step(&self.s, &self.settings, &obs, self.now);
        self.s = step.status.clone();
        self.done
            .extend(std::mem::take(&mut self.s.pending_actions));
        self.phases.push(self.s.phase.unwrap());
        step
    }

    /// Pending → Progressing → Analyzing.
    fn start(&mut self) {
        self.step(self.obs());
        assert_eq!(self.s.phase, Some(DrillPhase::Progressing));
        self.now += SignedDuration::from_secs(2);
        let obs = Observation {
            canary_ready: true,
            ..self.obs()
        };
        self.step(obs);
        assert_eq!(self.s.phase, Some(DrillPhase::Analyzing));
    }

    /// Waits for the due window and judges `w` for it.
    fn window(&mut self, w: SyntheticWindow) -> Step {
        let start = self.s.window_start.as_ref().unwrap().0;
        self.now = start + self.settings.window;
        let (track, start, end) =
            due_window(&self.s, &self.settings, self.now).expect("a window is due");
        let judgement = judge(&measured(w), &budget(), self.policy);
        let obs = Observation {
            window: Some(JudgedWindow {
                track,
                start,
                end,
                judgement,
            }),
            ..self.obs()
        };
        self.step(obs)
    }

    fn count(&self, action: DrillAction) -> usize {
        self.done.iter().filter(|a| a.action == action).count()
    }

    fn notices(&self) -> Vec<Notice> {
        self.done.iter().filter_map(|a| a.notice).collect()
    }
}

#[test]
fn canary_window_sequences() {
    use DrillPhase::*;
    use NoDataPolicy as P;
    use SyntheticWindow::{Breach as B, NoData as N, Pass as OK};
    #[rustfmt::skip]
    let cases: Vec<(&str, P, Vec<SyntheticWindow>, DrillPhase, usize)> = vec![
        ("two consecutive breaches roll back", P::Pause, vec![B, B], RollingBack, 1),
        ("one breach does not", P::Pause, vec![B], Analyzing, 0),
        ("flapping (breach, pass, breach) does not roll back", P::Pause, vec![B, OK, B], Analyzing, 0),
        ("flapping then a second consecutive breach does", P::Pause, vec![B, OK, B, B], RollingBack, 1),
        ("three passes promote", P::Pause, vec![OK, OK, OK], Promoted, 0),
        ("a breach resets the passing streak", P::Pause, vec![OK, OK, B, OK, OK], Analyzing, 0),
        ("then three passes in a row promote", P::Pause, vec![OK, OK, B, OK, OK, OK], Promoted, 0),
        ("no data pauses: nothing moves", P::Pause, vec![N, N, N, N], Analyzing, 0),
        ("the fifth paused window in a row stops the drill", P::Pause, vec![N, N, N, N, N], Failed, 0),
        ("a window with data resets the no-data count", P::Pause, vec![N, N, N, N, OK, N, N, N, N], Analyzing, 0),
        ("no data pauses without breaking a breach streak", P::Pause, vec![B, N, B], RollingBack, 1),
        ("no data under Breach fails closed", P::Breach, vec![N, N], RollingBack, 1),
        ("no data under Pass counts as a pass", P::Pass, vec![N, OK, N], Promoted, 0),
    ];
    for (name, policy, windows, phase, rollbacks) in cases {
        let mut sim = Sim::new();
        sim.policy = policy;
        sim.start();
        for w in &windows {
            sim.window(*w);
        }
        assert_eq!(sim.s.phase, Some(phase), "{name}: {:?}", sim.s.windows);
        assert_eq!(sim.count(DrillAction::RestoreStable), rollbacks, "{name}");
        assert_eq!(
            sim.s.windows.len(),
            windows.len(),
            "{name}: every window is recorded"
        );
        let promotes = usize::from(phase == Promoted);
        assert_eq!(sim.count(DrillAction::Promote), promotes, "{name}");
        if phase == RollingBack {
            assert_eq!(sim.count(DrillAction::WriteDecision), 1, "{name}");
            assert!(sim.s.breach_time.is_some(), "{name}");
        }
    }
}

#[test]
fn no_data_is_never_a_silent_pass() {
    let mut sim = Sim::new();
    sim.policy = NoDataPolicy::Pass;
    sim.start();
    sim.window(SyntheticWindow::NoData);
    let w = sim.s.windows.last().unwrap();
    assert_eq!(w.verdict, WindowVerdict::NoData);
    assert_eq!(w.counted_as, CountedAs::Pass);
    assert!(w.reason.contains("noDataPolicy Pass"), "{}", w.reason);
    assert_eq!(sim.s.last_window.as_deref(), Some("NoData(Pass)"));

    let mut sim = Sim::new();
    sim.start();
    sim.window(SyntheticWindow::NoData);
    let paused = sim
        .s
        .conditions
        .iter()
        .find(|c| c.type_ == "Paused")
        .unwrap();
    assert_eq!(paused.status, "True");
    assert!(
        paused.message.contains("noDataPolicy Pause"),
        "{}",
        paused.message
    );
}

#[test]
fn the_stable_revision_is_recorded_with_the_first_effect_not_after_it() {
    let mut sim = Sim::new();
    let step = sim.step(sim.obs());
    // The status that carries the stable revision also carries the effect that changes the
    // target: the shell writes it before carrying the effect out.
    let st = &step.status;
    let stable = st.stable_revision.as_ref().expect("recorded");
    assert_eq!(stable.template_hash, "aaaaaaaaaaaaaaaa");
    assert_eq!(stable.replicas, 4);
    assert_eq!(stable.image, "registry.example.com/web:1");
    assert_eq!(st.pending_actions[0].action, DrillAction::EnsureCanary);
    assert_eq!(st.pending_actions[1].notice, Some(Notice::DrillStarted));
    assert_eq!(st.run, 1);
    assert_eq!(
        step.transition,
        Some((DrillPhase::Pending, DrillPhase::Progressing))
    );
}

#[test]
fn the_full_fail_path_rolls_back_once_and_restores_with_mttr() {
    let mut sim = Sim::new();
    sim.start();
    sim.window(SyntheticWindow::Breach);
    let step = sim.window(SyntheticWindow::Breach);
    assert_eq!(
        step.transition,
        Some((DrillPhase::Analyzing, DrillPhase::RollingBack))
    );
    let breach = sim.now;
    // Waiting for the stable ReplicaSet: nothing new is decided, whatever is observed.
    for _ in 0..3 {
        sim.now += SignedDuration::from_secs(1);
        let step = sim.step(sim.obs());
        assert_eq!(step.transition, None);
        assert!(step.status.pending_actions.is_empty());
    }
    assert_eq!(
        due_window(
            &sim.s,
            &sim.settings,
            sim.now + SignedDuration::from_secs(3600)
        ),
        None
    );
    let obs = Observation {
        stable_available: true,
        ..sim.obs()
    };
    let step = sim.step(obs);
    assert_eq!(
        step.transition,
        Some((DrillPhase::RollingBack, DrillPhase::RolledBack))
    );
    let step = sim.window(SyntheticWindow::Pass);
    assert_eq!(
        step.transition,
        Some((DrillPhase::RolledBack, DrillPhase::Restored))
    );
    assert_eq!(step.window.as_ref().unwrap().track, Track::Stable);
    assert_eq!(sim.count(DrillAction::RestoreStable), 1);
    assert_eq!(sim.count(DrillAction::WriteDecision), 1);
    assert_eq!(sim.count(DrillAction::Release), 1);
    assert_eq!(
        sim.notices(),
        vec![
            Notice::DrillStarted,
            Notice::BudgetBreached,
            Notice::BudgetBreached,
            Notice::RollbackStarted,
            Notice::RolledBack,
            Notice::Restored
        ]
    );
    let mttr = sim.now.duration_since(breach).as_secs_f64();
    assert_eq!(sim.s.mttr, Some(format!("{mttr:.1}s")));
    assert_eq!(sim.s.runs.len(), 1);
    assert_eq!(sim.s.runs[0].outcome, DrillPhase::Restored);
    assert_eq!(sim.s.runs[0].mttr_seconds, Some(mttr));
    let ready = sim
        .s
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.status, "True");
    // Terminal: further steps change nothing and decide nothing.
    let before = sim.s.clone();
    sim.now += SignedDuration::from_secs(600);
    let step = sim.step(sim.obs());
    assert_eq!(step.status, before);
}

#[test]
fn notice_keys_are_unique_per_run_so_a_sink_can_drop_duplicates() {
    let mut sim = Sim::new();
    sim.start();
    sim.window(SyntheticWindow::Breach);
    sim.window(SyntheticWindow::Breach);
    let keys: Vec<_> = sim.done.iter().filter_map(|a| a.key.clone()).collect();
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(keys.len(), unique.len(), "{keys:?}");
    assert!(
        keys.contains(&"run1-BudgetBreached-w2".to_string()),
        "{keys:?}"
    );
}

#[test]
fn replaying_a_step_from_the_same_status_decides_the_same() {
    // A controller killed after deciding but before writing redoes the step: same input, same
    // decision, so there is never a second, different rollback.
    let mut sim = Sim::new();
    sim.start();
    sim.window(SyntheticWindow::Breach);
    let start = sim.s.window_start.as_ref().unwrap().0;
    let now = start + sim.settings.window;
    let (track, start, end) = due_window(&sim.s, &sim.settings, now).unwrap();
    let obs = Observation {
        window: Some(JudgedWindow {
            track,
            start,
            end,
            judgement: judge(
                &measured(SyntheticWindow::Breach),
                &budget(),
                NoDataPolicy::Pause,
            ),
        }),
        ..sim.obs()
    };
    let a = step(&sim.s, &sim.settings, &obs, now);
    let b = step(&sim.s, &sim.settings, &obs, now);
    assert_eq!(a, b);
    // And once RollingBack is recorded, the same window observed again decides nothing.
    let c = step(&a.status, &sim.settings, &obs, now);
    assert_eq!(c.transition, None);
    assert_eq!(
        c.status.pending_actions, a.status.pending_actions,
        "nothing added"
    );
}

#[test]
fn a_human_edit_of_the_target_stops_the_drill_without_rolling_back() {
    for phase_at_edit in [DrillPhase::Progressing, DrillPhase::Analyzing] {
        let mut sim = Sim::new();
        sim.step(sim.obs());
        if phase_at_edit == DrillPhase::Analyzing {
            let obs = Observation {
                canary_ready: true,
                ..sim.obs()
            };
            sim.step(obs);
            sim.window(SyntheticWindow::Breach);
        }
        sim.target = TargetView {
            template_hash: "bbbbbbbbbbbbbbbb".into(),
            image: "registry.example.com/web:hotfix".into(),
            ..sim.target.clone()
        };
        sim.now += SignedDuration::from_secs(1);
        sim.step(sim.obs());
        assert_eq!(sim.s.phase, Some(DrillPhase::Failed), "{phase_at_edit:?}");
        let reason = sim.s.reason.clone().unwrap();
        assert!(reason.contains("edited during the drill"), "{reason}");
        assert!(reason.contains("web:hotfix"), "{reason}");
        assert_eq!(sim.count(DrillAction::RestoreStable), 0);
        assert_eq!(sim.count(DrillAction::RemoveCanary), 1);
        assert_eq!(sim.count(DrillAction::Release), 1);
        assert_eq!(sim.s.runs[0].outcome, DrillPhase::Failed);
    }
}

#[test]
fn a_deleted_target_or_a_missing_one_fails_naming_it() {
    let mut sim = Sim::new();
    sim.step(Observation {
        target: None,
        ..Observation::default()
    });
    assert_eq!(sim.s.phase, Some(DrillPhase::Failed));
    assert!(sim.s.reason.as_ref().unwrap().contains("spec.target"));
    assert_eq!(
        sim.count(DrillAction::RemoveCanary),
        0,
        "nothing was changed"
    );

    let mut sim = Sim::new();
    sim.start();
    sim.step(Observation {
        target: None,
        ..Observation::default()
    });
    assert_eq!(sim.s.phase, Some(DrillPhase::Failed));
    assert!(sim.s.reason.as_ref().unwrap().contains("deleted"));
}

#[test]
fn a_second_drill_on_the_same_deployment_waits() {
    let mut sim = Sim::new();
    let queued = Observation {
        claim: Claim::HeldBy("other".into()),
        ..sim.obs()
    };
    sim.step(queued.clone());
    sim.step(queued);
    assert_eq!(sim.phases, vec![DrillPhase::Pending, DrillPhase::Pending]);
    assert!(sim.done.is_empty(), "nothing is changed while queued");
    let q = sim
        .s
        .conditions
        .iter()
        .find(|c| c.type_ == "Queued")
        .unwrap();
    assert!(q.message.contains("CanaryDrill other"), "{}", q.message);
    sim.step(sim.obs());
    assert_eq!(sim.s.phase, Some(DrillPhase::Progressing));
    assert!(sim.s.conditions.iter().all(|c| c.type_ != "Queued"));
}

#[test]
fn a_canary_that_never_becomes_available_fails_after_the_deadline() {
    let mut sim = Sim::new();
    sim.step(sim.obs());
    sim.now += SignedDuration::from_secs(60);
    sim.step(sim.obs());
    assert_eq!(sim.s.phase, Some(DrillPhase::Progressing));
    sim.now += SignedDuration::from_secs(61);
    sim.step(sim.obs());
    assert_eq!(sim.s.phase, Some(DrillPhase::Failed));
    assert!(
        sim.s
            .reason
            .as_ref()
            .unwrap()
            .contains("did not become available")
    );
    assert_eq!(sim.count(DrillAction::RemoveCanary), 1);
}

fn rolled_back() -> Sim {
    let mut sim = Sim::new();
    sim.start();
    sim.window(SyntheticWindow::Breach);
    sim.window(SyntheticWindow::Breach);
    let obs = Observation {
        stable_available: true,
        ..sim.obs()
    };
    sim.step(obs);
    assert_eq!(sim.s.phase, Some(DrillPhase::RolledBack));
    sim
}

#[test]
fn recovery_must_be_proven_by_data() {
    let mut sim = rolled_back();
    sim.policy = NoDataPolicy::Pass;
    sim.window(SyntheticWindow::NoData);
    assert_eq!(
        sim.s.phase,
        Some(DrillPhase::RolledBack),
        "no data proves nothing"
    );
    assert_eq!(sim.s.windows.last().unwrap().counted_as, CountedAs::Pause);
    sim.window(SyntheticWindow::Pass);
    assert_eq!(sim.s.phase, Some(DrillPhase::Restored));
}

#[test]
fn waiting_for_data_is_capped_by_max_no_data_windows() {
    let mut sim = Sim::new();
    sim.start();
    for _ in 0..4 {
        sim.window(SyntheticWindow::NoData);
    }
    assert_eq!(sim.s.phase, Some(DrillPhase::Analyzing));
    assert_eq!(sim.s.consecutive_no_data, 4);
    sim.window(SyntheticWindow::NoData);
    assert_eq!(sim.s.phase, Some(DrillPhase::Failed));
    let reason = sim.s.reason.clone().unwrap();
    assert!(
        reason.contains("5 consecutive windows had no data (spec.maxNoDataWindows 5)"),
        "{reason}"
    );
    assert_eq!(sim.count(DrillAction::RemoveCanary), 1, "the canary goes");
    assert_eq!(
        sim.count(DrillAction::RestoreStable),
        0,
        "nothing to roll back"
    );

    // After a rollback, a stable revision without data is never declared recovered.
    let mut sim = rolled_back();
    for _ in 0..5 {
        sim.window(SyntheticWindow::NoData);
    }
    assert_eq!(sim.s.phase, Some(DrillPhase::Failed));
    let rec = sim
        .s
        .conditions
        .iter()
        .find(|c| c.type_ == "Recovered")
        .unwrap();
    assert_eq!(
        (rec.status.as_str(), rec.reason.as_str()),
        ("False", "NoData")
    );
    assert!(sim.notices().contains(&Notice::RecoveryFailed));
    assert_eq!(
        sim.count(DrillAction::RestoreStable),
        1,
        "still one rollback"
    );
    assert!(sim.s.mttr.is_none());
}

#[test]
fn a_stable_revision_that_does_not_recover_says_so() {
    let mut sim = rolled_back();
    sim.window(SyntheticWindow::Breach);
    assert_eq!(sim.s.phase, Some(DrillPhase::RolledBack));
    let rec = sim
        .s
        .conditions
        .iter()
        .find(|c| c.type_ == "Recovered")
        .unwrap();
    assert_eq!(
        (rec.status.as_str(), rec.reason.as_str()),
        ("False", "StableBreached")
    );
    sim.window(SyntheticWindow::Breach);
    assert_eq!(sim.s.phase, Some(DrillPhase::Failed));
    assert!(sim.s.reason.as_ref().unwrap().contains("did not recover"));
    assert!(sim.notices().contains(&Notice::RecoveryFailed));
    assert_eq!(
        sim.count(DrillAction::RestoreStable),
        1,
        "still one rollback"
    );
    assert!(sim.s.mttr.is_none());
}

#[test]
fn a_scheduled_drill_waits_for_its_time_runs_and_runs_again() {
    let mut sim = Sim::new();
    sim.settings.scheduled = true;
    let first: Timestamp = "2026-11-30T10:00:30Z".parse().unwrap();
    let mut obs = Observation {
        next_run: Some(first),
        ..sim.obs()
    };
    sim.step(obs.clone());
    assert_eq!(sim.s.phase, Some(DrillPhase::Pending));
    assert_eq!(sim.s.next_run_time, Some(MicroTime(first)));
    assert!(!start_due(&sim.s, &sim.settings, sim.now));
    sim.now = first;
    assert!(start_due(&sim.s, &sim.settings, sim.now));
    sim.step(obs.clone());
    assert_eq!(sim.s.phase, Some(DrillPhase::Progressing));
    sim.step(Observation {
        canary_ready: true,
        ..obs.clone()
    });
    for _ in 0..3 {
        sim.window(SyntheticWindow::Pass);
    }
    assert_eq!(sim.s.phase, Some(DrillPhase::Promoted));
    // The shell passes the schedule's next occurrence after now when the run ends.
    assert_eq!(sim.s.runs.len(), 1);
    let second = sim.now + SignedDuration::from_secs(60);
    obs.next_run = Some(second);
    // (the run ended in the window step above, whose observation had no next_run: set it)
    sim.s.next_run_time = None;
    sim.step(obs.clone());
    assert_eq!(sim.s.next_run_time, Some(MicroTime(second)));
    sim.now = second;
    sim.step(obs.clone());
    assert_eq!(sim.s.phase, Some(DrillPhase::Pending));
    assert_eq!(sim.s.run, 2);
    assert_eq!(sim.s.runs.len(), 1, "the finished run's record is kept");
    assert!(sim.s.windows.is_empty() && sim.s.stable_revision.is_none());
    sim.step(obs);
    assert_eq!(sim.s.phase, Some(DrillPhase::Progressing));
    assert_eq!(sim.s.pending_actions.len(), 0);
    assert!(
        sim.done
            .iter()
            .any(|a| a.key.as_deref() == Some("run2-DrillStarted"))
    );
}

#[test]
fn a_person_can_abort_or_promote_a_running_drill_and_only_a_running_one() {
    let mut sim = Sim::new();
    sim.start();
    sim.window(SyntheticWindow::Pass);
    sim.step(Observation {
        manual: Some(Manual::Abort),
        ..sim.obs()
    });
    assert_eq!(sim.s.phase, Some(DrillPhase::RollingBack));
    assert!(sim.s.reason.as_ref().unwrap().contains("aborted by hand"));
    assert_eq!(sim.count(DrillAction::RestoreStable), 1);
    assert_eq!(sim.count(DrillAction::WriteDecision), 1);
    // Once rolling back, the annotation still being there changes nothing.
    sim.step(Observation {
        manual: Some(Manual::Abort),
        ..sim.obs()
    });
    assert_eq!(sim.count(DrillAction::RestoreStable), 1);

    let mut sim = Sim::new();
    sim.step(sim.obs());
    sim.step(Observation {
        manual: Some(Manual::Promote),
        ..sim.obs()
    });
    assert_eq!(sim.s.phase, Some(DrillPhase::Promoted));
    assert_eq!(sim.count(DrillAction::Promote), 1);
    assert!(sim.s.reason.as_ref().unwrap().contains("promoted by hand"));

    // Pending: nothing to abort yet; the drill starts as usual.
    let mut sim = Sim::new();
    sim.step(Observation {
        manual: Some(Manual::Abort),
        ..sim.obs()
    });
    assert_eq!(sim.s.phase, Some(DrillPhase::Progressing));
}
