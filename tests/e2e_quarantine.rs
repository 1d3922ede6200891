//! Quarantine end to end: a CanaryDrill rolls back a canary whose image is a verified, Ready
//! release; the rollback Decision names the canary's digest and release; the release turns
//! Blocked with `Quarantined=True` and stays so until an Approval created after the rollback
//! names the drill. The real `release-gate controller` (release and drill controllers in one
//! process), the real registry and cosign, the pinned policy bundle; run with `make test`.

#![allow(clippy::duplicate_mod)]

mod evidence_support;
mod support;

mod e2e_drill_support;
mod release_support;

use e2e_drill_support::{create_drill, decisions_of, ready_deployment};
use evidence_support::{Registry, generate_key, sign_and_attest};
use kube::Api;
use kube::api::PostParams;
use release_gate::api::{CanaryDrill, Decision, DecisionType, DrillPhase};
use release_support::*;
use serde_json::json;
use std::time::Duration;
use support::{TestNamespace, apply_crds, client, wait_until};

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn a_rolled_back_canary_digest_is_quarantined_until_a_later_approval_clears_it() {
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "quarantine").await;
    let reg = Registry::start();
    let key = generate_key(&reg, "ci");
    let canary = reg.push_image("team/web", "v2");
    sign_and_attest(&reg, &key, &canary, "trivy-report.json");
    let digest = canary.rsplit_once('@').unwrap().1.to_owned();
    let tp = format!("{}-team", ns.name);
    let _cleanup = TrustPolicies(vec![tp.clone()]);
    trust_policy(
        &client,
        &tp,
        &[format!("{}/team/*", reg.host)],
        &[("ci", pem(&key))],
    )
    .await;
    let controller = start_controller(&ns.name, &reg.host, reg.dir.path());

    // The canary's build is a verified release before the drill.
    release(&client, &ns.name, "web-v2", &canary, json!({})).await;
    let s = wait_status(&client, &ns.name, "web-v2", "Verified", verified).await;
    assert!(is(&s, "Quarantined", "False", "NotQuarantined"), "{s:#?}");

    // The drill runs it as the canary and fails: rollback, then the stable revision recovers.
    ready_deployment(
        &client,
        &ns.name,
        "web",
        2,
        "registry.example.com/team/web:1",
    )
    .await;
    create_drill(
        &client,
        &ns.name,
        "fire",
        json!({
            "target": {"name": "web"},
            "canary": {"image": canary, "replicas": 1},
            "budget": {"maxErrorRate": 0.01, "maxLatencyMs": 300, "minRequests": 10},
            "window": "3s",
            "owner": "team-web",
            "residualRisk": "Low",
            "metrics": {"synthetic": {"outcome": "Fail"}}
        }),
    )
    .await;
    let drills: Api<CanaryDrill> = Api::namespaced(client.clone(), &ns.name);
    let restored = wait_until(Duration::from_secs(120), || {
        let drills = drills.clone();
        async move {
            let d = drills.get("fire").await.ok()?;
            (d.status?.phase == Some(DrillPhase::Restored)).then_some(())
        }
    })
    .await;
    assert!(
        restored.is_some(),
        "the drill did not restore; controller log:\n{}",
        std::fs::read_to_string(&controller.log).unwrap_or_default()
    );

    // The rollback Decision names the canary's digest and its release.
    let decisions = decisions_of(&client, &ns.name, "fire").await;
    assert_eq!(decisions.len(), 1, "{decisions:#?}");
    let rollback = &decisions[0];
    assert_eq!(rollback.spec.kind, DecisionType::Rollback);
    assert_eq!(rollback.spec.scope.digests, vec![digest.clone()]);
    assert_eq!(rollback.spec.scope.releases, vec!["web-v2".to_string()]);
    assert_eq!(rollback.spec.scope.drills, vec!["fire".to_string()]);

    // The release of that digest is quarantined: Blocked, with the condition and the way out.
    let s = wait_status(&client, &ns.name, "web-v2", "quarantined", |s| {
        blocked(s) && is(s, "Quarantined", "True", "RolledBackByDrill")
    })
    .await;
    let why = &cond(&s, "Quarantined").unwrap().message;
    assert!(
        why.contains("CanaryDrill fire rolled it back")
            && why.contains("an Approval Decision created after that rollback names it"),
        "{why}"
    );
    assert!(
        s.reasons.iter().any(|r| r.contains("is quarantined")),
        "{s:#?}"
    );

    // An Approval that does not name the drill does not clear it...
    let approvals: Api<Decision> = Api::namespaced(client.clone(), &ns.name);
    let approval = |name: &str, drills: &[&str]| -> Decision {
        serde_json::from_value(json!({
            "apiVersion": "releasegate.dev/v1alpha1", "kind": "Decision",
            "metadata": {"name": name},
            "spec": {
                "type": "Approval", "owner": "team-web", "residualRisk": "Low",
                "rationale": "the fix is in; the canary may run again",
                "scope": {"digests": [digest], "drills": drills},
                "expires": "2099-01-01T00:00:00Z"
            }
        }))
        .unwrap()
    };
    approvals
        .create(&PostParams::default(), &approval("unrelated", &[]))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let s = wait_status(&client, &ns.name, "web-v2", "still quarantined", |s| {
        is(s, "Quarantined", "True", "RolledBackByDrill")
    })
    .await;
    assert!(blocked(&s), "{s:#?}");

    // ...one that names it, created after the rollback, does.
    approvals
        .create(&PostParams::default(), &approval("clear-fire", &["fire"]))
        .await
        .unwrap();
    let s = wait_status(&client, &ns.name, "web-v2", "cleared", verified).await;
    assert!(is(&s, "Quarantined", "False", "NotQuarantined"), "{s:#?}");
}
