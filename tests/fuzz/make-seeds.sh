#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Regenerates the hand-made part of the qcow2 seed corpus: headers of real
# qemu-img images (v2 and v3, with and without a backing file and its
# format) cut to their first KiB, two-layer inputs (top, DROVERBASE, base)
# and corrupt variants.  Usage: make-seeds.sh OUTDIR  (needs qemu-img and
# python3).  The replica, conf and domain seeds come from the unit tests
# and a demo fleet; see README.md.
set -eu
mkdir -p "$1"
out=$(cd "$1" && pwd)
q=${QEMU_IMG:-qemu-img}
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT

cd "$w"
"$q" create -q -f qcow2 v3.qcow2 1M
"$q" create -q -f qcow2 -o compat=0.10 v2.qcow2 1M
"$q" create -q -f qcow2 -o cluster_size=512 v3-c512.qcow2 1M
"$q" create -q -f qcow2 -o cluster_size=2M v3-c2m.qcow2 1M
"$q" create -q -f raw fixed.raw 1M
"$q" create -q -f qcow2 base.qcow2 1M
"$q" create -q -f qcow2 fixed.qcow2 1M
"$q" create -q -f qcow2 loop.qcow2 1M
"$q" create -q -f qcow2 -b base.qcow2 -F qcow2 v3-backed.qcow2
"$q" create -q -f qcow2 -o compat=0.10 -b base.qcow2 -F qcow2 v2-backed.qcow2
"$q" create -q -f qcow2 -b fixed.raw -F raw v3-raw.qcow2
"$q" create -q -f qcow2 -b fixed.qcow2 -F qcow2 v3-fixed.qcow2
"$q" create -q -f qcow2 -b loop.qcow2 -F qcow2 v3-loop.qcow2
"$q" create -q -f qcow2 -b "$w/base.qcow2" -F qcow2 v3-abs.qcow2
"$q" create -q -f qcow2 -u -o compat=0.10 -b top.qcow2 -F qcow2 v2-self.qcow2 1M
"$q" create -q -f qcow2 -o data_file=data.raw,data_file_raw=on v3-datafile.qcow2 1M
python3 - "$out" <<'PY'
import os, struct, sys
out = sys.argv[1]
def head(name, n=1024):
    return open(name, 'rb').read()[:n]
seeds = {}
for f in sorted(os.listdir('.')):
    if f.endswith('.qcow2'):
        seeds['qemu-' + f[:-6]] = head(f)
# Two layers: the top names base.qcow2, the base follows the marker.
seeds['two-v3-v3'] = head('v3-backed.qcow2') + b'DROVERBASE' + head('v3.qcow2')
seeds['two-v2-v2'] = head('v2-backed.qcow2') + b'DROVERBASE' + head('v2.qcow2')
seeds['two-loop'] = head('v3-backed.qcow2') + b'DROVERBASE' + head('v2-self.qcow2')
seeds['two-base-raw'] = head('v3-backed.qcow2') + b'DROVERBASE' + head('v3-fixed.qcow2')
seeds['two-base-missing'] = head('v3-backed.qcow2') + b'DROVERBASE' + head('v3-abs.qcow2')
v3 = bytearray(head('v3-backed.qcow2'))
off, ln = struct.unpack('>QI', v3[8:20])
def patch(buf, at, fmt, *vals):
    b = bytearray(buf); struct.pack_into(fmt, b, at, *vals); return bytes(b)
seeds['bad-magic'] = patch(v3, 0, '>I', 0x514649fa)
seeds['bad-version1'] = patch(v3, 4, '>I', 1)
seeds['bad-version4'] = patch(v3, 4, '>I', 4)
seeds['bad-truncated-50'] = bytes(v3[:50])
seeds['bad-truncated-3'] = bytes(v3[:3])
seeds['bad-empty'] = b''
seeds['bad-cluster-bits-8'] = patch(v3, 20, '>I', 8)
seeds['bad-cluster-bits-22'] = patch(v3, 20, '>I', 22)
seeds['bad-backing-len-1024'] = patch(v3, 16, '>I', 1024)
seeds['bad-backing-len-past-eof'] = patch(v3, 16, '>I', 1000)
seeds['bad-backing-off-in-header'] = patch(v3, 8, '>Q', 16)
seeds['bad-backing-off-huge'] = patch(v3, 8, '>Q', 0xffffffffffffff00)
seeds['bad-header-length-small'] = patch(v3, 100, '>I', 72)
seeds['bad-header-length-huge'] = patch(v3, 100, '>I', 0xfffffff0)
seeds['bad-size-huge'] = patch(v3, 24, '>Q', 0x8000000000000000)
seeds['bad-ext-len-huge'] = patch(v3, 104 + 4, '>I', 0xfffffff8)
seeds['bad-fmt-nul'] = patch(v3, 104 + 8, '>B', 0)
seeds['bad-name-nul'] = patch(v3, off + 1, '>B', 0)
seeds['name-protocol'] = patch(bytes(v3[:off]) + b'nbd://h/x' + bytes(v3[off + ln:]), 16, '>I', 9)
seeds['name-dotdot'] = patch(bytes(v3[:off]) + b'../' + bytes(v3[off:]), 16, '>I', ln + 3)
for name, data in seeds.items():
    open(os.path.join(out, name), 'wb').write(data)
PY
