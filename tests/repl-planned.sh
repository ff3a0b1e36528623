#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# repl-planned.sh: drover failover VM --planned between two private
# libvirtd daemons (tests/repl-lib.sh).  The plan shows each step on each
# host; a primary that does not shut down in time is refused with 32772
# and nothing changes; then the round: data written on the primary just
# before is on the failed-over replica, the final point is "planned", the
# primary is off, autostart off and marked prepared (mode 1, state 4),
# its checkpoint kept with consistent bitmaps; drover refuses to
# replicate from the prepared primary when it is started by accident.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/qemu-lib.sh"

. "${top_srcdir:-.}/tests/repl-lib.sh"

# A second configuration that gives the primary two minutes to shut down.
sed 's/^shutdown_timeout = .*/shutdown_timeout = 120;/' "$T/drover.conf" >"$T/long.conf"
drl() { "$DROVER" --config "$T/long.conf" -c "$DURI" "$@"; }
primary_record() {  # EXPR on the primary's drover record (as v: mode, state, points)
    pvirsh metadata "$VM" urn:drover:replica:1 2>/dev/null | python3 -c "import sys, xml.etree.ElementTree as E
x = E.fromstring(sys.stdin.read()); n = ''  # virsh prints it without the namespace
v = {'mode': int(x.find(n + 'mode').text), 'state': int(x.find(n + 'state').text),
     'primary': x.find(n + 'primary').attrib,
     'points': [(p.get('id'), p.get('type'), p.get('checkpoint'), [d.get('file') for d in p])
                for p in x.iter(n + 'point')]}
print($1)"
}
autostart() { pvirsh dominfo "$VM" | awk '/^Autostart:/ {print $2}'; }
pstate() { pvirsh domstate "$VM" 2>/dev/null | head -1; }

out=$(dr enable-replication "$VM" --from "$PURI" --dir "$DIR" --nbd "127.0.0.1:$PORT" --yes 2>&1)
is "$?" 0 "enable-replication: exit 0"
write "$DEV_A" 0x31 4M 1M && out=$(dr replicate "$VM" 2>&1)
is "$?" 0 "a cycle: rp-0002"
pvirsh autostart "$VM" >/dev/null
is "$(autostart)" "enable" "the primary autostarts (before)"

# --- 1. the plan ----------------------------------------------------------------
out=$(dr failover "$VM" --planned --start --dry-run 2>&1)
is "$?" 0 "planned --dry-run: exit 0"
like "$out" "Plan: planned failover of $VM" "plan title"
like "$out" "primary: $VM on .* is running \(autostart on\)" "plan: the primary's state now"
like "$out" "1\. .*: shut $VM down gracefully \(up to 5 s" "step 1 on the primary: shutdown"
like "$out" "2\. .*: start $VM paused for the final cycle" "step 2 on the primary: start paused"
like "$out" "3\. .*: final cycle: point rp-0003 \(planned\), the changes since checkpoint drover\.2" \
    "step 3 on the DR host: the final cycle"
like "$out" "5\. .*: mark $VM prepared: autostart off, drover record mode 1 Primary, state 4" \
    "step 5 on the primary: marked prepared"
like "$out" "6\. .*: fail $VM over to rp-0003" "step 6 on the DR host: failover"
like "$out" "7\. .*: start $VM \(paused first for checkpoint drover\.3" "step 7: --start, with a checkpoint"
like "$out" "Dry run: nothing was changed" "dry run says so"
out=$(dr failover "$VM" --planned --dry-run --json 2>/dev/null)
is "$(json_get "$out" "d['plan']['operation'], d['plan']['point'], d['plan']['primary_power'], len(d['plan']['steps'])")" \
    "planned-failover rp-0003 running 7" "dry run JSON: operation, point, primary power, 7 steps"
is "$(pstate)" "running" "dry run: the primary still runs"
out=$(dr failover "$VM" --planned --point rp-0001 --yes 2>&1)
is "$?" 2 "--planned with --point: usage error"
out=$(dr failover "$VM" --start --yes 2>&1)
is "$?" 2 "--start without --planned: usage error"
out=$(dr failover "$VM" --planned </dev/null 2>&1)
is "$?" 2 "planned failover without --yes on a pipe: exit 2"
like "$out" "32773" "refused with 32773 (needs --yes)"

