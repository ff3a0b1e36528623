# SPDX-License-Identifier: GPL-2.0-or-later
# repl-lib.sh: a primary and a DR host for the replication tests: two
# private libvirtd daemons with the qemu driver (tests/qemu-lib.sh), a
# primary domain $VM running under TCG with two qcow2 disks (vda 64 MiB,
# vdb 32 MiB or REPL_VDB_SIZE, data on both; with REPL_UEFI=1 a loader and
# an NVRAM file),
# and helpers.  Source it after lib.sh and
# qemu-lib.sh; it skips where they cannot run.  Sets TOP (= T), PURI,
# DURI, PORT, VM, DIR (the replica's directory), DEV_A, DEV_B.

qemu_require
command -v qemu-io >/dev/null 2>&1 || skip_all "qemu-io not found (Debian: qemu-utils)"
command -v qemu-nbd >/dev/null 2>&1 || skip_all "qemu-nbd not found (Debian: qemu-utils)"
mktemp_dir
TOP=$T
mkdir -p "$TOP/p" "$TOP/d" "$TOP/prim" || exit 99
# repl_setup, when the test defines it: its set-up before the daemons
# start (T is TOP), such as QEMU_CONF_EXTRA for the primary.
if command -v repl_setup >/dev/null 2>&1; then
    repl_setup || exit 99
fi
T=$TOP/p
qemu_start
qemu_save prim
QEMU_CONF_EXTRA=
PURI=$QURI
T=$TOP/d
qemu_start
qemu_save dr
DURI=$QURI
T=$TOP
trap 'qemu_stop_all >/dev/null 2>&1' EXIT
trap 'qemu_stop_all >/dev/null 2>&1; exit 130' INT TERM HUP

pvirsh() { "$VIRSH" -q -c "$PURI" "$@"; }
dvirsh() { "$VIRSH" -q -c "$DURI" "$@"; }
dr() { drover -c "$DURI" "$@"; }

# A free TCP port on 127.0.0.1 for the primary's NBD export.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
VM="${REPL_VM:-rq$$}"
DIR="$TOP/dr/$VM"

# The primary: vda 64 MiB and vdb 32 MiB, both with data before it starts.
"$QEMU_IMG" create -q -f qcow2 "$TOP/prim/vda.qcow2" 64M &&
    "$QEMU_IMG" create -q -f qcow2 "$TOP/prim/vdb.qcow2" "${REPL_VDB_SIZE:-32M}" &&
    qemu-io -f qcow2 -c "write -P 0x11 0 2M" -c "write -P 0x12 40M 3M" "$TOP/prim/vda.qcow2" >/dev/null &&
    qemu-io -f qcow2 -c "write -P 0x21 1M 1M" "$TOP/prim/vdb.qcow2" >/dev/null
ok $? "primary disks made (qcow2 with data)"
# REPL_UEFI=1: the primary boots a pflash loader of ours with an NVRAM
# file, $TOP/prim/VARS.fd (a pattern, 128 KiB: no firmware runs).
OS_EXTRA= FEATURES=
if [ "${REPL_UEFI:-0}" = 1 ]; then
    head -c 2097152 /dev/zero >"$TOP/prim/CODE.fd" &&
        head -c 131072 /dev/zero | tr '\0' 'v' >"$TOP/prim/VARS.fd" &&
        printf 'the primary VARS' | dd of="$TOP/prim/VARS.fd" conv=notrunc 2>/dev/null
    ok $? "primary loader and NVRAM made"
    OS_EXTRA="<loader readonly='yes' type='pflash'>$TOP/prim/CODE.fd</loader><nvram>$TOP/prim/VARS.fd</nvram>"
    FEATURES="<features><acpi/></features>"  # UEFI needs ACPI on x86
fi
cat >"$TOP/prim/domain.xml" <<EOX
<domain type='qemu'>
  <name>$VM</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>$OS_EXTRA</os>$FEATURES
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>$QEMU_SYSTEM</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$TOP/prim/vda.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$TOP/prim/vdb.qcow2'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <serial type='pty'/>
    <video><model type='none'/></video>
    <memballoon model='none'/>
  </devices>
</domain>
EOX
pvirsh define "$TOP/prim/domain.xml" >/dev/null && pvirsh start "$VM" >/dev/null
ok $? "primary $VM defined and started (TCG)"

# write DISK PATTERN OFFSET LENGTH: a guest write, through qemu itself.
write() {
    pvirsh qemu-monitor-command "$VM" --hmp "qemu-io -d $1 \"write -P $2 $3 $4\"" >/dev/null
}
zero() {
    pvirsh qemu-monitor-command "$VM" --hmp "qemu-io -d $1 \"write -z $2 $3\"" >/dev/null
}
# The qdev id of each disk: libvirt names them virtio-disk0, virtio-disk1.
DEV_A=$(pvirsh qemu-monitor-command "$VM" --hmp info block 2>/dev/null |
    sed -n 's/^.*Attached to: *\([^ ]*virtio-disk0[^ ]*\).*$/\1/p' | head -1)
[ -n "$DEV_A" ] || DEV_A=virtio-disk0
DEV_B=$(printf '%s' "$DEV_A" | sed 's/virtio-disk0/virtio-disk1/')

