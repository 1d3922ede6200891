//! What the drill does to Deployments, built as plain values: the target as the state machine
//! sees it, the canary's pod template (the stable one with a new image and/or a JSON merge
//! patch), the canary Deployment `<target>-canary` (a replica-count split, no mesh), and the
//! readiness checks for "canary available" and "stable fully available again".

use super::machine::TargetView;
use crate::api::{CanaryDrill, CanaryRevision, StableRevision};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{Resource, ResourceExt};
use sha2::{Digest, Sha256};

/// Label on the canary's pods (and selector) that tells them from the stable ones.
pub const TRACK_LABEL: &str = "releasegate.dev/track";
/// Label on the canary's pods naming the drill.
pub const DRILL_LABEL: &str = "releasegate.dev/drill";
/// Annotation on the target naming the drill that holds it (one drill per Deployment).
pub const CLAIM_ANNOTATION: &str = "releasegate.dev/canary-drill";
/// Annotation on the canary Deployment: the hash of the canary template it runs.
pub const TEMPLATE_HASH_ANNOTATION: &str = "releasegate.dev/template-hash";

/// A Deployment the drill cannot work with, naming what is wrong.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WorkloadError {
    #[error("Deployment {0} has no pod template")]
    NoTemplate(String),
    #[error("spec.canary.container {container:?} is not a container of Deployment {deployment}")]
    NoSuchContainer {
        deployment: String,
        container: String,
    },
    #[error("Deployment {0} has no containers")]
    NoContainers(String),
    #[error("spec.canary.templatePatch does not give a valid pod template: {0}")]
    BadPatch(String),
    #[error("the recorded stable template does not parse: {0}")]
    BadRecord(String),
}

/// sha256 of a pod template's JSON.
pub fn template_hash(template: &PodTemplateSpec) -> String {
    let json = serde_json::to_vec(template).unwrap_or_default();
    hex::encode(Sha256::digest(&json))
}

/// The name of the canary Deployment.
pub fn canary_name(target: &str) -> String {
    format!("{target}-canary")
}

/// The target as the state machine sees it.
pub fn target_view(dep: &Deployment, container: Option<&str>) -> Result<TargetView, WorkloadError> {
    let name = dep.name_any();
    let spec = dep
        .spec
        .as_ref()
        .ok_or_else(|| WorkloadError::NoTemplate(name.clone()))?;
    let template = &spec.template;
    let pod = template
        .spec
        .as_ref()
        .ok_or_else(|| WorkloadError::NoTemplate(name.clone()))?;
    let c = match container {
        Some(c) => pod.containers.iter().find(|x| x.name == c).ok_or_else(|| {
            WorkloadError::NoSuchContainer {
                deployment: name.clone(),
                container: c.into(),
            }
        })?,
        None => pod
            .containers
            .first()
            .ok_or_else(|| WorkloadError::NoContainers(name.clone()))?,
    };
    Ok(TargetView {
        template_hash: template_hash(template),
        template: serde_json::to_string(template).unwrap_or_default(),
        container: c.name.clone(),
        image: c.image.clone().unwrap_or_default(),
        replicas: spec.replicas.unwrap_or(1),
        revision: dep
            .annotations()
            .get("deployment.kubernetes.io/revision")
            .cloned(),
    })
}

/// The recorded stable template.
pub fn recorded_template(stable: &StableRevision) -> Result<PodTemplateSpec, WorkloadError> {
    serde_json::from_str(&stable.template).map_err(|e| WorkloadError::BadRecord(e.to_string()))
}

/// The canary's pod template: the stable one with the canary image and the template patch.
/// It carries no drill labels: this is also what a promotion gives the target.
pub fn canary_template(
    stable: &PodTemplateSpec,
    canary: &CanaryRevision,
    container: &str,
) -> Result<PodTemplateSpec, WorkloadError> {
    let mut t = stable.clone();
    if let Some(image) = &canary.image
        && let Some(pod) = t.spec.as_mut()
        && let Some(c) = pod.containers.iter_mut().find(|c| c.name == container)
    {
        c.image = Some(image.clone());
    }
    if let Some(patch) = &canary.template_patch {
        let mut v = serde_json::to_value(&t).map_err(|e| WorkloadError::BadPatch(e.to_string()))?;
        merge_patch(&mut v, patch);
        t = serde_json::from_value(v).map_err(|e| WorkloadError::BadPatch(e.to_string()))?;
    }
    Ok(t)
}

