//! Plumbing shared by the reconcilers: the context they receive, their error type and the
//! error policy, and the status write (server-side apply with one field manager).

use crate::telemetry::Metrics;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

/// The field manager of every status write, so server-side apply attributes them to us.
pub const FIELD_MANAGER: &str = "release-gate";

/// What every reconciler receives.
pub struct Context {
    pub client: kube::Client,
    pub metrics: Metrics,
    /// Publishes Kubernetes Events (e.g. a release's verdict change).
    pub recorder: crate::events::Recorder,
}

/// Reconcile failures, one variant per failure site.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot write the status of {kind} {namespace}/{name}: {source}")]
    WriteStatus {
        kind: &'static str,
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("{kind} {name} has no namespace")]
    MissingNamespace { kind: &'static str, name: String },
}

impl Error {
    /// A short label for the error metric.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::WriteStatus { .. } => "write_status",
            Error::MissingNamespace { .. } => "missing_namespace",
        }
    }
}

/// Transient API failures are retried with a delay; the watch brings spec changes anyway.
pub fn error_policy<K>(obj: Arc<K>, error: &Error, ctx: Arc<Context>) -> Action
where
    K: Resource<DynamicType = ()>,
{
    let kind = K::kind(&()).to_string();
    tracing::warn!(%kind, name = %obj.name_any(), error = %error, "reconcile failed");
    ctx.metrics.reconcile_failed(&kind, error.metric_label());
    Action::requeue(Duration::from_secs(15))
}

/// Writes `status` with server-side apply under [`FIELD_MANAGER`].
pub async fn apply_status<K, S>(client: &kube::Client, obj: &K, status: S) -> Result<(), Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug,
    S: Serialize,
{
    let kind = K::kind(&());
    let name = obj.name_any();
    let namespace = obj.namespace().ok_or_else(|| Error::MissingNamespace {
        kind: static_kind(&kind),
        name: name.clone(),
    })?;
    let api: Api<K> = Api::namespaced(client.clone(), &namespace);
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": kind,
        "status": status,
    });
    api.patch_status(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(|source| Error::WriteStatus {
        kind: static_kind(&kind),
        namespace,
        name,
        source,
    })?;
    Ok(())
}

fn static_kind(kind: &str) -> &'static str {
    match kind {
        "HardenedRelease" => "HardenedRelease",
        "CanaryDrill" => "CanaryDrill",
        "Decision" => "Decision",
        _ => "object",
    }
}
