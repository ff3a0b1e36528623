#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# ops-writer.sh: another writer's change made while an operation runs is
# never overwritten (issue 11 item 3), on libvirt's test driver (a demo
# fleet).  The operation stops at a step (DROVER_PAUSE=OP:STEP, see
# src/base/testhook.h); meanwhile the test edits the domain's definition in
# the fleet file as another process would (another application's metadata,
# a recovery point added by replication, a disk setting); then the
# operation goes on.  Before the switch it must refuse with 32774 naming
# what changed, undo what it did on the new definition and keep the
# change; after the switch it closes its journal on the new definition.
# tests/ops-qemu-writer.sh does the same with virsh while a revert waits
# for a real guest's shutdown.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/ops-common.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 is needed to edit the fleet file"
command -v "$QEMU_IMG" >/dev/null 2>&1 || skip_all "qemu-img not found"
[ -x "$DROVER" ] || skip_all "drover not built"
mktemp_dir
F="$T/f"
make_fleet "$F" || { echo "Bail out! cannot build the demo fleet"; exit 99; }

# The second writer: edits one domain of the fleet file under the fleet
# lock, by atomic rename, as another drover process or application would.
#   meta VM              adds metadata of namespace urn:example:other:1
#   point VM ID          adds recovery point ID: a new layer per disk on the
#                        newest point (qemu-img), named in the record
#   cache VM             sets cache='none' on the domain's first disk
#   discard VM           sets discard='unmap' on the domain's first disk
#   undefine VM          removes the domain
WRITER_PY=$(cat <<'PY'
import fcntl, os, re, subprocess, sys
path, action, vm = sys.argv[1:4]
arg = sys.argv[4] if len(sys.argv) > 4 else ""
lock = open(path + ".lock", "a+")
fcntl.lockf(lock, fcntl.LOCK_EX)
text = open(path).read()
m = re.search(r"<domain[^>]*>\s*<name>%s</name>.*?</domain>" % re.escape(vm), text, re.S)
if not m:
    sys.exit("no domain " + vm)
block = m.group(0)
if action == "meta":
    new = block.replace("<metadata>", "<metadata>\n<other:backup xmlns:other=\"urn:example:other:1\" last=\"ok\"/>", 1)
elif action == "point":
    pts = re.findall(r"<drover:point [^>]*>.*?</drover:point>", block, re.S)
    disks = re.findall(r"<drover:disk target=\"([^\"]+)\" file=\"([^\"]+)\"/>", pts[-1])
    lines = ['    <drover:point id="%s" time="2030-01-01T00:00:00Z" type="standard">' % arg]
    for target, file in disks:
        layer = os.path.join(os.path.dirname(file), "%s.%s.qcow2" % (target, arg))
        subprocess.check_call([os.environ["QEMU_IMG"], "create", "-q", "-f", "qcow2", "-F", "qcow2",
                               "-b", file, layer])
        lines.append('      <drover:disk target="%s" file="%s"/>' % (target, layer))
    lines.append("    </drover:point>\n  ")
    new = block.replace("</drover:recovery-points>", "\n".join(lines) + "</drover:recovery-points>", 1)
elif action == "undefine":
    new = ""
elif action == "discard":
    new = re.sub(r"(<driver name=(['\"])qemu\2 type=(['\"])qcow2\3)",
                 r"\1 discard='unmap'", block, count=1)
elif action == "cache":
    new = re.sub(r"<driver name=(['\"])qemu\1 type=(['\"])qcow2\2/>",
                 "<driver name='qemu' type='qcow2' cache='none'/>", block, count=1)
else:
    sys.exit("unknown action " + action)
if new == block:
    sys.exit("nothing to change")
tmp = path + ".writer-tmp"
with open(tmp, "w") as f:
    f.write(text[:m.start()] + new + text[m.end():])
os.replace(tmp, path)
PY
)
writer() { py "$WRITER_PY" "$F/fleet.xml" "$@"; }

# domain_xml VM: VM's definition as the fleet file has it.
domain_xml() {
    py 'import re,sys
t=open(sys.argv[1]).read()
m=re.search(r"<domain[^>]*>\s*<name>%s</name>.*?</domain>" % re.escape(sys.argv[2]), t, re.S)
print(m.group(0) if m else "")' "$F/fleet.xml" "$1"
}

