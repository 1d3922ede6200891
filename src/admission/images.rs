//! The images a workload runs, read from every place a pod spec can sit (a Pod, a template, a
//! CronJob's job template), and whether an update changes them. The policy reads the same
//! places; the webhook needs the images itself to look their releases up and to let an update
//! that changes no image (a scale, a label) through without re-judging images.

use serde_json::Value as Json;
use std::collections::BTreeSet;

/// The kinds the gate judges: every way an image reaches a node.
pub const KINDS: [&str; 8] = [
    "Pod",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "ReplicationController",
];

const CONTAINER_FIELDS: [&str; 3] = ["initContainers", "containers", "ephemeralContainers"];

/// The pod spec of `object` of `kind`, if it has one.
pub fn pod_spec<'a>(kind: &str, object: &'a Json) -> Option<&'a Json> {
    match kind {
        "Pod" => object.get("spec"),
        "CronJob" => object.pointer("/spec/jobTemplate/spec/template/spec"),
        k if KINDS.contains(&k) => object.pointer("/spec/template/spec"),
        _ => None,
    }
}

/// Every image reference of the object's containers (init and ephemeral too).
pub fn images(kind: &str, object: &Json) -> BTreeSet<String> {
    let Some(spec) = pod_spec(kind, object) else {
        return BTreeSet::new();
    };
    CONTAINER_FIELDS
        .iter()
        .filter_map(|f| spec.get(*f).and_then(Json::as_array))
        .flatten()
        .filter_map(|c| c.get("image").and_then(Json::as_str))
        .map(str::to_string)
        .collect()
}

/// Replaces each image of the object's containers that `pins` names by its pinned form (lenient
/// tag resolution: the tag's digest, judged as if the workload had been pinned to it).
pub fn pin_images(
    kind: &str,
    object: &mut Json,
    pins: &std::collections::BTreeMap<String, String>,
) {
    let spec = match kind {
        "Pod" => object.get_mut("spec"),
        "CronJob" => object.pointer_mut("/spec/jobTemplate/spec/template/spec"),
        k if KINDS.contains(&k) => object.pointer_mut("/spec/template/spec"),
        _ => None,
    };
    let Some(spec) = spec else {
        return;
    };
    for field in CONTAINER_FIELDS {
        let Some(containers) = spec.get_mut(field).and_then(Json::as_array_mut) else {
            continue;
        };
        for c in containers {
            if let Some(image) = c.get_mut("image")
                && let Some(pinned) = image.as_str().and_then(|i| pins.get(i))
            {
                *image = Json::String(pinned.clone());
            }
        }
    }
}

/// The `sha256:` digest an image reference is pinned to.
pub fn digest_of(image: &str) -> Option<&str> {
    let (_, digest) = image.rsplit_once('@')?;
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then_some(digest)
}

/// True for an UPDATE whose object runs exactly the images its old object ran: nothing new
/// reaches a node, so the images are not judged again (a scale, a label change, a rollout
/// restart). Anything unreadable counts as a change.
pub fn update_keeps_images(request: &Json) -> bool {
    if request.get("operation").and_then(Json::as_str) != Some("UPDATE") {
        return false;
    }
    let kind = request
        .pointer("/kind/kind")
        .and_then(Json::as_str)
        .unwrap_or("");
    match (request.get("object"), request.get("oldObject")) {
        (Some(new), Some(old)) => {
            let now = images(kind, new);
            !now.is_empty() && now == images(kind, old)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const D: &str = "sha256:3b0c9a7f1d2e4c5b6a798877665544332211ffeeddccbbaa0099887766554433";

    #[test]
    fn images_from_every_kind_and_container_list() {
        let pod = json!({"spec": {"initContainers": [{"image": "a"}], "containers": [{"image": "b"}], "ephemeralContainers": [{"image": "c"}]}});
        assert_eq!(images("Pod", &pod).len(), 3);
        let dep = json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}});
        for kind in [
            "Deployment",
            "ReplicaSet",
            "StatefulSet",
            "DaemonSet",
            "Job",
            "ReplicationController",
        ] {
            assert_eq!(
                images(kind, &dep).into_iter().collect::<Vec<_>>(),
                ["x"],
                "{kind}"
            );
        }
        let cj = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"image": "y"}]}}}}}});
        assert_eq!(images("CronJob", &cj).len(), 1);
        assert!(images("ConfigMap", &dep).is_empty());
    }

    #[test]
    fn pinning_rewrites_only_the_named_images_everywhere() {
        let pins = std::collections::BTreeMap::from([("a:1".to_string(), format!("a:1@{D}"))]);
        let mut pod = json!({"spec": {"initContainers": [{"image": "a:1"}], "containers": [{"image": "a:1"}, {"image": "b:2"}]}});
        pin_images("Pod", &mut pod, &pins);
        assert_eq!(
            images("Pod", &pod).into_iter().collect::<Vec<_>>(),
            [format!("a:1@{D}"), "b:2".to_string()]
        );
        let mut cj = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"image": "a:1"}]}}}}}});
        pin_images("CronJob", &mut cj, &pins);
        assert_eq!(digest_of(images("CronJob", &cj).first().unwrap()), Some(D));
    }

    #[test]
    fn digests_must_be_full_sha256() {
        assert_eq!(digest_of(&format!("r.example/app@{D}")), Some(D));
        assert_eq!(digest_of(&format!("r.example/app:1@{D}")), Some(D));
        assert_eq!(digest_of("r.example/app:1"), None);
        assert_eq!(digest_of("r.example/app@sha256:abc"), None);
        assert_eq!(
            digest_of(&format!("r.example/app@{}", D.to_uppercase())),
            None
        );
    }

    #[test]
    fn only_an_update_with_the_same_images_keeps_them() {
        let dep = |img: &str, replicas: u32| json!({"spec": {"replicas": replicas, "template": {"spec": {"containers": [{"image": img}]}}}});
        let req = |op: &str, new: Json, old: Json| json!({"operation": op, "kind": {"kind": "Deployment"}, "object": new, "oldObject": old});
        assert!(update_keeps_images(&req(
            "UPDATE",
            dep("a", 3),
            dep("a", 1)
        )));
        assert!(!update_keeps_images(&req(
            "UPDATE",
            dep("b", 3),
            dep("a", 3)
        )));
        assert!(!update_keeps_images(&req(
            "CREATE",
            dep("a", 3),
            dep("a", 3)
        )));
        assert!(!update_keeps_images(
            &json!({"operation": "UPDATE", "kind": {"kind": "Deployment"}, "object": dep("a", 1)})
        ));
        // An added ephemeral container (kubectl debug) is a change.
        let pod = |eph: bool| {
            let mut p = json!({"spec": {"containers": [{"image": "a"}]}});
            if eph {
                p["spec"]["ephemeralContainers"] = json!([{"image": "busybox"}]);
            }
            p
        };
        assert!(!update_keeps_images(
            &json!({"operation": "UPDATE", "kind": {"kind": "Pod"}, "object": pod(true), "oldObject": pod(false)})
        ));
    }
}
