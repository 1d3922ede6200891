# What a release needs before anything may run it: a verified cosign signature, a CycloneDX
# SBOM, SLSA provenance and a fresh vulnerability report within budget. Criticals are never
# budgeted: they block unless an unexpired, scoped override Decision accepts each of them.
# Every reason is written for the release owner.
#
# Entry point for the controller (and `release-gate verify`/`pack`):
#   data.releasegate.release.decision -> {"allowed": bool, "reasons": [string], "overrides": [string]}
# `overrides` names the override Decisions the release runs under; admission asks for step-up
# when a workload uses such a release.
package releasegate.release

import data.releasegate.contract
import data.releasegate.guard
import data.releasegate.lib
import data.releasegate.quarantine

rel := lib.object_at(lib.root, "release")

decisions := lib.array_at(lib.root, "decisions")

default allow := false

# allow is an allow-list: each fact the release needs is established positively, with its type;
# the deny rules only explain what is missing.
allow if {
	count(deny) == 0
	contract.release_valid
	verified(rel, "signature")
	sbom_ok(rel)
	provenance_ok(rel)
	vulnerabilities_ok(rel, decisions)
	count(quarantine.holding(release_targets(rel), namespace(rel), decisions)) == 0
	guard.satisfied(label(rel), rel.metadata, namespace(rel), decisions, release_targets(rel))
}

decision := {"allowed": allow, "reasons": reasons, "overrides": sort(overrides)}

reasons := [] if allow

else := sort(deny) if count(deny) > 0

else := ["release check: the release was not positively shown to meet the policy, and no rule named a reason; denying (report this input to the platform team)"]

deny contains msg if some msg in contract.deny

deny contains msg if {
	contract.release_valid
	some msg in violations(rel, decisions)
}

# overrides names the override Decisions the release runs under (its criticals need them).
overrides contains name if {
	contract.release_valid
	some name in break_glass(rel, decisions)
}

# violations(rel, decisions) is every reason release rel may not run (on a well-formed release).
violations(rel, decisions) := ((((signature(rel) | sbom(rel)) | provenance(rel)) | vulnerabilities(rel, decisions)) | quarantined(rel, decisions)) | guard.violations(label(rel), rel.metadata, namespace(rel), decisions, release_targets(rel))

# quarantined(rel, decisions): a CanaryDrill rolled this digest back and nobody cleared it.
quarantined(rel, decisions) := {msg |
	some q in quarantine.holding(release_targets(rel), namespace(rel), decisions)
	msg := quarantine.problem(sprintf("%s (%s)", [label(rel), rel.digest]), q)
}

namespace(rel) := rel.metadata.namespace

label(rel) := concat("", ["release ", rel.metadata.namespace, "/", rel.metadata.name])

# What an Approval must name to cover a change labelled on this release.
release_targets(rel) := {"releases": [rel.metadata.name], "digests": [rel.digest]}

evidence(rel, kind) := lib.object_at(lib.object_at(rel, "evidence"), kind)

verified(rel, kind) if evidence(rel, kind).verified == true

sbom_ok(rel) if {
	verified(rel, "sbom")
	evidence(rel, "sbom").format in data.gate.release.sbom_formats
}

provenance_ok(rel) if {
	verified(rel, "provenance")
	startswith(evidence(rel, "provenance").predicateType, data.gate.release.provenance_type_prefix)
	lib.nonblank(evidence(rel, "provenance").builder)
}

vulnerabilities_ok(rel, decisions) if {
	verified(rel, "vulnerabilities")
	not stale(rel)
	every severity in data.gate.release.budgeted_severities {
		within_budget(rel, severity)
	}
	criticals_accepted(rel, decisions)
}

stale(rel) if evidence(rel, "vulnerabilities").stale == true

# within_budget: absent budget means no limit for that severity (the CRD's contract).
within_budget(rel, severity) if not lib.has_key(lib.object_at(rel, "budget"), severity)

within_budget(rel, severity) if evidence(rel, "vulnerabilities")[severity] <= rel.budget[severity]

criticals_accepted(rel, _) if evidence(rel, "vulnerabilities").critical == 0

criticals_accepted(rel, decisions) if count(break_glass(rel, decisions)) > 0

signature(rel) := {msg |
	not verified(rel, "signature")
	msg := sprintf("%s: no verified cosign signature by a trusted authority for %s; sign the image with cosign and let the controller re-verify", [label(rel), rel.digest])
}

sbom(rel) := {msg |
	not verified(rel, "sbom")
	msg := sprintf("%s: no verified SBOM attestation; attach a CycloneDX SBOM with `cosign attest --type cyclonedx`", [label(rel)])
} | {msg |
	verified(rel, "sbom")
	format := evidence(rel, "sbom").format
	not format in data.gate.release.sbom_formats
	msg := sprintf("%s: SBOM format %q is not accepted; attach one of %s", [label(rel), format, concat(", ", data.gate.release.sbom_formats)])
}

