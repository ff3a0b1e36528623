#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# repl-planned-cancel.sh: `drover cancel ID` on a planned failover, on two
# private libvirtd daemons (tests/repl-lib.sh).  Cancelled while the
# primary is asked to shut down: nothing else is done.  Cancelled after the
# final cycle, before its switch (marking the primary prepared): the
# primary runs again, unmarked, the replica stays 3 Replicating with the
# final point as an ordinary one, and the next cycle works.  A cancel after
# the switch is refused with why (32775) and the failover completes.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/qemu-lib.sh"

. "${top_srcdir:-.}/tests/repl-lib.sh"

sed 's/^shutdown_timeout = .*/shutdown_timeout = 120;/' "$T/drover.conf" >"$T/long.conf"
dl() { "$DROVER" --config "$T/long.conf" -c "$DURI" "$@"; }
cancel() { "$DROVER" --config "$T/long.conf" cancel "$@" </dev/null; }
job_of() { grep -Eo 'Job [0-9a-f-]{36}' "$1" | head -1 | cut -d' ' -f2; }
prepared() { pvirsh dumpxml --inactive "$VM" | grep -c '<drover:replica'; }

out=$(dr enable-replication "$VM" --from "$PURI" --dir "$DIR" --nbd "127.0.0.1:$PORT" --yes 2>&1)
is "$?" 0 "enable-replication: exit 0"
write "$DEV_A" 0x31 4M 1M && out=$(dr replicate "$VM" 2>&1)
is "$?" 0 "a cycle (rp-0002)"

# --- 1. cancelled while the primary is asked to shut down ---------------------------
dl failover "$VM" --planned --yes --reason "cancel drill" >"$T/p0.out" 2>&1 &
bg=$!
wait_for "$T/p0.out" "waiting for the primary $VM to shut down" 600
ok $? "the planned failover waits for the primary to shut down"
id=$(job_of "$T/p0.out")
cancel "$id" >"$T/c0.out" 2>&1
ok $? "cancel while it waits: exit 0"
like "$(cat "$T/c0.out")" "Terminated" "... the job ended Terminated"
wait "$bg"
is "$?" 1 "the planned failover: exit 1 (32768)"
like "$(cat "$T/p0.out")" "cancelled by an operator while the primary $VM was asked to shut down: nothing else was done" \
    "it says it was cancelled, and what was done"
is "$(pvirsh domstate "$VM")" "running" "the primary still runs (its guest ignored the request)"
is "$(record "v['state'], [p['id'] for p in v['recovery_points']]")" "3 ['rp-0001', 'rp-0002']" \
    "the replica: 3 Replicating, no new point"
is "$(prepared)" 0 "the primary is not prepared"

# --- 2. cancelled after the final cycle, before the switch ---------------------------
write "$DEV_A" 0x41 6M 1M
ok $? "a last write on the primary (vda 0x41 at 6M)"
touch "$T/hold"
DROVER_PAUSE="planned:cycled:$T/hold" dl failover "$VM" --planned --yes --reason "cancel drill" \
    >"$T/p1.out" 2>&1 &
bg=$!
wait_for "$T/p1.out" "waiting for the primary $VM to shut down" 600 && pvirsh destroy "$VM" --graceful >/dev/null
ok $? "the primary powered off while drover waits"
wait_for "$T/p1.out" "powering the primary $VM off again" 600
ok $? "the final cycle ran (the job holds before its switch)"
id=$(job_of "$T/p1.out")
cancel "$id" >"$T/c1.out" 2>&1 &
cbg=$!
wait_for "$T/c1.out" "Cancel requested" 600
ok $? "cancel before the switch: the request is placed"
rm -f "$T/hold"
wait "$cbg"
ok $? "cancel: exit 0"
like "$(cat "$T/c1.out")" "Terminated" "... the job ended Terminated"
wait "$bg"
is "$?" 1 "the planned failover: exit 1 (32768)"
like "$(cat "$T/p1.out")" "cancelled by an operator before its switch \(marking the primary prepared\): the primary $VM is running again, not prepared" \
    "it says so, and what each host was left in"
is "$(pvirsh domstate "$VM")" "running" "the primary runs again"
is "$(prepared)" 0 "the primary is not prepared (no drover record on it)"
is "$(record "v['state'], v['failover_point'], [(p['id'], p['type']) for p in v['recovery_points']][-1]")" \
    "3 None ('rp-0003', 'planned')" "the replica: 3 Replicating, the final point rp-0003 kept"
is "$(dvirsh domstate "$VM")" "shut off" "the replica is off"
grep -q '"operation":"planned-failover".*"result":32768' "$T/audit.log"
ok $? "the cancelled planned failover is audited with 32768"
write "$DEV_A" 0x42 8M 1M && out=$(dr replicate "$VM" 2>&1)
is "$?" 0 "a cycle after the cancel (rp-0004)"
paused same "$DIR/vda.rp-0004.qcow2" "$TOP/prim/vda.qcow2"
ok $? "rp-0004 reads as the primary's vda (qemu-img compare)"

# --- 3. a cancel after the switch is refused; the failover completes ------------------
touch "$T/hold2"
DROVER_PAUSE="planned:marked:$T/hold2" dl failover "$VM" --planned --yes --reason "cancel drill" \
    >"$T/p2.out" 2>&1 &
bg=$!
wait_for "$T/p2.out" "waiting for the primary $VM to shut down" 600 && pvirsh destroy "$VM" --graceful >/dev/null
ok $? "the primary powered off while drover waits"
wait_for "$T/p2.out" "marking the primary $VM prepared" 600
ok $? "the job passed its switch (marking the primary prepared)"
id=$(job_of "$T/p2.out")
cancel "$id" >"$T/c2.out" 2>&1
is "$?" 3 "cancel after the switch: exit 3 (32775)"
like "$(cat "$T/c2.out")" "cannot be cancelled: it has passed its switch" "... it says it cannot, and why"
rm -f "$T/hold2"
wait "$bg"
rc=$?
is "$rc" 0 "the planned failover completes: exit 0"
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/p2.out"
is "$(record "v['state'], v['failover_point']")" "5 rp-0005" "the replica: 5 Recovered on rp-0005"
is "$(prepared)" 1 "the primary is prepared"

qemu_stop_all >/dev/null 2>&1
done_testing
