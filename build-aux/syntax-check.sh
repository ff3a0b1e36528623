#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Layering and banned-call rules from doc/coding-style.md, as TAP.
# Usage: syntax-check.sh [TOP_SRCDIR]
top=${1:-${top_srcdir:-.}}
cd "$top" || exit 99
n=0 failed=0
check() {  # check DESCRIPTION OUTPUT
    n=$((n + 1))
    if [ -z "$2" ]; then
        echo "ok $n - $1"
    else
        failed=$((failed + 1))
        echo "not ok $n - $1"
        printf '%s\n' "$2" | sed 's/^/#   /'
    fi
}
csrc() { find "$@" -name '*.[ch]' 2>/dev/null | sort; }

check "src/ never includes curses" \
    "$(csrc src | xargs -r grep -nE '#[[:space:]]*include[[:space:]]*[<"](n?curses|ncursesw/|term\.h|panel\.h)' )"
check "ui/ never includes libvirt" \
    "$(csrc ui | xargs -r grep -nE '#[[:space:]]*include[[:space:]]*<libvirt/')"
check "no strcpy/sprintf/strcat/atoi/gets" \
    "$(csrc src ui tests bench | xargs -r grep -nwE '(strcpy|sprintf|vsprintf|strcat|atoi|atol|gets)[[:space:]]*\(')"
check "config.h is included first in every .c file" \
    "$(for f in $(csrc src ui | grep '\.c$'); do
          first=$(grep -m1 '#[[:space:]]*include' "$f")
          case "$first" in *'<config.h>'*) ;; *) echo "$f: $first";; esac
       done)"
check "headers never include config.h" \
    "$(csrc src ui | grep '\.h$' | xargs -r grep -n 'include.*config\.h')"
check "no tabs in C sources" \
    "$(csrc src ui | xargs -r grep -nP '\t' | head -20)"
check "no trailing whitespace in C sources" \
    "$(csrc src ui tests | xargs -r grep -nE '[[:space:]]+$' | head -20)"
check "only src/hv/ includes libvirt in src/" \
    "$(csrc src | grep -v '^src/hv/' | xargs -r grep -ln '#include <libvirt/' )"

# The layers, bottom first (doc/coding-style.md): a folder of src/ includes
# only from itself and the folders before it; ui/ sits on all of them.
layers="base record chain hv ops repl face model"
rank() {  # rank FOLDER: its place in $layers, or nothing
    i=0
    for l in $layers; do
        [ "$l" = "$1" ] && { echo $i; return; }
        i=$((i + 1))
    done
}
check "every file of src/ lies in a layer's folder" \
    "$(csrc src | while read -r f; do
          d=${f#src/}; d=${d%%/*}
          case "$f" in src/*/*) ;; *) echo "$f: not in a layer's folder"; continue;; esac
          [ -n "$(rank "$d")" ] || echo "$f: $d is not a layer ($layers)"
       done)"
check "includes of drover's headers name their folder" \
    "$(csrc src | xargs -r grep -nE '#[[:space:]]*include[[:space:]]*"[^"/]*"')"
check "a folder of src/ includes only from the layers below it" \
    "$(csrc src | while read -r f; do
          d=${f#src/}; d=${d%%/*}; me=$(rank "$d")
          [ -n "$me" ] || continue
          grep -nE '#[[:space:]]*include[[:space:]]*"[^"]*/' "$f" |
          while IFS= read -r line; do
              inc=${line#*\"}; inc=${inc%%/*}
              them=$(rank "$inc")
              if [ -z "$them" ]; then
                  echo "$f:${line%%:*}: $inc/ is not a layer"
              elif [ "$them" -gt "$me" ]; then
                  echo "$f:${line%%:*}: $d/ reaches up into $inc/"
              fi
          done
       done)"
check "a -priv.h is included only by its own folder" \
    "$(csrc src ui tests bench | xargs -r grep -nE '#[[:space:]]*include[[:space:]]*"[^"]*-priv\.h"' |
       while IFS= read -r line; do
           f=${line%%:*}; inc=${line#*\"}; inc=${inc%%/*}
           case "$f" in src/"$inc"/*) ;; *) echo "$line";; esac
       done)"
# Every source file carries its licence (GPL-2.0-or-later, COPYING) in an
# SPDX line within its first three lines.
spdx_files() {
    find src ui tests bench \( -path tests/fuzz/corpus -o -path tests/fuzz/regressions \
         -o -path tests/data \) -prune -o -type f \
         \( -name '*.[ch]' -o -name '*.sh' -o -name '*.exp' -o -name '*.tcl' -o -name '*.py' \) \
         -print 2>/dev/null
    find mk -name '*.am' 2>/dev/null
    for f in Makefile.am configure.ac bootstrap build-aux/syntax-check.sh \
             contrib/bash-completion/drover contrib/logrotate/drover.in \
             contrib/systemd/drover-replicate.service.in contrib/systemd/drover-replicate.timer; do
        [ -f "$f" ] && echo "$f"
    done
}
check "every source file has its SPDX licence line" \
    "$(spdx_files | sort | while read -r f; do
          head -3 "$f" | grep -q 'SPDX-License-Identifier: GPL-2.0-or-later' || echo "$f"
       done)"

echo "1..$n"
[ "$failed" -eq 0 ]
