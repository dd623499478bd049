#!/usr/bin/env bash
# Host packages that the functional tests run for real (not in containers):
# HAProxy, whose runtime API tests/functional/test_haproxy.py drives.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
for pkg in haproxy; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "host-deps.sh: installing ${need[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
