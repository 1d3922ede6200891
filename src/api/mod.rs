//! Custom resource types of the `releasegate.dev/v1alpha1` API. The CRD YAML in `crds/` is
//! generated from these types (`release-gate crds`); a test fails when the two drift.

mod decision;
mod drill;
mod release;
mod trust;

pub use decision::*;
pub use drill::*;
pub use release::*;
pub use trust::*;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// Every CRD of the API, in a stable order.
pub fn crds() -> Vec<CustomResourceDefinition> {
    [
        HardenedRelease::crd(),
        CanaryDrill::crd(),
        Decision::crd(),
        TrustPolicy::crd(),
    ]
    .into_iter()
    .map(drop_unknown_formats)
    .collect()
}

/// Formats the API server knows; schemars also emits Rust ones (`uint32`, …) that make
/// `kubectl apply` warn "unrecognized format". The min/max bounds still say what they meant.
const KNOWN_FORMATS: &[&str] = &[
    "int32",
    "int64",
    "float",
    "double",
    "byte",
    "binary",
    "date",
    "date-time",
    "duration",
    "password",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "uuid",
];

fn drop_unknown_formats(crd: CustomResourceDefinition) -> CustomResourceDefinition {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                let unknown = map
                    .get("format")
                    .and_then(|f| f.as_str())
                    .is_some_and(|f| !KNOWN_FORMATS.contains(&f));
                if unknown {
                    map.remove("format");
                }
                map.values_mut().for_each(walk);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(&crd).expect("a CRD serialises");
    walk(&mut value);
    serde_json::from_value(value).expect("a CRD without formats still deserialises")
}

/// The CRDs as one multi-document YAML stream, as committed in `crds/`.
pub fn crds_yaml() -> Result<String, serde_yaml::Error> {
    let mut out = String::new();
    for crd in crds() {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&crd)?);
    }
    Ok(out)
}

/// Builds a standard condition stamped now.
pub fn condition(
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    observed_generation: Option<i64>,
) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
        type_: type_.into(),
        status: if status { "True" } else { "False" }.into(),
        reason: reason.into(),
        message: message.into(),
        observed_generation,
        last_transition_time: now(),
    }
}

/// The current time as a Kubernetes `Time`.
pub fn now() -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_crds_carry_only_formats_the_api_server_knows() {
        let yaml = crds_yaml().unwrap();
        for line in yaml
            .lines()
            .filter(|l| l.trim_start().starts_with("format:"))
        {
            let f = line.trim_start().trim_start_matches("format:").trim();
            assert!(KNOWN_FORMATS.contains(&f), "unknown format {f} in the CRDs");
        }
        assert!(!yaml.contains("uint32"));
    }
}
