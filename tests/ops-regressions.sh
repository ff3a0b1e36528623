#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Regressions: behaviours that were once wrong, each kept as a test.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/ops-common.sh"
mktemp_dir
F=$T/f
make_fleet "$F"

# repair --dry-run says what it would do and changes nothing.
tree_sums "$F" >"$T/b"; run -c "$URI" repair erp01 --dry-run; tree_sums "$F" >"$T/a"
cmp -s "$T/b" "$T/a"; ok $? "repair --dry-run changes nothing"
is "$rc" 0 "repair --dry-run: exit status 0"
like "$out" "erp01@fleet: interrupted revert .* after its switch: repair finishes it" "repair --dry-run: names what it would do"
like "$out" "deletes $F/vms/erp01/vda.failover-" "repair --dry-run: names the file it would delete"
# repair without --yes on a pipe is refused like every mutation.
run -c "$URI" repair erp01 </dev/null
is "$rc" 2 "repair without --yes, stdin not a terminal: exit 2"
like "$err" "without --yes" "repair without --yes: says why"
tree_sums "$F" >"$T/a2"; cmp -s "$T/b" "$T/a2"; ok $? "repair without --yes: nothing changed"

# check of an unknown VM with --json prints one result object.
run -c "$URI" check nosuch --json
is "$(json_schema refusal "$T/out")" "" "check nosuch --json: one result object"
is "$rc" 2 "check nosuch: exit 2"

# check --json lists a VM whose record cannot be read, as Critical.
G=$T/g; "$DROVER" demo --no-console --dir "$G" >/dev/null 2>&1
sed -i '0,/format="1"/s//format="2"/' "$G/fleet.xml"
run -c "test://$G/fleet.xml" check --json
is "$(jq_ "$T/out" '[(x["name"], x["health"]) for x in d if x["name"] == "web01"]')" "[('web01', 3)]" "check --json lists web01 (unreadable record) as Critical"
like "$(jq_ "$T/out" '[x["reasons"][0] for x in d if x["name"] == "web01"][0]')" "unknown metadata format" "check --json: the reason names the unknown format"
run -c "test://$G/fleet.xml" check web01 --json
is "$(jq_ "$T/out" 'len(d)')" 1 "check web01 --json: web01 is in the array"
is "$rc" 7 "check web01 (unreadable): exit 7"

# Progress never goes backwards.
run -c "$URI" commit web02 --flatten --yes
is "$rc" 0 "commit --flatten web02 completes"
is "$(printf '%s\n' "$out" | sed -n 's/^\[ *\([0-9]*\)%\].*/\1/p' | awk 'p>$1{print p">"$1} {p=$1}')" "" "commit --flatten: percent never decreases"

# No libxml2 noise on stderr for a missing fleet file.
run -c "test://$T/none/fleet.xml" list
like "$err" "^drover: " "missing fleet: stderr has drover's message"
is "$(printf '%s\n' "$err" | grep -c 'I/O warning')" 0 "missing fleet: no 'I/O warning' from libxml2"
is "$(printf '%s\n' "$out" | grep -c 'no replica VMs')" 0 "unreachable host: list does not claim the host is empty"

# A test system is not a replica: operations on it point at stop-test.
run -c "$URI" revert crm01-test --yes
is "$rc" 3 "revert of a test system: exit 3"
like "$err" "crm01-test is a test system of crm01: end it with drover stop-test crm01" "revert of a test system: names stop-test"

