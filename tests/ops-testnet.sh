#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# ops-testnet.sh: test-failover --test-network NET on a demo fleet (libvirt's
# test driver): without it the test system has no interfaces (the plan lists
# them as left out); with an isolated network (no <forward>) its interfaces
# use that network, shown in the plan; a network that forwards, or none of
# that name, is refused (32773) before anything changes.
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
# Fixture: two networks on the DR host, drill isolated, lan with NAT.
"$PYTHON" - "$F/fleet.xml" <<'PYEOF'
import sys
p = sys.argv[1]
s = open(p).read()
i = s.index("<domain")
s = (s[:i] + "<network><name>drill</name><bridge name='virbr9'/></network>\n"
     "<network><name>lan</name><forward mode='nat'/><bridge name='virbr8'/>"
     "<ip address='192.168.8.1' netmask='255.255.255.0'/></network>\n" + s[i:])
open(p, "w").write(s)
PYEOF
ok $? "fixture: networks drill (isolated) and lan (NAT) on the DR host"
nics() { "$VIRSH" -q -c "$URI" dumpxml web01-test | "$PYTHON" -c 'import sys, xml.etree.ElementTree as E
d = E.fromstring(sys.stdin.read())
print(" ".join("%s:%s" % (i.get("type"), (i.find("source").get("network") if i.find("source") is not None else "-"))
               for i in d.findall("devices/interface")) or "none")'; }

# Without --test-network: no interfaces, and the plan says so.
run -c "$URI" test-failover web01 --yes --json
is "$(jq_ "$T/out" 'd["result"], d["plan"]["test_network"]')" "(0, None)" "test-failover without a network: done"
like "$(jq_ "$T/out" 'd["plan"]["test_left_out"]')" "interface \\(network default" "the plan lists the interface as left out"
is "$(nics)" "none" "the test system has no interfaces"
run -c "$URI" stop-test web01 --yes
is "$rc" 0 "stop-test"

# A network that forwards, and one that does not exist: refused.
before=$(cat "$F/fleet.xml"; rp_sums "$F")
run -c "$URI" test-failover web01 --test-network lan --yes --json
is "$(jq_ "$T/out" 'd["result"]')" 32773 "--test-network lan (NAT): refused with 32773"
like "$(jq_ "$T/out" 'd["message"]')" "forwards beyond the host.*isolated network" "the message says why"
run -c "$URI" test-failover web01 --test-network nosuch --yes --json
is "$(jq_ "$T/out" 'd["result"]')" 32773 "--test-network nosuch: refused with 32773"
like "$(jq_ "$T/out" 'd["message"]')" "no network nosuch" "the message names the missing network"
is "$(cat "$F/fleet.xml"; rp_sums "$F")" "$before" "nothing changed"
run -c "$URI" failover web01 --test-network drill --dry-run --json
is "$rc" 2 "--test-network on failover: a usage error (exit 2)"
like "$err" "failover does not take --test-network" "which says failover does not take it"

# An isolated network: the test system's interfaces use it.
run -c "$URI" test-failover web01 --test-network drill --dry-run
like "$out" "test network: drill \\(isolated\\): the test system's interfaces use it" "the text plan shows the network"
run -c "$URI" test-failover web01 --test-network drill --yes --json
json_ok op "$T/out" "test-failover --test-network --json: as documented"
is "$(jq_ "$T/out" 'd["result"], d["plan"]["test_network"]')" "(0, 'drill')" "test-failover on drill: done, the plan names it"
is "$(jq_ "$T/out" 'd["plan"]["test_left_out"]')" "null" "no interface is left out"
is "$(nics)" "network:drill" "the test system's interface is on drill"
is "$("$VIRSH" -q -c "$URI" dumpxml web01 | grep -c "network='default'")" 1 "the replica's own interface is unchanged"
run -c "$URI" stop-test web01 --yes
is "$rc" 0 "stop-test"

done_testing
