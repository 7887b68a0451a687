#!/usr/bin/env bash
# Installs Debian's Chromium for the status page's browser test (run headless, with its own profile
# folder; nothing system-wide is started or changed).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "install-chromium: chromium is missing; install the chromium package (needs root)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
echo "install-chromium: installed $(chromium --version 2>/dev/null | head -1)"
