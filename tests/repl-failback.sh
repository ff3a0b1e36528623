#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# repl-failback.sh: the round trip between two private libvirtd daemons
# (tests/repl-lib.sh), primary -> DR -> primary, with distinct writes on
# each side: planned failover to the DR host, reverse replication (the old
# primary's disks reused as the base, nothing copied), cycles DR -> old
# primary, planned failover back (failback), reverse replication again,
# cycles in the final direction.  Every byte where it belongs
# (qemu-img compare, patterns, sha256), the refusal of reverse on the
# wrong host, and a prepared primary whose disks were written: copied in
# full, its disks kept.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/qemu-lib.sh"

. "${top_srcdir:-.}/tests/repl-lib.sh"

sed 's/^shutdown_timeout = .*/shutdown_timeout = 120;/' "$T/drover.conf" >"$T/long.conf"
pr() { "$DROVER" --config "$T/long.conf" -c "$PURI" "$@"; }
dl() { "$DROVER" --config "$T/long.conf" -c "$DURI" "$@"; }
reverse_setup
# planned URI_RUNNER OTHER_VIRSH LOG: a planned failover run with RUNNER (pr
# or dl) whose primary the test powers off when drover waits for it (the
# TCG guest has no OS to act on the ACPI request).
planned() {
    "$1" failover "$VM" --planned --start --yes --reason "failback drill" >"$3" 2>&1 &
    _bg=$!
    wait_for "$3" "waiting for the primary $VM to shut down" 600 && "$2" destroy "$VM" --graceful >/dev/null
    wait "$_bg"
}
sha() { sha256sum "$1" | cut -c1-16; }

out=$(dr enable-replication "$VM" --from "$PURI" --dir "$DIR" --nbd "127.0.0.1:$PORT" --yes 2>&1)
is "$?" 0 "enable-replication prod -> dr: exit 0"
write "$DEV_A" 0x31 4M 1M && out=$(dr replicate "$VM" 2>&1)
is "$?" 0 "a cycle prod -> dr (rp-0002)"

# --- 1. planned failover prod -> dr ---------------------------------------------
write "$DEV_A" 0x41 6M 1M && write "$DEV_B" 0x42 2M 256k
ok $? "last writes on prod (vda 0x41 at 6M, vdb 0x42 at 2M)"
planned dl pvirsh "$T/p1.out"
is "$?" 0 "planned failover to dr: exit 0"
is "$(rec_on "$DURI" "v['state'], v['failover_point']")" "5 rp-0003" "dr: 5 Recovered on rp-0003"
is "$(dvirsh domstate "$VM")" "running" "dr: the VM runs"
DRA=$(src dvirsh vda)
DRB=$(src dvirsh vdb)
has "$DRA" 0x41 6M 1M && has "$DRB" 0x42 2M 256k
ok $? "dr: prod's last writes are there"
diag "transcript: planned failover prod -> dr: rp-0003 vda $(sha "$DIR/vda.rp-0003.qcow2") vdb $(sha "$DIR/vdb.rp-0003.qcow2")"

# The drill commits the failover first (reverse works after 5 or 6; the
# failback below reverses from 5).
out=$(dr commit "$VM" --yes 2>&1)
is "$?" 0 "dr: commit the failover (6 Committed)"
is "$(rec_on "$DURI" "v['state'], [p['id'] for p in v['recovery_points']]")" "6 ['rp-0003']" \
    "dr: 6 Committed, rp-0003 the only point"

# --- 2. reverse replication: prod becomes dr's replica ---------------------------
out=$(dr reverse-replication "$VM" --yes 2>&1)
is "$?" 3 "reverse on the DR host: exit 3"
like "$out" "run reverse-replication on the old primary's host" "says where to run it"
SUMP=$(sha256sum "$TOP/prim/vda.qcow2" "$TOP/prim/vdb.qcow2")
out=$(pr reverse-replication "$VM" --dir "$REV" --nbd "127.0.0.1:$PORT2" --dry-run 2>&1)
is "$?" 0 "reverse --dry-run on prod: exit 0"
like "$out" "base: +vda: $TOP/prim/vda\.qcow2 holds rp-0003 \(bitmap drover\.3 consistent, nothing written since\): reused in place, nothing copied" \
    "plan: prod's vda proven to hold rp-0003, reused"
