# Quarantine: an image digest a CanaryDrill rolled back may not come straight back. The drill
# records its rollback as a Decision of type Rollback whose scope names the canary's digest (and
# the releases of that digest in the namespace). Until a person clears it, the release of that
# digest is Blocked (data.releasegate.release) and workloads of the namespace that run it are
# denied (data.releasegate.admission).
#
# Clearing is explicit and cannot be replayed: an Approval Decision of the same namespace,
# created after the Rollback Decision (by the API server's clock), whose scope names the digest
# or the release and every drill the rollback names. An Approval recorded before the rollback
# (e.g. the one that let the canary start) does not clear it; a missing or malformed
# creationTimestamp on either Decision never clears. Deleting the clearing Approval brings the
# quarantine back; its expiry does not (the guard's use of the same Approval still ends then).
package releasegate.quarantine

import data.releasegate.lib

# holding(targets, ns, decisions) are the Rollback Decisions of namespace ns that name one of
# targets ({"digests": [...], "releases": [...]}) and are not cleared.
holding(targets, ns, decisions) := [q |
	some q in lib.decisions_in(decisions, ns)
	q.spec.type == "Rollback"
	names(q, targets)
	not cleared(q, targets, ns, decisions)
]

names(d, targets) if {
	some field, wanted in targets
	some n in wanted
	n in scope(d, field)
}

scope(d, field) := lib.array_at(lib.object_at(d.spec, "scope"), field)

cleared(q, targets, ns, decisions) if {
	some a in lib.decisions_in(decisions, ns)
	a.spec.type == "Approval"
	names(a, targets)
	every drill in scope(q, "drills") {
		drill in scope(a, "drills")
	}
	created_after(a, q)
}

created_after(a, q) if {
	lib.rfc3339_ns(lib.string_at(lib.object_at(a, "metadata"), "creationTimestamp")) > lib.rfc3339_ns(lib.string_at(lib.object_at(q, "metadata"), "creationTimestamp"))
}

# problem(subject, q) says why Rollback Decision q holds subject, and how to clear it.
problem(subject, q) := sprintf(
	"%s is quarantined: CanaryDrill %s rolled it back (Decision %s/%s); it may run again once an Approval Decision created after that rollback names it%s",
	[subject, drill_list(q), q.metadata.namespace, q.metadata.name, drill_clause(q)],
)

drill_list(q) := "(none named)" if count(scope(q, "drills")) == 0

else := concat(", ", [d | some d in scope(q, "drills"); is_string(d)])

drill_clause(q) := "" if count(scope(q, "drills")) == 0

else := sprintf(" and drill %s in spec.scope.drills", [drill_list(q)])
