//! Vulnerability reports (cosign vuln, Trivy, OSV, osv-scanner; `evidence::vulns`) read as facts
//! from arbitrary JSON, and merged (`evidence::vuln_facts`): no panic; every finding has an ID;
//! merging is worst-case and order-free (a report twice is the report once); the counts add up
//! to the findings; a report without a scan time is stale, one scanned just now is not; CVSS scores lie in 0..=10. Raw UTF-8 input is also fed to the CVSS vector
//! and severity-label parsers directly, which the JSON path reaches only rarely.
#![no_main]
use libfuzzer_sys::fuzz_target;
use release_gate::evidence::predicates;
use release_gate::evidence::vuln_facts::{DEFAULT_MAX_REPORT_AGE, VulnFacts};
use release_gate::evidence::vulns::{self, Severity};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Some(x) = vulns::cvss_base_score(s) {
            assert!((0.0..=10.0).contains(&x), "CVSS score {x} of {s:?}");
        }
        let _ = Severity::from_label(s);
    }
    let Ok(v) = predicates::json(data) else {
        return;
    };
    let looks = vulns::looks_like_report(&v);
    let Ok(r) = vulns::parse_report(&v) else {
        return;
    };
    assert!(looks, "a report parsed that does not look like one");
    assert!(["trivy", "osv-scanner", "osv"].contains(&r.format));
    assert!(r.digest.starts_with("sha256:"));
    assert!(
        r.findings.iter().all(|f| !f.id.trim().is_empty()),
        "finding without ID"
    );
    assert_eq!(
        vulns::parse_report(&v).as_ref(),
        Ok(&r),
        "parsing is deterministic"
    );
    for now in [
        jiff::Timestamp::UNIX_EPOCH,
        jiff::Timestamp::MIN,
        jiff::Timestamp::MAX,
        r.scan_time.unwrap_or(jiff::Timestamp::UNIX_EPOCH),
    ] {
        let once = VulnFacts::merge(std::slice::from_ref(&r), DEFAULT_MAX_REPORT_AGE, now);
        let twice = VulnFacts::merge(&[r.clone(), r.clone()], DEFAULT_MAX_REPORT_AGE, now);
        assert_eq!(once, twice, "a report twice is not the report once");
        let total = [
            once.critical,
            once.high,
            once.medium,
            once.low,
            once.unknown,
        ]
        .iter()
        .map(|n| *n as usize)
        .sum::<usize>();
        assert_eq!(total, once.findings.len(), "counts add up");
        let criticals: Vec<_> = once
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Critical)
            .map(|f| f.id.clone())
            .collect();
        assert_eq!(once.critical_ids, criticals, "every critical ID, sorted");
        let ids: std::collections::BTreeSet<_> = r.findings.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(
            ids.len(),
            once.findings.len(),
            "one merged finding per advisory ID"
        );
        for m in &once.findings {
            let worst = r
                .findings
                .iter()
                .filter(|f| f.id == m.id)
                .map(|f| f.severity)
                .min();
            assert_eq!(Some(m.severity), worst, "the worst severity of {}", m.id);
        }
        assert_eq!(once.stale, once.stale_reason.is_some());
        match r.scan_time {
            None => assert!(once.stale, "a report without a scan time is stale"),
            Some(t) if t == now => assert!(!once.stale, "a report scanned now is fresh"),
            Some(_) => {}
        }
        let _ = (once.counts(), once.over_budget(&Default::default()));
    }
});
