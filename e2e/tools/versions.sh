# shellcheck shell=bash
# Pinned versions of the external tools (sourced by install.sh and the test harness).
# Changing a version makes install.sh build the new one into its own cache directory; each can
# be overridden from the environment (e.g. COSIGN_VERSION=2.6.4 e2e/tools/install.sh cosign).
# K8S, ETCD and OLAREG are built from the tool modules in e2e/tools/, whose go.mod decides the
# version: an override that differs from the go.mod pin stops install.sh before it builds.
K8S_VERSION=${K8S_VERSION:-1.36.3}    # must match e2e/tools/k8s/go.mod
ETCD_VERSION=${ETCD_VERSION:-3.6.16}  # must match e2e/tools/etcd/go.mod
OLAREG_VERSION=${OLAREG_VERSION:-0.2.2} # must match e2e/tools/olareg/go.mod
KWOK_VERSION=${KWOK_VERSION:-0.8.0}
COSIGN_VERSION=${COSIGN_VERSION:-2.6.5}
CRANE_VERSION=${CRANE_VERSION:-0.22.1}
OPA_VERSION=${OPA_VERSION:-1.22.3}
HELM_VERSION=${HELM_VERSION:-3.22.0}
VEGETA_VERSION=${VEGETA_VERSION:-12.13.0}
