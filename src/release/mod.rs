//! The HardenedRelease reconciler: validate the spec, establish the facts of the bound digest
//! (signature and attestations verified with the keys of the TrustPolicies covering the image),
//! let the pinned policy bundle judge them with the namespace's Decisions, and write the verdict
//! (status by server-side apply, the Disclosure Pack ConfigMap, an Event when it changes).
//!
//! - [`trust`]: TrustPolicy coverage and loading;
//! - [`facts`]: evidence → the typed policy input (pure);
//! - [`status`]: outcome → status and conditions (pure);
//! - [`pack`]: the Disclosure Pack (pure);
//! - [`revoked`]: the workloads still running a release that turned Blocked;
//! - [`apply`]: the writes.
//!
//! A release is re-verified on its `reverifyInterval`, at the expiry of an override it runs
//! under, and when a TrustPolicy, a Secret or ConfigMap a covering TrustPolicy references (a
//! rotated key, a new trusted root), a Decision of its namespace or the policy bundle changes. A
//! status write does not re-verify: the reconciler remembers the inputs it last judged.

mod apply;
pub mod facts;
pub mod pack;
pub mod revoked;
pub mod status;
pub mod trust;

#[cfg(test)]
mod judge_tests;

use crate::api::{Decision, DecisionType, HardenedRelease, TrustPolicy};
use crate::evidence::verify::{self, Requirements};
use crate::evidence::{Digest, ImageRef, RegistryClient, fetch};
use crate::policy::input::ReleaseInput;
use crate::policy::{PolicyHolder, PolicyInput, RELEASE_QUERY};
use crate::reconcile::Context;
use crate::shutdown::Shutdown;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};
use status::{Outcome, PolicyId};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KIND: &str = "HardenedRelease";
/// `spec.reverifyInterval` when the spec names none.
const DEFAULT_REVERIFY: Duration = Duration::from_secs(3600);
/// Releases judged at once. Each is a few registry round trips, three API writes and a little
/// CPU (signatures, the policy): mostly waiting, so an optimised build keeps more in flight
/// (1,000 releases over 100 digests: 46 s at 16 on two loaded cores). Unbounded, they time out
/// together (a burst with no bound hit registry timeouts and backoffs on two cores).
const CONCURRENCY: u16 = 32;
/// How often the policy bundle's digest is compared for a change that re-judges every release.
const POLICY_POLL: Duration = Duration::from_secs(5);
/// Retry delays after a registry or API fault: from 5 s, doubling, at most 5 min (a registry
/// outage should not turn into a flood of retries, nor leave a release stale for long).
const BACKOFF_FIRST: Duration = Duration::from_secs(5);
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// What the release controller needs beyond the shared [`Context`].
pub struct Settings {
    /// The pinned policy bundle; without one every release is Blocked.
    pub policy: Option<Arc<PolicyHolder>>,
    pub registry: RegistryClient,
    /// Where TrustPolicy Secrets and ConfigMaps live.
    pub operator_namespace: String,
    /// The Disclosure Pack template (markdown, minijinja).
    pub template: String,
}

/// Reconcile failures of the release controller.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Write(#[from] crate::reconcile::Error),
    #[error("cannot write the Disclosure Pack ConfigMap {namespace}/{name}: {source}")]
    WritePack {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error(transparent)]
    Pack(#[from] pack::PackError),
    #[error("HardenedRelease {0} has no namespace")]
    MissingNamespace(String),
}

impl Error {
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Write(e) => e.metric_label(),
            Self::WritePack { .. } => "write_pack",
            Self::Pack(_) => "render_pack",
            Self::MissingNamespace(_) => "missing_namespace",
        }
    }
}

/// The inputs last judged for a release, and when it is due again.
struct Memo {
    fingerprint: u64,
    due: Instant,
}

/// The resource versions of the Secrets (`true`) and ConfigMaps of the operator's namespace, by
/// name, as their watches last saw them: part of a verdict's inputs when a TrustPolicy names
/// them.
type RefVersions = Arc<Mutex<HashMap<(bool, String), String>>>;

struct Ctx {
    base: Arc<Context>,
    settings: Settings,
    policies: kube::runtime::reflector::Store<TrustPolicy>,
    decisions: kube::runtime::reflector::Store<Decision>,
    ref_versions: RefVersions,
    /// Where Pods running a revoked release are looked for (None: every namespace).
    watch_namespace: Option<String>,
    memo: Mutex<HashMap<(String, String), Memo>>,
    failures: Mutex<HashMap<(String, String), u32>>,
}

