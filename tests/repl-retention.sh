#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# repl-retention.sh: enable-replication --points 3, then five cycles after
# distinct writes: the oldest points are merged into the base (qemu-img
# commit, then the next point rebased onto the base), three points stay,
# and each still reads as the primary did at its cycle; a retention killed
# half way is finished by repair with every point unchanged.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/qemu-lib.sh"
. "${top_srcdir:-.}/tests/repl-lib.sh"

ids() { record "' '.join(p['id'] for p in v['recovery_points'])"; }
mkdir -p "$T/snap" || exit 99
# snap ID: the primary's disks as they are now (paused), kept to judge point ID later.
snap() {
    paused sh -c '"$1" convert -U -O qcow2 "$2/prim/vda.qcow2" "$3/snap/vda.$4.qcow2" &&
        "$1" convert -U -O qcow2 "$2/prim/vdb.qcow2" "$3/snap/vdb.$4.qcow2"' sh "$QEMU_IMG" "$TOP" "$T" "$1"
}
# reads_as ID: point ID of the replica reads as the primary did at its cycle.
reads_as() {
    same "$DIR/vda.$1.qcow2" "$T/snap/vda.$1.qcow2" && same "$DIR/vdb.$1.qcow2" "$T/snap/vdb.$1.qcow2"
}

out=$(dr enable-replication "$VM" --from "$PURI" --dir "$DIR" --nbd "127.0.0.1:$PORT" \
    --points 3 --yes 2>&1)
is "$?" 0 "enable --points 3: exit 0"
like "$out" "keep: +3 recovery points" "the plan says how many points are kept"
snap rp-0001
for k in 2 3 4 5 6; do
    write "$DEV_A" "0x$((k + 30))" "$((k * 3))M" 512k && write "$DEV_B" "0x$((k + 60))" "$((k * 2))M" 256k
    out=$(dr replicate "$VM" 2>&1)
    rc=$?
    is "$rc" 0 "cycle $k: exit 0"
    [ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
    snap "rp-000$k"
    if [ "$k" -ge 4 ]; then
        like "$out" "retention: merging rp-000$((k - 3)) into the base" "cycle $k merges rp-000$((k - 3))"
    fi
done
is "$(ids)" "rp-0004 rp-0005 rp-0006" "three points kept: rp-0004, rp-0005, rp-0006"
for id in rp-0004 rp-0005 rp-0006; do
    reads_as "$id"
    ok $? "$id still reads as the primary did at its cycle"
done
is "$(qemu_backing "$DIR/vda.rp-0004.qcow2")" "$DIR/vda.base.qcow2" "the oldest kept point sits on the base"
is "$( (cd "$DIR" && ls | grep -cE 'rp-000[123]') )" 0 "the merged layers are deleted"
is "$(record "v['interrupted_operation']")" "None" "no journal left"
for f in "$DIR"/*.qcow2; do "$QEMU_IMG" check -q -U "$f" || echo "bad $f"; done >"$T/check.out" 2>&1
is "$(cat "$T/check.out")" "" "every layer passes qemu-img check"

# A retention killed after the merge and the rebase, before its switch.
write "$DEV_A" 0x77 7M 128k
DROVER_FAULT=retain:rebased dr replicate "$VM" >/dev/null 2>&1
is "$?" 86 "retention killed after the rebase"
snap rp-0007
out=$(dr repair "$VM" --yes 2>&1)
is "$?" 0 "repair: exit 0"
is "$(ids)" "rp-0004 rp-0005 rp-0006 rp-0007" "rolled back: rp-0004 still listed"
for id in rp-0004 rp-0005 rp-0006 rp-0007; do
    reads_as "$id"
    ok $? "$id reads as before after the interrupted merge"
done
out=$(dr replicate "$VM" 2>&1)
is "$?" 0 "the next cycle: exit 0"
snap rp-0008
is "$(ids)" "rp-0006 rp-0007 rp-0008" "it merges what was pending: three points"
for id in rp-0006 rp-0007 rp-0008; do
    reads_as "$id"
    ok $? "$id reads as the primary did"
done

# Killed after the switch: repair deletes the merged layers.
write "$DEV_B" 0x78 9M 128k
DROVER_FAULT=retain:switched dr replicate "$VM" >/dev/null 2>&1
is "$?" 86 "retention killed after its switch"
snap rp-0009
out=$(dr repair "$VM" --yes 2>&1)
is "$?" 0 "repair: exit 0"
is "$(ids)" "rp-0007 rp-0008 rp-0009" "rolled forward: three points"
[ ! -e "$DIR/vda.rp-0006.qcow2" ] && [ ! -e "$DIR/vdb.rp-0006.qcow2" ]
ok $? "repair deleted the merged layers"
for id in rp-0007 rp-0008 rp-0009; do
    reads_as "$id"
    ok $? "$id reads as the primary did"
done

# A test system reads the base: no merge while it exists, and no journal left.
out=$(dr test-failover "$VM" --yes 2>&1)
is "$?" 0 "test-failover on the newest point"
write "$DEV_A" 0x79 11M 128k
out=$(dr replicate "$VM" 2>&1)
is "$?" 0 "a cycle while the test system exists: exit 0"
like "$out" "warning: older points not merged: .*test system" "it says why nothing was merged"
snap rp-0010
is "$(ids)" "rp-0007 rp-0008 rp-0009 rp-0010" "four points: none merged"
is "$(record "v['interrupted_operation']")" "None" "no journal left behind"
out=$(dr stop-test "$VM" --yes 2>&1)
is "$?" 0 "stop-test"
write "$DEV_B" 0x7a 13M 128k
out=$(dr replicate "$VM" 2>&1)
is "$?" 0 "the next cycle"
snap rp-0011
is "$(ids)" "rp-0009 rp-0010 rp-0011" "the pending merges done: three points"
for id in rp-0009 rp-0010 rp-0011; do
    reads_as "$id"
    ok $? "$id reads as the primary did"
done

# A domain here whose volume disk cannot be resolved: drover cannot tell
# which files the domains use, so retention merges nothing, and finds it
# out before its journal (issue 11, item 11): the cycle succeeds and
# says why, and no journal is left for repair.
NBR="nbr$$"
define_neighbour "$NBR"
ok $? "a neighbour whose volume disk cannot be resolved"
write "$DEV_A" 0x7b 15M 128k
out=$(dr replicate "$VM" 2>&1)
is "$?" 0 "a cycle with the neighbour: exit 0"
snap rp-0012
is "$(ids)" "rp-0009 rp-0010 rp-0011 rp-0012" "four points: none merged"
is "$(record "v['interrupted_operation']")" "None" "no journal left behind"
is "$(qemu_backing "$DIR/vda.rp-0010.qcow2")" "$DIR/vda.rp-0009.qcow2" "rp-0009 is neither merged nor unhooked"
for id in rp-0009 rp-0010 rp-0011 rp-0012; do
    reads_as "$id"
    ok $? "$id reads as the primary did"
done
dvirsh undefine "$NBR" >/dev/null
dvirsh pool-destroy "$NBR" >/dev/null
out=$(dr replicate "$VM" 2>&1)
is "$?" 0 "the neighbour gone: the next cycle"
is "$(ids)" "rp-0011 rp-0012 rp-0013" "the pending merges done: three points"
for f in "$DIR"/*.qcow2; do "$QEMU_IMG" check -q -U "$f" || echo "bad $f"; done >"$T/check.out" 2>&1
is "$(cat "$T/check.out")" "" "every layer passes qemu-img check"

qemu_stop_all >/dev/null 2>&1
done_testing
