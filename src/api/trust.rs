//! `TrustPolicy`: the platform's word on who may sign which images. Cluster-scoped so that only
//! cluster administrators (not tenants with namespace rights) can write it; a `HardenedRelease`
//! never names a key of its own.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

/// Which keys and keyless identities may sign the images it covers, which builder and source
/// their provenance must name, and how old their vulnerability report may be. A release is judged
/// by every TrustPolicy whose `images` match its image; a release that none covers is blocked.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "releasegate.dev",
    version = "v1alpha1",
    kind = "TrustPolicy",
    plural = "trustpolicies",
    shortname = "tp",
    category = "releasegate",
    printcolumn = r#"{"name":"Images","type":"string","jsonPath":".spec.images"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("size(self.keys) + size(self.keyless) > 0").message("a TrustPolicy needs at least one entry in spec.keys or spec.keyless: it says who may sign"))]
pub struct TrustPolicySpec {
    /// The images this policy covers, as reference globs without tag or digest:
    /// `registry.example.com/team/*` matches one path segment, `registry.example.com/**` any
    /// number of them, e.g. `registry.example.com/payments/api`.
    #[schemars(length(min = 1, max = 256))]
    pub images: Vec<String>,

    /// Public keys whose cosign signatures and attestations count.
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub keys: Vec<TrustPolicyKey>,

    /// Keyless (Fulcio/Rekor) authorities whose signatures count, verified offline against a
    /// `trusted_root.json`.
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub keyless: Vec<KeylessAuthoritySpec>,

    /// What the SLSA provenance of a covered image must name. Absent: any builder and source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<ProvenanceRequirement>,

    /// The maximum age of the vulnerability report (by its `scanFinishedOn`), as a duration such
    /// as `72h` or `7d`. An older report, or one without a scan time, makes the release stale and
    /// blocked until it is rescanned. Absent: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[0-9]+(s|m|h|d)$')").message("spec.maxVulnerabilityReportAge must be a duration such as 72h or 7d"))]
    pub max_vulnerability_report_age: Option<String>,
}

/// A trusted public key: inline PEM or a key of a Secret in the operator's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.pem) != has(self.secretRef)").message("give exactly one of pem or secretRef for each key in spec.keys"))]
pub struct TrustPolicyKey {
    /// A name for messages and the Disclosure Pack, e.g. `ci-signing-2026`.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The PEM `PUBLIC KEY` (as `cosign public-key` prints it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16384))]
    pub pem: Option<String>,
    /// A Secret in the operator's namespace holding the PEM public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<KeySelector>,
}

/// A key of a Secret or ConfigMap in the operator's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeySelector {
    /// The Secret's or ConfigMap's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The data key, e.g. `cosign.pub` or `trusted_root.json`.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// A keyless authority: the trust root and the identity a certificate must carry.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeylessAuthoritySpec {
    /// The ConfigMap (operator's namespace) key holding the Sigstore `trusted_root.json`.
    pub trusted_root: KeySelector,
    /// The certificate identity (SAN), e.g. the workflow URI of a CI job.
    pub identity: StringMatch,
    /// The OIDC issuer, e.g. `https://token.actions.githubusercontent.com`.
    pub issuer: StringMatch,
}

/// An exact string or a regular expression that must match the whole value.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.exact) != has(self.regex)").message("give exactly one of exact or regex"))]
pub struct StringMatch {
    /// The exact value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
    /// A regular expression (RE2 syntax) matched against the whole value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
}

/// What the SLSA provenance must name.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProvenanceRequirement {
    /// The builder id the provenance must carry, exactly, e.g.
    /// `https://github.com/actions/runner/github-hosted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builder: Option<String>,
    /// A prefix the provenance's source repository must start with, e.g.
    /// `git+https://github.com/example/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_prefix: Option<String>,
}
