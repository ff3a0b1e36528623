#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# repl-reverse-full.sh: reverse replication after an UNPLANNED failover, on
# two private libvirtd daemons (tests/repl-lib.sh): the primary destroyed,
# the replica failed over and committed, written on the DR host; reverse on
# the old primary's host cannot prove its disks equal (no checkpoint marks
# the point), so it copies in full into new bases (enable-replication's
# initial copy) and leaves the old disk files in place (sha256 before and
# after); the new replica reads as the new primary (qemu-img compare, paused),
# and a cycle in the new direction copies only the changes.  The refusals
# first: no --from, the old primary running, a file of the copy already in
# the directory, a failover not committed.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/qemu-lib.sh"

. "${top_srcdir:-.}/tests/repl-lib.sh"

pr() { "$DROVER" --config "$T/drover.conf" -c "$PURI" "$@"; }
reverse_setup
sha() { sha256sum "$1" | cut -c1-16; }
rev() { pr reverse-replication "$VM" --from "$DURI" --dir "$REV" --nbd "127.0.0.1:$PORT2" "$@"; }

out=$(dr enable-replication "$VM" --from "$PURI" --dir "$DIR" --nbd "127.0.0.1:$PORT" --yes 2>&1)
is "$?" 0 "enable-replication prod -> dr: exit 0"
write "$DEV_A" 0x31 4M 1M && out=$(dr replicate "$VM" 2>&1)
is "$?" 0 "a cycle prod -> dr (rp-0002)"

# --- 1. unplanned failover: the primary is lost ------------------------------------
write "$DEV_A" 0x39 12M 1M
ok $? "a write on prod after the last cycle (lost with it: vda 0x39 at 12M)"
pvirsh destroy "$VM" >/dev/null
ok $? "prod destroyed (the primary is lost)"
out=$(dr failover "$VM" --yes --reason "prod lost" 2>&1)
is "$?" 0 "unplanned failover to rp-0002: exit 0"

# Reverse needs the failover committed when it was unplanned.
dvirsh start "$VM" >/dev/null
ok $? "dr: the failed-over VM started"
out=$(rev --yes 2>&1)
is "$?" 3 "reverse after an uncommitted unplanned failover: exit 3"
like "$out" "32775" "refused with 32775"
like "$out" "commit it first" "says to commit first"
is "$(rec_on "$DURI" "v['state']")" "5" "dr stays 5 Recovered"

out=$(dr commit "$VM" --yes 2>&1)
is "$?" 0 "dr: commit (6 Committed)"
dwrite "$DEV_A" 0x51 7M 1M && dwrite "$DEV_B" 0x52 5M 128k
ok $? "writes on dr (vda 0x51 at 7M, vdb 0x52 at 5M)"
DRA=$(src dvirsh vda)
DRB=$(src dvirsh vdb)

# --- 2. refusals that change nothing ---------------------------------------------------
out=$(pr reverse-replication "$VM" --dir "$REV" --nbd "127.0.0.1:$PORT2" --yes 2>&1)
is "$?" 2 "reverse without --from on a primary with no record: exit 2"
like "$out" "32773" "refused with 32773"
like "$out" "give its URI with --from" "says to name the failed-over VM's host"
pvirsh start "$VM" >/dev/null
out=$(rev --yes 2>&1)
is "$?" 3 "reverse while the old primary runs again: exit 3"
like "$out" "old primary $VM is running here: shut it down first" "says to shut it down"
pvirsh destroy "$VM" >/dev/null
# From here on nothing runs on prod's old disks: their sums must stay.
SUMP=$(sha256sum "$TOP/prim/vda.qcow2" "$TOP/prim/vdb.qcow2")
mkdir -p "$REV" && printf 'not drover' >"$REV/vdb.base.qcow2"
out=$(rev --yes 2>&1)
is "$?" 4 "reverse with a file of the copy already in the directory: exit 4"
like "$out" "32774" "refused with 32774"
like "$out" "$REV/vdb\.base\.qcow2 exists already" "names the file"
is "$(cat "$REV/vdb.base.qcow2")" "not drover" "the file is left as it was"
rm -f "$REV/vdb.base.qcow2"
is "$(pvirsh dumpxml "$VM" | grep -c 'drover:replica')" "0" "prod has no record yet"
is "$(rec_on "$DURI" "v['mode'], v['state']")" "2 6" "dr still 2 Replica, 6 Committed"

# --- 3. the plan: a full copy, and why ------------------------------------------------
out=$(rev --dry-run 2>&1)
is "$?" 0 "reverse --dry-run: exit 0"
like "$out" "full: +the old primary's disk cannot be proven equal: $VM here was not prepared by a planned failover \(it has no drover record\).*; copying in full, 96(\.0)? MiB" \
    "plan: the full copy, why, and how much"
like "$out" "keep: +vda: $TOP/prim/vda\.qcow2 \(the old primary's disk, not trusted as base\): left in place" \
    "plan: prod's old vda kept in place"
like "$out" "keep: +vdb: $TOP/prim/vdb\.qcow2" "plan: prod's old vdb kept"
like "$out" "create: +$REV/vda\.base\.qcow2 \(vda, the new base: full copy of $DRA" \
    "plan: the new base of vda, a full copy of dr's disk"
