//! Sigstore bundles, through the one bundle parser (`keyless_bundle`) both paths share: the
//! keyed path's `evidence::bundle::parse` and its DSSE envelope, and the keyless verifier
//! (`keyless::verify_bundle`: certificate DER, Rekor entry, inclusion proof, checkpoint) against
//! the production trust root of the test vectors, offline. Whatever the bytes: no panic;
//! parsing is deterministic; a bundle that parses yields an envelope `dsse::parse_envelope`
//! reads, with its one signature; a bundle the keyless verifier accepts is one the keyed parser
//! reads too (or a message signature, which the keyed path refuses by design).
#![no_main]
use libfuzzer_sys::fuzz_target;
use release_gate::evidence::keyless::{self, Artifact, KeylessIdentity, Matcher};
use release_gate::evidence::trust_root::TrustedRoot;
use release_gate::evidence::{bundle, dsse};
use std::sync::OnceLock;

fn root() -> &'static TrustedRoot {
    static ROOT: OnceLock<TrustedRoot> = OnceLock::new();
    ROOT.get_or_init(|| {
        let json = include_bytes!("../../e2e/fixtures/keyless/trusted_root.json");
        TrustedRoot::from_json("fixtures", json).expect("the fixture trust root")
    })
}

fuzz_target!(|data: &[u8]| {
    let parsed = bundle::parse(data);
    assert_eq!(
        parsed.as_ref().ok(),
        bundle::parse(data).as_ref().ok(),
        "parsing is deterministic"
    );
    // The subject the statement names, so that a well-formed bundle gets past the artifact check.
    let mut subject = [0u8; 32];
    if let Ok(b) = &parsed {
        let env =
            dsse::parse_envelope(&b.envelope).expect("a bundle's envelope is a DSSE envelope");
        assert_eq!(env.signatures.len(), 1);
        if let Ok((_, st)) = dsse::parse_attestation(&b.envelope)
            && let Ok(d) = hex_32(st.subject_digests[0].hex())
        {
            subject = d;
        }
    }
    let anyone = KeylessIdentity {
        issuer: Matcher::regex(".*").expect("regex"),
        subject: Matcher::regex(".*").expect("regex"),
    };
    let verified = keyless::verify_bundle(data, Artifact::Sha256(subject), root(), &anyone);
    if verified.is_ok() {
        assert!(
            matches!(parsed, Ok(_) | Err(bundle::BundleError::MessageSignature)),
            "the keyless verifier accepted a bundle the keyed parser refuses: {parsed:?}"
        );
    }
});

fn hex_32(hex: &str) -> Result<[u8; 32], ()> {
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(hex.get(2 * i..2 * i + 2).ok_or(())?, 16).map_err(|_| ())?;
    }
    Ok(out)
}
