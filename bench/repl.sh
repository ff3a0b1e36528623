#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/repl.sh: replication against nbdcopy, ratios in one run on this
# machine (`make bench-repl`, as root: two private libvirtd daemons, as the
# tests).  Three primaries, each with one disk, so that each measure has a
# disk of its own:
#  1. Initial copy: A has 1 GiB of random data.  nbdcopy of a full pull
#     backup's export into a qcow2 served by qemu-nbd (the baseline) against
#     drover's copy of the same disk (enable-replication, then resync for
#     the later rounds: the same full copy), rounds alternating.
#  2. A cycle after 64 MiB of scattered writes (64 x 1 MiB) on B's 4 GiB
#     disk: the bytes the cycle moved against the bytes written, and the
#     whole `drover replicate` against the baseline's backup-begin + nbdcopy
#     + domjobabort of a full pull backup of the same disk, whose only data
#     are those 64 extents (nbdcopy skips the holes), into a fresh qcow2.
#  3. The same writes on C's 64 GiB disk: C's cycle time against B's.
# BENCH_QUICK=1: 256 MiB for A, one round (a smoke test); BENCH_ROUNDS=N.
# BENCH_BEFORE=BINARY: another drover (the one before a change) also copies
# A in every round (its resync, the same full copy), in turn first and
# second with this one, so that before and after are measured in one run.
# Prints a Markdown table; doc/performance.md keeps the figures.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/qemu-lib.sh"
command -v nbdcopy >/dev/null 2>&1 || { echo "bench: nbdcopy is needed (libnbd-bin)"; exit 1; }
qemu_require
ROUNDS=${BENCH_ROUNDS:-3}
ASIZE=1G
if [ "${BENCH_QUICK:-0}" = 1 ]; then
    ROUNDS=1
    ASIZE=256M
fi
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
calc() { python3 -c "print($1)"; }
median() { tr ' ' '\n' | grep . | python3 -c 'import sys, statistics as s; v = sorted(float(x) for x in sys.stdin); m = s.median(v); print(int(m) if m == int(m) and m > 1000 else "%.3f" % m)'; }
verdict() { python3 -c "print('met' if $1 else 'missed')"; }
die() { say "$*"; exit 1; }

A=bench$$a B=bench$$b C=bench$$c
say "making the disks: A $ASIZE of random data, B 4 GiB and C 64 GiB empty"
head -c "$ASIZE" /dev/urandom >"$TOP/prim/a.raw"
"$QEMU_IMG" convert -O qcow2 "$TOP/prim/a.raw" "$TOP/prim/a.qcow2" && rm -f "$TOP/prim/a.raw"
"$QEMU_IMG" create -q -f qcow2 "$TOP/prim/b.qcow2" 4G
"$QEMU_IMG" create -q -f qcow2 "$TOP/prim/c.qcow2" 64G
for v in a b c; do
    cat >"$TOP/prim/$v.xml" <<EOX
<domain type='qemu'><name>bench$$$v</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><emulator>$QEMU_SYSTEM</emulator>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
      <source file='$TOP/prim/$v.qcow2'/><target dev='vda' bus='virtio'/></disk>
    <memballoon model='none'/></devices></domain>
EOX
    pvirsh define "$TOP/prim/$v.xml" >/dev/null && pvirsh start "bench$$$v" >/dev/null ||
        die "primary bench$$$v did not start"
done

# full_export VM PORT: a full pull backup of VM's vda (no checkpoint).
full_export() {
    cat >"$TOP/backup.xml" <<EOX
<domainbackup mode='pull'><server name='127.0.0.1' port='$2'/>
  <disks><disk name='vda' backup='yes' type='file'><scratch file='$TOP/prim/$1.scratch'/></disk>
  </disks></domainbackup>
EOX
    pvirsh backup-begin "$1" "$TOP/backup.xml" >/dev/null
}
# nbdcopy_to VM PORT SIZE [OPTIONS]: nbdcopy of the export into a fresh
# qcow2 through qemu-nbd; prints its seconds.
nbdcopy_to() {
    rm -f "$TOP/nbdcopy.qcow2"
    "$QEMU_IMG" create -q -f qcow2 "$TOP/nbdcopy.qcow2" "$3"
    _t0=$(now)
    nbdcopy $4 "nbd://127.0.0.1:$2/vda" -- [ qemu-nbd -f qcow2 "$TOP/nbdcopy.qcow2" ] || return 1
    _t1=$(now)
    calc "'%.3f' % ($_t1 - $_t0)"
}
# writes VM ROUND: 64 writes of 1 MiB spread over the first 4 GiB.
writes() {
    _dev=$(pvirsh qemu-monitor-command "$1" --hmp info block 2>/dev/null |
        sed -n 's/^.*Attached to: *\([^ ]*virtio-disk0[^ ]*\).*$/\1/p' | head -1)
    [ -n "$_dev" ] || _dev=virtio-disk0
    _i=0
    while [ $_i -lt 64 ]; do
        pvirsh qemu-monitor-command "$1" --hmp \
            "qemu-io -d $_dev \"write -P $(((_i + $2 * 7) % 200 + 1)) $((_i * 61))M 1M\"" \
            >>"$TOP/hmp.out" || return 1
        _i=$((_i + 1))
    done
}
statf() {  # statf VM EXPR: EXPR on its `drover stats --json` entry (as v)
    drover -c "$DURI" stats "$1" --json 2>/dev/null | python3 -c "import json,sys
v=json.load(sys.stdin)[0]
print($2)"
}

