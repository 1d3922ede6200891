//! `CanaryDrill`: a canary with an error and latency budget judged per window, that rolls back
//! by itself after consecutive breaches; scheduled, it is a fire-drill proving the rollback path.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A canary of a new revision of a Deployment, judged window by window against an error and
/// latency budget; `breachWindows` consecutive breaches roll back, once, to the stable revision
/// recorded before anything changed.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "releasegate.dev",
    version = "v1alpha1",
    kind = "CanaryDrill",
    plural = "canarydrills",
    shortname = "drill",
    category = "releasegate",
    namespaced,
    status = "CanaryDrillStatus",
    printcolumn = r#"{"name":"Target","type":"string","jsonPath":".spec.target.name"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Last Window","type":"string","jsonPath":".status.lastWindow"}"#,
    printcolumn = r#"{"name":"MTTR","type":"string","jsonPath":".status.mttr"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.metrics.prometheus) != has(self.metrics.synthetic)").message("spec.metrics must set exactly one of prometheus or synthetic"))]
pub struct CanaryDrillSpec {
    /// The Deployment the canary changes.
    pub target: TargetRef,
    /// The revision rolled out as the canary.
    pub canary: CanaryRevision,
    /// The error and latency budget each window is judged against.
    pub budget: Budget,
    /// Length of one analysis window, as a duration such as `30s`, `1m` or `5m`.
    #[serde(default = "default_window")]
    #[x_kube(validation = Rule::new("self.matches('^[0-9]+(s|m|h)$')").message("spec.window must be a duration such as 30s, 1m or 5m"))]
    pub window: String,
    /// Consecutive breached windows that trigger the rollback (default 2).
    #[serde(default = "default_breach_windows")]
    #[schemars(range(min = 1, max = 100))]
    pub breach_windows: u32,
    /// Passing windows needed to promote the canary (default 3).
    #[serde(default = "default_success_windows")]
    #[schemars(range(min = 1, max = 1000))]
    pub success_windows: u32,
    /// What a window without data counts as: `Breach` (default, fails closed), `Pass` or
    /// `Ignore` (the window is recorded but neither breaks nor extends a streak).
    #[serde(default)]
    pub no_data: NoDataPolicy,
    /// Where the window's error rate and latency come from.
    pub metrics: MetricSource,
    /// A cron schedule (5 fields, UTC) on which the drill runs again, e.g. `0 3 * * 1`.
    /// Without it the drill runs once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// Who owns the drill and the Decision it records.
    #[x_kube(validation = Rule::new("self.trim().size() > 0").message("spec.owner must name who owns the drill"))]
    #[schemars(length(min = 1, max = 256))]
    pub owner: String,
    /// The residual risk accepted when the drill runs, recorded in its Decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub residual_risk: Option<String>,
    /// A CloudEvents sink that receives start, breach, rollback and restore events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_sink: Option<EventSink>,
}

fn default_window() -> String {
    "1m".into()
}
fn default_breach_windows() -> u32 {
    2
}
fn default_success_windows() -> u32 {
    3
}

/// The workload a drill changes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetRef {
    /// The kind of the target; only `Deployment` is supported.
    #[serde(default = "default_target_kind")]
    #[x_kube(validation = Rule::new("self == 'Deployment'").message("spec.target.kind must be Deployment"))]
    pub kind: String,
    /// The target's name, in the drill's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

fn default_target_kind() -> String {
    "Deployment".into()
}

/// The canary revision.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct CanaryRevision {
    /// The container to change; defaults to the first container of the pod template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The canary image.
    #[x_kube(validation = Rule::new("self.trim().size() > 0").message("spec.canary.image must name the canary image"))]
    #[schemars(length(min = 1, max = 1024))]
    pub image: String,
}

/// The per-window budget.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Budget {
    /// The highest error rate a window may have, as a fraction between 0 and 1 (e.g. 0.01).
    #[schemars(range(min = 0.0, max = 1.0))]
    pub max_error_rate: f64,
    /// The highest latency (at `latencyQuantile`) a window may have, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600000))]
    pub max_latency_ms: Option<u32>,
    /// The latency quantile judged, between 0 and 1 (default 0.95).
    #[serde(default = "default_quantile")]
    #[schemars(range(min = 0.5, max = 1.0))]
    pub latency_quantile: f64,
}

