//! Sigstore bundle parsing, then the DSSE envelope it yields: never panics, whatever the bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use release_gate::evidence::{bundle, dsse};

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = bundle::parse(data) {
        let _ = dsse::parse_attestation(&b.envelope);
    }
});
