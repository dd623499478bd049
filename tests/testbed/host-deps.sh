#!/usr/bin/env bash
# Install the Debian packages given as arguments that are missing on this test
# machine (one apt-get run, and only when something is missing). Without
# arguments: what the functional tier runs on this host, HAProxy (its runtime
# API is driven by tests/functional/test_haproxy.py), Nginx (a load balancer
# drained by reloads, tests/functional/test_nginx_lb.py), Varnish
# (tests/functional/test_varnish.py) and uWSGI with its Python 3 plugin
# (tests/functional/test_uwsgi.py), and procps (ps: no build's process outlives it,
# tests/functional/test_release_deployed.py). .ci/run uses it for the packages
# `make test` itself needs.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
[ $# -gt 0 ] || set -- haproxy nginx varnish uwsgi-core uwsgi-plugin-python3 procps
need=()
for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "host-deps.sh: installing ${need[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
