#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# repl-guard.sh: the split-brain guard on two private libvirtd daemons.  A
# failover first asks the primary's libvirt (the record's URI) for the
# primary VM's state: refused with 32775 while it runs, and nothing changes;
# --force needs --reason and is audited; a shut-off primary lets it
# proceed; a primary daemon that does not answer lets it proceed with the
# warning in the plan.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/qemu-lib.sh"
. "${top_srcdir:-.}/tests/repl-lib.sh"

drc() { drover -c "$DURI" "$@"; }
# jfield FILE EXPR: EXPR on the JSON document in FILE (as d).
jfield() { python3 -c "import json,sys
d=json.load(open(sys.argv[1]))
print($2)" "$1"; }
snapshot() {  # what a refused failover must leave alone
    { dvirsh dumpxml --inactive --security-info "$VM"; ls -l --time-style=+%s.%N "$DIR"; } 2>&1
}

out=$(dr enable-replication "$VM" --from "$PURI" --dir "$DIR" --nbd "127.0.0.1:$PORT" --yes 2>&1)
is "$?" 0 "enable-replication: exit 0"
[ -n "$(record "v['newest_point']")" ] || printf '%s\n' "$out" | sed 's/^/#   /'
is "$(record "v['primary']['uri']")" "$PURI" "the record names the primary's URI"

# --- the primary runs: refused --------------------------------------------
before=$(snapshot)
drc failover "$VM" --yes --json >"$T/out" 2>"$T/err"
rc=$?
ok "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" "failover while the primary runs: non-zero exit ($rc)"
is "$(jfield "$T/out" 'd["result"]')" 32775 "refused with 32775"
like "$(jfield "$T/out" 'd["message"]')" "primary $VM on .* is running" "the message names the primary VM and its host"
like "$(jfield "$T/out" 'd["message"]')" "--planned" "and suggests --planned"
like "$(jfield "$T/out" 'd["message"]')" "no data lost" "and says what planned failover does"
is "$(snapshot)" "$before" "nothing changed: the definition and the replica's files are as they were"
is "$(record "v['state']")" 3 "the replica is still 3 Replicating"
is "$(pvirsh domstate "$VM")" "running" "the primary still runs"

out=$(drc failover "$VM" --dry-run 2>&1)
rc=$?
ok "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" "a dry run is refused the same ($rc)"
like "$out" "split brain" "the dry run says why"

# --force without --reason: refused before anything.
drc failover "$VM" --force --yes --json >"$T/out" 2>"$T/err"
is "$(jfield "$T/out" 'd["result"]')" 32773 "--force without --reason: 32773"
like "$(jfield "$T/out" 'd["message"]')" "--reason" "and it asks for --reason"
is "$(snapshot)" "$before" "nothing changed"

# --force --reason: proceeds, the plan and the audit log say so.
drc failover "$VM" --force --reason "primary cut off by the network team" --yes --json >"$T/out" 2>"$T/err"
is "$(jfield "$T/out" 'd["result"]')" 0 "failover --force --reason: result 0"
is "$(jfield "$T/out" 'd["plan"]["guard"]["result"], d["plan"]["guard"]["power"], d["plan"]["guard"]["reachable"], d["plan"]["guard"]["forced"]')" \
    "overridden running True True" "the plan's guard: overridden, the primary running, reachable"
is "$(record "v['state']")" 5 "the replica is 5 Recovered"
is "$(tail -n 1 "$T/audit.log" | python3 -c 'import json,sys; a=json.load(sys.stdin); print(a["operation"], a["result"])')" \
    "failover 0" "the forced failover is audited"
like "$(tail -n 1 "$T/audit.log")" "split-brain guard overridden.*primary cut off by the network team" \
    "the audit line says the guard was overridden, and why"
out=$(dr revert "$VM" --yes 2>&1)
is "$?" 0 "revert: back to replicating"

# --- the primary is shut off: proceeds --------------------------------------
pvirsh destroy "$VM" >/dev/null
is "$(pvirsh domstate "$VM")" "shut off" "the primary is shut off"
out=$(drc failover "$VM" --yes 2>&1)
is "$?" 0 "failover with the primary shut off: exit 0"
like "$out" "primary: primary $VM on .* is shut off" "the plan says what the guard found"
is "$(record "v['state']")" 5 "the replica is 5 Recovered"
out=$(dr revert "$VM" --yes 2>&1)
is "$?" 0 "revert: back to replicating"

# --- the primary's daemon does not answer: proceeds with the warning --------
pvirsh start "$VM" >/dev/null
is "$(pvirsh domstate "$VM")" "running" "the primary runs again"
qemu_use prim
qemu_kill_libvirtd
ok $? "the primary's libvirtd is killed (its guest keeps running)"
drc failover "$VM" --dry-run --json >"$T/out" 2>"$T/err"
is "$(jfield "$T/out" 'd["plan"]["guard"]["result"], d["plan"]["guard"]["reachable"], d["plan"]["guard"]["power"]')" \
    "unreachable False None" "dry run: the guard found the primary unreachable"
out=$(drc failover "$VM" --yes 2>&1)
is "$?" 0 "failover with the primary's host unreachable: exit 0"
like "$out" "primary: primary [^ ]* unreachable: failing over without knowing its state" \
    "the plan says it fails over without knowing the primary's state"
is "$(record "v['state']")" 5 "the replica is 5 Recovered"
qemu_restart_libvirtd
ok $? "the primary's libvirtd is back (for the cleanup)"
qemu_save prim

# Every job of this test is in its own job history, none in the system's.
is "$(grep '"type":97' "$T/jobs.jsonl" | grep -c '"state":7,')" 3 \
    "the three failovers that completed are in the test's job history"
is "$(system_jobs_of_this_test)" 0 "the system's job history holds no job of this test"

# Stopped before done_testing deletes $T (the EXIT trap then finds no pid file).
qemu_stop_all >/dev/null 2>&1
done_testing
