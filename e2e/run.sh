#!/usr/bin/env bash
# `make run`: the operator against a Kubernetes cluster.
#   - With KUBECONFIG set (to a real cluster), it applies the CRDs there and runs
#     `release-gate run` against it.
#   - Otherwise it installs the test-bed tools if missing, starts a local control plane
#     (e2e/cluster.sh), applies the CRDs and runs `release-gate run` against it.
# Ctrl-C stops the operator and the local control plane.
set -euo pipefail

# shellcheck source=e2e/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

say() { printf '[run] %s\n' "$*" >&2; }

say "building release-gate"
cargo build --locked --bin release-gate
bin=$CARGO_TARGET_DIR/debug/release-gate

if [[ -n "${KUBECONFIG:-}" ]]; then
  say "KUBECONFIG is set: running against $(kubectl config current-context 2>/dev/null || echo "$KUBECONFIG")"
  kubectl apply --server-side --field-manager release-gate -f crds/
else
  e2e/tools/install.sh control-plane
  export PATH="$CACHE/bin:$PATH"
  run_dir=${RELEASE_GATE_RUN_DIR:-$CACHE/run}
  e2e/cluster.sh down "$run_dir" 2>/dev/null || true
  trap 'e2e/cluster.sh down "$run_dir"' EXIT
  trap 'exit 130' INT TERM
  e2e/cluster.sh up "$run_dir"
  # shellcheck disable=SC1091
  source "$run_dir/env"
  kubectl apply --server-side --field-manager release-gate -f crds/ >/dev/null
  kubectl wait --for=condition=Established crd --all --timeout=30s >/dev/null
  cat >&2 <<EOF

  A local control plane is running. In another shell:

    export KUBECONFIG=$run_dir/kubeconfig PATH=$CACHE/bin:\$PATH
    kubectl get hr,drill,dec -A

  Press Ctrl-C to stop the operator and the control plane.

EOF
fi

# The controller judges releases and the webhook admits workloads by the repository's policy
# bundle, pinned to the digest of what is checked out (a bundle edited while it runs is refused
# and the pinned one keeps serving).
policy_dir=${RELEASE_GATE_POLICY_BUNDLE:-policies}
if ! policy_digest=$("$bin" policy digest "$policy_dir" 2>/dev/null) || [[ -z "$policy_digest" ]]; then
  say "the policy bundle $policy_dir does not load: run '$bin policy digest $policy_dir' to see why"
  exit 1
fi
say "policy bundle $policy_dir pinned to $policy_digest"

say "starting release-gate run (controllers + webhook)"
"$bin" run --controller-health-addr "${RELEASE_GATE_CONTROLLER_HEALTH_ADDR:-127.0.0.1:8080}" \
  --webhook-addr "${RELEASE_GATE_WEBHOOK_ADDR:-127.0.0.1:8443}" \
  --policy-bundle "$policy_dir" --policy-digest "$policy_digest" &
pid=$!
# Forward Ctrl-C / SIGTERM to the operator and wait for its clean shutdown.
trap 'kill -TERM $pid 2>/dev/null; wait $pid; exit 0' INT TERM
wait $pid
