//! The status a release gets, from what the controller established and what the policy decided.
//! Pure: every branch (judged, blocked before any evidence, invalid spec, registry fault) is a
//! function of its inputs and the previous status, unit-tested without a cluster.

use crate::api::{HardenedRelease, HardenedReleaseStatus, ReleasePhase, condition};
use crate::evidence::predicates::{self, PredicateKind};
use crate::evidence::verify::Problem;
use crate::policy::Verdict;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::facts::Established;

pub const SIGNATURE: &str = "SignatureVerified";
pub const SBOM: &str = "SBOMAttested";
pub const PROVENANCE: &str = "ProvenanceAttested";
pub const VULNERABILITIES: &str = "VulnerabilitiesWithinBudget";
pub const POLICY: &str = "PolicyApproved";
pub const READY: &str = "Ready";
pub const STALE: &str = "Stale";
pub const TAG_MOVED: &str = "TagMoved";
/// True while a CanaryDrill's rollback holds the digest (policy package
/// `releasegate.quarantine`); cleared by a later Approval naming the drill.
pub const QUARANTINED: &str = "Quarantined";

/// The bundle that judged a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyId {
    pub digest: String,
    pub version: Option<String>,
}

/// What the reconciler found, before it becomes a status.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The spec cannot be acted on; nothing happens until it changes.
    Invalid {
        reason: &'static str,
        message: String,
    },
    /// Blocked before any evidence was judged (no policy, no TrustPolicy, a pin mismatch).
    Blocked {
        reason: &'static str,
        message: String,
        digest: Option<String>,
        policy: Option<PolicyId>,
    },
    /// Evidence established and the policy consulted.
    Judged {
        established: Box<Established>,
        verdict: Verdict,
        policy: PolicyId,
    },
}

/// The status for `outcome`; conditions keep their transition time when their status holds.
pub fn status_for(
    hr: &HardenedRelease,
    outcome: &Outcome,
    prev: &HardenedReleaseStatus,
    now: Time,
) -> HardenedReleaseStatus {
    let generation = hr.metadata.generation;
    let cond = |t: &str, ok: bool, reason: &str, message: String| {
        condition(t, ok, reason, &message, generation)
    };
    let mut status = HardenedReleaseStatus {
        observed_generation: generation,
        resolved_image: Some(hr.spec.image.clone()),
        disclosure_pack_ref: prev.disclosure_pack_ref.clone(),
        ..Default::default()
    };
    let conditions = match outcome {
        Outcome::Invalid { reason, message } => {
            status.phase = Some(ReleasePhase::Failed);
            status.reasons = vec![message.clone()];
            vec![cond(READY, false, reason, message.clone())]
        }
        Outcome::Blocked {
            reason,
            message,
            digest,
            policy,
        } => {
            status.phase = Some(ReleasePhase::Blocked);
            status.reasons = vec![message.clone()];
            status.verified_digest = digest.clone();
            if let Some(p) = policy {
                status.policy_bundle_digest = Some(p.digest.clone());
                status.policy_version = p.version.clone();
            }
            status.last_verified_time = Some(now.clone());
            vec![
                cond(POLICY, false, reason, message.clone()),
                cond(READY, false, reason, message.clone()),
            ]
        }
        Outcome::Judged {
            established: est,
            verdict,
            policy,
        } => {
            status.phase = Some(if verdict.allowed {
                ReleasePhase::Verified
            } else {
                ReleasePhase::Blocked
            });
            status.verified_digest = Some(est.digest.clone());
            status.evidence = Some(est.evidence.evidence.summary());
            status.reasons = verdict.reasons.clone();
            status.overrides = verdict.overrides.clone();
            status.policy_bundle_digest = Some(policy.digest.clone());
            status.policy_version = policy.version.clone();
            status.last_verified_time = Some(now.clone());
            judged_conditions(hr, est, verdict, policy)
                .into_iter()
                .map(|(t, ok, reason, message)| cond(t, ok, reason, message))
                .collect()
        }
    };
    status.conditions = keep_transition_times(conditions, &prev.conditions);
    status
}

type Cond = (&'static str, bool, &'static str, String);

