#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# jobs-detach.sh: jobs are independent of the terminal that started them
# (issue 12).  A commit --flatten of hr01 whose point holds 64 MiB of data,
# slowed to 16 MiB/s (DROVER_COPY_RATE) so the copy takes seconds, is hit
# while qemu-img copies by what a terminal does to its foreground process
# group: Ctrl-C (SIGINT), a closed terminal (SIGHUP), a crash of the
# command (SIGKILL), and a killed tmux server.  Each time the job completes, hr01 is 6 Committed and
# Normal, the flattened image holds the data and passes qemu-img check,
# nothing temporary is left, and another process's `drover jobs` shows the
# job Completed.  Then --no-wait, jobs --follow, cancel before and after
# the switch, and repair as a detached job (DROVER_PAUSE holds a job at a
# step; nothing waits a fixed time: every wait polls with a deadline).
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/ops-common.sh"

[ -x "$DROVER" ] || skip_all "drover not built"
command -v setsid >/dev/null 2>&1 || skip_all "setsid (util-linux) is needed for a process group"
command -v "$QEMU_IMG" >/dev/null 2>&1 || skip_all "qemu-img not found"
QEMU_IO=${QEMU_IO:-$(dirname "$(command -v "$QEMU_IMG")")/qemu-io}
[ -x "$QEMU_IO" ] || QEMU_IO=$(command -v qemu-io) || skip_all "qemu-io not found"
mktemp_dir

F="$T/f"
P="$T/pristine"
make_fleet "$F" || { ok 1 "demo fleet"; done_testing; exit 1; }
"$QEMU_IO" -c "write -P 1 0 64M" "$F/vms/hr01/vda.rp-0002.qcow2" >/dev/null
ok $? "64 MiB of data written into hr01's point rp-0002"
cp -a "$F" "$P"
restore() { rm -rf "$F" && cp -a "$P" "$F"; }
DROVER_COPY_RATE=16M
export DROVER_COPY_RATE
# Jobs of the cases below wait after their journal while $T/hold exists,
# so a loaded machine cannot make a test miss the copy: released, the copy
# of 64 MiB at 16 MiB/s takes about 4 s.
HOLD="$T/hold"
# A failed step must not leave a job held for ever.
trap 'rm -f "$HOLD"' EXIT
# follow ARGS: drover jobs --follow, given at most two minutes.
follow() { timeout 120 "$DROVER" --config "$T/drover.conf" jobs --follow "$@"; }

# wait_file_line FILE REGEX: waits for a line in FILE; prints the match.
wait_file_line() {
    _n=0
    while [ "$_n" -lt 600 ]; do
        if grep -Eo -- "$2" "$1" 2>/dev/null | head -1 | grep .; then
            return 0
        fi
        _n=$((_n + 1))
        sleep 0.1
    done
    return 1
}

# wait_copy ID: waits until job ID is held after its journal, releases
# it, and waits until its copy is under way.
wait_copy() {
    wait_job "$1" 'j["state"] == 4 and j["step"].startswith("recording the operation")' &&
        rm -f "$HOLD" && wait_job "$1" "$COPYING"
}

# The flatten is copying: its step says how much is done.
COPYING='j["state"] == 4 and j["step"].startswith("flattening the chain:") and " done, " in j["step"]'

# committed_ok LABEL: hr01 ended as a completed commit --flatten should.
committed_ok() {
    is "$(vm_field hr01 state)" 6 "$1: hr01 is 6 Committed"
    drover -c "$URI" check hr01 </dev/null >"$T/check" 2>&1
    ok $? "$1: drover check hr01 says Normal (exit 0)"
    flat=$(ls "$F"/vms/hr01/vda.flat-*.qcow2 2>/dev/null | head -1)
    [ -n "$flat" ] && "$QEMU_IMG" check -q "$flat" >/dev/null 2>&1
    ok $? "$1: the flattened image exists and passes qemu-img check"
    fo=$(ls "$F"/vms/hr01/vda.failover-*.qcow2 2>/dev/null | head -1)
    "$QEMU_IO" -r -c "read -P 1 0 64M" "$fo" >"$T/read" 2>&1 && ! grep -q "verification failed" "$T/read"
    ok $? "$1: the failover disk reads the 64 MiB of data through the flattened image"
    is "$(find "$F/vms/hr01" -name '*.tmp-*' | wc -l)" 0 "$1: no temporary file left"
    is "$(ls "$T/jobs.d" 2>/dev/null | wc -l)" 0 "$1: no job record left in jobs.d"
}

