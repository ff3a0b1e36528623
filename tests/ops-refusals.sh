#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# ops-refusals.sh: every refusal of a failover operation on a demo fleet
# gives its result code and exit status, and changes nothing on disk
# (every file of the fleet, fleet.xml included, byte-identical); each
# refused attempt adds exactly one audit line and one job-history entry
# (10 Exception, refused, with its code), a dry run or a read neither.
# Also --dry-run, confirmation without a terminal, repair, and the refusals
# of the replication commands, failover --planned and reverse-replication.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/ops-common.sh"

command -v "$QEMU_IMG" >/dev/null 2>&1 || skip_all "qemu-img not found"
command -v "$PYTHON" >/dev/null 2>&1 || skip_all "python3 not found"

mktemp_dir
F=$T/f
make_fleet "$F"
ok $? "demo fleet built"
[ -f "$F/fleet.xml" ] || { done_testing; exit 1; }

# refused DESC CODE EXIT PATTERN ARGS...: runs `drover -c $URI ARGS` as
# text and as --json; both must refuse with CODE and EXIT, the text on
# stderr matching PATTERN, the JSON without plan or job, retry_safe (nothing
# was changed; RETRY=False where a journal waits for repair or for a read),
# each run recorded once (audit line and history entry; none with READ=1,
# for a command that only reads), and the fleet directory must be unchanged.
refused() {
    _d=$1 _code=$2 _exit=$3 _pat=$4
    shift 4
    if [ "${READ:-0}" = 1 ]; then _want="0 0"; else _want="1 1 $_code True 10 $_code True 0"; fi
    tree_sums "$F" >"$T/fleet.before"
    _a=$(audit_n) _j=$(jobs_n)
    run -c "$URI" "$@"
    is "$rc" "$_exit" "$_d: exit status $_exit"
    like "$err" "^Result: $_code " "$_d: Result: $_code on stderr"
    like "$err" "$_pat" "$_d: the message says why"
    is "$(printf '%s' "$out" | grep -c '^Job ')" 0 "$_d: no job started"
    is "$(refusal_recorded "$_a" "$_j")" "$_want" "$_d: recorded once (audit line, refused history entry)"
    _a=$(audit_n) _j=$(jobs_n)
    run -c "$URI" "$@" --json
    cp "$T/out" "$T/refusal.json"
    is "$rc" "$_exit" "$_d (--json): exit status $_exit"
    json_ok refusal "$T/refusal.json" "$_d (--json): one result object, no plan, no job"
    is "$(jq_ "$T/refusal.json" 'd["result"], d["exit_status"], d["retry_safe"]')" "($_code, $_exit, ${RETRY:-True})" \
        "$_d (--json): result $_code, exit_status $_exit, retry_safe ${RETRY:-True}"
    is "$(refusal_recorded "$_a" "$_j")" "$_want" "$_d (--json): recorded once"
    tree_sums "$F" >"$T/fleet.after"
    cmp -s "$T/fleet.before" "$T/fleet.after"
    ok $? "$_d: every file of the fleet unchanged, fleet.xml byte-identical"
    if ! cmp -s "$T/fleet.before" "$T/fleet.after"; then
        diff "$T/fleet.before" "$T/fleet.after" | sed 's/^/#   /'
    fi
}

# unchanged DESC ARGS...: runs drover (exit status in $rc) and checks
# that the fleet directory did not change.
unchanged() {
    _d=$1
    shift
    tree_sums "$F" >"$T/fleet.before"
    run -c "$URI" "$@"
    tree_sums "$F" >"$T/fleet.after"
    cmp -s "$T/fleet.before" "$T/fleet.after"
    ok $? "$_d: every file of the fleet unchanged, fleet.xml byte-identical"
}

