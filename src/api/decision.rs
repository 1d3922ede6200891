//! `Decision`: a recorded human decision (override, rollback, approval). A record, not
//! reconciled for effects; other resources read it.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A recorded decision with an owner, a rationale and the residual risk accepted. An `Override`
/// can unblock a release (e.g. known critical vulnerabilities) until it expires; a `Rollback` is
/// written by a canary drill when it rolls back; an `Approval` satisfies the decision guard for
/// changes labelled `release` or `schema-change`.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "releasegate.dev",
    version = "v1alpha1",
    kind = "Decision",
    plural = "decisions",
    shortname = "dec",
    category = "releasegate",
    namespaced,
    printcolumn = r#"{"name":"Type","type":"string","jsonPath":".spec.type"}"#,
    printcolumn = r#"{"name":"Owner","type":"string","jsonPath":".spec.owner"}"#,
    printcolumn = r#"{"name":"Risk","type":"string","jsonPath":".spec.residualRisk"}"#,
    printcolumn = r#"{"name":"Expires","type":"date","jsonPath":".spec.expires"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.type != 'Override' || has(self.expires)").message("spec.expires is required for an Override: overrides must end"))]
pub struct DecisionSpec {
    /// What kind of decision this is: Override, Rollback or Approval.
    #[serde(rename = "type")]
    pub kind: DecisionType,
    /// Who owns the decision (a person or team accountable for it), e.g. `team-payments` or
    /// `alice@example.com`.
    #[x_kube(validation = Rule::new("self.trim().size() > 0").message("spec.owner must name who owns the decision"))]
    #[schemars(length(min = 1, max = 256))]
    pub owner: String,
    /// Why the decision was taken.
    #[serde(default)]
    #[schemars(length(max = 4096))]
    pub rationale: String,
    /// The risk that remains accepted after the decision.
    pub residual_risk: ResidualRisk,
    /// What the decision applies to.
    #[serde(default)]
    pub scope: DecisionScope,
    /// When the decision stops applying (RFC 3339). Required for overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Time>,
}

/// The kind of a decision.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum DecisionType {
    /// Accepts a blocking finding (e.g. criticals over budget) until the decision expires.
    Override,
    /// Records a rollback and its owner.
    Rollback,
    /// Approves a change labelled `release` or `schema-change`.
    Approval,
}

/// The residual risk accepted by a decision.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ResidualRisk {
    /// Low residual risk.
    Low,
    /// Medium residual risk.
    Medium,
    /// High residual risk.
    High,
    /// Critical residual risk.
    Critical,
}

/// What a decision applies to. Empty fields do not narrow the scope.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct DecisionScope {
    /// Names of HardenedReleases (same namespace) the decision applies to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub releases: Vec<String>,
    /// Image digests (`sha256:…`) the decision applies to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub digests: Vec<String>,
    /// Vulnerability ids (CVE-…, GHSA-…) an override accepts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vulnerabilities: Vec<String>,
    /// Workloads (same namespace) an Approval covers, as `Kind/name`, e.g.
    /// `Deployment/payments-api`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workloads: Vec<String>,
    /// Names of CanaryDrills (same namespace) the decision belongs to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drills: Vec<String>,
}