/// Runs the reconciler until `shutdown` resolves.
pub async fn run(
    base: Arc<Context>,
    settings: Settings,
    namespace: Option<String>,
    shutdown: Shutdown,
) {
    let client = base.client.clone();
    let (releases, decisions): (Api<HardenedRelease>, Api<Decision>) = match &namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
        ),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    let policy_changes = policy_changes(settings.policy.clone(), shutdown.clone());
    let operator_namespace = settings.operator_namespace.clone();
    let ref_versions = RefVersions::default();
    // TrustPolicies and Decisions are read from caches, not listed per reconcile (a burst of
    // 1,000 releases listed both 4,000 times). A change re-judges every release once the cache
    // holds it; the fingerprint makes that cheap for the releases it does not concern.
    let (policies, policies_changed, policies_task) =
        cache(Api::<TrustPolicy>::all(client.clone()), shutdown.clone());
    let (decision_cache, decisions_changed, decisions_task) = cache(decisions, shutdown.clone());
    tokio::select! {
        _ = shutdown.clone() => return,
        _ = futures::future::join(policies.wait_until_ready(), decision_cache.wait_until_ready()) => {}
    }
    let ctx = Arc::new(Ctx {
        base,
        settings,
        policies: policies.clone(),
        decisions: decision_cache,
        ref_versions: ref_versions.clone(),
        watch_namespace: namespace.clone(),
        memo: Mutex::default(),
        failures: Mutex::default(),
    });
    // The cache the reconciler reads keeps releases without their managedFields (about half of
    // a cached release's bytes, which no reconcile reads).
    let (store, writer) = kube::runtime::reflector::store::<HardenedRelease>();
    let release_events = kube::runtime::reflector(
        writer,
        watcher(releases, watcher::Config::default().any_semantic()).modify(slim),
    )
    .applied_objects();
    let on_secret = referenced_by(true, store.clone(), policies.clone(), ref_versions.clone());
    let on_config_map = referenced_by(false, store.clone(), policies, ref_versions);
    // Only the metadata of the operator namespace's Secrets and ConfigMaps is watched: a change
    // is known by its resource version, and the key material is read when a release is judged
    // (so no Secret's data, nor a Disclosure Pack's, sits in this process for the watch).
    Controller::for_stream(release_events, store)
        .with_config(kube::runtime::controller::Config::default().concurrency(CONCURRENCY))
        .watches(
            Api::<PartialObjectMeta<Secret>>::namespaced(client.clone(), &operator_namespace),
            watcher::Config::default(),
            move |s: PartialObjectMeta<Secret>| on_secret(&s.metadata),
        )
        .watches(
            Api::<PartialObjectMeta<ConfigMap>>::namespaced(client.clone(), &operator_namespace),
            watcher::Config::default(),
            move |c: PartialObjectMeta<ConfigMap>| on_config_map(&c.metadata),
        )
        .reconcile_all_on(policies_changed)
        .reconcile_all_on(decisions_changed)
        .reconcile_all_on(policy_changes)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %e, "HardenedRelease reconcile loop");
            }
        })
        .await;
    policies_task.abort();
    decisions_task.abort();
    tracing::info!("HardenedRelease controller stopped");
}

/// Drops from a cached object what no reconcile reads: its managedFields and kubectl's
/// last-applied copy of it.
fn slim<K: kube::Resource>(obj: &mut K) {
    let meta = obj.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove(LAST_APPLIED);
    }
}

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// A cache of `api`'s objects (slimmed), a stream that yields after each change it has applied (so a
/// reconcile it triggers reads the change), and the task that keeps it.
fn cache<K>(
    api: Api<K>,
    shutdown: Shutdown,
) -> (
    kube::runtime::reflector::Store<K>,
    impl futures::Stream<Item = ()> + Send + 'static,
    tokio::task::JoinHandle<()>,
)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = kube::runtime::reflector::store::<K>();
    let (tx, rx) = futures::channel::mpsc::unbounded::<()>();
    let task = tokio::spawn(
        kube::runtime::reflector(
            writer,
            watcher(api, watcher::Config::default()).modify(slim),
        )
        .default_backoff()
        .touched_objects()
        .take_until(shutdown)
        .for_each(move |_| {
            let _ = tx.unbounded_send(());
            futures::future::ready(())
        }),
    );
    (store, rx, task)
}

