#!/usr/bin/env bash
# Runs a command with the local control plane up. When this script started the
# cluster it stops it again afterwards, unless --keep is given; a cluster that
# was already up is left as it was.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
keep=0
if [[ ${1:-} == --keep ]]; then keep=1; shift; fi
started=0
if ! "$REPO/hack/cluster.sh" status; then
  "$REPO/hack/cluster.sh" up
  started=1
fi
if [[ $started == 1 && $keep == 0 ]]; then
  trap '"$REPO/hack/cluster.sh" down' EXIT
fi
export KUBECONFIG="$REPO/.cluster/kubeconfig"
export PATH="$REPO/.cluster/bin:$PATH"
"$@"
