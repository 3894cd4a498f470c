#!/usr/bin/env bash
# Regenerates the pinned, hashed requirements under requirements/ from pyproject.toml
# (make lock). Every install reads them: make install (dev.txt), the operator image
# (operator.txt), the runner image (runner.txt), the dashboard image (console.txt), and the images' package build (build.txt).
#
#   hack/lock.sh              keep current pins where pyproject.toml still allows them
#   hack/lock.sh --upgrade    move every pin to the newest version pyproject.toml allows
#
# The pins are universal (every platform, Python >= 3.11), so the same files serve the
# python:3.12-slim images on amd64 and arm64 and a Python 3.11 development machine.
# dev.txt is resolved first; the others are held to its versions, so a package has one
# version everywhere.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
UV=${UV:-.venv/bin/uv}
[[ -x $UV ]] || { echo "lock: $UV not found; run make install first" >&2; exit 1; }

upgrade=()
[[ ${1:-} == --upgrade ]] && upgrade=(--upgrade)
compile() {  # output inputs...
  local out=$1; shift
  "$UV" pip compile --quiet --universal --python-version 3.11 --generate-hashes \
    --no-strip-extras --custom-compile-command "make lock" \
    "${upgrade[@]}" -o "$out" "$@"
}
compile requirements/dev.txt pyproject.toml requirements/build.in --extra dev
compile requirements/build.txt requirements/build.in -c requirements/dev.txt
compile requirements/operator.txt pyproject.toml --extra operator -c requirements/dev.txt
compile requirements/runner.txt pyproject.toml --extra runner -c requirements/dev.txt
compile requirements/console.txt pyproject.toml --extra console -c requirements/dev.txt
echo "lock: requirements/{dev,build,operator,runner,console}.txt written; review with git diff requirements/"
