#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# ops-qemu.sh: drover's operations against a real libvirt qemu driver (a
# private libvirtd, tests/qemu-lib.sh) on domains that really run (TCG):
# revert of a running failed-over VM (shut down, forced off after the
# timeout), initiate then boot from the overlay, test failover and stop-test
# of a running test system, refusals while the replica runs and on a
# read-only connection.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/qemu-lib.sh"

qemu_require
mktemp_dir
qemu_start

# json_list_get VM EXPR: EXPR on VM's object of `drover list --json` (as v).
json_list_get() {
    drover -c "$QURI" list --json 2>/dev/null |
        python3 -c "import json,sys
v=[o for o in json.load(sys.stdin) if o['name']=='$1']
v=v[0] if v else {}
print($2)"
}

# files VM: the names in the VM's directory (any file created or left behind shows).
files() { (cd "$T/vms/$1" && ls -A | grep -v '^domain.xml$'); }

# --- 1. revert of a running failed-over domain -------------------------------
A="dqa$$"
qemu_make_replica "$A" 5 rp-0002
ok $? "$A: replica defined (state 5, disk on a failover overlay on rp-0002)"
A_DIR=$VMDIR A_OVL=$OVERLAY
A_SUMS=$(rp_sums "$A_DIR")
qvirsh start "$A" >/dev/null
ok $? "$A: starts under the qemu driver (TCG)"
is "$(qemu_domstate "$A")" "running" "$A: running"
is "$(qemu_live_source "$A")" "$A_OVL" "$A: qemu has the failover overlay open"
is "$(json_list_get "$A" "v.get('state'), v.get('power')")" "5 running" \
    "$A: list shows 5 Recovered, running"

out=$(drover -c "$QURI" revert "$A" --yes --reason "qemu test" 2>&1)
rc=$?
is "$rc" 0 "revert of running $A: exit 0"
like "$out" "power: +running; action: shut down" "plan names the shut-down"
like "$out" "shutting down $A \(up to 5 s, then forced off\)" "job shows the shutting-down step"
like "$out" "waiting for $A to shut down" "job shows the wait"
like "$out" "$A forced off after 5 s" "a guest without an OS is forced off after the timeout"
like "$out" "Result: 0 " "result 0"
is "$(qemu_domstate "$A")" "shut off" "$A: off after revert"
is "$(qemu_disk_source "$A")" "$A_DIR/vda.rp-0003.qcow2" "$A: disk on the newest RP (rp-0003)"
[ ! -e "$A_OVL" ]
ok $? "$A: failover overlay deleted"
is "$(rp_sums "$A_DIR")" "$A_SUMS" "$A: RP and base files unchanged (sha256)"
is "$(json_list_get "$A" "v.get('state'), v.get('failover_point'), v.get('interrupted_operation'), v.get('health_name')")" \
    "3 None None Normal" "$A: record 3 Replicating, no failover, no journal, health Normal"
qvirsh dumpxml --inactive "$A" | grep -q "urn:drover:replica:1"
ok $? "$A: record still in the domain's metadata"
like "$(grep "\"$A\"" "$T/audit.log" | tail -1)" '"revert".*"result": ?0' "audit log has the revert with result 0"

# --- 2. initiate failover, boot from the overlay, revert again ---------------
B="dqb$$"
qemu_make_replica "$B" 3
ok $? "$B: replica defined (state 3, disk on rp-0003)"
B_DIR=$VMDIR
B_SUMS=$(rp_sums "$B_DIR")
j=$(drover -c "$QURI" failover "$B" --yes --json 2>/dev/null)
rc=$?
is "$rc" 0 "failover $B: exit 0"
is "$(json_get "$j" "d['result']")" 0 "failover $B: result 0"
B_OVL=$(json_get "$j" "d['plan']['create'][0]['path']")
like "$B_OVL" "^$B_DIR/vda\.failover-.*\.qcow2$" "overlay is created beside the chain"
[ -f "$B_OVL" ]
ok $? "overlay exists"
"$QEMU_IMG" check -q "$B_OVL" >/dev/null 2>&1
ok $? "overlay passes qemu-img check"
is "$(qemu_disk_source "$B")" "$B_OVL" "$B: definition points at the overlay"
is "$(json_list_get "$B" "v.get('state'), v.get('failover_point')")" "5 rp-0003" \
    "$B: record 5 Recovered at rp-0003 (newest by default)"
