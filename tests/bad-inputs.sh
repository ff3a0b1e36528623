#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# bad-inputs.sh: hostile or broken inputs at the level of whole operations.
# Each gets the right decoded code, a message naming the file or field,
# and changes nothing: every file in the fleet directory (fleet.xml and
# the lock files included) is byte-identical afterwards.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/ops-common.sh"
mktemp_dir

# fresh NAME: a new demo fleet in $T/NAME; sets F and URI.
fresh() {
    F=$T/$1
    make_fleet "$F" || { echo "Bail out! cannot make a demo fleet"; exit 99; }
}

# sums DIR: tree_sums without the (empty) lock files a first operation
# leaves behind; with JOURNALED=1 also without fleet.xml, whose bytes a
# journal written and undone reformats: then `list --json` must match.
sums() {
    tree_sums "$1" | grep -v -e '/\.drover-[^/]*\.lock$' -e 'fleet\.xml\.lock$' |
        if [ "${JOURNALED:-0}" = 1 ]; then grep -v ' \./fleet\.xml$'; else cat; fi
    if [ "${JOURNALED:-0}" = 1 ]; then
        drover -c "$URI" list --json </dev/null 2>/dev/null | grep -v '_time"'
    fi
}

# expect_refusal DESC RC CODE PATTERN ARGS...: runs drover ARGS and checks
# exit status, code, message and that nothing in $F changed.
expect_refusal() {
    _desc=$1 _rc=$2 _code=$3 _pat=$4
    shift 4
    sums "$F" >"$T/before"
    run "$@"
    sums "$F" >"$T/after"
    is "$rc" "$_rc" "$_desc: exit status $_rc"
    like "$err" "Result: $_code " "$_desc: result $_code"
    like "$err" "$_pat" "$_desc: the message names it"
    cmp -s "$T/before" "$T/after"
    ok $? "$_desc: nothing changed"
}

overlay_of() { ls "$F/vms/$1/"vda.failover-*.qcow2; }

# A symlinked failover disk: drover never deletes through a link.
fresh sym
ov=$(overlay_of web02)
mv "$ov" "$ov.real" && ln -s "$(basename "$ov").real" "$ov"
expect_refusal "symlinked overlay" 6 32769 "is a symbolic link" -c "$URI" revert web02 --yes
[ -L "$ov" ] && [ -f "$ov.real" ]
ok $? "symlinked overlay: the link and its target are still there"

# A hard-linked failover disk belongs to someone else too.
fresh hard
ov=$(overlay_of web02)
ln "$ov" "$F/vms/web02/someone-elses-copy.qcow2"
expect_refusal "hard-linked overlay" 6 32769 "has 2 hard links" -c "$URI" revert web02 --yes

# A failover disk outside the replica directory (record and domain agree).
fresh outside
ov=$(overlay_of web02)
mkdir -p "$T/elsewhere"
mv "$ov" "$T/elsewhere/"
sed -i "s#$ov#$T/elsewhere/$(basename "$ov")#g" "$F/fleet.xml"
tree_sums "$T/elsewhere" >"$T/else.before"
expect_refusal "overlay outside the replica directory" 6 32769 "outside the replica directory" \
    -c "$URI" revert web02 --yes
tree_sums "$T/elsewhere" >"$T/else.after"
cmp -s "$T/else.before" "$T/else.after"
ok $? "overlay outside the replica directory: the outside file is untouched"

# A failover disk another domain's disk is built on.
fresh shared
ov=$(overlay_of web02)
"$QEMU_IMG" create -q -f qcow2 -F qcow2 -b "$ov" -u "$F/vms/web01/on-web02.qcow2" 8G
sed -i "s#<source file='$F/vms/web01/vda.rp-0006.qcow2'/>#<source file='$F/vms/web01/on-web02.qcow2'/>#" "$F/fleet.xml"
grep -q "on-web02.qcow2" "$F/fleet.xml"
ok $? "backing layer of another domain: web01's disk now sits on web02's overlay"
expect_refusal "overlay that is a backing layer of another domain's disk" 4 32774 \
    "is a backing layer of $F/vms/web01/on-web02.qcow2" -c "$URI" revert web02 --yes

