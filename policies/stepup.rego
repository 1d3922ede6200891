# Step-up contract: sensitive actions (deploying to a restricted namespace, running under a
# break-glass override) need a fresh strong authentication. The assertion arrives in the
# request's userInfo.extra, mapped from the OIDC `amr` and `auth_time` claims by the apiserver's
# structured authentication config (see README.md); a missing or stale one is denied.
package releasegate.stepup

import data.releasegate.lib
import data.releasegate.release
import data.releasegate.workload as wl

cfg := data.gate.stepup

# required names each sensitive action the request performs.
required contains sprintf("deploying to restricted namespace %q", [wl.namespace]) if {
	wl.namespace_sensitivity == "restricted"
}

required contains sprintf("running under break-glass Decision %q", [name]) if {
	some name in break_glass
}

# break_glass names the override Decisions the workload's images run under.
break_glass contains name if {
	some c in wl.containers
	rel := object.get(input, "releases", {})[wl.image_digest(c.image)]
	some name in release.break_glass(rel, object.get(input, "decisions", []))
}

deny contains msg if {
	not wl.system_actor
	some action in required
	msg := sprintf("step-up required: %s needs a fresh strong authentication (%s); re-authenticate with MFA or WebAuthn and retry", [action, problem])
}

extra := object.get(wl.user, "extra", {})

amr := object.get(extra, cfg.amr_key, [])

# auth_time_s is the time of the last authentication, in seconds since the epoch.
auth_time_s := to_number(extra[cfg.auth_time_key][0])

age_s := (lib.now_ns / 1000000000) - auth_time_s

strong if {
	some m in amr
	m in cfg.strong_methods
}

# problem says why the assertion does not satisfy the contract; undefined when it does.
problem := sprintf("no authentication methods in userInfo.extra[%q]", [cfg.amr_key]) if {
	count(amr) == 0
} else := sprintf("authentication methods [%s] include none of %s", [concat(", ", amr), concat(", ", cfg.strong_methods)]) if {
	not strong
} else := sprintf("no authentication time in userInfo.extra[%q]", [cfg.auth_time_key]) if {
	not auth_time_s
} else := sprintf("authentication time is %d s in the future", [0 - age_s]) if {
	age_s < 0 - cfg.max_clock_skew_seconds
} else := sprintf("last strong authentication was %d s ago, more than %d s", [age_s, cfg.max_age_seconds]) if {
	age_s > cfg.max_age_seconds
}
