//! `CanaryDrill`: a canary with an error and latency budget judged per window, that rolls back
//! by itself after consecutive breaches; scheduled, it is a fire-drill proving the rollback path.

use super::ResidualRisk;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, MicroTime};
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
    /// The Deployment the canary changes. One drill runs per Deployment at a time; a second
    /// one waits (phase Pending, condition `Queued`) until the first has finished.
    pub target: TargetRef,
    /// The revision rolled out as the canary, and how many replicas it gets.
    pub canary: CanaryRevision,
    /// The error and latency budget each window is judged against.
    pub budget: Budget,
    /// Length of one analysis window, as a duration such as `30s`, `1m` or `5m`.
    #[serde(default = "default_window")]
    #[x_kube(validation = Rule::new("self.matches('^[0-9]+(s|m|h)$') && !self.matches('^0+(s|m|h)$')").message("spec.window must be a positive duration such as 30s, 1m or 5m"))]
    pub window: String,
    /// Consecutive breached windows that trigger the rollback (default 2). A passing window in
    /// between resets the count, so a flapping canary (breach, pass, breach) is not rolled back.
    #[serde(default = "default_breach_windows")]
    #[schemars(range(min = 1, max = 100))]
    pub breach_windows: u32,
    /// Consecutive passing windows needed to promote the canary: the analysis length (default 3).
    #[serde(default = "default_success_windows")]
    #[schemars(range(min = 1, max = 1000))]
    pub success_windows: u32,
    /// Passing windows of the stable revision, after a rollback, that prove the recovery and
    /// mark the drill `Restored` (default 1).
    #[serde(default = "default_recovery_windows")]
    #[schemars(range(min = 1, max = 100))]
    pub recovery_windows: u32,
    /// What a window without data (no samples, or fewer than `budget.minRequests` requests)
    /// counts as: `Pause` (default: recorded, neither breaks nor extends a streak), `Breach`
    /// (fails closed) or `Pass` (recorded as a NoData window that counted as a pass, never a
    /// silent pass).
    #[serde(default)]
    pub no_data_policy: NoDataPolicy,
    /// How many consecutive windows without data (counted as `Pause`) the drill waits before it
    /// stops: while analysing, the drill fails and removes its canary (the target keeps its
    /// stable revision); after a rollback, the recovery is reported as not proven (default 10).
    /// Pausing never runs a canary on no evidence for ever.
    #[serde(default = "default_max_no_data_windows")]
    #[schemars(range(min = 1, max = 1000))]
    pub max_no_data_windows: u32,
    /// Where the window's error rate, latency and request count come from.
    pub metrics: MetricSource,
    /// A cron schedule (5 fields, or 6 with leading seconds; UTC) on which the drill runs again,
    /// e.g. `0 3 * * 1`. The first run starts at the next occurrence. Without it the drill runs
    /// once, now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.trim().split(' ').size() >= 5").message("spec.schedule must be a cron expression with 5 (or 6, with seconds) fields"))]
    pub schedule: Option<String>,
    /// Who owns the drill and the Decision it records.
    #[x_kube(validation = Rule::new("self.trim().size() > 0").message("spec.owner must name who owns the drill"))]
    #[schemars(length(min = 1, max = 256))]
    pub owner: String,
    /// The residual risk accepted by running the drill, recorded in its rollback Decision
    /// (default Medium).
    #[serde(default = "default_residual_risk")]
    pub residual_risk: ResidualRisk,
    /// A CloudEvents sink that receives the start, breach, rollback, restore and promote events.
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
fn default_recovery_windows() -> u32 {
    1
}
fn default_max_no_data_windows() -> u32 {
    10
}
fn default_residual_risk() -> ResidualRisk {
    ResidualRisk::Medium
}
fn default_canary_replicas() -> i32 {
    1
}
fn default_quantile() -> f64 {
    0.99
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
    #[schemars(length(min = 1, max = 240))]
    pub name: String,
}

fn default_target_kind() -> String {
    "Deployment".into()
}

