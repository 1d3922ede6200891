# Admission: the webhook's entry point. A workload is admitted only when every image it runs is
# pinned to the digest of a verified release that passes the release rules, and the ABAC,
# data-minimisation, step-up and decision-guard rules all pass. Query:
# data.releasegate.admission.decision -> {"allowed": bool, "reasons": [string]}.
package releasegate.admission

import data.releasegate.abac
import data.releasegate.guard
import data.releasegate.minimisation
import data.releasegate.release
import data.releasegate.stepup
import data.releasegate.workload as wl

default allow := false

allow if count(deny) == 0

decision := {"allowed": allow, "reasons": sort(deny)}

decisions := object.get(input, "decisions", [])

releases := object.get(input, "releases", {})

deny contains msg if {
	input.purpose != "admission"
	msg := sprintf("admission: evaluated for purpose %q; the webhook must send purpose \"admission\"", [input.purpose])
}

deny contains msg if {
	not wl.pod_spec
	msg := sprintf("%s: no pod template found for kind %q; the gate admits Pods and pod-bearing workloads only", [wl.subject, wl.kind])
}

deny contains msg if {
	some c in wl.containers
	not wl.image_digest(c.image)
	msg := sprintf("%s: container %q image %q is not pinned by digest; reference the verified release as <image>@sha256:<digest>", [wl.subject, c.name, c.image])
}

deny contains msg if {
	some c in wl.containers
	digest := wl.image_digest(c.image)
	not releases[digest]
	msg := sprintf("%s: container %q image %s has no verified HardenedRelease; create one for this digest and wait until it is Ready", [wl.subject, c.name, c.image])
}

deny contains msg if {
	some c in wl.containers
	rel := releases[wl.image_digest(c.image)]
	some reason in release.violations(rel, decisions)
	msg := sprintf("%s: container %q: %s", [wl.subject, c.name, reason])
}

deny contains msg if some msg in abac.deny

deny contains msg if some msg in minimisation.deny

deny contains msg if some msg in stepup.deny

deny contains msg if {
	some msg in guard.violations(wl.subject, wl.guard_meta, wl.namespace, decisions)
}

# break_glass names the override Decisions the workload's images run under (step-up applies).
break_glass := stepup.break_glass
