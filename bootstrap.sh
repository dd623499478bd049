#!/usr/bin/env bash
# webstack bootstrap: turn a fresh Debian 13 or 12, or Ubuntu 22.04/24.04 server into a
# complete single server (masterless), a Salt master or a Salt minion. Safe to run
# again: a second run changes nothing.
#
#   ./bootstrap.sh                   role single: generate secrets once, apply the stack
#   ./bootstrap.sh --pillar DIR      role single from the operator's pillar tree
#   ./bootstrap.sh --test            role single, only show what would change
#   ./bootstrap.sh --master          a salt-master serving this checkout (keys by hand)
#   ./bootstrap.sh --minion MASTER --id ID   a salt-minion of MASTER, named ID
#   ./bootstrap.sh --salt-only       install Salt only (used to bake images)
#   ./bootstrap.sh --print-master-conf   print the salt-master config that --master writes
#
# Environment: WEBSTACK_PREFIX (default /opt/webstack) for Salt's virtualenv,
# WEBSTACK_ETC (default /etc/webstack) for its config and the generated pillar.
# With --master: WEBSTACK_MASTER_INTERFACE, the address salt-master listens on
# (default 0.0.0.0), and WEBSTACK_MASTER_ALLOW, the minions' networks (e.g.
# "10.0.0.0/24 10.0.1.7"): ports 4505/4506 then answer only them (nftables); kept
# on later runs without it; WEBSTACK_MASTER_ALLOW=off removes the rules.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PREFIX="${WEBSTACK_PREFIX:-/opt/webstack}"
ETC="${WEBSTACK_ETC:-/etc/webstack}"
SALT_VENV="$PREFIX/salt"
SALT_CONF="$ETC/salt"
PILLAR_DIR=""
TEST_MODE=""
MODE=single
MASTER=""
MINION_ID=""

die() { echo "bootstrap.sh: error: $*" >&2; exit 2; }
say() { echo "==> $*"; }

usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; }

# master_conf: the salt-master config that --master writes (--print-master-conf prints it)
master_conf() {
    local repo_re
    # shellcheck disable=SC2016  # a sed expression: every regex metacharacter escaped
    repo_re="$(printf '%s' "$REPO" | sed 's/[.[\*^$()+?{|\\]/\\&/g')"
    cat <<EOF
# Written by bootstrap.sh --master; local changes are overwritten on the next run.
interface: ${WEBSTACK_MASTER_INTERFACE:-0.0.0.0}
# keys are accepted by hand, after comparing fingerprints (docs/operations.md: "Many servers")
auto_accept: False
open_mode: False
file_roots:
  base:
    - $REPO/salt
    - $REPO
pillar_roots:
  base:
    - $REPO/pillar
    - $ETC/pillar
# Never served to a minion: pillar data, tests, VCS. Salt matches these against
# paths relative to a root when it lists files and absolute ones when it serves.
file_ignore_regex:
  - '^($repo_re/)?(pillar|tests|\\.git|\\.ci|\\.venv|\\.vagrant)(/|\$)'
  - '(^|/)\\.git(/|\$)'
# a minion that has not returned after this many seconds is asked whether it still
# runs the job; one that does not answer (stopped, unreachable) fails its step 10 s later
timeout: 10
state_output: mixed
log_level_logfile: warning
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
        --pillar) [ $# -ge 2 ] || die "--pillar needs a directory"; PILLAR_DIR="$2"; shift 2 ;;
        --pillar=*) PILLAR_DIR="${1#--pillar=}"; shift ;;
        --test) TEST_MODE=1; shift ;;
        --master) MODE=master; shift ;;
        --minion) [ $# -ge 2 ] || die "--minion needs the master's address"; MODE=minion; MASTER="$2"; shift 2 ;;
        --minion=*) MODE=minion; MASTER="${1#--minion=}"; shift ;;
        --id) [ $# -ge 2 ] || die "--id needs a minion id"; MINION_ID="$2"; shift 2 ;;
        --id=*) MINION_ID="${1#--id=}"; shift ;;
        --salt-only) MODE=salt-only; shift ;;
        --print-master-conf) MODE=print-master-conf; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

