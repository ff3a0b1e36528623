#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# repl-stats.sh: the pending size in `drover stats` (issue 13): what libvirt
# says was written on the primary since the replica's newest point
# (virDomainCheckpointGetXMLDesc with the size flag), on two private
# libvirtd daemons (tests/repl-lib.sh).  After writes of a known size it is
# at least those bytes (qemu's bitmap granularity rounds up), after a cycle
# it drops; "unknown", with why, while failed over (not asked), while a
# cycle holds the replica's lock (not asked, the holder named: qemu 7.2
# aborted on the size query beside a backup's start), when the primary is
# shut off, does not answer (its libvirtd stopped: the connect timeout
# bounds the wait) or is gone, and stats never fails because of it.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/qemu-lib.sh"

. "${top_srcdir:-.}/tests/repl-lib.sh"
. "${top_srcdir:-.}/tests/ops-common.sh"

out=$(dr enable-replication "$VM" --from "$PURI" --dir "$DIR" --nbd "127.0.0.1:$PORT" --yes 2>&1)
rc=$?
is "$rc" 0 "enable-replication: exit 0"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'

# pending: the pending size of the replica, or "None" with why.
pending() { stat "v['pending_size']"; }
p0=$(pending)
like "$p0" "^[0-9]+$" "after the initial copy the pending size is known: $p0 B"
is "$(stat "v['pending_unknown']")" "None" "and pending_unknown is null"

# --- writes of a known size: pending is at least what was written ---------------
write "$DEV_A" 0x41 4M 3M
write "$DEV_B" 0x42 8M 1M
write "$DEV_A" 0x43 20971777 4097     # unaligned: the granularity rounds up
W=$((3145728 + 1048576 + 4097))
p1=$(pending)
like "$p1" "^[0-9]+$" "after the writes the pending size is known: $p1 B"
[ "$p1" -ge "$W" ] 2>/dev/null
ok $? "pending $p1 B is at least the $W B written on both disks"
[ "$p1" -le $((W + 1048576)) ] 2>/dev/null
ok $? "pending $p1 B is not far above what was written (granularity only)"
out=$(dr stats "$VM" 2>&1)
is "$?" 0 "stats (text): exit 0"
like "$out" "pending 4\.[0-9] MiB \($p1 B\) written on the primary since rp-0001" \
    "stats (text) shows the pending size and the point it counts from"

out=$(dr replicate "$VM" 2>&1)
rc=$?
is "$rc" 0 "a cycle: exit 0"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
p2=$(pending)
like "$p2" "^[0-9]+$" "after the cycle the pending size is known: $p2 B"
[ "$p2" -lt "$p1" ] && [ "$p2" -lt "$W" ] 2>/dev/null
ok $? "after the cycle the pending size dropped ($p1 B -> $p2 B)"
like "$(dr stats "$VM" 2>&1)" "since rp-0002" "it counts from the new point rp-0002"

# --- a cycle holds the replica: not asked (qemu 7.2 aborts on the size query
# beside a backup's start in another process), and whose job it is said ------
bg_paused replicate:begun dr replicate "$VM"
ok $? "a cycle waits at replicate:begun (its backup job on the primary, the lock held)"
held_pid=$(tr -dc '0-9' <"$T/paused" 2>/dev/null)
out=$(dr stats "$VM" --json 2>&1)
is "$?" 0 "stats while a cycle holds the replica: exit 0"
like "$out" "\"pending_size\": *null" "pending_size is null"
like "$out" "\"pending_unknown\": *\"not asked while a job holds the replica: .*pid $held_pid[,)].*replication cycle of $VM" \
    "pending_unknown: not asked, the holder named (pid $held_pid, the cycle of $VM)"
out=$(dr stats "$VM" 2>&1)
is "$?" 0 "stats (text) while a cycle holds the replica: exit 0"
like "$out" "pending unknown: not asked while a job holds the replica: .*replication cycle of $VM" \
    "stats (text) says pending is not asked while the cycle holds the replica"
resume
is "$rc" 0 "the held cycle goes on and ends: exit 0"
[ "$rc" -eq 0 ] || printf '%s\n%s\n' "$out" "$err" | sed 's/^/#   /'
like "$(pending)" "^[0-9]+$" "once the cycle ended the pending size is known again"
like "$(dr stats "$VM" 2>&1)" "since rp-0003" "... counted from the cycle's point rp-0003"

# A paused primary still tells (qemu runs, its bitmaps are there).
pvirsh suspend "$VM" >/dev/null
p_paused=$(stat "v['pending_size']")
pvirsh resume "$VM" >/dev/null
like "$p_paused" "^[0-9]+$" "a paused primary still tells the pending size"

# Failed over, cycles pause: not asked, and said so.
out=$(dr failover "$VM" --force --reason "drill: the primary keeps running" --yes 2>&1)
rc=$?
is "$rc" 0 "failover to the newest point (forced: the primary runs): exit 0"
[ "$rc" -eq 0 ] || printf "%s\n" "$out" | sed "s/^/#   /"
out=$(dr stats "$VM" --json 2>&1)
is "$?" 0 "stats while failed over: exit 0"
like "$out" "\"pending_unknown\": *\"failed over \\(state 5 " "pending_unknown: failed over (state 5)"
out=$(dr revert "$VM" --yes 2>&1)
is "$?" 0 "revert: exit 0"
like "$(pending)" "^[0-9]+$" "after the revert the pending size is known again"

# --- the primary does not answer: unknown, within the connect timeout ----------
SUCC=$(stat "v['succeeded']")
echo "connect_timeout = 3;" >>"$T/drover.conf"
qemu_use prim
LPID=$(qemu_libvirtd_pid)
qemu_use dr
kill -STOP "$LPID"
out=$(timeout 200 "$DROVER" --config "$T/drover.conf" -c "$DURI" stats "$VM" --json 2>&1)
rc=$?
kill -CONT "$LPID"
is "$rc" 0 "stats with the primary's libvirtd stopped: exit 0 (not hung, not failed)"
is "$(printf '%s' "$out" | python3 -c 'import json,sys
v=json.load(sys.stdin)[0]
print(v["pending_size"], v["succeeded"])' 2>&1)" "None $SUCC" \
    "pending_size is null, the other statistics are there"
like "$out" "\"pending_unknown\": *\"32777 " "pending_unknown says why: 32777"

# --- the primary shut off: unknown, with why ------------------------------------
pvirsh destroy "$VM" >/dev/null
ok $? "the primary is shut off"
out=$(dr stats "$VM" --json 2>&1)
is "$?" 0 "stats with the primary shut off: exit 0"
like "$out" "\"pending_size\": *null" "pending_size is null"
like "$out" "\"pending_unknown\": *\"32775 .*shut off" "pending_unknown: 32775, the primary is shut off"
out=$(dr stats "$VM" 2>&1)
is "$?" 0 "stats (text) with the primary shut off: exit 0"
like "$out" "pending unknown: 32775 .*shut off" "stats (text) says pending is unknown and why"

# --- the primary's host gone ------------------------------------------------------
qemu_use prim
qemu_kill_libvirtd
ok $? "the primary's libvirtd is gone"
qemu_use dr
out=$(dr stats "$VM" --json 2>&1)
is "$?" 0 "stats with the primary unreachable: exit 0"
like "$out" "\"pending_unknown\": *\"32777 .*cannot be reached" \
    "pending_unknown: 32777, the primary cannot be reached"
is "$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["succeeded"])')" \
    "$SUCC" "the other statistics are still there"

qemu_stop_all >/dev/null 2>&1
done_testing
