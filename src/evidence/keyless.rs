//! Keyless (Fulcio + Rekor) verification, fully offline.
//!
//! Why our own code rather than `sigstore::bundle::verify`: in sigstore 0.15 that verifier skips
//! the Rekor SET and the inclusion proof (both marked TODO there), matches identities only
//! exactly and only on the deprecated issuer extension, and needs the crate's `verify` feature,
//! which brings reqwest/OAuth and a second rustls crypto provider. The checks here are the ones
//! the Sigstore client spec asks for, on rustls-webpki (chain), x509-cert and the evidence
//! modules' one signature check, `crypto::VerifyingKey`:
//!
//! 1. the Rekor entry's SET verifies with a log key from the trust root; that makes its
//!    integrated time trustworthy; an inclusion proof, when present, must lead to a checkpoint
//!    signed by the same key;
//! 2. the leaf certificate chains to a Fulcio CA of the trust root, valid at that time, with the
//!    code-signing EKU;
//! 3. the certificate's identity (SAN) and OIDC issuer (extension 1.3.6.1.4.1.57264.1.8, else
//!    .1.1) match the policy;
//! 4. the signature verifies with the certificate's key over the artifact (message signature) or
//!    the DSSE PAE, and the artifact is the one the bundle speaks of;
//! 5. the Rekor entry body commits to that same signature, certificate and digest
//!    (CVE-2022-36056).
//!
//! Not checked: SCTs (CT logs), RFC 3161 timestamps, Rekor v2 entries.

use der::{Decode as _, Encode as _};
use rustls::pki_types::{CertificateDer, UnixTime};
use sha2::{Digest as _, Sha256};
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

use super::crypto::VerifyingKey;
use super::dsse;
use super::keyless_bundle::{self, Content, Material};
use super::rekor;
use super::trust_root::TrustedRoot;

/// One side of an identity policy: an exact string or a regular expression that must match the
/// whole value (cosign's `--certificate-identity-regexp` matches anywhere; anchoring is the safer
/// reading for an admission gate, so `^…$` is implied here).
#[derive(Debug, Clone)]
pub enum Matcher {
    Exact(String),
    Regex(regex::Regex),
}

impl Matcher {
    /// A regex matcher, anchored at both ends.
    pub fn regex(pattern: &str) -> Result<Self, regex::Error> {
        regex::Regex::new(&format!("^(?:{pattern})$")).map(Self::Regex)
    }

    pub fn matches(&self, value: &str) -> bool {
        match self {
            Self::Exact(s) => s == value,
            Self::Regex(r) => r.is_match(value),
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exact(s) => write!(f, "'{s}'"),
            Self::Regex(r) => write!(f, "regex {}", r.as_str()),
        }
    }
}

/// Who must have signed: the certificate's subject (SAN: email or URI) and OIDC issuer.
#[derive(Debug, Clone)]
pub struct KeylessIdentity {
    pub issuer: Matcher,
    pub subject: Matcher,
}

/// A keyless trust authority: a trust root and the identity it must vouch for. Platform-owned,
/// like trusted keys.
#[derive(Debug, Clone)]
pub struct KeylessAuthority {
    pub root: std::sync::Arc<TrustedRoot>,
    pub identity: KeylessIdentity,
}

impl KeylessAuthority {
    /// A label for messages.
    pub fn label(&self) -> String {
        format!(
            "keyless identity {} issuer {} (trust root {})",
            self.identity.subject, self.identity.issuer, self.root.name
        )
    }
}

/// What a successful verification proves.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedKeyless {
    pub subject: String,
    pub issuer: String,
    /// Unix seconds the entry entered the log (authenticated by the SET).
    pub integrated_time: i64,
    pub log_index: i64,
    /// `sha256:<hex>` of the leaf certificate DER.
    pub certificate_fingerprint: String,
}

impl VerifiedKeyless {
    /// A label for reports, in the style of `TrustedKey::label`.
    pub fn label(&self) -> String {
        format!("keyless {} (issuer {})", self.subject, self.issuer)
    }
}

/// Why a keyless signature is not accepted; one variant per check.
#[derive(Debug, thiserror::Error)]
pub enum KeylessError {
    #[error("malformed bundle: {0}")]
    MalformedBundle(String),
    #[error("certificate is not issued by a trusted Fulcio CA: {0}")]
    UntrustedChain(String),
    #[error("certificate subject '{actual}' does not match the required identity {expected}")]
    WrongSubject { expected: String, actual: String },
    #[error("certificate OIDC issuer '{actual}' does not match the required issuer {expected}")]
    WrongIssuer { expected: String, actual: String },
    #[error("signature does not verify with the certificate's key: {0}")]
    BadSignature(String),
    #[error("the bundle is not about this artifact: {0}")]
    ArtifactMismatch(String),
    #[error("transparency log check failed: {0}")]
    TransparencyLog(String),
}

