#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# ops-qemu-writer.sh: a change made with virsh while a revert waits for a
# running guest's shutdown survives (issue 11 item 3), on a private libvirtd
# with the qemu driver (tests/qemu-lib.sh).  The guests have no OS, so the
# graceful shutdown waits for the whole timeout; the change lands while
# drover says it is waiting.  The revert is refused with 32774 naming what
# changed, nothing else changes, and a second revert, on the new
# definition, keeps the change.  tests/ops-writer.sh covers the other
# steps (after the journal, the flatten, the switch) on the test driver.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/qemu-lib.sh"
. "${top_srcdir:-.}/tests/ops-common.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 is needed to edit definitions"
qemu_require
mktemp_dir
# Long enough for a few virsh calls to land inside the wait.
sed -i 's/^shutdown_timeout = .*/shutdown_timeout = 20;/' "$T/drover.conf"
qemu_start

# json_list_get VM EXPR: EXPR on VM's object of `drover list --json` (as v).
json_list_get() {
    drover -c "$QURI" list --json 2>/dev/null |
        python3 -c "import json,sys
v=[o for o in json.load(sys.stdin) if o['name']=='$1']
v=v[0] if v else {}
print($2)"
}

files() { (cd "$T/vms/$1" && ls -A | grep -v '^domain.xml$' | grep -v '\.lock$'); }
sums() { (cd "$T/vms/$1" && ls -A | grep -v '^domain.xml$' | grep -v '\.lock$' | xargs sha256sum); }

# start_revert VM: drover revert VM in the background; returns once drover
# says it waits for the guest's shutdown (1 if it never does).
start_revert() {
    drover -c "$QURI" revert "$1" --yes </dev/null >"$T/out" 2>"$T/err" &
    bg=$!
    wait_bg_until "$bg" grep -q "waiting for $1 to shut down" "$T/out"
}

# finish: waits for the background drover; sets rc, out, err.
finish() {
    wait "$bg"
    rc=$?
    out=$(cat "$T/out")
    err=$(cat "$T/err")
}

# edit_xml VM PYTHON: redefines VM's persistent definition through virsh
# after PYTHON (an expression on the string x) edited it: what `virsh edit`
# or replication does.
edit_xml() {
    qvirsh dumpxml --inactive --security-info "$1" >"$T/edit.xml" || return 1
    python3 -c "import sys
x=open(sys.argv[1]).read()
y=$2
assert y != x, 'nothing changed'
open(sys.argv[1], 'w').write(y)" "$T/edit.xml" || return 1
    qvirsh define "$T/edit.xml" >/dev/null
}

# refused_intact VM OVERLAY FILES SUMS PATTERN LABEL: the revert was refused
# with 32774 naming PATTERN, and nothing of VM changed but its power.
refused_intact() {
    is "$rc" 4 "$6: revert refused, exit status 4"
    like "$err" "^Result: 32774 " "$6: 32774"
    like "$err" "$5" "$6: the refusal says what changed"
    like "$err" "nothing was changed" "$6: and that nothing was changed"
    is "$(qemu_domstate "$1")" "shut off" "$6: the guest is off (forced after the timeout, as planned)"
    is "$(qemu_disk_source "$1")" "$2" "$6: the disk is still on the failover overlay"
    is "$(files "$1")" "$3" "$6: no file created or removed"
    is "$(sums "$1")" "$4" "$6: every file byte for byte as before"
    is "$(json_list_get "$1" "v.get('state'), v.get('interrupted_operation'), v.get('health_name')")" \
        "5 None Normal" "$6: record 5 Recovered, no journal, Normal"
}

# --- 1. another application's metadata --------------------------------------
A="dwa$$"
qemu_make_replica "$A" 5 rp-0002
ok $? "$A: replica defined (5 Recovered, disk on a failover overlay)"
A_OVL=$OVERLAY
qvirsh start "$A" >/dev/null
ok $? "$A: running"
before_files=$(files "$A")
before_sums=$(sums "$A")
start_revert "$A"
ok $? "revert $A: waits for the guest to shut down"
qvirsh metadata "$A" --config --uri urn:example:backup:1 --key backup \
    --set '<job id="7" state="scheduled"/>' >/dev/null