# The same file as a domain's disk (top of another chain).
fresh direct
ov=$(overlay_of web02)
sed -i "s#<source file='$F/vms/web01/vda.rp-0006.qcow2'/>#<source file='$ov'/>#" "$F/fleet.xml"
expect_refusal "overlay that is another domain's disk" 4 32774 "top of the kept chain" \
    -c "$URI" revert web02 --yes

# Another domain's disk that names no file (a storage volume of a pool
# that is not there; libvirt cannot open it either) protects nothing and
# blocks nothing: it used to block every deletion on the host, after the
# switch (issue 11, item 11).
fresh volume
python3 - "$F/fleet.xml" <<'EOP'
import sys
p = sys.argv[1]; s = open(p).read()
i = s.index("<name>web01</name>")
j = s.index("</devices>", i)
disk = ("<disk type='volume' device='disk'><driver name='qemu' type='qcow2'/>"
        "<source pool='nopool' volume='data1'/><target dev='vdz' bus='virtio'/></disk>\n")
open(p, "w").write(s[:j] + disk + s[j:])
EOP
run -c "$URI" revert web02 --yes
is "$rc" 0 "another domain's volume of a missing pool does not block a revert"

# A volume libvirt does not list (the pool was not refreshed) is still the
# file TARGET/NAME of its directory pool: here web02's own failover disk,
# used by web01, so the revert is refused at plan time.
fresh pool
ov=$(ls "$F"/vms/web02/vda.failover-*.qcow2)
python3 - "$F/fleet.xml" "$F/vms/web02" "${ov##*/}" <<'EOP'
import sys
p, d, v = sys.argv[1:4]
s = open(p).read()
i = s.index("</node>")
s = s[:i] + ("<pool type='dir'><name>drpool</name><target><path>%s</path></target></pool>\n" % d) + s[i:]
i = s.index("<name>web01</name>")
j = s.index("</devices>", i)
disk = ("<disk type='volume' device='disk'><driver name='qemu' type='qcow2'/>"
        "<source pool='drpool' volume='%s'/><target dev='vdz' bus='virtio'/></disk>\n" % v)
open(p, "w").write(s[:j] + disk + s[j:])
EOP
expect_refusal "a volume of a directory pool that is the failover disk" 4 32774 "top of the kept chain" \
    -c "$URI" revert web02 --dry-run
expect_refusal "the same, without --dry-run" 4 32774 "top of the kept chain" \
    -c "$URI" revert web02 --yes

# A backing loop in the recovery points.
fresh loop
"$QEMU_IMG" rebase -q -u -f qcow2 -F qcow2 -b "$F/vms/web01/vda.rp-0006.qcow2" "$F/vms/web01/vda.base.qcow2"
expect_refusal "backing loop" 7 32776 "loop" -c "$URI" failover web01 --yes

# A truncated recovery point under the one chosen.
fresh trunc
truncate -s 10 "$F/vms/web01/vda.rp-0003.qcow2"
expect_refusal "truncated header" 7 32776 "vda.rp-0003.qcow2" -c "$URI" failover web01 --point rp-0005 --yes

# Wrong magic in the newest recovery point.
fresh magic
printf 'XXXX' | dd of="$F/vms/web01/vda.rp-0006.qcow2" bs=1 count=4 conv=notrunc 2>/dev/null
expect_refusal "wrong magic" 7 32776 "vda.rp-0006.qcow2" -c "$URI" failover web01 --yes

# qcow2 version 1 as a recovery point.
fresh v1
printf '\000\000\000\001' | dd of="$F/vms/web01/vda.rp-0006.qcow2" bs=1 seek=4 count=4 conv=notrunc 2>/dev/null
expect_refusal "qcow2 version 1" 7 32776 "version 1" -c "$URI" failover web01 --yes

# Metadata with duplicate point ids.
fresh dup
python3 - "$F/fleet.xml" <<'EOP'
import sys
p = sys.argv[1]; s = open(p).read()
i = s.index("<name>web01</name>")
j = s.index('id="rp-0002"', i)
s = s[:j] + 'id="rp-0001"' + s[j + len('id="rp-0002"'):]
open(p, "w").write(s)
EOP
expect_refusal "metadata with duplicate point ids" 7 32776 "rp-0001" -c "$URI" failover web01 --yes
is "$(vm_field web01 health_name)" "Critical" "duplicate ids: list shows web01 Critical"