like "$out" "create: +$REV/vda\.rp-0001\.qcow2 \(vda, empty" "plan: the first point on it"
like "$out" "1\. .*no drover record -> mode 2 Replica, state 1 Ready" "plan: prod side"
like "$out" "2\. .*mode 2 Replica, state 6 Committed -> mode 1 Primary, state 3 Replicating" \
    "plan: dr side"
like "$out" "deletes: nothing on either host" "plan: deletes nothing"
out=$(rev --dry-run --json 2>/dev/null)
is "$(json_get "$out" "d['result'], [b['file'] for b in d['plan']['base']], d['plan']['point'], d['job']")" \
    "0 ['$REV/vda.base.qcow2', '$REV/vdb.base.qcow2'] rp-0001 None" \
    "--dry-run --json: the new bases and the first point"
is "$(json_get "$out" "d['plan']['full'], [k['file'] for k in d['plan']['keep']], 'not prepared' in d['plan']['why']")" \
    "True ['$TOP/prim/vda.qcow2', '$TOP/prim/vdb.qcow2'] True" \
    "--dry-run --json: full, the files kept, and why"
is "$(pvirsh dumpxml "$VM" | grep -c 'drover:replica')" "0" "dry run: prod unchanged"

# --- 4. the full copy ---------------------------------------------------------------------
out=$(rev --yes --reason "failback after an outage" 2>&1)
rc=$?
is "$rc" 0 "reverse-replication with a full copy: exit 0"
# The whole run, for the transcript.
printf '%s\n' "$out" | sed 's/^/#   /'
is "$(rec_on "$PURI" "v['mode'], v['state'], [p['id'] for p in v['recovery_points']]")" "2 3 ['rp-0001']" \
    "prod: mode 2 Replica, state 3, first point rp-0001"
is "$(rec_on "$DURI" "v['mode'], v['state']")" "1 3" "dr: mode 1 Primary, state 3"
is "$(sha256sum "$TOP/prim/vda.qcow2" "$TOP/prim/vdb.qcow2")" "$SUMP" \
    "prod's old disk files are in place and untouched (sha256)"
has "$TOP/prim/vda.qcow2" 0x39 12M 1M
ok $? "prod's old vda still holds its lost write"
is "$(src pvirsh vda)" "$REV/vda.rp-0001.qcow2" "prod's vda is now the first point of the new chain"
is "$(qemu_backing "$REV/vda.rp-0001.qcow2")" "$REV/vda.base.qcow2" "rp-0001 is backed by the new base"
dpaused same "$REV/vda.rp-0001.qcow2" "$DRA"
ok $? "prod's rp-0001 reads as dr's vda (qemu-img compare, dr paused)"
dpaused same "$REV/vdb.rp-0001.qcow2" "$DRB"
ok $? "prod's rp-0001 reads as dr's vdb"
has "$REV/vda.rp-0001.qcow2" 0x39 12M 1M
ok $((! $?)) "the write lost with prod is not in the new chain"
diag "transcript: full copy dr -> prod: base vda $(sha "$REV/vda.base.qcow2") vdb $(sha "$REV/vdb.base.qcow2"); old prod vda $(sha "$TOP/prim/vda.qcow2") kept"
grep -q '"operation":"reverse-replication".*"result":0' "$T/audit.log"
ok $? "the reverse is audited"

# --- 5. a cycle in the new direction -------------------------------------------------------
dwrite "$DEV_A" 0x61 9M 1M
ok $? "a write on dr (vda 0x61 at 9M)"
out=$(pr replicate "$VM" 2>&1)
rc=$?
is "$rc" 0 "cycle dr -> prod: exit 0 (rp-0002)"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
like "$out" "changes since drover\.1" "the cycle copies the changes since the full copy's checkpoint"
dpaused same "$REV/vda.rp-0002.qcow2" "$DRA"
ok $? "prod's rp-0002 reads as dr's vda"
dpaused same "$REV/vdb.rp-0002.qcow2" "$DRB"
ok $? "prod's rp-0002 reads as dr's vdb"
a=$(allocated "$REV/vda.rp-0002.qcow2")
[ "$a" -ge 1048576 ] && [ "$a" -le $((1048576 + 262144)) ]
ok $? "rp-0002 holds about the 1 MiB dr wrote ($a bytes)"
F=$REV/vda.rp-0002.qcow2
has "$F" 0x11 0 2M && has "$F" 0x31 4M 1M && has "$F" 0x51 7M 1M && has "$F" 0x61 9M 1M
ok $? "every write that reached dr is in prod's newest point"
"$QEMU_IMG" check -q "$REV/vda.rp-0002.qcow2" && "$QEMU_IMG" check -q "$REV/vda.base.qcow2"
ok $? "the new chain passes qemu-img check"
is "$(sha256sum "$TOP/prim/vda.qcow2" "$TOP/prim/vdb.qcow2")" "$SUMP" \
    "prod's old disk files still untouched after a cycle"

qemu_stop_all >/dev/null 2>&1
done_testing
