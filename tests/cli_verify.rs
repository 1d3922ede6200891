//! `release-gate verify` as the cluster's check, with the real binary: the TrustPolicy YAML the
//! cluster holds (`--trust-policy`), the pinned bundle of `policies/` as the judge
//! (`--policy-bundle`), Decision files (`--decision`). The registry, images, signatures and
//! attestations are real (docker-registry, crane, cosign): those tests need the test bed
//! (`make test`); the flag checks do not.

#![allow(clippy::duplicate_mod)]

mod evidence_support;

use evidence_support::{Registry, generate_key, sign_and_attest};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn policies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
}

fn verify(image: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_release-gate"))
        .arg("verify")
        .arg(image)
        .args(args)
        .env_remove("RELEASE_GATE_VERIFY_REQUIRE")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A TrustPolicy file as applied to the cluster, covering `images`, with `keys` (YAML).
fn trust_policy(dir: &Path, file: &str, images: &str, keys: &str) -> String {
    let path = dir.join(file);
    std::fs::write(
        &path,
        format!(
            "apiVersion: releasegate.dev/v1alpha1\nkind: TrustPolicy\nmetadata:\n  name: {}\nspec:\n  images: [\"{images}\"]\n  keys:\n{keys}",
            file.trim_end_matches(".yaml")
        ),
    )
    .unwrap();
    path.display().to_string()
}

fn inline_key(name: &str, public: &Path) -> String {
    let pem: String = std::fs::read_to_string(public)
        .unwrap()
        .lines()
        .map(|l| format!("        {l}\n"))
        .collect();
    format!("    - name: {name}\n      pem: |\n{pem}")
}

/// An override Decision file accepting `cve` for the release `release`, expiring at `expires`.
fn decision(dir: &Path, name: &str, release: &str, cve: &str, expires: &str) -> String {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &path,
        format!(
            "apiVersion: releasegate.dev/v1alpha1\nkind: Decision\nmetadata:\n  name: {name}\nspec:\n  type: Override\n  owner: team-payments\n  rationale: not reachable from the service\n  residualRisk: Medium\n  expires: \"{expires}\"\n  scope:\n    releases: [{release}]\n    vulnerabilities: [{cve}]\n"
        ),
    )
    .unwrap();
    path.display().to_string()
}

