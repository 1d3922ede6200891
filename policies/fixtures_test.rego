# Test fixtures shared by the *_test.rego files: a fixed clock, a verified release, its index
# record, Decisions and admission inputs built from parts, so each test states only what it
# changes.
package releasegate.fixtures

# 2026-06-01T00:00:00Z; every test pins the clock with `with time.now_ns as fixtures.now`.
# Where the mocked expression is a function call that also takes a fixture as argument, tests
# bind the clock to a local first: regorus 0.14.1 evaluates `f(fx.a) with time.now_ns as fx.b`
# to undefined (OPA does not); the OPA cross-check caught it.
now := 1780272000000000000

# The same instant plus half a second: the real clock is never a whole second.
now_fraction := 1780272000500000000

now_s := 1780272000

digest := "sha256:3b0c9a7f1d2e4c5b6a798877665544332211ffeeddccbbaa0099887766554433"

other_digest := "sha256:0000000000000000000000000000000000000000000000000000000000000000"

image := concat("@", ["registry.example.com/payments/api", digest])

clean_scan := {"verified": true, "critical": 0, "high": 0, "medium": 0, "low": 0, "unknown": 0, "criticalIds": []}

release_with(name, d, evidence_patch) := object.union(
	{
		"metadata": {"name": name, "namespace": "payments"},
		"digest": d,
		"evidence": {
			"signature": {"verified": true, "identity": "https://github.com/acme/payments/.github/workflows/release.yml@refs/tags/v2.4.0"},
			"sbom": {"verified": true, "format": "CycloneDX"},
			"provenance": {"verified": true, "predicateType": "https://slsa.dev/provenance/v1", "builder": "https://github.com/actions/runner/github-hosted"},
			"vulnerabilities": clean_scan,
		},
		"budget": {"high": 2, "medium": 10},
	},
	{"evidence": evidence_patch},
)

release := release_with("api", digest, {})

# A release with two critical findings.
critical_release := release_with("api", digest, {"vulnerabilities": {"critical": 2, "criticalIds": ["CVE-2026-0001", "CVE-2026-0002"]}})

decision(name, type, expires, scope) := {
	"metadata": {"name": name, "namespace": "payments"},
	"spec": {"type": type, "owner": "team-payments", "residualRisk": "Medium", "scope": scope, "expires": expires},
}

# An override for the `api` release's two criticals that ends a month after the pinned clock.
override := decision("override-api", "Override", "2026-07-01T00:00:00Z", {"releases": ["api"], "vulnerabilities": ["CVE-2026-0001", "CVE-2026-0002"]})

# An approval of the Pod `api` and the release `api`.
approval := decision("approve-api", "Approval", "2026-12-31T00:00:00Z", {"releases": ["api"], "workloads": ["Pod/api"]})

# record(name, ns, d, ready, reasons, overrides) is a release record as the gate's index holds it.
record(name, ns, d, ready, reasons, overrides) := {"name": name, "namespace": ns, "digest": d, "ready": ready, "reasons": reasons, "overrides": overrides}

ready_record := record("api", "payments", digest, true, [], [])

ns_labels := {
	"releasegate.dev/sensitivity": "confidential",
	"releasegate.dev/origin": "eu",
	"releasegate.dev/legal-basis": "contract",
}

pod_labels := object.union(ns_labels, {"app.kubernetes.io/name": "api"})

user := {"username": "alice@example.com", "groups": ["release-managers", "system:authenticated"]}

# userInfo.extra as the apiserver fills it from the OIDC claims (values are string lists).
fresh_mfa := {"releasegate.dev/amr": ["pwd", "mfa"], "releasegate.dev/auth-time": ["1780271940"]}

user_with_extra(extra) := object.union(user, {"extra": extra})

pod(labels, annotations, images) := {
	"apiVersion": "v1",
	"kind": "Pod",
	"metadata": {"name": "api", "namespace": "payments", "labels": labels, "annotations": annotations},
	"spec": {"containers": [{"name": sprintf("c%d", [i]), "image": img} | some i, img in images]},
}

admission(obj, nsl, ui, releases, decisions) := {
	"purpose": "admission",
	"request": {
		"uid": "7c0f3f5e-0000-4000-8000-000000000001",
		"kind": {"group": "", "version": "v1", "kind": obj.kind},
		"namespace": "payments",
		"name": obj.metadata.name,
		"operation": "CREATE",
		"userInfo": ui,
		"object": obj,
	},
	"namespace": {"metadata": {"name": "payments", "labels": nsl}},
	"releases": releases,
	"decisions": decisions,
}

# The admitted baseline: a confidential Pod running the Ready release, deployed by a release
# manager into a matching confidential namespace.
base := admission(pod(pod_labels, {}, [image]), ns_labels, user, {digest: [ready_record]}, [])

# has(msgs, fragment) holds when some message contains fragment.
has(msgs, fragment) if {
	some m in msgs
	contains(m, fragment)
}
