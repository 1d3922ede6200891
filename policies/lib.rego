# Shared helpers: the clock, Decision validity and attribute lookups, so that every package
# agrees on what "unexpired" and "sensitivity" mean.
package releasegate.lib

# The label and annotation keys the gate reads (data.json `gate.labels`).
labels := data.gate.labels

# The evaluation clock. Tests pin it with `with time.now_ns as <ns>`.
now_ns := time.now_ns()

# decision_active(d) holds when Decision d has not expired. An Override without an expiry is
# never active: overrides must end.
decision_active(d) if {
	not d.spec.expires
	d.spec.type != "Override"
}

decision_active(d) if {
	time.parse_rfc3339_ns(d.spec.expires) > now_ns
}

# decision_expired(d) holds when Decision d names an expiry that has passed.
decision_expired(d) if {
	time.parse_rfc3339_ns(d.spec.expires) <= now_ns
}

# decisions_in(decisions, ns) are the Decisions recorded in namespace ns.
decisions_in(decisions, ns) := [d | some d in decisions; d.metadata.namespace == ns]

# sensitivity(labels) is the sensitivity an object declares, or the configured default.
sensitivity(obj_labels) := object.get(obj_labels, labels.sensitivity, data.gate.abac.default_sensitivity)

# known_sensitivity(s) holds for the sensitivity levels data.json defines.
known_sensitivity(s) if data.gate.abac.sensitivity_levels[s] >= 0

# sensitivity_names is the list of levels, for messages.
sensitivity_names := sort([s | some s, _ in data.gate.abac.sensitivity_levels])
