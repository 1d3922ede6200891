# The workload under admission: its pod template, containers, labels, namespace and requester,
# read once from the AdmissionRequest so that the other packages do not each parse it. Every
# lookup is type-guarded (a value of the wrong type reads as empty); the contract package says
# what is malformed. Written as rules, not helper functions: rules are evaluated once per
# request, while each function call costs the policy VM microseconds.
package releasegate.workload

import data.releasegate.lib

default request := {}

request := v if {
	v := input.request
	is_object(v)
}

default obj := {}

obj := v if {
	v := request.object
	is_object(v)
}

default kind := ""

kind := v if {
	v := request.kind.kind
	is_string(v)
}

default operation := ""

operation := v if {
	v := request.operation
	is_string(v)
}

# namespace is the namespace of the request; "" when the input does not say (then denied).
default namespace := ""

namespace := v if {
	v := request.namespace
	is_string(v)
}

default meta := {}

meta := v if {
	v := obj.metadata
	is_object(v)
}

default name := ""

name := v if {
	v := meta.name
	is_string(v)
	v != ""
} else := v if {
	v := meta.generateName
	is_string(v)
	v != ""
} else := v if {
	v := request.name
	is_string(v)
}

# subject names the workload in messages, e.g. `Deployment payments/api`.
subject := concat("", [kind, " ", namespace, "/", name])

# Kinds whose pod template sits at spec.template.
templated_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"}

default spec := {}

spec := v if {
	v := obj.spec
	is_object(v)
}

# A Pod has no template; an empty one keeps the label and annotation lookups defined.
default template := {}

template := v if {
	kind in templated_kinds
	v := spec.template
	is_object(v)
}

template := v if {
	kind == "CronJob"
	v := spec.jobTemplate.spec.template
	is_object(v)
}

# pod_spec is the pod spec the workload runs; undefined when the kind carries none.
pod_spec := spec if {
	kind == "Pod"
	is_object(obj.spec)
}

pod_spec := v if {
	kind != "Pod"
	v := template.spec
	is_object(v)
}

default template_meta := {}

template_meta := v if {
	v := template.metadata
	is_object(v)
}

# labels and annotations of the workload, the object's own winning over its pod template's;
# values that are not strings are left out (the contract denies them).
labels := object.union(template_labels, meta_labels)

annotations := object.union(template_annotations, meta_annotations)

# The string-valued entries of each map (the contract compares them with the whole map).
template_labels := {k: v | m := object.get(template_meta, "labels", {}); is_object(m); some k, v in m; is_string(v)}

meta_labels := {k: v | m := object.get(meta, "labels", {}); is_object(m); some k, v in m; is_string(v)}

template_annotations := {k: v | m := object.get(template_meta, "annotations", {}); is_object(m); some k, v in m; is_string(v)}

meta_annotations := {k: v | m := object.get(meta, "annotations", {}); is_object(m); some k, v in m; is_string(v)}

# metadata as the decision guard reads it.
guard_meta := {"labels": labels, "annotations": annotations}

container_fields := ["initContainers", "containers", "ephemeralContainers"]

# containers lists every container that will run an image, init and ephemeral ones included.
containers := [c |
	some field in container_fields
	cs := pod_spec[field]
	is_array(cs)
	some c in cs
]

default namespace_object := {}

namespace_object := v if {
	v := input.namespace
	is_object(v)
}

namespace_labels := {k: v | m := object.get(namespace_object, ["metadata", "labels"], {}); is_object(m); some k, v in m; is_string(v)}

default user := {}

user := v if {
	v := request.userInfo
	is_object(v)
}

default username := ""

username := v if {
	v := user.username
	is_string(v)
}

groups := [g | gs := object.get(user, "groups", []); is_array(gs); some g in gs; is_string(g)]

# system_actor holds for the controllers that create Pods from an admitted template (and the
# gate's own controller rolling back); they are not people and carry no step-up assertion.
# A tenant's service account is not one (its group is system:serviceaccounts:<its namespace>).
system_actor if {
	some g in groups
	g in data.gate.actors.system_groups
}

system_actor if username in data.gate.actors.system_users

# A kubelet is a system actor only for what nodes really create: mirror Pods of static Pods.
system_actor if {
	data.gate.actors.node_group in groups
	startswith(username, data.gate.actors.node_user_prefix)
	kind == "Pod"
	operation == "CREATE"
	is_string(object.get(meta, ["annotations", data.gate.actors.mirror_pod_annotation], null))
}

# The sensitivity the workload and its namespace declare (their label, or the configured
# default), and the effective one: the stricter of the two, which every ABAC and step-up rule uses.
sensitivity := object.get(labels, lib.labels.sensitivity, data.gate.abac.default_sensitivity)

namespace_sensitivity := object.get(namespace_labels, lib.labels.sensitivity, data.gate.abac.default_sensitivity)

levels := data.gate.abac.sensitivity_levels

effective_sensitivity := sensitivity if {
	levels[sensitivity] >= levels[namespace_sensitivity]
} else := namespace_sensitivity
