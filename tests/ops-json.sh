#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# ops-json.sh: drover's JSON interface (doc/json.md) on a demo fleet:
# list, show, operations, jobs, decode, check, repair, demo, config parse
# and have the documented fields and types; the job history and the audit
# log keep what earlier commands did.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/ops-common.sh"

command -v "$QEMU_IMG" >/dev/null 2>&1 || skip_all "qemu-img not found"
command -v "$PYTHON" >/dev/null 2>&1 || skip_all "python3 not found"

mktemp_dir
F=$T/f

# --- demo --json -----------------------------------------------------------
"$DROVER" demo --no-console --dir "$F" --json >"$T/demo.json" 2>"$T/demo.err"
ok $? "demo --no-console --json: exit status 0"
json_ok demo "$T/demo.json" "demo --json: {uri} as documented"
URI=$(jq_ "$T/demo.json" 'd["uri"]')
is "$URI" "test://$F/fleet.xml" "demo --json: the uri names the fleet file"
[ -f "$F/fleet.xml" ] || { done_testing; exit 1; }

# --- list --json -----------------------------------------------------------
run -c "$URI" list --json
cp "$T/out" "$T/list.json"
is "$rc" 0 "list --json: exit status 0"
json_ok list "$T/list.json" "list --json: an array of documented objects"
is "$(jq_ "$T/list.json" '[v["name"] for v in d] == sorted(v["name"] for v in d)')" true \
    "list --json: sorted by name"
# The demo fleet as DESIGN §6 and the brief describe it.
row() {
    jq_ "$T/list.json" "[tuple(v[k] for k in '$2'.split()) for v in d if v['name'] == '$1'][0]"
}
is "$(row web01 'state state_name health_name mode mode_name recovery_points newest_point power')" \
    "(3, 'Replicating', 'Normal', 2, 'Replica', 6, 'rp-0006', 'shut off')" "list: web01 Replicating, 6 points"
is "$(row web02 'state failover_point power')" "(5, 'rp-0005', 'shut off')" "list: web02 Recovered to rp-0005, off"
is "$(row db01 'state power')" "(5, 'running')" "list: db01 Recovered, running"
is "$(row app01 'state state_name')" "(6, 'Committed')" "list: app01 Committed"
is "$(row mail01 'state state_name health_name')" "(7, 'Suspended', 'Warning')" "list: mail01 Suspended"
is "$(row files01 'health health_name')" "(3, 'Critical')" "list: files01 Critical"
is "$(row files01 'problem')" "('recovery point rp-0004 disk vda $F/vms/files01/vda.rp-0004.qcow2 is missing',)" \
    "list: files01's problem names the missing RP, its disk and its file"
is "$(row erp01 'interrupted_operation health_name')" "('revert', 'Critical')" "list: erp01 interrupted revert"
is "$(row crm01 'test_system')" "('crm01-test',)" "list: crm01 has test system crm01-test"
is "$(row crm01-test 'mode mode_name recovery_points')" "(3, 'Test replica', 0)" "list: crm01-test is a test replica"
is "$(row dns01 'health_name')" "('Warning',)" "list: dns01 late, Warning"
is "$(row legacy01 'recovery_points')" "(12,)" "list: legacy01 has 12 points"
is "$(row hr01 'failover_point')" "('rp-0002',)" "list: hr01 recovered to rp-0002"
like "$(row web02 'failover_time newest_point_time')" "^\('20[0-9-]+T[0-9:]+Z', '20[0-9-]+T[0-9:]+Z'\)$" \
    "list: times are UTC ISO 8601"

# --- show --json -------------------------------------------------------------
for vm in web01 db01 web03 files01 erp01 crm01 crm01-test; do
    run -c "$URI" show "$vm" --json
    cp "$T/out" "$T/show-$vm.json"
    json_ok show "$T/show-$vm.json" "show $vm --json: as documented"
done
is "$rc" 0 "show --json: exit status 0"
is "$(jq_ "$T/show-db01.json" '[x["target"] for x in d["disks"]], len(d["recovery_points"][0]["disks"])')" \
    "(['vda', 'vdb'], 2)" "show db01: two disks, each point has both"
is "$(jq_ "$T/show-db01.json" '[len(x["chain"]) for x in d["disks"]], d["disks"][0]["chain"][-1]["backing"]')" \
    "([6, 6], None)" "show db01: chains of 6 layers ending in a base without backing"
is "$(jq_ "$T/show-db01.json" 'd["disks"][0]["source"] == d["disks"][0]["chain"][0]["path"]')" true \
    "show db01: the chain starts at the disk's source"
