//! Benchmark (run by `e2e/bench/releases.sh`, skipped unless RELEASE_GATE_BENCH_RELEASES is set):
//! N HardenedReleases (default 1,000) over D signed and attested digests (default 10) in the
//! local registry; reports the time until every release has a verdict and the controller's peak
//! RSS. Distinct releases of one digest each cost a full verification (no cache by digest), so
//! this measures the controller's throughput; signing 1,000 distinct digests with the cosign CLI
//! would take longer than the run itself.

// Both support modules include tests/common/unique.rs; each gets its own copy, which is fine.
#![allow(clippy::duplicate_mod)]

mod evidence_support;
mod support;

mod release_support;
use release_support::*;

use evidence_support::{Registry, generate_key, sign_and_attest};
use kube::Api;
use kube::api::PostParams;
use release_gate::api::HardenedRelease;
use serde_json::json;
use std::time::{Duration, Instant};
use support::{TestNamespace, apply_crds, client};

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn many_releases_get_a_verdict() {
    let Some(n) = std::env::var("RELEASE_GATE_BENCH_RELEASES")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    else {
        eprintln!("skipped: set RELEASE_GATE_BENCH_RELEASES (e2e/bench/releases.sh)");
        return;
    };
    let digests: usize = std::env::var("RELEASE_GATE_BENCH_DIGESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "hr-bench").await;
    let reg = Registry::start();
    let key = generate_key(&reg, "ci");
    let images: Vec<String> = (0..digests)
        .map(|i| {
            let image = reg.push_image("team/app", &format!("v{i}"));
            sign_and_attest(&reg, &key, &image, "trivy-report.json");
            image
        })
        .collect();
    let tp_name = format!("{}-team", ns.name);
    let _cleanup = TrustPolicies(vec![tp_name.clone()]);
    trust_policy(
        &client,
        &tp_name,
        &[format!("{}/team/*", reg.host)],
        &[("ci", pem(&key))],
    )
    .await;
    let controller = start_controller(&ns.name, &reg.host, reg.dir.path());
    let api = Api::<HardenedRelease>::namespaced(client.clone(), &ns.name);
    let t0 = Instant::now();
    for i in 0..n {
        let hr: HardenedRelease = serde_json::from_value(json!({
            "apiVersion": "releasegate.dev/v1alpha1", "kind": "HardenedRelease",
            "metadata": {"name": format!("app-{i}")}, "spec": {"image": images[i % digests]}
        }))
        .unwrap();
        api.create(&PostParams::default(), &hr).await.unwrap();
    }
    let created = t0.elapsed();
    loop {
        let list = api.list(&Default::default()).await.unwrap();
        let done = list
            .items
            .iter()
            .filter(|r| r.status.as_ref().is_some_and(|s| verified(s) || blocked(s)))
            .count();
        if done == n {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(600),
            "{done}/{n} with a verdict after 600 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let all = t0.elapsed();
    let verified_count = api
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|r| r.status.as_ref().is_some_and(verified))
        .count();
    eprintln!(
        "{n} releases over {digests} digests: created in {} ms, all with a verdict {} ms after the first create ({verified_count} Verified); controller peak RSS {} MiB",
        created.as_millis(),
        all.as_millis(),
        controller.peak_rss_kib().unwrap_or(0) / 1024
    );
    let metrics = controller.metrics().await;
    let sum_count: Vec<&str> = metrics
        .lines()
        .filter(|l| {
            l.starts_with("releasegate_release_verification_duration_seconds_sum")
                || l.starts_with("releasegate_release_verification_duration_seconds_count")
                || l.starts_with("releasegate_reconciles_total{kind=\"HardenedRelease\"}")
                || l.starts_with("releasegate_policy_evaluations_total")
        })
        .collect();
    eprintln!("{}", sum_count.join("\n"));
    assert_eq!(verified_count, n);
}
