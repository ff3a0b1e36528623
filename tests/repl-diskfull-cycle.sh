#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# repl-diskfull-cycle.sh: the DR disk fills up during an incremental cycle.
# The replica's directory is on a small tmpfs (the whole test runs in a
# mount namespace of its own); after the initial copy a file of the test
# takes all but 1 MiB, and the cycle has 4 MiB of dirty data: it fails with
# the full disk decoded (32778, naming the directory), its .tmp layer is
# removed, the record and every earlier point are unchanged (sha256), the
# backup job is ended, health says why (Critical after three failures in a
# row, "DR disk full"); with the space freed, the next cycle makes the point
# and it reads as the primary.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/qemu-lib.sh"
qemu_require
if [ -z "${REPL_DISKFULL_NS:-}" ]; then
    # The tmpfs is mounted in this namespace only; the daemons the test
    # starts have theirs, and do not read the replica's files.
    REPL_DISKFULL_NS=1 exec unshare -m --propagation private sh "$0" "$@"
fi
. "${top_srcdir:-.}/tests/repl-lib.sh"

SMALL="$TOP/small"
mkdir -p "$SMALL" && mount -t tmpfs -o size=32m tmpfs "$SMALL"
ok $? "a 32 MiB tmpfs for the DR directory"
DIR="$SMALL/$VM"
trap 'qemu_stop_all >/dev/null 2>&1; umount "$SMALL" 2>/dev/null' EXIT

out=$(dr enable-replication "$VM" --from "$PURI" --dir "$DIR" --nbd "127.0.0.1:$PORT" --yes 2>&1)
rc=$?
is "$rc" 0 "enable-replication onto the tmpfs: exit 0"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
write "$DEV_A" 0x31 1M 256k
out=$(dr replicate "$VM" 2>&1)
is "$?" 0 "a first cycle: exit 0 (rp-0002)"

# A file of the test's takes all but 1 MiB of the tmpfs.
avail=$(df -B1 --output=avail "$SMALL" | tail -1 | tr -dc 0-9)
fallocate -l $((avail - 1048576)) "$SMALL/filler"
ok $? "the tmpfs is full but for 1 MiB"
# 4 MiB of dirty data on vda, 1 MiB on vdb.
write "$DEV_A" 0x41 20M 4M && write "$DEV_B" 0x42 4M 1M
ok $? "4 MiB written on vda, 1 MiB on vdb"

sums=$(rp_sums "$DIR")
xml=$(dvirsh dumpxml --inactive --security-info "$VM")
before=$(files)
out=$(dr replicate "$VM" 2>&1)
rc=$?
is "$rc" 1 "the cycle onto the full disk: exit 1"
like "$out" "32778" "decoded as 32778"
like "$out" "No space left on device" "the cause is the full disk"
like "$out" "cause: .*$DIR/\.vda\.rp-0003\.qcow2\.tmp-.*No space left on device" \
    "the cause names the layer in the replica's directory"
like "$out" "Free space in the replica directory of $VM" "the next step: free space in the replica directory"
is "$(files)" "$before" "its .tmp layer is removed: the directory holds what it held"
is "$(ls -A "$DIR" | grep -c 'tmp')" 0 "no temporary file left"
is "$(rp_sums "$DIR")" "$sums" "every earlier point and the base are unchanged (sha256)"
is "$(dvirsh dumpxml --inactive --security-info "$VM")" "$xml" "the definition and its record are unchanged"
is "$(record "v['state'], v['newest_point'], v['interrupted_operation']")" "3 rp-0002 None" \
    "state 3, newest point rp-0002, no journal"
is "$(pvirsh domjobinfo "$VM" 2>/dev/null | awk '/Job type/ {print $3}')" "None" \
    "no backup job left on the primary"
# The failed cycle's checkpoint stays on the primary, recorded by no point:
# the next cycle deletes it first (libvirt merges its bitmap into drover.2).
is "$(checkpoints)" "drover.2 drover.3 " "the primary keeps drover.2 and the failed cycle's drover.3"
is "$(record "v['recovery_points'][-1]['checkpoint']")" "drover.2" "the newest point still records drover.2"
like "$(dr show "$VM" 2>&1)" "last cycle failed \(1 in a row, DR disk full\): 32778" \
    "show: the failed cycle, decoded (DR disk full)"

dr replicate "$VM" >/dev/null 2>&1
dr replicate "$VM" >/dev/null 2>&1
out=$(dr check "$VM" 2>&1)
is "$?" 7 "three failed cycles in a row: check exits 7 (Critical)"
like "$out" "last 3 replication cycles failed \(DR disk full\)" "check says why: DR disk full"
is "$(record "v['health_name'], v['replication']['failed_in_a_row'], v['replication']['last_failure_kind']")" \
    "Critical 3 DR disk full" "show --json: Critical, 3 in a row, DR disk full"
is "$(rp_sums "$DIR")" "$sums" "after three failures the points are still unchanged"
is "$(files)" "$before" "and nothing was left behind"

# Space freed: the next cycle makes the point.
rm -f "$SMALL/filler"
out=$(dr replicate "$VM" 2>&1)
rc=$?
is "$rc" 0 "with the space freed, the next cycle: exit 0"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
is "$(record "v['newest_point'], v['health_name'], v['replication']['failed_in_a_row']")" \
    "rp-0003 Normal 0" "rp-0003, health Normal, no failure in a row"
paused same "$DIR/vda.rp-0003.qcow2" "$TOP/prim/vda.qcow2"
ok $? "vda at rp-0003 reads as the primary"
paused same "$DIR/vdb.rp-0003.qcow2" "$TOP/prim/vdb.qcow2"
ok $? "vdb at rp-0003 reads as the primary"
is "$(checkpoints)" "drover.3 " "the primary keeps only drover.3"
is "$(system_jobs_of_this_test)" 0 "the system's job history holds no job of this test"

qemu_stop_all >/dev/null 2>&1
umount "$SMALL"
done_testing
