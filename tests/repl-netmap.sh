#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# repl-netmap.sh: enable-replication --network-map SRC=DST on two private
# libvirtd daemons.  A second primary VM (shut off: its interfaces need no
# network to be defined) has an interface on the primary's network prodnet
# and one on the bridge br-prod; the map moves them to the DR host's
# network drnet and bridge br-dr, shown in the plan and in the replica's
# definition; a map entry that matches no interface, a DR network that does
# not exist and a malformed entry are refused (32773) before anything is
# defined.  drover.conf's network_map (per primary, per replica) does the
# same when no --network-map is given; the plan says where each entry came
# from, and --network-map wins.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/qemu-lib.sh"
. "${top_srcdir:-.}/tests/repl-lib.sh"
. "${top_srcdir:-.}/tests/ops-common.sh"

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
# A third VM like it, enabled with drover.conf's map alone.
CVM=${VM}c
CDIR=$TOP/dr/$CVM
"$QEMU_IMG" create -q -f qcow2 "$TOP/prim/c-vda.qcow2" 16M &&
    sed -e "s|<name>$NVM</name>|<name>$CVM</name>|" -e "s|n-vda.qcow2|c-vda.qcow2|" \
        -e "s|52:54:00:aa:00:|52:54:00:cc:00:|" "$TOP/prim/net.xml" >"$TOP/prim/c.xml" &&
    pvirsh define "$TOP/prim/c.xml" >/dev/null
ok $? "primary $CVM defined the same way"
# The DR site's network, defined only (nothing is started, no bridge made).
printf "<network><name>drnet</name><bridge name='drvbr%s'/></network>\n" "$$" >"$TOP/d/drnet.xml"
dvirsh net-define "$TOP/d/drnet.xml" >/dev/null
ok $? "the DR host has a network drnet"

enable() { dr enable-replication "$NVM" --from "$PURI" --dir "$NDIR" --nbd "127.0.0.1:$PORT" "$@"; }
defined() { dvirsh list --all --name | grep -cx "${1:-$NVM}"; }
# conf FILE TEXT: the test's configuration (its audit log and job history)
# with TEXT after it.
conf() { printf '%s\n%s\n' "$(cat "$T/drover.conf")" "$2" >"$T/$1"; }
# cenable CONF VM DIR [OPTIONS]: enable-replication with configuration CONF.
cenable() {
    _c=$1 _v=$2 _d=$3
    shift 3
    "$DROVER" --config "$T/$_c" -c "$DURI" enable-replication "$_v" --from "$PURI" --dir "$_d" \
        --nbd "127.0.0.1:$PORT" "$@" 2>&1
}
nics() {  # nics VM: each interface of the replica VM: MAC, type, source, model
    dvirsh dumpxml --inactive "$1" | python3 -c 'import sys, xml.etree.ElementTree as E
d = E.fromstring(sys.stdin.read())
for i in d.findall("devices/interface"):
    s = i.find("source")
    print(i.find("mac").get("address"), i.get("type"), s.get(i.get("type")), i.find("model").get("type"))'
}

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

