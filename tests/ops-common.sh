# SPDX-License-Identifier: GPL-2.0-or-later
# ops-common.sh: helpers for tests/ops-*.sh and tests/cli.sh.
# Source it after lib.sh (it needs $T from mktemp_dir and the drover function).

# Debian's python3 starts in a tenth of the time of a pyenv shim.
if [ -z "${PYTHON:-}" ]; then
    if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
: "${VIRSH:=virsh}"
[ "$VIRSH" = no ] && VIRSH=virsh

# run ARGS...: drover with stdin not a terminal; sets rc, out, err
# (and leaves them in $T/out and $T/err).
run() {
    drover "$@" </dev/null >"$T/out" 2>"$T/err"
    rc=$?
    out=$(cat "$T/out")
    err=$(cat "$T/err")
}

# wait_bg_until PID CMD...: polls (every 0.1 s, up to 60 s) until CMD
# succeeds while the background process PID runs: 0 when it did, 1 when
# PID ended first or the time ran out.
wait_bg_until() {
    _pid=$1
    shift
    _n=0
    until "$@"; do
        kill -0 "$_pid" 2>/dev/null || return 1
        [ "$_n" -ge 600 ] && return 1
        sleep 0.1
        _n=$((_n + 1))
    done
}

# start_paused POINT URI ARGS...: drover -c URI ARGS --yes in the
# background (pid in bg), stopped at the pause point POINT (DROVER_PAUSE,
# src/base/testhook.h, file $T/paused); returns once it waits there (1 if
# it never gets there).  resume lets it go on.
start_paused() {
    _sp_point=$1
    _sp_uri=$2
    shift 2
    bg_paused "$_sp_point" drover -c "$_sp_uri" "$@" --yes
}

# bg_paused POINT CMD...: the same for any command CMD (a drover that
# takes no --yes, or a function such as dr).
bg_paused() {
    _point=$1
    shift
    rm -f "$T/paused"
    DROVER_PAUSE=$_point DROVER_PAUSE_FILE="$T/paused" "$@" </dev/null >"$T/out" 2>"$T/err" &
    bg=$!
    wait_bg_until "$bg" test -e "$T/paused"
}

# resume: lets the paused drover go on and waits for it; sets rc, out, err.
resume() {
    rm -f "$T/paused"
    wait "$bg"
    rc=$?
    out=$(cat "$T/out")
    err=$(cat "$T/err")
}