qvirsh start "$B" >/dev/null
ok $? "$B: virsh start works after failover"
is "$(qemu_domstate "$B")" "running" "$B: running"
is "$(qemu_live_source "$B")" "$B_OVL" "$B: qemu has the overlay open"
is "$(qemu_backing "$B_OVL")" "$B_DIR/vda.rp-0003.qcow2" "overlay's backing file is rp-0003 (qemu-img info -U)"
qvirsh destroy "$B" >/dev/null
ok $? "$B: stopped"
out=$(drover -c "$QURI" revert "$B" --yes 2>&1)
is "$?" 0 "revert of stopped $B: exit 0"
like "$out" "power: +shut off; action: none" "plan has no power action for a stopped VM"
[ ! -e "$B_OVL" ]
ok $? "$B: overlay deleted"
is "$(qemu_disk_source "$B")" "$B_DIR/vda.rp-0003.qcow2" "$B: disk back on rp-0003"

# Once more on an older point: the seed's promise (failover can be tried again).
j=$(drover -c "$QURI" failover "$B" --point rp-0001 --yes --json 2>/dev/null)
is "$?" 0 "failover $B --point rp-0001 after a revert: exit 0"
B_OVL=$(json_get "$j" "d['plan']['create'][0]['path']")
qvirsh start "$B" >/dev/null
ok $? "$B: boots again"
is "$(qemu_live_source "$B"):$(qemu_backing "$B_OVL")" "$B_OVL:$B_DIR/vda.rp-0001.qcow2" \
    "$B: runs on a new overlay backed by rp-0001"
qvirsh destroy "$B" >/dev/null
out=$(drover -c "$QURI" revert "$B" --yes 2>&1)
is "$?" 0 "second revert of $B: exit 0"
[ ! -e "$B_OVL" ]
ok $? "$B: second overlay deleted"
is "$(files "$B" | grep -c failover)" 0 "$B: no overlay left in the directory"
is "$(rp_sums "$B_DIR")" "$B_SUMS" "$B: RP and base files unchanged (sha256)"
is "$(json_list_get "$B" "v.get('state'), v.get('failover_point')")" "3 None" "$B: record 3 Replicating"

# --- 3. test failover, start the test system, stop-test while it runs --------
j=$(drover -c "$QURI" test-failover "$B" --yes --json 2>/dev/null)
is "$?" 0 "test-failover $B: exit 0"
is "$(json_get "$j" "d['result']")" 0 "test-failover $B: result 0"
BT_OVL=$(json_get "$j" "d['plan']['create'][0]['path']")
qvirsh dominfo "$B-test" >/dev/null 2>&1
ok $? "$B-test defined"
B_UUID=$(qvirsh domuuid "$B")
BT_UUID=$(qvirsh domuuid "$B-test")
[ -n "$BT_UUID" ] && [ "$BT_UUID" != "$B_UUID" ]
ok $? "$B-test has a UUID of its own"
is "$(qvirsh dumpxml --inactive "$B" | grep -c '<interface')" 1 "the replica has an interface"
is "$(qvirsh dumpxml --inactive "$B-test" | grep -c '<interface')" 0 "$B-test has no interfaces"
is "$(qemu_disk_source "$B-test")" "$BT_OVL" "$B-test's disk is the test overlay"
is "$(qemu_backing "$BT_OVL")" "$B_DIR/vda.rp-0003.qcow2" "test overlay on rp-0003"
is "$(qemu_disk_source "$B")" "$B_DIR/vda.rp-0003.qcow2" "replica's disk unchanged"
is "$(json_list_get "$B" "v.get('state'), v.get('test_system')")" "3 $B-test" \
    "$B: record keeps 3 Replicating and names the test system"
