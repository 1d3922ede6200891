//! End-to-end tests of issue 9's evidence rules against the real registry (`docker-registry` on
//! loopback) and attestations made by the real `cosign`: every vulnerability report counts, worst
//! case, whatever the order of the `.att` layers or the format; stale reports; severities from
//! CVSS vectors; wrong-shaped reports, empty provenance and bare SBOMs are invalid; a flood of
//! layers is a bounded, clear error. Run with `make test` (tools on PATH).

mod evidence_support;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use evidence_support::oci::*;
use evidence_support::*;
use release_gate::evidence::verify::AttestationFailure;
use release_gate::evidence::{
    Problem, RegistryConfig, Report, Requirements, TrustPolicy, TrustedKey, Verifier,
};

const ALL: [&str; 3] = ["cyclonedx", "slsaprovenance", "vuln"];
const VULN: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";

fn trust(key: &KeyPair) -> TrustPolicy {
    TrustPolicy {
        keys: vec![
            TrustedKey::from_pem("cosign.pub", &std::fs::read(&key.public).unwrap()).unwrap(),
        ],
        ..Default::default()
    }
}

fn verify_with(reg: &Registry, trust: TrustPolicy, image: &str, req: &Requirements) -> Report {
    let v = Verifier::new(
        RegistryConfig {
            insecure: vec![reg.host.clone()],
            ..Default::default()
        },
        trust,
    )
    .unwrap();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(v.verify(image, req))
        .unwrap_or_else(|e| panic!("verify {image}: {e}"))
}

fn require(names: &[&str]) -> Requirements {
    Requirements::new(&names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
}

fn verify(reg: &Registry, key: &KeyPair, image: &str) -> Report {
    verify_with(reg, trust(key), image, &require(&ALL))
}

fn labels(r: &Report) -> Vec<&'static str> {
    r.verdict.problems.iter().map(Problem::label).collect()
}

fn days_ago(days: i64) -> jiff::Timestamp {
    jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * days)
}

/// Signs `image` and attests its SBOM and provenance (no vulnerability report).
fn sign_sbom_provenance(reg: &Registry, key: &KeyPair, image: &str) {
    sign(reg, key, image);
    attest(reg, key, image, "cyclonedx", &fixture("sbom.cdx.json"));
    attest(
        reg,
        key,
        image,
        "slsaprovenance",
        &fixture("slsa-provenance-v02.json"),
    );
}

