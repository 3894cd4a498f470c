#!/usr/bin/env bash
# A kind cluster running the images this repository builds, with the chart installed.
#
#   hack/kind.sh up [--dry-run]     make kind-up: build kind and the images, create the
#                                   cluster, load the images, install the chart
#   hack/kind.sh down [--dry-run]   make kind-down: delete the cluster
#   hack/kind.sh config             print the kind cluster config it uses
#
# kind comes from its Go module (sigs.k8s.io/kind, through hack/build-tools.sh), never a
# downloaded binary. It needs a container engine that can run privileged node containers:
# docker, or podman as root (KIND_EXPERIMENTAL_PROVIDER=podman, set here when podman is
# the engine). The node image (kindest/node) is pulled from a registry the first time.
# The development machines reach no image registry, so this path is checked there only
# with --dry-run (tests/unit/release/test_kind.py), never run.
#
# Environment:
#   KIND_CLUSTER     cluster name (default agent-orchestrator)
#   KIND_NODE_IMAGE  node image (default: the one this kind version defaults to)
#   AO_NAMESPACE     the chart's namespace (default agent-orchestrator)
#   afterwards       .kind/kubeconfig is the cluster's kubeconfig (AO_DEMO_REAL=1 make demo uses it)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
AO_CACHE=${AO_CACHE:-$HOME/.cache/agent-orchestrator}
KIND_CLUSTER=${KIND_CLUSTER:-agent-orchestrator}
AO_NAMESPACE=${AO_NAMESPACE:-agent-orchestrator}
STATE="$REPO/.kind"
KUBECONFIG_FILE="$STATE/kubeconfig"

log() { printf '[kind %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
dry=0
run() {
  if ((dry)); then printf '+ %s\n' "$*"; else "$@"; fi
}

config() {
  cat <<CONFIG
# Written by hack/kind.sh: one node; the images come from \`kind load\`, not a registry.
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
name: $KIND_CLUSTER
nodes:
  - role: control-plane
CONFIG
  if [[ -n ${KIND_NODE_IMAGE:-} ]]; then echo "    image: $KIND_NODE_IMAGE"; fi
}

tools() {
  if ((dry)); then
    echo "$AO_CACHE/bin"
  else
    "$REPO/hack/build-tools.sh" kind helm
  fi
}

engine() {
  if ((dry)); then
    echo "${AO_CONTAINER_ENGINE:-podman}"
  else
    "$REPO/hack/container-tools.sh"
  fi
}

up() {
  local bin engine operator runner dashboard
  bin=$(tools)
  engine=$(engine)
  [[ $engine == podman ]] && export KIND_EXPERIMENTAL_PROVIDER=podman
  { read -r operator; read -r runner; read -r dashboard; } < <("$REPO/hack/images.sh" --print-names)
  mkdir -p "$STATE"
  config >"$STATE/kind-config.yaml"
  log "images $operator, $runner and $dashboard"
  run "$REPO/hack/images.sh"
  if ((dry)) || ! "$bin/kind" get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER"; then
    log "creating cluster $KIND_CLUSTER ($engine)"
    run "$bin/kind" create cluster --config "$STATE/kind-config.yaml" --kubeconfig "$KUBECONFIG_FILE" --wait 120s
  fi
  for image in "$operator" "$runner" "$dashboard"; do
    if [[ $engine == docker ]]; then
      run "$bin/kind" load docker-image --name "$KIND_CLUSTER" "$image"
    else
      # kind reads podman's images through an archive.
      run podman save --format oci-archive -o "$STATE/image.tar" "$image"
      run "$bin/kind" load image-archive --name "$KIND_CLUSTER" "$STATE/image.tar"
      run rm -f "$STATE/image.tar"
    fi
  done
  log "installing the chart into namespace $AO_NAMESPACE"
  run "$bin/helm" upgrade --install agent-orchestrator "$REPO/charts/agent-orchestrator" \
    --kubeconfig "$KUBECONFIG_FILE" --namespace "$AO_NAMESPACE" --create-namespace --wait \
    --set "image.repository=${operator%:*}" --set "image.tag=${operator##*:}" \
    --set "dashboard.image.repository=${dashboard%:*}" --set "dashboard.image.tag=${dashboard##*:}" \
    --set "image.pullPolicy=Never" \
    --set "runner.repository=${runner%:*}" --set "runner.tag=${runner##*:}" \
    --set "replicaCount=1"
  log "up: KUBECONFIG=$KUBECONFIG_FILE; AO_DEMO_REAL=1 make demo runs the sample plan here"
}

down() {
  local bin engine
  bin=$(tools)
  engine=$(engine)
  [[ $engine == podman ]] && export KIND_EXPERIMENTAL_PROVIDER=podman
  run "$bin/kind" delete cluster --name "$KIND_CLUSTER"
  run rm -f "$KUBECONFIG_FILE"
}

command=${1:-}
[[ ${2:-} == --dry-run ]] && dry=1
case $command in
  up) up ;;
  down) down ;;
  config) config ;;
  *) echo "usage: hack/kind.sh up|down|config [--dry-run]" >&2; exit 2 ;;
esac
