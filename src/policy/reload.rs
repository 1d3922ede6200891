//! The live policy: the bundle a webhook replica (or the controller) evaluates, swapped
//! atomically when the bundle on disk (a directory or a mounted ConfigMap) changes. Readers
//! take an `Arc` snapshot without locking.
//!
//! **Pinned.** A bundle loads only when its digest is the pinned one; loading an unpinned
//! bundle needs [`Pin::Unpinned`], which exists for development and says so loudly in the log.
//!
//! **Last good bundle.** When the files change and no longer load (bad Rego, not the pinned
//! digest), the holder keeps serving the bundle that matched and reports the failed reload (a
//! log line, `releasegate_policy_reload_failures_total` and [`PolicyHolder::status`]). Before
//! any bundle has loaded, everything is denied.
//!
//! **Fail closed within a deadline.** [`PolicyHolder::decide_within`] runs at most
//! `concurrency` evaluations at a time and answers by a deadline whatever happens: an
//! evaluation error, an undefined or malformed decision, a timeout (regorus' own timer, or a
//! builtin that runs long between its checks) or overload is a denial whose reason says which.
//!
//! **Where an evaluation runs.** On a multi-threaded runtime with W workers, up to W−1
//! evaluations run on the worker that received the request, so at least one worker is always
//! free for the reactor (I/O, timers, the deadline denials of other requests); their time limit
//! is what is left of the deadline, so they end by it. Evaluations beyond that, and all of them
//! on a single-threaded runtime, run on the blocking pool. Staying on the worker avoids two
//! thread hand-offs per request: on the 2-core test machine it took the webhook from 473 to
//! 387 µs of CPU per request and let it answer 5 000 requests/s in time (the README's
//! performance section has the figures).
//!
//! Change detection polls the digest: kubelet updates mounted ConfigMaps by swapping a symbolic
//! link, which file-notification APIs report unreliably, and hashing a few dozen small files
//! every few seconds costs microseconds.

use super::bundle::Bundle;
use super::engine::{EvalError, LoadError, PolicyEngine, PolicyInput, Verdict};
use super::metrics::PolicyMetrics;
use arc_swap::ArcSwap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Which bundle the holder may load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    /// Only the bundle with this digest (`sha256:<hex>`, from `release-gate policy digest`).
    Digest(String),
    /// Whatever the directory holds. For development only: anyone who can write the directory
    /// decides what is admitted.
    Unpinned,
}

/// How [`PolicyHolder::decide_within`] bounds an evaluation.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The answer is due by then; past it the request is denied.
    pub deadline: Duration,
    /// Evaluations running at once; more wait for a slot until the deadline.
    pub concurrency: usize,
}

impl Default for Limits {
    /// A deadline well inside the webhook's 10 s `timeoutSeconds` (a decision takes well under
    /// a millisecond), and one evaluation per core but one, since evaluation is pure CPU and
    /// one core is left for I/O: with the runtime's one worker per core, every evaluation then
    /// runs on a worker (see the module docs) and none competes with the I/O from the
    /// blocking pool (on 2 cores at 5x the sustainable rate, evaluations on the blocking pool
    /// starved the connection task until clients timed out).
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(2),
            concurrency: std::thread::available_parallelism()
                .map_or(1, |n| n.get().saturating_sub(1).max(1)),
        }
    }
}

/// What the holder currently serves.
#[derive(Debug, Default)]
struct State {
    /// The last bundle that loaded (and matched the pin).
    serving: Option<Arc<PolicyEngine>>,
    /// The digest of the files last read, so an unchanged directory is not recompiled.
    seen: Option<String>,
    /// Why the files last read did not load, if they did not.
    failure: Option<String>,
}

/// What [`PolicyHolder::reload_if_changed`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    Unchanged,
    Loaded { digest: String },
    Failed { error: String },
}

