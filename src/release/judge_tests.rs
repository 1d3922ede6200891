//! The pure core of the release controller, judged by the real policy bundle of `policies/`:
//! evidence facts → typed input → verdict → status and conditions, for each kind of release the
//! controller meets (good, unsigned, criticals with and without an override, untrusted
//! provenance, a stale report) and for registry faults.

use super::facts::Established;
use super::status::{self, Outcome, PolicyId};
use super::trust::Trust;
use crate::api::{
    Decision, DecisionScope, DecisionSpec, DecisionType, HardenedRelease, HardenedReleaseSpec,
    ReleasePhase, ResidualRisk,
};
use crate::evidence::predicates::{self, ProvenanceSummary, SbomSummary};
use crate::evidence::verify::{
    Evidence, Problem, Verdict as EvidenceVerdict, VerifiedAttestation, VerifiedSignature,
};
use crate::evidence::vuln_facts::{MergedFinding, VulnFacts};
use crate::evidence::vulns::Severity;
use crate::policy::input::ReleaseInput;
use crate::policy::{Pin, PolicyHolder, PolicyInput, RELEASE_QUERY};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

fn digest() -> String {
    format!("sha256:{}", "ab".repeat(32))
}

fn release() -> HardenedRelease {
    let mut hr = HardenedRelease::new(
        "app",
        HardenedReleaseSpec {
            image: "reg.example/team/app:1".into(),
            evidence: Default::default(),
            policy: None,
            decisions: vec![],
            reverify_interval: None,
        },
    );
    hr.metadata.namespace = Some("team".into());
    hr.metadata.generation = Some(3);
    hr
}

fn att(t: &str) -> VerifiedAttestation {
    VerifiedAttestation {
        origin: format!("att {t}"),
        predicate_type: t.into(),
        signer: "key ci".into(),
    }
}

fn advisory(id: &str, severity: Severity) -> MergedFinding {
    MergedFinding {
        id: id.into(),
        severity,
        package: "musl".into(),
        fixed_version: None,
        source: format!("sha256:{}", "ef".repeat(32)),
    }
}

/// The facts the evidence layer reports for `findings` (merged by advisory ID).
fn facts(mut findings: Vec<MergedFinding>) -> VulnFacts {
    findings.sort_by(|a, b| a.severity.cmp(&b.severity).then(a.id.cmp(&b.id)));
    findings.dedup_by(|a, b| a.id == b.id);
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count() as u32;
    VulnFacts {
        critical: count(Severity::Critical),
        high: count(Severity::High),
        medium: count(Severity::Medium),
        low: count(Severity::Low),
        unknown: count(Severity::Unknown),
        critical_ids: findings
            .iter()
            .filter(|f| f.severity == Severity::Critical)
            .map(|f| f.id.clone())
            .collect(),
        findings,
        reports: vec![],
        stale: false,
        stale_reason: None,
    }
}

/// Fully signed and attested evidence with `top` as the report's findings.
fn evidence(top: Vec<MergedFinding>) -> EvidenceVerdict {
    EvidenceVerdict {
        evidence: Evidence {
            digest: digest(),
            signatures: vec![VerifiedSignature {
                origin: "sig".into(),
                signer: "key ci".into(),
            }],
            attestations: vec![
                att(predicates::CYCLONEDX),
                att(predicates::SLSA_V02),
                att(predicates::COSIGN_VULN),
            ],
            sbom: Some(SbomSummary {
                format: "CycloneDX 1.5".into(),
                components: 3,
                licenses: vec![],
                digest: format!("sha256:{}", "cd".repeat(32)),
            }),
            provenance: Some(ProvenanceSummary {
                slsa_version: "v0.2".into(),
                builder_id: "https://ci.example/builder".into(),
                build_type: "t".into(),
                source_repo: Some("git+https://github.com/example/app".into()),
                source_commit: Some("abc".into()),
            }),
            vulnerabilities: Some(facts(top)),
        },
        problems: vec![],
    }
}

fn holder() -> std::sync::Arc<PolicyHolder> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    std::sync::Arc::new(PolicyHolder::new(&dir, Pin::Unpinned))
}

