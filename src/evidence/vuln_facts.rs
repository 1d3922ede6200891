//! Every verified vulnerability report of one digest merged into facts, worst case: findings are
//! merged by advisory ID keeping the most severe rating, so no report (an older clean one, a
//! clean one in the other format, a layer moved first or last in the unsigned `.att` manifest)
//! can hide another's findings, and the result does not depend on the order reports were found.
//!
//! Freshness: a scan only knows the advisories published before it ran. The evidence is *stale*
//! when its newest report is older than the maximum age, when no report says when it ran, or when
//! one claims to have run in the future. An older report next to a fresh one does not make the
//! evidence stale: the image is immutable, so its findings still hold and are counted, and the
//! fresh scan covers what was published since.
//!
//! These are facts for the policy to judge (see `policies/`): no budget is checked here.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;

use super::vulns::{Report, Severity};

/// How old the newest vulnerability report may be unless the trust configuration says
/// otherwise: a week, the cadence at which scanners' databases and CI rescans commonly run.
pub const DEFAULT_MAX_REPORT_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// How far in the future a scan time may lie (clock skew between the scanner and us).
const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// One finding after merging all reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MergedFinding {
    pub id: String,
    /// The most severe rating any report gives it.
    pub severity: Severity,
    /// The affected packages, sorted and comma-separated (`musl, musl-utils`).
    pub package: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
    /// The digest of the report that gave the rating (see [`ReportFacts::digest`]).
    pub source: String,
}

/// One report that was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportFacts {
    /// `trivy`, `osv-scanner` or `osv`.
    pub format: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scanner: Option<String>,
    /// RFC 3339; absent when the report does not say.
    pub scan_time: Option<String>,
    /// `sha256:` of the report as attested.
    pub digest: String,
}

/// The vulnerability facts of one digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VulnFacts {
    pub critical: u32,
    pub high: u32,
    pub medium: u32,
    pub low: u32,
    pub unknown: u32,
    /// The IDs of the critical findings, sorted.
    pub critical_ids: Vec<String>,
    /// Every finding, most severe first, then by ID.
    pub findings: Vec<MergedFinding>,
    /// The reports, oldest first.
    pub reports: Vec<ReportFacts>,
    pub stale: bool,
    /// Why the evidence is stale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_reason: Option<String>,
}

impl VulnFacts {
    /// Merges `reports` (any order, duplicates allowed) as of `now`.
    pub fn merge(reports: &[Report], max_age: Duration, now: jiff::Timestamp) -> Self {
        let mut by_digest: BTreeMap<&str, &Report> = BTreeMap::new();
        for r in reports {
            by_digest.entry(r.digest.as_str()).or_insert(r);
        }
        struct Acc {
            severity: Severity,
            packages: BTreeSet<String>,
            fixed_version: Option<String>,
            source: String,
        }
        let mut merged: BTreeMap<&str, Acc> = BTreeMap::new();
        for r in by_digest.values() {
            for f in &r.findings {
                let acc = merged.entry(f.id.as_str()).or_insert_with(|| Acc {
                    severity: f.severity,
                    packages: BTreeSet::new(),
                    fixed_version: None,
                    source: r.digest.clone(),
                });
                if f.severity < acc.severity {
                    acc.severity = f.severity;
                    acc.source = r.digest.clone();
                    if f.fixed_version.is_some() {
                        acc.fixed_version = f.fixed_version.clone();
                    }
                }
                acc.packages.insert(f.package.clone());
                if acc.fixed_version.is_none() {
                    acc.fixed_version = f.fixed_version.clone();
                }
            }
        }
        let mut findings: Vec<MergedFinding> = merged
            .into_iter()
            .map(|(id, a)| MergedFinding {
                id: id.to_owned(),
                severity: a.severity,
                package: a.packages.into_iter().collect::<Vec<_>>().join(", "),
                fixed_version: a.fixed_version,
                source: a.source,
            })
            .collect();
        findings.sort_by(|a, b| a.severity.cmp(&b.severity).then_with(|| a.id.cmp(&b.id)));
        let count = |s: Severity| {
            u32::try_from(findings.iter().filter(|f| f.severity == s).count()).unwrap_or(u32::MAX)
        };
        let mut dated: Vec<&Report> = by_digest.values().copied().collect();
        dated.sort_by(|a, b| a.scan_time.cmp(&b.scan_time).then(a.digest.cmp(&b.digest)));
        let stale_reason = staleness(&dated, max_age, now);
        Self {
            critical: count(Severity::Critical),
            high: count(Severity::High),
            medium: count(Severity::Medium),
            low: count(Severity::Low),
            unknown: count(Severity::Unknown),
            critical_ids: findings
                .iter()
                .filter(|f| f.severity == Severity::Critical)
                .map(|f| f.id.clone())
                .collect(),
            findings,
            reports: dated
                .iter()
                .map(|r| ReportFacts {
                    format: r.format.to_owned(),
                    scanner: r.scanner.clone(),
                    scan_time: r.scan_time.map(|t| t.to_string()),
                    digest: r.digest.clone(),
                })
                .collect(),
            stale: stale_reason.is_some(),
            stale_reason,
        }
    }

