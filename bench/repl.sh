#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/repl.sh: replication against nbdcopy, in one run on this machine
# (`make bench-repl`, as root: two private libvirtd daemons, as the tests).
#  1. Initial copy of a 1 GiB disk of random data: drover enable-replication
#     (the whole job: definition, backup job, copy, rp-0001) against nbdcopy
#     of the same export into a qcow2 served by qemu-nbd (the copy alone).
#  2. A cycle after 64 MiB of scattered writes on a 4 GiB disk: bytes the
#     new layer holds against the bytes written, and the cycle's time.
# Prints a Markdown table; doc/performance.md keeps the figures.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/qemu-lib.sh"
command -v nbdcopy >/dev/null 2>&1 || { echo "bench: nbdcopy is needed (libnbd-bin)"; exit 1; }
qemu_require
mktemp_dir
TOP=$T
mkdir -p "$TOP/p" "$TOP/d" "$TOP/prim"
T=$TOP/p; qemu_start; qemu_save prim; PURI=$QURI
T=$TOP/d; qemu_start; qemu_save dr; DURI=$QURI
T=$TOP
trap 'qemu_stop_all >/dev/null 2>&1' EXIT
pvirsh() { "$VIRSH" -q -c "$PURI" "$@"; }
now() { python3 -c 'import time; print(time.monotonic())'; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
say() { echo "bench: $*" >&2; }

VM=bench$$
say "making a 1 GiB disk of random data and a 4 GiB empty one"
head -c 1G /dev/urandom >"$TOP/prim/vda.raw"
"$QEMU_IMG" convert -O qcow2 "$TOP/prim/vda.raw" "$TOP/prim/vda.qcow2" && rm -f "$TOP/prim/vda.raw"
"$QEMU_IMG" create -q -f qcow2 "$TOP/prim/vdb.qcow2" 4G
cat >"$TOP/prim/domain.xml" <<EOX
<domain type='qemu'><name>$VM</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><emulator>$QEMU_SYSTEM</emulator>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
      <source file='$TOP/prim/vda.qcow2'/><target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
      <source file='$TOP/prim/vdb.qcow2'/><target dev='vdb' bus='virtio'/></disk>
    <memballoon model='none'/></devices></domain>
EOX
pvirsh define "$TOP/prim/domain.xml" >/dev/null && pvirsh start "$VM" >/dev/null || exit 1

# 1. nbdcopy of the export (a full pull backup without checkpoint).
P1=$(port)
cat >"$TOP/backup.xml" <<EOX
<domainbackup mode='pull'><server name='127.0.0.1' port='$P1'/>
  <disks><disk name='vda' backup='yes' type='file'><scratch file='$TOP/prim/vda.bench.scratch'/></disk>
    <disk name='vdb' backup='no'/></disks></domainbackup>
EOX
pvirsh backup-begin "$VM" "$TOP/backup.xml" >/dev/null || exit 1
"$QEMU_IMG" create -q -f qcow2 "$TOP/nbdcopy.qcow2" 1G
say "nbdcopy of vda"
# Both copies read the primary's image from the page cache: warm it first.
cat "$TOP/prim/vda.qcow2" >/dev/null
t0=$(now)
nbdcopy "nbd://127.0.0.1:$P1/vda" -- [ qemu-nbd -f qcow2 "$TOP/nbdcopy.qcow2" ] || exit 1
t1=$(now)
pvirsh domjobabort "$VM" >/dev/null
nbd_s=$(python3 -c "print('%.2f' % ($t1 - $t0))")

say "drover enable-replication (initial copy of vda and the empty vdb)"
cat "$TOP/prim/vda.qcow2" >/dev/null
P2=$(port)
t0=$(now)
drover -c "$DURI" enable-replication "$VM" --from "$PURI" --dir "$TOP/dr" --nbd "127.0.0.1:$P2" \
    --yes >"$TOP/enable.out" 2>&1 || { cat "$TOP/enable.out"; exit 1; }
t1=$(now)
drv_s=$(python3 -c "print('%.2f' % ($t1 - $t0))")
# The cycle's own time (backup job, copy, rp-0001, define) and the copy in it.
cyc0_s=$(sed -n 's/.*copied for [0-9]* disks* in \([0-9.]*\) s.*/\1/p' "$TOP/enable.out")
copy_s=$(sed -n 's/.*(copying \([0-9.]*\) s).*/\1/p' "$TOP/enable.out")

# 2. 64 MiB of 1 MiB writes spread over vdb, then one cycle.
say "64 MiB of scattered writes on vdb, then a cycle"
DEV=$(pvirsh qemu-monitor-command "$VM" --hmp info block 2>/dev/null |
    sed -n 's/^.*Attached to: *\([^ ]*virtio-disk1[^ ]*\).*$/\1/p' | head -1)
[ -n "$DEV" ] || DEV=virtio-disk1
i=0
while [ $i -lt 64 ]; do
    pvirsh qemu-monitor-command "$VM" --hmp \
        "qemu-io -d $DEV \"write -P $((i % 200 + 1)) $((i * 61))M 1M\"" >>"$TOP/hmp.out" || exit 1
    i=$((i + 1))
done
t0=$(now)
drover -c "$DURI" replicate "$VM" >"$TOP/cycle.out" 2>&1 || { cat "$TOP/cycle.out"; exit 1; }
t1=$(now)
cyc_s=$(python3 -c "print('%.2f' % ($t1 - $t0))")
layer=$("$QEMU_IMG" map -U --output=json "$TOP/dr/vdb.rp-0002.qcow2" | python3 -c 'import json,sys
print(sum(e["length"] for e in json.load(sys.stdin) if e["depth"] == 0 and e["data"]))')

echo "| measure | drover | baseline | ratio | target |"
echo "|---|---|---|---|---|"
echo "| initial copy, 1 GiB of data: the copy | ${copy_s} s | ${nbd_s} s (nbdcopy of the same export into qemu-nbd) | $(python3 -c "print('%.2f' % ($nbd_s / $copy_s))")x nbdcopy's throughput | >= 0.9x |"
echo "| initial copy: the whole cycle / enable-replication | ${cyc0_s} s / ${drv_s} s | | | |"
echo "| cycle, 64 MiB dirty of 4 GiB: bytes in the layer | $layer B | 67108864 B written | $(python3 -c "print('%.3f' % ($layer / 67108864))") | <= 1.05 |"
echo "| cycle time | ${cyc_s} s | | | |"
qemu_stop_all >/dev/null 2>&1
rm -rf "$TOP"