/// The holder's state for readiness and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyStatus {
    /// Digest and version of the bundle being served, if any.
    pub serving: Option<(String, Option<String>)>,
    /// Why the current files did not load (the served bundle, if any, is an older one).
    pub failure: Option<String>,
}

impl PolicyStatus {
    /// Ready when some bundle that matched the pin is being served.
    pub fn ready(&self) -> bool {
        self.serving.is_some()
    }
}

/// The live, hot-reloadable policy of one process.
#[derive(Debug)]
pub struct PolicyHolder {
    dir: PathBuf,
    pin: Pin,
    state: ArcSwap<State>,
    limits: Limits,
    permits: Arc<Semaphore>,
    /// Evaluations running on a runtime worker right now (see the module docs).
    inline: std::sync::atomic::AtomicUsize,
    /// Requests waiting for an evaluation slot right now.
    waiting: std::sync::atomic::AtomicUsize,
    /// The recent wall time of one evaluation (an exponential average), in nanoseconds.
    eval_ns: std::sync::atomic::AtomicU64,
    metrics: PolicyMetrics,
}

/// A place among the evaluations that run on a runtime worker; freed on drop.
struct InlineSlot<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> InlineSlot<'a> {
    /// A slot when fewer than `max` are taken.
    fn take(taken: &'a std::sync::atomic::AtomicUsize, max: usize) -> Option<Self> {
        use std::sync::atomic::Ordering;
        taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(taken))
    }
}

impl Drop for InlineSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// A request counted among those waiting for an evaluation slot; uncounted on drop.
struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> Waiting<'a> {
    fn join(waiting: &'a std::sync::atomic::AtomicUsize) -> Self {
        waiting.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Self(waiting)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// How many evaluations may run on the current runtime's workers: all but one of them.
fn inline_capacity() -> usize {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
            h.metrics().num_workers().saturating_sub(1)
        }
        _ => 0,
    }
}

impl PolicyHolder {
    /// Loads the bundle at `dir`. Never fails: a bundle that does not load leaves the holder
    /// denying everything, and a later reload may recover it.
    pub fn new(dir: &Path, pin: Pin) -> Self {
        Self::with_limits(dir, pin, Limits::default(), PolicyMetrics::default())
    }

    /// [`Self::new`] with explicit limits and the metrics to count into.
    pub fn with_limits(dir: &Path, pin: Pin, limits: Limits, metrics: PolicyMetrics) -> Self {
        let holder = Self {
            dir: dir.to_path_buf(),
            pin,
            state: ArcSwap::from_pointee(State {
                failure: Some("not loaded yet".into()),
                ..State::default()
            }),
            limits,
            permits: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            inline: std::sync::atomic::AtomicUsize::new(0),
            waiting: std::sync::atomic::AtomicUsize::new(0),
            eval_ns: std::sync::atomic::AtomicU64::new(0),
            metrics,
        };
        holder.reload_if_changed();
        holder
    }

    /// The compiled policy being served, or why there is none.
    pub fn current(&self) -> Result<Arc<PolicyEngine>, EvalError> {
        let state = self.state.load();
        match &state.serving {
            Some(policy) => Ok(policy.clone()),
            None => Err(EvalError::NotLoaded {
                reason: state.failure.clone().unwrap_or_default(),
            }),
        }
    }

    /// What is served and whether the last reload failed.
    pub fn status(&self) -> PolicyStatus {
        let state = self.state.load();
        PolicyStatus {
            serving: state
                .serving
                .as_ref()
                .map(|p| (p.digest().to_string(), p.version().map(str::to_string))),
            failure: state.failure.clone(),
        }
    }

    /// The counters this holder records into.
    pub fn metrics(&self) -> &PolicyMetrics {
        &self.metrics
    }

    /// Evaluates a verdict entry point on the calling thread; any failure (no policy,
    /// evaluation error, wrong shape) is a denial whose reason says what went wrong.
    pub fn decide(&self, path: &str, input: &PolicyInput) -> Verdict {
        let result = self.current().and_then(|p| p.verdict(path, input));
        self.counted(path, result)
    }

