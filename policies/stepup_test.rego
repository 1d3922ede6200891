package releasegate.stepup_test

import data.releasegate.fixtures as fx
import data.releasegate.stepup

restricted := object.union(fx.ns_labels, {"releasegate.dev/sensitivity": "restricted"})

restricted_input(ui) := fx.admission(fx.pod(fx.pod_labels, {}, [fx.image]), restricted, ui, {fx.digest: [fx.ready_record]}, [])

deny_restricted(ui) := v if {
	v := stepup.deny with input as restricted_input(ui) with time.now_ns as fx.now
}

# The real clock is never a whole second: the same checks with half a second on the clock.
deny_restricted_at_fraction(ui) := v if {
	v := stepup.deny with input as restricted_input(ui) with time.now_ns as fx.now_fraction
}

break_glass_record := fx.record("api", "payments", fx.digest, true, [], ["override-api"])

deny_break_glass(ui) := v if {
	v := stepup.deny with input as fx.admission(fx.pod(fx.pod_labels, {}, [fx.image]), fx.ns_labels, ui, {fx.digest: [break_glass_record]}, []) with time.now_ns as fx.now
}

mfa_at(t) := fx.user_with_extra({"releasegate.dev/amr": ["mfa"], "releasegate.dev/auth-time": [t]})

test_restricted_without_assertion_denied if {
	deny_restricted(fx.user) == {"step-up required: deploying to restricted namespace \"payments\" needs a fresh strong authentication (no authentication methods in userInfo.extra[\"releasegate.dev/amr\"]); re-authenticate with MFA or WebAuthn and retry"}
}

test_restricted_with_weak_method_denied if {
	ui := fx.user_with_extra({"releasegate.dev/amr": ["pwd"], "releasegate.dev/auth-time": ["1780271940"]})
	fx.has(deny_restricted(ui), "(authentication methods [pwd] include none of mfa, hwk, sc, otp)")
}

test_restricted_with_fresh_mfa_allowed if {
	count(deny_restricted(fx.user_with_extra(fx.fresh_mfa))) == 0
	count(deny_restricted_at_fraction(fx.user_with_extra(fx.fresh_mfa))) == 0
}

test_restricted_with_webauthn_hardware_key_allowed if {
	ui := fx.user_with_extra({"releasegate.dev/amr": ["hwk", "user"], "releasegate.dev/auth-time": ["1780271500"]})
	count(deny_restricted(ui)) == 0
}

test_restricted_with_stale_mfa_denied if {
	fx.has(deny_restricted(mfa_at("1780270000")), "(last strong authentication was 2000 s ago, more than 900 s)")
	fx.has(deny_restricted_at_fraction(mfa_at("1780270000")), "(last strong authentication was 2000 s ago, more than 900 s)")
}

test_mfa_from_years_ago_denied_on_a_fractional_clock if {
	fx.has(deny_restricted_at_fraction(mfa_at("1600000000")), "step-up required")
	fx.has(deny_restricted_at_fraction(mfa_at("0")), "step-up required")
}

test_restricted_with_future_auth_time_denied if {
	fx.has(deny_restricted(mfa_at("1780272600")), "(authentication time is 600 s in the future)")
	fx.has(deny_restricted_at_fraction(mfa_at("1780272600")), "authentication time is 599 s in the future")
	fx.has(deny_restricted_at_fraction(mfa_at("2780272600")), "step-up required")
}

test_small_clock_skew_tolerated if {
	count(deny_restricted(mfa_at("1780272030"))) == 0
	count(deny_restricted_at_fraction(mfa_at("1780272030"))) == 0
}

test_missing_auth_time_denied if {
	ui := fx.user_with_extra({"releasegate.dev/amr": ["mfa"]})
	fx.has(deny_restricted(ui), "(no authentication time (one whole number of seconds) in userInfo.extra[\"releasegate.dev/auth-time\"])")
}

test_malformed_auth_time_denied if {
	every t in ["yesterday", "1780271940.5", "-1", "1e9", " 1780271940", ""] {
		fx.has(deny_restricted(mfa_at(t)), "no authentication time")
	}
	two := fx.user_with_extra({"releasegate.dev/amr": ["mfa"], "releasegate.dev/auth-time": ["1780271940", "1780271941"]})
	fx.has(deny_restricted(two), "no authentication time")
}

test_confidential_namespace_needs_no_stepup if {
	count(stepup.deny) == 0 with input as fx.base with time.now_ns as fx.now
	stepup.satisfied with input as fx.base with time.now_ns as fx.now
}

test_restricted_workload_in_confidential_namespace_needs_stepup if {
	p := fx.pod(object.union(fx.pod_labels, {"releasegate.dev/sensitivity": "restricted"}), {}, [fx.image])
	fx.has(stepup.deny, "step-up required") with input as fx.admission(p, restricted, fx.user, {}, []) with time.now_ns as fx.now
}

test_break_glass_without_stepup_denied if {
	deny_break_glass(fx.user) == {"step-up required: running under break-glass Decision \"override-api\" needs a fresh strong authentication (no authentication methods in userInfo.extra[\"releasegate.dev/amr\"]); re-authenticate with MFA or WebAuthn and retry"}
}

test_break_glass_with_stale_stepup_denied if {
	fx.has(deny_break_glass(mfa_at("1780000000")), "step-up required: running under break-glass")
}

test_break_glass_with_stepup_allowed if {
	count(deny_break_glass(fx.user_with_extra(fx.fresh_mfa))) == 0
}

test_system_actor_needs_no_stepup if {
	ui := {"username": "system:serviceaccount:kube-system:replicaset-controller", "groups": ["system:serviceaccounts:kube-system"]}
	count(deny_restricted(ui)) == 0
}

test_tenant_service_account_needs_stepup if {
	ui := {"username": "system:serviceaccount:payments:default", "groups": ["system:serviceaccounts", "system:serviceaccounts:payments"]}
	fx.has(deny_restricted(ui), "step-up required")
}
