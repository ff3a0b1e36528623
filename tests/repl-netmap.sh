#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# repl-netmap.sh: enable-replication --network-map SRC=DST on two private
# libvirtd daemons.  A second primary VM (shut off: its interfaces need no
# network to be defined) has an interface on the primary's network prodnet
# and one on the bridge br-prod; the map moves them to the DR host's
# network drnet and bridge br-dr, shown in the plan and in the replica's
# definition; a map entry that matches no interface, a DR network that does
# not exist and a malformed entry are refused (32773) before anything is
# defined.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/qemu-lib.sh"
. "${top_srcdir:-.}/tests/repl-lib.sh"

NVM=${VM}n
NDIR=$TOP/dr/$NVM
"$QEMU_IMG" create -q -f qcow2 "$TOP/prim/n-vda.qcow2" 16M
ok $? "a disk for $NVM"
cat >"$TOP/prim/net.xml" <<EOX
<domain type='qemu'>
  <name>$NVM</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>$QEMU_SYSTEM</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$TOP/prim/n-vda.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='network'>
      <mac address='52:54:00:aa:00:01'/>
      <source network='prodnet'/>
      <model type='virtio'/>
    </interface>
    <interface type='bridge'>
      <mac address='52:54:00:aa:00:02'/>
      <source bridge='br-prod'/>
      <model type='virtio'/>
    </interface>
  </devices>
</domain>
EOX
pvirsh define "$TOP/prim/net.xml" >/dev/null
ok $? "primary $NVM defined (shut off) with an interface on prodnet and one on br-prod"
# The DR site's network, defined only (nothing is started, no bridge made).
printf "<network><name>drnet</name><bridge name='drvbr%s'/></network>\n" "$$" >"$TOP/d/drnet.xml"
dvirsh net-define "$TOP/d/drnet.xml" >/dev/null
ok $? "the DR host has a network drnet"

enable() { dr enable-replication "$NVM" --from "$PURI" --dir "$NDIR" --nbd "127.0.0.1:$PORT" "$@"; }
defined() { dvirsh list --all --name | grep -cx "$NVM"; }

# Refusals first: nothing is defined.
out=$(enable --network-map prodnet=drnet --network-map lan=dr-lan --dry-run --json 2>&1)
like "$out" '"result": 32773' "an entry that matches no interface: 32773"
like "$out" "lan=dr-lan matches no interface of $NVM" "the message names the entry"
out=$(enable --network-map prodnet=nosuchnet --dry-run --json 2>&1)
like "$out" '"result": 32773' "a DR network that does not exist: 32773"
like "$out" "no network nosuchnet" "the message names it"
out=$(enable --network-map prodnet --dry-run --json 2>&1)
like "$out" '"result": 32773' "an entry without =: 32773"
out=$(enable --network-map vlan:prodnet=drnet --dry-run --json 2>&1)
like "$out" '"result": 32773' "an unknown kind: 32773"
is "$(defined)" 0 "nothing was defined on the DR host"

# Without a map the interfaces are kept, and the plan says so.
out=$(enable --dry-run 2>&1)
like "$out" "network: interface 52:54:00:aa:00:01: network prodnet \\(kept: not in the map\\)" \
    "without a map: the plan lists the network interface as kept"

# The map: shown in the plan, text and JSON.
out=$(enable --network-map prodnet=drnet --network-map bridge:br-prod=br-dr --dry-run 2>&1)
like "$out" "network: interface 52:54:00:aa:00:01: network prodnet -> network drnet" \
    "the plan moves the prodnet interface to drnet"
like "$out" "network: interface 52:54:00:aa:00:02: bridge br-prod -> bridge br-dr" \
    "and the br-prod interface to br-dr"
out=$(enable --network-map prodnet=drnet --network-map bridge:br-prod=network:drnet --dry-run --json 2>&1)
like "$out" "bridge br-prod -> network drnet" "a bridge can move to a network (network:NAME)"

# Enabled for real: the replica is defined with the moved interfaces before
# the initial copy (refused: the primary is shut off), and stays at 1 Ready.
out=$(enable --network-map prodnet=drnet --network-map bridge:br-prod=br-dr --yes 2>&1)
is "$(defined)" 1 "the replica is defined"
[ "$(defined)" = 1 ] || printf '%s\n' "$out" | sed 's/^/#   /'
dvirsh dumpxml --inactive "$NVM" | python3 -c 'import sys, xml.etree.ElementTree as E
d = E.fromstring(sys.stdin.read())
for i in d.findall("devices/interface"):
    s = i.find("source")
    print(i.find("mac").get("address"), i.get("type"), s.get(i.get("type")), i.find("model").get("type"))' >"$T/nics"
is "$(cat "$T/nics")" "52:54:00:aa:00:01 network drnet virtio
52:54:00:aa:00:02 bridge br-dr virtio" "its interfaces are on drnet and br-dr, MACs and models kept"
is "$(pvirsh dumpxml --inactive "$NVM" | grep -c "prodnet\|br-prod")" 2 "the primary's definition is unchanged"

# Stopped before done_testing deletes $T (the EXIT trap then finds no pid file).
qemu_stop_all >/dev/null 2>&1
done_testing
