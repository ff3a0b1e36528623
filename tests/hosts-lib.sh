# SPDX-License-Identifier: GPL-2.0-or-later
# hosts-lib.sh: several private libvirtd daemons serving libvirt's test
# driver, one per "DR host", for the many-hosts benchmark (bench/hosts.sh)
# and tests/console-hosts.exp.  Source it (POSIX sh):
#
#   . "$top_srcdir/tests/hosts-lib.sh"
#   hosts_require || skip ...     # root, libvirtd, unshare
#   hosts_start DIR N             # daemons 1..N under DIR/hK
#   hosts_uri K FLEET_FILE        # test+unix:///FLEET_FILE?socket=...
#   hosts_stop_one K / hosts_cont_one K / hosts_kill_one K / hosts_restart_one K
#   hosts_wait_accepts K          # until daemon K accepts connects again
#   hosts_stop                    # every daemon this file started
#
# Each daemon runs as root in a mount namespace of its own (unshare -m), with
# /run/libvirt, /var/lib/libvirt, /var/cache/libvirt and /var/log/libvirt bind
# mounts of its own directories, so nothing of a system libvirtd is touched
# and the daemons do not share state.  LIBVIRT_DRIVER_DIR points at an empty
# directory: the daemon loads no driver module (no qemu capability probing,
# no network or storage driver) and serves only the drivers built into
# libvirt.so, among them the test driver: `test+unix:///PATH/fleet.xml?socket=S`
# makes the daemon open the fleet file with the test driver, and every call
# goes through the remote protocol as it would to a qemu host.  Only the pids
# this file started (from the daemons' pid files) are ever signalled.

: "${LIBVIRTD:=}"
HOSTS_DIR=
HOSTS_N=0

hosts_find_libvirtd() {
    if [ -n "$LIBVIRTD" ] && [ "$LIBVIRTD" != no ] && [ -x "$LIBVIRTD" ]; then
        echo "$LIBVIRTD"
        return
    fi
    PATH="$PATH:/usr/sbin:/sbin" command -v libvirtd 2>/dev/null
}

# hosts_require: 0 when the daemons can run, else 1 with the reason in
# HOSTS_SKIP.
hosts_require() {
    HOSTS_SKIP=
    if [ "$(id -u)" -ne 0 ]; then
        HOSTS_SKIP="needs root: private libvirtd daemons in mount namespaces of their own"
    elif [ -z "$(hosts_find_libvirtd)" ]; then
        HOSTS_SKIP="libvirtd not found (Debian: libvirt-daemon)"
    elif ! command -v unshare >/dev/null 2>&1; then
        HOSTS_SKIP="unshare not found (Debian: util-linux)"
    fi
    [ -z "$HOSTS_SKIP" ] || return 1
    LIBVIRTD=$(hosts_find_libvirtd)
    return 0
}

hosts_pid() { [ -s "$HOSTS_DIR/h$1/libvirtd.pid" ] && tr -dc '0-9' <"$HOSTS_DIR/h$1/libvirtd.pid"; }

# hosts_alive PID: exists and is not a zombie.
hosts_alive() {
    [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
    case "$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)" in
        Z|X|"") return 1 ;;
    esac
    return 0
}

hosts_sock() { echo "$HOSTS_DIR/h$1/s/libvirt-sock"; }

# hosts_uri K FLEET: the URI of fleet file FLEET served by daemon K.
hosts_uri() { echo "test+unix://$2?socket=$(hosts_sock "$1")"; }

# hosts_run_one K: starts daemon K (its directory exists); waits for its socket.
hosts_run_one() {
    _d="$HOSTS_DIR/h$1"
    rm -f "$_d/libvirtd.pid" "$_d/s/libvirt-sock"
    LIBVIRT_DRIVER_DIR="$_d/nodrivers" unshare -m --propagation private sh -ec '
        d=$1; shift
        mkdir -p /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt
        mount --bind "$d/run" /run/libvirt
        mount --bind "$d/lib" /var/lib/libvirt
        mount --bind "$d/cache" /var/cache/libvirt
        mount --bind "$d/log" /var/log/libvirt
        exec "$@"' sh "$_d" "$LIBVIRTD" -d -f "$_d/libvirtd.conf" -p "$_d/libvirtd.pid" \
        >>"$_d/start.log" 2>&1 || return 1
    _n=0
    while [ ! -S "$_d/s/libvirt-sock" ] || [ -z "$(hosts_pid "$1")" ]; do
        [ "$_n" -ge 200 ] && return 1
        sleep 0.1
        _n=$((_n + 1))
    done
    return 0
}

