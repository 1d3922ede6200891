//! Admission metrics: requests by kind, operation, outcome and mode, and the decision latency
//! (what the API server waits for).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of `releasegate_admission_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub kind: String,
    pub operation: String,
    /// allowed, denied, warned, audited, exempt, unchanged, not_judged, unavailable, invalid.
    pub outcome: String,
    pub mode: String,
}

/// The webhook's counters and latency histogram. Cheap to clone; clones share the values.
#[derive(Clone, Debug)]
pub struct AdmissionMetrics {
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Histogram,
    /// Lenient tag resolution's lookups by result (cached, resolved, failed): every registry
    /// call admission makes is counted here.
    pub tag_lookups: Family<super::resolve::LookupLabels, Counter>,
}

impl Default for AdmissionMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            // 50 µs to ~1.6 s: a decision takes about a millisecond; the tail shows overload.
            latency: Histogram::new(exponential_buckets(0.000_05, 2.0, 16)),
            tag_lookups: Family::default(),
        }
    }
}

impl AdmissionMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "admission_requests",
            "Admission requests by kind, operation, outcome and mode",
            self.requests.clone(),
        );
        registry.register(
            "admission_decision_seconds",
            "Time from receiving an AdmissionReview to answering it",
            self.latency.clone(),
        );
        registry.register(
            "admission_tag_lookups",
            "Registry lookups of lenient tag resolution by result (cached: no call)",
            self.tag_lookups.clone(),
        );
    }
}
