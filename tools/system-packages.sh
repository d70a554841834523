#!/usr/bin/env bash
# Make sure the services the test suite starts are installed: PostgreSQL, Redis and Chromium (Debian packages).
# As root, missing packages are installed with apt-get; otherwise the exact command to run is printed.
# Usage: tools/system-packages.sh [test|demo]
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ "${1:-test}" = test ]; then
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  command -v unshare >/dev/null 2>&1 && command -v ip >/dev/null 2>&1 || need+=(util-linux iproute2)
fi
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing system packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  exit 0
fi
echo "Missing system packages: ${need[*]}. Install them, then run make again:" >&2
echo "  sudo apt-get install -y --no-install-recommends ${need[*]}" >&2
exit 2
