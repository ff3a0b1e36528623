#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# ops-crash.sh: the crash-injection matrix (issue 5 "Crash injection",
# DESIGN §2 "Crash safety").  For every operation and every fault point it
# reaches, on a fresh demo fleet: crash there (DROVER_FAULT=OP:STEP makes
# drover _exit(86)), run `drover repair`, then check that
#   - repair succeeds and `drover check` is not Critical;
#   - the record and the disks agree (read from the fleet file, not by drover);
#   - no overlay, test or flattened image (or temporary file) is left that the
#     record does not name;
#   - the VM is fully before (same record, disks and files, byte for byte) or
#     fully after (what a run without a fault gives): before when it stopped
#     before its switch, after when it stopped after it; every recovery point
#     and base file is byte-identical to before (after a commit, minus the
#     ones its plan deletes);
#   - new images pass qemu-img check;
#   - the operation then runs again (rolled back) or can be undone (rolled
#     forward).
# The results table is printed as diagnostics (doc/reliability.md "Crash matrix").
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/ops-crash-lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 is needed to read the fleet file"
command -v "$QEMU_IMG" >/dev/null 2>&1 || skip_all "qemu-img not found"
[ -x "$DROVER" ] || skip_all "drover not built"
mktemp_dir

STEPS="locked powered-off journal created rebased test-defined switched undefined deleting deleted verified"
# Steps that come before the define that switches the disks: a crash there
# must be rolled back; at or after "switched", rolled forward.
pre_switch() {
    case "$1" in locked|powered-off|journal|created|rebased|test-defined) return 0;; esac
    return 1
}

# Once a known bug (doc/reliability.md, "Fixed bugs"): the first repair
# after a crash at commit --flatten "rebased" or stop-test "switched"
# refused with 32774; every point is in the matrix now.
known_bug() {
    return 1
}

F="$T/f"            # every run uses the same path, so runs compare file for file
P="$T/pristine"

# restore: a fresh copy of the fleet made for the current case.
restore() {
    rm -rf "$F" && cp -a "$P" "$F"
}

# run_op OP ARGS...: drover OP on the fleet, output kept in $T/out, $T/err.
run_op() {
    drover -c "$URI" "$@" --yes >"$T/out" 2>"$T/err"
}

# undo_check OP VM: after a rolled-forward OP, its opposite works (or is
# refused the documented way, for commit).
undo_check() {
    case "$1" in
        failover) run_op revert "$2"; ok $? "$label/$step: revert after the rolled-forward failover";;
        revert) run_op failover "$2"; ok $? "$label/$step: failover after the rolled-forward revert";;
        test-failover) run_op stop-test "$2"; ok $? "$label/$step: stop-test after the rolled-forward test failover";;
        stop-test) run_op test-failover "$2"; ok $? "$label/$step: test-failover after the rolled-forward stop-test";;
        commit)
            run_op revert "$2"
            is "$?" 3 "$label/$step: revert after the rolled-forward commit is refused (invalid state)"
            like "$(cat "$T/out" "$T/err")" 32775 "$label/$step: ... with 32775";;
    esac
    out=$(crash_snap "$F" "$2" "$T/snap.undo")
    is "$(crash_bad "$out")" "" "$label/$step: consistent after the follow-up operation"
}

table=""
n_back=0 n_fwd=0 n_skip=0 n_bug=0

