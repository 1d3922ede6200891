# shellcheck shell=bash
# Sourced by e2e/run.sh and e2e/test.sh: work from the repository root, and keep the test-bed
# tools and cargo's output in a cache outside the repository, which a fresh clone reuses.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
CACHE=${RELEASE_GATE_CACHE:-$HOME/.cache/release-gate}
export RELEASE_GATE_CACHE=$CACHE
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