impl KeylessError {
    /// Stable machine label (for metrics).
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::MalformedBundle(_) => "malformed_bundle",
            Self::UntrustedChain(_) => "untrusted_chain",
            Self::WrongSubject { .. } => "wrong_subject",
            Self::WrongIssuer { .. } => "wrong_issuer",
            Self::BadSignature(_) => "bad_signature",
            Self::ArtifactMismatch(_) => "artifact_mismatch",
            Self::TransparencyLog(_) => "transparency_log",
        }
    }
}

/// The artifact a bundle is checked against.
#[derive(Debug, Clone, Copy)]
pub enum Artifact<'a> {
    Bytes(&'a [u8]),
    /// Its SHA-256 digest (enough for DSSE bundles, whose signature covers the envelope).
    Sha256([u8; 32]),
}

impl Artifact<'_> {
    fn sha256(&self) -> [u8; 32] {
        match self {
            Self::Bytes(b) => Sha256::digest(b).into(),
            Self::Sha256(d) => *d,
        }
    }
}

/// Verifies a Sigstore bundle (v0.1–v0.3 JSON) for `artifact`, offline.
pub fn verify_bundle(
    bundle_json: &[u8],
    artifact: Artifact<'_>,
    root: &TrustedRoot,
    identity: &KeylessIdentity,
) -> Result<VerifiedKeyless, KeylessError> {
    let material = keyless_bundle::parse_bundle(bundle_json)
        .map_err(|e| KeylessError::MalformedBundle(e.to_string()))?;
    verify_material(&material, artifact, root, identity)
}

/// Verifies a cosign keyless signature as stored on a `.sig` image layer: the payload (layer
/// blob), the base64 signature annotation, the certificate PEM annotation and the legacy
/// `dev.sigstore.cosign/bundle` annotation (a Rekor SET, no inclusion proof).
pub fn verify_cosign_layer(
    payload: &[u8],
    signature_b64: &str,
    certificate_pem: &str,
    bundle_annotation: &str,
    root: &TrustedRoot,
    identity: &KeylessIdentity,
) -> Result<VerifiedKeyless, KeylessError> {
    let material =
        keyless_bundle::parse_cosign_layer(signature_b64, certificate_pem, bundle_annotation)
            .map_err(|e| KeylessError::MalformedBundle(e.to_string()))?;
    verify_material(&material, Artifact::Bytes(payload), root, identity)
}

pub(crate) fn verify_material(
    m: &Material,
    artifact: Artifact<'_>,
    root: &TrustedRoot,
    identity: &KeylessIdentity,
) -> Result<VerifiedKeyless, KeylessError> {
    let malformed = |s: String| KeylessError::MalformedBundle(s);
    let tlog_err = KeylessError::TransparencyLog;
    let leaf_der = m.leaf_der.as_deref().ok_or_else(|| {
        malformed(
            "no certificate: not a keyless bundle (a public-key bundle is verified with --key)"
                .into(),
        )
    })?;

    // 1. Transparency log: the SET authenticates the integrated time.
    let entry = m
        .tlog_entries
        .first()
        .ok_or_else(|| tlog_err("the bundle has no transparency log entry".into()))?;
    let log = root.tlog(&entry.log_id).ok_or_else(|| {
        tlog_err(format!(
            "log {} is not in the trusted root '{}'",
            hex::encode(&entry.log_id),
            root.name
        ))
    })?;
    rekor::verify_set(entry, log).map_err(tlog_err)?;
    if entry.inclusion_proof.is_some() {
        rekor::verify_inclusion(entry, log).map_err(tlog_err)?;
    }
    let time = entry.integrated_time;
    if !log.valid_for.contains(time) {
        return Err(tlog_err(format!(
            "the log key was not valid at the entry's integrated time {time}"
        )));
    }

    // 2. Chain to a trusted Fulcio CA at the integrated time.
    let cert = Certificate::from_der(leaf_der)
        .map_err(|e| malformed(format!("certificate is not DER X.509: {e}")))?;
    verify_chain(leaf_der, root, time)?;

    // 3. Identity.
    let (subject, issuer) = identity_of(&cert)?;
    if !identity.issuer.matches(&issuer) {
        return Err(KeylessError::WrongIssuer {
            expected: identity.issuer.to_string(),
            actual: issuer,
        });
    }
    if !identity.subject.matches(&subject) {
        return Err(KeylessError::WrongSubject {
            expected: identity.subject.to_string(),
            actual: subject,
        });
    }

    // 4. Signature and artifact.
    let spki = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| malformed(format!("certificate key: {e}")))?;
    let key = VerifyingKey::from_der(&spki).map_err(KeylessError::BadSignature)?;
    let digest = artifact.sha256();
    let (signature, signed_hash) = match &m.content {
        Content::Message {
            digest: claimed,
            signature,
        } => {
            if let Some(claimed) = claimed
                && claimed.as_slice() != digest
            {
                return Err(KeylessError::ArtifactMismatch(format!(
                    "artifact sha256 {} is not the bundle's message digest {}",
                    hex::encode(digest),
                    hex::encode(claimed)
                )));
            }
            let Artifact::Bytes(bytes) = artifact else {
                return Err(malformed(
                    "a message-signature bundle needs the artifact bytes, not only its digest"
                        .into(),
                ));
            };
            key.verify(bytes, signature)
                .map_err(KeylessError::BadSignature)?;
            (signature, digest.to_vec())
        }
        Content::Dsse {
            payload_type,
            payload,
            signature,
        } => {
            let pae = dsse::pae(payload_type, payload);
            key.verify(&pae, signature)
                .map_err(KeylessError::BadSignature)?;
            let statement: serde_json::Value = serde_json::from_slice(payload)
                .map_err(|e| malformed(format!("DSSE payload is not JSON: {e}")))?;
            let want = hex::encode(digest);
            let found = statement["subject"].as_array().is_some_and(|subjects| {
                subjects
                    .iter()
                    .any(|s| s["digest"]["sha256"].as_str() == Some(want.as_str()))
            });
            if !found {
                return Err(KeylessError::ArtifactMismatch(format!(
                    "no in-toto subject has sha256 {want}"
                )));
            }
            (signature, Sha256::digest(&pae).to_vec())
        }
    };

    // 5. The log entry is about this signature, certificate and content.
    keyless_bundle::check_entry_body(entry, m, signature, &signed_hash)
        .map_err(KeylessError::TransparencyLog)?;

    Ok(VerifiedKeyless {
        subject,
        issuer,
        integrated_time: time,
        log_index: entry.log_index,
        certificate_fingerprint: format!("sha256:{}", hex::encode(Sha256::digest(leaf_der))),
    })
}

