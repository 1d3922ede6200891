//! What the drill shell works with: the client, the metrics, the Kubernetes event recorder,
//! the CloudEvents outbox and the HTTP client; and its error type.

use super::workload::WorkloadError;
use crate::events::{HttpClient, Outbox};
use crate::telemetry::Metrics;
use kube::runtime::events::{Recorder, Reporter};
use std::sync::Arc;

/// The drill reconciler's context.
pub struct DrillContext {
    pub client: kube::Client,
    pub metrics: Metrics,
    pub recorder: Recorder,
    pub outbox: Outbox,
    pub http: HttpClient,
}

impl DrillContext {
    /// Builds the context: events are reported by `release-gate` (instance: `$POD_NAME` or the
    /// host name), CloudEvent deliveries are counted in the drill metrics.
    pub fn new(client: kube::Client, metrics: Metrics) -> Self {
        let instance = std::env::var("POD_NAME")
            .or_else(|_| std::env::var("HOSTNAME"))
            .ok();
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: "release-gate".into(),
                instance,
            },
        );
        let http = crate::events::http_client();
        let counter = metrics.drill.cloudevents.clone();
        let outbox = Outbox::new(
            http.clone(),
            Arc::new(move |ty: &str, ok: bool| {
                counter
                    .get_or_create(&super::metrics::DeliveryLabels {
                        event_type: ty.into(),
                        result: if ok { "delivered" } else { "dropped" }.into(),
                    })
                    .inc();
            }),
        );
        Self {
            client,
            metrics,
            recorder,
            outbox,
            http,
        }
    }
}

/// Drill reconcile failures, one variant per failure site.
#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    #[error("cannot {what}: {source}")]
    Kube {
        what: &'static str,
        #[source]
        source: kube::Error,
    },
    #[error("{0}")]
    Workload(#[from] WorkloadError),
    #[error("inconsistent drill status: {0}")]
    Inconsistent(&'static str),
    #[error("CanaryDrill {0} has no namespace")]
    MissingNamespace(String),
}

impl DrillError {
    /// `map_err` adapter naming the failed step.
    pub fn kube(what: &'static str) -> impl Fn(kube::Error) -> DrillError {
        move |source| DrillError::Kube { what, source }
    }

    /// `map_err` adapter for workload errors.
    pub fn workload(e: WorkloadError) -> DrillError {
        DrillError::Workload(e)
    }

    /// Whether the failure is a lost optimistic-concurrency race (retry at once).
    pub fn is_conflict(&self) -> bool {
        matches!(self, DrillError::Kube { source: kube::Error::Api(s), .. } if s.code == 409)
    }

    /// A short label for the error metric.
    pub fn metric_label(&self) -> &'static str {
        match self {
            DrillError::Kube { .. } if self.is_conflict() => "conflict",
            DrillError::Kube { .. } => "kube",
            DrillError::Workload(_) => "workload",
            DrillError::Inconsistent(_) => "inconsistent",
            DrillError::MissingNamespace(_) => "missing_namespace",
        }
    }
}
