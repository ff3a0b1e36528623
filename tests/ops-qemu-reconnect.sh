#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# ops-qemu-reconnect.sh: drover when libvirtd goes away (tests/qemu-lib.sh's
# private libvirtd, killed with SIGKILL in the middle of a job, then restarted
# on the same socket), a host that does not exist, and a TCP connection.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/qemu-lib.sh"

qemu_require
mktemp_dir
qemu_start tcp

json_list_get() {  # json_list_get VM EXPR (v: VM's object of list --json)
    drover -c "$QURI" list --json 2>/dev/null |
        python3 -c "import json,sys
v=[o for o in json.load(sys.stdin) if o['name']=='$1']
v=v[0] if v else {}
print($2)"
}

# The disk files of a VM directory (the lock file beside the chain may come
# and stay: it is not part of any plan).
images() { (cd "$1" && ls -A | grep '\.qcow2$'); }


# --- TCP ------------------------------------------------------------------------
A="dra$$"
qemu_make_replica "$A" 5 rp-0002
ok $? "$A: replica defined (state 5, failover overlay on rp-0002)"
A_DIR=$VMDIR A_OVL=$OVERLAY
out=$(drover -c "$QURI_TCP" list 2>&1)
is "$?" 0 "list over $QURI_TCP: exit 0"
like "$out" "^127\.0\.0\.1 +$A +5 Recovered" "list over TCP shows $A on host 127.0.0.1"

# --- 5a. libvirtd killed during the revert's shutdown wait ----------------------
qvirsh start "$A" >/dev/null
ok $? "$A started"
A_SUMS=$(rp_sums "$A_DIR")
A_IMAGES=$(images "$A_DIR")
A_XML=$(qvirsh dumpxml --inactive "$A")
drover -c "$QURI" revert "$A" --yes >"$T/revert.out" 2>&1 &
dpid=$!
wait_for "$T/revert.out" "waiting for $A to shut down" 100
ok $? "revert reached the shutdown wait"
qemu_kill_libvirtd
ok $? "libvirtd killed (SIGKILL) during the wait"
wait "$dpid"
is "$?" 5 "revert: exit 5"
out=$(cat "$T/revert.out")
like "$out" "Result: 32777 System is not available" "revert ends with 32777, decoded"
like "$out" "cause: .*not connected" "the cause says the host is not connected"
like "$out" "retry safe: +yes" "a retry is safe"
like "$out" "Job .*: Exception" "the job ends in Exception"
out=$(drover -c "$QURI" list 2>&1)
is "$?" 5 "list while libvirtd is down: exit 5"
like "$out" "not available.*32777" "list while libvirtd is down: 32777"
is "$(images "$A_DIR")" "$A_IMAGES" "no disk file created or deleted"
[ -f "$A_OVL" ]
ok $? "failover overlay kept"
is "$(rp_sums "$A_DIR")" "$A_SUMS" "RP and base files unchanged (sha256)"
[ -n "$(qemu_guest_pids)" ]
ok $? "the guest survived libvirtd"

qemu_restart_libvirtd
ok $? "libvirtd restarted on the same socket"
out=$(drover -c "$QURI" list 2>&1)
is "$?" 0 "a fresh drover list works again"
like "$out" "$A +5 Recovered +Normal" "$A still 5 Recovered, Normal"
out=$(drover -c "$QURI_TCP" list 2>&1)
is "$?" 0 "list over TCP works again"
is "$(qvirsh dumpxml --inactive "$A")" "$A_XML" "definition and record unchanged (no journal written)"
is "$(json_list_get "$A" "v.get('state'), v.get('interrupted_operation'), v.get('power')")" \
    "5 None running" "record 5, no interrupted operation, still running"
out=$(drover -c "$QURI" repair "$A" --yes 2>&1)
is "$?" 0 "repair: exit 0"
like "$out" "nothing to repair" "repair has nothing to do"
like "$(drover jobs 2>&1)" "Revert.*$A|$A.*Revert" "job history keeps the failed revert"
qvirsh destroy "$A" >/dev/null
out=$(drover -c "$QURI" revert "$A" --yes 2>&1)
is "$?" 0 "revert after the restart: exit 0"
[ ! -e "$A_OVL" ]
ok $? "overlay deleted by the completed revert"
is "$(qemu_disk_source "$A")" "$A_DIR/vda.rp-0003.qcow2" "$A on the newest RP"
is "$(rp_sums "$A_DIR")" "$A_SUMS" "RP and base files unchanged (sha256)"

