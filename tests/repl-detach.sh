#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# repl-detach.sh: the replication commands' jobs are independent of the
# terminal that started them (issue 12), between two private libvirtd
# daemons (tests/repl-lib.sh).  An initial copy (enable-replication) and a
# cycle (replicate), each held by a pause point right after its backup job
# began on the primary (DROVER_PAUSE=replicate:begun, the pause file made
# by the job process itself), are hit by what a terminal does to its
# foreground process group: Ctrl-C (SIGINT to the command's group) and a
# closed terminal (the pty holder killed: SIGHUP).  Each time the command
# ends, the job goes on, completes, the point reads as the primary
# (qemu-img compare, the primary paused) and `drover jobs` in another
# process shows it Completed.  Then --no-wait and `jobs --follow ID`'s
# exit status (a job that completes, one that dies), suspend and resume as
# jobs, replicate --due (a job per cycle, waited for; Ctrl-C leaves it
# running), and a planned failover that survives a SIGHUP while it waits
# for the primary to shut down.  Every wait polls with a deadline.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/qemu-lib.sh"

command -v setsid >/dev/null 2>&1 || skip_all "setsid (util-linux) is needed for a process group"
command -v script >/dev/null 2>&1 || skip_all "script (util-linux) is needed for a pseudo-terminal"

. "${top_srcdir:-.}/tests/repl-lib.sh"

PAUSED="$T/paused"
# A failed step must not leave a job held for ever.
trap 'rm -f "$PAUSED"; qemu_stop_all >/dev/null 2>&1' EXIT
# A configuration that gives the primary two minutes to shut down.
sed 's/^shutdown_timeout = .*/shutdown_timeout = 120;/' "$T/drover.conf" >"$T/long.conf"

# wait_gone PID: until process PID has ended (at most 60 s).
wait_gone() {
    _n=0
    while kill -0 "$1" 2>/dev/null; do
        [ "$_n" -ge 600 ] && return 1
        sleep 0.1
        _n=$((_n + 1))
    done
}

# job_id FILE: the id of the job a command's output says it started.
job_id() {
    wait_for "$1" 'Job [0-9a-f-]{36} started' 1200 &&
        grep -Eo 'Job [0-9a-f-]{36} started' "$1" | head -1 | cut -d' ' -f2
}

# held GROUP LABEL: the job process paused itself (the pause file holds its
# pid): it leads its own session, outside the command's process group
# (GROUP, or $clipid's).
held() {
    wait_for "$PAUSED" '^[0-9]+$' 1200
    ok $? "$2: the job is held after its backup job began"
    jpid=$(cat "$PAUSED" 2>/dev/null)
    is "$(ps -o sid= -p "$jpid" | tr -d ' ')" "$jpid" "$2: the job process leads its own session"
    grp=${1:-$(ps -o pgid= -p "$clipid" | tr -d ' ')}
    [ -n "$grp" ] && [ "$(ps -o pgid= -p "$jpid" | tr -d ' ')" != "$grp" ]
    ok $? "$2: ... not in the command's process group"
}

# completes ID LABEL TYPE: released, the job ends Completed; another
# process's `drover jobs` lists it so.
completes() {
    rm -f "$PAUSED"
    timeout 300 "$DROVER" --config "$T/drover.conf" jobs --follow "$1" </dev/null >"$T/f.out" 2>&1
    ok $? "$2: drover jobs --follow: the job completes (exit 0)"
    like "$(cat "$T/f.out")" "Job $1: Completed, 100%" "$2: ... and says Completed"
    # The newest job of the VM comes first.
    drover jobs </dev/null >"$T/jobs" 2>&1
    like "$(grep -F " $VM " "$T/jobs" | head -1)" "$3 +$VM +.* +Completed +100" \
        "$2: drover jobs in another process shows it Completed"
}

# ctrl_c LABEL ARGS...: dr ARGS in a process group of its own (a terminal's
# foreground group), SIGINT to that group while its job is held.
ctrl_c() {
    label=$1
    shift
    rm -f "$T/o" "$PAUSED"
    DROVER_PAUSE=replicate:begun DROVER_PAUSE_FILE=$PAUSED \
        setsid "$DROVER" --config "$T/drover.conf" -c "$DURI" "$@" </dev/null >"$T/o" 2>"$T/e" &
    cli=$!
    id=$(job_id "$T/o")
    ok $? "$label: the command started job $id"
    held "$cli" "$label"
    env kill -s INT -- "-$cli"
    wait "$cli"
    is "$?" 130 "$label: Ctrl-C ends the command (status 130)"
    like "$(cat "$T/e")" "job $id .* goes on by itself" "$label: it says the job goes on"
    like "$(cat "$T/e")" "drover jobs --follow $id" "$label: ... and how to follow it"
    wait_job "$id" 'j["state"] == 4'
    ok $? "$label: the job still runs"
}

