//! Vulnerability reports read as facts: every finding (advisory ID, severity, package, fixed
//! version) and the report's signed scan time. Three formats are read: cosign's vuln predicate
//! (`scanner.result` wraps a scanner's report), a raw Trivy JSON report, and OSV (osv-scanner
//! output or `{"vulns": [...]}`).
//!
//! Strict on purpose: a report is evidence that an image is *clean*, so anything that could make
//! findings disappear is an error, never zero findings. A known key with the wrong type
//! (`Results` as an object), a finding without an ID, or two formats in one document (Trivy's
//! `Results` next to OSV's `results`) fail with the field that is wrong. Severity comes from the
//! scanner's label, or, where the label is missing or UNKNOWN, from the CVSS v3/v4 base score
//! computed from the vector by the RustSec `cvss` crate. Pure functions over JSON, fuzzed.

use std::str::FromStr as _;

use serde::Serialize;
use serde_json::Value;

use super::predicates::PredicateError;
use super::reference::Digest;

/// Severity levels, most severe first (so sorting puts criticals on top).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Unknown,
}

impl Severity {
    /// A scanner's label (Trivy, GitHub advisories, distributions), or a numeric score as
    /// osv-scanner writes in `groups[].max_severity`. `UNKNOWN`, empty and anything else are
    /// [`Severity::Unknown`].
    pub fn from_label(s: &str) -> Self {
        match s.trim().to_ascii_uppercase().as_str() {
            "CRITICAL" => Self::Critical,
            "HIGH" | "IMPORTANT" => Self::High,
            "MEDIUM" | "MODERATE" => Self::Medium,
            "LOW" | "NEGLIGIBLE" | "UNIMPORTANT" => Self::Low,
            other => other
                .parse::<f64>()
                .ok()
                .map_or(Self::Unknown, Self::from_score),
        }
    }

    /// The CVSS v3/v4 qualitative rating of a base score. A score of 0.0 ("none") is still a
    /// finding the scanner reported, so it counts as low rather than vanishing.
    pub fn from_score(score: f64) -> Self {
        match score {
            x if !(0.0..=10.0).contains(&x) => Self::Unknown,
            x if x >= 9.0 => Self::Critical,
            x if x >= 7.0 => Self::High,
            x if x >= 4.0 => Self::Medium,
            _ => Self::Low,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
            Self::Unknown => "unknown",
        }
    }
}

/// The base score of a CVSS v3.0, v3.1 or v4.0 vector (`CVSS:3.1/AV:N/...`); `None` for other
/// versions or a vector that does not parse.
pub fn cvss_base_score(vector: &str) -> Option<f64> {
    let vector = vector.trim();
    if !(vector.starts_with("CVSS:3.") || vector.starts_with("CVSS:4.")) {
        return None;
    }
    cvss::Cvss::from_str(vector).ok().map(|c| c.score())
}

/// One finding as a report states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub id: String,
    pub severity: Severity,
    pub package: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
}

/// What one vulnerability report says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// `trivy`, `osv-scanner` or `osv`: the format of the findings.
    pub format: &'static str,
    /// The scanner a cosign vuln predicate names (`scanner.uri`).
    pub scanner: Option<String>,
    /// When the scan ran, as the signed report says; `None` when it does not say.
    pub scan_time: Option<jiff::Timestamp>,
    /// `sha256:` of the report as attested (canonical JSON): the ID findings cite as their source.
    pub digest: String,
    pub findings: Vec<Finding>,
}

/// The top-level keys that make a document a report of each format.
const FORMATS: [(&str, &[&str]); 4] = [
    ("cosign vuln", &["scanner"]),
    ("Trivy", &["SchemaVersion", "Results"]),
    ("osv-scanner", &["results"]),
    ("OSV", &["vulns"]),
];

/// The formats `doc` has keys of (more than one is an error in [`parse_report`]).
fn formats_of(doc: &Value) -> Vec<&'static str> {
    FORMATS
        .iter()
        .filter(|(_, keys)| keys.iter().any(|k| doc.get(k).is_some()))
        .map(|(name, _)| *name)
        .collect()
}