    /// The counts in the status form.
    pub fn counts(&self) -> crate::api::VulnerabilityCounts {
        crate::api::VulnerabilityCounts {
            critical: self.critical,
            high: self.high,
            medium: self.medium,
            low: self.low,
            unknown: self.unknown,
        }
    }
}

/// Why reports sorted oldest first are stale, if they are.
fn staleness(sorted: &[&Report], max_age: Duration, now: jiff::Timestamp) -> Option<String> {
    if let Some(future) = sorted.iter().rev().find_map(|r| {
        r.scan_time
            .filter(|t| seconds_between(now, *t) > MAX_CLOCK_SKEW.as_secs_f64())
    }) {
        return Some(format!(
            "a vulnerability report claims it was scanned at {future}, in the future (now {now}); fix the scanner's clock and scan again"
        ));
    }
    let Some(newest) = sorted.iter().rev().find_map(|r| r.scan_time) else {
        return Some(
            "no vulnerability report says when it was scanned (metadata.scanFinishedOn of a cosign vuln predicate, CreatedAt of a Trivy report): scan again and attest with `cosign attest --type vuln`".into(),
        );
    };
    let age = seconds_between(newest, now);
    (age > max_age.as_secs_f64()).then(|| {
        format!(
            "the newest vulnerability report was scanned at {newest}, {} ago, older than the maximum age of {}: scan the image again and attest the new report",
            format_duration(Duration::from_secs_f64(age.max(0.0))),
            format_duration(max_age)
        )
    })
}

/// `to - from` in seconds.
fn seconds_between(from: jiff::Timestamp, to: jiff::Timestamp) -> f64 {
    (to.as_nanosecond() - from.as_nanosecond()) as f64 / 1e9
}

