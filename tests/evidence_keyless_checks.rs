//! One test per keyless check, each of which fails when that check is removed (issue 9, item 8).
//!
//! The conformance vectors in `evidence_keyless.rs` are real but fixed: no one can make a
//! variant with an expired certificate or a log entry for another signature that still carries
//! a valid signed entry timestamp. So this file plays Fulcio and Rekor itself with the private
//! Sigstore of `evidence_support/sigstore.rs` (a CA made with rcgen, a Rekor log key made with
//! ring, both written into a `trusted_root.json`), and bundles signed with them that are valid
//! in every respect but the one under test. The verifier is the
//! public `keyless::verify_bundle`, unchanged.

mod evidence_support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use evidence_support::sigstore::{IDENTITY, ISSUER, Key, SUBJECT, Sigstore};
use rcgen::ExtendedKeyUsagePurpose;
use release_gate::evidence::keyless::{self, KeylessError};
use release_gate::evidence::{Artifact, KeylessIdentity, Matcher, TrustedRoot};
use sha2::{Digest as _, Sha256};

const ARTIFACT: &[u8] = b"release-gate keyless check test artifact\n";
/// 2026-06-01T00:00:00Z: the leaf's notBefore in the good case.
const T0: i64 = 1_780_272_000;

/// The trust root of the good case: the log key valid from 2026 on.
fn good_root(s: &Sigstore) -> TrustedRoot {
    s.root_with_log_validity(T0 - 86_400 * 150, None)
}

/// A leaf for `key` valid for ten minutes from `not_before`, with the usages `eku`.
fn leaf(s: &Sigstore, key: &Key, not_before: i64, eku: &[ExtendedKeyUsagePurpose]) -> Vec<u8> {
    s.leaf_at(&key.rcgen(), &IDENTITY, not_before, eku)
}

fn pem(der: &[u8]) -> String {
    evidence_support::sigstore::cert_pem(der)
}

/// What a bundle is made of; each test changes one part of the good case.
struct Parts {
    leaf_der: Vec<u8>,
    leaf_key: Key,
    integrated_time: i64,
    /// The artifact and certificate the Rekor entry body names.
    body_artifact: Vec<u8>,
    body_leaf_der: Option<Vec<u8>>,
    /// Signs the checkpoint (the log key unless a test says otherwise).
    checkpoint_key: Option<Key>,
}

impl Parts {
    fn good(s: &Sigstore) -> Self {
        let leaf_key = Key::new();
        Self {
            leaf_der: leaf(s, &leaf_key, T0, &[ExtendedKeyUsagePurpose::CodeSigning]),
            leaf_key,
            integrated_time: T0 + 300,
            body_artifact: ARTIFACT.to_vec(),
            body_leaf_der: None,
            checkpoint_key: None,
        }
    }

    /// A v0.3 bundle with a message signature over [`ARTIFACT`], a hashedrekord entry with its
    /// SET, and an inclusion proof (a one-leaf tree) with a signed checkpoint.
    fn bundle(&self, s: &Sigstore) -> Vec<u8> {
        let sig = self.leaf_key.sign(ARTIFACT);
        let body_sig = if self.body_artifact == ARTIFACT {
            sig.clone()
        } else {
            self.leaf_key.sign(&self.body_artifact)
        };
        let body = serde_json::json!({"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
            "data": {"hash": {"algorithm": "sha256",
                "value": hex::encode(Sha256::digest(&self.body_artifact))}},
            "signature": {"content": B64.encode(&body_sig), "publicKey": {"content":
                B64.encode(pem(self.body_leaf_der.as_ref().unwrap_or(&self.leaf_der)))}}}})
        .to_string()
        .into_bytes();
        let set_payload = format!(
            "{{\"body\":{},\"integratedTime\":{},\"logID\":{},\"logIndex\":0}}",
            serde_json::Value::String(B64.encode(&body)),
            self.integrated_time,
            serde_json::Value::String(hex::encode(s.log_id()))
        );
        let set = s.log.sign(set_payload.as_bytes());
        let mut leaf_hash = Sha256::new();
        leaf_hash.update([0u8]);
        leaf_hash.update(&body);
        let root = leaf_hash.finalize().to_vec();
        let note_text = format!("rekor.test - 1\n1\n{}\n", B64.encode(&root));
        let checkpoint_sig = self
            .checkpoint_key
            .as_ref()
            .unwrap_or(&s.log)
            .sign(note_text.as_bytes());
        let mut hint_sig = s.log_id()[..4].to_vec();
        hint_sig.extend_from_slice(&checkpoint_sig);
        let note = format!(
            "{note_text}\n\u{2014} rekor.test {}\n",
            B64.encode(hint_sig)
        );
        serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "certificate": {"rawBytes": B64.encode(&self.leaf_der)},
                "tlogEntries": [{"logIndex": "0", "logId": {"keyId": B64.encode(s.log_id())},
                    "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
                    "integratedTime": self.integrated_time.to_string(),
                    "inclusionPromise": {"signedEntryTimestamp": B64.encode(set)},
                    "inclusionProof": {"logIndex": "0", "rootHash": B64.encode(&root),
                        "treeSize": "1", "hashes": [], "checkpoint": {"envelope": note}},
                    "canonicalizedBody": B64.encode(&body)}]},
            "messageSignature": {
                "messageDigest": {"algorithm": "SHA2_256", "digest": B64.encode(Sha256::digest(ARTIFACT))},
                "signature": B64.encode(sig)}
        })
        .to_string()
        .into_bytes()
    }
}