fn rfc3339(offset_secs: i64) -> String {
    (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(offset_secs))
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[test]
fn criticals_have_no_budget_flag() {
    let out = verify("registry.example/app:v1", &["--max-critical", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--max-critical"), "{}", text(&out));
    let help = Command::new(env!("CARGO_BIN_EXE_release-gate"))
        .args(["verify", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(!help.contains("max-critical"), "{help}");
    for flag in ["--trust-policy", "--decision", "--policy-bundle"] {
        assert!(help.contains(flag), "{flag}: {help}");
    }
}

#[test]
fn a_trust_policy_naming_a_secret_is_refused_naming_the_field_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let tp = trust_policy(
        dir.path(),
        "ci.yaml",
        "registry.example/**",
        "    - name: ci\n      secretRef: {name: signing-key, key: cosign.pub}\n",
    );
    let out = verify("registry.example/team/app:v1", &["--trust-policy", &tp]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("TrustPolicy ci spec.keys[0].secretRef")
            && t.contains("Secret signing-key/cosign.pub")
            && t.contains("inline the public key as pem"),
        "{t}"
    );
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn a_trust_policy_and_the_policy_bundle_judge_as_the_cluster_does() {
    let reg = Registry::start();
    let key = generate_key(&reg, "ci");
    let other = generate_key(&reg, "other");
    let image = reg.push_image("team/clean", "v1");
    sign_and_attest(&reg, &key, &image, "trivy-report.json");
    let dir = tempfile::tempdir().unwrap();
    let images = format!("{}/team/*", reg.host);
    let bundle = policies().display().to_string();
    let judged = ["--policy-bundle", &bundle, "--allow-unpinned-policy"];
    let insecure = ["--insecure-registry", &reg.host];

    // The TrustPolicy's inline key verifies it; the policy allows it.
    let tp = trust_policy(
        dir.path(),
        "ci.yaml",
        &images,
        &inline_key("ci", &key.public),
    );
    let out = verify(
        &image,
        &[&["--trust-policy", tp.as_str()][..], &judged, &insecure].concat(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("policy      allowed by data.releasegate.release.decision"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("ACCEPTED sha256:"), "{}", text(&out));

    // A TrustPolicy listing another key: not trusted, whatever signed it.
    let wrong = trust_policy(
        dir.path(),
        "other.yaml",
        &images,
        &inline_key("other", &other.public),
    );
    let out = verify(
        &image,
        &[&["--trust-policy", wrong.as_str()][..], &judged, &insecure].concat(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("no verified cosign signature by a trusted authority"),
        "{}",
        text(&out)
    );

    // No TrustPolicy covers the image.
    let elsewhere = trust_policy(
        dir.path(),
        "elsewhere.yaml",
        "other.example/**",
        &inline_key("ci", &key.public),
    );
    let out = verify(
        &image,
        &[
            &["--trust-policy", elsewhere.as_str()][..],
            &judged,
            &insecure,
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("no TrustPolicy covers {}/team/clean", reg.host)),
        "{}",
        text(&out)
    );
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn criticals_block_unless_an_unexpired_override_decision_accepts_them() {
    let reg = Registry::start();
    let key = generate_key(&reg, "ci");
    let image = reg.push_image("team/crit", "v1");
    sign_and_attest(&reg, &key, &image, "trivy-report-critical.json");
    let dir = tempfile::tempdir().unwrap();
    let tp = trust_policy(
        dir.path(),
        "ci.yaml",
        &format!("{}/team/*", reg.host),
        &inline_key("ci", &key.public),
    );
    let bundle = policies().display().to_string();
    let base = [
        "--trust-policy",
        tp.as_str(),
        "--policy-bundle",
        &bundle,
        "--allow-unpinned-policy",
        "--insecure-registry",
        &reg.host,
        "--release",
        "crit",
        "--namespace",
        "payments",
    ];

    // Criticals: rejected by the policy, naming each CVE.
    let out = verify(&image, &base);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("1 critical vulnerabilities (CVE-2019-14697)"),
        "{}",
        text(&out)
    );
    // Without the bundle nothing can accept a critical: rejected as well, naming it.
    let out = verify(
        &image,
        &[
            "--trust-policy",
            tp.as_str(),
            "--insecure-registry",
            &reg.host,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("CVE-2019-14697"), "{}", text(&out));

    // An unexpired override naming the CVE and the release: accepted, citing it.
    let ok = decision(
        dir.path(),
        "accept-musl",
        "crit",
        "CVE-2019-14697",
        &rfc3339(3600),
    );
    let out = verify(&image, &[&base[..], &["--decision", ok.as_str()]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("under override Decision accept-musl"),
        "{}",
        text(&out)
    );
    let out = verify(
        &image,
        &[&base[..], &["--decision", ok.as_str(), "-o", "json"]].concat(),
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["accepted"], true, "{json}");
    assert_eq!(json["policy"]["overrides"][0], "accept-musl", "{json}");

    // The same override, expired: rejected again.
    let expired = decision(
        dir.path(),
        "accept-musl-expired",
        "crit",
        "CVE-2019-14697",
        &rfc3339(-60),
    );
    let out = verify(
        &image,
        &[&base[..], &["--decision", expired.as_str()]].concat(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("CVE-2019-14697"), "{}", text(&out));
    // An override for another release does not apply.
    let other = decision(
        dir.path(),
        "accept-other",
        "other",
        "CVE-2019-14697",
        &rfc3339(3600),
    );
    let out = verify(
        &image,
        &[&base[..], &["--decision", other.as_str()]].concat(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}
