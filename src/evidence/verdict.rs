//! The outcome of verifying one digest: what was required, the evidence that verified (facts,
//! for the policy to judge), and every reason the digest is rejected.

use serde::Serialize;

use super::artifacts::{AttestationFailure, SignatureFailure};
use super::predicates::{self, ProvenanceMismatch, ProvenanceSummary, SbomSummary};
use super::vuln_facts::VulnFacts;

/// What must be present. The findings are facts: the policy bundle judges them (criticals and
/// budgets), not the evidence layer.
#[derive(Debug, Clone, Default)]
pub struct Requirements {
    /// Predicate type URIs (short names already mapped, see `predicates::predicate_type_uri`).
    pub predicate_types: Vec<String>,
}

impl Requirements {
    /// From `crate::api::EvidenceRequirements::require` or CLI short names.
    pub fn new(names: &[String]) -> Self {
        Self {
            predicate_types: names
                .iter()
                .map(|n| predicates::predicate_type_uri(n.trim()).to_owned())
                .filter(|n| !n.is_empty())
                .collect(),
        }
    }
}

/// A signature that verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedSignature {
    pub origin: String,
    pub signer: String,
}

/// An attestation that verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedAttestation {
    pub origin: String,
    pub predicate_type: String,
    pub signer: String,
}

/// The verified evidence of one digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    pub digest: String,
    pub signatures: Vec<VerifiedSignature>,
    pub attestations: Vec<VerifiedAttestation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sbom: Option<SbomSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<ProvenanceSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Every verified vulnerability report, merged worst case.
    pub vulnerabilities: Option<VulnFacts>,
}

/// How many findings the status summary lists: enough for a message, small enough for etcd.
pub const TOP_ADVISORIES: usize = 5;

impl Evidence {
    /// The status form of the evidence.
    pub fn summary(&self) -> crate::api::EvidenceSummary {
        let mut signers: Vec<String> = self.signatures.iter().map(|s| s.signer.clone()).collect();
        signers.dedup();
        crate::api::EvidenceSummary {
            signers,
            sbom_components: self.sbom.as_ref().map(|s| s.components),
            sbom_digest: self.sbom.as_ref().map(|s| s.digest.clone()),
            builder_id: self.provenance.as_ref().map(|p| p.builder_id.clone()),
            build_type: self.provenance.as_ref().map(|p| p.build_type.clone()),
            source: self.provenance.as_ref().and_then(|p| {
                match (&p.source_repo, &p.source_commit) {
                    (Some(r), Some(c)) => Some(format!("{r}@{c}")),
                    (Some(r), None) => Some(r.clone()),
                    (None, Some(c)) => Some(c.clone()),
                    (None, None) => None,
                }
            }),
            vulnerabilities: self.vulnerabilities.as_ref().map(VulnFacts::counts),
            top_advisories: self
                .vulnerabilities
                .iter()
                .flat_map(|v| v.findings.iter().take(TOP_ADVISORIES))
                .map(|a| match &a.fixed_version {
                    Some(fixed) => format!(
                        "{} ({}, {}, fixed in {fixed})",
                        a.id,
                        a.severity.as_str(),
                        a.package
                    ),
                    None => format!("{} ({}, {}, no fix)", a.id, a.severity.as_str(), a.package),
                })
                .collect(),
        }
    }
}

/// One reason a digest is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "problem", rename_all = "camelCase")]
pub enum Problem {
    #[error(
        "image is not signed: no cosign signature found for this digest (sign it with `cosign sign --key …` or keyless)"
    )]
    Unsigned,
    #[error("no signature verifies with a trusted authority: {}", join(failures))]
    SignatureUntrusted { failures: Vec<SignatureFailure> },
    #[error(
        "required attestation {predicate_type} is missing (found: {}); attach it with `cosign attest --type …`",
        if found.is_empty() { "none".to_owned() } else { found.join(", ") }
    )]
    AttestationMissing {
        predicate_type: String,
        found: Vec<String>,
    },
    #[error(
        "required attestation {predicate_type} does not verify: {}",
        join(failures)
    )]
    AttestationInvalid {
        predicate_type: String,
        failures: Vec<AttestationFailure>,
    },
    #[error(
        "attestation {predicate_type} is signed by a trusted authority for this image but cannot be read, and evidence that cannot be read could hide findings: {}; fix the document and attest it again",
        join(failures)
    )]
    EvidenceInvalid {
        predicate_type: String,
        failures: Vec<AttestationFailure>,
    },
    #[error("vulnerability evidence is stale: {reason}")]
    VulnerabilityReportStale { reason: String },
    #[error("{origin}: {mismatch}")]
    ProvenanceMismatch {
        origin: String,
        #[serde(flatten)]
        mismatch: ProvenanceMismatch,
    },
}

impl Problem {
    /// Stable machine label (for metrics and condition reasons).
    pub fn label(&self) -> &'static str {
        match self {
            Self::Unsigned => "Unsigned",
            Self::SignatureUntrusted { .. } => "SignatureUntrusted",
            Self::AttestationMissing { .. } => "AttestationMissing",
            Self::AttestationInvalid { .. } => "AttestationInvalid",
            Self::EvidenceInvalid { .. } => "EvidenceInvalid",
            Self::VulnerabilityReportStale { .. } => "VulnerabilityReportStale",
            Self::ProvenanceMismatch { .. } => "ProvenanceMismatch",
        }
    }
}

fn join<E: std::fmt::Display>(v: &[E]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The outcome for one digest: the evidence that verified, and every problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub evidence: Evidence,
    pub problems: Vec<Problem>,
}

impl Verdict {
    pub fn is_accepted(&self) -> bool {
        self.problems.is_empty()
    }
}