# --- invalid state ----------------------------------------------------------
refused "revert of Replicating web01" 32775 3 "not allowed in state 3 Replicating" revert web01 --yes
refused "revert of Committed app01" 32775 3 "not allowed in state 6 Committed" revert app01 --yes
refused "failover of Recovered web02" 32775 3 "not allowed in state 5 Recovered" failover web02 --yes
refused "commit of Replicating web01" 32775 3 "commit failover is not allowed in state 3" commit web01 --yes
refused "stop-test without a test system" 32775 3 "no test system exists" stop-test web01 --yes
refused "test-failover while one runs" 32775 3 "while a test system exists" test-failover crm01 --yes
refused "commit --flatten of running db01" 32775 3 "db01 is running: commit --flatten .* needs it off" \
    commit db01 --flatten --yes

# --- invalid parameters -----------------------------------------------------
refused "unknown VM" 32773 2 "no VM named nosuch" revert nosuch --yes
refused "unknown VM by UUID" 32773 2 "no VM named" revert 00000000-0000-4000-8000-000000000000 --yes
refused "unknown host in VM@HOST" 32773 2 "no host named elsewhere" revert web02@elsewhere --yes
refused "unknown --point" 32773 2 "has no recovery point rp-0099" failover web01 --point rp-0099 --yes
refused "unknown --point (test-failover)" 32773 2 "rp-0099" test-failover web01 --point rp-0099 --yes

# --- confirmation: without --yes and no terminal -----------------------------
_a=$(audit_n) _j=$(jobs_n)
unchanged "failover without --yes, stdin not a terminal" failover web01
is "$rc" 2 "failover without --yes: exit status 2"
like "$err" "^Result: 32773 " "failover without --yes: 32773"
like "$err" "without --yes: standard input is not a terminal" "failover without --yes: says why"
like "$out" "^Plan: Initiate failover of web01@fleet" "failover without --yes: the plan is still shown"
is "$(refusal_recorded "$_a" "$_j")" "1 1 32773 True 10 32773 True 0" "failover without --yes: recorded once"
_a=$(audit_n) _j=$(jobs_n)
unchanged "revert without --yes (--json)" revert web02 --json
is "$rc $(jq_ "$T/out" 'd["result"], "plan" in d, "job" in d')" "2 (32773, False, False)" \
    "revert without --yes (--json): exit 2, 32773, no plan or job"
is "$(refusal_recorded "$_a" "$_j")" "1 1 32773 True 10 32773 True 0" "revert without --yes (--json): recorded once"

# --- --dry-run changes nothing, and is not recorded -------------------------
_a=$(audit_n) _j=$(jobs_n)
for cmd in "failover web01" "failover web01 --point rp-0002" "revert web02" "revert db01" \
           "commit web02" "commit hr01 --flatten" "commit db01" "test-failover web03" "stop-test crm01"; do
    # shellcheck disable=SC2086
    unchanged "$cmd --dry-run" $cmd --dry-run
    is "$rc" 0 "$cmd --dry-run: exit status 0"
    like "$out" "Dry run: nothing was changed" "$cmd --dry-run: says nothing was changed"
    like "$out" "digest: [0-9a-f]{64}" "$cmd --dry-run: prints the plan with its digest"
    # shellcheck disable=SC2086
    unchanged "$cmd --dry-run --json" $cmd --dry-run --json --yes
    cp "$T/out" "$T/dry.json"
    json_ok dryrun "$T/dry.json" "$cmd --dry-run --json: result, plan, job null as documented"
done
is "$(refusal_recorded "$_a" "$_j")" "0 0" "no dry run was audited or recorded as a job"
is "$(find "$T" -path '*jobs.d*' -type f 2>/dev/null | wc -l)" 0 \
    "no refusal or dry run so far left a running-job record, lock or log (jobs.d)"
_a=$(audit_n) _j=$(jobs_n)
unchanged "a refused dry run" failover web02 --dry-run
is "$rc" 3 "a refused dry run: refused the same way (exit 3)"
is "$(refusal_recorded "$_a" "$_j")" "0 0" "a refused dry run: not audited or recorded either"
run -c "$URI" show web01 --json
is "$(jq_ "$T/out" 'd["last_job"], d["last_refused"]["type"], d["last_refused"]["refused"], d["last_refused"]["error_code"]')" \
    "(None, 97, True, 32773)" "show web01: no last job (nothing ran), the refused failover as last_refused"
