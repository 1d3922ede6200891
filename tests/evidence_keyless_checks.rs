//! One test per keyless check, each of which fails when that check is removed (issue 9, item 8).
//!
//! The conformance vectors in `evidence_keyless.rs` are real but fixed: no one can make a
//! variant with an expired certificate or a log entry for another signature that still carries
//! a valid signed entry timestamp. So this file plays Fulcio and Rekor itself: a CA made with
//! rcgen, a Rekor log key made with ring, both written into a `trusted_root.json`, and bundles
//! signed with them that are valid in every respect but the one under test. The verifier is the
//! public `keyless::verify_bundle`, unchanged.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, SanType,
};
use release_gate::evidence::keyless::{self, KeylessError};
use release_gate::evidence::{Artifact, KeylessIdentity, Matcher, TrustedRoot};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};
use sha2::{Digest as _, Sha256};

const SUBJECT: &str = "https://github.com/team/app/.github/workflows/release.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
const ARTIFACT: &[u8] = b"release-gate keyless check test artifact\n";
/// 2026-06-01T00:00:00Z: the leaf's notBefore in the good case.
const T0: i64 = 1_780_272_000;

/// The DER SubjectPublicKeyInfo of a P-256 key from its uncompressed point.
fn p256_spki(point: &[u8]) -> Vec<u8> {
    let mut der = hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").unwrap();
    der.extend_from_slice(point);
    der
}

/// A P-256 key that signs (ring) and whose private key rcgen can use.
struct Key {
    ring: EcdsaKeyPair,
    pkcs8: Vec<u8>,
}

impl Key {
    fn new() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let ring = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        Self {
            ring,
            pkcs8: pkcs8.as_ref().to_vec(),
        }
    }

    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.ring
            .sign(&SystemRandom::new(), msg)
            .unwrap()
            .as_ref()
            .to_vec()
    }

    fn spki(&self) -> Vec<u8> {
        p256_spki(self.ring.public_key().as_ref())
    }

    fn rcgen(&self) -> KeyPair {
        KeyPair::try_from(self.pkcs8.as_slice()).unwrap()
    }
}

/// A private Sigstore: a Fulcio-like CA and a Rekor-like log key.
struct Sigstore {
    ca_params: CertificateParams,
    ca_key: KeyPair,
    ca_der: Vec<u8>,
    log: Key,
}

fn rfc3339(t: i64) -> String {
    jiff::Timestamp::from_second(t).unwrap().to_string()
}

impl Sigstore {
    fn new() -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.not_before = rcgen::date_time_ymd(2026, 1, 1);
        ca_params.not_after = rcgen::date_time_ymd(2036, 1, 1);
        let ca_der = ca_params.self_signed(&ca_key).unwrap().der().to_vec();
        Self {
            ca_params,
            ca_key,
            ca_der,
            log: Key::new(),
        }
    }

    fn log_id(&self) -> Vec<u8> {
        Sha256::digest(self.log.spki()).to_vec()
    }

    /// The trust root, with the log key valid from `log_start` to `log_end`.
    fn root(&self, log_start: i64, log_end: Option<i64>) -> TrustedRoot {
        let mut valid = serde_json::json!({"start": rfc3339(log_start)});
        if let Some(end) = log_end {
            valid["end"] = rfc3339(end).into();
        }
        let json = serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{"baseUrl": "https://rekor.test", "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": B64.encode(self.log.spki()),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": valid},
                "logId": {"keyId": B64.encode(self.log_id())}}],
            "certificateAuthorities": [{"subject": {}, "uri": "https://fulcio.test",
                "certChain": {"certificates": [{"rawBytes": B64.encode(&self.ca_der)}]},
                "validFor": {"start": "2026-01-01T00:00:00Z"}}]
        });
        TrustedRoot::from_json("test sigstore", json.to_string().as_bytes()).unwrap()
    }

    /// The trust root of the good case: the log key valid from 2026 on.
    fn good_root(&self) -> TrustedRoot {
        self.root(T0 - 86_400 * 150, None)
    }

    /// A Fulcio-style leaf: the identity in the SAN and the issuer extension, valid for ten
    /// minutes from `not_before`, with the extended key usages `eku`.
    fn leaf(&self, key: &Key, not_before: i64, eku: &[ExtendedKeyUsagePurpose]) -> Vec<u8> {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.subject_alt_names = vec![SanType::URI(SUBJECT.try_into().unwrap())];
        p.extended_key_usages = eku.to_vec();
        p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        let from = rcgen::date_time_ymd(2026, 6, 1)
            + std::time::Duration::from_secs((not_before - T0) as u64);
        p.not_before = from;
        p.not_after = from + std::time::Duration::from_secs(600);
        // 1.3.6.1.4.1.57264.1.8: the OIDC issuer, a DER UTF8String.
        let mut issuer = vec![0x0c, ISSUER.len() as u8];
        issuer.extend_from_slice(ISSUER.as_bytes());
        p.custom_extensions = vec![CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 57264, 1, 8],
            issuer,
        )];
        let ca = Issuer::from_params(&self.ca_params, &self.ca_key);
        p.signed_by(&key.rcgen(), &ca).unwrap().der().to_vec()
    }
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