/// RFC 7386 JSON merge patch: objects merge, `null` removes, anything else replaces.
pub fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    use serde_json::Value;
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// The canary Deployment: the target's selector and the canary template, both with the
/// track label, owned by the drill (deleting the drill deletes it).
pub fn canary_deployment(
    drill: &CanaryDrill,
    target: &Deployment,
    template: &PodTemplateSpec,
    hash: &str,
) -> Deployment {
    let drill_name = drill.name_any();
    let mut selector = target
        .spec
        .as_ref()
        .map(|s| s.selector.clone())
        .unwrap_or_default();
    selector
        .match_labels
        .get_or_insert_with(Default::default)
        .insert(TRACK_LABEL.into(), "canary".into());
    let mut template = template.clone();
    let meta = template.metadata.get_or_insert_with(Default::default);
    let labels = meta.labels.get_or_insert_with(Default::default);
    labels.insert(TRACK_LABEL.into(), "canary".into());
    labels.insert(DRILL_LABEL.into(), drill_name.clone());
    Deployment {
        metadata: ObjectMeta {
            name: Some(canary_name(&drill.spec.target.name)),
            namespace: drill.namespace(),
            labels: Some([(DRILL_LABEL.to_string(), drill_name)].into()),
            annotations: Some([(TEMPLATE_HASH_ANNOTATION.to_string(), hash.to_string())].into()),
            owner_references: drill.controller_owner_ref(&()).map(|o| vec![o]),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(drill.spec.canary.replicas),
            selector,
            template,
            ..DeploymentSpec::default()
        }),
        status: None,
    }
}

/// The canary Deployment runs `hash` with all its replicas available.
pub fn canary_ready(canary: &Deployment, hash: &str) -> bool {
    let runs_hash = canary
        .annotations()
        .get(TEMPLATE_HASH_ANNOTATION)
        .map(String::as_str)
        == Some(hash);
    runs_hash
        && rolled_out(canary)
        && canary.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1) > 0
}

/// The target runs the recorded template at its recorded replicas, every replica updated and
/// available and no old one left; the canary has no pods.
pub fn stable_available(
    target: &Deployment,
    stable: &StableRevision,
    canary: Option<&Deployment>,
) -> bool {
    let Some(spec) = &target.spec else {
        return false;
    };
    let template_back = template_hash(&spec.template) == stable.template_hash;
    let replicas_back = spec.replicas.unwrap_or(1) == stable.replicas;
    let canary_gone = canary.is_none_or(|c| {
        c.spec.as_ref().and_then(|s| s.replicas) == Some(0)
            && c.status.as_ref().and_then(|s| s.replicas).unwrap_or(0) == 0
    });
    template_back && replicas_back && rolled_out(target) && canary_gone
}

