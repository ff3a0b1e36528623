#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# console-repl-qemu.sh: replicate now from the console, for real: two
# private libvirtd daemons with the qemu driver (tests/repl-lib.sh), a
# running TCG primary with two disks, its replica enabled on the DR host.
# In the console (expect): p on the replica, the plan (changes since
# drover.1), the typed confirmation, the cycle as a job with its decoded
# result, the new point in the row; then a cycle run by `drover
# replicate` in another process shows in the jobs pane too; the detail
# pane shows the pending size (1.5 MiB written, none after the cycles).
# Afterwards every point reads as the primary did (qemu-img compare).
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/qemu-lib.sh"
command -v expect >/dev/null 2>&1 || skip_all "expect not found"

. "${top_srcdir:-.}/tests/repl-lib.sh"

out=$(dr enable-replication "$VM" --from "$PURI" --dir "$DIR" --nbd "127.0.0.1:$PORT" --yes 2>&1)
rc=$?
is "$rc" 0 "enable-replication and its initial copy: exit 0"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
write "$DEV_A" 0x5a 1M 1M && write "$DEV_B" 0x5b 8M 512k
ok $? "writes injected on both disks of the primary"

# The console part: results come back as "R 0|1 description" lines.
{ console_exp_head "$T/drover.conf" 50; cat <<'EOX'
okw "(?n)^\\S+ +$vm +3 Replicating" "the replica is listed, 3 Replicating"
key "/"
type $vm
key enter
okw "p replicate" "the hint offers p on the replica"
key enter
okw {Pending: 1\.5 MiB written on the primary since rp-0001} "the detail pane shows the pending size (1.5 MiB written)" 60
key enter
key p
okw "Replicate now: $vm@" "p opens the replicate dialog"
okw {changes since[^a-zA-Z]+drover\.1} "the plan: changes since checkpoint drover.1"
okw "Type $vm to confirm" "it asks for the typed name"
type $vm
key enter
okw {Result: 0 } "the cycle ends with result 0" 180
okw {rp-0002} "the job names the new point"
key enter
okw "(?n)^\\S+ +$vm +3 Replicating .* 2 " "the row shows two recovery points"
set rc [catch {exec $drover --config $conf -c $uri replicate $vm 2>@1} out]
ok [expr {$rc == 0}] "drover replicate in another process: exit 0"
if {$rc} { diag $out }
okw "(?n)^\\S+ +$vm +3 Replicating .* 3 " "the console shows its point too (three)"
key enter
okw {Pending: 0 B written on the primary since rp-0003} "after the cycles nothing is pending" 60
key enter
key J
okw {(?s)Replication Cycle.*Replication Cycle} "the jobs pane lists both cycles"
okw {(?s)Completed.*Completed} "both completed"
key J
ok [expr {[quit_console] == 0}] "the console quits"
EOX
} >"$T/console.exp"
export T DURI VM
top_srcdir=${top_srcdir:-.} DROVER=${DROVER:-$(pwd)/drover} expect "$T/console.exp" >"$T/console.out" 2>&1
sed -n 's/^# /#   /p' "$T/console.out"
while read -r tag res desc; do
    [ "$tag" = R ] || continue
    [ "$res" = 1 ]
    ok $? "console: $desc"
done <"$T/console.out"
grep -q '^R ' "$T/console.out"
ok $? "the console test ran"

is "$(record "[p['id'] for p in v['recovery_points']], v['state']")" "['rp-0001', 'rp-0002', 'rp-0003'] 3" \
    "record: rp-0002 from the console, rp-0003 from the command line, still 3"
paused same "$DIR/vda.rp-0002.qcow2" "$TOP/prim/vda.qcow2"
ok $? "vda at rp-0002 reads as the primary"
paused same "$DIR/vdb.rp-0002.qcow2" "$TOP/prim/vdb.qcow2"
ok $? "vdb at rp-0002 reads as the primary"
"$QEMU_IMG" check -q "$DIR/vda.rp-0002.qcow2" && "$QEMU_IMG" check -q "$DIR/vdb.rp-0003.qcow2"
ok $? "the new layers pass qemu-img check"
like "$(grep "\"$VM\"" "$T/audit.log" | grep '"replicate"' | head -1)" '"result": ?0' \
    "the console's cycle is in the audit log with result 0"

# Stopped before done_testing deletes $T (the EXIT trap then finds no pid
# file, and the daemons and the guest would outlive the test).
qemu_stop_all >/dev/null 2>&1
done_testing
