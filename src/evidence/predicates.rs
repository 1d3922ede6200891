//! Attestation predicates turned into a typed summary: what an SBOM lists, who built the image
//! from which source, and how many vulnerabilities a scanner found. Pure functions over JSON, so
//! they can be unit-tested and fuzzed without a registry.

use serde::Serialize;
use serde_json::Value;

use super::reference::Digest;

/// Predicate types by the short names cosign's `--type` accepts.
pub const CYCLONEDX: &str = "https://cyclonedx.org/bom";
pub const SPDX: &str = "https://spdx.dev/Document";
pub const SLSA_V02: &str = "https://slsa.dev/provenance/v0.2";
pub const SLSA_V1: &str = "https://slsa.dev/provenance/v1";
pub const COSIGN_VULN: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";
/// Raw scanner reports attested under their own types (e.g. `--type https://…/trivy`) are
/// recognised by shape, so no constant is needed for them.
pub const COSIGN_CUSTOM: &str = "https://cosign.sigstore.dev/attestation/v1";

/// Maps cosign's short predicate names to URIs; full URIs pass through.
pub fn predicate_type_uri(name: &str) -> &str {
    match name {
        "cyclonedx" => CYCLONEDX,
        "spdx" | "spdxjson" => SPDX,
        "slsaprovenance" | "slsaprovenance02" => SLSA_V02,
        "slsaprovenance1" => SLSA_V1,
        "vuln" => COSIGN_VULN,
        "custom" => COSIGN_CUSTOM,
        other => other,
    }
}

/// What kind of evidence a predicate type carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PredicateKind {
    Sbom,
    Provenance,
    Vulnerabilities,
    Other,
}

pub fn kind_of(predicate_type: &str) -> PredicateKind {
    match predicate_type {
        CYCLONEDX | SPDX => PredicateKind::Sbom,
        SLSA_V02 | SLSA_V1 => PredicateKind::Provenance,
        COSIGN_VULN => PredicateKind::Vulnerabilities,
        t if t.starts_with("https://spdx.dev/Document") => PredicateKind::Sbom,
        t if t.starts_with("https://cyclonedx.org/bom") => PredicateKind::Sbom,
        _ => PredicateKind::Other,
    }
}

/// Why a predicate cannot be summarised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PredicateError {
    #[error("not JSON: {0}")]
    Json(String),
    #[error("{format}: {why}")]
    Shape { format: &'static str, why: String },
}

fn shape(format: &'static str, why: impl Into<String>) -> PredicateError {
    PredicateError::Shape {
        format,
        why: why.into(),
    }
}

/// What an SBOM says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SbomSummary {
    /// `CycloneDX 1.5`, `SPDX-2.3`.
    pub format: String,
    pub components: u32,
    /// Distinct licence ids or expressions, sorted.
    pub licenses: Vec<String>,
    /// The sha256 of the SBOM document as attested (canonical JSON: sorted keys, no spaces).
    pub digest: String,
}