/// Fulcio leaf certificates carry the code-signing EKU (1.3.6.1.5.5.7.3.3), DER value bytes.
const CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

fn verify_chain(leaf_der: &[u8], root: &TrustedRoot, time: i64) -> Result<(), KeylessError> {
    let untrusted = KeylessError::UntrustedChain;
    let cas: Vec<_> = root
        .certificate_authorities
        .iter()
        .filter(|ca| ca.valid_for.contains(time))
        .collect();
    if cas.is_empty() {
        return Err(untrusted(format!(
            "the trusted root '{}' has no Fulcio CA valid at {time}",
            root.name
        )));
    }
    let roots: Vec<CertificateDer<'_>> = cas
        .iter()
        .filter_map(|ca| ca.chain.last())
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    let anchors = roots
        .iter()
        .map(|c| webpki::anchor_from_trusted_cert(c).map(|a| a.to_owned()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| untrusted(format!("a CA root in the trusted root is unusable: {e}")))?;
    let intermediates: Vec<CertificateDer<'_>> = cas
        .iter()
        .flat_map(|ca| &ca.chain[..ca.chain.len().saturating_sub(1)])
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    let leaf = CertificateDer::from(leaf_der);
    let ee = webpki::EndEntityCert::try_from(&leaf)
        .map_err(|e| KeylessError::MalformedBundle(format!("certificate: {e}")))?;
    let at = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(time).unwrap_or(0),
    ));
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &anchors,
        &intermediates,
        at,
        webpki::KeyUsage::required(CODE_SIGNING),
        None,
        None,
    )
    .map(|_| ())
    .map_err(|e| untrusted(format!("{e:?} (at integrated time {time})")))
}

const OID_ISSUER_V1: &str = "1.3.6.1.4.1.57264.1.1";
const OID_ISSUER_V2: &str = "1.3.6.1.4.1.57264.1.8";
const OID_SAN: &str = "2.5.29.17";

/// The certificate's subject (first email or URI SAN) and OIDC issuer.
fn identity_of(cert: &Certificate) -> Result<(String, String), KeylessError> {
    let malformed = |s: &str| KeylessError::MalformedBundle(format!("certificate: {s}"));
    let exts = cert
        .tbs_certificate()
        .extensions()
        .map(|e| e.as_slice())
        .unwrap_or_default();
    let find = |oid: &str| exts.iter().find(|e| e.extn_id.to_string() == oid);
    let san = find(OID_SAN).ok_or_else(|| malformed("no subjectAltName"))?;
    let san = SubjectAltName::from_der(san.extn_value.as_bytes())
        .map_err(|_| malformed("subjectAltName is not DER"))?;
    let subject = san
        .0
        .iter()
        .find_map(|n| match n {
            GeneralName::Rfc822Name(s) | GeneralName::UniformResourceIdentifier(s) => {
                Some(s.to_string())
            }
            _ => None,
        })
        .ok_or_else(|| malformed("subjectAltName has no email or URI"))?;
    let issuer = if let Some(v2) = find(OID_ISSUER_V2) {
        der::asn1::Utf8StringRef::from_der(v2.extn_value.as_bytes())
            .map(|s| s.as_str().to_owned())
            .map_err(|_| malformed("OIDC issuer extension (v2) is not a UTF8String"))?
    } else if let Some(v1) = find(OID_ISSUER_V1) {
        String::from_utf8(v1.extn_value.as_bytes().to_vec())
            .map_err(|_| malformed("OIDC issuer extension (v1) is not UTF-8"))?
    } else {
        return Err(malformed("no OIDC issuer extension"));
    };
    Ok((subject, issuer))
}
