//! Keyless verification against real bundles signed by the public Sigstore instance (fixtures in
//! `e2e/fixtures/keyless/`, provenance in its README), fully offline: the trust root is a file and
//! nothing here opens a socket.

use base64::Engine as _;
use release_gate::evidence::{
    Artifact, KeylessError, KeylessIdentity, Matcher, TrustedRoot, VerifiedKeyless,
    keyless::verify_bundle,
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/e2e/fixtures/keyless");

/// The kubewarden-controller v1.34.0 release signature (cosign, bundle v0.3, DSSE, Rekor v1).
const KW_BUNDLE: &str = "kubewarden-controller.sigstore.json";
const KW_SUBJECT: &str = "https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0";
const KW_DIGEST: &str = "c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";
const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

fn read(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap()
}

fn root() -> TrustedRoot {
    TrustedRoot::from_file(format!("{FIXTURES}/trusted_root.json").as_ref()).unwrap()
}

fn digest(hex_digest: &str) -> Artifact<'static> {
    Artifact::Sha256(hex::decode(hex_digest).unwrap().try_into().unwrap())
}

fn exact(subject: &str, issuer: &str) -> KeylessIdentity {
    KeylessIdentity {
        subject: Matcher::Exact(subject.into()),
        issuer: Matcher::Exact(issuer.into()),
    }
}

fn verify_kw(
    bundle: &[u8],
    root: &TrustedRoot,
    id: &KeylessIdentity,
) -> Result<VerifiedKeyless, KeylessError> {
    verify_bundle(bundle, digest(KW_DIGEST), root, id)
}

#[test]
fn good_bundle_passes_with_the_exact_identity() {
    let v = verify_kw(&read(KW_BUNDLE), &root(), &exact(KW_SUBJECT, GITHUB_ISSUER)).unwrap();
    assert_eq!(v.subject, KW_SUBJECT);
    assert_eq!(v.issuer, GITHUB_ISSUER);
    assert_eq!(v.integrated_time, 1_775_719_409);
}

#[test]
fn good_bundle_passes_with_a_regex_identity() {
    let id = KeylessIdentity {
        subject: Matcher::regex(r"https://github\.com/kubewarden/.+@refs/tags/v.*").unwrap(),
        issuer: Matcher::regex(r"https://token\.actions\.githubusercontent\.com").unwrap(),
    };
    verify_kw(&read(KW_BUNDLE), &root(), &id).unwrap();
    // Anchored: a pattern matching only part of the subject does not pass.
    let partial = KeylessIdentity {
        subject: Matcher::regex("kubewarden").unwrap(),
        issuer: Matcher::Exact(GITHUB_ISSUER.into()),
    };
    assert!(matches!(
        verify_kw(&read(KW_BUNDLE), &root(), &partial),
        Err(KeylessError::WrongSubject { .. })
    ));
}

#[test]
fn wrong_subject_fails() {
    let id = exact(
        "https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.33.0",
        GITHUB_ISSUER,
    );
    let e = verify_kw(&read(KW_BUNDLE), &root(), &id).unwrap_err();
    assert!(matches!(e, KeylessError::WrongSubject { .. }), "{e}");
    assert!(e.to_string().contains(KW_SUBJECT), "{e}");
}

#[test]
fn wrong_issuer_fails() {
    let id = exact(KW_SUBJECT, "https://accounts.google.com");
    let e = verify_kw(&read(KW_BUNDLE), &root(), &id).unwrap_err();
    assert!(matches!(e, KeylessError::WrongIssuer { .. }), "{e}");
}

/// Flips one byte in the middle of the DSSE signature.
fn tamper_signature(bundle: &[u8]) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(bundle).unwrap();
    let sig = v["dsseEnvelope"]["signatures"][0]["sig"].as_str().unwrap();
    let mut raw = base64::engine::general_purpose::STANDARD
        .decode(sig)
        .unwrap();
    let mid = raw.len() / 2;
    raw[mid] ^= 0x01;
    v["dsseEnvelope"]["signatures"][0]["sig"] =
        base64::engine::general_purpose::STANDARD.encode(raw).into();
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn tampered_signature_fails() {
    let e = verify_kw(
        &tamper_signature(&read(KW_BUNDLE)),
        &root(),
        &exact(KW_SUBJECT, GITHUB_ISSUER),
    )
    .unwrap_err();
    assert!(matches!(e, KeylessError::BadSignature(_)), "{e}");
}