# Text list pads UTF-8 names by columns, not bytes.
python3 - "$F/fleet.xml" <<'EOP'
import sys
p = sys.argv[1]
s = open(p, encoding="utf-8").read()
s = s.replace("<name>web01</name>", "<name>wéb01</name>", 1)
open(p, "w", encoding="utf-8").write(s)
EOP
out=$(LC_ALL=C.UTF-8 "$DROVER" --config "$T/drover.conf" -c "$URI" list)
cols() {  # cols PATTERN WORD: the column (in characters) where WORD starts on the line matching PATTERN
    printf '%s\n' "$out" | python3 -c "import sys
for l in sys.stdin.buffer.read().decode('utf-8').splitlines():
    if sys.argv[1] in l: print(l.index(sys.argv[2])); break" "$1" "$2"
}
col_w=$(cols "wéb01" "3 Replicating")
col_h=$(cols "HOST" "STATE")
is "$col_w" "$col_h" "list: the state column lines up after a UTF-8 name"
# A journal deletion without an inode is never done (whatever is at the
# path now could be someone else's), but repair finishes: the journal is
# closed and repair --json lists the file it left, with why.
H=$T/h; "$DROVER" demo --no-console --dir "$H" >/dev/null 2>&1
sed -i 's/ inode="[0-9]*"//' "$H/fleet.xml"
ov=$(ls "$H"/vms/erp01/vda.failover-*.qcow2)
tree_sums "$H" >"$T/h.before"
run -c "test://$H/fleet.xml" repair erp01 --yes --json
is "$rc" 0 "repair of a journal entry without an inode finishes: exit 0"
is "$(jq_ "$T/out" 'd["result"], d["failed"], d["repaired"][0]["name"]')" "(0, [], 'erp01')" \
    "repair --json: one document, erp01 repaired"
like "$(jq_ "$T/out" 'd["repaired"][0]["warnings"]')" "left in place: $ov \(.*no inode" \
    "the overlay is listed as left, with why"
[ -f "$ov" ]; ok $? "the overlay the journal names is still there"

# A disk the record does not replicate never goes into the test system:
# it would be shared, writable, by the replica and its test.
K=$T/k; "$DROVER" demo --no-console --dir "$K" >/dev/null 2>&1
"$QEMU_IMG" create -q -f qcow2 "$K/data.qcow2" 64M
python3 - "$K/fleet.xml" "$K/data.qcow2" <<'EOP'
import sys
p, data = sys.argv[1], sys.argv[2]
s = open(p).read()
i = s.index("<name>web01</name>")
j = s.index("</devices>", i)
disk = ("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        "<source file='%s'/><target dev='vdc' bus='virtio'/></disk>\n" % data)
open(p, "w").write(s[:j] + disk + s[j:])
EOP
run -c "test://$K/fleet.xml" test-failover web01 --yes
is "$rc" 0 "test-failover of web01 with an extra, unreplicated disk vdc"
like "$out" "left out of the test system: disk vdc \(file disk [^)]*data.qcow2\)" "the plan says vdc is left out, with its file"
txml=$("${VIRSH:-virsh}" -c "test://$K/fleet.xml" dumpxml web01-test 2>/dev/null)
is "$(printf '%s\n' "$txml" | grep -c "data.qcow2")" 0 "web01-test does not have the unreplicated disk"
is "$(printf '%s\n' "$txml" | grep -c "vda.test-")" 1 "web01-test has its test overlay for vda"

# A file already at a name the plan would create is never touched: the plan
# is refused, and nothing is deleted (a failed operation once removed it).
P=$T/p; "$DROVER" demo --no-console --dir "$P" >/dev/null 2>&1
now=$(date -u +%s)
for d in 0 1 2 3 4 5 6 7 8 9; do
    echo precious >"$P/vms/web01/vda.failover-$(date -u -d "@$((now + d))" +%Y%m%dT%H%M%SZ).qcow2"
done
before_n=$(ls "$P/vms/web01" | wc -l)
run -c "test://$P/fleet.xml" failover web01 --yes
is "$rc" 3 "failover onto an existing file name: refused, exit 3"
like "$err" "already exists; drover will not overwrite it" "it says the name is taken"
is "$(ls "$P/vms/web01" | wc -l)" "$before_n" "every file is still there"
is "$(cat "$P"/vms/web01/vda.failover-*.qcow2 | sort -u)" "precious" "and unchanged"

# The switch cannot be saved (the fleet file's lock is held by someone else
# for longer than drover waits): the operation is undone from the definition
# as it was, not from the half-switched one, and nothing the VM uses is lost.
W=$T/w; "$DROVER" demo --no-console --dir "$W" >/dev/null 2>&1
cat >"$T/qemu-img-hold" <<EOS
#!/bin/sh
"$QEMU_IMG" "\$@"; rc=\$?
if [ "\$1" = create ]; then
    python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "a+"); fcntl.lockf(f, fcntl.LOCK_EX); f.write("a test holding the fleet\\n"); f.flush()
