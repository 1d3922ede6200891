//! Policy metrics: every evaluation by entry point and result, every failure (an evaluation
//! error, an undefined or malformed decision, a timeout, overload, no bundle) by reason, and
//! failed bundle reloads. Failures are denials; these counters make them visible.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// Labels of `releasegate_policy_evaluations_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EvaluationLabels {
    /// The entry point, e.g. `data.releasegate.admission.decision`.
    pub entry_point: String,
    /// `allowed`, `denied` or `failed` (a failure is also a denial).
    pub result: String,
}

/// Labels of `releasegate_policy_failures_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    /// `error`, `timeout`, `undefined`, `shape`, `not_loaded`, `overloaded` or `deadline`.
    pub reason: String,
}

/// The policy's counters. Cheap to clone; clones share the counts.
#[derive(Clone, Debug, Default)]
pub struct PolicyMetrics {
    pub evaluations: Family<EvaluationLabels, Counter>,
    pub failures: Family<FailureLabels, Counter>,
    pub reload_failures: Counter,
}

impl PolicyMetrics {
    /// Registers the counters (under the registry's prefix, `releasegate_`).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "policy_evaluations",
            "Policy evaluations by entry point and result",
            self.evaluations.clone(),
        );
        registry.register(
            "policy_failures",
            "Policy evaluations that failed and were denied, by reason",
            self.failures.clone(),
        );
        registry.register(
            "policy_reload_failures",
            "Bundle reloads that failed; the last bundle that matched the pin keeps serving",
            self.reload_failures.clone(),
        );
    }

    pub(super) fn evaluated(&self, entry_point: &str, result: &str) {
        self.evaluations
            .get_or_create(&EvaluationLabels {
                entry_point: entry_point.into(),
                result: result.into(),
            })
            .inc();
    }

    pub(super) fn failed(&self, reason: &str) {
        self.failures
            .get_or_create(&FailureLabels {
                reason: reason.into(),
            })
            .inc();
    }

    /// The count of failures for `reason` (for tests and readiness details).
    pub fn failures_for(&self, reason: &str) -> u64 {
        self.failures
            .get_or_create(&FailureLabels {
                reason: reason.into(),
            })
            .get()
    }
}