fn judge(est: Established, decisions: Vec<Decision>) -> crate::api::HardenedReleaseStatus {
    let hr = release();
    let holder = holder();
    let input = ReleaseInput::new(est.summary(&hr), decisions);
    let verdict = holder.decide(RELEASE_QUERY, &PolicyInput::from_typed(&input).unwrap());
    let engine = holder.current().unwrap();
    let outcome = Outcome::Judged {
        established: Box::new(est),
        verdict,
        policy: PolicyId {
            digest: engine.digest().into(),
            version: engine.version().map(str::to_owned),
        },
    };
    status::status_for(&hr, &outcome, &Default::default(), crate::api::now())
}

fn est(ev: EvidenceVerdict, trust: &Trust, stale: Option<String>) -> Established {
    Established::new(digest(), ev, trust, stale)
}

fn cond<'a>(s: &'a crate::api::HardenedReleaseStatus, t: &str) -> (&'a str, &'a str, &'a str) {
    let c = status::find(s, t).unwrap_or_else(|| panic!("no {t} in {s:#?}"));
    (c.status.as_str(), c.reason.as_str(), c.message.as_str())
}

fn override_decision(ids: &[&str], expires_in_secs: i64) -> Decision {
    let mut d = Decision::new(
        "accept",
        DecisionSpec {
            kind: DecisionType::Override,
            owner: "team".into(),
            rationale: "not reachable".into(),
            residual_risk: ResidualRisk::Medium,
            scope: DecisionScope {
                releases: vec!["app".into()],
                vulnerabilities: ids.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            },
            expires: Some(Time(
                k8s_openapi::jiff::Timestamp::now()
                    + k8s_openapi::jiff::SignedDuration::from_secs(expires_in_secs),
            )),
        },
    );
    d.metadata.namespace = Some("team".into());
    d
}

#[test]
fn complete_trusted_evidence_is_verified_with_every_condition_true() {
    let s = judge(est(evidence(vec![]), &Trust::default(), None), vec![]);
    assert!(status::is_ready(&s), "{s:#?}");
    for t in [
        status::SIGNATURE,
        status::SBOM,
        status::PROVENANCE,
        status::VULNERABILITIES,
        status::POLICY,
        status::READY,
    ] {
        assert_eq!(cond(&s, t).0, "True", "{t}: {s:#?}");
    }
    assert_eq!(s.verified_digest, Some(digest()));
    assert_eq!(s.policy_version.as_deref(), Some("1.3.1"));
    assert_eq!(s.observed_generation, Some(3));
    assert!(s.reasons.is_empty());
}

#[test]
fn an_unsigned_image_is_blocked_with_signature_verified_false() {
    let mut ev = evidence(vec![]);
    ev.evidence.signatures.clear();
    ev.problems.push(Problem::Unsigned);
    let s = judge(est(ev, &Trust::default(), None), vec![]);
    assert_eq!(s.phase, Some(ReleasePhase::Blocked));
    let (st, reason, msg) = cond(&s, status::SIGNATURE);
    assert_eq!((st, reason), ("False", "Unsigned"));
    assert!(msg.contains("sign the image"), "{msg}");
    assert_eq!(cond(&s, status::READY).0, "False");
    assert!(
        s.reasons
            .iter()
            .any(|r| r.contains("no verified cosign signature")),
        "{s:#?}"
    );
}

