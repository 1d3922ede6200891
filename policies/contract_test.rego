package releasegate.contract_test

import data.releasegate.contract
import data.releasegate.fixtures as fx

# The contract's findings for an input, exactly: a well-formed request is checked at once, a
# malformed one finding by finding; these cases hold the two to the same messages.
findings(inp) := v if {
	v := contract.deny with input as inp
}

problem(p) := {concat("", ["input contract: ", p])}

extra(fields) := {sprintf("input contract: purpose \"admission\" does not carry field(s) %s; remove them from the input", [fields])}

dep(template_meta) := {"kind": "Deployment", "metadata": {"name": "api", "labels": fx.pod_labels}, "spec": {"template": {"metadata": template_meta, "spec": {"containers": [{"name": "api", "image": fx.image}]}}}}

with_obj(obj) := fx.admission(obj, fx.ns_labels, fx.user, {fx.digest: [fx.ready_record]}, [])

test_well_formed_requests_have_no_finding if {
	findings(fx.base) == set()
	contract.admission_valid with input as fx.base
	findings(with_obj(dep({"labels": fx.pod_labels, "annotations": {"a": "b"}}))) == set()
}

test_extra_field_at_each_depth_named_alone if {
	findings(object.union(fx.base, {"secrets": {}})) == extra("secrets")
	findings(object.union(fx.base, {"request": {"oldObject": {}}})) == extra("request.oldObject")
	findings(object.union(fx.base, {"namespace": {"spec": {}}})) == extra("namespace.spec")
	findings(object.union(fx.base, {"namespace": {"metadata": {"uid": "x"}}})) == extra("namespace.metadata.uid")
	findings(object.union(fx.base, {"namespace": {"metadata": {"uid": null, "finalizers": false}}})) == extra("namespace.metadata.finalizers, namespace.metadata.uid")
}

test_extra_fields_are_named_whatever_their_value if {
	every v in [null, false, true, 0, "", [], {}] {
		findings(object.union(fx.base, {"secrets": v, "request": {"oldObject": v}})) == extra("request.oldObject, secrets")
	}
}

test_a_non_object_where_the_allowance_lists_fields_is_not_read_for_fields if {
	findings(object.union(fx.base, {"namespace": {"metadata": ["uid"]}})) == problem("`namespace` must be the Namespace object of the request (metadata.name and labels); a request without one is denied")
	findings(object.union(fx.base, {"namespace": "payments"})) == problem("`namespace` must be the Namespace object of the request (metadata.name and labels); a request without one is denied")
	msgs := findings(object.union(fx.base, {"request": ["uid"]}))
	fx.has(msgs, "`request` must be the AdmissionRequest object")
	not fx.has(msgs, "does not carry")
}

test_each_label_map_must_hold_strings if {
	findings(fx.admission(fx.pod(fx.pod_labels, {}, [fx.image]), "x", fx.user, {fx.digest: [fx.ready_record]}, [])) == problem("`namespace.metadata.labels` must be an object of string values")
	findings(with_obj(fx.pod(fx.pod_labels, {"a": 1}, [fx.image]))) == problem("`metadata.annotations` must be an object of string values")
	findings(with_obj(fx.pod(fx.pod_labels, [], [fx.image]))) == problem("`metadata.annotations` must be an object of string values")
	findings(with_obj(dep({"labels": {"a": null}}))) == problem("`spec.template.metadata.labels` must be an object of string values")
	findings(with_obj(dep({"labels": fx.pod_labels, "annotations": "a=b"}))) == problem("`spec.template.metadata.annotations` must be an object of string values")
}

test_containers_of_the_wrong_shape_are_named if {
	every c in [{"name": " ", "image": fx.image}, {"name": "x"}, {"name": 1, "image": fx.image}, "x", null] {
		p := object.union(fx.pod(fx.pod_labels, {}, [fx.image]), {"spec": {"initContainers": [c]}})
		findings(with_obj(p)) == problem("container #0 of initContainers must be an object with a string `name` and `image`")
	}
	p := object.union(fx.pod(fx.pod_labels, {}, [fx.image]), {"spec": {"ephemeralContainers": {}}})
	findings(with_obj(p)) == problem("`ephemeralContainers` of the workload must be a list of containers")
}

test_release_keys_must_be_digests if {
	every d in [
		"sha256:3B0C9A7F1D2E4C5B6A798877665544332211FFEEDDCCBBAA0099887766554433",
		"sha256:3b0c9a7f1d2e4c5b6a798877665544332211ffeeddccbbaa009988776655443",
		"sha256:3b0c9a7f1d2e4c5b6a798877665544332211ffeeddccbbaa00998877665544330",
		"sha512:3b0c9a7f1d2e4c5b6a798877665544332211ffeeddccbbaa0099887766554433",
		"sha256:3b0c9a7f1d2e4c5b6a798877665544332211ffeeddccbbaa009988776655443g",
		"",
	] {
		rec := object.union(fx.ready_record, {"digest": d})
		inp := fx.admission(fx.pod(fx.pod_labels, {}, [fx.image]), fx.ns_labels, fx.user, {fx.digest: [fx.ready_record], d: [rec]}, [])
		findings(inp) == problem(sprintf("`releases[%q]` must be a list of release records {name, namespace, digest, ready, reasons, overrides} for that digest", [d]))
	}
}

test_release_records_must_be_shaped if {
	every records in [[object.union(fx.ready_record, {"ready": "true"})], [fx.ready_record, null], {"r": fx.ready_record}, null] {
		inp := fx.admission(fx.pod(fx.pod_labels, {}, [fx.image]), fx.ns_labels, fx.user, {fx.digest: records}, [])
		findings(inp) == problem(sprintf("`releases[%q]` must be a list of release records {name, namespace, digest, ready, reasons, overrides} for that digest", [fx.digest]))
	}
}

test_decisions_must_be_shaped if {
	every ds in [null, {}, [null], [{"metadata": {"name": "a", "namespace": "payments"}, "spec": {"type": 1}}]] {
		inp := fx.admission(fx.pod(fx.pod_labels, {}, [fx.image]), fx.ns_labels, fx.user, {fx.digest: [fx.ready_record]}, ds)
		findings(inp) == problem("`decisions` must be a list of Decision objects (metadata.name, metadata.namespace, spec.type)")
	}
}
