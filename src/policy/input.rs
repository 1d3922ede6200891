//! The input contract, in Rust: the documents the webhook and the controller send the policy,
//! built from typed values so that what reaches Rego has the shape `policies/contract.rego`
//! checks. The Rego side still checks everything (a caller can be wrong, and `policy eval`
//! takes any JSON); these types make the gate's own callers right by construction.

use crate::api::Decision;
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;

use super::engine::PolicyInput;

/// The AdmissionRequest fields the admission policy may read (`data.contract.admission.request`
/// in `policies/data.json`); `oldObject` and anything else stay out (data minimisation).
pub const ADMISSION_REQUEST_FIELDS: [&str; 14] = [
    "uid",
    "kind",
    "resource",
    "subResource",
    "requestKind",
    "requestResource",
    "requestSubResource",
    "name",
    "namespace",
    "operation",
    "userInfo",
    "object",
    "dryRun",
    "options",
];

/// `data.releasegate.admission.decision`'s input.
#[derive(Debug, Clone, Serialize)]
pub struct AdmissionInput {
    purpose: &'static str,
    /// The AdmissionRequest, reduced to [`ADMISSION_REQUEST_FIELDS`].
    pub request: serde_json::Map<String, Json>,
    pub namespace: NamespaceInput,
    /// The release records the gate's index holds, by image digest.
    pub releases: BTreeMap<String, Vec<ReleaseRecord>>,
    /// The Decisions of the workload's namespace (Approvals satisfy the decision guard).
    pub decisions: Vec<Decision>,
}

impl AdmissionInput {
    /// Builds the input from an AdmissionRequest as JSON, keeping only the contract's fields.
    pub fn new(
        request: &Json,
        namespace: NamespaceInput,
        releases: BTreeMap<String, Vec<ReleaseRecord>>,
        decisions: Vec<Decision>,
    ) -> Self {
        let request = request
            .as_object()
            .map(|fields| {
                fields
                    .iter()
                    .filter(|(k, _)| ADMISSION_REQUEST_FIELDS.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            purpose: "admission",
            request,
            namespace,
            releases,
            decisions,
        }
    }
}

/// The Namespace of the request, as the policy reads it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NamespaceInput {
    pub metadata: NamespaceMeta,
}

/// Name and labels of a Namespace.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NamespaceMeta {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// What the admission policy knows of a release: the controller's verdict, not the evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseRecord {
    pub name: String,
    pub namespace: String,
    /// The verified digest (`sha256:<hex>`); the record is filed under it.
    pub digest: String,
    /// True when the release is Ready (the release policy approved it).
    pub ready: bool,
    /// Why it is not Ready, for the denial message.
    pub reasons: Vec<String>,
    /// The override Decisions the release runs under (admission then asks for step-up).
    pub overrides: Vec<String>,
}

/// `data.releasegate.release.decision`'s input.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseInput {
    purpose: &'static str,
    pub release: ReleaseSummary,
    /// The Decisions of the release's namespace.
    pub decisions: Vec<Decision>,
}

impl ReleaseInput {
    pub fn new(release: ReleaseSummary, decisions: Vec<Decision>) -> Self {
        Self {
            purpose: "release",
            release,
            decisions,
        }
    }
}

/// The facts the controller established about a release.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseSummary {
    pub metadata: ReleaseMeta,
    pub digest: String,
    pub evidence: EvidenceFacts,
    /// The most findings of each budgeted severity (`high`, `medium`, `low`, `unknown`) the
    /// release accepts; a severity not listed has no limit. Criticals are never budgeted.
    pub budget: BTreeMap<String, u32>,
}

/// Name, namespace, labels and annotations of a release.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReleaseMeta {
    pub name: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// Evidence facts, one part per kind of evidence.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EvidenceFacts {
    pub signature: SignatureFacts,
    pub sbom: SbomFacts,
    pub provenance: ProvenanceFacts,
    pub vulnerabilities: VulnerabilityFacts,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SignatureFacts {
    pub verified: bool,
    /// Who signed (a key's name or a certificate identity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SbomFacts {
    pub verified: bool,
    /// `CycloneDX` or `SPDX`.
    pub format: String,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvenanceFacts {
    pub verified: bool,
    pub predicate_type: String,
    pub builder: String,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VulnerabilityFacts {
    pub verified: bool,
    pub critical: u32,
    pub high: u32,
    pub medium: u32,
    pub low: u32,
    pub unknown: u32,
    /// Every critical advisory ID; as many as `critical`.
    pub critical_ids: Vec<String>,
    /// The newest report is older than the trust policy allows.
    pub stale: bool,
}

impl PolicyInput {
    /// Converts a typed input ([`AdmissionInput`], [`ReleaseInput`]).
    pub fn from_typed(input: &impl Serialize) -> Result<Self, serde_json::Error> {
        Ok(Self::from_json(serde_json::to_value(input)?))
    }
}