fn judged_conditions(
    hr: &HardenedRelease,
    est: &Established,
    verdict: &Verdict,
    policy: &PolicyId,
) -> Vec<Cond> {
    let summary = est.summary(hr);
    let facts = &summary.evidence;
    let trusted_by = format!(
        "judged by TrustPolicy {}{}",
        est.trust_policies.join(", "),
        if est.trust_problems.is_empty() {
            String::new()
        } else {
            format!(" (not loaded: {})", est.trust_problems.join("; "))
        }
    );
    let signature = if facts.signature.verified {
        let mut signers = est.evidence.evidence.summary().signers;
        signers.dedup();
        (
            SIGNATURE,
            true,
            "Verified",
            format!("signed by {}; {trusted_by}", signers.join(", ")),
        )
    } else {
        let problem = est
            .problems()
            .find(|p| matches!(p, Problem::Unsigned | Problem::SignatureUntrusted { .. }));
        (
            SIGNATURE,
            false,
            problem.map_or("Unsigned", Problem::label),
            format!(
                "{}; sign the image with a key or identity a TrustPolicy covering it lists ({trusted_by})",
                problem.map_or_else(|| "no trusted signature".to_owned(), ToString::to_string)
            ),
        )
    };
    let attestation = |kind: PredicateKind,
                       t: &'static str,
                       ok: bool,
                       what: &str,
                       extra: Option<&String>|
     -> Cond {
        if ok {
            return (t, true, "Verified", format!("{what} attestation verified"));
        }
        if let Some(extra) = extra {
            return (t, false, "NotTrusted", extra.clone());
        }
        let problem = est.problems().find(|p| match p {
            Problem::AttestationMissing { predicate_type, .. }
            | Problem::AttestationInvalid { predicate_type, .. } => {
                predicates::kind_of(predicate_type) == kind
            }
            _ => false,
        });
        match problem {
            Some(p) => (t, false, p.label(), p.to_string()),
            None => (
                t,
                false,
                "AttestationMissing",
                format!(
                    "no verified {what} attestation for this digest; attach one with `cosign attest`"
                ),
            ),
        }
    };
    let sbom = attestation(PredicateKind::Sbom, SBOM, facts.sbom.verified, "SBOM", None);
    let provenance = attestation(
        PredicateKind::Provenance,
        PROVENANCE,
        facts.provenance.verified,
        "SLSA provenance",
        est.provenance_problem.as_ref(),
    );
    let v = &facts.vulnerabilities;
    let vulnerabilities = if !v.verified {
        attestation(
            PredicateKind::Vulnerabilities,
            VULNERABILITIES,
            false,
            "vulnerability report",
            None,
        )
    } else if let Some(why) = &est.report_stale {
        (VULNERABILITIES, false, "ReportStale", why.clone())
    } else {
        let over_budget: Vec<String> = verdict
            .reasons
            .iter()
            .filter(|r| r.contains("exceed the budget"))
            .cloned()
            .collect();
        if v.critical > 0 && !verdict.overrides.is_empty() && verdict.allowed {
            (
                VULNERABILITIES,
                true,
                "AcceptedByOverride",
                format!(
                    "{} critical vulnerabilities ({}) accepted by override Decision {} until it expires",
                    v.critical,
                    v.critical_ids.join(", "),
                    verdict.overrides.join(", ")
                ),
            )
        } else if v.critical > 0 {
            (
                VULNERABILITIES,
                false,
                "CriticalVulnerabilities",
                format!(
                    "{} critical vulnerabilities ({}) block the release: blocked if criticals > 0 unless approved by an override Decision naming this release or digest and each ID, expiring within 30 days; or fix them and attest a new report",
                    v.critical,
                    v.critical_ids.join(", ")
                ),
            )
        } else if !over_budget.is_empty() {
            (VULNERABILITIES, false, "OverBudget", over_budget.join("; "))
        } else {
            (
                VULNERABILITIES,
                true,
                "WithinBudget",
                format!(
                    "no critical vulnerabilities; high {}, medium {}, low {}, unknown {}",
                    v.high, v.medium, v.low, v.unknown
                ),
            )
        }
    };
    let held: Vec<&str> = verdict
        .reasons
        .iter()
        .filter(|r| r.contains(" is quarantined: "))
        .map(String::as_str)
        .collect();
    let quarantined = if held.is_empty() {
        (
            QUARANTINED,
            false,
            "NotQuarantined",
            "no CanaryDrill rollback holds this digest".to_owned(),
        )
    } else {
        (QUARANTINED, true, "RolledBackByDrill", held.join("; "))
    };
    let version = policy.version.as_deref().unwrap_or("unversioned");
    let (policy_cond, ready) = if verdict.allowed {
        let msg = format!("policy {version} ({}) approved the release", policy.digest);
        (
            (POLICY, true, "Approved", msg),
            (
                READY,
                true,
                "Verified",
                format!("workloads may run {}", est.digest),
            ),
        )
    } else {
        let msg = verdict.reasons.join("; ");
        (
            (
                POLICY,
                false,
                "Denied",
                format!("policy {version} ({}): {msg}", policy.digest),
            ),
            (READY, false, "Blocked", msg),
        )
    };
    vec![
        signature,
        sbom,
        provenance,
        vulnerabilities,
        quarantined,
        policy_cond,
        ready,
    ]
}

