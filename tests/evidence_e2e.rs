//! End-to-end evidence verification against a real registry (`docker-registry` on loopback) and
//! artifacts made by the real `cosign` CLI: the good image passes; each bad image fails with its
//! own reason. Run with `make test` (tools on PATH); a missing tool fails the test.

mod evidence_support;

use std::process::Command;

use evidence_support::oci::*;
use evidence_support::*;
use release_gate::evidence::verify::{AttestationFailure, SignatureFailure};
use release_gate::evidence::{
    Problem, RegistryConfig, Report, Requirements, TrustPolicy, TrustedKey, Verifier,
};

const ALL: [&str; 3] = ["cyclonedx", "slsaprovenance", "vuln"];

fn verifier(reg: &Registry, key: &KeyPair) -> Verifier {
    let pem = std::fs::read(&key.public).unwrap();
    let trust = TrustPolicy {
        keys: vec![TrustedKey::from_pem("cosign.pub", &pem).unwrap()],
        ..Default::default()
    };
    Verifier::new(
        RegistryConfig {
            insecure: vec![reg.host.clone()],
            ..Default::default()
        },
        trust,
    )
    .unwrap()
}

fn verify(reg: &Registry, key: &KeyPair, image: &str, require: &[&str]) -> Report {
    let v = verifier(reg, key);
    let req = Requirements::new(&require.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(v.verify(image, &req))
        .unwrap_or_else(|e| panic!("verify {image}: {e}"))
}

fn only_problem(r: &Report) -> &Problem {
    assert_eq!(r.verdict.problems.len(), 1, "{:#?}", r.verdict.problems);
    &r.verdict.problems[0]
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn good_image_is_accepted_with_its_evidence_summarised() {
    let reg = Registry::start();
    let key = generate_key(&reg, "cosign");
    let image = reg.push_image("team/app", "v1");
    sign_and_attest(&reg, &key, &image, "trivy-report.json");
    // By tag: the digest is resolved from the registry.
    let by_tag = format!("{}/team/app:v1", reg.host);
    let r = verify(&reg, &key, &by_tag, &ALL);
    assert!(r.verdict.is_accepted(), "{:#?}", r.verdict.problems);
    let ev = &r.verdict.evidence;
    assert_eq!(format!("{}/team/app@{}", reg.host, ev.digest), image);
    assert_eq!(ev.signatures.len(), 1);
    assert_eq!(ev.attestations.len(), 3);
    let sbom = ev.sbom.as_ref().unwrap();
    assert_eq!(sbom.components, 64);
    assert!(sbom.licenses.contains(&"MIT".to_owned()));
    let prov = ev.provenance.as_ref().unwrap();
    assert!(prov.builder_id.contains("slsa-github-generator"));
    assert_eq!(
        prov.source_commit.as_deref(),
        Some("5b5c7b9ea8d1b6e4e3c6ea2c77b1f9cdd34b3a50")
    );
    let vulns = ev.vulnerabilities.as_ref().unwrap();
    // Four findings, two advisories (each in libcrypto1.1 and libssl1.1): merged by ID.
    assert_eq!((vulns.critical, vulns.medium), (0, 2));
    assert!(!vulns.stale, "{:?}", vulns.stale_reason);
    let summary = ev.summary();
    assert_eq!(summary.sbom_components, Some(64));
    assert!(summary.signers[0].starts_with("key cosign.pub (sha256:"));
    // By digest, with a tag too: the digest wins.
    let pinned = format!("{}/team/app:whatever@{}", reg.host, ev.digest);
    assert!(verify(&reg, &key, &pinned, &ALL).verdict.is_accepted());
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn unsigned_image_is_rejected() {
    let reg = Registry::start();
    let key = generate_key(&reg, "cosign");
    let image = reg.push_image("team/unsigned", "v1");
    let r = verify(&reg, &key, &image, &[]);
    assert_eq!(only_problem(&r), &Problem::Unsigned);
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn image_signed_by_another_key_is_rejected() {
    let reg = Registry::start();
    let trusted = generate_key(&reg, "trusted");
    let other = generate_key(&reg, "other");
    let image = reg.push_image("team/other-key", "v1");
    sign(&reg, &other, &image);
    let r = verify(&reg, &trusted, &image, &[]);
    match only_problem(&r) {
        Problem::SignatureUntrusted { failures } => {
            assert!(
                matches!(&failures[..], [SignatureFailure::UntrustedSigner { origin, .. }] if origin.contains(".sig")),
                "{failures:?}"
            );
        }
        p => panic!("expected SignatureUntrusted, got {p:?}"),
    }
    // Verified with the signer's own key, the same image passes: the key is what differs.
    assert!(verify(&reg, &other, &image, &[]).verdict.is_accepted());
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn tampered_attestation_payload_is_rejected() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let reg = Registry::start();
    let key = generate_key(&reg, "cosign");
    let image = reg.push_image("team/tampered", "v1");
    sign_and_attest(&reg, &key, &image, "trivy-report-critical.json");
    let att_tag = format!("sha256-{}.att", digest_of(&image).hex());
    // Find the vuln attestation and hide its criticals, keeping the original signature.
    let edit = |env: &mut serde_json::Value| {
        let payload = b64.decode(env["payload"].as_str().unwrap()).unwrap();
        let mut st: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        if st["predicateType"] != "https://cosign.sigstore.dev/attestation/vuln/v1" {
            return;
        }
        st["predicate"]["scanner"]["result"] =
            serde_json::json!({"SchemaVersion": 2, "Results": []});
        env["payload"] = b64.encode(serde_json::to_vec(&st).unwrap()).into();
    };
    tamper_all_layers(&reg, "team/tampered", &att_tag, edit);
    let r = verify(&reg, &key, &image, &ALL);
    match only_problem(&r) {
        Problem::AttestationInvalid {
            predicate_type,
            failures,
        } => {
            assert_eq!(
                predicate_type,
                "https://cosign.sigstore.dev/attestation/vuln/v1"
            );
            assert!(
                matches!(&failures[..], [AttestationFailure::BadSignature { .. }]),
                "{failures:?}"
            );
        }
        p => panic!("expected AttestationInvalid/BadSignature, got {p:?}"),
    }
}

/// Rewrites the layer blobs of the cosign artifact at `tag` (keeping the signatures) and pushes
/// the altered manifest under the same tag, as an attacker with registry write access would.
fn tamper_all_layers(reg: &Registry, repo: &str, tag: &str, edit: impl Fn(&mut serde_json::Value)) {
    let crane = tool("crane");
    let reference = format!("{}/{repo}:{tag}", reg.host);
    let mut manifest: serde_json::Value = serde_json::from_str(&run(Command::new(&crane).args([
        "manifest",
        "--insecure",
        &reference,
    ])))
    .unwrap();
    let n = manifest["layers"].as_array().unwrap().len();
    for i in 0..n {
        let layer_digest = manifest["layers"][i]["digest"].as_str().unwrap().to_owned();
        let bytes = run(Command::new(&crane).args([
            "blob",
            "--insecure",
            &format!("{}/{repo}@{layer_digest}", reg.host),
        ]));
        let mut doc: serde_json::Value = serde_json::from_str(&bytes).unwrap();
        let before = doc.clone();
        edit(&mut doc);
        if doc == before {
            continue;
        }
        let new_blob = serde_json::to_vec(&doc).unwrap();
        upload_blob(reg, repo, &new_blob);
        manifest["layers"][i]["digest"] = release_gate::evidence::Digest::of(&new_blob)
            .to_string()
            .into();
        manifest["layers"][i]["size"] = new_blob.len().into();
    }
    let media_type = manifest["mediaType"]
        .as_str()
        .unwrap_or("application/vnd.oci.image.manifest.v1+json")
        .to_owned();
    put_manifest(
        reg,
        repo,
        tag,
        &serde_json::to_vec(&manifest).unwrap(),
        &media_type,
    );
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn attestation_copied_from_another_digest_is_rejected() {
    let reg = Registry::start();
    let key = generate_key(&reg, "cosign");
    let source = reg.push_image("team/copied", "source");
    let target = reg.push_image("team/copied", "target");
    sign_and_attest(&reg, &key, &source, "trivy-report.json");
    sign(&reg, &key, &target);
    // Copy the source's (validly signed) attestations onto the target's .att tag.
    let from = format!(
        "{}/team/copied:sha256-{}.att",
        reg.host,
        digest_of(&source).hex()
    );
    let to = format!(
        "{}/team/copied:sha256-{}.att",
        reg.host,
        digest_of(&target).hex()
    );
    run(Command::new(tool("crane")).args(["copy", "--insecure", &from, &to]));
    let r = verify(&reg, &key, &target, &["cyclonedx"]);
    match only_problem(&r) {
        Problem::AttestationInvalid {
            predicate_type,
            failures,
        } => {
            assert_eq!(predicate_type, "https://cyclonedx.org/bom");
            match &failures[..] {
                [AttestationFailure::SubjectMismatch { subjects, .. }] => {
                    assert_eq!(subjects, &digest_of(&source).to_string())
                }
                f => panic!("expected SubjectMismatch, got {f:?}"),
            }
        }
        p => panic!("expected AttestationInvalid/SubjectMismatch, got {p:?}"),
    }
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn wrong_predicate_type_is_rejected() {
    let reg = Registry::start();
    let key = generate_key(&reg, "cosign");
    let image = reg.push_image("team/wrong-type", "v1");
    sign(&reg, &key, &image);
    // A real attestation of another type (cosign's generic `custom`) whose unsigned layer
    // annotation is then edited to claim CycloneDX, so a lookup by annotation would take it for
    // the required SBOM.
    attest(&reg, &key, &image, "custom", &fixture("sbom.cdx.json"));
    let att_tag = format!("sha256-{}.att", digest_of(&image).hex());
    edit_manifest(&reg, "team/wrong-type", &att_tag, |m| {
        m["layers"][0]["annotations"]["predicateType"] = "https://cyclonedx.org/bom".into();
    });
    let r = verify(&reg, &key, &image, &["cyclonedx"]);
    match only_problem(&r) {
        Problem::AttestationInvalid { failures, .. } => match &failures[..] {
            [
                AttestationFailure::PredicateTypeMismatch {
                    annotated, signed, ..
                },
            ] => {
                assert_eq!(annotated, "https://cyclonedx.org/bom");
                assert_eq!(signed, "https://cosign.sigstore.dev/attestation/v1");
            }
            f => panic!("expected PredicateTypeMismatch, got {f:?}"),
        },
        p => panic!("expected AttestationInvalid/PredicateTypeMismatch, got {p:?}"),
    }
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn missing_required_attestation_is_rejected() {
    let reg = Registry::start();
    let key = generate_key(&reg, "cosign");
    let image = reg.push_image("team/missing", "v1");
    sign(&reg, &key, &image);
    attest(&reg, &key, &image, "cyclonedx", &fixture("sbom.cdx.json"));
    attest(
        &reg,
        &key,
        &image,
        "vuln",
        &cosign_vuln_predicate(&reg, "trivy-report.json"),
    );
    let r = verify(&reg, &key, &image, &ALL);
    assert_eq!(
        only_problem(&r),
        &Problem::AttestationMissing {
            predicate_type: "https://slsa.dev/provenance/v0.2".into(),
            found: vec![
                "https://cosign.sigstore.dev/attestation/vuln/v1".into(),
                "https://cyclonedx.org/bom".into()
            ],
        }
    );
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn criticals_are_counted_merged_by_advisory() {
    let reg = Registry::start();
    let key = generate_key(&reg, "cosign");
    let image = reg.push_image("team/critical", "v1");
    sign_and_attest(&reg, &key, &image, "trivy-report-critical.json");
    // Facts: the policy bundle judges them (tests/cli_verify.rs, tests/e2e_release.rs).
    let r = verify(&reg, &key, &image, &ALL);
    assert!(r.verdict.problems.is_empty(), "{:?}", r.verdict.problems);
    let v = r.verdict.evidence.vulnerabilities.unwrap();
    // One advisory, in musl and musl-utils: findings are merged by advisory ID.
    assert_eq!(v.critical, 1);
    assert_eq!(v.critical_ids, ["CVE-2019-14697"]);
    assert_eq!(v.findings[0].id, "CVE-2019-14697");
    assert_eq!(
        v.findings[0].package, "musl, musl-utils",
        "{:?}",
        v.findings[0]
    );
}

/// The CLI: exit 0 and a summary for the good image, exit 1 and the reason for a bad one.
#[test]
#[ignore = "needs the real test bed: make test"]
fn cli_accepts_good_and_rejects_bad_with_reason() {
    let reg = Registry::start();
    let key = generate_key(&reg, "cosign");
    let good = reg.push_image("team/cli", "good");
    let bad = reg.push_image("team/cli", "bad");
    sign_and_attest(&reg, &key, &good, "trivy-report.json");
    sign(&reg, &key, &bad);
    let cli = |image: &str, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_release-gate"))
            .args(["verify", image, "--key"])
            .arg(&key.public)
            .args([
                "--insecure-registry",
                &reg.host,
                "--require",
                "cyclonedx,slsaprovenance,vuln",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = cli(&good, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ACCEPTED sha256:"), "{stdout}");
    assert!(stdout.contains("CycloneDX 1.6: 64 components"), "{stdout}");
    assert!(stdout.contains("2 medium"), "{stdout}");
    let out = cli(&good, &["--output", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["accepted"], true);
    assert_eq!(json["summary"]["sbomComponents"], 64);
    let out = cli(&bad, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("REJECTED"), "{stdout}");
    assert!(
        stdout.contains(
            "[AttestationMissing] required attestation https://cyclonedx.org/bom is missing"
        ),
        "{stdout}"
    );
    // Without --require the CLI asks for what a HardenedRelease asks for by default; `none`
    // checks the signature only.
    let bare = |image: &str, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_release-gate"))
            .args(["verify", image, "--key"])
            .arg(&key.public)
            .args(["--insecure-registry", &reg.host])
            .args(extra)
            .env_remove("RELEASE_GATE_VERIFY_REQUIRE")
            .output()
            .unwrap()
    };
    assert_eq!(bare(&good, &[]).status.code(), Some(0));
    let out = bare(&bad, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    for missing in [
        "https://cyclonedx.org/bom",
        "https://slsa.dev/provenance/v0.2",
        "https://cosign.sigstore.dev/attestation/vuln/v1",
    ] {
        assert!(
            stdout.contains(&format!("required attestation {missing} is missing")),
            "{missing}: {stdout}"
        );
    }
    let out = bare(&bad, &["--require", "none"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A registry that is not there: exit 3 with the URL.
    let out = Command::new(env!("CARGO_BIN_EXE_release-gate"))
        .args(["verify", "127.0.0.1:1/nothing:v1", "--key"])
        .arg(&key.public)
        .args(["--insecure-registry", "127.0.0.1:1", "--timeout", "5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("http://127.0.0.1:1/v2/nothing/manifests/v1")
    );
}

/// TLS with a private CA: trusted only when the CA is configured; plain HTTP only for registries
/// configured as insecure.
#[test]
#[ignore = "needs the real test bed: make test"]
fn registry_tls_needs_its_ca_and_http_needs_insecure() {
    use release_gate::evidence::{Error, RegistryError};
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "release-gate test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, &ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let reg = Registry::start_tls(&cert.pem(), &key.serialize_pem());
    let cosign_key = generate_key(&reg, "cosign");
    let image = reg.push_image("team/tls", "v1");
    sign(&reg, &cosign_key, &image);

    let trust = || TrustPolicy {
        keys: vec![
            TrustedKey::from_pem("cosign.pub", &std::fs::read(&cosign_key.public).unwrap())
                .unwrap(),
        ],
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let run = |config: RegistryConfig| {
        let v = Verifier::new(config, trust()).unwrap();
        rt.block_on(v.verify(&image, &Requirements::default()))
    };
    let with_ca = run(RegistryConfig {
        extra_ca_pem: Some(ca_cert.pem().into_bytes()),
        ..Default::default()
    })
    .unwrap();
    assert!(
        with_ca.verdict.is_accepted(),
        "{:?}",
        with_ca.verdict.problems
    );
    match run(RegistryConfig::default()) {
        Err(Error::Registry(RegistryError::Transport { url, why })) => {
            assert!(url.starts_with("https://"), "{url}");
            assert!(why.to_lowercase().contains("certificate"), "{why}");
        }
        other => panic!("expected a TLS error without the CA, got {other:?}"),
    }
    // A plain-HTTP registry not configured as insecure is never spoken to in clear text.
    let plain = Registry::start();
    let plain_image = plain.push_image("team/plain", "v1");
    let v = Verifier::new(RegistryConfig::default(), trust()).unwrap();
    match rt.block_on(v.verify(&plain_image, &Requirements::default())) {
        Err(Error::Registry(RegistryError::Transport { url, .. })) => {
            assert!(url.starts_with("https://"))
        }
        other => panic!("expected https to fail against a plain-HTTP registry, got {other:?}"),
    }
}

/// Basic auth (htpasswd made by the real `htpasswd`): the CLI passes with a dockerconfigjson
/// for the registry, and fails without one, or with a wrong password, each with its own reason.
#[test]
#[ignore = "needs the real test bed: make test"]
fn basic_auth_registry_needs_the_dockerconfigjson() {
    let reg = Registry::start_basic_auth("ci", "s3cret-pass");
    let key = generate_key(&reg, "cosign");
    let image = reg.push_image("team/private", "v1");
    sign(&reg, &key, &image);
    attest(&reg, &key, &image, "cyclonedx", &fixture("sbom.cdx.json"));
    let good_config = reg.docker_config_dir().join("config.json");
    let wrong_config = reg.path("wrong-config.json");
    std::fs::write(
        &wrong_config,
        serde_json::json!({"auths": {reg.host.clone(): {"username": "ci", "password": "wrong"}}})
            .to_string(),
    )
    .unwrap();
    let cli = |config: Option<&std::path::Path>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_release-gate"));
        c.args(["verify", &image, "--key"])
            .arg(&key.public)
            .args(["--insecure-registry", &reg.host, "--require", "cyclonedx"])
            .env_remove("RELEASE_GATE_REGISTRY_CONFIG");
        if let Some(p) = config {
            c.arg("--registry-config").arg(p);
        }
        let out = c.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = cli(Some(&good_config));
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("ACCEPTED sha256:"), "{stdout}");
    assert!(
        stdout.contains("attestation ok  https://cyclonedx.org/bom"),
        "{stdout}"
    );

    let (code, _, stderr) = cli(None);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "authentication required: {} asks for credentials and none are configured for it",
            reg.host
        )),
        "{stderr}"
    );

    let (code, _, stderr) = cli(Some(&wrong_config));
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the credentials for {} were rejected (HTTP 401)",
            reg.host
        )),
        "{stderr}"
    );
}

/// Ed25519 and RSA (2048, 3072) keys made by openssl and imported into cosign: what cosign signs
/// and attests with them verifies with their PEM public key, and not with another key.
#[test]
#[ignore = "needs the real test bed: make test"]
fn ed25519_and_rsa_keys_from_openssl_sign_and_attest() {
    let reg = Registry::start();
    let keys = [
        (
            "ed25519",
            import_key(&reg, "ed25519", &["-algorithm", "ed25519"]),
        ),
        (
            "rsa2048",
            import_key(
                &reg,
                "rsa2048",
                &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            ),
        ),
        (
            "rsa3072",
            import_key(
                &reg,
                "rsa3072",
                &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"],
            ),
        ),
    ];
    let cli = |image: &str, key: &KeyPair| {
        let out = Command::new(env!("CARGO_BIN_EXE_release-gate"))
            .args(["verify", image, "--key"])
            .arg(&key.public)
            .args(["--insecure-registry", &reg.host, "--require", "cyclonedx"])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    for (i, (name, key)) in keys.iter().enumerate() {
        let image = reg.push_image("team/byok", name);
        sign(&reg, key, &image);
        attest(&reg, key, &image, "cyclonedx", &fixture("sbom.cdx.json"));
        let (code, stdout) = cli(&image, key);
        assert_eq!(code, Some(0), "{name}: {stdout}");
        let signer = format!("key {name}.pub (sha256:");
        assert!(
            stdout.contains(&format!("signature   ok  {signer}")),
            "{name}: {stdout}"
        );
        assert!(
            stdout.contains(&format!(
                "attestation ok  https://cyclonedx.org/bom by {signer}"
            )),
            "{name}: {stdout}"
        );
        // Verified with the next key (another algorithm or size), both checks fail on the key.
        let (other_name, other) = &keys[(i + 1) % keys.len()];
        let (code, stdout) = cli(&image, other);
        assert_eq!(code, Some(1), "{name} vs {other_name}: {stdout}");
        assert!(
            stdout.contains("[SignatureUntrusted] no signature verifies with a trusted authority")
                && stdout.contains(&format!(
                    "signature does not verify with any trusted key (key {other_name}.pub"
                )),
            "{name} vs {other_name}: {stdout}"
        );
        assert!(
            stdout.contains(&format!(
                "DSSE signature does not verify with any trusted key (key {other_name}.pub"
            )),
            "{name} vs {other_name}: {stdout}"
        );
    }
}

/// Signs and attests `image` in the Sigstore bundle format with all three attestations.
fn sign_and_attest_bundles(reg: &Registry, key: &KeyPair, image: &str, vuln_report: &str) {
    sign_bundle(reg, key, image);
    attest_bundle(reg, key, image, "cyclonedx", &fixture("sbom.cdx.json"));
    attest_bundle(
        reg,
        key,
        image,
        "slsaprovenance",
        &fixture("slsa-provenance-v02.json"),
    );
    attest_bundle(
        reg,
        key,
        image,
        "vuln",
        &cosign_vuln_predicate(reg, vuln_report),
    );
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn bundle_format_image_is_accepted() {
    let reg = Registry::start();
    let key = generate_key(&reg, "cosign");
    let image = reg.push_image("team/bundled", "v1");
    sign_and_attest_bundles(&reg, &key, &image, "trivy-report.json");
    // Only referrers: no legacy .sig/.att tags.
    let tags = run(Command::new(tool("crane")).args([
        "ls",
        "--insecure",
        &format!("{}/team/bundled", reg.host),
    ]));
    assert!(!tags.contains(".sig") && !tags.contains(".att"), "{tags}");
    let r = verify(&reg, &key, &image, &ALL);
    assert!(r.verdict.is_accepted(), "{:#?}", r.verdict.problems);
    let ev = &r.verdict.evidence;
    let fallback = format!("referrers tag sha256-{}", digest_of(&image).hex());
    assert_eq!(ev.signatures.len(), 1);
    assert!(
        ev.signatures[0].origin.starts_with("bundle sha256:")
            && ev.signatures[0].origin.contains(&fallback),
        "{:?}",
        ev.signatures
    );
    assert_eq!(ev.attestations.len(), 3);
    assert_eq!(ev.sbom.as_ref().unwrap().components, 64);
    assert!(ev.provenance.is_some());
    assert_eq!(ev.vulnerabilities.as_ref().unwrap().medium, 2);
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn bundle_signed_by_another_key_is_rejected() {
    let reg = Registry::start();
    let trusted = generate_key(&reg, "trusted");
    let other = generate_key(&reg, "other");
    let image = reg.push_image("team/bundled-other", "v1");
    sign_bundle(&reg, &other, &image);
    attest_bundle(&reg, &other, &image, "cyclonedx", &fixture("sbom.cdx.json"));
    let r = verify(&reg, &trusted, &image, &["cyclonedx"]);
    assert_eq!(r.verdict.problems.len(), 2, "{:#?}", r.verdict.problems);
    match &r.verdict.problems[0] {
        Problem::SignatureUntrusted { failures } => assert!(
            matches!(&failures[..], [SignatureFailure::UntrustedSigner { origin, keys }]
                if origin.starts_with("bundle sha256:") && keys.starts_with("key cosign.pub")),
            "{failures:?}"
        ),
        p => panic!("expected SignatureUntrusted, got {p:?}"),
    }
    match &r.verdict.problems[1] {
        Problem::AttestationInvalid {
            predicate_type,
            failures,
        } => {
            assert_eq!(predicate_type, "https://cyclonedx.org/bom");
            assert!(
                matches!(&failures[..], [AttestationFailure::BadSignature { origin, .. }] if origin.starts_with("bundle sha256:")),
                "{failures:?}"
            );
        }
        p => panic!("expected AttestationInvalid/BadSignature, got {p:?}"),
    }
    assert!(
        verify(&reg, &other, &image, &["cyclonedx"])
            .verdict
            .is_accepted()
    );
}

/// Rewrites the in-toto statement in every bundle referring to `image` (keeping the signatures):
/// new blobs, new referrer manifests, and the referrers tag index pointed at them.
fn tamper_bundles(reg: &Registry, repo: &str, image: &str, edit: impl Fn(&mut serde_json::Value)) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let crane = tool("crane");
    let tag = format!("sha256-{}", digest_of(image).hex());
    let mut index: serde_json::Value = serde_json::from_str(&run(Command::new(&crane).args([
        "manifest",
        "--insecure",
        &format!("{}/{repo}:{tag}", reg.host),
    ])))
    .unwrap();
    for entry in index["manifests"].as_array_mut().unwrap() {
        let at = |d: &str| format!("{}/{repo}@{d}", reg.host);
        let mut manifest: serde_json::Value = serde_json::from_str(&run(Command::new(&crane)
            .args([
                "manifest",
                "--insecure",
                &at(entry["digest"].as_str().unwrap()),
            ])))
        .unwrap();
        let layer = manifest["layers"][0]["digest"].as_str().unwrap().to_owned();
        let mut bundle: serde_json::Value =
            serde_json::from_str(&run(Command::new(&crane).args([
                "blob",
                "--insecure",
                &at(&layer),
            ])))
            .unwrap();
        let payload = b64
            .decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap())
            .unwrap();
        let mut st: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        let before = st.clone();
        edit(&mut st);
        if st == before {
            continue;
        }
        bundle["dsseEnvelope"]["payload"] = b64.encode(serde_json::to_vec(&st).unwrap()).into();
        let blob = serde_json::to_vec(&bundle).unwrap();
        upload_blob(reg, repo, &blob);
        manifest["layers"][0]["digest"] =
            release_gate::evidence::Digest::of(&blob).to_string().into();
        manifest["layers"][0]["size"] = blob.len().into();
        let body = serde_json::to_vec(&manifest).unwrap();
        let digest = release_gate::evidence::Digest::of(&body).to_string();
        put_manifest(
            reg,
            repo,
            &digest,
            &body,
            "application/vnd.oci.image.manifest.v1+json",
        );
        entry["digest"] = digest.into();
        entry["size"] = body.len().into();
    }
    put_manifest(
        reg,
        repo,
        &tag,
        &serde_json::to_vec(&index).unwrap(),
        "application/vnd.oci.image.index.v1+json",
    );
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn tampered_bundles_are_rejected() {
    let reg = Registry::start();
    let key = generate_key(&reg, "cosign");
    let image = reg.push_image("team/bundled-tampered", "v1");
    sign_and_attest_bundles(&reg, &key, &image, "trivy-report-critical.json");
    let before = verify(&reg, &key, &image, &ALL);
    assert_eq!(
        before.verdict.evidence.vulnerabilities.map(|v| v.critical),
        Some(1)
    );
    // Hide the criticals in the vulnerability statement, and point the signature statement at
    // another digest: each breaks its DSSE signature.
    tamper_bundles(&reg, "team/bundled-tampered", &image, |st| {
        if st["predicateType"] == "https://cosign.sigstore.dev/attestation/vuln/v1" {
            st["predicate"]["scanner"]["result"] =
                serde_json::json!({"SchemaVersion": 2, "Results": []});
        } else if st["predicateType"] == "https://sigstore.dev/cosign/sign/v1" {
            st["subject"][0]["digest"]["sha256"] = "0".repeat(64).into();
        }
    });
    let r = verify(&reg, &key, &image, &ALL);
    assert_eq!(r.verdict.problems.len(), 2, "{:#?}", r.verdict.problems);
    match &r.verdict.problems[0] {
        Problem::SignatureUntrusted { failures } => assert!(
            matches!(&failures[..], [SignatureFailure::UntrustedSigner { origin, .. }] if origin.starts_with("bundle sha256:")),
            "{failures:?}"
        ),
        p => panic!("expected SignatureUntrusted, got {p:?}"),
    }
    match &r.verdict.problems[1] {
        Problem::AttestationInvalid {
            predicate_type,
            failures,
        } => {
            assert_eq!(
                predicate_type,
                "https://cosign.sigstore.dev/attestation/vuln/v1"
            );
            assert!(
                matches!(&failures[..], [AttestationFailure::BadSignature { .. }]),
                "{failures:?}"
            );
        }
        p => panic!("expected AttestationInvalid/BadSignature, got {p:?}"),
    }
    // The untampered SBOM and provenance bundles still verify.
    assert_eq!(r.verdict.evidence.attestations.len(), 2);
}