#[test]
fn criticals_block_unless_an_unexpired_override_names_each_id() {
    // The same advisory in two packages is one critical ID.
    let top = vec![
        advisory("CVE-1", Severity::Critical),
        advisory("CVE-1", Severity::Critical),
        advisory("CVE-2", Severity::Critical),
    ];
    let e = est(evidence(top), &Trust::default(), None);
    assert_eq!(e.critical_count(), 2);
    let s = judge(e.clone(), vec![]);
    assert_eq!(s.phase, Some(ReleasePhase::Blocked));
    let (st, reason, msg) = cond(&s, status::VULNERABILITIES);
    assert_eq!((st, reason), ("False", "CriticalVulnerabilities"));
    assert!(msg.contains("CVE-1, CVE-2"), "{msg}");

    let partial = judge(e.clone(), vec![override_decision(&["CVE-1"], 3600)]);
    assert_eq!(partial.phase, Some(ReleasePhase::Blocked), "{partial:#?}");
    assert!(
        partial
            .reasons
            .iter()
            .any(|r| r.contains("does not accept CVE-2")),
        "{partial:#?}"
    );

    let s = judge(
        e.clone(),
        vec![override_decision(&["CVE-1", "CVE-2"], 3600)],
    );
    assert!(status::is_ready(&s), "{s:#?}");
    assert_eq!(s.overrides, ["accept"]);
    assert_eq!(cond(&s, status::VULNERABILITIES).1, "AcceptedByOverride");

    let expired = judge(e, vec![override_decision(&["CVE-1", "CVE-2"], -5)]);
    assert_eq!(expired.phase, Some(ReleasePhase::Blocked));
    assert!(expired.overrides.is_empty());
    assert!(
        expired.reasons.iter().any(|r| r.contains("expired")),
        "{expired:#?}"
    );
}

#[test]
fn more_criticals_than_named_ids_block_even_under_an_override() {
    let mut ev = evidence(vec![advisory("CVE-1", Severity::Critical)]);
    if let Some(v) = ev.evidence.vulnerabilities.as_mut() {
        v.critical = 7;
    }
    let s = judge(
        est(ev, &Trust::default(), None),
        vec![override_decision(&["CVE-1"], 3600)],
    );
    assert_eq!(s.phase, Some(ReleasePhase::Blocked), "{s:#?}");
}

#[test]
fn provenance_from_a_builder_the_trust_policy_does_not_name_is_not_trusted() {
    let mut trust = Trust::default();
    trust.provenance.push((
        "platform".into(),
        crate::api::ProvenanceRequirement {
            builder: Some("https://ci.example/other".into()),
            source_prefix: None,
        },
    ));
    let s = judge(est(evidence(vec![]), &trust, None), vec![]);
    assert_eq!(s.phase, Some(ReleasePhase::Blocked));
    let (st, reason, msg) = cond(&s, status::PROVENANCE);
    assert_eq!((st, reason), ("False", "NotTrusted"));
    assert!(msg.contains("TrustPolicy platform"), "{msg}");
}

#[test]
fn a_stale_report_blocks_with_its_reason() {
    let s = judge(
        est(
            evidence(vec![]),
            &Trust::default(),
            Some("too old; rescan".into()),
        ),
        vec![],
    );
    assert_eq!(s.phase, Some(ReleasePhase::Blocked));
    assert_eq!(cond(&s, status::VULNERABILITIES).1, "ReportStale");
}

#[test]
fn a_registry_fault_keeps_the_verdict_and_never_makes_a_release_ready() {
    let hr = release();
    let ok = judge(est(evidence(vec![]), &Trust::default(), None), vec![]);
    let s = status::stale(&hr, &ok, "cannot resolve reg.example/team/app:1: refused");
    assert!(status::is_ready(&s), "a glitch must not unverify: {s:#?}");
    assert_eq!(cond(&s, status::STALE).0, "True");
    assert_eq!(s.verified_digest, ok.verified_digest);

    let mut ev = evidence(vec![]);
    ev.evidence.signatures.clear();
    ev.problems.push(Problem::Unsigned);
    let blocked = judge(est(ev, &Trust::default(), None), vec![]);
    let s = status::stale(&hr, &blocked, "refused");
    assert_eq!(s.phase, Some(ReleasePhase::Blocked));
    assert!(!status::is_ready(&s));

    // A verdict for the image the spec named before is not kept for the image it names now.
    let mut moved = release();
    moved.spec.image = "reg.example/team/other:1".into();
    let s = status::stale(&moved, &ok, "refused");
    assert_eq!(s.phase, Some(ReleasePhase::Pending), "{s:#?}");
    assert!(!status::is_ready(&s) && s.verified_digest.is_none());

    let never = status::stale(&hr, &Default::default(), "refused");
    assert_eq!(never.phase, Some(ReleasePhase::Pending));
    assert!(!status::is_ready(&never));
    assert!(never.reasons[0].contains("not verified yet"), "{never:#?}");
}

