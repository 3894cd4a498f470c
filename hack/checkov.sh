#!/usr/bin/env bash
# Security scan of the rendered manifests with checkov (from PyPI, installed once into
# a venv of its own in the cache: its pins would clash with the project's).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
AO_CACHE=${AO_CACHE:-$HOME/.cache/agent-orchestrator}
VENV="$AO_CACHE/checkov-venv"
if [[ ! -x $VENV/bin/checkov ]]; then
  echo "[checkov] installing checkov into $VENV (once)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet checkov || {
    echo "[checkov] FAILED to install checkov from PyPI; retry: rm -rf $VENV && $0" >&2; exit 1; }
fi
cd "$REPO"
exec "$VENV/bin/checkov" --config-file .checkov.yaml --quiet --compact --skip-download \
  -f manifests/install.yaml -f manifests/crds.yaml "$@"
