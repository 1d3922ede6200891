//! The primitives every other evidence module builds on, each in one place: base64 as the
//! Sigstore formats write it, the DER inside a PEM block, and the one signature check
//! ([`VerifyingKey`]) for every key the evidence paths trust, from a DER SubjectPublicKeyInfo.
//! The bottom layer: it imports no other evidence module.
//!
//! Base64: DSSE allows the standard or the URL-safe alphabet, and protobuf JSON (Sigstore
//! bundles, trusted_root.json) accepts either, padded or not; so does [`b64`], for every field.
//! Accepting both spellings of the same bytes is safe here: signatures are always checked over
//! the decoded bytes, never over the text.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use der::Decode as _;
use sha2::Digest as _;
use sigstore::crypto::{CosignVerificationKey, Signature};
use x509_cert::spki::SubjectPublicKeyInfoOwned;

const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Decodes base64 in the standard or the URL-safe alphabet, padded or not, ignoring surrounding
/// whitespace.
pub(crate) fn b64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    STANDARD.decode(s).ok().or_else(|| URL_SAFE.decode(s).ok())
}

/// The DER of the first PEM block of `pem` (any label), or `None` when it holds none.
pub(crate) fn pem_der(pem: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(pem).ok()?;
    let mut lines = text.lines().map(str::trim);
    lines.find(|l| l.starts_with("-----BEGIN"))?;
    let mut body = String::new();
    for l in lines {
        if l.starts_with("-----END") {
            return b64(&body).filter(|der| !der.is_empty());
        }
        body.push_str(l);
    }
    None
}

/// A public key, parsed once from a DER SubjectPublicKeyInfo, and the one signature check every
/// evidence path uses: trusted `--key` keys, Fulcio certificate keys and Rekor log keys.
///
/// It accepts the union of what cosign and Sigstore sign with: ECDSA P-256 (SHA-256), P-384
/// (SHA-384, or SHA-256 as some Sigstore certificates use), P-521 (SHA-512), RSA PKCS#1 v1.5 or
/// PSS (SHA-256, what cosign uses for RSA keys; 2048 to 8192 bits), and Ed25519, pure or
/// Ed25519ph (SHA-512 prehash, empty context: cosign v2 signs so with Ed25519 keys,
/// sigstore/sigstore#1595). Signatures are ASN.1 DER for ECDSA, raw for RSA and Ed25519.
///
/// Parsing and the primitives are the `sigstore` crate's [`CosignVerificationKey`]; what it lacks
/// is added here on maintained crates: Ed25519ph (ed25519-dalek), P-384 with SHA-256 (ring), and
/// PSS for an RSA key, which the crate reads as PKCS#1 v1.5 (the SubjectPublicKeyInfo is the
/// same for both, so both are tried). Taking several schemes per key costs no strength: for a
/// signature in one to pass in another, their different digests (or paddings, or Ed25519ph's
/// domain prefix) would have to meet.
#[derive(Debug, Clone)]
pub(crate) struct VerifyingKey {
    /// The DER SubjectPublicKeyInfo as given.
    der: Vec<u8>,
    /// The scheme the `sigstore` crate reads the key as.
    key: CosignVerificationKey,
    /// The scheme the same key may also sign with.
    also: Also,
}

#[derive(Debug, Clone)]
enum Also {
    Nothing,
    /// RSA: PSS with SHA-256.
    RsaPss(CosignVerificationKey),
    /// P-384: ECDSA with SHA-256, over the uncompressed point (ring's key form).
    P384Sha256(Vec<u8>),
    /// Ed25519: Ed25519ph.
    Ed25519ph(ed25519_dalek::VerifyingKey),
}

