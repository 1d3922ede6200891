//! SLSA provenance (v0.2 and v1) summary from arbitrary JSON.
#![no_main]
use libfuzzer_sys::fuzz_target;
use release_gate::evidence::predicates;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = predicates::json(data) {
        let _ = predicates::parse_slsa(predicates::SLSA_V02, &v);
        let _ = predicates::parse_slsa(predicates::SLSA_V1, &v);
    }
});
