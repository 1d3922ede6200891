#!/usr/bin/env bash
# Evaluations per second of the admission policy (data.releasegate.admission.decision) on the
# same bundle (policies/) and input (a Deployment with four containers plus release evidence),
# in the same run: in-process with regorus (criterion, release build) and with `opa bench`
# (the real OPA from e2e/tools/install.sh). Prints both and the ratio regorus/opa.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PATH="${RELEASE_GATE_CACHE:-$HOME/.cache/release-gate}/bin:$PATH"
command -v opa >/dev/null || { echo "missing opa: run e2e/tools/install.sh opa" >&2; exit 1; }
cd "$root"
input=policies/examples/admit_deployment/input.json
query=data.releasegate.admission.decision

# regorus builds anyhow errors for control flow while resolving dynamic references; with
# backtraces enabled (RUST_BACKTRACE=1, common in dev shells) each one walks the stack and
# evaluation runs about twice as slow. The webhook runs without backtraces; measure that.
export RUST_LIB_BACKTRACE=0
regorus_out=$(cargo bench --bench policy_eval -- --output-format bencher)
echo "$regorus_out" | grep '^test '
regorus_ns=$(echo "$regorus_out" | awk '/^test regorus_admission_decision / {gsub(",", "", $5); print $5}')

opa_json=$(opa bench --data policies/ --input "$input" "$query" --format json --count "${OPA_BENCH_COUNT:-5}")
opa_ns=$(echo "$opa_json" | python3 -c '
import json, sys
text = sys.stdin.read()
dec = json.JSONDecoder(); i = 0; runs = []
while i < len(text):
    text_i = text[i:].lstrip()
    if not text_i: break
    obj, n = dec.raw_decode(text_i); runs.append(obj["T"] / obj["N"]); i = len(text) - len(text_i) + n
runs.sort(); print(runs[len(runs) // 2])')

python3 - "$regorus_ns" "$opa_ns" <<'PY'
import sys
r, o = float(sys.argv[1]), float(sys.argv[2])
print(f"regorus: {r/1000:9.1f} us/eval  {1e9/r:9.0f} evals/s")
print(f"opa:     {o/1000:9.1f} us/eval  {1e9/o:9.0f} evals/s  (median of opa bench runs)")
print(f"ratio regorus/opa (evals/s): {o/r:.2f}x")
PY