impl VerifyingKey {
    /// Parses a DER SubjectPublicKeyInfo; the algorithm is taken from the key.
    pub(crate) fn from_der(der: &[u8]) -> Result<Self, String> {
        let spki = SubjectPublicKeyInfoOwned::from_der(der)
            .map_err(|e| format!("public key is not DER SubjectPublicKeyInfo: {e}"))?;
        let key = CosignVerificationKey::try_from(&spki).map_err(|_| {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok())
                .map(|curve| format!(" (curve {curve})"))
                .unwrap_or_default();
            format!("unsupported key algorithm {}{curve}", spki.algorithm.oid)
        })?;
        let raw = spki.subject_public_key.raw_bytes();
        let also = match &key {
            CosignVerificationKey::RSA_PKCS1_SHA256(der) => {
                Also::RsaPss(CosignVerificationKey::RSA_PSS_SHA256(der.clone()))
            }
            CosignVerificationKey::ECDSA_P384_SHA384_ASN1(_) => Also::P384Sha256(raw.to_vec()),
            CosignVerificationKey::ED25519(_) => {
                let point = <&[u8; 32]>::try_from(raw)
                    .ok()
                    .and_then(|raw| ed25519_dalek::VerifyingKey::from_bytes(raw).ok())
                    .ok_or("Ed25519 public key is not 32 bytes holding a valid point")?;
                Also::Ed25519ph(point)
            }
            _ => Also::Nothing,
        };
        Ok(Self {
            der: der.to_vec(),
            key,
            also,
        })
    }

    /// Parses the first PEM block of `pem` (a `PUBLIC KEY`, as `cosign public-key` prints).
    pub(crate) fn from_pem(pem: &[u8]) -> Result<Self, String> {
        Self::from_der(&pem_der(pem).ok_or("not PEM: no BEGIN/END block with a base64 body")?)
    }

    /// The DER SubjectPublicKeyInfo the key was parsed from.
    pub(crate) fn der(&self) -> &[u8] {
        &self.der
    }

    /// Verifies `sig` over `msg` with any scheme the key accepts (see the type).
    pub(crate) fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), String> {
        let ok = self.key.verify_signature(Signature::Raw(sig), msg).is_ok()
            || match &self.also {
                Also::Nothing => false,
                Also::RsaPss(pss) => pss.verify_signature(Signature::Raw(sig), msg).is_ok(),
                Also::P384Sha256(point) => ring::signature::UnparsedPublicKey::new(
                    &ring::signature::ECDSA_P384_SHA256_ASN1,
                    point,
                )
                .verify(msg, sig)
                .is_ok(),
                Also::Ed25519ph(key) => {
                    ed25519_dalek::Signature::from_slice(sig).is_ok_and(|sig| {
                        key.verify_prehashed(sha2::Sha512::new().chain_update(msg), None, &sig)
                            .is_ok()
                    })
                }
            };
        if ok {
            Ok(())
        } else {
            Err("signature mismatch".into())
        }
    }
}

