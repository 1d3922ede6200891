# The inputs under examples/ (loaded as data.examples.<name> by the test runners, never by the
# gate) are documentation; these tests keep each one showing the verdict its name promises.
# The examples carry no dates that expire (approvals end in 2099; the step-up example's
# auth-time is judged against fixtures.now here, and refreshed by the Rust real-clock tests).
package releasegate.examples_test

import data.releasegate.admission
import data.releasegate.fixtures as fx
import data.releasegate.release

verdict(name) := v if {
	v := admission.decision with input as data.examples[name] with time.now_ns as fx.now
}

test_example_admit_deployment if {
	verdict("admit_deployment") == {"allowed": true, "reasons": []}
}

test_example_deny_unverified_release if {
	d := verdict("deny_unverified_release")
	not d.allowed
	count(d.reasons) == 1
	fx.has(d.reasons, "release payments/payments-api is not Ready: release payments/payments-api: no verified cosign signature")
}

test_example_deny_criticals if {
	d := verdict("deny_criticals")
	fx.has(d.reasons, "2 critical vulnerabilities (CVE-2026-0001, CVE-2026-0002) block the release")
	fx.has(d.reasons, "override Decision override-old expired")
}

test_example_admit_break_glass_with_stepup if {
	verdict("admit_break_glass_with_stepup").allowed
}

test_example_break_glass_needs_stepup if {
	ex := data.examples.admit_break_glass_with_stepup
	user := {k: v | some k, v in ex.request.userInfo; k != "extra"}
	inp := object.union({k: v | some k, v in ex; k != "request"}, {"request": object.union({k: v | some k, v in ex.request; k != "userInfo"}, {"userInfo": user})})
	d := admission.decision with input as inp with time.now_ns as fx.now
	fx.has(d.reasons, "step-up required: running under break-glass Decision \"override-cve-2026-1234\"")
}

test_example_deny_restricted_without_stepup if {
	d := verdict("deny_restricted_without_stepup")
	fx.has(d.reasons, "step-up required: deploying to restricted namespace \"payments\"")
}

test_example_deny_abac_sensitivity if {
	fx.has(verdict("deny_abac_sensitivity").reasons, "workload sensitivity restricted exceeds")
}

test_example_deny_abac_groups if {
	fx.has(verdict("deny_abac_groups").reasons, "user \"mallory@example.com\" may not deploy")
}

test_example_deny_abac_origin_legal_basis if {
	d := verdict("deny_abac_origin_legal_basis")
	fx.has(d.reasons, "workload origin \"us\" does not match")
	fx.has(d.reasons, "must declare its legal basis")
}

test_example_deny_extra_fields if {
	fx.has(verdict("deny_extra_fields").reasons, "does not carry field(s) request.oldObject, secrets")
}

test_example_deny_change_without_decision if {
	fx.has(verdict("deny_change_without_decision").reasons, "must reference an approval Decision")
}

test_example_admit_change_with_approval if {
	verdict("admit_change_with_approval").allowed
}

test_example_release_check if {
	d := release.decision with input as data.examples.release_check with time.now_ns as fx.now
	d.reasons == ["release payments/payments-api: 7 high vulnerabilities exceed the budget of 5; fix them or raise the release's budget"]
}

test_example_admit_release if {
	d := release.decision with input as data.examples.admit_release with time.now_ns as fx.now
	d == {"allowed": true, "reasons": [], "overrides": []}
}
