//! `HardenedRelease`: an image and the evidence it must carry before the cluster may run it.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A release of one container image that must carry verified evidence (a signature by a
/// platform-trusted authority, an SBOM, SLSA provenance and a vulnerability report within budget)
/// and be approved by a pinned policy bundle before workloads may run it.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "releasegate.dev",
    version = "v1alpha1",
    kind = "HardenedRelease",
    plural = "hardenedreleases",
    shortname = "hr",
    category = "releasegate",
    namespaced,
    status = "HardenedReleaseStatus",
    printcolumn = r#"{"name":"Image","type":"string","jsonPath":".spec.image","priority":1}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Digest","type":"string","jsonPath":".status.verifiedDigest"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct HardenedReleaseSpec {
    /// The image reference, e.g. `registry.example.com/team/app@sha256:<64 hex>` or
    /// `registry.example.com/team/app:1.4.2`. A tag is resolved to a digest once and the release
    /// is bound to that digest.
    #[x_kube(validation = Rule::new("self.trim().size() > 0").message("spec.image must name an image, e.g. registry.example.com/team/app@sha256:<digest>"))]
    #[schemars(length(min = 1, max = 1024))]
    pub image: String,

    /// The evidence the image must carry. Defaults to a CycloneDX SBOM, SLSA provenance and a
    /// vulnerability report with no critical findings.
    #[serde(default)]
    pub evidence: EvidenceRequirements,

    /// The policy bundle the release is judged by, pinned by version and digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyBundleRef>,

    /// `Decision` objects in this namespace that apply to this release, e.g. an override that
    /// accepts known critical vulnerabilities until it expires.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decisions: Vec<DecisionRef>,

    /// How often the controller re-verifies the evidence, as a duration such as `30m` or `6h`.
    /// Defaults to `1h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[0-9]+(s|m|h)$')").message("spec.reverifyInterval must be a duration such as 30m or 6h"))]
    pub reverify_interval: Option<String>,
}

/// What evidence an image must carry.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceRequirements {
    /// In-toto predicate types that must be attested for the image digest, by cosign's short
    /// names (`cyclonedx`, `spdxjson`, `slsaprovenance`, `slsaprovenance1`, `vuln`) or full
    /// predicate type URIs.
    #[serde(default = "default_required_predicates")]
    pub require: Vec<String>,

    /// The most vulnerabilities of each severity the vulnerability report may list.
    #[serde(default)]
    pub vulnerability_budget: VulnerabilityBudget,
}

impl Default for EvidenceRequirements {
    fn default() -> Self {
        Self {
            require: default_required_predicates(),
            vulnerability_budget: VulnerabilityBudget::default(),
        }
    }
}

/// The attestations a release needs unless its spec (or `verify --require`) says otherwise: a
/// CycloneDX SBOM, SLSA provenance and a vulnerability report.
pub const DEFAULT_REQUIRED_PREDICATES: [&str; 3] = ["cyclonedx", "slsaprovenance", "vuln"];

fn default_required_predicates() -> Vec<String> {
    DEFAULT_REQUIRED_PREDICATES.map(String::from).to_vec()
}

/// Per-severity ceilings on the findings of the vulnerability report, judged by the policy
/// bundle. Absent means unlimited. Criticals have no budget: they block unless an unexpired
/// override `Decision` names each of them.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct VulnerabilityBudget {
    /// High findings allowed; unlimited when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 10000))]
    pub high: Option<u32>,
    /// Medium findings allowed; unlimited when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100000))]
    pub medium: Option<u32>,
}

/// A pinned policy bundle.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyBundleRef {
    /// Name of the ConfigMap (in the operator's namespace) holding the Rego bundle.
    #[schemars(length(min = 1, max = 253))]
    pub config_map: String,
    /// The bundle version the release expects, e.g. `1.1.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The bundle digest (`sha256:<64 hex>`); a bundle with another digest is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^sha256:[0-9a-f]{64}$"))]
    pub digest: Option<String>,
}

/// A reference to a `Decision` in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct DecisionRef {
    /// The Decision's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// Where a release stands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema, Default)]
pub enum ReleasePhase {
    /// Not yet verified.
    #[default]
    Pending,
    /// Evidence is being fetched and verified.
    Verifying,
    /// All evidence verified and the policy approved it: workloads may run the digest.
    Verified,
    /// Evidence verified but a rule blocks it (e.g. criticals over budget, policy denial).
    Blocked,
    /// Evidence is missing or does not verify.
    Failed,
}

/// The observed state of a `HardenedRelease`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct HardenedReleaseStatus {
    /// Where the release stands: Pending, Verifying, Verified, Blocked or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<ReleasePhase>,
    /// Standard conditions: SignatureVerified, SBOMAttested, ProvenanceAttested,
    /// VulnerabilitiesWithinBudget, PolicyApproved and Ready.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The image digest (`sha256:…`) the evidence was verified for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_digest: Option<String>,
    /// The `spec.image` the digest was resolved from. While `spec.image` stays the same the
    /// release stays bound to that digest, even when its tag later moves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_image: Option<String>,
    /// A summary of the verified evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<EvidenceSummary>,
    /// Why the release is not Ready, one line per reason, as the policy (or the verifier)
    /// gave them; the admission webhook quotes them when it denies a workload.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// The override Decisions the release is Ready under (its criticals need them); workloads
    /// that run it need step-up authentication at admission.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
    /// The digest of the policy bundle that judged the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_bundle_digest: Option<String>,
    /// The version (`.manifest` revision) of the policy bundle that judged the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_version: Option<String>,
    /// Where the Disclosure Pack (SBOM, provenance, vulnerability summary, policy, decisions) is
    /// stored, e.g. `configmap/<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disclosure_pack_ref: Option<String>,
    /// When the evidence was last verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_verified_time: Option<Time>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// A summary of the evidence found for the digest.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceSummary {
    /// Identities (key fingerprints or certificate subjects) whose signatures verified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signers: Vec<String>,
    /// Number of components in the SBOM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sbom_components: Option<u32>,
    /// The sha256 of the attested SBOM document (`sha256:…`), to match it in the Disclosure Pack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sbom_digest: Option<String>,
    /// The SLSA builder id of the provenance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builder_id: Option<String>,
    /// The SLSA build type of the provenance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_type: Option<String>,
    /// The source repository and commit of the provenance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Vulnerability counts by severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulnerabilities: Option<VulnerabilityCounts>,
    /// The most severe findings, e.g. `CVE-2025-26519 (Critical, musl, fixed in 1.2.5-r9)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top_advisories: Vec<String>,
}

/// Vulnerability counts by severity.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct VulnerabilityCounts {
    /// Critical findings.
    pub critical: u32,
    /// High findings.
    pub high: u32,
    /// Medium findings.
    pub medium: u32,
    /// Low findings.
    pub low: u32,
    /// Findings of unknown severity.
    pub unknown: u32,
}
