#!/usr/bin/env bash
# Prints the path of Argo CD's Application CRD, taken from the Argo CD Go module
# (served by the Go module proxy; no download from a web site).
set -euo pipefail
ARGOCD_VERSION=${ARGOCD_VERSION:-v3.5.7}
# The go command's "go: downloading" lines go to a log, not the test output.
log="${AO_CACHE:-$HOME/.cache/agent-orchestrator}/logs/argocd-schema.log"
mkdir -p "$(dirname "$log")"
dir=$(cd /tmp && go mod download -json "github.com/argoproj/argo-cd/v3@$ARGOCD_VERSION" 2>"$log" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
echo "$dir/manifests/crds/application-crd.yaml"
