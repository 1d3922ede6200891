//! The primitives every other evidence module builds on, each in one place: base64 as the
//! Sigstore formats write it, the DER inside a PEM block, and a signature check with a DER
//! SubjectPublicKeyInfo. The bottom layer: it imports no other evidence module.
//!
//! Base64: DSSE allows the standard or the URL-safe alphabet, and protobuf JSON (Sigstore
//! bundles, trusted_root.json) accepts either, padded or not; so does [`b64`], for every field.
//! Accepting both spellings of the same bytes is safe here: signatures are always checked over
//! the decoded bytes, never over the text.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use der::Decode as _;

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

/// Verifies `sig` (ASN.1 ECDSA, Ed25519 or RSA PKCS#1) over `msg` with a DER
/// SubjectPublicKeyInfo; the digest is SHA-256 except where the curve calls for SHA-384.
pub(crate) fn verify_spki_signature(spki_der: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), String> {
    use ring::signature as rs;
    let spki = x509_cert::spki::SubjectPublicKeyInfoOwned::from_der(spki_der)
        .map_err(|e| format!("public key is not DER SubjectPublicKeyInfo: {e}"))?;
    let key = spki.subject_public_key.raw_bytes();
    let alg = spki.algorithm.oid.to_string();
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok())
        .map(|o| o.to_string());
    let algs: Vec<&'static dyn rs::VerificationAlgorithm> = match (alg.as_str(), curve.as_deref()) {
        ("1.2.840.10045.2.1", Some("1.2.840.10045.3.1.7")) => vec![&rs::ECDSA_P256_SHA256_ASN1],
        ("1.2.840.10045.2.1", Some("1.3.132.0.34")) => {
            vec![&rs::ECDSA_P384_SHA384_ASN1, &rs::ECDSA_P384_SHA256_ASN1]
        }
        ("1.3.101.112", _) => vec![&rs::ED25519],
        ("1.2.840.113549.1.1.1", _) => vec![&rs::RSA_PKCS1_2048_8192_SHA256],
        _ => return Err(format!("unsupported key algorithm {alg}")),
    };
    if algs
        .into_iter()
        .any(|a| rs::UnparsedPublicKey::new(a, key).verify(msg, sig).is_ok())
    {
        Ok(())
    } else {
        Err("signature mismatch".into())
    }
}

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

    #[test]
    fn spki_signatures_verify_only_over_what_was_signed() {
        use sigstore::crypto::SigningScheme;
        for scheme in [
            SigningScheme::ECDSA_P256_SHA256_ASN1,
            SigningScheme::ECDSA_P384_SHA384_ASN1,
            SigningScheme::ED25519,
        ] {
            let signer = scheme.create_signer().unwrap();
            let spki = signer
                .to_sigstore_keypair()
                .unwrap()
                .public_key_to_der()
                .unwrap();
            let sig = signer.sign(b"message").unwrap();
            assert_eq!(
                verify_spki_signature(&spki, b"message", &sig),
                Ok(()),
                "{scheme}"
            );
            assert!(
                verify_spki_signature(&spki, b"other", &sig).is_err(),
                "{scheme}"
            );
        }
        assert!(verify_spki_signature(b"not der", b"m", b"s").is_err());
    }
}
