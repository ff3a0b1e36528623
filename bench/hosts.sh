# SPDX-License-Identifier: GPL-2.0-or-later
# bench/hosts.sh: twenty DR hosts in one console (issue 16), sourced by
# bench/run.sh after console.sh (it uses run.sh's say, ratio, row, $RES,
# $OUT, $BENCH_DIR and lib.sh's ptyrun, val, stats, wall,
# side_by_side, calc, verdict).
#
# Twenty private libvirtd daemons (tests/hosts-lib.sh) serve libvirt's test
# driver behind test+unix://: bench/hold loads a demo fleet of its own
# (500 replicas, 501 domains: `drover demo --vms 500`) into each daemon's
# test:///default and holds it there, and every call drover or the floor
# makes goes through the remote protocol, one socket per host, as it would
# to twenty qemu hosts.  The test driver, not qemu: twenty qemu daemons
# would each probe qemu's capabilities and check 500 definitions against
# the emulator, minutes and gigabytes on a 2-core machine for nothing the
# list reads; what is measured here (connects, round trips, records parsed,
# rows handed to the screen) is the same for both drivers.  Not
# test:///FILE behind the daemon: that parses the whole fleet file at every
# connect (0.1 s of the daemon's CPU per host), which no qemu host does and
# which would hide drover's own costs behind the daemons' parsing.
#
# Measures, each against the floor (bench/floor with twenty URIs: every host
# opened and listed in a thread of its own) in the same run:
#   H1 list --json of all twenty hosts
#   H2 the console's first paint of the visible rows and its every-row-read
#   H3 peak RSS of list and console minus the floor's
#   H4 CPU per filter keystroke at 10,020 rows across hosts, with a host filter
#   H5 a hung host (SIGSTOP), then SIGCONT; a killed and restarted one:
#      when the header says so, and keystroke CPU/wall before and during
# BENCH_HOSTS (default 20) and BENCH_HOST_VMS (default 500) change the size.
# BENCH_HOST_RUNS (default 15, BENCH_QUICK or not) is how many runs H1 and H2
# take: each is a ratio of two medians on two cores shared with twenty
# daemons, where one run of the floor or of drover moves by a tenth or more
# from the next (doc/performance.md, "how many runs a ratio needs").
# BENCH_BEFORE=PATH (another build of drover, say main's) adds it to H1 and
# H2, timed in the same runs, for before/after ratios against one floor.

: "${BENCH_HOSTS:=20}"
: "${BENCH_HOST_VMS:=500}"
: "${BENCH_HOST_RUNS:=15}"

# bench_hold K URI FLEET: bench/hold loads FLEET into daemon K and holds
# it; waits until it is ready.  Its pid goes to $HD/hold-K.pid.
bench_hold() {
    rm -f "$HD/hold-$1.out"
    "$HOLD" "$2" "$3" >"$HD/hold-$1.out" 2>&1 &
    echo $! >"$HD/hold-$1.pid"
    _n=0
    until grep -q '^ready' "$HD/hold-$1.out" 2>/dev/null; do
        if [ "$_n" -ge 600 ] || ! kill -0 "$(cat "$HD/hold-$1.pid")" 2>/dev/null; then
            say "bench/hold $1 failed: $(cat "$HD/hold-$1.out")"
            return 1
        fi
        sleep 0.1
        _n=$((_n + 1))
    done
}

# Ends the holders started here (by their pids) and the daemons.
bench_hosts_stop() {
    for _f in "$HD"/hold-*.pid; do
        [ -f "$_f" ] && kill "$(cat "$_f")" 2>/dev/null
    done
    hosts_stop
    rm -rf "$HD"
}