/// Maps a change to a Secret (`secret`) or ConfigMap of the operator's namespace to the
/// releases covered by the TrustPolicies that reference it, and records its resource version
/// (a verdict's input: a rotated key must be judged again, not remembered).
fn referenced_by(
    secret: bool,
    releases: kube::runtime::reflector::Store<HardenedRelease>,
    policies: kube::runtime::reflector::Store<TrustPolicy>,
    versions: RefVersions,
) -> impl Fn(
    &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> Vec<ObjectRef<HardenedRelease>>
+ Send
+ Sync
+ 'static {
    move |meta| {
        let name = meta.name.clone().unwrap_or_default();
        let referencing: Vec<Arc<TrustPolicy>> = policies
            .state()
            .into_iter()
            .filter(|tp| {
                trust::references(tp)
                    .iter()
                    .any(|r| r.secret == secret && r.name == name)
            })
            .collect();
        if referencing.is_empty() {
            return Vec::new();
        }
        let version = meta.resource_version.clone().unwrap_or_default();
        versions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((secret, name), version);
        releases
            .state()
            .iter()
            .filter(|r| {
                ImageRef::parse(&r.spec.image).is_ok_and(|i| {
                    let image = format!("{}/{}", i.registry, i.repository);
                    referencing.iter().any(|tp| {
                        tp.spec
                            .images
                            .iter()
                            .any(|g| trust::glob_matches(g, &image))
                    })
                })
            })
            .map(|r| ObjectRef::from_obj(r.as_ref()))
            .collect()
    }
}

/// Yields whenever the bundle served changes (a new pinned bundle, or the first one loaded).
fn policy_changes(
    policy: Option<Arc<PolicyHolder>>,
    shutdown: Shutdown,
) -> impl futures::Stream<Item = ()> + Send + 'static {
    let ticks = tokio_stream_interval(POLICY_POLL);
    let mut last = policy.as_ref().and_then(|p| p.status().serving);
    ticks.take_until(shutdown).filter_map(move |_| {
        let now = policy.as_ref().and_then(|p| p.status().serving);
        let changed = now != last;
        last = now;
        futures::future::ready(changed.then_some(()))
    })
}

fn tokio_stream_interval(period: Duration) -> impl futures::Stream<Item = ()> + Send + 'static {
    futures::stream::unfold(tokio::time::interval(period), |mut i| async move {
        i.tick().await;
        Some(((), i))
    })
}

fn error_policy(hr: Arc<HardenedRelease>, error: &Error, ctx: Arc<Ctx>) -> Action {
    tracing::warn!(name = %hr.name_any(), namespace = ?hr.namespace(), %error, "HardenedRelease reconcile failed");
    ctx.base
        .metrics
        .reconcile_failed(KIND, error.metric_label());
    Action::requeue(ctx.backoff(&key(&hr)))
}

fn key(hr: &HardenedRelease) -> (String, String) {
    (hr.namespace().unwrap_or_default(), hr.name_any())
}

impl Ctx {
    /// The next retry delay for `key`, doubling with each consecutive failure.
    fn backoff(&self, key: &(String, String)) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = failures.entry(key.clone()).or_insert(0);
        *n = n.saturating_add(1);
        BACKOFF_FIRST
            .saturating_mul(2u32.saturating_pow(n.saturating_sub(1).min(16)))
            .min(BACKOFF_MAX)
    }

    fn succeeded(&self, key: &(String, String)) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

/// A hash of everything a verdict depends on besides the registry and the clock.
fn fingerprint(
    hr: &HardenedRelease,
    policies: &[TrustPolicy],
    decisions: &[Decision],
    policy: Option<&str>,
) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    hr.metadata.generation.hash(&mut h);
    hr.metadata.labels.hash(&mut h);
    hr.metadata.annotations.hash(&mut h);
    policy.hash(&mut h);
    for o in policies
        .iter()
        .map(|p| (p.name_any(), p.resource_version()))
    {
        o.hash(&mut h);
    }
    for o in decisions
        .iter()
        .map(|d| (d.name_any(), d.resource_version()))
    {
        o.hash(&mut h);
    }
    h.finish()
}

