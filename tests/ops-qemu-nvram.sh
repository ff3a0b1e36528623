#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# ops-qemu-nvram.sh: a UEFI replica (pflash loader of our own, an NVRAM
# file) on a private libvirtd with the qemu driver.  Its test system gets
# an NVRAM file of its own, which the plan creates and stop-test deletes;
# the replica's NVRAM and the loader are never written or deleted, also
# when repair finishes an interrupted test failover or stop-test (libvirt's
# VIR_DOMAIN_UNDEFINE_NVRAM would delete the file <nvram> names).
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/qemu-lib.sh"
. "${top_srcdir:-.}/tests/ops-common.sh"

qemu_require
mktemp_dir
qemu_start

qemu_make_replica uefi01 3 || { ok 1 "replica uefi01 made"; done_testing; exit 1; }
mkdir -p "$T/fw" "$T/nvram"
LOADER=$T/fw/CODE.fd
NVRAM=$T/nvram/uefi01_VARS.fd
head -c 2097152 /dev/zero >"$LOADER"
printf 'the replica VARS' | dd of="$NVRAM" bs=1 seek=0 conv=notrunc 2>/dev/null
head -c 131072 /dev/zero | tr '\0' 'v' | dd of="$NVRAM" bs=1 seek=16 conv=notrunc 2>/dev/null
sed -i "s|<os><type arch='x86_64' machine='pc'>hvm</type></os>|<os><type arch='x86_64' machine='pc'>hvm</type><loader readonly='yes' type='pflash'>$LOADER</loader><nvram>$NVRAM</nvram></os><features><acpi/></features>|" "$VMDIR/domain.xml"
sed -i "s|<name>uefi01</name>|<name>uefi01</name><uuid>$(qvirsh domuuid uefi01)</uuid>|" "$VMDIR/domain.xml"
qvirsh define "$VMDIR/domain.xml" >/dev/null
qvirsh dumpxml --inactive uefi01 | grep -q "<nvram>$NVRAM</nvram>"
defined=$?
ok $defined "uefi01 is defined with its NVRAM"
[ "$defined" -eq 0 ] || { done_testing; exit 1; }
nv_sum=$(sha256sum <"$NVRAM")
ld_sum=$(sha256sum <"$LOADER")
U=$QURI

nvram_of() { qvirsh dumpxml --inactive "$1" 2>/dev/null | sed -n 's|.*<nvram[^>]*>\(.*\)</nvram>.*|\1|p'; }
replica_nvram_intact() {  # replica_nvram_intact DESC
    is "$(sha256sum <"$NVRAM" 2>/dev/null)" "$nv_sum" "$1: the replica's NVRAM is there, unchanged"
    is "$(sha256sum <"$LOADER" 2>/dev/null)" "$ld_sum" "$1: the loader is unchanged"
    like "$(qvirsh dumpxml --inactive uefi01)" "<nvram>$NVRAM</nvram>" "$1: uefi01 still names its NVRAM"
}
no_copy_left() {
    is "$(ls "$VMDIR" | grep -c 'nvram')" 0 "$1: no NVRAM copy left in the replica directory"
}

# Test failover: a copy, named in the plan.
run -c "$U" test-failover uefi01 --yes
is "$rc" 0 "test-failover uefi01"
copy=$(nvram_of uefi01-test)
like "$copy" "^$VMDIR/nvram\.test-[0-9TZ]+\.fd$" "the test system has an NVRAM of its own in the replica directory"
like "$out" "creates:.*
.*nvram +$copy +\(test system NVRAM" "the plan lists the NVRAM copy it creates"
like "$out" "keeps:.*
.*nvram +$NVRAM +\(replica NVRAM" "the plan lists the replica's NVRAM among the files it keeps"
cmp -s "$copy" "$NVRAM"; ok $? "the copy holds the replica's NVRAM"
# A running test system writes its NVRAM: the replica's never changes.
printf 'written by the test system' | dd of="$copy" bs=1 seek=0 conv=notrunc 2>/dev/null
replica_nvram_intact "test system's NVRAM written"

run -c "$U" stop-test uefi01 --yes
is "$rc" 0 "stop-test uefi01"
like "$out" "deletes:.*
.*nvram +$copy +\(test system NVRAM" "the stop-test plan lists the copy it deletes"
qvirsh dominfo uefi01-test >/dev/null 2>&1
ok $((! $?)) "stop-test: the test system is gone"
replica_nvram_intact "stop-test"
no_copy_left "stop-test"

# Repair of a test failover interrupted after it defined the test system.
DROVER_FAULT=test-failover:test-defined drover -c "$U" test-failover uefi01 --yes </dev/null >/dev/null 2>&1
is "$?" 86 "test-failover interrupted after defining the test system"
[ -n "$(nvram_of uefi01-test)" ]; ok $? "the interrupted test failover left its test system"
run -c "$U" repair uefi01 --yes
is "$rc" 0 "repair rolls the interrupted test failover back"
qvirsh dominfo uefi01-test >/dev/null 2>&1
ok $((! $?)) "repair of the test failover: the test system is gone"
replica_nvram_intact "repair of the test failover"
no_copy_left "repair of the test failover"

# Repair of a stop-test interrupted after its switch.
run -c "$U" test-failover uefi01 --yes
is "$rc" 0 "test-failover uefi01 again"
DROVER_FAULT=stop-test:switched drover -c "$U" stop-test uefi01 --yes </dev/null >/dev/null 2>&1
is "$?" 86 "stop-test interrupted after its switch"
run -c "$U" repair uefi01 --yes
is "$rc" 0 "repair finishes the interrupted stop-test"
qvirsh dominfo uefi01-test >/dev/null 2>&1
ok $((! $?)) "repair of the stop-test: the test system is gone"
replica_nvram_intact "repair of the stop-test"
no_copy_left "repair of the stop-test"

# The replica's NVRAM missing: refused at plan time, nothing made.
mv "$NVRAM" "$NVRAM.away"
run -c "$U" test-failover uefi01 --yes --json
is "$(jq_ "$T/out" 'd["result"]')" 32779 "test-failover without the replica's NVRAM file: 32779"
like "$(jq_ "$T/out" 'd["message"]')" "NVRAM of uefi01 \($NVRAM\)" "the refusal names the NVRAM file"
qvirsh dominfo uefi01-test >/dev/null 2>&1
ok $((! $?)) "no test system was defined"
mv "$NVRAM.away" "$NVRAM"

qemu_stop
done_testing