# --- 2. a primary that does not shut down: refused, nothing changed ------------
# The TCG guest runs no OS: it ignores the ACPI shutdown request.
SUMS=$(rp_sums "$DIR")
FILES=$(files)
REC=$(dvirsh dumpxml --inactive "$VM" | sed -n '/<drover:replica/,/<\/drover:replica>/p')
out=$(dr failover "$VM" --planned --yes 2>&1)
is "$?" 5 "primary ignores the shutdown: exit 5"
like "$out" "32772" "refused with 32772 (timeout)"
like "$out" "still running after 5 s" "says the primary still runs after the timeout"
like "$out" "nothing was changed" "says nothing was changed"
is "$(pstate)" "running" "the primary still runs"
is "$(autostart)" "enable" "its autostart is untouched"
pvirsh metadata "$VM" urn:drover:replica:1 >/dev/null 2>&1
ok $((! $?)) "the primary has no drover record"
is "$(rp_sums "$DIR")" "$SUMS" "DR layers unchanged"
is "$(files)" "$FILES" "no file added on the DR host"
is "$(dvirsh dumpxml --inactive "$VM" | sed -n '/<drover:replica/,/<\/drover:replica>/p')" "$REC" \
    "replica record unchanged"
is "$(checkpoints)" "drover.2 " "primary checkpoints unchanged"

# --- 3. the planned failover ----------------------------------------------------
# Data written on the primary just before, on both disks.
write "$DEV_A" 0x7c 5M 1M && write "$DEV_B" 0x7d 3M 512k
ok $? "last writes on the primary (vda 1 MiB 0x7c, vdb 512 KiB 0x7d)"
drl failover "$VM" --planned --start --yes --reason "planned drill" >"$T/planned.out" 2>&1 &
bg=$!
wait_for "$T/planned.out" "waiting for the primary $VM to shut down" 600
ok $? "drover waits for the primary to shut down"
# The guest powers off (it has no OS to do it on ACPI): SIGTERM, as a
# guest's own power-off ends qemu cleanly.
pvirsh destroy "$VM" --graceful >/dev/null
ok $? "the primary's guest powers off"
wait "$bg"
rc=$?
out=$(cat "$T/planned.out")
is "$rc" 0 "planned failover: exit 0"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
like "$out" "starting the primary $VM paused for the final cycle" "job: primary started paused"
like "$out" "rp-0003 \(planned\) of $VM" "job: final cycle made rp-0003, planned"
like "$out" "marking the primary $VM prepared" "job: primary marked"
like "$out" "Result: 0 " "result 0"
is "$(record "v['state'], v['failover_point'], [(p['id'], p['type']) for p in v['recovery_points']][-1]")" \
    "5 rp-0003 ('rp-0003', 'planned')" "replica: 5 Recovered on rp-0003, a planned point"
is "$(dvirsh domstate "$VM")" "running" "--start: the replica runs"
is "$(dvirsh checkpoint-list "$VM" --name 2>/dev/null | tr -d '\n')" "drover.3" \
    "--start: the replica has checkpoint drover.3 (the base of reverse replication)"
is "$(pstate)" "shut off" "the primary is off"
is "$(autostart)" "disable" "the primary's autostart is off"
is "$(primary_record "v['mode'], v['state'], v['points'][0][:3]")" "1 4 ('rp-0003', 'planned', 'drover.3')" \
    "primary record: mode 1 Primary, state 4 Synced, point rp-0003 with checkpoint drover.3"
is "$(primary_record "v['points'][0][3]")" "['$TOP/prim/vda.qcow2', '$TOP/prim/vdb.qcow2']" \
    "primary record: the point is the primary's own disks"
is "$(primary_record "v['primary']['uri'], v['primary']['name']")" "$DURI $VM" \
    "primary record names where the workload went"
is "$(checkpoints)" "drover.3 " "primary keeps checkpoint drover.3 only"
"$QEMU_IMG" check -q "$TOP/prim/vda.qcow2" && "$QEMU_IMG" check -q "$TOP/prim/vdb.qcow2"
ok $? "primary disks pass qemu-img check"
is "$("$QEMU_IMG" info --output=json "$TOP/prim/vda.qcow2" | python3 -c 'import json,sys
b=json.load(sys.stdin)["format-specific"]["data"].get("bitmaps", [])
print([(x["name"], "in-use" in x["flags"]) for x in b])')" "[('drover.3', False)]" \
    "the primary's bitmap drover.3 was stored cleanly (not in use)"
