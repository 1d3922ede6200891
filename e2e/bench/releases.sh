#!/usr/bin/env bash
# Time until N HardenedReleases (default 1000, each of its own signed and attested digest: D=N)
# all have a verdict, and the controller's peak RSS, against a local control plane and registry.
# The controller is the optimised build (PROFILE=release, the default; PROFILE=dev for the debug
# build the tests use). Signing D digests with cosign is timed apart (W=4 at once).
# STORE=DIR keeps the signed images in DIR/D and serves them again in later runs with the same D
# (signing 1,000 digests takes about 11 minutes; the run itself about a minute).
# Usage: e2e/bench/releases.sh        N=200 e2e/bench/releases.sh        N=1000 D=10 W=2 ...
#        STORE=~/.cache/release-gate/bench-store e2e/bench/releases.sh
# The registry is olareg; REGISTRY=docker-registry uses docker-registry 2.8, which spends about
# twice the CPU per request (2.2 ms against 1.2 ms here) on the cores the controller shares. With
# STORE, the images are signed into docker-registry's storage and copied once into olareg's.
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
if [ -n "${STORE:-}" ]; then export RELEASE_GATE_BENCH_STORE="$STORE"; fi
if [ -n "${REGISTRY:-}" ]; then export RELEASE_GATE_BENCH_REGISTRY="$REGISTRY"; fi
RELEASE_GATE_BENCH_RELEASES=${N:-1000} RELEASE_GATE_BENCH_DIGESTS=${D:-${N:-1000}} \
  RELEASE_GATE_BENCH_PREP_WORKERS=${W:-4} \
  cargo test --profile "${PROFILE:-release}" --locked --test e2e_release_bench -- --ignored --nocapture