/// The Deployment controller has seen the latest spec and every replica is updated and
/// available, with no old replica left.
fn rolled_out(dep: &Deployment) -> bool {
    let want = dep.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let Some(st) = &dep.status else { return false };
    st.observed_generation >= dep.metadata.generation
        && st.updated_replicas.unwrap_or(0) == want
        && st.available_replicas.unwrap_or(0) == want
        && st.replicas.unwrap_or(0) == want
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(image: &str, replicas: i32) -> Deployment {
        serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "generation": 2,
                         "annotations": {"deployment.kubernetes.io/revision": "3"}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [
                        {"name": "side", "image": "sidecar:1"},
                        {"name": "web", "image": image, "env": [{"name": "A", "value": "1"}]}
                    ]}
                }
            },
            "status": {"observedGeneration": 2, "replicas": replicas, "updatedReplicas": replicas,
                       "availableReplicas": replicas, "readyReplicas": replicas}
        }))
        .unwrap()
    }

    fn drill(canary: serde_json::Value) -> CanaryDrill {
        serde_json::from_value(json!({
            "apiVersion": "releasegate.dev/v1alpha1", "kind": "CanaryDrill",
            "metadata": {"name": "d", "namespace": "shop", "uid": "u-1"},
            "spec": {"target": {"name": "web"}, "canary": canary,
                     "budget": {"maxErrorRate": 0.01}, "metrics": {"synthetic": {"outcome": "Fail"}},
                     "owner": "team"}
        }))
        .unwrap()
    }

    #[test]
    fn the_target_view_names_the_container_or_says_it_is_missing() {
        let d = deployment("web:1", 4);
        let v = target_view(&d, Some("web")).unwrap();
        assert_eq!(
            (v.container.as_str(), v.image.as_str(), v.replicas),
            ("web", "web:1", 4)
        );
        assert_eq!(v.revision.as_deref(), Some("3"));
        assert_eq!(target_view(&d, None).unwrap().container, "side");
        let err = target_view(&d, Some("nope")).unwrap_err();
        assert!(
            err.to_string().contains("spec.canary.container \"nope\""),
            "{err}"
        );
        assert_ne!(
            target_view(&deployment("web:2", 4), Some("web"))
                .unwrap()
                .template_hash,
            v.template_hash
        );
        assert_eq!(
            target_view(&deployment("web:1", 9), Some("web"))
                .unwrap()
                .template_hash,
            v.template_hash,
            "replicas are not the template"
        );
    }

    #[test]
    fn the_canary_template_changes_the_image_and_applies_the_patch() {
        let d = deployment("web:1", 4);
        let stable = d.spec.clone().unwrap().template;
        let dr = drill(json!({"image": "web:2", "container": "web",
            "templatePatch": {"metadata": {"annotations": {"x": "y"}, "labels": {"app": "web"}}}}));
        let t = canary_template(&stable, &dr.spec.canary, "web").unwrap();
        let pod = t.spec.as_ref().unwrap();
        assert_eq!(pod.containers[1].image.as_deref(), Some("web:2"));
        assert_eq!(pod.containers[0].image.as_deref(), Some("sidecar:1"));
        assert_eq!(
            t.metadata.as_ref().unwrap().annotations.as_ref().unwrap()["x"],
            "y"
        );
        let bad = drill(json!({"templatePatch": {"spec": {"containers": "oops"}}}));
        assert!(matches!(
            canary_template(&stable, &bad.spec.canary, "web"),
            Err(WorkloadError::BadPatch(_))
        ));
    }

    #[test]
    fn merge_patch_follows_rfc_7386() {
        // RFC 7386 appendix A, a few of its cases.
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (
                json!({"e": null}),
                json!({"a": 1}),
                json!({"e": null, "a": 1}),
            ),
        ];
        for (mut t, p, want) in cases {
            merge_patch(&mut t, &p);
            assert_eq!(t, want);
        }
    }

    #[test]
    fn the_canary_deployment_is_split_off_with_its_own_track() {
        let target = deployment("web:1", 4);
        let dr = drill(json!({"image": "web:2", "replicas": 2}));
        let tpl = canary_template(
            &target.spec.clone().unwrap().template,
            &dr.spec.canary,
            "side",
        )
        .unwrap();
        let c = canary_deployment(&dr, &target, &tpl, "h");
        assert_eq!(c.metadata.name.as_deref(), Some("web-canary"));
        let spec = c.spec.as_ref().unwrap();
        assert_eq!(spec.replicas, Some(2));
        let sel = spec.selector.match_labels.as_ref().unwrap();
        assert_eq!(sel["app"], "web");
        assert_eq!(sel[TRACK_LABEL], "canary");
        let labels = spec
            .template
            .metadata
            .as_ref()
            .unwrap()
            .labels
            .as_ref()
            .unwrap();
        assert_eq!(labels[TRACK_LABEL], "canary");
        assert_eq!(labels[DRILL_LABEL], "d");
        assert_eq!(c.metadata.owner_references.as_ref().unwrap()[0].uid, "u-1");
        assert!(
            !tpl.metadata
                .as_ref()
                .unwrap()
                .labels
                .as_ref()
                .unwrap()
                .contains_key(TRACK_LABEL),
            "the promotable template has no drill labels"
        );
    }

    #[test]
    fn stable_is_available_only_when_fully_back() {
        let target = deployment("web:1", 4);
        let v = target_view(&target, Some("web")).unwrap();
        let stable = StableRevision {
            revision: None,
            template_hash: v.template_hash.clone(),
            template: v.template.clone(),
            container: "web".into(),
            image: "web:1".into(),
            replicas: 4,
        };
        assert!(stable_available(&target, &stable, None));
        let mut rolling = target.clone();
        rolling.status.as_mut().unwrap().available_replicas = Some(3);
        assert!(!stable_available(&rolling, &stable, None));
        let mut old_pods = target.clone();
        old_pods.status.as_mut().unwrap().replicas = Some(5);
        assert!(!stable_available(&old_pods, &stable, None));
        let mut unseen = target.clone();
        unseen.metadata.generation = Some(3);
        assert!(!stable_available(&unseen, &stable, None));
        assert!(!stable_available(&deployment("web:2", 4), &stable, None));
        assert!(!stable_available(&deployment("web:1", 3), &stable, None));
        let mut canary = deployment("web:2", 0);
        assert!(stable_available(&target, &stable, Some(&canary)));
        canary.status.as_mut().unwrap().replicas = Some(1);
        assert!(
            !stable_available(&target, &stable, Some(&canary)),
            "canary pods still there"
        );
        assert_eq!(
            recorded_template(&stable).unwrap(),
            target.spec.unwrap().template
        );
    }
}
