#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# repl-crash.sh: a replication cycle killed at every step (DROVER_FAULT=
# replicate:STEP makes drover _exit(86) there, as kill -9 would), then
# drover repair and a new cycle: every point still reads as the primary
# did, no layer of an earlier point changed, nothing is left behind (no
# temporary file, no backup job, no checkpoint no point records).  Also an
# initial copy killed half way.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/qemu-lib.sh"
. "${top_srcdir:-.}/tests/repl-lib.sh"

jobtype() { pvirsh domjobinfo "$VM" 2>/dev/null | awk '/Job type/ {print $3}'; }
npoints() { record "len(v['recovery_points'])"; }
newest() { record "v['newest_point']"; }
temps() { (cd "$DIR" && ls -A | grep -c '\.tmp-'); }

# --- the initial copy, killed after the backup job began --------------------
DROVER_FAULT=replicate:begun dr enable-replication "$VM" --from "$PURI" --dir "$DIR" \
    --nbd "127.0.0.1:$PORT" --yes >/dev/null 2>&1
is "$?" 86 "initial copy killed after BackupBegin (exit 86)"
is "$(record "v['state'], v['interrupted_operation']")" "2 replicate" \
    "record: state 2, the cycle's journal"
is "$(jobtype)" "Unbounded" "the backup job still runs on the primary (a pull job: unbounded)"
out=$(dr repair "$VM" --yes 2>&1)
is "$?" 0 "repair: exit 0"
is "$(record "v['state'], v['interrupted_operation'], len(v['recovery_points'])")" "2 None 0" \
    "repair rolled back: state 2 (initial copy pending), no journal, no point"
out=$(dr replicate "$VM" 2>&1)
rc=$?
is "$rc" 0 "replicate runs the pending initial copy: exit 0"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
like "$out" "ending a backup job an interrupted cycle left" "it ends the job the killed run left"
is "$(record "v['state'], v['newest_point']")" "3 rp-0001" "state 3, rp-0001"
paused same "$DIR/vda.rp-0001.qcow2" "$TOP/prim/vda.qcow2" &&
    paused same "$DIR/vdb.rp-0001.qcow2" "$TOP/prim/vdb.qcow2"
ok $? "initial copy after the crash reads as the primary"
is "$(temps)" 0 "no temporary file left"
is "$(checkpoints)" "drover.1 " "primary: only drover.1"

# --- a cycle killed at every step ------------------------------------------
n=1
pat=48
for step in journal begun copied switched ended; do
    pat=$((pat + 1))
    n0=$(npoints)
    top0=$(newest)
    sums=$(rp_sums "$DIR")
    write "$DEV_A" "$pat" "$((pat % 8))M" 256k && write "$DEV_B" "$pat" "$((pat % 4))M" 128k
    DROVER_FAULT=replicate:$step dr replicate "$VM" >/dev/null 2>&1
    is "$?" 86 "$step: the cycle is killed there"
    out=$(dr repair "$VM" --yes 2>&1)
    is "$?" 0 "$step: repair exit 0"
    case $step in
        journal|begun|copied)
            is "$(npoints) $(newest)" "$n0 $top0" "$step: rolled back, no new point"
            is "$(rp_sums "$DIR")" "$sums" "$step: the layers are as before the cycle"
            ;;
        *)
            is "$(npoints)" "$((n0 + 1))" "$step: after the switch the point stays"
            nt=$(newest)
            paused same "$DIR/vda.$nt.qcow2" "$TOP/prim/vda.qcow2" &&
                paused same "$DIR/vdb.$nt.qcow2" "$TOP/prim/vdb.qcow2"
            ok $? "$step: the point made before the crash reads as the primary"
            ;;
    esac
    is "$(record "v['interrupted_operation']")" "None" "$step: no journal after repair"
    sums=$(rp_sums "$DIR")
    out=$(dr replicate "$VM" 2>&1)
    rc=$?
    is "$rc" 0 "$step: the next cycle works"
    [ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
    nt=$(newest)
    paused same "$DIR/vda.$nt.qcow2" "$TOP/prim/vda.qcow2" &&
        paused same "$DIR/vdb.$nt.qcow2" "$TOP/prim/vdb.qcow2"
    ok $? "$step: the new point $nt reads as the primary"
    is "$(rp_sums "$DIR" | grep -v "\.$nt\.qcow2")" "$sums" "$step: earlier layers unchanged"
    is "$(temps)" 0 "$step: no temporary file left"
    is "$(jobtype)" "None" "$step: no backup job left on the primary"
    is "$(checkpoints)" "drover.$(expr "${nt#rp-}" + 0) " "$step: the primary keeps only the newest point's checkpoint"
    n=$((n + 1))
done
for f in "$DIR"/*.qcow2; do
    "$QEMU_IMG" check -q -U "$f" || echo "bad $f"
done >"$T/check.out" 2>&1
is "$(cat "$T/check.out")" "" "every layer passes qemu-img check"

qemu_stop_all >/dev/null 2>&1
done_testing