# files VM: the names in VM's directory (lock files aside).
files() { (cd "$F/vms/$1" && ls -A | grep -v '^\.drover-.*\.lock$'); }
sums() { tree_sums "$F/vms/$1" | grep -v '\.lock$'; }

# --- 1. revert waits for the shutdown; another application's metadata -------
# db01: 5 Recovered and running.  The change lands after the power-off,
# before the journal: nothing of the revert is in the definition yet.
before_files=$(files db01)
before_sums=$(sums db01)
start_paused revert:powered-off "$URI" revert db01
ok $? "revert db01 stops after powering off"
writer meta db01
ok $? "another application adds its metadata to db01"
resume
is "$rc" 4 "revert db01: refused, exit status 4"
like "$err" "^Result: 32774 " "revert db01: 32774"
like "$err" "metadata of namespace urn:example:other:1 added" "the refusal names what changed"
like "$err" "nothing was changed" "and says nothing was changed"
like "$err" "what happened: .*another writer changed the VM's definition" \
    "the decoded result blames another writer, not another job"
like "$(domain_xml db01)" "urn:example:other:1" "the other application's metadata survives"
is "$(vm_field db01 state) $(vm_field db01 interrupted_operation) $(vm_field db01 health_name)" \
    "5 null Normal" "db01: still 5 Recovered, no journal, Normal"
is "$(files db01)" "$before_files" "db01: no file created or removed"
is "$(sums db01)" "$before_sums" "db01: every file byte for byte as before"
run -c "$URI" revert db01 --yes
is "$rc" 0 "revert db01 again, on the new definition: exit 0"
is "$(vm_field db01 state)" 3 "db01: 3 Replicating"
like "$(domain_xml db01)" "urn:example:other:1" "the metadata is still there after the revert"

