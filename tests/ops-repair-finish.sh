#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# ops-repair-finish.sh: repair can always finish, and what a deleting
# operation can know before its switch it checks at plan time (issue 11,
# item 11).
#
# The neighbour: a domain nbr01 (not a replica) whose disk is a storage
# volume drover cannot resolve to a file (a directory pool's volume whose
# name is not a file name there), so drover cannot tell which files the
# domains on the host use.  Then:
#   - every deleting operation (revert, commit, commit --flatten, stop-test)
#     refuses at plan time, --dry-run too, with nothing changed and nothing
#     journaled; failover and test-failover, which delete nothing, go on;
#   - an operation interrupted after its switch (killed while paused there,
#     or by a fault) or before it, repaired while the neighbour is there:
#     repair finishes (exit 0), closes the journal, leaves the files it
#     cannot prove unused and lists each with why (text, --json, audit
#     log), and `check` names what is left;
#   - a planned deletion refused at repair time (a hard link appeared) is
#     left and listed the same way; a journal entry without an inode too;
#   - without the neighbour the same repair deletes (the test can fail).
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/ops-common.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 is needed to edit the fleet file"
command -v "$QEMU_IMG" >/dev/null 2>&1 || skip_all "qemu-img not found"
[ -x "$DROVER" ] || skip_all "drover not built"
mktemp_dir

# fresh NAME: a new demo fleet in $T/NAME; sets F and URI.
fresh() {
    F=$T/$1
    make_fleet "$F" || { echo "Bail out! cannot make a demo fleet"; exit 99; }
}

# add_neighbour: the domain nbr01 with a volume disk that cannot be
# resolved, and its pool, in the fleet file $F/fleet.xml.
add_neighbour() {
    mkdir -p "$F.pool"
    python3 - "$F/fleet.xml" "$F.pool" <<'EOP'
import sys
p, d = sys.argv[1:3]
s = open(p).read()
i = s.rindex("</node>")
s = s[:i] + (
    "<pool type='dir'><name>nbrpool</name><target><path>%s</path></target></pool>\n"
    "<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>"
    "<name>nbr01</name><uuid>d7000000-0000-4000-8000-0000000000ee</uuid>"
    "<memory unit='MiB'>512</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>"
    "<devices><disk type='volume' device='disk'><driver name='qemu' type='qcow2'/>"
    "<source pool='nbrpool' volume='sub/data.qcow2'/><target dev='vda' bus='virtio'/></disk>"
    "</devices><test:runstate>5</test:runstate></domain>\n" % d) + s[i:]
open(p, "w").write(s)
EOP
}

# remove_neighbour: nbr01 and its pool out of the fleet file again.
remove_neighbour() {
    python3 - "$F/fleet.xml" <<'EOP'
import re, sys
p = sys.argv[1]
s = open(p).read()
s = re.sub(r"<pool type=.dir.>\s*<name>nbrpool</name>.*?</pool>\n?", "", s, flags=re.S)
s = re.sub(r"<domain[^>]*>\s*<name>nbr01</name>.*?</domain>\n?", "", s, flags=re.S)
if "nbr01" in s or "nbrpool" in s:
    sys.exit("the neighbour is still in " + p)
open(p, "w").write(s)
EOP
}

# sums: every file of the fleet but the (empty) lock files a first
# operation leaves.
sums() {
    tree_sums "$F" | grep -v -e '/\.drover-[^/]*\.lock$' -e 'fleet\.xml\.lock$'
}

# interrupted VM: the interrupted operation `list --json` shows ("null": none).
interrupted() { vm_field "$1" interrupted_operation; }