fn identity() -> KeylessIdentity {
    KeylessIdentity {
        issuer: Matcher::Exact(ISSUER.into()),
        subject: Matcher::Exact(SUBJECT.into()),
    }
}

fn check(s: &Sigstore, parts: &Parts, root: &TrustedRoot) -> Result<(), KeylessError> {
    keyless::verify_bundle(
        &parts.bundle(s),
        Artifact::Bytes(ARTIFACT),
        root,
        &identity(),
    )
    .map(|_| ())
}

fn assert_rejected(r: Result<(), KeylessError>, why: &str) {
    match r {
        Err(e) => assert!(e.to_string().contains(why), "expected '{why}', got: {e}"),
        Ok(()) => panic!("accepted; expected a rejection: {why}"),
    }
}

/// The good case passes (so each failure below is the one thing changed), and long after the
/// ten-minute certificate expired: the certificate is checked at the log's integrated time.
#[test]
fn the_good_bundle_passes_after_its_certificate_expired() {
    let s = Sigstore::new();
    let v = keyless::verify_bundle(
        &Parts::good(&s).bundle(&s),
        Artifact::Bytes(ARTIFACT),
        &good_root(&s),
        &identity(),
    )
    .unwrap();
    assert_eq!((v.subject.as_str(), v.issuer.as_str()), (SUBJECT, ISSUER));
    assert_eq!(v.integrated_time, T0 + 300);
}

/// The Rekor entry body must name this signature and this certificate (CVE-2022-36056): a
/// genuine entry for another signature, or another certificate, vouches for nothing here.
#[test]
fn the_log_entry_must_be_about_this_signature_and_certificate() {
    let s = Sigstore::new();
    let mut other_signature = Parts::good(&s);
    other_signature.body_artifact = b"another artifact".to_vec();
    assert_rejected(
        check(&s, &other_signature, &good_root(&s)),
        "the log entry does not match the bundle's signature",
    );
    let mut other_certificate = Parts::good(&s);
    let other_key = Key::new();
    other_certificate.body_leaf_der = Some(leaf(
        &s,
        &other_key,
        T0,
        &[ExtendedKeyUsagePurpose::CodeSigning],
    ));
    assert_rejected(
        check(&s, &other_certificate, &good_root(&s)),
        "the log entry does not match the bundle's certificate",
    );
}

/// The certificate must be valid at the integrated time: an entry logged an hour after the
/// ten-minute certificate expired is rejected, as is one logged before it was issued.
#[test]
fn the_certificate_must_be_valid_at_the_integrated_time() {
    let s = Sigstore::new();
    let mut late = Parts::good(&s);
    late.integrated_time = T0 + 3600;
    assert_rejected(check(&s, &late, &good_root(&s)), "CertExpired");
    let mut early = Parts::good(&s);
    early.integrated_time = T0 - 3600;
    assert_rejected(check(&s, &early, &good_root(&s)), "CertNotValidYet");
}

/// The leaf must carry the code-signing EKU: a TLS server certificate from the same CA, or one
/// with no EKU at all, is not a signing certificate.
#[test]
fn the_certificate_must_be_for_code_signing() {
    let s = Sigstore::new();
    let mut server = Parts::good(&s);
    server.leaf_der = leaf(
        &s,
        &server.leaf_key,
        T0,
        &[ExtendedKeyUsagePurpose::ServerAuth],
    );
    assert_rejected(check(&s, &server, &good_root(&s)), "RequiredEkuNotFound");
    // Without any EKU extension (which a "required if present" check would let through).
    let mut none = Parts::good(&s);
    none.leaf_der = leaf(&s, &none.leaf_key, T0, &[]);
    assert_rejected(check(&s, &none, &good_root(&s)), "RequiredEkuNotFound");
}

/// The checkpoint that commits to the inclusion proof's root must be signed by the log key.
#[test]
fn the_checkpoint_must_be_signed_by_the_log() {
    let s = Sigstore::new();
    let mut forged = Parts::good(&s);
    forged.checkpoint_key = Some(Key::new());
    assert_rejected(
        check(&s, &forged, &good_root(&s)),
        "checkpoint is not signed by the log key",
    );
}

/// The log key must have been valid at the integrated time: a key retired before the entry, or
/// brought in after it, does not vouch for it.
#[test]
fn the_log_key_must_be_valid_at_the_integrated_time() {
    let s = Sigstore::new();
    let good = Parts::good(&s);
    let retired = s.root_with_log_validity(T0 - 86_400 * 150, Some(T0 - 86_400));
    assert_rejected(check(&s, &good, &retired), "the log key was not valid");
    let later = s.root_with_log_validity(T0 + 86_400, None);
    assert_rejected(check(&s, &good, &later), "the log key was not valid");
}
