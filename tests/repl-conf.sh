#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# repl-conf.sh: drover.conf's per-primary and per-replica replication
# defaults (the "replication" groups) on two private libvirtd daemons:
# enable-replication takes interval, points, the application-consistent
# interval and the NBD address from the replica's group, else the
# primary's, else replication_*; options on the command line win; the
# replica records what was taken.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/qemu-lib.sh"
. "${top_srcdir:-.}/tests/repl-lib.sh"

base=$(cat "$T/drover.conf")
# conf FILE TEXT: the test's configuration (its audit log and job history)
# with TEXT after it.
conf() { printf '%s\n%s\n' "$base" "$2" >"$T/$1"; }
conf full.conf "replication_interval = 3600;
replication_points = 7;
replication = (
  { primary = \"elsewhere\"; interval = 5; points = 1; },
  { primary = \"$PURI\"; interval = 300; points = 12; app_consistent_every = 14400;
    nbd = \"127.0.0.1:$PORT\"; },
  { primary = \"$PURI\"; vm = \"$VM\"; points = 24; },
  { primary = \"$PURI\"; interval = 7200; }
);"
conf primary.conf "replication = ( { primary = \"$PURI\"; interval = 300; points = 12; } );"
conf other.conf "replication_interval = 3600;
replication_points = 7;
replication = ( { primary = \"elsewhere\"; interval = 5; points = 1; } );"
plan() {  # plan CONF [OPTIONS]: the dry-run plan of enable-replication
    _c=$1
    shift
    "$DROVER" --config "$T/$_c" -c "$DURI" enable-replication "$VM" --from "$PURI" --dir "$DIR" \
        --dry-run "$@" 2>&1
}

like "$("$DROVER" --config "$T/full.conf" config 2>&1)" "vm = \"$VM\"; points = 24;" \
    "drover config shows the groups"

out=$(plan full.conf)
is "$?" 0 "dry run with the replica's and the primary's groups: exit 0"
like "$out" "every: +300 s" "interval from the primary's group (the first for it)"
like "$out" "keep: +24 recovery points" "points from the replica's group"
like "$out" "app: +an application-consistent point every 14400 s" \
    "the application-consistent interval from the primary's group"
like "$out" "NBD export at 127\.0\.0\.1:$PORT;" "the NBD address from the primary's group"

out=$(plan full.conf --interval 10m --points 3 --app-consistent-every 1h --nbd 127.0.0.1:1)
is "$?" 0 "dry run with every option given: exit 0"
like "$out" "every: +600 s" "--interval wins"
like "$out" "keep: +3 recovery points" "--points wins"
like "$out" "every 3600 s" "--app-consistent-every wins"
like "$out" "NBD export at 127\.0\.0\.1:1;" "--nbd wins"

out=$(plan primary.conf)
like "$out" "every: +300 s" "only the primary's group: its interval"
like "$out" "keep: +12 recovery points" "and its points"
like "$out" "NBD export at 127\.0\.0\.1:10809;" "no nbd in it: the default (a local primary: 127.0.0.1, port 10809)"

out=$(plan other.conf)
like "$out" "every: +3600 s" "a group of another primary only: replication_interval"
like "$out" "keep: +7 recovery points" "and replication_points"

# For real, without --nbd: the export is reached at the address the group
# names (the default, 127.0.0.1:10809, has no export).
out=$("$DROVER" --config "$T/full.conf" -c "$DURI" enable-replication "$VM" --from "$PURI" \
    --dir "$DIR" --yes 2>&1)
rc=$?
is "$rc" 0 "enable-replication with the groups' defaults: exit 0"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
is "$(record "v['replication']['interval'], v['replication']['points'], v['newest_point']")" \
    "300 24 rp-0001" "the replica records interval 300 and 24 points"
is "$(stat "v['app_consistent_every']")" 14400 "and an application-consistent point every 14400 s"
paused same "$DIR/vda.rp-0001.qcow2" "$TOP/prim/vda.qcow2"
ok $? "the initial copy reads as the primary (through the group's NBD address)"

# A bad group: nothing starts, the file and line named.
conf bad.conf "replication = ( { primary = \"$PURI\"; points = 5000; } );"
out=$(plan bad.conf)
is "$?" 2 "a group with points = 5000: exit 2"
like "$out" "bad\.conf:[0-9]+: replication\[0\]\.points: 5000 is out of range 0\.\.1000" \
    "the refusal names the file, line and setting"
is "$(system_jobs_of_this_test)" 0 "the system's job history holds no job of this test"

qemu_stop_all >/dev/null 2>&1
done_testing
