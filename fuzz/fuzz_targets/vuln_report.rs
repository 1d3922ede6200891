//! Vulnerability reports (cosign vuln, Trivy, OSV) read as facts from arbitrary JSON, and merged.
#![no_main]
use libfuzzer_sys::fuzz_target;
use release_gate::evidence::{predicates, vuln_facts, vulns};

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = predicates::json(data) {
        let _ = vulns::looks_like_report(&v);
        if let Ok(r) = vulns::parse_report(&v) {
            let _ = vuln_facts::VulnFacts::merge(
                &[r],
                vuln_facts::DEFAULT_MAX_REPORT_AGE,
                jiff::Timestamp::UNIX_EPOCH,
            );
        }
    }
});
