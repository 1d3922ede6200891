//! Trust authorities: the public keys (ECDSA P-256/384/521, Ed25519, RSA, PEM) whose signatures
//! count. They come from platform configuration (a Secret, a file, inline PEM), never from the
//! artifact being verified. Key parsing and the signature primitives are the `sigstore` crate's.

use sha2::Digest as _;
use sigstore::crypto::{CosignVerificationKey, Signature};

/// A public key that may sign releases.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    /// Where the key came from, for messages (`cosign.pub`, `secret/ns/name`).
    pub name: String,
    /// `sha256:<hex>` of the key's DER SubjectPublicKeyInfo: a stable id for reports.
    pub fingerprint: String,
    key: CosignVerificationKey,
    /// For Ed25519 keys, the same key for Ed25519ph: cosign v2 signs with Ed25519ph when given
    /// an Ed25519 key (sigstore/sigstore#1595), other tools sign with pure Ed25519.
    ed25519ph: Option<ed25519_dalek::VerifyingKey>,
}

/// Why a trust authority cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error(
        "public key '{name}' is not a PEM public key (ECDSA P-256/P-384/P-521, Ed25519 or RSA SubjectPublicKeyInfo, as `cosign public-key` prints): {why}"
    )]
    Key { name: String, why: String },
    #[error(
        "no trust authority configured: give at least one public key (--key) or a keyless identity (--trusted-root with --certificate-identity and --certificate-oidc-issuer)"
    )]
    Empty,
}

impl TrustedKey {
    /// Loads a PEM `PUBLIC KEY` (SubjectPublicKeyInfo); the algorithm is taken from the key.
    pub fn from_pem(name: impl Into<String>, pem: &[u8]) -> Result<Self, TrustError> {
        let name = name.into();
        let key = CosignVerificationKey::try_from_pem(pem).map_err(|e| TrustError::Key {
            name: name.clone(),
            why: e.to_string(),
        })?;
        let der = super::crypto::pem_der(pem).ok_or_else(|| TrustError::Key {
            name: name.clone(),
            why: "no PEM body".into(),
        })?;
        let fingerprint = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&der)));
        let ed25519ph = match &key {
            CosignVerificationKey::ED25519(_) => {
                Some(ed25519_from_spki(&der).ok_or_else(|| TrustError::Key {
                    name: name.clone(),
                    why:
                        "Ed25519 SubjectPublicKeyInfo is not 44 bytes holding a valid point".into(),
                })?)
            }
            _ => None,
        };
        Ok(Self {
            name,
            fingerprint,
            key,
            ed25519ph,
        })
    }

    /// Whether `sig` is this key's signature over `msg` (cosign hashes with the key's digest).
    /// Ed25519 keys accept pure Ed25519 and Ed25519ph (SHA-512 prehash, empty context); the two
    /// are domain-separated, so neither signature can pass for the other.
    pub fn verifies(&self, sig: &[u8], msg: &[u8]) -> bool {
        if self.key.verify_signature(Signature::Raw(sig), msg).is_ok() {
            return true;
        }
        let Some(ph) = &self.ed25519ph else {
            return false;
        };
        let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
            return false;
        };
        ph.verify_prehashed(sha2::Sha512::new().chain_update(msg), None, &sig)
            .is_ok()
    }

    /// A short label: the name and the first 12 hex digits of the fingerprint.
    pub fn label(&self) -> String {
        let short = self
            .fingerprint
            .get(..("sha256:".len() + 12))
            .unwrap_or(&self.fingerprint);
        format!("key {} ({short})", self.name)
    }
}

/// The raw key of an Ed25519 SubjectPublicKeyInfo (RFC 8410: a fixed 12-byte header, then 32
/// bytes).
fn ed25519_from_spki(der: &[u8]) -> Option<ed25519_dalek::VerifyingKey> {
    const HEADER: [u8; 12] = [
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    let raw: &[u8; 32] = der.strip_prefix(&HEADER[..])?.try_into().ok()?;
    ed25519_dalek::VerifyingKey::from_bytes(raw).ok()
}

/// The set of authorities a verification trusts, and what the platform demands of the evidence
/// they sign (the provenance's builder and source, the age of the vulnerability report).
#[derive(Debug, Clone)]
pub struct TrustPolicy {
    pub keys: Vec<TrustedKey>,
    /// Keyless (Fulcio/Rekor) authorities; they apply to signatures that carry a certificate.
    pub keyless: Vec<super::keyless::KeylessAuthority>,
    /// The builder and source every verified provenance must name.
    pub provenance: super::predicates::ProvenanceRequirements,
    /// How old the newest vulnerability report may be before the evidence is stale.
    pub max_report_age: std::time::Duration,
}

impl Default for TrustPolicy {
    fn default() -> Self {
        Self {
            keys: vec![],
            keyless: vec![],
            provenance: Default::default(),
            max_report_age: super::vuln_facts::DEFAULT_MAX_REPORT_AGE,
        }
    }
}

impl TrustPolicy {
    pub fn check_not_empty(&self) -> Result<(), TrustError> {
        if self.keys.is_empty() && self.keyless.is_empty() {
            Err(TrustError::Empty)
        } else {
            Ok(())
        }
    }

    /// The first trusted key that verifies `sig` over `msg`.
    pub fn key_for(&self, sig: &[u8], msg: &[u8]) -> Option<&TrustedKey> {
        self.keys.iter().find(|k| k.verifies(sig, msg))
    }

    /// Fingerprints of the trusted keys, for error messages.
    pub fn key_labels(&self) -> String {
        self.keys
            .iter()
            .map(TrustedKey::label)
            .chain(
                self.keyless
                    .iter()
                    .map(super::keyless::KeylessAuthority::label),
            )
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ed25519_keys_take_pure_and_prehashed_signatures() {
        use base64::Engine as _;
        use ed25519_dalek::Signer as _;
        let sk = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let mut der = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        der.extend_from_slice(sk.verifying_key().as_bytes());
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(&der)
        );
        let key = TrustedKey::from_pem("ed.pub", pem.as_bytes()).unwrap();
        let msg = b"payload";
        let pure = sk.sign(msg).to_bytes();
        let ph = sk
            .sign_prehashed(sha2::Sha512::new().chain_update(msg), None)
            .unwrap()
            .to_bytes();
        assert!(key.verifies(&pure, msg));
        assert!(key.verifies(&ph, msg));
        assert!(!key.verifies(&ph, b"other payload"));
        assert!(!key.verifies(&pure, b"other payload"));
        assert!(!key.verifies(&ph[..10], msg));
    }

    #[test]
    fn rejects_non_keys_with_a_clear_error() {
        for bad in [
            &b""[..],
            b"not pem",
            b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        ] {
            let e = TrustedKey::from_pem("k.pub", bad).unwrap_err();
            assert!(e.to_string().contains("k.pub"), "{e}");
        }
        assert!(matches!(
            TrustPolicy::default().check_not_empty(),
            Err(TrustError::Empty)
        ));
    }
}
