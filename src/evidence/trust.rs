//! Trust authorities: the public keys (ECDSA P-256/384/521, Ed25519, RSA, PEM) whose signatures
//! count. They come from platform configuration (a Secret, a file, inline PEM), never from the
//! artifact being verified. Key parsing and the signature check are `crypto::VerifyingKey`'s,
//! on the `sigstore` crate's parsing and primitives.

use sha2::Digest as _;

use super::crypto::VerifyingKey;

/// A public key that may sign releases.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    /// Where the key came from, for messages (`cosign.pub`, `secret/ns/name`).
    pub name: String,
    /// `sha256:<hex>` of the key's DER SubjectPublicKeyInfo: a stable id for reports.
    pub fingerprint: String,
    key: VerifyingKey,
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
        let key = VerifyingKey::from_pem(pem).map_err(|why| TrustError::Key {
            name: name.clone(),
            why,
        })?;
        let fingerprint = format!("sha256:{}", hex::encode(sha2::Sha256::digest(key.der())));
        Ok(Self {
            name,
            fingerprint,
            key,
        })
    }

    /// Whether `sig` is this key's signature over `msg`, in any scheme cosign signs with for
    /// the key (see `VerifyingKey`: Ed25519 keys, for one, take pure Ed25519 and Ed25519ph).
    pub fn verifies(&self, sig: &[u8], msg: &[u8]) -> bool {
        self.key.verify(msg, sig).is_ok()
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

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/keyed/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn signature(name: &str) -> Vec<u8> {
        super::super::crypto::b64(std::str::from_utf8(&fixture(name)).unwrap()).unwrap()
    }

    /// Keys and signatures made by cosign (and OpenSSL), `tests/fixtures/keyed/README.md`.
    #[test]
    fn cosign_keys_verify_cosign_signatures() {
        let blob = fixture("blob.txt");
        let keys = ["p256", "rsa2048", "p384"].map(|k| {
            TrustedKey::from_pem(format!("{k}.pub"), &fixture(&format!("{k}.pub"))).unwrap()
        });
        for (key, sig) in keys.iter().zip(["p256.sig", "rsa2048.sig", "p384.sig"]) {
            let sig = signature(sig);
            assert!(key.verifies(&sig, &blob), "{}", key.name);
            assert!(!key.verifies(&sig, b"other blob"), "{}", key.name);
            assert!(!key.verifies(&sig[..sig.len() - 1], &blob), "{}", key.name);
            // Only the key that made it.
            let policy = TrustPolicy {
                keys: keys.to_vec(),
                ..Default::default()
            };
            assert_eq!(
                policy.key_for(&sig, &blob).map(|k| &k.name),
                Some(&key.name)
            );
        }
        // P-384 with SHA-256 (OpenSSL), which the keyed path did not take before.
        assert!(keys[2].verifies(&signature("p384-sha256.sig"), &blob));
        assert_eq!(
            keys[0].fingerprint,
            format!(
                "sha256:{}",
                hex::encode(sha2::Sha256::digest(
                    super::super::crypto::pem_der(&fixture("p256.pub")).unwrap()
                ))
            )
        );
    }

    /// cosign v2 signs with Ed25519ph for an Ed25519 key: its DSSE attestation verifies.
    #[test]
    fn cosign_ed25519_attestation_verifies() {
        let key = TrustedKey::from_pem("ed25519.pub", &fixture("ed25519.pub")).unwrap();
        let env: serde_json::Value = serde_json::from_slice(&fixture("ed25519.dsse.json")).unwrap();
        let payload = super::super::crypto::b64(env["payload"].as_str().unwrap()).unwrap();
        let sig = super::super::crypto::b64(env["signatures"][0]["sig"].as_str().unwrap()).unwrap();
        let pae = super::super::dsse::pae(env["payloadType"].as_str().unwrap(), &payload);
        assert!(key.verifies(&sig, &pae));
        assert!(!key.verifies(&sig, &payload));
        // It is Ed25519ph indeed: pure Ed25519 rejects it.
        let der = super::super::crypto::pem_der(&fixture("ed25519.pub")).unwrap();
        let raw: [u8; 32] = der[12..].try_into().unwrap();
        let pure = ed25519_dalek::VerifyingKey::from_bytes(&raw).unwrap();
        let sig = ed25519_dalek::Signature::from_slice(&sig).unwrap();
        assert!(pure.verify_strict(&pae, &sig).is_err());
        assert!(
            pure.verify_prehashed(sha2::Sha512::new().chain_update(&pae), None, &sig)
                .is_ok()
        );
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
