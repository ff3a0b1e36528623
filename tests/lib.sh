# SPDX-License-Identifier: GPL-2.0-or-later
# lib.sh: TAP helpers and fixtures for drover's shell tests.
# Source it: . "$top_srcdir/tests/lib.sh"
# The environment of `make check` sets DROVER, QEMU_IMG, top_srcdir, ...

: "${DROVER:=${top_builddir:-.}/drover}"
: "${QEMU_IMG:=qemu-img}"
export LC_ALL=C TZ=UTC
# Never let a developer's configuration leak into a test.
export XDG_CONFIG_HOME="${TMPDIR:-/tmp}/drover-test-noconf.$$" DROVER_SYSCONFDIR=/nonexistent
unset LIBVIRT_DEFAULT_URI SSH_CONNECTION

tap_n=0
tap_failed=0

ok() {  # ok CONDITION_STATUS DESCRIPTION  (use: cmd; ok $? "desc")
    tap_n=$((tap_n + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $tap_n - $2"
    else
        tap_failed=$((tap_failed + 1))
        echo "not ok $tap_n - $2"
    fi
}

is() {  # is GOT WANT DESCRIPTION
    tap_n=$((tap_n + 1))
    if [ "$1" = "$2" ]; then
        echo "ok $tap_n - $3"
    else
        tap_failed=$((tap_failed + 1))
        echo "not ok $tap_n - $3"
        echo "#   got:      '$1'"
        echo "#   expected: '$2'"
    fi
}

like() {  # like TEXT PATTERN(grep -E) DESCRIPTION
    tap_n=$((tap_n + 1))
    if printf '%s\n' "$1" | grep -Eq -- "$2"; then
        echo "ok $tap_n - $3"
    else
        tap_failed=$((tap_failed + 1))
        echo "not ok $tap_n - $3"
        printf '%s\n' "$1" | head -20 | sed 's/^/#   /'
        echo "#   did not match: $2"
    fi
}

diag() { echo "# $*"; }

skip_all() { echo "1..0 # SKIP $*"; exit 0; }

done_testing() {
    echo "1..$tap_n"
    # Private daemons (tests/qemu-lib.sh) keep their pid files in $T: stop
    # them before $T goes, or nothing could find them afterwards.
    if command -v qemu_stop >/dev/null 2>&1; then
        qemu_stop_all >/dev/null 2>&1
        qemu_stop >/dev/null 2>&1
    fi
    if [ "$tap_failed" -eq 0 ] && [ -n "${T:-}" ]; then
        rm -rf "$T"
    elif [ -n "${T:-}" ]; then
        echo "# $tap_failed failed; files kept in $T"
    fi
    [ "$tap_failed" -eq 0 ]
}

# A private temporary directory for this test ($T) and a configuration
# that keeps the audit log and job history inside it ($T/drover.conf),
# so tests run as root never write to /var.  Use `drover ARGS` to run it.
mktemp_dir() {
    T=$(mktemp -d "${TMPDIR:-/tmp}/drover-test.XXXXXX") || exit 99
    export XDG_STATE_HOME="$T/state"
    # Audit lines go to this socket instead of the system log (nobody
    # listens unless a test does: syslog_listen).
    export DROVER_SYSLOG_SOCKET="$T/syslog.sock"
    cat >"$T/drover.conf" <<EOC
audit_log = "$T/audit.log";
job_history = "$T/jobs.jsonl";
shutdown_timeout = 5;
EOC
}

drover() { "$DROVER" --config "$T/drover.conf" "$@"; }

# make_fleet DIR [VMS]: a demo fleet; sets URI.
make_fleet() {
    "$DROVER" demo --no-console --dir "$1" ${2:+--vms "$2"} >"$1.uri" 2>/dev/null || return 1
    URI=$(cat "$1.uri")
}

# Checksums of every recovery-point and base file under DIR, one per line.
rp_sums() {
    find "$1" -name '*.rp-*.qcow2' -o -name '*.base.qcow2' | sort | xargs -r sha256sum
}

# json_get JSON EXPR: a value from JSON (python3 is on every Debian).
json_get() {
    printf '%s' "$1" | python3 -c "import json,sys; d=json.load(sys.stdin); print($2)"
}

# wait_for FILE PATTERN TENTHS: until FILE has a line matching PATTERN
# (grep -E), polled every 0.1 s; 1 when TENTHS polls found none.
wait_for() {
    _n=0
    until grep -Eq -- "$2" "$1" 2>/dev/null; do
        [ "$_n" -ge "$3" ] && return 1
        sleep 0.1
        _n=$((_n + 1))
    done
}

# wait_job ID PYTHON-CONDITION: polls `drover jobs ID --json` until the
# condition on j (the job object) holds; 0, or 1 (saying so, with the last
# answer) after 120 s.  (Its exit status is the job's result's: a failed
# job's is not 0, so the output is what counts.)
wait_job() {
    _n=0
    while [ "$_n" -lt 1200 ]; do
        drover jobs "$1" --json </dev/null >"$T/job.json" 2>/dev/null
        if "${PYTHON:-python3}" - "$T/job.json" "$2" <<'EOF'
import json, sys
try:
    j = json.load(open(sys.argv[1]))["job"]
except (ValueError, KeyError):
    sys.exit(1)
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
        then
            return 0
        fi
        _n=$((_n + 1))
        sleep 0.1
    done
    diag "job $1: condition not met after 120 s: $2"
    sed 's/^/#   /' "$T/job.json"
    return 1
}
