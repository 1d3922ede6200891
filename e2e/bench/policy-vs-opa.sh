#!/usr/bin/env bash
# Evaluations per second of the admission policy (data.releasegate.admission.decision) on the
# same bundle (policies/) and input (a Deployment with four containers plus release evidence):
# in-process with regorus as the gate runs it (the entry point compiled for regorus' VM;
# criterion, release build) and with `opa bench` (the real OPA from e2e/tools/install.sh, with
# its metrics and allocation counting off, its fastest setting).
#
# This machine's speed drifts by up to 2x within minutes, so the two run in alternation,
# ROUNDS times (default 7), and the script reports each round's ratio and their median.
# Usage: e2e/bench/policy-vs-opa.sh            ROUNDS=11 e2e/bench/policy-vs-opa.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PATH="${RELEASE_GATE_CACHE:-$HOME/.cache/release-gate}/bin:$PATH"
command -v opa >/dev/null || { echo "missing opa: run e2e/tools/install.sh opa" >&2; exit 1; }
cd "$root"
input=policies/examples/admit_deployment/input.json
query=data.releasegate.admission.decision
rounds=${ROUNDS:-7}

# regorus builds anyhow errors (with backtraces when enabled) for some control flow; the
# webhook runs without RUST_BACKTRACE, and so does this measurement.
export RUST_LIB_BACKTRACE=0 RUST_BACKTRACE=0
bench=$(cargo bench --bench policy_eval --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "policy_eval" and m.get("executable"):
        print(m["executable"])')
[ -x "$bench" ] || { echo "could not build benches/policy_eval.rs" >&2; exit 1; }

criterion() { # FILTER -> ns per evaluation
  "$bench" --bench --output-format bencher --warm-up-time 1 --measurement-time 3 --sample-size 40 "$1" 2>/dev/null |
    awk '/^test / {gsub(",", "", $5); print $5}'
}
opa_ns() {
  opa bench --data policies/ --input "$input" "$query" --format json --count 1 \
    --metrics=false --benchmem=false | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["T"]/d["N"])'
}

interp=$(criterion '^regorus_interpreter_admission_decision$')
convert=$(criterion '^regorus_vm_admission_decision_with_input_conversion$')
results=()
printf '%-6s %14s %14s %8s\n' round regorus-vm-us opa-us ratio
for i in $(seq 1 "$rounds"); do
  r=$(criterion '^regorus_vm_admission_decision$')
  o=$(opa_ns)
  ratio=$(python3 -c "print(f'{$o/$r:.2f}')")
  results+=("$r $o")
  printf '%-6s %14.1f %14.1f %7sx\n' "$i" "$(python3 -c "print($r/1000)")" "$(python3 -c "print($o/1000)")" "$ratio"
done
printf '%s\n' "${results[@]}" | python3 -c '
import sys, statistics
pairs = [tuple(map(float, l.split())) for l in sys.stdin if l.strip()]
r = statistics.median(p[0] for p in pairs); o = statistics.median(p[1] for p in pairs)
ratios = sorted(p[1] / p[0] for p in pairs)
print(f"regorus VM:  median {r/1000:8.1f} us/eval  {1e9/r:7.0f} evals/s")
print(f"opa:         median {o/1000:8.1f} us/eval  {1e9/o:7.0f} evals/s")
print(f"ratio regorus/opa (evals/s), per round: median {statistics.median(ratios):.2f}x, min {ratios[0]:.2f}x, max {ratios[-1]:.2f}x")'
python3 -c "print(f'for reference: regorus interpreter {$interp/1000:.1f} us/eval; VM including JSON input conversion {$convert/1000:.1f} us/eval')"
