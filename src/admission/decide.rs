//! One admission decision: the enforcement mode of the namespace, the shortcuts that need no
//! policy (exempt namespaces, updates that change no image, kinds the gate does not judge),
//! then the policy input from the request and an index snapshot, the pinned policy's verdict,
//! and the answer in the mode's terms. Every failure on the way is a denial in enforce mode.

use super::images::{KINDS, digest_of, images, pin_images, update_keeps_images};
use super::index::ReleaseIndex;
use super::resolve::TagResolution;
use super::review::{Answer, Review};
use crate::policy::input::AdmissionInput;
use crate::policy::{ADMISSION_QUERY, PolicyHolder, Verdict};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The namespace label that sets the enforcement mode there.
pub const MODE_LABEL: &str = "releasegate.dev/mode";

/// What the webhook does with a denial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Deny the request, saying why.
    Enforce,
    /// Admit, and return the reasons as warnings kubectl prints.
    Warn,
    /// Admit silently, and record the reasons (log, metric).
    Audit,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Warn => "warn",
            Mode::Audit => "audit",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "enforce" => Some(Mode::Enforce),
            "warn" => Some(Mode::Warn),
            "audit" => Some(Mode::Audit),
            _ => None,
        }
    }
}

/// How the webhook decides, beyond the policy.
#[derive(Debug, Clone)]
pub struct AdmissionConfig {
    /// The mode of namespaces without a [`MODE_LABEL`].
    pub default_mode: Mode,
    /// Namespaces admitted without a decision (the control plane's own, the gate's).
    pub exempt_namespaces: BTreeSet<String>,
    /// Tag-only images in namespaces without a [`super::resolve::RESOLUTION_LABEL`].
    pub tag_resolution: TagResolution,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        Self {
            default_mode: Mode::Enforce,
            exempt_namespaces: [
                "kube-system",
                "kube-public",
                "kube-node-lease",
                "release-gate",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            tag_resolution: TagResolution::Strict,
        }
    }
}

/// What decided a request, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Allowed,
    Denied,
    /// Denied by the policy but admitted because of the mode.
    Warned,
    Audited,
    Exempt,
    /// An UPDATE that changes no image.
    Unchanged,
    /// A kind the gate does not judge (the webhook configuration should not send it).
    NotJudged,
    /// The index is not synced or no policy is loaded: denied.
    Unavailable,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Denied => "denied",
            Outcome::Warned => "warned",
            Outcome::Audited => "audited",
            Outcome::Exempt => "exempt",
            Outcome::Unchanged => "unchanged",
            Outcome::NotJudged => "not_judged",
            Outcome::Unavailable => "unavailable",
        }
    }
}

/// Everything one decision needs; shared by the HTTP handlers.
pub struct Admission {
    pub config: AdmissionConfig,
    pub policy: Option<Arc<PolicyHolder>>,
    pub index: Option<ReleaseIndex>,
    /// Where warn and audit mode record what they let through.
    pub audit: Option<super::report::AuditSink>,
    /// Resolves tag-only images where tag resolution is lenient; without it they stay
    /// unresolved (and the policy denies them).
    pub resolver: Option<super::resolve::TagResolver>,
}

/// The mode for a namespace with `labels`: its label when valid, else the default. An invalid
/// label value is ignored (the default applies) so a typo cannot turn enforcement off.
pub fn mode_for(config: &AdmissionConfig, labels: &BTreeMap<String, String>) -> Mode {
    labels
        .get(MODE_LABEL)
        .and_then(|v| Mode::parse(v))
        .unwrap_or(config.default_mode)
}

/// Turns a policy verdict into the answer for `mode`.
pub fn answer_for(verdict: &Verdict, mode: Mode) -> (Answer, Outcome) {
    if verdict.allowed {
        return (Answer::allow(), Outcome::Allowed);
    }
    let message = format!(
        "release-gate denied the request:\n- {}",
        verdict.reasons.join("\n- ")
    );
    match mode {
        Mode::Enforce => (Answer::deny(message), Outcome::Denied),
        Mode::Warn => {
            let mut a = Answer::allow();
            a.warnings = verdict
                .reasons
                .iter()
                .map(|r| format!("release-gate (warn mode) would deny: {r}"))
                .collect();
            (a, Outcome::Warned)
        }
        Mode::Audit => (Answer::allow(), Outcome::Audited),
    }
}