if [ "$MODE" = print-master-conf ]; then  # what --master writes (its tests read it)
    master_conf
    exit 0
fi
[ "$(id -u)" -eq 0 ] || die "run as root"
[ -r /etc/os-release ] || die "cannot read /etc/os-release"
# shellcheck source=/dev/null  # the host's own
. /etc/os-release
case "${ID:-}:${VERSION_ID:-}" in
    debian:13|debian:12|ubuntu:22.04|ubuntu:24.04) ;;
    *) die "supported: Debian 13 and 12, Ubuntu 22.04 and 24.04; this is ${PRETTY_NAME:-unknown}" ;;
esac
case "$MODE" in
    minion)
        [ -n "$MINION_ID" ] || die "--minion needs --id ID (the name the master knows this server by)"
        [[ "$MASTER" =~ ^[A-Za-z0-9][A-Za-z0-9.:-]*$ ]] \
            || die "--minion '$MASTER': expected the master's host name or IP address"
        [[ "$MINION_ID" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$ ]] \
            || die "--id '$MINION_ID': expected letters, digits, '.', '_' or '-' (at most 63)" ;;
    *)
        [ -z "$MINION_ID" ] || die "--id goes with --minion" ;;
esac
[ -z "$PILLAR_DIR$TEST_MODE" ] || [ "$MODE" = single ] || die "--pillar and --test go with role single"
# The minions' networks for the master's firewall, checked before anything changes
ALLOW4=() ALLOW6=()
MASTER_ALLOW="${WEBSTACK_MASTER_ALLOW:-}"
if [ "$MODE" = master ] && [ -n "$MASTER_ALLOW" ] && [ "$MASTER_ALLOW" != off ]; then
    read -ra allow_words <<< "${MASTER_ALLOW//,/ }"  # split on commas and blanks, never globbed
    for net in "${allow_words[@]}"; do
        if [[ "$net" =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})(/([0-9]{1,2}))?$ ]] \
            && [ "${BASH_REMATCH[1]}" -le 255 ] && [ "${BASH_REMATCH[2]}" -le 255 ] \
            && [ "${BASH_REMATCH[3]}" -le 255 ] && [ "${BASH_REMATCH[4]}" -le 255 ] \
            && [ "${BASH_REMATCH[6]:-32}" -le 32 ]; then
            ALLOW4+=("$net")
        elif [[ "$net" =~ ^[0-9A-Fa-f:]*:[0-9A-Fa-f:]*(/([0-9]{1,3}))?$ ]] \
            && [ "${BASH_REMATCH[2]:-128}" -le 128 ]; then
            ALLOW6+=("$net")
        else
            die "WEBSTACK_MASTER_ALLOW: '$net' is not an IPv4 or IPv6 address or network" \
                "(expected a list such as '10.0.0.0/24 10.0.1.7 fd00::/64', or 'off')"
        fi
    done
    [ $((${#ALLOW4[@]} + ${#ALLOW6[@]})) -gt 0 ] \
        || die "WEBSTACK_MASTER_ALLOW: no network given (expected a list such as '10.0.0.0/24', or 'off')"
fi
if [ -n "$PILLAR_DIR" ]; then
    [ -d "$PILLAR_DIR" ] || die "--pillar $PILLAR_DIR: not a directory"
    [ -f "$PILLAR_DIR/top.sls" ] || die "--pillar $PILLAR_DIR: expected a pillar tree with a top.sls"
    PILLAR_DIR="$(cd "$PILLAR_DIR" && pwd)"
fi

export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 LANG=C.UTF-8
umask 022
# idem (Salt's bridge to the idem project, not installed here): its availability check
# makes the loaders import every utility module, a quarter of a second of every run.
DISABLE_MODULES="[idem]"
if [ ! -d /run/systemd/system ]; then
    # systemd is not PID 1 (a container, or systemd installed but not booted):
    # Salt would pick systemd_service and start nothing.
    DISABLE_MODULES="[systemd_service, idem]"
fi

# write_secrets FILE: strong random secrets, root-only, written once and reused
write_secrets() {
    gen() { tr -dc 'A-Za-z0-9' < /dev/urandom | head -c "$1" || true; }
    say "generating secrets into $1 (root only, kept for later runs)"
    (
        umask 077
        cat > "$1.tmp" <<EOF
# Generated by bootstrap.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ); reused on every run.
webstack:
  app:
    secret_key: '$(gen 64)'
  postgres:
    password: '$(gen 32)'
  redis:
    password: '$(gen 32)'
  mariadb:
    password: '$(gen 32)'
  backup:
    passphrase: '$(gen 64)'
EOF
        mv "$1.tmp" "$1"
    )
}

# add_secrets FILE: the secrets that a file written by an earlier bootstrap.sh lacks
add_secrets() {
    gen() { tr -dc 'A-Za-z0-9' < /dev/urandom | head -c "$1" || true; }
    head -1 "$1" | grep -q '^# Generated by bootstrap.sh' || return 0
    if ! grep -q '^  mariadb:' "$1"; then
        say "adding a MariaDB password to $1"
        printf "  mariadb:\n    password: '%s'\n" "$(gen 32)" >> "$1"
    fi
    if ! grep -q '^  backup:' "$1"; then
        say "adding the backups' passphrase to $1 (keep a copy away from this server)"
        printf "  backup:\n    passphrase: '%s'\n" "$(gen 64)" >> "$1"
    fi
}

# ---- master and minion modes (daemons under systemd where it is PID 1, else detached)
on_systemd() { [ -d /run/systemd/system ]; }

# write_unit NAME: /etc/systemd/system/NAME.service from stdin, enabled; systemd reloads
# its units only when the file changed
write_unit() {
    local path="/etc/systemd/system/$1.service"
    cat > "$path.tmp"
    if cmp -s "$path.tmp" "$path"; then
        rm -f "$path.tmp"
    else
        mv "$path.tmp" "$path"
        systemctl daemon-reload
    fi
    systemctl is-enabled -q "$1" 2>/dev/null || systemctl enable -q "$1"
}

# start_daemon NAME CONF_HASH: start salt-NAME, or restart it when its config changed
start_daemon() {
    local name="$1" hash="$2" unit="webstack-salt-$1" state="/var/lib/webstack/salt-$1.conf-hash"
    local pidfile="/var/run/salt-$1.pid" running=""
    install -d -m 0755 /var/lib/webstack
    if on_systemd; then
        write_unit "$unit" <<EOF
[Unit]
Description=Salt $name (webstack, $SALT_VENV)
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=$SALT_VENV/bin/salt-$name
Restart=on-failure
KillMode=process
LimitNOFILE=100000

[Install]
WantedBy=multi-user.target
EOF
        if systemctl is-active -q "$unit"; then
            [ "$(cat "$state" 2>/dev/null)" = "$hash" ] || { say "restarting salt-$name (config changed)"; systemctl restart "$unit"; }
        else
            say "starting salt-$name"; systemctl start "$unit"
        fi
    else
        # a pid file left from before a reboot may name another process now
        [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null \
            && tr '\0' ' ' < "/proc/$(cat "$pidfile")/cmdline" 2>/dev/null | grep -q "salt-$name" && running=1
        if [ -n "$running" ] && [ "$(cat "$state" 2>/dev/null)" != "$hash" ]; then
            say "restarting salt-$name (config changed)"
            kill "$(cat "$pidfile")"
            for _ in $(seq 100); do kill -0 "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null || break; sleep 0.1; done
            running=""
        fi
        if [ -z "$running" ]; then
            say "starting salt-$name (no systemd here: detached, pid in $pidfile)"
            rm -f "$pidfile"
            "$SALT_VENV/bin/salt-$name" -d
        fi
    fi
    echo "$hash" > "$state"
}

# ---- the master's firewall: nftables rules that let only WEBSTACK_MASTER_ALLOW reach
# ports 4505/4506, in a table of their own: they neither replace nor loosen the host's rules.
FW_TABLE=webstack_salt_master
FW_UNIT=webstack-salt-master-firewall

# fw_rules: the ruleset file, loaded as one transaction (the table replaced whole)
fw_rules() {
    echo "# Written by bootstrap.sh --master from WEBSTACK_MASTER_ALLOW; local changes are overwritten."
    echo "# Salt's ports answer only these networks; every other port is left to the host's firewall."
    echo "table inet $FW_TABLE"
    echo "delete table inet $FW_TABLE"
    echo "table inet $FW_TABLE {"
    local family
    for family in 4 6; do
        local -n nets="ALLOW$family"
        printf '\tset minions%s {\n\t\ttype ipv%s_addr; flags interval\n' "$family" "$family"
        local joined
        joined="$(IFS=,; echo "${nets[*]}")"
        [ ${#nets[@]} -eq 0 ] || printf '\t\telements = { %s }\n' "${joined//,/, }"
        printf '\t}\n'
    done
    printf '\tchain input {\n\t\ttype filter hook input priority filter - 10; policy accept;\n'
    printf '\t\ttcp dport { 4505, 4506 } jump salt_ports\n\t}\n'
    printf '\tchain salt_ports {\n\t\tiifname "lo" accept\n\t\tip saddr @minions4 accept\n'
    printf '\t\tip6 saddr @minions6 accept\n\t\tcounter drop\n\t}\n}\n'
}

# fw_live: the table in the kernel without its counters, to notice a hand edit
fw_live() { nft list table inet "$FW_TABLE" 2>/dev/null | sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/'; }

master_firewall() {
    local rules="$ETC/salt-master-firewall.nft" state=/var/lib/webstack/salt-master-firewall.live
    local unit="/etc/systemd/system/$FW_UNIT.service" want allowed err
    install -d -m 0755 /var/lib/webstack
    if [ "$MASTER_ALLOW" = off ]; then
        if on_systemd && [ -e "$unit" ]; then
            systemctl disable -q "$FW_UNIT" 2>/dev/null || true
            rm -f "$unit"
            systemctl daemon-reload
        fi
        if command -v nft >/dev/null && nft list table inet "$FW_TABLE" >/dev/null 2>&1; then
            nft delete table inet "$FW_TABLE"
            say "firewall: removed; ports 4505/4506 are left to the host's own firewall"
        fi
        rm -f "$rules" "$state"
        return 0
    fi
    if [ -n "$MASTER_ALLOW" ]; then
        want="$(fw_rules)"
    elif [ -s "$rules" ]; then
        want="$(cat "$rules")"  # WEBSTACK_MASTER_ALLOW of an earlier run: kept
    else
        say "warning: ports 4505/4506 answer every network; WEBSTACK_MASTER_ALLOW limits them to the minions'"
        return 0
    fi
    if ! command -v nft >/dev/null; then
        say "installing nftables"
        apt-get install -y -qq --no-install-recommends nftables >/dev/null 2>&1 \
            || { apt-get update -qq && apt-get install -y -qq --no-install-recommends nftables >/dev/null; }
    fi
    allowed="$(printf '%s\n' "$want" | sed -n 's/.*elements = { \(.*\) }/\1/p' \
        | paste -sd, - | sed 's/,\([^ ]\)/, \1/g')"
    if [ "$(cat "$rules" 2>/dev/null)" = "$want" ] && [ -s "$state" ] && [ "$(fw_live)" = "$(cat "$state")" ]; then
        say "firewall: unchanged; ports 4505/4506 answer only $allowed"
    else
        printf '%s\n' "$want" > "$rules.tmp"
        if ! err="$(nft -c -f "$rules.tmp" 2>&1)"; then  # checked before it goes live
            rm -f "$rules.tmp"
            case "$err" in
                *"Operation not permitted"*)
                    die "WEBSTACK_MASTER_ALLOW: root may not change this host's nftables rules" \
                        "(no CAP_NET_ADMIN: a container?)" ;;
                *) die "WEBSTACK_MASTER_ALLOW: nft refused the rules: $err" ;;
            esac
        fi
        mv "$rules.tmp" "$rules"
        nft -f "$rules"
        fw_live > "$state"
        say "firewall: ports 4505/4506 now answer only $allowed"
    fi
    if on_systemd; then
        # loaded again at boot, before salt-master listens
        write_unit "$FW_UNIT" <<EOF
[Unit]
Description=webstack: only the minions reach the Salt master's ports ($rules)
DefaultDependencies=no
After=local-fs.target nftables.service
Before=network-pre.target webstack-salt-master.service shutdown.target
Wants=network-pre.target
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=$(command -v nft) -f $rules

[Install]
WantedBy=multi-user.target
EOF
        systemctl is-active -q "$FW_UNIT" || systemctl start "$FW_UNIT"
    fi
}

server_mode() {
    local conf_dir=/etc/salt/$MODE.d conf hash
    install -d -m 0755 /etc/salt "$conf_dir"
    install -d -m 0700 /etc/salt/pki
    conf="$conf_dir/webstack.conf"
    if [ "$MODE" = master ]; then
        # Secrets: generated once, root-only, outside the served tree.
        install -d -m 0700 "$ETC/pillar" "$ETC/pillar/webstack"
        if [ -s "$ETC/pillar/webstack/secrets.sls" ]; then add_secrets "$ETC/pillar/webstack/secrets.sls"; else write_secrets "$ETC/pillar/webstack/secrets.sls"; fi
        master_conf > "$conf.tmp"
    else
        echo "$MINION_ID" > /etc/salt/minion_id
        cat > "$conf.tmp" <<EOF
# Written by bootstrap.sh --minion; local changes are overwritten on the next run.
master: $MASTER
id: $MINION_ID
disable_modules: $DISABLE_MODULES
disable_states: [idem]
acceptance_wait_time: 5
random_reauth_delay: 5
state_output: mixed
log_level_logfile: warning
EOF
    fi
    mv "$conf.tmp" "$conf"
    if [ "$MODE" = master ]; then
        master_firewall  # before salt-master listens
    fi
    hash="$(sha256sum < "$conf" | cut -c1-16)"
    start_daemon "$MODE" "$hash"
    if [ "$MODE" = master ]; then
        say "salt-master is up, serving $REPO (pillar from $REPO/pillar and $ETC/pillar)"
        say "next: bootstrap each server with --minion, compare its key (salt-key -f ID) and accept it (salt-key -a ID)"
    else
        local finger="" pub=/etc/salt/pki/minion/minion.pub
        # the daemon makes its key pair on its first start: read it once it exists
        for _ in $(seq 300); do [ -s "$pub" ] && break; sleep 0.1; done
        # as `salt-key -f` prints it on the master (Salt 3008's own key.finger hashes
        # differently): sha256 of the PEM without its final newline
        [ ! -s "$pub" ] || finger="$(printf '%s' "$(cat "$pub")" | sha256sum | cut -c1-64 | sed 's/../&:/g; s/:$//')"
        say "salt-minion $MINION_ID is up; its key fingerprint: ${finger:-(not generated yet)}"
        say "on the master: salt-key -f $MINION_ID must show the same, then: salt-key -a $MINION_ID"
    fi
}

# 1. Salt, pinned, in its own virtualenv (pins come from requirements.txt)
need_pkgs=()
for p in python3 python3-venv python3-dev gcc ca-certificates; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
    say "installing ${need_pkgs[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi
stamp="$(sha256sum "$REPO/requirements.txt" | cut -c1-16)"
if [ "$(cat "$SALT_VENV/.webstack-stamp" 2>/dev/null)" != "$stamp" ]; then
    say "installing Salt into $SALT_VENV"
    python3 -m venv "$SALT_VENV"
    "$SALT_VENV/bin/pip" install -q --disable-pip-version-check -c "$REPO/requirements.txt" \
        salt pyzmq jinja2 pyyaml
    echo "$stamp" > "$SALT_VENV/.webstack-stamp"
fi
for bin in salt salt-call salt-cp salt-key salt-master salt-minion salt-run; do
    [ "$(readlink "/usr/local/bin/$bin" 2>/dev/null)" = "$SALT_VENV/bin/$bin" ] \
        || ln -sfn "$SALT_VENV/bin/$bin" "/usr/local/bin/$bin"
done
[ "$MODE" != salt-only ] || { say "Salt is installed in $SALT_VENV"; exit 0; }
[ "$MODE" = single ] || { server_mode; exit 0; }

# 2. Pillar: the operator's, or secrets generated once into a root-only file
install -d -m 0755 "$ETC"
if [ -z "$PILLAR_DIR" ]; then
    PILLAR_DIR="$ETC/pillar"
    install -d -m 0700 "$PILLAR_DIR"
    if [ ! -s "$PILLAR_DIR/secrets.sls" ]; then
        write_secrets "$PILLAR_DIR/secrets.sls"
    else
        add_secrets "$PILLAR_DIR/secrets.sls"
    fi
    hosts="localhost 127.0.0.1 $(hostname) $(hostname -I 2>/dev/null || true)"
    {
        echo "# Written by bootstrap.sh on every run; put your own settings in a --pillar tree."
        echo "webstack:"
        echo "  roles: [single]"
        echo "  app:"
        echo "    allowed_hosts:"
        for h in $hosts; do case "$h" in *:*) ;; *) echo "      - '$h'" ;; esac; done | sort -u
    } > "$PILLAR_DIR/host.sls.tmp"
    mv "$PILLAR_DIR/host.sls.tmp" "$PILLAR_DIR/host.sls"
    if [ ! -e "$PILLAR_DIR/local.sls" ]; then
        # the operator's own settings: written once, never overwritten
        cat > "$PILLAR_DIR/local.sls" <<'EOF'
# Your settings for this server (docs/pillar.md: every key); kept across runs and
# merged over host.sls. For example, another WSGI server:
#   webstack:
#     wsgi:
#       server: uwsgi        # gunicorn (default), uwsgi or mod_wsgi
webstack: {}
EOF
    fi
    printf 'base:\n  "*":\n    - host\n    - local\n    - secrets\n' > "$PILLAR_DIR/top.sls"
    chmod 0600 "$PILLAR_DIR"/*.sls
fi

# 3. Masterless minion config
install -d -m 0700 "$SALT_CONF" /var/cache/webstack/salt
install -d -m 0750 /var/log/webstack  # as the formula keeps it: logs carry URLs with tokens
cat > "$SALT_CONF/minion.tmp" <<EOF
# Written by bootstrap.sh: masterless minion for webstack.
file_client: local
file_roots:
  base:
    - $REPO/salt
    - $REPO
pillar_roots:
  base:
    - $PILLAR_DIR
disable_modules: $DISABLE_MODULES
disable_states: [idem]
cachedir: /var/cache/webstack/salt
pki_dir: $SALT_CONF/pki
sock_dir: /var/run/webstack-salt
log_file: /var/log/webstack/salt-minion.log
log_level_logfile: warning
state_output: mixed
fileserver_list_cache_time: 0
EOF
mv "$SALT_CONF/minion.tmp" "$SALT_CONF/minion"
cat > /usr/local/sbin/webstack-salt-call.tmp <<EOF
#!/bin/sh
# salt-call for webstack's masterless config (written by bootstrap.sh)
exec "$SALT_VENV/bin/salt-call" --config-dir "$SALT_CONF" --local "\$@"
EOF
chmod 0755 /usr/local/sbin/webstack-salt-call.tmp
mv /usr/local/sbin/webstack-salt-call.tmp /usr/local/sbin/webstack-salt-call

# 4. Apply role single
salt_call=(/usr/local/sbin/webstack-salt-call)
say "applying role single${TEST_MODE:+ (test mode: nothing changes)}"
set +e
# sync_mods: the formula's modules are synced from the checkout by the same salt-call,
# before the states load them (one Salt start-up fewer than a saltutil.sync_all first)
"${salt_call[@]}" --retcode-passthrough --state-verbose=False \
    state.apply webstack.roles.single sync_mods=all ${TEST_MODE:+test=True}
rc=$?
set -e
if [ $rc -ne 0 ]; then
    echo "bootstrap.sh: role single failed (exit $rc); see the failed states above" >&2
    exit $rc
fi

if [ -n "$TEST_MODE" ]; then
    say "test mode: the states above show what a real run would change"
    exit 0
fi

addr="$(hostname -I 2>/dev/null | awk '{print $1}')"
url="$("${salt_call[@]}" --log-level=quiet --out=json webstack_pillar.front 2>/dev/null \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["local"]["url"].format(host=sys.argv[1]))' \
      "${addr:-localhost}" 2>/dev/null || echo "https://${addr:-localhost}/")"
say "webstack is up: $url"