# hit SIGNAL LABEL STATUS: commit --flatten from a command in its own
# process group (a terminal's foreground group); SIGNAL to that group
# while qemu-img copies; the command exits with STATUS, the job completes.
hit() {
    sig=$1 label=$2 want=$3
    restore
    rm -f "$T/o"    # no line of the previous command may be taken for this one's
    touch "$HOLD"
    DROVER_PAUSE="commit:journal:$HOLD" setsid "$DROVER" --config "$T/drover.conf" -c "$URI" \
        commit hr01 --flatten --yes </dev/null >"$T/o" 2>"$T/e" &
    cli=$!
    id=$(wait_file_line "$T/o" 'Job [0-9a-f-]{36} started' | cut -d' ' -f2)
    ok $? "$label: the command started job $id"
    wait_copy "$id"
    ok $? "$label: the job is copying (flattening, with amount, rate and time left)"
    jpid=$(jq_ "$T/job.json" 'd["job"]["pid"]')
    qpid=$(pgrep -f "qemu-img convert .*$F/vms/hr01" | head -1)
    is "$(ps -o pgid= -p "$qpid" | tr -d ' ')" "$jpid" \
        "$label: qemu-img runs in the job's own process group"
    is "$(ps -o sid= -p "$jpid" | tr -d ' ')" "$jpid" "$label: the job leads its own session"
    [ "$(ps -o pgid= -p "$cli" | tr -d ' ')" != "$jpid" ]
    ok $? "$label: not in the command's process group"
    env kill -s "$sig" -- "-$cli"
    wait "$cli"
    is "$?" "$want" "$label: the command ended (status $want)"
    follow "$id" </dev/null >"$T/f.out" 2>&1
    ok $? "$label: drover jobs --follow $id: the job completes (exit 0)"
    like "$(cat "$T/f.out")" "Job $id: Completed, 100%" "$label: ... and says Completed"
    committed_ok "$label"
    drover jobs </dev/null >"$T/jobs" 2>&1
    like "$(grep "$(date -u +%Y)" "$T/jobs" | head -1)" 'Commit failover +hr01 +fleet +Completed +100' \
        "$label: drover jobs in another process shows it Completed"
}

hit INT "Ctrl-C" 130
like "$(cat "$T/e")" "goes on by itself" "Ctrl-C: the command says the job goes on"
like "$(cat "$T/e")" "drover jobs --follow $id" "Ctrl-C: ... and how to follow it"
hit HUP "terminal closed" 129
hit KILL "command killed" 137

# The command in a tmux session whose server is killed (a dropped SSH
# session that took its terminal multiplexer with it).
if command -v tmux >/dev/null 2>&1; then
    restore
    sock="$T/tmux.sock"
    rm -f "$T/o"
    touch "$HOLD"
    tmux -S "$sock" -f /dev/null new-session -d -x 80 -y 24 \
        "env DROVER_COPY_RATE=16M DROVER_PAUSE=commit:journal:$HOLD '$DROVER' --config '$T/drover.conf' -c '$URI' commit hr01 --flatten --yes >'$T/o' 2>&1"
    id=$(wait_file_line "$T/o" 'Job [0-9a-f-]{36} started' | cut -d' ' -f2)
    ok $? "tmux: the command started job $id in a tmux session"
    wait_copy "$id"
    ok $? "tmux: the job is copying"
    tmux -S "$sock" kill-server
    ok $? "tmux: the tmux server is killed"
    follow "$id" </dev/null >"$T/f.out" 2>&1
    ok $? "tmux: drover jobs --follow $id: the job completes (exit 0)"
    like "$(cat "$T/f.out")" "Job $id: Completed, 100%" "tmux: ... and says Completed"
    committed_ok "tmux"
else
    diag "tmux is not installed: the tmux case is left out"
fi

# --no-wait: 4096 and the job id at once; --follow without an id follows it.
restore
drover -c "$URI" commit hr01 --flatten --yes --no-wait --json </dev/null >"$T/nw.json" 2>"$T/e"
ok $? "--no-wait: exit 0 at once"
is "$(jq_ "$T/nw.json" 'd["result"]')" 4096 "--no-wait --json: result 4096 (Job started)"
id=$(jq_ "$T/nw.json" 'd["job"]["id"]')
like "$id" '^[0-9a-f-]{36}$' "--no-wait --json: the job id"
like "$(jq_ "$T/nw.json" 'd["job"]["state"] in (3, 4) and d["job"]["cancellable"]')" true \
    "--no-wait --json: the job is starting or running, cancellable"
follow </dev/null >"$T/f.out" 2>&1
ok $? "jobs --follow without an id follows the running job to its end (exit 0)"
like "$(cat "$T/f.out")" "Following job $id" "... the newest running one"
like "$(cat "$T/f.out")" '\[ *[0-9]+%\] flattening the chain: .* done, .*/s, [0-9]+ s left' \
    "... with progress lines: amount, rate and time left"
