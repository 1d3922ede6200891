package releasegate.release_test

import data.releasegate.fixtures as fx
import data.releasegate.release

check(rel, decisions) := {"purpose": "release", "release": rel, "decisions": decisions}

deny_for(rel, decisions) := v if {
	v := release.deny with input as check(rel, decisions) with time.now_ns as fx.now
}

test_verified_release_allowed if {
	release.allow with input as check(fx.release, []) with time.now_ns as fx.now
}

test_decision_lists_reasons if {
	d := release.decision with input as check(fx.release_with("api", fx.digest, {"signature": {"verified": false}}), []) with time.now_ns as fx.now
	d.allowed == false
	count(d.reasons) == 1
}

test_missing_release_object_denied if {
	msgs := release.deny with input as {"purpose": "release"} with time.now_ns as fx.now
	fx.has(msgs, "the input has no `release` object")
}

test_unsigned_release_denied if {
	msgs := deny_for(fx.release_with("api", fx.digest, {"signature": {"verified": false}}), [])
	fx.has(msgs, "release payments/api: no verified cosign signature by a trusted authority for sha256:3b0c")
}

test_missing_sbom_denied if {
	msgs := deny_for(fx.release_with("api", fx.digest, {"sbom": {"verified": false}}), [])
	fx.has(msgs, "no verified SBOM attestation")
}

test_spdx_sbom_denied if {
	msgs := deny_for(fx.release_with("api", fx.digest, {"sbom": {"format": "SPDX"}}), [])
	msgs == {"release payments/api: SBOM format \"SPDX\" is not accepted; attach one of CycloneDX"}
}

test_missing_provenance_denied if {
	msgs := deny_for(fx.release_with("api", fx.digest, {"provenance": {"verified": false}}), [])
	fx.has(msgs, "no verified SLSA provenance attestation")
}

test_non_slsa_provenance_denied if {
	msgs := deny_for(fx.release_with("api", fx.digest, {"provenance": {"predicateType": "https://example.com/build/v1"}}), [])
	fx.has(msgs, "is not SLSA provenance")
}

test_missing_vulnerability_report_denied if {
	msgs := deny_for(fx.release_with("api", fx.digest, {"vulnerabilities": {"verified": false}}), [])
	fx.has(msgs, "no verified vulnerability report attestation")
}

test_high_over_budget_denied if {
	msgs := deny_for(fx.release_with("api", fx.digest, {"vulnerabilities": {"high": 3}}), [])
	msgs == {"release payments/api: 3 high vulnerabilities exceed the budget of 2; fix them or raise the release's budget"}
}

test_high_within_budget_allowed if {
	count(deny_for(fx.release_with("api", fx.digest, {"vulnerabilities": {"high": 2, "medium": 10}}), [])) == 0
}

test_severity_without_budget_unlimited if {
	count(deny_for(fx.release_with("api", fx.digest, {"vulnerabilities": {"low": 5000}}), [])) == 0
}

test_criticals_denied_without_override if {
	msgs := deny_for(fx.critical_release, [])
	msgs == {"release payments/api: 2 critical vulnerabilities (CVE-2026-0001, CVE-2026-0002) block the release; fix them, or record an Override Decision naming this release or digest, with an owner and an expiry"}
}

test_criticals_allowed_with_override if {
	count(deny_for(fx.critical_release, [fx.override])) == 0
}

test_override_by_digest_covers if {
	d := fx.decision("override-digest", "Override", "2026-07-01T00:00:00Z", {"digests": [fx.digest]})
	count(deny_for(fx.critical_release, [d])) == 0
}

test_expired_override_does_not_cover if {
	d := fx.decision("override-old", "Override", "2026-05-31T23:59:59Z", {"releases": ["api"]})
	msgs := deny_for(fx.critical_release, [d])
	fx.has(msgs, "block the release")
	fx.has(msgs, "; override Decision(s) override-old expired")
}

test_override_without_expiry_does_not_cover if {
	d := {"metadata": {"name": "forever", "namespace": "payments"}, "spec": {"type": "Override", "scope": {"releases": ["api"]}}}
	fx.has(deny_for(fx.critical_release, [d]), "block the release")
}

test_override_for_other_release_does_not_cover if {
	d := fx.decision("override-web", "Override", "2026-07-01T00:00:00Z", {"releases": ["web"]})
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
	fx.has(deny_for(fx.critical_release, [d]), "block the release")
}

test_override_accepting_all_ids_covers if {
	d := fx.decision("override-both", "Override", "2026-07-01T00:00:00Z", {"releases": ["api"], "vulnerabilities": ["CVE-2026-0001", "CVE-2026-0002"]})
	count(deny_for(fx.critical_release, [d])) == 0
}

test_break_glass_names_covering_override if {
	now := fx.now # a local: see fixtures.now
	release.break_glass(fx.critical_release, [fx.override, fx.approval]) == {"override-api"} with time.now_ns as now
}

test_no_break_glass_without_criticals if {
	now := fx.now # a local: see fixtures.now
	count(release.break_glass(fx.release, [fx.override])) == 0 with time.now_ns as now
}
