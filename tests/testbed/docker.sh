#!/usr/bin/env bash
# Make a Docker daemon available for the test bed, and stop it again if we started it.
#   docker.sh ensure   install docker.io + debootstrap if missing; start dockerd if none answers
#   docker.sh stop     stop the dockerd that `ensure` started (by its PID), nothing else
set -euo pipefail

dir=${WEBSTACK_TESTBED_DIR:-/var/tmp/webstack-testbed}
pidfile=$dir/dockerd.pid
log=$dir/dockerd.log
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

ensure() {
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    if ((${#missing[@]})); then
        echo "docker.sh: installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q "${missing[@]}"
    fi
    if docker info >/dev/null 2>&1; then
        echo "docker.sh: dockerd already answers; leaving it alone"
        return 0
    fi
    mkdir -p "$dir"
    # setsid: its own session, so the daemon outlives this shell and a CI step's process group
    setsid dockerd >>"$log" 2>&1 </dev/null &
    echo $! >"$pidfile"
    for _ in $(seq 60); do
        if docker info >/dev/null 2>&1; then
            echo "docker.sh: started dockerd (pid $(cat "$pidfile"), log $log)"
            return 0
        fi
        kill -0 "$(cat "$pidfile")" 2>/dev/null || break
        sleep 1
    done
    echo "docker.sh: dockerd did not come up; last lines of $log:" >&2
    tail -n 20 "$log" >&2
    stop
    return 1
}

stop() {
    [ -f "$pidfile" ] || { echo "docker.sh: no pidfile, dockerd not started by us"; return 0; }
    local pid
    pid=$(cat "$pidfile")
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then
        kill -TERM "$pid"
        for _ in $(seq 30); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "docker.sh: dockerd $pid ignored SIGTERM for 30 s; killing it" >&2
            kill -KILL "$pid"
        fi
        echo "docker.sh: stopped dockerd (pid $pid)"
    fi
    rm -f "$pidfile"
}

case "${1:-}" in
    ensure) ensure ;;
    stop) stop ;;
    *) echo "usage: $0 ensure|stop" >&2; exit 2 ;;
esac
