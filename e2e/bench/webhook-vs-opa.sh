#!/usr/bin/env bash
# Load on the running admission webhook, open loop at a constant rate over TLS with a private
# CA (vegeta), against a real control plane: realistic AdmissionReviews (a Deployment with four
# digest-pinned containers whose releases are Verified), and in the same run the same Rego
# served by `opa run --server` with the same decision input on /v1/data. Prints p50/p99/max and
# success per rate.
#
# Usage: e2e/bench/webhook-vs-opa.sh            DURATION=20s RATES="1000 5000" e2e/bench/webhook-vs-opa.sh
# Needs the test-bed tools (make tools) and vegeta (e2e/tools/install.sh vegeta). Uses the
# cluster KUBECONFIG names, or starts one of its own and stops it afterwards.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
CACHE=${RELEASE_GATE_CACHE:-$HOME/.cache/release-gate}
export PATH="$CACHE/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
for t in vegeta opa kubectl openssl python3; do
  command -v "$t" >/dev/null || { echo "missing $t: run make tools and e2e/tools/install.sh vegeta" >&2; exit 1; }
done
duration=${DURATION:-10s}
rates=${RATES-"1000 5000"}
opa_rates=${OPA_RATES-"200 500 1000"}
work=$(mktemp -d "${TMPDIR:-/tmp}/rg-webhook-bench.XXXXXX")
pids=()
own_cluster=""
ns=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # On a shared cluster, leave no releases behind: each run's records would join the next
  # run's decisions (the same digests in more namespaces) and slow them.
  if [[ -n $ns && -z $own_cluster ]]; then kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1 || true; fi
  if [[ -n $own_cluster ]]; then e2e/cluster.sh down "$own_cluster" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if [[ -z ${KUBECONFIG:-} ]]; then
  own_cluster=$work/cluster
  e2e/cluster.sh up "$own_cluster" >&2
  # shellcheck disable=SC1091
  source "$own_cluster/env"
fi
cargo build --release --locked --bin release-gate >&2
bin=$CARGO_TARGET_DIR/release/release-gate
"$bin" crds | kubectl apply --server-side --force-conflicts --field-manager release-gate-bench -f - >/dev/null

# Four Verified releases in a namespace labelled like the example workload.
ns=bench-$$
kubectl create namespace "$ns" >/dev/null
kubectl label namespace "$ns" releasegate.dev/sensitivity=confidential releasegate.dev/origin=eu \
  releasegate.dev/legal-basis=contract >/dev/null
python3 - "$ns" "$work" <<'PY'
import json, sys
ns, work = sys.argv[1], sys.argv[2]
ex = json.load(open("policies/examples/admit_deployment/input.json"))
req = ex["request"]
req["namespace"] = ns
req["object"]["metadata"]["namespace"] = ns
digests = []
spec = req["object"]["spec"]["template"]["spec"]
for c in spec.get("initContainers", []) + spec["containers"]:
    digests.append((c["name"], c["image"].split("@")[1]))
review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req}
json.dump(review, open(f"{work}/review.json", "w"))
releases = {d: [{"name": n, "namespace": ns, "digest": d, "ready": True, "reasons": [], "overrides": []}] for n, d in digests}
opa_input = {"purpose": "admission", "request": req,
             "namespace": {"metadata": {"name": ns, "labels": {"releasegate.dev/sensitivity": "confidential", "releasegate.dev/origin": "eu", "releasegate.dev/legal-basis": "contract", "kubernetes.io/metadata.name": ns}}},
             "releases": releases, "decisions": []}
json.dump({"input": opa_input}, open(f"{work}/opa-input.json", "w"))
with open(f"{work}/releases.txt", "w") as f:
    for n, d in digests:
        f.write(f"{n} {d}\n")
PY
while read -r name digest; do
  kubectl apply -n "$ns" -f - >/dev/null <<YAML
apiVersion: releasegate.dev/v1alpha1
kind: HardenedRelease
metadata: {name: $name}
spec: {image: "registry.example.com/payments/$name@$digest"}
YAML
  gen=$(kubectl get hardenedrelease "$name" -n "$ns" -o jsonpath='{.metadata.generation}')
  kubectl patch hardenedrelease "$name" -n "$ns" --subresource=status --type=merge -p \
    "{\"status\":{\"phase\":\"Verified\",\"verifiedDigest\":\"$digest\",\"observedGeneration\":$gen,\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"Verified\",\"message\":\"\",\"lastTransitionTime\":\"2026-11-30T00:00:00Z\"}]}}" >/dev/null