# before_copy ROUND: BENCH_BEFORE's copy of A (a resync); appends to the lists.
before_copy() {
    cat "$TOP/prim/a.qcow2" >/dev/null
    say "round $1: drover before ($BENCH_BEFORE) resync of A"
    "$BENCH_BEFORE" --config "$T/drover.conf" -c "$DURI" resync "$A" --yes >"$TOP/a0.out" 2>&1 ||
        { cat "$TOP/a0.out"; exit 1; }
    b_s=$(sed -n 's/.*(copying \([0-9.]*\) s).*/\1/p' "$TOP/a0.out" | tail -1)
    [ -n "$b_s" ] || { cat "$TOP/a0.out"; die "no copying time in the output of $BENCH_BEFORE"; }
    bcopy_l="$bcopy_l $b_s" bratio_l="$bratio_l $(calc "'%.3f' % ($n_s / max($b_s, 0.05))")"
    say "round $1: drover before's copy $b_s s"
}

# --- 1. initial copy ------------------------------------------------------------
nbd_l= copy_l= ratio_l= bcopy_l= bratio_l=
BENCH_BEFORE=${BENCH_BEFORE:-}
r=1
while [ $r -le $ROUNDS ]; do
    P=$(port)
    full_export "$A" "$P" || die "backup-begin of $A failed"
    cat "$TOP/prim/a.qcow2" >/dev/null     # both read the primary's image from the page cache
    say "round $r: nbdcopy of A"
    n_s=$(nbdcopy_to "$A" "$P" "$ASIZE" "") || die "nbdcopy failed"
    pvirsh domjobabort "$A" >/dev/null
    rm -f "$TOP/nbdcopy.qcow2"
    # Even rounds: the drover before first (round 1 enables with this one).
    [ -n "$BENCH_BEFORE" ] && [ $((r % 2)) -eq 0 ] && before_copy $r
    cat "$TOP/prim/a.qcow2" >/dev/null
    if [ $r -eq 1 ]; then
        say "round $r: drover enable-replication of A (initial copy)"
        drover -c "$DURI" enable-replication "$A" --from "$PURI" --dir "$TOP/dr/a" \
            --nbd "127.0.0.1:$(port)" --yes >"$TOP/a.out" 2>&1 || { cat "$TOP/a.out"; exit 1; }
    else
        say "round $r: drover resync of A (the same full copy)"
        drover -c "$DURI" resync "$A" --yes >"$TOP/a.out" 2>&1 || { cat "$TOP/a.out"; exit 1; }
    fi
    c_s=$(sed -n 's/.*(copying \([0-9.]*\) s).*/\1/p' "$TOP/a.out" | tail -1)
    [ -n "$c_s" ] || { cat "$TOP/a.out"; die "no copying time in drover's output"; }
    nbd_l="$nbd_l $n_s" copy_l="$copy_l $c_s" ratio_l="$ratio_l $(calc "'%.3f' % ($n_s / max($c_s, 0.05))")"
    say "round $r: nbdcopy $n_s s, drover's copy $c_s s"
    [ -n "$BENCH_BEFORE" ] && [ $((r % 2)) -eq 1 ] && before_copy $r
    r=$((r + 1))
done

# --- 2 and 3. cycles of 64 MiB dirty on 4 GiB and 64 GiB ------------------------
for v in b c; do
    drover -c "$DURI" enable-replication "bench$$$v" --from "$PURI" --dir "$TOP/dr/$v" \
        --nbd "127.0.0.1:$(port)" --yes >"$TOP/$v.out" 2>&1 || { cat "$TOP/$v.out"; exit 1; }
