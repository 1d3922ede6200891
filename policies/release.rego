# What a release needs before anything may run it: a verified cosign signature, a CycloneDX
# SBOM, SLSA provenance and a vulnerability report within budget. Criticals block unless an
# unexpired override Decision covers them. Every reason is written for the release owner.
package releasegate.release

import data.releasegate.guard
import data.releasegate.lib
import data.releasegate.minimisation

# Entry point for the controller: input {purpose: "release", release, decisions}.
deny contains msg if {
	not input.release
	msg := "release check: the input has no `release` object; send {purpose, release, decisions}"
}

deny contains msg if {
	some msg in violations(input.release, object.get(input, "decisions", []))
}

deny contains msg if {
	some msg in minimisation.deny
}

default allow := false

allow if count(deny) == 0

decision := {"allowed": allow, "reasons": sort(deny)}

# violations(rel, decisions) is every reason release rel may not run.
violations(rel, decisions) := (((signature(rel) | sbom(rel)) | provenance(rel)) | vulnerabilities(rel, decisions)) | guard.violations(label(rel), object.get(rel, "metadata", {}), namespace(rel), decisions)

# break_glass(rel, decisions) names the override Decisions release rel runs under.
break_glass(rel, decisions) := {d.metadata.name |
	criticals(rel) > 0
	some d in lib.decisions_in(decisions, namespace(rel))
	covers(d, rel)
}

namespace(rel) := object.get(rel, ["metadata", "namespace"], "")

label(rel) := sprintf("release %s/%s", [namespace(rel), object.get(rel, ["metadata", "name"], "")])

evidence(rel, kind) := object.get(rel, ["evidence", kind], {})

verified(rel, kind) if evidence(rel, kind).verified == true

signature(rel) := {msg |
	not verified(rel, "signature")
	msg := sprintf("%s: no verified cosign signature by a trusted authority for %s; sign the image with cosign and let the controller re-verify", [label(rel), object.get(rel, "digest", "(no digest)")])
}

sbom(rel) := {msg |
	not verified(rel, "sbom")
	msg := sprintf("%s: no verified SBOM attestation; attach a CycloneDX SBOM with `cosign attest --type cyclonedx`", [label(rel)])
} | {msg |
	verified(rel, "sbom")
	format := object.get(evidence(rel, "sbom"), "format", "")
	not format in data.gate.release.sbom_formats
	msg := sprintf("%s: SBOM format %q is not accepted; attach one of %s", [label(rel), format, concat(", ", data.gate.release.sbom_formats)])
}

provenance(rel) := {msg |
	not verified(rel, "provenance")
	msg := sprintf("%s: no verified SLSA provenance attestation; publish provenance from the build (e.g. `cosign attest --type slsaprovenance1`)", [label(rel)])
} | {msg |
	verified(rel, "provenance")
	ptype := object.get(evidence(rel, "provenance"), "predicateType", "")
	not startswith(ptype, data.gate.release.provenance_type_prefix)
	msg := sprintf("%s: provenance predicate type %q is not SLSA provenance (%s*)", [label(rel), ptype, data.gate.release.provenance_type_prefix])
}

criticals(rel) := object.get(evidence(rel, "vulnerabilities"), "critical", 0)

critical_ids(rel) := object.get(evidence(rel, "vulnerabilities"), "criticalIds", [])

vulnerabilities(rel, decisions) := ({msg |
	not verified(rel, "vulnerabilities")
	msg := sprintf("%s: no verified vulnerability report attestation; attach a scan with `cosign attest --type vuln`", [label(rel)])
} | {msg |
	verified(rel, "vulnerabilities")
	some severity in ["high", "medium", "low"]
	limit := rel.budget[severity]
	found := object.get(evidence(rel, "vulnerabilities"), severity, 0)
	found > limit
	msg := sprintf("%s: %d %s vulnerabilities exceed the budget of %d; fix them or raise the release's budget", [label(rel), found, severity, limit])
}) | {msg |
	verified(rel, "vulnerabilities")
	criticals(rel) > 0
	count(break_glass(rel, decisions)) == 0
	msg := sprintf("%s: %d critical vulnerabilities%s block the release; fix them, or record an Override Decision naming this release or digest, with an owner and an expiry%s", [label(rel), criticals(rel), id_list(critical_ids(rel)), expired_note(rel, decisions)])
}

id_list(ids) := "" if count(ids) == 0

id_list(ids) := sprintf(" (%s)", [concat(", ", sort(ids))]) if count(ids) > 0

expired_note(rel, decisions) := sprintf("; override Decision(s) %s expired", [concat(", ", names)]) if {
	names := sort([d.metadata.name |
		some d in lib.decisions_in(decisions, namespace(rel))
		d.spec.type == "Override"
		names_release(d, rel)
		lib.decision_expired(d)
	])
	count(names) > 0
} else := ""

# covers(d, rel): d is an unexpired Override that names the release (or its digest) and accepts
# every critical finding the report lists. An override must name what it unblocks.
covers(d, rel) if {
	d.spec.type == "Override"
	lib.decision_active(d)
	names_release(d, rel)
	accepts_criticals(d, rel)
}

names_release(d, rel) if rel.metadata.name in object.get(d.spec, ["scope", "releases"], [])

names_release(d, rel) if rel.digest in object.get(d.spec, ["scope", "digests"], [])

accepts_criticals(d, _) if count(object.get(d.spec, ["scope", "vulnerabilities"], [])) == 0

accepts_criticals(d, rel) if {
	accepted := object.get(d.spec, ["scope", "vulnerabilities"], [])
	count(accepted) > 0
	every id in critical_ids(rel) {
		id in accepted
	}
}
