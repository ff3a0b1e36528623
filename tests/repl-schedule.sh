#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# repl-schedule.sh: replication settings and scheduling between two private
# libvirtd daemons (tests/repl-lib.sh): enable with --interval, replicate
# --due (nothing due, then due), replicate --watch until SIGTERM, suspend
# and resume (cycles refused while suspended), disable (points stay,
# checkpoints gone from the primary, cycles refused).
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/qemu-lib.sh"
. "${top_srcdir:-.}/tests/repl-lib.sh"

npoints() { record "len(v['recovery_points'])"; }
newest() { record "v['newest_point']"; }
interval_of() { dvirsh dumpxml --inactive "$VM" | sed -n 's/.*<drover:replication .*interval="\([0-9]*\)".*/\1/p'; }
same_newest() {
    _p=$(newest)
    paused same "$DIR/vda.$_p.qcow2" "$TOP/prim/vda.qcow2" &&
        paused same "$DIR/vdb.$_p.qcow2" "$TOP/prim/vdb.qcow2"
}

out=$(dr enable-replication "$VM" --from "$PURI" --dir "$DIR" --nbd "127.0.0.1:$PORT" \
    --interval 1h --app-consistent-every 1s --yes 2>&1)
is "$?" 0 "enable --interval 1h --app-consistent-every 1s: exit 0"
like "$out" "every: +3600 s" "the plan shows the interval"
like "$out" "app: +an application-consistent point every 1 s" "and the application-consistent interval"
like "$out" "not application-consistent \(this point is standard\): .*guest agent" \
    "without a guest agent the point is standard, and the job says why"
is "$(interval_of)" 3600 "the record keeps interval 3600"

out=$(dr enable-replication other --from "$PURI" --interval 5x --yes 2>&1)
is "$?" 2 "a bad --interval: exit 2"
like "$out" "32773.*|interval \"5x\" is not a duration" "refused, naming the interval"

# --- --due ----------------------------------------------------------------------
out=$(dr replicate --due 2>&1)
is "$?" 0 "--due with nothing due: exit 0"
like "$out" "nothing is due" "says nothing is due"
is "$(npoints)" 1 "no cycle ran"
out=$(dr replicate "$VM" --due 2>&1)
is "$?" 2 "VM and --due together: usage error"

set_interval 1
write "$DEV_A" 0x41 3M 64k
i=0
while [ "$(npoints)" -lt 2 ] && [ $i -lt 30 ]; do
    dr replicate --due >"$T/due.out" 2>&1
    i=$((i + 1))
    [ "$(npoints)" -lt 2 ] && sleep 0.5
done
is "$(npoints)" 2 "--due ran a cycle once the interval had passed"
like "$(cat "$T/due.out")" "$VM@.*: a cycle is due" "--due names the replica it ran"
same_newest
ok $? "that point reads as the primary"
like "$(cat "$T/due.out")" "not application-consistent \(this point is standard\): .*guest agent" \
    "every cycle says why its point is not application-consistent"
is "$(record "' '.join(sorted(set(p['type'] for p in v['recovery_points'])))")" "standard" \
    "every point is standard"

# --- --watch ----------------------------------------------------------------------
set_interval 2
"$DROVER" --config "$T/drover.conf" -c "$DURI" replicate --watch >"$T/watch.out" 2>&1 &
wpid=$!
i=0
while [ "$(npoints)" -lt 4 ] && [ $i -lt 120 ]; do
    write "$DEV_B" "0x$((50 + i % 40))" "$((i % 16))M" 64k
    sleep 0.5
    i=$((i + 1))
done
ok $(( $(npoints) < 4 )) "--watch made two more points on its own"
kill -TERM "$wpid"
wait "$wpid"
is "$?" 0 "--watch stops on SIGTERM with exit 0"
like "$(cat "$T/watch.out")" "watch stopped" "and says so"
is "$(record "v['interrupted_operation']")" "None" "no journal left by the watch"
is "$( (cd "$DIR" && ls -A | grep -c '\.tmp-') )" 0 "no temporary file left"
set_interval 3600
out=$(dr replicate "$VM" 2>&1)
is "$?" 0 "a cycle after the watch"
same_newest
ok $? "the newest point reads as the primary"

