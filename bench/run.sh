#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/run.sh: drover's benchmarks, each against a named baseline measured
# in the same run on the same machine.  `make bench` runs it; results go to
# $OUT/results.md (and hyperfine's JSON beside it).  doc/performance.md
# explains every figure.
#
# Environment: DROVER FLOOR WALK QEMU_IMG OUT (set by make bench),
#   BENCH_DIR (scratch space, default /tmp/drover-bench-$UID),
#   BENCH_QUICK=1 (fewer runs; for a smoke test), BENCH_ONLY=hosts (only
#   bench/hosts.sh), BENCH_ONLY=remote (only bench/remote.sh),
#   BENCH_SKIP_HOSTS=1 (all but the hosts), BENCH_BEFORE=PATH (another
#   build of drover beside this one in hosts.sh and remote.sh),
#   BENCH_HOST_RUNS (runs of hosts.sh's H1 and H2, default 15 even with
#   BENCH_QUICK).
set -eu
: "${BENCH_DIR:=/tmp/drover-bench-$(id -u)}"
: "${OUT:=bench/out}"
RUNS=5
[ "${BENCH_QUICK:-0}" = 1 ] && RUNS=2
export LC_ALL=C TZ=UTC XDG_CONFIG_HOME="$BENCH_DIR/noconf" DROVER_SYSCONFDIR=/nonexistent
unset LIBVIRT_DEFAULT_URI

command -v hyperfine >/dev/null || { echo "bench: hyperfine is needed (apt-get install hyperfine)"; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is needed (apt-get install time)"; exit 1; }
mkdir -p "$OUT" "$BENCH_DIR"
RES="$OUT/results.md"
CONF="$BENCH_DIR/drover.conf"
printf 'audit_log = "%s/audit.log";\njob_history = "%s/jobs.jsonl";\n' "$BENCH_DIR" "$BENCH_DIR" >"$CONF"
drover() { "$DROVER" --config "$CONF" "$@"; }

say() { echo "bench: $*" >&2; }
mean() {  # mean JSONFILE INDEX -> seconds
    python3 -c "import json,sys; print('%.4f' % json.load(open('$1'))['results'][$2]['mean'])"
}
ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }

{
    echo "# drover benchmark results"
    echo
    echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo);" \
         "$(uname -r); $(date -u +%Y-%m-%dT%H:%M:%SZ)."
    echo
    echo "| # | measure | drover | baseline | ratio | target |"
    echo "|---|---|---|---|---|---|"
} >"$RES"
row() { echo "| $1 | $2 | $3 | $4 | $5 | $6 |" >>"$RES"; }

# BENCH_ONLY=hosts runs only the many-hosts part (bench/hosts.sh),
# BENCH_ONLY=remote only the remote path (bench/remote.sh).
case "${BENCH_ONLY:-}" in
hosts | remote)
    BENCH_SRC=$(cd "$(dirname "$0")" && pwd)
    # shellcheck source=lib.sh
    . "$BENCH_SRC/lib.sh"
    # shellcheck disable=SC1090
    . "$BENCH_SRC/$BENCH_ONLY.sh"
    say "results in $RES"
    cat "$RES"
    exit 0
    ;;
esac

# --- 1. list: drover list --json against the floor and the virsh loop -------
for n in 1000 10000; do
    say "fleet of $n replicas"
    drover demo --no-console --dir "$BENCH_DIR/f$n" --vms "$n" >/dev/null 2>&1
    uri="test://$BENCH_DIR/f$n/fleet.xml"
    hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$OUT/list-$n.json" \
        "$FLOOR $uri" "$DROVER --config $CONF -c $uri list --json" >/dev/null
    f=$(mean "$OUT/list-$n.json" 0); d=$(mean "$OUT/list-$n.json" 1)
    row 1 "list --json, $n replicas (test driver)" "${d} s" "floor ${f} s" "$(ratio "$d" "$f")" "≤ 1.5"
    if [ "$n" = 1000 ] && [ "${BENCH_SKIP_VIRSH:-0}" != 1 ]; then
        say "virsh loop over $n replicas (one run; slow by nature)"
        cat >"$BENCH_DIR/virsh-loop.sh" <<EOS
#!/bin/sh
virsh -c $uri list --all --name | while read -r vm; do
    [ -n "\$vm" ] && virsh -c $uri metadata "\$vm" urn:drover:replica:1 >/dev/null 2>&1
