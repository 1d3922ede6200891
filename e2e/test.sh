#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it:
#   1. formatting and lints (cargo fmt --check, cargo clippy -D warnings)
#   2. unit tests and the CRD drift test (plain `cargo test`)
#   3. the tools of the real test bed (built once, cached in ~/.cache/release-gate)
#   4. a local control plane, and every test marked "needs the real test bed" against it
#   5. a check that every namespace those tests created (e2e-*) is deleted or being deleted
# The control plane is stopped on exit, also on failure or Ctrl-C; its logs are kept (and the
# path printed) when something failed.
set -euo pipefail

# shellcheck source=e2e/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

step() { printf '\n==> %s\n' "$*" >&2; }
start=$SECONDS

step "toolchain components"
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings

step "unit tests and CRD drift (cargo test)"
cargo test --all-targets --locked

step "test-bed tools (e2e/tools/install.sh)"
e2e/tools/install.sh all
export PATH="$CACHE/bin:$PATH"

step "local control plane (e2e/cluster.sh)"
run_dir=$(mktemp -d "${TMPDIR:-/tmp}/release-gate-e2e.XXXXXX")
status=1
cleanup() {
  if [[ $status -ne 0 ]]; then
    KEEP_CLUSTER_DIR=1 e2e/cluster.sh down "$run_dir" || true
  else
    e2e/cluster.sh down "$run_dir" || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
e2e/cluster.sh up "$run_dir"
# shellcheck disable=SC1091
source "$run_dir/env"

step "end-to-end tests (cargo test -- --ignored)"
# The ignored tests are the ones that need the real test bed started above. `--tests` (not
# --all-targets): the criterion benches already ran once in test mode above and do not take
# libtest's flags.
cargo test --tests --locked -- --ignored --test-threads "${E2E_THREADS:-2}"

step "the tests' namespaces are deleted"
# Each test deletes its namespace (support::TestNamespace) when it ends; none may stay Active.
namespaces=$(kubectl get namespaces -o jsonpath='{range .items[*]}{.metadata.name} {.status.phase}{"\n"}{end}')
left=$(awk '$1 ~ /^e2e-/ && $2 != "Terminating" { print $1 }' <<<"$namespaces")
if [[ -n "$left" ]]; then
  printf 'namespaces created by the end-to-end tests were not deleted:\n%s\n' "$left" >&2
  exit 1
fi
printf '%s e2e-* namespaces still terminating, none active\n' "$(grep -c '^e2e-' <<<"$namespaces" || true)" >&2
status=0
step "all tests passed in $((SECONDS - start))s"
