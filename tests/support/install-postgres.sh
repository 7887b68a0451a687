#!/usr/bin/env bash
# Installs Debian's PostgreSQL server for the tests of the PostgreSQL store (they run their own
# throwaway server: initdb into a temporary folder, a free loopback port; nothing system-wide is
# started or changed).
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "install-postgres: PostgreSQL's initdb is missing; install the postgresql package (needs root)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql >/dev/null
# The package may start a system server; the tests do not use it.
if command -v service >/dev/null 2>&1; then service postgresql stop >/dev/null 2>&1 || true; fi
echo "install-postgres: installed $(ls -d /usr/lib/postgresql/*/bin | tail -1)"