done
exit 0
EOS
        hyperfine -N --runs 1 --export-json "$OUT/virsh-$n.json" "sh $BENCH_DIR/virsh-loop.sh" >/dev/null
        v=$(mean "$OUT/virsh-$n.json" 0)
        row 1 "list, $n replicas, vs the virsh loop" "${d} s" "virsh loop ${v} s" "$(ratio "$v" "$d")× faster" "≥ 100× faster"
    fi
done

# --- 5. memory: peak RSS of list minus the floor's ---------------------------
uri="test://$BENCH_DIR/f10000/fleet.xml"
fr=$(/usr/bin/time -f %M "$FLOOR" "$uri" 2>&1 >/dev/null | tail -1)
dr=$(/usr/bin/time -f %M "$DROVER" --config "$CONF" -c "$uri" list --json 2>&1 >/dev/null | tail -1)
row 5 "peak RSS, list --json, 10000 replicas" "$((dr / 1024)) MiB" "floor $((fr / 1024)) MiB" \
    "drover's own $(((dr - fr) / 1024)) MiB" "≤ 64 MiB own"

# --- 2. chain walk of depth 200 against qemu-img info ------------------------
say "chain of 200 layers"
c="$BENCH_DIR/chain200"
rm -rf "$c"; mkdir -p "$c"
"$QEMU_IMG" create -q -f qcow2 "$c/l000.qcow2" 1G
i=1
while [ $i -lt 200 ]; do
    "$QEMU_IMG" create -q -f qcow2 -F qcow2 -b "$c/l$(printf %03d $((i - 1))).qcow2" -u \
        "$c/l$(printf %03d $i).qcow2" 1G
    i=$((i + 1))
done
top="$c/l199.qcow2"
hyperfine -N --warmup 3 --runs $((RUNS * 4)) --export-json "$OUT/walk.json" \
    "$WALK $top" "$QEMU_IMG info --backing-chain --output=json -U $top" >/dev/null
w=$(mean "$OUT/walk.json" 0); q=$(mean "$OUT/walk.json" 1)
row 2 "chain walk, 200 layers" "${w} s" "qemu-img info ${q} s" "$(ratio "$q" "$w")× faster" "≥ 10× faster"

# --- 3. revert cost does not grow with the failover disk's size --------------
say "revert with 1 GiB and 100 GiB failover disks"
for size in 1 100; do
    drover demo --no-console --dir "$BENCH_DIR/r$size" --vms 2 >/dev/null 2>&1
done
# web02 is failed over in both fleets: before each timed revert, fail it
# over again and give its failover disk 1 GiB of real data, and for the
# large case grow the file to 100 GiB (sparse).
cat >"$BENCH_DIR/prep.sh" <<EOS
#!/bin/sh
set -e
size=\$1
u="test://$BENCH_DIR/r\$size/fleet.xml"
d() { "$DROVER" --config "$CONF" "\$@"; }
if d -c "\$u" list --json | grep -q '"failover_point": "rp'; then
    d -c "\$u" revert web02 --yes >/dev/null
fi
d -c "\$u" failover web02 --yes >/dev/null
ov=\$(ls "$BENCH_DIR/r\$size/vms/web02/"vda.failover-*.qcow2)
qemu-io -f qcow2 -c "write -P 7 0 1G" "\$ov" >/dev/null
if [ "\$size" = 100 ]; then truncate -s 100G "\$ov"; fi
EOS
for size in 1 100; do
    hyperfine -N --runs "$RUNS" --prepare "sh $BENCH_DIR/prep.sh $size" \
        --export-json "$OUT/revert-$size.json" \
        "$DROVER --config $CONF -c test://$BENCH_DIR/r$size/fleet.xml revert web02 --yes" >/dev/null
done
r1=$(mean "$OUT/revert-1.json" 0); r100=$(mean "$OUT/revert-100.json" 0)
row 3 "revert, failover disk 100 GiB vs 1 GiB" "${r100} s (100 GiB)" "${r1} s (1 GiB)" "$(ratio "$r100" "$r1")" "≤ 1.1"

# Console measures (first paint, terminal bytes, RSS, filter keystroke).
if [ -f "$(dirname "$0")/console.sh" ]; then
    . "$(dirname "$0")/console.sh"
fi

# Twenty DR hosts in one console, a hung host (issue 16).
# shellcheck source=hosts.sh
. "$(dirname "$0")/hosts.sh"

say "results in $RES"
cat "$RES"