#[test]
fn blocked_before_any_evidence_says_why_in_reasons_and_ready() {
    let hr = release();
    let s = status::status_for(
        &hr,
        &Outcome::Blocked {
            reason: "NoTrustPolicy",
            message: "no TrustPolicy covers reg.example/team/app".into(),
            digest: None,
            policy: None,
        },
        &Default::default(),
        crate::api::now(),
    );
    assert_eq!(s.phase, Some(ReleasePhase::Blocked));
    assert_eq!(s.reasons, ["no TrustPolicy covers reg.example/team/app"]);
    assert_eq!(cond(&s, status::READY).1, "NoTrustPolicy");
}

#[test]
fn a_condition_keeps_its_transition_time_while_its_status_holds() {
    let hr = release();
    let first = judge(est(evidence(vec![]), &Trust::default(), None), vec![]);
    let mut old = first.clone();
    for c in &mut old.conditions {
        c.last_transition_time = Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
    }
    let again = status::status_for(
        &hr,
        &Outcome::Blocked {
            reason: "NoPolicyBundle",
            message: "no policy bundle loaded".into(),
            digest: None,
            policy: None,
        },
        &old,
        crate::api::now(),
    );
    let ready = status::find(&again, status::READY).unwrap();
    assert_ne!(
        ready.last_transition_time.0,
        k8s_openapi::jiff::Timestamp::UNIX_EPOCH
    );
    let kept = status::keep_transition_times(first.conditions.clone(), &old.conditions);
    assert!(
        kept.iter()
            .all(|c| c.last_transition_time.0 == k8s_openapi::jiff::Timestamp::UNIX_EPOCH)
    );
}

fn decision_at(name: &str, kind: DecisionType, scope: DecisionScope, created: &str) -> Decision {
    let mut d = Decision::new(
        name,
        DecisionSpec {
            kind,
            owner: "sre".into(),
            rationale: String::new(),
            residual_risk: ResidualRisk::Low,
            scope,
            expires: Some(Time(
                k8s_openapi::jiff::Timestamp::now()
                    + k8s_openapi::jiff::SignedDuration::from_hours(24),
            )),
        },
    );
    d.metadata.namespace = Some("team".into());
    d.metadata.creation_timestamp = Some(Time(created.parse().unwrap()));
    d
}

#[test]
fn a_digest_a_drill_rolled_back_is_quarantined_until_a_later_approval_names_the_drill() {
    let rollback = decision_at(
        "drill-rollback-1",
        DecisionType::Rollback,
        DecisionScope {
            drills: vec!["drill".into()],
            digests: vec![digest()],
            ..Default::default()
        },
        "2026-11-30T10:00:00Z",
    );
    let clean = || est(evidence(vec![]), &Trust::default(), None);
    let s = judge(clean(), vec![rollback.clone()]);
    assert_eq!(s.phase, Some(ReleasePhase::Blocked), "{s:#?}");
    let (st, reason, msg) = cond(&s, status::QUARANTINED);
    assert_eq!((st, reason), ("True", "RolledBackByDrill"));
    assert!(msg.contains("CanaryDrill drill rolled it back"), "{msg}");
    assert_eq!(cond(&s, status::READY).0, "False");

    let approval = |created: &str| {
        decision_at(
            "clear",
            DecisionType::Approval,
            DecisionScope {
                drills: vec!["drill".into()],
                releases: vec!["app".into()],
                ..Default::default()
            },
            created,
        )
    };
    // Recorded before the rollback: a replayed approval does not clear it.
    let s = judge(
        clean(),
        vec![rollback.clone(), approval("2026-11-30T09:59:00Z")],
    );
    assert_eq!(cond(&s, status::QUARANTINED).0, "True", "{s:#?}");
    let s = judge(clean(), vec![rollback, approval("2026-11-30T10:01:00Z")]);
    assert!(status::is_ready(&s), "{s:#?}");
    assert_eq!(
        cond(&s, status::QUARANTINED),
        (
            "False",
            "NotQuarantined",
            "no CanaryDrill rollback holds this digest"
        )
    );
}