# same FILE_ON_DR PRIMARY_FILE: the DR layer reads exactly as the primary
# disk (the primary paused, so nothing changes while comparing).
same() {
    "$QEMU_IMG" compare -q -U "$1" "$2" >/dev/null 2>&1
}
paused_on() {  # paused_on VIRSH_FN CMD...: run CMD with the VM paused on that host
    _pv=$1
    shift
    "$_pv" suspend "$VM" >/dev/null || return 1
    "$@"
    _rc=$?
    "$_pv" resume "$VM" >/dev/null || return 1
    return $_rc
}
paused() { paused_on pvirsh "$@"; }  # paused CMD...: run CMD with the primary paused
record() {  # record EXPR: EXPR on the replica's `drover show --json` (as v)
    dr show "$VM" --json 2>/dev/null | python3 -c "import json,sys
v=json.load(sys.stdin)
print($1)"
}
# allocated FILE: bytes of data this layer itself holds (not its backing).
allocated() {
    "$QEMU_IMG" map -U --output=json "$1" | python3 -c 'import json,sys
print(sum(e["length"] for e in json.load(sys.stdin) if e["depth"] == 0 and e["data"]))'
}
# system_jobs_of_this_test: how many jobs of this test's DR daemon the
# system's job history holds (root's default path, as drover resolves it
# without --config): every drover here must keep its jobs in $T.
system_jobs_of_this_test() {
    _h=$(XDG_CONFIG_HOME=/nonexistent DROVER_SYSCONFDIR=/nonexistent "$DROVER" config --json 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["job_history"] or "")')
    if [ -z "$_h" ] || [ ! -e "$_h" ]; then
        echo 0
        return
    fi
    grep -cF "${TOP##*/}" "$_h"  # json-c writes / as \/
}
checkpoints() { pvirsh checkpoint-list "$VM" --name 2>/dev/null | sort | tr '\n' ' '; }
# The replica directory's files but drover's lock and statistics.
files() { (cd "$DIR" 2>/dev/null && ls -A | grep -v '^\.drover-' | tr '\n' ' '); }
# set_interval SECONDS: a fixture edit of the record's interval.
set_interval() {
    dvirsh dumpxml --inactive --security-info "$VM" >"$T/dom.xml" &&
        sed -i "s/\(<drover:replication .*interval=\"\)[0-9]*\"/\1$1\"/" "$T/dom.xml" &&
        dvirsh define "$T/dom.xml" >/dev/null
}
# stat EXPR: EXPR on the replica's `drover stats VM --json` entry (as v).
stat() {
    dr stats "$VM" --json 2>/dev/null | python3 -c "import json,sys
v=json.load(sys.stdin)[0]
print($1)"
}

# console_exp_head CONF ROWS: the head of an expect script that drives the
# console on the DR host (config CONF, ROWS x 120) and reports each check
# as a line "R 0|1 description" for the shell to count (run_console_exp).
console_exp_head() {
    cat <<EOX
source [file join \$env(top_srcdir) tests console-lib.tcl]
proc ok {cond desc} {
    puts "R [expr {\$cond ? 1 : 0}] \$desc"
}
proc okw {re desc {secs 20}} {
    set r [wait_screen \$re \$secs]
    if {!\$r} { diag [screen] }
    ok \$r \$desc
}
set T \$env(T)
set conf "$1"
set uri \$env(DURI)
set vm \$env(VM)
spawn_console -size {$2 120}
EOX
}

# define_neighbour NAME: a domain NAME on the DR host whose volume disk
# cannot be resolved (a transient pool NAME without the volume): drover
# cannot tell which files it uses (issue 11, item 11).
define_neighbour() {
    mkdir -p "$T/nbrpool"
    dvirsh pool-create-as "$1" dir --target "$T/nbrpool" >/dev/null || return 1
    cat >"$T/nbr.xml" <<EOX
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>$QEMU_SYSTEM</emulator>
    <disk type='volume' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source pool='$1' volume='sub/data.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
EOX
    dvirsh define "$T/nbr.xml" >/dev/null
}

# For the tests that turn the direction round (repl-failback.sh,
# repl-reverse-full.sh): reverse_setup sets PORT2 (a free port for the
# reversed backups) and REV (the old primary's replica directory).
reverse_setup() {
    PORT2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    REV=$TOP/rev
}
# dwrite DISK PATTERN OFFSET LENGTH: a guest write on the DR host's VM.
dwrite() {
    dvirsh qemu-monitor-command "$VM" --hmp "qemu-io -d $1 \"write -P $2 $3 $4\"" >/dev/null
}
dpaused() { paused_on dvirsh "$@"; }  # dpaused CMD...: the same with the DR host's VM paused
# has FILE PATTERN OFFSET LENGTH: the image reads PATTERN there.
has() {
    ! qemu-io -r -U -f qcow2 -c "read -P $2 $3 $4" "$1" 2>&1 | grep -q "Pattern verification failed"
}
src() {  # src VIRSH_FN TARGET: the disk's file in the persistent definition
    "$1" domblklist "$VM" --inactive | awk -v t="$2" '$1 == t {print $2}'
}
rec_on() {  # rec_on URI EXPR: EXPR on `drover show VM --json` there (as v)
    "$DROVER" --config "$T/drover.conf" -c "$1" show "$VM" --json 2>/dev/null | python3 -c "import json,sys
v=json.load(sys.stdin)
print($2)"
}
