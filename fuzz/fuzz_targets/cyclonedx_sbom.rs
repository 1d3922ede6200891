//! SBOM summary (CycloneDX, SPDX) from arbitrary JSON, under either predicate type.
#![no_main]
use libfuzzer_sys::fuzz_target;
use release_gate::evidence::predicates;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = predicates::json(data) {
        let _ = predicates::parse_sbom(predicates::CYCLONEDX, &v);
        let _ = predicates::parse_sbom(predicates::SPDX, &v);
    }
});
