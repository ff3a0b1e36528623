#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# ops-concurrency.sh: several drover processes revert (and fail over) the same
# replica at once (issue 5 "Concurrency").  Each round starts N processes
# together; exactly one may succeed (exit 0), each other one is refused with
# 32774 naming a job of that round that holds the lock (exit 4), or, when it
# planned after the winner had finished, with 32775 (exit 3): counted
# separately.  A 32774 that names no holder, or a 32779 for the failover
# disk the winner had just deleted, fails the test (both once bugs, see
# doc/reliability.md).  After every race: recovery-point and base files byte-identical,
# record and disks agree, exactly the winner's failover disks exist, drover
# check Normal; at the end the other replicas of the fleet are unchanged.
#
# Default: 10 rounds with 2 processes and 10 with 4 (a round is a revert race
# and then a failover race, each undoing the other).  DROVER_LONG_TESTS=1:
# 100 rounds each (the numbers in doc/reliability.md).
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/ops-crash-lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 is needed to read the fleet file"
[ -x "$DROVER" ] || skip_all "drover not built"
mktemp_dir

if [ "${DROVER_LONG_TESTS:-0}" = 1 ]; then rounds=100; else rounds=${DROVER_RACE_ROUNDS:-10}; fi

F="$T/f"
make_fleet "$F" || { ok 1 "demo fleet"; done_testing; exit 1; }
ok 0 "demo fleet"

# Everything but the raced VM, to compare at the end.
others() {
    drover -c "$URI" list --json 2>/dev/null |
        python3 -S -c "import json,sys; print(json.dumps(sorted([d for d in json.load(sys.stdin) if d['name'] not in sys.argv[1:]], key=lambda d: d['name']), sort_keys=True))" "$@"
}

# race N OP VM: N processes run OP on VM at once; sets won/inuse/state/other
# and bad (lines).
race() {
    _i=1
    rm -f "$T"/r.*
    while [ "$_i" -le "$1" ]; do
        (drover -c "$URI" "$2" "$3" --yes --json >"$T/r.$_i.out" 2>"$T/r.$_i.err"; echo $? >"$T/r.$_i.rc") &
        _i=$((_i + 1))
    done
    wait
    case "$2" in revert) _title="Revert failover of $3";; *) _title="Initiate failover of $3";; esac
    _out=$(crash_py race "$T/r" "$1" "$_title")
    # shellcheck disable=SC2046 # split on purpose: "W inuse U state S ..."
    set -- $(printf '%s\n' "$_out" | sed -n 's/^won //p') x x x x x x x x x x x x
    won=${1#x} inuse=${3#x} state=${5#x} other=${7#x} anon=${9#x}
    shift 9
    stale=${2#x}
    bad=$(printf '%s\n' "$_out" | sed -n 's/^bad //p')
    # No count line at all (the analysis failed): one odd result, no winner.
    [ -n "$won" ] || { won=0 inuse=0 state=0 other=1 anon=0 stale=0; bad="$bad
cannot read the results of the race: $_out"; }
    _known=$(printf '%s\n' "$_out" | sed -n 's/^anon //p; s/^stale //p')
    if [ -n "$_known" ]; then
        bad="$bad
$_known"
    fi
}

# contest N VM: ROUNDS rounds of a revert race then a failover race.
contest() {
    n=$1 vm=$2
    vmdir="$F/vms/$vm"
    sums0=$(rp_sums "$vmdir")
    before_others=$(others "$vm" "$vm-test")
    rounds_ok=0 wins=0 in_use=0 inval=0 odd=0 broken=0 anons=0 stales=0
    r=1
    while [ "$r" -le "$rounds" ]; do
        for op in revert failover; do
            race "$n" "$op" "$vm"
            wins=$((wins + won)) in_use=$((in_use + inuse)) inval=$((inval + state)) odd=$((odd + other))
            anons=$((anons + anon)) stales=$((stales + stale))
            problems=""
            [ "$won" -eq 1 ] || problems="$problems
$won processes succeeded"
            [ -z "$bad" ] || problems="$problems
$bad"
            [ "$(rp_sums "$vmdir")" = "$sums0" ] || problems="$problems
a recovery point or base file changed"
            out=$(crash_snap "$F" "$vm" "$T/snap")
            [ -z "$(crash_bad "$out")" ] || problems="$problems
$(crash_bad "$out")"
            nfo=$(find "$vmdir" -name '*.failover-*' | wc -l)
            case "$op" in revert) want=0;; *) want=$(find "$vmdir" -name '*.rp-0001.qcow2' | wc -l);; esac
            [ "$nfo" -eq "$want" ] || problems="$problems
$nfo failover disks after the $op race, expected $want"
            h=$(crash_health "$F" "$vm")
            [ "$h" = Normal ] || problems="$problems
drover check says $h"
            if [ -n "$problems" ]; then
                broken=$((broken + 1))
                diag "$n processes, round $r, $op race:$(printf '%s\n' "$problems" | sed 's/^/ /' | tr '\n' ';')"
                [ "$won" -eq 1 ] || break 2    # the VM is no longer in the state the next race needs
            fi
        done
        rounds_ok=$r
        r=$((r + 1))
    done
    is "$broken" 0 "$n processes on $vm: every race had exactly one winner, fair refusals, nothing corrupted"
    is "$rounds_ok" "$rounds" "$n processes on $vm: all $rounds rounds (revert race + failover race) ran"
    is "$wins" "$((2 * rounds_ok))" "$n processes on $vm: one success per race"
    is "$odd" 0 "$n processes on $vm: no result other than 0, 32774 and 32775"
    is "$((wins + in_use + inval + stales))" "$((2 * rounds_ok * n))" "$n processes on $vm: every process accounted for"
    is "$(others "$vm" "$vm-test")" "$before_others" "$n processes on $vm: the other replicas of the fleet are unchanged"
    diag "$n processes on $vm, $rounds_ok rounds, $((2 * rounds_ok)) races: $wins succeeded, $in_use refused with 32774 (in use), $inval refused with 32775 (state had changed), $stales refused with 32779 for the disk the winner had just deleted (must be 0); $anons of the 32774 refusals named no holder (must be 0)"
}

# web02: Recovered, off, one disk.  db01: Recovered, running, two disks (the
# first revert race also powers it off).
contest 2 web02
contest 4 db01
done_testing