is "$(jq_ "$T/show-web01.json" '[p["id"] for p in d["recovery_points"]][-1], d["recovery_points"][-1]["type"]')" \
    "('rp-0006', 'standard')" "show web01: points oldest first, with type"
is "$(jq_ "$T/show-files01.json" '"chain_error" in d["disks"][0], len(d["health_reasons"]) > 0')" \
    "(True, True)" "show files01: chain_error and health_reasons explain the broken chain"
is "$(jq_ "$T/show-erp01.json" 'd["interrupted_operation"]')" revert "show erp01: the interrupted operation"
is "$(jq_ "$T/show-web01.json" 'd["last_job"]')" null "show web01: no last job yet"

# --- operations --json ----------------------------------------------------
# What drover sends to syslog reaches a socket of this test's
# (DROVER_SYSLOG_SOCKET), never the system log.
syslog_listen
ok $? "a syslog socket of the test's listens"
trap syslog_stop EXIT
# Run as if through sudo from a login of uid 1000: the login uid (kept by the
# kernel) is a fact, SUDO_USER only a claim; both are kept, neither replaces
# the real user.  Setting the login uid needs root with CAP_AUDIT_CONTROL
# and an unset one in this shell; without that the line keeps this shell's.
base_luid=$(cat /proc/self/loginuid 2>/dev/null || echo 4294967295)
if [ "$base_luid" = 4294967295 ] && sh -c 'echo 1000 >/proc/self/loginuid' 2>/dev/null; then
    op1_luid=1000
else
    op1_luid=$base_luid
fi
SUDO_USER=drill-operator sh -c 'echo 1000 >/proc/self/loginuid 2>/dev/null; exec "$@"' sh \
    "$DROVER" --config "$T/drover.conf" -c "$URI" failover web01 --yes --json --reason 'drill "one" é' \
    </dev/null >"$T/out" 2>"$T/err"
cp "$T/out" "$T/op1.json"
json_ok op "$T/op1.json" "failover --json: result, decoded fields, plan, job as documented"
is "$(jq_ "$T/op1.json" 'd["result"], d["result_symbol"], d["exit_status"], d["retry_safe"]')" \
    "(0, 'OK', 0, True)" "failover --json: result 0 OK, exit_status 0"
is "$(jq_ "$T/op1.json" 'd["plan"]["operation"], d["plan"]["vm"], d["plan"]["host"], d["plan"]["uuid"] == d["plan"]["uuid"].lower()')" \
    "('failover', 'web01', 'fleet', True)" "failover --json: the plan names operation, VM and host"
is "$(jq_ "$T/op1.json" 'd["job"]["type"], d["job"]["state_name"], d["job"]["vm"], d["job"]["elapsed_ms"] >= 0')" \
    "(97, 'Completed', 'web01', True)" "failover --json: the job"
run -c "$URI" revert web01 --yes --json
cp "$T/out" "$T/op2.json"
json_ok op "$T/op2.json" "revert --json: as documented"
SSH_CONNECTION="192.0.2.7 50022 192.0.2.1 22" run -c "$URI" test-failover web03 --yes --json
cp "$T/out" "$T/op3.json"
json_ok op "$T/op3.json" "test-failover --json: as documented"
run -c "$URI" stop-test web03 --yes --json
cp "$T/out" "$T/op4.json"
json_ok op "$T/op4.json" "stop-test --json: as documented"
run -c "$URI" commit hr01 --flatten --yes --json
cp "$T/out" "$T/op5.json"
json_ok op "$T/op5.json" "commit --flatten --json: as documented"
is "$(jq_ "$T/op5.json" 'd["plan"]["flatten"], d["job"]["type"]')" "(True, 99)" "commit --flatten --json: flatten true, job 99"
# Progress goes to stderr so stdout stays one JSON document.
like "$err" '^\[100%\] Commit failover of hr01 completed' "operations --json: progress lines on stderr"

# A refusal: the decoded result only; nothing was changed, so a retry is safe.
run -c "$URI" revert web01 --yes --json
cp "$T/out" "$T/refusal.json"
json_ok refusal "$T/refusal.json" "refusal --json: the decoded result, no plan or job"
is "$(jq_ "$T/refusal.json" 'd["result"], d["result_symbol"], d["exit_status"], d["retry_safe"]')" \
    "(32775, 'INVALID_STATE', 3, True)" "refusal --json: 32775 INVALID_STATE, exit 3, retry_safe (nothing was changed)"