run -c "$URI" jobs --json
is "$(jq_ "$T/out" 'all(j["refused"] and j["state"] == 10 and j["percent"] == 0 for j in d), len(d) == '"$(jobs_n)")" \
    "(True, True)" "jobs --json: every entry so far is a refusal (10 Exception, 0%, refused), one per history line"
run -c "$URI" jobs
like "$(printf '%s\n' "$out" | sed -n 2p)" "Revert failover +web02 +fleet +Refused +0 .* 32773 Invalid parameter" \
    "jobs: the newest refusal listed first, Refused with its code"

# --- a reason is required by the configuration --------------------------------
cat >"$T/reason.conf" <<EOF
audit_log = "$T/audit.log";
job_history = "$T/jobs.jsonl";
require_reason = true;
EOF
tree_sums "$F" >"$T/fleet.before"
_a=$(audit_n) _j=$(jobs_n)
"$DROVER" --config "$T/reason.conf" -c "$URI" failover web01 --yes </dev/null >"$T/out" 2>"$T/err"
is "$?" 2 "require_reason without --reason: exit status 2"
like "$(cat "$T/err")" "^Result: 32773 " "require_reason without --reason: 32773"
like "$(cat "$T/err")" "a reason is required" "require_reason without --reason: says a reason is required"
tree_sums "$F" >"$T/fleet.after"
cmp -s "$T/fleet.before" "$T/fleet.after"
ok $? "require_reason without --reason: every file of the fleet unchanged"
is "$(refusal_recorded "$_a" "$_j")" "1 1 32773 True 10 32773 True 0" "require_reason without --reason: recorded once"

# --- read-only connection -----------------------------------------------------
refused "--readonly failover" 32769 6 "read-only" --readonly failover web01 --yes
refused "--readonly revert" 32769 6 "read-only" --readonly revert web02 --yes
refused "--readonly stop-test" 32769 6 "read-only" --readonly stop-test crm01 --yes
_a=$(audit_n) _j=$(jobs_n)
unchanged "--readonly list" --readonly list
is "$rc" 0 "--readonly list works"
is "$(refusal_recorded "$_a" "$_j")" "0 0" "--readonly list: a read is not audited"

# --- lock held by another process ---------------------------------------------
uuid=$(vm_field web01 uuid)
lockf=$F/vms/web01/.drover-$uuid.lock
hold_lock "$lockf" "alice (uid 1000, pid 4242), since 2026-01-01T10:00:00Z"
refused "failover while another process holds the lock" 32774 4 \
    "in use.*alice \\(uid 1000, pid 4242\\)" failover web01 --yes
is "$(jq_ "$T/refusal.json" 'd["retry_safe"]')" true "lock held: retry_safe is true"
release_lock
_a=$(audit_n) _j=$(jobs_n)
run -c "$URI" failover web01 --yes
is "$rc" 0 "the same failover works once the holder is gone (its stale text left in the file)"
is "$(refusal_recorded "$_a" "$_j")" "1 1 0 False 7 0 False 100" "a failover that ran: one audit line and one job, not refused"
run -c "$URI" show web01 --json
is "$(jq_ "$T/out" 'd["last_job"]["type"], d["last_job"]["state"], d["last_refused"]')" "(97, 7, None)" \
    "show web01: the failover that ran is its last job, no refusal since"
run -c "$URI" failover web01 --yes
is "$rc" 3 "a second failover of web01 (now 5 Recovered) is refused"
run -c "$URI" show web01 --json
is "$(jq_ "$T/out" 'd["state"], d["last_job"]["type"], d["last_job"]["state"], d["last_refused"]["error_code"]')" \
    "(5, 97, 7, 32775)" "show web01 (Recovered): its last job is still the failover that ran; the refusal is last_refused"
