# SPDX-License-Identifier: GPL-2.0-or-later
# qemu-lib.sh: a private virtlogd + libvirtd with the qemu driver for drover's
# tests, and replica domains on real qcow2 chains that really run (TCG).
# Source it after tests/lib.sh:
#
#   . "$top_srcdir/tests/lib.sh"; . "$top_srcdir/tests/qemu-lib.sh"
#   qemu_require            # "1..0 # SKIP" unless root with libvirtd and qemu
#   mktemp_dir; qemu_start  # sets QURI (and QURI_TCP with `qemu_start tcp`)
#   ... qvirsh list --all; qemu_make_replica NAME STATE ...
#   qemu_stop; done_testing
#
# The daemons run as root in a mount namespace of their own (unshare -m) in
# which /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/cache/libvirt and
# /var/log/libvirt are bind mounts of directories under $T/lv: a system
# libvirtd, its qemu driver lock, its domains and its qemu.conf are never
# touched, and several of these tests can run at once.  Outside the
# namespace only the socket directory ($T/lv/sock) is used; missing mount
# points (/run/libvirt, /var/lib/libvirt, ...) are created, empty.  The private
# qemu.conf runs guests as root without relabelling (security_driver "none",
# dynamic_ownership 0), so the chains in $T (mode 0700) need no chown.
# Only the pids this file started are ever signalled: the daemons by their
# pid files, and qemu processes by the pid files of the private daemon.

: "${LIBVIRTD:=}"
: "${VIRTLOGD:=}"
: "${QEMU_SYSTEM:=}"
: "${VIRSH:=}"

# configure writes "no" for a program it did not find.
qemu_find_prog() {  # qemu_find_prog VALUE NAME -> path or nothing
    if [ -n "$1" ] && [ "$1" != no ] && [ -x "$1" ]; then
        echo "$1"
        return
    fi
    PATH="$PATH:/usr/sbin:/sbin" command -v "$2" 2>/dev/null
}

qemu_require() {
    [ "$(id -u)" -eq 0 ] || skip_all "needs root: a private libvirtd with the qemu driver runs guests as root"
    LIBVIRTD=$(qemu_find_prog "$LIBVIRTD" libvirtd)
    [ -n "$LIBVIRTD" ] || skip_all "libvirtd not found (Debian: libvirt-daemon libvirt-daemon-driver-qemu)"
    [ -e /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so ] ||
        [ -n "$(find /usr/lib* -name 'libvirt_driver_qemu.so' 2>/dev/null | head -1)" ] ||
        skip_all "libvirt's qemu driver is not installed (Debian: libvirt-daemon-driver-qemu)"
    VIRTLOGD=$(qemu_find_prog "$VIRTLOGD" virtlogd)
    [ -n "$VIRTLOGD" ] || skip_all "virtlogd not found (Debian: libvirt-daemon)"
    QEMU_SYSTEM=$(qemu_find_prog "$QEMU_SYSTEM" qemu-system-x86_64)
    [ -n "$QEMU_SYSTEM" ] || skip_all "qemu-system-x86_64 not found (Debian: qemu-system-x86)"
    VIRSH=$(qemu_find_prog "$VIRSH" virsh)
    [ -n "$VIRSH" ] || skip_all "virsh not found (Debian: libvirt-clients)"
    command -v "$QEMU_IMG" >/dev/null 2>&1 || skip_all "qemu-img not found (Debian: qemu-utils)"
    if ! command -v unshare >/dev/null 2>&1 || ! command -v nsenter >/dev/null 2>&1; then
        skip_all "unshare/nsenter not found (Debian: util-linux)"
    fi
}

QD=
QSOCKDIR=
qemu_own_sockdir=0
QURI=
QURI_TCP=
QTCP_PORT=
qemu_started=0

qvirsh() { "$VIRSH" -q -c "$QURI" "$@"; }

# qemu_alive PID: the process exists and is not a zombie (where no init reaps
# the daemons, a killed daemon stays a zombie).
qemu_alive() {
    [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
    case "$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)" in
        Z|X|"") return 1 ;;
    esac
    return 0
}

# qemu_ours PID: PID is alive and runs a program of this test's daemons
# (its command line names $QD).  A pid file left by a daemon that died can
# name a pid the system has since given to another process (pid_max is
# 32768 here): it is never signalled.
qemu_ours() {
    qemu_alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "$QD/"
}

# qemu_wait_gone PID TENTHS: wait up to TENTHS/10 s for PID to go.
qemu_wait_gone() {
    _n=0
    while qemu_alive "$1"; do
        [ "$_n" -ge "$2" ] && return 1
        sleep 0.1
        _n=$((_n + 1))
    done
    return 0
}

qemu_pid_of() { [ -s "$1" ] && tr -dc '0-9' <"$1"; }

