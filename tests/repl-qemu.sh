#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# repl-qemu.sh: replication between two private libvirtd daemons with the
# qemu driver (tests/qemu-lib.sh): a primary running a TCG domain with two
# qcow2 disks, and a DR host.  enable-replication and its initial copy,
# two cycles after distinct writes on both disks (each point reads as the
# primary did, older layers unchanged, a layer holds about what was
# written), and the refusals: replica running, failed over (and a cycle
# after revert), primary unreachable.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/qemu-lib.sh"

. "${top_srcdir:-.}/tests/repl-lib.sh"

# --- 1. enable-replication: plan, dry run, refusals before anything -----------
out=$(dr enable-replication "$VM" --from "$PURI" --dir "$DIR" --nbd "127.0.0.1:$PORT" --dry-run 2>&1)
is "$?" 0 "enable --dry-run: exit 0"
like "$out" "create: +$DIR/vda\.base\.qcow2" "plan names the base of vda"
like "$out" "create: +$DIR/vdb\.rp-0001\.qcow2" "plan names rp-0001 of vdb"
like "$out" "checkpoint drover\.1 \(full copy\)" "plan names checkpoint drover.1, a full copy"
like "$out" "Dry run: nothing was changed" "dry run says so"
dvirsh dominfo "$VM" >/dev/null 2>&1
ok $((! $?)) "dry run defined nothing on the DR host"
[ ! -e "$DIR" ]
ok $? "dry run created no directory"

out=$(dr enable-replication "$VM" --from "$PURI" --dir "$DIR" --nbd "127.0.0.1:$PORT" </dev/null 2>&1)
is "$?" 2 "enable without --yes on a pipe: exit 2"
like "$out" "32773" "refused with 32773 (needs --yes)"

out=$(dr enable-replication "$VM" --from "qemu+unix:///system?socket=$TOP/nosuch.sock" --dir "$DIR" --yes 2>&1)
is "$?" 5 "enable from an unreachable primary: exit 5"
like "$out" "32777" "refused with 32777 (not available)"
like "$out" "primary host .* cannot be reached" "says the primary cannot be reached"

out=$(dr enable-replication nosuchvm --from "$PURI" --dir "$DIR" --yes 2>&1)
is "$?" 2 "enable of a VM the primary does not have: exit 2"
like "$out" "32773" "refused with 32773"

# --- 2. enable: definition and initial copy -----------------------------------
out=$(dr enable-replication "$VM" --from "$PURI" --dir "$DIR" --nbd "127.0.0.1:$PORT" --yes --reason "repl test" 2>&1)
rc=$?
is "$rc" 0 "enable-replication: exit 0"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
like "$out" "defining the replica $VM \(state 1 Ready\)" "job defines the replica first"
like "$out" "copying vda" "job copies vda"
like "$out" "copying vdb" "job copies vdb"
like "$out" "Result: 0 " "result 0"
is "$(dvirsh domuuid "$VM")" "$(pvirsh domuuid "$VM")" "replica has the primary's UUID"
is "$(record "v['state'], v['mode'], [p['id'] for p in v['recovery_points']]")" \
    "3 2 ['rp-0001']" "record: 3 Replicating, mode 2, one point rp-0001"
dvirsh dumpxml --inactive "$VM" | grep -q "checkpoint=\"drover.1\""
ok $? "the point records checkpoint drover.1"
dvirsh dumpxml --inactive "$VM" | grep -qF "uri=\"$PURI\""
ok $? "the record names the primary's URI"
is "$(dvirsh domblklist "$VM" --inactive | awk '{print $1 "=" $2}' | tr '\n' ' ')" \
    "vda=$DIR/vda.rp-0001.qcow2 vdb=$DIR/vdb.rp-0001.qcow2 " "replica disks on rp-0001"
is "$(dvirsh domstate "$VM")" "shut off" "replica is off"
is "$(checkpoints)" "drover.1 " "primary has checkpoint drover.1"
is "$(pvirsh domjobinfo "$VM" 2>/dev/null | awk '/Job type/ {print $3}')" "None" \
    "no backup job left on the primary"
is "$(files)" "vda.base.qcow2 vda.rp-0001.qcow2 vdb.base.qcow2 vdb.rp-0001.qcow2 " \
    "DR directory: bases and rp-0001, no temporary file"