run -c "$URI" show web01
like "$out" "last job: Initiate failover Completed" "show web01: last job: the failover, Completed"
like "$out" "refused since: Initiate failover at .*: 32775 .*nothing was changed" "show web01: refused since, said as a refusal"
run -c "$URI" revert web01 --yes
is "$rc" 0 "and reverts"

# --- missing overlay: revert gives 32779 ------------------------------------
ovl=$(ls "$F"/vms/web02/vda.failover-*.qcow2)
rm -f "$ovl"
refused "revert with the failover disk missing" 32779 7 "failover disk $ovl: No such file" revert web02 --yes
unchanged "check web02 (overlay missing)" check web02
is "$rc" 7 "check web02: exit status 7"
like "$out" "web02 +Critical" "check web02: Critical"
like "$out" "failover disk vda: cannot open $ovl" "check web02: names the missing overlay"

# --- missing recovery point: failover gives 32779, check says Critical -------
refused "failover files01 (rp-0004 missing)" 32779 7 "vda\\.rp-0004\\.qcow2: No such file" failover files01 --yes
refused "test-failover files01 (rp-0004 missing)" 32779 7 "rp-0004" test-failover files01 --yes
unchanged "check files01" check files01
is "$rc" 7 "check files01: exit status 7"
like "$out" "files01 +Critical" "check files01: Critical"
like "$out" "recovery point rp-0004 disk vda: cannot open" "check files01: names the missing RP"
is "$(vm_field files01 health_name)" Critical "list --json: files01 Critical"

# --- interrupted operation: refused until repaired -------------------------
for op in failover revert commit test-failover stop-test; do
    # Nothing changed, but a retry is no answer while the journal waits.
    RETRY=False
    refused "$op erp01 (interrupted revert)" 32775 3 "must be repaired first: run drover repair erp01" \
        $op erp01 --yes
    RETRY=
done
is "$(vm_field erp01 interrupted_operation) $(vm_field erp01 health_name)" "revert Critical" \
    "erp01 shows the interrupted revert, Critical"
rp_sums "$F" >"$T/rp.before"
ovl=$(ls "$F"/vms/erp01/vda.failover-*.qcow2)
[ -f "$ovl" ]
ok $? "erp01's failover disk is still there before the repair"
run -c "$URI" repair erp01 --yes
is "$rc" 0 "repair erp01: exit status 0"
like "$out" "erp01@fleet: repaired" "repair erp01: says repaired"
[ ! -e "$ovl" ]
ok $? "repair erp01: rolled forward, the failover disk is gone"
is "$(vm_field erp01 state) $(vm_field erp01 health_name) $(vm_field erp01 interrupted_operation)" \
    "3 Normal null" "repair erp01: 3 Replicating, Normal, no interrupted operation"
"$PYTHON" - "$F/fleet.xml" <<'EOF'
import sys, xml.etree.ElementTree as ET
for d in ET.parse(sys.argv[1]).getroot():
    if d.findtext("name") == "erp01":
        sys.exit(1 if d.find(".//{urn:drover:replica:1}journal") is not None else 0)
sys.exit(2)
EOF
ok $? "repair erp01: no journal left in the record in fleet.xml"
rp_sums "$F" >"$T/rp.after"
cmp -s "$T/rp.before" "$T/rp.after"
ok $? "repair erp01: no recovery point or base file changed"
is "$(ls "$F/vms/erp01" | grep -v '^\.' | tr '\n' ' ')" \
    "vda.base.qcow2 vda.rp-0001.qcow2 vda.rp-0002.qcow2 vda.rp-0003.qcow2 vda.rp-0004.qcow2 " \
    "repair erp01: only the base and the points remain"
unchanged "repair erp01 again" repair erp01 --yes
is "$rc" 0 "repair erp01 again: exit status 0"
like "$out" "nothing to repair" "repair erp01 again: nothing to repair"
run -c "$URI" failover erp01 --yes
is "$rc" 0 "erp01 can fail over again after the repair"