bench_hosts() {
    : "${HOLD:=$(dirname "$FLOOR")/hold}"
    # shellcheck source=../tests/hosts-lib.sh
    . "$BENCH_SRC/../tests/hosts-lib.sh"
    if ! hosts_require; then
        row H "$BENCH_HOSTS DR hosts" "skipped: $HOSTS_SKIP" "-" "-" "-"
        return 0
    fi
    # Sockets live under a short directory (at most 107 bytes a path).
    HD=$(mktemp -d /tmp/drover-bh.XXXXXX) || return 1
    trap 'bench_hosts_stop' EXIT
    trap 'bench_hosts_stop; exit 130' INT TERM HUP
    say "$BENCH_HOSTS private libvirtd daemons (test driver), $BENCH_HOST_VMS replicas each"
    hosts_start "$HD" "$BENCH_HOSTS" || { say "a daemon did not start (see $HD)"; return 1; }
    F="$BENCH_DIR/hosts"
    rm -rf "$F"
    mkdir -p "$F"
    HCONF="$F/drover.conf"
    {
        printf 'audit_log = "%s/audit.log";\njob_history = "%s/jobs.jsonl";\nhosts = (\n' "$F" "$F"
    } >"$HCONF"
    uris=
    k=1
    for l in a b c d e f g h i j k l m n o p q r s t u v w x y z; do
        [ "$k" -le "$BENCH_HOSTS" ] || break
        "$DROVER" --config "$CONF" demo --no-console --dir "$F/dr-$l" --vms "$BENCH_HOST_VMS" \
            >/dev/null 2>&1 || { say "demo fleet dr-$l failed"; return 1; }
        u=$(hosts_uri "$k" /default)
        bench_hold "$k" "$u" "$F/dr-$l/fleet.xml" || return 1
        uris="$uris $u"
        sep=,
        [ "$k" -eq "$BENCH_HOSTS" ] && sep=
        printf '  { name = "dr-%s"; uri = "%s"; }%s\n' "$l" "$u" "$sep" >>"$HCONF"
        k=$((k + 1))
    done
    echo ');' >>"$HCONF"
    total=$(((BENCH_HOST_VMS + 1) * BENCH_HOSTS))

    # --- H1. list --json of every host against the floor -------------------
    say "list --json of $BENCH_HOSTS hosts against the floor"
    # shellcheck disable=SC2086
    side_by_side "$OUT/hosts-list" "$BENCH_HOST_RUNS" "$FLOOR$uris" "$DROVER --config $HCONF list --json" \
        ${BENCH_BEFORE:+"$BENCH_BEFORE --config $HCONF list --json"} || return 1
    # shellcheck disable=SC2046
    set -- $(side_stats "$OUT/hosts-list" 0) $(side_stats "$OUT/hosts-list" 1)
    f=$1 l=$4
    row H1 "list --json, $BENCH_HOSTS hosts × $BENCH_HOST_VMS replicas (test driver behind libvirtd; median of $BENCH_HOST_RUNS)" \
        "${l} s (${5}–${6})" "floor ${f} s (${2}–${3}; $BENCH_HOSTS hosts in parallel, in turn with drover)" \
        "$(ratio "$l" "$f")" "≤ 1.2: $(verdict "$l <= 1.2 * $f")"
    if [ -n "${BENCH_BEFORE:-}" ]; then
        # shellcheck disable=SC2046
        set -- $(side_stats "$OUT/hosts-list" 2)
        row H1 "list --json, the same, BENCH_BEFORE ($BENCH_BEFORE)" "${1} s (${2}–${3})" \
            "floor ${f} s" "$(ratio "$1" "$f")" "(before)"
    fi

    # --- H2. the console: visible rows and every row read ----------------------
    say "console on $BENCH_HOSTS hosts ($BENCH_HOST_RUNS runs, each after a floor run)"
    files=
    bfiles=
    i=1
    while [ $i -le "$BENCH_HOST_RUNS" ]; do
        # shellcheck disable=SC2086
        wall "$OUT/hosts-floor-$i.txt" "$FLOOR" $uris || return 1
        ptyrun "$OUT/hosts-console-$i.txt" load quit -- "$DROVER" --config "$HCONF" || return 1
        files="$files $OUT/hosts-console-$i.txt $OUT/hosts-floor-$i.txt"
        if [ -n "${BENCH_BEFORE:-}" ]; then
            ptyrun "$OUT/hosts-before-$i.txt" load quit -- "$BENCH_BEFORE" --config "$HCONF" ||
                return 1
            bfiles="$bfiles $OUT/hosts-before-$i.txt"
        fi
        i=$((i + 1))
    done
    # shellcheck disable=SC2086
    load_stats $files
    row H2 "console first paint of the visible rows, $total rows on $BENCH_HOSTS hosts" \
        "${vis} s (${vmin}–${vmax})" "-" "-" "≤ 0.5 s: $(verdict "$vis <= 0.5")"
    row H2 "console every row read, $total rows on $BENCH_HOSTS hosts (median of $BENCH_HOST_RUNS)" \
        "${all} s (${amin}–${amax})" "floor ${f} s (${fmin}–${fmax})" "$(ratio "$all" "$f")" \
        "≤ 1.2: $(verdict "$all <= 1.2 * $f")"
    if [ -n "${BENCH_BEFORE:-}" ]; then
        # shellcheck disable=SC2046,SC2086
        set -- $(stats all_s $bfiles)
        row H2 "console every row read, the same, BENCH_BEFORE ($BENCH_BEFORE)" \
            "${1} s (${2}–${3})" "floor ${f} s (${fmin}–${fmax})" "$(ratio "$1" "$f")" "(before)"
    fi

    # --- H4. filter keystrokes across hosts (and the console's RSS) -------------
    # Names, a state, then a host filter and a name within it; each erased.
    say "console, filter keystrokes at $total rows across hosts"
    k=$(printf 'vm-0042%s' '\b\b\b\b\b\b\b')$(printf 'recovered%s' '\b\b\b\b\b\b\b\b\b')
    k="$k"$(printf '@dr-b%s' '\b\b\b\b\b')$(printf '@dr-q web%s' '\b\b\b\b\b\b\b\b\b')
    ptyrun "$OUT/hosts-keys.txt" load wait=1 "keys=/$k$k" wait=2 quit -- "$DROVER" --config "$HCONF" || return 1
    kf=$OUT/hosts-keys.txt
    kn=$(val "$kf" keys_n)
    per=$(calc "'%.2f' % ($(val "$kf" keys_ui_ms) / $kn)")
    per_s=$(calc "'%.2f' % ($(val "$kf" keys_ui_sched_ms) / $kn)")
    per_w=$(calc "'%.2f' % ($(val "$kf" keys_wall_s) * 1000 / $kn)")
    row H4 "CPU per filter keystroke, $total rows on $BENCH_HOSTS hosts (UI thread, $kn keys, host filters)" \
        "${per} ms (utime+stime); ${per_s} ms (schedstat); wall ${per_w} ms a key" "-" "-" \
        "≤ 10 ms: $(verdict "$per_s <= 10")"

    # --- H3. peak RSS ------------------------------------------------------------
    # shellcheck disable=SC2086
    fr=$(/usr/bin/time -f %M "$FLOOR" $uris 2>&1 >/dev/null | tail -1)
    dr=$(/usr/bin/time -f %M "$DROVER" --config "$HCONF" list --json 2>&1 >/dev/null | tail -1)
    crss=$(val "$kf" maxrss_kb)
    for fl in "$OUT"/hosts-console-*.txt; do
        r=$(val "$fl" maxrss_kb)
        [ "$r" -gt "$crss" ] && crss=$r
    done
    row H3 "peak RSS, list --json, $total rows on $BENCH_HOSTS hosts" "$((dr / 1024)) MiB" \
        "floor $((fr / 1024)) MiB" "drover's own $(((dr - fr) / 1024)) MiB" \
        "≤ 64 MiB own: $(verdict "$dr - $fr <= 64 * 1024")"
    row H3 "peak RSS, console, $total rows on $BENCH_HOSTS hosts" "$((crss / 1024)) MiB" \
        "floor $((fr / 1024)) MiB" "drover's own $(((crss - fr) / 1024)) MiB" \
        "≤ 64 MiB own: $(verdict "$crss - $fr <= 64 * 1024")"

    # --- H5. a hung host, then a dead one ------------------------------------------
    # dr-b (daemon 2) is stopped, continued, killed and restarted while the
    # console runs; keys are typed before and while it hangs.
    say "console with a hung host (SIGSTOP dr-b), then SIGCONT; then kill and restart"
    kk=$(printf 'vm-00%s' '\b\b\b\b\b')
    sp=$(hosts_pid 2)
    hf=$OUT/hosts-hung.txt
    # Every host connected again: each one the title line shows, and the
    # others summed up as all connected (whether one or two hosts fit).
    back='^ drover( [a-z0-9-]+ [^ ]+ connected, data (fresh|[^ ]+ old) )+ \+([0-9]+) more: \3 connected +[0-9]'

    # Each window types a burst every second for longer than a refresh
    # interval, so both see the other hosts' resyncs alike: a single burst
    # landed in or out of one by chance (ratios of 0.8 to 2.5 in one day).
    bursts=""
    for _i in 1 2 3 4 5 6; do bursts="$bursts keys=/$kk$kk\\e wait=1"; done
    # shellcheck disable=SC2086 # the bursts are one word each
    ptyrun "$hf" load wait=1 $bursts mark=stop "run=kill -STOP $sp" \
        'until=NOT RESPONDING' since=stop $bursts \
        mark=cont "run=kill -CONT $sp" "until=$back" since=cont \
        -- "$DROVER" --config "$HCONF" || { say "the hung-host run failed"; }
    # ptyrun reports each burst; the first six are before, the next six during.
    keysum() { sed -n "s/^$1=//p" "$hf" | awk -v a="$2" -v b="$3" 'NR >= a && NR <= b { s += $1 } END { print s + 0 }'; }
    keys_before=$(keysum keys_ui_sched_ms 1 6)
    keys_during=$(keysum keys_ui_sched_ms 7 12)
    wall_before=$(keysum keys_wall_s 1 6)
    wall_during=$(keysum keys_wall_s 7 12)
    kn=$(keysum keys_n 1 6)
    hung_s=$(sed -n 's/^stop_s=//p' "$hf" | sed -n 1p)
    back_s=$(sed -n 's/^cont_s=//p' "$hf" | sed -n 1p)
    row H5 "hung host (SIGSTOP): header says NOT RESPONDING after" "${hung_s:-?} s" \
        "keepalive 5 s × 3" "-" "within the keepalive time"
    row H5 "keystrokes before / while a host hangs ($kn keys each, UI thread schedstat, wall)" \
        "$(calc "'%.2f ms, %.1f ms' % (${keys_during:-0} / ${kn:-1}, ${wall_during:-0} * 1000 / ${kn:-1})") a key while hung" \
        "$(calc "'%.2f ms, %.1f ms' % (${keys_before:-0} / ${kn:-1}, ${wall_before:-0} * 1000 / ${kn:-1})") a key before" \
        "$(ratio "${wall_during:-0}" "${wall_before:-1}") (wall)" "the same latency"
    row H5 "hung host recovers by itself after SIGCONT" "${back_s:-?} s" "-" "-" "recovers"
    rf=$OUT/hosts-restart.txt
    # The restarted daemon starts empty: its fleet is loaded again.
    cat >"$HD/restart3.sh" <<EOS
. "$BENCH_SRC/../tests/hosts-lib.sh"
HOSTS_DIR="$HD"
LIBVIRTD="$LIBVIRTD"
hosts_restart_one 3 || exit 1
"$HOLD" "$(hosts_uri 3 /default)" "$F/dr-c/fleet.xml" >"$HD/hold-3r.out" 2>&1 &
echo \$! >"$HD/hold-3r.pid"
EOS
    ptyrun "$rf" load wait=1 mark=kill "run=sh -c '. $BENCH_SRC/../tests/hosts-lib.sh; HOSTS_DIR=$HD; HOSTS_N=$BENCH_HOSTS; hosts_kill_one 3'" \
        'until=DISCONNECTED' since=kill mark=restart \
        "run=sh $HD/restart3.sh" \
        "until=$back" since=restart \
        -- "$DROVER" --config "$HCONF" || say "the restart run failed"
    row H5 "killed host: DISCONNECTED after / recovers after restart" \
        "$(val "$rf" kill_s) s / $(val "$rf" restart_s) s" "-" "-" "recovers"
    bench_hosts_stop
    trap - EXIT INT TERM HUP
}

if [ "${BENCH_SKIP_HOSTS:-0}" != 1 ]; then
    (bench_hosts) || say "warning: the many-hosts part failed (see $OUT)"
fi
