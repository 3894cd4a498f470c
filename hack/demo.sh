#!/usr/bin/env bash
# `make demo`: the main job. On the local control plane by default (brought up, and
# stopped again afterwards if this started it); on the cluster KUBECONFIG names with
# AO_DEMO_REAL=1 and ANTHROPIC_API_KEY set, with real agents.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
if [[ ${AO_DEMO_REAL:-0} == 1 ]]; then
  exec "$REPO/.venv/bin/python" "$REPO/hack/demo.py" "$@"
fi
exec "$REPO/hack/with-cluster.sh" "$REPO/.venv/bin/python" "$REPO/hack/demo.py" "$@"
