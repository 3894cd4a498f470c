#!/usr/bin/env bash
# Makes sure a container engine can build and run the project's images on this machine,
# and prints the engine to use (podman or docker).
#
#   hack/container-tools.sh            install what is missing (Debian, as root), print the engine
#   hack/container-tools.sh --check    install nothing; exit 1 naming what is missing
#
# docker is used where it is present. Otherwise podman, buildah, runc and mmdebstrap come
# from Debian's packages (apt-get, as root); on another system the script says what is
# missing and stops. podman runs with the settings in $AO_CACHE/containers.conf (written here,
# exported as CONTAINERS_CONF by hack/images.sh): runc as the OCI runtime, because crun
# refuses a host with a hybrid cgroup layout, and explicit nofile/nproc ulimits, because a
# host's hard limits may be below podman's defaults.
set -euo pipefail

AO_CACHE=${AO_CACHE:-$HOME/.cache/agent-orchestrator}
PACKAGES=(podman buildah runc mmdebstrap uidmap)
log() { printf '[container-tools] %s\n' "$*" >&2; }

check=0
[[ ${1:-} == --check ]] && check=1

# AO_CONTAINER_ENGINE=podman|docker chooses; by default docker where an engine answers.
if [[ ${AO_CONTAINER_ENGINE:-} == docker ]] || { [[ -z ${AO_CONTAINER_ENGINE:-} ]] && command -v docker >/dev/null && docker info >/dev/null 2>&1; }; then
  echo docker
  exit 0
fi

missing=()
for tool in podman buildah runc mmdebstrap; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
  if ((check)); then
    log "missing: ${missing[*]}"
    exit 1
  fi
  if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
    log "missing: ${missing[*]}."
    log "Install them (Debian/Ubuntu: apt-get install ${PACKAGES[*]}), or a docker engine, and retry."
    exit 1
  fi
  log "installing ${PACKAGES[*]} from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" \
    fuse-overlayfs slirp4netns netavark aardvark-dns catatonit >/dev/null
fi

# Settings for podman build, run and kube play alike; applied through CONTAINERS_CONF.
mkdir -p "$AO_CACHE"
nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
[[ $nofile == unlimited || $nofile -gt 65536 ]] && nofile=65536
[[ $nproc == unlimited || $nproc -gt 32768 ]] && nproc=32768
conf="$AO_CACHE/containers.conf"
cat >"$conf.tmp" <<CONF
# Written by hack/container-tools.sh; podman reads it through CONTAINERS_CONF.
[engine]
runtime = "runc"
[network]
network_backend = "netavark"
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
CONF
mv "$conf.tmp" "$conf"
echo podman
