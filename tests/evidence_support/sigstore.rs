//! A private Sigstore for keyless tests: a Fulcio-like CA (rcgen) that issues short-lived
//! code-signing certificates with an OIDC identity, and a Rekor-like log key (ring) that signs
//! entry timestamps (SETs) and checkpoints, both written into a `trusted_root.json` the verifier
//! loads like any other. The public instance cannot be asked to certify a throwaway image; with
//! this the signing itself is still the real `cosign` (with `--certificate`), and only Fulcio's
//! and Rekor's answers are made here, in the formats those services return.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, SanType,
};
use release_gate::evidence::TrustedRoot;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};
use sha2::{Digest as _, Sha256};

pub const SUBJECT: &str =
    "https://github.com/team/app/.github/workflows/release.yml@refs/heads/main";
pub const ISSUER: &str = "https://token.actions.githubusercontent.com";
/// 2026-01-01T00:00:00Z, the CA's notBefore.
const CA_START: i64 = 1_767_225_600;

/// A P-256 key that signs (ring) and whose private key rcgen can use.
pub struct Key {
    ring: EcdsaKeyPair,
    pkcs8: Vec<u8>,
}

impl Default for Key {
    fn default() -> Self {
        Self::new()
    }
}

impl Key {
    pub fn new() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let ring = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        Self {
            ring,
            pkcs8: pkcs8.as_ref().to_vec(),
        }
    }

    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.ring
            .sign(&SystemRandom::new(), msg)
            .unwrap()
            .as_ref()
            .to_vec()
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki(&self) -> Vec<u8> {
        let mut der = hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").unwrap();
        der.extend_from_slice(self.ring.public_key().as_ref());
        der
    }

    pub fn rcgen(&self) -> KeyPair {
        KeyPair::try_from(self.pkcs8.as_slice()).unwrap()
    }

    /// The private key as PKCS#8 PEM (what `cosign import-key-pair` reads).
    pub fn pkcs8_pem(&self) -> String {
        pem("PRIVATE KEY", &self.pkcs8)
    }
}

/// A PEM block.
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = B64.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

pub fn cert_pem(der: &[u8]) -> String {
    pem("CERTIFICATE", der)
}

/// The identity a leaf certificate names.
pub struct Identity<'a> {
    pub subject: &'a str,
    pub issuer: &'a str,
}

pub const IDENTITY: Identity<'static> = Identity {
    subject: SUBJECT,
    issuer: ISSUER,
};

pub fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn rfc3339(t: i64) -> String {
    jiff::Timestamp::from_second(t).unwrap().to_string()
}

/// A Fulcio-like CA and a Rekor-like log.
pub struct Sigstore {
    ca_params: CertificateParams,
    ca_key: KeyPair,
    pub ca_der: Vec<u8>,
    pub log: Key,
}

impl Default for Sigstore {
    fn default() -> Self {
        Self::new()
    }
}

