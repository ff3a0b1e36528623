#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# repl-writer.sh: another writer (virsh define, as `virsh edit` or another
# application does) changes the replica's definition while a replication
# cycle copies: the cycle does not overwrite the change.  Its switch is
# refused with 32774 naming what changed, the point it was making is
# dropped, the edit stays, every earlier point is unchanged, and the next
# cycle works on the new definition and keeps the edit.  The same for
# suspend-replication, whose define is checked the same way.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/qemu-lib.sh"
. "${top_srcdir:-.}/tests/repl-lib.sh"
. "${top_srcdir:-.}/tests/ops-common.sh"

ids() { record "' '.join(p['id'] for p in v['recovery_points'])"; }

# edit_dr TEXT: the replica's definition on the DR host gets the
# description TEXT, defined through virsh.
edit_dr() {
    dvirsh dumpxml --inactive --security-info "$VM" >"$T/edit.xml" || return 1
    python3 - "$T/edit.xml" "$1" <<'EOF' || return 1
import re, sys
x = open(sys.argv[1]).read()
x = re.sub(r'\s*<description>.*?</description>', '', x, flags=re.S)
y = x.replace('</name>', '</name>\n  <description>%s</description>' % sys.argv[2], 1)
assert y != x
open(sys.argv[1], 'w').write(y)
EOF
    dvirsh define "$T/edit.xml" >/dev/null
}
description() { dvirsh desc "$VM" 2>/dev/null; }

out=$(dr enable-replication "$VM" --from "$PURI" --dir "$DIR" --nbd "127.0.0.1:$PORT" --yes 2>&1)
is "$?" 0 "enable-replication: exit 0"
[ "$?" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
write "$DEV_A" 0x21 1M 256k
out=$(dr replicate "$VM" 2>&1)
is "$?" 0 "a first cycle: exit 0"
is "$(ids)" "rp-0001 rp-0002" "two points"
sums_before=$(cd "$DIR" && sha256sum vda.base.qcow2 vdb.base.qcow2 vda.rp-0002.qcow2 vdb.rp-0002.qcow2)

# The edit lands while the cycle copies (after its journal, before its switch).
write "$DEV_A" 0x22 2M 256k
bg_paused replicate:copied dr replicate "$VM"
ok $? "the cycle waits at its pause point after the copy"
edit_dr "changed by an operator during the cycle"
ok $? "virsh define with a new description while the cycle copies"
resume
out="$out$err"
is "$rc" 4 "the cycle's switch is refused: exit 4"
like "$out" "32774" "with result 32774"
like "$out" "changed while drover was working on it" "saying the definition changed meanwhile"
like "$out" "description" "and naming what changed"
is "$(description)" "changed by an operator during the cycle" "the edit stays"
is "$(ids)" "rp-0001 rp-0002" "no point was added"
is "$(record "v['interrupted_operation']")" "None" "no journal is left: the replica needs no repair"
is "$(cd "$DIR" && sha256sum vda.base.qcow2 vdb.base.qcow2 vda.rp-0002.qcow2 vdb.rp-0002.qcow2)" \
    "$sums_before" "the earlier points are unchanged (sha256)"
is "$(cd "$DIR" && ls | grep -c 'rp-0003')" 0 "the layers of the dropped point are removed"
for f in "$DIR"/*.qcow2; do "$QEMU_IMG" check -q -U "$f" || echo "bad $f"; done >"$T/check.out" 2>&1
is "$(cat "$T/check.out")" "" "every layer passes qemu-img check"

# The next cycle reads the new definition and keeps the edit.
out=$(dr replicate "$VM" 2>&1)
is "$?" 0 "the next cycle: exit 0"
[ "$?" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
is "$(ids)" "rp-0001 rp-0002 rp-0003" "it made rp-0003"
is "$(description)" "changed by an operator during the cycle" "the edit is still there"
paused same "$DIR/vda.rp-0003.qcow2" "$TOP/prim/vda.qcow2"
ok $? "rp-0003 vda reads as the primary"

# An edit that lands at the switch of a cycle (the retention's and the
# resync's defines are the same function) and the edit while nothing runs:
# suspend-replication defines on top of it.
edit_dr "second edit"
out=$(dr suspend-replication "$VM" --yes 2>&1)
is "$?" 0 "suspend-replication after an edit: exit 0"
is "$(description)" "second edit" "suspend keeps the edit"
out=$(dr resume-replication "$VM" --yes 2>&1)
is "$?" 0 "resume-replication: exit 0"
is "$(description)" "second edit" "resume keeps the edit"

done_testing