open(sys.argv[2], "w").close()
time.sleep(12)' "$W/fleet.xml.lock" "$T/held" </dev/null >/dev/null 2>&1 &
    i=0; while [ ! -e "$T/held" ] && [ \$i -lt 100 ]; do sleep 0.05; i=\$((i + 1)); done
fi
exit \$rc
EOS
chmod +x "$T/qemu-img-hold"
QEMU_IMG="$T/qemu-img-hold" run -c "test://$W/fleet.xml" failover web03 --yes
isnt_zero=$([ "$rc" -ne 0 ] && echo yes)
is "$isnt_zero" yes "failover whose switch cannot be saved fails"
# Wait for the holder to let go (take the lock ourselves, then drop it).
python3 -c 'import fcntl, sys; fcntl.lockf(open(sys.argv[1], "a+"), fcntl.LOCK_EX)' "$W/fleet.xml.lock"
run -c "test://$W/fleet.xml" repair web03 --yes
is "$rc" 0 "repair afterwards: exit 0"
run -c "test://$W/fleet.xml" show web03 --json
is "$(jq_ "$T/out" 'd["state"], d["interrupted_operation"], d["health_name"]')" "(3, None, 'Normal')" \
    "web03 is 3 Replicating, nothing interrupted, Normal"
is "$(jq_ "$T/out" '[x["source"].split("/")[-1] for x in d["disks"]]')" "['vda.rp-0003.qcow2', 'vdb.rp-0003.qcow2']" \
    "its disks are on the newest recovery points, as before"
is "$(ls "$W/vms/web03" | grep -c failover)" 0 "no failover overlay is left"

# A job history past its read limit (16 MiB) still shows its newest jobs.
python3 - "$T/jobs.jsonl" <<'EOP'
import json, sys
p = sys.argv[1]
old = open(p).read() if __import__("os").path.exists(p) else ""
filler = json.dumps({"id": "0" * 36, "type": 98, "state": 7, "vm": "old", "host": "x",
                     "start_time": "2026-01-01T00:00:00Z", "pad": "p" * 900}) + "\n"
with open(p, "w") as f:
    for _ in range(18 * 1024):
        f.write(filler)
    f.write(old)
EOP
run -c "$URI" jobs --json
is "$rc" 0 "jobs --json with an 18 MiB history: exit 0"
like "$(jq_ "$T/out" 'd[0]["vm"]')" "^(web|erp|crm|db|hr)" "the newest job comes first, not the filler at the start of the file"

# A disk element too large for the failover record to keep (revert puts it
# back exactly, issue 11 item 5) is refused before anything changes.
B=$T/big; "$DROVER" demo --no-console --dir "$B" >/dev/null 2>&1
python3 - "$B/fleet.xml" <<'EOP'
import sys
p = sys.argv[1]
s = open(p).read()
i = s.index("<name>web01</name>")
j = s.index("<target dev='vda'", i)
bs = "".join("<backingStore type='file'><format type='qcow2'/><source file='/nonexistent/%s/%04d.qcow2'/>"
             % ("x" * 600, k) for k in range(120)) + "<backingStore/>" + "</backingStore>" * 120
open(p, "w").write(s[:j] + bs + s[j:])
EOP
tree_sums "$B" >"$T/big.before"
run -c "test://$B/fleet.xml" failover web01 --yes --json
is "$(jq_ "$T/out" 'd["result"]')" 32770 "failover of a disk whose element is over 64 KiB: 32770"
like "$(jq_ "$T/out" 'd["message"]')" "<disk> element of vda on web01 is [0-9]+ bytes" "the refusal names the disk and its size"
tree_sums "$B" >"$T/big.after"
cmp -s "$T/big.before" "$T/big.after"; ok $? "the refused failover changed nothing"

done_testing
