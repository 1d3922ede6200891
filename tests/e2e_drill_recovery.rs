//! CanaryDrill end to end: a rollback that does not restore. The stable revision keeps
//! breaching the budget after the rollback, so the drill is not `Restored`: it says so with a
//! condition, an Event and a metric, and still rolled back exactly once.
//!
//! Ignored by a plain `cargo test`; `make test` runs them with KUBECONFIG set.

mod e2e_drill_support;

use e2e_drill_support::*;
use release_gate::api::{DrillPhase, Track, WindowVerdict};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn a_stable_revision_that_keeps_breaching_is_reported_not_recovered() {
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "drill-norecover").await;
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
        "sick",
        json!({
            "target": {"name": "web"},
            "canary": {"image": "registry.example.com/team/web:2"},
            "budget": {"maxErrorRate": 0.01, "maxLatencyMs": 200},
            "window": "2s",
            "owner": "team-web",
            "metrics": {"synthetic": {"outcome": "Fail", "stable": "Breach"}}
        }),
    )
    .await;
    let d = wait_phase(
        &client,
        &ns.name,
        "sick",
        DrillPhase::Failed,
        Duration::from_secs(60),
        &controller,
    )
    .await;
    let st = d.status.unwrap();
    let reason = st.reason.clone().unwrap();
    assert!(reason.contains("did not recover"), "{reason}");
    assert!(st.restored_time.is_none() && st.mttr.is_none());
    let stable: Vec<_> = st
        .windows
        .iter()
        .filter(|w| w.track == Track::Stable)
        .collect();
    assert_eq!(stable.len(), 2, "{st:#?}");
    assert!(stable.iter().all(|w| w.verdict == WindowVerdict::Breach));
    let rec = st
        .conditions
        .iter()
        .find(|c| c.type_ == "Recovered")
        .unwrap();
    assert_eq!(
        (rec.status.as_str(), rec.reason.as_str()),
        ("False", "StableBreached")
    );
    let reasons = event_reasons(&client, &ns.name, "sick").await;
    assert!(
        reasons.contains(&"RecoveryFailed".to_string()),
        "{reasons:?}"
    );
    assert!(reasons.contains(&"DrillFailed".to_string()), "{reasons:?}");
    assert_eq!(
        reasons.iter().filter(|r| *r == "RollbackStarted").count(),
        1
    );
    assert_eq!(decisions_of(&client, &ns.name, "sick").await.len(), 1);
    let m = controller.metrics().await;
    assert!(
        metric(
            &m,
            "releasegate_drill_outcomes_total{outcome=\"NotRecovered\"}"
        ) >= Some(1.0),
        "{m}"
    );
}
