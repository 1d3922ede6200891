//! Issue 9 items 4 and 6 end to end: Sigstore bundles found through the OCI 1.1 referrers API
//! (olareg) and through the referrers tag schema (docker-registry 2.8, which lacks the API), keyed
//! and keyless, and cosign's keyless `.att` layers, all made by the real `cosign` and read by the
//! verifier from the real registries.
//!
//! Keyless material: the public Fulcio and Rekor cannot certify a throwaway image, so a private
//! Sigstore (`evidence_support/sigstore.rs`) issues the certificate for a key imported into
//! cosign and logs what cosign signed (`--tlog-upload=false`): cosign signs with `--certificate`,
//! the test adds the Rekor entry the log would have returned, in its format. `cosign sign-blob`
//! takes no certificate, so a keyless message signature is cosign's keyed bundle with the
//! certificate put in as the verification material. Run with `make test` (tools on PATH).

mod evidence_support;

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use evidence_support::oci::*;
use evidence_support::sigstore::{self, IDENTITY, Key, Sigstore, cert_pem};
use evidence_support::*;
use release_gate::evidence::keyless::KeylessAuthority;
use release_gate::evidence::verify::{AttestationFailure, SignatureFailure};
use release_gate::evidence::{
    KeylessIdentity, Matcher, Problem, RegistryConfig, Report, Requirements, TrustPolicy,
    TrustedKey, Verifier,
};

const ALL: [&str; 3] = ["cyclonedx", "slsaprovenance", "vuln"];

fn predicate_type(kind: &str) -> &'static str {
    match kind {
        "cyclonedx" => "https://cyclonedx.org/bom",
        "slsaprovenance" => "https://slsa.dev/provenance/v0.2",
        "vuln" => "https://cosign.sigstore.dev/attestation/vuln/v1",
        other => panic!("no predicate type for {other}"),
    }
}

fn predicate(reg: &Registry, kind: &str) -> PathBuf {
    match kind {
        "cyclonedx" => fixture("sbom.cdx.json"),
        "slsaprovenance" => fixture("slsa-provenance-v02.json"),
        "vuln" => cosign_vuln_predicate(reg, "trivy-report.json"),
        other => panic!("no predicate for {other}"),
    }
}

/// The two ways a bundle is found: olareg's referrers API, docker-registry's tag schema.
fn registries() -> [Registry; 2] {
    [Registry::start_olareg(), Registry::start()]
}

/// What the origin of evidence found on `reg` names.
fn listing(reg: &Registry) -> &'static str {
    if reg.referrers_api {
        "(referrers API)"
    } else {
        "(referrers tag sha256-"
    }
}