/// Whether `doc` claims to be a vulnerability report (has a key of a known format). Predicates of
/// other types are read as reports when they do, so a scanner attested under its own predicate
/// type still counts, and a malformed one is an error rather than ignored.
pub fn looks_like_report(doc: &Value) -> bool {
    !formats_of(doc).is_empty()
}

fn shape(format: &'static str, why: impl Into<String>) -> PredicateError {
    PredicateError::Shape {
        format,
        why: why.into(),
    }
}

/// Reads a vulnerability report; see the module doc for what is an error.
pub fn parse_report(doc: &Value) -> Result<Report, PredicateError> {
    const F: &str = "vulnerability report";
    if !doc.is_object() {
        return Err(shape(F, "is not a JSON object"));
    }
    let digest = Digest::of(serde_json::to_string(doc).unwrap_or_default().as_bytes()).to_string();
    let formats = formats_of(doc);
    let (findings, format, scanner, scan_time) = match formats[..] {
        [] => {
            return Err(shape(
                F,
                "not a cosign vuln predicate (scanner.result), a Trivy report (SchemaVersion, Results) or an OSV report (results, vulns)",
            ));
        }
        ["cosign vuln"] => {
            let scanner = doc
                .get("scanner")
                .filter(|s| s.is_object())
                .ok_or_else(|| shape("cosign vuln", "scanner is not an object"))?;
            let uri = optional_str(scanner, "uri", "cosign vuln", "scanner.uri")?;
            let result = scanner
                .get("result")
                .filter(|r| !r.is_null())
                .ok_or_else(|| {
                    shape(
                        "cosign vuln",
                        "scanner.result is missing: it must hold the scanner's report",
                    )
                })?;
            if result.get("scanner").is_some() {
                return Err(shape(
                    "cosign vuln",
                    "scanner.result is itself a cosign vuln predicate: it must hold the scanner's report",
                ));
            }
            let inner = parse_report(result)
                .map_err(|e| shape("cosign vuln", format!("scanner.result: {e}")))?;
            let finished = time_at(doc, "/metadata/scanFinishedOn", "cosign vuln")?;
            let started = time_at(doc, "/metadata/scanStartedOn", "cosign vuln")?;
            (
                inner.findings,
                inner.format,
                uri.map(str::to_owned),
                finished.or(started).or(inner.scan_time),
            )
        }
        ["Trivy"] => (
            trivy_findings(doc)?,
            "trivy",
            None,
            time_at(doc, "/CreatedAt", "Trivy")?,
        ),
        ["osv-scanner"] => (osv_scanner_findings(doc)?, "osv-scanner", None, None),
        [_] => (osv_findings(doc)?, "osv", None, None),
        [a, b, ..] => {
            return Err(shape(
                F,
                format!(
                    "holds the keys of two report formats ({a} and {b}): one document must be one report; attest each report separately"
                ),
            ));
        }
    };
    Ok(Report {
        format,
        scanner,
        scan_time,
        digest,
        findings,
    })
}

/// An array at `key` of `v`: absent and `null` (how Go writes an empty slice) are empty; any
/// other type is an error naming `path`.
fn array<'a>(
    v: &'a Value,
    key: &str,
    format: &'static str,
    path: &str,
) -> Result<&'a [Value], PredicateError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(shape(
            format,
            format!("{path} is {}, not an array", type_name(other)),
        )),
    }
}

fn optional_str<'a>(
    v: &'a Value,
    key: &str,
    format: &'static str,
    path: &str,
) -> Result<Option<&'a str>, PredicateError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(shape(
            format,
            format!("{path} is {}, not a string", type_name(other)),
        )),
    }
}

fn required_id<'a>(
    v: &'a Value,
    key: &str,
    format: &'static str,
    path: &str,
) -> Result<&'a str, PredicateError> {
    match optional_str(v, key, format, path)? {
        Some(id) if !id.trim().is_empty() => Ok(id),
        _ => Err(shape(
            format,
            format!("{path} is missing: every finding needs its advisory ID"),
        )),
    }
}