/// `7d`, `29d12h`, `3h`, `90m`, `45s`: days and hours from a day on, else the largest unit that
/// divides the duration.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "0s".into(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s >= 86_400 => format!("{}d{}h", s / 86_400, (s % 86_400) / 3_600),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Parses `7d`, `36h`, `90m`, `45s` or bare seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("'{s}' is not a duration such as 7d, 36h, 90m or 45s"))?;
    let scale = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" | "" => 1,
        _ => return Err(format!("'{s}': unknown unit '{unit}' (use d, h, m or s)")),
    };
    n.checked_mul(scale)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("'{s}' is too long a duration"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::vulns::Finding;

    fn t(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    fn report(digest: &str, time: Option<&str>, findings: &[(&str, Severity, &str)]) -> Report {
        Report {
            format: "trivy",
            scanner: None,
            scan_time: time.map(t),
            digest: digest.into(),
            findings: findings
                .iter()
                .map(|(id, severity, package)| Finding {
                    id: (*id).into(),
                    severity: *severity,
                    package: (*package).into(),
                    fixed_version: Some(format!("{id}-fix")),
                })
                .collect(),
        }
    }

    const NOW: &str = "2026-11-30T12:00:00Z";

    #[test]
    fn merged_worst_case_whatever_the_order() {
        let old_clean = report(
            "sha256:a",
            Some("2026-11-29T00:00:00Z"),
            &[("CVE-1", Severity::Low, "p")],
        );
        let new_critical = report(
            "sha256:b",
            Some("2026-11-30T00:00:00Z"),
            &[
                ("CVE-1", Severity::Critical, "q"),
                ("CVE-2", Severity::Critical, "p"),
                ("CVE-3", Severity::Unknown, "p"),
            ],
        );
        let a = VulnFacts::merge(
            &[old_clean.clone(), new_critical.clone()],
            DEFAULT_MAX_REPORT_AGE,
            t(NOW),
        );
        let b = VulnFacts::merge(
            &[new_critical.clone(), old_clean.clone(), new_critical],
            DEFAULT_MAX_REPORT_AGE,
            t(NOW),
        );
        assert_eq!(a, b, "order and duplicates do not matter");
        assert_eq!((a.critical, a.low, a.unknown), (2, 0, 1));
        assert_eq!(a.critical_ids, ["CVE-1", "CVE-2"]);
        let cve1 = &a.findings[0];
        assert_eq!(
            (
                cve1.id.as_str(),
                cve1.package.as_str(),
                cve1.source.as_str()
            ),
            ("CVE-1", "p, q", "sha256:b")
        );
        assert_eq!(a.reports.len(), 2);
        assert_eq!(a.reports[0].digest, "sha256:a", "oldest first");
        assert!(!a.stale, "{:?}", a.stale_reason);
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["criticalIds"][1], "CVE-2");
        assert_eq!(json["findings"][0]["fixedVersion"], "CVE-1-fix");
        assert_eq!(json["reports"][1]["scanTime"], "2026-11-30T00:00:00Z");
        assert_eq!(json["stale"], false);
    }

    #[test]
    fn stale_when_the_newest_report_is_too_old_undated_or_in_the_future() {
        let fresh = report("sha256:f", Some("2026-11-29T12:00:00Z"), &[]);
        let old = report("sha256:o", Some("2026-11-01T00:00:00Z"), &[]);
        let undated = report("sha256:u", None, &[]);
        let future = report("sha256:x", Some("2026-12-01T00:00:00Z"), &[]);
        let merge = |rs: &[Report]| VulnFacts::merge(rs, DEFAULT_MAX_REPORT_AGE, t(NOW));
        assert!(!merge(&[old.clone(), fresh.clone()]).stale);
        assert!(!merge(&[undated.clone(), fresh.clone()]).stale);
        let v = merge(std::slice::from_ref(&old));
        assert!(v.stale);
        let why = v.stale_reason.unwrap();
        assert!(
            why.contains("29d12h ago, older than the maximum age of 7d"),
            "{why}"
        );
        assert!(
            merge(&[undated])
                .stale_reason
                .unwrap()
                .contains("says when")
        );
        assert!(
            merge(&[fresh.clone(), future])
                .stale_reason
                .unwrap()
                .contains("future")
        );
        // The maximum age is configurable.
        assert!(VulnFacts::merge(&[fresh], Duration::from_secs(3600), t(NOW)).stale);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("7d").unwrap(), DEFAULT_MAX_REPORT_AGE);
        assert_eq!(
            parse_duration("36h").unwrap(),
            Duration::from_secs(36 * 3600)
        );
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("7 weeks").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
        assert_eq!(format_duration(Duration::from_secs(36 * 3600)), "1d12h");
        assert_eq!(format_duration(Duration::from_secs(3 * 3600)), "3h");
        assert_eq!(format_duration(Duration::from_secs(90 * 60)), "90m");
        assert_eq!(format_duration(DEFAULT_MAX_REPORT_AGE), "7d");
    }
}