fn default_quantile() -> f64 {
    0.95
}

/// What a window without data counts as.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema, Default)]
pub enum NoDataPolicy {
    /// No data is a breach (fails closed).
    #[default]
    Breach,
    /// No data passes.
    Pass,
    /// No data is recorded but does not count either way.
    Ignore,
}

/// Where window metrics come from: exactly one source.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricSource {
    /// PromQL queries against a Prometheus server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusSource>,
    /// A synthetic outcome for fire-drills that prove the pass or the fail path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synthetic: Option<SyntheticSource>,
}

/// Prometheus queries; `$window` in a query is replaced by the window length.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusSource {
    /// Base URL of the Prometheus HTTP API, e.g. `http://prometheus.monitoring:9090`.
    #[x_kube(validation = Rule::new("self.startsWith('http://') || self.startsWith('https://')").message("spec.metrics.prometheus.address must be an http(s) URL"))]
    pub address: String,
    /// PromQL returning the canary's error rate (0..1) over the window.
    #[schemars(length(min = 1))]
    pub error_rate_query: String,
    /// PromQL returning the canary's latency in milliseconds at the judged quantile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_query: Option<String>,
}

/// A synthetic metric source for drills.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyntheticSource {
    /// `Fail` makes every window breach (proves rollback); `Pass` makes every window pass
    /// (proves promotion).
    pub outcome: SyntheticOutcome,
}

/// The outcome a synthetic source produces.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum SyntheticOutcome {
    /// Every window passes.
    Pass,
    /// Every window breaches.
    Fail,
}

/// A CloudEvents HTTP sink.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventSink {
    /// The sink URL (binary-mode CloudEvents over HTTP POST).
    #[x_kube(validation = Rule::new("self.startsWith('http://') || self.startsWith('https://')").message("spec.eventSink.url must be an http(s) URL"))]
    pub url: String,
}

/// The phases of a drill's state machine.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema, Default)]
pub enum DrillPhase {
    /// Accepted, nothing changed yet.
    #[default]
    Pending,
    /// The stable revision is recorded and the canary is rolling out.
    Progressing,
    /// Windows are being judged.
    Analyzing,
    /// The canary passed its windows and was promoted.
    Promoted,
    /// The budget was breached; rolling back to the stable revision.
    RollingBack,
    /// The target runs the stable revision again.
    RolledBack,
    /// The stable revision is Ready again; MTTR is recorded.
    Restored,
}

/// One judged window.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct WindowResult {
    /// Position of the window, from 1.
    pub index: u32,
    /// When the window started.
    pub start: Time,
    /// When the window ended.
    pub end: Time,
    /// The observed error rate, when there was data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    /// The observed latency in milliseconds, when there was data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// `Pass`, `Breach` or `NoData`.
    pub verdict: String,
}

/// The revision recorded before the drill changed anything.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct StableRevision {
    /// The Deployment's revision annotation at the time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The container that the canary changes.
    pub container: String,
    /// That container's image at the time.
    pub image: String,
}

/// The observed state of a `CanaryDrill`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct CanaryDrillStatus {
    /// The state machine's phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<DrillPhase>,
    /// Every judged window, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<WindowResult>,
    /// The verdict of the most recent window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_window: Option<String>,
    /// The stable revision recorded before anything changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_revision: Option<StableRevision>,
    /// When the drill started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_time: Option<Time>,
    /// When the breach that triggered the rollback was detected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breach_time: Option<Time>,
    /// When the rollback was applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_time: Option<Time>,
    /// When the stable revision was Ready again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_time: Option<Time>,
    /// Time from breach detection to restore, e.g. `42s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mttr: Option<String>,
    /// The Decision recorded for the rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_ref: Option<String>,
    /// Standard conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