like "$(cat "$T/f.out")" "Job $id: Completed, 100%" "... and its end"
committed_ok "--no-wait"
follow </dev/null >"$T/f.out" 2>&1
is "$?" 2 "jobs --follow with nothing running: exit 2 (32773)"
like "$(cat "$T/f.out")" "no job is running" "... and says so"
drover jobs "$(printf %.8s "$id")" </dev/null >"$T/f.out" 2>&1
ok $? "jobs ID-PREFIX: a finished job's decoded result (exit 0)"
like "$(cat "$T/f.out")" "Result: 0 Completed" "... decoded"
drover cancel "$id" </dev/null >"$T/c.out" 2>&1
is "$?" 3 "cancel of a finished job: exit 3 (32775)"
like "$(cat "$T/c.out")" "already ended" "... it says the job already ended"
drover cancel 0123abcd </dev/null >"$T/c.out" 2>&1
is "$?" 2 "cancel of an unknown job: exit 2 (32773)"

# Cancel before the switch, during the copy: rolled back, nothing changed.
restore
sums_before=$(rp_sums "$F/vms/hr01")
touch "$HOLD"
DROVER_PAUSE="commit:journal:$HOLD" drover -c "$URI" commit hr01 --flatten --yes --no-wait </dev/null >"$T/o" 2>&1
id=$(grep -Eo 'Job [0-9a-f-]{36}' "$T/o" | head -1 | cut -d' ' -f2)
wait_copy "$id"
ok $? "cancel: the job is copying"
drover cancel "$id" </dev/null >"$T/c.out" 2>&1
ok $? "cancel before the switch: exit 0"
like "$(cat "$T/c.out")" "Cancel requested: job $id" "... the request is placed"
like "$(cat "$T/c.out")" "Terminated" "... and the job ended Terminated"
like "$(cat "$T/c.out")" "cancelled by an operator before its switch" "... and says why"
wait_job "$id" 'j["state"] == 8 and j["error_code"] == 32768'
ok $? "the job record: 8 Terminated, 32768"
is "$(vm_field hr01 state)" 5 "cancelled: hr01 is still 5 Recovered"
drover -c "$URI" check hr01 </dev/null >"$T/check" 2>&1
ok $? "cancelled: drover check hr01 says Normal (no interrupted operation)"
is "$(ls "$F"/vms/hr01/vda.flat-* 2>/dev/null | wc -l)" 0 "cancelled: no flattened image left"
is "$(find "$F/vms/hr01" -name '*.tmp-*' | wc -l)" 0 "cancelled: no temporary file left"
is "$(rp_sums "$F/vms/hr01")" "$sums_before" "cancelled: recovery points byte-identical"
DROVER_COPY_RATE= drover -c "$URI" commit hr01 --flatten --yes </dev/null >"$T/o" 2>&1
ok $? "after the cancel the commit runs again"
committed_ok "after cancel"

# Cancel after the switch: refused, with why; the job finishes.
restore
touch "$T/hold"
DROVER_PAUSE="revert:switched:$T/hold" drover -c "$URI" revert web02 --yes --no-wait </dev/null >"$T/o" 2>&1
id=$(grep -Eo 'Job [0-9a-f-]{36}' "$T/o" | head -1 | cut -d' ' -f2)
wait_job "$id" 'j["state"] == 4 and not j["cancellable"] and j["step"].startswith("switching web02")'
ok $? "a revert is held just after its switch"
drover jobs </dev/null >"$T/jobs" 2>&1
like "$(cat "$T/jobs")" 'Revert failover +web02 +fleet +Running +65 ' \
    "another process lists it live: Running, percent"
drover cancel "$id" </dev/null >"$T/c.out" 2>&1
is "$?" 3 "cancel after the switch: exit 3 (32775)"
like "$(cat "$T/c.out")" "cannot be cancelled: it has passed its switch" "... it says it cannot, and why"
rm -f "$T/hold"
follow "$id" </dev/null >"$T/f.out" 2>&1
ok $? "the held job then completes (jobs --follow: exit 0)"
is "$(vm_field web02 state)" 3 "web02 is 3 Replicating"

