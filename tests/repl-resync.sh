#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# repl-resync.sh: drover resync.  A checkpoint deleted on the primary and
# a primary crash (virsh destroy: its bitmaps are left inconsistent) each
# make the cycle refuse with 32775 naming resync; resync copies in full
# into a new base (state 10 while it runs, 3 after), the replica then reads
# as the primary, the old chain's files are gone, and a normal cycle works
# again.  A resync killed before and after its switch is undone or
# finished by drover repair; the refusals are decoded.  Also: health from
# the cycles (a failure said, three Critical, late Warning), and a failover
# to the oldest point and its revert, with cycles working afterwards.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/qemu-lib.sh"
. "${top_srcdir:-.}/tests/repl-lib.sh"

npoints() { record "len(v['recovery_points'])"; }
newest() { record "v['newest_point']"; }
jobtype() { pvirsh domjobinfo "$VM" 2>/dev/null | awk '/Job type/ {print $3}'; }
equal_now() {  # equal_now POINT: both disks of POINT read as the primary now
    paused same "$DIR/vda.$1.qcow2" "$TOP/prim/vda.qcow2" &&
        paused same "$DIR/vdb.$1.qcow2" "$TOP/prim/vdb.qcow2"
}
cycle_ok() {   # cycle_ok LABEL: a write on both disks, a cycle, the point equal
    write "$DEV_A" "$1" "$(( $1 % 16 ))M" 256k && write "$DEV_B" "$1" "$(( $1 % 8 ))M" 128k
    out=$(dr replicate "$VM" 2>&1)
    rc=$?
    is "$rc" 0 "$2: a cycle works (exit 0)"
    [ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
    equal_now "$(newest)"
    ok $? "$2: the new point $(newest) reads as the primary"
}

out=$(dr enable-replication "$VM" --from "$PURI" --dir "$DIR" --nbd "127.0.0.1:$PORT" --yes 2>&1)
rc=$?
is "$rc" 0 "enable-replication: exit 0"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
cycle_ok 65 "before"

# --- refusals before anything -------------------------------------------------
out=$(dr resync nosuchvm --yes 2>&1)
is "$?" 2 "resync of an unknown VM: exit 2"
out=$(dr resync "$VM" </dev/null 2>&1)
is "$?" 2 "resync without --yes on a pipe: exit 2"
like "$out" "32773" "refused with 32773 (needs --yes)"
is "$(npoints) $(newest)" "2 rp-0002" "nothing changed"

# --- 1. a checkpoint deleted on the primary -----------------------------------
pvirsh checkpoint-delete "$VM" drover.2 >/dev/null
ok $? "checkpoint drover.2 deleted on the primary (virsh checkpoint-delete)"
write "$DEV_A" 0x71 8M 512k
out=$(dr replicate "$VM" 2>&1)
is "$?" 3 "the cycle refuses: exit 3"
like "$out" "32775" "refused with 32775"
like "$out" "drover resync $VM" "the refusal names drover resync"
# Health from the cycles: one failure is said, three in a row are Critical,
# the reason decoded.
like "$(dr show "$VM" 2>&1)" "last cycle failed \(1 in a row, checkpoint lost\): 32775" \
    "show: the failed cycle, decoded (checkpoint lost)"
is "$(record "v['health_name']")" "Normal" "one failed cycle: health still Normal"
dr replicate "$VM" >/dev/null 2>&1
dr replicate "$VM" >/dev/null 2>&1
out=$(dr check "$VM" 2>&1)
is "$?" 7 "three failed cycles in a row: check exits 7 (Critical)"
like "$out" "last 3 replication cycles failed \(checkpoint lost\)" "check says why, decoded"
is "$(record "v['health_name'], v['replication']['failed_in_a_row'], v['replication']['last_failure_kind']")" \
    "Critical 3 checkpoint lost" "show --json: Critical, 3 in a row, checkpoint lost"
like "$(dr list 2>&1 | grep "$VM")" "Critical" "list: the replica is Critical"
sums=$(rp_sums "$DIR")
out=$(dr resync "$VM" --dry-run 2>&1)
is "$?" 0 "resync --dry-run: exit 0"
like "$out" "Plan: full resync of $VM" "the plan says full resync"
like "$out" "create: +$DIR/vda\.base\.rp-0003\.qcow2 .*full copy" "it names the new base of vda"
like "$out" "delete: +$DIR/vda\.base\.qcow2 \(old chain" "it names the old base for deletion"
like "$out" "delete: +$DIR/vdb\.rp-0002\.qcow2 \(old chain" "and the old points"
like "$out" "3 Replicating -> 10 Resynchronizing" "state 10 while it copies"
is "$(rp_sums "$DIR")" "$sums" "the dry run changed nothing"

DROVER_FAULT=resync:copied dr resync "$VM" --yes >/dev/null 2>&1
is "$?" 86 "resync killed after its copy, before the switch"
is "$(record "v['state'], v['interrupted_operation']")" "10 resync" \
    "record: state 10 Resynchronizing, the resync's journal"
like "$(dr check "$VM" 2>&1)" "interrupted resync" "check reports the interrupted resync"
out=$(dr repair "$VM" --yes 2>&1)
is "$?" 0 "repair: exit 0"
is "$(record "v['state'], v['interrupted_operation'], v['newest_point']")" "3 None rp-0002" \
    "rolled back: state 3, the old points"
is "$(rp_sums "$DIR")" "$sums" "the old chain is as before, the new base is gone"

out=$(dr resync "$VM" --yes 2>&1)
rc=$?
is "$rc" 0 "resync: exit 0"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
like "$out" "Resynchronization" "the job is a Resynchronization (107)"
like "$out" "deleting $DIR/vda\.base\.qcow2 \(old chain\)" "the old base deleted after the switch"
is "$(record "v['state'], [p['id'] for p in v['recovery_points']], v['interrupted_operation']")" \
    "3 ['rp-0003'] None" "record: state 3, one point rp-0003, no journal"
equal_now rp-0003
ok $? "after the resync the replica reads as the primary"
is "$(record "v['health_name'], v['replication']['failed_in_a_row']")" "Normal 0" \
    "after the resync: health Normal, no failure in a row"
is "$(files)" "vda.base.rp-0003.qcow2 vda.rp-0003.qcow2 vdb.base.rp-0003.qcow2 vdb.rp-0003.qcow2 " \
    "only the new chain is left"
is "$(checkpoints)" "drover.3 " "the primary keeps only drover.3"
is "$(jobtype)" "None" "no backup job left on the primary"
cycle_ok 81 "after the resync"

# --- 2. the primary crashed ---------------------------------------------------
# virsh destroy ends qemu with SIGTERM first, and qemu then stores its
# bitmaps cleanly: the cycle after it is a normal one.
pvirsh destroy "$VM" >/dev/null && pvirsh start "$VM" >/dev/null
ok $? "the primary destroyed (SIGTERM: qemu stores its bitmaps) and started again"
cycle_ok 89 "after virsh destroy"
# A crash: qemu killed (SIGKILL, by the pid file of our private daemon),
# its bitmaps never stored or left in use (inconsistent).
qpid=$(qemu_pid_of "$TOP/p/lv/run/qemu/$VM.pid")
[ -n "$qpid" ] && kill -9 "$qpid"
ok $? "the primary's qemu killed (SIGKILL): a crash"
n=0
until [ "$(pvirsh domstate "$VM" 2>/dev/null | head -1)" = "shut off" ] || [ $n -ge 600 ]; do
    sleep 0.1
    n=$((n + 1))
done
pvirsh start "$VM" >/dev/null
ok $? "the primary started again"
write "$DEV_A" 0x72 12M 512k
out=$(dr replicate "$VM" 2>&1)
rc=$?
is "$rc" 3 "the cycle after the crash refuses: exit 3"
[ "$rc" -eq 3 ] || printf '%s\n' "$out" | sed 's/^/#   /'
like "$out" "32775" "refused with 32775"
like "$out" "drover resync $VM" "the refusal names drover resync"
n=$(npoints)
DROVER_FAULT=resync:switched dr resync "$VM" --yes >/dev/null 2>&1
is "$?" 86 "resync killed right after its switch"
is "$(record "v['state'], v['interrupted_operation'], len(v['recovery_points'])")" "3 resync 1" \
    "record: the new point in, state 3, the journal stays for the old chain"
out=$(dr repair "$VM" --yes 2>&1)
is "$?" 0 "repair: exit 0"
like "$out" "deletes $DIR/vda\.rp-0004\.qcow2" "repair deletes the old chain as planned"
nt=$(newest)
is "$(files)" "vda.base.$nt.qcow2 vda.$nt.qcow2 vdb.base.$nt.qcow2 vdb.$nt.qcow2 " \
    "only the new chain is left"
paused same "$DIR/vda.$nt.qcow2" "$TOP/prim/vda.qcow2"
ok $? "the resynced point reads as the primary (vda)"
cycle_ok 97 "after the crash and resync"
is "$(jobtype)" "None" "no backup job left on the primary"
is "$(checkpoints)" "drover.$(expr "${nt#rp-}" + 1) " "the primary keeps only the newest checkpoint"

# --- failover to the oldest point, revert, cycles go on ----------------------
cycle_ok 105 "a third point"
oldest=$(record "v['recovery_points'][0]['id']")
sums=$(rp_sums "$DIR")
# The primary still runs: a drill overrides the split-brain guard, as an
# operator would with a reason.
out=$(dr failover "$VM" --point "$oldest" --force --reason "drill: oldest point" --yes 2>&1)
rc=$?
is "$rc" 0 "failover to the oldest point $oldest: exit 0"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
is "$(record "v['state'], v['failover_point']")" "5 $oldest" "state 5, failed over to $oldest"
src=$(dvirsh domblklist "$VM" --inactive | awk '$1 == "vda" {print $2}')
is "$("$QEMU_IMG" info -U --output=json "$src" | python3 -c 'import json,sys; print(json.load(sys.stdin)["backing-filename"])')" \
    "$DIR/vda.$oldest.qcow2" "the failover disk lies on the oldest point's layer"
out=$(dr replicate "$VM" 2>&1)
is "$?" 3 "a cycle while failed over to the oldest point: exit 3 (paused)"
out=$(dr revert "$VM" --yes 2>&1)
rc=$?
is "$rc" 0 "revert: exit 0"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
is "$(record "v['state'], v['failover_point']")" "3 None" "back to state 3"
is "$(rp_sums "$DIR")" "$sums" "the failover drill left every point's layer unchanged"
cycle_ok 113 "after the failover to the oldest point and revert"
is "$(rp_sums "$DIR" | grep -v "\.$(newest)\.qcow2")" "$sums" "earlier layers unchanged by the cycle"

# --- replication_auto_resync: the cycle resyncs by itself --------------------
cp "$T/drover.conf" "$T/auto.conf" && echo "replication_auto_resync = true;" >>"$T/auto.conf"
like "$("$DROVER" --config "$T/auto.conf" config 2>&1)" "replication_auto_resync = true;" \
    "drover config shows replication_auto_resync"
pvirsh checkpoint-delete "$VM" "drover.$(expr "$(newest | sed 's/^rp-//')" + 0)" >/dev/null
ok $? "the newest checkpoint deleted on the primary again"
write "$DEV_B" 0x74 6M 256k
out=$("$DROVER" --config "$T/auto.conf" -c "$DURI" replicate "$VM" 2>&1)
rc=$?
is "$rc" 0 "with replication_auto_resync the cycle resyncs by itself: exit 0"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
like "$out" "32775" "the cycle's refusal is shown"
like "$out" "a resync runs now" "it says a resync runs"
like "$out" "Resynchronization" "the resync runs as its job"
is "$(record "v['state'], len(v['recovery_points']), v['interrupted_operation']")" "3 1 None" \
    "state 3, one point, no journal"
equal_now "$(newest)"
ok $? "the resynced point reads as the primary"

# --- refusals ---------------------------------------------------------------
dr suspend-replication "$VM" --yes >/dev/null 2>&1
out=$(dr resync "$VM" --yes 2>&1)
is "$?" 3 "resync while suspended: exit 3"
like "$out" "suspended" "it says the replication is suspended"
dr resume-replication "$VM" --yes >/dev/null 2>&1

# A domain here whose volume disk cannot be resolved: drover could not
# delete the old chain after the switch, so the resync is refused at plan
# time, --dry-run too, with nothing changed and no journal (issue 11,
# item 11).
NBR="nbr$$"
define_neighbour "$NBR"
ok $? "a neighbour whose volume disk cannot be resolved"
rec_before=$(record "v['state'], [p['id'] for p in v['recovery_points']], v['interrupted_operation']")
(cd "$DIR" && ls -i) >"$T/nbr.before"
out=$(dr resync "$VM" --dry-run 2>&1)
is "$?" 7 "resync --dry-run with the neighbour: refused (exit 7)"
like "$out" "pool $NBR has no target path for volume sub/data.qcow2" "it names the neighbour's disk"
out=$(dr resync "$VM" --yes 2>&1)
is "$?" 7 "resync with the neighbour: refused (exit 7)"
like "$out" "nothing was changed" "it says nothing was changed"
is "$(record "v['state'], [p['id'] for p in v['recovery_points']], v['interrupted_operation']")" \
    "$rec_before" "the record is as before, no journal"
(cd "$DIR" && ls -i) >"$T/nbr.after"
cmp -s "$T/nbr.before" "$T/nbr.after"
ok $? "the replica directory is as before"
dvirsh undefine "$NBR" >/dev/null
dvirsh pool-destroy "$NBR" >/dev/null

# --- health: late --------------------------------------------------------------
# A fixture edit: the interval 300 s and the points' times 2 hours earlier;
# the newest point is then older than the interval and its grace.
set_interval 300
dvirsh dumpxml --inactive --security-info "$VM" >"$T/dom.xml" &&
    python3 - "$T/dom.xml" <<'EOP' && dvirsh define "$T/dom.xml" >/dev/null
import re, sys, datetime
p = sys.argv[1]
s = open(p).read()
def back(m):
    t = datetime.datetime.strptime(m.group(2), "%Y-%m-%dT%H:%M:%SZ") - datetime.timedelta(hours=2)
    return m.group(1) + t.strftime("%Y-%m-%dT%H:%M:%SZ") + '"'
s = re.sub(r'(<drover:point id="[^"]*" time=")([^"]*)"', back, s)
open(p, "w").write(s)
EOP
ok $? "fixture: interval 300 s, the points two hours older"
out=$(dr check "$VM" 2>&1)
is "$?" 0 "a late replica: check exits 0 (Warning is not Critical)"
like "$out" "newest point rp-[0-9]* is 2h.* old \(a cycle every 300 s, grace 150 s\)" \
    "check: Warning, the newest point older than the interval and grace"
is "$(record "v['health_name']")" "Warning" "show --json: Warning"
like "$(dr show "$VM" 2>&1)" "replication: from .*, every 300 s, last cycle .* ago, due now" \
    "show: interval, last cycle age, due now"
for f in "$DIR"/*.qcow2; do
    "$QEMU_IMG" check -q -U "$f" || echo "bad $f"
done >"$T/check.out" 2>&1
is "$(cat "$T/check.out")" "" "every layer passes qemu-img check"

qemu_stop_all >/dev/null 2>&1
done_testing
