#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# A host whose daemon dies in the middle of `list`.  A host's list with
# 64 domains or more reads every other record in a second thread ("list
# ahead", src/hv/hv-list.c, HvAhead), in parts (one host, or no more
# hosts than cores) or not.  Two private libvirtd daemons
# (tests/hosts-lib.sh) serve demo fleets through libvirt's test driver:
# dr-a 301 domains, dr-b fewer than 64.  The list is held halfway through
# dr-a's records (pause point hv:list-record, src/base/testhook.h: in
# parts, parts of 64 already handed on), dr-a's daemon is killed (SIGKILL) and the list
# goes on into the dead host:
#   - dr-a alone: the list ends by itself (no hang: `timeout` is only the
#     guard) with status 5 and 32777, naming dr-a, its URI and libvirt's
#     reason; it lists no row of dr-a (the parts read before the loss are
#     dropped, not shown as if whole); no crash, and under ASan no leak
#     report (a leak would change the status too);
#   - dr-a and dr-b: the same for dr-a, and dr-b's rows are all there, as
#     dr-b lists them alone;
#   - dr-a's daemon started again: both hosts list in full.
# tests/test-hv-fleet.c holds the second thread itself: a record that vanishes
# or a daemon that dies under its read.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/hosts-lib.sh"
. "$top_srcdir/tests/ops-common.sh"

hosts_require || skip_all "$HOSTS_SKIP"
mktemp_dir
# Sockets live under $D: keep it short.
D=$(mktemp -d /tmp/drover-hl.XXXXXX) || exit 99
cleanup() { hosts_stop; rm -rf "$D"; }
trap cleanup EXIT
hosts_start "$D" 2 || { diag "see $D"; echo "Bail out! the private libvirtd daemons did not start"; exit 99; }

"$DROVER" demo --no-console --dir "$T/dr-a" --vms 300 >/dev/null 2>&1 || skip_all "cannot build a demo fleet"
"$DROVER" demo --no-console --dir "$T/dr-b" >/dev/null 2>&1 || skip_all "cannot build a demo fleet"
uri_a=$(hosts_uri 1 "$T/dr-a/fleet.xml")
uri_b=$(hosts_uri 2 "$T/dr-b/fleet.xml")
cp "$T/drover.conf" "$T/one.conf"
cat >>"$T/one.conf" <<EOC
hosts = (
  { name = "dr-a"; uri = "$uri_a"; }
);
EOC
cat >>"$T/drover.conf" <<EOC
hosts = (
  { name = "dr-a"; uri = "$uri_a"; },
  { name = "dr-b"; uri = "$uri_b"; }
);
EOC

both=$(drover list --json)
is "$?" 0 "list of both hosts: status 0"
na=$(hosts_rows "$both" | grep -c ' dr-a$')
nb=$(hosts_rows "$both" | grep -c ' dr-b$')
ok "$([ "$na" -gt 150 ] && [ "$nb" -gt 0 ] && [ "$nb" -lt 64 ] && echo 0 || echo 1)" \
    "dr-a lists $na replicas (more than two parts of 64), dr-b $nb (fewer than 64: no reader ahead)"
rows_b=$(hosts_rows "$both" | grep ' dr-b$')

# lost_list NAME CONF: `list --json` with CONF, held halfway through dr-a's
# records while dr-a's daemon is killed; sets rc, out, err.
lost_list() {
    rm -f "$T/paused"
    DROVER_PAUSE=hv:list-record DROVER_PAUSE_FILE="$T/paused" \
        timeout 120 "$DROVER" --config "$2" list --json >"$T/$1.out" 2>"$T/$1.err" &
    bg=$!
    wait_bg_until "$bg" test -e "$T/paused"
    ok $? "$1: the list is held halfway through dr-a's records"
    hosts_kill_one 1
    ok $? "$1: dr-a's daemon is killed (SIGKILL) in the middle of the list"
    rm -f "$T/paused"
    wait "$bg"
    rc=$?
    out=$(cat "$T/$1.out")
    err=$(cat "$T/$1.err")
}

# lost_checks NAME: what a list that lost dr-a says.
lost_checks() {
    is "$rc" 5 "$1: the list ends by itself with status 5 (not killed, not hung)"
    like "$err" "^drover: host dr-a \\(test\\+unix://.*h1/s/libvirt-sock\\) is not available: .* \\(32777\\)$" \
        "$1: it says dr-a, with its URI, is not available, with the code 32777"
    like "$err" 'cannot read metadata of [^ ]+: .*(closed|end of file|reset|Cannot recv|Cannot write)' \
        "$1: and why: the record whose read failed and libvirt's reason"
    is "$(printf '%s\n' "$err" | grep -c '^drover: host dr-a ')" 1 "$1: dr-a is reported once"
    ! grep -q 'Sanitizer\|runtime error' "$T/$1.err"
    ok $? "$1: no sanitizer report"
    is "$(hosts_rows "$out" | grep -c ' dr-a$')" 0 "$1: no row of dr-a: the parts read before the loss are not listed"
}

lost_list one "$T/one.conf"
lost_checks one
is "$(printf '%s' "$out" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')" 0 \
    "one: the JSON output is an empty list"
hosts_restart_one 1
ok $? "dr-a's daemon is started again"

# Two hosts: in parts on two cores or more, without on one; dr-a reads
# ahead either way.
lost_list two "$T/drover.conf"
lost_checks two
! grep -q 'dr-b' "$T/two.err"
ok $? "two: nothing is said of dr-b"
is "$(hosts_rows "$out")" "$rows_b" "two: dr-b's rows are all listed, as when both hosts answer"
hosts_restart_one 1
ok $? "dr-a's daemon is started again"

again=$(drover list --json)
is "$?" 0 "list of both hosts after the restart: status 0"
is "$(hosts_rows "$again")" "$(hosts_rows "$both")" "every row of both hosts is listed again"

done_testing
