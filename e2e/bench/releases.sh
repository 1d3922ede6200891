#!/usr/bin/env bash
# Time until N HardenedReleases (default 1000, over D=10 signed digests) all have a verdict, and
# the controller's peak RSS, against a local control plane and registry. The controller is the
# debug build the tests use (PROFILE=release for an optimised one, a separate build).
# Usage: e2e/bench/releases.sh        N=200 D=5 e2e/bench/releases.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
# shellcheck source=e2e/env.sh
source e2e/env.sh
export PATH="$CACHE/bin:$PATH"
run_dir=$(mktemp -d "${TMPDIR:-/tmp}/release-gate-bench.XXXXXX")
trap 'e2e/cluster.sh down "$run_dir"' EXIT
e2e/cluster.sh up "$run_dir"
# shellcheck disable=SC1091
source "$run_dir/env"
RELEASE_GATE_BENCH_RELEASES=${N:-1000} RELEASE_GATE_BENCH_DIGESTS=${D:-10} \
  cargo test --profile "${PROFILE:-dev}" --locked --test e2e_release_bench -- --ignored --nocapture