# drover.conf's network_map for the primary: each entry checked when drover
# starts, shown by drover config.
conf map.conf "replication = (
  { primary = \"$PURI\";
    network_map = [ \"prodnet=drnet\", \"bridge:br-prod=br-conf\", \"lan=dr-lan\" ]; }
);"
mapline=$(grep -n 'network_map = \[' "$T/map.conf" | cut -d: -f1)
out=$("$DROVER" --config "$T/map.conf" config 2>&1)
like "$out" "network_map = \\[ \"prodnet=drnet\", \"bridge:br-prod=br-conf\", \"lan=dr-lan\" \\];" \
    "drover config shows the group's network_map"
"$DROVER" --config "$T/map.conf" config --json >"$T/config.json" 2>&1
json_ok config "$T/config.json" "config --json with a network_map: as documented"
is "$(jq_ "$T/config.json" 'd["replication"][0]["network_map"]')" \
    "['prodnet=drnet', 'bridge:br-prod=br-conf', 'lan=dr-lan']" "config --json: the map, in order"

out=$(cenable map.conf "$NVM" "$NDIR" --dry-run)
is "$?" 0 "dry run with drover.conf's map: exit 0"
like "$out" "map: +prodnet=drnet \\(network_map at $T/map\\.conf:$mapline\\)" \
    "the plan shows each entry and where it came from (file and line)"
like "$out" "map: +bridge:br-prod=br-conf \\(network_map at $T/map\\.conf:$mapline\\)" \
    "and the second entry"
like "$out" "map: +lan=dr-lan \\(network_map at [^)]*\\): no interface uses it" \
    "an entry no interface uses is shown as unused, not refused (the map is the primary's)"
like "$out" "network: interface 52:54:00:aa:00:01: network prodnet -> network drnet" \
    "the prodnet interface moves to drnet by the configuration"
like "$out" "network: interface 52:54:00:aa:00:02: bridge br-prod -> bridge br-conf" \
    "the br-prod interface moves to br-conf by the configuration"

out=$(cenable map.conf "$NVM" "$NDIR" --dry-run --network-map bridge:br-prod=br-dr)
like "$out" "map: +bridge:br-prod=br-dr \\(--network-map\\)" "with --network-map: the option's entry"
! printf '%s\n' "$out" | grep -q "network_map at"
ok $? "and nothing of drover.conf's map (the option wins, whole)"
like "$out" "network: interface 52:54:00:aa:00:01: network prodnet \\(kept: not in the map\\)" \
    "the interface only drover.conf maps is kept"

# A per-replica group wins over the primary's: an empty list is no map.
conf replica.conf "replication = (
  { primary = \"$PURI\"; network_map = [ \"prodnet=drnet\" ]; },
  { primary = \"$PURI\"; vm = \"$NVM\"; network_map = [ ]; }
);"
out=$(cenable replica.conf "$NVM" "$NDIR" --dry-run)
like "$out" "network: interface 52:54:00:aa:00:01: network prodnet \\(kept: not in the map\\)" \
    "the replica's empty network_map wins over the primary's map"
! printf '%s\n' "$out" | grep -q "map: "
ok $? "and the plan shows no map"
out=$(cenable replica.conf "$CVM" "$CDIR" --dry-run)
like "$out" "network: interface 52:54:00:cc:00:01: network prodnet -> network drnet" \
    "another VM of that primary takes the primary's map"

# Refusals: a DR network that does not exist; a malformed entry stops
# drover at start, naming the file and line.
conf nonet.conf "replication = ( { primary = \"$PURI\"; network_map = [ \"prodnet=nosuchnet\" ]; } );"
out=$(cenable nonet.conf "$NVM" "$NDIR" --dry-run --json)
like "$out" '"result": 32773' "drover.conf maps to a DR network that does not exist: 32773"
like "$out" "network_map at $T/nonet\\.conf:[0-9]+ prodnet=nosuchnet.*no network nosuchnet" \
    "the message names the file, line, entry and network"
conf bad.conf "replication = (
  { primary = \"$PURI\";
    network_map = [ \"prodnet=drnet\", \"prodnet\" ]; }
);"
badline=$(grep -n 'network_map = \[' "$T/bad.conf" | cut -d: -f1)
out=$(cenable bad.conf "$NVM" "$NDIR" --yes --json)
is "$?" 2 "a malformed network_map entry: exit 2 (32773, before any host is asked)"
like "$out" "bad\\.conf:$badline: replication\\[0\\]\\.network_map\\[1\\]: .*prodnet.* is not SRC=DST" \
    "the refusal names the file, line, group and entry"
is "$(defined)" 0 "nothing was defined on the DR host"

# Enabled for real: the replica is defined with the moved interfaces before
# the initial copy (refused: the primary is shut off), and stays at 1 Ready.
# drover.conf maps br-prod to br-conf; the options win.
out=$(cenable map.conf "$NVM" "$NDIR" --network-map prodnet=drnet \
    --network-map bridge:br-prod=br-dr --yes)
is "$(defined)" 1 "the replica is defined"
[ "$(defined)" = 1 ] || printf '%s\n' "$out" | sed 's/^/#   /'
is "$(nics "$NVM")" "52:54:00:aa:00:01 network drnet virtio
52:54:00:aa:00:02 bridge br-dr virtio" \
    "its interfaces are on drnet and br-dr (the options over drover.conf), MACs and models kept"
is "$(pvirsh dumpxml --inactive "$NVM" | grep -c "prodnet\|br-prod")" 2 "the primary's definition is unchanged"

# And with drover.conf's map alone.
out=$(cenable map.conf "$CVM" "$CDIR" --yes)
is "$(defined "$CVM")" 1 "$CVM's replica is defined with drover.conf's map"
[ "$(defined "$CVM")" = 1 ] || printf '%s\n' "$out" | sed 's/^/#   /'
is "$(nics "$CVM")" "52:54:00:cc:00:01 network drnet virtio
52:54:00:cc:00:02 bridge br-conf virtio" "its interfaces are on drnet and br-conf, as drover.conf maps them"
is "$(pvirsh dumpxml --inactive "$CVM" | grep -c "prodnet\|br-prod")" 2 "$CVM's primary definition is unchanged"

# Stopped before done_testing deletes $T (the EXIT trap then finds no pid file).
qemu_stop_all >/dev/null 2>&1
done_testing
