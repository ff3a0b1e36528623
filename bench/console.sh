# SPDX-License-Identifier: GPL-2.0-or-later
# bench/console.sh: the console's benchmarks, sourced by bench/run.sh after
# the others (it uses run.sh's say, mean, ratio, row, $RES, $OUT, $CONF,
# $BENCH_DIR, $RUNS and the demo fleets f1000 and f10000 it built).
#
# bench/ptyrun runs the console in a pseudo-terminal of 40x120 (TERM
# xterm-256color, UTF-8) and reads its screen from DROVER_SCREEN_DUMP;
# bench/define fills a private libvirtd (tests/qemu-lib.sh) with replica
# domains.  Each measure is written next to its baseline from this run:
#   1. first full screen (every row on screen with its state) at 1,000 and
#      10,000 replicas on the test driver, against the floor's complete list;
#      through a private libvirtd with 1,000 defined qemu domains, the first
#      paint of the visible rows against the whole list fetched (and the floor),
#      in bench/remote.sh
#   4. bytes written to the terminal over 60 s idle with 1,000 rows, and for
#      one row changing state (`drover revert` from another process), against
#      one full repaint (Ctrl-L) per tick
#   5. peak RSS of the console with 10,000 replicas minus the floor's
#   6. CPU of the UI thread per filter keystroke with 10,000 rows
# Environment (from make bench): PTYRUN, and for bench/remote.sh DEFINE
# LIBVIRTD VIRTLOGD QEMU_SYSTEM VIRSH (tests/qemu-lib.sh);
# BENCH_SKIP_QEMU=1 leaves the private libvirtd out.

BENCH_SRC=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$BENCH_SRC/lib.sh"

# --- 1. first full screen on the demo fleets, against the floor -----------
# The floor runs just before each console run, so that both meet the same
# load on a shared machine.
for n in 1000 10000; do
    uri="test://$BENCH_DIR/f$n/fleet.xml"
    say "console, first full screen of $n replicas ($RUNS runs, each after a floor run)"
    files=
    i=1
    while [ $i -le "$RUNS" ]; do
        wall "$OUT/floor-$n-$i.txt" "$FLOOR" "$uri"
        ptyrun "$OUT/console-$n-$i.txt" load quit -- "$DROVER" --config "$CONF" -c "$uri"
        files="$files $OUT/console-$n-$i.txt $OUT/floor-$n-$i.txt"
        i=$((i + 1))
    done
    # shellcheck disable=SC2086
    load_stats $files
    row 1 "console first full screen, $n replicas (test driver; median of $RUNS)" \
        "${vis} s (${vmin}–${vmax}); all rows read ${all} s" "floor ${f} s (${fmin}–${fmax})" \
        "$(ratio "$vis" "$f")" "≤ 1.5: $(verdict "$vis <= 1.5 * $f")"
done

# --- 4. bytes to the terminal: 60 s idle, and one row changing -------------
# A fleet of its own: another process reverts hr01 (5 Recovered, on screen)
# while the console watches.
say "console, terminal bytes: 60 s idle and one revert (1000 replicas)"
rm -rf "$BENCH_DIR/c1000"
drover demo --no-console --dir "$BENCH_DIR/c1000" --vms 1000 >/dev/null 2>&1
curi="test://$BENCH_DIR/c1000/fleet.xml"
ptyrun "$OUT/console-bytes.txt" load wait=2 mark=idle wait=60 since=idle redraw \
    mark=chg "run=$DROVER --config $CONF -c $curi revert hr01 --yes" 'until=hr01 +3 Replicating' \
    wait=2 since=chg -- "$DROVER" --config "$CONF" -c "$curi"
b=$OUT/console-bytes.txt
idle=$(val "$b" idle_bytes)
idle_s=$(val "$b" idle_s)
full=$(val "$b" redraw_bytes)
ticks=$(calc "int(round($idle_s))")
base=$(calc "$full * $ticks")
row 4 "terminal bytes, 60 s idle, 1000 rows" "${idle} B" \
    "full repaint per tick: ${full} B × ${ticks} = ${base} B" "$(calc "'%.4f' % ($idle / $base)")" \
    "≤ 1024 B: $(verdict "$idle <= 1024")"
chg=$(val "$b" until_frame_bytes)
# One row's worth: a full repaint's bytes per screen line.
rowb=$(calc "$full // 40")
row 4 "terminal bytes, one row changing state (revert by another process)" \
    "${chg} B (the frame that shows it, $(val "$b" until_s) s after the revert began)" \
    "full repaint ${full} B; one row's worth ${rowb} B" "$(calc "'%.3f' % ($chg / $full)")" \
    "≤ one row: $(verdict "$chg <= $rowb")"
[ "$(val "$b" run_status)" = 0 ] || say "warning: the revert exited with $(val "$b" run_status)"

# --- 5 and 6. 10,000 rows: filter keystrokes, then peak RSS ------------------
# The filter types names, states and words an operator would, and erases
# them again: 114 keys after the `/` that opens it.
say "console, filter keystrokes and peak RSS with 10000 replicas"
k=$(printf 'vm-0042%s' '\b\b\b\b\b\b\b')$(printf 'web%s' '\b\b\b')$(printf 'recovered%s' '\b\b\b\b\b\b\b\b\b')
ptyrun "$OUT/console-keys.txt" load wait=1 "keys=/$k$k$k" wait=11 quit \
    -- "$DROVER" --config "$CONF" -c "test://$BENCH_DIR/f10000/fleet.xml"
kf=$OUT/console-keys.txt
kn=$(val "$kf" keys_n)
per=$(calc "'%.2f' % ($(val "$kf" keys_ui_ms) / $kn)")
per_s=$(calc "'%.2f' % ($(val "$kf" keys_ui_sched_ms) / $kn)")
per_p=$(calc "'%.2f' % ($(val "$kf" keys_proc_ms) / $kn)")
idle_k=$(calc "'%.2f' % ($(val "$kf" idle_ui_sched_ms) / $kn)")
row 6 "CPU per filter keystroke, 10000 rows (UI thread, $kn keys)" \
    "${per} ms (utime+stime); ${per_s} ms (schedstat); process ${per_p} ms" \
    "UI thread idle as long: ${idle_k} ms per key's time" "-" "≤ 10 ms: $(verdict "$per <= 10")"

uri="test://$BENCH_DIR/f10000/fleet.xml"
if [ -z "${fr:-}" ]; then
    fr=$(/usr/bin/time -f %M "$FLOOR" "$uri" 2>&1 >/dev/null | tail -1)
fi
crss=$(val "$kf" maxrss_kb)
for f in "$OUT"/console-10000-*.txt; do
    r=$(val "$f" maxrss_kb)
    [ "$r" -gt "$crss" ] && crss=$r
done
row 5 "peak RSS, console, 10000 replicas (load, 114 keys, two resyncs)" "$((crss / 1024)) MiB" \
    "floor $((fr / 1024)) MiB" "drover's own $(((crss - fr) / 1024)) MiB" \
    "≤ 64 MiB own: $(verdict "$crss - $fr <= 64 * 1024")"

# --- 1. the remote path: a private libvirtd with 1,000 qemu domains ---------
# shellcheck source=remote.sh
. "$BENCH_SRC/remote.sh"

# Other processes may share the machine: say how busy it was.
{
    echo
    echo "Load average (1, 5, 15 min) after the console measures: $(cut -d' ' -f1-3 /proc/loadavg)."
} >>"$RES"