async fn reconcile(hr: Arc<HardenedRelease>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let _timer = ctx.base.metrics.reconcile_started(KIND);
    let namespace = hr
        .namespace()
        .ok_or_else(|| Error::MissingNamespace(hr.name_any()))?;
    let key = key(&hr);
    let mut policies: Vec<TrustPolicy> =
        ctx.policies.state().iter().map(|p| (**p).clone()).collect();
    policies.sort_by_key(|p| p.name_any());
    let mut decisions: Vec<Decision> = ctx
        .decisions
        .state()
        .iter()
        .filter(|d| d.namespace().as_deref() == Some(namespace.as_str()))
        .map(|d| (**d).clone())
        .collect();
    decisions.sort_by_key(|d| d.name_any());
    let engine = ctx.settings.policy.as_ref().and_then(|h| h.current().ok());
    let ref_versions: Vec<Option<String>> = {
        let versions = ctx.ref_versions.lock().unwrap_or_else(|e| e.into_inner());
        policies
            .iter()
            .flat_map(trust::references)
            .map(|r| versions.get(&(r.secret, r.name)).cloned())
            .collect()
    };
    let fp = fingerprint(
        &hr,
        &policies,
        &decisions,
        engine.as_ref().map(|e| e.digest()),
    );
    let fp = {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (fp, ref_versions).hash(&mut h);
        h.finish()
    };
    let now = Instant::now();
    if let Some(m) = ctx.memo.lock().unwrap_or_else(|e| e.into_inner()).get(&key)
        && m.fingerprint == fp
        && now < m.due
    {
        return Ok(Action::requeue(m.due - now));
    }

    let started = Instant::now();
    let prev = hr.status.clone().unwrap_or_default();
    let judged = judge(&hr, &ctx, &policies, &decisions, engine.as_deref()).await;
    let next = match judged {
        Judgment::Fault(message) => {
            let next = status::stale(&hr, &prev, &message);
            apply::write(&ctx, &hr, &prev, next, None).await?;
            ctx.base.metrics.verification("stale", started.elapsed());
            let delay = ctx.backoff(&key);
            tracing::warn!(name = %hr.name_any(), %namespace, %message, ?delay, "registry fault; the last verdict stands");
            return Ok(Action::requeue(delay));
        }
        Judgment::Done {
            outcome,
            moved_to,
            interval,
            pack,
        } => {
            let mut next = status::status_for(&hr, &outcome, &prev, crate::api::now());
            status::tag_moved(
                &mut next,
                hr.metadata.generation,
                moved_to.as_deref(),
                &prev.conditions,
            );
            let until = match &outcome {
                Outcome::Invalid { .. } => None,
                Outcome::Judged { verdict, .. } => Some(earliest(
                    interval,
                    override_expiry(&decisions, &verdict.overrides),
                )),
                Outcome::Blocked { .. } => Some(interval),
            };
            let result = match &outcome {
                Outcome::Invalid { .. } => "invalid",
                _ if status::is_ready(&next) => "verified",
                _ => "blocked",
            };
            if let Outcome::Judged { .. } = &outcome {
                for (kind, t) in [
                    ("sbom", status::SBOM),
                    ("provenance", status::PROVENANCE),
                    ("vulnerabilities", status::VULNERABILITIES),
                ] {
                    let ok = status::find(&next, t).is_some_and(|c| {
                        c.status == "True"
                            || c.reason == "CriticalVulnerabilities"
                            || c.reason == "OverBudget"
                    });
                    ctx.base.metrics.attestation(kind, ok);
                }
            }
            let criticals = next
                .evidence
                .as_ref()
                .and_then(|e| e.vulnerabilities.as_ref())
                .map_or(0, |v| v.critical);
            apply::write(&ctx, &hr, &prev, next, pack.map(|p| *p)).await?;
            ctx.base.metrics.verification(result, started.elapsed());
            ctx.base
                .metrics
                .release_criticals(&namespace, &hr.name_any(), criticals);
            (until, fp)
        }
    };
    ctx.succeeded(&key);
    let (until, fp) = next;
    let Some(until) = until else {
        // An invalid spec waits for a change to it.
        ctx.memo.lock().unwrap_or_else(|e| e.into_inner()).insert(
            key,
            Memo {
                fingerprint: fp,
                due: now + Duration::from_secs(86_400 * 365),
            },
        );
        return Ok(Action::await_change());
    };
    ctx.memo.lock().unwrap_or_else(|e| e.into_inner()).insert(
        key,
        Memo {
            fingerprint: fp,
            due: now + until,
        },
    );
    Ok(Action::requeue(until))
}

