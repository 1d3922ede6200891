package releasegate.stepup_test

import data.releasegate.fixtures as fx
import data.releasegate.stepup

restricted := object.union(fx.ns_labels, {"releasegate.dev/sensitivity": "restricted"})

deny_restricted(ui) := v if {
	v := stepup.deny with input as fx.admission(fx.pod(fx.pod_labels, {}, [fx.image]), restricted, ui, {fx.digest: fx.release}, []) with time.now_ns as fx.now
}

deny_break_glass(ui) := v if {
	v := stepup.deny with input as fx.admission(fx.pod(fx.pod_labels, {}, [fx.image]), fx.ns_labels, ui, {fx.digest: fx.critical_release}, [fx.override]) with time.now_ns as fx.now
}

test_restricted_without_assertion_denied if {
	deny_restricted(fx.user) == {"step-up required: deploying to restricted namespace \"payments\" needs a fresh strong authentication (no authentication methods in userInfo.extra[\"releasegate.dev/amr\"]); re-authenticate with MFA or WebAuthn and retry"}
}

test_restricted_with_weak_method_denied if {
	ui := fx.user_with_extra({"releasegate.dev/amr": ["pwd"], "releasegate.dev/auth-time": ["1780271940"]})
	fx.has(deny_restricted(ui), "(authentication methods [pwd] include none of mfa, hwk, sc, otp)")
}

test_restricted_with_fresh_mfa_allowed if {
	count(deny_restricted(fx.user_with_extra(fx.fresh_mfa))) == 0
}

test_restricted_with_webauthn_hardware_key_allowed if {
	ui := fx.user_with_extra({"releasegate.dev/amr": ["hwk", "user"], "releasegate.dev/auth-time": ["1780271500"]})
	count(deny_restricted(ui)) == 0
}

test_restricted_with_stale_mfa_denied if {
	ui := fx.user_with_extra({"releasegate.dev/amr": ["mfa"], "releasegate.dev/auth-time": ["1780270000"]})
	fx.has(deny_restricted(ui), "(last strong authentication was 2000 s ago, more than 900 s)")
}

test_restricted_with_future_auth_time_denied if {
	ui := fx.user_with_extra({"releasegate.dev/amr": ["mfa"], "releasegate.dev/auth-time": ["1780272600"]})
	fx.has(deny_restricted(ui), "(authentication time is 600 s in the future)")
}

test_small_clock_skew_tolerated if {
	ui := fx.user_with_extra({"releasegate.dev/amr": ["mfa"], "releasegate.dev/auth-time": ["1780272030"]})
	count(deny_restricted(ui)) == 0
}

test_missing_auth_time_denied if {
	ui := fx.user_with_extra({"releasegate.dev/amr": ["mfa"]})
	fx.has(deny_restricted(ui), "(no authentication time in userInfo.extra[\"releasegate.dev/auth-time\"])")
}

test_unparsable_auth_time_denied if {
	ui := fx.user_with_extra({"releasegate.dev/amr": ["mfa"], "releasegate.dev/auth-time": ["yesterday"]})
	fx.has(deny_restricted(ui), "step-up required")
}

test_confidential_namespace_needs_no_stepup if {
	count(stepup.deny) == 0 with input as fx.base with time.now_ns as fx.now
}

test_break_glass_without_stepup_denied if {
	deny_break_glass(fx.user) == {"step-up required: running under break-glass Decision \"override-api\" needs a fresh strong authentication (no authentication methods in userInfo.extra[\"releasegate.dev/amr\"]); re-authenticate with MFA or WebAuthn and retry"}
}

test_break_glass_with_stepup_allowed if {
	count(deny_break_glass(fx.user_with_extra(fx.fresh_mfa))) == 0
}

test_system_actor_needs_no_stepup if {
	ui := {"username": "system:serviceaccount:kube-system:replicaset-controller", "groups": ["system:serviceaccounts:kube-system"]}
	count(deny_restricted(ui)) == 0
}
