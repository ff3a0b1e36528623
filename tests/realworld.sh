#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# realworld.sh: domain definitions from libvirt's own test suite
# (tests/data/libvirt-xml/, each naming its source) as replicas on the test
# driver, through failover, revert, failover to an older point,
# test-failover, stop-test and commit.  After every step the definition
# is compared with the original: everything but the replicated disks'
# <source>/<backingStore> and drover's record, and after revert and
# stop-test the disks too.  Definitions drover must refuse (encrypted
# disks) are refused at plan time with 32770 and nothing changes.  Four of
# them also go through operations interrupted at fault points and repaired.
#
# How a definition becomes a replica (tests/realworld.py build): domain
# type 'test', shut off; every file disk (device 'disk') on a qcow2 chain
# made with qemu-img (driver type qcow2); a file disk vdz when it has none;
# its <nvram> file moved into the test directory; a drover record of three
# recovery points added to its <metadata>.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/ops-common.sh"

command -v "$QEMU_IMG" >/dev/null 2>&1 || skip_all "qemu-img not found"
command -v "$PYTHON" >/dev/null 2>&1 || skip_all "python3 not found"
command -v "$VIRSH" >/dev/null 2>&1 || skip_all "virsh not found"

mktemp_dir
DATA="${top_srcdir:-.}/tests/data/libvirt-xml"
RW="${top_srcdir:-.}/tests/realworld.py"