# tree_sums DIR: "sha256  ./relative/path" of every file under DIR,
# lock files and fleet.xml included, sorted.
tree_sums() {
    (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}

# py CODE ARGS...: python3 with CODE as the program (sys.argv[1:] = ARGS).
py() {
    _code=$1
    shift
    "$PYTHON" -c "$_code" "$@"
}

# jq_ FILE EXPR: a value from the JSON document in FILE ("d" is the document);
# strings print bare, None prints as "null", bools as "true"/"false".
jq_() {
    "$PYTHON" - "$1" "$2" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
if v is None:
    print("null")
elif isinstance(v, bool):
    print("true" if v else "false")
else:
    print(v)
EOF
}

# vm_field NAME FIELD: a field of NAME in `drover -c $URI list --json`
# (first match; "null" when null, "missing" when NAME is not listed).
vm_field() {
    drover -c "$URI" list --json </dev/null >"$T/list.json" 2>/dev/null
    "$PYTHON" - "$T/list.json" "$1" "$2" <<'EOF'
import json, sys
for v in json.load(open(sys.argv[1])):
    if v["name"] == sys.argv[2]:
        x = v[sys.argv[3]]
        print("null" if x is None else x)
        break
else:
    print("missing")
EOF
}

# json_schema KIND FILE: checks the JSON document in FILE against the
# documented interface (doc/json.md): exact keys and types.  Prints one
# line per problem, nothing when it conforms.  KIND: list, show, op,
# dryrun, refusal, jobs, job, decode, decode_all, check, repair, demo, config.
json_schema() {
    "$PYTHON" - "$1" "$2" <<'EOF'
import json, re, sys

kind, path = sys.argv[1], sys.argv[2]
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
POWER = {"running", "paused", "shut off", "shutting down", "crashed", "other", "unknown"}

class Null:
    """A value that may also be null."""
    def __init__(self, spec):
        self.spec = spec

def isint(v):
    return isinstance(v, int) and not isinstance(v, bool)

T = {
    "str": lambda v: isinstance(v, str),
    "int": isint,
    "bool": lambda v: isinstance(v, bool),
    "time": lambda v: isinstance(v, str) and TIME.match(v) is not None,
    "uuid": lambda v: isinstance(v, str) and UUID.match(v) is not None,
    "digest": lambda v: isinstance(v, str) and HEX64.match(v) is not None,
    "power": lambda v: v in POWER,
    "action": lambda v: v in ("none", "shutdown", "destroy"),
    "strs": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
}

SUMMARY = {"host": "str", "name": "str", "uuid": "uuid", "state": "int", "state_name": "str",
           "health": "int", "health_name": "str", "mode": "int", "mode_name": "str",
           "recovery_points": "int", "newest_point": "str?", "newest_point_time": "time?",
           "failover_point": "str?", "failover_time": "time?", "test_system": "str?",
           "interrupted_operation": "str?", "power": "power", "problem": "str?",
           "record_error": "int?"}
RESULT = {"result": "int", "result_name": "str", "result_symbol": "str?", "message": "str",
          "summary": "str", "cause": "str?", "next_step": "str?", "retry_safe": "bool",
          "exit_status": "int"}
JOB = {"id": "str", "type": "int", "type_name": "str", "state": "int", "state_name": "str",
       "percent": "int", "step": "str", "host": "str", "vm": "str", "owner": "str",
       "start_time": "time?", "elapsed_ms": "int", "error_code": "int",
       "error_description": "str", "digest": "str", "cancellable": "bool", "pid": "int?",
       "refused": "bool"}
PFILE = {"path": "str", "target": "str", "role": "str", "backing?": "str", "size": "int",
         "allocated": "int", "inode?": "int"}
SWITCH = {"target": "str", "from": "str?", "to": "str"}
GUARD = {"result": "str", "host": "str?", "uri": "str?", "vm": "str?", "power": "str?",
         "reachable": "bool?", "forced": "bool", "message": "str"}
PLAN = {"operation": "str", "title": "str", "flatten": "bool", "host": "str", "vm": "str",
        "uuid": "uuid", "from_state": "int", "from_state_name": "str", "to_state": "int",
        "to_state_name": "str", "power": "power", "power_action": "action", "point": "str?",
        "test_domain": "str?", "test_left_out": "str?", "test_network": "str?", "create": [PFILE], "delete": [PFILE], "keep": [PFILE],
        "switch": [SWITCH], "guard": Null(GUARD), "digest": "digest"}
POINT = {"id": "str", "time": "time?", "type": "str", "checkpoint": "str?",
         "disks": [{"target": "str", "file": "str"}]}
LAYER = {"path": "str", "format": "str?", "virtual_size": "int", "allocated": "int",
         "backing": "str?"}
SHOW = {"host": "str", "name": "str", "uuid": "uuid", "power": "power", "state": "int?",
        "state_name": "str?", "mode": "int", "mode_name": "str", "health": "int",
        "health_name": "str", "health_reasons": "strs", "recovery_points": [POINT],
        "failover_point": "str?", "failover_time": "time?", "failover_by": "str?",
        "newest_point": "str?", "primary": Null({"host": "str?", "uri": "str?", "name": "str?"}),
        "test_system": "str?", "interrupted_operation": "str?",
        "replication": Null({"interval": "int", "points": "int", "next_due": "int?",
                             "last_success": "int?", "failed_in_a_row": "int",
                             "last_failure_code": "int?", "last_failure_kind": "str?"}),
        "disks": [{"target": "str", "source": "str?", "chain": [LAYER], "chain_error?": "str"}],
        "last_job": Null(JOB), "last_refused": Null(JOB)}
OP = dict(RESULT, plan=PLAN, job=JOB)
DRYRUN = dict(RESULT, plan=PLAN, job="null")
CHECK = {"host": "str", "name": "str", "uuid": "uuid", "health": "int", "health_name": "str",
         "reasons": "strs"}
CONFIG = {"hosts": [{"name": "str", "uri": "str", "readonly": "bool"}], "files": "strs",
          "readonly_floor": "bool", "hosts_from": "str",
          "refresh_interval": "int", "confirm": "str", "shutdown_timeout": "int",
          "connect_timeout": "int", "require_reason": "bool", "rpo_warning": "int", "audit_log": "str?",
          "job_history": "str?", "theme": "str", "readonly": "bool",
          "replication_interval": "int", "replication_points": "int",
          "replication_app_consistent_every": "int", "replication_auto_resync": "bool",
          "replication": [{"primary": "str", "vm": "str?", "interval": "int?", "points": "int?",
                           "app_consistent_every": "int?", "nbd": "str?",
                           "nbd_tls": "str?", "network_map": Null("strs")}]}

problems = []

def check(v, spec, where):
    if isinstance(spec, Null):
        if v is not None:
            check(v, spec.spec, where)
        return
    if isinstance(spec, list):
        if not isinstance(v, list):
            problems.append("%s: not an array: %r" % (where, v))
            return
        for i, x in enumerate(v):
            check(x, spec[0], "%s[%d]" % (where, i))
        return
    if isinstance(spec, dict):
        if not isinstance(v, dict):
            problems.append("%s: not an object: %r" % (where, v))
            return
        keys = {k.rstrip("?") for k in spec}
        for k in v:
            if k not in keys:
                problems.append("%s: undocumented key %s" % (where, k))
        for k, s in spec.items():
            opt = k.endswith("?")
            k = k.rstrip("?")
            if k not in v:
                if not opt:
                    problems.append("%s: missing key %s" % (where, k))
                continue
            check(v[k], s, where + "." + k)
        return
    if spec == "null":
        if v is not None:
            problems.append("%s: not null: %r" % (where, v))
        return
    nullable = spec.endswith("?")
    base = spec.rstrip("?")
    if v is None:
        if not nullable:
            problems.append("%s: null" % where)
        return
    if not T[base](v):
        problems.append("%s: not %s: %r" % (where, base, v))

spec = {"list": [SUMMARY], "show": SHOW, "op": OP, "dryrun": DRYRUN, "refusal": RESULT,
        "jobs": [JOB], "job": JOB, "decode": RESULT, "decode_all": [RESULT],
        "check": [CHECK], "repair": {"result": "int", "dry_run": "bool", "pending": "int",
                                      "repaired": [{"host": "str", "name": "str", "action": "str",
                                                    "job": "str", "warnings": "str?"}],
                                      "started": [{"host": "str", "name": "str", "action": "str",
                                                   "job": "str"}],
                                      "failed": [{"host": "str", "name": "str", "result?": "int",
                                                  "message?": "str"}]},
        "demo": {"uri": "str"}, "config": CONFIG}[kind]
try:
    doc = json.load(open(path))
except ValueError as e:
    print("%s: not one JSON document: %s" % (path, e))
    sys.exit(0)
check(doc, spec, kind)
for p in problems[:20]:
    print(p)
EOF
}

# audit_n, jobs_n: how many lines the audit log and the job history of
# $T/drover.conf hold so far.
audit_n() { cat "$T/audit.log" 2>/dev/null | grep -c .; }
jobs_n() { cat "$T/jobs.jsonl" 2>/dev/null | grep -c .; }

# refusal_recorded AUDIT_BEFORE JOBS_BEFORE: what the commands since added
# to the audit log and the history: "LINES ENTRIES", then for the last
# audit line "result refused", for the last entry "state error_code
# refused-hint percent": "1 1 32775 True 10 32775 True 0" for one refusal.
refusal_recorded() {
    "$PYTHON" - "$T" "$1" "$2" <<'EOF'
import json, sys
t, a0, j0 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def lines(p):
    try:
        return [json.loads(l) for l in open(p) if l.strip()]
    except OSError:
        return []
a, j = lines(t + "/audit.log")[a0:], lines(t + "/jobs.jsonl")[j0:]
out = ["%d %d" % (len(a), len(j))]
if a:
    out.append("%s %s" % (a[-1]["result"], a[-1]["refused"]))
if j:
    out.append("%s %s %s %s" % (j[-1]["state"], j[-1]["error_code"], bool(j[-1]["hints"] & 32),
                                j[-1]["percent"]))
print(" ".join(out))
EOF
}

# syslog_listen: receives what drover sends to syslog (to
# $DROVER_SYSLOG_SOCKET, which mktemp_dir sets) into $T/syslog.txt, one
# datagram a line; returns once it listens.  syslog_stop ends it.
syslog_listen() {
    rm -f "$DROVER_SYSLOG_SOCKET"
    "$PYTHON" - "$DROVER_SYSLOG_SOCKET" "$T/syslog.txt" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
out = open(sys.argv[2], "a")
while True:
    d = s.recv(65536)
    out.write(d.decode("utf-8", "replace").replace("\n", " ") + "\n")
    out.flush()
EOF
    syslog_pid=$!
    _n=0
    while [ ! -S "$DROVER_SYSLOG_SOCKET" ] && [ "$_n" -lt 600 ]; do
        _n=$((_n + 1))
        sleep 0.1
    done
    [ -S "$DROVER_SYSLOG_SOCKET" ]
}
syslog_stop() {
    [ -n "${syslog_pid:-}" ] || return 0
    kill "$syslog_pid" 2>/dev/null
    wait "$syslog_pid" 2>/dev/null
    syslog_pid=
}

# syslog_wait N: waits (up to 60 s) until $T/syslog.txt has N lines.
syslog_wait() {
    _n=0
    while [ "$(cat "$T/syslog.txt" 2>/dev/null | grep -c .)" -lt "$1" ] && [ "$_n" -lt 600 ]; do
        _n=$((_n + 1))
        sleep 0.1
    done
    [ "$(cat "$T/syslog.txt" 2>/dev/null | grep -c .)" -ge "$1" ]
}

# json_ok KIND FILE DESC: a TAP test that FILE conforms to KIND.
json_ok() {
    _p=$(json_schema "$1" "$2")
    is "$_p" "" "$3"
}

# An OFD-conflicting lock on FILE held by a python3 process that writes
# HOLDER into it; sets holder_pid.  Waits until the lock is held.
hold_lock() {
    rm -f "$1.ready"
    "$PYTHON" - "$1" "$2" <<'EOF' &
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.lockf(fd, fcntl.LOCK_EX)
os.ftruncate(fd, 0)
os.write(fd, (sys.argv[2] + "\n").encode())
open(sys.argv[1] + ".ready", "w").close()
time.sleep(60)
EOF
    holder_pid=$!
    _i=0
    while [ ! -e "$1.ready" ] && [ $_i -lt 100 ]; do
        sleep 0.1
        _i=$((_i + 1))
    done
    rm -f "$1.ready"
}

release_lock() {
    kill "$holder_pid" 2>/dev/null
    wait "$holder_pid" 2>/dev/null
}