#[test]
fn tampered_artifact_fails() {
    let mut other = hex::decode(KW_DIGEST).unwrap();
    other[0] ^= 0xff;
    let e = verify_bundle(
        &read(KW_BUNDLE),
        digest(&hex::encode(other)),
        &root(),
        &exact(KW_SUBJECT, GITHUB_ISSUER),
    )
    .unwrap_err();
    assert!(matches!(e, KeylessError::ArtifactMismatch(_)), "{e}");
}

#[test]
fn trust_root_without_the_fulcio_ca_fails() {
    let mut v: serde_json::Value = serde_json::from_slice(&read("trusted_root.json")).unwrap();
    v["certificateAuthorities"] = serde_json::json!([]);
    let root = TrustedRoot::from_json("no-fulcio.json", &serde_json::to_vec(&v).unwrap()).unwrap();
    let e = verify_kw(&read(KW_BUNDLE), &root, &exact(KW_SUBJECT, GITHUB_ISSUER)).unwrap_err();
    assert!(matches!(e, KeylessError::UntrustedChain(_)), "{e}");
}

#[test]
fn tampered_log_entry_fails() {
    let mut v: serde_json::Value = serde_json::from_slice(&read(KW_BUNDLE)).unwrap();
    let t = &mut v["verificationMaterial"]["tlogEntries"][0]["integratedTime"];
    *t = "1775719410".into();
    let e = verify_kw(
        &serde_json::to_vec(&v).unwrap(),
        &root(),
        &exact(KW_SUBJECT, GITHUB_ISSUER),
    )
    .unwrap_err();
    assert!(matches!(e, KeylessError::TransparencyLog(_)), "{e}");

    let mut v: serde_json::Value = serde_json::from_slice(&read(KW_BUNDLE)).unwrap();
    let h = &mut v["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["hashes"][0];
    *h = base64::engine::general_purpose::STANDARD
        .encode([0u8; 32])
        .into();
    let e = verify_kw(
        &serde_json::to_vec(&v).unwrap(),
        &root(),
        &exact(KW_SUBJECT, GITHUB_ISSUER),
    )
    .unwrap_err();
    assert!(matches!(e, KeylessError::TransparencyLog(_)), "{e}");
}

#[test]
fn trust_root_without_the_rekor_key_fails() {
    let mut v: serde_json::Value = serde_json::from_slice(&read("trusted_root.json")).unwrap();
    v["tlogs"] = serde_json::json!([]);
    let root = TrustedRoot::from_json("no-rekor.json", &serde_json::to_vec(&v).unwrap()).unwrap();
    let e = verify_kw(&read(KW_BUNDLE), &root, &exact(KW_SUBJECT, GITHUB_ISSUER)).unwrap_err();
    assert!(matches!(e, KeylessError::TransparencyLog(_)), "{e}");
}

#[test]
fn garbage_bundle_is_malformed() {
    for bad in [&b"{"[..], b"{}", b"[1,2]"] {
        let e = verify_kw(bad, &root(), &exact(KW_SUBJECT, GITHUB_ISSUER)).unwrap_err();
        assert!(matches!(e, KeylessError::MalformedBundle(_)), "{e}");
    }
}

fn cli(args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_release-gate"))
        .arg("verify-bundle")
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn verify_bundle_cli() {
    let bundle = format!("{FIXTURES}/{KW_BUNDLE}");
    let root = format!("{FIXTURES}/trusted_root.json");
    let digest = format!("sha256:{KW_DIGEST}");
    let base = [
        "--bundle",
        &bundle,
        "--artifact-digest",
        &digest,
        "--trusted-root",
        &root,
    ];
    let (code, out) = cli(&[
        &base[..],
        &[
            "--certificate-identity",
            KW_SUBJECT,
            "--certificate-oidc-issuer",
            GITHUB_ISSUER,
        ],
    ]
    .concat());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("VERIFIED"), "{out}");

    let (code, out) = cli(&[
        &base[..],
        &[
            "--certificate-identity-regexp",
            "https://github.com/someone-else/.*",
            "--certificate-oidc-issuer-regexp",
            ".*",
        ],
    ]
    .concat());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("wrong_subject"), "{out}");

    // A trust root without an identity would trust any signer: refused.
    let (code, out) = cli(&[&base[..], &["--certificate-identity", KW_SUBJECT]].concat());
    assert_eq!(code, 2, "{out}");
}

