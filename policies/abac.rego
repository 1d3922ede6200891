# Attribute-based admission: the workload's and namespace's `sensitivity`, `origin` and
# `legal_basis` attributes (labels) and the requesting user's groups decide who may run what
# where. Attributes live on objects the platform already governs, so no separate ACL drifts.
# The effective sensitivity is the stricter of the namespace's and the workload's: leaving a
# label off never makes a workload less sensitive than the namespace it runs in.
package releasegate.abac

import data.releasegate.lib
import data.releasegate.workload as wl

levels := data.gate.abac.sensitivity_levels

origin_key := lib.labels.origin

basis_key := lib.labels.legal_basis

# satisfied holds when every attribute rule is positively met.
satisfied if {
	levels[wl.sensitivity] <= levels[wl.namespace_sensitivity]
	groups_ok
	origin_ok
	legal_basis_ok
}

groups_ok if wl.system_actor

groups_ok if {
	levels[wl.effective_sensitivity]
	not data.gate.abac.deployer_groups[wl.effective_sensitivity]
}

groups_ok if {
	some g in wl.groups
	g in data.gate.abac.deployer_groups[wl.effective_sensitivity]
}

origin_ok if not lib.has_key(wl.namespace_labels, origin_key)

origin_ok if wl.labels[origin_key] == wl.namespace_labels[origin_key]

legal_basis_ok if {
	not wl.effective_sensitivity in data.gate.abac.personal_data_levels
	basis_matches_namespace
}

legal_basis_ok if {
	wl.effective_sensitivity in data.gate.abac.personal_data_levels
	wl.labels[basis_key] in data.gate.abac.legal_bases
	basis_matches_namespace
}

basis_matches_namespace if not lib.has_key(wl.namespace_labels, basis_key)

basis_matches_namespace if not lib.has_key(wl.labels, basis_key)

basis_matches_namespace if wl.labels[basis_key] == wl.namespace_labels[basis_key]

deny contains msg if {
	some owner, s in {"workload": wl.sensitivity, "namespace": wl.namespace_sensitivity}
	not levels[s]
	msg := sprintf("%s: %s label %s=%q is not a sensitivity level; use one of %s", [wl.subject, owner, lib.labels.sensitivity, s, concat(", ", lib.sensitivity_names)])
}

deny contains msg if {
	levels[wl.sensitivity] > levels[wl.namespace_sensitivity]
	msg := sprintf("%s: workload sensitivity %s exceeds namespace %q sensitivity %s; run it in a namespace cleared for %s data", [wl.subject, wl.sensitivity, wl.namespace, wl.namespace_sensitivity, wl.sensitivity])
}

deny contains msg if {
	not groups_ok
	required := data.gate.abac.deployer_groups[wl.effective_sensitivity]
	msg := sprintf("%s: user %q may not deploy to %s namespace %q; it needs membership of one of the groups %s", [wl.subject, wl.username, wl.effective_sensitivity, wl.namespace, concat(", ", required)])
}

deny contains msg if {
	not origin_ok
	ns_origin := wl.namespace_labels[origin_key]
	origin := object.get(wl.labels, origin_key, "")
	msg := sprintf("%s: workload origin %q does not match namespace %q origin %q; label the workload %s=%s or deploy it where its data may go", [wl.subject, origin, wl.namespace, ns_origin, origin_key, ns_origin])
}

deny contains msg if {
	wl.effective_sensitivity in data.gate.abac.personal_data_levels
	basis := object.get(wl.labels, basis_key, "")
	not basis in data.gate.abac.legal_bases
	msg := sprintf("%s: a %s workload must declare its legal basis: label %s with one of %s (found %q)", [wl.subject, wl.effective_sensitivity, basis_key, concat(", ", data.gate.abac.legal_bases), basis])
}

deny contains msg if {
	not basis_matches_namespace
	msg := sprintf("%s: workload legal basis %q differs from namespace %q legal basis %q", [wl.subject, wl.labels[basis_key], wl.namespace, wl.namespace_labels[basis_key]])
}