fn object<'a>(
    v: &'a Value,
    format: &'static str,
    path: &str,
) -> Result<&'a serde_json::Map<String, Value>, PredicateError> {
    v.as_object()
        .ok_or_else(|| shape(format, format!("{path} is {}, not an object", type_name(v))))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An RFC 3339 time at `pointer`, if present; present but not a time is an error.
fn time_at(
    doc: &Value,
    pointer: &str,
    format: &'static str,
) -> Result<Option<jiff::Timestamp>, PredicateError> {
    let field = pointer.trim_start_matches('/').replace('/', ".");
    match doc.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => s.parse::<jiff::Timestamp>().map(Some).map_err(|e| {
            shape(
                format,
                format!("{field} '{s}' is not an RFC 3339 time: {e}"),
            )
        }),
        Some(other) => Err(shape(
            format,
            format!(
                "{field} is {}, not an RFC 3339 time string",
                type_name(other)
            ),
        )),
    }
}

fn trivy_findings(doc: &Value) -> Result<Vec<Finding>, PredicateError> {
    const F: &str = "Trivy";
    let mut out = Vec::new();
    for (i, r) in array(doc, "Results", F, "Results")?.iter().enumerate() {
        object(r, F, &format!("Results[{i}]"))?;
        let vulns = array(
            r,
            "Vulnerabilities",
            F,
            &format!("Results[{i}].Vulnerabilities"),
        )?;
        for (j, v) in vulns.iter().enumerate() {
            let path = format!("Results[{i}].Vulnerabilities[{j}]");
            object(v, F, &path)?;
            let id = required_id(v, "VulnerabilityID", F, &format!("{path}.VulnerabilityID"))?;
            let label = optional_str(v, "Severity", F, &format!("{path}.Severity"))?;
            let severity = match label.map(Severity::from_label) {
                Some(s) if s != Severity::Unknown => s,
                _ => trivy_cvss(v, &path)?,
            };
            out.push(Finding {
                id: id.to_owned(),
                severity,
                package: optional_str(v, "PkgName", F, &format!("{path}.PkgName"))?
                    .unwrap_or("?")
                    .to_owned(),
                fixed_version: optional_str(v, "FixedVersion", F, &format!("{path}.FixedVersion"))?
                    .filter(|f| !f.is_empty())
                    .map(str::to_owned),
            });
        }
    }
    Ok(out)
}

/// The worst CVSS v3/v4 rating over Trivy's `CVSS` sources (`nvd`, `ghsa`, `redhat`, …): from
/// each source's vector where it has one, else its stated score.
fn trivy_cvss(v: &Value, path: &str) -> Result<Severity, PredicateError> {
    const F: &str = "Trivy";
    let sources = match v.get("CVSS") {
        None | Some(Value::Null) => return Ok(Severity::Unknown),
        Some(c) => object(c, F, &format!("{path}.CVSS"))?,
    };
    let mut worst = Severity::Unknown;
    for (name, s) in sources {
        let sp = format!("{path}.CVSS.{name}");
        object(s, F, &sp)?;
        for (vector_key, score_key) in [("V40Vector", "V40Score"), ("V3Vector", "V3Score")] {
            let vector = optional_str(s, vector_key, F, &format!("{sp}.{vector_key}"))?;
            let score = match (vector.and_then(cvss_base_score), s.get(score_key)) {
                (Some(x), _) => Some(x),
                (None, None | Some(Value::Null)) => None,
                (None, Some(Value::Number(n))) => n.as_f64(),
                (None, Some(other)) => {
                    return Err(shape(
                        F,
                        format!("{sp}.{score_key} is {}, not a number", type_name(other)),
                    ));
                }
            };
            if let Some(x) = score {
                worst = worst.min(Severity::from_score(x));
            }
        }
    }
    Ok(worst)
}