done
moved_l= layer_l= wall_l= base_l= nbdx_l= cyc_l= bcyc_l= ccyc_l= cratio_l= bcp_l= cpr_l=
r=1
while [ $r -le $ROUNDS ]; do
    say "round $r: 64 MiB of scattered writes on B, the baseline, a cycle"
    writes "$B" "$r" || die "writes on B failed"
    P=$(port)
    t0=$(now)
    full_export "$B" "$P" || die "backup-begin of $B failed"
    x_s=$(nbdcopy_to "$B" "$P" 4G "--destination-is-zero") || die "nbdcopy failed"
    pvirsh domjobabort "$B" >/dev/null
    t1=$(now)
    b_s=$(calc "'%.3f' % ($t1 - $t0)")
    rm -f "$TOP/nbdcopy.qcow2"
    t0=$(now)
    drover -c "$DURI" replicate "$B" >"$TOP/b.out" 2>&1 || { cat "$TOP/b.out"; exit 1; }
    t1=$(now)
    w_s=$(calc "'%.3f' % ($t1 - $t0)")
    moved=$(statf "$B" "v['last_size']")
    bc_s=$(statf "$B" "v['last_cycle_seconds']")
    bcp_s=$(sed -n 's/.*(copying \([0-9.]*\) s).*/\1/p' "$TOP/b.out" | tail -1)
    point=$(ls "$TOP/dr/b" | sed -n 's/^vda\.\(rp-[0-9]*\)\.qcow2$/\1/p' | sort | tail -1)
    layer=$("$QEMU_IMG" map -U --output=json "$TOP/dr/b/vda.$point.qcow2" | python3 -c 'import json,sys
print(sum(e["length"] for e in json.load(sys.stdin) if e["depth"] == 0 and e["data"]))')
    say "round $r: the same writes on C, a cycle"
    writes "$C" "$r" || die "writes on C failed"
    drover -c "$DURI" replicate "$C" >"$TOP/c.out" 2>&1 || { cat "$TOP/c.out"; exit 1; }
    cc_s=$(statf "$C" "v['last_cycle_seconds']")
    moved_l="$moved_l $moved" layer_l="$layer_l $layer" wall_l="$wall_l $w_s" base_l="$base_l $b_s"
    nbdx_l="$nbdx_l $x_s" bcyc_l="$bcyc_l $bc_s" ccyc_l="$ccyc_l $cc_s"
    cyc_l="$cyc_l $(calc "'%.3f' % ($w_s / $b_s)")"
    bcp_l="$bcp_l $bcp_s" cpr_l="$cpr_l $(calc "'%.3f' % ($bcp_s / $x_s)")"
    cratio_l="$cratio_l $(calc "'%.3f' % ($cc_s / max($bc_s, 0.001))")"
    say "round $r: moved $moved B, layer $layer B, drover $w_s s (cycle $bc_s s), baseline $b_s s (nbdcopy $x_s s), C's cycle $cc_s s"
    r=$((r + 1))
done

DIRTY=67108864
nbd_m=$(echo "$nbd_l" | median) copy_m=$(echo "$copy_l" | median) ratio_m=$(echo "$ratio_l" | median)
moved_m=$(echo "$moved_l" | median) layer_m=$(echo "$layer_l" | median)
wall_m=$(echo "$wall_l" | median) base_m=$(echo "$base_l" | median) nbdx_m=$(echo "$nbdx_l" | median)
cyc_m=$(echo "$cyc_l" | median) bcyc_m=$(echo "$bcyc_l" | median) ccyc_m=$(echo "$ccyc_l" | median)
cratio_m=$(echo "$cratio_l" | median) bcp_m=$(echo "$bcp_l" | median) cpr_m=$(echo "$cpr_l" | median)
echo "Rounds: $ROUNDS (medians; each round's figures in brackets). Disk A: $ASIZE of random data."
echo
echo "| measure | drover | baseline | ratio | goal | met |"
echo "|---|---|---|---|---|---|"
echo "| initial copy of A: copying time | $copy_m s [$copy_l ] | nbdcopy of the same export into qemu-nbd: $nbd_m s [$nbd_l ] | $ratio_m× nbdcopy's throughput [$ratio_l ] | ≥ 0.9× | $(verdict "$ratio_m >= 0.9") |"
if [ -n "$BENCH_BEFORE" ]; then
    bcopy_m=$(echo "$bcopy_l" | median) bratio_m=$(echo "$bratio_l" | median)
    echo "| initial copy of A: the drover before ($BENCH_BEFORE), copying time | $bcopy_m s [$bcopy_l ] | the same nbdcopy: $nbd_m s | $bratio_m× nbdcopy's throughput [$bratio_l ] | (before) | $(verdict "$bratio_m >= 0.9") |"
fi
echo "| cycle, 64 MiB dirty of 4 GiB: bytes moved | $moved_m B [$moved_l ] (layer holds $layer_m B) | $DIRTY B written | $(calc "'%.3f' % ($moved_m / $DIRTY)") | ≤ 1.05 | $(verdict "$moved_m / $DIRTY <= 1.05") |"
echo "| cycle, 64 MiB dirty of 4 GiB: wall of drover replicate | $wall_m s [$wall_l ] (the cycle itself $bcyc_m s) | backup-begin + nbdcopy of those extents + domjobabort: $base_m s [$base_l ] (nbdcopy alone $nbdx_m s) | $cyc_m [$cyc_l ] | ≤ 1.5 | $(verdict "$cyc_m <= 1.5") |"
echo "| cycle, 64 MiB dirty of 4 GiB: drover's copying time alone | $bcp_m s [$bcp_l ] | nbdcopy of those extents alone: $nbdx_m s [$nbdx_l ] | $cpr_m [$cpr_l ] | (≤ 1.5) | $(verdict "$cpr_m <= 1.5") |"
echo "| cycle time, 64 GiB against 4 GiB virtual, same 64 MiB dirty | $ccyc_m s [$ccyc_l ] | $bcyc_m s [$bcyc_l ] | $cratio_m [$cratio_l ] | ≤ 1.2 | $(verdict "$cratio_m <= 1.2") |"
qemu_stop_all >/dev/null 2>&1
rm -rf "$TOP"