done <"$work/releases.txt"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=release-gate-bench \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
port=$(free_port)
digest=$("$bin" policy digest policies 2>/dev/null)
RELEASE_GATE_LOG=warn ${GATE_WRAPPER:-} "$bin" webhook --webhook-addr "127.0.0.1:$port" --tls-cert "$work/tls.crt" \
  --tls-key "$work/tls.key" --policy-bundle policies --policy-digest "$digest" &
pids+=($!)
gate_pid=$!
for _ in $(seq 1 600); do
  [[ $(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/tls.crt" "https://127.0.0.1:$port/readyz") == 200 ]] && break
  sleep 0.5
done
answer=$(curl -s --cacert "$work/tls.crt" -H 'Content-Type: application/json' --data @"$work/review.json" "https://127.0.0.1:$port/validate")
python3 -c 'import json,sys; r=json.loads(sys.argv[1])["response"]; assert r["allowed"], r; print("webhook admits the bench review", file=sys.stderr)' "$answer"

opa_port=$(free_port)
opa run --server --addr "127.0.0.1:$opa_port" --log-level error policies/ &
pids+=($!)
for _ in $(seq 1 60); do curl -sf "http://127.0.0.1:$opa_port/health" >/dev/null && break; sleep 0.5; done
curl -s -H 'Content-Type: application/json' --data @"$work/opa-input.json" \
  "http://127.0.0.1:$opa_port/v1/data/releasegate/admission/decision" |
  python3 -c 'import json,sys; r=json.load(sys.stdin)["result"]; assert r["allowed"], r; print("opa admits the same input", file=sys.stderr)'

report() { # LABEL RATE -> one line
  python3 -c '
import json, sys
r = json.load(sys.stdin)
l = r["latencies"]
ms = lambda k: l[k] / 1e6
label, rate = sys.argv[1], sys.argv[2]
print("%-12s %6s/s  p50 %8.2f ms  p99 %8.2f ms  max %8.2f ms  success %6.2f%%  throughput %6.0f/s  codes %s" % (
    label, rate, ms("50th"), ms("99th"), ms("max"), r["success"] * 100, r["throughput"], r["status_codes"]))
for e in (r.get("errors") or [])[:3]:
    print("%-12s %6s    error: %s" % ("", "", e[:160]))' "$1" "$2"
}
printf 'POST https://127.0.0.1:%s/validate\nContent-Type: application/json\n@%s\n' "$port" "$work/review.json" >"$work/gate.targets"
if [[ -n ${GATE_TARGET:-} ]]; then printf 'GET https://127.0.0.1:%s%s\n' "$port" "$GATE_TARGET" >"$work/gate.targets"; fi
printf 'POST http://127.0.0.1:%s/v1/data/releasegate/admission/decision\nContent-Type: application/json\n@%s\n' "$opa_port" "$work/opa-input.json" >"$work/opa.targets"
echo "open loop, $duration per rate; the webhook's deadline is 2000 ms"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for r in $rates; do
  before=$(cpu_ticks "$gate_pid")
  vegeta attack -rate="$r/s" -duration="$duration" -root-certs="$work/tls.crt" -targets="$work/gate.targets" -timeout=10s >"$work/gate.bin"
  after=$(cpu_ticks "$gate_pid")
  vegeta report -type=json <"$work/gate.bin" | report release-gate "$r"
  if [[ -n ${HIST:-} ]]; then vegeta report -type="hist[0,500us,1ms,1500us,2ms,3ms,5ms,10ms]" <"$work/gate.bin"; fi
  requests=$(vegeta report -type=json <"$work/gate.bin" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])')
  python3 -c 'import sys; t, n, hz = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]); print("%-12s %6s    webhook CPU %.2f s, %.0f µs per request" % ("", "", t / hz, t / hz / max(n, 1) * 1e6))' \
    "$((after - before))" "$requests" "$(getconf CLK_TCK)"
  # What the answers said: admitted (a full decision), or denied and why (shed under overload).
  vegeta encode <"$work/gate.bin" | python3 -c '
import base64, collections, json, sys
said = collections.Counter()
for line in sys.stdin:
    r = json.loads(line)
    try:
        resp = json.loads(base64.b64decode(r.get("body") or b""))["response"]
    except Exception:
        said["no answer"] += 1
        continue
    if resp["allowed"]:
        said["admitted"] += 1
    else:
        msg = resp.get("status", {}).get("message", "")
        said["denied: " + ("overloaded" if "already running" in msg else "deadline" if "deadline" in msg else msg[:60])] += 1
print("%-12s %6s    answers: %s" % ("", "", ", ".join("%s %d" % kv for kv in said.most_common())))'

done
for r in $opa_rates; do
  vegeta attack -rate="$r/s" -duration="$duration" -targets="$work/opa.targets" -timeout=10s |
    vegeta report -type=json | report opa "$r"
done