# run_case LABEL VM SETUP OP POWER FLATTEN ARGS...
#   SETUP: drover command run (with --yes) before the fleet is saved, or -
#   POWER: 1 when the operation powers the VM off first
#   FLATTEN: 1 for commit --flatten (it rewrites the failover disks' headers)
run_case() {
    label=$1 vm=$2 setup=$3 op=$4 power=$5 flatten=$6
    shift 6
    rm -rf "$F" "$P"
    make_fleet "$F" || { ok 1 "$label: demo fleet"; return; }
    if [ "$setup" != "-" ]; then
        # shellcheck disable=SC2086
        run_op $setup
        ok $? "$label: setup ($setup)"
    fi
    cp -a "$F" "$P"

    # Every run starts from a byte-identical copy of this fleet, so one
    # snapshot before serves them all; the reference is the same operation
    # without a fault.
    restore
    out=$(crash_snap "$F" "$vm" "$T/snap.b")
    is "$(crash_bad "$out")" "" "$label: the fresh fleet is consistent"
    run_op "$op" "$vm" "$@"
    ok $? "$label: reference run without a fault"
    out=$(crash_snap "$F" "$vm" "$T/snap.ref" "$T/snap.b" "$T/snap.b" "$power" "$flatten")
    is "$(crash_bad "$out")" "" "$label: reference result is consistent"
    is "$(crash_verdict "$out")" neither "$label: the reference result differs from before"
    out=$(crash_snap "$F" "$vm" "$T/snap.ref2" "$T/snap.b" "$T/snap.ref" "$power" "$flatten")
    is "$(crash_verdict "$out")" after "$label: the oracle calls the reference result 'after'"

    row="$label:"
    for step in $STEPS; do
        if known_bug "$op" "$flatten" "$step"; then
            row="$row $step=bug"
            n_bug=$((n_bug + 1))
            continue
        fi
        restore
        (DROVER_FAULT="$op:$step"; export DROVER_FAULT; run_op "$op" "$vm" "$@")
        rc=$?
        if [ "$rc" -eq 0 ]; then
            n_skip=$((n_skip + 1))
            row="$row $step=-"
            continue
        fi
        is "$rc" 86 "$label/$step: drover stopped at the fault point"
        [ "$rc" -eq 86 ] || { sed 's/^/#   /' "$T/err" | tail -5; continue; }

        drover -c "$URI" repair "$vm" --yes >"$T/rout" 2>&1
        rc=$?
        is "$rc" 0 "$label/$step: repair succeeds"
        [ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/rout"
        is "$(crash_health "$F" "$vm")" Normal "$label/$step: drover check says Normal"
        out=$(crash_snap "$F" "$vm" "$T/snap.c" "$T/snap.b" "$T/snap.ref" "$power" "$flatten")
        is "$(crash_bad "$out")" "" "$label/$step: record, disks and directory agree"
        if pre_switch "$step"; then want=before; else want=after; fi
        is "$(crash_verdict "$out")" "$want" "$label/$step: fully $want the operation"
        crash_why "$out"
        is "$(crash_qcheck "$F/vms/$vm")" "" "$label/$step: new images pass qemu-img check"

        if [ "$want" = before ]; then
            n_back=$((n_back + 1))
            row="$row $step=B"
            run_op "$op" "$vm" "$@"
            ok $? "$label/$step: the operation runs again after the rollback"
            out=$(crash_snap "$F" "$vm" "$T/snap.again" "$T/snap.b" "$T/snap.ref" "$power" "$flatten")
            is "$(crash_verdict "$out")" after "$label/$step: ... and ends where the reference run did"
            crash_why "$out"
        else
            n_fwd=$((n_fwd + 1))
            row="$row $step=F"
            undo_check "$op" "$vm"
        fi
    done
    table="$table
$row"
}

run_case failover-web01 web01 - failover 0 0
run_case failover-web03-2disks web03 - failover 0 0 --point rp-0002
run_case revert-web02 web02 - revert 0 0
run_case revert-db01-running-2disks db01 - revert 1 0
run_case commit-hr01 hr01 - commit 0 0
run_case commit-db01-running-2disks db01 - commit 0 0
run_case commit-flatten-hr01 hr01 - commit 0 1 --flatten
run_case commit-flatten-web03-2disks web03 "failover web03 --point rp-0002" commit 0 1 --flatten
run_case test-failover-web01 web01 - test-failover 0 0
run_case test-failover-web03-2disks web03 - test-failover 0 0 --point rp-0001
run_case stop-test-crm01-running crm01 - stop-test 0 0
run_case stop-test-web03-2disks web03 "test-failover web03" stop-test 0 0

diag "crash matrix (B: rolled back to before, F: rolled forward to after, -: not reached):"
printf '%s\n' "$table" | sed '/^$/d; s/^/# /'
diag "$n_back rolled back, $n_fwd rolled forward, $n_skip fault points not reached, $n_bug left out (known bugs)"
done_testing