impl Sigstore {
    pub fn new() -> Self {
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

    pub fn log_id(&self) -> Vec<u8> {
        Sha256::digest(self.log.spki()).to_vec()
    }

    /// The `trusted_root.json` of this instance (log key valid from 2026 on).
    pub fn root_json(&self) -> String {
        self.root_json_with_log_validity(CA_START, None)
    }

    /// The `trusted_root.json` with the log key valid from `log_start` to `log_end`.
    pub fn root_json_with_log_validity(&self, log_start: i64, log_end: Option<i64>) -> String {
        let mut valid = serde_json::json!({"start": rfc3339(log_start)});
        if let Some(end) = log_end {
            valid["end"] = rfc3339(end).into();
        }
        serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{"baseUrl": "https://rekor.test", "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": B64.encode(self.log.spki()),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": valid},
                "logId": {"keyId": B64.encode(self.log_id())}}],
            "certificateAuthorities": [{"subject": {}, "uri": "https://fulcio.test",
                "certChain": {"certificates": [{"rawBytes": B64.encode(&self.ca_der)}]},
                "validFor": {"start": rfc3339(CA_START)}}]
        })
        .to_string()
    }

    pub fn root(&self) -> TrustedRoot {
        self.root_with_log_validity(CA_START, None)
    }

    pub fn root_with_log_validity(&self, log_start: i64, log_end: Option<i64>) -> TrustedRoot {
        let json = self.root_json_with_log_validity(log_start, log_end);
        TrustedRoot::from_json("test sigstore", json.as_bytes()).unwrap()
    }

    /// A Fulcio-style leaf for `key`: the identity in the SAN URI and the issuer extension
    /// (1.3.6.1.4.1.57264.1.8), code signing, valid for ten minutes from a minute ago.
    pub fn leaf(&self, key: &KeyPair, id: &Identity<'_>) -> Vec<u8> {
        self.leaf_at(key, id, now() - 60, &[ExtendedKeyUsagePurpose::CodeSigning])
    }

    /// [`Self::leaf`] valid for ten minutes from `not_before` (Unix seconds, 2026 or later),
    /// with the extended key usages `eku`.
    pub fn leaf_at(
        &self,
        key: &KeyPair,
        id: &Identity<'_>,
        not_before: i64,
        eku: &[ExtendedKeyUsagePurpose],
    ) -> Vec<u8> {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.subject_alt_names = vec![SanType::URI(id.subject.try_into().unwrap())];
        p.extended_key_usages = eku.to_vec();
        p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        let from = rcgen::date_time_ymd(2026, 1, 1)
            + std::time::Duration::from_secs((not_before - CA_START) as u64);
        p.not_before = from;
        p.not_after = from + std::time::Duration::from_secs(600);
        let mut issuer = vec![0x0c, id.issuer.len() as u8];
        issuer.extend_from_slice(id.issuer.as_bytes());
        p.custom_extensions = vec![CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 57264, 1, 8],
            issuer,
        )];
        let ca = Issuer::from_params(&self.ca_params, &self.ca_key);
        p.signed_by(key, &ca).unwrap().der().to_vec()
    }

    /// The SET over an entry, as Rekor signs it.
    fn set(&self, body: &[u8], integrated_time: i64, log_index: i64) -> Vec<u8> {
        let payload = format!(
            "{{\"body\":{},\"integratedTime\":{integrated_time},\"logID\":{},\"logIndex\":{log_index}}}",
            serde_json::Value::String(B64.encode(body)),
            serde_json::Value::String(hex::encode(self.log_id()))
        );
        self.log.sign(payload.as_bytes())
    }

    /// A bundle's `tlogEntries[0]` for `body` (of `kind`), logged now: SET, and an inclusion
    /// proof in a one-leaf tree with a checkpoint signed by the log.
    pub fn bundle_entry(&self, kind: &str, body: &[u8]) -> serde_json::Value {
        let t = now();
        let set = self.set(body, t, 0);
        let mut leaf = Sha256::new();
        leaf.update([0u8]);
        leaf.update(body);
        let root = leaf.finalize().to_vec();
        let note_text = format!("rekor.test - 1\n1\n{}\n", B64.encode(&root));
        let mut hint_sig = self.log_id()[..4].to_vec();
        hint_sig.extend_from_slice(&self.log.sign(note_text.as_bytes()));
        let note = format!(
            "{note_text}\n\u{2014} rekor.test {}\n",
            B64.encode(hint_sig)
        );
        serde_json::json!({"logIndex": "0", "logId": {"keyId": B64.encode(self.log_id())},
            "kindVersion": {"kind": kind, "version": "0.0.1"},
            "integratedTime": t.to_string(),
            "inclusionPromise": {"signedEntryTimestamp": B64.encode(set)},
            "inclusionProof": {"logIndex": "0", "rootHash": B64.encode(&root),
                "treeSize": "1", "hashes": [], "checkpoint": {"envelope": note}},
            "canonicalizedBody": B64.encode(body)})
    }

    /// cosign's `dev.sigstore.cosign/bundle` annotation for `body`, logged now.
    pub fn cosign_annotation(&self, body: &[u8]) -> String {
        let t = now();
        serde_json::json!({"SignedEntryTimestamp": B64.encode(self.set(body, t, 7)),
            "Payload": {"body": B64.encode(body), "integratedTime": t, "logIndex": 7,
                "logID": hex::encode(self.log_id())}})
        .to_string()
    }

    /// Logs a bundle made by `cosign … --certificate … --tlog-upload=false`: adds the Rekor
    /// entry (`dsse` for a DSSE envelope, `hashedrekord` for a message signature) that the
    /// log would have returned. Returns the bundle JSON.
    pub fn log_bundle(&self, bundle: &[u8]) -> Vec<u8> {
        let mut b: serde_json::Value = serde_json::from_slice(bundle).unwrap();
        let leaf = B64
            .decode(
                b["verificationMaterial"]["certificate"]["rawBytes"]
                    .as_str()
                    .expect("a bundle with a certificate"),
            )
            .unwrap();
        let (kind, body) = if b.get("dsseEnvelope").is_some() {
            let env = &b["dsseEnvelope"];
            let payload = B64.decode(env["payload"].as_str().unwrap()).unwrap();
            let sig = B64
                .decode(env["signatures"][0]["sig"].as_str().unwrap())
                .unwrap();
            let envelope = serde_json::to_vec(env).unwrap();
            ("dsse", dsse_body(&envelope, &payload, &sig, &leaf))
        } else {
            let ms = &b["messageSignature"];
            let digest = B64
                .decode(ms["messageDigest"]["digest"].as_str().unwrap())
                .unwrap();
            let sig = B64.decode(ms["signature"].as_str().unwrap()).unwrap();
            ("hashedrekord", hashedrekord_body(&digest, &sig, &leaf))
        };
        b["verificationMaterial"]["tlogEntries"] =
            serde_json::json!([self.bundle_entry(kind, &body)]);
        serde_json::to_vec(&b).unwrap()
    }
}