qvirsh start "$B-test" >/dev/null
ok $? "$B-test starts"
is "$(qemu_domstate "$B-test")" "running" "$B-test running"
is "$(qemu_live_source "$B-test")" "$BT_OVL" "$B-test runs on the test overlay"
out=$(drover -c "$QURI" stop-test "$B" --yes 2>&1)
rc=$?
is "$rc" 0 "stop-test $B while $B-test runs: exit 0"
like "$out" "powering off the test system $B-test" "stop-test shows the power-off step"
like "$out" "Result: 0 " "stop-test result 0"
qvirsh dominfo "$B-test" >/dev/null 2>&1
is "$?" 1 "$B-test destroyed and undefined"
[ -z "$(qemu_guest_pids)" ]
ok $? "no qemu process left running"
[ ! -e "$BT_OVL" ]
ok $? "test overlay deleted"
is "$(json_list_get "$B" "v.get('state'), v.get('test_system')")" "3 None" "$B: record 3, no test system"
is "$(rp_sums "$B_DIR")" "$B_SUMS" "$B: RP and base files unchanged (sha256)"

# --- 4. failover refused while the replica runs --------------------------------
qvirsh start "$B" >/dev/null
ok $? "$B (3 Replicating) started"
before_files=$(files "$B")
before_sums=$(rp_sums "$B_DIR")
before_xml=$(qvirsh dumpxml --inactive "$B")
out=$(drover -c "$QURI" failover "$B" --yes 2>&1)
rc=$?
is "$rc" 3 "failover of running $B: exit 3"
like "$out" "32775" "failover of running $B: 32775"
like "$out" "[Rr]unning|power" "the message says the VM runs"
is "$(files "$B")" "$before_files" "no file created or removed"
is "$(rp_sums "$B_DIR")" "$before_sums" "RP and base files unchanged"
is "$(qvirsh dumpxml --inactive "$B")" "$before_xml" "definition and record unchanged"
is "$(qemu_domstate "$B")" "running" "$B still running"
j=$(drover -c "$QURI" failover "$B" --yes --json 2>/dev/null)
is "$(json_get "$j" "d['result'], d['exit_status']")" "32775 3" "--json: result 32775, exit_status 3"
qvirsh destroy "$B" >/dev/null

# --- 7. read-only connection -----------------------------------------------------
C="dqc$$"
qemu_make_replica "$C" 5 rp-0003
ok $? "$C: replica defined (state 5)"
C_OVL=$OVERLAY
before_files=$(files "$C")
before_xml=$(qvirsh dumpxml --inactive "$C")
out=$(drover -c "$QURI" --readonly revert "$C" --yes 2>&1)
is "$?" 6 "--readonly revert: exit 6"
like "$out" "32769" "--readonly revert: 32769"
like "$out" "read-only" "--readonly revert: refused because the connection is read-only"
# A read-only connection can still read everything (libvirt refuses only
# the secure-XML flag there).
out=$(drover -c "$QURI" --readonly revert "$C" --dry-run 2>&1)
is "$?" 0 "--readonly revert --dry-run: the plan is shown"
like "$out" "deletes:" "--readonly --dry-run: plan lists the files to delete"
out=$(drover -c "$QURI" --readonly show "$C" 2>&1)
is "$?" 0 "--readonly show works"
like "$out" "vda.rp-0003.qcow2" "--readonly show: the chain is read"
drover -c "$QURI" --readonly check "$C" >/dev/null 2>&1
is "$?" 0 "--readonly check: Normal, exit 0"
[ -f "$C_OVL" ]
ok $? "overlay kept"
is "$(files "$C")" "$before_files" "no file created or removed"
is "$(qvirsh dumpxml --inactive "$C")" "$before_xml" "definition and record unchanged"
out=$(drover -c "$QURI" --readonly list 2>&1)
is "$?" 0 "--readonly list works"
like "$out" "$C +5 Recovered" "--readonly list shows $C"

qemu_stop
done_testing
