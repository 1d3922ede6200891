package releasegate.admission_test

import data.releasegate.admission
import data.releasegate.fixtures as fx

decision_for(inp) := v if {
	v := admission.decision with input as inp with time.now_ns as fx.now
}

deny_for(inp) := {r | some r in decision_for(inp).reasons}

denied(inp) if not decision_for(inp).allowed

with_images(images) := fx.admission(fx.pod(fx.pod_labels, {}, images), fx.ns_labels, fx.user, {fx.digest: [fx.ready_record]}, [])

with_records(records) := fx.admission(fx.pod(fx.pod_labels, {}, [fx.image]), fx.ns_labels, fx.user, {fx.digest: records}, [])

test_pinned_ready_pod_allowed if {
	decision_for(fx.base) == {"allowed": true, "reasons": []}
}

test_tag_image_denied if {
	deny_for(with_images(["registry.example.com/payments/api:2.4.0"])) == {"Pod payments/api: container \"c0\" image \"registry.example.com/payments/api:2.4.0\" is not pinned by digest; reference the verified release as <image>@sha256:<digest>"}
}

test_unknown_digest_denied if {
	img := concat("@", ["registry.example.com/payments/api", fx.other_digest])
	fx.has(deny_for(with_images([fx.image, img])), "container \"c1\" image registry.example.com/payments/api@sha256:0000000000000000000000000000000000000000000000000000000000000000 has no HardenedRelease")
}

test_release_not_ready_denied_with_its_reasons if {
	rec := fx.record("api", "payments", fx.digest, false, ["release payments/api: no verified cosign signature"], [])
	fx.has(deny_for(with_records([rec])), "Pod payments/api: container \"c0\" image registry.example.com/payments/api@sha256:3b0c9a7f1d2e4c5b6a798877665544332211ffeeddccbbaa0099887766554433: release payments/api is not Ready: release payments/api: no verified cosign signature")
}

test_release_of_another_tenant_does_not_admit if {
	rec := fx.record("api", "other-team", fx.digest, true, [], [])
	fx.has(deny_for(with_records([rec])), "its HardenedRelease(s) other-team/api are not visible to namespace \"payments\"")
}

test_release_in_a_shared_namespace_admits if {
	rec := fx.record("api", "shared-releases", fx.digest, true, [], [])
	decision_for(with_records([rec])).allowed
}

test_one_visible_ready_release_is_enough if {
	foreign := fx.record("api", "other-team", fx.digest, true, [], [])
	blocked := fx.record("api-old", "payments", fx.digest, false, ["old"], [])
	decision_for(with_records([foreign, blocked, fx.ready_record])).allowed
}

test_release_records_of_the_wrong_type_deny if {
	every records in [null, true, "ready", {"ready": true}, [null], [true], ["api"], [{}]] {
		denied(with_records(records))
	}
	every releases in [null, [], "x", [{fx.digest: [fx.ready_record]}]] {
		denied(object.union(fx.base, {"releases": releases}))
	}
}

test_release_record_fields_must_be_typed if {
	every patch in [
		{"ready": "true"}, {"ready": 1}, {"ready": null},
		{"digest": fx.other_digest}, {"name": ""}, {"namespace": 7},
		{"reasons": "none"}, {"overrides": null}, {"overrides": [1]},
	] {
		denied(with_records([object.union(fx.ready_record, patch)]))
	}
}

test_init_and_ephemeral_containers_checked if {
	p := object.union(fx.pod(fx.pod_labels, {}, [fx.image]), {"spec": {
		"initContainers": [{"name": "migrate", "image": "migrate:latest"}],
		"ephemeralContainers": [{"name": "debug", "image": "busybox"}],
	}})
	msgs := deny_for(fx.admission(p, fx.ns_labels, fx.user, {fx.digest: [fx.ready_record]}, []))
	fx.has(msgs, "container \"migrate\" image \"migrate:latest\" is not pinned by digest")
	fx.has(msgs, "container \"debug\" image \"busybox\" is not pinned by digest")
}

test_containers_of_the_wrong_shape_deny if {
	every containers in [{"name": "x", "image": fx.image}, [{"name": "x"}], [{"name": "x", "image": 1}], ["x"], [null]] {
		p := object.union(fx.pod(fx.pod_labels, {}, [fx.image]), {"spec": {"initContainers": containers}})
		denied(fx.admission(p, fx.ns_labels, fx.user, {fx.digest: [fx.ready_record]}, []))
	}
}

test_pod_without_containers_denied if {
	p := object.union(fx.pod(fx.pod_labels, {}, []), {"spec": {"containers": []}})
	fx.has(deny_for(fx.admission(p, fx.ns_labels, fx.user, {}, [])), "the pod template has no containers")
}

test_deployment_template_checked if {
	dep := {"kind": "Deployment", "metadata": {"name": "api", "labels": fx.pod_labels}, "spec": {"template": {"metadata": {"labels": fx.pod_labels}, "spec": {"containers": [{"name": "api", "image": "api:1"}]}}}}
	fx.has(deny_for(fx.admission(dep, fx.ns_labels, fx.user, {}, [])), "Deployment payments/api: container \"api\" image \"api:1\" is not pinned")
}

