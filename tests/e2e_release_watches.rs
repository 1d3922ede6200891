//! A change to what a TrustPolicy references re-judges the releases it covers, with no edit to
//! the TrustPolicy or the release: a key rotated in its Secret blocks a release signed by the
//! old key within seconds (the re-verify interval is an hour), and a trusted root ConfigMap
//! created after the fact is loaded. The real controller process, API server, registry and
//! cosign. Run with `make test`.

#![allow(clippy::duplicate_mod)]

mod evidence_support;
mod support;

use evidence_support::{Registry, fixture, generate_key, sign_and_attest};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use release_gate::api::TrustPolicy;
use serde_json::json;
use std::time::{Duration, Instant};
use support::{TestNamespace, apply_crds, client};

mod release_support;
use release_support::*;

/// How soon a change must show: a watch event and one verification (the interval is an hour).
const PROMPTLY: Duration = Duration::from_secs(20);

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn rotating_the_key_in_a_referenced_secret_blocks_the_release_promptly() {
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "hr-rotate").await;
    let reg = Registry::start();
    let key = generate_key(&reg, "ci");
    let next = generate_key(&reg, "next");
    let image = reg.push_image("team/app", "v1");
    sign_and_attest(&reg, &key, &image, "trivy-report.json");
    let secrets = Api::<Secret>::namespaced(client.clone(), &ns.name);
    let set_key = |pem: String| {
        let secrets = secrets.clone();
        async move {
            let s: Secret = serde_json::from_value(json!({
                "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ci-key"},
                "stringData": {"cosign.pub": pem}
            }))
            .unwrap();
            secrets
                .patch(
                    "ci-key",
                    &PatchParams::apply("e2e").force(),
                    &Patch::Apply(&s),
                )
                .await
                .unwrap();
        }
    };
    set_key(pem(&key)).await;
    let tp_name = format!("{}-team", ns.name);
    let _cleanup = TrustPolicies(vec![tp_name.clone()]);
    let tp: TrustPolicy = serde_json::from_value(json!({
        "apiVersion": "releasegate.dev/v1alpha1", "kind": "TrustPolicy",
        "metadata": {"name": tp_name},
        "spec": {
            "images": [format!("{}/team/*", reg.host)],
            "keys": [{"name": "ci", "secretRef": {"name": "ci-key", "key": "cosign.pub"}}],
        }
    }))
    .unwrap();
    Api::<TrustPolicy>::all(client.clone())
        .patch(
            &tp_name,
            &PatchParams::apply("e2e").force(),
            &Patch::Apply(&tp),
        )
        .await
        .unwrap();
    let _controller = start_controller(&ns.name, &reg.host, reg.dir.path());
    release(
        &client,
        &ns.name,
        "app",
        &image,
        json!({"reverifyInterval": "1h"}),
    )
    .await;
    wait_status(&client, &ns.name, "app", "Verified", verified).await;

    // Rotate: the Secret now holds the next key; the image is signed by the old one.
    let started = Instant::now();
    set_key(pem(&next)).await;
    let s = wait_status(&client, &ns.name, "app", "Blocked", blocked).await;
    let took = started.elapsed();
    eprintln!("key rotated in the Secret -> Blocked in {took:?}");
    assert!(took < PROMPTLY, "took {took:?}");
    assert!(
        is(&s, "SignatureVerified", "False", "SignatureUntrusted"),
        "{s:#?}"
    );
    // And back: the old key trusted again, the release Verified again.
    set_key(pem(&key)).await;
    wait_status(&client, &ns.name, "app", "Verified again", verified).await;
}

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn a_trusted_root_configmap_created_later_is_loaded_without_an_edit() {
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "hr-root").await;
    let reg = Registry::start();
    let tp_name = format!("{}-keyless", ns.name);
    let _cleanup = TrustPolicies(vec![tp_name.clone()]);
    let tp: TrustPolicy = serde_json::from_value(json!({
        "apiVersion": "releasegate.dev/v1alpha1", "kind": "TrustPolicy",
        "metadata": {"name": tp_name},
        "spec": {"images": [format!("{}/team/*", reg.host)],
                 "keyless": [{"trustedRoot": {"name": "sigstore-root", "key": "trusted_root.json"},
                              "identity": {"regex": "https://github\\.com/example/.*"},
                              "issuer": {"exact": "https://token.actions.githubusercontent.com"}}]}
    }))
    .unwrap();
    Api::<TrustPolicy>::all(client.clone())
        .patch(
            &tp_name,
            &PatchParams::apply("e2e").force(),
            &Patch::Apply(&tp),
        )
        .await
        .unwrap();
    let _controller = start_controller(&ns.name, &reg.host, reg.dir.path());
    let image = reg.push_image("team/app", "v1");
    release(
        &client,
        &ns.name,
        "app",
        &image,
        json!({"reverifyInterval": "1h"}),
    )
    .await;
    let s = wait_status(&client, &ns.name, "app", "Blocked", blocked).await;
    let msg = &cond(&s, "SignatureVerified").unwrap().message;
    assert!(
        msg.contains("not loaded") && msg.contains("sigstore-root"),
        "{msg}"
    );

    // Past the controller's start-up (its first bundle poll re-judges everything once).
    tokio::time::sleep(Duration::from_secs(10)).await;
    // The platform team creates the ConfigMap: the root loads, no edit to anything else.
    let root = std::fs::read_to_string(fixture("keyless/trusted_root.json")).unwrap();
    let cm: ConfigMap = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "sigstore-root"},
        "data": {"trusted_root.json": root}
    }))
    .unwrap();
    let started = Instant::now();
    Api::<ConfigMap>::namespaced(client.clone(), &ns.name)
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();
    let s = wait_status(&client, &ns.name, "app", "judged with the root", |s| {
        blocked(s)
            && cond(s, "SignatureVerified").is_some_and(|c| {
                c.message
                    .contains(&format!("judged by TrustPolicy {tp_name}"))
                    && !c.message.contains("not loaded")
            })
    })
    .await;
    let took = started.elapsed();
    eprintln!("trusted root ConfigMap created -> loaded in {took:?}");
    assert!(took < PROMPTLY, "took {took:?}; {s:#?}");
}

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn a_release_turning_blocked_names_the_pods_still_running_its_digest() {
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "hr-revoked").await;
    let reg = Registry::start();
    let key = generate_key(&reg, "ci");
    let image = reg.push_image("team/app", "v1");
    sign_and_attest(&reg, &key, &image, "trivy-report.json");
    let digest = image.rsplit_once('@').unwrap().1.to_owned();
    let tp_name = format!("{}-team", ns.name);
    let _cleanup = TrustPolicies(vec![tp_name.clone()]);
    let images = [format!("{}/team/*", reg.host)];
    trust_policy(&client, &tp_name, &images, &[("ci", pem(&key))]).await;
    let controller = start_controller(&ns.name, &reg.host, reg.dir.path());
    release(
        &client,
        &ns.name,
        "app",
        &image,
        json!({"reverifyInterval": "1h"}),
    )
    .await;
    wait_status(&client, &ns.name, "app", "Verified", verified).await;

    // A Pod running the digest (kwok runs it on its fake node), and one running something else.
    let pods = Api::<k8s_openapi::api::core::v1::Pod>::namespaced(client.clone(), &ns.name);
    for (name, img) in [
        ("runs-it", image.clone()),
        ("other", format!("{}/team/other:v1", reg.host)),
    ] {
        let pod = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "app", "image": img}]}
        }))
        .unwrap();
        pods.create(&PostParams::default(), &pod).await.unwrap();
    }

    // Trust withdrawn: the key leaves the TrustPolicy.
    let other = generate_key(&reg, "other");
    trust_policy(&client, &tp_name, &images, &[("other", pem(&other))]).await;
    wait_status(&client, &ns.name, "app", "Blocked", blocked).await;

    let series = format!(
        "releasegate_release_revoked_workloads{{namespace=\"{}\",name=\"app\"}} 1",
        ns.name
    );
    let events = Api::<k8s_openapi::api::events::v1::Event>::namespaced(client.clone(), &ns.name);
    let deadline = Instant::now() + PROMPTLY;
    let (mut metrics, mut note) = (String::new(), None);
    while Instant::now() < deadline {
        metrics = controller.metrics().await;
        note = events
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|e| e.reason.as_deref() == Some("RevokedReleaseStillRunning"))
            .and_then(|e| e.note);
        if note.is_some() && metrics.contains(&series) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let note = note.expect("a RevokedReleaseStillRunning Event on the release");
    assert!(
        note.contains(&format!("{}/runs-it", ns.name))
            && note.contains(&digest)
            && !note.contains("/other"),
        "{note}"
    );
    assert!(metrics.contains(&series), "{series} not in:\n{metrics}");

    // Trusted again: the series goes.
    trust_policy(&client, &tp_name, &images, &[("ci", pem(&key))]).await;
    wait_status(&client, &ns.name, "app", "Verified again", verified).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !controller
            .metrics()
            .await
            .contains("releasegate_release_revoked_workloads{"),
        "the series is dropped once the release is Ready"
    );
}