fn earliest(a: Duration, b: Option<Duration>) -> Duration {
    b.map_or(a, |b| a.min(b))
}

/// How long until the first of the named override Decisions expires (a second after it, so the
/// policy sees it expired).
fn override_expiry(decisions: &[Decision], overrides: &[String]) -> Option<Duration> {
    let now = k8s_openapi::jiff::Timestamp::now();
    decisions
        .iter()
        .filter(|d| d.spec.kind == DecisionType::Override && overrides.contains(&d.name_any()))
        .filter_map(|d| d.spec.expires.as_ref())
        .map(|t| {
            let secs = t.0.as_second().saturating_sub(now.as_second()).max(0);
            Duration::from_secs(u64::try_from(secs).unwrap_or(0) + 1)
        })
        .min()
}

/// Evaluates the release entry point off the async runtime. Unlike admission, nobody waits on
/// the answer, so a busy machine is not a verdict: an evaluation that hits the engine's time
/// limit (or a task that dies) is a fault to retry, keeping the last verdict; any other failure
/// (an error, an undefined or misshapen decision, no bundle) is a denial, as the policy fails
/// closed. Reconcile concurrency ([`CONCURRENCY`]) bounds the evaluations in flight.
async fn evaluate(
    holder: &Arc<PolicyHolder>,
    input: PolicyInput,
) -> Result<crate::policy::Verdict, String> {
    let holder = holder.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let result = holder
            .current()
            .and_then(|engine| engine.verdict(RELEASE_QUERY, &input));
        let m = holder.metrics();
        let label = match &result {
            Ok(v) if v.allowed => "allowed",
            Ok(_) => "denied",
            Err(_) => "failed",
        };
        m.evaluations
            .get_or_create(&crate::policy::metrics::EvaluationLabels {
                entry_point: RELEASE_QUERY.into(),
                result: label.into(),
            })
            .inc();
        if let Err(e) = &result {
            m.failures
                .get_or_create(&crate::policy::metrics::FailureLabels {
                    reason: e.metric_label().into(),
                })
                .inc();
        }
        result
    })
    .await
    .map_err(|e| format!("the policy evaluation task failed: {e}"))?;
    match outcome {
        Ok(v) => Ok(v),
        Err(e) if e.metric_label() == "timeout" => Err(format!(
            "the policy evaluation hit its time limit ({e}); retrying"
        )),
        Err(e) => Ok(crate::policy::Verdict::deny(e.to_string())),
    }
}

/// What judging a release came to.
enum Judgment {
    /// The registry could not be read: keep the last verdict.
    Fault(String),
    Done {
        outcome: Outcome,
        /// The digest the tag names now, when it is not the bound one.
        moved_to: Option<String>,
        interval: Duration,
        /// The Disclosure Pack, for judged releases.
        pack: Option<Box<pack::Pack>>,
    },
}