is "$rc" 3 "refusal --json: exit status matches exit_status"
# In use and access denied: refused, nothing changed, retry_safe too.
hold_lock "$F/vms/web02/.drover-$(jq_ "$T/list.json" '[v["uuid"] for v in d if v["name"] == "web02"][0]').lock" \
    "alice (uid 1000, pid 4242), since 2026-01-01T10:00:00Z"
run -c "$URI" revert web02 --yes --json
cp "$T/out" "$T/refusal-inuse.json"
release_lock
is "$(jq_ "$T/refusal-inuse.json" 'd["result"], d["retry_safe"]')" "(32774, True)" "in use --json: 32774, retry_safe"
run -c "$URI" --readonly revert web02 --yes --json
cp "$T/out" "$T/refusal-ro.json"
is "$(jq_ "$T/refusal-ro.json" 'd["result"], d["retry_safe"]')" "(32769, True)" "read-only --json: 32769, retry_safe"

# A dry run: the plan, no job.
run -c "$URI" failover web02 --dry-run --json
cp "$T/out" "$T/dry-refused.json"
is "$rc" 3 "dry run of a refused operation: refused the same way (exit 3)"
json_ok refusal "$T/dry-refused.json" "dry run of a refused operation --json: the decoded result"
run -c "$URI" failover legacy01 --dry-run --json
cp "$T/out" "$T/dry.json"
json_ok dryrun "$T/dry.json" "dry run --json: result, message, plan, job null"

# --- jobs --json: the history of the commands above, across processes -----
run -c "$URI" jobs --json
cp "$T/out" "$T/jobs.json"
is "$rc" 0 "jobs --json: exit status 0"
json_ok jobs "$T/jobs.json" "jobs --json: an array of documented job objects"
ids=$(for i in 5 4 3 2 1; do jq_ "$T/op$i.json" 'd["job"]["id"]'; done | tr '\n' ' ')
is "$(jq_ "$T/jobs.json" '" ".join(j["id"] for j in d[3:]) + " "')" "$ids" \
    "jobs --json: the five finished jobs, newest first, after the three refused attempts"
is "$(jq_ "$T/jobs.json" '[(j["type"], j["vm"], j["state"], j["percent"], j["error_code"], j["refused"]) for j in d[:3]]')" \
    "[(98, 'web02', 10, 0, 32769, True), (98, 'web02', 10, 0, 32774, True), (98, 'web01', 10, 0, 32775, True)]" \
    "jobs --json: the refused reverts first (read-only, in use, invalid state): 10 Exception with the code, refused; no dry run"
is "$(jq_ "$T/jobs.json" '[(j["type"], j["state"], j["percent"], j["error_code"], j["refused"]) for j in d[3:]]')" \
    "[(99, 7, 100, 0, False), (103, 7, 100, 0, False), (102, 7, 100, 0, False), (98, 7, 100, 0, False), (97, 7, 100, 0, False)]" \
    "jobs --json: types 99 103 102 98 97, all Completed 100% error 0"
is "$(jq_ "$T/jobs.json" 'd[7] == json.load(open("'"$T"'/op1.json"))["job"]')" true \
    "jobs --json: a job reads back exactly as the operation printed it"
is "$(grep -c . "$T/jobs.jsonl")" 8 "the history file has one line per job and per refused attempt"
is "$("$PYTHON" -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]; print("ok")' "$T/jobs.jsonl")" ok \
    "the history file is JSON lines"
run -c "$URI" show web01 --json
cp "$T/out" "$T/show-web01b.json"
json_ok show "$T/show-web01b.json" "show --json with a last job: as documented"
is "$(jq_ "$T/show-web01b.json" 'd["last_job"]["id"]')" "$(jq_ "$T/op2.json" 'd["job"]["id"]')" \
    "show --json: last_job is the revert that ran, not the refused one after it"
is "$(jq_ "$T/show-web01b.json" 'd["last_refused"]["type"], d["last_refused"]["error_code"], d["last_refused"]["refused"]')" \
    "(98, 32775, True)" "show --json: last_refused is the refused revert since"

# --- the audit log ------------------------------------------------------------
"$PYTHON" - "$T/audit.log" "$T" "$(id -u)" "$(id -un)" "$op1_luid" "$base_luid" <<'EOF' >"$T/audit.check"
import json, pwd, re, sys
path, t, uid, user = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def luid(v):
    v = int(v)
    return None if v == 4294967295 else v
def lname(v):
    if v is None:
        return None
    try:
        return pwd.getpwuid(v).pw_name
    except KeyError:
        return "uid %d" % v
