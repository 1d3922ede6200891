//! Issue 9 item 4, at the verification core (no registry): keyless attestations (cosign `.att`
//! layers with a certificate, and referrer bundles with one) go through the keyless verifier,
//! never the trusted keys; message-signature bundles are signatures over the image manifest,
//! keyed or keyless. Each check has a negative: wrong identity, wrong issuer, an untrusted CA,
//! a tampered payload, another image's digest, a missing log entry. The private Sigstore is in
//! `evidence_support/sigstore.rs`; the end-to-end versions (real cosign, real registries) are in
//! `evidence_referrers_e2e.rs`.

mod evidence_support;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use evidence_support::sigstore::{self, IDENTITY, Identity, Key, Sigstore, cert_pem};
use release_gate::evidence::keyless::KeylessAuthority;
use release_gate::evidence::verify::{
    AttestationArtifact, AttestationFailure, KeylessMaterial, MessageSignatureArtifact,
    SignatureFailure, verify,
};
use release_gate::evidence::{
    Artifacts, Digest, KeylessIdentity, Matcher, Problem, Requirements, TrustPolicy, TrustedKey,
    Verdict,
};
use sha2::{Digest as _, Sha256};

const SLSA: &str = "https://slsa.dev/provenance/v0.2";
const MANIFEST: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#;

fn image() -> Digest {
    Digest::of(MANIFEST)
}

fn provenance() -> serde_json::Value {
    serde_json::from_slice(
        &std::fs::read(evidence_support::fixture("slsa-provenance-v02.json")).unwrap(),
    )
    .unwrap()
}

fn statement(about: &Digest) -> Vec<u8> {
    serde_json::json!({"_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "team/app", "digest": {"sha256": about.hex()}}],
        "predicateType": SLSA, "predicate": provenance()})
    .to_string()
    .into_bytes()
}

/// A signer with a Fulcio-style certificate for `id`.
struct Signer {
    key: Key,
    leaf: Vec<u8>,
}

fn signer(s: &Sigstore, id: &Identity<'_>) -> Signer {
    let key = Key::new();
    let leaf = s.leaf(&key.rcgen(), id);
    Signer { key, leaf }
}

fn pae(payload: &[u8]) -> Vec<u8> {
    release_gate::evidence::dsse::pae(release_gate::evidence::dsse::IN_TOTO_PAYLOAD_TYPE, payload)
}

/// The DSSE envelope (JSON) of `payload` signed by `by`, and the signature.
fn envelope(by: &Key, payload: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let sig = by.sign(&pae(payload));
    let env = serde_json::json!({"payloadType": "application/vnd.in-toto+json",
        "payload": B64.encode(payload), "signatures": [{"keyid": "", "sig": B64.encode(&sig)}]});
    (serde_json::to_vec(&env).unwrap(), sig)
}

/// What `cosign attest` writes for a keyless attestation: the envelope layer, the certificate
/// annotation and the Rekor bundle annotation of its `dsse` entry.
fn att_layer(s: &Sigstore, by: &Signer, payload: &[u8]) -> AttestationArtifact {
    let (env, sig) = envelope(&by.key, payload);
    let body = sigstore::dsse_body(&env, payload, &sig, &by.leaf);
    AttestationArtifact {
        origin: "attestation sha256-….att[0]".into(),
        annotated_predicate_type: Some(SLSA.into()),
        envelope: env,
        keyless: Some(KeylessMaterial::CosignLayer {
            certificate: cert_pem(&by.leaf),
            rekor_bundle: Some(s.cosign_annotation(&body)),
        }),
    }
}

/// A keyless bundle v0.3 of `payload` (certificate, DSSE envelope, `dsse` Rekor entry).
fn dsse_bundle(s: &Sigstore, by: &Signer, payload: &[u8]) -> Vec<u8> {
    let (env, _) = envelope(&by.key, payload);
    let b = serde_json::json!({"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"certificate": {"rawBytes": B64.encode(&by.leaf)}},
        "dsseEnvelope": serde_json::from_slice::<serde_json::Value>(&env).unwrap()});
    s.log_bundle(&serde_json::to_vec(&b).unwrap())
}