provenance(rel) := {msg |
	not verified(rel, "provenance")
	msg := sprintf("%s: no verified SLSA provenance attestation; publish provenance from the build (e.g. `cosign attest --type slsaprovenance1`)", [label(rel)])
} | {msg |
	verified(rel, "provenance")
	ptype := evidence(rel, "provenance").predicateType
	not startswith(ptype, data.gate.release.provenance_type_prefix)
	msg := sprintf("%s: provenance predicate type %q is not SLSA provenance (%s*)", [label(rel), ptype, data.gate.release.provenance_type_prefix])
}

vulnerabilities(rel, decisions) := ({msg |
	not verified(rel, "vulnerabilities")
	msg := sprintf("%s: no verified vulnerability report attestation; attach a scan with `cosign attest --type vuln`", [label(rel)])
} | {msg |
	stale(rel)
	msg := sprintf("%s: the newest vulnerability report is older than the trust policy's maximum age; rescan the image and attest the new report", [label(rel)])
}) | ({msg |
	verified(rel, "vulnerabilities")
	some severity in data.gate.release.budgeted_severities
	not within_budget(rel, severity)
	msg := sprintf("%s: %v %s vulnerabilities exceed the budget of %v; fix them or raise the release's budget", [label(rel), evidence(rel, "vulnerabilities")[severity], severity, rel.budget[severity]])
} | {msg |
	verified(rel, "vulnerabilities")
	not criticals_accepted(rel, decisions)
	msg := sprintf("%s: %v critical vulnerabilities%s block the release; fix them, or record an Override Decision naming this release or digest and each of these IDs, with an owner and an expiry at most %s days away%s", [label(rel), evidence(rel, "vulnerabilities").critical, id_list(critical_ids(rel)), format_int(max_override_days, 10), override_notes(rel, decisions)])
})

max_override_days := data.gate.overrides.max_lifetime_seconds / 86400

critical_ids(rel) := evidence(rel, "vulnerabilities").criticalIds

id_list(ids) := "" if count(ids) == 0

id_list(ids) := sprintf(" (%s)", [concat(", ", sort(ids))]) if count(ids) > 0

# override_notes says why the overrides that name this release do not cover it.
override_notes(rel, decisions) := concat("", [sprintf("; override Decision %s %s", [d.metadata.name, override_problem(d, rel)]) |
	some d in naming_overrides(rel, decisions)
])

naming_overrides(rel, decisions) := [d |
	some d in lib.decisions_in(decisions, namespace(rel))
	d.spec.type == "Override"
	names_release(d, rel)
]

override_problem(d, _) := "has no valid expiry" if {
	not lib.expires_ns(d)
} else := sprintf("expired at %s", [d.spec.expires]) if {
	lib.decision_expired(d)
} else := sprintf("lasts longer than the maximum of %s days", [format_int(max_override_days, 10)]) if {
	not lib.within_lifetime(d)
} else := "names no vulnerability IDs; an override must list the IDs it accepts" if {
	count(accepted_ids(d)) == 0
} else := sprintf("does not accept %s", [concat(", ", sort(missing_ids(d, rel)))]) if {
	count(missing_ids(d, rel)) > 0
} else := "does not cover this release"

# break_glass(rel, decisions) names the override Decisions that together accept release rel's
# criticals: each is unexpired, within the maximum lifetime, names the release (or its digest)
# and lists only IDs; every critical ID must be accepted by one of them.
break_glass(rel, decisions) := names if {
	evidence(rel, "vulnerabilities").critical > 0
	covering := [d | some d in naming_overrides(rel, decisions); usable_override(d)]
	accepted := {id | some d in covering; some id in accepted_ids(d)}
	ids := critical_ids(rel)
	count(ids) == evidence(rel, "vulnerabilities").critical
	every id in ids {
		id in accepted
	}
	names := {d.metadata.name | some d in covering; some id in accepted_ids(d); id in ids}
}

usable_override(d) if {
	lib.decision_active(d)
	lib.within_lifetime(d)
	count(accepted_ids(d)) > 0
}

accepted_ids(d) := {id | some id in lib.array_at(lib.object_at(d.spec, "scope"), "vulnerabilities"); lib.nonblank(id)}

missing_ids(d, rel) := {id | some id in critical_ids(rel); not id in accepted_ids(d)}

names_release(d, rel) if rel.metadata.name in lib.array_at(lib.object_at(d.spec, "scope"), "releases")

names_release(d, rel) if rel.digest in lib.array_at(lib.object_at(d.spec, "scope"), "digests")