# hosts_start DIR N: daemons 1..N, each under DIR/hK (sockets in DIR/hK/s:
# keep DIR short, a socket path has at most 107 bytes).
hosts_start() {
    HOSTS_DIR=$1
    _k=1
    while [ "$_k" -le "$2" ]; do
        _d="$HOSTS_DIR/h$_k"
        mkdir -p "$_d/s" "$_d/run" "$_d/lib" "$_d/cache" "$_d/log" "$_d/nodrivers" || return 1
        cat >"$_d/libvirtd.conf" <<EOC
unix_sock_dir = "$_d/s"
unix_sock_group = "root"
unix_sock_ro_perms = "0777"
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
listen_tls = 0
listen_tcp = 0
log_outputs = "3:file:$_d/libvirtd.log"
EOC
        HOSTS_N=$_k
        hosts_run_one "$_k" || return 1
        _k=$((_k + 1))
    done
    return 0
}

# hosts_stop_one K (SIGSTOP: hung, not dead), hosts_cont_one K (SIGCONT).
hosts_stop_one() { _p=$(hosts_pid "$1") && [ -n "$_p" ] && kill -STOP "$_p"; }
hosts_cont_one() { _p=$(hosts_pid "$1") && [ -n "$_p" ] && kill -CONT "$_p"; }

# hosts_wait_accepts K: until daemon K accepts a connect on its socket (let
# go by SIGCONT, it first works through the connects queued while it was
# stopped, and refuses more while its backlog is full); 1 after 60 s.  One
# blocking connect: the kernel holds it while the backlog is full and lets
# it through as soon as there is room, so nothing polls.
hosts_wait_accepts() {
    timeout 60 python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])' "$(hosts_sock "$1")" 2>/dev/null
}

# hosts_kill_one K: SIGKILL, and waits until it is gone.
hosts_kill_one() {
    _p=$(hosts_pid "$1")
    [ -n "$_p" ] && hosts_alive "$_p" || return 1
    kill -KILL "$_p" || return 1
    _n=0
    while hosts_alive "$_p"; do
        [ "$_n" -ge 100 ] && return 1
        sleep 0.1
        _n=$((_n + 1))
    done
    # Only its own: a restart may have written the next daemon's already.
    [ "$(hosts_pid "$1")" = "$_p" ] && rm -f "$HOSTS_DIR/h$1/libvirtd.pid"
    return 0
}

hosts_restart_one() { hosts_run_one "$1"; }

# hosts_stop: SIGCONT (a stopped daemon cannot end) and SIGTERM each daemon
# started here, SIGKILL after 5 s.  Safe to call twice.
# hosts_rows JSON: "name host" per row of a list --json, in its order.
hosts_rows() {
    printf '%s' "$1" | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    print(r["name"], r["host"])'
}

hosts_stop() {
    [ -n "$HOSTS_DIR" ] || return 0
    _k=1
    while [ "$_k" -le "$HOSTS_N" ]; do
        _p=$(hosts_pid "$_k")
        if [ -n "$_p" ] && hosts_alive "$_p"; then
            kill -CONT "$_p" 2>/dev/null
            kill -TERM "$_p" 2>/dev/null
            _n=0
            while hosts_alive "$_p" && [ "$_n" -lt 50 ]; do
                sleep 0.1
                _n=$((_n + 1))
            done
            hosts_alive "$_p" && kill -KILL "$_p" 2>/dev/null
        fi
        rm -f "$HOSTS_DIR/h$_k/libvirtd.pid"
        _k=$((_k + 1))
    done
    HOSTS_N=0
}
