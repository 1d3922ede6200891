//! The Disclosure Pack: what a release is, who signed it, what it contains, how it was built,
//! which vulnerabilities it carries and under which policy and Decisions it was judged. One
//! serialisable [`Pack`] (the JSON twin) rendered to markdown with minijinja from
//! `deploy/templates/disclosure-pack.tmpl.md` (or a template the platform supplies). Pure.

use crate::api::{Decision, DecisionType};
use crate::evidence::verify::Evidence;
use kube::ResourceExt;
use serde::Serialize;

/// The template shipped with the gate.
pub const DEFAULT_TEMPLATE: &str = include_str!("../../deploy/templates/disclosure-pack.tmpl.md");

/// The rule the vulnerabilities section states.
pub const BLOCKER_RULE: &str = "blocked if criticals > 0 unless approved by a Decision (an unexpired Override naming each critical ID)";

/// The Disclosure Pack's data; its JSON is the pack's machine-readable twin.
#[derive(Debug, Clone, Serialize)]
pub struct Pack {
    pub release: PackRelease,
    pub verdict: PackVerdict,
    pub signers: Vec<String>,
    pub sbom: Option<PackSbom>,
    pub provenance: Option<PackProvenance>,
    pub vulnerabilities: Option<PackVulnerabilities>,
    pub blocker_rule: &'static str,
    /// The override Decisions the verdict relies on.
    pub decisions: Vec<PackDecision>,
    pub policy: PackPolicy,
    pub generated_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PackRelease {
    pub name: String,
    pub namespace: String,
    pub image: String,
    pub digest: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PackVerdict {
    pub allowed: bool,
    /// `Verified` or `Blocked`.
    pub phase: String,
    pub reasons: Vec<String>,
    pub overrides: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PackSbom {
    pub format: String,
    pub components: u32,
    pub licenses: Vec<String>,
    pub digest: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PackProvenance {
    pub builder: String,
    pub build_type: String,
    pub source: Option<String>,
    pub commit: Option<String>,
}

/// How many findings the pack lists by name (most severe first); every critical ID is listed
/// separately.
const TOP_FINDINGS: usize = 5;

/// The scanners (or report formats) of the verified reports, e.g. `trivy, osv-scanner`.
fn scanners(v: &crate::evidence::vuln_facts::VulnFacts) -> String {
    let mut names: Vec<String> = v
        .reports
        .iter()
        .map(|r| r.scanner.clone().unwrap_or_else(|| r.format.clone()))
        .collect();
    names.sort();
    names.dedup();
    names.join(", ")
}

#[derive(Debug, Clone, Serialize)]
pub struct PackVulnerabilities {
    pub scanner: String,
    pub counts: crate::api::VulnerabilityCounts,
    pub critical_ids: Vec<String>,
    /// The most severe findings (at most five).
    pub top: Vec<crate::evidence::vuln_facts::MergedFinding>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PackDecision {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub owner: String,
    pub rationale: String,
    pub residual_risk: String,
    pub expires: Option<String>,
    pub vulnerabilities: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PackPolicy {
    pub version: Option<String>,
    pub digest: String,
}

impl PackDecision {
    pub fn from_decision(d: &Decision) -> Self {
        Self {
            name: d.name_any(),
            kind: format!("{:?}", d.spec.kind),
            owner: d.spec.owner.clone(),
            rationale: d.spec.rationale.clone(),
            residual_risk: format!("{:?}", d.spec.residual_risk),
            expires: d.spec.expires.as_ref().map(|t| t.0.to_string()),
            vulnerabilities: d.spec.scope.vulnerabilities.clone(),
        }
    }
}

/// What the pack needs beyond the evidence.
pub struct PackInput<'a> {
    pub release: PackRelease,
    pub evidence: &'a Evidence,
    pub critical_ids: Vec<String>,
    pub verdict: &'a crate::policy::Verdict,
    /// The Decisions of the namespace; those the verdict's overrides name are cited.
    pub decisions: &'a [Decision],
    pub policy: PackPolicy,
    pub generated_at: String,
}

/// Assembles the pack.
pub fn build(input: PackInput<'_>) -> Pack {
    let ev = input.evidence;
    let mut signers: Vec<String> = ev.signatures.iter().map(|s| s.signer.clone()).collect();
    signers.sort();
    signers.dedup();
    Pack {
        release: input.release,
        verdict: PackVerdict {
            allowed: input.verdict.allowed,
            phase: if input.verdict.allowed {
                "Verified"
            } else {
                "Blocked"
            }
            .into(),
            reasons: input.verdict.reasons.clone(),
            overrides: input.verdict.overrides.clone(),
        },
        signers,
        sbom: ev.sbom.as_ref().map(|s| PackSbom {
            format: s.format.clone(),
            components: s.components,
            licenses: s.licenses.clone(),
            digest: s.digest.clone(),
        }),
        provenance: ev.provenance.as_ref().map(|p| PackProvenance {
            builder: p.builder_id.clone(),
            build_type: p.build_type.clone(),
            source: p.source_repo.clone(),
            commit: p.source_commit.clone(),
        }),
        vulnerabilities: ev.vulnerabilities.as_ref().map(|v| PackVulnerabilities {
            scanner: scanners(v),
            counts: v.counts(),
            critical_ids: input.critical_ids.clone(),
            top: v.findings.iter().take(TOP_FINDINGS).cloned().collect(),
        }),
        blocker_rule: BLOCKER_RULE,
        decisions: input
            .decisions
            .iter()
            .filter(|d| {
                d.spec.kind == DecisionType::Override
                    && input.verdict.overrides.contains(&d.name_any())
            })
            .map(PackDecision::from_decision)
            .collect(),
        policy: input.policy,
        generated_at: input.generated_at,
    }
}

/// Why a pack could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("the Disclosure Pack template does not render: {source}")]
    Template {
        #[source]
        source: minijinja::Error,
    },
    #[error("the Disclosure Pack does not serialise to JSON: {source}")]
    Json {
        #[source]
        source: serde_json::Error,
    },
}

/// Renders `pack` with `template` (markdown) and as pretty JSON.
pub fn render(pack: &Pack, template: &str) -> Result<(String, String), PackError> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    let markdown = env
        .render_str(template, pack)
        .map_err(|source| PackError::Template { source })?;
    let json = serde_json::to_string_pretty(pack).map_err(|source| PackError::Json { source })?;
    Ok((markdown, json))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::predicates::SbomSummary;
    use crate::evidence::vuln_facts::{MergedFinding, VulnFacts};
    use crate::evidence::vulns::Severity;

    fn evidence() -> Evidence {
        Evidence {
            digest: format!("sha256:{}", "a".repeat(64)),
            signatures: vec![],
            attestations: vec![],
            sbom: Some(SbomSummary {
                format: "CycloneDX 1.5".into(),
                components: 42,
                licenses: vec!["MIT".into(), "Apache-2.0".into()],
                digest: format!("sha256:{}", "b".repeat(64)),
            }),
            provenance: None,
            vulnerabilities: Some(VulnFacts {
                critical: 1,
                high: 0,
                medium: 0,
                low: 0,
                unknown: 0,
                critical_ids: vec!["CVE-2025-0001".into()],
                findings: vec![MergedFinding {
                    id: "CVE-2025-0001".into(),
                    severity: Severity::Critical,
                    package: "openssl".into(),
                    fixed_version: Some("3.0.9".into()),
                    source: format!("sha256:{}", "c".repeat(64)),
                }],
                reports: vec![crate::evidence::vuln_facts::ReportFacts {
                    format: "trivy".into(),
                    scanner: None,
                    scan_time: None,
                    digest: format!("sha256:{}", "c".repeat(64)),
                }],
                stale: false,
                stale_reason: None,
            }),
        }
    }

    #[test]
    fn the_default_template_renders_every_section() {
        let ev = evidence();
        let verdict = crate::policy::Verdict::deny(
            "1 critical vulnerabilities (CVE-2025-0001) block the release",
        );
        let pack = build(PackInput {
            release: PackRelease {
                name: "app".into(),
                namespace: "team".into(),
                image: "reg/app:1".into(),
                digest: ev.digest.clone(),
            },
            evidence: &ev,
            critical_ids: vec!["CVE-2025-0001".into()],
            verdict: &verdict,
            decisions: &[],
            policy: PackPolicy {
                version: Some("1.2.0".into()),
                digest: "sha256:feed".into(),
            },
            generated_at: "2026-11-30T12:00:00Z".into(),
        });
        let (md, json) = render(&pack, DEFAULT_TEMPLATE).expect("renders");
        for want in [
            "team/app",
            &ev.digest,
            "Components: 42",
            "MIT, Apache-2.0",
            "No verified provenance",
            "Criticals: **1** (CVE-2025-0001)",
            "CVE-2025-0001 (critical, openssl, fixed in 3.0.9)",
            "blocked if criticals > 0 unless approved by a Decision",
            "No Decision applies",
            "Version: 1.2.0",
            "sha256:feed",
            "**Blocked**",
        ] {
            assert!(md.contains(want), "missing {want:?} in\n{md}");
        }
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["vulnerabilities"]["critical_ids"][0], "CVE-2025-0001");
        assert_eq!(v["sbom"]["components"], 42);
    }

    #[test]
    fn a_broken_template_is_an_error_not_a_panic() {
        let ev = evidence();
        let verdict = crate::policy::Verdict::deny("x");
        let pack = build(PackInput {
            release: PackRelease {
                name: "a".into(),
                namespace: "b".into(),
                image: "c".into(),
                digest: "d".into(),
            },
            evidence: &ev,
            critical_ids: vec![],
            verdict: &verdict,
            decisions: &[],
            policy: PackPolicy {
                version: None,
                digest: "e".into(),
            },
            generated_at: "now".into(),
        });
        assert!(render(&pack, "{% for %}").is_err());
    }
}