fn pem(der: &[u8]) -> String {
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        B64.encode(der)
    )
}

impl Parts {
    fn good(s: &Sigstore) -> Self {
        let leaf_key = Key::new();
        Self {
            leaf_der: s.leaf(&leaf_key, T0, &[ExtendedKeyUsagePurpose::CodeSigning]),
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
        &s.good_root(),
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
        check(&s, &other_signature, &s.good_root()),
        "the log entry does not match the bundle's signature",
    );
    let mut other_certificate = Parts::good(&s);
    let other_key = Key::new();
    other_certificate.body_leaf_der =
        Some(s.leaf(&other_key, T0, &[ExtendedKeyUsagePurpose::CodeSigning]));
    assert_rejected(
        check(&s, &other_certificate, &s.good_root()),
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
    assert_rejected(check(&s, &late, &s.good_root()), "CertExpired");
    let mut early = Parts::good(&s);
    early.integrated_time = T0 - 3600;
    assert_rejected(check(&s, &early, &s.good_root()), "CertNotValidYet");
}

/// The leaf must carry the code-signing EKU: a TLS server certificate from the same CA, or one
/// with no EKU at all, is not a signing certificate.
#[test]
fn the_certificate_must_be_for_code_signing() {
    let s = Sigstore::new();
    let mut server = Parts::good(&s);
    server.leaf_der = s.leaf(&server.leaf_key, T0, &[ExtendedKeyUsagePurpose::ServerAuth]);
    assert_rejected(check(&s, &server, &s.good_root()), "RequiredEkuNotFound");
    // Without any EKU extension (which a "required if present" check would let through).
    let mut none = Parts::good(&s);
    none.leaf_der = s.leaf(&none.leaf_key, T0, &[]);
    assert_rejected(check(&s, &none, &s.good_root()), "RequiredEkuNotFound");
}

/// The checkpoint that commits to the inclusion proof's root must be signed by the log key.
#[test]
fn the_checkpoint_must_be_signed_by_the_log() {
    let s = Sigstore::new();
    let mut forged = Parts::good(&s);
    forged.checkpoint_key = Some(Key::new());
    assert_rejected(
        check(&s, &forged, &s.good_root()),
        "checkpoint is not signed by the log key",
    );
}

/// The log key must have been valid at the integrated time: a key retired before the entry, or
/// brought in after it, does not vouch for it.
#[test]
fn the_log_key_must_be_valid_at_the_integrated_time() {
    let s = Sigstore::new();
    let good = Parts::good(&s);
    let retired = s.root(T0 - 86_400 * 150, Some(T0 - 86_400));
    assert_rejected(check(&s, &good, &retired), "the log key was not valid");
    let later = s.root(T0 + 86_400, None);
    assert_rejected(check(&s, &good, &later), "the log key was not valid");
}