# Repair runs as a detached job like the operations.  erp01's interrupted
# revert is held at the repair job's lock (nothing changed yet) while a
# second repair is refused and the command's terminal closes (SIGHUP to its
# process group); released, the job completes.  A fresh demo fleet each
# time: a copy would give the files new inodes, which the journal refuses.
F="$T/r1"
make_fleet "$F"
ok $? "a fresh demo fleet for repair"
erp01_uuid=$(vm_field erp01 uuid)
erp01_lock="$F/vms/erp01/.drover-$erp01_uuid.lock"
# lock_held FILE: another process holds an OFD or POSIX lock on FILE.  A
# FILE that does not exist yet is not held: the demo makes no lock files,
# the first locker creates it (taking a missing file for a held lock let
# the test read the job's record before the job process had adopted it:
# no pid yet, the flake "the job leads its own session" with an empty pid).
lock_held() {
    "$PYTHON" - "$1" <<'EOF'
import errno, fcntl, os, sys
try:
    fd = os.open(sys.argv[1], os.O_RDWR)
except OSError:
    sys.exit(1)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except OSError as e:
    sys.exit(0 if e.errno in (errno.EACCES, errno.EAGAIN) else 1)
sys.exit(1)
EOF
}
rm -f "$T/o"
touch "$HOLD"
DROVER_PAUSE="repair:locked:$HOLD" setsid "$DROVER" --config "$T/drover.conf" -c "$URI" \
    repair erp01 --yes </dev/null >"$T/o" 2>"$T/e" &
cli=$!
id=$(wait_file_line "$T/o" 'Job [0-9a-f-]{36} started' | cut -d' ' -f2)
ok $? "repair: the command started job $id"
wait_bg_until "$cli" lock_held "$erp01_lock"
ok $? "repair: the job holds erp01's lock"
# The job process writes its pid into the record when it adopts it, before
# it locks erp01; the state asserted is waited for all the same.
wait_job "$id" 'j["state"] == 4 and j["pid"]'
ok $? "repair: the job's record is running, with its process's pid"
cp "$T/job.json" "$T/rj.json"
jpid=$(jq_ "$T/rj.json" 'd["job"]["pid"]')
jsid=$(ps -o sid= -p "$jpid" | tr -d ' ')
is "$jsid" "$jpid" "repair: the job leads its own session"
[ -n "$jpid" ] && [ "$jsid" = "$jpid" ] || diag "drover jobs $id --json: $(cat "$T/rj.json")"
[ "$(ps -o pgid= -p "$cli" | tr -d ' ')" != "$jpid" ]
ok $? "repair: not in the command's process group"
drover -c "$URI" repair erp01 --yes --json </dev/null >"$T/r2.json" 2>"$T/r2.err"
is "$?" 4 "a second repair meanwhile: exit 4 (32774)"
is "$(jq_ "$T/r2.json" 'd["result"], d["failed"][0]["name"], d["repaired"]')" "(32774, 'erp01', [])" \
    "... refused: erp01 is in use"
drover jobs --json </dev/null >"$T/jobs.json" 2>/dev/null
is "$(jq_ "$T/jobs.json" '[(j["type"], j["vm"], j["state"], j["error_code"], j["refused"]) for j in d if j["id"] != "'"$id"'"][0]')" \
    "(0, 'erp01', 10, 32774, True)" "... listed as a refused Repair of erp01, 32774"
env kill -s HUP -- "-$cli"
wait "$cli"
is "$?" 129 "repair: the command ended with its terminal (status 129)"
rm -f "$HOLD"
follow "$id" </dev/null >"$T/f.out" 2>&1
ok $? "repair: drover jobs --follow $id: the job completes (exit 0)"
like "$(cat "$T/f.out")" "Job $id: Completed, 100%" "repair: ... and says Completed"
is "$(vm_field erp01 state) $(vm_field erp01 interrupted_operation) $(vm_field erp01 health_name)" \
    "3 null Normal" "repair: erp01 is 3 Replicating, nothing interrupted, Normal"
is "$(ls "$F"/vms/erp01/vda.failover-* 2>/dev/null | wc -l)" 0 "repair: the failover disk the journal named is gone"
drover jobs </dev/null >"$T/jobs" 2>&1
like "$(cat "$T/jobs")" 'Repair +erp01 +fleet +Completed +100' "repair: drover jobs in another process shows it Completed"
like "$(cat "$T/jobs")" 'Repair +erp01 +fleet +Refused +0 .* 32774' "repair: ... and the refused one as Refused"

# repair --no-wait: 4096 and the job at once.
F="$T/r2"
make_fleet "$F"
ok $? "a fresh demo fleet for repair --no-wait"
drover -c "$URI" repair erp01 --yes --no-wait --json </dev/null >"$T/nw.json" 2>"$T/e"
ok $? "repair --no-wait: exit 0 at once"
is "$(jq_ "$T/nw.json" 'd["result"], [(x["name"], len(x["job"])) for x in d["started"]], d["repaired"]')" \
    "(4096, [('erp01', 36)], [])" "repair --no-wait --json: 4096, the job started for erp01"
id=$(jq_ "$T/nw.json" 'd["started"][0]["job"]')
follow "$id" </dev/null >"$T/f.out" 2>&1
ok $? "repair --no-wait: the job completes (jobs --follow: exit 0)"
is "$(vm_field erp01 state) $(vm_field erp01 interrupted_operation)" "3 null" "repair --no-wait: erp01 repaired"
done_testing
