#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# ops-files.sh: the quick check that each file a record names is there
# (list and the console's rows, src/ops/health.c) on what operators do to
# the files: a replica's directory moved away and put back as a link, one
# file gone (the first, one in the middle, the last), a directory its
# reader cannot search.  Each gives the state and the problem it should.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/ops-common.sh"

command -v "$QEMU_IMG" >/dev/null 2>&1 || skip_all "qemu-img not found"
command -v "$PYTHON" >/dev/null 2>&1 || skip_all "python3 not found"

mktemp_dir
F=$T/f
"$DROVER" demo --no-console --dir "$F" >/dev/null 2>"$T/demo.err"
ok $? "a demo fleet"
URI="test://$F/fleet.xml"

# row NAME FIELDS: the fields of NAME's row in a fresh list --json.
row() {
    run -c "$URI" list --json
    cp "$T/out" "$T/list.json"
    jq_ "$T/list.json" "[tuple(v[k] for k in '$2'.split()) for v in d if v['name'] == '$1'][0]"
}

is "$(row web02 'health_name problem')" "('Normal', None)" "web02 is Normal with its directory in place"

# Its directory moved away: every file is missing, the first named.
mv "$F/vms/web02" "$F/vms/web02.moved"
is "$(row web02 'health_name problem')" \
    "('Critical', 'recovery point rp-0001 disk vda $F/vms/web02/vda.rp-0001.qcow2 is missing')" \
    "web02's directory moved away: Critical, its first file missing"

# Back as a link to where it went: the files are there again.
ln -s web02.moved "$F/vms/web02"
is "$(row web02 'health_name problem')" "('Normal', None)" "web02's directory a link to the moved one: Normal"
rm "$F/vms/web02"
mv "$F/vms/web02.moved" "$F/vms/web02"

# One file gone among others of the same directory: the first looked up,
# one in the middle, or the last (the failover disk, after six points).
for f in vda.rp-0001.qcow2 vda.rp-0003.qcow2 "$(cd "$F/vms/web02" && echo vda.failover-*.qcow2)"; do
    mv "$F/vms/web02/$f" "$T/moved.qcow2"
    case $f in
    *failover*) what="failover disk vda" ;;
    *) what="recovery point $(echo "$f" | sed 's/^vda\.\(rp-[0-9]*\)\.qcow2$/\1/') disk vda" ;;
    esac
    is "$(row web02 'health_name problem')" "('Critical', '$what $F/vms/web02/$f is missing')" \
        "web02 without $f alone: Critical, that file named"
    mv "$T/moved.qcow2" "$F/vms/web02/$f"
done
is "$(row web02 'health_name problem')" "('Normal', None)" "web02 with every file back: Normal"

# A directory its reader cannot search: unreadable, not missing (root
# searches every directory, so as root this part runs as user nobody).
want="recovery point rp-0001 disk vda $F/vms/web03/vda.rp-0001.qcow2 is unreadable"
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null &&
   setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$DROVER"; then
    chmod 755 "$T" "$F" "$F/vms"
    chmod -R a+rX "$F"
    chmod 700 "$F/vms/web03"
    setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/nonexistent \
        XDG_STATE_HOME="$T/nobody-state" "$DROVER" --config "$T/drover.conf" -c "$URI" list --json \
        </dev/null >"$T/out" 2>"$T/err"
    is "$(jq_ "$T/out" "[v['problem'] for v in d if v['name'] == 'web03'][0]")" "$want" \
        "web03's directory not searchable by its reader: its first file is unreadable"
    chmod 755 "$F/vms/web03"
    chmod 700 "$T"
elif [ "$(id -u)" -ne 0 ]; then
    chmod 600 "$F/vms/web03"
    is "$(row web03 'problem')" "('$want',)" \
        "web03's directory not searchable by its reader: its first file is unreadable"
    chmod 755 "$F/vms/web03"
else
    tap_n=$((tap_n + 1))
    echo "ok $tap_n # SKIP root searches every directory and user nobody cannot run $DROVER"
fi

done_testing