/// The canary revision: the target's pod template with a new image and/or a patch, run as a
/// second Deployment `<target>-canary` next to the stable one (a replica-count split, no mesh).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.image) || has(self.templatePatch)").message("spec.canary must set image or templatePatch"))]
pub struct CanaryRevision {
    /// The container whose image changes; defaults to the first container of the pod template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The canary image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.trim().size() > 0").message("spec.canary.image must name the canary image"))]
    #[schemars(length(min = 1, max = 1024))]
    pub image: Option<String>,
    /// A JSON merge patch (RFC 7386) applied to the target's pod template to make the canary's,
    /// e.g. `{"spec": {"containers": [...]}}` or new environment variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_object")]
    pub template_patch: Option<serde_json::Value>,
    /// Replicas of the canary Deployment; the stable one is scaled down by as many while the
    /// canary runs, so the total stays the same (default 1).
    #[serde(default = "default_canary_replicas")]
    #[schemars(range(min = 1, max = 1000))]
    pub replicas: i32,
}

fn any_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
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
    /// The latency quantile judged, between 0.5 and 1 (default 0.99: p99).
    #[serde(default = "default_quantile")]
    #[schemars(range(min = 0.5, max = 1.0))]
    pub latency_quantile: f64,
    /// The fewest requests a window needs to be judged; a window with fewer has no data
    /// (default 0: any sample is judged).
    #[serde(default)]
    #[schemars(range(min = 0, max = 1000000000))]
    pub min_requests: u64,
}

/// What a window without data counts as.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema, Default)]
pub enum NoDataPolicy {
    /// The window is recorded as NoData and the analysis waits: no streak moves.
    #[default]
    Pause,
    /// No data is a breach (fails closed).
    Breach,
    /// No data counts as a pass, recorded as such (verdict NoData, counted as Pass).
    Pass,
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

/// Prometheus queries, instant queries evaluated at each window's end. In each query
/// `$window` is replaced by the window length (e.g. `30s`), `$namespace` by the drill's
/// namespace, `$deployment` by the judged Deployment (`<target>-canary` during the analysis,
/// the target after a rollback), `$track` by `canary` or `stable` and `$podTemplateHash` by the
/// judged revision's `pod-template-hash`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusSource {
    /// Base URL of the Prometheus HTTP API, e.g. `http://prometheus.monitoring:9090`.
    #[x_kube(validation = Rule::new("self.startsWith('http://') || self.startsWith('https://')").message("spec.metrics.prometheus.address must be an http(s) URL"))]
    pub address: String,
    /// PromQL returning the error rate (0..1) over the window.
    #[schemars(length(min = 1))]
    pub error_rate_query: String,
    /// PromQL returning the latency in milliseconds at the judged quantile over the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_query: Option<String>,
    /// PromQL returning the number of requests in the window (checked against
    /// `budget.minRequests`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_query: Option<String>,
}

/// A synthetic metric source for drills: no workload traffic is needed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.outcome) != has(self.profile)").message("spec.metrics.synthetic must set exactly one of outcome or profile"))]
pub struct SyntheticSource {
    /// `Fail` makes every canary window breach (proves the rollback); `Pass` makes every
    /// window pass (proves the promotion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<SyntheticOutcome>,
    /// The canary's windows in order, e.g. `[Breach, Pass, Breach]`; the last one repeats.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1000))]
    pub profile: Vec<SyntheticWindow>,
    /// The stable revision's windows after a rollback (default `Pass`: it recovers).
    #[serde(default = "default_stable")]
    pub stable: SyntheticWindow,
}

fn default_stable() -> SyntheticWindow {
    SyntheticWindow::Pass
}

/// The outcome a synthetic source produces.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum SyntheticOutcome {
    /// Every window passes.
    Pass,
    /// Every window breaches.
    Fail,
}

/// One synthetic window.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum SyntheticWindow {
    /// Measurements well within the budget.
    Pass,
    /// Measurements over the budget.
    Breach,
    /// No samples at all.
    NoData,
}

