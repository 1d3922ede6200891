//! CanaryDrill end to end: a person aborts a running drill through its
//! `releasegate.dev/action` annotation; the rollback and its Decision follow as for a breach,
//! and the annotation is removed when the run ends. A drill deleted mid-run gives the target
//! its replicas back and releases it.
//!
//! Ignored by a plain `cargo test`; `make test` runs them with KUBECONFIG set.

mod e2e_drill_support;

use e2e_drill_support::*;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::{Patch, PatchParams};
use release_gate::api::{CanaryDrill, DrillPhase, Track};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn a_manual_abort_rolls_back_once_and_records_who_decided() {
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "drill-abort").await;
    let before = ready_deployment(
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
        "manual",
        json!({
            "target": {"name": "web"},
            "canary": {"image": "registry.example.com/team/web:2"},
            "budget": {"maxErrorRate": 0.01},
            "window": "2s",
            "successWindows": 50,
            "owner": "sre-oncall",
            "metrics": {"synthetic": {"outcome": "Pass"}}
        }),
    )
    .await;
    wait_phase(
        &client,
        &ns.name,
        "manual",
        DrillPhase::Analyzing,
        Duration::from_secs(60),
        &controller,
    )
    .await;
    let drills: Api<CanaryDrill> = Api::namespaced(client.clone(), &ns.name);
    let patch = json!({"metadata": {"annotations": {"releasegate.dev/action": "abort"}}});
    drills
        .patch("manual", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();

    let d = wait_phase(
        &client,
        &ns.name,
        "manual",
        DrillPhase::Restored,
        Duration::from_secs(60),
        &controller,
    )
    .await;
    let st = d.status.clone().unwrap();
    assert!(
        st.windows.iter().all(
            |w| w.track == Track::Stable || w.verdict == release_gate::api::WindowVerdict::Pass
        )
    );
    let decisions = decisions_of(&client, &ns.name, "manual").await;
    assert_eq!(decisions.len(), 1);
    assert!(
        decisions[0].spec.rationale.contains("aborted by hand"),
        "{}",
        decisions[0].spec.rationale
    );
    assert_eq!(decisions[0].spec.owner, "sre-oncall");
    let target = Api::<Deployment>::namespaced(client.clone(), &ns.name)
        .get("web")
        .await
        .unwrap();
    assert_eq!(target.spec.unwrap().template, before.spec.unwrap().template);
    let gone = wait_until(Duration::from_secs(10), || {
        let drills = drills.clone();
        async move {
            let d = drills.get("manual").await.ok()?;
            (!d.metadata
                .annotations
                .unwrap_or_default()
                .contains_key("releasegate.dev/action"))
            .then_some(())
        }
    })
    .await;
    assert!(
        gone.is_some(),
        "the action annotation is removed when the run ends"
    );
}

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn a_drill_deleted_mid_run_gives_the_target_back_its_replicas_and_releases_it() {
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "drill-delete").await;
    ready_deployment(
        &client,
        &ns.name,
        "web",
        3,
        "registry.example.com/team/web:1",
    )
    .await;
    let controller = ControllerProcess::start(&ns.name);
    create_drill(
        &client,
        &ns.name,
        "gone",
        json!({
            "target": {"name": "web"},
            "canary": {"image": "registry.example.com/team/web:2", "replicas": 2},
            "budget": {"maxErrorRate": 0.01},
            "window": "2s",
            "successWindows": 50,
            "owner": "sre-oncall",
            "metrics": {"synthetic": {"outcome": "Pass"}}
        }),
    )
    .await;
    wait_phase(
        &client,
        &ns.name,
        "gone",
        DrillPhase::Analyzing,
        Duration::from_secs(60),
        &controller,
    )
    .await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns.name);
    let during = deployments.get("web").await.unwrap();
    assert_eq!(
        during.spec.as_ref().unwrap().replicas,
        Some(1),
        "3 - 2 canary replicas"
    );
    let drills: Api<CanaryDrill> = Api::namespaced(client.clone(), &ns.name);
    drills.delete("gone", &Default::default()).await.unwrap();
    let deleted = wait_until(Duration::from_secs(30), || {
        let drills = drills.clone();
        async move { drills.get_opt("gone").await.ok()?.is_none().then_some(()) }
    })
    .await;
    assert!(
        deleted.is_some(),
        "the drill went away; log:\n{}",
        tail(&controller.logs(), 30)
    );
    let target = wait_ready(&client, &ns.name, "web", 3).await;
    assert_eq!(target.spec.as_ref().unwrap().replicas, Some(3));
    assert!(
        !target
            .metadata
            .annotations
            .unwrap_or_default()
            .contains_key("releasegate.dev/canary-drill"),
        "the claim is released"
    );
    let canary_gone = wait_until(Duration::from_secs(30), || {
        let deployments = deployments.clone();
        async move {
            deployments
                .get_opt("web-canary")
                .await
                .ok()?
                .is_none()
                .then_some(())
        }
    })
    .await;
    assert!(
        canary_gone.is_some(),
        "the canary Deployment is garbage-collected with its drill"
    );
}