# --- 2. failover: replication adds a recovery point after the overlays ------
# web01: 3 Replicating.  Stopped after its journal and new overlays.
before_files=$(files web01)
start_paused failover:created "$URI" failover web01
ok $? "failover web01 stops after creating its overlays"
ls "$F"/vms/web01/*.failover-*.qcow2 >/dev/null 2>&1
ok $? "the overlays exist while it waits"
writer point web01 rp-0099
ok $? "replication adds recovery point rp-0099 to web01"
resume
is "$rc" 4 "failover web01: refused, exit status 4"
like "$err" "^Result: 32774 " "failover web01: 32774"
like "$err" "the record's recovery points changed" "the refusal names the recovery points"
like "$err" "undone on the new definition" "and says it was undone"
is "$(files web01 | grep -c 'failover-')" 0 "web01: the overlays this failover made are removed"
is "$(files web01 | grep -v 'rp-0099')" "$before_files" "web01: every other file as before"
like "$(domain_xml web01)" 'point id="rp-0099"' "web01: the new recovery point stays in the record"
is "$(vm_field web01 state) $(vm_field web01 interrupted_operation) $(vm_field web01 health_name)" \
    "3 null Normal" "web01: 3 Replicating, no journal, Normal"
run -c "$URI" failover web01 --yes
is "$rc" 0 "failover web01 again: exit 0"
is "$(vm_field web01 failover_point)" rp-0099 "web01: failed over to the new point"

# --- 3. commit --flatten: a disk setting changes after the flatten ----------
# web02: 5 Recovered.  Stopped after the flatten and the rebase of the
# failover disks onto the flattened images.
before_files=$(files web02)
before_sums=$(sums web02)
start_paused commit:rebased "$URI" commit web02 --flatten
ok $? "commit --flatten web02 stops after its flatten and rebase"
writer cache web02
ok $? "virsh-edit-like change: cache='none' on web02's first disk"
resume
is "$rc" 4 "commit web02: refused, exit status 4"
like "$err" "^Result: 32774 " "commit web02: 32774"
like "$err" "disk vda changed" "the refusal names disk vda"
is "$(files web02)" "$before_files" "web02: the flattened images are removed"
is "$(sums web02)" "$before_sums" "web02: every file byte for byte as before (failover disks back on their points)"
like "$(domain_xml web02)" "cache=.none." "web02: the disk setting survives"
is "$(vm_field web02 state) $(vm_field web02 interrupted_operation) $(vm_field web02 health_name)" \
    "5 null Normal" "web02: 5 Recovered, no journal, Normal"

# --- 4. test failover: the test system is removed with its overlays ---------
before_files=$(files web03)
start_paused test-failover:test-defined "$URI" test-failover web03
ok $? "test-failover web03 stops after defining the test system"
writer meta web03
resume
is "$rc" 4 "test-failover web03: refused, exit status 4"
like "$err" "metadata of namespace urn:example:other:1 added" "the refusal names the metadata"
is "$(vm_field web03-test state)" missing "the test system is removed"
is "$(files web03)" "$before_files" "web03: the test overlays are removed"
is "$(vm_field web03 state) $(vm_field web03 test_system) $(vm_field web03 interrupted_operation)" \
    "3 null null" "web03: 3 Replicating, no test system, no journal"
like "$(domain_xml web03)" "urn:example:other:1" "web03: the metadata survives"

# --- 5. after the switch: the journal is closed on the new definition -------
# hr01: 5 Recovered.  Stopped after its switch and deletions.
start_paused revert:deleted "$URI" revert hr01
ok $? "revert hr01 stops after its switch and deletions"
writer meta hr01
resume
is "$rc" 0 "revert hr01: done, exit 0"
like "$out" "closing the journal on the definition another writer changed" \
    "the journal is closed on the new definition"
is "$(vm_field hr01 state) $(vm_field hr01 interrupted_operation) $(vm_field hr01 health_name)" \
    "3 null Normal" "hr01: 3 Replicating, no journal, Normal"
like "$(domain_xml hr01)" "urn:example:other:1" "hr01: the metadata survives"

# --- 6. the domain is undefined meanwhile: it is not defined again ----------
# legacy01: 3 Replicating.  Stopped after its journal and overlays.
before_files=$(files legacy01)
start_paused failover:created "$URI" failover legacy01
ok $? "failover legacy01 stops after creating its overlays"
writer undefine legacy01
ok $? "another writer undefines legacy01"
resume
is "$rc" 4 "failover legacy01: refused, exit status 4"
like "$err" "legacy01 was undefined while drover was working on it" "the refusal says it was undefined"
like "$err" "the files it made are removed" "and that the files it made are removed"
is "$(vm_field legacy01 state)" missing "legacy01 is not defined again"
is "$(files legacy01)" "$before_files" "legacy01: its overlays removed, every other file kept"

# --- 7. a pause alone changes nothing ----------------------------------------
start_paused revert:journal "$URI" revert web01
ok $? "revert web01 stops after its journal"
resume
is "$rc" 0 "without another writer the revert completes: exit 0"
is "$(vm_field web01 state)" 3 "web01: 3 Replicating"

# --- 8. a failed flatten after another writer's change keeps the change -----
# web03 fails over first (3 -> 5).  commit --flatten stops after its
# journal; a disk setting changes; then qemu-img fails (a wrapper that
# fails while a flag file exists, as on a full disk).  The undo must not
# put back the plan-time definition over the change (issue 11 item 3).
REAL_QEMU_IMG=$(command -v "$QEMU_IMG")
FAILFLAG="$T/qemu-img-fails"
printf '#!/bin/sh\nif [ -e "%s" ]; then\n    echo "qemu-img: No space left on device" >&2\n    exit 1\nfi\nexec "%s" "$@"\n' \
    "$FAILFLAG" "$REAL_QEMU_IMG" >"$T/qemu-img"
chmod +x "$T/qemu-img"
run -c "$URI" failover web03 --yes
is "$rc" 0 "failover web03: exit 0"
before_files=$(files web03)
before_sums=$(sums web03)
QEMU_IMG="$T/qemu-img" start_paused commit:journal "$URI" commit web03 --flatten
ok $? "commit --flatten web03 stops after its journal"
writer cache web03
ok $? "virsh-edit-like change: cache='none' on web03's first disk"
touch "$FAILFLAG"
resume
rm -f "$FAILFLAG"
[ "$rc" -ne 0 ]; ok $? "commit web03: the failed flatten fails the commit"
like "$err" "No space left on device" "commit web03: the error names the failed flatten"
like "$(domain_xml web03)" "cache=.none." "web03: the disk setting made meanwhile survives the undo"
is "$(vm_field web03 state) $(vm_field web03 interrupted_operation) $(vm_field web03 health_name)" \
    "5 null Normal" "web03: 5 Recovered, no journal, Normal"
is "$(files web03)" "$before_files" "web03: no file created or removed"
is "$(sums web03)" "$before_sums" "web03: every file byte for byte as before"

# --- 9. a failed overlay creation after another writer's change -------------
before_files=$(files web01)
QEMU_IMG="$T/qemu-img" start_paused failover:journal "$URI" failover web01
ok $? "failover web01 stops after its journal"
writer meta web01
ok $? "another application adds its metadata to web01"
touch "$FAILFLAG"
resume
rm -f "$FAILFLAG"
[ "$rc" -ne 0 ]; ok $? "failover web01: the failed qemu-img create fails the failover"
like "$(domain_xml web01)" "urn:example:other:1" "web01: the other application's metadata survives the undo"
is "$(vm_field web01 state) $(vm_field web01 interrupted_operation) $(vm_field web01 health_name)" \
    "3 null Normal" "web01: 3 Replicating, no journal, Normal"
is "$(files web01)" "$before_files" "web01: no file created or removed"

# --- 10. a write between drover's define and its read-back -------------------
# dns01: 3 Replicating.  Stopped right after the journal's define, before
# drover reads the definition back: the change is not taken for drover's.
before_files=$(files dns01)
start_paused failover:defined-prepared "$URI" failover dns01
ok $? "failover dns01 stops right after its journal's define"
writer meta dns01
resume
is "$rc" 4 "failover dns01: refused, exit status 4"
like "$err" "^Result: 32774 " "failover dns01: 32774"
like "$err" "metadata of namespace urn:example:other:1 added" "the refusal names the metadata"
like "$(domain_xml dns01)" "urn:example:other:1" "dns01: the metadata survives"
is "$(vm_field dns01 state) $(vm_field dns01 interrupted_operation)" "3 null" \
    "dns01: 3 Replicating, no journal"
is "$(files dns01)" "$before_files" "dns01: no file created or removed"

# After the switch's define: the switch stands and the journal is closed
# on the new definition, which keeps the change.
run -c "$URI" failover web02 --yes
start_paused revert:defined-switched "$URI" revert web02
ok $? "revert web02 stops right after its switch's define"
writer meta web02
resume
is "$rc" 0 "revert web02: done, exit 0"
like "$(domain_xml web02)" "urn:example:other:1" "web02: the metadata survives"
is "$(vm_field web02 state) $(vm_field web02 interrupted_operation) $(vm_field web02 health_name)" \
    "3 null Normal" "web02: 3 Replicating, no journal, Normal"

# Undefined between the define and the read-back: not defined again.
before_files=$(files dns01)
start_paused failover:defined-prepared "$URI" failover dns01
ok $? "failover dns01 stops right after its journal's define (again)"
writer undefine dns01
resume
is "$rc" 4 "failover dns01: refused, exit status 4"
like "$err" "dns01 was undefined while drover was working on it" "the refusal says it was undefined"
is "$(vm_field dns01 state)" missing "dns01 is not defined again"
is "$(files dns01)" "$before_files" "dns01: every file kept"

# --- 11. revert keeps a disk setting changed while failed over --------------
# web01 fails over through drover (its record keeps the disk's element);
# while failed over the disk gets discard='unmap'; revert puts back the
# disk's source and backing chain and keeps the setting (issue 11 item 5).
run -c "$URI" failover web01 --yes
is "$rc" 0 "failover web01: exit 0"
writer discard web01
ok $? "while failed over, web01's first disk gets discard='unmap'"
run -c "$URI" revert web01 --yes
is "$rc" 0 "revert web01: exit 0"
like "$(domain_xml web01)" "discard=.unmap." "web01: the disk setting made while failed over survives the revert"
domain_xml web01 | grep -q "failover-"
ok $((! $?)) "web01: no disk on a failover overlay"

# --- 12. the replica is undefined while its test system is defined ----------
# hr01: 3 Replicating.  test-failover stops after defining hr01-test; then
# hr01 is undefined.  The undo has no definition to roll back on: it
# removes the test system first, then the test overlays it used.
before_files=$(files hr01)
start_paused test-failover:test-defined "$URI" test-failover hr01
ok $? "test-failover hr01 stops after defining the test system"
is "$(vm_field hr01-test mode)" 3 "hr01-test is defined"
writer undefine hr01
ok $? "another writer undefines hr01"
resume
is "$rc" 4 "test-failover hr01: refused, exit status 4"
like "$err" "the files it made are removed" "the refusal says the files it made are removed"
is "$(vm_field hr01-test state)" missing "the test system hr01-test is removed"
is "$(vm_field hr01 state)" missing "hr01 is not defined again"
is "$(files hr01)" "$before_files" "hr01: the test overlays removed, every other file kept"

done_testing