/// A CloudEvents HTTP sink.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventSink {
    /// The sink URL (binary-mode CloudEvents over HTTP POST).
    #[x_kube(validation = Rule::new("self.startsWith('http://') || self.startsWith('https://')").message("spec.eventSink.url must be an http(s) URL"))]
    pub url: String,
    /// A Secret key (same namespace) holding the HMAC-SHA256 key; each POST then carries
    /// `X-Releasegate-Signature: sha256=<hex>` over `<ce-id>.<ce-type>.<body>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hmac_secret_ref: Option<SecretKeyRef>,
}

/// A key of a Secret in the drill's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// The Secret's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The key in the Secret's data.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// The phases of a drill's state machine.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema, Default)]
pub enum DrillPhase {
    /// Accepted, nothing changed yet (also: queued behind another drill, or waiting for the
    /// scheduled time).
    #[default]
    Pending,
    /// The stable revision is recorded and the canary is rolling out.
    Progressing,
    /// Windows of the canary are being judged.
    Analyzing,
    /// The canary passed its windows and was promoted.
    Promoted,
    /// The budget was breached; rolling back to the stable revision.
    RollingBack,
    /// The target runs the stable revision again and it is fully available; its recovery is
    /// being judged.
    RolledBack,
    /// The stable revision passed the budget after the rollback; MTTR is recorded.
    Restored,
    /// The drill stopped without finishing; `status.reason` says why.
    Failed,
}

impl DrillPhase {
    /// Whether the run is over (a scheduled drill starts a new run from here).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            DrillPhase::Promoted | DrillPhase::Restored | DrillPhase::Failed
        )
    }
}

/// Which revision a window judged.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Track {
    /// The canary, during the analysis.
    Canary,
    /// The stable revision, after a rollback.
    Stable,
}

/// What the measurements of a window said.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum WindowVerdict {
    /// Within the budget.
    Pass,
    /// Over the budget.
    Breach,
    /// Too little data to judge.
    NoData,
}

/// What a window counted as for the streaks, after the no-data policy.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum CountedAs {
    /// Extends the passing streak, ends the breach streak.
    Pass,
    /// Extends the breach streak, ends the passing streak.
    Breach,
    /// Moves no streak.
    Pause,
}

/// One judged window.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct WindowResult {
    /// Position of the window in the run, from 1.
    pub index: u32,
    /// The revision judged.
    pub track: Track,
    /// When the window started.
    pub start: MicroTime,
    /// When the window ended.
    pub end: MicroTime,
    /// The observed error rate, when there was data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    /// The observed latency in milliseconds, when there was data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// The observed number of requests, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<f64>,
    /// `Pass`, `Breach` or `NoData`.
    pub verdict: WindowVerdict,
    /// What the window counted as after the no-data policy.
    pub counted_as: CountedAs,
    /// Why, in words (which limit was exceeded, or why there was no data).
    pub reason: String,
    /// The queries (after substitution) or the synthetic profile that produced the values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

/// The revision recorded before the drill changed anything.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct StableRevision {
    /// The Deployment's `deployment.kubernetes.io/revision` annotation at the time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// sha256 of the pod template as recorded, to notice edits of the target.
    pub template_hash: String,
    /// The pod template as recorded (JSON), restored verbatim by a rollback.
    pub template: String,
    /// The container that the canary changes.
    pub container: String,
    /// That container's image at the time.
    pub image: String,
    /// The Deployment's replicas at the time.
    pub replicas: i32,
}

/// The outcome of one finished run of a drill.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    /// The run number, from 1.
    pub run: u32,
    /// The terminal phase: Promoted, Restored or Failed.
    pub outcome: DrillPhase,
    /// When the run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_time: Option<MicroTime>,
    /// When the run finished.
    pub finished_time: MicroTime,
    /// Breach detected to proven restore, when the run restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mttr_seconds: Option<f64>,
    /// Why a failed run failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The effect a drill still has to carry out, recorded in status before it is carried out so
/// that a restarted controller finishes it (every effect is idempotent).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum DrillAction {
    /// Create or update `<target>-canary` with the canary template; scale the target down.
    EnsureCanary,
    /// Scale the canary Deployment to 0 and give the target its recorded replicas.
    RemoveCanary,
    /// Give the target its recorded template and replicas back; canary to 0.
    RestoreStable,
    /// Give the target the canary's template and its recorded replicas; canary to 0.
    Promote,
    /// Create the rollback Decision (one per run, by name).
    WriteDecision,
    /// Release the drill's claim on the target Deployment.
    Release,
    /// Publish the Kubernetes Event and the CloudEvent named by `notice`.
    Notify,
}

