#!/usr/bin/env bash
# A real, local Kubernetes control plane on loopback: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and kwok (fake nodes whose Pods become Ready), all
# built from Go modules by e2e/tools/install.sh.
#
#   e2e/cluster.sh up DIR     start everything with state, certificates and logs in DIR;
#                             writes DIR/kubeconfig and DIR/env (source it for KUBECONFIG, PATH)
#   e2e/cluster.sh down DIR   stop everything started by `up DIR`; DIR is removed unless
#                             KEEP_CLUSTER_DIR=1 (the test runner keeps it when a test failed)
#
# Certificates and the admin kubeconfig are made per run (valid for a year, so a `make run` left
# running keeps working); ports are free loopback ports picked per run, so several clusters can
# run side by side. When `up` fails (a component that does not start, a timeout), everything it
# started is stopped, the logs are kept in DIR/logs, and it exits non-zero.
#
# Each DIR/pids/NAME file holds "PID STARTTIME BOOT_ID": `down` signals a process only while
# those three still match, so a pidfile left from an earlier boot or run never hits a process
# that reused the PID.
#
# RELEASE_GATE_APISERVER_ARGS: extra kube-apiserver flags (split on spaces), e.g. feature gates.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${RELEASE_GATE_CACHE:-$HOME/.cache/release-gate}
export PATH="$CACHE/bin:$PATH"
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

say() { printf '[cluster] %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_for NAME SECONDS CMD...: polls CMD until it succeeds; on timeout names the log to read.
wait_for() {
  local name=$1 secs=$2
  shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      say "$name did not become ready within ${secs}s; last lines of $dir/logs/$name.log:"
      tail -n 30 "$dir/logs/$name.log" >&2 || true
      return 1
    fi
    # A process that already exited will never become ready.
    if [[ -f "$dir/pids/$name" ]] && ! ours "$dir/pids/$name"; then
      say "$name exited during start-up; last lines of $dir/logs/$name.log:"
      tail -n 30 "$dir/logs/$name.log" >&2 || true
      return 1
    fi
    sleep 0.3
  done
}

# identity PID: "PID STARTTIME BOOT_ID", which names one process for good (a PID alone is
# reused); fails when PID is not running. STARTTIME is field 22 of /proc/PID/stat, read after
# the command name, which may hold spaces.
identity() {
  local stat fields
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  read -ra fields <<<"${stat##*) }"
  printf '%s %s %s\n' "$1" "${fields[19]}" "$(cat /proc/sys/kernel/random/boot_id)"
}

# running PID: succeeds while PID is a process that has not exited (not a zombie).
running() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  [[ $stat != *") Z "* ]]
}

# ours PIDFILE: succeeds while the process PIDFILE names is running and is the one `start`
# recorded. A pidfile in another format (an older cluster.sh) is never ours.
ours() {
  local recorded pid now
  recorded=$(cat "$1" 2>/dev/null) || return 1
  pid=${recorded%% *}
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  now=$(identity "$pid") || return 1
  [[ "$now" == "$recorded" ]] && running "$pid"
}

# start NAME CMD...: runs CMD in the background, logging to DIR/logs/NAME.log.
start() {
  local name=$1
  shift
  "$@" >"$dir/logs/$name.log" 2>&1 &
  # A process that exits at once may be gone before it is looked at: wait_for then says so.
  identity $! >"$dir/pids/$name" || echo "$! exited" >"$dir/pids/$name"
}

gen_certs() {
  local c=$dir/certs
  mkdir -p "$c"
  (
    cd "$c"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 365 \
      -subj "/CN=release-gate-e2e-ca" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
      -subj "/CN=kube-apiserver" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n' >apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt \
      -days 365 -extfile apiserver.ext 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr \
      -subj "/O=system:masters/CN=admin" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >admin.ext
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out admin.crt \
      -days 365 -extfile admin.ext 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  ) || die "cannot generate certificates with openssl in $c"
}

write_kubeconfig() {
  local c=$dir/certs
  cat >"$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: release-gate-e2e
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority: $c/ca.crt
users:
- name: admin
  user:
    client-certificate: $c/admin.crt
    client-key: $c/admin.key
contexts:
- name: release-gate-e2e
  context: {cluster: release-gate-e2e, user: admin, namespace: default}
current-context: release-gate-e2e
EOF
}