/// Every scheme the `sigstore` crate makes signers for, for the tests of the modules above.
#[cfg(test)]
pub(crate) const SCHEMES: [sigstore::crypto::SigningScheme; 6] = {
    use sigstore::crypto::SigningScheme as S;
    [
        S::ECDSA_P256_SHA256_ASN1,
        S::ECDSA_P384_SHA384_ASN1,
        S::ECDSA_P521_SHA512_ASN1,
        S::ED25519,
        S::RSA_PKCS1_SHA256(2048),
        S::RSA_PSS_SHA256(2048),
    ]
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_in_either_alphabet_padded_or_not() {
        // 0xfb 0xff encodes as `+/8=` (standard) and `-_8=` (URL-safe).
        for s in ["+/8=", "-_8=", "+/8", "-_8", " +/8=\n"] {
            assert_eq!(b64(s), Some(vec![0xfb, 0xff]), "{s:?}");
        }
        assert_eq!(b64(""), Some(vec![]));
        for bad in ["*", "+/8=x", "+_8=="] {
            assert_eq!(b64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn pem_der_reads_the_first_block() {
        let pem = b"junk\n-----BEGIN PUBLIC KEY-----\nAAEC\nAwQ=\n-----END PUBLIC KEY-----\n-----BEGIN X-----\nBQ==\n-----END X-----\n";
        assert_eq!(pem_der(pem), Some(vec![0, 1, 2, 3, 4]));
        assert_eq!(pem_der(b"-----BEGIN A-----\nAAEC\n"), None, "no END line");
        assert_eq!(
            pem_der(b"-----BEGIN A-----\n-----END A-----\n"),
            None,
            "empty"
        );
        assert_eq!(pem_der(b"AAEC"), None);
        assert_eq!(pem_der(b"\xff"), None);
    }

    /// A DER SubjectPublicKeyInfo of an Ed25519 key (RFC 8410: a fixed 12-byte header).
    fn ed25519_spki(key: &ed25519_dalek::VerifyingKey) -> Vec<u8> {
        let mut der = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        der.extend_from_slice(key.as_bytes());
        der
    }

    #[test]
    fn every_scheme_verifies_only_what_was_signed() {
        let mut signed = vec![];
        for scheme in SCHEMES {
            let signer = scheme.create_signer().unwrap();
            let keys = signer.to_sigstore_keypair().unwrap();
            let key = VerifyingKey::from_der(&keys.public_key_to_der().unwrap()).unwrap();
            let same = VerifyingKey::from_pem(keys.public_key_to_pem().unwrap().as_bytes());
            assert_eq!(same.unwrap().der(), key.der(), "{scheme}");
            let sig = signer.sign(b"message").unwrap();
            assert_eq!(key.verify(b"message", &sig), Ok(()), "{scheme}");
            assert_eq!(
                key.verify(b"other", &sig),
                Err("signature mismatch".into()),
                "{scheme}"
            );
            let cut = &sig[..sig.len() - 1];
            assert!(key.verify(b"message", cut).is_err(), "{scheme}");
            assert!(key.verify(b"message", &[]).is_err(), "{scheme}");
            signed.push((scheme, key, sig));
        }
        // No key takes another key's signature, whatever the schemes.
        for (a, key, _) in &signed {
            for (b, _, sig) in &signed {
                if a != b {
                    assert!(key.verify(b"message", sig).is_err(), "{a} key, {b} sig");
                }
            }
        }
    }

    #[test]
    fn ed25519_keys_take_pure_and_prehashed_signatures() {
        use ed25519_dalek::Signer as _;
        let sk = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let key = VerifyingKey::from_der(&ed25519_spki(&sk.verifying_key())).unwrap();
        let msg = b"payload";
        let pure = sk.sign(msg).to_bytes();
        let ph = sk
            .sign_prehashed(sha2::Sha512::new().chain_update(msg), None)
            .unwrap()
            .to_bytes();
        assert_eq!(key.verify(msg, &pure), Ok(()));
        assert_eq!(key.verify(msg, &ph), Ok(()));
        assert!(key.verify(b"other payload", &ph).is_err());
        assert!(key.verify(b"other payload", &pure).is_err());
        assert!(key.verify(msg, &ph[..10]).is_err());
        // A context other than the empty one is another domain.
        let with_context = sk
            .sign_prehashed(sha2::Sha512::new().chain_update(msg), Some(b"ctx"))
            .unwrap()
            .to_bytes();
        assert!(key.verify(msg, &with_context).is_err());
        // Another Ed25519 key takes neither.
        let other = ed25519_dalek::SigningKey::from_bytes(&[8; 32]);
        let other = VerifyingKey::from_der(&ed25519_spki(&other.verifying_key())).unwrap();
        assert!(other.verify(msg, &pure).is_err());
        assert!(other.verify(msg, &ph).is_err());
    }

    /// OpenSSL-made (`tests/fixtures/keyed/README.md`): the same P-384 key signed with SHA-384
    /// (cosign) and with SHA-256 (`openssl dgst -sha256 -sign`).
    #[test]
    fn p384_keys_take_sha384_and_sha256() {
        let key =
            VerifyingKey::from_pem(include_bytes!("../../tests/fixtures/keyed/p384.pub")).unwrap();
        let blob = include_bytes!("../../tests/fixtures/keyed/blob.txt");
        for sig in [
            &include_bytes!("../../tests/fixtures/keyed/p384.sig")[..],
            include_bytes!("../../tests/fixtures/keyed/p384-sha256.sig"),
        ] {
            let sig = b64(std::str::from_utf8(sig).unwrap()).unwrap();
            assert_eq!(key.verify(blob, &sig), Ok(()));
            assert!(key.verify(b"other", &sig).is_err());
            assert!(key.verify(blob, &sig[..sig.len() - 2]).is_err());
        }
    }

    #[test]
    fn what_is_not_a_supported_key_says_why() {
        use der::Encode as _;
        use der::asn1::{Any, BitString, ObjectIdentifier as Oid};
        use x509_cert::spki::AlgorithmIdentifierOwned;
        let spki = |oid: &str, curve: Option<&str>| {
            SubjectPublicKeyInfoOwned {
                algorithm: AlgorithmIdentifierOwned {
                    oid: Oid::new_unwrap(oid),
                    parameters: curve.map(|c| Any::from(&Oid::new_unwrap(c))),
                },
                subject_public_key: BitString::from_bytes(&[4; 57]).unwrap(),
            }
            .to_der()
            .unwrap()
        };
        // Ed448; ECDSA on secp256k1.
        let e = VerifyingKey::from_der(&spki("1.3.101.113", None)).unwrap_err();
        assert_eq!(e, "unsupported key algorithm 1.3.101.113");
        let e = VerifyingKey::from_der(&spki("1.2.840.10045.2.1", Some("1.3.132.0.10")));
        assert_eq!(
            e.unwrap_err(),
            "unsupported key algorithm 1.2.840.10045.2.1 (curve 1.3.132.0.10)"
        );
        // An Ed25519 SubjectPublicKeyInfo whose key is not 32 bytes.
        let e = VerifyingKey::from_der(&spki("1.3.101.112", None)).unwrap_err();
        assert!(e.contains("Ed25519"), "{e}");
        for garbage in [&b"not der"[..], b"", &[0x30, 0x03, 0x02, 0x01, 0x00]] {
            let e = VerifyingKey::from_der(garbage).unwrap_err();
            assert!(
                e.starts_with("public key is not DER SubjectPublicKeyInfo"),
                "{e}"
            );
        }
        let e = VerifyingKey::from_pem(b"not pem").unwrap_err();
        assert!(e.starts_with("not PEM"), "{e}");
    }
}
