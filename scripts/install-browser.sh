#!/usr/bin/env bash
# Debian's Chromium (and CJK fonts) for the browser tests; Playwright never downloads a browser.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's chromium for the browser tests" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
else
  echo "Chromium is not installed and cannot be installed here: browser tests will be skipped" >&2
fi