# up: runs with errexit on (never call it as a condition: that turns errexit off inside it);
# the EXIT trap set by the caller stops what it started when any step fails.
up() {
  mkdir -p "$dir/logs" "$dir/pids" "$dir/etcd"
  local start_time=$SECONDS
  gen_certs
  local etcd_port etcd_peer
  etcd_port=$(free_port)
  etcd_peer=$(free_port)
  api_port=$(free_port)
  local kcm_port sched_port kwok_port
  kcm_port=$(free_port)
  sched_port=$(free_port)
  kwok_port=$(free_port)

  start etcd etcd --name e2e --data-dir "$dir/etcd" --unsafe-no-fsync \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-cluster "e2e=http://127.0.0.1:$etcd_peer" --log-level warn
  wait_for etcd 30 curl -fsS "http://127.0.0.1:$etcd_port/health"

  local c=$dir/certs extra=()
  read -ra extra <<<"${RELEASE_GATE_APISERVER_ARGS:-}"
  start kube-apiserver kube-apiserver \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
    --cert-dir "$c" --tls-cert-file "$c/apiserver.crt" --tls-private-key-file "$c/apiserver.key" \
    --client-ca-file "$c/ca.crt" --authorization-mode RBAC \
    --service-cluster-ip-range 10.0.0.0/24 --allow-privileged=true \
    --disable-admission-plugins ServiceAccount \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$c/sa.pub" --service-account-signing-key-file "$c/sa.key" \
    --v 1 "${extra[@]}"
  write_kubeconfig
  export KUBECONFIG=$dir/kubeconfig
  wait_for kube-apiserver 90 kubectl get --raw /readyz

  start kube-controller-manager kube-controller-manager --kubeconfig "$KUBECONFIG" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port "$kcm_port" \
    --root-ca-file "$c/ca.crt" --service-account-private-key-file "$c/sa.key" \
    --cluster-signing-cert-file "$c/ca.crt" --cluster-signing-key-file "$c/ca.key" \
    --authentication-kubeconfig "$KUBECONFIG" --authorization-kubeconfig "$KUBECONFIG" --v 1
  start kube-scheduler kube-scheduler --kubeconfig "$KUBECONFIG" --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port "$sched_port" \
    --authentication-kubeconfig "$KUBECONFIG" --authorization-kubeconfig "$KUBECONFIG" --v 1
  local stages=()
  for f in "$CACHE/bin/kwok-stages"/*.yaml; do stages+=(--config "$f"); done
  # --node-lease-duration-seconds: kwok renews the node's Lease as a kubelet does; without it
  # the node-lifecycle controller marks the node NotReady after ~50 s and its Pods stay
  # Ready=False for good, which breaks every test that runs longer than that.
  start kwok kwok --kubeconfig "$KUBECONFIG" --manage-all-nodes=true \
    --node-lease-duration-seconds 40 \
    --server-address "127.0.0.1:$kwok_port" "${stages[@]}"

  wait_for kube-controller-manager 60 curl -fsSk "https://127.0.0.1:$kcm_port/healthz"
  wait_for kube-scheduler 60 curl -fsSk "https://127.0.0.1:$sched_port/healthz"
  wait_for kwok 60 curl -fsS "http://127.0.0.1:$kwok_port/healthz"

  kubectl apply -f "$here/manifests/node.yaml" >"$dir/logs/setup.log" 2>&1 ||
    die "cannot create the kwok node; see $dir/logs/setup.log"
  wait_for kwok 60 kubectl wait --for=condition=Ready node/kwok-node-0 --timeout=1s
  # Pods need the default ServiceAccount, made by the controller-manager.
  wait_for kube-controller-manager 60 kubectl get serviceaccount default -n default

  cat >"$dir/env" <<EOF
export KUBECONFIG=$dir/kubeconfig
export PATH=$CACHE/bin:\$PATH
export NO_PROXY=$NO_PROXY no_proxy=$no_proxy
EOF
  say "control plane ready in $((SECONDS - start_time))s: apiserver https://127.0.0.1:$api_port"
}

# stop NAME: SIGTERM to the process NAME's pidfile names, if it is still ours (down then gives
# it 5 s before SIGKILL); a process that already exited is skipped quietly.
stop() {
  local f=$dir/pids/$1 pid
  [[ -f "$f" ]] || return 0
  pid=$(cut -d' ' -f1 "$f")
  if ours "$f"; then
    kill "$pid" 2>/dev/null || true
  elif [[ $pid =~ ^[0-9]+$ ]] && running "$pid"; then
    say "$1: process $pid is not the one this cluster started (stale pidfile); left alone"
  fi
}

down() {
  [[ -d "$dir/pids" ]] || return 0
  local name f pid
  # Reverse start order: clients of the apiserver first, etcd last.
  for name in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
    stop "$name"
  done
  for name in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
    f=$dir/pids/$name
    [[ -f "$f" ]] || continue
    pid=$(cut -d' ' -f1 "$f")
    for _ in $(seq 1 50); do
      ours "$f" || break
      sleep 0.1
    done
    if ours "$f"; then
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
  rmdir "$dir/pids" 2>/dev/null || true
  if [[ ${KEEP_CLUSTER_DIR:-0} == 1 ]]; then
    say "logs kept in $dir/logs"
  else
    rm -rf "$dir"
  fi
}

cmd=${1:-}
dir=${2:-}
[[ -n "$cmd" && -n "$dir" ]] || die "usage: $0 up|down DIR"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
case $cmd in
up)
  [[ -e "$dir/pids" ]] && die "$dir already holds a cluster; run '$0 down $dir' first"
  for b in etcd kube-apiserver kube-controller-manager kube-scheduler kwok kubectl; do
    command -v "$b" >/dev/null || die "$b is not installed; run e2e/tools/install.sh control-plane"
  done
  # From here on, any failure (errexit, die, Ctrl-C) stops what was started and keeps the logs.
  trap 'rc=$?; trap - EXIT; KEEP_CLUSTER_DIR=1 down; say "the control plane did not start; logs are in $dir/logs"; exit $((rc ? rc : 1))' EXIT
  trap 'exit 130' INT TERM
  up
  trap - EXIT INT TERM
  ;;
down) down ;;
*) die "usage: $0 up|down DIR" ;;
esac