like "$out" "1\. .*mode 1 Primary, state 4 Synced.* -> mode 2 Replica, state 3 Replicating" "plan: prod side"
like "$out" "2\. .*mode 2 Replica, state 6 Committed -> mode 1 Primary, state 3 Replicating" "plan: dr side"
out=$(pr reverse-replication "$VM" --dir "$REV" --nbd "127.0.0.1:$PORT2" --dry-run --json 2>/dev/null)
is "$(json_get "$out" "d['result'], d['plan']['operation'], d['plan']['point'], [b['file'] for b in d['plan']['base']], d['job']")" \
    "0 reverse-replication rp-0003 ['$TOP/prim/vda.qcow2', '$TOP/prim/vdb.qcow2'] None" \
    "reverse --dry-run --json: the plan with the base reused"
is "$(json_get "$out" "d['plan']['full'], d['plan']['why'], d['plan']['keep']")" "False None []" \
    "reverse --dry-run --json: proven, no full copy"
is "$(rec_on "$PURI" "v['mode'], v['state']")" "1 4" "dry run: prod still prepared"
out=$(pr reverse-replication "$VM" --dir "$REV" --nbd "127.0.0.1:$PORT2" --yes --reason drill 2>&1)
rc=$?
is "$rc" 0 "reverse-replication on prod: exit 0"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
is "$(rec_on "$PURI" "v['mode'], v['state'], [p['id'] for p in v['recovery_points']]")" "2 3 ['rp-0003']" \
    "prod: mode 2 Replica, state 3, first point rp-0003"
is "$(rec_on "$DURI" "v['mode'], v['state']")" "1 3" "dr: mode 1 Primary, state 3"
is "$(sha256sum "$TOP/prim/vda.qcow2" "$TOP/prim/vdb.qcow2")" "$SUMP" \
    "prod's disks untouched by the reverse (sha256)"
is "$(pvirsh checkpoint-list "$VM" --name 2>/dev/null | tr -d '\n')" "" \
    "prod: checkpoints of the old direction forgotten"

# --- 3. the workload runs on dr; cycles dr -> prod ---------------------------------
dwrite "$DEV_A" 0x51 7M 1M && dwrite "$DEV_B" 0x52 5M 128k
ok $? "writes on dr (vda 0x51 at 7M, vdb 0x52 at 5M)"
out=$(pr replicate "$VM" 2>&1)
rc=$?
is "$rc" 0 "cycle dr -> prod: exit 0"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
like "$out" "changes since drover\.3" "the cycle copies the changes since the failover's checkpoint"
is "$(qemu_backing "$REV/vda.rp-0004.qcow2")" "$TOP/prim/vda.qcow2" "rp-0004 is backed by prod's own disk"
dvirsh suspend "$VM" >/dev/null
same "$REV/vda.rp-0004.qcow2" "$DRA" && same "$REV/vdb.rp-0004.qcow2" "$DRB"
ok $? "prod's rp-0004 reads as dr's disks (qemu-img compare)"
dvirsh resume "$VM" >/dev/null
a=$(allocated "$REV/vda.rp-0004.qcow2")
[ "$a" -ge 1048576 ] && [ "$a" -le $((1048576 + 262144)) ]
ok $? "rp-0004 holds about the 1 MiB dr wrote, not a full copy ($a bytes)"
diag "transcript: cycle dr -> prod: rp-0004 vda $(sha "$REV/vda.rp-0004.qcow2") ($a bytes of data) vdb $(sha "$REV/vdb.rp-0004.qcow2")"

