#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# repl-diskfull.sh: the DR disk fills up during the initial copy (the
# replica's directory on a 3 MiB tmpfs, in a mount namespace of drover's
# own): the job fails with the full disk decoded, nothing of it is left
# (no layer, no temporary file, no backup job), the replica waits in state 2;
# with room made, replicate runs the initial copy and it reads as the
# primary.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/qemu-lib.sh"
. "${top_srcdir:-.}/tests/repl-lib.sh"

SMALL="$T/small"
mkdir -p "$SMALL" || exit 99
DIR="$SMALL/$VM"
# Everything that needs the small file system runs in one namespace; each
# result comes back as a line "name=value".
unshare -m --propagation private sh -c '
    small=$1 dir=$2 drover=$3 conf=$4 duri=$5 puri=$6 port=$7 vm=$8 qemu_img=$9
    mount -t tmpfs -o size=3m tmpfs "$small" || exit 1
    "$drover" --config "$conf" -c "$duri" enable-replication "$vm" --from "$puri" --dir "$dir" \
        --nbd "127.0.0.1:$port" --yes >"$small/../enable.out" 2>&1
    echo "enable_rc=$?"
    echo "files=$(cd "$dir" && ls -A | grep -v "^\.drover-" | tr "\n" " ")"
    echo "rec=$("$drover" --config "$conf" -c "$duri" show "$vm" --json 2>/dev/null | python3 -c "import json,sys
v=json.load(sys.stdin)
print(v[\"state\"], v[\"interrupted_operation\"], len(v[\"recovery_points\"]))")"
    echo "job=$("${10}" -q -c "$puri" domjobinfo "$vm" 2>/dev/null | awk "/Job type/ {print \$3}")"
    mount -o remount,size=64m "$small" || exit 1
    "$drover" --config "$conf" -c "$duri" replicate "$vm" >"$small/../again.out" 2>&1
    echo "again_rc=$?"
    "$qemu_img" compare -q -U "$dir/vda.rp-0001.qcow2" "$small/../prim/vda.qcow2" >/dev/null 2>&1
    echo "vda_same=$?"
    "$qemu_img" compare -q -U "$dir/vdb.rp-0001.qcow2" "$small/../prim/vdb.qcow2" >/dev/null 2>&1
    echo "vdb_same=$?"
    umount "$small"
' sh "$SMALL" "$DIR" "$DROVER" "$T/drover.conf" "$DURI" "$PURI" "$PORT" "$VM" "$QEMU_IMG" \
    "$VIRSH" >"$T/ns.out" 2>&1 &
# Nothing writes to the primary: the copy compared inside is its state.
wait $!
ok $? "the namespace script ran"
get() { sed -n "s/^$1=//p" "$T/ns.out"; }
out=$(cat "$T/enable.out")
is "$(get enable_rc)" 1 "initial copy onto a full disk: exit 1 (32778)"
like "$out" "32778" "decoded as 32778"
like "$out" "No space left on device" "the cause names the full disk"
is "$(get files)" "" "no layer and no temporary file left on the DR disk"
is "$(get rec)" "2 None 0" "the replica waits in state 2, no journal, no point"
is "$(get job)" "None" "no backup job left on the primary"
is "$(get again_rc)" 0 "with room made, replicate runs the initial copy: exit 0"
is "$(get vda_same) $(get vdb_same)" "0 0" "vda and vdb read as the primary"
is "$(record "v['state'], v['newest_point']")" "3 rp-0001" "state 3, rp-0001"
is "$(checkpoints)" "drover.1 " "the primary keeps only drover.1"

qemu_stop_all >/dev/null 2>&1
done_testing