/// Summarises a CycloneDX (JSON) or SPDX (JSON) document.
pub fn parse_sbom(doc: &Value) -> Result<SbomSummary, PredicateError> {
    let digest = Digest::of(serde_json::to_string(doc).unwrap_or_default().as_bytes()).to_string();
    if doc.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
        let version = doc
            .get("specVersion")
            .and_then(Value::as_str)
            .unwrap_or("?");
        let mut components = 0u32;
        let mut licenses = std::collections::BTreeSet::new();
        let mut stack: Vec<&Value> = match doc.get("components") {
            None | Some(Value::Null) => vec![],
            Some(Value::Array(a)) => a.iter().collect(),
            Some(_) => return Err(shape("CycloneDX", "components is not an array")),
        };
        // Components nest; walk them without recursion so deep input cannot overflow the stack.
        while let Some(c) = stack.pop() {
            components = components.saturating_add(1);
            // Declared licences, and (CycloneDX 1.5+) licences a tool detected as evidence.
            let declared = c.get("licenses").and_then(Value::as_array);
            let detected = c.pointer("/evidence/licenses").and_then(Value::as_array);
            for ls in declared.into_iter().chain(detected) {
                for l in ls {
                    let name = l
                        .get("expression")
                        .or_else(|| l.pointer("/license/id"))
                        .or_else(|| l.pointer("/license/name"))
                        .and_then(Value::as_str);
                    if let Some(n) = name {
                        licenses.insert(n.to_owned());
                    }
                }
            }
            if let Some(Value::Array(children)) = c.get("components") {
                stack.extend(children.iter());
            }
        }
        return Ok(SbomSummary {
            format: format!("CycloneDX {version}"),
            components,
            licenses: licenses.into_iter().collect(),
            digest,
        });
    }
    if let Some(v) = doc.get("spdxVersion").and_then(Value::as_str) {
        let packages = match doc.get("packages") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(a)) => a.as_slice(),
            Some(_) => return Err(shape("SPDX", "packages is not an array")),
        };
        let licenses = packages
            .iter()
            .filter_map(|p| {
                p.get("licenseConcluded")
                    .or_else(|| p.get("licenseDeclared"))
                    .and_then(Value::as_str)
            })
            .filter(|l| !matches!(*l, "NOASSERTION" | "NONE"))
            .map(str::to_owned)
            .collect::<std::collections::BTreeSet<_>>();
        return Ok(SbomSummary {
            format: v.to_owned(),
            components: u32::try_from(packages.len()).unwrap_or(u32::MAX),
            licenses: licenses.into_iter().collect(),
            digest,
        });
    }
    Err(shape(
        "SBOM",
        "neither a CycloneDX document (bomFormat: CycloneDX) nor an SPDX document (spdxVersion)",
    ))
}

/// Who built the image, from what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvenanceSummary {
    /// `v0.2` or `v1`.
    pub slsa_version: String,
    pub builder_id: String,
    pub build_type: String,
    /// The source repository URI, if the provenance names one.
    pub source_repo: Option<String>,
    /// The source commit, if the provenance names one.
    pub source_commit: Option<String>,
}

/// Summarises a SLSA provenance predicate of the given version's type.
pub fn parse_slsa(predicate_type: &str, p: &Value) -> Result<ProvenanceSummary, PredicateError> {
    const F: &str = "SLSA provenance";
    let s = |ptr: &str| p.pointer(ptr).and_then(Value::as_str).map(str::to_owned);
    let commit_of = |d: Option<&Value>| {
        d.and_then(|d| {
            ["gitCommit", "sha1", "sha256"]
                .iter()
                .find_map(|k| d.get(*k).and_then(Value::as_str))
        })
        .map(str::to_owned)
    };
    if !p.is_object() {
        return Err(shape(F, "predicate is not an object"));
    }
    match predicate_type {
        SLSA_V02 => {
            let builder_id = s("/builder/id").ok_or_else(|| shape(F, "v0.2 has no builder.id"))?;
            let build_type = s("/buildType").ok_or_else(|| shape(F, "v0.2 has no buildType"))?;
            let (repo, commit) = match s("/invocation/configSource/uri") {
                Some(uri) => (
                    Some(uri),
                    commit_of(p.pointer("/invocation/configSource/digest")),
                ),
                None => (
                    s("/materials/0/uri"),
                    commit_of(p.pointer("/materials/0/digest")),
                ),
            };
            Ok(ProvenanceSummary {
                slsa_version: "v0.2".into(),
                builder_id,
                build_type,
                source_repo: repo,
                source_commit: commit,
            })
        }
        SLSA_V1 => {
            let builder_id = s("/runDetails/builder/id")
                .ok_or_else(|| shape(F, "v1 has no runDetails.builder.id"))?;
            let build_type = s("/buildDefinition/buildType")
                .ok_or_else(|| shape(F, "v1 has no buildDefinition.buildType"))?;
            let dep = p.pointer("/buildDefinition/resolvedDependencies/0");
            let repo = dep
                .and_then(|d| d.get("uri"))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| s("/buildDefinition/externalParameters/workflow/repository"))
                .or_else(|| s("/buildDefinition/externalParameters/source"));
            Ok(ProvenanceSummary {
                slsa_version: "v1".into(),
                builder_id,
                build_type,
                source_repo: repo,
                source_commit: commit_of(dep.and_then(|d| d.get("digest"))),
            })
        }
        other => Err(shape(
            F,
            format!("predicate type {other} is not SLSA v0.2 or v1"),
        )),
    }
}

