#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# cli.sh: drover's command line: help, version, usage errors, decode,
# VM names that need quoting, and several hosts with the same VM names.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/ops-common.sh"

command -v "$PYTHON" >/dev/null 2>&1 || skip_all "python3 not found"

mktemp_dir
commands="list show failover revert commit test-failover stop-test jobs repair check decode demo"

# --- help and version -----------------------------------------------------
run --help
is "$rc" 0 "--help: exit status 0"
is "$err" "" "--help: nothing on stderr"
for c in $commands; do
    like "$out" "^  $c( |$)" "--help mentions $c"
done
for o in -c --config --readonly --json --yes --dry-run --reason --point --flatten --help --version; do
    like "$out" "^ +(-[a-zA-Z], )?$o([ ,]|$)" "--help describes $o"
done
like "$out" "Exit status: 0 success" "--help documents the exit statuses"
run -h
is "$rc" 0 "-h: exit status 0"
run --version
is "$rc" 0 "--version: exit status 0"
like "$out" "^drover [0-9]+\.[0-9]+" "--version: drover and a version number"
like "$out" "License GPLv2\+: GNU GPL version 2 or later" "--version: the licence (GNU style)"
like "$out" "There is NO WARRANTY" "--version: the warranty line"
# Options belong to commands: one a command does not take is a usage error.
run list --point x
is "$rc" 2 "list --point: a usage error (exit 2)"
like "$err" "list does not take --point \(it takes --json, --names\)" "list --point: says what list takes"
run decode --flatten 3
is "$rc" 2 "decode --flatten: a usage error (exit 2)"
like "$err" "decode does not take --flatten \(it takes --all, --json, --man\)" \
    "decode --flatten: says what decode takes"
run revert --vms 3 web01
is "$rc" 2 "revert --vms: a usage error (exit 2)"
many=""
for i in $(seq 70); do many="$many -c test:///default"; done
# shellcheck disable=SC2086 # split on purpose
run $many list --point x
is "$rc" 2 "list --point after 70 other options: still a usage error"
run --json
is "$rc" 2 "--json without a command: a usage error (exit 2)"
like "$err" "--json needs a command" "--json without a command: says so"
run decode --json --config /nonexistent-is-fine-for-decode 32774
is "$rc" 0 "decode takes --json and the common --config"
run --help
like "$out" "Reporting problems: see the section of that name in /.*/README.md" \
    "--help: problems are reported as the README says"
case "$out" in *example.invalid*) false;; *) true;; esac
ok $? "--help: no placeholder bug-report address"
run -V
is "$rc" 0 "-V: exit status 0"
for c in $commands; do
    run "$c" --help
    is "$rc" 0 "$c --help: exit status 0"
    like "$out" "^Usage: drover $c( |$)" "$c --help: usage line"
done
run revert --help
like "$out" "Powers the VM off first if it runs" "revert --help: says it powers the VM off"
like "$out" "never touched" "revert --help: says recovery points are never touched"

# --- usage errors: exit 2 and a hint on stderr ------------------------------
usage_error() {  # DESC PATTERN ARGS...
    _d=$1 _pat=$2
    shift 2
    run "$@"
    is "$rc" 2 "$_d: exit status 2"
    like "$err" "$_pat" "$_d: says what is wrong"
    like "$err" "Try 'drover --help'" "$_d: points at --help"
    is "$out" "" "$_d: nothing on stdout"
}
usage_error "unknown option" "unrecognized option '--bogus'" --bogus list
usage_error "unknown short option" "invalid option" -Z list
usage_error "unknown command" "unknown command 'frobnicate'" frobnicate
usage_error "missing VM" "revert takes VM" revert
usage_error "missing VM (show)" "show takes VM" show
usage_error "too many arguments" "too many arguments" revert web01 web02
usage_error "--point without a value" "requires an argument" failover web01 --point
usage_error "--reason without a value" "requires an argument" revert web01 --reason
usage_error "decode of a word" "'abc' is not a result code" decode abc
usage_error "decode of a number out of range" "is not a result code" decode 99999

run --config "$T/nonexistent.conf" list
is "$rc" 2 "missing --config file: exit status 2"
like "$err" "nonexistent.conf: cannot open" "missing --config file: named"
printf 'audit_log = "%s/a.log";\nbroken = ;\n' "$T" >"$T/bad.conf"
run --config "$T/bad.conf" list
is "$rc" 2 "bad config file: exit status 2"
like "$err" "bad.conf:2: " "bad config file: file and line"