# chain_ok FILE DESC: qemu-img check of every layer of FILE's chain.
chain_ok() {
    _layers=$("$QEMU_IMG" info --backing-chain --output=json "$1" 2>/dev/null |
        python3 -c 'import json, sys
for l in json.load(sys.stdin): print(l["filename"])')
    _bad=0
    for _l in $_layers; do
        "$QEMU_IMG" check -q "$_l" >/dev/null 2>&1 || _bad=1
    done
    [ -n "$_layers" ] && [ "$_bad" = 0 ]
    ok $? "$2: qemu-img check of $(basename "$1") and every layer under it"
}

audit() { cat "$T/audit.log" 2>/dev/null; }

# --- 1. Plan time: every deleting operation refuses, --dry-run too ---------
fresh plan
add_neighbour
for op in "revert web02" "commit web02" "commit hr01 --flatten" "stop-test crm01"; do
    sums >"$T/before"
    # shellcheck disable=SC2086
    run -c "$URI" $op --dry-run
    is "$rc" 7 "$op --dry-run with an unresolvable neighbour: exit 7"
    like "$err" "Result: 32776 " "$op --dry-run: result 32776"
    like "$err" "nbr01: pool nbrpool has no target path for volume sub/data.qcow2" \
        "$op --dry-run: names the neighbour's disk"
    # shellcheck disable=SC2086
    run -c "$URI" $op --yes
    is "$rc" 7 "$op with an unresolvable neighbour: refused before anything (exit 7)"
    like "$err" "deletes nothing" "$op: says it deletes nothing"
    sums >"$T/after"
    cmp -s "$T/before" "$T/after"
    ok $? "$op: nothing changed (every file byte-identical)"
done
is "$(interrupted web02)|$(interrupted hr01)|$(interrupted crm01)" "null|null|null" \
    "nothing was journaled"
run -c "$URI" failover web01 --dry-run
is "$rc" 0 "failover, which deletes nothing, is not blocked by the neighbour"
run -c "$URI" test-failover web03 --yes
is "$rc" 0 "test-failover, which deletes nothing, is not blocked by the neighbour"

# --- 2. Killed after its switch, repaired with the neighbour ----------------
fresh kill
ov=$(ls "$F"/vms/web02/vda.failover-*.qcow2)
newest=$F/vms/web02/vda.rp-0006.qcow2
start_paused revert:switched "$URI" revert web02
ok $? "revert of web02 paused after its switch"
jpid=$(head -1 "$T/paused")
add_neighbour
kill -KILL "$jpid" 2>/dev/null
ok $? "the job process ($jpid) killed after its switch"
wait "$bg"
is "$(interrupted web02)" "revert" "the revert is left interrupted"
run -c "$URI" repair web02 --yes
is "$rc" 0 "repair with the unresolvable neighbour finishes (exit 0)"
like "$out" "web02@fleet: repaired with warnings: left in place: " "repair says it left something"
like "$out" "left in place: $ov \(drover cannot prove that no domain uses it" "repair names the overlay and why"
like "$out" "nbr01: pool nbrpool has no target path" "... naming the neighbour's disk"
is "$(interrupted web02)" "null" "the journal is closed"
is "$(vm_field web02 state)" 3 "web02 is 3 Replicating"
[ -f "$ov" ]
ok $? "the overlay is still there"
like "$(audit | grep '"operation":"repair"' | tail -1)" \
    '"result":0,.*"message":"completed with warnings: left in place: .*failover-.*cannot prove' \
    "the audit line lists what was left"
run -c "$URI" check web02
like "$out" "Warning" "check: web02 is Warning, not Critical"
like "$out" "$ov lies in the replica directory but no record or disk names it" \
    "check names the overlay left"
chain_ok "$newest" "after the repair"
run -c "$URI" repair web02 --yes
is "$rc" 0 "a second repair has nothing to do"
like "$out" "nothing to repair" "... and says so"

# --- 2b. The neighbour appears while a revert waits after its switch ------
# (between the check under the lock and the deletion: a race, not
# knowable before): the revert keeps its journal and says to run repair,
# which finishes.
fresh race
ov=$(ls "$F"/vms/web02/vda.failover-*.qcow2)
start_paused revert:switched "$URI" revert web02
ok $? "revert of web02 paused after its switch"
add_neighbour
resume
isnt_zero=$([ "$rc" -ne 0 ] && echo yes)
is "$isnt_zero" yes "the revert fails after its switch (exit $rc)"
like "$err" "run drover repair web02" "it says to run repair"
is "$(interrupted web02)" "revert" "its journal stays"
[ -f "$ov" ]
ok $? "the overlay is not deleted"
run -c "$URI" repair web02 --yes
is "$rc" 0 "repair finishes"
like "$out" "left in place: $ov \(drover cannot prove" "it lists the overlay"
is "$(interrupted web02)|$(vm_field web02 state)" "null|3" "journal closed, web02 is 3"

# --- 3. Stopped before its switch, rolled back with the neighbour (--json) --
fresh pre
sums >"$T/pre.before"
DROVER_FAULT=failover:created drover -c "$URI" failover web01 --yes </dev/null >/dev/null 2>&1
is "$(interrupted web01)" "failover" "a failover of web01 stopped after creating its overlay"
ov=$(ls "$F"/vms/web01/vda.failover-*.qcow2)
add_neighbour
run -c "$URI" repair web01 --yes --json
is "$rc" 0 "repair (rollback) with the unresolvable neighbour finishes (exit 0)"
json_ok repair "$T/out" "repair --json follows doc/json.md"
is "$(jq_ "$T/out" 'd["result"], len(d["repaired"]), d["failed"]')" "(0, 1, [])" \
    "repair --json: result 0, web01 repaired"
like "$(jq_ "$T/out" 'd["repaired"][0]["warnings"]')" "^completed with warnings: left in place: $ov \(" \
    "repair --json: the overlay is listed as left"
like "$(jq_ "$T/out" 'd["repaired"][0]["warnings"]')" "cannot prove that no domain uses it" \
    "repair --json: with why"
is "$(interrupted web01)|$(vm_field web01 state)" "null|3" "journal closed, web01 back to 3"
[ -f "$ov" ]
ok $? "the overlay made before the interruption is still there"
run -c "$URI" check web01
like "$out" "$ov lies in the replica directory but no record or disk names it" \
    "check names the overlay left"
chain_ok "$F/vms/web01/vda.rp-0006.qcow2" "after the rollback"

# --- 4. stop-test after its switch: the test system goes, its files stay ----
fresh stop
tov=$(ls "$F"/vms/crm01/*.test-*.qcow2 | head -1)
DROVER_FAULT=stop-test:switched drover -c "$URI" stop-test crm01 --yes </dev/null >/dev/null 2>&1
is "$(interrupted crm01)" "stop-test" "a stop-test of crm01 stopped after its switch"
add_neighbour
run -c "$URI" repair crm01 --yes
is "$rc" 0 "repair of the stop-test with the unresolvable neighbour finishes"
like "$out" "left in place: $tov \(drover cannot prove" "the test overlay is listed as left"
is "$(interrupted crm01)|$(vm_field crm01-test name)" "null|missing" \
    "journal closed, the test system removed"
[ -f "$tov" ]
ok $? "the test overlay is still there"
run -c "$URI" check crm01
like "$out" "$tov lies in the replica directory" "check names the test overlay left"

# --- 5. Without the neighbour the same repair deletes ----------------------
remove_neighbour
ok $? "the neighbour removed from the fleet file"
run -c "$URI" revert web02 --dry-run
is "$rc" 0 "without the neighbour a revert plans again"
fresh plain
ov=$(ls "$F"/vms/web02/vda.failover-*.qcow2)
DROVER_FAULT=revert:switched drover -c "$URI" revert web02 --yes </dev/null >/dev/null 2>&1
run -c "$URI" repair web02 --yes --json
is "$(jq_ "$T/out" 'd["result"], d["repaired"][0]["warnings"]')" "(0, None)" \
    "a repair without a neighbour leaves nothing"
[ ! -e "$ov" ]
ok $? "... and deletes the overlay"

# --- 6. A deletion refused at repair time: left, listed, finished ----------
fresh hard
ov=$(ls "$F"/vms/web02/vda.failover-*.qcow2)
DROVER_FAULT=revert:switched drover -c "$URI" revert web02 --yes </dev/null >/dev/null 2>&1
ln "$ov" "$F/vms/web02/someone-elses-copy.qcow2"
run -c "$URI" repair web02 --yes
is "$rc" 0 "repair with a hard-linked overlay finishes"
like "$out" "left in place: $ov \(its deletion was refused: .*2 hard links" "it says why the overlay stays"
is "$(interrupted web02)|$(vm_field web02 state)" "null|3" "journal closed, web02 is 3"
[ -f "$ov" ] && [ -f "$F/vms/web02/someone-elses-copy.qcow2" ]
ok $? "both links are still there"

# --- 7. Commit after its switch: the newer point stays, listed --------------
fresh commit
rp6=$F/vms/web02/vda.rp-0006.qcow2
DROVER_FAULT=commit:switched drover -c "$URI" commit web02 --yes </dev/null >/dev/null 2>&1
is "$(interrupted web02)" "commit" "a commit of web02 stopped after its switch"
add_neighbour
run -c "$URI" repair web02 --yes
is "$rc" 0 "repair of the commit with the unresolvable neighbour finishes"
like "$out" "left in place: $rp6 \(drover cannot prove" "the newer recovery point is listed as left"
is "$(interrupted web02)|$(vm_field web02 state)" "null|6" "journal closed, web02 is 6 Committed"
[ -f "$rp6" ]
ok $? "the newer recovery point is still there"
run -c "$URI" check web02
like "$out" "$rp6 lies in the replica directory but no record or disk names it" \
    "check names the recovery point left"

done_testing