"$QEMU_IMG" check -q "$DIR/vda.rp-0001.qcow2" && "$QEMU_IMG" check -q "$DIR/vdb.base.qcow2"
ok $? "layers pass qemu-img check"
is "$(qemu_backing "$DIR/vda.rp-0001.qcow2")" "$DIR/vda.base.qcow2" "rp-0001 is backed by the base"
paused same "$DIR/vda.rp-0001.qcow2" "$TOP/prim/vda.qcow2"
ok $? "initial copy: vda reads as the primary (qemu-img compare)"
paused same "$DIR/vdb.rp-0001.qcow2" "$TOP/prim/vdb.qcow2"
ok $? "initial copy: vdb reads as the primary"
a=$(allocated "$DIR/vda.base.qcow2")
[ "$a" -ge $((5 * 1048576)) ] && [ "$a" -le $((5 * 1048576 + 262144)) ]
ok $? "the base of vda holds the 5 MiB of data, holes stay holes ($a bytes)"
is "$(allocated "$DIR/vda.rp-0001.qcow2")" 0 "rp-0001 is empty"
like "$(grep "\"$VM\"" "$T/audit.log" | grep enable-replication | tail -1)" '"result": ?0' \
    "audit log has the enable with result 0"

# --- 3. two cycles after distinct writes on both disks ------------------------
SUMS1=$(rp_sums "$DIR")
write "$DEV_A" 0x5a 1M 1M && write "$DEV_B" 0x5b 8M 512k && zero "$DEV_A" 40M 1M
ok $? "writes injected on vda and vdb (and zeroes over data on vda)"
paused same "$DIR/vda.rp-0001.qcow2" "$TOP/prim/vda.qcow2"
ok $((! $?)) "rp-0001 no longer reads as the primary"
out=$(dr replicate "$VM" 2>&1)
rc=$?
is "$rc" 0 "cycle 1: exit 0"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
like "$out" "changes since drover\.1" "cycle 1 plan: changes since drover.1"
like "$out" "rp-0002 \(standard\) of $VM: .* copied for 2 disks" "cycle 1 reports what it copied"
is "$(record "[p['id'] for p in v['recovery_points']], v['state']")" "['rp-0001', 'rp-0002'] 3" \
    "record: rp-0002 added, still 3"
is "$(dvirsh domblklist "$VM" --inactive | awk '{print $2}' | tr '\n' ' ')" \
    "$DIR/vda.rp-0002.qcow2 $DIR/vdb.rp-0002.qcow2 " "disks moved to rp-0002"
is "$(qemu_backing "$DIR/vdb.rp-0002.qcow2")" "$DIR/vdb.rp-0001.qcow2" "rp-0002 is backed by rp-0001"
paused same "$DIR/vda.rp-0002.qcow2" "$TOP/prim/vda.qcow2"
ok $? "cycle 1: vda at rp-0002 reads as the primary"
paused same "$DIR/vdb.rp-0002.qcow2" "$TOP/prim/vdb.qcow2"
ok $? "cycle 1: vdb at rp-0002 reads as the primary"
is "$(rp_sums "$DIR" | grep -v rp-0002)" "$SUMS1" "base and rp-0001 unchanged (sha256)"
a=$(allocated "$DIR/vda.rp-0002.qcow2")
[ "$a" -ge 1048576 ] && [ "$a" -le $((1048576 + 131072)) ]
ok $? "vda's rp-0002 holds about the 1 MiB written, the zeroes as zero clusters ($a bytes)"
a=$(allocated "$DIR/vdb.rp-0002.qcow2")
[ "$a" -ge 524288 ] && [ "$a" -le $((524288 + 131072)) ]
ok $? "vdb's rp-0002 holds about the 512 KiB written ($a bytes)"
is "$(checkpoints)" "drover.2 " "primary: drover.1 deleted after the switch, drover.2 kept"
is "$(pvirsh domjobinfo "$VM" 2>/dev/null | awk '/Job type/ {print $3}')" "None" \
    "backup job ended"

SUMS2=$(rp_sums "$DIR")
write "$DEV_A" 0x6a 20M 256k && write "$DEV_B" 0x6b 0 64k
ok $? "second writes injected"
out=$(dr replicate "$VM" --json 2>/dev/null)
is "$?" 0 "cycle 2: exit 0"
is "$(json_get "$out" "d['result'], d['plan']['point'], d['plan']['since'], d['job']['type']")" \
    "0 rp-0003 drover.2 110" "cycle 2 JSON: result 0, rp-0003 since drover.2, job type 110"
paused same "$DIR/vda.rp-0003.qcow2" "$TOP/prim/vda.qcow2"
ok $? "cycle 2: vda at rp-0003 reads as the primary"
paused same "$DIR/vdb.rp-0003.qcow2" "$TOP/prim/vdb.qcow2"
ok $? "cycle 2: vdb at rp-0003 reads as the primary"
is "$(rp_sums "$DIR" | grep -v rp-0003)" "$SUMS2" "base, rp-0001 and rp-0002 unchanged (sha256)"
# An older point still reads as the primary did at its cycle: rp-0002 does
# not have the second writes.
qemu-io -r -U -f qcow2 -c "read -P 0x5a 1M 1M" -c "read -P 0x11 20M 256k" "$DIR/vda.rp-0002.qcow2" 2>&1 |
    grep -q "Pattern verification failed"
