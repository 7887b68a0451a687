#!/usr/bin/env bash
# Installs OpenSSH's server for the sync tests that push over ssh:// on loopback (they start their own
# sshd with their own config, keys and port; nothing system-wide is started or changed).
set -euo pipefail
if [ -x /usr/sbin/sshd ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "install-sshd: /usr/sbin/sshd is missing; install the openssh-server package (needs root)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || apt-get update -qq
apt-get install -y -qq --no-install-recommends openssh-server >/dev/null
# The package may try to start a system sshd; the tests do not use it.
if command -v service >/dev/null 2>&1; then service ssh stop >/dev/null 2>&1 || true; fi
mkdir -p /run/sshd
echo "install-sshd: installed $(/usr/sbin/sshd -V 2>&1 | head -1)"