op1_luid, base_luid = luid(sys.argv[5]), luid(sys.argv[6])
lines = [json.loads(l) for l in open(path)]
keys = ["time", "operator", "uid", "login_uid", "login_user", "claimed_user", "ssh_client",
        "host", "vm", "operation", "plan_digest", "reason", "job", "result", "result_name",
        "refused", "message"]
bad = []
if len(lines) != 8:
    bad.append("%d lines, want 8 (one per executed operation, one per refused attempt)" % len(lines))
# The refused attempts: revert of web01 (state), of web02 (in use, read-only).
for i, (vm, code, name) in enumerate([("web01", 32775, "Invalid state for this operation"),
                                      ("web02", 32774, "System is in use"),
                                      ("web02", 32769, "Access Denied")]):
    a = lines[5 + i] if len(lines) > 5 + i else {}
    want = {"vm": vm, "host": "fleet", "operation": "revert", "result": code, "result_name": name,
            "refused": True, "job": None, "operator": user, "uid": uid}
    # Refused while planning: no digest; refused after the plan (read-only): its digest.
    if i < 2:
        want["plan_digest"] = None
    elif not re.match(r"^[0-9a-f]{64}$", a.get("plan_digest") or ""):
        bad.append("refusal line %d: plan_digest %r" % (6 + i, a.get("plan_digest")))
    for k, v in want.items():
        if a.get(k) != v:
            bad.append("refusal line %d: %s is %r, want %r" % (6 + i, k, a.get(k), v))
    if not a.get("message"):
        bad.append("refusal line %d: no message" % (6 + i))
ops = [json.load(open("%s/op%d.json" % (t, i))) for i in range(1, 6)]
for i, (a, o) in enumerate(zip(lines, ops)):
    if sorted(a) != sorted(keys):
        bad.append("line %d keys %s" % (i + 1, sorted(a)))
        continue
    want = {"uid": uid, "host": "fleet", "vm": o["plan"]["vm"],
            "operation": o["plan"]["operation"], "plan_digest": o["plan"]["digest"],
            "job": o["job"]["id"], "result": 0, "refused": False,
            "result_name": "Completed with No Error",
            "operator": user,
            "claimed_user": "drill-operator" if i == 0 else None,
            "login_uid": op1_luid if i == 0 else base_luid,
            "login_user": lname(op1_luid if i == 0 else base_luid),
            "reason": 'drill "one" é' if i == 0 else None,
            "ssh_client": "192.0.2.7" if i == 2 else None}
    for k, v in want.items():
        if a[k] != v:
            bad.append("line %d: %s is %r, want %r" % (i + 1, k, a[k], v))
print("\n".join(bad))
EOF
is "$(cat "$T/audit.check")" "" \
    "audit log: one line per operation and per refused attempt with operator, uid, login uid, claimed user, ssh client, host, vm, operation, digest, reason, job, result, refused"

# --- syslog: the same lines, refusals included --------------------------------
syslog_wait 8
ok $? "syslog: 8 lines arrived"
"$PYTHON" - "$T/audit.log" "$T/syslog.txt" <<'EOF' >"$T/syslog.check"
import json, re, sys
audit = [l.rstrip("\n") for l in open(sys.argv[1]) if l.strip()]
got = [l.rstrip("\n") for l in open(sys.argv[2]) if l.strip()]
bad = []
if len(got) != len(audit):
    bad.append("%d syslog lines for %d audit lines" % (len(got), len(audit)))
for i, (s, a) in enumerate(zip(got, audit)):
    m = re.match(r"^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d drover\[\d+\]: audit (.*)$", s)
    if not m:
        bad.append("syslog line %d: not a syslog line: %s" % (i + 1, s[:80]))
        continue
    pri, line = int(m.group(1)), m.group(2)
    want = 10 * 8 + (5 if json.loads(a)["result"] == 0 else 4)   # authpriv.notice / .warning
    if pri != want:
        bad.append("syslog line %d: priority %d, want %d" % (i + 1, pri, want))
    if json.loads(line) != json.loads(a):
        bad.append("syslog line %d differs from the audit line" % (i + 1))
print("\n".join(bad))
EOF
is "$(cat "$T/syslog.check")" "" \
    "syslog: each audit line, refusals included (authpriv.warning), successes as authpriv.notice"

# --- decode --json ----------------------------------------------------------
run decode 32775 --json
cp "$T/out" "$T/decode.json"
json_ok decode "$T/decode.json" "decode 32775 --json: one documented object"
is "$(jq_ "$T/decode.json" 'd["result"], d["result_name"], d["exit_status"]')" \
    "(32775, 'Invalid state for this operation', 3)" "decode 32775 --json: name and exit status"