ok $? "meanwhile virsh adds metadata of namespace urn:example:backup:1"
finish
refused_intact "$A" "$A_OVL" "$before_files" "$before_sums" \
    "metadata of namespace urn:example:backup:1 added" "$A (metadata)"
like "$(qvirsh metadata "$A" --config --uri urn:example:backup:1)" 'job id="7"' \
    "$A: the other application's metadata survives"
out=$(drover -c "$QURI" revert "$A" --yes 2>&1)
is "$?" 0 "revert $A again, on the new definition: exit 0"
is "$(qemu_disk_source "$A")" "$T/vms/$A/vda.rp-0003.qcow2" "$A: disk on the newest point"
[ ! -e "$A_OVL" ]
ok $? "$A: overlay deleted by the second revert"
like "$(qvirsh metadata "$A" --config --uri urn:example:backup:1)" 'job id="7"' \
    "$A: the metadata is still there after the revert"

# --- 2. replication adds a recovery point -------------------------------------
B="dwb$$"
qemu_make_replica "$B" 5 rp-0002
ok $? "$B: replica defined"
B_OVL=$OVERLAY
qvirsh start "$B" >/dev/null
ok $? "$B: running"
"$QEMU_IMG" create -q -f qcow2 -F qcow2 -b "$T/vms/$B/vda.rp-0003.qcow2" "$T/vms/$B/vda.rp-0004.qcow2"
ok $? "$B: a new layer rp-0004 on rp-0003, as replication makes it"
before_files=$(files "$B")
before_sums=$(sums "$B")
start_revert "$B"
ok $? "revert $B: waits for the guest to shut down"
edit_xml "$B" "x.replace('</drover:recovery-points>', '<drover:point id=\"rp-0004\" time=\"2030-01-01T00:00:00Z\" type=\"standard\"><drover:disk target=\"vda\" file=\"$T/vms/$B/vda.rp-0004.qcow2\"/></drover:point></drover:recovery-points>')"
ok $? "meanwhile the record gets recovery point rp-0004 (virsh define)"
finish
refused_intact "$B" "$B_OVL" "$before_files" "$before_sums" \
    "the record's recovery points changed" "$B (recovery point)"
is "$(json_list_get "$B" "v.get('recovery_points')")" 4 "$B: the record keeps rp-0004"
out=$(drover -c "$QURI" revert "$B" --yes 2>&1)
is "$?" 0 "revert $B again: exit 0"
is "$(qemu_disk_source "$B")" "$T/vms/$B/vda.rp-0004.qcow2" "$B: disk on the new newest point rp-0004"

# --- 3. virsh edit of a disk ----------------------------------------------------
# C fails over through drover, so its record keeps the disk's element
# (<before>) for revert: the setting must survive that revert too.
C="dwc$$"
qemu_make_replica "$C" 3
ok $? "$C: replica defined (3 Replicating)"
out=$(drover -c "$QURI" failover "$C" --point rp-0002 --yes 2>&1)
is "$?" 0 "$C: failed over through drover"
C_OVL=$(qemu_disk_source "$C")
like "$C_OVL" "failover-" "$C: disk on drover's failover overlay"
qvirsh start "$C" >/dev/null
ok $? "$C: running"
before_files=$(files "$C")
before_sums=$(sums "$C")
start_revert "$C"
ok $? "revert $C: waits for the guest to shut down"
edit_xml "$C" "x.replace(\"<driver name='qemu' type='qcow2'/>\", \"<driver name='qemu' type='qcow2' cache='none'/>\", 1)"
ok $? "meanwhile virsh sets cache='none' on disk vda"
finish
refused_intact "$C" "$C_OVL" "$before_files" "$before_sums" "disk vda changed" "$C (disk)"
like "$(qvirsh dumpxml --inactive "$C")" "cache='none'" "$C: the disk setting survives"
out=$(drover -c "$QURI" revert "$C" --yes 2>&1)
is "$?" 0 "revert $C again: exit 0"
like "$(qvirsh dumpxml --inactive "$C")" "cache='none'" "$C: the disk setting is still there after the revert"
is "$(qemu_disk_source "$C")" "$T/vms/$C/vda.rp-0003.qcow2" "$C: disk on the newest point"

