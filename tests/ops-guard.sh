#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# ops-guard.sh: the split-brain guard on demo fleets (libvirt's test
# driver).  The demo's primaries (qemu+ssh://prod-a) are not real: the guard
# does not ask and the plan says so; a record without a primary URI fails
# over as before, saying the guard could not ask; a record whose primary is
# itself a test-driver fleet is asked: running refused with 32775, shut off
# or missing proceeds.  (The private daemons' case: tests/repl-guard.sh.)
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/ops-common.sh"

command -v "$QEMU_IMG" >/dev/null 2>&1 || skip_all "qemu-img not found"
command -v "$PYTHON" >/dev/null 2>&1 || skip_all "python3 not found"
command -v "$VIRSH" >/dev/null 2>&1 || skip_all "virsh not found"

mktemp_dir
F=$T/f
make_fleet "$F"
ok $? "demo fleet built"
[ -f "$F/fleet.xml" ] || { done_testing; exit 1; }

# set_primary FLEET URI [VM...]: a fixture edit of the records' primary URI
# (all the fleet's records without VMs; URI "" removes it).
set_primary() {
    "$PYTHON" - "$@" <<'PYEOF'
import re, sys
path, uri, vms = sys.argv[1], sys.argv[2], sys.argv[3:]
s = open(path).read()
def fix(d):
    if uri:
        return d.replace('uri="qemu+ssh://prod-a/system"', 'uri="%s"' % uri)
    return re.sub(r'(<(?:drover:)?primary [^>]*?) uri="[^"]*"', r'\1', d)
out, pos = [], 0
for m in re.finditer(r"<domain\b.*?</domain>", s, re.S):
    d = m.group(0)
    name = re.search(r"<name>([^<]*)</name>", d).group(1)
    out.append(s[pos:m.start()])
    out.append(fix(d) if not vms or name in vms else d)
    pos = m.end()
out.append(s[pos:])
open(path, "w").write("".join(out))
PYEOF
}

# --- the demo's own primaries: not asked ----------------------------------
run -c "$URI" failover web01 --dry-run --json
is "$rc" 0 "demo: failover --dry-run exit 0"
json_ok dryrun "$T/out" "the dry run's plan has the documented guard field"
is "$(jq_ "$T/out" 'd["plan"]["guard"]["result"], d["plan"]["guard"]["reachable"], d["plan"]["guard"]["host"]')" \
    "('not-asked', None, 'prod-a')" "the guard did not ask the demo's primary prod-a"
run -c "$URI" failover web01 --yes
is "$rc" 0 "demo: failover proceeds as before"
like "$out" "primary: primary prod-a \\(qemu\\+ssh://prod-a/system\\) not asked: .* test driver" \
    "the plan says the guard did not ask, and why"
run -c "$URI" revert web01 --dry-run --json
is "$(jq_ "$T/out" 'd["plan"]["guard"]')" "null" "other operations have no guard"
run -c "$URI" revert web01 --yes
is "$rc" 0 "revert: web01 replicating again"

# --- a primary on the test driver too: asked ----------------------------
# prim RUNSTATE: the primary host's fleet with web01 in that libvirt state
# (1 running, 3 paused, 5 shut off), or without web01 ("none").
prim() {
    if [ "$1" = none ]; then
        printf '<node>\n</node>\n' >"$T/prim.xml"
        return
    fi
    cat >"$T/prim.xml" <<EOX
<node>
<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'><name>web01</name><memory>65536</memory><os><type>hvm</type></os><test:runstate>$1</test:runstate></domain>
</node>
EOX
}
prim 1
set_primary "$F/fleet.xml" "test://$T/prim.xml" web01
ok $? "fixture: web01's record names a primary on $T/prim.xml, where web01 runs"

before=$(cat "$F/fleet.xml"; rp_sums "$F")
run -c "$URI" failover web01 --yes --json
is "$(jq_ "$T/out" 'd["result"]')" 32775 "the primary runs: refused with 32775"
like "$(jq_ "$T/out" 'd["message"]')" "primary web01 on prod-a is running.*--planned" \
    "the message names the primary and suggests --planned"
is "$(cat "$F/fleet.xml"; rp_sums "$F")" "$before" "nothing changed: the fleet file and every point as they were"
run -c "$URI" failover web01 --force --reason "drill" --dry-run --json
is "$(jq_ "$T/out" 'd["plan"]["guard"]["result"], d["plan"]["guard"]["power"], d["plan"]["guard"]["forced"]')" \
    "('overridden', 'running', True)" "--force --reason: the plan says the guard is overridden"

prim 3
run -c "$URI" failover web01 --dry-run --json
is "$(jq_ "$T/out" 'd["result"]')" 32775 "a paused primary: refused with 32775 too"

prim none
run -c "$URI" failover web01 --dry-run --json
is "$(jq_ "$T/out" 'd["result"], d["plan"]["guard"]["result"], d["plan"]["guard"]["reachable"]')" \
    "(0, 'absent', True)" "the primary host has no web01: it would proceed, the plan says so"

prim 5
run -c "$URI" failover web01 --yes --json
is "$(jq_ "$T/out" 'd["result"], d["plan"]["guard"]["result"], d["plan"]["guard"]["power"]')" \
    "(0, 'off', 'shut off')" "the primary is shut off: failed over"
run -c "$URI" revert web01 --yes
is "$rc" 0 "revert: web01 replicating again"

# --- the primary's host does not answer: proceeds with the warning ---------
sed -i "s|test://$T/prim.xml|test://$T/gone.xml|" "$F/fleet.xml"
run -c "$URI" failover web01 --yes
is "$rc" 0 "the primary host cannot be reached: failover proceeds"
like "$out" "primary: primary prod-a unreachable: failing over without knowing its state" \
    "the plan says it fails over blind"
run -c "$URI" revert web01 --yes
is "$rc" 0 "revert: web01 replicating again"

# --- a record without a primary URI: as before, the plan says so ----------
set_primary "$F/fleet.xml" "" web01
run -c "$URI" failover web01 --yes --json
is "$(jq_ "$T/out" 'd["result"], d["plan"]["guard"]["result"], d["plan"]["guard"]["uri"]')" \
    "(0, 'not-asked', None)" "no primary URI: failed over, the guard not asked"
like "$(jq_ "$T/out" 'd["plan"]["guard"]["message"]')" "names no primary URI" "and the plan says why"

done_testing
