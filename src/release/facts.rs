//! Facts, not judgment: turns what the evidence layer verified for one digest (and what the
//! covering TrustPolicies require of provenance and report age) into the typed input of the
//! release policy. Pure. The pinned policy is the one judge.

use crate::api::HardenedRelease;
use crate::evidence::dsse;
use crate::evidence::predicates::{self, PredicateKind};
use crate::evidence::verify::{Artifacts, Problem, Verdict as EvidenceVerdict};
use crate::policy::input::{
    EvidenceFacts, ProvenanceFacts, ReleaseMeta, ReleaseSummary, SbomFacts, SignatureFacts,
    VulnerabilityFacts,
};
use kube::ResourceExt;
use std::collections::BTreeMap;

use super::trust::Trust;

/// Everything the controller established about one digest of a release.
#[derive(Debug, Clone)]
pub struct Established {
    /// `sha256:<hex>`.
    pub digest: String,
    pub evidence: EvidenceVerdict,
    /// Why the provenance does not count under the TrustPolicies, if it does not.
    pub provenance_problem: Option<String>,
    /// Why the vulnerability report is stale, if it is.
    pub report_stale: Option<String>,
    /// Covering TrustPolicy authorities that could not be loaded.
    pub trust_problems: Vec<String>,
    /// The TrustPolicies that judged the release.
    pub trust_policies: Vec<String>,
}

/// The time the vulnerability report was made (`metadata.scanFinishedOn` of a cosign vuln
/// predicate, or a Trivy report's `CreatedAt`), in Unix seconds, from the verified attestation.
pub fn report_time(artifacts: &Artifacts, evidence: &EvidenceVerdict) -> Option<i64> {
    let verified: Vec<&str> = evidence
        .evidence
        .attestations
        .iter()
        .filter(|a| {
            predicates::kind_of(&a.predicate_type) == PredicateKind::Vulnerabilities
                || predicates::kind_of(&a.predicate_type) == PredicateKind::Other
        })
        .map(|a| a.origin.as_str())
        .collect();
    artifacts
        .attestations
        .iter()
        .filter(|a| verified.contains(&a.origin.as_str()))
        .filter_map(|a| dsse::parse_attestation(&a.envelope).ok())
        .filter_map(|(_, st)| {
            [
                "/metadata/scanFinishedOn",
                "/scanner/result/CreatedAt",
                "/CreatedAt",
            ]
            .iter()
            .find_map(|p| st.predicate.pointer(p).and_then(|v| v.as_str()))
            .and_then(crate::evidence::trust_root::parse_rfc3339)
        })
        .max()
}

/// Why a report made at `made` (Unix seconds) is too old at `now` under `max_age`, if it is.
pub fn staleness(
    made: Option<i64>,
    now: i64,
    max_age: Option<std::time::Duration>,
) -> Option<String> {
    let max = max_age?;
    let max_s = i64::try_from(max.as_secs()).unwrap_or(i64::MAX);
    match made {
        None => Some(format!(
            "the vulnerability report carries no scan time (metadata.scanFinishedOn) and the TrustPolicy allows reports at most {}s old; attest a report with its scan time",
            max.as_secs()
        )),
        Some(t) if now.saturating_sub(t) > max_s => Some(format!(
            "the vulnerability report is {}s old, older than the {}s the TrustPolicy allows; rescan the image and attest the new report",
            now.saturating_sub(t),
            max.as_secs()
        )),
        Some(_) => None,
    }
}

impl Established {
    pub fn new(
        digest: String,
        evidence: EvidenceVerdict,
        trust: &Trust,
        report_stale: Option<String>,
    ) -> Self {
        let provenance_problem = evidence
            .evidence
            .provenance
            .as_ref()
            .and_then(|p| trust.provenance_problem(p));
        // The evidence layer's own verdict on the reports' age counts as well.
        let report_stale = report_stale.or_else(|| {
            evidence
                .evidence
                .vulnerabilities
                .as_ref()
                .filter(|v| v.stale)
                .map(|v| {
                    v.stale_reason
                        .clone()
                        .unwrap_or_else(|| "the vulnerability report is too old".into())
                })
        });
        Self {
            digest,
            evidence,
            provenance_problem,
            report_stale,
            trust_problems: trust.problems.clone(),
            trust_policies: trust.policies.clone(),
        }
    }

