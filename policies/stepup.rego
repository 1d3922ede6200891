# Step-up contract: sensitive actions (deploying to a restricted namespace, running under a
# break-glass override) need a fresh strong authentication. The assertion arrives in the
# request's userInfo.extra, mapped from the OIDC `amr` and `auth_time` claims by the apiserver's
# structured authentication config (see README.md); a missing, stale, future or malformed one
# is denied. Times are whole seconds, compared in integer nanoseconds: no fractions, no rounding.
package releasegate.stepup

import data.releasegate.lib
import data.releasegate.workload as wl

cfg := data.gate.stepup

# required names each sensitive action the request performs.
required contains sprintf("deploying to restricted namespace %q", [wl.namespace]) if {
	wl.effective_sensitivity == "restricted"
}

required contains sprintf("running under break-glass Decision %q", [name]) if {
	some name in break_glass
}

# break_glass names the override Decisions that the releases the workload runs are admitted
# under; set by the admission package (admission.break_glass).
break_glass := data.releasegate.admission.break_glass

# satisfied holds when no step-up is needed or the assertion meets the contract.
satisfied if count(required) == 0

satisfied if wl.system_actor

satisfied if {
	strong
	fresh
}

deny contains msg if {
	not satisfied
	some action in required
	msg := sprintf("step-up required: %s needs a fresh strong authentication (%s); re-authenticate with MFA or WebAuthn and retry", [action, problem])
}

extra := lib.object_at(wl.user, "extra")

amr := [m | some m in lib.array_at(extra, cfg.amr_key); is_string(m)]

# auth_time_ns is the time of the last authentication: a single whole number of seconds since
# the epoch, as the apiserver mapping writes it; anything else is no authentication time.
auth_time_ns := to_number(values[0]) * 1000000000 if {
	values := lib.array_at(extra, cfg.auth_time_key)
	count(values) == 1
	is_string(values[0])
	count(values[0]) > 0
	count(values[0]) <= 12
	trim(values[0], "0123456789") == ""
}

age_ns := lib.now_ns - auth_time_ns

fresh if {
	age_ns >= 0 - (cfg.max_clock_skew_seconds * 1000000000)
	age_ns <= cfg.max_age_seconds * 1000000000
}

strong if {
	some m in amr
	m in cfg.strong_methods
}

seconds(ns) := format_int(ns / 1000000000, 10)

# problem says why the assertion does not satisfy the contract.
problem := sprintf("no authentication methods in userInfo.extra[%q]", [cfg.amr_key]) if {
	count(amr) == 0
} else := sprintf("authentication methods [%s] include none of %s", [concat(", ", amr), concat(", ", cfg.strong_methods)]) if {
	not strong
} else := sprintf("no authentication time (one whole number of seconds) in userInfo.extra[%q]", [cfg.auth_time_key]) if {
	not auth_time_ns
} else := sprintf("authentication time is %s s in the future", [seconds(0 - age_ns)]) if {
	age_ns < 0
} else := sprintf("last strong authentication was %s s ago, more than %s s", [seconds(age_ns), format_int(cfg.max_age_seconds, 10)]) if {
	true
}
