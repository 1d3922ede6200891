//! The input contract, in Rust: the documents the webhook and the controller send the policy,
//! built from typed values so that what reaches Rego has the shape `policies/contract.rego`
//! checks. The Rego side still checks everything (a caller can be wrong, and `policy eval`
//! takes any JSON); these types make the gate's own callers right by construction.

use crate::api::Decision;
use serde::Serialize;
use serde_json::Value as Json;
use std::borrow::Cow;
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

/// `data.releasegate.admission.decision`'s input. It borrows the AdmissionRequest (most of
/// the input) and passes on only [`ADMISSION_REQUEST_FIELDS`].
#[derive(Debug, Clone, Serialize)]
pub struct AdmissionInput<'a> {
    purpose: &'static str,
    /// The AdmissionRequest, reduced to [`ADMISSION_REQUEST_FIELDS`] when serialised.
    #[serde(serialize_with = "contract_fields")]
    pub request: Cow<'a, Json>,
    pub namespace: NamespaceInput,
    /// The release records the gate's index holds, by image digest.
    pub releases: BTreeMap<String, Vec<ReleaseRecord>>,
    /// The Decisions of the workload's namespace (Approvals satisfy the decision guard).
    pub decisions: Vec<Decision>,
}

/// The fields of `request` the contract lets the policy read.
fn request_fields(request: &Json) -> impl Iterator<Item = (&String, &Json)> {
    request
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| ADMISSION_REQUEST_FIELDS.contains(&k.as_str()))
}

#[allow(clippy::ptr_arg)] // `serialize_with` passes a reference to the field's own type
fn contract_fields<S: serde::Serializer>(request: &Cow<'_, Json>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(request_fields(request))
}

impl<'a> AdmissionInput<'a> {
    /// Builds the input from an AdmissionRequest as JSON; only the contract's fields reach the
    /// policy.
    pub fn new(
        request: Cow<'a, Json>,
        namespace: NamespaceInput,
        releases: BTreeMap<String, Vec<ReleaseRecord>>,
        decisions: Vec<Decision>,
    ) -> Self {
        Self {
            purpose: "admission",
            request,
            namespace,
            releases,
            decisions,
        }
    }
}

impl AdmissionInput<'_> {
    /// The input as the evaluator's value, converted by reference: the webhook's hot path. The
    /// request (most of the input) is read once, field by field, with no JSON copy in between;
    /// the result equals [`PolicyInput::from_typed`] of `self` (a test holds them together, so
    /// `admission input` prints what the webhook evaluates).
    pub fn to_policy_input(&self) -> Result<PolicyInput, serde_json::Error> {
        use super::engine::json_value;
        let key = |k: &str| regorus::Value::from(k);
        let request: BTreeMap<_, _> = request_fields(&self.request)
            .map(|(k, v)| (key(k), json_value(v)))
            .collect();
        // The small parts go through JSON; only the request is worth converting directly.
        fn small(v: &impl Serialize) -> Result<regorus::Value, serde_json::Error> {
            Ok(json_value(&serde_json::to_value(v)?))
        }
        let input = BTreeMap::from([
            (key("purpose"), key(self.purpose)),
            (key("request"), regorus::Value::from(request)),
            (key("namespace"), small(&self.namespace)?),
            (key("releases"), small(&self.releases)?),
            (key("decisions"), small(&self.decisions)?),
        ]);
        Ok(PolicyInput::from_value(regorus::Value::from(input)))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The example Deployment's input, rebuilt through [`AdmissionInput::new`] from its parts
    /// (plus a request field outside the contract, which must not reach the policy).
    fn example(request: &Json) -> AdmissionInput<'_> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let raw =
            std::fs::read(root.join("policies/examples/admit_deployment/input.json")).unwrap();
        let doc: Json = serde_json::from_slice(&raw).unwrap();
        let releases: BTreeMap<String, Vec<ReleaseRecord>> = doc["releases"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(digest, list)| {
                let list = list
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| ReleaseRecord {
                        name: r["name"].as_str().unwrap().into(),
                        namespace: r["namespace"].as_str().unwrap().into(),
                        digest: r["digest"].as_str().unwrap().into(),
                        ready: r["ready"].as_bool().unwrap(),
                        reasons: vec![],
                        overrides: vec![],
                    })
                    .collect();
                (digest.clone(), list)
            })
            .collect();
        let namespace = NamespaceInput {
            metadata: NamespaceMeta {
                name: "payments".into(),
                labels: serde_json::from_value(doc["namespace"]["metadata"]["labels"].clone())
                    .unwrap(),
            },
        };
        let decisions: Vec<Decision> = serde_json::from_value(doc["decisions"].clone()).unwrap();
        assert!(!releases.is_empty() && !decisions.is_empty());
        AdmissionInput::new(Cow::Borrowed(request), namespace, releases, decisions)
    }

    fn example_request() -> Json {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let raw =
            std::fs::read(root.join("policies/examples/admit_deployment/input.json")).unwrap();
        let doc: Json = serde_json::from_slice(&raw).unwrap();
        let mut request = doc["request"].clone();
        request["oldObject"] = serde_json::json!({"spec": {"secret": "not for the policy"}});
        request
    }

    #[test]
    fn the_direct_conversion_equals_regorus_own() {
        let doc = serde_json::json!({
            "z": [1, -1, 1.5, 1.0, u64::MAX, i64::MIN, 0, -0.0, 1e300],
            "a": {"": null, "é": true, "B": false, "b": "x", "aa": {}, "ab": []},
            "m": [[{"k": [{"deep": "v"}]}], "s", null],
        });
        let ours = super::super::engine::json_value(&doc);
        assert_eq!(ours, regorus::Value::from(doc.clone()));
        assert_eq!(
            ours.to_string(),
            regorus::Value::from(doc).to_string(),
            "same types, not only equal values"
        );
        let unsorted = regorus::value::Object::from_sorted_entries(vec![
            (regorus::Value::from("b"), regorus::Value::from(1u64)),
            (regorus::Value::from("a"), regorus::Value::from(2u64)),
            (regorus::Value::from("b"), regorus::Value::from(3u64)),
        ])
        .into_value();
        assert_eq!(
            unsorted,
            regorus::Value::from(serde_json::json!({"a": 2, "b": 3}))
        );
    }

    #[test]
    fn the_webhook_evaluates_exactly_what_admission_input_prints() {
        let request = example_request();
        let input = example(&request);
        let direct = input.to_policy_input().unwrap();
        let printed: Json = serde_json::from_str(&serde_json::to_string(&input).unwrap()).unwrap();
        assert_eq!(direct.value(), PolicyInput::from_json(printed).value());
        assert_eq!(
            direct.value(),
            PolicyInput::from_typed(&input).unwrap().value()
        );
        let printed = serde_json::to_value(&input).unwrap();
        assert!(printed["request"].get("oldObject").is_none());
        let request = &direct.value()["request"];
        assert_ne!(request["object"], regorus::Value::Undefined);
        assert_eq!(
            request["oldObject"],
            regorus::Value::Undefined,
            "data minimisation: oldObject stays out"
        );
    }
}