run decode --all --json
cp "$T/out" "$T/decode-all.json"
json_ok decode_all "$T/decode-all.json" "decode --all --json: an array of documented objects"
is "$(jq_ "$T/decode-all.json" '[x["result"] for x in d]')" \
    "[0, 4096, 32768, 32769, 32770, 32771, 32772, 32773, 32774, 32775, 32776, 32777, 32778, 32779]" \
    "decode --all --json: the 14 codes"
is "$(jq_ "$T/decode-all.json" '[x["exit_status"] for x in d]')" \
    "[0, 0, 1, 6, 8, 1, 5, 2, 4, 3, 7, 5, 1, 7]" "decode --all --json: the documented exit statuses"

# --- check --json -------------------------------------------------------------
run -c "$URI" check --json
cp "$T/out" "$T/check.json"
is "$rc" 7 "check --json: exit status 7 (files01 and erp01 are Critical)"
json_ok check "$T/check.json" "check --json: an array of documented objects"
is "$(jq_ "$T/check.json" 'sorted(x["name"] for x in d if x["health"] == 3)')" "['erp01', 'files01']" \
    "check --json: erp01 and files01 Critical"
run -c "$URI" check web01 --json
cp "$T/out" "$T/check1.json"
json_ok check "$T/check1.json" "check VM --json: an array of one"
is "$rc $(jq_ "$T/check1.json" '[(x["name"], x["health_name"], x["reasons"]) for x in d]')" \
    "0 [('web01', 'Normal', [])]" "check web01 --json: Normal, no reasons, exit 0"

# --- repair --json -------------------------------------------------------------
run -c "$URI" repair --yes --json
cp "$T/out" "$T/repair.json"
is "$rc" 0 "repair --json: exit status 0"
json_ok repair "$T/repair.json" "repair --json: {result, repaired}"
is "$(jq_ "$T/repair.json" 'd["result"], [(r["name"], r["host"]) for r in d["repaired"]], d["failed"], d["pending"]')" "(0, [('erp01', 'fleet')], [], 0)" "repair --json: erp01@fleet repaired"
run -c "$URI" repair --yes --json
cp "$T/out" "$T/repair2.json"
is "$(jq_ "$T/repair2.json" 'd["result"], d["repaired"], d["pending"]')" "(0, [], 0)" "repair --json again: nothing repaired"
is "$(tail -n 1 "$T/audit.log" | "$PYTHON" -c 'import json,sys; a=json.load(sys.stdin); print(a["operation"], a["vm"], a["result"])')" \
    "repair erp01 0" "audit log: the repair is audited"
is "$(jq_ "$T/repair.json" 'd["repaired"][0]["job"] == d["repaired"][0]["job"].lower() and len(d["repaired"][0]["job"]) == 36, d["started"]')" \
    "(True, [])" "repair --json: the repair ran as job (its id given), nothing left running"
syslog_wait 9
ok $? "syslog: the repair's line arrived too"
syslog_stop

# --- config --json --------------------------------------------------------------
run -c "$URI" config --json
cp "$T/out" "$T/config.json"
json_ok config "$T/config.json" "config --json: as documented"
is "$(jq_ "$T/config.json" 'd["hosts"], d["audit_log"], d["job_history"]')" \
    "([{'name': 'fleet', 'uri': '$URI', 'readonly': False}], '$T/audit.log', '$T/jobs.jsonl')" \
    "config --json: the host from -c and the paths from --config"

# --- doc/json.md names every field ------------------------------------------
doc=${top_srcdir:-.}/doc/json.md
if [ -f "$doc" ]; then
    missing=$("$PYTHON" - "$doc" "$T" <<'EOF'
import glob, json, re, sys
doc = open(sys.argv[1], encoding="utf-8").read()
keys = set()
def walk(v):
    if isinstance(v, dict):
        for k, x in v.items():
            keys.add(k)
            walk(x)
    elif isinstance(v, list):
        for x in v:
            walk(x)
for f in glob.glob(sys.argv[2] + "/*.json"):
    try:
        walk(json.load(open(f)))
    except ValueError:
        pass
for l in open(sys.argv[2] + "/audit.log"):
    walk(json.loads(l))
# A field is documented as `name` or as a path ending in it: `disks[].chain`.
print(" ".join(sorted(k for k in keys if not re.search(r"[`.]%s`" % re.escape(k), doc))))
EOF
)
    is "$missing" "" "doc/json.md documents every field seen in the output"
else
    ok 1 "doc/json.md exists"
fi

done_testing