qemu_libvirtd_pid() { qemu_pid_of "$QD/libvirtd.pid"; }
qemu_virtlogd_pid() { qemu_pid_of "$QD/virtlogd.pid"; }

qemu_write_conf() {  # qemu_write_conf [tcp PORT]
    cat >"$QD/etc/libvirtd.conf" <<EOC
unix_sock_dir = "$QSOCKDIR"
unix_sock_group = "root"
unix_sock_ro_perms = "0777"
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
listen_tls = 0
log_outputs = "3:file:$QD/libvirtd.log"
EOC
    if [ "${1:-}" = tcp ]; then
        cat >>"$QD/etc/libvirtd.conf" <<EOC
listen_tcp = 1
auth_tcp = "none"
listen_addr = "127.0.0.1"
tcp_port = "$2"
EOC
    else
        echo 'listen_tcp = 0' >>"$QD/etc/libvirtd.conf"
    fi
    # Guests as root, no relabelling, no cgroups (none may be delegated
    # to us), no private /dev per guest: all the test needs is qemu.
    cat >"$QD/etc/qemu.conf" <<EOC
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
EOC
    # QEMU_CONF_EXTRA: more qemu.conf lines (a test's TLS set-up).
    if [ -n "${QEMU_CONF_EXTRA:-}" ]; then
        printf '%s\n' "$QEMU_CONF_EXTRA" >>"$QD/etc/qemu.conf"
    fi
}

# qemu_wait_socket TENTHS: until the daemon answers on QURI.
qemu_wait_socket() {
    _n=0
    while :; do
        if [ -S "$QSOCKDIR/libvirt-sock" ] && "$VIRSH" -q -c "$QURI" uri >/dev/null 2>&1; then
            return 0
        fi
        [ "$_n" -ge "$1" ] && return 1
        if [ -n "$(qemu_libvirtd_pid)" ] && ! qemu_alive "$(qemu_libvirtd_pid)"; then
            return 1
        fi
        sleep 0.1
        _n=$((_n + 1))
    done
}

# qemu_run_libvirtd CMD...: CMD... libvirtd ARGS (libvirtd -d returns once
# the daemon is up, with its status).
qemu_run_libvirtd() {
    if [ -n "$QTCP_PORT" ]; then
        "$@" "$LIBVIRTD" -d --listen -f "$QD/etc/libvirtd.conf" -p "$QD/libvirtd.pid"
    else
        "$@" "$LIBVIRTD" -d -f "$QD/etc/libvirtd.conf" -p "$QD/libvirtd.pid"
    fi
}

# qemu_start [tcp]: start the private daemons; with tcp, libvirtd also
# listens on 127.0.0.1 (QURI_TCP).  Exits the test ("Bail out!") when the
# daemons do not come up: a failure of the environment, not a skip.
qemu_start() {
    [ -n "${T:-}" ] || { echo "Bail out! qemu_start before mktemp_dir"; exit 99; }
    QD="$T/lv"
    mkdir -p "$QD/etc" "$QD/run" "$QD/lib" "$QD/cache" "$QD/log" || exit 99
    # A unix socket path has at most 107 bytes: under a long TMPDIR the
    # socket directory moves to /tmp (and is removed by qemu_stop).
    QSOCKDIR="$QD/sock"
    if [ "${#QSOCKDIR}" -gt 80 ]; then
        QSOCKDIR=$(mktemp -d /tmp/drover-qs.XXXXXX) || exit 99
        qemu_own_sockdir=1
    fi
    mkdir -p "$QSOCKDIR" || exit 99
    QURI="qemu+unix:///system?socket=$QSOCKDIR/libvirt-sock"
    trap 'qemu_stop >/dev/null 2>&1' EXIT
    trap 'qemu_stop >/dev/null 2>&1; exit 130' INT TERM HUP
    # Mount points: the directories libvirt's own packages create.
    mkdir -p /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt || exit 99
    _tries=1
    [ "${1:-}" = tcp ] && _tries=5
    while [ "$_tries" -gt 0 ]; do
        _tries=$((_tries - 1))
        if [ "${1:-}" = tcp ]; then
            QTCP_PORT=$((20000 + ($$ * 7 + _tries * 1009) % 30000))
            QURI_TCP="qemu+tcp://127.0.0.1:$QTCP_PORT/system"
            qemu_write_conf tcp "$QTCP_PORT"
        else
            qemu_write_conf
        fi
        rm -f "$QD/libvirtd.pid" "$QD/virtlogd.pid"
        qemu_started=1
        # QEMU_UTS=NAME: the daemon also gets a UTS namespace with hostname
        # NAME, so it looks like another machine to drover.
        if qemu_run_libvirtd unshare -m ${QEMU_UTS:+-u} --propagation private sh -ec '
            d=$1; shift
            if [ -n "${QEMU_UTS:-}" ]; then hostname "$QEMU_UTS"; fi
            mount --bind "$d/etc" /etc/libvirt
            mount --bind "$d/run" /run/libvirt
            mount --bind "$d/lib" /var/lib/libvirt
            mount --bind "$d/cache" /var/cache/libvirt
            mount --bind "$d/log" /var/log/libvirt
            "$1" -d -p "$d/virtlogd.pid"
            shift
            exec "$@"' sh "$QD" "$VIRTLOGD" >>"$QD/start.log" 2>&1 &&
            qemu_wait_socket 200; then
            return 0
        fi
        qemu_stop_daemons
    done
    echo "Bail out! the private libvirtd did not start; see $QD/start.log and $QD/libvirtd.log"
    sed 's/^/# /' "$QD/start.log" "$QD/libvirtd.log" 2>/dev/null | tail -20
    exit 99
}

