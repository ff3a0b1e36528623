# SPDX-License-Identifier: GPL-2.0-or-later
# bench/remote.sh: the remote path (issue 16, target 3), sourced by
# bench/console.sh, or alone by bench/run.sh with BENCH_ONLY=remote (it uses
# run.sh's say, ratio, row, $RES, $OUT, $CONF, $BENCH_DIR, $RUNS and
# lib.sh's ptyrun, stats, wall, side_by_side, verdict).  A private libvirtd
# with the qemu driver (tests/qemu-lib.sh) and 1,000 defined domains
# (bench/define); the console's whole list against the floor run just
# before each console run, and `list --json` against the floor run in turn
# with it.  BENCH_BEFORE=PATH (another build of drover) adds it to both, in
# the same runs.
# Environment (from make bench): DEFINE, and LIBVIRTD VIRTLOGD QEMU_SYSTEM
# VIRSH for tests/qemu-lib.sh; BENCH_SKIP_QEMU=1 leaves it out.

bench_qemu() {
    T="$BENCH_DIR/qemu"
    rm -rf "$T"
    mkdir -p "$T/disks"
    # shellcheck disable=SC2317  # called by qemu_require
    skip_all() { echo "$*" >"$T/skip"; exit 1; }
    # shellcheck source=../tests/qemu-lib.sh
    . "$BENCH_SRC/../tests/qemu-lib.sh"
    if ! (qemu_require); then
        row 1 "console first paint, 1000 qemu domains (private libvirtd)" "skipped: $(cat "$T/skip")" "-" "-" "-"
        return 0
    fi
    qemu_require
    qemu_start
    # Only what this file started: no per-domain undefine (the directory goes).
    bench_qemu_stop() {
        qemu_stop_daemons
        # shellcheck disable=SC2034  # read by qemu-lib.sh's qemu_stop
        qemu_started=0
        rm -rf "$T"
    }
    trap 'bench_qemu_stop' EXIT
    trap 'bench_qemu_stop; exit 130' INT TERM HUP
    # Called where `set -e` does not apply: every step says when it fails.
    d="$T/disks"
    "$QEMU_IMG" create -q -f qcow2 "$d/vda.base.qcow2" 64M || return 1
    p="$d/vda.base.qcow2"
    for rp in rp-0001 rp-0002 rp-0003; do
        "$QEMU_IMG" create -q -f qcow2 -F qcow2 -b "$p" "$d/vda.$rp.qcow2" 64M || return 1
        p="$d/vda.$rp.qcow2"
    done
    "$DEFINE" "$QURI" 1000 "$d" "$QEMU_SYSTEM" >/dev/null || return 1
    say "console, first paint through a private libvirtd, 1000 qemu domains ($RUNS runs)"
    # shellcheck disable=SC2086
    side_by_side "$OUT/qemu-list" $((RUNS * 2)) "$FLOOR $QURI" \
        "$DROVER --config $CONF -c $QURI list --json" \
        ${BENCH_BEFORE:+"$BENCH_BEFORE --config $CONF -c $QURI list --json"} || return 1
    files=
    bfiles=
    ffiles=
    i=1
    while [ $i -le "$RUNS" ]; do
        # The floor just before each console run: both meet the same load.
        wall "$OUT/qemu-floor-$i.txt" "$FLOOR" "$QURI" || return 1
        ffiles="$ffiles $OUT/qemu-floor-$i.txt"
        ptyrun "$OUT/console-qemu-$i.txt" load quit -- "$DROVER" --config "$CONF" -c "$QURI" || return 1
        files="$files $OUT/console-qemu-$i.txt"
        if [ -n "${BENCH_BEFORE:-}" ]; then
            ptyrun "$OUT/console-qemu-before-$i.txt" load quit -- "$BENCH_BEFORE" --config "$CONF" \
                -c "$QURI" || return 1
            bfiles="$bfiles $OUT/console-qemu-before-$i.txt"
        fi
        i=$((i + 1))
    done
    # shellcheck disable=SC2086
    load_stats $files $ffiles
    cf=$f
    # shellcheck disable=SC2046
    set -- $(side_stats "$OUT/qemu-list" 0) $(side_stats "$OUT/qemu-list" 1)
    f=$1 l=$4
    row 1 "console first paint of the visible rows, 1000 qemu domains (private libvirtd)" \
        "${vis} s (${vmin}–${vmax})" "whole list in the console ${all} s (${amin}–${amax})" \
        "$(ratio "$vis" "$all")" "≤ 0.3 s and before the whole list: $(verdict "$vis <= 0.3 and $vmax < $amin")"
    row 1 "whole list, 1000 qemu domains (private libvirtd): console" "${all} s" \
        "floor ${cf} s (each run just before)" "$(ratio "$all" "$cf")" "≤ 1.2: $(verdict "$all <= 1.2 * $cf")"
    row 1 "whole list, 1000 qemu domains (private libvirtd): list --json" "${l} s" \
        "floor ${f} s (in turn with drover)" "$(ratio "$l" "$f")" "≤ 1.2: $(verdict "$l <= 1.2 * $f")"
    if [ -n "${BENCH_BEFORE:-}" ]; then
        # shellcheck disable=SC2046,SC2086
        set -- $(stats all_s $bfiles)
        b=$(side_stats "$OUT/qemu-list" 2 | cut -d' ' -f1)
        row 1 "whole list, 1000 qemu domains, BENCH_BEFORE ($BENCH_BEFORE)" \
            "console ${1} s; list --json ${b} s" "floors ${cf} s; ${f} s" \
            "$(ratio "$1" "$cf") (console); $(ratio "$b" "$f") (list)" "(before)"
    fi
    bench_qemu_stop
    trap - EXIT INT TERM HUP
}
if [ "${BENCH_SKIP_QEMU:-0}" != 1 ]; then
    # A subshell: the daemons' helpers may exit, and set traps of their own.
    (bench_qemu) || say "warning: the private libvirtd part failed (see $BENCH_DIR/qemu)"
fi