/// A Rekor `dsse` 0.0.1 canonical body for an envelope (JSON), its payload and signature.
pub fn dsse_body(envelope: &[u8], payload: &[u8], sig: &[u8], leaf_der: &[u8]) -> Vec<u8> {
    serde_json::json!({"apiVersion": "0.0.1", "kind": "dsse", "spec": {
        "envelopeHash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(envelope))},
        "payloadHash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(payload))},
        "signatures": [{"signature": B64.encode(sig), "verifier": B64.encode(cert_pem(leaf_der))}]}})
    .to_string()
    .into_bytes()
}

/// A Rekor `hashedrekord` 0.0.1 canonical body for a signature over content of `sha256`.
pub fn hashedrekord_body(sha256: &[u8], sig: &[u8], leaf_der: &[u8]) -> Vec<u8> {
    serde_json::json!({"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
        "data": {"hash": {"algorithm": "sha256", "value": hex::encode(sha256)}},
        "signature": {"content": B64.encode(sig),
            "publicKey": {"content": B64.encode(cert_pem(leaf_der))}}}})
    .to_string()
    .into_bytes()
}

/// A Rekor `intoto` 0.0.2 canonical body (what cosign logged for attestations before the `dsse`
/// type): the envelope without its payload, the signature's base64 base64-encoded again.
pub fn intoto_body(envelope: &[u8], payload: &[u8], sig: &[u8], leaf_der: &[u8]) -> Vec<u8> {
    serde_json::json!({"apiVersion": "0.0.2", "kind": "intoto", "spec": {"content": {
        "envelope": {"payloadType": "application/vnd.in-toto+json",
            "signatures": [{"sig": B64.encode(B64.encode(sig)),
                "publicKey": B64.encode(cert_pem(leaf_der))}]},
        "hash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(envelope))},
        "payloadHash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(payload))}}}})
    .to_string()
    .into_bytes()
}
