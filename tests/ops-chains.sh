#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# ops-chains.sh: what is on disk must be what the replica record and the
# domain say, before any operation changes anything (issue 11, items 2, 7,
# 8, 9, 10, 11, 12).  Each refusal comes at plan time (--dry-run refuses
# too), with its decoded code, and leaves every file of the fleet
# byte-identical; check names the problem.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/ops-common.sh"

command -v "$QEMU_IMG" >/dev/null 2>&1 || skip_all "qemu-img not found"
command -v "$PYTHON" >/dev/null 2>&1 || skip_all "python3 not found"

mktemp_dir

# fresh NAME: a new demo fleet in $T/NAME; sets F and URI.
fresh() {
    F=$T/$1
    make_fleet "$F" || { ok 1 "demo fleet $1 built"; done_testing; exit 1; }
}

# dom_sub VM OLD NEW: replaces the first OLD by NEW inside VM's <domain>
# in the fleet file (every drover process reads the file afresh).
dom_sub() {
    "$PYTHON" - "$F/fleet.xml" "$1" "$2" "$3" <<'EOF'
import sys
path, vm, old, new = sys.argv[1:5]
s = open(path).read()
i = s.index("<name>%s</name>" % vm)
a = s.rfind("<domain", 0, i)
b = s.index("</domain>", i)
dom = s[a:b]
if old not in dom:
    sys.exit("%s not in the definition of %s" % (old, vm))
s = s[:a] + dom.replace(old, new, 1) + s[b:]
open(path, "w").write(s)
EOF
}

# set_incompat FILE VALUE: writes the qcow2 incompatible_features field.
set_incompat() {
    "$PYTHON" - "$1" "$2" <<'EOF'
import struct, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(72)
    f.write(struct.pack(">Q", int(sys.argv[2], 0)))
EOF
}

# refused DESC CODE PATTERN ARGS...: drover -c $URI ARGS refuses with CODE,
# stderr matching PATTERN, and every file of the fleet is unchanged; then
# the same with --dry-run.
refused() {
    _d=$1 _code=$2 _pat=$3
    shift 3
    tree_sums "$F" >"$T/before"
    run -c "$URI" "$@" --dry-run
    like "$err" "^Result: $_code " "$_d --dry-run: refused with $_code"
    run -c "$URI" "$@" --yes
    like "$err" "^Result: $_code " "$_d: refused with $_code"
    like "$err" "$_pat" "$_d: the message says why"
    is "$(printf '%s' "$out" | grep -c '^Job ')" 0 "$_d: no job started"
    tree_sums "$F" >"$T/after"
    cmp -s "$T/before" "$T/after"
    ok $? "$_d: every file of the fleet byte-identical, fleet.xml too"
}

# health VM: "HEALTH<TAB>reason; reason" from check --json.
health() {
    drover -c "$URI" check "$1" --json </dev/null >"$T/check.json" 2>/dev/null
    jq_ "$T/check.json" '"%s\t%s" % (d[0]["health_name"], "; ".join(d[0]["reasons"]))'
}

# --- item 2: the failover disk sits on another point than the record says --
fresh f2
ov=$(ls "$F"/vms/web02/vda.failover-*.qcow2)
"$QEMU_IMG" rebase -u -F qcow2 -b "$F/vms/web02/vda.rp-0004.qcow2" "$ov"
refused "commit --flatten, failover disk on rp-0004 not rp-0005" 32775 \
    "is backed by .*vda.rp-0004.qcow2, not by .*vda.rp-0005.qcow2" commit web02 --flatten
refused "commit, failover disk on rp-0004 not rp-0005" 32775 "not by .*rp-0005" commit web02
refused "revert, failover disk on rp-0004 not rp-0005" 32775 "not by .*rp-0005" revert web02
like "$(health web02)" "^Critical.*failover disk .* is backed by .*rp-0004.qcow2, not by" \
    "check: Critical, the failover disk is on the wrong point"
# Again under the lock: the chain changes after the operator saw the plan
# (a plan whose files keep their sizes and inodes keeps its digest), and
# the re-plan of the execution refuses.
fresh f2b
ov=$(ls "$F"/vms/web02/vda.failover-*.qcow2)
tree_sums "$F" | grep -v -e '\.lock$' -e 'fleet\.xml$' -e "${ov##*/}" >"$T/before"
"$PYTHON" - "$DROVER" "$T/drover.conf" "$URI" "$QEMU_IMG" "$F/vms/web02/vda.rp-0004.qcow2" "$ov" \
    >"$T/pty.out" 2>&1 <<'EOP'
import os, pty, select, subprocess, sys, time
drover, conf, uri, qemu_img, rp4, ov = sys.argv[1:7]
pid, fd = pty.fork()
if pid == 0:
    os.execv(drover, [drover, "--config", conf, "-c", uri, "commit", "web02", "--flatten"])
