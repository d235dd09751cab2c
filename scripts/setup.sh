#!/usr/bin/env bash
# Installs every Debian 12 package omamori needs (build, tests, benchmarks).
# Idempotent: does nothing when all are present. Run as root or with sudo.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t pkgs < <(grep -v '^#' "$here/packages.txt" | tr ' ' '\n' | grep -v '^$')
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "setup: installing ${missing[*]}" >&2
SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo -E)
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
# tshark asks whether non-root users may capture; the default answer is fine.
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Tests and benchmarks start their own PostgreSQL, Unbound and FastNetMon on
# loopback; the packages' system services are not wanted (FastNetMon's would
# also send usage reports), so they are stopped and disabled where systemd runs.
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  for s in fastnetmon postgresql unbound; do
    "${SUDO[@]}" systemctl disable --now "$s" >/dev/null 2>&1 || true
  done
fi
