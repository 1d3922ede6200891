package releasegate.guard_test

import data.releasegate.admission
import data.releasegate.fixtures as fx
import data.releasegate.guard
import data.releasegate.workload

change(kind) := object.union(fx.pod_labels, {"releasegate.dev/change": kind})

ref(name) := {"releasegate.dev/decision": name}

targets := {"workloads": ["Pod/api"], "releases": ["api"], "digests": [fx.digest]}

violations(labels, annotations, decisions) := v if {
	# locals: see fixtures.now
	t := targets
	now := fx.now
	v := guard.violations("Pod payments/api", {"labels": labels, "annotations": annotations}, "payments", decisions, t) with time.now_ns as now
}

test_unlabelled_workload_needs_no_decision if {
	count(violations(fx.pod_labels, {}, [])) == 0
}

test_unguarded_change_kind_needs_no_decision if {
	count(violations(change("config"), {}, [])) == 0
}

test_unknown_change_kind_denied if {
	violations(change("hotfix"), {}, []) == {"Pod payments/api is labelled releasegate.dev/change=\"hotfix\", which the gate does not know; use one of config, release, schema-change"}
}

test_release_change_without_reference_denied if {
	violations(change("release"), {}, [fx.approval]) == {"Pod payments/api is labelled releasegate.dev/change=release and must reference an approval Decision: set annotation releasegate.dev/decision to the name of an unexpired Decision of type Approval in its namespace whose scope names it"}
}

test_label_values_match_case_insensitively if {
	fx.has(violations(change("Schema-Change"), {}, []), "labelled releasegate.dev/change=schema-change")
	fx.has(violations(change(" RELEASE "), {}, []), "labelled releasegate.dev/change=release")
	count(violations(change("Release"), ref("approve-api"), [fx.approval])) == 0
}

test_reference_to_missing_decision_denied if {
	violations(change("release"), ref("nope"), [fx.approval]) == {"Pod payments/api references Decision \"nope\", which does not exist in namespace \"payments\"; create it or fix annotation releasegate.dev/decision"}
}

test_reference_to_decision_in_other_namespace_denied if {
	other := object.union(fx.approval, {"metadata": {"namespace": "other"}})
	fx.has(violations(change("release"), ref("approve-api"), [other]), "which does not exist in namespace \"payments\"")
}

test_reference_to_expired_decision_denied if {
	old := fx.decision("approve-api", "Approval", "2026-05-01T00:00:00Z", {"workloads": ["Pod/api"]})
	violations(change("release"), ref("approve-api"), [old]) == {"Pod payments/api references Decision \"approve-api\", which expired at 2026-05-01T00:00:00Z; renew the decision or record a new one"}
}

test_reference_to_wrong_type_denied if {
	fx.has(violations(change("schema-change"), ref("override-api"), [fx.override]), "references Decision \"override-api\" of type Override; a schema-change change needs a Decision of type Approval")
}

test_schema_change_with_approval_allowed if {
	count(violations(change("schema-change"), ref("approve-api"), [fx.approval])) == 0
}

test_approval_without_expiry_denied if {
	d := {"metadata": {"name": "approve-api", "namespace": "payments"}, "spec": {"type": "Approval", "scope": {"workloads": ["Pod/api"]}}}
	fx.has(violations(change("release"), ref("approve-api"), [d]), "has no valid expiry; an approval must end")
}

test_approval_scoped_to_something_else_denied if {
	d := fx.decision("approve-api", "Approval", "2026-12-31T00:00:00Z", {"releases": ["web"], "workloads": ["Deployment/api"]})
	fx.has(violations(change("release"), ref("approve-api"), [d]), "whose scope does not name it; add one of digests: sha256:3b0c9a7f1d2e4c5b6a798877665544332211ffeeddccbbaa0099887766554433, releases: api, workloads: Pod/api to the Decision's scope")
	unscoped := fx.decision("approve-api", "Approval", "2026-12-31T00:00:00Z", {})
	fx.has(violations(change("release"), ref("approve-api"), [unscoped]), "whose scope does not name it")
}

test_approval_by_digest_allowed if {
	d := fx.decision("approve-api", "Approval", "2026-12-31T00:00:00Z", {"digests": [fx.digest]})
	count(violations(change("release"), ref("approve-api"), [d])) == 0
}

test_deployment_template_label_guarded if {
	dep := {"kind": "Deployment", "metadata": {"name": "api"}, "spec": {"template": {"metadata": {"labels": change("release")}, "spec": {"containers": [{"name": "api", "image": fx.image}]}}}}
	inp := fx.admission(dep, fx.ns_labels, fx.user, {fx.digest: [fx.ready_record]}, [fx.approval])
	workload.guard_meta.labels["releasegate.dev/change"] == "release" with input as inp
	d := admission.decision with input as inp with time.now_ns as fx.now
	fx.has(d.reasons, "Deployment payments/api is labelled releasegate.dev/change=release and must reference")
}

test_admission_approval_names_the_workload_or_its_release if {
	pod := fx.pod(change("release"), ref("approve-api"), [fx.image])
	inp := fx.admission(pod, fx.ns_labels, fx.user, {fx.digest: [fx.ready_record]}, [fx.approval])
	d := admission.decision with input as inp with time.now_ns as fx.now
	d.allowed
	by_release := fx.decision("approve-api", "Approval", "2026-12-31T00:00:00Z", {"releases": ["api"]})
	d2 := admission.decision with input as object.union(inp, {"decisions": [by_release]}) with time.now_ns as fx.now
	d2.allowed
	elsewhere := fx.decision("approve-api", "Approval", "2026-12-31T00:00:00Z", {"releases": ["web"]})
	d3 := admission.decision with input as object.union(inp, {"decisions": [elsewhere]}) with time.now_ns as fx.now
	not d3.allowed
}
