#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# `list` of several hosts whose lists come in parts (src/hv/hv-list.c:
# with no more hosts than cores, each host's records are made 64 at a time
# while its calls go on): two demo fleets of 150 and 70 extra VMs, listed
# together and each alone.
# Every row is there once, sorted by name and host, as the hosts alone
# list them; the text and names outputs agree with the JSON.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/hosts-lib.sh"     # hosts_rows

mktemp_dir
make_fleet "$T/dr-a" 150 || skip_all "cannot build a demo fleet"
uri_a=$URI
make_fleet "$T/dr-b" 70 || skip_all "cannot build a demo fleet"
uri_b=$URI
cat >>"$T/drover.conf" <<EOC
hosts = (
  { name = "dr-a"; uri = "$uri_a"; },
  { name = "dr-b"; uri = "$uri_b"; }
);
EOC

both=$(drover list --json)
is "$?" 0 "list of both hosts: status 0"
a=$(drover -c "$uri_a" list --json)
is "$?" 0 "list of dr-a alone: status 0"
b=$(drover -c "$uri_b" list --json)
is "$?" 0 "list of dr-b alone: status 0"
na=$(hosts_rows "$a" | wc -l)
nb=$(hosts_rows "$b" | wc -l)
ok "$([ "$na" -gt 150 ] && [ "$nb" -gt 70 ] && echo 0 || echo 1)" \
    "each host lists its replicas ($na and $nb: more than one part of 64)"
is "$(hosts_rows "$both" | wc -l)" "$((na + nb))" "both hosts together: every row of each"
is "$(hosts_rows "$both" | sort -u | wc -l)" "$((na + nb))" "and each row once"
is "$(hosts_rows "$both")" "$(hosts_rows "$both" | LC_ALL=C sort -k1,1 -k2,2)" "sorted by name, then host"
is "$(hosts_rows "$both" | awk '$2 == "dr-b" { print $1 }')" "$(hosts_rows "$b" | awk '{ print $1 }')" \
    "dr-b's rows are the ones it lists alone, in the same order"
is "$(drover list --names | grep -v @ | LC_ALL=C sort)" \
    "$(hosts_rows "$both" | awk '{ print $1 }' | LC_ALL=C sort -u)" "list --names names every replica once"
is "$(drover list | tail -n +2 | wc -l)" "$((na + nb))" "the table has a line a row"

done_testing
