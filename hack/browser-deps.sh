#!/usr/bin/env bash
# What the dashboard's browser tests need: Debian's `chromium` (driven by Playwright with
# the system browser; no browser download) and the page's JavaScript (make web). Run by
# `make test`. As root it installs chromium with apt-get; otherwise, or when apt fails,
# it says why and the browser tests skip with the same reason.
set -euo pipefail
CHROMIUM=${AO_CHROMIUM:-/usr/bin/chromium}
if [[ -x $CHROMIUM ]]; then
  exit 0
fi
if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  echo "[browser-deps] installing chromium (apt-get) for the dashboard's browser tests" >&2
  if (apt-get install -y -qq chromium >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; }); then
    exit 0
  fi
  echo "[browser-deps] apt-get could not install chromium: the browser tests will be skipped" >&2
  exit 0
fi
echo "[browser-deps] no $CHROMIUM and not root: the browser tests will be skipped (apt-get install chromium)" >&2
