#!/usr/bin/env bash
# Build the local test-bed images (no registry exists here: nothing can be pulled), per
# Debian release (trixie: Debian 13, bookworm: Debian 12):
#   webstack-base:RELEASE     a fresh server: debootstrap minbase, no python3, no Salt
#   webstack-salt:RELEASE     base + Salt as `bootstrap.sh --salt-only` installs it; `python` imports salt
#   webstack-systemd:RELEASE  base + systemd, booted as PID 1 (tests/support/containers.py), no Salt
# Usage: images.sh [RELEASE[:KIND,...] ...]; default: $WEBSTACK_IMAGES, else what the test
# tiers use: all three on trixie, base and salt on bookworm (`make demo` asks for trixie:base,salt).
# A build is skipped when the image's label webstack.recipe matches this file's sha256
# (for the salt and systemd images: also the base image's ID). Packages come through the
# test bed's package cache where it runs (tests/testbed/aptcache.sh). Needs root and a
# running dockerd (tests/testbed/docker.sh ensure).
set -euo pipefail

dir=${WEBSTACK_TESTBED_DIR:-/var/tmp/webstack-testbed}
mirror=http://deb.debian.org/debian
proxy=
[ ! -f "$dir/apt-proxy.conf" ] || proxy=http://127.0.0.1:3142  # aptcache.sh's, seen from here
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
recipe=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)
# the salt image also changes with the Salt install step and its pins
salt_inputs=$(cat "$repo/bootstrap.sh" "$repo/requirements.txt" | sha256sum | cut -c1-8)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

image_id() { docker image inspect -f '{{ .Id }}' "$1" 2>/dev/null || true; }
drop() { [ -z "$1" ] || [ "$1" = "$(image_id "$2")" ] || docker rmi "$1" >/dev/null 2>&1 || true; }
label() { docker image inspect -f '{{ index .Config.Labels "webstack.recipe" }}' "$1" 2>/dev/null || true; }
log=$dir/images.log
exec 3>&1  # step's own lines go here, whatever the caller redirected
step() {  # step NAME COMMAND...: run it with its output appended to $log, print its wall time
    local t0=$SECONDS
    echo "=== $(date -Is) $1" >>"$log"
    if ! "${@:2}" >>"$log" 2>&1; then
        echo "images.sh: $1 failed after $((SECONDS - t0)) s; last lines of $log:" >&2
        tail -n 40 "$log" >&2
        return 1
    fi
    echo "images.sh: $1: $((SECONDS - t0)) s" >&3
}

rootfs=
builder=webstack-build  # the container that the salt or systemd image is committed from
cleanup() {
    docker rm -f "$builder" >/dev/null 2>&1 || true
    [ -n "$rootfs" ] && [ -d "$rootfs" ] || return 0
    # debootstrap mounts proc/sys in the target; never rm -rf through a mount
    grep -o " $rootfs/[^ ]*" /proc/mounts | sort -r | xargs -r umount -l || true
    rm -rf --one-file-system "$rootfs"
    rootfs=
}
trap cleanup EXIT

build_base() {
    rootfs=$(mktemp -d "$dir/rootfs.XXXXXX")
    step "debootstrap $release" env http_proxy="$proxy" debootstrap --variant=minbase \
        --include=iproute2,procps,curl,ca-certificates "$release" "$rootfs" "$mirror"
    # Debian's service module calls `runlevel`, which minbase lacks (TESTBED pitfall 3)
    printf '#!/bin/sh\necho N 2\n' >"$rootfs/sbin/runlevel"
    chmod 755 "$rootfs/sbin/runlevel"
    cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror $release main
deb $mirror $release-updates main
deb http://deb.debian.org/debian-security $release-security main
SOURCES
    step "apt-get update in rootfs" chroot "$rootfs" env http_proxy="$proxy" sh -c 'apt-get update -q && apt-get clean'
    step "docker import" import_rootfs "$1"
    cleanup
}
import_rootfs() {
    tar --numeric-owner -C "$rootfs" -c . |
        docker import -c 'CMD ["/bin/bash"]' -c "LABEL webstack.recipe=$1" - "$base"
}

# shellcheck disable=SC2016  # expands inside the container
# Runs inside the base image: Salt exactly as `bootstrap.sh --salt-only` installs it on a
# server (/opt/webstack/salt, pinned by requirements.txt, salt-* linked into /usr/local/bin),
# so that bootstrap.sh finds it done. $1: PIP_DEFAULT_TIMEOUT, $2: the package cache's URL
# (arguments, not `docker run -e`, because `docker commit` would bake -e variables into the image).
salt_script='set -euo pipefail
[ -z "$1" ] || export PIP_DEFAULT_TIMEOUT=$1
[ -z "$2" ] || export http_proxy=$2
[ ! -f /tmp/host-pip.conf ] || export PIP_CONFIG_FILE=/tmp/host-pip.conf
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# libc6-dev: pip builds salt and timelib (Cython) from source, hence also an exec /tmp
apt-get install -y -q --no-install-recommends libc6-dev
bash /tmp/webstack/bootstrap.sh --salt-only
# a wrapper, not a symlink: python 3.11 looks for pyvenv.cfg beside the path it was started
# by, so a symlink /usr/local/bin/python -> the venv python runs outside the venv
printf "#!/bin/sh\nexec /opt/webstack/salt/bin/python \"\$@\"\n" >/usr/local/bin/python
chmod 755 /usr/local/bin/python
apt-get clean
python -c "import salt.version; print(\"salt\", salt.version.__version__)"'

