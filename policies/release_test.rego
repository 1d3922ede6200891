package releasegate.release_test

import data.releasegate.fixtures as fx
import data.releasegate.release

check(rel, decisions) := {"purpose": "release", "release": rel, "decisions": decisions}

decision_for(rel, decisions) := v if {
	v := release.decision with input as check(rel, decisions) with time.now_ns as fx.now
}

deny_for(rel, decisions) := {r | some r in decision_for(rel, decisions).reasons}

blocked(rel, decisions) if not decision_for(rel, decisions).allowed

vulns(patch) := fx.release_with("api", fx.digest, {"vulnerabilities": patch})

test_verified_release_allowed if {
	decision_for(fx.release, []) == {"allowed": true, "reasons": [], "overrides": []}
}

test_decision_lists_reasons if {
	d := decision_for(fx.release_with("api", fx.digest, {"signature": {"verified": false}}), [])
	d.allowed == false
	count(d.reasons) == 1
}

test_missing_release_object_denied if {
	d := release.decision with input as {"purpose": "release"} with time.now_ns as fx.now
	not d.allowed
	fx.has(d.reasons, "`release` must be the release summary object")
}

test_release_summary_of_another_type_denied if {
	every summary in [null, true, "api", [fx.release], 1] {
		d := release.decision with input as check(summary, []) with time.now_ns as fx.now
		not d.allowed
		fx.has(d.reasons, "`release` must be the release summary object")
	}
}

test_wrong_purpose_denied if {
	d := release.decision with input as object.union(check(fx.release, []), {"purpose": "admission"}) with time.now_ns as fx.now
	not d.allowed
}

test_extra_fields_denied_by_name if {
	d := release.decision with input as object.union(check(fx.release, []), {"secrets": {"db": "x"}}) with time.now_ns as fx.now
	fx.has(d.reasons, "input contract: purpose \"release\" does not carry field(s) secrets")
}

test_unsigned_release_denied if {
	fx.has(deny_for(fx.release_with("api", fx.digest, {"signature": {"verified": false}}), []), "release payments/api: no verified cosign signature by a trusted authority for sha256:3b0c")
}

test_verified_flags_must_be_booleans if {
	every v in ["true", 1, null] {
		blocked(fx.release_with("api", fx.digest, {"signature": {"verified": v}}), [])
		blocked(fx.release_with("api", fx.digest, {"vulnerabilities": {"verified": v}}), [])
	}
}

test_missing_sbom_denied if {
	fx.has(deny_for(fx.release_with("api", fx.digest, {"sbom": {"verified": false}}), []), "no verified SBOM attestation")
}

test_spdx_sbom_denied if {
	deny_for(fx.release_with("api", fx.digest, {"sbom": {"format": "SPDX"}}), []) == {"release payments/api: SBOM format \"SPDX\" is not accepted; attach one of CycloneDX"}
}

test_missing_provenance_denied if {
	fx.has(deny_for(fx.release_with("api", fx.digest, {"provenance": {"verified": false}}), []), "no verified SLSA provenance attestation")
}

test_non_slsa_provenance_denied if {
	fx.has(deny_for(fx.release_with("api", fx.digest, {"provenance": {"predicateType": "https://example.com/build/v1"}}), []), "is not SLSA provenance")
}

test_provenance_without_builder_denied if {
	fx.has(deny_for(fx.release_with("api", fx.digest, {"provenance": {"builder": " "}}), []), "`release.evidence.provenance.builder` must be a non-empty string")
}

test_missing_vulnerability_report_denied if {
	fx.has(deny_for(vulns({"verified": false}), []), "no verified vulnerability report attestation")
}

test_stale_vulnerability_report_denied if {
	fx.has(deny_for(vulns({"stale": true}), []), "older than the trust policy's maximum age")
}

test_high_over_budget_denied if {
	deny_for(vulns({"high": 3}), []) == {"release payments/api: 3 high vulnerabilities exceed the budget of 2; fix them or raise the release's budget"}
}

