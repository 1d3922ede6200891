//! The live policy: the bundle a webhook replica evaluates, swapped atomically when the bundle
//! on disk (a directory or a mounted ConfigMap) changes. Readers take an `Arc` snapshot without
//! locking. A bundle that fails to load (bad Rego, digest not the pinned one) replaces the live
//! policy with a failure, so nothing is admitted by a policy that is not the one configured:
//! the gate fails closed rather than silently keeping an older bundle.
//!
//! Change detection polls the digest: kubelet updates mounted ConfigMaps by swapping a symbolic
//! link, which file-notification APIs report unreliably, and hashing a few dozen small files
//! every few seconds costs microseconds.

use super::bundle::Bundle;
use super::engine::{EvalError, LoadError, PolicyEngine, PolicyInput, Verdict};
use arc_swap::ArcSwap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What the holder currently serves.
#[derive(Debug)]
enum State {
    Loaded(Arc<PolicyEngine>),
    /// The configured bundle did not load; `digest` is its digest when it could be read, so
    /// the same broken bundle is not recompiled on every poll.
    Failed {
        digest: Option<String>,
        error: String,
    },
}

/// What [`PolicyHolder::reload_if_changed`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    Unchanged,
    Loaded { digest: String },
    Failed { error: String },
}

/// The live, hot-reloadable policy of one process.
#[derive(Debug)]
pub struct PolicyHolder {
    dir: PathBuf,
    pin: Option<String>,
    state: ArcSwap<State>,
}

impl PolicyHolder {
    /// Loads the bundle at `dir` (pinned to `pin` when given). Never fails: a bundle that does
    /// not load leaves the holder failed closed, and a later reload may recover it.
    pub fn new(dir: &Path, pin: Option<String>) -> Self {
        let holder = Self {
            dir: dir.to_path_buf(),
            pin,
            state: ArcSwap::from_pointee(State::Failed {
                digest: None,
                error: "not loaded yet".into(),
            }),
        };
        holder.reload_if_changed();
        holder
    }

    /// The compiled policy, or why there is none.
    pub fn current(&self) -> Result<Arc<PolicyEngine>, EvalError> {
        match self.state.load().as_ref() {
            State::Loaded(policy) => Ok(policy.clone()),
            State::Failed { error, .. } => Err(EvalError::NotLoaded {
                reason: error.clone(),
            }),
        }
    }

    /// Evaluates a verdict entry point; any failure (no policy, evaluation error, wrong shape)
    /// is a denial whose reason says what went wrong.
    pub fn decide(&self, path: &str, input: &PolicyInput) -> Verdict {
        match self.current().and_then(|p| p.verdict(path, input)) {
            Ok(v) => v,
            Err(e) => Verdict {
                allowed: false,
                reasons: vec![e.to_string()],
            },
        }
    }

    /// Re-reads the bundle and swaps in a new policy when its digest changed.
    pub fn reload_if_changed(&self) -> Reload {
        let bundle = match Bundle::from_dir(&self.dir) {
            Ok(b) => b,
            Err(e) => return self.fail(None, LoadError::from(e)),
        };
        let digest = bundle.digest();
        let unchanged = match self.state.load().as_ref() {
            State::Loaded(p) => p.digest() == digest,
            State::Failed { digest: d, .. } => d.as_deref() == Some(digest.as_str()),
        };
        if unchanged {
            return Reload::Unchanged;
        }
        match PolicyEngine::load(&bundle, self.pin.as_deref()) {
            Ok(policy) => {
                tracing::info!(
                    bundle = %self.dir.display(),
                    digest = %policy.digest(),
                    version = policy.version().unwrap_or("unversioned"),
                    "policy bundle loaded"
                );
                self.state.store(Arc::new(State::Loaded(Arc::new(policy))));
                Reload::Loaded { digest }
            }
            Err(e) => self.fail(Some(digest), e),
        }
    }

    fn fail(&self, digest: Option<String>, error: LoadError) -> Reload {
        let error = error.to_string();
        // Only log a failure once per broken bundle content.
        let repeated = matches!(self.state.load().as_ref(),
            State::Failed { digest: d, error: e } if *d == digest && *e == error);
        if !repeated {
            tracing::error!(bundle = %self.dir.display(), error = %error,
                "policy bundle failed to load; admitting nothing until it is fixed");
        }
        self.state.store(Arc::new(State::Failed {
            digest,
            error: error.clone(),
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