/// What a Notify action announces.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum Notice {
    /// The drill started (Event DrillStarted, CloudEvent `…drill.start`).
    DrillStarted,
    /// A window breached the budget (Event BudgetBreached, CloudEvent `…drill.breach`).
    BudgetBreached,
    /// The rollback started (Event RollbackStarted, CloudEvent `…drill.rollback`).
    RollbackStarted,
    /// The stable revision is fully available again (Event RolledBack, no CloudEvent).
    RolledBack,
    /// The stable revision passed its recovery windows (Event Restored, `…drill.restore`).
    Restored,
    /// The stable revision breached after the rollback (Event RecoveryFailed, Warning).
    RecoveryFailed,
    /// The canary was promoted (Event Promoted, CloudEvent `…drill.promote`).
    Promoted,
    /// The drill stopped without finishing (Event DrillFailed, Warning).
    DrillFailed,
}

/// One pending effect.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingAction {
    /// The effect.
    pub action: DrillAction,
    /// For Notify: what is announced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<Notice>,
    /// For Notify: the human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// A key unique within the drill (run, notice, window), used as the CloudEvent id so that
    /// a sink can drop a duplicate delivered after a restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// A CloudEvent queued for the sink and not yet delivered (or given up on after the last
/// retry). Kept in status so that a restarted controller sends it again: delivery is at least
/// once, and the sink drops duplicates by the id.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutboxEntry {
    /// The CloudEvent id, also its `Idempotency-Key`.
    pub id: String,
    /// The CloudEvent type, e.g. `dev.releasegate.drill.rollback`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the event happened.
    pub time: MicroTime,
    /// The event's JSON data.
    pub data: String,
}

/// The observed state of a `CanaryDrill`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct CanaryDrillStatus {
    /// The state machine's phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<DrillPhase>,
    /// Why the drill is in its phase, when it is not obvious (a Failed drill always says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The current run, from 1 (a scheduled drill runs many times).
    #[serde(default)]
    pub run: u32,
    /// The judged windows of the current run, oldest first (the last 100).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<WindowResult>,
    /// The verdict of the most recent window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_window: Option<String>,
    /// The start of the window being measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_start: Option<MicroTime>,
    /// Consecutive windows counted as breaches.
    #[serde(default)]
    pub consecutive_breaches: u32,
    /// Consecutive windows counted as passes.
    #[serde(default)]
    pub consecutive_passes: u32,
    /// Consecutive windows without data that paused the analysis.
    #[serde(default)]
    pub consecutive_no_data: u32,
    /// The stable revision recorded before anything changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_revision: Option<StableRevision>,
    /// sha256 of the canary's pod template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_template_hash: Option<String>,
    /// Effects decided but not yet confirmed done; a restarted controller carries them out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_actions: Vec<PendingAction>,
    /// CloudEvents not yet confirmed delivered, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outbox: Vec<OutboxEntry>,
    /// When the run started (the stable revision was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_time: Option<MicroTime>,
    /// When the breach that triggered the rollback was detected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breach_time: Option<MicroTime>,
    /// When the rollback was decided and started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_time: Option<MicroTime>,
    /// When the stable revision was fully available again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back_time: Option<MicroTime>,
    /// When the stable revision had passed its recovery windows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_time: Option<MicroTime>,
    /// When the run finished (Promoted, Restored or Failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_time: Option<MicroTime>,
    /// Time from breach detection to proven restore, e.g. `12.4s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mttr: Option<String>,
    /// When a scheduled drill runs next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_run_time: Option<MicroTime>,
    /// Outcomes of the finished runs, newest last (the last 20).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<RunRecord>,
    /// The Decision recorded for the rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_ref: Option<String>,
    /// Standard conditions: `Ready` (the run finished well), `Queued`, `Paused` (no data),
    /// `Recovered`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
