#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# A host whose daemon hangs at the connect never hangs drover (issue 16):
# two private libvirtd daemons (tests/hosts-lib.sh) serve demo fleets
# through libvirt's test driver; dr-a's is stopped with SIGSTOP before
# drover connects (it accepts the socket and never answers).  show, check,
# list and the operations end by themselves with 32777 (status 5) saying
# that dr-a does not answer, and change nothing; a command for dr-b still
# works.  connect_timeout makes the wait 3 s here; `timeout 200` is only the
# guard that turns a hang into a failure.  Behaviour, not timing.  Last, a
# daemon stopped after list's connect: keepalive ends the list, and a
# SIGPIPE meanwhile does not kill it; and one stopped right after the
# connect of show, which opens its hosts for events: keepalive, started
# 2 s after that connect, still ends it.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/hosts-lib.sh"
. "$top_srcdir/tests/ops-common.sh"

hosts_require || skip_all "$HOSTS_SKIP"
mktemp_dir
# Sockets live under $D: keep it short.
D=$(mktemp -d /tmp/drover-hh.XXXXXX) || exit 99
cleanup() { hosts_stop; rm -rf "$D"; }
trap cleanup EXIT
hosts_start "$D" 2 || { diag "see $D"; echo "Bail out! the private libvirtd daemons did not start"; exit 99; }

for h in a b; do
    "$DROVER" demo --no-console --dir "$T/dr-$h" >/dev/null 2>&1 || skip_all "cannot build a demo fleet"
done
cat >>"$T/drover.conf" <<EOC
connect_timeout = 3;
hosts = (
  { name = "dr-a"; uri = "$(hosts_uri 1 "$T/dr-a/fleet.xml")"; },
  { name = "dr-b"; uri = "$(hosts_uri 2 "$T/dr-b/fleet.xml")"; }
);
EOC

# What must not change: the fleet files, every file of the chains (name,
# size, inode, content), the records as drover shows them.
snapshot() {
    (cd "$T" && find dr-a dr-b -type f -printf '%p %s %i\n' | sort &&
        find dr-a dr-b -type f | sort | xargs sha256sum)
}
before=$(snapshot)
rec_before=$(drover show web02@dr-a --json 2>&1)
like "$rec_before" '"state": 5' "dr-a's web02 is Recovered before (its record is read)"

hosts_stop_one 1
ok $? "dr-a's daemon is stopped (SIGSTOP) before drover connects"

# run NAME ARGS...: drover under the outer guard; sets rc, out, err.
run() {
    _name=$1
    shift
    timeout 200 "$DROVER" --config "$T/drover.conf" "$@" >"$T/$_name.out" 2>"$T/$_name.err"
    rc=$?
    out=$(cat "$T/$_name.out")
    err=$(cat "$T/$_name.err")
}

# expect_hung NAME WHAT: status 5 and a message that dr-a does not answer.
expect_hung() {
    is "$rc" 5 "$2 ends by itself with status 5 (32777)"
    like "$err" '32777' "$2 prints the code 32777"
    like "$err$out" 'dr-a.*does not answer|does not answer.*h1/s/libvirt-sock' \
        "$2 names dr-a and says it does not answer"
}

run show show web02@dr-a
expect_hung show "show web02@dr-a"
like "$err" 'no reply to the connect in [0-9]+ s' "show says how long it waited for the connect"

run check-one check web02@dr-a
expect_hung check-one "check web02@dr-a"

run check check
is "$rc" 5 "check of every host ends by itself with status 5"
like "$err" 'dr-a.*does not answer' "check says dr-a does not answer"
like "$out" 'web02' "check still reports dr-b's replicas"

run list list --json
is "$rc" 5 "list ends by itself with status 5"
like "$out" '"host": "dr-b"' "list still lists dr-b"

run revert revert web02@dr-a --yes --reason hang-test
expect_hung revert "revert web02@dr-a"

run failover failover web01@dr-a --yes --reason hang-test
expect_hung failover "failover web01@dr-a"

run commit commit db01@dr-a --yes --reason hang-test
expect_hung commit "commit db01@dr-a"

run json show web02@dr-a --json
is "$rc" 5 "show --json ends with status 5"
like "$out" '"result": 32777' "show --json gives the result 32777"

# The other host still answers, in the same run as the hung one.
run show-b show web02@dr-b
is "$rc" 0 "show web02@dr-b works while dr-a hangs"
like "$out" 'Recovered' "and shows dr-b's record"

run revert-b revert web02@dr-b --yes --reason hang-test
is "$rc" 0 "revert web02@dr-b works while dr-a hangs"
# dr-b's own change is the only one: put it out of the comparison.
is "$(snapshot | grep -v 'dr-b/' )" "$(printf '%s\n' "$before" | grep -v 'dr-b/')" \
    "nothing of dr-a changed on disk (fleet file, every chain file)"

