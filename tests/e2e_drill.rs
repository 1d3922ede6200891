//! CanaryDrill end to end, with a synthetic metric source, against the real test bed (kube-
//! apiserver, kube-controller-manager, kwok): the fail path (breach, breach → rollback →
//! Restored, one Decision, CloudEvents in order, MTTR), the pass path, flapping, no data, one
//! drill per Deployment, a human edit, a SIGKILL during RollingBack, and a scheduled drill.
//!
//! Ignored by a plain `cargo test`; `make test` runs them with KUBECONFIG set.

mod e2e_drill_support;

use e2e_drill_support::*;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::{Patch, PatchParams};
use release_gate::api::{CountedAs, DecisionType, DrillPhase, ResidualRisk, Track, WindowVerdict};
use serde_json::json;
use std::time::Duration;

const WINDOW_SECS: u64 = 3;

fn synthetic(spec: serde_json::Value, target: &str) -> serde_json::Value {
    let mut base = json!({
        "target": {"name": target},
        "canary": {"image": "registry.example.com/team/web:2", "replicas": 1},
        "budget": {"maxErrorRate": 0.01, "maxLatencyMs": 300, "minRequests": 10},
        "window": format!("{WINDOW_SECS}s"),
        "owner": "team-web",
        "residualRisk": "Low"
    });
    for (k, v) in spec.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

fn image_of(d: &Deployment) -> String {
    d.spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0]
        .image
        .clone()
        .unwrap()
}

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn fail_path_rolls_back_once_restores_and_records_everything() {
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "drill-fail").await;
    let before = ready_deployment(
        &client,
        &ns.name,
        "web",
        3,
        "registry.example.com/team/web:1",
    )
    .await;
    let sink = Sink::start().await;
    hmac_secret(&client, &ns.name, "sink-key", "s3cret").await;
    let controller = ControllerProcess::start(&ns.name);
    create_drill(
        &client,
        &ns.name,
        "fire",
        synthetic(
            json!({
                "metrics": {"synthetic": {"outcome": "Fail"}},
                "eventSink": {"url": sink.url, "hmacSecretRef": {"name": "sink-key", "key": "key"}}
            }),
            "web",
        ),
    )
    .await;

    let d = wait_phase(
        &client,
        &ns.name,
        "fire",
        DrillPhase::Restored,
        Duration::from_secs(120),
        &controller,
    )
    .await;
    let st = d.status.unwrap();

    // The stable revision was recorded, and it is what the target runs again.
    let stable = st.stable_revision.clone().unwrap();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns.name);
    let after = deployments.get("web").await.unwrap();
    assert_eq!(stable.image, "registry.example.com/team/web:1");
    assert_eq!(stable.replicas, 3);
    assert_eq!(
        after.spec.as_ref().unwrap().template,
        before.spec.as_ref().unwrap().template,
        "stable template back"
    );
    assert_eq!(after.spec.as_ref().unwrap().replicas, Some(3));
    assert_eq!(image_of(&after), "registry.example.com/team/web:1");
    let canary = deployments.get("web-canary").await.unwrap();
    assert_eq!(
        canary.spec.as_ref().unwrap().replicas,
        Some(0),
        "canary at 0"
    );
    assert_eq!(image_of(&canary), "registry.example.com/team/web:2");

    // Windows: two canary breaches, then the stable revision's proving window.
    let verdicts: Vec<_> = st.windows.iter().map(|w| (w.track, w.verdict)).collect();
    assert_eq!(
        verdicts,
        vec![
            (Track::Canary, WindowVerdict::Breach),
            (Track::Canary, WindowVerdict::Breach),
            (Track::Stable, WindowVerdict::Pass)
        ]
    );
    assert!(
        st.windows[0]
            .reason
            .contains("error rate 1.0000 > budget.maxErrorRate 0.01"),
        "{}",
        st.windows[0].reason
    );
    assert!(
        st.windows[0]
            .query
            .as_deref()
            .unwrap()
            .contains("synthetic")
    );

    // Exactly one Decision, of type Rollback, with the owner, the risk and the evidence.
    let decisions = decisions_of(&client, &ns.name, "fire").await;
    assert_eq!(decisions.len(), 1, "{decisions:#?}");
    let dec = &decisions[0];
    assert_eq!(dec.spec.kind, DecisionType::Rollback);
    assert_eq!(dec.spec.owner, "team-web");
    assert_eq!(dec.spec.residual_risk, ResidualRisk::Low);
    assert_eq!(dec.spec.scope.drills, vec!["fire".to_string()]);
    assert!(
        dec.spec.rationale.contains("window 2 [Canary] Breach"),
        "{}",
        dec.spec.rationale
    );
    assert_eq!(st.decision_ref.as_deref(), dec.metadata.name.as_deref());

    // Kubernetes Events.
    let reasons = event_reasons(&client, &ns.name, "fire").await;
    for r in [
        "DrillStarted",
        "BudgetBreached",
        "RollbackStarted",
        "Restored",
    ] {
        assert!(
            reasons.iter().any(|x| x == r),
            "no {r} Event in {reasons:?}"
        );
    }
    assert_eq!(
        reasons.iter().filter(|r| *r == "RollbackStarted").count(),
        1,
        "{reasons:?}"
    );

    // CloudEvents, in order, signed, each with its own idempotency key.
    let ok = wait_until(Duration::from_secs(15), || async {
        (sink.types().len() >= 5).then_some(())
    })
    .await;
    assert!(ok.is_some(), "CloudEvents: {:?}", sink.types());
    assert_eq!(
        sink.types(),
        [
            "dev.releasegate.drill.start",
            "dev.releasegate.drill.breach",
            "dev.releasegate.drill.breach",
            "dev.releasegate.drill.rollback",
            "dev.releasegate.drill.restore"
        ]
    );
    for e in sink.events() {
        let sig = release_gate::events::sign(
            b"s3cret",
            &e.header("ce-id"),
            &e.header("ce-type"),
            &e.body,
        );
        assert_eq!(
            e.header("x-releasegate-signature"),
            sig,
            "bad signature on {}",
            e.header("ce-type")
        );
        assert_eq!(e.header("idempotency-key"), e.header("ce-id"));
        assert_eq!(e.header("ce-specversion"), "1.0");
    }
    let restore = sink
        .events()
        .into_iter()
        .find(|e| e.header("ce-type").ends_with("restore"))
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&restore.body).unwrap();
    assert_eq!(body["drill"], "fire");
    assert_eq!(body["mttr"], json!(st.mttr));

    // MTTR and the time to RolledBack, in status and in the metrics.
    let breach = st.breach_time.clone().unwrap();
    let second_window_end = st.windows[1].end.clone();
    let rolled_back = st.rolled_back_time.clone().unwrap();
    let restored = st.restored_time.clone().unwrap();
    let to_rolled_back = secs(&second_window_end, &rolled_back);
    let beyond_recovery = secs(&rolled_back, &restored) - WINDOW_SECS as f64;
    eprintln!(
        "FIGURES fail path (window {WINDOW_SECS}s, breachWindows 2, recoveryWindows 1): \
         end of 2nd breached window -> breach detected {:.3}s, -> RolledBack {to_rolled_back:.3}s, \
         RolledBack -> Restored {:.3}s ({beyond_recovery:.3}s beyond the recovery window), MTTR {}",
        secs(&second_window_end, &breach),
        secs(&rolled_back, &restored),
        st.mttr.as_deref().unwrap_or("?")
    );
    assert!(
        to_rolled_back < 5.0,
        "end of the 2nd breached window to RolledBack took {to_rolled_back:.3}s"
    );
    assert!(
        beyond_recovery < 5.0,
        "Restored came {beyond_recovery:.3}s after the recovery window"
    );
    let mttr = st.runs[0].mttr_seconds.unwrap();
    assert!((mttr - secs(&breach, &restored)).abs() < 0.01);
    let m = controller.metrics().await;
    let labels = format!("{{namespace=\"{}\",drill=\"fire\"}}", ns.name);
    assert_eq!(
        metric(&m, &format!("releasegate_drill_mttr_seconds_count{labels}")),
        Some(1.0),
        "{m}"
    );
    let sum = metric(&m, &format!("releasegate_drill_mttr_seconds_sum{labels}")).unwrap();
    assert!((sum - mttr).abs() < 0.01, "metric {sum} vs status {mttr}");
    assert_eq!(
        metric(
            &m,
            &format!("releasegate_drill_breach_to_rolled_back_seconds_count{labels}")
        ),
        Some(1.0)
    );
    assert!(metric(&m, "releasegate_drill_outcomes_total{outcome=\"Restored\"}").unwrap() >= 1.0);
    assert!(
        metric(
            &m,
            "releasegate_drill_windows_total{verdict=\"Breach\",counted_as=\"Breach\"}"
        )
        .unwrap()
            >= 2.0
    );
    let phase = format!(
        "releasegate_drill_phase{{namespace=\"{}\",drill=\"fire\",phase=\"Restored\"}}",
        ns.name
    );
    assert_eq!(metric(&m, &phase), Some(1.0), "{m}");
    // The claim on the target is released.
    assert!(
        !after
            .metadata
            .annotations
            .unwrap_or_default()
            .contains_key("releasegate.dev/canary-drill")
    );
}

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn pass_path_promotes_the_canary() {
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "drill-pass").await;
    ready_deployment(
        &client,
        &ns.name,
        "web",
        2,
        "registry.example.com/team/web:1",
    )
    .await;
    let sink = Sink::start().await;
    let controller = ControllerProcess::start(&ns.name);
    create_drill(
        &client,
        &ns.name,
        "ok",
        synthetic(
            json!({"metrics": {"synthetic": {"outcome": "Pass"}}, "successWindows": 2, "eventSink": {"url": sink.url}}),
            "web",
        ),
    )
    .await;
    let d = wait_phase(
        &client,
        &ns.name,
        "ok",
        DrillPhase::Promoted,
        Duration::from_secs(90),
        &controller,
    )
    .await;
    let st = d.status.unwrap();
    assert_eq!(st.windows.len(), 2);
    assert!(st.windows.iter().all(|w| w.verdict == WindowVerdict::Pass));
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns.name);
    let target = wait_ready(&client, &ns.name, "web", 2).await;
    assert_eq!(
        image_of(&target),
        "registry.example.com/team/web:2",
        "the target runs the canary revision"
    );
    let labels = target
        .spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .clone()
        .unwrap();
    assert!(
        !labels.contains_key("releasegate.dev/track"),
        "no drill labels promoted: {labels:?}"
    );
    assert_eq!(
        deployments
            .get("web-canary")
            .await
            .unwrap()
            .spec
            .unwrap()
            .replicas,
        Some(0)
    );
    assert!(
        decisions_of(&client, &ns.name, "ok").await.is_empty(),
        "no rollback, no Decision"
    );
    let ok = wait_until(Duration::from_secs(10), || async {
        (sink.types().len() >= 2).then_some(())
    })
    .await;
    assert!(ok.is_some(), "{:?}", sink.types());
    assert_eq!(
        sink.types(),
        [
            "dev.releasegate.drill.start",
            "dev.releasegate.drill.promote"
        ]
    );
    assert!(
        event_reasons(&client, &ns.name, "ok")
            .await
            .contains(&"Promoted".to_string())
    );
}

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn flapping_does_not_roll_back_and_no_data_follows_the_policy() {
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "drill-flap").await;
    for name in ["flap", "quiet", "dark"] {
        ready_deployment(
            &client,
            &ns.name,
            name,
            1,
            "registry.example.com/team/web:1",
        )
        .await;
    }
    let controller = ControllerProcess::start(&ns.name);
    // breach, pass, breach, pass, pass, pass: never two breaches in a row.
    create_drill(
        &client,
        &ns.name,
        "flap",
        synthetic(
            json!({"metrics": {"synthetic": {"profile": ["Breach", "Pass", "Breach", "Pass"]}}, "window": "2s"}),
            "flap",
        ),
    )
    .await;
    // No data, paused: it waits, it neither promotes nor rolls back; after
    // `maxNoDataWindows` paused windows it stops waiting and removes its canary.
    create_drill(
        &client,
        &ns.name,
        "quiet",
        synthetic(
            json!({"metrics": {"synthetic": {"profile": ["NoData"]}}, "window": "2s", "maxNoDataWindows": 6}),
            "quiet",
        ),
    )
    .await;
    // No data, failing closed: a rollback.
    create_drill(
        &client,
        &ns.name,
        "dark",
        synthetic(
            json!({"metrics": {"synthetic": {"profile": ["NoData"]}}, "window": "2s", "noDataPolicy": "Breach"}),
            "dark",
        ),
    )
    .await;

    let flap = wait_phase(
        &client,
        &ns.name,
        "flap",
        DrillPhase::Promoted,
        Duration::from_secs(90),
        &controller,
    )
    .await;
    let st = flap.status.unwrap();
    let v: Vec<_> = st.windows.iter().map(|w| w.verdict).collect();
    use WindowVerdict::{Breach as B, Pass as P};
    assert_eq!(v, vec![B, P, B, P, P, P]);
    assert!(st.breach_time.is_none());
    assert!(decisions_of(&client, &ns.name, "flap").await.is_empty());
    assert!(
        !event_reasons(&client, &ns.name, "flap")
            .await
            .contains(&"RollbackStarted".to_string())
    );

    let dark = wait_phase(
        &client,
        &ns.name,
        "dark",
        DrillPhase::Restored,
        Duration::from_secs(60),
        &controller,
    )
    .await;
    let st = dark.status.unwrap();
    let canary: Vec<_> = st
        .windows
        .iter()
        .filter(|w| w.track == Track::Canary)
        .collect();
    assert_eq!(canary.len(), 2, "{st:#?}");
    assert!(
        canary
            .iter()
            .all(|w| w.verdict == WindowVerdict::NoData && w.counted_as == CountedAs::Breach)
    );
    assert!(st.breach_time.is_some() && st.rolled_back_time.is_some());
    assert_eq!(decisions_of(&client, &ns.name, "dark").await.len(), 1);

    let quiet = wait_phase(
        &client,
        &ns.name,
        "quiet",
        DrillPhase::Failed,
        Duration::from_secs(90),
        &controller,
    )
    .await;
    let st = quiet.status.unwrap();
    assert_eq!(st.windows.len(), 6, "{st:#?}");
    assert!(
        st.windows
            .iter()
            .all(|w| w.verdict == WindowVerdict::NoData && w.counted_as == CountedAs::Pause)
    );
    let why = st.reason.clone().unwrap_or_default();
    assert!(
        why.contains("6 consecutive windows had no data (spec.maxNoDataWindows 6)"),
        "{why}"
    );
    assert!(st.breach_time.is_none(), "no data is not a breach");
    assert!(decisions_of(&client, &ns.name, "quiet").await.is_empty());
    let canary = Api::<Deployment>::namespaced(client.clone(), &ns.name)
        .get_opt("quiet-canary")
        .await
        .unwrap();
    assert!(
        canary.is_none_or(|c| c.spec.and_then(|s| s.replicas) == Some(0)),
        "the canary is removed"
    );
    let paused = st.conditions.iter().find(|c| c.type_ == "Paused").unwrap();
    assert_eq!(paused.status, "True");
    assert!(
        paused.message.contains("noDataPolicy Pause"),
        "{}",
        paused.message
    );
    assert_eq!(st.last_window.as_deref(), Some("NoData(Pause)"));
}

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn one_drill_per_deployment_and_a_human_edit_stops_the_drill() {
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "drill-one").await;
    ready_deployment(
        &client,
        &ns.name,
        "web",
        2,
        "registry.example.com/team/web:1",
    )
    .await;
    let controller = ControllerProcess::start(&ns.name);
    let long =
        json!({"metrics": {"synthetic": {"outcome": "Pass"}}, "successWindows": 3, "window": "2s"});
    create_drill(&client, &ns.name, "first", synthetic(long.clone(), "web")).await;
    wait_phase(
        &client,
        &ns.name,
        "first",
        DrillPhase::Analyzing,
        Duration::from_secs(60),
        &controller,
    )
    .await;
    create_drill(&client, &ns.name, "second", synthetic(long, "web")).await;
    let queued = wait_until(Duration::from_secs(20), || {
        let client = client.clone();
        let ns = ns.name.clone();
        async move {
            let st = get_drill(&client, &ns, "second").await.status?;
            st.conditions
                .iter()
                .find(|c| c.type_ == "Queued" && c.status == "True")
                .cloned()
        }
    })
    .await
    .expect("the second drill is queued");
    assert!(
        queued.message.contains("CanaryDrill first"),
        "{}",
        queued.message
    );
    let first = wait_phase(
        &client,
        &ns.name,
        "first",
        DrillPhase::Promoted,
        Duration::from_secs(60),
        &controller,
    )
    .await;
    // The second starts only after the first finished: never interleaved.
    let second = wait_phase(
        &client,
        &ns.name,
        "second",
        DrillPhase::Analyzing,
        Duration::from_secs(60),
        &controller,
    )
    .await;
    let finished = first.status.unwrap().finished_time.unwrap();
    let started = second
        .status
        .as_ref()
        .unwrap()
        .started_time
        .clone()
        .unwrap();
    assert!(
        started.0 >= finished.0,
        "second started {started:?} before first finished {finished:?}"
    );
    // The second recorded the first's promoted revision as its stable one.
    assert_eq!(
        second.status.unwrap().stable_revision.unwrap().image,
        "registry.example.com/team/web:2"
    );

    // A human edits the target during the analysis: the drill stops, keeps the edit.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns.name);
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "registry.example.com/team/web:hotfix"}]}}}});
    deployments
        .patch("web", &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .unwrap();
    let d = wait_phase(
        &client,
        &ns.name,
        "second",
        DrillPhase::Failed,
        Duration::from_secs(30),
        &controller,
    )
    .await;
    let reason = d.status.unwrap().reason.unwrap();
    assert!(
        reason.contains("edited during the drill") && reason.contains("web:hotfix"),
        "{reason}"
    );
    let target = deployments.get("web").await.unwrap();
    assert_eq!(
        image_of(&target),
        "registry.example.com/team/web:hotfix",
        "the edit is kept"
    );
    assert!(decisions_of(&client, &ns.name, "second").await.is_empty());
    assert!(
        event_reasons(&client, &ns.name, "second")
            .await
            .contains(&"DrillFailed".to_string())
    );
}

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn sigkill_during_rolling_back_then_restart_rolls_back_exactly_once() {
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "drill-kill").await;
    let sink = Sink::start().await;
    // The stable pods need the node label `<label>=yes`, the canary's `<label>=canary`, and
    // the node carries the canary's: after the rollback the stable pods stay Pending, so the
    // drill sits in RollingBack until the test relabels the node.
    let label = format!("rg-e2e-{}", ns.name);
    kubectl(&["label", "node", "kwok-node-0", &format!("{label}=canary")]);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns.name);
    let dep: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"nodeSelector": {&label: "yes"},
                                       "containers": [{"name": "app", "image": "registry.example.com/team/web:1"}]}}}
    }))
    .unwrap();
    deployments.create(&Default::default(), &dep).await.unwrap();
    let mut controller = ControllerProcess::start(&ns.name);
    create_drill(
        &client,
        &ns.name,
        "kill",
        synthetic(
            json!({
                "metrics": {"synthetic": {"outcome": "Fail"}},
                "canary": {"image": "registry.example.com/team/web:2", "templatePatch": {"spec": {"nodeSelector": {&label: "canary"}}}},
                "eventSink": {"url": sink.url}
            }),
            "web",
        ),
    )
    .await;
    wait_phase(
        &client,
        &ns.name,
        "kill",
        DrillPhase::RollingBack,
        Duration::from_secs(60),
        &controller,
    )
    .await;
    // Let the rollback's effects run, then kill the controller without a chance to clean up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    controller.kill9().await;
    let st = get_drill(&client, &ns.name, "kill").await.status.unwrap();
    assert_eq!(st.phase, Some(DrillPhase::RollingBack), "{st:#?}");
    let first_log = controller.logs();

    let controller = ControllerProcess::start(&ns.name);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        get_drill(&client, &ns.name, "kill")
            .await
            .status
            .unwrap()
            .phase,
        Some(DrillPhase::RollingBack)
    );
    kubectl(&[
        "label",
        "node",
        "kwok-node-0",
        "--overwrite",
        &format!("{label}=yes"),
    ]);
    let d = wait_phase(
        &client,
        &ns.name,
        "kill",
        DrillPhase::Restored,
        Duration::from_secs(90),
        &controller,
    )
    .await;
    kubectl(&["label", "node", "kwok-node-0", &format!("{label}-")]);
    let st = d.status.unwrap();

    assert_eq!(
        decisions_of(&client, &ns.name, "kill").await.len(),
        1,
        "one Decision"
    );
    let reasons = event_reasons(&client, &ns.name, "kill").await;
    assert_eq!(
        reasons.iter().filter(|r| *r == "RollbackStarted").count(),
        1,
        "{reasons:?}"
    );
    let rollback_logs = format!("{first_log}{}", controller.logs())
        .matches("rolled the target back to the recorded stable revision")
        .count();
    assert_eq!(
        rollback_logs, 1,
        "the rollback ran once across both controllers"
    );
    let ok = wait_until(Duration::from_secs(15), || async {
        (sink.types().len() >= 5).then_some(())
    })
    .await;
    assert!(ok.is_some(), "{:?}", sink.types());
    let rollbacks = sink
        .types()
        .iter()
        .filter(|t| t.ends_with("rollback"))
        .count();
    assert_eq!(rollbacks, 1, "{:?}", sink.types());
    assert_eq!(st.runs.len(), 1);
    let target = deployments.get("web").await.unwrap();
    assert_eq!(image_of(&target), "registry.example.com/team/web:1");
}

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn a_scheduled_drill_runs_on_its_cron_and_records_each_outcome() {
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "drill-cron").await;
    ready_deployment(
        &client,
        &ns.name,
        "web",
        2,
        "registry.example.com/team/web:1",
    )
    .await;
    let controller = ControllerProcess::start(&ns.name);
    create_drill(
        &client,
        &ns.name,
        "weekly",
        synthetic(
            json!({"metrics": {"synthetic": {"outcome": "Fail"}}, "window": "1s", "schedule": "*/15 * * * * *"}),
            "web",
        ),
    )
    .await;
    let api: Api<release_gate::api::CanaryDrill> = Api::namespaced(client.clone(), &ns.name);
    let two_runs = wait_until(Duration::from_secs(75), || {
        let api = api.clone();
        async move {
            let st = api.get("weekly").await.ok()?.status?;
            (st.runs.len() >= 2).then_some(st)
        }
    })
    .await;
    let st = two_runs.unwrap_or_else(|| {
        panic!(
            "two runs not recorded; log:\n{}",
            tail(&controller.logs(), 60)
        )
    });
    for r in &st.runs[..2] {
        assert_eq!(r.outcome, DrillPhase::Restored, "{r:?}");
        let started = r.started_time.as_ref().unwrap().0;
        // Started on the schedule: within a few seconds after a multiple of 15 s.
        let into = started.as_second().rem_euclid(15);
        assert!(
            into <= 3,
            "run {} started {into}s after its cron time ({started})",
            r.run
        );
        assert!(r.mttr_seconds.is_some());
    }
    assert_eq!((st.runs[0].run, st.runs[1].run), (1, 2));
    assert_eq!(
        decisions_of(&client, &ns.name, "weekly").await.len(),
        2,
        "one Decision per run"
    );
    let target = Api::<Deployment>::namespaced(client.clone(), &ns.name)
        .get("web")
        .await
        .unwrap();
    assert_eq!(image_of(&target), "registry.example.com/team/web:1");
}