test_high_within_budget_allowed if {
	decision_for(vulns({"high": 2, "medium": 10}), []).allowed
}

test_severity_without_budget_unlimited if {
	decision_for(vulns({"low": 5000}), []).allowed
}

test_unknown_severity_is_budgeted if {
	rel := object.union(vulns({"unknown": 3}), {"budget": {"unknown": 1}})
	fx.has(deny_for(rel, []), "3 unknown vulnerabilities exceed the budget of 1")
}

test_budget_must_be_whole_numbers if {
	every b in [{"high": -1}, {"high": 1.5}, {"high": "5"}, {"high": null}] {
		blocked(object.union(fx.release, {"budget": b}), [])
	}
	blocked(object.union(fx.release, {"budget": "unlimited"}), [])
}

test_criticals_denied_without_override if {
	msgs := deny_for(fx.critical_release, [])
	msgs == {"release payments/api: 2 critical vulnerabilities (CVE-2026-0001, CVE-2026-0002) block the release; fix them, or record an Override Decision naming this release or digest and each of these IDs, with an owner and an expiry at most 30 days away"}
}

test_critical_budget_is_ignored if {
	blocked(object.union(fx.critical_release, {"budget": {"critical": 5}}), [])
}

test_criticals_allowed_with_override if {
	decision_for(fx.critical_release, [fx.override]) == {"allowed": true, "reasons": [], "overrides": ["override-api"]}
}

test_override_by_digest_covers if {
	d := fx.decision("override-digest", "Override", "2026-07-01T00:00:00Z", {"digests": [fx.digest], "vulnerabilities": ["CVE-2026-0001", "CVE-2026-0002"]})
	decision_for(fx.critical_release, [d]).allowed
}

test_two_overrides_together_cover if {
	a := fx.decision("override-a", "Override", "2026-07-01T00:00:00Z", {"releases": ["api"], "vulnerabilities": ["CVE-2026-0001"]})
	b := fx.decision("override-b", "Override", "2026-07-01T00:00:00Z", {"releases": ["api"], "vulnerabilities": ["CVE-2026-0002"]})
	decision_for(fx.critical_release, [a, b]).overrides == ["override-a", "override-b"]
}

test_expired_override_does_not_cover if {
	d := fx.decision("override-old", "Override", "2026-05-31T23:59:59Z", {"releases": ["api"], "vulnerabilities": ["CVE-2026-0001", "CVE-2026-0002"]})
	msgs := deny_for(fx.critical_release, [d])
	fx.has(msgs, "block the release")
	fx.has(msgs, "; override Decision override-old expired at 2026-05-31T23:59:59Z")
}

test_override_without_expiry_does_not_cover if {
	d := {"metadata": {"name": "forever", "namespace": "payments"}, "spec": {"type": "Override", "scope": {"releases": ["api"], "vulnerabilities": ["CVE-2026-0001", "CVE-2026-0002"]}}}
	fx.has(deny_for(fx.critical_release, [d]), "override Decision forever has no valid expiry")
}

test_override_beyond_the_maximum_lifetime_does_not_cover if {
	d := fx.decision("override-long", "Override", "2027-06-01T00:00:00Z", {"releases": ["api"], "vulnerabilities": ["CVE-2026-0001", "CVE-2026-0002"]})
	fx.has(deny_for(fx.critical_release, [d]), "override Decision override-long lasts longer than the maximum of 30 days")
}

test_override_naming_no_ids_does_not_cover if {
	d := fx.decision("override-any", "Override", "2026-07-01T00:00:00Z", {"releases": ["api"]})
	fx.has(deny_for(fx.critical_release, [d]), "override Decision override-any names no vulnerability IDs")
}

test_override_for_other_release_does_not_cover if {
	d := fx.decision("override-web", "Override", "2026-07-01T00:00:00Z", {"releases": ["web"], "vulnerabilities": ["CVE-2026-0001", "CVE-2026-0002"]})
	fx.has(deny_for(fx.critical_release, [d]), "block the release")
}