/// A referrer bundle as `fetch` hands it to `verify`.
fn bundle_artifact(bundle: &[u8]) -> AttestationArtifact {
    let b: serde_json::Value = serde_json::from_slice(bundle).unwrap();
    AttestationArtifact {
        origin: "bundle sha256:…[0] (referrers API)".into(),
        annotated_predicate_type: Some(SLSA.into()),
        envelope: serde_json::to_vec(&b["dsseEnvelope"]).unwrap(),
        keyless: Some(KeylessMaterial::Bundle(bundle.to_vec())),
    }
}

fn keyless_trust(s: &Sigstore, subject: &str, issuer: &str) -> TrustPolicy {
    TrustPolicy {
        keyless: vec![KeylessAuthority {
            root: Arc::new(s.root()),
            identity: KeylessIdentity {
                subject: Matcher::Exact(subject.into()),
                issuer: Matcher::Exact(issuer.into()),
            },
        }],
        ..Default::default()
    }
}

fn good_trust(s: &Sigstore) -> TrustPolicy {
    keyless_trust(s, sigstore::SUBJECT, sigstore::ISSUER)
}

fn require_slsa() -> Requirements {
    Requirements::new(&["slsaprovenance".to_owned()])
}

fn check(a: AttestationArtifact, trust: &TrustPolicy, about: &Digest) -> Verdict {
    let artifacts = Artifacts {
        attestations: vec![a],
        ..Default::default()
    };
    verify(about, &artifacts, trust, &require_slsa())
}

