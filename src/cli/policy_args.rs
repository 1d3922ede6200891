//! The pinned policy bundle flags, shared by `controller`, `webhook` and `run`: one group of
//! flags, and in `run` one loaded bundle that judges both releases and admission.

use crate::policy::{Limits, Pin, PolicyHolder};
use crate::shutdown::Shutdown;
use crate::telemetry::Metrics;
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where the Rego policy bundle is and how it is pinned.
#[derive(Debug, Clone, Args)]
pub struct PolicyArgs {
    /// The Rego policy bundle directory (or mounted ConfigMap) releases and admission requests
    /// are judged by. It is re-read every few seconds; without it releases are Blocked and
    /// /validate denies.
    #[arg(long, env = "RELEASE_GATE_POLICY_BUNDLE")]
    pub policy_bundle: Option<PathBuf>,
    /// The bundle's pinned digest (`release-gate policy digest DIR`); any other bundle is
    /// refused and the last matching one keeps serving.
    #[arg(long, env = "RELEASE_GATE_POLICY_DIGEST", requires = "policy_bundle")]
    pub policy_digest: Option<String>,
    /// Load the bundle without a pin. For development only: whoever can write the directory
    /// decides what is admitted.
    #[arg(
        long,
        env = "RELEASE_GATE_ALLOW_UNPINNED_POLICY",
        requires = "policy_bundle",
        conflicts_with = "policy_digest"
    )]
    pub allow_unpinned_policy: bool,
}

/// How often the policy bundle is re-read (its digest compared) for changes.
const POLICY_POLL: Duration = Duration::from_secs(5);

impl PolicyArgs {
    /// The policy holder the flags ask for (None without --policy-bundle), or why they are
    /// not enough.
    pub fn holder(&self) -> anyhow::Result<Option<Arc<PolicyHolder>>> {
        let Some(dir) = &self.policy_bundle else {
            return Ok(None);
        };
        let pin = match (&self.policy_digest, self.allow_unpinned_policy) {
            (Some(d), _) => Pin::Digest(d.clone()),
            (None, true) => Pin::Unpinned,
            (None, false) => anyhow::bail!(
                "--policy-bundle {} needs --policy-digest (print it with `release-gate policy digest {}`) or, for development only, --allow-unpinned-policy",
                dir.display(),
                dir.display()
            ),
        };
        Ok(Some(Arc::new(PolicyHolder::with_limits(
            dir,
            pin,
            Limits::default(),
            Metrics::shared().policy.clone(),
        ))))
    }

    /// [`Self::holder`], with its reload loop running until `shutdown`.
    pub fn start(&self, shutdown: &Shutdown) -> anyhow::Result<Option<Arc<PolicyHolder>>> {
        let holder = self.holder()?;
        if let Some(h) = &holder {
            tokio::spawn(h.clone().watch(POLICY_POLL, shutdown.clone()));
        }
        Ok(holder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_without_a_pin_needs_the_development_flag() {
        let args = |bundle: Option<&str>, allow: bool| PolicyArgs {
            policy_bundle: bundle.map(PathBuf::from),
            policy_digest: None,
            allow_unpinned_policy: allow,
        };
        let err = args(Some("policies"), false).holder().expect_err("refused");
        assert!(err.to_string().contains("--allow-unpinned-policy"), "{err}");
        assert!(args(None, false).holder().expect("ok").is_none());
    }
}