test_override_in_other_namespace_does_not_cover if {
	d := object.union(fx.override, {"metadata": {"namespace": "other"}})
	fx.has(deny_for(fx.critical_release, [d]), "block the release")
}

test_approval_is_not_an_override if {
	fx.has(deny_for(fx.critical_release, [fx.approval]), "block the release")
}

test_override_must_accept_every_critical_id if {
	d := fx.decision("override-one", "Override", "2026-07-01T00:00:00Z", {"releases": ["api"], "vulnerabilities": ["CVE-2026-0001"]})
	fx.has(deny_for(fx.critical_release, [d]), "override Decision override-one does not accept CVE-2026-0002")
}

# An override naming an unrelated CVE must not cover a report that lists no IDs.
test_counts_and_ids_must_agree if {
	unrelated := fx.decision("override-x", "Override", "2026-07-01T00:00:00Z", {"releases": ["api"], "vulnerabilities": ["CVE-1999-0001"]})
	fx.has(deny_for(vulns({"critical": 1, "criticalIds": []}), [unrelated]), "1 critical findings but 0 critical IDs")
	blocked(vulns({"critical": 0, "criticalIds": ["CVE-2026-0001"]}), [])
}

test_malformed_critical_counts_denied if {
	every patch in [{"critical": null}, {"critical": 1.5}, {"critical": "2"}, {"critical": -1}] {
		blocked(vulns(patch), [fx.override])
	}
	blocked(object.union(fx.critical_release, {"evidence": {"vulnerabilities": {"critical": 2}}}), [])
}

test_missing_critical_count_denied if {
	v := {k: x | some k, x in fx.clean_scan; k != "critical"}
	evidence := object.union({k: x | some k, x in fx.release.evidence; k != "vulnerabilities"}, {"vulnerabilities": v})
	without := object.union({k: x | some k, x in fx.release; k != "evidence"}, {"evidence": evidence})
	fx.has(deny_for(without, []), "`release.evidence.vulnerabilities.critical` must be a whole number")
}

test_malformed_critical_ids_denied if {
	every ids in [[1, 2], "CVE-2026-0001,CVE-2026-0002", ["CVE-2026-0001", "CVE-2026-0001"], null] {
		blocked(vulns({"critical": 2, "criticalIds": ids}), [fx.override])
	}
}

test_labelled_release_needs_scoped_approval if {
	labelled := object.union(fx.release, {"metadata": {"labels": {"releasegate.dev/change": "Release"}, "annotations": {"releasegate.dev/decision": "approve-api"}}})
	decision_for(labelled, [fx.approval]).allowed
	other := fx.decision("approve-api", "Approval", "2026-12-31T00:00:00Z", {"releases": ["web"]})
	fx.has(deny_for(labelled, [other]), "release payments/api references Decision \"approve-api\", whose scope does not name it")
}

# Quarantine: a Rollback Decision naming the digest blocks the release until a later Approval
# naming the drill clears it.
rollback(created) := object.union(fx.decision("drill-rollback-1", "Rollback", null, {"digests": [fx.digest], "drills": ["drill"]}), {"metadata": {"creationTimestamp": created}})

clearing(created, scope) := object.union(fx.decision("clear-drill", "Approval", "2026-12-31T00:00:00Z", scope), {"metadata": {"creationTimestamp": created}})

test_rolled_back_digest_is_quarantined if {
	d := decision_for(fx.release, [rollback("2026-06-01T00:00:00Z")])
	not d.allowed
	fx.has({r | some r in d.reasons}, "release payments/api (sha256:3b0c9a7f1d2e4c5b6a798877665544332211ffeeddccbbaa0099887766554433) is quarantined: CanaryDrill drill rolled it back (Decision payments/drill-rollback-1); it may run again once an Approval Decision created after that rollback names it and drill drill in spec.scope.drills")
}

test_rollback_naming_the_release_quarantines_too if {
	q := object.union(rollback("2026-06-01T00:00:00Z"), {"spec": {"scope": {"digests": [], "releases": ["api"]}}})
	blocked(fx.release, [q])
}

