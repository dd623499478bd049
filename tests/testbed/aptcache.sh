#!/usr/bin/env bash
# A Debian package cache for the test bed: apt-cacher-ng on this host, so that a package
# that many containers install is downloaded once per run, not once per container.
#   aptcache.sh start   install apt-cacher-ng if missing and start it, unless ours answers;
#                       listens on loopback and on docker0's address (every container
#                       reaches the host there, whatever its network); writes
#                       $dir/apt-proxy.conf, the apt setting tests/support/containers.py
#                       mounts into every container
#   aptcache.sh stop    stop the apt-cacher-ng that `start` started (by its PID), nothing else
#   aptcache.sh stats   what it served this run: hits, misses, bytes
# Needs root, and dockerd running (docker.sh ensure) for docker0's address. The cache
# itself (/var/cache/apt-cacher-ng) outlives a stop: a second run on the same machine
# downloads nothing it already has.
set -euo pipefail

dir=${WEBSTACK_TESTBED_DIR:-/var/tmp/webstack-testbed}
run=$dir/acng
port=3142
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

bridge() {  # docker0's IPv4 address
    ip -4 -o addr show docker0 2>/dev/null | awk '{ split($4, a, "/"); print a[1]; exit }'
}

answers() { curl -fsS -o /dev/null --max-time 3 --noproxy '*' "http://127.0.0.1:$port/acng-report.html"; }

start() {
    local addr
    command -v apt-cacher-ng >/dev/null || bash "$(dirname "${BASH_SOURCE[0]}")/host-deps.sh" apt-cacher-ng curl
    addr=$(bridge)
    [ -n "$addr" ] || { echo "aptcache.sh: docker0 has no IPv4 address; start dockerd first" >&2; return 1; }
    mkdir -p "$run"
    chown apt-cacher-ng: "$run"
    if [ -f "$run/pid" ] && kill -0 "$(cat "$run/pid")" 2>/dev/null && answers; then
        echo "aptcache.sh: apt-cacher-ng already running (pid $(cat "$run/pid"))"
    else
        # Its own config, not Debian's: the archive's deb.debian.org as the only backend
        # (Debian's default backend, ftp.debian.org, is not reachable from every machine)
        mkdir -p "$run/conf"
        cat >"$run/conf/acng.conf" <<CONF
CacheDir: /var/cache/apt-cacher-ng
SupportDir: /usr/lib/apt-cacher-ng
LogDir: $run
PidFile: $run/pid
SocketPath: $run/socket
Port: $port
BindAddress: 127.0.0.1 $addr
ForeGround: 0
ExThreshold: 4
ReportPage: acng-report.html
Remap-debrep: file:deb_mirror*.gz /debian ; http://deb.debian.org/debian/
Remap-secdeb: security.debian.org security.debian.org/debian-security deb.debian.org/debian-security /debian-security ; http://deb.debian.org/debian-security/
CONF
        install -d -o apt-cacher-ng -g apt-cacher-ng /var/cache/apt-cacher-ng
        runuser -u apt-cacher-ng -- apt-cacher-ng -c "$run/conf"
        for _ in $(seq 30); do answers && break; sleep 0.5; done
        answers || { echo "aptcache.sh: apt-cacher-ng did not answer on :$port; $run/apt-cacher.err:" >&2;
                     tail -n 20 "$run/apt-cacher.err" >&2 || true; return 1; }
        echo "aptcache.sh: started apt-cacher-ng (pid $(cat "$run/pid")) on 127.0.0.1 and $addr port $port"
    fi
    printf 'Acquire::http::Proxy "http://%s:%s";\n' "$addr" "$port" >"$dir/apt-proxy.conf"
}

stop() {
    rm -f "$dir/apt-proxy.conf"
    [ -f "$run/pid" ] || { echo "aptcache.sh: not started by us"; return 0; }
    local pid
    pid=$(cat "$run/pid")
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = apt-cacher-ng ]; then
        kill -TERM "$pid"
        for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
        echo "aptcache.sh: stopped apt-cacher-ng (pid $pid); $(stats)"
    fi
    rm -f "$run/pid"
}

stats() {  # from its transfer log: a line per file, I (fetched from the archive), O (served)
    awk -F'|' '$2 == "O" { n++; b += $3 } $2 == "I" { m++; mb += $3 }
        END { printf "%d files served (%.0f MB), %d of them fetched from the archive (%.0f MB)\n", n, b / 1e6, m, mb / 1e6 }' \
        "$run/apt-cacher.log" 2>/dev/null || echo "no transfer log"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    stats) stats ;;
    *) echo "usage: $0 start|stop|stats" >&2; exit 2 ;;
esac
