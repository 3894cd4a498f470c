#!/usr/bin/env bash
# Builds the three images from operator/Dockerfile, runner/Dockerfile and console/Dockerfile.
#
#   hack/images.sh                 build the images (make images)
#   hack/images.sh --for-tests     the same where podman can run (make test); elsewhere
#                                  print why the container tests will be skipped, exit 0
#   hack/images.sh --print-names   print the image references (operator, runner, dashboard), one a line
#
# Environment:
#   AO_CACHE        cache root (default ~/.cache/agent-orchestrator)
#   BASE_IMAGE      base of the images. Unset: with podman and mmdebstrap, a Debian
#                   bookworm root file system made from Debian's packages (cached in
#                   $AO_CACHE/images, imported once as localhost/ao-base:bookworm); otherwise
#                   the Dockerfiles' default, python:3.12-slim.
#   IMAGE_PREFIX    image name prefix (default localhost/agent-orchestrator)
#   IMAGE_TAG       tag (default: the version in pyproject.toml)
#   INSTALL_NODE    runner image with nodejs and npm (default true)
#
# The engine is docker where a docker engine answers, podman otherwise (hack/container-tools.sh
# installs it on Debian). A log of each build is kept in $AO_CACHE/images/logs; a failed
# build names it.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
AO_CACHE=${AO_CACHE:-$HOME/.cache/agent-orchestrator}
IMAGE_PREFIX=${IMAGE_PREFIX:-localhost/agent-orchestrator}
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$REPO/pyproject.toml" | head -1)
IMAGE_TAG=${IMAGE_TAG:-$VERSION}
OPERATOR_IMAGE="$IMAGE_PREFIX:$IMAGE_TAG"
RUNNER_IMAGE="$IMAGE_PREFIX-runner:$IMAGE_TAG"
DASHBOARD_IMAGE="$IMAGE_PREFIX-dashboard:$IMAGE_TAG"
LOCAL_BASE=localhost/ao-base:bookworm
SOURCE_URL=https://github.com/coditect-ai/agent-orchestrator

if [[ ${1:-} == --print-names ]]; then
  echo "$OPERATOR_IMAGE"
  echo "$RUNNER_IMAGE"
  echo "$DASHBOARD_IMAGE"
  exit 0
fi

log() { printf '[images %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
logs="$AO_CACHE/images/logs"
mkdir -p "$logs"

for_tests=0
if [[ ${1:-} == --for-tests ]]; then
  # The container tests run pods with `podman kube play`, so they need podman itself.
  for_tests=1
  export AO_CONTAINER_ENGINE=podman
fi
if ! engine=$("$REPO/hack/container-tools.sh"); then
  if ((for_tests)); then
    log "the container tests (tests/container) will be skipped: podman cannot be set up here"
    exit 0
  fi
  exit 1
fi
export CONTAINERS_CONF="$AO_CACHE/containers.conf"

# Runs a step with its output in a log file; on failure shows the tail and names the file.
logged() {
  local name=$1; shift
  local file="$logs/$name.log"
  if ! "$@" >"$file" 2>&1; then
    tail -n 30 "$file" >&2
    log "FAILED: $name; full log: $file"
    exit 1
  fi
}

# A Debian bookworm root file system from Debian's packages, standing in for python:3.12-slim
# where no image registry is reachable. Its Python is Debian's (3.11).
local_base() {
  if podman image exists "$LOCAL_BASE"; then
    return 0
  fi
  local tar="$AO_CACHE/images/debian-bookworm-python.tar"
  if [[ ! -s $tar ]]; then
    log "making the base root file system from Debian's packages (mmdebstrap, 1-4 min)"
    # shellcheck disable=SC2016  # the hook's $1 is mmdebstrap's, not ours
    logged mmdebstrap mmdebstrap --variant=minbase --format=tar \
      --include=python3,python3-venv,python3-pip,ca-certificates \
      --customize-hook='rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*' \
      bookworm "$tar.partial" \
      "deb http://deb.debian.org/debian bookworm main" \
      "deb http://deb.debian.org/debian bookworm-updates main" \
      "deb http://deb.debian.org/debian-security bookworm-security main" </dev/null
    mv "$tar.partial" "$tar"
  fi
  logged import podman import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["python3"]' "$tar" "$LOCAL_BASE"
}

base_args=()
if [[ -n ${BASE_IMAGE:-} ]]; then
  base_args=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
elif [[ $engine == podman ]] && command -v mmdebstrap >/dev/null; then
  local_base
  BASE_IMAGE=$LOCAL_BASE
  base_args=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
fi

revision=$(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$REPO" status --porcelain 2>/dev/null) ]]; then revision="$revision-dirty"; fi
common=(--build-arg "VERSION=$VERSION" --build-arg "REVISION=$revision" --build-arg "SOURCE=$SOURCE_URL" "${base_args[@]}")
if [[ $engine == podman ]]; then
  # The build reaches PyPI and Debian's mirror through the host's network, with the host's
  # CA certificates (an egress proxy may re-sign TLS). Nothing of the host stays in the image.
  common+=(--network host --layers -v /etc/ssl/certs:/etc/ssl/certs:ro)
fi

build() {  # name dockerfile image [args...]
  local name=$1 dockerfile=$2 image=$3; shift 3
  local start=$SECONDS
  log "building $image from $dockerfile (base ${BASE_IMAGE:-python:3.12-slim})"
  logged "$name" "$engine" build "${common[@]}" "$@" -f "$REPO/$dockerfile" -t "$image" "$REPO"
  log "$image: built in $((SECONDS - start))s, $("$engine" image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}')"
}

build operator operator/Dockerfile "$OPERATOR_IMAGE"
build runner runner/Dockerfile "$RUNNER_IMAGE" --build-arg "INSTALL_NODE=${INSTALL_NODE:-true}"
# The page's JavaScript goes into the dashboard image from the build context.
logged web "$REPO/hack/build-web.sh"
build dashboard console/Dockerfile "$DASHBOARD_IMAGE"