    /// Counts an evaluation's outcome and turns a failure into a denial.
    fn counted(&self, path: &str, result: Result<Verdict, EvalError>) -> Verdict {
        match result {
            Ok(v) => {
                self.metrics
                    .evaluated(path, if v.allowed { "allowed" } else { "denied" });
                v
            }
            Err(e) => self.fail(path, e.metric_label(), e.to_string()),
        }
    }

    /// [`Self::decide`], bounded by `deadline`: the evaluation's time limit is what is left.
    fn decide_until(&self, path: &'static str, input: &PolicyInput, deadline: Instant) -> Verdict {
        // Under overload a queued evaluation may start after its answer was already sent
        // (a deadline denial): skip it rather than spend the CPU the next request needs.
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Verdict::deny("policy evaluation started after its deadline; denying");
        }
        let policy = match self.current() {
            Ok(p) => p,
            Err(e) => return self.fail(path, e.metric_label(), e.to_string()),
        };
        let started = Instant::now();
        let verdict = policy.verdict_within(path, input, left);
        // An exponential average (1/8 weight to the newest) of how long an evaluation takes,
        // for the overload estimate in `decide_within`. Races between threads lose an update
        // at worst.
        let took = started.elapsed().as_nanos().min(u64::MAX as u128) as u64;
        let avg = self.eval_ns.load(std::sync::atomic::Ordering::Relaxed);
        let avg = if avg == 0 {
            took
        } else {
            avg - avg / 8 + took / 8
        };
        self.eval_ns
            .store(avg, std::sync::atomic::Ordering::Relaxed);
        match verdict {
            Err(e) if e.metric_label() == "timeout" && left < policy.time_limit() => self.fail(
                path,
                "deadline",
                format!(
                    "policy evaluation did not finish within its {} ms deadline; denying",
                    self.limits.deadline.as_millis()
                ),
            ),
            result => self.counted(path, result),
        }
    }

    /// Evaluates with bounded concurrency and answers by the deadline
    /// (see the module docs). Always returns a verdict; every failure is a denial.
    pub async fn decide_within(
        self: &Arc<Self>,
        path: &'static str,
        input: PolicyInput,
    ) -> Verdict {
        let deadline = Instant::now() + self.limits.deadline;
        let due = tokio::time::Instant::from_std(deadline);
        // Wait for an evaluation slot for at most a twentieth of the deadline (100 ms of 2 s):
        // a backlog longer than that is not a burst but overload, and a prompt "overloaded"
        // denial beats a late one. A request waiting holds an HTTP/2 stream of the API
        // server's connection (hyper allows 200 at once), so long waits under overload starve
        // the connection itself: at 5x the sustainable rate, waiting up to a quarter of the
        // deadline let clients time out. When the evaluations already queued would take longer
        // than that to clear (at the recent evaluation time), the request is shed at once.
        let budget = self.limits.deadline / 20;
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let _waiting = Waiting::join(&self.waiting);
                let queued = self.waiting.load(std::sync::atomic::Ordering::Acquire) as u64;
                let per_eval = self.eval_ns.load(std::sync::atomic::Ordering::Relaxed);
                let ahead = Duration::from_nanos(
                    queued.saturating_mul(per_eval) / self.limits.concurrency.max(1) as u64,
                );
                let overloaded = |why: String| {
                    self.fail(
                        path,
                        "overloaded",
                        format!(
                            "policy evaluation unavailable: {} evaluations already running and {why}; retry",
                            self.limits.concurrency
                        ),
                    )
                };
                if ahead > budget {
                    return overloaded(format!(
                        "{queued} queued (about {} ms of work, more than the {} ms a request may wait)",
                        ahead.as_millis(),
                        budget.as_millis()
                    ));
                }
                let queue_until = tokio::time::Instant::from_std(Instant::now() + budget);
                match tokio::time::timeout_at(queue_until, self.permits.clone().acquire_owned())
                    .await
                {
                    Ok(Ok(permit)) => permit,
                    _ => {
                        return overloaded(format!(
                            "no slot freed within {} ms",
                            budget.as_millis()
                        ));
                    }
                }
            }
        };
        if let Some(_slot) = InlineSlot::take(&self.inline, inline_capacity()) {
            let _permit = permit;
            return self.decide_until(path, &input, deadline);
        }
        let holder = self.clone();
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            holder.decide_until(path, &input, deadline)
        });
        match tokio::time::timeout_at(due, task).await {
            Ok(Ok(verdict)) => verdict,
            Ok(Err(join)) => self.fail(
                path,
                "error",
                format!("policy evaluation failed: {join}; denying"),
            ),
            Err(_) => self.fail(
                path,
                "deadline",
                format!(
                    "policy evaluation did not finish within its {} ms deadline; denying",
                    self.limits.deadline.as_millis()
                ),
            ),
        }
    }

    fn fail(&self, path: &str, reason: &str, message: String) -> Verdict {
        self.metrics.evaluated(path, "failed");
        self.metrics.failed(reason);
        Verdict::deny(message)
    }

    /// Re-reads the bundle and swaps in a new policy when its digest changed; when the new
    /// files do not load, the last bundle that did keeps serving.
    pub fn reload_if_changed(&self) -> Reload {
        let bundle = match Bundle::from_dir(&self.dir) {
            Ok(b) => b,
            Err(e) => return self.reload_failed(None, LoadError::from(e)),
        };
        let digest = bundle.digest();
        if self.state.load().seen.as_deref() == Some(digest.as_str()) {
            return Reload::Unchanged;
        }
        let pin = match &self.pin {
            Pin::Digest(d) => Some(d.as_str()),
            Pin::Unpinned => {
                tracing::warn!(
                    bundle = %self.dir.display(),
                    %digest,
                    "loading an UNPINNED policy bundle: whoever can write this directory decides what is admitted; pin its digest outside development"
                );
                None
            }
        };
        match PolicyEngine::load(&bundle, pin) {
            Ok(policy) => {
                tracing::info!(
                    bundle = %self.dir.display(),
                    digest = %policy.digest(),
                    version = policy.version().unwrap_or("unversioned"),
                    "policy bundle loaded"
                );
                self.state.store(Arc::new(State {
                    serving: Some(Arc::new(policy)),
                    seen: Some(digest.clone()),
                    failure: None,
                }));
                Reload::Loaded { digest }
            }
            Err(e) => self.reload_failed(Some(digest), e),
        }
    }

    fn reload_failed(&self, digest: Option<String>, error: LoadError) -> Reload {
        let error = error.to_string();
        let state = self.state.load();
        // Only report a failure once per broken bundle content.
        let repeated = digest.is_some() && state.seen == digest && state.failure.is_some();
        if !repeated {
            self.metrics.reload_failures.inc();
            match &state.serving {
                Some(p) => tracing::error!(
                    bundle = %self.dir.display(), %error, serving = %p.digest(),
                    "policy bundle failed to load; still serving the last bundle that matched"
                ),
                None => tracing::error!(
                    bundle = %self.dir.display(), %error,
                    "policy bundle failed to load; admitting nothing until it is fixed"
                ),
            }
        }
        self.state.store(Arc::new(State {
            serving: state.serving.clone(),
            seen: digest,
            failure: Some(error.clone()),
        }));
        Reload::Failed { error }
    }

    /// Polls for changes every `interval` until `shutdown` resolves.
    pub async fn watch(self: Arc<Self>, interval: Duration, shutdown: crate::shutdown::Shutdown) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = ticker.tick() => {
                    let holder = self.clone();
                    // Reading and compiling is blocking CPU work; keep it off the reactor.
                    let _ = tokio::task::spawn_blocking(move || holder.reload_if_changed()).await;
                }
            }
        }
    }
}
