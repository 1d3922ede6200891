# The workload under admission: its pod template, containers, labels, namespace and requester,
# read once from the AdmissionRequest so that the other packages do not each parse it.
package releasegate.workload

import data.releasegate.lib

request := object.get(input, "request", {})

obj := object.get(request, "object", {})

kind := object.get(request, ["kind", "kind"], "")

namespace := object.get(request, "namespace", object.get(obj, ["metadata", "namespace"], ""))

meta := object.get(obj, "metadata", {})

name := object.get(meta, "name", object.get(meta, "generateName", object.get(request, "name", "")))

# subject names the workload in messages, e.g. `Deployment payments/api`.
subject := sprintf("%s %s/%s", [kind, namespace, name])

# Kinds whose pod template sits at spec.template.
templated_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"}

# A Pod has no template; an empty one keeps the label and annotation lookups defined.
default template := {}

template := obj.spec.template if kind in templated_kinds

template := obj.spec.jobTemplate.spec.template if kind == "CronJob"

pod_spec := obj.spec if kind == "Pod"

pod_spec := template.spec if kind != "Pod"

template_meta := object.get(template, "metadata", {})

# labels and annotations of the workload, the object's own winning over its pod template's.
labels := object.union(object.get(template_meta, "labels", {}), object.get(meta, "labels", {}))

annotations := object.union(object.get(template_meta, "annotations", {}), object.get(meta, "annotations", {}))

# metadata as the decision guard reads it.
guard_meta := {"labels": labels, "annotations": annotations}

# containers lists every container that will run an image, init and ephemeral ones included.
containers := [c |
	some field in ["initContainers", "containers", "ephemeralContainers"]
	some c in object.get(pod_spec, field, [])
]

namespace_labels := object.get(input, ["namespace", "metadata", "labels"], {})

user := object.get(request, "userInfo", {})

username := object.get(user, "username", "")

groups := object.get(user, "groups", [])

# system_actor holds for the controllers that create Pods from an admitted template (and the
# gate's own controller rolling back); they are not people and carry no step-up assertion.
system_actor if {
	some g in groups
	g in data.gate.actors.system_groups
}

system_actor if username in data.gate.actors.system_users

# image_digest(image) is the sha256 digest an image reference is pinned to.
image_digest(image) := digest if {
	parts := split(image, "@")
	count(parts) == 2
	startswith(parts[1], "sha256:")
	digest := parts[1]
}

# The sensitivity the workload and its namespace declare (see lib.sensitivity).
sensitivity := lib.sensitivity(labels)

namespace_sensitivity := lib.sensitivity(namespace_labels)
