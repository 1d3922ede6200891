# Decision guard: a workload or release labelled as a `release` or `schema-change` change must
# reference an existing, unexpired approval Decision, so risky changes always have an owner.
package releasegate.guard

import data.releasegate.lib

# violations(subject, meta, ns, decisions) is the set of reasons the labelled change may not
# proceed; meta holds the object's `labels` and `annotations`.
violations(subject, meta, ns, decisions) := {msg |
	change := object.get(meta, ["labels", lib.labels.change], "")
	change in data.gate.guard.guarded_changes
	msg := problem(subject, change, object.get(meta, ["annotations", lib.labels.decision], ""), ns, decisions)
}

problem(subject, change, ref, ns, decisions) := msg if {
	ref == ""
	msg := sprintf(
		"%s is labelled %s=%s and must reference an approval Decision: set annotation %s to the name of an unexpired Decision of type %s in its namespace",
		[subject, lib.labels.change, change, lib.labels.decision, concat(" or ", data.gate.guard.accepted_types)],
	)
} else := msg if {
	count([d | some d in lib.decisions_in(decisions, ns); d.metadata.name == ref]) == 0
	msg := sprintf("%s references Decision %q, which does not exist in namespace %q; create it or fix annotation %s", [subject, ref, ns, lib.labels.decision])
} else := msg if {
	some d in lib.decisions_in(decisions, ns)
	d.metadata.name == ref
	not d.spec.type in data.gate.guard.accepted_types
	msg := sprintf("%s references Decision %q of type %s; a %s change needs a Decision of type %s", [subject, ref, d.spec.type, change, concat(" or ", data.gate.guard.accepted_types)])
} else := msg if {
	some d in lib.decisions_in(decisions, ns)
	d.metadata.name == ref
	not lib.decision_active(d)
	msg := sprintf("%s references Decision %q, which expired at %s; renew the decision or record a new one", [subject, ref, object.get(d.spec, "expires", "(no expiry)")])
}
