//! Audit records: in audit mode (and warn mode) a denial the policy would have made is written
//! as a wg-policy `PolicyReport` (`wgpolicyk8s.io/v1alpha2`, one per workload, the format
//! Kyverno and policy-reporter read) and a Kubernetes Event on the workload. Writes run in the
//! background: the admission answer never waits for them, and a failed write is logged, not
//! retried into the request. Dry-run requests write nothing (`sideEffects: NoneOnDryRun`).

use crate::events::Recorder;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Reporter};
use kube::{Api, Client};
use serde_json::{Value as Json, json};

/// The PolicyReport resource (wg-policy v1alpha2).
pub fn policy_report_resource() -> ApiResource {
    ApiResource {
        group: "wgpolicyk8s.io".into(),
        version: "v1alpha2".into(),
        api_version: "wgpolicyk8s.io/v1alpha2".into(),
        kind: "PolicyReport".into(),
        plural: "policyreports".into(),
    }
}

/// The name of the report for a workload: one per kind and name, replaced on each audit.
pub fn report_name(kind: &str, name: &str) -> String {
    let mut n = format!("release-gate-{}-{}", kind.to_ascii_lowercase(), name);
    n.truncate(253);
    n
}

/// The PolicyReport for a workload the policy objected to (pure, for tests).
pub fn policy_report(
    request: &Json,
    reasons: &[String],
    now_s: i64,
) -> Option<(String, String, Json)> {
    let namespace = request.get("namespace")?.as_str()?.to_string();
    let kind = request.pointer("/kind/kind")?.as_str()?.to_string();
    let object = request.get("object")?;
    let name = object
        .pointer("/metadata/name")
        .and_then(Json::as_str)
        .or_else(|| request.get("name").and_then(Json::as_str))
        .filter(|n| !n.is_empty())?
        .to_string();
    let api_version = object
        .get("apiVersion")
        .and_then(Json::as_str)
        .unwrap_or("v1")
        .to_string();
    let resource =
        json!({"apiVersion": api_version, "kind": kind, "name": name, "namespace": namespace});
    let results: Vec<Json> = reasons
        .iter()
        .map(|r| {
            json!({
                "source": "release-gate",
                "policy": "releasegate.admission",
                "result": "fail",
                "message": r,
                "scored": true,
                "timestamp": {"seconds": now_s, "nanos": 0},
                "resources": [resource.clone()],
            })
        })
        .collect();
    let report_name = report_name(&kind, &name);
    let report = json!({
        "apiVersion": "wgpolicyk8s.io/v1alpha2",
        "kind": "PolicyReport",
        "metadata": {"name": report_name, "namespace": namespace,
                     "labels": {"app.kubernetes.io/managed-by": "release-gate"}},
        "scope": resource,
        "results": results,
        "summary": {"pass": 0, "fail": reasons.len(), "warn": 0, "error": 0, "skip": 0},
    });
    Some((namespace, report_name, report))
}

/// Writes audit records in the background.
#[derive(Clone)]
pub struct AuditSink {
    client: Client,
    recorder: Recorder,
}

impl AuditSink {
    pub fn new(client: Client) -> Self {
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: "release-gate-webhook".into(),
                instance: std::env::var("HOSTNAME").ok(),
            },
        );
        Self { client, recorder }
    }

    /// Records that the policy objected to `request` for `reasons`, unless it is a dry run.
    pub fn record(&self, request: &Json, reasons: Vec<String>, mode: &'static str) {
        if request.get("dryRun").and_then(Json::as_bool) == Some(true) {
            return;
        }
        let now_s = k8s_openapi::jiff::Timestamp::now().as_second();
        let Some((namespace, name, report)) = policy_report(request, &reasons, now_s) else {
            return;
        };
        let sink = self.clone();
        let scope = report["scope"].clone();
        tokio::spawn(async move {
            let api: Api<DynamicObject> =
                Api::namespaced_with(sink.client.clone(), &namespace, &policy_report_resource());
            if let Err(e) = api
                .patch(
                    &name,
                    &PatchParams::apply("release-gate").force(),
                    &Patch::Apply(&report),
                )
                .await
            {
                tracing::warn!(error = %e, report = %name, %namespace,
                    "cannot write the PolicyReport (is the wgpolicyk8s.io CRD installed?)");
            }
            let reference = k8s_openapi::api::core::v1::ObjectReference {
                api_version: scope["apiVersion"].as_str().map(String::from),
                kind: scope["kind"].as_str().map(String::from),
                name: scope["name"].as_str().map(String::from),
                namespace: Some(namespace.clone()),
                ..Default::default()
            };
            let event = Event {
                type_: EventType::Warning,
                reason: "PolicyViolation".into(),
                note: Some(
                    format!(
                        "release-gate ({mode} mode) would deny: {}",
                        reasons.join("; ")
                    )
                    .chars()
                    .take(1000)
                    .collect(),
                ),
                action: "Admit".into(),
                secondary: None,
            };
            if let Err(e) = sink.recorder.publish(&event, &reference).await {
                tracing::warn!(error = %e, "cannot record the audit Event");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_names_the_workload_and_each_reason() {
        let request = json!({"namespace": "team", "kind": {"kind": "Deployment"},
            "object": {"apiVersion": "apps/v1", "metadata": {"name": "web"}}});
        let (ns, name, r) = policy_report(&request, &["a".into(), "b".into()], 5).unwrap();
        assert_eq!(
            (ns.as_str(), name.as_str()),
            ("team", "release-gate-deployment-web")
        );
        assert_eq!(r["scope"]["kind"], "Deployment");
        assert_eq!(r["results"].as_array().unwrap().len(), 2);
        assert_eq!(r["results"][1]["message"], "b");
        assert_eq!(r["summary"]["fail"], 2);
        assert!(policy_report(&json!({"kind": {"kind": "Pod"}}), &[], 0).is_none());
    }
}