/// Severity levels, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Unknown,
}

impl Severity {
    fn parse(s: &str) -> Self {
        match s.to_ascii_uppercase().as_str() {
            "CRITICAL" => Self::Critical,
            "HIGH" | "IMPORTANT" => Self::High,
            "MEDIUM" | "MODERATE" => Self::Medium,
            "LOW" | "NEGLIGIBLE" => Self::Low,
            other => match other.parse::<f64>() {
                Ok(x) if x >= 9.0 => Self::Critical,
                Ok(x) if x >= 7.0 => Self::High,
                Ok(x) if x >= 4.0 => Self::Medium,
                Ok(x) if x > 0.0 => Self::Low,
                _ => Self::Unknown,
            },
        }
    }
}

/// One finding worth showing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Advisory {
    pub id: String,
    pub severity: Severity,
    pub package: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
}

/// What a vulnerability report says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VulnSummary {
    /// `trivy`, `osv-scanner`, or the scanner URI of a cosign vuln predicate.
    pub scanner: String,
    pub counts: crate::api::VulnerabilityCounts,
    /// The most severe findings, at most [`TOP_ADVISORIES`].
    pub top: Vec<Advisory>,
}

/// How many findings a summary keeps: enough for a status message, small enough for etcd.
pub const TOP_ADVISORIES: usize = 5;

/// Summarises a cosign vuln predicate (whose `scanner.result` holds the scanner's report), a raw
/// Trivy JSON report, or an OSV report (osv-scanner output or `{"vulns": [...]}`).
pub fn parse_vuln_report(doc: &Value) -> Result<VulnSummary, PredicateError> {
    if let Some(scanner) = doc.get("scanner").filter(|s| s.is_object()) {
        let uri = scanner
            .get("uri")
            .and_then(Value::as_str)
            .unwrap_or("unknown scanner");
        let result = scanner
            .get("result")
            .filter(|r| !r.is_null())
            .ok_or_else(|| shape("cosign vuln", "scanner.result is missing"))?;
        let mut s = parse_vuln_report(result)
            .map_err(|e| shape("cosign vuln", format!("scanner.result: {e}")))?;
        s.scanner = uri.to_owned();
        return Ok(s);
    }
    let mut findings = Vec::new();
    let scanner;
    if let Some(results) = doc
        .get("Results")
        .or_else(|| doc.get("SchemaVersion").map(|_| &Value::Null))
    {
        scanner = "trivy";
        for r in results.as_array().map(Vec::as_slice).unwrap_or_default() {
            for v in r
                .get("Vulnerabilities")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                findings.push(Advisory {
                    id: str_at(v, "VulnerabilityID").unwrap_or("?").to_owned(),
                    severity: Severity::parse(str_at(v, "Severity").unwrap_or("")),
                    package: str_at(v, "PkgName").unwrap_or("?").to_owned(),
                    fixed_version: str_at(v, "FixedVersion")
                        .filter(|f| !f.is_empty())
                        .map(str::to_owned),
                });
            }
        }
    } else if let Some(results) = doc.get("results").and_then(Value::as_array) {
        scanner = "osv-scanner";
        for r in results {
            for p in r
                .get("packages")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let package = p
                    .pointer("/package/name")
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                for v in p
                    .get("vulnerabilities")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                {
                    findings.push(osv_advisory(v, package, p.get("groups")));
                }
            }
        }
    } else if let Some(vulns) = doc.get("vulns").and_then(Value::as_array) {
        scanner = "osv";
        for v in vulns {
            let package = v
                .pointer("/affected/0/package/name")
                .and_then(Value::as_str)
                .unwrap_or("?");
            findings.push(osv_advisory(v, package, None));
        }
    } else {
        return Err(shape(
            "vulnerability report",
            "not a cosign vuln predicate (scanner.result), a Trivy report (Results) or an OSV report (results/vulns)",
        ));
    }
    Ok(summarise(scanner, findings))
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn osv_advisory(v: &Value, package: &str, groups: Option<&Value>) -> Advisory {
    let id = str_at(v, "id").unwrap_or("?");
    // osv-scanner puts the highest CVSS score of each alias group in `groups[].max_severity`;
    // GitHub advisories carry a word in `database_specific.severity`.
    let group_score = groups
        .and_then(Value::as_array)
        .and_then(|gs| {
            gs.iter().find(|g| {
                g.get("ids")
                    .and_then(Value::as_array)
                    .is_some_and(|ids| ids.iter().any(|i| i.as_str() == Some(id)))
            })
        })
        .and_then(|g| g.get("max_severity"))
        .and_then(Value::as_str);
    let severity = group_score
        .or_else(|| {
            v.pointer("/database_specific/severity")
                .and_then(Value::as_str)
        })
        .map(Severity::parse)
        .unwrap_or(Severity::Unknown);
    let fixed_version = v
        .pointer("/affected/0/ranges/0/events")
        .and_then(Value::as_array)
        .and_then(|es| es.iter().find_map(|e| str_at(e, "fixed")))
        .map(str::to_owned);
    Advisory {
        id: id.to_owned(),
        severity,
        package: package.to_owned(),
        fixed_version,
    }
}

