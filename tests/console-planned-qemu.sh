#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# console-planned-qemu.sh: a planned failover from the console, for real:
# two private libvirtd daemons with the qemu driver (tests/repl-lib.sh), a
# running TCG primary with two disks, its replica enabled on the DR host.
# In the console (expect): f on the replica offers Planned or Unplanned
# and says the primary runs; Planned shows each step on each host, the
# typed confirmation starts a detached job; the guest powers off when
# asked (its qemu is stopped gracefully: it runs no OS); the job ends with
# result 0 and the row shows 5 Recovered.  Afterwards the data written on
# the primary just before is on the failed-over replica (qemu-img
# compare), the primary is off and marked prepared.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/qemu-lib.sh"
command -v expect >/dev/null 2>&1 || skip_all "expect not found"

. "${top_srcdir:-.}/tests/repl-lib.sh"

# The primary has two minutes to shut down: the test powers it off when
# the job waits for it.
sed 's/^shutdown_timeout = .*/shutdown_timeout = 120;/' "$T/drover.conf" >"$T/long.conf"

out=$(dr enable-replication "$VM" --from "$PURI" --dir "$DIR" --nbd "127.0.0.1:$PORT" --yes 2>&1)
rc=$?
is "$rc" 0 "enable-replication and its initial copy: exit 0"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
write "$DEV_A" 0x6a 5M 1M && write "$DEV_B" 0x6b 3M 512k
ok $? "last writes on the primary (vda 1 MiB 0x6a, vdb 512 KiB 0x6b)"

# The console part: results come back as "R 0|1 description" lines.
{ console_exp_head "$T/long.conf" 40; cat <<'EOX'
okw "(?n)^\\S+ +$vm +3 Replicating" "the replica is listed, 3 Replicating"
key "/"
type $vm
key enter
okw "f failover" "the hint offers f on the replica"
key f
okw "How should $vm fail over\\?" "f asks planned or unplanned"
okw "Split-brain guard: the primary $vm on \\S+ is running: an unplanned" \
    "the guard's finding: the primary runs"
okw {\S Planned: shut} "Planned is preselected (marked)"
key enter
okw "Planned failover: $vm@" "the planned failover's dialog"
okw "1\\. \\S+: shut $vm down gracefully" "step 1 on the primary: shutdown"
okw "3\\. \\S+: final cycle: point rp-0002 \\(planned\\)" "step 3 on the DR host: the final cycle"
okw "6\\. \\S+: fail $vm over to rp-0002" "step 6 on the DR host: the failover"
okw "Type $vm to confirm" "it asks for the typed name"
type $vm
key enter
okw {waiting for the primary} "the job waits for the primary to shut down" 60
# The guest runs no OS to act on the ACPI request: it powers off as a
# guest would, qemu ending cleanly.
set rc [catch {exec $env(VIRSH) -q -c $env(PURI) destroy $vm --graceful 2>@1} out]
ok [expr {$rc == 0}] "the primary's guest powers off"
if {$rc} { diag $out }
okw {Result: 0 } "the planned failover ends with result 0" 300
okw {no data lost} "its last step says no data was lost"
key enter
okw "(?n)^\\S+ +$vm +5 Recovered .*rp-0002" "the row shows 5 Recovered on rp-0002" 30
key J
okw {Planned Failover} "the jobs pane lists the planned failover"
okw {Completed} "completed"
key J
ok [expr {[quit_console] == 0}] "the console quits"
EOX
} >"$T/console.exp"
export T DURI PURI VM VIRSH
top_srcdir=${top_srcdir:-.} DROVER=${DROVER:-$(pwd)/drover} expect "$T/console.exp" >"$T/console.out" 2>&1
sed -n 's/^# /#   /p' "$T/console.out"
while read -r tag res desc; do
    [ "$tag" = R ] || continue
    [ "$res" = 1 ]
    ok $? "console: $desc"
done <"$T/console.out"
grep -q '^R ' "$T/console.out"
ok $? "the console test ran"

is "$(record "v['state'], v['failover_point'], [(p['id'], p['type']) for p in v['recovery_points']][-1]")" \
    "5 rp-0002 ('rp-0002', 'planned')" "replica: 5 Recovered on rp-0002, a planned point"
is "$(pvirsh domstate "$VM" 2>/dev/null | head -1)" "shut off" "the primary is off"
is "$(pvirsh dominfo "$VM" | awk '/^Autostart:/ {print $2}')" "disable" "its autostart is off"
pvirsh metadata "$VM" urn:drover:replica:1 2>/dev/null | grep -q '<state>4</state>'
ok $? "the primary is marked prepared (its drover record: state 4 Synced)"
FO_A=$(dvirsh domblklist "$VM" --inactive | awk '$1 == "vda" {print $2}')
FO_B=$(dvirsh domblklist "$VM" --inactive | awk '$1 == "vdb" {print $2}')
like "$FO_A" "$DIR/vda\.failover-" "the replica's vda is its failover overlay"
same "$FO_A" "$TOP/prim/vda.qcow2" && same "$FO_B" "$TOP/prim/vdb.qcow2"
ok $? "the failed-over replica reads exactly as the primary's disks (qemu-img compare)"
"$QEMU_IMG" check -q "$DIR/vda.rp-0002.qcow2" && "$QEMU_IMG" check -q "$DIR/vdb.rp-0002.qcow2"
ok $? "the final point's layers pass qemu-img check"
like "$(grep "\"$VM\"" "$T/audit.log" | grep planned-failover | tail -1)" '"result": ?0' \
    "the console's planned failover is in the audit log with result 0"

done_testing
