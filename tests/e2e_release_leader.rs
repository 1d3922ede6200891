//! Leader election between two real `release-gate controller` processes sharing one Lease in
//! the real API server: only the holder reconciles while the other waits; when the leader is
//! killed (no release of the Lease) the other takes over once the Lease expires and reconciles;
//! an instance whose Lease is taken stops reconciling until it holds it again. Run with
//! `make test`.

#![allow(clippy::duplicate_mod)]

mod evidence_support;
mod support;

use evidence_support::{Registry, generate_key, sign_and_attest};
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;
use std::time::{Duration, Instant};
use support::{TestNamespace, apply_crds, client};

mod release_support;
use release_support::*;

/// Lease timing for the test: a dead leader's Lease expires after 6 s.
const LEASE: [&str; 4] = ["--lease-duration", "6", "--lease-grace", "2"];

fn leader_flags(identity: &str) -> Vec<&str> {
    let mut flags = vec!["--leader-elect", "--lease-identity", identity];
    flags.extend(LEASE);
    flags
}

async fn holder(leases: &Api<Lease>) -> Option<String> {
    leases
        .get_opt("release-gate-controller")
        .await
        .ok()
        .flatten()
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
}

async fn wait_holder(leases: &Api<Lease>, who: &str, within: Duration) -> Duration {
    let started = Instant::now();
    while started.elapsed() < within {
        if holder(leases).await.as_deref() == Some(who) {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "{who} does not hold the Lease within {within:?}; holder: {:?}",
        holder(leases).await
    );
}

/// Waits until `c` serves /metrics (it has started).
async fn wait_serving(c: &Controller) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", c.health_port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "the controller does not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether `c` says it reconciles (the leader gauge is 1).
async fn leading(c: &Controller) -> bool {
    c.metrics()
        .await
        .lines()
        .any(|l| l.trim() == "releasegate_controller_leader 1")
}

/// HardenedRelease reconciles `c` has run.
async fn reconciles(c: &Controller) -> u64 {
    c.metrics()
        .await
        .lines()
        .filter(|l| l.starts_with("releasegate_reconciles_total{") && l.contains("HardenedRelease"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn one_controller_holds_the_lease_and_the_other_takes_over_when_it_dies() {
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "hr-leader").await;
    let reg = Registry::start();
    let key = generate_key(&reg, "ci");
    let tp_name = format!("{}-team", ns.name);
    let _cleanup = TrustPolicies(vec![tp_name.clone()]);
    trust_policy(
        &client,
        &tp_name,
        &[format!("{}/team/*", reg.host)],
        &[("ci", pem(&key))],
    )
    .await;
    let images: Vec<String> = (1..=3)
        .map(|i| {
            let image = reg.push_image("team/app", &format!("v{i}"));
            sign_and_attest(&reg, &key, &image, "trivy-report.json");
            image
        })
        .collect();
    let leases = Api::<Lease>::namespaced(client.clone(), &ns.name);

    let a = start_controller_with(&ns.name, &reg.host, reg.dir.path(), &leader_flags("a"));
    wait_holder(&leases, "a", Duration::from_secs(30)).await;
    let b = start_controller_with(&ns.name, &reg.host, reg.dir.path(), &leader_flags("b"));
    wait_serving(&b).await;
    release(&client, &ns.name, "one", &images[0], json!({})).await;
    wait_status(&client, &ns.name, "one", "Verified", verified).await;
    // The second instance waits: it serves its metrics but reconciles nothing.
    assert!(leading(&a).await, "a holds the Lease and reconciles");
    assert!(!leading(&b).await, "b waits");
    assert_eq!(
        reconciles(&b).await,
        0,
        "b reconciled while a held the Lease"
    );
    assert!(reconciles(&a).await > 0);
    assert_eq!(holder(&leases).await.as_deref(), Some("a"));

    // The leader dies without releasing the Lease: b takes over when it expires.
    let killed = Instant::now();
    drop(a);
    let took = wait_holder(&leases, "b", Duration::from_secs(30)).await;
    eprintln!("leader killed -> b holds the Lease in {took:?}");
    release(&client, &ns.name, "two", &images[1], json!({})).await;
    wait_status(&client, &ns.name, "two", "Verified by b", verified).await;
    eprintln!(
        "leader killed -> a new release Verified in {:?}",
        killed.elapsed()
    );
    assert!(leading(&b).await);
    assert!(reconciles(&b).await > 0);

    // Someone else takes the Lease: b stops reconciling, and resumes when it holds it again.
    // MicroTime: microseconds, as the API server parses it.
    let now = k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    let taken = json!({"spec": {"holderIdentity": "someone-else", "leaseDurationSeconds": 8,
        "acquireTime": now, "renewTime": now}});
    leases
        .patch(
            "release-gate-controller",
            &PatchParams::default(),
            &Patch::Merge(&taken),
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while leading(&b).await {
        assert!(
            Instant::now() < deadline,
            "b still reconciles without the Lease"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = reconciles(&b).await;
    release(&client, &ns.name, "three", &images[2], json!({})).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let hr = Api::<release_gate::api::HardenedRelease>::namespaced(client.clone(), &ns.name)
        .get("three")
        .await
        .unwrap();
    if holder(&leases).await.as_deref() == Some("someone-else") {
        assert!(
            hr.status.is_none(),
            "judged without the Lease: {:?}",
            hr.status
        );
        assert_eq!(
            reconciles(&b).await,
            before,
            "b reconciled without the Lease"
        );
    }
    // The taken Lease is not renewed by anyone: b holds it again and judges the release.
    wait_holder(&leases, "b", Duration::from_secs(30)).await;
    wait_status(
        &client,
        &ns.name,
        "three",
        "Verified after b took the Lease back",
        verified,
    )
    .await;
}
