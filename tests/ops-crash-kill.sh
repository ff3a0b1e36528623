#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# ops-crash-kill.sh: a real `kill -9` of the drover job process (the detached
# process a command starts; the command itself when the kill lands before
# it started one) at random moments of a running job (issue 5 "Crash
# injection"), then `drover repair`, then the invariants
# of ops-crash.sh: repair succeeds, check is Normal, record and disks agree,
# no unnamed overlay or flattened image left, recovery points and base files
# byte-identical, the VM fully before (killed before its switch) or fully
# after (killed after it), and the operation runs again after a rollback.
#
# Jobs killed: commit --flatten of hr01 whose committed point holds 64 MiB of
# real data (qemu-io), so the flatten takes long enough to be hit, and revert
# of the running two-disk db01.  Delays are random within the length of a
# reference run (shortened each time drover finished before the kill, which
# does not count as a kill).  Default: 5 kills of each; DROVER_LONG_TESTS=1: 25 of each
# (the numbers in doc/reliability.md).  A temporary file left behind by a
# killed flatten fails the test (qemu-img dies with drover, and repair
# removes the temporary files of the journal's files).
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/ops-crash-lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 is needed to read the fleet file"
command -v "$QEMU_IMG" >/dev/null 2>&1 || skip_all "qemu-img not found"
QEMU_IO=${QEMU_IO:-$(dirname "$QEMU_IMG")/qemu-io}
[ -x "$QEMU_IO" ] || QEMU_IO=$(command -v qemu-io) || skip_all "qemu-io not found"
[ -x "$DROVER" ] || skip_all "drover not built"
mktemp_dir

if [ "${DROVER_LONG_TESTS:-0}" = 1 ]; then kills=25; else kills=${DROVER_KILLS:-5}; fi