fn require(names: &[&str]) -> Requirements {
    Requirements::new(&names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
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

fn key_trust(public: &Path) -> TrustPolicy {
    TrustPolicy {
        keys: vec![TrustedKey::from_pem("cosign.pub", &std::fs::read(public).unwrap()).unwrap()],
        ..Default::default()
    }
}

fn keyless_trust(s: &Sigstore, subject: &str, issuer: &str) -> TrustPolicy {
    let root = s.root_json();
    TrustPolicy {
        keyless: vec![KeylessAuthority {
            root: std::sync::Arc::new(
                release_gate::evidence::TrustedRoot::from_json("private sigstore", root.as_bytes())
                    .unwrap(),
            ),
            identity: KeylessIdentity {
                subject: Matcher::Exact(subject.into()),
                issuer: Matcher::Exact(issuer.into()),
            },
        }],
        ..Default::default()
    }
}

fn good_keyless(s: &Sigstore) -> TrustPolicy {
    keyless_trust(s, sigstore::SUBJECT, sigstore::ISSUER)
}

fn repo_of(image: &str) -> String {
    let (_, rest) = image.split_once('/').unwrap();
    rest.split('@').next().unwrap().to_owned()
}

fn all_origins(r: &Report) -> Vec<&str> {
    let e = &r.verdict.evidence;
    e.signatures
        .iter()
        .map(|s| s.origin.as_str())
        .chain(e.attestations.iter().map(|a| a.origin.as_str()))
        .collect()
}

fn assert_accepted(r: &Report, signer: &str, origin: &str) {
    assert!(r.verdict.is_accepted(), "{:?}", r.verdict.problems);
    assert!(!r.verdict.evidence.signatures.is_empty());
    for s in &r.verdict.evidence.signatures {
        assert!(s.signer.contains(signer), "{}", s.signer);
    }
    for a in &r.verdict.evidence.attestations {
        assert!(a.signer.contains(signer), "{}", a.signer);
    }
    for o in all_origins(r) {
        assert!(o.contains(origin), "{o} was not found through {origin}");
    }
}

/// Every reason a verdict gives, flattened (signature and attestation failures).
fn reasons(r: &Report) -> Vec<String> {
    r.verdict
        .problems
        .iter()
        .flat_map(|p| match p {
            Problem::SignatureUntrusted { failures } => {
                failures.iter().map(SignatureFailure::to_string).collect()
            }
            Problem::AttestationInvalid { failures, .. } => {
                failures.iter().map(AttestationFailure::to_string).collect()
            }
            other => vec![format!("{other:?}")],
        })
        .collect()
}

/// A rejection in which the signature and every required attestation fail for `why`.
fn assert_rejected_for(r: &Report, required: usize, why: &str) {
    assert!(!r.verdict.is_accepted());
    let invalid = r
        .verdict
        .problems
        .iter()
        .filter(|p| matches!(p, Problem::AttestationInvalid { .. }))
        .count();
    assert_eq!(invalid, required, "{:?}", r.verdict.problems);
    assert!(
        r.verdict
            .problems
            .iter()
            .any(|p| matches!(p, Problem::SignatureUntrusted { .. })),
        "{:?}",
        r.verdict.problems
    );
    for reason in reasons(r) {
        assert!(reason.contains(why), "expected '{why}' in: {reason}");
    }
}

// ---------------------------------------------------------------------------------------------
// Keyed

#[test]
#[ignore = "needs the real test bed: make test"]
fn keyed_bundles_through_the_referrers_api_and_the_tag_fallback() {
    for reg in registries() {
        let key = generate_key(&reg, "cosign");
        let image = reg.push_image("team/app", "v1");
        sign_bundle(&reg, &key, &image);
        for kind in ALL {
            attest_bundle(&reg, &key, &image, kind, &predicate(&reg, kind));
        }
        let r = verify_with(&reg, key_trust(&key.public), &image, &require(&ALL));
        assert_accepted(&r, "cosign.pub", listing(&reg));
        assert_eq!(r.verdict.evidence.attestations.len(), 3);

        // Another key's bundles, through the same listing, are not this key's evidence.
        let other = generate_key(&reg, "other");
        let r = verify_with(&reg, key_trust(&other.public), &image, &require(&ALL));
        assert_rejected_for(&r, 3, "does not verify with any trusted key");
    }
}

/// A registry without the referrers API is asked for it once: the same client's later
/// verifications go straight to the referrers tag and still find every bundle there. A registry
/// with the API is asked every time, even after a repository it does not know.
#[test]
#[ignore = "needs the real test bed: make test"]
fn a_missing_referrers_api_is_asked_for_once() {
    for reg in registries() {
        let key = generate_key(&reg, "cosign");
        let images: Vec<String> = (0..3)
            .map(|i| {
                let image = reg.push_image("team/app", &format!("v{i}"));
                sign_bundle(&reg, &key, &image);
                attest_bundle(
                    &reg,
                    &key,
                    &image,
                    "cyclonedx",
                    &predicate(&reg, "cyclonedx"),
                );
                image
            })
            .collect();
        let v = Verifier::new(
            RegistryConfig {
                insecure: vec![reg.host.clone()],
                ..Default::default()
            },
            key_trust(&key.public),
        )
        .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let unknown = format!("{}/team/unknown@{}", reg.host, digest_of(&images[0]));
        let r = rt.block_on(v.verify(&unknown, &require(&[]))).unwrap();
        assert!(!r.verdict.is_accepted());
        for image in &images {
            let r = rt
                .block_on(v.verify(image, &require(&["cyclonedx"])))
                .unwrap();
            assert_accepted(&r, "cosign.pub", listing(&reg));
        }
        if !reg.referrers_api {
            let asked: Vec<String> = reg
                .access_log()
                .lines()
                .filter(|l| l.contains("/referrers/") && l.contains("release-gate/"))
                .map(str::to_owned)
                .collect();
            assert_eq!(asked.len(), 1, "{asked:#?}");
        }
    }
}

/// `cosign sign-blob --new-bundle-format` over the image manifest, attached as a referrer: a
/// message signature, verified over the manifest bytes.
#[test]
#[ignore = "needs the real test bed: make test"]
fn keyed_message_signature_bundles_through_both_listings() {
    for reg in registries() {
        let key = generate_key(&reg, "cosign");
        let image = reg.push_image("team/app", "v1");
        let manifest = manifest_bytes(&reg, &image);
        let bundle = sign_manifest_blob(&reg, &key.key, &manifest, "sig");
        let b: serde_json::Value = serde_json::from_slice(&bundle).unwrap();
        assert!(b.get("messageSignature").is_some(), "{b}");
        push_bundle_referrer(
            &reg,
            &repo_of(&image),
            &digest_of(&image),
            manifest.len(),
            &bundle,
            None,
        );
        let r = verify_with(&reg, key_trust(&key.public), &image, &require(&[]));
        assert_accepted(&r, "cosign.pub", listing(&reg));

        let other = generate_key(&reg, "other");
        let r = verify_with(&reg, key_trust(&other.public), &image, &require(&[]));
        assert_rejected_for(&r, 0, "does not verify with any trusted key");

        // The same genuine signature attached to another image is not that image's.
        let copy = reg.push_image("team/app", "v2");
        let copy_manifest = manifest_bytes(&reg, &copy);
        push_bundle_referrer(
            &reg,
            &repo_of(&copy),
            &digest_of(&copy),
            copy_manifest.len(),
            &bundle,
            None,
        );
        let r = verify_with(&reg, key_trust(&key.public), &copy, &require(&[]));
        assert_rejected_for(&r, 0, "not this image");
    }
}

// ---------------------------------------------------------------------------------------------
// Keyless

/// A keyless signer: a key imported into cosign and the private Fulcio's certificate for it.
struct KeylessSigner {
    cosign: KeyPair,
    leaf: Vec<u8>,
    leaf_pem: PathBuf,
    ca_pem: PathBuf,
}

fn keyless_signer(reg: &Registry, s: &Sigstore, name: &str) -> KeylessSigner {
    let key = Key::new();
    let pkcs8 = reg.path(&format!("{name}.pkcs8.pem"));
    std::fs::write(&pkcs8, key.pkcs8_pem()).unwrap();
    let prefix = reg.path(name);
    run(cosign(reg)
        .args(["import-key-pair", "--key"])
        .arg(&pkcs8)
        .arg("--output-key-prefix")
        .arg(&prefix));
    let leaf = s.leaf(&key.rcgen(), &IDENTITY);
    let (leaf_pem, ca_pem) = (
        reg.path(&format!("{name}.crt")),
        reg.path(&format!("{name}-ca.crt")),
    );
    std::fs::write(&leaf_pem, cert_pem(&leaf)).unwrap();
    std::fs::write(&ca_pem, cert_pem(&s.ca_der)).unwrap();
    KeylessSigner {
        cosign: KeyPair {
            key: prefix.with_extension("key"),
            public: prefix.with_extension("pub"),
        },
        leaf,
        leaf_pem,
        ca_pem,
    }
}

fn write_manifest(reg: &Registry, manifest: &[u8]) -> PathBuf {
    let f = reg.path(&format!("manifest-{}.json", &digest_hex(manifest)[..12]));
    std::fs::write(&f, manifest).unwrap();
    f
}

fn digest_hex(bytes: &[u8]) -> String {
    release_gate::evidence::Digest::of(bytes).hex().to_owned()
}

/// `cosign sign-blob --new-bundle-format` of the manifest file: a keyed message-signature bundle.
fn sign_manifest_blob(reg: &Registry, key: &Path, manifest: &[u8], name: &str) -> Vec<u8> {
    let file = write_manifest(reg, manifest);
    let out = reg.path(&format!("{name}-{}.sigstore.json", unique_name()));
    run(cosign(reg)
        .args([
            "sign-blob",
            "--yes",
            "--new-bundle-format",
            "--tlog-upload=false",
            "--key",
        ])
        .arg(key)
        .arg("--bundle")
        .arg(&out)
        .arg(&file));
    std::fs::read(out).unwrap()
}

fn unique_name() -> String {
    format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// `cosign attest-blob --new-bundle-format --certificate …` of the manifest file (its in-toto
/// subject is the image digest), logged by the private Rekor.
fn keyless_attest_bundle(
    reg: &Registry,
    s: &Sigstore,
    by: &KeylessSigner,
    manifest: &[u8],
    kind: &str,
) -> Vec<u8> {
    let file = write_manifest(reg, manifest);
    let out = reg.path(&format!("{kind}-{}.sigstore.json", unique_name()));
    run(cosign(reg)
        .args([
            "attest-blob",
            "--yes",
            "--new-bundle-format",
            "--tlog-upload=false",
            "--key",
        ])
        .arg(&by.cosign.key)
        .arg("--certificate")
        .arg(&by.leaf_pem)
        .arg("--certificate-chain")
        .arg(&by.ca_pem)
        .args(["--type", kind, "--predicate"])
        .arg(predicate(reg, kind))
        .arg("--bundle")
        .arg(&out)
        .arg(&file));
    let bundle = std::fs::read(out).unwrap();
    let b: serde_json::Value = serde_json::from_slice(&bundle).unwrap();
    assert!(
        b["verificationMaterial"]["certificate"].is_object(),
        "cosign did not put the certificate in the bundle: {b}"
    );
    s.log_bundle(&bundle)
}

/// A keyless message signature of the manifest: cosign's signature, the certificate as the
/// verification material, logged by the private Rekor.
fn keyless_sign_bundle(
    reg: &Registry,
    s: &Sigstore,
    by: &KeylessSigner,
    manifest: &[u8],
) -> Vec<u8> {
    let mut b: serde_json::Value = serde_json::from_slice(&sign_manifest_blob(
        reg,
        &by.cosign.key,
        manifest,
        "keyless-sig",
    ))
    .unwrap();
    b["verificationMaterial"] =
        serde_json::json!({"certificate": {"rawBytes": B64.encode(&by.leaf)}});
    s.log_bundle(&serde_json::to_vec(&b).unwrap())
}

/// Attaches a keyless signature and the three attestations to `image`; returns the bundles.
fn attach_keyless(
    reg: &Registry,
    s: &Sigstore,
    by: &KeylessSigner,
    image: &str,
) -> Vec<(Vec<u8>, Option<&'static str>)> {
    let manifest = manifest_bytes(reg, image);
    let mut bundles = vec![(keyless_sign_bundle(reg, s, by, &manifest), None)];
    for kind in ALL {
        bundles.push((
            keyless_attest_bundle(reg, s, by, &manifest, kind),
            Some(predicate_type(kind)),
        ));
    }
    for (b, t) in &bundles {
        push_bundle_referrer(
            reg,
            &repo_of(image),
            &digest_of(image),
            manifest.len(),
            b,
            *t,
        );
    }
    bundles
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn keyless_bundles_through_the_referrers_api_and_the_tag_fallback() {
    for reg in registries() {
        let s = Sigstore::new();
        let by = keyless_signer(&reg, &s, "keyless");
        let image = reg.push_image("team/app", "v1");
        let bundles = attach_keyless(&reg, &s, &by, &image);

        let r = verify_with(&reg, good_keyless(&s), &image, &require(&ALL));
        assert_accepted(&r, sigstore::SUBJECT, listing(&reg));
        assert_eq!(r.verdict.evidence.attestations.len(), 3);

        // Wrong identity, wrong issuer: the signature and all three attestations fail.
        let other = "https://github.com/team/other/.github/workflows/release.yml@refs/heads/main";
        let r = verify_with(
            &reg,
            keyless_trust(&s, other, sigstore::ISSUER),
            &image,
            &require(&ALL),
        );
        assert_rejected_for(&r, 3, "does not match the required identity");
        let r = verify_with(
            &reg,
            keyless_trust(&s, sigstore::SUBJECT, "https://accounts.google.com"),
            &image,
            &require(&ALL),
        );
        assert_rejected_for(&r, 3, "does not match the required issuer");
        // Another Sigstore's root (its CA and log): nothing here chains to it.
        let r = verify_with(&reg, good_keyless(&Sigstore::new()), &image, &require(&ALL));
        assert_rejected_for(&r, 3, "transparency log check failed");
        // The signing key alone, as a trusted key: a keyless bundle needs a keyless identity.
        let r = verify_with(&reg, key_trust(&by.cosign.public), &image, &require(&ALL));
        assert_rejected_for(&r, 3, "needs a keyless identity");

        // The same genuine bundles attached to another image: copied, not that image's.
        let copy = reg.push_image("team/app", "v2");
        let copy_manifest = manifest_bytes(&reg, &copy);
        for (b, t) in &bundles {
            push_bundle_referrer(
                &reg,
                &repo_of(&copy),
                &digest_of(&copy),
                copy_manifest.len(),
                b,
                *t,
            );
        }
        let r = verify_with(&reg, good_keyless(&s), &copy, &require(&ALL));
        assert!(!r.verdict.is_accepted());
        let why = reasons(&r);
        assert_eq!(why.len(), 4, "{why:?}");
        assert!(
            why.iter()
                .all(|w| w.contains("not this image") || w.contains("not about this artifact")),
            "{why:?}"
        );

        // Tampered after logging: the provenance's builder rewritten in the signed payload.
        let tampered = reg.push_image("team/app", "v3");
        let manifest = manifest_bytes(&reg, &tampered);
        let good = keyless_attest_bundle(&reg, &s, &by, &manifest, "slsaprovenance");
        let mut b: serde_json::Value = serde_json::from_slice(&good).unwrap();
        let payload = B64
            .decode(b["dsseEnvelope"]["payload"].as_str().unwrap())
            .unwrap();
        let payload = String::from_utf8(payload)
            .unwrap()
            .replace("slsa-github-generator", "evil-builder");
        b["dsseEnvelope"]["payload"] = B64.encode(payload).into();
        let signature = keyless_sign_bundle(&reg, &s, &by, &manifest);
        let repo = repo_of(&tampered);
        push_bundle_referrer(
            &reg,
            &repo,
            &digest_of(&tampered),
            manifest.len(),
            &signature,
            None,
        );
        push_bundle_referrer(
            &reg,
            &repo,
            &digest_of(&tampered),
            manifest.len(),
            &serde_json::to_vec(&b).unwrap(),
            Some(predicate_type("slsaprovenance")),
        );
        let r = verify_with(
            &reg,
            good_keyless(&s),
            &tampered,
            &require(&["slsaprovenance"]),
        );
        match r.verdict.problems.as_slice() {
            [Problem::AttestationInvalid { failures, .. }] => assert!(
                matches!(&failures[..], [AttestationFailure::KeylessRejected { why, .. }] if why.contains("signature does not verify")),
                "{failures:?}"
            ),
            other => panic!("{other:?}"),
        }
    }
}

/// cosign's keyless `.att` layers (certificate and Rekor bundle annotations): verified by the
/// keyless verifier, never by keys.
#[test]
#[ignore = "needs the real test bed: make test"]
fn keyless_att_layers_are_verified_keyless() {
    for reg in registries() {
        let s = Sigstore::new();
        let by = keyless_signer(&reg, &s, "keyless");
        let image = reg.push_image("team/app", "v1");
        let manifest = manifest_bytes(&reg, &image);
        push_bundle_referrer(
            &reg,
            &repo_of(&image),
            &digest_of(&image),
            manifest.len(),
            &keyless_sign_bundle(&reg, &s, &by, &manifest),
            None,
        );
        run(cosign(&reg)
            .args([
                "attest",
                "--yes",
                "--tlog-upload=false",
                "--allow-insecure-registry",
                "--key",
            ])
            .arg(&by.cosign.key)
            .arg("--certificate")
            .arg(&by.leaf_pem)
            .arg("--certificate-chain")
            .arg(&by.ca_pem)
            .args(["--type", "slsaprovenance", "--predicate"])
            .arg(fixture("slsa-provenance-v02.json"))
            .arg(&image));
        let req = require(&["slsaprovenance"]);

        // As cosign left it without a log: the certificate but no Rekor entry.
        let r = verify_with(&reg, good_keyless(&s), &image, &req);
        match r.verdict.problems.as_slice() {
            [Problem::AttestationInvalid { failures, .. }] => assert!(
                matches!(&failures[..], [AttestationFailure::Malformed { why, .. }] if why.contains("dev.sigstore.cosign/bundle")),
                "{failures:?}"
            ),
            other => panic!("{other:?}"),
        }

        // What Rekor would have returned, added as cosign adds it.
        let repo = repo_of(&image);
        let tag = format!("sha256-{}.att", digest_of(&image).hex());
        let att: serde_json::Value = serde_json::from_slice(
            &reg.crane()
                .args([
                    "manifest",
                    "--insecure",
                    &format!("{}/{repo}:{tag}", reg.host),
                ])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        let layer = &att["layers"][0];
        assert!(
            layer["annotations"]["dev.sigstore.cosign/certificate"].is_string(),
            "{att}"
        );
        let envelope = reg
            .crane()
            .args([
                "blob",
                "--insecure",
                &format!("{}/{repo}@{}", reg.host, layer["digest"].as_str().unwrap()),
            ])
            .output()
            .unwrap()
            .stdout;
        let env: serde_json::Value = serde_json::from_slice(&envelope).unwrap();
        let payload = B64.decode(env["payload"].as_str().unwrap()).unwrap();
        let sig = B64
            .decode(env["signatures"][0]["sig"].as_str().unwrap())
            .unwrap();
        let annotation =
            s.cosign_annotation(&sigstore::dsse_body(&envelope, &payload, &sig, &by.leaf));
        edit_manifest(&reg, &repo, &tag, |m| {
            m["layers"][0]["annotations"]["dev.sigstore.cosign/bundle"] = annotation.clone().into();
        });

        let r = verify_with(&reg, good_keyless(&s), &image, &req);
        assert!(r.verdict.is_accepted(), "{:?}", r.verdict.problems);
        let [a] = r.verdict.evidence.attestations.as_slice() else {
            panic!("{:?}", r.verdict.evidence)
        };
        assert!(a.origin.contains(".att"), "{}", a.origin);
        assert!(a.signer.contains(sigstore::SUBJECT), "{}", a.signer);

        // The key that made the signature, trusted as a key, does not verify a keyless layer.
        let r = verify_with(&reg, key_trust(&by.cosign.public), &image, &req);
        assert_rejected_for(&r, 1, "needs a keyless identity");
        let other = "https://github.com/team/other/.github/workflows/release.yml@refs/heads/main";
        let r = verify_with(
            &reg,
            keyless_trust(&s, other, sigstore::ISSUER),
            &image,
            &req,
        );
        assert_rejected_for(&r, 1, "does not match the required identity");
        let r = verify_with(
            &reg,
            keyless_trust(&s, sigstore::SUBJECT, "https://accounts.google.com"),
            &image,
            &req,
        );
        assert_rejected_for(&r, 1, "does not match the required issuer");
    }
}