buf = b""
deadline = time.time() + 120
while b"to confirm" not in buf and time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 1)
    if r:
        try:
            buf += os.read(fd, 4096)
        except OSError:
            break
subprocess.run([qemu_img, "rebase", "-u", "-F", "qcow2", "-b", rp4, ov], check=True)
os.write(fd, b"web02\n")
while time.time() < deadline:
    try:
        d = os.read(fd, 4096)
    except OSError:
        break
    if not d:
        break
    buf += d
_, st = os.waitpid(pid, 0)
sys.stdout.write(buf.decode("utf-8", "replace"))
print("EXIT %d" % os.waitstatus_to_exitcode(st))
EOP
out=$(cat "$T/pty.out")
like "$out" "Type the VM name" "commit --flatten on a terminal: the plan is shown for confirmation"
like "$out" "Result: 32775 " "the chain changed after the confirmation: the re-plan under the lock refuses, 32775"
like "$out" "is backed by .*rp-0004.qcow2, not by .*rp-0005.qcow2" "the refusal says why"
tree_sums "$F" | grep -v -e '\.lock$' -e 'fleet\.xml$' -e "${ov##*/}" >"$T/after"
cmp -s "$T/before" "$T/after"
ok $? "every recovery point and base byte-identical, no file created or deleted"
is "$(vm_field web02 state)" 5 "web02 is still 5 Recovered"
# A point missing from the chain: rp-0006 rebased straight onto rp-0004.
"$QEMU_IMG" rebase -u -F qcow2 -b "$F/vms/web01/vda.rp-0004.qcow2" "$F/vms/web01/vda.rp-0006.qcow2"
refused "failover, rp-0006 does not lie on rp-0005" 32775 \
    "recovery point rp-0006 lies on rp-0004, but the record has rp-0005 between them" failover web01
like "$(health web01)" "^Critical.*rp-0006 lies on rp-0004, but the record has rp-0005" \
    "check: Critical, names the points"

# --- item 12: times that contradict the chain; an overlay nobody names -----
fresh f12
like "$(health web01)" "^Normal" "web01 starts Normal"
t5=$(grep -o 'id="rp-0005" time="[^"]*"' "$F/fleet.xml" | head -1 | sed 's/.*time="//; s/"//')
t6=$(grep -o 'id="rp-0006" time="[^"]*"' "$F/fleet.xml" | head -1 | sed 's/.*time="//; s/"//')
dom_sub web01 "id=\"rp-0005\" time=\"$t5\"" "id=\"rp-0005\" time=\"XX\""
dom_sub web01 "id=\"rp-0006\" time=\"$t6\"" "id=\"rp-0006\" time=\"$t5\""
dom_sub web01 "id=\"rp-0005\" time=\"XX\"" "id=\"rp-0005\" time=\"$t6\""
h=$(health web01)
like "$h" "^Warning" "check: times contradicting the chain give Warning"
like "$h" "times contradict the chain of disk vda: recovery point rp-0006 .* lies on rp-0005 .*, which the record says is newer" \
    "check: names the two points"
refused "failover with contradicting times" 32775 "times contradict" failover web01
fresh f12b
"$QEMU_IMG" create -q -f qcow2 -F qcow2 -b "$F/vms/web01/vda.rp-0006.qcow2" \
    "$F/vms/web01/vda.failover-20200101T000000Z.qcow2"
h=$(health web01)
like "$h" "^Warning" "check: an overlay no record names gives Warning"
like "$h" "vms/web01/vda.failover-20200101T000000Z.qcow2 lies in the replica directory but no record or disk names it" \
    "check: names the file"
like "$(health app01)" "^Normal" "check: a committed VM's own disk (a failover overlay) is not an orphan"
like "$(health web02)" "^Normal" "check: the recorded failover disk is not an orphan"
[ -f "$F/vms/web01/vda.failover-20200101T000000Z.qcow2" ]
ok $? "check leaves the orphan where it is"

# --- item 8: a disk given to the guest as raw, or with no type ------------
fresh f8
dom_sub web01 "<driver name='qemu' type='qcow2'/>" "<driver name='qemu' type='raw'/>"
refused "failover, <driver type='raw'> on a qcow2 chain" 32776 \
    "disk vda has <driver type='raw'> but .*rp-0006.qcow2 is a qcow2 image" failover web01
like "$(health web01)" "^Critical.*disk vda has <driver type='raw'>" "check: Critical, names the driver"
dom_sub web01 "<driver name='qemu' type='raw'/>" "<driver name='qemu'/>"
refused "test-failover, no driver type" 32776 "disk vda has no driver type" test-failover web01
like "$(health web01)" "^Critical.*disk vda has no driver type" "check: Critical without a type"

