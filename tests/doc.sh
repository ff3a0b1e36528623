#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# doc.sh: the documentation against the program, so the two cannot drift:
# the generated sections of the manual pages are exactly what drover prints,
# every command, option, key (ui/keys.c) and environment variable the code
# knows is documented, the pages render without a warning, the examples of
# drover.conf(5) load, the README's and drill's commands exist, bash
# completion works on a demo fleet, and `make install DESTDIR=...` lays out
# what it should (and `make uninstall` takes it back).
. "${top_srcdir:-.}/tests/lib.sh"

S=${top_srcdir:-.}
B=${top_builddir:-.}
MAN1=$S/doc/drover.1
MAN5=$S/doc/drover.conf.5
mktemp_dir
# Every drover run below, also those of the completion and of the
# installed program, reads $T/drover.conf as its system file: the audit log
# and job history stay in $T.
mkdir -p "$T/etc/drover" && cp "$T/drover.conf" "$T/etc/drover/drover.conf"
export DROVER_SYSCONFDIR="$T/etc"

# section FILE NAME: the lines of section NAME (after its .SH line, up to
# the next .SH).
section() {
    awk -v name="$2" '
        /^\.SH / { sh = substr($0, 5); gsub(/"/, "", sh); inside = (sh == name); next }
        inside { print }' "$1"
}

# generated FILE WHAT: the lines between ".\" BEGIN generated: WHAT" and
# the next ".\" END generated" (nothing when either is missing).
generated() {
    awk -v what="$2" '
        index($0, "BEGIN generated: " what) == 5 && $0 == ".\\\" BEGIN generated: " what { inside = 1; n = 0; next }
        inside && index($0, "END generated") == 5 { inside = 0; closed = 1; for (i = 1; i <= n; i++) print l[i]; next }
        inside { l[++n] = $0 }' "$1"
}

# roff_text: roff source on stdin as plain words (fonts, escapes and
# macros removed), for matching names.
roff_text() {
    sed -e 's/^\.[A-Z][A-Z]* *//' -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/\\e/\\/g' \
        -e 's/\\(dq/"/g' -e 's/\\&//g' -e 's/\\(en/-/g'
}

# tags FILE SECTION: the tag line of every .TP item in SECTION, as plain
# words separated by single spaces (quotes and commas between alternatives
# removed).
tags() {
    section "$1" "$2" | awk '/^\.TP/ { getline; print }' | roff_text |
        sed -e 's/"//g' -e 's/, / /g' -e 's/  */ /g' -e 's/^ //' -e 's/ $//'
}

# item FILE SECTION WORD: the text of the .TP item in SECTION whose tag
# starts with WORD.
item() {
    section "$1" "$2" | awk -v w="$3" '
        /^\.TP/ { getline tag; t = tag; gsub(/\\-/, "-", t); gsub(/"/, "", t); sub(/^\.[A-Z]+ */, "", t)
                  split(t, a, " "); inside = (a[1] == w); next }
        /^\.(SH|SS)/ { inside = 0 }
        inside { print }' | roff_text
}

[ -r "$MAN1" ] && [ -r "$MAN5" ] || { echo "Bail out! manual pages not found under $S/doc"; exit 99; }
"$DROVER" --version >/dev/null 2>&1 || { echo "Bail out! $DROVER does not run"; exit 99; }

# --- generated sections: exactly what the program prints --------------------
for spec in "$MAN1:decode --all --man" "$MAN5:config --man"; do
    page=${spec%%:*}
    cmd=${spec#*:}
    base=$(basename "$page")
    # shellcheck disable=SC2086
    "$DROVER" $cmd >"$T/gen.want" 2>"$T/gen.err"
    is "$?" 0 "drover $cmd: exit status 0"
    is "$(grep -c "^\.\\\\\" BEGIN generated: drover $cmd\$" "$page")" 1 "$base: one BEGIN marker for drover $cmd"
    generated "$page" "drover $cmd" >"$T/gen.got"
    [ -s "$T/gen.got" ]
    ok $? "$base: the generated section is closed by an END marker and not empty"
    if cmp -s "$T/gen.got" "$T/gen.want"; then
        ok 0 "$base: the section is exactly \`drover $cmd\` (run make update-man when it changes)"
    else
        ok 1 "$base: the section is exactly \`drover $cmd\` (run make update-man when it changes)"
        diff "$T/gen.want" "$T/gen.got" | head -20 | sed 's/^/#   /'
    fi
    # The check can fail: one changed line is noticed.
    sed '$s/$/ changed/' "$T/gen.got" >"$T/gen.bad"
    ! cmp -s "$T/gen.bad" "$T/gen.want"
    ok $? "$base: a changed line in the section would be noticed"
done
like "$(section "$MAN1" "RESULT CODES" | grep -c '^\.TP')" '^1[0-9]$' "drover.1: RESULT CODES lists the codes"
for code in $("$DROVER" decode --all | awk '/^[0-9]+ / { print $1 }'); do
    section "$MAN1" "RESULT CODES" | grep -qx "\.B $code"
    ok $? "drover.1: result code $code is documented"
done
section "$MAN1" "EXIT STATUS" | grep -q '^\.B 7$'
ok $? "drover.1: EXIT STATUS lists status 7"

# --- version and sections ---------------------------------------------------
version=$("$DROVER" --version | awk 'NR == 1 { print $2 }')
like "$version" '^[0-9]+\.[0-9]+' "drover --version gives a version"
for page in "$MAN1" "$MAN5"; do
    grep -q "^\.TH [^\"]*\"drover $version\"" "$page"
    ok $? "$(basename "$page"): .TH names drover $version"
done
for s in NAME SYNOPSIS DESCRIPTION COMMANDS OPTIONS KEYS "RESULT CODES" "EXIT STATUS" \
         ENVIRONMENT FILES EXAMPLES "SEE ALSO"; do
    grep -qx "\.SH \"*$s\"*" "$MAN1"
    ok $? "drover.1 has the section $s"
done
for s in NAME SYNOPSIS DESCRIPTION SYNTAX SETTINGS HOSTS EXAMPLES FILES ENVIRONMENT "SEE ALSO"; do
    grep -qx "\.SH \"*$s\"*" "$MAN5"
    ok $? "drover.conf.5 has the section $s"
done
section "$MAN1" "SEE ALSO" | grep -q 'drover.conf (5)'
ok $? "drover.1 refers to drover.conf(5)"
section "$MAN5" "SEE ALSO" | grep -q 'drover (1)'
ok $? "drover.conf.5 refers to drover(1)"
grep -q 'json\.md' "$MAN1" && [ -r "$S/doc/json.md" ]
ok $? "drover.1 points at json.md, which exists"

# --- commands and options: the page against --help --------------------------
"$DROVER" --help >"$T/help"
commands=$(awk '/^Commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }' "$T/help")
like "$(echo "$commands" | wc -l)" '^ *[12][0-9]$' "drover --help lists the commands"
tags "$MAN1" COMMANDS | awk '{ print $1 }' | sort >"$T/man.commands"
echo "$commands" | sort >"$T/help.commands"
if cmp -s "$T/man.commands" "$T/help.commands"; then ok 0 "drover.1 COMMANDS has exactly the commands of --help"
else ok 1 "drover.1 COMMANDS has exactly the commands of --help"; diff "$T/help.commands" "$T/man.commands" | sed 's/^/#   /'; fi
for c in $commands; do
    "$DROVER" "$c" --help >"$T/chelp" 2>&1
    opts=$(sed '/^Common options/,$d' "$T/chelp" | grep -oE -- '--[a-z][a-z-]*' | sort -u)
    text=$(item "$MAN1" COMMANDS "$c")
    missing=
    for o in $opts; do
        printf '%s\n' "$text" | grep -q -- "$o\\b" || missing="$missing $o"
    done
    is "$missing" "" "drover.1 COMMANDS $c: every option of \`drover $c --help\`"
done
longs=$(sed -n '/^Options:/,/^$/p' "$T/help" | grep -oE -- '(^| )--[a-z][a-z-]*' | tr -d ' ' | sort -u)
shorts=$(sed -n '/^Options:/,/^$/p' "$T/help" | grep -oE -- '^  -[a-zA-Z]' | tr -d ' ' | sort -u)
like "$(echo "$longs" | wc -l)" '^ *(1[5-9]|[23][0-9])$' "drover --help lists the options"
tags "$MAN1" OPTIONS >"$T/man.options"
for o in $longs $shorts; do
    grep -qE -- "(^| )$o( |$)" "$T/man.options"
    ok $? "drover.1 OPTIONS documents $o"
done
# Every option of the page is one the program lists (in drover --help or
# in drover COMMAND --help).
for c in $commands; do "$DROVER" "$c" --help; done 2>&1 | grep -oE -- '--[a-z][a-z-]*' >"$T/all.options"
printf '%s\n' $longs >>"$T/all.options"
for o in $(grep -oE -- '--[a-z][a-z-]*' "$T/man.options" | sort -u); do
    grep -qx -- "$o" "$T/all.options"
    ok $? "drover.1 OPTIONS: $o is an option drover's --help lists"
done

# --- keys: every key of ui/keys.c's table, and only those --------------------
# Rows look like: { { KEY_UP, 'k' }, "Up k", "move up", 0, 0, act_up },
sed -n 's/^ *{ *{[^}]*}, *"\([^"]*\)", *"[^"]*", *\([01]\),.*/\2 \1/p' "$S/ui/keys.c" >"$T/keys"
like "$(wc -l <"$T/keys")" '^ *(1[5-9]|[2-4][0-9])$' "ui/keys.c: the key table was found ($(wc -l <"$T/keys") keys)"
section "$MAN1" KEYS | awk '/^\.TP/ { getline tag; getline text; print tag "\t" text }' |
    roff_text | sed -e 's/"//g' -e 's/, / /g' -e 's/  */ /g' >"$T/man.keys"
while read -r mut names; do
    line=$(awk -F '\t' -v n="$names" '$1 == n' "$T/man.keys")
    [ -n "$line" ]
    ok $? "drover.1 KEYS documents \"$names\""
    case "$line" in
        *"	* "*) star=1 ;;
        *) star=0 ;;
    esac
    [ -z "$line" ] || is "$star" "$mut" "drover.1 KEYS: \"$names\" is marked * exactly when it changes VMs"
done <"$T/keys"
cut -f1 "$T/man.keys" >"$T/man.keynames"
while read -r names; do
    awk -v n="$names" '{ m = $0; sub(/^[01] /, "", m) } m == n { f = 1 } END { exit !f }' "$T/keys"
    ok $? "drover.1 KEYS: \"$names\" is a key of ui/keys.c"
done <"$T/man.keynames"

# --- environment: every variable the code reads -------------------------------
vars=$(cat "$S"/src/*/*.c "$S"/ui/*.c | grep -oE 'getenv\("[A-Z_]+"\)' | sed 's/getenv("\(.*\)")/\1/' | sort -u)
like "$vars" 'DROVER_SYSCONFDIR' "the code's getenv() calls were found"
tags "$MAN1" ENVIRONMENT >"$T/man.env"
for v in $vars; do
    case $v in HOME) continue ;; esac   # the user's home, as everywhere
    grep -qE "(^| )$v( |$)" "$T/man.env"
    ok $? "drover.1 ENVIRONMENT documents $v"
done

# --- settings: the sample names them all, the examples load -------------------
settings=$("$DROVER" config --man | sed -n 's/^\\fB\([a-z_]*\)\\fR.*/\1/p')
like "$(echo "$settings" | wc -l)" '^ *([5-9]|1[0-9])$' "drover config --man lists the settings"
for s in $settings; do
    grep -qE "^#? *$s *=" "$S/conf/drover.conf"
    ok $? "conf/drover.conf shows the setting $s"
done
"$DROVER" --config "$S/conf/drover.conf" config >/dev/null 2>"$T/err"
ok $? "conf/drover.conf loads"
section "$MAN5" EXAMPLES | awk -v dir="$T" '
    /^\.EX/ { n++; f = dir "/example" n ".conf"; on = 1; next }
    /^\.EE/ { on = 0; close(f); next }
    on { print > f }'
n=0
for f in "$T"/example*.conf; do
    [ -f "$f" ] || continue
    n=$((n + 1))
    roff_text <"$f" >"$f.plain"
    "$DROVER" --config "$f.plain" config >/dev/null 2>"$T/err"
    ok $? "drover.conf.5 example $n loads ($(head -1 "$f.plain"))"
done
like "$n" '^[2-9]$' "drover.conf.5 has examples"
printf 'refresh_interval = 0;\n' >"$T/bad.conf"
"$DROVER" --config "$T/bad.conf" config >/dev/null 2>"$T/err"
is "$?" 2 "a bad configuration is refused (so the examples' check can fail)"

# --- rendering: no warnings --------------------------------------------------
if command -v groff >/dev/null 2>&1; then
    for page in "$MAN1" "$MAN5"; do
        for ll in 50n 65n 78n 120n; do
            w=$(groff -man -z -ww -Tutf8 -rLL=$ll "$page" 2>&1)
            is "$w" "" "$(basename "$page"): groff -man -ww at line length $ll: no warnings"
        done
    done
else
    diag "groff not found: rendering not checked"
fi
if command -v mandoc >/dev/null 2>&1; then
    for page in "$MAN1" "$MAN5"; do
        w=$(mandoc -Tlint -Wwarning "$page" 2>&1)
        is "$w" "" "$(basename "$page"): mandoc -Tlint: no warnings"
    done
fi

# --- README and drill ----------------------------------------------------------
grep -qx '    ./bootstrap && make demo' "$S/README.md"
ok $? "README.md: the demo quick start"
grep -qx '    ./bootstrap && make check' "$S/README.md"
ok $? "README.md: the test quick start"
for doc in README.md doc/drill.md; do
    dir=$(dirname "$S/$doc")
    for link in $(grep -oE '\]\([^)#]+' "$S/$doc" | sed 's/^](//' | grep -v '://' | sort -u); do
        [ -e "$dir/$link" ]
        ok $? "$doc: the link $link exists"
    done
done
grep -h '^ *\$ drover ' "$S/doc/drill.md" >"$T/drill.cmds"
like "$(wc -l <"$T/drill.cmds")" '^ *([5-9]|[1-9][0-9])$' "doc/drill.md shows drover commands"
while read -r _ _ line; do
    # shellcheck disable=SC2086
    set -- $line
    c=
    while [ $# -gt 0 ]; do
        case $1 in
            -c|--config|--dir|--point|--reason|--vms) shift ;;
            -*) ;;
            *) c=$1; break ;;
        esac
        shift
    done
    printf '%s\n' "$commands" | grep -qx -- "$c"
    ok $? "doc/drill.md: drover $c is a command"
    for o in $(printf '%s\n' "$line" | grep -oE -- '--[a-z][a-z-]*'); do
        grep -qx -- "$o" "$T/all.options"
        ok $? "doc/drill.md: $o is an option"
    done
done <"$T/drill.cmds"

# --- bash completion -----------------------------------------------------------
COMP=$S/contrib/bash-completion/drover
if command -v bash >/dev/null 2>&1; then
    bash -n "$COMP"
    ok $? "bash completion: valid bash"
    make_fleet "$T/f" || { echo "Bail out! drover demo failed"; exit 99; }
    U1=$URI
    make_fleet "$T/g" || { echo "Bail out! drover demo failed"; exit 99; }
    U2=$URI
    # comp WORD...: the completions of the last WORD, sorted, one line.
    comp() {
        DROVER_COMPLETION_TIMEOUT=${CTIMEOUT:-10} bash -c '
            . "$1"; shift
            COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
            _drover; printf "%s\n" "${COMPREPLY[@]}"' sh "$COMP" "$DROVER" "$@" | sort | tr '\n' ' ' | sed 's/ $//'
    }
    is "$(comp "")" "$(echo "$commands" | sort | tr '\n' ' ' | sed 's/ $//')" "completion: the commands of --help"
    is "$(comp rev)" "reverse-replication revert" "completion: a command from its start"
    is "$(comp --c)" "--config --connect" "completion: global options"
    for c in $commands; do
        "$DROVER" "$c" --help >"$T/chelp" 2>&1
        got=" $(comp "$c" --) "
        missing=
        for o in $(sed '/^Common options/,$d' "$T/chelp" | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
            case $got in *" $o "*) ;; *) missing="$missing $o" ;; esac
        done
        is "$missing" "" "completion: $c offers every option of \`drover $c --help\`"
    done
    names=$("$DROVER" -c "$U1" list | awk 'NR > 1 { print $2 }' | sort | tr '\n' ' ' | sed 's/ $//')
    like "$names" "web01" "drover list shows the demo's VMs"
    is "$(comp -c "$U1" show "")" "$names" "completion: VM names from drover list on the -c host"
    is "$(comp -c "$U1" revert we)" "web01 web02 web03" "completion: VM names from their start"
    is "$(comp -c "$U1" revert web01 "")" "" "completion: nothing after the VM"
    # bash splits "test:///x" at the colon (COMP_WORDBREAKS).
    is "$(comp -c test : "${U1#test:}" revert we)" "web01 web02 web03" \
        "completion: VM names when bash split the URI at ':'"
    is "$(comp --config "$T/drover.conf" -c "$U1" check web0)" "web01 web02 web03" \
        "completion: with --config on the line"
    is "$(comp -c "$U1" -c "$U2" show web01)" "web01 web01@fleet web01@fleet-2" \
        "completion: NAME@HOST for a name on two hosts"
    points=$("$DROVER" -c "$U1" show web02 | awk '/recovery points/ { on = 1; next } on && /^    rp-/ { print $1 }' |
             sort | tr '\n' ' ' | sed 's/ $//')
    like "$points" "^rp-0001 .*rp-0006$" "drover show lists web02's recovery points"
    is "$(comp -c "$U1" failover web02 --point "")" "$points" "completion: --point ID from drover show"
    is "$(comp -c "$U1" test-failover web02 --point rp-000)" "$points" "completion: --point ID from its start"
    is "$(comp -c "$U1" failover web02 --point = "")" "$points" "completion: --point=ID split at '='"
    is "$(comp -c "$U1" failover web02 --point=rp-0006)" "--point=rp-0006" "completion: --point=ID as one word"
    is "$(comp -c "$U1" failover --point "")" "" "completion: no points before the VM is named"
    is "$(comp decode 3277)" "32770 32771 32772 32773 32774 32775 32776 32777 32778 32779" \
        "completion: result codes for decode"
    is "$(comp -c qemu : ///s)" "///session ///system" "completion: -c URI after bash split it at ':'"
    mkdir -p "$T/d/dir1" "$T/d/dir2" && : >"$T/d/file1"
    is "$(comp --config "$T/d/fi")" "$T/d/file1" "completion: files for --config"
    is "$(comp demo --dir "$T/d/")" "$T/d/dir1 $T/d/dir2" "completion: directories for --dir"
    # Failures give nothing, quickly.
    is "$(comp -c "test:///$T/none/fleet.xml" show "")" "" "completion: nothing from a host that fails"
    printf '#!/bin/sh\nexec sleep 30\n' >"$T/slow-drover"
    chmod +x "$T/slow-drover"
    start=$(date +%s)
    got=$(DROVER_COMPLETION_TIMEOUT=1 bash -c '
        . "$1"; COMP_WORDS=("$2" show ""); COMP_CWORD=2; _drover; echo "${COMPREPLY[*]}"' sh "$COMP" "$T/slow-drover")
    took=$(($(date +%s) - start))
    is "$got" "" "completion: nothing from a drover that hangs"
    [ "$took" -lt 10 ]
    ok $? "completion: a hanging drover is given up on after the time limit (${took}s)"
else
    diag "bash not found: completion not checked"
fi

# --- make install / uninstall ------------------------------------------------
if command -v make >/dev/null 2>&1 && [ -f "$B/Makefile" ]; then
    # Not under the make that runs this test: no jobserver, no flags.
    unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
    R=$T/root
    eval "$(make -s --no-print-directory -C "$B" print-install-dirs)"
    like "$bindir" '^/' "make print-install-dirs: bindir $bindir"
    make -C "$B" install DESTDIR="$R" >"$T/install.log" 2>&1
    rc=$?
    is "$rc" 0 "make install DESTDIR=...: exit status 0"
    [ "$rc" -eq 0 ] || tail -20 "$T/install.log" | sed 's/^/#   /'
    [ -x "$R$bindir/drover" ]
    ok $? "installed: $bindir/drover"
    "$R$bindir/drover" --version >/dev/null 2>&1
    ok $? "installed: drover --version runs"
    cmp -s "$R$mandir/man1/drover.1" "$MAN1"
    ok $? "installed: $mandir/man1/drover.1"
    cmp -s "$R$mandir/man5/drover.conf.5" "$MAN5"
    ok $? "installed: $mandir/man5/drover.conf.5"
    cmp -s "$R$sysconfdir/drover/drover.conf" "$S/conf/drover.conf"
    ok $? "installed: $sysconfdir/drover/drover.conf, the sample"
    cmp -s "$R$docdir/examples/drover.conf" "$S/conf/drover.conf"
    ok $? "installed: $docdir/examples/drover.conf"
    for d in README.md json.md drill.md; do
        [ -s "$R$docdir/$d" ]
        ok $? "installed: $docdir/$d"
    done
    if [ -n "$bashcompdir" ]; then
        cmp -s "$R$bashcompdir/drover" "$COMP"
        ok $? "installed: $bashcompdir/drover"
    fi
    [ -s "$R$logrotatedir/drover" ] &&
        grep -qx "$localstatedir/log/drover/audit.log {" "$R$logrotatedir/drover"
    ok $? "installed: $logrotatedir/drover rotates $localstatedir/log/drover/audit.log"
    for f in COPYING NEWS; do
        [ -s "$S/$f" ]
        ok $? "the source tree has $f"
    done
    # --localstatedir reaches the program: root's default audit log is there.
    if [ "$(id -u)" -eq 0 ]; then
        got=$(XDG_CONFIG_HOME="$T/none" DROVER_SYSCONFDIR="$T/none" "$R$bindir/drover" config --json 2>/dev/null |
              python3 -c 'import json,sys; print(json.load(sys.stdin)["audit_log"])' 2>/dev/null)
        is "$got" "$localstatedir/log/drover/audit.log" "root's audit log is under --localstatedir"
    fi
    # An administrator's file survives a new install, and an uninstall.
    echo 'refresh_interval = 9;' >>"$R$sysconfdir/drover/drover.conf"
    cp "$R$sysconfdir/drover/drover.conf" "$T/mine.conf"
    make -C "$B" install DESTDIR="$R" >"$T/install2.log" 2>&1
    is "$?" 0 "make install again: exit status 0"
    cmp -s "$R$sysconfdir/drover/drover.conf" "$T/mine.conf"
    ok $? "make install again keeps the changed drover.conf"
    grep -q 'left as it is' "$T/install2.log"
    ok $? "make install says it left drover.conf as it is"
    make -C "$B" uninstall DESTDIR="$R" >"$T/uninstall.log" 2>&1
    is "$?" 0 "make uninstall: exit status 0"
    is "$(cd "$R" && find . -type f | sort | tr '\n' ' ')" ".$sysconfdir/drover/drover.conf " \
        "make uninstall removes everything but the changed drover.conf"
    cp "$S/conf/drover.conf" "$R$sysconfdir/drover/drover.conf"
    make -C "$B" uninstall DESTDIR="$R" >"$T/uninstall2.log" 2>&1
    [ ! -e "$R$sysconfdir/drover/drover.conf" ]
    ok $? "make uninstall removes drover.conf while it is the sample"
else
    diag "make or the build's Makefile not found: installation not checked"
fi

done_testing
