#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# ops-qemu-remote.sh: a libvirt host that is another machine.  drover reads
# and deletes chain files by path, so it must run on the DR host itself: on
# a connection to another machine it lists the records but refuses every
# operation with 32770 (not supported), changing nothing.  The private
# libvirtd runs in its own UTS namespace with another hostname, which is how
# drover tells the machines apart (virConnectGetHostname vs gethostname).
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/qemu-lib.sh"

qemu_require
mktemp_dir
QEMU_UTS="drover-far-$$"
export QEMU_UTS
qemu_start

A="dqr$$"
qemu_make_replica "$A" 5 rp-0002
ok $? "$A: replica defined on the 'remote' host (state 5)"
is "$(qvirsh hostname)" "$QEMU_UTS" "the daemon reports another hostname"
before=$(cd "$T/vms/$A" && ls -A | sort; sha256sum "$T/vms/$A"/*.qcow2)
xml_before=$(qvirsh dumpxml --inactive "$A")

out=$(drover -c "$QURI" list 2>&1)
is "$?" 0 "list works on another machine's host"
like "$out" "$A +5 Recovered" "it shows the record"

out=$(drover -c "$QURI" revert "$A" --dry-run 2>&1)
is "$?" 8 "revert --dry-run on another machine: exit 8"
like "$out" "Result: 32770 " "32770 Not supported"
like "$out" "must run on the DR host" "says drover must run on the DR host"

out=$(drover -c "$QURI" revert "$A" --yes 2>&1)
is "$?" 8 "revert on another machine: exit 8"
out=$(drover -c "$QURI" commit "$A" --yes 2>&1)
is "$?" 8 "commit on another machine: exit 8"

after=$(cd "$T/vms/$A" && ls -A | sort; sha256sum "$T/vms/$A"/*.qcow2)
is "$after" "$before" "no file created, deleted or changed"
is "$(qvirsh dumpxml --inactive "$A")" "$xml_before" "definition and record unchanged"

# Files on another machine are not ours to look at: a path that happens to
# exist (or not) here says nothing about that host.
mv "$T/vms/$A/vda.rp-0001.qcow2" "$T/rp-0001.aside"
out=$(drover -c "$QURI" list 2>&1)
like "$out" "$A +5 Recovered +Normal" "health does not judge another machine's files by this one's"
mv "$T/rp-0001.aside" "$T/vms/$A/vda.rp-0001.qcow2"

qemu_stop
done_testing