# hang_up LABEL CONF PAUSE ARGS...: drover --config CONF -c $DURI ARGS on
# the pseudo-terminal of `script` (a session of its own, the terminal its
# controlling one), its job held at pause point PAUSE ("": none); hung_up
# then kills the pty holder (a dropped SSH session), which hangs the
# terminal up: SIGHUP.
hang_up() {
    label=$1 conf=$2 pause=$3
    shift 3
    rm -f "$T/o" "$T/cli.pid" "$PAUSED"
    {
        echo 'echo $$ >"$T/cli.pid"'
        printf 'exec "$DROVER" --config "%s" -c "$DURI"' "$conf"
        for a in "$@"; do printf ' "%s"' "$a"; done
        echo ' >"$T/o" 2>&1'
    } >"$T/cli.sh"
    T=$T DROVER=$DROVER DURI=$DURI DROVER_PAUSE=$pause DROVER_PAUSE_FILE=$PAUSED \
        setsid script -qfec "sh '$T/cli.sh'" /dev/null </dev/null >/dev/null 2>&1 &
    holder=$!
    id=$(job_id "$T/o")
    ok $? "$label: the command started job $id on a terminal"
    clipid=$(cat "$T/cli.pid")
}

# hung_up LABEL: kills the pty holder; the command ends with its terminal.
hung_up() {
    kill -KILL "$holder"
    wait "$holder" 2>/dev/null
    wait_gone "$clipid"
    ok $? "$1: the terminal is gone, and the command with it"
    wait_job "$id" 'j["state"] == 4'
    ok $? "$1: the job still runs"
}

# --- the initial copy: enable-replication hit by a closed terminal ---------------
hang_up "enable, SIGHUP" "$T/drover.conf" replicate:begun enable-replication "$VM" --from "$PURI" --dir "$DIR" \
    --nbd "127.0.0.1:$PORT" --yes
held "" "enable, SIGHUP"
hung_up "enable, SIGHUP"
completes "$id" "enable, SIGHUP" "Enable Replication"
is "$(record "v['state'], [p['id'] for p in v['recovery_points']]")" "3 ['rp-0001']" \
    "enable, SIGHUP: 3 Replicating with rp-0001"
paused same "$DIR/vda.rp-0001.qcow2" "$TOP/prim/vda.qcow2" &&
    paused same "$DIR/vdb.rp-0001.qcow2" "$TOP/prim/vdb.qcow2"
ok $? "enable, SIGHUP: rp-0001 reads as the primary (both disks)"

# --- the initial copy again, hit by Ctrl-C ------------------------------------------
# disable-replication (a job too) deletes drover's checkpoints on the
# primary; then the replica goes, and enable-replication starts afresh.
out=$(dr disable-replication "$VM" --yes --json 2>/dev/null)
is "$?" 0 "disable-replication: exit 0"
is "$(json_get "$out" "d['result'], d['message'], d['job']['type'], d['job']['state']")" \
    "0 $VM: now 3 Replicating 96 7" "disable-replication --json: what it came to, its job (96, Completed)"
is "$(checkpoints)" "" "disable-replication: no checkpoint left on the primary"
dvirsh undefine "$VM" >/dev/null && rm -rf "$DIR"
ok $? "the replica undefined and its directory removed"
ctrl_c "enable, Ctrl-C" enable-replication "$VM" --from "$PURI" --dir "$DIR" --nbd "127.0.0.1:$PORT" --yes
completes "$id" "enable, Ctrl-C" "Enable Replication"
is "$(record "v['state'], [p['id'] for p in v['recovery_points']]")" "3 ['rp-0001']" \
    "enable, Ctrl-C: 3 Replicating with rp-0001"
paused same "$DIR/vda.rp-0001.qcow2" "$TOP/prim/vda.qcow2" &&
    paused same "$DIR/vdb.rp-0001.qcow2" "$TOP/prim/vdb.qcow2"