# --- decode -------------------------------------------------------------------
run decode 32775
is "$rc" 0 "decode 32775: exit status 0"
like "$out" "^32775 Invalid state for this operation" "decode 32775: names Invalid state"
like "$out" "exit status: 3" "decode 32775: exit status 3"
run decode --all
is "$rc" 0 "decode --all: exit status 0"
is "$(printf '%s\n' "$out" | grep -cE '^[0-9]+ ')" 14 "decode --all: 14 codes"
run decode --all --json
is "$(jq_ "$T/out" 'len(d)')" 14 "decode --all --json: 14 codes"
for c in 0 4096 32768 32769 32770 32771 32772 32773 32774 32775 32776 32777 32778 32779; do
    run decode $c
    is "$rc" 0 "decode $c: exit status 0"
done

# --- VM names with spaces, quotes and UTF-8 ------------------------------------
F=$T/f
make_fleet "$F" 3
ok $? "a fleet of 3"
odd="web 02 \"q\" 'é'"
"$PYTHON" - "$F/fleet.xml" "$odd" <<'EOF'
import sys
p, name = sys.argv[1], sys.argv[2]
s = open(p, encoding="utf-8").read()
assert s.count("<name>web02</name>") == 1
name = name.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
open(p, "w", encoding="utf-8").write(s.replace("<name>web02</name>", "<name>%s</name>" % name))
EOF
ok $? "web02 renamed in fleet.xml"
run -c "$URI" list
like "$out" "^fleet +web 02 \"q\" 'é' +5 Recovered" "list shows the odd name"
run -c "$URI" list --json
is "$(jq_ "$T/out" '[v["name"] for v in d if v["uuid"].endswith("0002")][0]')" "$odd" \
    "list --json has the exact name"
# A write error on standard output is an error (GNU close_stdout).
if [ -w /dev/full ]; then
    drover -c "$URI" list --json </dev/null >/dev/full 2>"$T/err"
    rc=$?
    [ "$rc" -ne 0 ]
    ok $? "list --json >/dev/full: a non-zero exit status ($rc)"
    like "$(cat "$T/err")" "write error on standard output: No space left on device" \
        "list --json >/dev/full: says so"
    drover decode --all >/dev/full 2>/dev/null
    is "$?" 1 "decode --all >/dev/full: exit status 1"
else
    diag "/dev/full not writable: write errors not checked"
fi
# A reader that went away (`drover list | head`): drover ignores SIGPIPE
# for libvirt's sockets, yet ends as SIGPIPE ends a program, without a word.
# The fifo's only reader has closed it before drover, held at its pause
# point after its stdout was open, writes anything.
mkfifo "$T/fifo"
(exec 3<"$T/fifo") &
reader=$!
rm -f "$T/paused"
DROVER_PAUSE=hv:list-connected DROVER_PAUSE_FILE="$T/paused" \
    "$DROVER" --config "$T/drover.conf" -c "$URI" list --json </dev/null >"$T/fifo" 2>"$T/err" &
bg=$!
wait "$reader"
wait_bg_until "$bg" test -e "$T/paused"
ok $? "list with a reader that went away reaches its pause point"
rm -f "$T/paused"
wait "$bg"
is "$?" 141 "list | a reader gone: killed by SIGPIPE (status 141), as before"
is "$(cat "$T/err")" "" "list | a reader gone: nothing on stderr"
run -c "$URI" show "$odd"
is "$rc" 0 "show by the odd name: exit status 0"
like "$out" "^web 02 \"q\" 'é'@fleet " "show by the odd name: header"
run -c "$URI" show "$odd@fleet" --json
is "$rc $(jq_ "$T/out" 'd["name"]')" "0 $odd" "show NAME@HOST with the odd name"
run -c "$URI" revert "$odd" --yes
is "$rc" 0 "revert by the odd name: exit status 0"
like "$out" "Revert failover of web 02 \"q\" 'é' on fleet completed" "revert by the odd name: completed"
run -c "$URI" list --json
is "$(jq_ "$T/out" '[v["name"] for v in d if v["uuid"].endswith("0002")][0]')" "$odd" \
    "the odd name survives the write-back"
is "$(jq_ "$T/out" '[v["state"] for v in d if v["uuid"].endswith("0002")][0]')" 3 \
    "the odd-named VM is now 3 Replicating"
run -c "$URI" failover d7000000-0000-4000-8000-000000000002 --yes
is "$rc" 0 "failover by UUID"
run -c "$URI" revert web01@fleet --yes
is "$rc" 3 "NAME@HOST finds web01 (refused: it is Replicating)"

