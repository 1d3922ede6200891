//! DSSE envelope parsing plus the in-toto statement inside: never panics, whatever the bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use release_gate::evidence::dsse;

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = dsse::parse_envelope(data) {
        let _ = dsse::pae(&env.payload_type, &env.payload);
        let _ = dsse::parse_statement(&env.payload);
    }
    let _ = dsse::parse_attestation(data);
});
