package releasegate.guard_test

import data.releasegate.fixtures as fx
import data.releasegate.guard
import data.releasegate.release
import data.releasegate.workload

change(kind) := object.union(fx.pod_labels, {"releasegate.dev/change": kind})

ref(name) := {"releasegate.dev/decision": name}

violations(labels, annotations, decisions) := v if {
	v := guard.violations("Pod payments/api", {"labels": labels, "annotations": annotations}, "payments", decisions) with time.now_ns as fx.now
}

test_unlabelled_workload_needs_no_decision if {
	count(violations(fx.pod_labels, {}, [])) == 0
}

test_other_change_kind_needs_no_decision if {
	count(violations(change("config"), {}, [])) == 0
}

test_release_change_without_reference_denied if {
	violations(change("release"), {}, [fx.approval]) == {"Pod payments/api is labelled releasegate.dev/change=release and must reference an approval Decision: set annotation releasegate.dev/decision to the name of an unexpired Decision of type Approval in its namespace"}
}

test_schema_change_without_reference_denied if {
	fx.has(violations(change("schema-change"), {}, []), "labelled releasegate.dev/change=schema-change")
}

test_reference_to_missing_decision_denied if {
	violations(change("release"), ref("nope"), [fx.approval]) == {"Pod payments/api references Decision \"nope\", which does not exist in namespace \"payments\"; create it or fix annotation releasegate.dev/decision"}
}

test_reference_to_decision_in_other_namespace_denied if {
	other := object.union(fx.approval, {"metadata": {"namespace": "other"}})
	fx.has(violations(change("release"), ref("approve-api"), [other]), "which does not exist in namespace \"payments\"")
}

test_reference_to_expired_decision_denied if {
	old := fx.decision("approve-api", "Approval", "2026-05-01T00:00:00Z", {})
	violations(change("release"), ref("approve-api"), [old]) == {"Pod payments/api references Decision \"approve-api\", which expired at 2026-05-01T00:00:00Z; renew the decision or record a new one"}
}

test_reference_to_wrong_type_denied if {
	fx.has(violations(change("schema-change"), ref("override-api"), [fx.override]), "references Decision \"override-api\" of type Override; a schema-change change needs a Decision of type Approval")
}

test_schema_change_with_approval_allowed if {
	count(violations(change("schema-change"), ref("approve-api"), [fx.approval])) == 0
}

test_approval_without_expiry_allowed if {
	d := {"metadata": {"name": "approve-api", "namespace": "payments"}, "spec": {"type": "Approval"}}
	count(violations(change("release"), ref("approve-api"), [d])) == 0
}

test_labelled_release_needs_decision if {
	rel := object.union(fx.release, {"metadata": {"labels": {"releasegate.dev/change": "release"}}})
	now := fx.now # a local: see fixtures.now
	fx.has(release.violations(rel, []), "release payments/api is labelled releasegate.dev/change=release") with time.now_ns as now
}

test_labelled_release_with_approval_allowed if {
	rel := object.union(fx.release, {"metadata": {"labels": {"releasegate.dev/change": "release"}, "annotations": ref("approve-api")}})
	now := fx.now # a local: see fixtures.now
	count(release.violations(rel, [fx.approval])) == 0 with time.now_ns as now
}

test_deployment_template_label_guarded if {
	dep := {"kind": "Deployment", "metadata": {"name": "api"}, "spec": {"template": {"metadata": {"labels": change("release")}, "spec": {"containers": []}}}}
	inp := fx.admission(dep, fx.ns_labels, fx.user, {}, [])
	workload.guard_meta.labels["releasegate.dev/change"] == "release" with input as inp
}