build_salt() {
    local ca=/etc/ssl/certs/ca-certificates.crt mounts=(--tmpfs /tmp:exec)
    mounts+=(-v "$repo/bootstrap.sh:/tmp/webstack/bootstrap.sh:ro" -v "$repo/requirements.txt:/tmp/webstack/requirements.txt:ro")
    # pip needs the host's CA bundle and pip.conf. The bundle goes over the image's own copy;
    # pip.conf goes into a tmpfs, since a bind mount's placeholder file would be committed.
    [ ! -f "$ca" ] || mounts+=(-v "$ca:$ca:ro")
    [ ! -f /etc/pip.conf ] || mounts+=(-v /etc/pip.conf:/tmp/host-pip.conf:ro)
    docker rm -f "$builder" >/dev/null 2>&1 || true
    step "salt install (docker run)" docker run --name "$builder" "${mounts[@]}" "$base" \
        bash -c "$salt_script" build "${PIP_DEFAULT_TIMEOUT:-}" "$(container_proxy)"
    step "docker commit" docker commit -c 'CMD ["/bin/bash"]' -c "LABEL webstack.recipe=$1" \
        "$builder" "$salt"
    cleanup
}

# shellcheck disable=SC2016  # expands inside the container
# Runs inside the base image: systemd as init, as on a real server. The container is not
# privileged, so units cannot set up user namespaces: Debian's redis-server.service asks for
# PrivateUsers=true, which a drop-in turns off (a test-bed shim, like `runlevel` above).
systemd_script='set -euo pipefail
[ -z "$1" ] || export http_proxy=$1
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends systemd systemd-sysv dbus
mkdir -p /etc/systemd/system/redis-server.service.d
printf "[Service]\nPrivateUsers=no\n" >/etc/systemd/system/redis-server.service.d/webstack-testbed.conf
systemctl mask getty@tty1.service console-getty.service systemd-timesyncd.service
apt-get clean'

build_systemd() {
    docker rm -f "$builder" >/dev/null 2>&1 || true
    step "systemd install (docker run)" docker run --name "$builder" "$base" bash -c "$systemd_script" build "$(container_proxy)"
    step "docker commit" docker commit -c 'CMD ["/lib/systemd/systemd"]' \
        -c "LABEL webstack.recipe=$1" "$builder" "$sysd"
    cleanup
}

container_proxy() {  # the package cache's URL as a container reaches it (apt-proxy.conf's)
    [ -z "$proxy" ] || sed -n 's/.*Proxy "\(.*\)";/\1/p' "$dir/apt-proxy.conf"
}

ensure() {  # ensure IMAGE RECIPE BUILD: runs `BUILD RECIPE` unless IMAGE is labelled RECIPE
    local t0=$SECONDS old
    if [ "$(label "$1")" = "$2" ]; then
        echo "images.sh: $1 is up to date"
        return
    fi
    old=$(image_id "$1")
    "$3" "$2"
    drop "$old" "$1"
    echo "images.sh: $1 built in $((SECONDS - t0)) s"
}

mkdir -p "$dir"
exec 9>"$dir/images.lock"
flock 9  # one build at a time: a second caller waits, then finds the images up to date
t0=$SECONDS
[ $# -gt 0 ] || read -r -a specs <<<"${WEBSTACK_IMAGES:-trixie bookworm:base,salt}"
[ $# -eq 0 ] || specs=("$@")
for spec in "${specs[@]}"; do
    release=${spec%%:*}
    kinds=,${spec#*:},
    [ "$spec" != "$release" ] || kinds=,base,salt,systemd,
    case "$release" in
        bookworm | trixie) ;;
        *) echo "images.sh: unknown release '$release' (bookworm or trixie)" >&2; exit 2 ;;
    esac
    base=webstack-base:$release salt=webstack-salt:$release sysd=webstack-systemd:$release
    builder=webstack-build-$release
    ensure "$base" "$recipe-$release" build_base
    [[ $kinds != *,salt,* ]] ||
        ensure "$salt" "$recipe-$salt_inputs-$(image_id "$base" | cut -c8-19)" build_salt
    [[ $kinds != *,systemd,* ]] ||
        ensure "$sysd" "$recipe-$(image_id "$base" | cut -c8-19)" build_systemd
done
echo "images.sh: done in $((SECONDS - t0)) s"
