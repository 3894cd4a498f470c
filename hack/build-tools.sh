#!/usr/bin/env bash
# Builds the local control plane's binaries from Go modules, once per version,
# into a cache outside the repository (no binary is ever downloaded from a web
# site: everything comes through the Go module proxy).
#
#   hack/build-tools.sh            build what is missing, print the bin folder
#   hack/build-tools.sh helm kind  only these (any of etcd kwok helm promtool kubernetes kind)
#
# kind is built only when asked for (make kind-up); the default set is the local
# control plane's and promtool (the chart's alert rule tests).
#
# The Go toolchain's own output ("go: downloading ...", by the hundred on a cold build)
# goes to $AO_CACHE/logs/build-tools.log; the terminal gets one line per step and a
# heartbeat, and on failure the log's last lines and its path.
#
# Environment:
#   AO_CACHE       cache root (default ~/.cache/agent-orchestrator)
#   K8S_VERSION    k8s.io/kubernetes version (default v1.36.3)
#   ETCD_VERSION   go.etcd.io/etcd/server/v3 version (default v3.6.16)
#   KWOK_VERSION   sigs.k8s.io/kwok version (default v0.8.0)
#   HELM_VERSION   helm.sh/helm/v3 version (default v3.22.0)
#   KIND_VERSION   sigs.k8s.io/kind version (default v0.33.0)
#   PROMETHEUS_VERSION  github.com/prometheus/prometheus version, for promtool
#                  (default v0.316.0, the Go module of Prometheus 3.16.0)
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
HELM_VERSION=${HELM_VERSION:-v3.22.0}
KIND_VERSION=${KIND_VERSION:-v0.33.0}
PROMETHEUS_VERSION=${PROMETHEUS_VERSION:-v0.316.0}
AO_CACHE=${AO_CACHE:-$HOME/.cache/agent-orchestrator}
export CGO_ENABLED=0
export GOFLAGS=${GOFLAGS:--mod=mod}

LOG="$AO_CACHE/logs/build-tools.log"
mkdir -p "$AO_CACHE/logs"

log() { printf '[build-tools %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
fail() {
  log "FAILED: $1"
  if [[ -s $LOG ]]; then
    tail -n 20 "$LOG" >&2
    log "full log: $LOG"
  fi
  log "Nothing partial is kept for that tool. Retry with: hack/build-tools.sh"
  log "(the Go module proxy must be reachable; set GOPROXY if it is not the default)."
  exit 1
}

# Runs a long build step while printing a heartbeat, so a cold build (10-25 min)
# does not look hung.
with_heartbeat() {
  local what=$1; shift
  local start=$SECONDS
  "$@" >>"$LOG" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 30
    kill -0 "$pid" 2>/dev/null && log "$what: still building ($((SECONDS - start))s)"
  done
  wait "$pid" || return 1
  log "$what: done in $((SECONDS - start))s"
}

build_kubernetes() {
  local dir="$AO_CACHE/k8s-$K8S_VERSION"
  local bin="$dir/bin"
  if [[ -x $bin/kube-apiserver && -x $bin/kube-controller-manager && -x $bin/kube-scheduler ]]; then
    return 0
  fi
  log "building kube-apiserver, kube-controller-manager, kube-scheduler $K8S_VERSION (first time: 10-25 min)"
  mkdir -p "$dir/src"
  (
    cd "$dir/src"
    [[ -f go.mod ]] || go mod init local/k8s-tools >/dev/null 2>&1
    local gomod
    gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" 2>>"$LOG" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
    local staging=${K8S_VERSION/#v1./v0.}
    # Every staging module the kubernetes go.mod replaces with ./staging/... is
    # pinned to its published version of the same release.
    grep -E '^\s*k8s.io/[^ ]+ => ./staging/' "$gomod" | awk '{print $1}' | sort -u | while read -r mod; do
      go mod edit -replace "$mod=$mod@$staging"
    done
    log "kubernetes $K8S_VERSION: resolving modules"
    go get "k8s.io/kubernetes@$K8S_VERSION" >>"$LOG" 2>&1
    go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" \
      "k8s.io/kubernetes/cmd/kube-controller-manager@$K8S_VERSION" \
      "k8s.io/kubernetes/cmd/kube-scheduler@$K8S_VERSION" >>"$LOG" 2>&1
    local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
    local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
    with_heartbeat "kubernetes $K8S_VERSION" go build -trimpath -tags=selinux,notest -ldflags "$ldflags" -o "$dir/bin.tmp/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
  ) || { rm -rf "$dir/bin.tmp"; fail "kubernetes $K8S_VERSION"; }
  rm -rf "$bin"; mv "$dir/bin.tmp" "$bin"
}

build_etcd() {
  local dir="$AO_CACHE/etcd-$ETCD_VERSION"
  [[ -x $dir/bin/etcd ]] && return 0
  log "building etcd $ETCD_VERSION"
  mkdir -p "$dir/src"
  (
    cd "$dir/src"
    [[ -f go.mod ]] || go mod init local/etcd-tools >/dev/null 2>&1
    go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >>"$LOG" 2>&1
    with_heartbeat "etcd $ETCD_VERSION" go build -trimpath -ldflags "-s -w" -o "$dir/bin.tmp/etcd" go.etcd.io/etcd/server/v3
  ) || { rm -rf "$dir/bin.tmp"; fail "etcd $ETCD_VERSION"; }
  rm -rf "${dir:?}/bin"; mv "$dir/bin.tmp" "$dir/bin"
}

go_install() {  # name version package...   (build tags in GO_INSTALL_TAGS)
  local name=$1 version=$2; shift 2
  local dir="$AO_CACHE/$name-$version"
  local ok=1
  for pkg in "$@"; do [[ -x $dir/bin/$(basename "$pkg") ]] || ok=0; done
  [[ $ok == 1 ]] && return 0
  log "building $name $version"
  mkdir -p "$dir"
  local args=()
  for pkg in "$@"; do args+=("$pkg@$version"); done
  GOBIN="$dir/bin.tmp" with_heartbeat "$name $version" go install -trimpath -ldflags "-s -w" \
    ${GO_INSTALL_TAGS:+-tags "$GO_INSTALL_TAGS"} "${args[@]}" \
    || { rm -rf "$dir/bin.tmp"; fail "$name $version"; }
  rm -rf "${dir:?}/bin"; mv "$dir/bin.tmp" "$dir/bin"
}

built() {  # tool: its binaries are in the cache
  case $1 in
    etcd) [[ -x $AO_CACHE/etcd-$ETCD_VERSION/bin/etcd ]] ;;
    kwok) [[ -x $AO_CACHE/kwok-$KWOK_VERSION/bin/kwok && -x $AO_CACHE/kwok-$KWOK_VERSION/bin/kwokctl ]] ;;
    helm) [[ -x $AO_CACHE/helm-$HELM_VERSION/bin/helm ]] ;;
    kubernetes) local b=$AO_CACHE/k8s-$K8S_VERSION/bin
      [[ -x $b/kube-apiserver && -x $b/kube-controller-manager && -x $b/kube-scheduler ]] ;;
    kind) [[ -x $AO_CACHE/kind-$KIND_VERSION/bin/kind ]] ;;
    promtool) [[ -x $AO_CACHE/promtool-$PROMETHEUS_VERSION/bin/promtool ]] ;;
    *) return 1 ;;
  esac
}

