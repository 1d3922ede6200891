//! Metrics registered under the `releasegate` prefix with `prometheus-client`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Instant;

/// Labels of the reconcile metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    /// `HardenedRelease` or `CanaryDrill`.
    pub kind: String,
}

/// Labels of the reconcile error counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub kind: String,
    /// The error's `metric_label()`.
    pub error: String,
}

/// Labels of the verification counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerificationLabels {
    /// `verified`, `blocked`, `invalid` or `stale` (the registry could not be read).
    pub result: String,
}

/// Labels of the attestation counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AttestationLabels {
    /// `sbom`, `provenance` or `vulnerabilities`.
    pub kind: String,
    /// `verified` or `failed` (missing, untrusted, invalid or stale).
    pub result: String,
}

/// Labels of per-release gauges.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReleaseLabels {
    pub namespace: String,
    pub name: String,
}

/// The process's metrics. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    pub registry: Arc<Registry>,
    pub reconciles: Family<ReconcileLabels, Counter>,
    pub reconcile_errors: Family<ErrorLabels, Counter>,
    pub reconcile_duration: Family<ReconcileLabels, Histogram>,
    /// Policy evaluations, failures and reloads (shared with the `PolicyHolder`).
    pub policy: crate::policy::PolicyMetrics,
    /// Admission requests and latency (the webhook).
    pub admission: crate::admission::metrics::AdmissionMetrics,
    /// The CanaryDrill metrics (MTTR, outcomes, windows, phases).
    pub drill: crate::canary::DrillMetrics,
    /// HardenedRelease verifications by result.
    pub verifications: Family<VerificationLabels, Counter>,
    /// Time to verify and judge a release (registry, signatures, policy).
    pub verification_duration: Histogram,
    /// Critical vulnerabilities of each release's verified report.
    pub release_criticals: Family<ReleaseLabels, Gauge>,
    /// 1 while this instance reconciles (holds the Lease, or runs without leader election).
    pub leader: Gauge,
    /// Pods still running a release after it turned from Ready to Blocked.
    pub revoked_workloads: Family<ReleaseLabels, Gauge>,
    /// Attestations judged, by kind and result (their pass rate).
    pub attestations: Family<AttestationLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("releasegate");
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        let reconcile_errors = Family::<ErrorLabels, Counter>::default();
        // Buckets from 1 ms to ~16 s: a reconcile that verifies evidence makes a few registry
        // round trips; anything past 16 s is an outlier worth its own bucket.
        let reconcile_duration = Family::<ReconcileLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
                0.001, 2.0, 15,
            ))
        });
        registry.register("reconciles", "Reconciliations run", reconciles.clone());
        registry.register(
            "reconcile_errors",
            "Reconciliations that failed, by error kind",
            reconcile_errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Duration of reconciliations",
            reconcile_duration.clone(),
        );
        let policy = crate::policy::PolicyMetrics::default();
        policy.register(&mut registry);
        let admission = crate::admission::metrics::AdmissionMetrics::default();
        admission.register(&mut registry);
        let drill = crate::canary::DrillMetrics::register(&mut registry);
        let verifications = Family::<VerificationLabels, Counter>::default();
        // Same range as reconciles: a verification is most of a release reconcile.
        let verification_duration = Histogram::new(
            prometheus_client::metrics::histogram::exponential_buckets(0.001, 2.0, 15),
        );
        let release_criticals = Family::<ReleaseLabels, Gauge>::default();
        let revoked_workloads = Family::<ReleaseLabels, Gauge>::default();
        let leader = Gauge::default();
        registry.register(
            "controller_leader",
            "Whether this instance reconciles (holds the leader Lease, or runs without leader election)",
            leader.clone(),
        );
        registry.register(
            "release_revoked_workloads",
            "Pods still running a HardenedRelease's digest after it turned from Ready to Blocked",
            revoked_workloads.clone(),
        );
        let attestations = Family::<AttestationLabels, Counter>::default();
        registry.register(
            "release_attestations",
            "Attestations of HardenedReleases judged, by kind and result",
            attestations.clone(),
        );
        registry.register(
            "release_verifications",
            "HardenedRelease verifications, by result",
            verifications.clone(),
        );
        registry.register(
            "release_verification_duration_seconds",
            "Time to verify and judge a HardenedRelease",
            verification_duration.clone(),
        );
        registry.register(
            "release_critical_vulnerabilities",
            "Critical vulnerabilities in the verified report of each HardenedRelease",
            release_criticals.clone(),
        );
        Self {
            registry: Arc::new(registry),
            reconciles,
            reconcile_errors,
            reconcile_duration,
            policy,
            admission,
            drill,
            verifications,
            verification_duration,
            release_criticals,
            revoked_workloads,
            leader,
            attestations,
        }
    }
}

impl Metrics {
    /// The process's metrics: the controllers and the webhook of one process share one
    /// registry, which the health server exposes.
    pub fn shared() -> Self {
        static SHARED: std::sync::OnceLock<Metrics> = std::sync::OnceLock::new();
        SHARED.get_or_init(Metrics::default).clone()
    }

    /// Counts a reconcile and returns a guard that records its duration when dropped.
    pub fn reconcile_started(&self, kind: &str) -> ReconcileTimer {
        let labels = ReconcileLabels { kind: kind.into() };
        self.reconciles.get_or_create(&labels).inc();
        ReconcileTimer {
            start: Instant::now(),
            histogram: self.reconcile_duration.get_or_create(&labels).clone(),
        }
    }

    /// Counts a failed reconcile.
    pub fn reconcile_failed(&self, kind: &str, error: &str) {
        self.reconcile_errors
            .get_or_create(&ErrorLabels {
                kind: kind.into(),
                error: error.into(),
            })
            .inc();
    }

    /// Counts a release verification by result and records its duration.
    pub fn verification(&self, result: &str, took: std::time::Duration) {
        self.verifications
            .get_or_create(&VerificationLabels {
                result: result.into(),
            })
            .inc();
        self.verification_duration.observe(took.as_secs_f64());
    }

    /// Counts one attestation of a judged release.
    pub fn attestation(&self, kind: &str, verified: bool) {
        self.attestations
            .get_or_create(&AttestationLabels {
                kind: kind.into(),
                result: if verified { "verified" } else { "failed" }.into(),
            })
            .inc();
    }

    /// Sets the number of critical vulnerabilities of a release.
    /// Whether this instance reconciles now.
    pub fn leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// Sets the Pods still running a revoked release; `None` (the release is Ready again)
    /// drops its series.
    pub fn release_revoked_workloads(&self, namespace: &str, name: &str, pods: Option<usize>) {
        let labels = ReleaseLabels {
            namespace: namespace.into(),
            name: name.into(),
        };
        match pods {
            Some(n) => {
                self.revoked_workloads
                    .get_or_create(&labels)
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
            None => {
                self.revoked_workloads.remove(&labels);
            }
        }
    }

    pub fn release_criticals(&self, namespace: &str, name: &str, criticals: u32) {
        self.release_criticals
            .get_or_create(&ReleaseLabels {
                namespace: namespace.into(),
                name: name.into(),
            })
            .set(i64::from(criticals));
    }

    /// The registry in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Encoding into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Records the elapsed time into the reconcile histogram on drop.
pub struct ReconcileTimer {
    start: Instant,
    histogram: Histogram,
}

impl Drop for ReconcileTimer {
    fn drop(&mut self) {
        self.histogram.observe(self.start.elapsed().as_secs_f64());
    }
}