    /// The problems the evidence layer found.
    pub fn problems(&self) -> impl Iterator<Item = &Problem> {
        self.evidence.problems.iter()
    }

    /// The predicate type URI of the verified attestation of `kind`, if any.
    fn attested(&self, kind: PredicateKind) -> Option<&str> {
        self.evidence
            .evidence
            .attestations
            .iter()
            .find(|a| predicates::kind_of(&a.predicate_type) == kind)
            .map(|a| a.predicate_type.as_str())
    }

    /// Every critical advisory ID of the verified reports (merged by ID, worst severity wins,
    /// by the evidence layer).
    pub fn critical_ids(&self) -> Vec<String> {
        self.evidence
            .evidence
            .vulnerabilities
            .as_ref()
            .map(|v| v.critical_ids.clone())
            .unwrap_or_default()
    }

    /// Critical findings, one per advisory ID.
    pub fn critical_count(&self) -> u32 {
        self.evidence
            .evidence
            .vulnerabilities
            .as_ref()
            .map_or(0, |v| v.critical)
    }

    /// The release policy's view of the release.
    pub fn summary(&self, hr: &HardenedRelease) -> ReleaseSummary {
        let ev = &self.evidence.evidence;
        let signature = SignatureFacts {
            verified: !ev.signatures.is_empty(),
            identity: ev.signatures.first().map(|s| s.signer.clone()),
        };
        let sbom = match (&ev.sbom, self.attested(PredicateKind::Sbom)) {
            (Some(s), Some(_)) => SbomFacts {
                verified: true,
                // `CycloneDX 1.5` → `CycloneDX`, `SPDX-2.3` → `SPDX`: the policy lists families.
                format: s
                    .format
                    .split([' ', '-'])
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            },
            _ => SbomFacts::default(),
        };
        let provenance = match (&ev.provenance, self.attested(PredicateKind::Provenance)) {
            (Some(p), Some(t)) if self.provenance_problem.is_none() => ProvenanceFacts {
                verified: true,
                predicate_type: t.to_owned(),
                builder: p.builder_id.clone(),
            },
            _ => ProvenanceFacts::default(),
        };
        let vulnerabilities = match &ev.vulnerabilities {
            Some(v) => VulnerabilityFacts {
                verified: true,
                critical: self.critical_count(),
                high: v.high,
                medium: v.medium,
                low: v.low,
                unknown: v.unknown,
                critical_ids: self.critical_ids(),
                stale: self.report_stale.is_some() || v.stale,
            },
            None => VulnerabilityFacts::default(),
        };
        let b = &hr.spec.evidence.vulnerability_budget;
        let budget: BTreeMap<String, u32> = [("high", b.high), ("medium", b.medium)]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
            .collect();
        ReleaseSummary {
            metadata: ReleaseMeta {
                name: hr.name_any(),
                namespace: hr.namespace().unwrap_or_default(),
                labels: hr.labels().clone(),
                annotations: hr.annotations().clone(),
            },
            digest: self.digest.clone(),
            evidence: EvidenceFacts {
                signature,
                sbom,
                provenance,
                vulnerabilities,
            },
            budget,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_past_its_maximum_age_or_without_a_time_is_stale() {
        let day = std::time::Duration::from_secs(86_400);
        assert_eq!(staleness(Some(0), 10, None), None);
        assert_eq!(staleness(Some(1000), 1000 + 86_400, Some(day)), None);
        let old = staleness(Some(1000), 1001 + 86_400, Some(day)).expect("stale");
        assert!(old.contains("rescan"), "{old}");
        let none = staleness(None, 5, Some(day)).expect("stale");
        assert!(none.contains("scanFinishedOn"), "{none}");
    }
}