ls "$TOP/prim" | grep -q scratch
ok $((! $?)) "no scratch file left on the primary"
FO_A=$(dvirsh domblklist "$VM" --inactive | awk '$1 == "vda" {print $2}')
FO_B=$(dvirsh domblklist "$VM" --inactive | awk '$1 == "vdb" {print $2}')
like "$FO_A" "$DIR/vda\.failover-" "replica's vda is its failover overlay"
is "$(qemu_backing "$FO_A")" "$DIR/vda.rp-0003.qcow2" "the overlay is backed by rp-0003"
same "$FO_A" "$TOP/prim/vda.qcow2" && same "$FO_B" "$TOP/prim/vdb.qcow2"
ok $? "the failed-over replica reads exactly as the primary's disks (qemu-img compare)"
qemu-io -r -U -f qcow2 -c "read -P 0x7c 5M 1M" "$FO_A" 2>&1 | grep -q "Pattern verification failed"
ok $((! $?)) "the last write on vda is on the replica"
qemu-io -r -U -f qcow2 -c "read -P 0x7d 3M 512k" "$FO_B" 2>&1 | grep -q "Pattern verification failed"
ok $((! $?)) "the last write on vdb is on the replica"
# sha256 of a disk's bytes from OFFSET, LENGTH long (the hex dump's lines).
bytes_sum() { qemu-io -r -U -f qcow2 -c "read -v $2 $3" "$1" | grep -E '^[0-9a-f]{8}:' | sha256sum; }
s1=$(bytes_sum "$TOP/prim/vda.qcow2" 5M 1M)
s2=$(bytes_sum "$FO_A" 5M 1M)
is "$s2" "$s1" "sha256 of the last MiB written: the same on both sides"
like "$(grep "\"$VM\"" "$T/audit.log" | grep planned-failover | tail -1)" '"result": ?0' \
    "audit log has the planned failover with result 0"

# --- 4. refusals after it --------------------------------------------------------
out=$(dr failover "$VM" --planned --yes 2>&1)
is "$?" 3 "planned failover again: exit 3"
like "$out" "32775" "refused with 32775 (state 5)"
# An accidental start of the prepared primary: drover does not replicate
# from it.  (Back to 3 on the DR side first, so that only the primary
# refuses.)
dvirsh destroy "$VM" >/dev/null 2>&1
dr revert "$VM" --yes >/dev/null 2>&1
is "$(record "v['state']")" 3 "replica reverted to 3 (to test the cycle's refusal)"
pvirsh start "$VM" >/dev/null
ok $? "the prepared primary is started by hand (libvirt does not prevent it)"
SUMS=$(rp_sums "$DIR")
out=$(dr replicate "$VM" 2>&1)
is "$?" 3 "a cycle from the prepared primary: exit 3"
like "$out" "32775" "refused with 32775"
like "$out" "prepared for a planned failover" "says the primary is prepared"
is "$(rp_sums "$DIR")" "$SUMS" "nothing changed on the DR host"
pvirsh destroy "$VM" --graceful >/dev/null
out=$(dr failover "$VM" --planned --yes 2>&1)
is "$?" 3 "planned failover with the primary prepared already: exit 3"
like "$out" "prepared already .* drover failover $VM --point rp-0003" "says how to finish it"

# Reverse replication needs the replica failed over to the final point.
out=$("$DROVER" --config "$T/drover.conf" -c "$PURI" reverse-replication "$VM" --dir "$TOP/rev" --yes 2>&1)
is "$?" 3 "reverse-replication while the replica is not failed over: exit 3"
like "$out" "needs it failed over \(5 Recovered, or 6 Committed\) to the final point rp-0003" \
    "says the replica must be failed over to rp-0003"
is "$(primary_record "v['mode'], v['state']")" "1 4" "the primary stays prepared"
[ ! -e "$TOP/rev" ]
ok $? "no directory made"
out=$(dr reverse-replication nosuchvm --yes 2>&1)
is "$?" 2 "reverse-replication of an unknown VM: exit 2"
like "$out" "32773" "refused with 32773"

qemu_use prim
qemu_kill_libvirtd
qemu_use dr
out=$(dr failover "$VM" --planned --yes 2>&1)
is "$?" 5 "planned failover with the primary unreachable: exit 5"
like "$out" "32777" "refused with 32777"
like "$out" "fail over unplanned" "says to fail over unplanned"
is "$(record "v['state']")" 3 "replica still 3"

# The primary's libvirtd back, so that the cleanup removes its domain.
qemu_use prim
qemu_restart_libvirtd
ok $? "the primary's libvirtd is back (for the cleanup)"
qemu_save prim
qemu_stop_all >/dev/null 2>&1
done_testing
