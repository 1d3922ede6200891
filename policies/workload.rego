# The workload under admission: its pod template, containers, labels, namespace and requester,
# read once from the AdmissionRequest so that the other packages do not each parse it. Every
# lookup is type-guarded (lib.as_object & co.); the contract package says what is malformed.
package releasegate.workload

import data.releasegate.lib

request := lib.object_at(lib.root, "request")

obj := lib.object_at(request, "object")

kind := lib.string_at(lib.object_at(request, "kind"), "kind")

operation := lib.string_at(request, "operation")

# namespace is the namespace of the request; "" when the input does not say (then denied).
namespace := lib.string_at(request, "namespace")

meta := lib.object_at(obj, "metadata")

name := n if {
	n := meta.name
	lib.nonblank(n)
} else := n if {
	n := meta.generateName
	lib.nonblank(n)
} else := lib.string_at(request, "name")

# subject names the workload in messages, e.g. `Deployment payments/api`.
subject := concat("", [kind, " ", namespace, "/", name])

# Kinds whose pod template sits at spec.template.
templated_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"}

spec := lib.object_at(obj, "spec")

# A Pod has no template; an empty one keeps the label and annotation lookups defined.
default template := {}

template := lib.object_at(spec, "template") if kind in templated_kinds

template := lib.object_at(lib.object_at(lib.object_at(spec, "jobTemplate"), "spec"), "template") if kind == "CronJob"

# pod_spec is the pod spec the workload runs; undefined when the kind carries none.
pod_spec := spec if {
	kind == "Pod"
	is_object(obj.spec)
}

pod_spec := template.spec if {
	kind != "Pod"
	is_object(template.spec)
}

template_meta := lib.object_at(template, "metadata")

# labels and annotations of the workload, the object's own winning over its pod template's.
labels := object.union(string_map(object.get(template_meta, "labels", {})), string_map(object.get(meta, "labels", {})))

annotations := object.union(string_map(object.get(template_meta, "annotations", {})), string_map(object.get(meta, "annotations", {})))

# string_map(x) keeps the string-valued entries of an object (the contract denies others).
string_map(x) := {k: v | some k, v in lib.as_object(x); is_string(v)}

# metadata as the decision guard reads it.
guard_meta := {"labels": labels, "annotations": annotations}

container_fields := ["initContainers", "containers", "ephemeralContainers"]

# containers lists every container that will run an image, init and ephemeral ones included.
containers := [c |
	some field in container_fields
	some c in lib.array_at(pod_spec, field)
]

namespace_object := lib.object_at(lib.root, "namespace")

namespace_labels := string_map(lib.object_at(lib.object_at(namespace_object, "metadata"), "labels"))

user := lib.object_at(request, "userInfo")

username := lib.string_at(user, "username")

groups := [g | some g in lib.array_at(user, "groups"); is_string(g)]

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
	lib.has_key(lib.object_at(meta, "annotations"), data.gate.actors.mirror_pod_annotation)
}

# The sensitivity the workload and its namespace declare (see lib.sensitivity), and the
# effective one: the stricter of the two, which every ABAC and step-up rule uses.
sensitivity := lib.sensitivity(labels)

namespace_sensitivity := lib.sensitivity(namespace_labels)

effective_sensitivity := sensitivity if {
	lib.level(sensitivity) >= lib.level(namespace_sensitivity)
} else := namespace_sensitivity
