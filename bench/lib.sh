# SPDX-License-Identifier: GPL-2.0-or-later
# bench/lib.sh: helpers of the console benchmarks (console.sh, hosts.sh,
# remote.sh), sourced after run.sh has set say, $BENCH_DIR, $FLOOR and the
# rest.

: "${PTYRUN:=$(dirname "$FLOOR")/ptyrun}"
: "${DEFINE:=$(dirname "$FLOOR")/define}"

# The console's terminal; LC_ALL=C would give ASCII lines.
con_env() {
    env LC_ALL=C.UTF-8 TERM=xterm-256color "$@"
}
# The screen dump (DROVER_SCREEN_DUMP) is written and renamed into place at
# every frame: on a tmpfs when there is one.  On the disk (ext4) each
# rename freed the previous dump's blocks in the console's UI thread, a
# cost of the instrument, not of the console (rename alone was 12 % of
# that thread's samples in a load of twenty hosts).
SCREEN_DIR=/dev/shm/drover-bench-$(id -u)
mkdir -p "$SCREEN_DIR" 2>/dev/null && [ -w "$SCREEN_DIR" ] || SCREEN_DIR=$BENCH_DIR
ptyrun() {  # ptyrun OUTFILE STEP... -- COMMAND...
    _o=$1
    shift
    con_env "$PTYRUN" -s 40x120 -d "$SCREEN_DIR/screen.txt" "$@" >"$_o"
}
val() { sed -n "s/^$2=//p" "$1" | tail -1; }   # val FILE KEY
# stats KEY FILE... -> "median min max" of KEY in the files that have it
stats() {
    _k=$1
    shift
    for _f in "$@"; do val "$_f" "$_k"; done |
        python3 -c "import sys, statistics as s; v=[float(x) for x in sys.stdin.read().split()]; \
print('%.3f %.3f %.3f' % (s.median(v), min(v), max(v)))"
}
# load_stats FILE...: from ptyrun's load step and wall's files, the
# median, least and most of visible_s (vis vmin vmax), all_s (all amin
# amax) and wall_s (f fmin fmax; empty when no file has it).
load_stats() {
    # shellcheck disable=SC2046
    set -- $(stats visible_s "$@") $(stats all_s "$@") $(stats wall_s "$@" 2>/dev/null)
    vis=$1 vmin=$2 vmax=$3 all=$4 amin=$5 amax=$6 f=${7:-} fmin=${8:-} fmax=${9:-}
}
# wall OUTFILE COMMAND...: its wall time as wall_s=
wall() {
    _o=$1
    shift
    _t0=$(date +%s%N)
    "$@" >/dev/null 2>"$_o.err" || { say "$1 failed: $(cat "$_o.err")"; return 1; }
    _t1=$(date +%s%N)
    echo "wall_s=$(calc "'%.4f' % (($_t1 - $_t0) / 1e9)")" >"$_o"
}
# side_by_side PREFIX RUNS COMMAND...: RUNS rounds, each running every
# COMMAND (a string split at spaces) once, in turn, after one warm-up
# round; PREFIX-K-I.txt gets wall_s of command K's run I.  Taken in turn,
# each command meets the machine as the others do: run one after the
# other in blocks, as hyperfine does, a block met a busier minute than the
# next and the ratio moved by a fifth between two runs of the bench.
side_by_side() {
    _p=$1
    _n=$2
    shift 2
    _i=0
    while [ "$_i" -le "$_n" ]; do
        _k=0
        for _c in "$@"; do
            # shellcheck disable=SC2086
            wall "$_p-$_k-$_i.txt" $_c || return 1
            _k=$((_k + 1))
        done
        _i=$((_i + 1))
    done
    rm -f "$_p"-*-0.txt "$_p"-*-0.txt.err     # the warm-up round
}
# side_stats PREFIX K: "median min max" of command K's runs (side_by_side)
side_stats() {
    stats wall_s "$1-$2"-*.txt
}
calc() { python3 -c "print($1)"; }
verdict() { python3 -c "print('met' if $1 else 'missed')"; }