ok $? "rp-0002 does not see the second writes"
qemu-io -r -U -f qcow2 -c "read -P 0x5a 1M 1M" -c "read -P 0x6a 20M 256k" -c "read -P 0 40M 1M" \
    "$DIR/vda.rp-0003.qcow2" 2>&1 | grep -q "Pattern verification failed"
ok $((! $?)) "rp-0003 sees both writes and the zeroes"
is "$(checkpoints)" "drover.3 " "primary keeps only drover.3"

# --- 4. refusals --------------------------------------------------------------
SUMS3=$(rp_sums "$DIR")
FILES3=$(files)
dvirsh start "$VM" >/dev/null
ok $? "the replica starts on the DR host"
out=$(dr replicate "$VM" 2>&1)
is "$?" 3 "cycle while the replica runs: exit 3"
like "$out" "32775" "refused with 32775"
like "$out" "running on the DR host" "says the replica runs"
dvirsh destroy "$VM" >/dev/null
qemu_wait_state_dr() {
    _n=0
    while [ "$(dvirsh domstate "$VM" 2>/dev/null | head -1)" != "shut off" ]; do
        [ "$_n" -ge 100 ] && return 1
        sleep 0.1
        _n=$((_n + 1))
    done
}
qemu_wait_state_dr
ok $? "replica off again"

# The primary keeps running for the cycles below: the split-brain guard is
# overridden on purpose (tests/repl-guard.sh tests the guard itself).
dr failover "$VM" --force --reason "drill: the primary keeps running" --yes >/dev/null 2>&1
is "$(record "v['state']")" 5 "failover: state 5 Recovered"
out=$(dr replicate "$VM" 2>&1)
is "$?" 3 "cycle while failed over: exit 3"
like "$out" "32775" "refused with 32775"
like "$out" "failed over \(state 5 Recovered\)" "says it is failed over"
dr revert "$VM" --yes >/dev/null 2>&1
is "$(record "v['state']")" 3 "revert: back to 3"
is "$(rp_sums "$DIR")" "$SUMS3" "refusals and the failover drill left every layer unchanged"
is "$(files)" "$FILES3" "no file added or left behind"
write "$DEV_B" 0x7b 2M 128k
out=$(dr replicate "$VM" 2>&1)
is "$?" 0 "a cycle after revert works: exit 0"
paused same "$DIR/vdb.rp-0004.qcow2" "$TOP/prim/vdb.qcow2"
ok $? "rp-0004 reads as the primary"

SUMS4=$(rp_sums "$DIR")
FILES4=$(files)
REC4=$(dvirsh dumpxml --inactive "$VM" | sed -n '/<drover:replica/,/<\/drover:replica>/p')
qemu_use prim
qemu_kill_libvirtd
ok $? "the primary's libvirtd is gone"
qemu_use dr
out=$(dr replicate "$VM" 2>&1)
is "$?" 5 "cycle with the primary unreachable: exit 5"
like "$out" "32777" "refused with 32777"
like "$out" "primary host .* cannot be reached" "says the primary cannot be reached"
is "$(rp_sums "$DIR")" "$SUMS4" "nothing changed on disk"
is "$(files)" "$FILES4" "no file added"
is "$(dvirsh dumpxml --inactive "$VM" | sed -n '/<drover:replica/,/<\/drover:replica>/p')" "$REC4" \
    "record unchanged"
printf '%s\n' "$out" | grep -q "^Job "
ok $((! $?)) "refused before any job started"
set_interval 1
# Due once the newest point is a whole second old (point times are whole
# seconds): wait for the clock, not a fixed time.
newest_t=$(record "__import__('calendar').timegm(__import__('time').strptime(v['recovery_points'][-1]['time'], '%Y-%m-%dT%H:%M:%SZ'))")
n=0
while [ "$(date +%s)" -le "$((newest_t + 1))" ] && [ $n -lt 100 ]; do
    sleep 0.1
    n=$((n + 1))
done
out=$(dr replicate --due 2>&1)
is "$?" 5 "--due with the primary unreachable: exit 5"
like "$out" "32777" "refused with 32777"
is "$(stat "v['failed'], v['last_failure_code'], v['succeeded']")" "2 32777 4" \
    "stats count the two cycles that could not start (32777: by hand and scheduled; not the refusals while failed over or running) and the 4 that made points"

qemu_stop_all >/dev/null 2>&1
done_testing
