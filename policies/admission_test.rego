package releasegate.admission_test

import data.releasegate.admission
import data.releasegate.fixtures as fx

deny_for(inp) := v if {
	v := admission.deny with input as inp with time.now_ns as fx.now
}

with_images(images) := fx.admission(fx.pod(fx.pod_labels, {}, images), fx.ns_labels, fx.user, {fx.digest: fx.release}, [])

test_pinned_verified_pod_allowed if {
	admission.decision == {"allowed": true, "reasons": []} with input as fx.base with time.now_ns as fx.now
}

test_tag_image_denied if {
	deny_for(with_images(["registry.example.com/payments/api:2.4.0"])) == {"Pod payments/api: container \"c0\" image \"registry.example.com/payments/api:2.4.0\" is not pinned by digest; reference the verified release as <image>@sha256:<digest>"}
}

test_unknown_digest_denied if {
	img := "registry.example.com/payments/api@sha256:0000000000000000000000000000000000000000000000000000000000000000"
	fx.has(deny_for(with_images([fx.image, img])), "container \"c1\" image registry.example.com/payments/api@sha256:0000000000000000000000000000000000000000000000000000000000000000 has no verified HardenedRelease")
}

test_release_violation_names_container if {
	rel := fx.release_with("api", fx.digest, {"signature": {"verified": false}})
	inp := fx.admission(fx.pod(fx.pod_labels, {}, [fx.image]), fx.ns_labels, fx.user, {fx.digest: rel}, [])
	fx.has(deny_for(inp), "Pod payments/api: container \"c0\": release payments/api: no verified cosign signature")
}

test_criticals_block_admission if {
	inp := fx.admission(fx.pod(fx.pod_labels, {}, [fx.image]), fx.ns_labels, fx.user, {fx.digest: fx.critical_release}, [])
	fx.has(deny_for(inp), "2 critical vulnerabilities")
}

test_init_and_ephemeral_containers_checked if {
	p := object.union(fx.pod(fx.pod_labels, {}, [fx.image]), {"spec": {
		"initContainers": [{"name": "migrate", "image": "migrate:latest"}],
		"ephemeralContainers": [{"name": "debug", "image": "busybox"}],
	}})
	msgs := deny_for(fx.admission(p, fx.ns_labels, fx.user, {fx.digest: fx.release}, []))
	fx.has(msgs, "container \"migrate\" image \"migrate:latest\" is not pinned by digest")
	fx.has(msgs, "container \"debug\" image \"busybox\" is not pinned by digest")
}

test_deployment_template_checked if {
	dep := {"kind": "Deployment", "metadata": {"name": "api", "labels": fx.pod_labels}, "spec": {"template": {"metadata": {"labels": fx.pod_labels}, "spec": {"containers": [{"name": "api", "image": "api:1"}]}}}}
	fx.has(deny_for(fx.admission(dep, fx.ns_labels, fx.user, {}, [])), "Deployment payments/api: container \"api\" image \"api:1\" is not pinned")
}

test_verified_deployment_allowed if {
	dep := {"kind": "Deployment", "metadata": {"name": "api", "labels": fx.pod_labels}, "spec": {"template": {"metadata": {"labels": fx.pod_labels}, "spec": {"containers": [{"name": "api", "image": fx.image}]}}}}
	count(deny_for(fx.admission(dep, fx.ns_labels, fx.user, {fx.digest: fx.release}, []))) == 0
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
	inp := object.union(fx.base, {"purpose": "release"})
	fx.has(deny_for(inp), "admission: evaluated for purpose \"release\"")
}

test_abac_minimisation_stepup_and_guard_feed_admission if {
	inp := fx.admission(
		fx.pod(object.union(fx.pod_labels, {"releasegate.dev/change": "release"}), {}, [fx.image]),
		object.union(fx.ns_labels, {"releasegate.dev/sensitivity": "restricted"}),
		{"username": "dev", "groups": ["developers"]},
		{fx.digest: fx.release},
		[],
	)
	msgs := deny_for(object.union(inp, {"extra": true}))
	fx.has(msgs, "may not deploy to restricted namespace")
	fx.has(msgs, "does not allow field(s) extra")
	fx.has(msgs, "step-up required")
	fx.has(msgs, "must reference an approval Decision")
}

test_break_glass_lists_overrides_in_use if {
	inp := fx.admission(fx.pod(fx.pod_labels, {}, [fx.image]), fx.ns_labels, fx.user, {fx.digest: fx.critical_release}, [fx.override])
	admission.break_glass == {"override-api"} with input as inp with time.now_ns as fx.now
}
