#!/usr/bin/env bash
# Times `release-gate verify` against `cosign verify` + 3x `cosign verify-attestation` on the same
# image (signature + CycloneDX, SLSA provenance and vuln attestations) in a local registry, prints
# both and the ratio; then each tool's process start-up (most of that ratio) and the like-for-like
# figure (the library in-process, a fresh verifier per image, against cosign's time less its four
# start-ups); then the library's throughput over 100 distinct images, sequential and 16
# concurrent, and the peak RSS while verifying them. Release build (cargo bench); tools from
# e2e/tools/install.sh. Setting up the 100 images takes 400 cosign calls (a few minutes).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PATH="${RELEASE_GATE_CACHE:-$HOME/.cache/release-gate}/bin:$PATH"
for t in cosign crane; do
  command -v "$t" >/dev/null || { echo "missing $t: run e2e/tools/install.sh cosign crane" >&2; exit 1; }
done
[[ -x /usr/bin/docker-registry ]] || command -v docker-registry >/dev/null ||
  { echo "missing docker-registry: run e2e/tools/install.sh apt" >&2; exit 1; }
cd "$root"
exec cargo bench --bench evidence_verify