wanted=("$@")
((${#wanted[@]})) || wanted=(etcd kwok helm promtool kubernetes)
missing=0
for tool in "${wanted[@]}"; do built "$tool" || missing=1; done
mkdir -p "$AO_CACHE"
if ((missing)); then
  command -v go >/dev/null || fail "the go command is not installed (Go 1.26 or newer is needed)"
  # One build at a time: a second caller waits for the first to finish. A caller whose
  # tools are all built takes no lock, so it never waits on someone else's build.
  exec 9>"$AO_CACHE/.build.lock"
  if ! flock -n 9; then
    log "another build is running; waiting for it"
    flock 9
  fi
  : >"$LOG"
fi
for tool in "${wanted[@]}"; do
  case $tool in
    etcd) build_etcd ;;
    kwok) go_install kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl ;;
    helm) go_install helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm ;;
    kubernetes) build_kubernetes ;;
    kind) go_install kind "$KIND_VERSION" sigs.k8s.io/kind ;;
    # For `promtool check rules` and `test rules` only: remove_all_sd leaves out the service
    # discovery plugins (cloud SDKs), most of what a full build compiles.
    promtool) GO_INSTALL_TAGS=remove_all_sd go_install promtool "$PROMETHEUS_VERSION" github.com/prometheus/prometheus/cmd/promtool ;;
    *) fail "unknown tool '$tool' (one of: etcd kwok helm promtool kubernetes kind)" ;;
  esac
done

# One folder of links, so callers need a single PATH entry.
links="$AO_CACHE/bin"
mkdir -p "$links"
for f in "$AO_CACHE/k8s-$K8S_VERSION/bin/"* "$AO_CACHE/etcd-$ETCD_VERSION/bin/etcd" \
         "$AO_CACHE/kwok-$KWOK_VERSION/bin/"* "$AO_CACHE/helm-$HELM_VERSION/bin/helm" \
         "$AO_CACHE/kind-$KIND_VERSION/bin/kind" "$AO_CACHE/promtool-$PROMETHEUS_VERSION/bin/promtool"; do
  if [[ -e $f ]]; then ln -sfn "$f" "$links/$(basename "$f")"; fi
done
echo "$links"
