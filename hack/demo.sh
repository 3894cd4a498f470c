#!/usr/bin/env bash
# The main job on the local default: the control plane is up (hack/with-cluster.sh),
# the CRDs and the sample plan are applied. Prints what is there.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
kubectl() { "$REPO/.cluster/bin/kubectl" "$@"; }
kubectl apply --server-side --force-conflicts -f "$REPO/crds" >/dev/null
kubectl wait --for=condition=Established --timeout=60s crd --all >/dev/null
kubectl create namespace demo --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -n demo -f "$REPO/manifests/examples" >/dev/null
kubectl get agents -n demo
echo
echo "The cluster stays up: KUBECONFIG=$REPO/.cluster/kubeconfig; stop it with 'make cluster-down'."