/// The one attestation failure of a verdict (there is no signature in these: `Unsigned` aside).
fn attestation_failure(v: &Verdict) -> AttestationFailure {
    let failures: Vec<_> = v
        .problems
        .iter()
        .filter_map(|p| match p {
            Problem::AttestationInvalid { failures, .. } => Some(failures.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    match failures.as_slice() {
        [f] => f.clone(),
        _ => panic!("expected one attestation failure: {:?}", v.problems),
    }
}

fn assert_verified(v: &Verdict) {
    assert!(
        v.problems.iter().all(|p| matches!(p, Problem::Unsigned)),
        "{:?}",
        v.problems
    );
    let [a] = v.evidence.attestations.as_slice() else {
        panic!("{:?}", v.evidence)
    };
    assert_eq!(a.predicate_type, SLSA);
    assert!(a.signer.contains(sigstore::SUBJECT), "{}", a.signer);
    assert!(v.evidence.provenance.is_some());
}

/// Both keyless forms, built for `payload` by `by`.
fn both_forms(s: &Sigstore, by: &Signer, payload: &[u8]) -> [AttestationArtifact; 2] {
    [
        att_layer(s, by, payload),
        bundle_artifact(&dsse_bundle(s, by, payload)),
    ]
}

#[test]
fn keyless_att_layers_and_bundles_are_verified_keyless() {
    let s = Sigstore::new();
    let by = signer(&s, &IDENTITY);
    for a in both_forms(&s, &by, &statement(&image())) {
        assert_verified(&check(a, &good_trust(&s), &image()));
    }
}

/// A trusted key does not stand in for a keyless identity, even when the same key made the
/// signature: the certificate says who must have signed, and only a keyless authority checks it.
#[test]
fn trusted_keys_do_not_verify_keyless_attestations() {
    let s = Sigstore::new();
    let by = signer(&s, &IDENTITY);
    let keys_only = TrustPolicy {
        keys: vec![
            TrustedKey::from_pem(
                "leaf.pub",
                sigstore::pem("PUBLIC KEY", &by.key.spki()).as_bytes(),
            )
            .unwrap(),
        ],
        ..Default::default()
    };
    for a in both_forms(&s, &by, &statement(&image())) {
        let f = attestation_failure(&check(a, &keys_only, &image()));
        assert!(
            matches!(&f, AttestationFailure::BadSignature { keys, .. } if keys.contains("needs a keyless identity")),
            "{f}"
        );
    }
}

#[test]
fn keyless_attestations_need_the_right_identity_and_issuer() {
    let s = Sigstore::new();
    let by = signer(&s, &IDENTITY);
    let cases = [
        (
            keyless_trust(
                &s,
                "https://github.com/team/other/.github/workflows/release.yml@refs/heads/main",
                sigstore::ISSUER,
            ),
            "does not match the required identity",
        ),
        (
            keyless_trust(&s, sigstore::SUBJECT, "https://accounts.google.com"),
            "does not match the required issuer",
        ),
        // The same identity certified by another CA and logged by another log.
        (
            good_trust(&Sigstore::new()),
            "transparency log check failed",
        ),
    ];
    for (trust, why) in cases {
        for a in both_forms(&s, &by, &statement(&image())) {
            let f = attestation_failure(&check(a, &trust, &image()));
            assert!(
                matches!(&f, AttestationFailure::KeylessRejected { why: w, .. } if w.contains(why)),
                "expected '{why}': {f}"
            );
        }
    }
    // A CA that is not in the trust root: the log entry is genuine, the chain is not.
    let rogue = Sigstore::new();
    let forged = signer(&rogue, &IDENTITY);
    let a = bundle_artifact(&{
        let (env, _) = envelope(&forged.key, &statement(&image()));
        let b = serde_json::json!({"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {"certificate": {"rawBytes": B64.encode(&forged.leaf)}},
            "dsseEnvelope": serde_json::from_slice::<serde_json::Value>(&env).unwrap()});
        s.log_bundle(&serde_json::to_vec(&b).unwrap())
    });
    let f = attestation_failure(&check(a, &good_trust(&s), &image()));
    assert!(
        matches!(&f, AttestationFailure::KeylessRejected { why, .. } if why.contains("not issued by a trusted Fulcio CA")),
        "{f}"
    );
}

#[test]
fn keyless_attestations_for_another_image_or_tampered_are_rejected() {
    let s = Sigstore::new();
    let by = signer(&s, &IDENTITY);
    // Made for another image, presented for this one.
    let other = Digest::of(b"another image manifest");
    for a in both_forms(&s, &by, &statement(&other)) {
        let f = attestation_failure(&check(a, &good_trust(&s), &image()));
        assert!(
            matches!(&f, AttestationFailure::KeylessRejected { why, .. } if why.contains("not about this artifact")),
            "{f}"
        );
    }
    // The payload changed after signing (the builder id rewritten).
    let tamper = |payload: &[u8]| -> Vec<u8> {
        String::from_utf8(payload.to_vec())
            .unwrap()
            .replace("slsa-github-generator", "evil-builder")
            .into_bytes()
    };
    let mut layer = att_layer(&s, &by, &statement(&image()));
    let mut env: serde_json::Value = serde_json::from_slice(&layer.envelope).unwrap();
    let payload = B64.decode(env["payload"].as_str().unwrap()).unwrap();
    env["payload"] = B64.encode(tamper(&payload)).into();
    layer.envelope = serde_json::to_vec(&env).unwrap();
    let mut bundle: serde_json::Value =
        serde_json::from_slice(&dsse_bundle(&s, &by, &statement(&image()))).unwrap();
    bundle["dsseEnvelope"]["payload"] = env["payload"].clone();
    for a in [
        layer,
        bundle_artifact(&serde_json::to_vec(&bundle).unwrap()),
    ] {
        let f = attestation_failure(&check(a, &good_trust(&s), &image()));
        assert!(
            matches!(&f, AttestationFailure::KeylessRejected { why, .. } if why.contains("signature does not verify")),
            "{f}"
        );
    }
}

/// Without its Rekor entry a keyless attestation cannot be checked offline: a clear error that
/// names the annotation, not a pass.
#[test]
fn a_keyless_att_layer_without_its_rekor_entry_is_malformed() {
    let s = Sigstore::new();
    let by = signer(&s, &IDENTITY);
    let mut a = att_layer(&s, &by, &statement(&image()));
    a.keyless = Some(KeylessMaterial::CosignLayer {
        certificate: cert_pem(&by.leaf),
        rekor_bundle: None,
    });
    let f = attestation_failure(&check(a, &good_trust(&s), &image()));
    assert!(
        matches!(&f, AttestationFailure::Malformed { why, .. } if why.contains("dev.sigstore.cosign/bundle")),
        "{f}"
    );
}

/// cosign before the `dsse` entry type logged attestations as `intoto` 0.0.2: accepted when the
/// entry is about this signature and certificate, rejected when it is about another signature.
#[test]
fn intoto_log_entries_are_checked_too() {
    let s = Sigstore::new();
    let by = signer(&s, &IDENTITY);
    let payload = statement(&image());
    let (env, sig) = envelope(&by.key, &payload);
    let layer = |body: Vec<u8>| AttestationArtifact {
        origin: "attestation sha256-….att[0]".into(),
        annotated_predicate_type: Some(SLSA.into()),
        envelope: env.clone(),
        keyless: Some(KeylessMaterial::CosignLayer {
            certificate: cert_pem(&by.leaf),
            rekor_bundle: Some(s.cosign_annotation(&body)),
        }),
    };
    assert_verified(&check(
        layer(sigstore::intoto_body(&env, &payload, &sig, &by.leaf)),
        &good_trust(&s),
        &image(),
    ));
    let other_sig = by.key.sign(b"something else");
    let f = attestation_failure(&check(
        layer(sigstore::intoto_body(&env, &payload, &other_sig, &by.leaf)),
        &good_trust(&s),
        &image(),
    ));
    assert!(
        matches!(&f, AttestationFailure::KeylessRejected { why, .. } if why.contains("does not match the bundle's signature and certificate")),
        "{f}"
    );
}

/// The statement read is the one the keyless verifier checked (the bundle's), not an envelope
/// handed beside it.
#[test]
fn the_statement_read_is_the_verified_one() {
    let s = Sigstore::new();
    let by = signer(&s, &IDENTITY);
    let mut a = bundle_artifact(&dsse_bundle(&s, &by, &statement(&image())));
    let side = serde_json::json!({"_type": "https://in-toto.io/Statement/v1",
        "subject": [{"digest": {"sha256": Digest::of(b"other").hex()}}],
        "predicateType": "https://cyclonedx.org/bom", "predicate": {}});
    let (unsigned, _) = envelope(&Key::new(), side.to_string().as_bytes());
    a.envelope = unsigned;
    a.annotated_predicate_type = None;
    assert_verified(&check(a, &good_trust(&s), &image()));
}

/// A message-signature bundle (what `cosign sign-blob --new-bundle-format` makes over the
/// manifest bytes) as `fetch` hands it to `verify`, with the manifest.
fn message_artifacts(bundle: Vec<u8>, manifest: &[u8]) -> Artifacts {
    Artifacts {
        message_signatures: vec![MessageSignatureArtifact {
            origin: "bundle sha256:…[0] (referrers API)".into(),
            bundle,
        }],
        subject_manifest: Some(manifest.to_vec()),
        ..Default::default()
    }
}

fn message_bundle(by: &Key, leaf: Option<&[u8]>, digest_of: &[u8], signed: &[u8]) -> Vec<u8> {
    let material = match leaf {
        Some(l) => serde_json::json!({"certificate": {"rawBytes": B64.encode(l)}}),
        None => serde_json::json!({"publicKey": {"hint": "ignored"}}),
    };
    serde_json::to_vec(&serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": material,
        "messageSignature": {"messageDigest": {"algorithm": "SHA2_256",
            "digest": B64.encode(Sha256::digest(digest_of))},
            "signature": B64.encode(by.sign(signed))}}))
    .unwrap()
}

fn signature_failure(v: &Verdict) -> SignatureFailure {
    match v.problems.as_slice() {
        [Problem::SignatureUntrusted { failures }] if failures.len() == 1 => failures[0].clone(),
        other => panic!("expected one signature failure: {other:?}"),
    }
}

#[test]
fn keyed_message_signature_bundles_sign_the_manifest() {
    let key = Key::new();
    let trust = TrustPolicy {
        keys: vec![
            TrustedKey::from_pem(
                "cosign.pub",
                sigstore::pem("PUBLIC KEY", &key.spki()).as_bytes(),
            )
            .unwrap(),
        ],
        ..Default::default()
    };
    let good = message_bundle(&key, None, MANIFEST, MANIFEST);
    let v = verify(
        &image(),
        &message_artifacts(good.clone(), MANIFEST),
        &trust,
        &Requirements::default(),
    );
    assert!(v.is_accepted(), "{:?}", v.problems);
    assert!(v.evidence.signatures[0].signer.contains("cosign.pub"));

    let other_manifest = br#"{"schemaVersion":2,"layers":["other"]}"#;
    type Expected = fn(&SignatureFailure) -> bool;
    let cases: [(Vec<u8>, &[u8], Expected); 4] = [
        // Another key.
        (
            message_bundle(&Key::new(), None, MANIFEST, MANIFEST),
            MANIFEST,
            |f| matches!(f, SignatureFailure::UntrustedSigner { .. }),
        ),
        // A genuine signature of another image, copied here.
        (
            message_bundle(&key, None, other_manifest, other_manifest),
            MANIFEST,
            |f| matches!(f, SignatureFailure::WrongImage { .. }),
        ),
        // The digest claim edited to this image's, over another image's signature.
        (
            message_bundle(&key, None, MANIFEST, other_manifest),
            MANIFEST,
            |f| matches!(f, SignatureFailure::UntrustedSigner { .. }),
        ),
        // A manifest that is not the image's cannot stand in for it.
        (
            good,
            other_manifest,
            |f| matches!(f, SignatureFailure::Malformed { why, .. } if why.contains("was not fetched")),
        ),
    ];
    for (bundle, manifest, expected) in cases {
        let v = verify(
            &image(),
            &message_artifacts(bundle, manifest),
            &trust,
            &Requirements::default(),
        );
        let f = signature_failure(&v);
        assert!(expected(&f), "{f}");
    }
}

#[test]
fn keyless_message_signature_bundles_are_verified_keyless() {
    let s = Sigstore::new();
    let by = signer(&s, &IDENTITY);
    let bundle = s.log_bundle(&message_bundle(&by.key, Some(&by.leaf), MANIFEST, MANIFEST));
    let v = verify(
        &image(),
        &message_artifacts(bundle.clone(), MANIFEST),
        &good_trust(&s),
        &Requirements::default(),
    );
    assert!(v.is_accepted(), "{:?}", v.problems);
    assert!(v.evidence.signatures[0].signer.contains(sigstore::SUBJECT));

    for (trust, why) in [
        (
            keyless_trust(&s, "https://github.com/someone/else", sigstore::ISSUER),
            "does not match the required identity",
        ),
        (
            keyless_trust(&s, sigstore::SUBJECT, "https://accounts.google.com"),
            "does not match the required issuer",
        ),
    ] {
        let v = verify(
            &image(),
            &message_artifacts(bundle.clone(), MANIFEST),
            &trust,
            &Requirements::default(),
        );
        let f = signature_failure(&v);
        assert!(
            matches!(&f, SignatureFailure::KeylessRejected { why: w, .. } if w.contains(why)),
            "{f}"
        );
    }
    // A keys-only policy does not accept it.
    let keys_only = TrustPolicy {
        keys: vec![
            TrustedKey::from_pem(
                "leaf.pub",
                sigstore::pem("PUBLIC KEY", &by.key.spki()).as_bytes(),
            )
            .unwrap(),
        ],
        ..Default::default()
    };
    let v = verify(
        &image(),
        &message_artifacts(bundle, MANIFEST),
        &keys_only,
        &Requirements::default(),
    );
    assert!(matches!(
        signature_failure(&v),
        SignatureFailure::UntrustedSigner { .. }
    ));
}