ok $? "enable, Ctrl-C: rp-0001 reads as the primary (both disks)"

# --- a cycle: Ctrl-C, then a closed terminal ----------------------------------------
write "$DEV_A" 0x51 6M 1M && write "$DEV_B" 0x52 2M 512k
ok $? "new writes on the primary"
ctrl_c "replicate, Ctrl-C" replicate "$VM"
completes "$id" "replicate, Ctrl-C" "Replication Cycle"
paused same "$DIR/vda.rp-0002.qcow2" "$TOP/prim/vda.qcow2" &&
    paused same "$DIR/vdb.rp-0002.qcow2" "$TOP/prim/vdb.qcow2"
ok $? "replicate, Ctrl-C: rp-0002 reads as the primary"

write "$DEV_A" 0x53 9M 1M
ok $? "more writes on the primary"
hang_up "replicate, SIGHUP" "$T/drover.conf" replicate:begun replicate "$VM"
held "" "replicate, SIGHUP"
hung_up "replicate, SIGHUP"
completes "$id" "replicate, SIGHUP" "Replication Cycle"
paused same "$DIR/vda.rp-0003.qcow2" "$TOP/prim/vda.qcow2" &&
    paused same "$DIR/vdb.rp-0003.qcow2" "$TOP/prim/vdb.qcow2"
ok $? "replicate, SIGHUP: rp-0003 reads as the primary"
is "$(record "v['state'], v['interrupted_operation']")" "3 None" "3 Replicating, nothing interrupted"

# --- --no-wait, and jobs --follow's exit status --------------------------------------
write "$DEV_B" 0x54 5M 64k
out=$(dr replicate "$VM" --no-wait --json </dev/null 2>/dev/null)
is "$?" 0 "replicate --no-wait: exit 0 at once"
is "$(json_get "$out" "d['result'], d['plan']['point'], d['job']['type'], len(d['job']['id'])")" \
    "4096 rp-0004 110 36" "replicate --no-wait --json: 4096, the plan, the job (110)"
id=$(json_get "$out" "d['job']['id']")
timeout 300 "$DROVER" --config "$T/drover.conf" jobs --follow "$id" </dev/null >"$T/f.out" 2>&1
ok $? "jobs --follow ID: exit 0 when the cycle completes"
like "$(cat "$T/f.out")" "Job $id: Completed, 100%" "... and says Completed"
paused same "$DIR/vdb.rp-0004.qcow2" "$TOP/prim/vdb.qcow2"
ok $? "the --no-wait cycle's rp-0004 reads as the primary"

# A job that dies (DROVER_FAULT: the job process exits 86 after its backup
# job began, as kill -9 would): --follow exits with its failure's status.
out=$(DROVER_FAULT=replicate:begun dr replicate "$VM" --no-wait 2>&1 </dev/null)
is "$?" 0 "a cycle that will die, --no-wait: exit 0 at once"
like "$out" "result 4096" "... result 4096"
like "$out" "drover jobs --follow [0-9a-f-]{36}" "... and how to follow it"
id=$(printf '%s\n' "$out" | grep -Eo 'Job [0-9a-f-]{36}' | head -1 | cut -d' ' -f2)
timeout 300 "$DROVER" --config "$T/drover.conf" jobs --follow "$id" </dev/null >"$T/f.out" 2>&1
is "$?" 1 "jobs --follow ID of a job that died: exit 1 (32768)"
like "$(cat "$T/f.out")" "ended without a result" "... it says the job process ended without a result"
out=$(dr repair "$VM" --yes 2>&1 </dev/null)
is "$?" 0 "drover repair undoes the killed cycle"
is "$(record "v['state'], v['interrupted_operation'], len(v['recovery_points'])")" "3 None 4" \
    "after the repair: 3 Replicating, nothing interrupted, 4 points"

# The same cycle killed while the command waits: its exit status is the
# job process's (86), as before it ran detached.
DROVER_FAULT=replicate:begun dr replicate "$VM" </dev/null >/dev/null 2>&1
is "$?" 86 "a waiting command whose job process dies: the job's exit status (86)"
dr repair "$VM" --yes </dev/null >/dev/null 2>&1
ok $? "... repaired"

