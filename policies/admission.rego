# Admission: the webhook's entry point. A workload is admitted only when every image it runs is
# pinned to the digest of a Ready HardenedRelease visible to its namespace (its own, or one the
# platform shares), and the ABAC, minimisation, step-up and decision-guard rules all pass.
#
# The release rules were judged by the controller (data.releasegate.release); admission reads
# the verdict the gate's index holds for each digest: `releases[digest]` is a list of records
# {name, namespace, digest, ready, reasons, overrides}. Query:
# data.releasegate.admission.decision -> {"allowed": bool, "reasons": [string]}.
package releasegate.admission

import data.releasegate.abac
import data.releasegate.contract
import data.releasegate.guard
import data.releasegate.lib
import data.releasegate.minimization
import data.releasegate.quarantine
import data.releasegate.stepup
import data.releasegate.workload as wl

default allow := false

# allow is an allow-list: every fact is established positively, with its type; the deny rules
# only explain what is missing.
allow if {
	count(deny) == 0
	contract.admission_valid
	wl.pod_spec
	count(wl.containers) > 0
	every c in wl.containers {
		# its image's digest has a usable release (inline: a function call per container costs
		# the policy VM more than this check)
		count(usable_by_digest[image_digests[c.image]]) > 0
	}
	count(quarantined) == 0
	abac.satisfied
	stepup.satisfied
	guard.satisfied(wl.subject, wl.guard_meta, wl.namespace, decisions, workload_targets)
	minimization.workload_satisfied(wl.annotations)
}

decision := {"allowed": allow, "reasons": reasons}

reasons := [] if allow

else := sort(deny) if count(deny) > 0

else := ["admission: the request was not positively shown to meet the policy, and no rule named a reason; denying (report this input to the platform team)"]

default decisions := []

decisions := v if {
	v := input.decisions
	is_array(v)
}

default releases := {}

releases := v if {
	v := input.releases
	is_object(v)
}

# records(digest) are the release records the index holds for an image digest.
records(digest) := [r | rs := releases[digest]; is_array(rs); some r in rs; is_object(r)]

visible_namespaces := {wl.namespace} | {n | some n in data.gate.releases.shared_namespaces}

# visible(r): the release lives in the workload's namespace or in a shared one.
visible(r) if r.namespace in visible_namespaces

# image_digests maps each container image to the digest it is pinned to.
image_digests := {img: d | some c in wl.containers; img := c.image; d := lib.image_digest(img)}

# digests are the image digests the workload's containers are pinned to.
digests := {d | some _, d in image_digests}

# usable_by_digest maps each digest to its well-formed, visible, Ready records, computed once.
usable_by_digest := {d: [r |
	some r in object.get(contract.shaped_records, d, [])
	r.namespace in visible_namespaces
	r.ready == true
] | some d in digests}

# break_glass names the override Decisions the workload's images run under: a digest whose
# every usable release needs an override asks for step-up.
break_glass contains name if {
	some candidates in usable_by_digest
	count(candidates) > 0
	every r in candidates {
		count(r.overrides) > 0
	}
	some r in candidates
	some name in r.overrides
}

# What an Approval must name to cover a guarded change of this workload.
workload_targets := {
	"workloads": [concat("/", [wl.kind, wl.name])],
	"releases": [r.name | some rs in usable_by_digest; some r in rs],
	"digests": [d | some d in digests],
}

deny contains msg if some msg in contract.deny

deny contains msg if {
	not wl.pod_spec
	msg := sprintf("%s: no pod template found for kind %q; the gate admits Pods and pod-bearing workloads only", [wl.subject, wl.kind])
}

deny contains msg if {
	wl.pod_spec
	count(wl.containers) == 0
	msg := sprintf("%s: the pod template has no containers", [wl.subject])
}

deny contains msg if {
	some c in wl.containers
	is_string(c.image)
	not image_digests[c.image]
	msg := sprintf("%s: container %q image %q is not pinned by digest; reference the verified release as <image>@sha256:<digest>", [wl.subject, lib.string_at(c, "name"), c.image])
}

# The two rules below first ask whether the image has a usable release: a usable record is one
# of the digest's records and visible, so neither rule can fire for such an image, and an admitted
# workload skips the records(digest) calls.
deny contains msg if {
	some c in wl.containers
	digest := image_digests[c.image]
	count(usable_by_digest[digest]) == 0
	count(records(digest)) == 0
	msg := sprintf("%s: container %q image %s has no HardenedRelease; create one for this digest and wait until it is Ready", [wl.subject, lib.string_at(c, "name"), c.image])
}

deny contains msg if {
	some c in wl.containers
	digest := image_digests[c.image]
	count(usable_by_digest[digest]) == 0
	rs := records(digest)
	count(rs) > 0
	count([r | some r in rs; visible(r)]) == 0
	msg := sprintf("%s: container %q image %s: its HardenedRelease(s) %s are not visible to namespace %q; create a release in %q or in a shared namespace (%s)", [wl.subject, lib.string_at(c, "name"), c.image, concat(", ", sort([concat("/", [lib.string_at(r, "namespace"), lib.string_at(r, "name")]) | some r in rs])), wl.namespace, wl.namespace, concat(", ", data.gate.releases.shared_namespaces)])
}

deny contains msg if {
	some c in wl.containers
	digest := image_digests[c.image]
	count(usable_by_digest[digest]) == 0
	some r in records(digest)
	visible(r)
	r in object.get(contract.shaped_records, digest, [])
	r.ready != true
	msg := sprintf("%s: container %q image %s: release %s/%s is not Ready: %s", [wl.subject, lib.string_at(c, "name"), c.image, r.namespace, r.name, not_ready_reason(r)])
}

not_ready_reason(r) := concat("; ", r.reasons) if count(r.reasons) > 0

else := "its verification has not finished; wait for it or see `kubectl describe hardenedrelease`"

# quarantined: a digest a CanaryDrill of this namespace rolled back stays out, whichever
# namespace its release lives in, until an Approval clears it (data.releasegate.quarantine).
# Only Rollback Decisions can hold a digest, so a namespace without them pays one scan.
rollbacks := [d | some d in decisions; is_object(d); d.spec.type == "Rollback"]

quarantined contains [img, q] if {
	count(rollbacks) > 0
	some img, digest in image_digests
	targets := {"digests": [digest], "releases": [r.name | some r in object.get(usable_by_digest, digest, [])]}
	some q in quarantine.holding(targets, wl.namespace, decisions)
}

deny contains msg if {
	some [img, q] in quarantined
	msg := quarantine.problem(sprintf("%s: image %s", [wl.subject, img]), q)
}

deny contains msg if some msg in abac.deny

deny contains msg if some msg in stepup.deny

deny contains msg if some msg in guard.violations(wl.subject, wl.guard_meta, wl.namespace, decisions, workload_targets)

deny contains msg if some msg in minimization.workload_problems(wl.subject, wl.annotations)
