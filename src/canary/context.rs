//! What the drill shell works with: the client, the metrics, the Kubernetes event recorder,
//! the CloudEvents outbox and the HTTP client; and its error type.

use super::workload::WorkloadError;
use crate::events::Recorder;
use crate::events::{Delivery, HttpClient, Outbox};
use crate::telemetry::Metrics;
use kube::runtime::events::Reporter;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// Ids of CloudEvents queued by this process, and of those finished (delivered or given up).
#[derive(Default)]
struct Deliveries {
    sending: HashSet<String>,
    finished: HashSet<String>,
}

/// The drill reconciler's context.
pub struct DrillContext {
    pub client: kube::Client,
    pub metrics: Metrics,
    pub recorder: Recorder,
    pub outbox: Outbox,
    pub http: HttpClient,
    deliveries: Arc<Mutex<Deliveries>>,
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
        let deliveries: Arc<Mutex<Deliveries>> = Arc::default();
        let on_done = {
            let counter = metrics.drill.cloudevents.clone();
            let deliveries = deliveries.clone();
            Arc::new(move |d: &Delivery, ok: bool| {
                use cloudevents::AttributesReader;
                finish(&deliveries, &counter, d.event.id(), d.event.ty(), ok);
            })
        };
        let outbox = Outbox::new(http.clone(), on_done);
        Self {
            client,
            metrics,
            recorder,
            outbox,
            http,
            deliveries,
        }
    }

    /// Marks `id` as being sent by this process; false when it already is (or finished).
    pub fn start_sending(&self, id: &str) -> bool {
        let mut d = lock(&self.deliveries);
        !d.finished.contains(id) && d.sending.insert(id.to_string())
    }

    /// Whether `id` was delivered or given up on.
    pub fn is_finished(&self, id: &str) -> bool {
        lock(&self.deliveries).finished.contains(id)
    }

    /// Records that `id` finished (for a send given up on before it was queued).
    pub fn finished(&self, id: &str, event_type: &str, ok: bool) {
        finish(
            &self.deliveries,
            &self.metrics.drill.cloudevents,
            id,
            event_type,
            ok,
        );
    }

    /// Forgets ids struck from a drill's status.
    pub fn forget_finished(&self, ids: &[String]) {
        let mut d = lock(&self.deliveries);
        for id in ids {
            d.finished.remove(id);
        }
    }
}

fn lock(m: &Mutex<Deliveries>) -> std::sync::MutexGuard<'_, Deliveries> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn finish(
    deliveries: &Mutex<Deliveries>,
    counter: &prometheus_client::metrics::family::Family<
        super::metrics::DeliveryLabels,
        prometheus_client::metrics::counter::Counter,
    >,
    id: &str,
    event_type: &str,
    ok: bool,
) {
    {
        let mut d = lock(deliveries);
        d.sending.remove(id);
        d.finished.insert(id.to_string());
    }
    counter
        .get_or_create(&super::metrics::DeliveryLabels {
            event_type: event_type.into(),
            result: if ok { "delivered" } else { "dropped" }.into(),
        })
        .inc();
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
