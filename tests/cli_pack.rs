//! `release-gate pack` on the fixture reports, as CI runs it: the real binary, the real policy
//! bundle. Criticals → exit 1 naming the count and the advisories, with a SARIF 2.1.0 log that
//! parses as SARIF; a clean report → exit 0; an Override Decision accepting the critical → exit
//! 0, cited in the pack.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("e2e/fixtures")
        .join(name)
}

/// The provenance fixture as the SLSA generator's statement about one digest.
fn provenance(dir: &Path) -> PathBuf {
    let predicate: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("slsa-provenance-v02.json")).unwrap())
            .unwrap();
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "subject": [{"name": "registry.example.com/team/app", "digest": {"sha256": "ab".repeat(32)}}],
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "predicate": predicate,
    });
    let p = dir.join("provenance.intoto.jsonl");
    std::fs::write(&p, format!("{statement}\n")).unwrap();
    p
}

fn pack(dir: &Path, trivy: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_release-gate"))
        .arg("pack")
        .arg("--sbom")
        .arg(fixture("sbom.cdx.json"))
        .arg("--provenance")
        .arg(provenance(dir))
        .arg("--trivy")
        .arg(fixture(trivy))
        .arg("--osv")
        .arg(fixture("osv-report.json"))
        .arg("--policy")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"))
        .args(["--release", "app", "--namespace", "team"])
        .arg("--output")
        .arg(dir.join("out"))
        .arg("--sarif")
        .arg(dir.join("pack.sarif"))
        .args(extra)
        .env("RELEASE_GATE_LOG", "error")
        .output()
        .expect("run release-gate pack")
}

#[test]
fn criticals_exit_non_zero_naming_count_and_advisories_with_valid_sarif() {
    let dir = tempfile::tempdir().unwrap();
    let out = pack(dir.path(), "trivy-report-critical.json", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("1 critical vulnerabilities (CVE-2019-14697)"),
        "{stderr}"
    );

    let text = std::fs::read_to_string(dir.path().join("pack.sarif")).unwrap();
    let sarif: serde_sarif::sarif::Sarif = serde_json::from_str(&text).expect("a SARIF log");
    assert_eq!(sarif.version, serde_json::json!("2.1.0"));
    let raw: serde_json::Value = serde_json::from_str(&text).unwrap();
    let results = raw["runs"][0]["results"].as_array().unwrap();
    assert!(results.iter().any(|r| {
        r["level"] == "error"
            && r["ruleId"] == "releasegate/vulnerability"
            && r["message"]["text"]
                .as_str()
                .unwrap()
                .contains("CVE-2019-14697")
    }));
    assert!(results.iter().any(|r| r["ruleId"] == "releasegate/policy"));
    assert_eq!(raw["runs"][0]["tool"]["driver"]["name"], "release-gate");

    let md = std::fs::read_to_string(dir.path().join("out/disclosure-pack.md")).unwrap();
    for want in [
        "**Blocked**",
        "CVE-2019-14697",
        "Components: 64",
        "Version: 1.3.1",
        "blocked if criticals > 0",
    ] {
        assert!(md.contains(want), "{want:?} missing:\n{md}");
    }
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("out/disclosure-pack.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json["verdict"]["allowed"], false);
    assert_eq!(
        json["release"]["digest"],
        format!("sha256:{}", "ab".repeat(32))
    );
}

#[test]
fn a_clean_report_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let out = pack(dir.path(), "trivy-report.json", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(dir.path().join("out/disclosure-pack.md")).unwrap();
    assert!(
        md.contains("**Verified**") && md.contains("Criticals: **0**"),
        "{md}"
    );
}

#[test]
fn an_override_decision_accepting_the_critical_unblocks_and_is_cited() {
    let dir = tempfile::tempdir().unwrap();
    let expires =
        k8s_openapi::jiff::Timestamp::now() + k8s_openapi::jiff::SignedDuration::from_hours(24 * 7);
    let decision = dir.path().join("accept.yaml");
    std::fs::write(
        &decision,
        format!(
            "apiVersion: releasegate.dev/v1alpha1\nkind: Decision\nmetadata:\n  name: accept-musl\nspec:\n  type: Override\n  owner: team-app\n  rationale: musl is not reachable\n  residualRisk: Medium\n  expires: \"{}\"\n  scope:\n    releases: [app]\n    vulnerabilities: [CVE-2019-14697]\n",
            expires.strftime("%Y-%m-%dT%H:%M:%SZ")
        ),
    )
    .unwrap();
    let out = pack(
        dir.path(),
        "trivy-report-critical.json",
        &["--decision", decision.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(dir.path().join("out/disclosure-pack.md")).unwrap();
    assert!(
        md.contains("under override accept-musl") && md.contains("Decision **accept-musl**"),
        "{md}"
    );
}

#[test]
fn unreadable_inputs_exit_two_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.json"), "not json").unwrap();
    let out = pack(dir.path(), "does-not-exist.json", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does-not-exist.json"));
}