# --- item 9: incompatible feature bits ------------------------------------
fresh f9
set_incompat "$F/vms/web01/vda.rp-0006.qcow2" 0x10000000000
refused "failover onto a point with an unknown incompatible bit" 32776 \
    "vda.rp-0006.qcow2 uses incompatible qcow2 feature bits 0x10000000000" failover web01
like "$(health web01)" "^Critical.*feature bits 0x10000000000" "check: Critical, names the bit"
set_incompat "$F/vms/web01/vda.rp-0006.qcow2" 0x2
refused "failover onto a point marked corrupt" 32776 "rp-0006.qcow2 is marked corrupt" failover web01
like "$(health web01)" "^Critical.*marked corrupt" "check: Critical, corrupt"
set_incompat "$F/vms/web01/vda.rp-0006.qcow2" 0x1
run -c "$URI" failover web01 --dry-run
is "$rc" 0 "a dirty point (lazy refcounts not yet rebuilt) can be failed over to"

# --- item 7: a layer with an external data file ----------------------------
fresh f7
d=$F/vms/hr01
"$QEMU_IMG" info --output=json "$d/vda.rp-0004.qcow2" >"$T/info.json"
size=$(jq_ "$T/info.json" 'd["virtual-size"]')
rm -f "$d/vda.rp-0004.qcow2"
(cd "$d" && "$QEMU_IMG" create -q -f qcow2 -o data_file=vda.rp-0004.data -F qcow2 \
    -b "$d/vda.rp-0003.qcow2" vda.rp-0004.qcow2 "$size")
refused "commit of a chain whose rp-0004 keeps a data file" 32770 \
    "vda.rp-0004.qcow2 keeps its data in an external data file .*vms/hr01/vda.rp-0004.data" commit hr01
like "$(health hr01)" "^Critical.*external data file .*vda.rp-0004.data" "check: Critical, names the data file"
[ -f "$d/vda.rp-0004.data" ]
ok $? "the data file is still there"

# --- item 10: the record names a disk that is not a file disk --------------
fresh f10
dom_sub web01 "<disk type='file' device='disk'>" "<disk type='network' device='disk'>"
dom_sub web01 "<source file='$F/vms/web01/vda.rp-0006.qcow2'/>" \
    "<source protocol='nbd' name='vda'><host name='localhost' port='10809'/></source>"
refused "failover of a network disk" 32770 \
    "disk vda of web01 is a network disk \(<disk type='network' device='disk'>\), not a file disk" failover web01
h=$(health web01)
like "$h" "^Critical.*disk vda is a network disk" "check: says the disk is a network disk"
is "$(printf '%s' "$h" | grep -c 'has no disk')" 0 "check: does not say the disk does not exist"
fresh f10b
dom_sub web01 "<disk type='file' device='disk'>" "<disk type='file' device='cdrom'>"
refused "failover of a CD-ROM" 32770 "disk vda of web01 is a CD-ROM drive" failover web01

# --- item 11: storage volumes that cannot be resolved ------------------------
fresh f11
vol="<disk type='volume' device='disk'><driver name='qemu' type='raw'/><source pool='nosuchpool' volume='data.img'/><target dev='vdz' bus='virtio'/></disk>"
dom_sub web02 "</devices>" "$vol</devices>"
dom_sub crm01 "</devices>" "$(printf '%s' "$vol" | sed 's/vdz/vdy/')</devices>"
run -c "$URI" revert web02 --yes
is "$rc" 0 "revert of a replica with an unresolvable volume disk completes"
like "$(health web02)" "^Normal" "web02 is Normal afterwards, nothing journaled"
is "$(vm_field web02 state)" 3 "web02 is 3 Replicating"
is "$(ls "$F"/vms/web02/vda.failover-*.qcow2 2>/dev/null | wc -l)" 0 "its failover disk is deleted"
# Repair finishes with such a disk too (erp01: a revert interrupted after its switch).
dom_sub erp01 "</devices>" "$(printf '%s' "$vol" | sed 's/vdz/vdx/')</devices>"
run -c "$URI" repair erp01 --yes
is "$rc" 0 "repair of erp01 with an unresolvable volume disk completes"
like "$(health erp01)" "^Normal" "erp01 is Normal after the repair"
# A deletion the safety rules forbid is refused at plan time, --dry-run too.
ov=$(ls "$F"/vms/hr01/vda.failover-*.qcow2)
dom_sub crm01 "</devices>" "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='$ov'/><target dev='vdw' bus='virtio'/></disk></devices>"
refused "revert of hr01 whose failover disk crm01 uses" 32774 \
    "failover disk would not be deleted; nothing was changed" revert hr01

done_testing
