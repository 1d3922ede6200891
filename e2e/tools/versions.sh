# Pinned versions of the external tools (sourced by install.sh and the test harness).
# Changing a version makes install.sh build the new one into its own cache directory.
K8S_VERSION=1.36.3 # must match e2e/tools/k8s/go.mod
ETCD_VERSION=3.6.16 # must match e2e/tools/etcd/go.mod
KWOK_VERSION=0.8.0
COSIGN_VERSION=2.6.5
CRANE_VERSION=0.22.1
OPA_VERSION=1.22.3
HELM_VERSION=3.22.0
