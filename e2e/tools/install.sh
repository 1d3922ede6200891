#!/usr/bin/env bash
# Installs every external tool the end-to-end tests and `make run` use, built from Go modules or
# taken from Debian packages, into a cache outside the repository keyed by tool and version:
#
#   $RELEASE_GATE_CACHE/tools/<name>-<version>/   built binaries (+ a .ok marker when complete)
#   $RELEASE_GATE_CACHE/bin/                      symlinks to the pinned versions (put on PATH)
#   $RELEASE_GATE_CACHE/logs/<name>-<version>.log build logs
#
# A second run finds the markers and builds nothing. A failed build stops the script with the
# tool's name and the path of its log. Every binary is checked after its build to carry the
# module version it is filed under; for the tools built from a module in e2e/tools/ (k8s, etcd,
# olareg) that module's go.mod decides the version, and a *_VERSION override that differs from
# it stops the script before anything is built.
#
# Usage: e2e/tools/install.sh [all|control-plane|NAME...]
#   all            every tool below (make test, make tools)
#   control-plane  what e2e/cluster.sh needs (make run, make cluster-up): apt-base etcd kwok k8s
#   NAME           apt (docker-registry, prometheus, apache2-utils, openssl, curl), apt-base
#                  (openssl, curl), k8s (kube-apiserver, kube-controller-manager, kube-scheduler,
#                  kubectl), etcd, kwok, cosign, crane, opa, helm, olareg
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=e2e/tools/versions.sh
source "$here/versions.sh"

CACHE=${RELEASE_GATE_CACHE:-$HOME/.cache/release-gate}
mkdir -p "$CACHE/tools" "$CACHE/bin" "$CACHE/logs" "$CACHE/locks"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false

