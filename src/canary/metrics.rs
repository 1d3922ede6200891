//! The drill metrics, registered under the `releasegate` prefix: MTTR (breach detected →
//! proven Restored), breach → RolledBack, drills by outcome, windows by verdict, and the
//! current phase of every drill.

use crate::api::{CountedAs, DrillPhase, WindowVerdict};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels naming one drill.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DrillLabels {
    pub namespace: String,
    pub drill: String,
}

/// Labels of the phase gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabels {
    pub namespace: String,
    pub drill: String,
    pub phase: String,
}

/// Labels of the outcome counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// Promoted, Restored, NotRecovered (the stable revision breached after the rollback) or
    /// Failed.
    pub outcome: String,
}

/// Labels of the window counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WindowLabels {
    pub verdict: String,
    pub counted_as: String,
}

/// Labels of the CloudEvents delivery counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    pub event_type: String,
    /// `delivered` or `dropped`.
    pub result: String,
}

const PHASES: [DrillPhase; 8] = [
    DrillPhase::Pending,
    DrillPhase::Progressing,
    DrillPhase::Analyzing,
    DrillPhase::Promoted,
    DrillPhase::RollingBack,
    DrillPhase::RolledBack,
    DrillPhase::Restored,
    DrillPhase::Failed,
];

/// The drill metrics. Cheap to clone.
#[derive(Clone)]
pub struct DrillMetrics {
    pub mttr: Family<DrillLabels, Histogram>,
    pub breach_to_rolled_back: Family<DrillLabels, Histogram>,
    pub outcomes: Family<OutcomeLabels, Counter>,
    pub windows: Family<WindowLabels, Counter>,
    pub phase: Family<PhaseLabels, Gauge>,
    pub cloudevents: Family<DeliveryLabels, Counter>,
}

impl DrillMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        // MTTR: 1 s to ~4.5 h. A drill's MTTR is its recovery windows plus seconds, and windows
        // run from seconds (tests) to tens of minutes.
        let mttr = Family::<DrillLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(1.0, 2.0, 15))
        });
        // Breach → RolledBack: 50 ms to ~7 min; the goal is under 5 s.
        let breach_to_rolled_back = Family::<DrillLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.05, 2.0, 14))
        });
        let outcomes = Family::<OutcomeLabels, Counter>::default();
        let windows = Family::<WindowLabels, Counter>::default();
        let phase = Family::<PhaseLabels, Gauge>::default();
        let cloudevents = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "drill_mttr_seconds",
            "Time from the breach detection to the proven restore of the stable revision",
            mttr.clone(),
        );
        registry.register(
            "drill_breach_to_rolled_back_seconds",
            "Time from the breach detection to the stable revision being fully available",
            breach_to_rolled_back.clone(),
        );
        registry.register(
            "drill_outcomes",
            "Finished drill runs by outcome",
            outcomes.clone(),
        );
        registry.register(
            "drill_windows",
            "Judged windows by verdict",
            windows.clone(),
        );
        registry.register(
            "drill_phase",
            "1 for the current phase of each drill, 0 for the others",
            phase.clone(),
        );
        registry.register(
            "drill_cloudevents",
            "CloudEvents by type and delivery result",
            cloudevents.clone(),
        );
        Self {
            mttr,
            breach_to_rolled_back,
            outcomes,
            windows,
            phase,
            cloudevents,
        }
    }

    /// Sets the phase gauge of a drill: 1 for `current`, 0 for every other phase.
    pub fn set_phase(&self, namespace: &str, drill: &str, current: DrillPhase) {
        for p in PHASES {
            let labels = PhaseLabels {
                namespace: namespace.into(),
                drill: drill.into(),
                phase: format!("{p:?}"),
            };
            self.phase
                .get_or_create(&labels)
                .set(i64::from(p == current));
        }
    }

    /// Forgets a deleted drill's phase series.
    pub fn forget(&self, namespace: &str, drill: &str) {
        for p in PHASES {
            self.phase.remove(&PhaseLabels {
                namespace: namespace.into(),
                drill: drill.into(),
                phase: format!("{p:?}"),
            });
        }
    }

    /// Counts a judged window.
    pub fn window(&self, verdict: WindowVerdict, counted_as: CountedAs) {
        self.windows
            .get_or_create(&WindowLabels {
                verdict: format!("{verdict:?}"),
                counted_as: format!("{counted_as:?}"),
            })
            .inc();
    }

    /// Counts a finished run.
    pub fn outcome(&self, outcome: &str) {
        self.outcomes
            .get_or_create(&OutcomeLabels {
                outcome: outcome.into(),
            })
            .inc();
    }
}
