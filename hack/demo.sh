#!/usr/bin/env bash
# `make demo`: the main job. On the local control plane by default (brought up, and
# stopped again afterwards if this started it); on the cluster KUBECONFIG names with
# AO_DEMO_REAL=1 and ANTHROPIC_API_KEY set, with real agents.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
if [[ ${AO_DEMO_REAL:-0} == 1 ]]; then
  missing=()
  [[ -n ${ANTHROPIC_API_KEY:-} ]] || missing+=("ANTHROPIC_API_KEY is not set (the agents' API key)")
  if [[ -z ${KUBECONFIG:-} && -f $REPO/.kind/kubeconfig ]]; then
    # The cluster `make kind-up` made: its operator (the chart's) runs the Jobs, in the
    # runner image kind-up loaded.
    export KUBECONFIG="$REPO/.kind/kubeconfig"
    export AO_DEMO_OPERATOR=cluster
    export AO_RUNNER_IMAGE=${AO_RUNNER_IMAGE:-$("$REPO/hack/images.sh" --print-names | sed -n 2p)}
  elif [[ -z ${KUBECONFIG:-} ]]; then
    missing+=("no cluster: run \`make kind-up\` (docker or podman), or set KUBECONFIG and AO_RUNNER_IMAGE")
  elif [[ -z ${AO_RUNNER_IMAGE:-} ]]; then
    missing+=("AO_RUNNER_IMAGE is not set (the runner image, where the cluster can pull it)")
  fi
  if ((${#missing[@]})); then
    echo "demo: AO_DEMO_REAL=1 runs real agents, and cannot start:" >&2
    printf '  - %s\n' "${missing[@]}" >&2
    exit 1
  fi
  exec "$REPO/.venv/bin/python" "$REPO/hack/demo.py" "$@"
fi
exec "$REPO/hack/with-cluster.sh" "$REPO/.venv/bin/python" "$REPO/hack/demo.py" "$@"