# --- two hosts with the same VM names -------------------------------------------
A=$T/one B=$T/two
make_fleet "$A" 3 && UA=$URI && make_fleet "$B" 3 && UB=$URI
ok $? "two fleets of 3"
tree_sums "$A" >"$T/a.before"
tree_sums "$B" >"$T/b.before"
run -c "$UA" -c "$UB" revert web02 --yes
is "$rc" 2 "revert web02 on two hosts: exit status 2"
like "$err" "^Result: 32773 " "revert web02 on two hosts: 32773"
like "$err" "web02 exists on several hosts \(web02@fleet, web02@fleet-2\)" \
    "revert web02 on two hosts: names both"
tree_sums "$A" >"$T/a.after"
tree_sums "$B" >"$T/b.after"
cmp -s "$T/a.before" "$T/a.after" && cmp -s "$T/b.before" "$T/b.after"
ok $? "ambiguous revert: neither fleet changed"
run -c "$UA" -c "$UB" list --json
is "$(jq_ "$T/out" 'sorted(set(v["host"] for v in d))')" "['fleet', 'fleet-2']" \
    "two URIs with the same file name: hosts fleet and fleet-2"
cat >"$T/hosts.conf" <<EOF
audit_log = "$T/audit.log";
job_history = "$T/jobs.jsonl";
hosts = ( { name = "a"; uri = "$UA"; },
          { name = "b"; uri = "$UB"; } );
EOF
hdrover() { "$DROVER" --config "$T/hosts.conf" "$@" </dev/null >"$T/out" 2>"$T/err"; rc=$?; out=$(cat "$T/out"); err=$(cat "$T/err"); }
hdrover revert web02 --yes
is "$rc" 2 "hosts a and b from the config: plain web02 is ambiguous"
like "$err" "web02@a, web02@b" "the ambiguity names web02@a and web02@b"
hdrover revert web02@a --yes
is "$rc" 0 "revert web02@a: exit status 0"
hdrover list --json
is "$(jq_ "$T/out" 'sorted((v["host"], v["state"]) for v in d if v["name"] == "web02")')" \
    "[('a', 3), ('b', 5)]" "revert web02@a changed a's web02 only"
tree_sums "$B" >"$T/b.after"
cmp -s "$T/b.before" "$T/b.after"
ok $? "fleet b unchanged on disk"
hdrover show web02@c
is "$rc" 2 "web02@c: exit status 2"
like "$err" "no host named c" "web02@c: no host named c"

# --- the system file's read-only is a floor -----------------------------------
# A user file, --config and -c cannot lower what the system file made
# read-only; `drover config` names the files it read.
mkdir -p "$T/floor/etc/drover" "$T/floor/user/drover"
printf 'hosts = ( { name = "fleet"; uri = "%s"; readonly = true; } );\n' "$URI" \
    >"$T/floor/etc/drover/drover.conf"
printf 'readonly = false;\nhosts = ( { name = "fleet"; uri = "%s"; readonly = false; } );\n' "$URI" \
    >"$T/floor/user/drover/drover.conf"
printf 'readonly = false;\n' >"$T/floor/mine.conf"
floor() { DROVER_SYSCONFDIR="$T/floor/etc" XDG_CONFIG_HOME="$T/floor/user" "$DROVER" "$@" </dev/null; }
out=$(floor --config "$T/floor/mine.conf" config --json)
is "$(printf '%s' "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["files"], [h["readonly"] for h in d["hosts"]], d["readonly_floor"])')" \
    "['$T/floor/etc/drover/drover.conf', '$T/floor/user/drover/drover.conf', '$T/floor/mine.conf'] [True] True" \
    "config --json: the files read, in order; the host stays read-only under a user file and --config"
out=$(floor config)
like "$out" "^files: $T/floor/etc/drover/drover.conf, $T/floor/user/drover/drover.conf\$" "config: says which files it read"
like "$out" "fleet +$URI \(read-only\)" "config: the host is read-only"
# Another spelling or transport of the same host is the same host.
path=${URI#test://}
for alias in "TEST+unix://$path" "test://localhost$path" "test+ssh://root@localhost:22$path/"; do
    out=$(floor -c "$alias" config --json)
    is "$(printf '%s' "$out" | python3 -c 'import json,sys; print([h["readonly"] for h in json.load(sys.stdin)["hosts"]])')" \
        "[True]" "the floor holds for -c $alias"
done
out=$(floor -c "test:///default" config --json)
is "$(printf '%s' "$out" | python3 -c 'import json,sys; print([h["readonly"] for h in json.load(sys.stdin)["hosts"]])')" \
    "[False]" "another host is not under the floor"
floor -c "$URI" failover web01 --yes >"$T/out" 2>"$T/err"
is "$?" 6 "failover through -c of a host the system file made read-only: refused (exit 6)"
like "$(cat "$T/err")" "Result: 32769 .*" "... with 32769"
like "$(cat "$T/err")" "fleet is open read-only" "... saying the host is open read-only"
printf 'readonly = true;\n' >"$T/floor/etc/drover/drover.conf"
out=$(floor --config "$T/floor/mine.conf" -c "$URI" config --json)
is "$(printf '%s' "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["readonly"], [h["readonly"] for h in d["hosts"]])')" \
    "True [True]" "a global readonly in the system file: every host read-only, whatever the user file and --config say"