F="$T/f"
P="$T/pristine"
restore() { rm -rf "$F" && cp -a "$P" "$F"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# rand N: a random integer in [0, N).
rand() {
    od -An -N4 -tu4 /dev/urandom | awk -v n="$1" '{ print ($1 % n) }'
}

# The process doing the work of `drover ... &`: the job process the command
# started (its child, `drover job-run`, detached from it in its own session),
# or the command itself before it started one.
drover_pid() {
    if [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$(readlink -f "$DROVER")" ]; then
        _cli=$1
    else
        _cli=$(pgrep -P "$1" 2>/dev/null | head -1)
    fi
    [ -n "$_cli" ] || return 0
    _job=$(pgrep -P "$_cli" -f "job-run" 2>/dev/null | head -1)
    echo "${_job:-$_cli}"
}

# wait_orphans: a job process the command started just before it was
# killed goes on to its end, and qemu-img children of a killed job
# process go on until they notice; wait for them (they are found by the
# fleet path in their command line, which is this test's own directory).
# A job process has it in its JSON spec, where each / is written \/: a
# pattern for "$F/" alone missed it, and the snapshot then caught a job
# still running (journal "prepared") that went on to finish the operation.
F_JSON=$(printf '%s\n' "$F/" | sed 's|/|\\\\/|g')
wait_orphans() {
    _n=0
    while pgrep -f "$F/|$F_JSON" >/dev/null 2>&1; do
        _n=$((_n + 1))
        [ "$_n" -lt 600 ] || { diag "a process still works in $F after 60 s"; return 1; }
        sleep 0.1
    done
}


# kill_case LABEL VM POWER FLATTEN OP ARGS...: $kills random kills of OP
# (POWER, FLATTEN: as in ops-crash.sh).
kill_case() {
    label=$1 vm=$2 power=$3 flatten=$4
    op=$5
    shift 5
    restore
    out=$(crash_snap "$F" "$vm" "$T/snap.b")
    is "$(crash_bad "$out")" "" "$label: the fresh fleet is consistent"
    t0=$(now_ms)
    drover -c "$URI" "$op" "$vm" "$@" --yes >"$T/out" 2>&1
    rc=$?
    ok "$rc" "$label: reference run without a kill"
    # Every later verdict compares with this run: say why it failed.
    [ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/out"
    span=$(($(now_ms) - t0 + 10))
    out=$(crash_snap "$F" "$vm" "$T/snap.ref")
    bad=$(crash_bad "$out")
    is "$bad" "" "$label: reference result is consistent"
    # Once seen under load (list said Critical, the record and disks were
    # fine): a second look tells a state that passed from one that lasts.
    if [ -n "$bad" ]; then
        diag "$label: processes working in $F: $(pgrep -af "$F/|$F_JSON" | tr '\n' ' ')"
        diag "$label: a second snapshot right after says: '$(crash_bad "$(crash_snap "$F" "$vm" "$T/snap.ref2")")'"
    fi
    diag "$label: a run takes about $span ms; kills land at random within it"

    back=0 fwd=0 missed=0 nojournal=0 closed=0 k=1 tries=0
    while [ "$k" -le "$kills" ] && [ "$tries" -lt $((4 * kills)) ]; do
        tries=$((tries + 1))
        restore
        delay=$(rand "$span")
        drover -c "$URI" "$op" "$vm" "$@" --yes >"$T/out" 2>&1 &
        bg=$!
        sleep "$(awk -v d="$delay" 'BEGIN { printf "%.3f", d / 1000 }')"
        pid=$(drover_pid "$bg")
        [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
        wait "$bg"
        rc=$?
        if [ "$rc" -eq 0 ]; then
            # The job ended before the kill: not a crash case.  Aim earlier.
            missed=$((missed + 1))
            span=$((span * 3 / 4 + 5))
            continue
        fi
        is "$rc" 137 "$label/kill $k at ${delay} ms: drover was killed"
        wait_orphans
        out=$(crash_snap "$F" "$vm" "$T/snap.k")
        step=$(crash_py journal "$T/snap.k")
        drover -c "$URI" repair "$vm" --yes >"$T/rout" 2>&1
        rc=$?
        is "$rc" 0 "$label/kill $k at ${delay} ms (journal: $step): repair succeeds"
        [ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/rout"
        is "$(crash_health "$F" "$vm")" Normal "$label/kill $k: drover check says Normal"
        out=$(crash_snap "$F" "$vm" "$T/snap.c" "$T/snap.b" "$T/snap.ref" "$power" "$flatten")
        bad=$(crash_bad "$out")
        is "$bad" "" "$label/kill $k: record, disks and directory agree"
        v=$(crash_verdict "$out")
        # An open journal says which way repair must go; without one the
        # kill came before the journal or after it was closed.
        case "$step" in
            switched) want=after;;
            none) want=$v; [ "$v" = after ] || want=before;;
            *) want=before;;
        esac
        is "$v" "$want" "$label/kill $k: fully $want the operation"
        crash_why "$out"
        is "$(crash_qcheck "$F/vms/$vm")" "" "$label/kill $k: new images pass qemu-img check"
        if [ "$v" = before ]; then
            back=$((back + 1))
            [ "$step" = none ] && nojournal=$((nojournal + 1))
            drover -c "$URI" "$op" "$vm" "$@" --yes >"$T/out" 2>&1
            ok $? "$label/kill $k: the operation runs again after the rollback"
            out=$(crash_snap "$F" "$vm" "$T/snap.again" "$T/snap.b" "$T/snap.ref" "$power" "$flatten")
            is "$(crash_verdict "$out")" after "$label/kill $k: ... and ends where the reference run did"
        elif [ "$v" = after ]; then
            fwd=$((fwd + 1))
            [ "$step" = none ] && closed=$((closed + 1))
        fi
        k=$((k + 1))
    done
    is "$((k - 1))" "$kills" "$label: $kills kills landed while drover ran"
    diag "$label: $((k - 1)) kills: $back landed before the switch (rolled back; $nojournal of them before the journal was written), $fwd after it (rolled forward; $closed of them after the journal was closed), and $missed more came after drover had exited (not counted)"
}

rm -rf "$F" "$P"
make_fleet "$F" || { ok 1 "demo fleet"; done_testing; exit 1; }
"$QEMU_IO" -c "write -P 1 0 64M" "$F/vms/hr01/vda.rp-0002.qcow2" >/dev/null
ok $? "64 MiB of data written into hr01's committed point rp-0002"
cp -a "$F" "$P"

kill_case commit-flatten-hr01-64M hr01 0 1 commit --flatten
kill_case revert-db01-running-2disks db01 1 0 revert
done_testing