# Metadata pointing at a relative path.
fresh rel
sed -i "s#file=\"$F/vms/web01/vda.rp-0006.qcow2\"#file=\"vda.rp-0006.qcow2\"#" "$F/fleet.xml"
expect_refusal "metadata with a relative path" 7 32776 "vda.rp-0006.qcow2" -c "$URI" failover web01 --yes

# Permission denied on the replica directory.
fresh perm
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null &&
   setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$DROVER"; then
    chmod 755 "$T" "$F" "$F/vms"
    chmod -R a+rX "$F"
    as_nobody() {
        setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/nonexistent \
            XDG_STATE_HOME="$T/nobody-state" "$DROVER" --config "$T/drover.conf" "$@"
    }
    sums "$F" >"$T/before"
    as_nobody -c "$URI" failover web01 --yes </dev/null >"$T/out" 2>"$T/err"
    rc=$?; err=$(cat "$T/err")
    sums "$F" >"$T/after"
    is "$rc" 6 "permission denied on the directory: exit 6"
    like "$err" "Result: 32769 " "permission denied on the directory: 32769"
    like "$err" "$F/vms/web01" "permission denied on the directory: names the directory"
    cmp -s "$T/before" "$T/after"; ok $? "permission denied on the directory: nothing changed"
    chmod 700 "$T"
elif [ "$(id -u)" -ne 0 ]; then
    chmod 555 "$F/vms/web01"
    expect_refusal "permission denied on the directory" 6 32769 "$F/vms/web01" -c "$URI" failover web01 --yes
    chmod 755 "$F/vms/web01"
else
    tap_n=$((tap_n + 1))
    echo "ok $tap_n # SKIP root bypasses directory permissions and user nobody cannot run $DROVER"
fi

# A full disk while creating the overlay (a small tmpfs).
fresh full
small=$T/small
mkdir -p "$small"
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=1m tmpfs "$small" 2>/dev/null; then
    cp -a "$F/vms/web01/." "$small/"
    sed -i "s#$F/vms/web01/#$small/#g" "$F/fleet.xml"
    # Leave less room than an empty overlay needs.
    dd if=/dev/zero of="$small/filler" bs=4k 2>/dev/null
    rm -f "$small/filler"; dd if=/dev/zero of="$small/filler" bs=4k count=$(( $(df -k --output=avail "$small" | tail -1) / 4 - 8 )) 2>/dev/null
    sums "$small" >"$T/small.before"
    # The journal is written before qemu-img runs out of space, then undone.
    JOURNALED=1 expect_refusal "full disk while creating an overlay" 1 32778 "$small is full" \
        -c "$URI" failover web01 --yes
    sums "$small" >"$T/small.after"
    cmp -s "$T/small.before" "$T/small.after"
    ok $? "full disk: nothing left behind in the full directory"
    umount "$small"
else
    tap_n=$((tap_n + 1)); echo "ok $tap_n # SKIP full disk needs root to mount a tmpfs"
fi

# qemu-img is looked up when drover runs: without it in the PATH (and no
# QEMU_IMG), a failover is refused, nothing stays changed, and the message
# says what to install.
fresh noqemuimg
mkdir -p "$T/emptybin"
JOURNALED=1 sums "$F" >"$T/before"
(unset QEMU_IMG; PATH="$T/emptybin" "$DROVER" --config "$T/drover.conf" -c "$URI" failover web01 --yes \
    </dev/null >"$T/out" 2>"$T/err")
rc=$?
err=$(cat "$T/err")
JOURNALED=1 sums "$F" >"$T/after"
is "$rc" 7 "qemu-img not in the PATH: exit status 7"
like "$err" "Result: 32779 " "qemu-img not in the PATH: result 32779"
like "$err" "install the Debian package qemu-utils" "qemu-img not in the PATH: the message says what to install"
cmp -s "$T/before" "$T/after"
ok $? "qemu-img not in the PATH: nothing changed"

done_testing