test_rollback_of_another_digest_or_namespace_does_not_quarantine if {
	other := object.union(rollback("2026-06-01T00:00:00Z"), {"spec": {"scope": {"digests": [fx.other_digest]}}})
	decision_for(fx.release, [other]).allowed
	elsewhere := object.union(rollback("2026-06-01T00:00:00Z"), {"metadata": {"namespace": "other-team"}})
	decision_for(fx.release, [elsewhere]).allowed
}

test_a_later_approval_naming_the_drill_clears_the_quarantine if {
	decision_for(fx.release, [rollback("2026-06-01T00:00:00Z"), clearing("2026-06-01T00:05:00Z", {"digests": [fx.digest], "drills": ["drill"]})]).allowed
	decision_for(fx.release, [rollback("2026-06-01T00:00:00Z"), clearing("2026-06-01T00:05:00Z", {"releases": ["api"], "drills": ["drill"]})]).allowed
}

test_an_approval_recorded_before_the_rollback_does_not_clear_it if {
	blocked(fx.release, [rollback("2026-06-01T00:00:00Z"), clearing("2026-05-31T23:59:59Z", {"digests": [fx.digest], "drills": ["drill"]})])
	blocked(fx.release, [rollback("2026-06-01T00:00:00Z"), clearing("2026-06-01T00:00:00Z", {"digests": [fx.digest], "drills": ["drill"]})])
}

test_a_clearing_approval_must_name_the_drill_and_the_digest if {
	blocked(fx.release, [rollback("2026-06-01T00:00:00Z"), clearing("2026-06-01T00:05:00Z", {"digests": [fx.digest]})])
	blocked(fx.release, [rollback("2026-06-01T00:00:00Z"), clearing("2026-06-01T00:05:00Z", {"digests": [fx.other_digest], "drills": ["drill"]})])
	blocked(fx.release, [rollback("2026-06-01T00:00:00Z"), clearing("2026-06-01T00:05:00Z", {"drills": ["drill"]})])
}

test_a_clearing_decision_must_be_an_approval if {
	override := object.union(clearing("2026-06-01T00:05:00Z", {"digests": [fx.digest], "drills": ["drill"]}), {"spec": {"type": "Override"}})
	blocked(fx.release, [rollback("2026-06-01T00:00:00Z"), override])
}

test_missing_or_malformed_creation_times_never_clear if {
	no_time := fx.decision("clear-drill", "Approval", "2026-12-31T00:00:00Z", {"digests": [fx.digest], "drills": ["drill"]})
	blocked(fx.release, [rollback("2026-06-01T00:00:00Z"), no_time])
	blocked(fx.release, [rollback("yesterday"), clearing("2026-06-01T00:05:00Z", {"digests": [fx.digest], "drills": ["drill"]})])
	blocked(fx.release, [rollback("2026-06-01T00:00:00Z"), clearing(5, {"digests": [fx.digest], "drills": ["drill"]})])
}

test_the_order_of_decisions_changes_nothing if {
	clear := clearing("2026-06-01T00:05:00Z", {"digests": [fx.digest], "drills": ["drill"]})
	decision_for(fx.release, [clear, rollback("2026-06-01T00:00:00Z")]).allowed
	early := clearing("2026-05-31T23:00:00Z", {"digests": [fx.digest], "drills": ["drill"]})
	blocked(fx.release, [early, rollback("2026-06-01T00:00:00Z")])
	blocked(fx.release, [rollback("2026-06-01T00:00:00Z"), early])
}

test_a_second_rollback_after_the_clearing_quarantines_again if {
	clear := clearing("2026-06-01T00:05:00Z", {"digests": [fx.digest], "drills": ["drill"]})
	again := object.union(rollback("2026-06-02T00:00:00Z"), {"metadata": {"name": "drill-rollback-2"}})
	d := decision_for(fx.release, [rollback("2026-06-01T00:00:00Z"), clear, again])
	not d.allowed
	fx.has({r | some r in d.reasons}, "Decision payments/drill-rollback-2")
}
