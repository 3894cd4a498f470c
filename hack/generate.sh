#!/usr/bin/env bash
# Regenerates every generated file from its source, or checks they are fresh.
#
#   hack/generate.sh           write them
#   hack/generate.sh --check   exit 1 naming each stale file (nothing written)
#
# Sources -> generated files:
#   operator/agent_api/models.py -> crds/*.yaml, charts/agent-orchestrator/files/crds/,
#                                   docs/api-reference.md
#   console/agent_console (the dashboard's OpenAPI schema) -> docs/dashboard.md
#   charts/agent-orchestrator    -> manifests/crds.yaml, manifests/install.yaml
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
BIN="$REPO/.venv/bin"
HELM=${HELM:-}
check=0
[[ ${1:-} == --check ]] && check=1

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mkdir -p "$out/crds" "$out/chart-crds" "$out/docs" "$out/manifests"

"$BIN/agent-crdgen" "$out/crds"
cp "$out/crds/"*.yaml "$out/chart-crds/"
"$BIN/python" -m agent_api.apidocs >"$out/docs/api-reference.md"
"$BIN/python" -m agent_console.apidocs >"$out/docs/dashboard.md"

if [[ -z $HELM ]]; then
  HELM=$("$REPO/hack/build-tools.sh")/helm
fi
render() {
  # The chart's output with the CRDs from $1 (the fresh ones when checking).
  local chart="$out/chart"
  rm -rf "$chart"; cp -r charts/agent-orchestrator "$chart"
  rm -f "$chart/files/crds/"*.yaml; cp "$1"/*.yaml "$chart/files/crds/"
  "$HELM" template agent-orchestrator "$chart" --namespace agent-orchestrator \
    --set crds.enabled=true --show-only templates/crds.yaml >"$out/manifests/crds.yaml"
  # --api-versions: render the default profiles and plan, as on a cluster with the CRDs.
  "$HELM" template agent-orchestrator "$chart" --namespace agent-orchestrator \
    --api-versions orchestration.coditect.ai/v1alpha1 \
    --set crds.enabled=false >"$out/manifests/install.yaml"
}
render "$out/chart-crds"

pairs=(
  "$out/crds:crds"
  "$out/chart-crds:charts/agent-orchestrator/files/crds"
  "$out/docs/api-reference.md:docs/api-reference.md"
  "$out/docs/dashboard.md:docs/dashboard.md"
  "$out/manifests/crds.yaml:manifests/crds.yaml"
  "$out/manifests/install.yaml:manifests/install.yaml"
)
stale=0
for pair in "${pairs[@]}"; do
  src=${pair%%:*}; dst=${pair#*:}
  if [[ $check == 1 ]]; then
    if ! diff -r -q "$src" "$dst" >/dev/null 2>&1; then
      echo "stale: $dst" >&2
      diff -r -u "$dst" "$src" 2>&1 | head -20 >&2 || true
      stale=1
    fi
  else
    if [[ -d $src ]]; then
      mkdir -p "$dst"; rm -f "$dst"/*.yaml; cp "$src"/*.yaml "$dst"/
    else
      mkdir -p "$(dirname "$dst")"; cp "$src" "$dst"
    fi
  fi
done
if [[ $stale == 1 ]]; then
  echo "Generated files are out of date: run 'make generate' and commit the result." >&2
  exit 1
fi
