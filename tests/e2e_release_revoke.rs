//! Time to revoke: how long after a key is removed from a TrustPolicy the releases it signed turn
//! Blocked (issue goal: p95 under 30 s). 30 releases of a signed and attested image in the real
//! registry, judged by the real controller; the TrustPolicy is then changed to trust another key
//! only, and each release's flip is timed by polling the API server every 100 ms.

// Both support modules include tests/common/unique.rs; each gets its own copy, which is fine.
#![allow(clippy::duplicate_mod)]

mod evidence_support;
mod support;

mod release_support;
use release_support::*;

use evidence_support::{Registry, generate_key, sign_and_attest};
use kube::Api;
use release_gate::api::HardenedRelease;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use support::{TestNamespace, apply_crds, client};

const RELEASES: usize = 30;

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn removing_a_key_from_a_trust_policy_blocks_its_releases_within_30s_at_p95() {
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "hr-revoke").await;
    let reg = Registry::start();
    let key = generate_key(&reg, "ci");
    let other = generate_key(&reg, "other");
    let image = reg.push_image("team/app", "v1");
    sign_and_attest(&reg, &key, &image, "trivy-report.json");
    let tp_name = format!("{}-team", ns.name);
    let _cleanup = TrustPolicies(vec![tp_name.clone()]);
    let images = [format!("{}/team/*", reg.host)];
    trust_policy(&client, &tp_name, &images, &[("ci", pem(&key))]).await;
    let _controller = start_controller(&ns.name, &reg.host, reg.dir.path());
    for i in 0..RELEASES {
        release(&client, &ns.name, &format!("app-{i}"), &image, json!({})).await;
    }
    let api = Api::<HardenedRelease>::namespaced(client.clone(), &ns.name);
    let t = Instant::now();
    loop {
        let list = api.list(&Default::default()).await.unwrap();
        let ready = list
            .items
            .iter()
            .filter(|r| r.status.as_ref().is_some_and(verified))
            .count();
        if ready == RELEASES {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "{ready}/{RELEASES} Verified after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "{RELEASES} releases Verified in {} ms",
        t.elapsed().as_millis()
    );

    let t0 = Instant::now();
    trust_policy(&client, &tp_name, &images, &[("other", pem(&other))]).await;
    let mut flipped: BTreeMap<String, Duration> = BTreeMap::new();
    while flipped.len() < RELEASES {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "{} of {RELEASES} Blocked after 120 s",
            flipped.len()
        );
        for r in api.list(&Default::default()).await.unwrap().items {
            if r.status.as_ref().is_some_and(blocked) {
                flipped
                    .entry(r.metadata.name.clone().unwrap())
                    .or_insert_with(|| t0.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut times: Vec<Duration> = flipped.into_values().collect();
    times.sort();
    let p = |q: f64| times[((times.len() as f64 * q).ceil() as usize).saturating_sub(1)];
    eprintln!(
        "time to revoke ({RELEASES} releases): p50 {} ms, p95 {} ms, max {} ms",
        p(0.5).as_millis(),
        p(0.95).as_millis(),
        times.last().unwrap().as_millis()
    );
    assert!(p(0.95) < Duration::from_secs(30), "p95 {:?}", p(0.95));
}