test_ready_deployment_allowed if {
	dep := {"kind": "Deployment", "metadata": {"name": "api", "labels": fx.pod_labels}, "spec": {"template": {"metadata": {"labels": fx.pod_labels}, "spec": {"containers": [{"name": "api", "image": fx.image}]}}}}
	decision_for(fx.admission(dep, fx.ns_labels, fx.user, {fx.digest: [fx.ready_record]}, [])).allowed
}

test_cronjob_template_checked if {
	cj := {"kind": "CronJob", "metadata": {"name": "report", "labels": fx.pod_labels}, "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "report", "image": "report:1"}]}}}}}}
	fx.has(deny_for(fx.admission(cj, fx.ns_labels, fx.user, {}, [])), "CronJob payments/report: container \"report\" image \"report:1\" is not pinned")
}

test_kind_without_pod_template_denied if {
	cm := {"kind": "ConfigMap", "metadata": {"name": "settings", "labels": fx.pod_labels}}
	fx.has(deny_for(fx.admission(cm, fx.ns_labels, fx.user, {}, [])), "ConfigMap payments/settings: no pod template found for kind \"ConfigMap\"")
}

test_wrong_purpose_denied if {
	fx.has(deny_for(object.union(fx.base, {"purpose": "release"})), "input contract: purpose \"release\" does not carry field(s)")
	denied(object.union(fx.base, {"purpose": 1}))
}

test_missing_namespace_denied if {
	no_ns := {k: v | some k, v in fx.base; k != "namespace"}
	fx.has(deny_for(no_ns), "`namespace` must be the Namespace object of the request")
	req := {k: v | some k, v in fx.base.request; k != "namespace"}
	fx.has(deny_for(object.union({k: v | some k, v in fx.base; k != "request"}, {"request": req})), "`request.namespace` must name the namespace")
}

test_namespace_of_another_name_denied if {
	fx.has(deny_for(object.union(fx.base, {"namespace": {"metadata": {"name": "other"}}})), "`namespace` must be the Namespace object of the request")
}

test_extra_and_nested_fields_denied_by_name if {
	inp := object.union(fx.base, {"secrets": {"db": "hunter2"}, "request": {"oldObject": {}}, "namespace": {"spec": {}, "metadata": {"uid": "x"}}})
	fx.has(deny_for(inp), "input contract: purpose \"admission\" does not carry field(s) namespace.metadata.uid, namespace.spec, request.oldObject, secrets; remove them from the input")
}

test_label_values_must_be_strings if {
	p := fx.pod(object.union(fx.pod_labels, {"releasegate.dev/change": true}), {}, [fx.image])
	fx.has(deny_for(fx.admission(p, fx.ns_labels, fx.user, {fx.digest: [fx.ready_record]}, [])), "`metadata.labels` must be an object of string values")
}

test_user_info_must_be_typed if {
	every ui in [{"username": 7}, {"username": "a", "groups": "release-managers"}, {"username": "a", "groups": ["release-managers"], "extra": {"releasegate.dev/amr": "mfa"}}] {
		denied(fx.admission(fx.pod(fx.pod_labels, {}, [fx.image]), fx.ns_labels, ui, {fx.digest: [fx.ready_record]}, []))
	}
}

test_abac_stepup_and_guard_feed_admission if {
	inp := fx.admission(
		fx.pod(object.union(fx.pod_labels, {"releasegate.dev/change": "release", "releasegate.dev/sensitivity": "restricted"}), {}, [fx.image]),
		object.union(fx.ns_labels, {"releasegate.dev/sensitivity": "restricted"}),
		{"username": "dev", "groups": ["developers"]},
		{fx.digest: [fx.ready_record]},
		[],
	)
	msgs := deny_for(inp)
	fx.has(msgs, "may not deploy to restricted namespace")
	fx.has(msgs, "step-up required")
	fx.has(msgs, "must reference an approval Decision")
}

test_break_glass_lists_overrides_in_use if {
	rec := fx.record("api", "payments", fx.digest, true, [], ["override-api"])
	admission.break_glass == {"override-api"} with input as with_records([rec]) with time.now_ns as fx.now
	fx.has(deny_for(with_records([rec])), "step-up required: running under break-glass Decision \"override-api\"")
}

test_no_break_glass_when_a_release_without_override_admits if {
	rec := fx.record("api", "payments", fx.digest, true, [], ["override-api"])
	count(admission.break_glass) == 0 with input as with_records([rec, fx.ready_record]) with time.now_ns as fx.now
}

test_workload_data_minimisation_checked if {
	ok := fx.pod(fx.pod_labels, {"releasegate.dev/purpose": "support", "releasegate.dev/data-fields": "customer.id, order.status"}, [fx.image])
	decision_for(fx.admission(ok, fx.ns_labels, fx.user, {fx.digest: [fx.ready_record]}, [])).allowed
	bad := fx.pod(fx.pod_labels, {"releasegate.dev/purpose": "support", "releasegate.dev/data-fields": "customer.id,customer.billing_address"}, [fx.image])
	fx.has(deny_for(fx.admission(bad, fx.ns_labels, fx.user, {fx.digest: [fx.ready_record]}, [])), "Pod payments/api: data minimisation: purpose \"support\" does not allow field(s) customer.billing_address")
	half := fx.pod(fx.pod_labels, {"releasegate.dev/purpose": "support"}, [fx.image])
	fx.has(deny_for(fx.admission(half, fx.ns_labels, fx.user, {fx.digest: [fx.ready_record]}, [])), "declares purpose but no fields")
}

test_pod_with_only_init_containers_denied if {
	p := {"kind": "Pod", "metadata": {"name": "api", "labels": fx.pod_labels}, "spec": {"initContainers": [{"name": "i", "image": fx.image}]}}
	fx.has(deny_for(fx.admission(p, fx.ns_labels, fx.user, {fx.digest: [fx.ready_record]}, [])), "must list at least one container in `containers`")
}

# Quarantine at admission: a Rollback Decision of the workload's namespace naming the digest
# denies it, also when the release is shared (lives in another namespace).
admission_rollback(created) := object.union(fx.decision("drill-rollback-1", "Rollback", null, {"digests": [fx.digest], "drills": ["drill"]}), {"metadata": {"creationTimestamp": created}})

test_a_rolled_back_digest_is_denied_until_cleared if {
	inp := fx.admission(fx.pod(fx.pod_labels, {}, [fx.image]), fx.ns_labels, fx.user, {fx.digest: [fx.ready_record]}, [admission_rollback("2026-06-01T00:00:00Z")])
	fx.has(deny_for(inp), sprintf("Pod payments/api: image %s is quarantined: CanaryDrill drill rolled it back (Decision payments/drill-rollback-1)", [fx.image]))
	clear := object.union(fx.decision("clear", "Approval", "2026-12-31T00:00:00Z", {"digests": [fx.digest], "drills": ["drill"]}), {"metadata": {"creationTimestamp": "2026-06-01T00:01:00Z"}})
	cleared := fx.admission(fx.pod(fx.pod_labels, {}, [fx.image]), fx.ns_labels, fx.user, {fx.digest: [fx.ready_record]}, [admission_rollback("2026-06-01T00:00:00Z"), clear])
	decision_for(cleared).allowed
}

test_a_rolled_back_shared_release_is_denied_in_the_drills_namespace if {
	shared := fx.record("api", "shared-releases", fx.digest, true, [], [])
	inp := fx.admission(fx.pod(fx.pod_labels, {}, [fx.image]), fx.ns_labels, fx.user, {fx.digest: [shared]}, [admission_rollback("2026-06-01T00:00:00Z")])
	denied(inp)
	q := object.union(admission_rollback("2026-06-01T00:00:00Z"), {"spec": {"scope": {"digests": [], "releases": ["api"]}}})
	by_name := fx.admission(fx.pod(fx.pod_labels, {}, [fx.image]), fx.ns_labels, fx.user, {fx.digest: [shared]}, [q])
	denied(by_name)
}

test_a_rollback_of_another_digest_does_not_deny if {
	q := object.union(admission_rollback("2026-06-01T00:00:00Z"), {"spec": {"scope": {"digests": [fx.other_digest]}}})
	decision_for(fx.admission(fx.pod(fx.pod_labels, {}, [fx.image]), fx.ns_labels, fx.user, {fx.digest: [fx.ready_record]}, [q])).allowed
}

# One container per case: a usable release, releases only in another team's namespace, none.
# Each image gets its own reason, and the admitted image none.
test_mixed_images_each_denied_for_its_own_reason if {
	third := concat("", ["sha256:", concat("", ["1" | some _ in numbers.range(1, 64)])])
	worker := concat("@", ["registry.example.com/payments/worker", fx.other_digest])
	cron := concat("@", ["registry.example.com/payments/cron", third])
	inp := fx.admission(
		fx.pod(fx.pod_labels, {}, [fx.image, worker, cron]),
		fx.ns_labels, fx.user,
		{fx.digest: [fx.ready_record], fx.other_digest: [fx.record("worker", "other-team", fx.other_digest, true, [], [])]},
		[],
	)
	decision_for(inp) == {"allowed": false, "reasons": [
		"Pod payments/api: container \"c1\" image registry.example.com/payments/worker@sha256:0000000000000000000000000000000000000000000000000000000000000000: its HardenedRelease(s) other-team/worker are not visible to namespace \"payments\"; create a release in \"payments\" or in a shared namespace (shared-releases)",
		"Pod payments/api: container \"c2\" image registry.example.com/payments/cron@sha256:1111111111111111111111111111111111111111111111111111111111111111 has no HardenedRelease; create one for this digest and wait until it is Ready",
	]}
}
