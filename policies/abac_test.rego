package releasegate.abac_test

import data.releasegate.abac
import data.releasegate.fixtures as fx

deny_for(pod_labels, ns_labels, ui) := v if {
	v := abac.deny with input as fx.admission(fx.pod(pod_labels, {}, [fx.image]), ns_labels, ui, {}, [])
}

satisfied(pod_labels, ns_labels, ui) if {
	abac.satisfied with input as fx.admission(fx.pod(pod_labels, {}, [fx.image]), ns_labels, ui, {}, [])
}

test_matching_attributes_allowed if {
	count(deny_for(fx.pod_labels, fx.ns_labels, fx.user)) == 0
	satisfied(fx.pod_labels, fx.ns_labels, fx.user)
}

test_workload_more_sensitive_than_namespace_denied if {
	labels := object.union(fx.pod_labels, {"releasegate.dev/sensitivity": "restricted"})
	msgs := deny_for(labels, fx.ns_labels, fx.user)
	fx.has(msgs, "Pod payments/api: workload sensitivity restricted exceeds namespace \"payments\" sensitivity confidential; run it in a namespace cleared for restricted data")
	not satisfied(labels, fx.ns_labels, fx.user)
}

test_less_sensitive_workload_allowed_with_the_namespace_legal_basis if {
	labels := {"releasegate.dev/sensitivity": "public", "releasegate.dev/origin": "eu", "releasegate.dev/legal-basis": "contract"}
	count(deny_for(labels, fx.ns_labels, fx.user)) == 0
	satisfied(labels, fx.ns_labels, fx.user)
}

# The effective sensitivity is the namespace's when it is stricter: a workload labelled public
# (or not labelled at all) in a confidential namespace still needs a legal basis.
test_workload_without_sensitivity_gets_the_namespace_legal_basis_rule if {
	labels := {"releasegate.dev/origin": "eu"}
	fx.has(deny_for(labels, fx.ns_labels, fx.user), "a confidential workload must declare its legal basis")
	not satisfied(labels, fx.ns_labels, fx.user)
}

test_public_label_does_not_lower_a_confidential_namespace if {
	labels := {"releasegate.dev/sensitivity": "public", "releasegate.dev/origin": "eu"}
	fx.has(deny_for(labels, fx.ns_labels, fx.user), "a confidential workload must declare its legal basis")
	ui := {"username": "dev", "groups": ["developers"]}
	fx.has(deny_for(object.union(labels, {"releasegate.dev/legal-basis": "contract"}), fx.ns_labels, ui), "may not deploy to confidential namespace")
}

test_unknown_sensitivity_denied if {
	labels := object.union(fx.pod_labels, {"releasegate.dev/sensitivity": "secret"})
	fx.has(deny_for(labels, fx.ns_labels, fx.user), "workload label releasegate.dev/sensitivity=\"secret\" is not a sensitivity level; use one of confidential, internal, public, restricted")
	not satisfied(labels, fx.ns_labels, fx.user)
}

test_unknown_namespace_sensitivity_denied if {
	nsl := object.union(fx.ns_labels, {"releasegate.dev/sensitivity": "Confidential"})
	fx.has(deny_for(fx.pod_labels, nsl, fx.user), "namespace label releasegate.dev/sensitivity=\"Confidential\" is not a sensitivity level")
	not satisfied(fx.pod_labels, nsl, fx.user)
}

test_user_outside_deployer_groups_denied if {
	ui := {"username": "mallory@example.com", "groups": ["developers"]}
	msgs := deny_for(fx.pod_labels, fx.ns_labels, ui)
	msgs == {"Pod payments/api: user \"mallory@example.com\" may not deploy to confidential namespace \"payments\"; it needs membership of one of the groups release-managers, sre"}
	not satisfied(fx.pod_labels, fx.ns_labels, ui)
}

test_user_in_any_deployer_group_allowed if {
	count(deny_for(fx.pod_labels, fx.ns_labels, {"username": "sam", "groups": ["sre"]})) == 0
}

test_system_actor_exempt_from_groups if {
	ui := {"username": "system:serviceaccount:kube-system:replicaset-controller", "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system"]}
	count(deny_for(fx.pod_labels, fx.ns_labels, ui)) == 0
}

test_tenant_service_account_is_not_a_system_actor if {
	ui := {"username": "system:serviceaccount:payments:deployer", "groups": ["system:serviceaccounts", "system:serviceaccounts:payments"]}
	fx.has(deny_for(fx.pod_labels, fx.ns_labels, ui), "user \"system:serviceaccount:payments:deployer\" may not deploy")
}

test_node_is_not_a_system_actor_for_ordinary_pods if {
	ui := {"username": "system:node:kwok-node-0", "groups": ["system:nodes", "system:authenticated"]}
	fx.has(deny_for(fx.pod_labels, fx.ns_labels, ui), "user \"system:node:kwok-node-0\" may not deploy")
}

test_node_is_a_system_actor_for_its_mirror_pods if {
	ui := {"username": "system:node:kwok-node-0", "groups": ["system:nodes", "system:authenticated"]}
	mirror := fx.pod(fx.pod_labels, {"kubernetes.io/config.mirror": "abc"}, [fx.image])
	count(abac.deny) == 0 with input as fx.admission(mirror, fx.ns_labels, ui, {}, [])
}

test_internal_namespace_needs_no_group if {
	ui := {"username": "dev", "groups": ["developers"]}
	count(deny_for({}, {}, ui)) == 0
}

test_origin_mismatch_denied if {
	labels := object.union(fx.pod_labels, {"releasegate.dev/origin": "us"})
	fx.has(deny_for(labels, fx.ns_labels, fx.user), "workload origin \"us\" does not match namespace \"payments\" origin \"eu\"")
}

test_missing_origin_denied_when_namespace_declares_one if {
	labels := {"releasegate.dev/sensitivity": "public", "releasegate.dev/legal-basis": "contract"}
	fx.has(deny_for(labels, fx.ns_labels, fx.user), "workload origin \"\" does not match")
	not satisfied(labels, fx.ns_labels, fx.user)
}

test_missing_legal_basis_denied_for_personal_data if {
	labels := {"releasegate.dev/sensitivity": "confidential", "releasegate.dev/origin": "eu"}
	fx.has(deny_for(labels, {"releasegate.dev/sensitivity": "confidential"}, fx.user), "a confidential workload must declare its legal basis")
}

test_unknown_legal_basis_denied if {
	labels := object.union(fx.pod_labels, {"releasegate.dev/legal-basis": "because"})
	fx.has(deny_for(labels, {"releasegate.dev/sensitivity": "confidential"}, fx.user), "(found \"because\")")
}

test_public_workload_needs_no_legal_basis if {
	count(deny_for({"releasegate.dev/sensitivity": "public"}, {}, fx.user)) == 0
}

test_legal_basis_mismatch_denied if {
	labels := object.union(fx.pod_labels, {"releasegate.dev/legal-basis": "consent"})
	fx.has(deny_for(labels, fx.ns_labels, fx.user), "workload legal basis \"consent\" differs from namespace \"payments\" legal basis \"contract\"")
	not satisfied(labels, fx.ns_labels, fx.user)
}