# --- unknown metadata format: refused, never guessed -----------------------
# A second fleet, edited before any drover command loads it.
G=$T/g
"$DROVER" demo --no-console --dir "$G" >/dev/null 2>&1
sed -i '0,/format="1"/s//format="2"/' "$G/fleet.xml"
grep -q 'format="2"' "$G/fleet.xml"
ok $? "fleet g: web01's record says format=\"2\""
F0=$F URI0=$URI
F=$G URI=test://$G/fleet.xml
refused "failover of a format 2 record" 32776 7 "unknown metadata format \"2\"" failover web01 --yes
READ=1 RETRY=False
refused "show of a format 2 record" 32776 7 "unknown metadata format" show web01
READ= RETRY=
is "$(vm_field web01 record_error) $(vm_field web01 state) $(vm_field web01 health_name)" "32776 17 Critical" \
    "list --json: web01 record_error 32776, state 17 Unknown, Critical"
unchanged "list with a format 2 record" list
is "$rc" 0 "list still works with one unreadable record"
like "$out" "web02 +5 Recovered" "list: the other VMs are listed"
F=$F0 URI=$URI0

# --- replication commands: refused, audited and listed like the operations ---
# last_recorded: the newest audit line's operation and VM, the newest
# history entry's job type and VM.
last_recorded() {
    "$PYTHON" - "$T" <<'EOF'
import json, sys
t = sys.argv[1]
a = [json.loads(l) for l in open(t + "/audit.log") if l.strip()]
j = [json.loads(l) for l in open(t + "/jobs.jsonl") if l.strip()]
print(a[-1]["operation"], a[-1]["vm"], j[-1]["type"], j[-1]["vm"])
EOF
}
refused "replicate web02 (not replicated by drover)" 32770 8 "web02 is not replicated by drover" replicate web02
is "$(last_recorded)" "replicate web02 110 web02" "replicate: audited as replicate, listed as a Replication Cycle (110)"
refused "resync web02 (not replicated by drover)" 32770 8 "not replicated by drover" resync web02 --yes
is "$(last_recorded)" "resync web02 107 web02" "resync: audited as resync, listed as a Resynchronization (107)"
for op in suspend resume disable; do
    refused "$op-replication web02 (not replicated by drover)" 32770 8 "not replicated by drover" \
        $op-replication web02 --yes
    is "$(last_recorded)" "$op-replication web02 96 web02" \
        "$op-replication: audited as such, listed as a Replicate State Change (96)"
done
refused "replicate of an unknown VM" 32773 2 "no VM named nosuch" replicate nosuch
is "$(last_recorded)" "replicate nosuch 110 nosuch" "replicate nosuch: audited and listed all the same"
refused "enable-replication from a primary without the VM" 32773 2 "no domain named web01 on test:///default" \
    enable-replication web01 --from test:///default --yes
is "$(last_recorded)" "enable-replication web01 111 web01" \
    "enable-replication: audited as such, listed as Enable Replication (111)"
refused "failover --planned of web02 (not replicated by drover)" 32775 3 "web02 has no <replication>" \
    failover web02 --planned --yes
is "$(last_recorded)" "planned-failover web02 112 web02" \
    "failover --planned: audited as planned-failover, listed as a Planned Failover (112)"
refused "reverse-replication of the replica web01" 32775 3 "reverse replication runs on the old primary" \
    reverse-replication web01 --yes
is "$(last_recorded)" "reverse-replication web01 104 web01" \
    "reverse-replication: audited as such, listed as a Reverse Replication (104)"
_a=$(audit_n) _j=$(jobs_n)
for cmd in "replicate web02" "resync web02" "suspend-replication web02" "failover web02 --planned" \
           "reverse-replication web01" "enable-replication web01 --from test:///default"; do
    # shellcheck disable=SC2086
    unchanged "refused $cmd --dry-run" $cmd --dry-run
    ok "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" "refused $cmd --dry-run: refused the same way ($rc)"