# --- 4. a write between drover's define and its read-back ----------------------
# Stopped right after a define (DROVER_PAUSE=revert:defined-STEP), before
# drover reads the definition back: the change is another writer's, not
# drover's, and survives.  Before the switch the revert is undone.
D="dwd$$"
qemu_make_replica "$D" 5 rp-0002
ok $? "$D: replica defined"
D_OVL=$OVERLAY
before_files=$(files "$D")
before_sums=$(sums "$D")
start_paused revert:defined-prepared "$QURI" revert "$D"
ok $? "revert $D stops right after its journal's define"
qvirsh metadata "$D" --config --uri urn:example:backup:1 --key backup \
    --set '<job id="8" state="scheduled"/>' >/dev/null
ok $? "meanwhile virsh adds metadata of namespace urn:example:backup:1"
resume
is "$rc" 4 "$D: revert refused, exit status 4"
like "$err" "^Result: 32774 " "$D: 32774"
like "$err" "metadata of namespace urn:example:backup:1 added" "$D: the refusal says what changed"
like "$(qvirsh metadata "$D" --config --uri urn:example:backup:1)" 'job id="8"' \
    "$D: the other application's metadata survives"
is "$(qemu_disk_source "$D")" "$D_OVL" "$D: the disk is still on the failover overlay"
is "$(files "$D")" "$before_files" "$D: no file created or removed"
is "$(sums "$D")" "$before_sums" "$D: every file byte for byte as before"
is "$(json_list_get "$D" "v.get('state'), v.get('interrupted_operation'), v.get('health_name')")" \
    "5 None Normal" "$D: record 5 Recovered, no journal, Normal"

# After the switch's define: the switch stands, the journal is closed on
# the new definition, which keeps the change.
start_paused revert:defined-switched "$QURI" revert "$D"
ok $? "revert $D stops right after its switch's define"
qvirsh metadata "$D" --config --uri urn:example:other:1 --key other \
    --set '<note text="kept"/>' >/dev/null
ok $? "meanwhile virsh adds metadata of namespace urn:example:other:1"
resume
is "$rc" 0 "$D: revert done, exit 0"
like "$(qvirsh metadata "$D" --config --uri urn:example:other:1)" 'kept' \
    "$D: the metadata added right after the switch survives"
is "$(qemu_disk_source "$D")" "$T/vms/$D/vda.rp-0003.qcow2" "$D: disk on the newest point"
[ ! -e "$D_OVL" ]
ok $? "$D: overlay deleted"
is "$(json_list_get "$D" "v.get('state'), v.get('interrupted_operation'), v.get('health_name')")" \
    "3 None Normal" "$D: record 3 Replicating, no journal, Normal"

# Undefined between the journal's define and its read-back: the define
# stands, the read-back fails; the next define finds the domain gone and
# does not define it again (before, the failed read-back failed the
# operation and its undo defined the domain again).
E="dwe$$"
qemu_make_replica "$E" 5 rp-0002
ok $? "$E: replica defined"
before_files=$(files "$E")
start_paused revert:defined-prepared "$QURI" revert "$E"
ok $? "revert $E stops right after its journal's define"
qvirsh undefine "$E" >/dev/null
ok $? "meanwhile virsh undefines $E"
resume
is "$rc" 4 "$E: revert refused, exit status 4"
like "$err" "$E was undefined while drover was working on it" "$E: the refusal says it was undefined"
qvirsh dominfo "$E" >/dev/null 2>&1
ok $((! $?)) "$E is not defined again"
is "$(files "$E")" "$before_files" "$E: every file kept"

qemu_stop
done_testing