say() { printf '[install] %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}

# pinned_version DIR MODULE: the version of MODULE that e2e/tools/DIR/go.mod requires.
pinned_version() {
  go mod edit -json "$here/$1/go.mod" | python3 -c '
import json, sys
reqs = json.load(sys.stdin).get("Require") or []
print(next((r["Version"] for r in reqs if r["Path"] == sys.argv[1]), ""))' "$2"
}

# require_pin DIR MODULE VAR: stops unless $VAR is the version go.mod pins, so that a binary is
# never built from one version and filed under another.
require_pin() {
  local dir=$1 module=$2 var=$3 pinned
  pinned=$(pinned_version "$dir" "$module")
  [[ "v${!var}" == "$pinned" ]] ||
    die "$var=${!var}, but e2e/tools/$dir/go.mod pins $module ${pinned:-(nothing)}, and go.mod decides what is built; to build another version change the pin there and in e2e/tools/versions.sh"
}

# check_built BINARY MODULE VERSION: fails unless BINARY was built from MODULE at VERSION, as
# its embedded build information says (the main module for `go install`, a dependency for the
# tool modules).
check_built() {
  local bin=$1 module=$2 want=$3 got
  got=$(go version -m "$bin" | awk -v m="$module" '($1 == "mod" || $1 == "dep") && $2 == m { print $3; exit }')
  if [[ "$got" != "$want" ]]; then
    echo "$bin was built from $module ${got:-(not found)}, not $want" >&2
    return 1
  fi
}

# build NAME VERSION CMD...: runs CMD with $out set to the tool's directory, unless already done.
build() {
  local name=$1 version=$2
  shift 2
  local out="$CACHE/tools/$name-$version" log="$CACHE/logs/$name-$version.log"
  if [[ -f "$out/.ok" ]]; then
    return 0
  fi
  # Two installs at once (e.g. two test runs) must not build into the same directory.
  exec {lock}>"$CACHE/locks/$name-$version.lock"
  flock "$lock"
  if [[ -f "$out/.ok" ]]; then
    exec {lock}>&-
    return 0
  fi
  say "building $name $version (log: $log)"
  rm -rf "$out"
  mkdir -p "$out"
  local start=$SECONDS
  if ! (export out; "$@") >"$log" 2>&1; then
    say "FAILED to build $name $version; last lines of $log:"
    tail -n 20 "$log" >&2
    exit 1
  fi
  touch "$out/.ok"
  exec {lock}>&-
  say "built $name $version in $((SECONDS - start))s"
}

# link NAME VERSION BINARY...: exposes the binaries on $CACHE/bin.
link() {
  local name=$1 version=$2
  shift 2
  local b
  for b in "$@"; do
    ln -sfn "$CACHE/tools/$name-$version/$b" "$CACHE/bin/$b"
  done
}

k8s_ldflags() {
  local v=$K8S_VERSION minor
  minor=${v#1.}
  minor=${minor%%.*}
  local f=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f+=" -X $pkg.gitVersion=v$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    f+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "-s -w$f"
}

do_k8s() {
  go build -C "$here/k8s" -trimpath -ldflags "$(k8s_ldflags)" -o "$out/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubectl
  local b
  for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    check_built "$out/$b" k8s.io/kubernetes "v$K8S_VERSION"
  done
}

do_etcd() {
  go build -C "$here/etcd" -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3
  check_built "$out/etcd" go.etcd.io/etcd/server/v3 "v$ETCD_VERSION"
}

do_olareg() {
  go build -C "$here/olareg" -trimpath -ldflags "-s -w" -o "$out/olareg" github.com/olareg/olareg/cmd/olareg
  check_built "$out/olareg" github.com/olareg/olareg "v$OLAREG_VERSION"
}

# go_install MODULE_PATH/cmd VERSION: for modules without replace lines.
go_install() {
  GOBIN="$out" go install -trimpath -ldflags "-s -w" "$1@$2"
}

do_kwok() {
  go_install sigs.k8s.io/kwok/cmd/kwok "v$KWOK_VERSION"
  check_built "$out/kwok" sigs.k8s.io/kwok "v$KWOK_VERSION"
  # v0.8+ ships no default stages; keep the module's stage files next to the binary.
  local src
  src=$(go env GOMODCACHE)/sigs.k8s.io/kwok@v$KWOK_VERSION/kustomize/stage
  mkdir -p "$out/stages"
  cp "$src/node/fast/node-initialize.yaml" "$src/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" \
    "$src/pod/fast/pod-ready.yaml" "$src/pod/fast/pod-complete.yaml" "$src/pod/fast/pod-delete.yaml" \
    "$out/stages/"
}
do_cosign() {
  go_install github.com/sigstore/cosign/v2/cmd/cosign "v$COSIGN_VERSION"
  check_built "$out/cosign" github.com/sigstore/cosign/v2 "v$COSIGN_VERSION"
}
do_vegeta() {
  go_install github.com/tsenart/vegeta/v12 "v$VEGETA_VERSION"
  check_built "$out/vegeta" github.com/tsenart/vegeta/v12 "v$VEGETA_VERSION"
}
do_crane() {
  go_install github.com/google/go-containerregistry/cmd/crane "v$CRANE_VERSION"
  check_built "$out/crane" github.com/google/go-containerregistry "v$CRANE_VERSION"
}
do_opa() {
  go_install github.com/open-policy-agent/opa "v$OPA_VERSION"
  check_built "$out/opa" github.com/open-policy-agent/opa "v$OPA_VERSION"
}
do_helm() {
  GOBIN="$out" go install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
  check_built "$out/helm" helm.sh/helm/v3 "v$HELM_VERSION"
}

# Debian packages: the registry and Prometheus (with promtool). Their maintainer scripts start
# system services where an init system runs; the tests start their own, so no service may start:
# while apt installs, /usr/sbin/policy-rc.d denies every start (exit 101, see invoke-rc.d(8)), and
# whatever policy-rc.d was there before is put back after. Nothing is stopped or killed, so a
# registry or Prometheus that someone else runs is left alone.
# RELEASE_GATE_APT_REINSTALL="PKG..." reinstalls packages that are present (to repair them; the
# test bed's self-test uses it to run an install).
policy_rc=/usr/sbin/policy-rc.d
policy_rc_saved=/usr/sbin/policy-rc.d.release-gate-saved
sudo=""
[[ $(id -u) -eq 0 ]] || sudo=sudo

# restore_policy_rc: puts back the policy-rc.d saved by apt_install, or removes ours.
restore_policy_rc() {
  if [[ -e $policy_rc_saved ]]; then
    $sudo mv -f "$policy_rc_saved" "$policy_rc"
  else
    $sudo rm -f "$policy_rc"
  fi
}

# apt_install ARGS...: apt-get install with no service started. Each step checks its own
# status: callers test the result, which turns errexit off in here.
apt_install() {
  # One install at a time on the host, whatever the cache: both would swap policy-rc.d.
  exec {apt_lock}>/tmp/release-gate-apt.lock
  flock "$apt_lock"
  # A saved copy left by an install that was killed is the original: put it back first.
  if [[ -e $policy_rc_saved ]]; then
    $sudo mv -f "$policy_rc_saved" "$policy_rc" || return 1
  fi
  local rc=0
  (
    if [[ -e $policy_rc ]]; then
      $sudo cp -p "$policy_rc" "$policy_rc_saved" || exit 1
    fi
    trap restore_policy_rc EXIT
    trap 'exit 130' INT TERM
    printf '#!/bin/sh\n# Written by release-gate e2e/tools/install.sh for the length of an apt install.\nexit 101\n' |
      $sudo tee "$policy_rc.release-gate-new" >/dev/null || exit 1
    $sudo chmod 755 "$policy_rc.release-gate-new" || exit 1
    $sudo mv -f "$policy_rc.release-gate-new" "$policy_rc" || exit 1
    $sudo apt-get -o DPkg::Lock::Timeout=300 update -qq || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
      --no-install-recommends "$@"
  ) >>"$CACHE/logs/apt.log" 2>&1 || rc=$?
  exec {apt_lock}>&-
  return "$rc"
}

# do_apt [base]: the packages the tests use, or with `base` only those the control plane needs.
do_apt() {
  local missing=() reinstall=()
  command -v openssl >/dev/null || missing+=(openssl)
  command -v curl >/dev/null || missing+=(curl)
  if [[ ${1:-} != base ]]; then
    command -v docker-registry >/dev/null || [[ -x /usr/bin/docker-registry ]] || missing+=(docker-registry)
    command -v prometheus >/dev/null || missing+=(prometheus)
    command -v htpasswd >/dev/null || missing+=(apache2-utils)
  fi
  read -ra reinstall <<<"${RELEASE_GATE_APT_REINSTALL:-}"
  ((${#missing[@]} + ${#reinstall[@]})) || return 0
  if ((${#missing[@]})); then
    say "installing Debian packages: ${missing[*]} (log: $CACHE/logs/apt.log)"
    if ! apt_install "${missing[@]}"; then
      say "FAILED to install ${missing[*]}; last lines of $CACHE/logs/apt.log:"
      tail -n 20 "$CACHE/logs/apt.log" >&2
      exit 1
    fi
  fi
  if ((${#reinstall[@]})); then
    say "reinstalling Debian packages: ${reinstall[*]} (log: $CACHE/logs/apt.log)"
    if ! apt_install --reinstall "${reinstall[@]}"; then
      say "FAILED to reinstall ${reinstall[*]}; last lines of $CACHE/logs/apt.log:"
      tail -n 20 "$CACHE/logs/apt.log" >&2
      exit 1
    fi
  fi
}

install_one() {
  case $1 in
  apt) do_apt ;;
  apt-base) do_apt base ;;
  k8s)
    require_pin k8s k8s.io/kubernetes K8S_VERSION
    build k8s "$K8S_VERSION" do_k8s
    link k8s "$K8S_VERSION" kube-apiserver kube-controller-manager kube-scheduler kubectl
    ;;
  etcd)
    require_pin etcd go.etcd.io/etcd/server/v3 ETCD_VERSION
    build etcd "$ETCD_VERSION" do_etcd && link etcd "$ETCD_VERSION" etcd
    ;;
  olareg)
    require_pin olareg github.com/olareg/olareg OLAREG_VERSION
    build olareg "$OLAREG_VERSION" do_olareg && link olareg "$OLAREG_VERSION" olareg
    ;;
  kwok)
    build kwok "$KWOK_VERSION" do_kwok && link kwok "$KWOK_VERSION" kwok
    ln -sfn "$CACHE/tools/kwok-$KWOK_VERSION/stages" "$CACHE/bin/kwok-stages"
    ;;
  cosign) build cosign "$COSIGN_VERSION" do_cosign && link cosign "$COSIGN_VERSION" cosign ;;
  crane) build crane "$CRANE_VERSION" do_crane && link crane "$CRANE_VERSION" crane ;;
  opa) build opa "$OPA_VERSION" do_opa && link opa "$OPA_VERSION" opa ;;
  helm) build helm "$HELM_VERSION" do_helm && link helm "$HELM_VERSION" helm ;;
  # The webhook load benchmark's load generator (e2e/bench/webhook-vs-opa.sh); not in `all`.
  vegeta) build vegeta "$VEGETA_VERSION" do_vegeta && link vegeta "$VEGETA_VERSION" vegeta ;;
  *)
    say "unknown tool '$1' (known: apt apt-base k8s etcd kwok cosign crane opa helm olareg vegeta)"
    exit 2
    ;;
  esac
}

targets=("$@")
((${#targets[@]})) || targets=(all)
for t in "${targets[@]}"; do
  case $t in
  all) for x in apt etcd kwok k8s crane cosign opa helm olareg; do install_one "$x"; done ;;
  control-plane) for x in apt-base etcd kwok k8s; do install_one "$x"; done ;;
  *) install_one "$t" ;;
  esac
done
