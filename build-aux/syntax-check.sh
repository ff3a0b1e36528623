#!/bin/sh
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
echo "1..$n"
[ "$failed" -eq 0 ]