# --- suspend / resume ---------------------------------------------------------------
out=$(dr suspend-replication "$VM" --dry-run 2>&1)
is "$?" 0 "suspend --dry-run: exit 0"
like "$out" "state: 3 Replicating -> 7 Suspended" "the plan shows 3 -> 7"
is "$(record "v['state']")" 3 "dry run changed nothing"
out=$(dr suspend-replication "$VM" </dev/null 2>&1)
is "$?" 2 "suspend without --yes on a pipe: exit 2"
out=$(dr suspend-replication "$VM" --yes 2>&1)
is "$?" 0 "suspend: exit 0"
is "$(record "v['state']")" 7 "state 7 Suspended"
n=$(npoints)
out=$(dr replicate "$VM" 2>&1)
is "$?" 3 "a cycle while suspended: exit 3"
like "$out" "32775" "refused with 32775"
like "$out" "suspended" "says it is suspended"
set_interval 1
out=$(dr replicate --due 2>&1)
like "$out" "nothing is due" "--due skips a suspended replica"
is "$(npoints)" "$n" "no point added while suspended"
out=$(dr suspend-replication "$VM" --yes 2>&1)
is "$?" 3 "suspend twice: exit 3 (32775)"
out=$(dr resume-replication "$VM" --yes 2>&1)
is "$?" 0 "resume: exit 0"
is "$(record "v['state']")" 3 "back to 3 Replicating"
set_interval 3600
write "$DEV_A" 0x42 5M 64k
out=$(dr replicate "$VM" 2>&1)
is "$?" 0 "a cycle after resume"
same_newest
ok $? "it reads as the primary"
like "$(grep '"suspend-replication"' "$T/audit.log" | grep -v '"refused": *true' | tail -1)" '"result": ?0' \
    "the audit log has the suspend"
like "$(grep '"suspend-replication"' "$T/audit.log" | tail -1)" '"result": ?32775,.*"refused": ?true' \
    "and the second suspend, refused (32775, refused: true)"
is "$(grep '"suspend-replication"' "$T/audit.log" | grep -c '"refused": *true')" 2 \
    "the audit log has both refused suspends (no --yes, then suspended already)"
like "$(grep '"resume-replication"' "$T/audit.log" | tail -1)" '"result": ?0' \
    "the audit log has the resume"

# --- statistics ---------------------------------------------------------------------
is "$(stat "v['succeeded'] == $(npoints), v['failed']")" "True 0" \
    "stats: one successful cycle per point, none failed"
is "$(stat "v['app_consistent_every'], v['last_app_consistent']")" "1 None" \
    "stats: app-consistent points asked for every 1 s, none made (no agent)"
is "$(stat "v['last_size'] > 0, v['max_size'] >= v['last_size'], v['average_size'] > 0, v['last_cycle_seconds'] > 0")" \
    "True True True True" "stats: last, largest and average size, cycle time"
out=$(dr stats 2>&1)
is "$?" 0 "stats (text): exit 0"
like "$out" "^HOST +NAME +STATE +OK +FAILED" "a table with a header"
like "$out" "$VM +Replicating" "a row for the replica"

# --- disable ------------------------------------------------------------------------
sums=$(rp_sums "$DIR")
n=$(npoints)
out=$(dr disable-replication "$VM" --yes 2>&1)
is "$?" 0 "disable: exit 0"
like "$out" "deleted checkpoint drover\.[0-9]+ on the primary" "it deletes drover's checkpoint"
is "$(checkpoints)" "" "no checkpoint left on the primary"
dvirsh dumpxml --inactive "$VM" | grep -q "drover:replication"
ok $((! $?)) "the record has no <replication> any more"
is "$(record "v['state'], len(v['recovery_points'])")" "3 $n" "state 3, every point kept"
is "$(rp_sums "$DIR")" "$sums" "every layer unchanged"
out=$(dr replicate "$VM" 2>&1)
is "$?" 8 "a cycle after disable: exit 8"
like "$out" "32770" "refused with 32770 (not replicated by drover)"
# The primary still runs: the split-brain guard is overridden on purpose.
out=$(dr failover "$VM" --force --reason "drill: the primary still runs" --yes 2>&1)
is "$?" 0 "failover still works on the kept points"

qemu_stop_all >/dev/null 2>&1
done_testing