# --- 4. failback: planned failover dr -> prod ----------------------------------------
dwrite "$DEV_A" 0x53 8M 512k
ok $? "a last write on dr (vda 0x53 at 8M)"
planned pr dvirsh "$T/p2.out"
rc=$?
is "$rc" 0 "planned failover back to prod: exit 0"
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/p2.out"
is "$(rec_on "$PURI" "v['state'], v['failover_point']")" "5 rp-0005" "prod: 5 Recovered on rp-0005"
is "$(pvirsh domstate "$VM")" "running" "prod: the VM runs again"
is "$(dvirsh domstate "$VM")" "shut off" "dr: off"
is "$(dvirsh dominfo "$VM" | awk '/^Autostart:/ {print $2}')" "disable" "dr: autostart off"
PA=$(src pvirsh vda)
PB=$(src pvirsh vdb)
same "$PA" "$DRA" && same "$PB" "$DRB"
ok $? "prod's disks read exactly as dr's at its shutdown (qemu-img compare)"
has "$PA" 0x53 8M 512k && has "$PA" 0x51 7M 1M && has "$PB" 0x52 5M 128k && has "$PA" 0x41 6M 1M
ok $? "prod has dr's writes and its own last ones"
diag "transcript: failback dr -> prod: rp-0005 vda $(sha "$REV/vda.rp-0005.qcow2") vdb $(sha "$REV/vdb.rp-0005.qcow2")"

# --- 5. reverse again: dr is prod's replica, cycles in the final direction ------------
out=$(dl reverse-replication "$VM" --dir "$DIR" --nbd "127.0.0.1:$PORT" --yes 2>&1)
rc=$?
is "$rc" 0 "reverse-replication on dr: exit 0"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
is "$(rec_on "$DURI" "v['mode'], v['state'], [p['id'] for p in v['recovery_points']]")" "2 3 ['rp-0005']" \
    "dr: mode 2 Replica, state 3, first point rp-0005"
is "$(rec_on "$PURI" "v['mode'], v['state']")" "1 3" "prod: mode 1 Primary, state 3"
write "$DEV_A" 0x61 9M 1M && write "$DEV_B" 0x62 6M 64k
ok $? "writes on prod (vda 0x61 at 9M, vdb 0x62 at 6M)"
out=$(dr replicate "$VM" 2>&1)
is "$?" 0 "cycle prod -> dr: exit 0 (rp-0006)"
write "$DEV_A" 0x63 10M 256k
out=$(dr replicate "$VM" 2>&1)
is "$?" 0 "another cycle prod -> dr: exit 0 (rp-0007)"
is "$(qemu_backing "$DIR/vda.rp-0006.qcow2")" "$DRA" "rp-0006 is backed by dr's own disk (its failover layer)"
paused same "$DIR/vda.rp-0007.qcow2" "$PA"
ok $? "dr's rp-0007 reads as prod's vda (qemu-img compare)"
paused same "$DIR/vdb.rp-0007.qcow2" "$PB"
ok $? "dr's rp-0007 reads as prod's vdb"
F=$DIR/vda.rp-0007.qcow2
has "$F" 0x11 0 2M && has "$F" 0x31 4M 1M && has "$F" 0x41 6M 1M && has "$F" 0x51 7M 1M &&
    has "$F" 0x53 8M 512k && has "$F" 0x61 9M 1M && has "$F" 0x63 10M 256k
ok $? "every write of the round trip is in dr's newest point (prod, dr, prod)"
has "$DIR/vda.rp-0006.qcow2" 0x63 10M 256k
ok $((! $?)) "rp-0006 does not have the last write (each point as at its cycle)"
"$QEMU_IMG" check -q "$DIR/vda.rp-0007.qcow2" && "$QEMU_IMG" check -q -U "$PA"
ok $? "layers pass qemu-img check"
diag "transcript: cycles prod -> dr after failback: rp-0006 vda $(sha "$DIR/vda.rp-0006.qcow2") rp-0007 vda $(sha "$DIR/vda.rp-0007.qcow2") vdb $(sha "$DIR/vdb.rp-0007.qcow2")"