n_defs=$(ls "$DATA"/*.xml | wc -l)
[ "$n_defs" -ge 25 ]; ok $? "at least 25 definitions from libvirt's test suite ($n_defs)"
for x in "$DATA"/*.xml; do
    head -2 "$x" | grep -q "Source: libvirt/libvirt tests/qemuxml2argvdata/$(basename "$x") "
    ok $? "$(basename "$x") names its source"
done

# dump TAG: the inactive definition now, in $F/TAG.xml.
dump() { "$VIRSH" -q -c "$U" dumpxml --inactive "$name" >"$F/$1.xml" 2>"$F/$1.err"; }
# same TAG MODE DESC: the definition now equals the original (MODE all:
# everything but drover's record; nodisks: also without the replicated
# disks' sources).
same() {
    dump "$1"
    "$PYTHON" "$RW" norm "$F/orig.xml" "$2" "$targets" >"$F/orig.$2"
    "$PYTHON" "$RW" norm "$F/$1.xml" "$2" "$targets" >"$F/$1.$2"
    if diff -u "$F/orig.$2" "$F/$1.$2" >"$F/$1.diff"; then
        ok 0 "$3"
    else
        ok 1 "$3"
        head -20 "$F/$1.diff" | sed 's/^/#   /'
    fi
}
# overlay_clean TAG DESC: the replicated disks' <source> carries nothing
# that described the old file, and no <backingStore> is left.
overlay_clean() {
    _bad=
    for _t in $(echo "$targets" | tr , ' '); do
        _c=$("$PYTHON" "$RW" sources "$F/$1.xml" "$_t" | grep -v '^seclabel$' | tr '\n' ' ')
        [ -z "$_c" ] || _bad="$_bad $_t:[$_c]"
    done
    is "$_bad" "" "$2"
}
step() {  # step DESC ARGS...: runs drover ARGS on the fleet, expects 0
    _d=$1
    shift
    run -c "$U" "$@" --yes
    is "$rc" 0 "$b: $_d"
    [ "$rc" -eq 0 ] || printf '%s\n' "$err" | head -5 | sed 's/^/#   /'
}

for x in "$DATA"/*.xml; do
    b=$(basename "$x" .xml)
    F=$T/$b
    mkdir -p "$F"
    set -- $("$PYTHON" "$RW" build "$x" "$F" "$QEMU_IMG")
    name=$1
    shift
    targets=$(echo "$*" | tr ' ' ,)
    U="test://$F/fleet.xml"
    dump orig
    [ -s "$F/orig.xml" ]; ok $? "$b: loads on the test driver as replica $name ($targets)"
    nvram=$("$PYTHON" -c 'import sys,xml.etree.ElementTree as E
n=E.parse(sys.argv[1]).getroot().find("os/nvram")
print((n.text or "").strip() if n is not None else "")' "$F/orig.xml")
    nvsum=
    [ -n "$nvram" ] && nvsum=$(sha256sum <"$nvram")

    case $b in
    luks-*)
        tree_sums "$F" >"$T/$b.before"
        for op in failover test-failover; do
            run -c "$U" $op "$name" --yes --json
            is "$(jq_ "$T/out" 'd["result"]')" 32770 "$b: $op refused with 32770"
            like "$(jq_ "$T/out" 'd["message"]')" "disk vda .*encrypt" "$b: $op: the refusal names the disk and why"
        done
        tree_sums "$F" >"$T/$b.after"
        cmp -s "$T/$b.before" "$T/$b.after"; ok $? "$b: nothing changed"
        same refused all "$b: the definition is unchanged"
        continue
        ;;
    esac

    step "failover" failover "$name"
    same f1 nodisks "$b: after failover, everything but the disk sources is as before"
    overlay_clean f1 "$b: after failover, the overlays carry no <source> children or <backingStore> of the old files"
    step "revert" revert "$name"
    same r1 all "$b: after revert, the definition is the original, disks included"

    step "failover to rp-0001" failover "$name" --point rp-0001
    same f2 nodisks "$b: after failover to rp-0001, everything but the disk sources is as before"
    step "revert" revert "$name"
    same r2 all "$b: after the second revert, the definition is the original"

    if [ "$b" = boot-order ]; then
        run -c "$U" test-failover "$name" --dry-run --json
        json_ok dryrun "$T/out" "$b: test-failover --dry-run --json as documented"
        like "$(jq_ "$T/out" 'd["plan"]["test_left_out"]')" \
            "disk hda \(block disk /dev/HostVG/QEMUGuest1\); disk vda \(network disk sheepdog image on example.org 6000, boot order 3\); interface \(user, mac 00:11:22:33:44:55, boot order 2\)" \
            "$b: --json names the block and network disks and the interface, with their boot orders"
    fi
    step "test-failover" test-failover "$name"
    same t1 all "$b: test-failover leaves the replica's definition as it was"
    "$VIRSH" -q -c "$U" dumpxml --inactive "$name-test" >"$F/test.xml" 2>/dev/null
    [ -s "$F/test.xml" ]; ok $? "$b: the test system $name-test exists"
    # Every disk of the replica the test system lacks, the plan names.
    missing=$("$PYTHON" - "$F/orig.xml" "$F/test.xml" <<'EOF'
import sys, xml.etree.ElementTree as E
def targets(p):
    return [d.find("target").get("dev") for d in E.parse(p).getroot().find("devices").findall("disk")]
t = set(targets(sys.argv[2]))
print(" ".join(x for x in targets(sys.argv[1]) if x not in t))
EOF
)
    unnamed=
    for m in $missing; do
        printf '%s\n' "$out" | grep -q "left out of the test system.*\b$m\b" || unnamed="$unnamed $m"
    done
    is "$unnamed" "" "$b: the plan names every disk the test system leaves out (${missing:-none})"
    if [ -n "$nvram" ]; then
        tnv=$("$PYTHON" -c 'import sys,xml.etree.ElementTree as E
print(E.parse(sys.argv[1]).getroot().find("os/nvram").text.strip())' "$F/test.xml")
        [ "$tnv" != "$nvram" ] && [ -f "$tnv" ]; ok $? "$b: the test system has an NVRAM file of its own ($tnv)"
        like "$out" "creates:.*
.*nvram.*$tnv" "$b: the plan lists the NVRAM copy it creates"
    fi
    step "stop-test" stop-test "$name"
    same s1 all "$b: after stop-test, the replica's definition is the original"
    "$VIRSH" -q -c "$U" dominfo "$name-test" >/dev/null 2>&1
    ok $((! $?)) "$b: the test system is gone"
    is "$(ls "$F/vms/$name" | grep -c -e '\.test-' -e 'nvram')" 0 "$b: no test disk or NVRAM copy is left"
    if [ -n "$nvram" ]; then
        is "$(sha256sum <"$nvram" 2>/dev/null)" "$nvsum" "$b: the replica's NVRAM is there, unchanged"
    fi

    # Interrupted operations: repair leaves the definition as the plan
    # would (disk elements put back, the replica's NVRAM untouched).
    case $b in
    disk-slices|disk-metadata-cache|bios-nvram|os-firmware-efi)
        for fault in failover:created failover:switched; do
            DROVER_FAULT=$fault drover -c "$U" failover "$name" --yes </dev/null >/dev/null 2>&1
            is "$?" 86 "$b: failover interrupted at ${fault#*:}"
            step "repair after failover interrupted at ${fault#*:}" repair "$name"
            [ "$fault" = failover:switched ] && step "revert after the repaired failover" revert "$name"
            same "rep-${fault#*:}" all "$b: after repair (and revert), the definition is the original"
        done
        step "failover before an interrupted revert" failover "$name"
        DROVER_FAULT=revert:switched drover -c "$U" revert "$name" --yes </dev/null >/dev/null 2>&1
        is "$?" 86 "$b: revert interrupted after its switch"
        step "repair after revert interrupted after its switch" repair "$name"
        same rep-revert all "$b: after the repaired revert, the definition is the original"
        for fault in test-failover:test-defined stop-test:switched; do
            [ "$fault" = stop-test:switched ] && step "test-failover" test-failover "$name"
            DROVER_FAULT=$fault drover -c "$U" ${fault%%:*} "$name" --yes </dev/null >/dev/null 2>&1
            is "$?" 86 "$b: ${fault%%:*} interrupted at ${fault#*:}"
            step "repair after ${fault%%:*} interrupted at ${fault#*:}" repair "$name"
            same "rep-${fault%%:*}" all "$b: after repair of ${fault%%:*}, the definition is the original"
            is "$(ls "$F/vms/$name" | grep -c -e '\.test-' -e 'nvram')" 0 "$b: no test disk or NVRAM copy is left"
            if [ -n "$nvram" ]; then
                is "$(sha256sum <"$nvram" 2>/dev/null)" "$nvsum" "$b: the replica's NVRAM is there, unchanged"
            fi
        done
        ;;
    esac

    step "failover to rp-0002" failover "$name" --point rp-0002
    step "commit" commit "$name"
    same c1 nodisks "$b: after commit, everything but the disk sources is as before"
    for t in $(echo "$targets" | tr , ' '); do
        src=$(ls "$F/vms/$name/$t".failover-*.qcow2 2>/dev/null | head -1)
        "$QEMU_IMG" check -q "$src" >/dev/null 2>&1
        ok $? "$b: $t: the committed failover disk passes qemu-img check"
    done
done

# --- refusals at plan time on adapted and synthetic definitions ---------------
# refused_32770 DIR NAME PATTERN LABEL OPS...: each of OPS on NAME (fleet in
# DIR) is refused with 32770 naming PATTERN, and nothing changes.
refused_32770() {
    _dir=$1 _name=$2 _pat=$3 _label=$4
    shift 4
    tree_sums "$_dir" >"$_dir.before"
    "$VIRSH" -q -c "test://$_dir/fleet.xml" dumpxml --inactive "$_name" >"$_dir.before.xml" 2>/dev/null
    for _op in "$@"; do
        run -c "test://$_dir/fleet.xml" $_op "$_name" --yes --json
        is "$(jq_ "$T/out" 'd["result"]')" 32770 "$_label: $_op refused with 32770"
        like "$(jq_ "$T/out" 'd["message"]')" "$_pat" "$_label: $_op: the refusal says why"
    done
    tree_sums "$_dir" >"$_dir.after"
    cmp -s "$_dir.before" "$_dir.after"; ok $? "$_label: no file changed"
    "$VIRSH" -q -c "test://$_dir/fleet.xml" dumpxml --inactive "$_name" >"$_dir.after.xml" 2>/dev/null
    cmp -s "$_dir.before.xml" "$_dir.after.xml"; ok $? "$_label: the definition is unchanged"
}

# Encryption only in a <backingStore> layer of the disk (issue 11 item 6).
x="${top_srcdir:-.}/tests/data/libvirt-xml-adapted/disk-metadata-cache-luks-backing.xml"
head -3 "$x" | grep -q "Source: libvirt/libvirt tests/qemuxml2argvdata/disk-metadata-cache.xml .*
.*Adapted: "
ok $? "disk-metadata-cache-luks-backing names its source and its adaptation"
F=$T/luks-backing
mkdir -p "$F"
set -- $("$PYTHON" "$RW" build "$x" "$F" "$QEMU_IMG")
refused_32770 "$F" "$1" "disk hdb .*encrypt" "<encryption> in <backingStore>" failover test-failover

# A chain layer whose qcow2 header says it is encrypted (crypt_method 2,
# LUKS), with no <encryption> in the definition at all.
F=$T/luks-layer
mkdir -p "$F"
set -- $("$PYTHON" "$RW" build "$DATA/metadata.xml" "$F" "$QEMU_IMG")
name=$1 t=$2
L="$F/vms/$name/$t.rp-0001.qcow2"
# qemu-img times its key derivation and gives up ("Unable to get accurate
# CPU usage") now and then on a loaded machine: a few tries.  Ten failed in
# a row once in CI: then the layer is a plain qcow2 overlay whose header
# says LUKS (crypt_method 2 at byte 32), which is all drover reads of it.
made=
for _try in 1 2 3 4 5 6 7 8 9 10; do
    rm -f "$L"
    if "$QEMU_IMG" create -q -f qcow2 --object secret,id=s0,data=drover-test \
        -o encrypt.format=luks,encrypt.key-secret=s0 -u -F qcow2 \
        -b "$F/vms/$name/$t.base.qcow2" "$L" 16M; then
        "$QEMU_IMG" info "$L" 2>/dev/null | grep -q "encrypted: yes" && made=luks
        break
    fi
done
if [ -z "$made" ]; then
    rm -f "$L"
    "$QEMU_IMG" create -q -f qcow2 -u -F qcow2 -b "$F/vms/$name/$t.base.qcow2" "$L" 16M &&
        "$PYTHON" - "$L" <<'EOF' && made=header
import struct, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(32)
    f.write(struct.pack(">I", 2))
    f.seek(0)
    h = f.read(36)
assert h[:4] == b"QFI\xfb" and struct.unpack(">I", h[32:36])[0] == 2
EOF
    diag "qemu-img made no LUKS layer in 10 tries: a plain overlay whose header says LUKS instead"
fi
[ -s "$L" ] && [ -n "$made" ]
ok $? "luks-layer: $t.rp-0001.qcow2 made again as an encrypted qcow2 (LUKS)"
refused_32770 "$F" "$name" "disk $t .*encrypt.*qcow2 header of .*$t.rp-0001.qcow2" \
    "encrypted qcow2 layer" failover test-failover

# A record that would outgrow REPLICA_MAX_BYTES (1 MiB) once failover keeps
# every disk's element: 20 disks of about 60 KiB each (issue 11 item 5).
F=$T/big
mkdir -p "$F"
"$PYTHON" - "$F/big.xml" <<'EOF'
import sys
disks = "".join("""
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/tmp/big-%d.qcow2'/>
      <target dev='vd%s' bus='virtio'/>
      <serial>%s</serial>
    </disk>""" % (i, chr(ord('a') + i), "S" * 60000) for i in range(20))
open(sys.argv[1], "w").write("""<domain type='qemu'>
  <name>bigdisks</name>
  <uuid>b16d15c5-0000-4000-8000-000000000001</uuid>
  <memory unit='KiB'>219136</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>%s
  </devices>
</domain>
""" % disks)
EOF
set -- $("$PYTHON" "$RW" build "$F/big.xml" "$F" "$QEMU_IMG")
is "$#" 21 "bigdisks: a replica of 20 disks"
refused_32770 "$F" "$1" "record of bigdisks would be [0-9]+ bytes after failover" \
    "record too large" failover
run -c "test://$F/fleet.xml" check "$1"
is "$rc" 0 "bigdisks: check still reads the record"

done_testing