fn write_json(reg: &Registry, name: &str, doc: &serde_json::Value) -> PathBuf {
    let p = reg.path(name);
    std::fs::write(&p, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    p
}

fn repo_of(image: &str) -> String {
    let (_, rest) = image.split_once('/').unwrap();
    rest.split_once('@').unwrap().0.to_owned()
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn reordered_att_layers_do_not_change_the_outcome() {
    let reg = Registry::start();
    let key = generate_key(&reg, "cosign");
    let image = reg.push_image("team/reorder", "v1");
    sign_sbom_provenance(&reg, &key, &image);
    // An older clean report, then a newer one with a critical: the newer one is the last layer.
    let clean = cosign_vuln_predicate_at(&reg, "trivy-report.json", days_ago(2));
    attest(&reg, &key, &image, "vuln", &clean);
    let critical = cosign_vuln_predicate(&reg, "trivy-report-critical.json");
    attest(&reg, &key, &image, "vuln", &critical);

    let before = verify(&reg, &key, &image);
    assert!(labels(&before).is_empty(), "{before:#?}");
    let facts = before.verdict.evidence.vulnerabilities.clone().unwrap();
    assert_eq!(facts.critical_ids, ["CVE-2019-14697"]);
    assert_eq!(facts.reports.len(), 2, "both reports are read");
    assert!(!facts.stale);

    // Reverse the layers of the unsigned `.att` manifest (no key needed): the clean report last.
    let att_tag = format!("sha256-{}.att", digest_of(&image).hex());
    edit_manifest(&reg, &repo_of(&image), &att_tag, |m| {
        m["layers"].as_array_mut().unwrap().reverse();
    });
    let after = verify(&reg, &key, &image);
    assert_eq!(after.verdict.problems, before.verdict.problems);
    assert_eq!(after.verdict.evidence.vulnerabilities, Some(facts));
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn a_clean_bundle_report_does_not_override_a_legacy_report_with_criticals() {
    let reg = Registry::start();
    let key = generate_key(&reg, "cosign");
    let image = reg.push_image("team/mixed", "v1");
    sign_sbom_provenance(&reg, &key, &image);
    let critical = cosign_vuln_predicate(&reg, "trivy-report-critical.json");
    attest(&reg, &key, &image, "vuln", &critical);
    let clean = cosign_vuln_predicate(&reg, "trivy-report.json");
    attest_bundle(&reg, &key, &image, "vuln", &clean);

    let r = verify(&reg, &key, &image);
    assert!(labels(&r).is_empty(), "{r:#?}");
    let facts = r.verdict.evidence.vulnerabilities.as_ref().unwrap();
    // CVE-2019-1549 and CVE-2019-1551, each in libcrypto1.1 and libssl1.1.
    assert_eq!((facts.critical, facts.medium), (1, 2));
    assert_eq!(facts.reports.len(), 2);
    let critical = &facts.findings[0];
    assert_eq!(critical.id, "CVE-2019-14697");
    assert_eq!(critical.package, "musl, musl-utils");
    assert_eq!(critical.fixed_version.as_deref(), Some("1.1.22-r3"));
    assert!(
        facts.reports.iter().any(|r| r.digest == critical.source),
        "the finding names its report: {facts:#?}"
    );
    // Both verified vuln attestations are listed: the legacy one and the bundle.
    let origins: Vec<&str> = r
        .verdict
        .evidence
        .attestations
        .iter()
        .filter(|a| a.predicate_type == VULN)
        .map(|a| a.origin.as_str())
        .collect();
    assert!(
        origins.iter().any(|o| o.starts_with("attestation ")),
        "{origins:?}"
    );
    assert!(
        origins.iter().any(|o| o.starts_with("bundle ")),
        "{origins:?}"
    );
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn a_stale_report_is_rejected_until_a_fresh_one_is_attested() {
    let reg = Registry::start();
    let key = generate_key(&reg, "cosign");
    let image = reg.push_image("team/stale", "v1");
    sign_sbom_provenance(&reg, &key, &image);
    let old = cosign_vuln_predicate_at(&reg, "trivy-report.json", days_ago(10));
    attest(&reg, &key, &image, "vuln", &old);

    let r = verify(&reg, &key, &image);
    match &r.verdict.problems[..] {
        [Problem::VulnerabilityReportStale { reason }] => {
            assert!(
                reason.contains("older than the maximum age of 7d"),
                "{reason}"
            )
        }
        p => panic!("expected VulnerabilityReportStale, got {p:#?}"),
    }
    assert!(r.verdict.evidence.vulnerabilities.unwrap().stale);
    // The maximum age is the trust configuration's.
    let mut lenient = trust(&key);
    lenient.max_report_age = Duration::from_secs(30 * 86_400);
    assert!(
        verify_with(&reg, lenient, &image, &require(&ALL))
            .verdict
            .is_accepted()
    );
    // The CLI: rejected by default, accepted with --max-report-age 30d.
    let cli = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_release-gate"))
            .args(["verify", &image, "--key"])
            .arg(&key.public)
            .args(["--insecure-registry", &reg.host])
            .args(extra)
            .env_remove("RELEASE_GATE_VERIFY_REQUIRE")
            .output()
            .unwrap()
    };
    let out = cli(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("[VulnerabilityReportStale]"), "{stdout}");
    assert_eq!(cli(&["--max-report-age", "30d"]).status.code(), Some(0));

    // A fresh scan next to the old one: fresh evidence, and the old report's findings still count.
    let fresh = cosign_vuln_predicate(&reg, "trivy-report.json");
    attest_bundle(&reg, &key, &image, "vuln", &fresh);
    let r = verify(&reg, &key, &image);
    assert!(r.verdict.is_accepted(), "{:#?}", r.verdict.problems);
    assert_eq!(r.verdict.evidence.vulnerabilities.unwrap().reports.len(), 2);
}

/// CVE-2019-14697's NVD vector: base score 9.8.
const CRITICAL_V31: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";

#[test]
#[ignore = "needs the real test bed: make test"]
fn severities_come_from_cvss_where_there_is_no_label() {
    let reg = Registry::start();
    let key = generate_key(&reg, "cosign");
    let image = reg.push_image("team/cvss", "v1");
    sign_sbom_provenance(&reg, &key, &image);
    // An OSV report whose only severity is the CVSS vector, in cosign's vuln predicate.
    let osv = serde_json::json!({"vulns": [
        {"id": "GHSA-cvss-only", "severity": [{"type": "CVSS_V3", "score": CRITICAL_V31}],
         "affected": [{"package": {"ecosystem": "npm", "name": "left-pad"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.3.1"}]}]}]},
        {"id": "GHSA-no-severity", "affected": [{"package": {"name": "left-pad"}}]}]});
    attest(
        &reg,
        &key,
        &image,
        "vuln",
        &write_cosign_vuln(&reg, "osv", osv, jiff::Timestamp::now()),
    );
    // A Trivy finding labelled UNKNOWN with an NVD score of 9.8.
    let trivy = serde_json::json!({"SchemaVersion": 2, "Results": [{"Target": "t", "Vulnerabilities": [
        {"VulnerabilityID": "CVE-2026-9999", "PkgName": "openssl", "Severity": "UNKNOWN",
         "CVSS": {"nvd": {"V3Score": 9.8}}}]}]});
    attest(
        &reg,
        &key,
        &image,
        "vuln",
        &write_cosign_vuln(&reg, "trivy", trivy, jiff::Timestamp::now()),
    );

    let r = verify(&reg, &key, &image);
    let facts = r.verdict.evidence.vulnerabilities.clone().unwrap();
    assert_eq!(
        facts.critical_ids,
        ["CVE-2026-9999", "GHSA-cvss-only"],
        "{facts:#?}"
    );
    assert_eq!(
        facts.unknown, 1,
        "a finding with neither label nor score is unknown"
    );
    // Facts, not judgment: the policy bundle budgets them.
    assert!(r.verdict.problems.is_empty(), "{:#?}", r.verdict.problems);
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn wrong_shaped_reports_are_invalid_not_clean() {
    let reg = Registry::start();
    let key = generate_key(&reg, "cosign");
    let cases = [
        (
            "results-object",
            serde_json::json!({"SchemaVersion": 2, "Results": {"Target": "t", "Vulnerabilities": []}}),
            "Results is an object, not an array",
        ),
        (
            "vulnerabilities-object",
            serde_json::json!({"SchemaVersion": 2, "Results": [{"Target": "t",
                "Vulnerabilities": {"CVE-2019-14697": {"Severity": "CRITICAL"}}}]}),
            "Results[0].Vulnerabilities is an object, not an array",
        ),
        (
            "two-formats",
            serde_json::json!({"SchemaVersion": 2, "Results": [],
                "results": [{"packages": [{"package": {"name": "lodash"},
                    "vulnerabilities": [{"id": "GHSA-p6mc-m468-83gw"}]}]}]}),
            "two report formats (Trivy and osv-scanner)",
        ),
    ];
    for (name, report, why) in cases {
        let image = reg.push_image(&format!("team/shape-{name}"), "v1");
        sign_sbom_provenance(&reg, &key, &image);
        attest(
            &reg,
            &key,
            &image,
            "vuln",
            &write_cosign_vuln(&reg, name, report, jiff::Timestamp::now()),
        );
        let r = verify(&reg, &key, &image);
        match &r.verdict.problems[..] {
            [
                Problem::AttestationInvalid {
                    predicate_type,
                    failures,
                },
            ] => {
                assert_eq!(predicate_type, VULN);
                assert!(
                    matches!(&failures[..], [AttestationFailure::PredicateInvalid { why: w, .. }] if w.contains(why)),
                    "{name}: {failures:#?}"
                );
            }
            p => panic!("{name}: expected AttestationInvalid, got {p:#?}"),
        }
        assert!(
            r.verdict.evidence.vulnerabilities.is_none(),
            "{name}: no facts from garbage"
        );
    }

    // A wrong-shaped report under a scanner's own predicate type, next to a clean vuln report
    // that satisfies the requirement: still rejected.
    let image = reg.push_image("team/shape-custom", "v1");
    sign_sbom_provenance(&reg, &key, &image);
    attest(
        &reg,
        &key,
        &image,
        "vuln",
        &cosign_vuln_predicate(&reg, "trivy-report.json"),
    );
    let raw = write_json(
        &reg,
        "trivy-object.json",
        &serde_json::json!({"SchemaVersion": 2, "CreatedAt": jiff::Timestamp::now().to_string(),
            "Results": {"Vulnerabilities": []}}),
    );
    attest(
        &reg,
        &key,
        &image,
        "https://aquasecurity.github.io/trivy/report/v1",
        &raw,
    );
    let r = verify(&reg, &key, &image);
    assert_eq!(labels(&r), ["EvidenceInvalid"], "{r:#?}");
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn empty_provenance_and_bare_sboms_are_invalid() {
    let reg = Registry::start();
    let key = generate_key(&reg, "cosign");
    let cases = [
        (
            "slsaprovenance",
            serde_json::json!({"builder": {"id": ""}, "buildType": "", "invocation": {}}),
            "https://slsa.dev/provenance/v0.2",
            "v0.2 builder.id is missing or empty",
        ),
        (
            "slsaprovenance1",
            serde_json::json!({"buildDefinition": {"buildType": ""}, "runDetails": {"builder": {"id": ""}}}),
            "https://slsa.dev/provenance/v1",
            "v1 runDetails.builder.id is missing or empty",
        ),
        (
            "cyclonedx",
            serde_json::json!({"bomFormat": "CycloneDX"}),
            "https://cyclonedx.org/bom",
            "specVersion is missing",
        ),
        (
            "cyclonedx",
            serde_json::json!({"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "packages": []}),
            "https://cyclonedx.org/bom",
            "an SPDX document (spdxVersion) attested under the CycloneDX predicate type",
        ),
    ];
    for (i, (kind, predicate, predicate_type, why)) in cases.into_iter().enumerate() {
        let image = reg.push_image(&format!("team/strict-{i}"), "v1");
        sign(&reg, &key, &image);
        attest(
            &reg,
            &key,
            &image,
            kind,
            &write_json(&reg, &format!("strict-{i}.json"), &predicate),
        );
        let r = verify_with(&reg, trust(&key), &image, &require(&[kind]));
        match &r.verdict.problems[..] {
            [
                Problem::AttestationInvalid {
                    predicate_type: t,
                    failures,
                },
            ] => {
                assert_eq!(t, predicate_type);
                assert!(
                    failures[0].to_string().contains(why),
                    "{kind}: {failures:#?}"
                );
            }
            p => panic!("{kind} #{i}: expected AttestationInvalid, got {p:#?}"),
        }
    }
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn required_builder_and_source_as_slsa_verifier_flags() {
    let reg = Registry::start();
    let key = generate_key(&reg, "cosign");
    let image = reg.push_image("team/builder", "v1");
    sign_sbom_provenance(&reg, &key, &image);
    attest(
        &reg,
        &key,
        &image,
        "vuln",
        &cosign_vuln_predicate(&reg, "trivy-report.json"),
    );
    const BUILDER: &str = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml";
    let cli = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_release-gate"))
            .args(["verify", &image, "--key"])
            .arg(&key.public)
            .args(["--insecure-registry", &reg.host])
            .args(extra)
            .env_remove("RELEASE_GATE_VERIFY_REQUIRE")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = cli(&[
        "--builder-id",
        BUILDER,
        "--source-uri",
        "github.com/example/release-gate-demo",
    ]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = cli(&["--builder-id", &format!("{BUILDER}@refs/tags/v1.9.0")]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = cli(&["--builder-id", &format!("{BUILDER}@refs/tags/v2.0.0")]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("[ProvenanceMismatch]") && out.contains("provenance builder id is"),
        "{out}"
    );
    let (code, out) = cli(&["--source-uri", "github.com/attacker/fork"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("provenance source repository is git+https://github.com/example/release-gate-demo@refs/heads/main, but the trust configuration requires github.com/attacker/fork"),
        "{out}"
    );
}

/// The flood: an `.att` manifest with 40 layers all pointing at one 12 MiB blob (made with
/// raw registry calls, no key needed). Before the limits the verifier downloaded every layer
/// (889 MiB peak RSS, 90 s); now it stops before downloading any and names the limit.
#[test]
#[ignore = "needs the real test bed: make test"]
fn a_layer_flood_is_a_prompt_error_naming_the_limit() {
    let reg = Registry::start();
    let key = generate_key(&reg, "cosign");
    let image = reg.push_image("team/flood", "v1");
    sign(&reg, &key, &image);
    let repo = repo_of(&image);
    // A DSSE-looking JSON document of 12 MiB.
    let blob = format!(
        "{{\"payloadType\":\"application/vnd.in-toto+json\",\"payload\":\"{}\",\"signatures\":[{{\"sig\":\"AAAA\"}}]}}",
        "A".repeat(12 << 20)
    )
    .into_bytes();
    upload_blob(&reg, &repo, &blob);
    let digest = release_gate::evidence::Digest::of(&blob).to_string();
    let att_tag = format!("sha256-{}.att", digest_of(&image).hex());
    let flood = |layers: usize| {
        let layer = serde_json::json!({"mediaType": "application/vnd.dsse.envelope.v1+json",
            "digest": digest, "size": blob.len(), "annotations": {"predicateType": VULN}});
        let config = b"{}";
        upload_blob(&reg, &repo, config);
        let manifest = serde_json::json!({"schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": release_gate::evidence::Digest::of(config).to_string(), "size": config.len()},
            "layers": vec![layer; layers]});
        put_manifest(
            &reg,
            &repo,
            &att_tag,
            &serde_json::to_vec(&manifest).unwrap(),
            "application/vnd.oci.image.manifest.v1+json",
        );
    };
    let blob_gets = || {
        reg.access_log()
            .lines()
            .filter(|l| l.contains(&format!("GET /v2/{repo}/blobs/{digest}")))
            .count()
    };
    let cli = |extra: &[&str]| {
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_release-gate"))
            .args(["verify", &image, "--key"])
            .arg(&key.public)
            .args(["--insecure-registry", &reg.host, "--require", "vuln"])
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            started.elapsed(),
        )
    };

    flood(40);
    let (code, stderr, took) = cli(&[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("41 signature, attestation and bundle layers (1 signature, 40 attestation, 0 bundle), more than the limit of 32")
            && stderr.contains("--max-evidence-layers"),
        "{stderr}"
    );
    assert_eq!(blob_gets(), 0, "nothing is downloaded past the limit");
    assert!(took < Duration::from_secs(10), "took {took:?}");

    // Within the layer limit, the bytes limit: 3 x 12 MiB against 16 MiB.
    flood(3);
    let (code, stderr, _) = cli(&["--max-evidence-bytes", &(16u64 << 20).to_string()]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("more than the limit of 16777216 bytes")
            && stderr.contains("--max-evidence-bytes"),
        "{stderr}"
    );
    assert_eq!(blob_gets(), 0);
    // Within both (the default 64 MiB), the blobs are read and rejected as what they are.
    let (code, stderr, _) = cli(&["--output", "json"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("[AttestationInvalid]") || stderr.contains("does not verify"),
        "{stderr}"
    );
    assert_eq!(blob_gets(), 3);
}