# --- 6. a prepared primary whose disks were written: a full copy, its disks kept ---------
planned dl pvirsh "$T/p3.out"
is "$?" 0 "another planned failover to dr: exit 0"
pvirsh start "$VM" >/dev/null && write "$DEV_A" 0x71 11M 64k && pvirsh destroy "$VM" --graceful >/dev/null
ok $? "the prepared primary started by hand and written to"
SUM6=$(sha256sum "$PA" "$PB")
DRA=$(src dvirsh vda)
DRB=$(src dvirsh vdb)
out=$(pr reverse-replication "$VM" --dir "$REV" --nbd "127.0.0.1:$PORT2" --dry-run 2>&1)
is "$?" 0 "reverse --dry-run of a written prepared primary: exit 0"
like "$out" "full: +the old primary's disk cannot be proven equal: disk vda of $VM \\($PA\\) has [0-9]+ bytes written since the final point rp-0008 .*; copying in full" \
    "plan: its disk cannot be proven equal (written since rp-0008): a full copy"
like "$out" "keep: +vda: $PA \\(the old primary's disk, not trusted as base\\): left in place" \
    "plan: the written disk is kept in place"
# Its checkpoint gone too (libvirt forgot it): that is said first.
pvirsh checkpoint-delete "$VM" drover.8 --metadata >/dev/null
ok $? "prod: checkpoint drover.8 forgotten by libvirt (metadata only)"
out=$(pr reverse-replication "$VM" --dir "$REV" --nbd "127.0.0.1:$PORT2" --dry-run 2>&1)
is "$?" 0 "reverse --dry-run without the checkpoint: exit 0"
like "$out" "cannot be proven equal: checkpoint drover\.8 of the final point rp-0008 is gone from $VM here; copying in full" \
    "plan: the checkpoint is gone: a full copy"
# Killed between its two defines: the same command runs the steps left.
DROVER_FAULT=reverse:here pr reverse-replication "$VM" --dir "$REV" --nbd "127.0.0.1:$PORT2" \
    --yes >"$T/k.out" 2>&1
rc=$?
ok "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" "reverse killed after its first define: non-zero exit ($rc)"
is "$(rec_on "$PURI" "v['mode'], v['state'], v['recovery_points']")" "2 1 []" \
    "killed: prod is the replica already, no point yet"
is "$(rec_on "$DURI" "v['mode'], v['state']")" "2 5" "killed: dr is still the failed-over replica"
out=$(pr reverse-replication "$VM" --dry-run 2>&1)
is "$?" 0 "reverse --dry-run after the kill: exit 0"
like "$out" "resume: +an interrupted reverse replication: $VM here is its replica already \\(mode 2 Replica, state 1 Ready.*no point yet" \
    "plan: the steps left of the interrupted reverse"
like "$out" "3\\. .*the initial copy" "plan: the initial copy is left"
out=$(pr reverse-replication "$VM" --yes 2>&1)
rc=$?
is "$rc" 0 "reverse of a written prepared primary: a full copy (resumed), exit 0"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
is "$(rec_on "$PURI" "v['mode'], v['state'], [p['id'] for p in v['recovery_points']]")" "2 3 ['rp-0001']" \
    "prod: mode 2 Replica, state 3, first point rp-0001 of the new chain"
is "$(rec_on "$DURI" "v['mode'], v['state']")" "1 3" "dr: mode 1 Primary, state 3"
is "$(sha256sum "$PA" "$PB")" "$SUM6" "prod's written disks are in place and untouched (sha256)"
has "$PA" 0x71 11M 64k
ok $? "prod's old vda still holds the write made after the point"
dvirsh suspend "$VM" >/dev/null
same "$REV/vda.rp-0001.qcow2" "$DRA" && same "$REV/vdb.rp-0001.qcow2" "$DRB"
ok $? "prod's new chain reads as dr's disks (qemu-img compare, dr paused)"
dvirsh resume "$VM" >/dev/null
diag "transcript: full copy dr -> prod: base vda $(sha "$REV/vda.base.qcow2") vdb $(sha "$REV/vdb.base.qcow2"); written prod vda $(sha "$PA") kept"

# Every guest and daemon of this test stopped before its directory goes.
qemu_stop_all >/dev/null 2>&1
done_testing