# qemu_kill_libvirtd: SIGKILL the private libvirtd (guests keep running).
qemu_kill_libvirtd() {
    _p=$(qemu_libvirtd_pid)
    [ -n "$_p" ] && qemu_ours "$_p" || return 1
    kill -9 "$_p" && qemu_wait_gone "$_p" 50
}

# qemu_restart_libvirtd: a new libvirtd in the same namespace (entered through
# virtlogd, which still lives there), same config, same socket.
qemu_restart_libvirtd() {
    _v=$(qemu_virtlogd_pid)
    qemu_alive "$_v" || return 1
    qemu_run_libvirtd nsenter -t "$_v" -m >>"$QD/start.log" 2>&1 || return 1
    qemu_wait_socket 200
}

# qemu processes of the private daemon, from its pid files, only when the
# pid still runs that guest (qemu with -name guest=NAME of the pid file; a
# stale file's pid may be another test's guest by now).
qemu_guest_pids() {
    for _f in "$QD"/run/qemu/*.pid; do
        [ -f "$_f" ] || continue
        _p=$(qemu_pid_of "$_f")
        if [ -z "$_p" ] || ! qemu_alive "$_p"; then
            continue
        fi
        _g=$(basename "$_f" .pid)
        tr '\0' ' ' <"/proc/$_p/cmdline" 2>/dev/null |
            grep -q "qemu-system.* guest=$_g[, ]" && echo "$_p"
    done
}

qemu_stop_daemons() {
    for _p in $(qemu_libvirtd_pid) $(qemu_virtlogd_pid); do
        qemu_ours "$_p" || continue
        kill -TERM "$_p" 2>/dev/null
        qemu_wait_gone "$_p" 50 || kill -9 "$_p" 2>/dev/null
    done
}

# qemu_stop: remove every domain of the private daemon, stop it and virtlogd,
# and end any guest left behind by a killed daemon.  Safe to call twice.
qemu_stop() {
    [ "$qemu_started" -eq 1 ] || return 0
    if qemu_alive "$(qemu_libvirtd_pid)"; then
        for _d in $("$VIRSH" -q -c "$QURI" list --all --name 2>/dev/null); do
            "$VIRSH" -q -c "$QURI" destroy "$_d" >/dev/null 2>&1
            "$VIRSH" -q -c "$QURI" undefine "$_d" >/dev/null 2>&1
        done
    fi
    qemu_stop_daemons
    for _p in $(qemu_guest_pids); do
        kill -TERM "$_p" 2>/dev/null
        qemu_wait_gone "$_p" 30 || kill -9 "$_p" 2>/dev/null
    done
    if [ "$qemu_own_sockdir" -eq 1 ]; then
        rm -rf "$QSOCKDIR"
        qemu_own_sockdir=0
    fi
    qemu_started=0
}

# qemu_domstate NAME: "running", "shut off", ...
qemu_domstate() { qvirsh domstate "$1" 2>/dev/null | head -1; }

# qemu_wait_state NAME STATE TENTHS
qemu_wait_state() {
    _n=0
    while [ "$(qemu_domstate "$1")" != "$2" ]; do
        [ "$_n" -ge "$3" ] && return 1
        sleep 0.1
        _n=$((_n + 1))
    done
}

# qemu_disk_source NAME [TARGET]: the file a disk of the (inactive) definition uses.
qemu_disk_source() {
    qvirsh domblklist "$1" --inactive | awk -v t="${2:-vda}" '$1 == t { print $2 }'
}

# qemu_live_source NAME [TARGET]: the file qemu has open now.
qemu_live_source() {
    qvirsh domblklist "$1" | awk -v t="${2:-vda}" '$1 == t { print $2 }'
}

# qemu_backing FILE: the backing file qcow2 FILE names (-U: qemu may hold it).
qemu_backing() {
    "$QEMU_IMG" info -U --output=json "$1" |
        python3 -c 'import json,sys; print(json.load(sys.stdin).get("backing-filename", ""))'
}

# qemu_make_replica NAME STATE [FAILOVER_POINT]: a replica domain with disk vda
# on $T/vms/NAME: base (64 MiB) <- rp-0001 <- rp-0002 <- rp-0003, each RP
# with data of its own; STATE 3 points the disk at rp-0003, STATE 5 adds a
# failover overlay on FAILOVER_POINT (default rp-0002) and points the disk
# at it.  The domain is defined, not started.  Sets VMDIR and OVERLAY.
qemu_make_replica() {
    _name=$1 _state=$2 _fp=${3:-rp-0002}
    VMDIR="$T/vms/$_name"
    OVERLAY=
    mkdir -p "$VMDIR" || return 1
    "$QEMU_IMG" create -q -f qcow2 "$VMDIR/vda.base.qcow2" 64M || return 1
    _prev="$VMDIR/vda.base.qcow2"
    _points=
    _i=0
    _now=$(date +%s)
    for _rp in rp-0001 rp-0002 rp-0003; do
        _i=$((_i + 1))
        "$QEMU_IMG" create -q -f qcow2 -F qcow2 -b "$_prev" "$VMDIR/vda.$_rp.qcow2" 64M || return 1
        if command -v qemu-io >/dev/null 2>&1; then
            qemu-io -f qcow2 -c "write -P $((_i + 16)) $((_i * 65536)) 65536" \
                "$VMDIR/vda.$_rp.qcow2" >/dev/null || return 1
        fi
        _prev="$VMDIR/vda.$_rp.qcow2"
        # An hour apart, the newest 10 minutes old: replication is not late.
        _time=$(date -u -d "@$((_now - 600 - (3 - _i) * 3600))" +%Y-%m-%dT%H:%M:%SZ)
        _points="$_points
    <drover:point id=\"$_rp\" time=\"$_time\" type=\"standard\">
      <drover:disk target=\"vda\" file=\"$VMDIR/vda.$_rp.qcow2\"/>
    </drover:point>"
    done
    _source="$VMDIR/vda.rp-0003.qcow2"
    _failover=
    if [ "$_state" -eq 5 ]; then
        OVERLAY="$VMDIR/vda.failover-20261124T090000Z.qcow2"
        "$QEMU_IMG" create -q -f qcow2 -F qcow2 -b "$VMDIR/vda.$_fp.qcow2" "$OVERLAY" 64M || return 1
        _source=$OVERLAY
        _failover="
  <drover:failover point=\"$_fp\" time=\"$(date -u -d "@$((_now - 300))" +%Y-%m-%dT%H:%M:%SZ)\" by=\"qemu-test\">
    <drover:disk target=\"vda\" file=\"$OVERLAY\"/>
  </drover:failover>"
    fi
    cat >"$VMDIR/domain.xml" <<EOX
<domain type='qemu'>
  <name>$_name</name>
  <metadata>
<drover:replica xmlns:drover="urn:drover:replica:1" format="1">
  <drover:mode>2</drover:mode>
  <drover:state>$_state</drover:state>
  <drover:primary host="prod-a" uri="qemu+ssh://prod-a/system" name="$_name"/>
  <drover:recovery-points>$_points
  </drover:recovery-points>$_failover
</drover:replica>
  </metadata>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>$QEMU_SYSTEM</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$_source'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='user'><model type='virtio'/></interface>
    <serial type='pty'/>
    <video><model type='none'/></video>
    <memballoon model='none'/>
  </devices>
</domain>
EOX
    qvirsh define "$VMDIR/domain.xml" >/dev/null
}

# Two private daemons in one script (a primary and a DR host): start one,
# `qemu_save NAME`, point T at another directory, start the second,
# `qemu_save NAME2`; `qemu_use NAME` makes QURI, QD, qvirsh ... refer to
# that one again.  qemu_start's EXIT trap stops only the last one started:
# qemu_stop_all (the trap to set after both started) stops every saved one.
qemu_saved=
qemu_save() {  # qemu_save NAME
    eval "qemu_s_${1}=\"\$QD|\$QSOCKDIR|\$qemu_own_sockdir|\$QURI|\$QURI_TCP|\$QTCP_PORT|\$qemu_started\""
    case " $qemu_saved " in *" $1 "*) ;; *) qemu_saved="$qemu_saved $1" ;; esac
}
qemu_use() {  # qemu_use NAME
    eval "_s=\$qemu_s_${1}"
    IFS='|' read -r QD QSOCKDIR qemu_own_sockdir QURI QURI_TCP QTCP_PORT qemu_started <<EOS
$_s
EOS
}
qemu_stop_all() {
    for _n in $qemu_saved; do
        qemu_use "$_n"
        qemu_stop
        qemu_save "$_n"
    done
}