async fn judge(
    hr: &HardenedRelease,
    ctx: &Ctx,
    policies: &[TrustPolicy],
    decisions: &[Decision],
    engine: Option<&crate::policy::PolicyEngine>,
) -> Judgment {
    let done = |outcome| Judgment::Done {
        outcome,
        moved_to: None,
        interval: DEFAULT_REVERIFY,
        pack: None,
    };
    let image = match ImageRef::parse(&hr.spec.image) {
        Ok(i) => i,
        Err(e) => {
            return done(Outcome::Invalid {
                reason: "InvalidImage",
                message: format!(
                    "spec.image {:?} is not an image reference: {e}; give e.g. registry.example.com/team/app@sha256:<digest>",
                    hr.spec.image
                ),
            });
        }
    };
    let interval = match hr.spec.reverify_interval.as_deref() {
        None => DEFAULT_REVERIFY,
        Some(s) => match trust::parse_duration(s).filter(|d| !d.is_zero()) {
            Some(d) => d,
            None => {
                return done(Outcome::Invalid {
                    reason: "InvalidReverifyInterval",
                    message: format!(
                        "spec.reverifyInterval {s:?} is not a duration such as 30m or 6h"
                    ),
                });
            }
        },
    };
    let done = |outcome| Judgment::Done {
        outcome,
        moved_to: None,
        interval,
        pack: None,
    };
    let blocked = |reason, message: String, policy: Option<PolicyId>| {
        done(Outcome::Blocked {
            reason,
            message,
            digest: image.digest.as_ref().map(ToString::to_string),
            policy,
        })
    };
    let name = format!("{}/{}", image.registry, image.repository);
    let covering = trust::covering(policies, &name);
    if covering.is_empty() {
        return blocked(
            "NoTrustPolicy",
            format!(
                "no TrustPolicy covers {name}; ask the platform team for a TrustPolicy whose spec.images matches it (a release cannot name its own key)"
            ),
            None,
        );
    }
    let Some(engine) = engine else {
        return blocked(
            "NoPolicyBundle",
            "no policy bundle loaded: the controller runs without --policy-bundle, or its bundle does not match --policy-digest; see the controller's log".into(),
            None,
        );
    };
    let policy = PolicyId {
        digest: engine.digest().to_owned(),
        version: engine.version().map(str::to_owned),
    };
    if let Some(p) = &hr.spec.policy
        && let Err(why) = engine.check_release_pin(p.version.as_deref(), p.digest.as_deref())
    {
        return blocked("PolicyPinMismatch", why, Some(policy));
    }
    let trust = trust::load(
        &ctx.base.client,
        &ctx.settings.operator_namespace,
        &covering,
    )
    .await;
    if let Some(why) = &trust.transient {
        return Judgment::Fault(why.clone());
    }

    // Bind: the digest resolved for this spec.image stays, whatever its tag names later.
    let registry = &ctx.settings.registry;
    let bound = match (&hr.status, &image.digest) {
        (_, Some(d)) => Some(d.clone()),
        (Some(s), None) if s.resolved_image.as_deref() == Some(hr.spec.image.as_str()) => s
            .verified_digest
            .as_deref()
            .and_then(|d| Digest::parse(d).ok()),
        _ => None,
    };
    let resolved = match registry.resolve(&image).await {
        Ok(d) => d,
        Err(e) => return Judgment::Fault(format!("cannot resolve {image}: {e}")),
    };
    let digest = bound.unwrap_or_else(|| resolved.clone());
    let moved_to = (digest != resolved).then(|| resolved.to_string());
    let artifacts =
        match fetch::fetch_artifacts(registry, &image, &digest, &fetch::FetchLimits::default())
            .await
        {
            Ok(a) => a,
            Err(e) => {
                return Judgment::Fault(format!("cannot fetch the evidence of {digest}: {e}"));
            }
        };
    // The evidence layer reports facts; the policy judges them (criticals, budgets).
    let req = Requirements::new(&hr.spec.evidence.require);
    let authorities = trust.authorities.clone();
    // Shared with the verifying thread, not copied (the attestation layers hold whole SBOMs).
    let artifacts = Arc::new(artifacts);
    let (d, a) = (digest.clone(), artifacts.clone());
    let evidence =
        match tokio::task::spawn_blocking(move || verify::verify(&d, &a, &authorities, &req)).await
        {
            Ok(v) => v,
            Err(e) => return Judgment::Fault(format!("verification task failed: {e}")),
        };
    let made = facts::report_time(&artifacts, &evidence);
    let stale = facts::staleness(
        made,
        k8s_openapi::jiff::Timestamp::now().as_second(),
        trust.max_report_age,
    );
    let established = facts::Established::new(digest.to_string(), evidence, &trust, stale);
    let input = ReleaseInput::new(established.summary(hr), decisions.to_vec());
    let verdict = match (PolicyInput::from_typed(&input), &ctx.settings.policy) {
        (Ok(input), Some(holder)) => match evaluate(holder, input).await {
            Ok(v) => v,
            Err(why) => return Judgment::Fault(why),
        },
        (Err(e), _) => {
            crate::policy::Verdict::deny(format!("the release input does not serialise: {e}"))
        }
        (_, None) => crate::policy::Verdict::deny("no policy bundle loaded"),
    };
    let pack = pack::build(pack::PackInput {
        release: pack::PackRelease {
            name: hr.name_any(),
            namespace: hr.namespace().unwrap_or_default(),
            image: hr.spec.image.clone(),
            digest: digest.to_string(),
        },
        evidence: &established.evidence.evidence,
        critical_ids: established.critical_ids(),
        verdict: &verdict,
        decisions,
        policy: pack::PackPolicy {
            version: policy.version.clone(),
            digest: policy.digest.clone(),
        },
        generated_at: crate::api::now().0.to_string(),
    });
    Judgment::Done {
        outcome: Outcome::Judged {
            established: Box::new(established),
            verdict,
            policy,
        },
        moved_to,
        interval,
        pack: Some(Box::new(pack)),
    }
}