# --- 5b. libvirtd killed after the journal, before the switch -------------------
# A qemu-img that stops at "create" until told to go: the failover has
# written its journal and is creating the overlay when libvirtd dies.
B="drb$$"
qemu_make_replica "$B" 3
ok $? "$B: replica defined (state 3)"
B_DIR=$VMDIR
B_SUMS=$(rp_sums "$B_DIR")
B_IMAGES=$(images "$B_DIR")
cat >"$T/qemu-img-gate" <<EOS
#!/bin/sh
if [ "\$1" = create ]; then
    : >"$T/gate.reached"
    n=0
    while [ ! -e "$T/gate.open" ] && [ \$n -lt 300 ]; do sleep 0.1; n=\$((n + 1)); done
fi
exec "$QEMU_IMG" "\$@"
EOS
chmod +x "$T/qemu-img-gate"
QEMU_IMG="$T/qemu-img-gate" "$DROVER" --config "$T/drover.conf" -c "$QURI" failover "$B" --yes \
    >"$T/failover.out" 2>&1 &
dpid=$!
n=0
while [ ! -e "$T/gate.reached" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
[ -e "$T/gate.reached" ]
ok $? "failover reached the overlay creation"
is "$(json_list_get "$B" "v.get('interrupted_operation')")" "failover" "its journal is in the record"
qemu_kill_libvirtd
ok $? "libvirtd killed (SIGKILL) before the switch"
: >"$T/gate.open"
wait "$dpid"
is "$?" 5 "failover: exit 5"
out=$(cat "$T/failover.out")
like "$out" "Result: 32777 System is not available" "failover ends with 32777, decoded"
like "$out" "drover repair $B" "the message says to run drover repair"
like "$out" "next step: +Run .drover repair $B." "the next step is the repair, not a plain retry"
like "$out" "retry safe: +no" "a plain retry is not called safe while the journal waits"
is "$(printf '%s\n' "$out" | grep -o 'is not connected' | wc -l)" 1 "the cause is said once"
is "$(rp_sums "$B_DIR")" "$B_SUMS" "RP and base files unchanged (sha256)"
qemu_restart_libvirtd
ok $? "libvirtd restarted"
is "$(json_list_get "$B" "v.get('state'), v.get('interrupted_operation'), v.get('health_name')")" \
    "12 failover Critical" "record: 12 Failover in progress, interrupted failover, Critical"
out=$(drover -c "$QURI" repair "$B" --yes 2>&1)
is "$?" 0 "repair: exit 0"
like "$out" "^$B@localhost: repaired" "repair reports $B repaired"
is "$(json_list_get "$B" "v.get('state'), v.get('interrupted_operation'), v.get('failover_point'), v.get('health_name')")" \
    "3 None None Normal" "record: 3 Replicating, no journal, Normal"
is "$(images "$B_DIR")" "$B_IMAGES" "the half-made overlay is gone, nothing else"
is "$(qemu_disk_source "$B")" "$B_DIR/vda.rp-0003.qcow2" "$B still on the newest RP"
is "$(rp_sums "$B_DIR")" "$B_SUMS" "RP and base files unchanged (sha256)"
out=$(drover -c "$QURI" failover "$B" --yes 2>&1)
is "$?" 0 "failover after the repair: exit 0"

# --- 6. host unreachable --------------------------------------------------------
NOHOST='qemu+unix:///system?socket=/nonexistent/sock'
out=$(drover -c "$NOHOST" list 2>&1)
is "$?" 5 "list on $NOHOST: exit 5"
like "$out" "not available.*32777" "list on an unreachable host: 32777"
out=$(drover -c "$NOHOST" revert "$A" --yes 2>&1)
is "$?" 5 "revert on an unreachable host: exit 5"
like "$out" "Result: 32777 System is not available" "revert on an unreachable host: 32777, decoded"
j=$(drover -c "$NOHOST" revert "$A" --yes --json 2>/dev/null)
is "$(json_get "$j" "d['result'], d['exit_status'], d['retry_safe']")" "32777 5 True" \
    "--json: result 32777, exit_status 5, retry_safe"

qemu_stop
done_testing
