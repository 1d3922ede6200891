# The input contract: what the gate sends the policy, checked for shape and type before any rule
# relies on it. The webhook and the controller build these inputs from typed Rust values
# (src/policy/input.rs); this package is the policy's own guard against a caller that sends
# more, less or something else, so a malformed input is denied with a reason instead of being
# read as "nothing to object to". `data.contract[purpose]` lists the fields a purpose may carry
# (`true`: the field whole; an object: only those sub-fields); anything else is denied by name.
package releasegate.contract

import data.releasegate.lib
import data.releasegate.workload as wl

purposes := sort([p | some p, _ in data.contract])

purpose := input.purpose

# admission_valid and release_valid hold when the input has the shape of that purpose.
admission_valid if {
	input.purpose == "admission"
	count(admission_problems) == 0
}

release_valid if {
	input.purpose == "release"
	count(release_problems) == 0
}

# deny is every contract problem of the input, for the purpose it declares: none when
# contract_shaped holds, which checks them all at once (one rule body for a well-formed
# admission request instead of one per kind of problem). contract_shaped holds only when no
# finding does.
deny := set() if contract_shaped

else := deny_findings

contract_shaped if {
	input.purpose == "admission"
	allowed := data.contract.admission
	object.union(lib.root, allowed) == allowed
	admission_shaped
}

deny_findings contains msg if {
	not is_string(lib.at(lib.root, "purpose"))
	msg := sprintf("input contract: the input declares no purpose (found %v); set `purpose` to one of %s", [object.get(lib.root, "purpose", "nothing"), concat(", ", purposes)])
}

deny_findings contains msg if {
	is_string(input.purpose)
	not data.contract[input.purpose]
	msg := sprintf("input contract: purpose %q is not one of %s", [input.purpose, concat(", ", purposes)])
}

deny_findings contains msg if {
	is_string(input.purpose)
	allowed := data.contract[input.purpose]

	# Merging the input into its allowance changes the allowance only when the input carries a
	# field outside it (allowance leaves are `true`, which wins over the input's value): a
	# builtin's check, so that the field-by-field walk runs only for an input that fails it.
	object.union(lib.root, allowed) != allowed
	fields := extra_fields(allowed)
	count(fields) > 0
	msg := sprintf("input contract: purpose %q does not carry field(s) %s; remove them from the input", [input.purpose, concat(", ", fields)])
}

deny_findings contains msg if {
	input.purpose == "admission"
	some p in admission_problems
	msg := sprintf("input contract: %s", [p])
}

deny_findings contains msg if {
	input.purpose == "release"
	some p in release_problems
	msg := sprintf("input contract: %s", [p])
}

# extra_fields(allowed) lists the input's fields outside the allowance as dotted paths, down to
# the depth the allowance describes.
extra_fields(allowed) := sort((one | two) | three) if {
	one := object.keys(lib.root) - object.keys(allowed)
	two := {concat(".", [k, f]) |
		some k, spec in allowed
		is_object(spec)
		some f in object.keys(lib.object_at(lib.root, k)) - object.keys(spec)
	}
	three := {concat(".", [k, f, g]) |
		some k, spec in allowed
		is_object(spec)
		some f, sub in spec
		is_object(sub)
		some g in object.keys(lib.object_at(lib.object_at(lib.root, k), f)) - object.keys(sub)
	}
}

operations := {"CREATE", "UPDATE", "DELETE", "CONNECT"}

# --- admission -------------------------------------------------------------------------------
# Each check is a rule over the workload package's typed views (rules are evaluated once per
# request; helper-function calls cost the policy VM microseconds each).

req := object.get(lib.root, "request", null)

# admission_problems are the findings below; none when admission_shaped holds, which checks
# all of them at once so that a well-formed request is judged by one rule body instead of one
# per finding. admission_shaped holds only when no finding does.
admission_problems := set() if admission_shaped

else := admission_findings

admission_shaped if {
	is_object(req)
	uid_ok
	trim_space(wl.kind) != ""
	trim_space(wl.namespace) != ""
	wl.operation in operations
	is_object(object.get(wl.request, "object", null))
	is_string(object.get(wl.user, "username", null))
	count(wl.groups) == count(object.get(wl.user, "groups", []))
	extra_ok
	object.get(wl.namespace_object, ["metadata", "name"], null) == wl.namespace
	# all_strings of each label map: the workload package keeps the string-valued entries of
	# each, so a map is all strings exactly when it equals them.
	label_maps == [wl.namespace_labels, wl.meta_labels, wl.meta_annotations, wl.template_labels, wl.template_annotations]
	is_object(wl.pod_spec)
	every field in wl.container_fields {
		is_array(object.get(wl.pod_spec, field, []))
	}
	count(object.get(wl.pod_spec, "containers", [])) != 0
	containers_shaped
	is_object(releases_value)
	shaped_records == releases_value
	every d in object.keys(releases_value) {
		# lib.valid_digest(d), inline: a function call per digest costs more than its checks
		is_string(d)
		startswith(d, "sha256:")
		count(d) == 71
		trim(substring(d, 7, 64), "0123456789abcdef") == ""
	}
	decisions_shaped(decisions_value)
}