# --- suspend and resume as jobs ------------------------------------------------------
out=$(dr suspend-replication "$VM" --yes --no-wait </dev/null 2>&1)
is "$?" 0 "suspend-replication --no-wait: exit 0"
id=$(printf '%s\n' "$out" | grep -Eo 'Job [0-9a-f-]{36}' | head -1 | cut -d' ' -f2)
timeout 120 "$DROVER" --config "$T/drover.conf" jobs --follow "$id" </dev/null >"$T/f.out" 2>&1
ok $? "the suspend job completes"
like "$(cat "$T/f.out")" "what happened: [Rr]eplication state change of $VM on .* completed" \
    "... decoded as a replication state change"
out=$(drover jobs "$id" --json </dev/null 2>/dev/null)
is "$(json_get "$out" "d['result'], d['job']['step']")" "0 $VM: now 7 Suspended" \
    "... its last step says what it came to: 7 Suspended"
is "$(record "v['state']")" 7 "7 Suspended"
out=$(dr resume-replication "$VM" --yes --json </dev/null 2>/dev/null)
is "$?" 0 "resume-replication --json: exit 0"
is "$(json_get "$out" "d['result'], d['message'], d['warnings'], d['job']['type']")" \
    "0 $VM: now 3 Replicating None 96" "resume-replication --json: result, message, job (96)"
is "$(record "v['state']")" 3 "3 Replicating"

# --- replicate --due: each due cycle a job of its own, waited for ----------------------
# wait_due: until the replica's interval (1 s) has passed since its newest
# point (replicate --due --dry-run says a cycle is due), at most 60 s.
wait_due() {
    _n=0
    until dr replicate --due --dry-run </dev/null 2>&1 | grep -q "$VM@.*: a cycle is due"; do
        [ "$_n" -ge 600 ] && return 1
        sleep 0.1
        _n=$((_n + 1))
    done
}
set_interval 1
write "$DEV_A" 0x55 12M 256k
wait_due
ok $? "a cycle is due"
out=$(dr replicate --due </dev/null 2>&1)
is "$?" 0 "replicate --due: exit 0"
like "$out" "$VM@.*: a cycle is due" "--due: the cycle is due"
like "$out" "Job [0-9a-f-]{36} started \(Replication Cycle; result 4096 until it ends" \
    "--due: the cycle is a job of its own"
like "$out" "Job [0-9a-f-]{36}: Completed, 100%" "--due: ... waited for to its end"
write "$DEV_A" 0x56 13M 256k
wait_due
ok $? "a cycle is due again"
ctrl_c "replicate --due, Ctrl-C" replicate --due
completes "$id" "replicate --due, Ctrl-C" "Replication Cycle"
n=$(record "len(v['recovery_points'])")
paused same "$DIR/vda.$(record "v['recovery_points'][-1]['id']").qcow2" "$TOP/prim/vda.qcow2"
ok $? "replicate --due, Ctrl-C: the newest point ($n points) reads as the primary"
set_interval 3600

# --- a planned failover survives a closed terminal -------------------------------------
# The TCG guest runs no OS and ignores the shutdown request: the job waits
# for the primary to power off while its terminal goes.
hang_up "planned, SIGHUP" "$T/long.conf" "" failover "$VM" --planned --yes --reason "drill"
wait_job "$id" "j['state'] == 4 and j['step'].startswith('waiting for the primary $VM to shut down')"
ok $? "planned, SIGHUP: the job waits for the primary to shut down"
jpid=$(json_get "$(cat "$T/job.json")" "d['job']['pid']")
is "$(ps -o sid= -p "$jpid" | tr -d ' ')" "$jpid" "planned, SIGHUP: the job process leads its own session"
hung_up "planned, SIGHUP"
pvirsh destroy "$VM" --graceful >/dev/null
ok $? "the primary's guest powers off"
completes "$id" "planned, SIGHUP" "Planned Failover"
is "$(record "v['state'], v['failover_point'] == v['recovery_points'][-1]['id'], v['recovery_points'][-1]['type']")" \
    "5 True planned" "planned, SIGHUP: 5 Recovered on the final point, a planned one"
is "$(pvirsh domstate "$VM" 2>/dev/null | head -1)" "shut off" "the primary is off"

is "$(system_jobs_of_this_test)" 0 "the system's job history has no job of this test"
# Stopped before done_testing deletes $T (the EXIT trap then finds no pid file).
qemu_stop_all >/dev/null 2>&1
done_testing