/// Keeps each condition's `lastTransitionTime` from `prev` when its status did not change.
pub fn keep_transition_times(mut next: Vec<Condition>, prev: &[Condition]) -> Vec<Condition> {
    for c in &mut next {
        if let Some(p) = prev
            .iter()
            .find(|p| p.type_ == c.type_ && p.status == c.status)
        {
            c.last_transition_time = p.last_transition_time.clone();
        }
    }
    next
}

/// A registry fault: the last verdict stands (a Verified release stays Verified, a Blocked one
/// Blocked) and a `Stale` condition says why it could not be re-verified.
pub fn stale(
    hr: &HardenedRelease,
    prev: &HardenedReleaseStatus,
    message: &str,
) -> HardenedReleaseStatus {
    let generation = hr.metadata.generation;
    // A verdict about another image is no verdict about this one.
    let same_image = prev.resolved_image.as_deref() == Some(hr.spec.image.as_str());
    let mut status = if prev.phase.is_some() && same_image {
        prev.clone()
    } else {
        HardenedReleaseStatus {
            phase: Some(ReleasePhase::Pending),
            observed_generation: generation,
            reasons: vec![format!("not verified yet: {message}")],
            conditions: vec![condition(
                READY,
                false,
                "RegistryUnavailable",
                message,
                generation,
            )],
            disclosure_pack_ref: prev.disclosure_pack_ref.clone(),
            ..Default::default()
        }
    };
    status.conditions.retain(|c| c.type_ != STALE);
    let stale = condition(
        STALE,
        true,
        "RegistryUnavailable",
        &format!("{message}; the last verdict stands until the registry answers again"),
        generation,
    );
    status.conditions = keep_transition_times(
        status.conditions.into_iter().chain([stale]).collect(),
        &prev.conditions,
    );
    status
}

/// Adds (or clears) the condition saying the tag now names another digest than the bound one.
pub fn tag_moved(
    status: &mut HardenedReleaseStatus,
    generation: Option<i64>,
    moved_to: Option<&str>,
    prev: &[Condition],
) {
    status.conditions.retain(|c| c.type_ != TAG_MOVED);
    if let Some(d) = moved_to {
        let bound = status.verified_digest.clone().unwrap_or_default();
        let c = condition(
            TAG_MOVED,
            true,
            "TagMoved",
            &format!(
                "the tag now points to {d}; this release stays bound to {bound}; create a HardenedRelease for the new digest"
            ),
            generation,
        );
        status.conditions =
            keep_transition_times(status.conditions.drain(..).chain([c]).collect(), prev);
    }
}

/// The condition of type `t`, if set.
pub fn find<'a>(status: &'a HardenedReleaseStatus, t: &str) -> Option<&'a Condition> {
    status.conditions.iter().find(|c| c.type_ == t)
}

/// Whether the release is usable (Verified and Ready), as the admission webhook reads it.
pub fn is_ready(status: &HardenedReleaseStatus) -> bool {
    status.phase == Some(ReleasePhase::Verified)
        && find(status, READY).is_some_and(|c| c.status == "True")
}
