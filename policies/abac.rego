# Attribute-based admission: the workload's and namespace's `sensitivity`, `origin` and
# `legal_basis` attributes (labels) and the requesting user's groups decide who may run what
# where. Attributes live on objects the platform already governs, so no separate ACL drifts.
package releasegate.abac

import data.releasegate.lib
import data.releasegate.workload as wl

levels := data.gate.abac.sensitivity_levels

deny contains msg if {
	some owner, obj_labels in {"workload": wl.labels, "namespace": wl.namespace_labels}
	s := lib.sensitivity(obj_labels)
	not lib.known_sensitivity(s)
	msg := sprintf("%s: %s label %s=%q is not a sensitivity level; use one of %s", [wl.subject, owner, lib.labels.sensitivity, s, concat(", ", lib.sensitivity_names)])
}

deny contains msg if {
	levels[wl.sensitivity] > levels[wl.namespace_sensitivity]
	msg := sprintf("%s: workload sensitivity %s exceeds namespace %q sensitivity %s; run it in a namespace cleared for %s data", [wl.subject, wl.sensitivity, wl.namespace, wl.namespace_sensitivity, wl.sensitivity])
}

deny contains msg if {
	not wl.system_actor
	required := data.gate.abac.deployer_groups[wl.namespace_sensitivity]
	count({g | some g in wl.groups; g in required}) == 0
	msg := sprintf("%s: user %q may not deploy to %s namespace %q; it needs membership of one of the groups %s", [wl.subject, wl.username, wl.namespace_sensitivity, wl.namespace, concat(", ", required)])
}

deny contains msg if {
	ns_origin := wl.namespace_labels[lib.labels.origin]
	origin := object.get(wl.labels, lib.labels.origin, "")
	origin != ns_origin
	msg := sprintf("%s: workload origin %q does not match namespace %q origin %q; label the workload %s=%s or deploy it where its data may go", [wl.subject, origin, wl.namespace, ns_origin, lib.labels.origin, ns_origin])
}

deny contains msg if {
	wl.sensitivity in data.gate.abac.personal_data_levels
	basis := object.get(wl.labels, lib.labels.legal_basis, "")
	not basis in data.gate.abac.legal_bases
	msg := sprintf("%s: a %s workload must declare its legal basis: label %s with one of %s (found %q)", [wl.subject, wl.sensitivity, lib.labels.legal_basis, concat(", ", data.gate.abac.legal_bases), basis])
}

deny contains msg if {
	ns_basis := wl.namespace_labels[lib.labels.legal_basis]
	basis := wl.labels[lib.labels.legal_basis]
	basis != ns_basis
	msg := sprintf("%s: workload legal basis %q differs from namespace %q legal basis %q", [wl.subject, basis, wl.namespace, ns_basis])
}