/// The registry path: a `.sig` layer with a certificate goes to the keyless authorities, never
/// to the trusted keys, and is reported with its reason.
#[test]
fn keyless_signature_layers_are_routed_to_keyless_authorities() {
    use release_gate::evidence::keyless::KeylessAuthority;
    use release_gate::evidence::verify::{Problem, SignatureArtifact, SignatureFailure, verify};
    use release_gate::evidence::{Artifacts, Digest, Requirements, TrustPolicy};

    let digest = Digest::of(b"image");
    let layer = SignatureArtifact {
        origin: "sig[0]".into(),
        payload: b"{}".to_vec(),
        signature: "AAAA".into(),
        certificate: Some("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into()),
        rekor_bundle: Some("{}".into()),
    };
    let artifacts = Artifacts {
        signatures: vec![layer],
        attestations: vec![],
        ..Default::default()
    };
    let failure = |trust: &TrustPolicy| {
        let v = verify(&digest, &artifacts, trust, &Requirements::default());
        match v.problems.as_slice() {
            [Problem::SignatureUntrusted { failures }] => failures[0].clone(),
            other => panic!("{other:?}"),
        }
    };
    assert!(matches!(
        failure(&TrustPolicy::default()),
        SignatureFailure::UntrustedSigner { .. }
    ));
    let trust = TrustPolicy {
        keyless: vec![KeylessAuthority {
            root: std::sync::Arc::new(root()),
            identity: exact(KW_SUBJECT, GITHUB_ISSUER),
        }],
        ..Default::default()
    };
    let f = failure(&trust);
    assert!(matches!(f, SignatureFailure::KeylessRejected { .. }), "{f}");
}

/// sigstore-conformance `dsse-with-hashedrekord-happy-path`: a DSSE bundle whose Rekor entry is
/// a hashedrekord over the PAE (exercises the hashedrekord consistency check).
const CONF_BUNDLE: &str = "conformance-dsse-with-hashedrekord.sigstore.json";
const CONF_SUBJECT: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const CONF_DIGEST: &str = "70ed0277251d0cf2eb5eda8b574ce012de485e39a3de1fb4b1e0717e14b02d6a";

#[test]
fn conformance_hashedrekord_over_dsse_passes_and_fails_as_it_should() {
    let bundle = read(CONF_BUNDLE);
    let id = exact(CONF_SUBJECT, GITHUB_ISSUER);
    let v = verify_bundle(&bundle, digest(CONF_DIGEST), &root(), &id).unwrap();
    assert_eq!(v.subject, CONF_SUBJECT);
    assert_eq!(v.integrated_time, 1_778_701_653);

    let e = verify_bundle(&bundle, digest(KW_DIGEST), &root(), &id).unwrap_err();
    assert!(matches!(e, KeylessError::ArtifactMismatch(_)), "{e}");
    let e = verify_bundle(
        &tamper_signature(&bundle),
        digest(CONF_DIGEST),
        &root(),
        &id,
    )
    .unwrap_err();
    assert!(matches!(e, KeylessError::BadSignature(_)), "{e}");
    let e = verify_bundle(
        &bundle,
        digest(CONF_DIGEST),
        &root(),
        &exact(KW_SUBJECT, GITHUB_ISSUER),
    )
    .unwrap_err();
    assert!(matches!(e, KeylessError::WrongSubject { .. }), "{e}");
}