admission_findings contains "`request` must be the AdmissionRequest object" if not is_object(req)

uid_ok if {
	v := object.get(wl.request, "uid", null)
	is_string(v)
	trim_space(v) != ""
}

admission_findings contains "`request.uid` must be a non-empty string" if not uid_ok

admission_findings contains "`request.kind.kind` must name the kind under admission" if trim_space(wl.kind) == ""

admission_findings contains "`request.namespace` must name the namespace of the workload; the gate admits namespaced workloads only" if trim_space(wl.namespace) == ""

admission_findings contains sprintf("`request.operation` must be one of %s", [concat(", ", sort(operations))]) if not wl.operation in operations

admission_findings contains "`request.object` must be the object under admission" if not is_object(object.get(wl.request, "object", null))

admission_findings contains "`request.userInfo` must be an object with a string `username`" if not is_string(object.get(wl.user, "username", null))

admission_findings contains "`request.userInfo.groups` must be a list of strings" if {
	gs := object.get(wl.user, "groups", [])
	count(wl.groups) != count(gs)
}

admission_findings contains "`request.userInfo.extra` must be an object of string lists" if not extra_ok

extra_ok if {
	extra := object.get(wl.user, "extra", {})
	is_object(extra)
	every _, v in extra {
		is_array(v)
		every x in v {
			is_string(x)
		}
	}
}

admission_findings contains "`namespace` must be the Namespace object of the request (metadata.name and labels); a request without one is denied" if {
	not object.get(wl.namespace_object, ["metadata", "name"], null) == wl.namespace
}

admission_findings contains sprintf("`%s` must be an object of string values", [where]) if {
	some i, where in label_map_names
	not all_strings(label_maps[i])
}

label_map_names := ["namespace.metadata.labels", "metadata.labels", "metadata.annotations", "spec.template.metadata.labels", "spec.template.metadata.annotations"]

label_maps := [
	object.get(wl.namespace_object, ["metadata", "labels"], {}),
	object.get(wl.meta, "labels", {}),
	object.get(wl.meta, "annotations", {}),
	object.get(wl.template_meta, "labels", {}),
	object.get(wl.template_meta, "annotations", {}),
]

# all_strings(x): an object whose every value is a string. Only called per label map.
all_strings(x) if {
	is_object(x)
	every _, v in x {
		is_string(v)
	}
}

admission_findings contains sprintf("`%s` of the workload must be a list of containers", [field]) if {
	ps := wl.pod_spec
	some field in wl.container_fields
	not is_array(object.get(ps, field, []))
}

admission_findings contains "the pod spec must list at least one container in `containers`" if {
	is_object(wl.pod_spec)
	count(object.get(wl.pod_spec, "containers", [])) == 0
}

# containers_shaped: every container is an object with a non-empty string name and a string image.
containers_shaped if {
	every c in wl.containers {
		# container_shaped(c), inline: a function call per container costs more than its checks
		is_object(c)
		is_string(c.name)
		trim_space(c.name) != ""
		is_string(c.image)
	}
}

admission_findings contains sprintf("container #%d of %s must be an object with a string `name` and `image`", [i, field]) if {
	not containers_shaped
	some field in wl.container_fields
	cs := object.get(wl.pod_spec, field, [])
	is_array(cs)
	some i, c in cs
	not container_shaped(c)
}

releases_value := object.get(lib.root, "releases", null)

admission_findings contains "`releases` must map image digests (sha256:…) to lists of release records" if not is_object(releases_value)

# shaped_records maps each digest of `releases` to its well-formed records.
shaped_records := {d: [r |
	some r in rs
	is_object(r)
	is_string(r.name)
	r.name != ""
	is_string(r.namespace)
	r.namespace != ""
	r.digest == d
	is_boolean(r.ready)
	is_array(r.reasons)
	every x in r.reasons {
		is_string(x)
	}
	is_array(r.overrides)
	every x in r.overrides {
		is_string(x)
	}
] |
	is_object(releases_value)
	some d, rs in releases_value
	is_array(rs)
}