rm -f "$T/floor/etc/drover/drover.conf"
out=$(floor config --json)
is "$(printf '%s' "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["files"], [h["readonly"] for h in d["hosts"]], d["readonly_floor"])')" \
    "['$T/floor/user/drover/drover.conf'] [False] False" "without the system file, the user file's hosts are as it says"

# --- a host that cannot be reached: libvirt's own reason, as virsh shows it ----
nosock="qemu+unix:///system?socket=$T/no-such.sock"
drover -c "$nosock" list </dev/null >"$T/out" 2>"$T/err"
is "$?" 5 "list on an unreachable host: exit status 5"
like "$(cat "$T/err")" "Failed to connect socket to '$T/no-such.sock'" "list: the socket path libvirt could not reach"
drover -c "$nosock" show web01 </dev/null >"$T/out" 2>"$T/err"
is "$?" 5 "show on an unreachable host: exit status 5"
like "$(cat "$T/err")" "cause: .*could not be reached \(localhost\).*Failed to connect socket to '$T/no-such.sock'" \
    "show: the cause carries libvirt's reason"

# --- no host anywhere: libvirt's own default URI, as virsh uses it -------------
out=$(LIBVIRT_DEFAULT_URI="$URI" "$DROVER" config --json </dev/null)
is "$(printf '%s' "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["hosts_from"], [h["uri"] for h in d["hosts"]])')" \
    "LIBVIRT_DEFAULT_URI ['$URI']" "no host configured: LIBVIRT_DEFAULT_URI"
# A LIBVIRT_DEFAULT_URI that cannot be reached is kept, never swapped for another host.
out=$(LIBVIRT_DEFAULT_URI="test://$T/no-such-dir/fleet.xml" "$DROVER" config --json </dev/null)
is "$(printf '%s' "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print([h["uri"] for h in d["hosts"]])')" \
    "['test://$T/no-such-dir/fleet.xml']" "an unreachable LIBVIRT_DEFAULT_URI is kept as it is"
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1; then
    # libvirt reads uri_default from the user's libvirt.conf (root's is /etc's).
    mkdir -p "$T/xdg/libvirt" && chmod 755 "$T" "$T/xdg" "$T/xdg/libvirt"
    printf 'uri_default = "test:///default"\n' >"$T/xdg/libvirt/libvirt.conf"
    chmod 644 "$T/xdg/libvirt/libvirt.conf"
    out=$(setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/nonexistent \
          XDG_CONFIG_HOME="$T/xdg" XDG_STATE_HOME="$T/nobody-state" "$DROVER" config </dev/null 2>&1)
    like "$out" "hosts \(from libvirt's default URI \(uri_default in libvirt.conf\)\):" \
        "config says the hosts came from libvirt's default"
    like "$out" "default +test:///default" "uri_default in libvirt.conf is honoured, as virsh does"
else
    tap_n=$((tap_n + 1)); echo "ok $tap_n # SKIP uri_default needs root to run as another user"
fi

# --- --names: the machine format completion uses --------------------------------
run -c "$URI" list --names
is "$rc" 0 "list --names: exit status 0"
is "$(printf '%s\n' "$out" | sort | tr '\n' ' ')" \
   "$(drover -c "$URI" list --json </dev/null | python3 -c 'import json,sys; print(" ".join(sorted(v["name"] for v in json.load(sys.stdin))), end=" ")')" \
   "list --names: every VM of list --json, one per line"
run -c "$URI" -c "$URI" list --names
like "$out" "@fleet" "list --names on two hosts with the same VMs: NAME@HOST references"
run -c "$URI" show web01 --names
is "$(printf '%s\n' "$out" | tr '\n' ' ')" \
   "$(drover -c "$URI" show web01 --json </dev/null | python3 -c 'import json,sys; print(" ".join(p["id"] for p in sorted(json.load(sys.stdin)["recovery_points"], key=lambda p: p["time"])), end=" ")')" \
   "show --names: the recovery point ids, oldest first"
run -c "$URI" config --names
is "$out" "$URI" "config --names: the hosts' URIs"

done_testing