fn osv_scanner_findings(doc: &Value) -> Result<Vec<Finding>, PredicateError> {
    const F: &str = "osv-scanner";
    let mut out = Vec::new();
    for (i, r) in array(doc, "results", F, "results")?.iter().enumerate() {
        object(r, F, &format!("results[{i}]"))?;
        for (j, p) in array(r, "packages", F, &format!("results[{i}].packages"))?
            .iter()
            .enumerate()
        {
            let path = format!("results[{i}].packages[{j}]");
            object(p, F, &path)?;
            let package = match p.get("package") {
                None | Some(Value::Null) => "?",
                Some(pkg) => {
                    object(pkg, F, &format!("{path}.package"))?;
                    optional_str(pkg, "name", F, &format!("{path}.package.name"))?.unwrap_or("?")
                }
            };
            let groups = array(p, "groups", F, &format!("{path}.groups"))?;
            for (k, v) in array(p, "vulnerabilities", F, &format!("{path}.vulnerabilities"))?
                .iter()
                .enumerate()
            {
                let vp = format!("{path}.vulnerabilities[{k}]");
                out.push(osv_finding(v, &vp, F, Some(package), groups)?);
            }
        }
    }
    Ok(out)
}

fn osv_findings(doc: &Value) -> Result<Vec<Finding>, PredicateError> {
    const F: &str = "OSV";
    array(doc, "vulns", F, "vulns")?
        .iter()
        .enumerate()
        .map(|(i, v)| osv_finding(v, &format!("vulns[{i}]"), F, None, &[]))
        .collect()
}

/// One OSV vulnerability. Severity: the advisory's label (`database_specific.severity`, as
/// GitHub writes it, or a distribution's `affected[].ecosystem_specific.severity`); where that
/// is missing or unknown, the worst of osv-scanner's group score (`groups[].max_severity`) and
/// the CVSS v3/v4 vectors in `severity[]` and `affected[].severity[]`.
fn osv_finding(
    v: &Value,
    path: &str,
    format: &'static str,
    package: Option<&str>,
    groups: &[Value],
) -> Result<Finding, PredicateError> {
    object(v, format, path)?;
    let id = required_id(v, "id", format, &format!("{path}.id"))?;
    let affected = array(v, "affected", format, &format!("{path}.affected"))?;
    let label = match v.get("database_specific") {
        Some(d @ Value::Object(_)) => optional_str(
            d,
            "severity",
            format,
            &format!("{path}.database_specific.severity"),
        )?,
        _ => None,
    }
    .or_else(|| {
        affected.iter().find_map(|a| {
            a.pointer("/ecosystem_specific/severity")
                .and_then(Value::as_str)
        })
    });
    let mut severity = label.map_or(Severity::Unknown, Severity::from_label);
    if severity == Severity::Unknown {
        let group_score = groups
            .iter()
            .filter(|g| {
                g.get("ids")
                    .and_then(Value::as_array)
                    .is_some_and(|ids| ids.iter().any(|i| i.as_str() == Some(id)))
            })
            .filter_map(|g| g.get("max_severity").and_then(Value::as_str))
            .map(Severity::from_label);
        let mut vectors = Vec::new();
        vectors.extend(osv_severities(v, format, &format!("{path}.severity"))?);
        for (i, a) in affected.iter().enumerate() {
            vectors.extend(osv_severities(
                a,
                format,
                &format!("{path}.affected[{i}].severity"),
            )?);
        }
        severity = group_score
            .chain(vectors.into_iter().map(Severity::from_score))
            .filter(|s| *s != Severity::Unknown)
            .min()
            .unwrap_or(Severity::Unknown);
    }
    let package = match package {
        Some(p) => p.to_owned(),
        None => affected
            .iter()
            .find_map(|a| a.pointer("/package/name").and_then(Value::as_str))
            .unwrap_or("?")
            .to_owned(),
    };
    let fixed_version = affected
        .iter()
        .filter_map(|a| a.get("ranges").and_then(Value::as_array))
        .flatten()
        .filter_map(|r| r.get("events").and_then(Value::as_array))
        .flatten()
        .find_map(|e| e.get("fixed").and_then(Value::as_str))
        .map(str::to_owned);
    Ok(Finding {
        id: id.to_owned(),
        severity,
        package,
        fixed_version,
    })
}