admission_findings contains sprintf("`releases[%q]` must be a list of release records {name, namespace, digest, ready, reasons, overrides} for that digest", [d]) if {
	is_object(releases_value)
	some d, records in releases_value
	not records_ok(d, records)
}

records_ok(d, records) if {
	lib.valid_digest(d)
	is_array(records)
	count(shaped_records[d]) == count(records)
}

decisions_value := object.get(lib.root, "decisions", null)

admission_findings contains "`decisions` must be a list of Decision objects (metadata.name, metadata.namespace, spec.type)" if not decisions_shaped(decisions_value)

container_shaped(c) if {
	is_object(c)
	is_string(c.name)
	trim_space(c.name) != ""
	is_string(c.image)
}

decisions_shaped(ds) if {
	is_array(ds)
	every d in ds {
		is_object(d)
		is_string(d.metadata.name)
		is_string(d.metadata.namespace)
		is_string(d.spec.type)
	}
}

# --- release ---------------------------------------------------------------------------------

rel := lib.object_at(lib.root, "release")

evidence := lib.object_at(rel, "evidence")

vulns := lib.object_at(evidence, "vulnerabilities")

release_problems contains "`release` must be the release summary object {metadata, digest, evidence, budget}" if not is_object(lib.at(lib.root, "release"))

release_problems contains sprintf("`release.metadata.%s` must be a non-empty string", [f]) if {
	some f in ["name", "namespace"]
	not lib.nonblank(lib.at(rel, ["metadata", f]))
}

release_problems contains sprintf("`release.metadata.%s` must be an object of string values", [f]) if {
	some f in ["labels", "annotations"]
	not all_strings(object.get(lib.object_at(rel, "metadata"), f, {}))
}

release_problems contains "`release.digest` must be sha256:<64 lowercase hex>" if not lib.valid_digest(lib.at(rel, "digest"))

release_problems contains sprintf("`release.evidence.%s.verified` must be true or false", [part]) if {
	some part in ["signature", "sbom", "provenance", "vulnerabilities"]
	not is_boolean(lib.at(evidence, [part, "verified"]))
}

release_problems contains sprintf("`release.evidence.sbom.%s` must be a string", [f]) if {
	evidence.sbom.verified == true
	some f in ["format"]
	not is_string(lib.at(evidence, ["sbom", f]))
}

release_problems contains sprintf("`release.evidence.provenance.%s` must be a non-empty string", [f]) if {
	evidence.provenance.verified == true
	some f in ["predicateType", "builder"]
	not lib.nonblank(lib.at(evidence, ["provenance", f]))
}

release_problems contains sprintf("`release.evidence.vulnerabilities.%s` must be a whole number of findings, 0 or more (found %v)", [s, object.get(vulns, s, "nothing")]) if {
	vulns.verified == true
	some s in ["critical", "high", "medium", "low", "unknown"]
	not lib.count_value(lib.at(vulns, s))
}

release_problems contains "`release.evidence.vulnerabilities.criticalIds` must list the critical advisory IDs as strings, without duplicates" if {
	vulns.verified == true
	not unique_strings(lib.at(vulns, "criticalIds"))
}

release_problems contains sprintf("`release.evidence.vulnerabilities`: %v critical findings but %d critical IDs; the counts and the IDs must agree", [vulns.critical, count(vulns.criticalIds)]) if {
	vulns.verified == true
	unique_strings(vulns.criticalIds)
	lib.count_value(vulns.critical)
	vulns.critical != count(vulns.criticalIds)
}

release_problems contains "`release.evidence.vulnerabilities.stale` must be true or false" if {
	lib.has_key(vulns, "stale")
	not is_boolean(lib.at(vulns, "stale"))
}

release_problems contains "`release.budget` must be an object" if {
	lib.has_key(rel, "budget")
	not is_object(lib.at(rel, "budget"))
}

release_problems contains sprintf("`release.budget.%s` must be a whole number, 0 or more, or absent for no limit (found %v)", [s, v]) if {
	some s, v in lib.object_at(rel, "budget")
	s in data.gate.release.budgeted_severities
	not lib.count_value(v)
}

release_problems contains "`decisions` must be a list of Decision objects (metadata.name, metadata.namespace, spec.type)" if {
	lib.has_key(lib.root, "decisions")
	not decisions_shaped(lib.at(lib.root, "decisions"))
}

unique_strings(xs) if {
	lib.strings(xs)
	count({x | some x in xs}) == count(xs)
}