impl Admission {
    /// Decides one review. Never fails: whatever goes wrong is a denial (in enforce mode).
    pub async fn decide(&self, review: &Review) -> (Answer, Outcome, Mode) {
        let Some(namespace) = review.namespace().map(str::to_string) else {
            return (
                Answer::deny(
                    "release-gate judges namespaced workloads only; this request names no namespace",
                ),
                Outcome::Denied,
                Mode::Enforce,
            );
        };
        if self.config.exempt_namespaces.contains(&namespace) {
            return (Answer::allow(), Outcome::Exempt, Mode::Enforce);
        }
        let kind = review.kind().to_string();
        if !KINDS.contains(&kind.as_str()) {
            return (Answer::allow(), Outcome::NotJudged, Mode::Enforce);
        }
        if update_keeps_images(&review.request) {
            return (Answer::allow(), Outcome::Unchanged, Mode::Enforce);
        }
        let (Some(policy), Some(index)) = (&self.policy, &self.index) else {
            return (
                Answer::deny(
                    "release-gate: verification unavailable: the webhook has no policy bundle configured (--policy-bundle); it fails closed",
                ),
                Outcome::Unavailable,
                Mode::Enforce,
            );
        };
        if !index.synced() {
            return (
                Answer::deny(
                    "release-gate: verification unavailable: the release index is still syncing with the API server; retry in a few seconds",
                ),
                Outcome::Unavailable,
                Mode::Enforce,
            );
        }
        let labels = index.namespace_labels(&namespace);
        let mode = mode_for(&self.config, &labels);
        let verdict = match self.input(review, &kind, &namespace, &labels, index).await {
            Ok(input) => match input.to_policy_input() {
                Ok(input) => policy.decide_within(ADMISSION_QUERY, input).await,
                Err(e) => {
                    Verdict::deny(format!("release-gate: cannot build the policy input: {e}"))
                }
            },
            Err(reasons) => Verdict {
                allowed: false,
                reasons,
                ..Verdict::deny("")
            },
        };
        let (answer, outcome) = answer_for(&verdict, mode);
        if matches!(outcome, Outcome::Warned | Outcome::Audited)
            && let Some(audit) = &self.audit
        {
            audit.record(&review.request, verdict.reasons.clone(), mode.as_str());
        }
        (answer, outcome, mode)
    }
}

impl Admission {
    /// The policy input for `review`, as [`Self::decide`] builds it: the request (with its
    /// tag-only images pinned to their digests where tag resolution is lenient), the namespace,
    /// the releases of its images' digests and its Decisions. `Err`: the reasons a lenient
    /// lookup failed (a denial). `release-gate admission input` prints the same document, so a
    /// denial can be replayed through `release-gate policy eval`.
    pub async fn input<'r>(
        &self,
        review: &'r Review,
        kind: &str,
        namespace: &str,
        labels: &BTreeMap<String, String>,
        index: &ReleaseIndex,
    ) -> Result<AdmissionInput<'r>, Vec<String>> {
        // The request is copied only when lenient tag resolution pins its images.
        let mut request = std::borrow::Cow::Borrowed(&review.request);
        if TagResolution::for_namespace(self.config.tag_resolution, labels)
            == TagResolution::Lenient
            && let Some(resolver) = &self.resolver
            && let Some(object) = request.get("object")
        {
            let found = images(kind, object);
            let pins = resolver.pin_all(found.iter().map(String::as_str)).await?;
            if let Some(object) = request.to_mut().get_mut("object") {
                pin_images(kind, object, &pins);
            }
        }
        let no_object = serde_json::Value::Null;
        let all_images = images(kind, request.get("object").unwrap_or(&no_object));
        let digests: BTreeSet<&str> = all_images.iter().filter_map(|i| digest_of(i)).collect();
        let releases = index.records(&digests);
        Ok(AdmissionInput::new(
            request,
            index.namespace(namespace).unwrap_or_default(),
            releases,
            index.decisions(namespace),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mode_comes_from_the_namespace_label_or_the_default() {
        let config = AdmissionConfig::default();
        let labels = |v: &str| BTreeMap::from([(MODE_LABEL.to_string(), v.to_string())]);
        assert_eq!(mode_for(&config, &BTreeMap::new()), Mode::Enforce);
        assert_eq!(mode_for(&config, &labels("warn")), Mode::Warn);
        assert_eq!(mode_for(&config, &labels("Audit")), Mode::Audit);
        assert_eq!(mode_for(&config, &labels("off")), Mode::Enforce);
    }

    #[test]
    fn denials_become_warnings_or_silence_by_mode() {
        let v = Verdict::deny("no release");
        let (a, o) = answer_for(&v, Mode::Enforce);
        assert!(!a.allowed && a.message.unwrap().contains("- no release"));
        assert_eq!(o, Outcome::Denied);
        let (a, o) = answer_for(&v, Mode::Warn);
        assert!(a.allowed && a.warnings[0].contains("would deny: no release"));
        assert_eq!(o, Outcome::Warned);
        let (a, o) = answer_for(&v, Mode::Audit);
        assert!(a.allowed && a.warnings.is_empty());
        assert_eq!(o, Outcome::Audited);
    }

    #[tokio::test]
    async fn without_policy_or_index_it_fails_closed() {
        let admission = Admission {
            config: AdmissionConfig::default(),
            policy: None,
            index: None,
            audit: None,
            resolver: None,
        };
        let review = Review::parse(
            serde_json::json!({
                "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                "request": {"uid": "u", "namespace": "team", "kind": {"kind": "Pod"}, "operation": "CREATE",
                            "object": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        let (a, o, _) = admission.decide(&review).await;
        assert!(!a.allowed && a.message.unwrap().contains("verification unavailable"));
        assert_eq!(o, Outcome::Unavailable);
        let exempt = Review::parse(
            serde_json::json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                "request": {"uid": "u", "namespace": "kube-system", "kind": {"kind": "Pod"}, "operation": "CREATE"}})
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(admission.decide(&exempt).await.1, Outcome::Exempt);
    }
}