/// The CVSS v3/v4 base scores of an OSV `severity` array (`[{type: CVSS_V3, score: vector}]`).
fn osv_severities(v: &Value, format: &'static str, path: &str) -> Result<Vec<f64>, PredicateError> {
    let mut out = Vec::new();
    for (i, s) in array(v, "severity", format, path)?.iter().enumerate() {
        object(s, format, &format!("{path}[{i}]"))?;
        let kind = optional_str(s, "type", format, &format!("{path}[{i}].type"))?;
        let score = optional_str(s, "score", format, &format!("{path}[{i}].score"))?;
        if let (Some("CVSS_V3" | "CVSS_V4"), Some(vector)) = (kind, score)
            && let Some(x) = cvss_base_score(vector)
        {
            out.push(x);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(name: &str) -> Value {
        let p = format!("{}/e2e/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_slice(&std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))).unwrap()
    }

    fn count(r: &Report, s: Severity) -> usize {
        r.findings.iter().filter(|f| f.severity == s).count()
    }

    #[test]
    fn trivy_fixtures() {
        let r = parse_report(&fixture("trivy-report.json")).unwrap();
        assert_eq!(r.format, "trivy");
        assert_eq!(count(&r, Severity::Medium), 4);
        assert_eq!(
            r.scan_time.unwrap().to_string(),
            "2021-08-25T12:20:30.000000005Z"
        );
        let r = parse_report(&fixture("trivy-report-critical.json")).unwrap();
        let musl: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.id == "CVE-2019-14697")
            .collect();
        assert_eq!(musl.len(), 2, "musl and musl-utils");
        assert!(musl.iter().all(|f| f.severity == Severity::Critical));
    }

    #[test]
    fn cosign_vuln_predicate_wraps_a_report_and_signs_its_scan_time() {
        let d = json!({"scanner": {"uri": "pkg:github/aquasecurity/trivy@v0.50.0",
            "result": fixture("trivy-report-critical.json")},
            "metadata": {"scanStartedOn": "2026-11-01T10:00:00Z", "scanFinishedOn": "2026-11-01T10:00:05Z"}});
        let r = parse_report(&d).unwrap();
        assert_eq!(
            r.scanner.as_deref(),
            Some("pkg:github/aquasecurity/trivy@v0.50.0")
        );
        assert_eq!(r.format, "trivy");
        assert_eq!(r.scan_time.unwrap().to_string(), "2026-11-01T10:00:05Z");
        assert_eq!(count(&r, Severity::Critical), 2);
        // Without metadata, the wrapped report's own time.
        let d = json!({"scanner": {"uri": "x", "result": fixture("trivy-report.json")}});
        assert_eq!(
            parse_report(&d).unwrap().scan_time.unwrap().to_string(),
            "2021-08-25T12:20:30.000000005Z"
        );
    }

    #[test]
    fn osv_fixture_and_raw_osv() {
        let r = parse_report(&fixture("osv-report.json")).unwrap();
        assert_eq!(r.format, "osv-scanner");
        assert_eq!(r.scan_time, None);
        assert_eq!(
            (count(&r, Severity::High), count(&r, Severity::Medium)),
            (2, 1)
        );
        assert!(r.findings.iter().all(|f| f.package == "lodash"));
        let raw = json!({"vulns": [{"id": "GHSA-x", "database_specific": {"severity": "MODERATE"},
            "affected": [{"package": {"name": "p"}, "ranges": [{"events": [{"introduced": "0"}, {"fixed": "1.2"}]}]}]}]});
        let r = parse_report(&raw).unwrap();
        assert_eq!(r.findings[0].severity, Severity::Medium);
        assert_eq!(r.findings[0].package, "p");
        assert_eq!(r.findings[0].fixed_version.as_deref(), Some("1.2"));
    }

    /// The NVD vector of CVE-2021-44228 (Log4Shell) is 10.0; of CVE-2019-14697 9.8.
    const CRITICAL_V31: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
    const HIGH_V31: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H";
    const CRITICAL_V40: &str = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N";

    #[test]
    fn cvss_base_scores_come_from_the_crate() {
        assert_eq!(cvss_base_score(CRITICAL_V31), Some(9.8));
        assert_eq!(cvss_base_score(HIGH_V31), Some(7.5));
        assert_eq!(cvss_base_score(CRITICAL_V40), Some(9.3));
        assert_eq!(
            cvss_base_score("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            Some(9.8)
        );
        assert_eq!(
            cvss_base_score("AV:N/AC:L/Au:N/C:P/I:P/A:P"),
            None,
            "v2 is not read"
        );
        assert_eq!(cvss_base_score("CVSS:3.1/AV:X"), None);
        assert_eq!(Severity::from_score(0.0), Severity::Low);
        assert_eq!(Severity::from_score(f64::NAN), Severity::Unknown);
        assert_eq!(Severity::from_score(11.0), Severity::Unknown);
    }

    #[test]
    fn osv_severity_from_the_cvss_vector_when_there_is_no_label() {
        let raw = json!({"vulns": [
            {"id": "OSV-CRIT", "severity": [{"type": "CVSS_V3", "score": CRITICAL_V31}]},
            {"id": "OSV-V4", "affected": [{"package": {"name": "q"},
                "severity": [{"type": "CVSS_V4", "score": CRITICAL_V40}]}]},
            {"id": "OSV-UNKNOWN-LABEL", "database_specific": {"severity": "UNKNOWN"},
                "severity": [{"type": "CVSS_V3", "score": HIGH_V31}]},
            {"id": "OSV-LABEL-WINS", "database_specific": {"severity": "LOW"},
                "severity": [{"type": "CVSS_V3", "score": CRITICAL_V31}]},
            {"id": "OSV-NOTHING"}]});
        let r = parse_report(&raw).unwrap();
        let sev = |id: &str| r.findings.iter().find(|f| f.id == id).unwrap().severity;
        assert_eq!(sev("OSV-CRIT"), Severity::Critical);
        assert_eq!(sev("OSV-V4"), Severity::Critical);
        assert_eq!(sev("OSV-UNKNOWN-LABEL"), Severity::High);
        assert_eq!(sev("OSV-LABEL-WINS"), Severity::Low);
        assert_eq!(sev("OSV-NOTHING"), Severity::Unknown);
    }

    #[test]
    fn trivy_unknown_severity_falls_back_to_the_worst_cvss_source() {
        let doc = json!({"SchemaVersion": 2, "Results": [{"Vulnerabilities": [
            {"VulnerabilityID": "CVE-A", "PkgName": "p", "Severity": "UNKNOWN",
             "CVSS": {"nvd": {"V3Vector": CRITICAL_V31, "V3Score": 9.8}}},
            {"VulnerabilityID": "CVE-B", "PkgName": "p",
             "CVSS": {"redhat": {"V3Score": 7.1}, "ghsa": {"V3Vector": CRITICAL_V31}}},
            {"VulnerabilityID": "CVE-C", "PkgName": "p", "Severity": "UNKNOWN",
             "CVSS": {"nvd": {"V3Score": 9.1}}},
            {"VulnerabilityID": "CVE-D", "PkgName": "p", "Severity": "UNKNOWN"},
            {"VulnerabilityID": "CVE-E", "PkgName": "p", "Severity": "MEDIUM",
             "CVSS": {"nvd": {"V3Vector": CRITICAL_V31}}}]}]});
        let r = parse_report(&doc).unwrap();
        let sev = |id: &str| r.findings.iter().find(|f| f.id == id).unwrap().severity;
        assert_eq!(sev("CVE-A"), Severity::Critical);
        assert_eq!(sev("CVE-B"), Severity::Critical);
        assert_eq!(sev("CVE-C"), Severity::Critical);
        assert_eq!(sev("CVE-D"), Severity::Unknown);
        assert_eq!(
            sev("CVE-E"),
            Severity::Medium,
            "the label wins where there is one"
        );
    }

    fn err(doc: Value) -> String {
        match parse_report(&doc) {
            Err(e) => e.to_string(),
            Ok(r) => panic!("{doc} parsed as {r:?}"),
        }
    }

    #[test]
    fn wrong_shapes_are_errors_never_zero_findings() {
        let e = err(json!({"SchemaVersion": 2, "Results": {"Vulnerabilities": []}}));
        assert!(e.contains("Results is an object, not an array"), "{e}");
        let e = err(json!({"SchemaVersion": 2, "Results": [{"Vulnerabilities": {"CVE-1": {}}}]}));
        assert!(e.contains("Results[0].Vulnerabilities is an object"), "{e}");
        let e = err(json!({"Results": [{"Vulnerabilities": [{"PkgName": "p"}]}]}));
        assert!(e.contains("VulnerabilityID is missing"), "{e}");
        let e = err(
            json!({"Results": [{"Vulnerabilities": [{"VulnerabilityID": "C", "Severity": 9}]}]}),
        );
        assert!(e.contains("Severity is a number, not a string"), "{e}");
        let e = err(json!({"SchemaVersion": 2, "Results": [], "results": [{"packages": []}]}));
        assert!(
            e.contains("two report formats (Trivy and osv-scanner)"),
            "{e}"
        );
        let e = err(json!({"results": [], "vulns": []}));
        assert!(e.contains("two report formats"), "{e}");
        let e = err(json!({"scanner": {"uri": "x", "result": {"Results": []}}, "vulns": []}));
        assert!(e.contains("two report formats"), "{e}");
        let e = err(json!({"scanner": {"uri": "x", "result": {"Results": {}}}}));
        assert!(
            e.contains("scanner.result: Trivy: Results is an object"),
            "{e}"
        );
        let e = err(json!({"scanner": {"result": {"scanner": {"result": {"Results": []}}}}}));
        assert!(e.contains("itself a cosign vuln predicate"), "{e}");
        let e = err(json!({"scanner": {"uri": "x"}}));
        assert!(e.contains("scanner.result is missing"), "{e}");
        let e = err(json!({"scanner": "trivy", "result": {}}));
        assert!(e.contains("scanner is not an object"), "{e}");
        let e = err(
            json!({"scanner": {"result": {"Results": []}}, "metadata": {"scanFinishedOn": "yesterday"}}),
        );
        assert!(
            e.contains("metadata.scanFinishedOn 'yesterday' is not an RFC 3339 time"),
            "{e}"
        );
        let e = err(json!({"results": [{"packages": [{"vulnerabilities": [{"summary": "x"}]}]}]}));
        assert!(
            e.contains("results[0].packages[0].vulnerabilities[0].id is missing"),
            "{e}"
        );
        let e = err(json!({"vulns": {"id": "x"}}));
        assert!(e.contains("vulns is an object"), "{e}");
        let e = err(json!({"vulns": [{"id": "x", "severity": {"type": "CVSS_V3"}}]}));
        assert!(e.contains("vulns[0].severity is an object"), "{e}");
        for bad in [
            json!(null),
            json!(1),
            json!([]),
            json!({}),
            json!({"Results": 1}),
        ] {
            err(bad);
        }
    }

    #[test]
    fn empty_reports_are_reports() {
        // Trivy omits `Results` when nothing was scanned; Go writes nil slices as null.
        for doc in [
            json!({"SchemaVersion": 2}),
            json!({"SchemaVersion": 2, "Results": null}),
            json!({"SchemaVersion": 2, "Results": [{"Target": "t", "Vulnerabilities": null}]}),
            json!({"results": []}),
            json!({"vulns": []}),
        ] {
            assert!(parse_report(&doc).unwrap().findings.is_empty(), "{doc}");
        }
        assert!(looks_like_report(&json!({"Results": []})));
        assert!(!looks_like_report(&json!({"bomFormat": "CycloneDX"})));
    }
}