hosts_cont_one 1
ok $? "dr-a's daemon runs again (SIGCONT)"
# The command runs once the daemon accepts connects again: run at once, it
# got "Connection refused" under make -j2 (2026-12-05).
hosts_wait_accepts 1
ok $? "and accepts connects again"
run show-after show web02@dr-a --json
is "$rc" 0 "show web02@dr-a works again after SIGCONT"
is "$out" "$rec_before" "and its record is what it was before"

# A host that hangs after the connect, in the middle of a list: `list`
# makes its calls without keepalive and without an event-loop thread
# (src/hv/hv-priv.h, hv_keepalive); once its hosts take more than 2 s it
# turns keepalive on and starts the loop, and keepalive must end the call.  The list waits at
# the pause point once dr-a's connection is open (src/base/testhook.h),
# dr-a is stopped, and the list goes on into its calls.
rm -f "$T/paused"
DROVER_PAUSE=hv:list-connected DROVER_PAUSE_FILE="$T/paused" \
    timeout 200 "$DROVER" --config "$T/drover.conf" -c "$(hosts_uri 1 "$T/dr-a/fleet.xml")" \
    list --json >"$T/list-mid.out" 2>"$T/list-mid.err" &
bg=$!
wait_bg_until "$bg" test -e "$T/paused"
ok $? "list reaches its calls with dr-a connected"
# libvirt writes to its sockets with write(): a keepalive ping sent as the
# daemon closes the connection raises SIGPIPE (seen in CI: list killed
# after its output began).  drover must take it as an error of that call.
kill -PIPE "$(cat "$T/paused")"
ok $? "SIGPIPE sent to the list while it holds dr-a's connection"
hosts_stop_one 1
ok $? "dr-a's daemon is stopped (SIGSTOP) after the connect"
rm -f "$T/paused"
wait "$bg"
rc=$?
is "$rc" 5 "list ends by itself (keepalive) with status 5 (32777), not killed by the SIGPIPE"
like "$(cat "$T/list-mid.err")" '32777' "and prints the code 32777"
hosts_cont_one 1
ok $? "dr-a's daemon runs again (SIGCONT)"
# The command runs once the daemon accepts connects again: run at once, it
# got "Connection refused" under make -j2 (2026-12-05).
hosts_wait_accepts 1
ok $? "and accepts connects again"
run list-after list --json
is "$rc" 0 "list works again after SIGCONT"
like "$out" '"host": "dr-a"' "and lists dr-a"

# A host that hangs right after the connect of a command that opens it for
# events (show: hv_open through session_open, src/face/session.c): such a
# connection gets keepalive only 2 s after its connect, from a timer of
# libvirt's event loop (src/hv/hv.c, HV_KEEPALIVE_LATER_MS), and it must
# still end the call made before then: about 2 s + 5 s + 3 x 5 s.  show
# waits at the pause point once dr-a's connection is open and registered
# (src/base/testhook.h), dr-a is stopped at once, well before the 2 s, and
# show goes on into its lookup.  -c: dr-a alone, so the pause is dr-a's.
rm -f "$T/paused"
t0=$(date +%s)
DROVER_PAUSE=hv:open-connected DROVER_PAUSE_FILE="$T/paused" \
    timeout 200 "$DROVER" --config "$T/drover.conf" -c "$(hosts_uri 1 "$T/dr-a/fleet.xml")" \
    show web02 >"$T/show-mid.out" 2>"$T/show-mid.err" &
bg=$!
wait_bg_until "$bg" test -e "$T/paused"
ok $? "show opens dr-a for events and waits at the pause point after the connect"
hosts_stop_one 1
ok $? "dr-a's daemon is stopped (SIGSTOP) right after show's connect"
rm -f "$T/paused"
wait "$bg"
rc=$?
diag "show with dr-a stopped after its connect ended after $(($(date +%s) - t0)) s"
is "$rc" 5 "show ends by itself (keepalive started after the connect) with status 5 (32777)"
like "$(cat "$T/show-mid.err")" '32777' "and prints the code 32777"
! grep -q 'no reply to the connect' "$T/show-mid.err"
ok $? "and it is the call after the connect that failed, not the connect"
hosts_cont_one 1
ok $? "dr-a's daemon runs again (SIGCONT)"
# The command runs once the daemon accepts connects again: run at once, it
# got "Connection refused" under make -j2 (2026-12-05).
hosts_wait_accepts 1
ok $? "and accepts connects again"
run show-again show web02@dr-a --json
is "$rc" 0 "show web02@dr-a works again after SIGCONT"
is "$out" "$rec_before" "and its record is what it was before"

done_testing
