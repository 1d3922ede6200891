#!/usr/bin/env bash
# Times `release-gate verify` against `cosign verify` + 3x `cosign verify-attestation` on the same
# image (signature + CycloneDX, SLSA provenance and vuln attestations) in a local registry, prints
# both and the ratio, then the library's warm throughput over many distinct images.
# Release build; tools from e2e/tools/install.sh.
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
