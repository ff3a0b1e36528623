#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# repl-large.sh: a cycle on a disk larger than one block-status request
# (vdb of 10 GiB: three spans of 4 GiB less 64 KiB, asked in flight
# together): writes in every span, on both sides of a span's end and at the
# disk's end reach the new point, which reads as the primary and holds just
# the bytes written; a cycle with nothing written moves nothing.
REPL_VDB_SIZE=10G
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/qemu-lib.sh"
. "${top_srcdir:-.}/tests/repl-lib.sh"

out=$(dr enable-replication "$VM" --from "$PURI" --dir "$DIR" --nbd "127.0.0.1:$PORT" --yes 2>&1)
rc=$?
is "$rc" 0 "enable-replication with a 10 GiB vdb: exit 0"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
paused same "$DIR/vdb.rp-0001.qcow2" "$TOP/prim/vdb.qcow2"
ok $? "vdb at rp-0001 reads as the primary"

# A span is 0xffff0000 bytes: 4294901760.  Writes of 64 KiB each.
SPAN=4294901760
write "$DEV_B" 0x51 1G 64k &&
    write "$DEV_B" 0x52 $((SPAN - 65536)) 64k &&
    write "$DEV_B" 0x53 $SPAN 64k &&
    write "$DEV_B" 0x54 $((SPAN * 2 - 32768)) 64k &&
    write "$DEV_B" 0x55 $((SPAN * 2 + 1048576)) 64k &&
    write "$DEV_B" 0x56 $((10 * 1073741824 - 65536)) 64k
ok $? "six writes of 64 KiB on vdb: in each span, around both span ends, at the disk's end"
out=$(dr replicate "$VM" 2>&1)
rc=$?
is "$rc" 0 "a cycle: exit 0"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
paused same "$DIR/vdb.rp-0002.qcow2" "$TOP/prim/vdb.qcow2"
ok $? "vdb at rp-0002 reads as the primary"
# The write across a 64 KiB boundary dirties two clusters of the bitmap.
is "$(allocated "$DIR/vdb.rp-0002.qcow2")" $((7 * 65536)) \
    "the layer holds just the 7 clusters of 64 KiB written to"
is "$(stat "v['last_size']")" $((7 * 65536)) "the cycle moved those 448 KiB"

out=$(dr replicate "$VM" 2>&1)
is "$?" 0 "a cycle with nothing written: exit 0"
is "$(stat "v['last_size']")" 0 "it moved nothing"
is "$(allocated "$DIR/vdb.rp-0003.qcow2")" 0 "its layer holds nothing"
paused same "$DIR/vdb.rp-0003.qcow2" "$TOP/prim/vdb.qcow2"
ok $? "vdb at rp-0003 reads as the primary"
is "$(system_jobs_of_this_test)" 0 "the system's job history holds no job of this test"

qemu_stop_all >/dev/null 2>&1
done_testing
