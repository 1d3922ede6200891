//! In-toto statement parsing (v0.1 and v1).
#![no_main]
use libfuzzer_sys::fuzz_target;
use release_gate::evidence::dsse;

fuzz_target!(|data: &[u8]| {
    let _ = dsse::parse_statement(data);
});
