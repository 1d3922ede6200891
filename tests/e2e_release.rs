//! End-to-end proof of the HardenedRelease controller: the real `release-gate controller`
//! process against the local control plane, a real registry (`docker-registry`) holding images
//! signed and attested by the real `cosign`, TrustPolicies and Decisions applied through the API
//! server, and the pinned policy bundle of `policies/` as the judge. Run with `make test`.

// Both support modules include tests/common/unique.rs; each gets its own copy, which is fine.
#![allow(clippy::duplicate_mod)]

mod evidence_support;
mod support;

use evidence_support::{
    Registry, attest, cosign_vuln_predicate, fixture, generate_key, sign, sign_and_attest,
};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use release_gate::api::{HardenedRelease, TrustPolicy};
use serde_json::json;
use std::time::{Duration, Instant};
use support::{TestNamespace, apply_crds, client, kubectl};

mod release_support;
use release_support::*;

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn a_signed_attested_release_is_verified_with_its_disclosure_pack_and_revoking_its_key_blocks_it()
 {
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "hr-good").await;
    let reg = Registry::start();
    let key = generate_key(&reg, "ci");
    let other = generate_key(&reg, "other");
    let image = reg.push_image("team/app", "v1");
    sign_and_attest(&reg, &key, &image, "trivy-report.json");
    let digest = image.rsplit_once('@').unwrap().1.to_owned();

    // The key comes from a Secret in the operator's namespace.
    let secret: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ci-key"},
        "stringData": {"cosign.pub": pem(&key)}
    }))
    .unwrap();
    Api::<Secret>::namespaced(client.clone(), &ns.name)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let tp_name = format!("{}-team", ns.name);
    let _cleanup = TrustPolicies(vec![tp_name.clone()]);
    let tp: TrustPolicy = serde_json::from_value(json!({
        "apiVersion": "releasegate.dev/v1alpha1", "kind": "TrustPolicy",
        "metadata": {"name": tp_name},
        "spec": {
            "images": [format!("{}/team/*", reg.host)],
            "keys": [{"name": "ci", "secretRef": {"name": "ci-key", "key": "cosign.pub"}}],
            "provenance": {"builder": "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.9.0"},
        }
    }))
    .unwrap();
    let tps = Api::<TrustPolicy>::all(client.clone());
    tps.patch(
        &tp_name,
        &PatchParams::apply("e2e").force(),
        &Patch::Apply(&tp),
    )
    .await
    .unwrap();
    let controller = start_controller(&ns.name, &reg.host, reg.dir.path());

    // By tag: resolved once and bound.
    release(
        &client,
        &ns.name,
        "app",
        &format!("{}/team/app:v1", reg.host),
        json!({}),
    )
    .await;
    let s = wait_status(&client, &ns.name, "app", "Verified", verified).await;
    assert_eq!(s.verified_digest.as_deref(), Some(digest.as_str()));
    for t in [
        "SignatureVerified",
        "SBOMAttested",
        "ProvenanceAttested",
        "VulnerabilitiesWithinBudget",
        "PolicyApproved",
    ] {
        assert!(
            cond(&s, t).is_some_and(|c| c.status == "True"),
            "{t}: {s:#?}"
        );
    }
    assert!(s.reasons.is_empty() && s.overrides.is_empty(), "{s:#?}");
    assert_eq!(
        s.policy_bundle_digest.as_deref(),
        Some(policy_digest().as_str())
    );
    assert_eq!(s.policy_version.as_deref(), Some("1.3.1"));
    assert!(s.last_verified_time.is_some());
    let ev = s.evidence.as_ref().expect("evidence summary");
    assert_eq!(ev.sbom_components, Some(64));

    // The Disclosure Pack matches the attestations.
    let pack_ref = s.disclosure_pack_ref.clone().expect("a pack reference");
    assert_eq!(pack_ref, "configmap/app-disclosure-pack");
    let cm = Api::<ConfigMap>::namespaced(client.clone(), &ns.name)
        .get("app-disclosure-pack")
        .await
        .unwrap();
    let owner = &cm.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("HardenedRelease", "app")
    );
    let data = cm.data.unwrap();
    let md = &data["disclosure-pack.md"];
    let pack: serde_json::Value = serde_json::from_str(&data["disclosure-pack.json"]).unwrap();
    assert_eq!(pack["release"]["digest"], digest.as_str());
    assert_eq!(pack["sbom"]["components"], 64);
    assert_eq!(
        pack["sbom"]["digest"],
        ev.sbom_digest.clone().unwrap().as_str()
    );
    assert_eq!(
        pack["provenance"]["commit"],
        "5b5c7b9ea8d1b6e4e3c6ea2c77b1f9cdd34b3a50"
    );
    // The fixture lists two medium advisories in two packages each: counted once per ID.
    assert_eq!(pack["vulnerabilities"]["counts"]["medium"], 2);
    assert_eq!(pack["policy"]["digest"], policy_digest().as_str());
    for want in [
        digest.as_str(),
        "Components: 64",
        "slsa-github-generator",
        "5b5c7b9ea8d1b6e4e3c6ea2c77b1f9cdd34b3a50",
        "Criticals: **0**",
        "blocked if criticals > 0 unless approved by a Decision",
        "Version: 1.3.1",
        "key ",
    ] {
        assert!(md.contains(want), "pack markdown lacks {want:?}:\n{md}");
    }
    // Metrics: the verification, its attestations, its criticals.
    let metrics = controller.metrics().await;
    for want in [
        "releasegate_release_verifications_total{result=\"verified\"}",
        "releasegate_release_attestations_total{kind=\"sbom\",result=\"verified\"}",
        "releasegate_release_verification_duration_seconds_count",
        &format!(
            "releasegate_release_critical_vulnerabilities{{namespace=\"{}\",name=\"app\"}} 0",
            ns.name
        ),
    ] {
        assert!(metrics.contains(want), "{want} missing from\n{metrics}");
    }
    // kubectl shows it, and an Event says so.
    let table = kubectl(&["get", "hr", "-n", &ns.name, "-o", "wide"]);
    assert!(
        table.contains("Verified") && table.contains(&digest),
        "{table}"
    );
    let events = kubectl(&[
        "get",
        "events.events.k8s.io",
        "-n",
        &ns.name,
        "-o",
        "jsonpath={range .items[*]}{.reason} {.regarding.name}{\"\\n\"}{end}",
    ]);
    assert!(events.lines().any(|l| l == "Verified app"), "{events}");

    // A pack left behind (its release's status write failed after it, or an object in the way)
    // is written over: the release is judged as usual, and the pack names it and is owned by it.
    let cms = Api::<ConfigMap>::namespaced(client.clone(), &ns.name);
    let stale: ConfigMap = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "again-disclosure-pack"},
        "data": {"disclosure-pack.md": "stale", "disclosure-pack.json": "{}"}
    }))
    .unwrap();
    cms.create(&PostParams::default(), &stale).await.unwrap();
    release(
        &client,
        &ns.name,
        "again",
        &format!("{}/team/app@{digest}", reg.host),
        json!({}),
    )
    .await;
    let s = wait_status(&client, &ns.name, "again", "Verified", verified).await;
    assert_eq!(
        s.disclosure_pack_ref.as_deref(),
        Some("configmap/again-disclosure-pack")
    );
    let cm = cms.get("again-disclosure-pack").await.unwrap();
    let owner = &cm.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("HardenedRelease", "again")
    );
    let data = cm.data.unwrap();
    assert!(
        data["disclosure-pack.md"].contains(digest.as_str()),
        "{data:?}"
    );
    let pack: serde_json::Value = serde_json::from_str(&data["disclosure-pack.json"]).unwrap();
    assert_eq!(pack["release"]["digest"], digest.as_str());

    // The tag moves: the release stays bound to its digest and says so.
    let moved = reg.push_image("team/app", "v1");
    let moved_digest = moved.rsplit_once('@').unwrap().1.to_owned();
    Api::<HardenedRelease>::namespaced(client.clone(), &ns.name)
        .patch(
            "app",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"reverifyInterval": "2s"}})),
        )
        .await
        .unwrap();
    let s = wait_status(&client, &ns.name, "app", "TagMoved", |s| {
        cond(s, "TagMoved").is_some()
    })
    .await;
    assert!(verified(&s), "{s:#?}");
    assert_eq!(s.verified_digest.as_deref(), Some(digest.as_str()));
    assert!(
        cond(&s, "TagMoved")
            .unwrap()
            .message
            .contains(&moved_digest),
        "{s:#?}"
    );

    // Time to revoke: the TrustPolicy drops the key (it now trusts another one).
    let t0 = Instant::now();
    trust_policy(
        &client,
        &tp_name,
        &[format!("{}/team/*", reg.host)],
        &[("other", pem(&other))],
    )
    .await;
    let s = wait_status(
        &client,
        &ns.name,
        "app",
        "Blocked after revocation",
        blocked,
    )
    .await;
    let took = t0.elapsed();
    eprintln!(
        "time from removing the key from the TrustPolicy to Blocked: {} ms",
        took.as_millis()
    );
    assert!(
        is(&s, "SignatureVerified", "False", "SignatureUntrusted"),
        "{s:#?}"
    );
    assert!(took < Duration::from_secs(30), "revocation took {took:?}");
    let events = kubectl(&[
        "get",
        "events.events.k8s.io",
        "-n",
        &ns.name,
        "-o",
        "jsonpath={range .items[*]}{.reason} {.regarding.name}{\"\\n\"}{end}",
    ]);
    assert!(events.lines().any(|l| l == "Blocked app"), "{events}");
}

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn unsigned_uncovered_and_untrusted_releases_are_blocked_with_the_reason() {
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "hr-block").await;
    let reg = Registry::start();
    let trusted = generate_key(&reg, "trusted");
    let stranger = generate_key(&reg, "stranger");
    let tp_name = format!("{}-team", ns.name);
    let _cleanup = TrustPolicies(vec![tp_name.clone()]);
    trust_policy(
        &client,
        &tp_name,
        &[format!("{}/team/*", reg.host)],
        &[("trusted", pem(&trusted))],
    )
    .await;
    let _controller = start_controller(&ns.name, &reg.host, reg.dir.path());

    let unsigned = reg.push_image("team/unsigned", "v1");
    release(&client, &ns.name, "unsigned", &unsigned, json!({})).await;
    // Signed and fully attested, but by a key no TrustPolicy lists.
    let untrusted = reg.push_image("team/untrusted", "v1");
    sign_and_attest(&reg, &stranger, &untrusted, "trivy-report.json");
    release(&client, &ns.name, "untrusted", &untrusted, json!({})).await;
    // Signed by the trusted key, but in a repository no TrustPolicy covers.
    let elsewhere = reg.push_image("elsewhere/app", "v1");
    sign_and_attest(&reg, &trusted, &elsewhere, "trivy-report.json");
    release(&client, &ns.name, "uncovered", &elsewhere, json!({})).await;

    let s = wait_status(&client, &ns.name, "unsigned", "Blocked", blocked).await;
    assert!(is(&s, "SignatureVerified", "False", "Unsigned"), "{s:#?}");
    assert!(
        cond(&s, "SignatureVerified")
            .unwrap()
            .message
            .contains("sign the image"),
        "{s:#?}"
    );
    assert!(
        s.reasons
            .iter()
            .any(|r| r.contains("no verified cosign signature")),
        "{s:#?}"
    );

    let s = wait_status(&client, &ns.name, "untrusted", "Blocked", blocked).await;
    assert!(
        is(&s, "SignatureVerified", "False", "SignatureUntrusted"),
        "{s:#?}"
    );
    // Its attestations, signed by the same stranger, do not count either.
    assert!(
        is(&s, "SBOMAttested", "False", "AttestationInvalid"),
        "{s:#?}"
    );

    let s = wait_status(&client, &ns.name, "uncovered", "Blocked", blocked).await;
    let want = format!("no TrustPolicy covers {}/elsewhere/app", reg.host);
    assert!(s.reasons.iter().any(|r| r.contains(&want)), "{s:#?}");
    assert!(is(&s, "Ready", "False", "NoTrustPolicy"), "{s:#?}");

    // A TrustPolicy that allows reports at most a day old, and a report scanned three days ago.
    let aged_tp = format!("{}-aged", ns.name);
    let _cleanup_aged = TrustPolicies(vec![aged_tp.clone()]);
    let tp: TrustPolicy = serde_json::from_value(json!({
        "apiVersion": "releasegate.dev/v1alpha1", "kind": "TrustPolicy",
        "metadata": {"name": aged_tp},
        "spec": {"images": [format!("{}/aged/*", reg.host)], "maxVulnerabilityReportAge": "1d",
                 "keys": [{"name": "trusted", "pem": pem(&trusted)}]}
    }))
    .unwrap();
    Api::<TrustPolicy>::all(client.clone())
        .patch(
            &aged_tp,
            &PatchParams::apply("e2e").force(),
            &Patch::Apply(&tp),
        )
        .await
        .unwrap();
    let aged = reg.push_image("aged/app", "v1");
    evidence_support::sign(&reg, &trusted, &aged);
    evidence_support::attest(
        &reg,
        &trusted,
        &aged,
        "cyclonedx",
        &evidence_support::fixture("sbom.cdx.json"),
    );
    evidence_support::attest(
        &reg,
        &trusted,
        &aged,
        "slsaprovenance",
        &evidence_support::fixture("slsa-provenance-v02.json"),
    );
    let three_days_ago = k8s_openapi::jiff::Timestamp::now()
        .checked_sub(k8s_openapi::jiff::SignedDuration::from_hours(72))
        .unwrap();
    let old_report =
        evidence_support::cosign_vuln_predicate_at(&reg, "trivy-report.json", three_days_ago);
    evidence_support::attest(&reg, &trusted, &aged, "vuln", &old_report);
    release(&client, &ns.name, "aged", &aged, json!({})).await;
    let s = wait_status(&client, &ns.name, "aged", "Blocked", blocked).await;
    assert!(is(&s, "SignatureVerified", "True", "Verified"), "{s:#?}");
    assert!(
        is(&s, "VulnerabilitiesWithinBudget", "False", "ReportStale"),
        "{s:#?}"
    );
    assert!(
        s.reasons
            .iter()
            .any(|r| r.contains("older than the trust policy's maximum age")),
        "{s:#?}"
    );

    // An invalid spec fails and waits for a change.
    release(
        &client,
        &ns.name,
        "bad",
        "registry.example.com/team/app:bad tag!",
        json!({}),
    )
    .await;
    let s = wait_status(&client, &ns.name, "bad", "Failed", |s| {
        s.phase == Some(release_gate::api::ReleasePhase::Failed)
    })
    .await;
    assert!(s.reasons[0].contains("spec.image"), "{s:#?}");
}

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn criticals_block_until_an_override_decision_accepts_them_and_block_again_when_it_expires() {
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "hr-crit").await;
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
    let image = reg.push_image("team/crit", "v1");
    sign_and_attest(&reg, &key, &image, "trivy-report-critical.json");
    let _controller = start_controller(&ns.name, &reg.host, reg.dir.path());
    release(&client, &ns.name, "crit", &image, json!({})).await;

    let s = wait_status(&client, &ns.name, "crit", "Blocked", blocked).await;
    assert!(
        is(
            &s,
            "VulnerabilitiesWithinBudget",
            "False",
            "CriticalVulnerabilities"
        ),
        "{s:#?}"
    );
    assert!(
        cond(&s, "VulnerabilitiesWithinBudget")
            .unwrap()
            .message
            .contains("CVE-2019-14697"),
        "{s:#?}"
    );
    assert!(
        s.reasons
            .iter()
            .any(|r| r.contains("1 critical vulnerabilities (CVE-2019-14697)")),
        "{s:#?}"
    );

    // An override naming the CVE and the release, expiring soon.
    let expires =
        k8s_openapi::jiff::Timestamp::now() + k8s_openapi::jiff::SignedDuration::from_secs(25);
    let dec = json!({
        "apiVersion": "releasegate.dev/v1alpha1", "kind": "Decision",
        "metadata": {"name": "accept-musl"},
        "spec": {"type": "Override", "owner": "team-payments", "rationale": "not reachable",
            "residualRisk": "Medium", "expires": expires.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "scope": {"releases": ["crit"], "vulnerabilities": ["CVE-2019-14697"]}}
    });
    let decisions = Api::<release_gate::api::Decision>::namespaced(client.clone(), &ns.name);
    decisions
        .create(
            &PostParams::default(),
            &serde_json::from_value(dec).unwrap(),
        )
        .await
        .unwrap();
    let s = wait_status(
        &client,
        &ns.name,
        "crit",
        "Verified under the override",
        verified,
    )
    .await;
    assert_eq!(s.overrides, ["accept-musl"], "{s:#?}");
    assert!(
        is(
            &s,
            "VulnerabilitiesWithinBudget",
            "True",
            "AcceptedByOverride"
        ),
        "{s:#?}"
    );
    let cm = Api::<ConfigMap>::namespaced(client.clone(), &ns.name)
        .get("crit-disclosure-pack")
        .await
        .unwrap();
    let md = &cm.data.unwrap()["disclosure-pack.md"];
    assert!(
        md.contains("Decision **accept-musl**") && md.contains("CVE-2019-14697"),
        "{md}"
    );

    // It expires: Blocked again, with no edit to the release.
    let s = wait_status(
        &client,
        &ns.name,
        "crit",
        "Blocked after the expiry",
        blocked,
    )
    .await;
    assert!(s.overrides.is_empty(), "{s:#?}");
    assert!(s.reasons.iter().any(|r| r.contains("expired")), "{s:#?}");
    assert_eq!(
        Api::<HardenedRelease>::namespaced(client.clone(), &ns.name)
            .get("crit")
            .await
            .unwrap()
            .metadata
            .generation,
        Some(1)
    );
}
#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn a_registry_outage_keeps_the_verdict_with_a_stale_condition_and_verification_resumes() {
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "hr-stale").await;
    let reg = Registry::start();
    let key = generate_key(&reg, "ci");
    let image = reg.push_image("team/app", "v1");
    sign(&reg, &key, &image);
    attest(&reg, &key, &image, "cyclonedx", &fixture("sbom.cdx.json"));
    attest(
        &reg,
        &key,
        &image,
        "slsaprovenance",
        &fixture("slsa-provenance-v02.json"),
    );
    attest(
        &reg,
        &key,
        &image,
        "vuln",
        &cosign_vuln_predicate(&reg, "trivy-report.json"),
    );
    let mut proxy = Proxy::start(&reg.host).await;
    let tp_name = format!("{}-team", ns.name);
    let _cleanup = TrustPolicies(vec![tp_name.clone()]);
    trust_policy(
        &client,
        &tp_name,
        &[format!("{}/team/*", proxy.host)],
        &[("ci", pem(&key))],
    )
    .await;
    let _controller = start_controller(&ns.name, &proxy.host, reg.dir.path());
    let via_proxy = image.replacen(&reg.host, &proxy.host, 1);
    release(
        &client,
        &ns.name,
        "app",
        &via_proxy,
        json!({"reverifyInterval": "2s"}),
    )
    .await;
    wait_status(&client, &ns.name, "app", "Verified", verified).await;

    proxy.stop().await;
    let s = wait_status(&client, &ns.name, "app", "Stale", |s| {
        cond(s, "Stale").is_some()
    })
    .await;
    assert!(verified(&s), "a registry outage must not unverify: {s:#?}");
    assert!(is(&s, "Stale", "True", "RegistryUnavailable"), "{s:#?}");
    assert!(
        cond(&s, "Stale").unwrap().message.contains(&proxy.host),
        "{s:#?}"
    );
    // Still Verified a few re-verifications later.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let s = wait_status(&client, &ns.name, "app", "still Stale", |s| {
        cond(s, "Stale").is_some()
    })
    .await;
    assert!(verified(&s), "{s:#?}");

    proxy.resume().await;
    let s = wait_status(&client, &ns.name, "app", "re-verified", |s| {
        cond(s, "Stale").is_none()
    })
    .await;
    assert!(verified(&s), "{s:#?}");
}

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn a_tenant_service_account_cannot_create_or_change_a_trust_policy() {
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "hr-rbac").await;
    // The tenant may do anything in its namespace, releasegate.dev objects included.
    kubectl(&["create", "serviceaccount", "tenant", "-n", &ns.name]);
    kubectl(&[
        "create",
        "rolebinding",
        "tenant-admin",
        "-n",
        &ns.name,
        "--clusterrole=admin",
        &format!("--serviceaccount={}:tenant", ns.name),
    ]);
    let role = format!("{}-releasegate-edit", ns.name);
    kubectl(&[
        "create",
        "role",
        &role,
        "-n",
        &ns.name,
        "--verb=*",
        "--resource=hardenedreleases.releasegate.dev,decisions.releasegate.dev,trustpolicies.releasegate.dev",
    ]);
    kubectl(&[
        "create",
        "rolebinding",
        &role,
        "-n",
        &ns.name,
        &format!("--role={role}"),
        &format!("--serviceaccount={}:tenant", ns.name),
    ]);
    let tenant = format!("system:serviceaccount:{}:tenant", ns.name);
    let mut config = kube::Config::infer().await.unwrap();
    config.auth_info.impersonate = Some(tenant.clone());
    let as_tenant = Client::try_from(config).unwrap();

    // The tenant can create releases in its namespace (the role works)...
    let hr: HardenedRelease = serde_json::from_value(json!({
        "apiVersion": "releasegate.dev/v1alpha1", "kind": "HardenedRelease",
        "metadata": {"name": "mine"}, "spec": {"image": "registry.example.com/team/app:1"}
    }))
    .unwrap();
    Api::<HardenedRelease>::namespaced(as_tenant.clone(), &ns.name)
        .create(&PostParams::default(), &hr)
        .await
        .expect("the tenant can create a HardenedRelease in its namespace");
    // ...but no TrustPolicy: it is cluster-scoped, and a namespace Role cannot grant it.
    let name = format!("{}-tenant-owned", ns.name);
    let _cleanup = TrustPolicies(vec![name.clone()]);
    let tp: TrustPolicy = serde_json::from_value(json!({
        "apiVersion": "releasegate.dev/v1alpha1", "kind": "TrustPolicy",
        "metadata": {"name": name},
        "spec": {"images": ["registry.example.com/team/*"], "keys": [{"name": "mine", "pem": "x"}]}
    }))
    .unwrap();
    let tps = Api::<TrustPolicy>::all(as_tenant.clone());
    match tps.create(&PostParams::default(), &tp).await {
        Err(kube::Error::Api(e)) if e.code == 403 => {}
        other => panic!("the tenant created a TrustPolicy: {other:?}"),
    }
    // Nor change one the platform made.
    Api::<TrustPolicy>::all(client.clone())
        .create(&PostParams::default(), &tp)
        .await
        .unwrap();
    match tps
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"images": ["**"]}})),
        )
        .await
    {
        Err(kube::Error::Api(e)) if e.code == 403 => {}
        other => panic!("the tenant changed a TrustPolicy: {other:?}"),
    }
    let can = std::process::Command::new("kubectl")
        .args([
            "auth",
            "can-i",
            "create",
            "trustpolicies.releasegate.dev",
            "--as",
            &tenant,
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&can.stdout).trim(), "no");
    // A release cannot name its own key: the schema has no such field, and strict field
    // validation rejects one.
    let out = std::process::Command::new("kubectl")
        .args(["create", "-n", &ns.name, "--as", &tenant, "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write as _;
            c.stdin.take().unwrap().write_all(
                br#"{"apiVersion":"releasegate.dev/v1alpha1","kind":"HardenedRelease","metadata":{"name":"own-key"},"spec":{"image":"registry.example.com/team/app:1","key":"-----BEGIN PUBLIC KEY-----"}}"#,
            )?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(
        !out.status.success(),
        "a release with its own key was accepted"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown field \"spec.key\""),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn keyless_authorities_read_their_trusted_root_from_a_configmap_and_a_missing_one_is_named() {
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "hr-keyless").await;
    let reg = Registry::start();
    let root = std::fs::read_to_string(fixture("keyless/trusted_root.json")).unwrap();
    let cm: ConfigMap = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "sigstore-root"},
        "data": {"trusted_root.json": root}
    }))
    .unwrap();
    Api::<ConfigMap>::namespaced(client.clone(), &ns.name)
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();
    let (good, broken) = (
        format!("{}-keyless", ns.name),
        format!("{}-broken", ns.name),
    );
    let _cleanup = TrustPolicies(vec![good.clone(), broken.clone()]);
    for (name, repo, configmap) in [
        (&good, "team", "sigstore-root"),
        (&broken, "other", "missing"),
    ] {
        let tp: TrustPolicy = serde_json::from_value(json!({
            "apiVersion": "releasegate.dev/v1alpha1", "kind": "TrustPolicy",
            "metadata": {"name": name},
            "spec": {"images": [format!("{}/{repo}/*", reg.host)],
                     "keyless": [{"trustedRoot": {"name": configmap, "key": "trusted_root.json"},
                                  "identity": {"regex": "https://github\\.com/example/.*"},
                                  "issuer": {"exact": "https://token.actions.githubusercontent.com"}}]}
        }))
        .unwrap();
        Api::<TrustPolicy>::all(client.clone())
            .patch(name, &PatchParams::apply("e2e").force(), &Patch::Apply(&tp))
            .await
            .unwrap();
    }
    let _controller = start_controller(&ns.name, &reg.host, reg.dir.path());
    let a = reg.push_image("team/app", "v1");
    let b = reg.push_image("other/app", "v1");
    release(&client, &ns.name, "a", &a, json!({})).await;
    release(&client, &ns.name, "b", &b, json!({})).await;

    // The root loads: the release is judged by the keyless authority (and, unsigned, blocked).
    let s = wait_status(&client, &ns.name, "a", "Blocked", blocked).await;
    let msg = &cond(&s, "SignatureVerified").unwrap().message;
    assert!(
        msg.contains(&format!("judged by TrustPolicy {good}")) && !msg.contains("not loaded"),
        "{msg}"
    );
    // A missing ConfigMap is named with the field and the fix; nothing is trusted from it.
    let s = wait_status(&client, &ns.name, "b", "Blocked", blocked).await;
    let msg = &cond(&s, "SignatureVerified").unwrap().message;
    assert!(
        msg.contains(&format!("TrustPolicy {broken} spec.keyless[0]"))
            && msg.contains(&format!("ConfigMap {}/missing", ns.name)),
        "{msg}"
    );
    // The API server holds a keyless identity to exactly one of exact or regex.
    let bad = json!({
        "apiVersion": "releasegate.dev/v1alpha1", "kind": "TrustPolicy",
        "metadata": {"name": format!("{}-invalid", ns.name)},
        "spec": {"images": ["x/*"], "keyless": [{"trustedRoot": {"name": "r", "key": "k"},
                 "identity": {"exact": "a", "regex": "b"}, "issuer": {"exact": "i"}}]}
    });
    let err = Api::<TrustPolicy>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(bad).unwrap(),
        )
        .await
        .expect_err("both exact and regex are refused");
    assert!(
        err.to_string().contains("exactly one of exact or regex"),
        "{err}"
    );
}
