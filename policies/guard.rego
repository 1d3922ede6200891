# Decision guard: a workload or release labelled as a `release` or `schema-change` change must
# reference an unexpired Approval Decision of its namespace whose scope names it, so risky
# changes always have an owner. Label values are matched case-insensitively; a value the gate
# does not know is denied rather than read as "not guarded".
package releasegate.guard

import data.releasegate.lib

# change(meta) is the change kind an object's labels declare, normalised; undefined if none.
change(meta) := lower(trim_space(v)) if {
	v := lib.object_at(meta, "labels")[lib.labels.change]
	is_string(v)
}

reference(meta) := trim_space(lib.string_at(lib.object_at(meta, "annotations"), lib.labels.decision))

known_changes := {c | some c in data.gate.guard.guarded_changes} | {c | some c in data.gate.guard.unguarded_changes}

# satisfied(subject, meta, ns, decisions, targets) holds when the object needs no approval or
# has one. `targets` maps scope fields (workloads, releases, digests) to the names that an
# Approval's scope may use to cover this object.
satisfied(_, meta, _, _, _) if not change(meta)

satisfied(_, meta, _, _, _) if change(meta) in data.gate.guard.unguarded_changes

satisfied(_, meta, ns, decisions, targets) if {
	change(meta) in data.gate.guard.guarded_changes
	some d in approvals(reference(meta), ns, decisions)
	approves(d, targets)
}

approvals(ref, ns, decisions) := [d |
	ref != ""
	some d in lib.decisions_in(decisions, ns)
	d.metadata.name == ref
]

# approves(d, targets): an accepted type, unexpired, and its scope names one of the targets.
approves(d, targets) if {
	d.spec.type in data.gate.guard.accepted_types
	lib.decision_active(d)
	scope_names(d, targets)
}

scope_names(d, targets) if {
	some field, names in targets
	some n in names
	n in lib.array_at(lib.object_at(d.spec, "scope"), field)
}

# violations(subject, meta, ns, decisions, targets) is the set of reasons the labelled change
# may not proceed.
violations(subject, meta, ns, decisions, targets) := {msg |
	not satisfied(subject, meta, ns, decisions, targets)
	msg := problem(subject, meta, ns, decisions, targets)
}

problem(subject, meta, ns, decisions, targets) := msg if {
	not change(meta) in known_changes
	msg := sprintf("%s is labelled %s=%q, which the gate does not know; use one of %s", [subject, lib.labels.change, change(meta), concat(", ", sort(known_changes))])
} else := msg if {
	reference(meta) == ""
	msg := sprintf(
		"%s is labelled %s=%s and must reference an approval Decision: set annotation %s to the name of an unexpired Decision of type %s in its namespace whose scope names it",
		[subject, lib.labels.change, change(meta), lib.labels.decision, concat(" or ", data.gate.guard.accepted_types)],
	)
} else := msg if {
	count(approvals(reference(meta), ns, decisions)) == 0
	msg := sprintf("%s references Decision %q, which does not exist in namespace %q; create it or fix annotation %s", [subject, reference(meta), ns, lib.labels.decision])
} else := msg if {
	some d in approvals(reference(meta), ns, decisions)
	not d.spec.type in data.gate.guard.accepted_types
	msg := sprintf("%s references Decision %q of type %s; a %s change needs a Decision of type %s", [subject, reference(meta), d.spec.type, change(meta), concat(" or ", data.gate.guard.accepted_types)])
} else := msg if {
	some d in approvals(reference(meta), ns, decisions)
	not lib.expires_ns(d)
	msg := sprintf("%s references Decision %q, which has no valid expiry; an approval must end: set spec.expires", [subject, reference(meta)])
} else := msg if {
	some d in approvals(reference(meta), ns, decisions)
	not lib.decision_active(d)
	msg := sprintf("%s references Decision %q, which expired at %s; renew the decision or record a new one", [subject, reference(meta), d.spec.expires])
} else := msg if {
	msg := sprintf("%s references Decision %q, whose scope does not name it; add one of %s to the Decision's scope", [subject, reference(meta), target_list(targets)])
}

target_list(targets) := concat(", ", [sprintf("%s: %s", [field, n]) | some field, names in targets; some n in names])
