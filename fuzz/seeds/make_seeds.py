#!/usr/bin/env python3
"""Writes the seed inputs of fuzz/corpus/<target>/seed-* from the project's fixtures (e2e/fixtures,
policies/examples) plus a few small hand-written documents. Re-run after a fixture changes:
    python3 fuzz/seeds/make_seeds.py
The corpora also hold inputs libFuzzer found (named by their sha1); this script touches only
the seed-* files."""
import base64, json, os, pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORPUS = ROOT / "fuzz" / "corpus"
DIGEST = "ab" * 32


def load(p):
    return json.loads((ROOT / p).read_text())


def compact(v):
    return json.dumps(v, separators=(",", ":"), sort_keys=True).encode()


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / f"seed-{name}").write_bytes(data if isinstance(data, bytes) else compact(data))


def statement(ptype, predicate, st="https://in-toto.io/Statement/v1"):
    return {"_type": st, "subject": [{"name": "registry.local/app", "digest": {"sha256": DIGEST}}],
            "predicateType": ptype, "predicate": predicate}


def envelope(payload, ptype="application/vnd.in-toto+json"):
    return {"payloadType": ptype, "payload": base64.b64encode(payload).decode(),
            "signatures": [{"keyid": "", "sig": base64.b64encode(b"\x30\x06\x02\x01\x01\x02\x01\x01").decode()}]}


# A small CycloneDX SBOM cut from the fixture (the whole one is 78 KB: slow to mutate).
sbom = load("e2e/fixtures/sbom.cdx.json")
small_sbom = {k: sbom[k] for k in ("bomFormat", "specVersion", "version")}
small_sbom["components"] = sbom["components"][:3]
small_sbom["components"][0]["components"] = [{"name": "nested", "licenses": [{"expression": "MIT OR Apache-2.0"}]}]
spdx = {"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "app",
        "packages": [{"name": "musl", "licenseConcluded": "MIT"}, {"name": "x", "licenseDeclared": "NOASSERTION"}]}
slsa02 = load("e2e/fixtures/slsa-provenance-v02.json")
slsa1 = {"buildDefinition": {"buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
                             "externalParameters": {"workflow": {"ref": "refs/heads/main", "repository": "https://github.com/example/app", "path": ".github/workflows/release.yml"}},
                             "resolvedDependencies": [{"uri": "git+https://github.com/example/app@refs/heads/main", "digest": {"gitCommit": "5b5c7b9ea8d1b6e4e3c6ea2c77b1f9cdd34b3a50"}}]},
         "runDetails": {"builder": {"id": "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.0.0"},
                        "metadata": {"invocationId": "1"}}}
trivy = load("e2e/fixtures/trivy-report.json")
trivy_crit = load("e2e/fixtures/trivy-report-critical.json")
osv_scanner = load("e2e/fixtures/osv-report.json")
osv = {"vulns": [{"id": "GHSA-xxxx-yyyy-zzzz", "database_specific": {"severity": "HIGH"},
                  "affected": [{"package": {"name": "lodash", "ecosystem": "npm"}, "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "4.17.21"}]}]}]},
                 {"id": "CVE-2024-0001", "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
                  "affected": [{"package": {"name": "left-pad"}, "severity": [{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}]}]}]}
trivy_cvss = {"SchemaVersion": 2, "CreatedAt": "2026-11-29T10:00:00Z", "Results": [{"Target": "app", "Vulnerabilities": [
    {"VulnerabilityID": "CVE-2024-9999", "PkgName": "zlib", "Severity": "UNKNOWN",
     "CVSS": {"nvd": {"V3Vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "V3Score": 9.8}, "ghsa": {"V40Score": 7.1}}}]}]}
cosign_vuln = {"invocation": {"uri": "", "event_id": "", "builder.id": ""},
               "scanner": {"uri": "pkg:github/aquasecurity/trivy@v0.58.0", "version": "0.58.0", "result": trivy_crit},
               "metadata": {"scanStartedOn": "2026-11-29T10:00:00Z", "scanFinishedOn": "2026-11-29T10:01:00Z"}}

write("cyclonedx_sbom", "cyclonedx", small_sbom)
write("cyclonedx_sbom", "spdx", spdx)
write("slsa_provenance", "v02", slsa02)
write("slsa_provenance", "v1", slsa1)
for name, doc in [("trivy", trivy), ("trivy-critical", trivy_crit), ("trivy-cvss-only", trivy_cvss),
                  ("osv-scanner", osv_scanner), ("osv", osv), ("cosign-vuln", cosign_vuln)]:
    write("vuln_report", name, doc)

statements = {"slsa-v02": statement("https://slsa.dev/provenance/v0.2", slsa02, "https://in-toto.io/Statement/v0.1"),
              "slsa-v1": statement("https://slsa.dev/provenance/v1", slsa1),
              "cyclonedx": statement("https://cyclonedx.org/bom", small_sbom),
              "vuln": statement("https://cosign.sigstore.dev/attestation/vuln/v1", cosign_vuln)}
for name, st in statements.items():
    write("intoto_statement", name, st)
for name in ("slsa-v1", "vuln"):
    write("dsse_envelope", name, envelope(compact(statements[name])))
write("dsse_envelope", "not-in-toto", envelope(b"hello", "text/plain"))

for f in sorted((ROOT / "e2e/fixtures/keyless").glob("*.sigstore.json")):
    b = json.loads(f.read_text())
    write("sigstore_bundle", f.name.removesuffix(".sigstore.json"), b)
    # Their DSSE envelopes and statements seed the DSSE and in-toto targets too.
    write("dsse_envelope", f.name.removesuffix(".sigstore.json"), b["dsseEnvelope"])
    write("intoto_statement", f.name.removesuffix(".sigstore.json"), base64.b64decode(b["dsseEnvelope"]["payload"]))

for d in sorted((ROOT / "policies/examples").iterdir()):
    write("admission_policy", d.name, load(d / "input.json"))

pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app", "namespace": "team"},
       "spec": {"initContainers": [{"name": "init", "image": "registry.local/init@sha256:" + DIGEST}],
                "containers": [{"name": "app", "image": "registry.local/app:1.0@sha256:" + DIGEST}]}}
deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app", "namespace": "team"},
          "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "app", "image": "registry.local/app:1.0"}]}}}}
cron = {"apiVersion": "batch/v1", "kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}}}


def review(kind, group, version, op, obj, old=None):
    req = {"uid": "705ab4f5-6393-11e8-b7cc-42010a800002", "kind": {"group": group, "version": version, "kind": kind},
           "resource": {"group": group, "version": version, "resource": kind.lower() + "s"},
           "namespace": "team", "operation": op, "userInfo": {"username": "alice", "groups": ["dev"]}, "object": obj}
    if old is not None:
        req["oldObject"] = old
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req}


write("admission_review", "pod-create", review("Pod", "", "v1", "CREATE", pod))
write("admission_review", "deployment-update", review("Deployment", "apps", "v1", "UPDATE", deploy, deploy))
write("admission_review", "cronjob-create", review("CronJob", "batch", "v1", "CREATE", cron))
write("admission_review", "v1beta1", {"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {"uid": "u"}})
