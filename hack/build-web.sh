#!/usr/bin/env bash
# Builds agent-dashboard's JavaScript into the Python package: installs the packages
# pinned in console/web/package-lock.json (npm ci, from the npm registry) and copies
# the built files into console/agent_console/static/vendor/. Nothing is fetched from a
# CDN at run time, and no library's built file is committed. It also compiles the page's
# templates (index.html) into render functions (static/vendor/templates.js) with the
# compiler in the lock (console/web/compile-templates.js). A no-op when the copies are
# newer than the lock file and index.html; installs npm with apt-get as root; without npm
# it prints why and leaves the page without it.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
WEB="$REPO/console/web"
VENDOR="$REPO/console/agent_console/static/vendor"
FILES=("vue/dist/vue.global.prod.js")
target="$VENDOR/$(basename "${FILES[0]}")"
INDEX="$REPO/console/agent_console/static/index.html"
TEMPLATES="$VENDOR/templates.js"
if [[ -f $target && $target -nt $WEB/package-lock.json && -f $TEMPLATES && $TEMPLATES -nt $INDEX &&
  $TEMPLATES -nt $WEB/compile-templates.js ]]; then
  exit 0
fi
if ! command -v npm >/dev/null && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  echo "build-web: installing npm (apt-get)" >&2
  apt-get install -y -qq npm >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq npm >/dev/null 2>&1; } || true
fi
if ! command -v npm >/dev/null; then
  echo "build-web: npm not found: the dashboard's page needs it once to build (apt-get install npm); the API works without it" >&2
  exit 0
fi
if [[ ! -f $WEB/node_modules/.package-lock.json || $WEB/package-lock.json -nt $WEB/node_modules/.package-lock.json ]]; then
  (cd "$WEB" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
fi
mkdir -p "$VENDOR"
for file in "${FILES[@]}"; do
  cp "$WEB/node_modules/$file" "$VENDOR/"
done
(cd "$WEB" && node compile-templates.js "$INDEX" "$TEMPLATES.tmp") && mv "$TEMPLATES.tmp" "$TEMPLATES"
echo "build-web: $(cd "$WEB" && node -p "require('./node_modules/vue/package.json').version" 2>/dev/null || echo '?') -> ${VENDOR#"$REPO"/}" >&2
