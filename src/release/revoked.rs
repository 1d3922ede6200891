//! Which workloads still run a release that trust was withdrawn from: when a release turns from
//! Ready to Blocked, the Pods whose containers run its digest (by the image the kubelet resolved,
//! `status.containerStatuses[].imageID`, or a digest-pinned `spec.containers[].image`) are named
//! in an Event on the release and counted in `releasegate_release_revoked_workloads`. Admission
//! stops new ones; these are the ones someone has to roll.

use k8s_openapi::api::core::v1::{Pod, PodSpec, PodStatus};
use kube::ResourceExt;

/// At most this many workloads are named in the Event (its note is capped at 1 kB); the metric
/// counts them all.
const NAMED: usize = 10;

/// Whether a container of `pod` runs `digest` (`sha256:<hex>`). Pods that have finished do not
/// run anything.
pub fn runs_digest(pod: &Pod, digest: &str) -> bool {
    let pinned = format!("@{digest}");
    if let Some(PodStatus {
        phase: Some(phase), ..
    }) = &pod.status
        && (phase == "Succeeded" || phase == "Failed")
    {
        return false;
    }
    let in_spec = pod.spec.as_ref().is_some_and(
        |PodSpec {
             containers,
             init_containers,
             ephemeral_containers,
             ..
         }| {
            containers
                .iter()
                .filter_map(|c| c.image.as_deref())
                .chain(
                    init_containers
                        .iter()
                        .flatten()
                        .filter_map(|c| c.image.as_deref()),
                )
                .chain(
                    ephemeral_containers
                        .iter()
                        .flatten()
                        .filter_map(|c| c.image.as_deref()),
                )
                .any(|image| image.ends_with(&pinned))
        },
    );
    let in_status = pod.status.as_ref().is_some_and(|s| {
        s.container_statuses
            .iter()
            .flatten()
            .chain(s.init_container_statuses.iter().flatten())
            .chain(s.ephemeral_container_statuses.iter().flatten())
            .any(|c| c.image_id.ends_with(&pinned) || c.image_id.ends_with(digest))
    });
    in_spec || in_status
}

/// `namespace/pod`, with the workload that owns it (`ReplicaSet/app-7d9f`), for the Event.
pub fn describe(pod: &Pod) -> String {
    let name = format!("{}/{}", pod.namespace().unwrap_or_default(), pod.name_any());
    match pod
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true))
    {
        Some(o) => format!("{name} ({} {})", o.kind, o.name),
        None => name,
    }
}

/// The Event note naming `running` (already described), at most [`NAMED`] of them.
pub fn note(digest: &str, running: &[String]) -> String {
    let mut note = format!(
        "{} Pod(s) still run {digest}, which is no longer trusted: {}",
        running.len(),
        running
            .iter()
            .take(NAMED)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    );
    if running.len() > NAMED {
        note.push_str(&format!(" and {} more", running.len() - NAMED));
    }
    note.push_str("; roll them to a verified release");
    note
}

/// The Pods running `digest`, described, in `namespace` or the whole cluster.
pub async fn still_running(
    client: &kube::Client,
    namespace: Option<&str>,
    digest: &str,
) -> Result<Vec<String>, kube::Error> {
    let api = match namespace {
        Some(ns) => kube::Api::<Pod>::namespaced(client.clone(), ns),
        None => kube::Api::<Pod>::all(client.clone()),
    };
    let mut running = Vec::new();
    let mut params = kube::api::ListParams::default().limit(500);
    loop {
        let page = api.list(&params).await?;
        running.extend(
            page.items
                .iter()
                .filter(|p| runs_digest(p, digest))
                .map(describe),
        );
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    running.sort();
    Ok(running)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const D: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_pod_runs_the_digest_by_its_pinned_image_or_its_resolved_image_id() {
        let pinned = pod(json!({"metadata": {"name": "a", "namespace": "n"},
            "spec": {"containers": [{"name": "c", "image": format!("reg/app@{D}")}]}}));
        assert!(runs_digest(&pinned, D));
        let by_tag = pod(json!({"metadata": {"name": "b", "namespace": "n"},
            "spec": {"containers": [{"name": "c", "image": "reg/app:v1"}]},
            "status": {"phase": "Running", "containerStatuses": [{"name": "c", "image": "reg/app:v1",
                "imageID": format!("reg/app@{D}"), "ready": true, "restartCount": 0}]}}));
        assert!(runs_digest(&by_tag, D));
        let other = pod(json!({"metadata": {"name": "c", "namespace": "n"},
            "spec": {"containers": [{"name": "c", "image": "reg/app:v1"}]}}));
        assert!(!runs_digest(&other, D));
        let done = pod(json!({"metadata": {"name": "d", "namespace": "n"},
            "spec": {"containers": [{"name": "c", "image": format!("reg/app@{D}")}]},
            "status": {"phase": "Succeeded"}}));
        assert!(!runs_digest(&done, D));
    }

    #[test]
    fn the_note_names_the_workloads_and_counts_the_rest() {
        let owned = pod(json!({"metadata": {"name": "app-1", "namespace": "n",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "app-7d9f",
                "uid": "u", "controller": true}]}}));
        assert_eq!(describe(&owned), "n/app-1 (ReplicaSet app-7d9f)");
        let many: Vec<String> = (0..12).map(|i| format!("n/p{i}")).collect();
        let n = note(D, &many);
        assert!(n.starts_with("12 Pod(s) still run sha256:"), "{n}");
        assert!(
            n.contains("n/p9") && !n.contains("n/p10,") && n.contains("and 2 more"),
            "{n}"
        );
    }
}