fn summarise(scanner: &str, mut findings: Vec<Advisory>) -> VulnSummary {
    let mut counts = crate::api::VulnerabilityCounts::default();
    for f in &findings {
        let c = match f.severity {
            Severity::Critical => &mut counts.critical,
            Severity::High => &mut counts.high,
            Severity::Medium => &mut counts.medium,
            Severity::Low => &mut counts.low,
            Severity::Unknown => &mut counts.unknown,
        };
        *c = c.saturating_add(1);
    }
    findings.sort_by(|a, b| a.severity.cmp(&b.severity).then_with(|| a.id.cmp(&b.id)));
    findings.dedup_by(|a, b| a.id == b.id && a.package == b.package);
    findings.truncate(TOP_ADVISORIES);
    VulnSummary {
        scanner: scanner.to_owned(),
        counts,
        top: findings,
    }
}

/// Parses bytes as JSON, for callers (and fuzzers) that start from raw input.
pub fn json(bytes: &[u8]) -> Result<Value, PredicateError> {
    serde_json::from_slice(bytes).map_err(|e| PredicateError::Json(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(name: &str) -> Value {
        let p = format!("{}/e2e/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        json(&std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))).unwrap()
    }

    #[test]
    fn cyclonedx_fixture_summary() {
        let s = parse_sbom(&fixture("sbom.cdx.json")).unwrap();
        assert!(s.format.starts_with("CycloneDX 1."));
        assert!(s.components >= 5, "{s:?}");
        assert!(s.licenses.iter().any(|l| l.contains("MIT")), "{s:?}");
        assert!(s.digest.starts_with("sha256:"));
    }

    #[test]
    fn spdx_summary() {
        let d = json!({"spdxVersion": "SPDX-2.3", "packages": [
            {"name": "a", "licenseConcluded": "MIT"}, {"name": "b", "licenseConcluded": "NOASSERTION"}]});
        let s = parse_sbom(&d).unwrap();
        assert_eq!((s.format.as_str(), s.components), ("SPDX-2.3", 2));
        assert_eq!(s.licenses, ["MIT"]);
    }

    #[test]
    fn trivy_fixture_counts() {
        let s = parse_vuln_report(&fixture("trivy-report.json")).unwrap();
        assert_eq!(s.scanner, "trivy");
        assert_eq!(s.counts.medium, 4);
        assert_eq!(s.counts.critical, 0);
        let s = parse_vuln_report(&fixture("trivy-report-critical.json")).unwrap();
        assert!(s.counts.critical >= 1);
        assert_eq!(s.top[0].severity, Severity::Critical);
    }

    #[test]
    fn cosign_vuln_wraps_a_trivy_report() {
        let d = json!({"scanner": {"uri": "pkg:github/aquasecurity/trivy@v0.50.0",
            "result": fixture("trivy-report-critical.json")}});
        let s = parse_vuln_report(&d).unwrap();
        assert_eq!(s.scanner, "pkg:github/aquasecurity/trivy@v0.50.0");
        assert!(s.counts.critical >= 1);
        assert!(parse_vuln_report(&json!({"scanner": {"uri": "x"}})).is_err());
    }

    #[test]
    fn osv_fixture_counts() {
        let s = parse_vuln_report(&fixture("osv-report.json")).unwrap();
        assert_eq!(s.scanner, "osv-scanner");
        assert!(
            s.counts.high + s.counts.critical + s.counts.medium >= 1,
            "{s:?}"
        );
        let raw = json!({"vulns": [{"id": "GHSA-x", "database_specific": {"severity": "MODERATE"},
            "affected": [{"package": {"name": "p"}, "ranges": [{"events": [{"introduced": "0"}, {"fixed": "1.2"}]}]}]}]});
        let s = parse_vuln_report(&raw).unwrap();
        assert_eq!(s.counts.medium, 1);
        assert_eq!(s.top[0].fixed_version.as_deref(), Some("1.2"));
    }

    #[test]
    fn slsa_v02_and_v1() {
        let v02 = json!({"builder": {"id": "https://github.com/actions/runner"},
            "buildType": "https://example.com/build@v1",
            "invocation": {"configSource": {"uri": "git+https://github.com/o/r@refs/heads/main",
                "digest": {"sha1": "abc"}}}});
        let s = parse_slsa(SLSA_V02, &v02).unwrap();
        assert_eq!(s.builder_id, "https://github.com/actions/runner");
        assert_eq!(s.source_commit.as_deref(), Some("abc"));
        let v1 = json!({"buildDefinition": {"buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
            "resolvedDependencies": [{"uri": "git+https://github.com/o/r@refs/tags/v1", "digest": {"gitCommit": "def"}}]},
            "runDetails": {"builder": {"id": "https://github.com/slsa-framework/slsa-github-generator"}}});
        let s = parse_slsa(SLSA_V1, &v1).unwrap();
        assert_eq!(s.slsa_version, "v1");
        assert_eq!(
            s.source_repo.as_deref(),
            Some("git+https://github.com/o/r@refs/tags/v1")
        );
        assert_eq!(s.source_commit.as_deref(), Some("def"));
        assert!(parse_slsa(SLSA_V1, &v02).is_err());
        assert!(parse_slsa(SLSA_V02, &v1).is_err());
    }

    #[test]
    fn garbage_predicates_are_errors() {
        for bad in [
            json!(null),
            json!(1),
            json!("x"),
            json!([]),
            json!({}),
            json!({"bomFormat": "CycloneDX", "components": 3}),
            json!({"spdxVersion": "x", "packages": {}}),
        ] {
            assert!(parse_sbom(&bad).is_err(), "{bad}");
            assert!(parse_slsa(SLSA_V02, &bad).is_err(), "{bad}");
            assert!(parse_slsa(SLSA_V1, &bad).is_err(), "{bad}");
        }
        for bad in [
            json!(null),
            json!(1),
            json!([]),
            json!({}),
            json!({"results": 1}),
        ] {
            assert!(parse_vuln_report(&bad).is_err(), "{bad}");
        }
        assert!(json(b"\xff{").is_err());
        // Nesting as deep as serde_json parses (128 levels) is summarised.
        let mut deep = json!({"name": "leaf"});
        for _ in 0..60 {
            deep = json!({"components": [deep]});
        }
        let doc = json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [deep]});
        assert_eq!(parse_sbom(&doc).unwrap().components, 61);
    }
}