done
is "$(refusal_recorded "$_a" "$_j")" "0 0" "a refused replication dry run is not audited or recorded"
run -c "$URI" jobs
like "$(printf '%s\n' "$out" | sed -n 2p)" "Reverse Replication +web01 +fleet +Refused +0 .* 32775 Invalid state" \
    "jobs: the refused reverse-replication listed first, Refused with its code"

# A fleet where drover replicates web01 (its <replication>) from a primary
# that does not exist: suspend's plan needs only the record.
H=$T/h
"$DROVER" demo --no-console --dir "$H" >/dev/null 2>&1
"$PYTHON" - "$H" "$T" <<'EOF'
import sys
h, t = sys.argv[1], sys.argv[2]
x = open(h + "/fleet.xml").read()
i = x.index("<name>web01</name>")
j = x.index("</domain>", i)
old = 'uri="qemu+ssh://prod-a/system" name="web01"/>'
new = ('uri="test://%s/no-such-primary.xml" name="web01"/>\n'
       '  <drover:replication dir="%s/vms/web01" interval="3600" points="12"/>' % (t, h))
open(h + "/fleet.xml", "w").write(x[:i] + x[i:j].replace(old, new) + x[j:])
EOF
grep -q "<drover:replication" "$H/fleet.xml"
ok $? "fleet h: drover replicates web01"
F0=$F URI0=$URI
F=$H URI=test://$H/fleet.xml
_a=$(audit_n) _j=$(jobs_n)
unchanged "suspend-replication without --yes, stdin not a terminal" suspend-replication web01
is "$rc" 2 "suspend-replication without --yes: exit status 2"
like "$err" "^Result: 32773 " "suspend-replication without --yes: 32773"
like "$err" "without --yes: standard input is not a terminal" "suspend-replication without --yes: says why"
like "$out" "^Plan: suspend-replication of web01@fleet" "suspend-replication without --yes: the plan is still shown"
is "$(refusal_recorded "$_a" "$_j")" "1 1 32773 True 10 32773 True 0" "suspend-replication without --yes: recorded once"
is "$(last_recorded)" "suspend-replication web01 96 web01" "suspend-replication without --yes: audited and listed as such"
refused "--readonly suspend-replication" 32769 6 "suspend-replication of web01 refused: fleet is open read-only" \
    --readonly suspend-replication web01 --yes
# A cycle the primary's side refused counts as failed in the statistics
# (their own file): the record and the disks stay as they were.
_a=$(audit_n) _j=$(jobs_n)
rp_sums "$F" >"$T/rp.before"
cp "$F/fleet.xml" "$T/fleet.xml.before"
run -c "$URI" replicate web01
is "$rc" 5 "replicate with the primary unreachable: exit status 5"
like "$err" "^Result: 32777 " "replicate with the primary unreachable: 32777"
like "$err" "primary host .* cannot be reached" "replicate with the primary unreachable: says why"
is "$(refusal_recorded "$_a" "$_j")" "1 1 32777 True 10 32777 True 0" "replicate with the primary unreachable: recorded once"
rp_sums "$F" >"$T/rp.after"
cmp -s "$T/rp.before" "$T/rp.after" && cmp -s "$T/fleet.xml.before" "$F/fleet.xml"
ok $? "replicate with the primary unreachable: fleet.xml and every point unchanged"
is "$(last_recorded)" "replicate web01 110 web01" "the unreachable primary: audited and listed as a Replication Cycle"
_a=$(audit_n) _j=$(jobs_n)
unchanged "suspend-replication --dry-run" suspend-replication web01 --dry-run
is "$rc" 0 "suspend-replication --dry-run: exit status 0"
like "$out" "Dry run: nothing was changed" "suspend-replication --dry-run: says nothing was changed"
is "$(refusal_recorded "$_a" "$_j")" "0 0" "suspend-replication --dry-run: not audited or recorded"
F=$F0 URI=$URI0

done_testing
