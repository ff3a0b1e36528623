#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# make syntax-check on the tree, then proof that its layering rules can
# fail: scratch trees that break each rule once must be refused.
. "${top_srcdir:-.}/tests/lib.sh"
check=${top_srcdir:-.}/build-aux/syntax-check.sh

out=$(sh "$check" "${top_srcdir:-.}" 2>&1)
ok $? "make syntax-check passes on the tree"
printf '%s\n' "$out" | grep '^not ok' | sed 's/^/# /'

mktemp_dir
# scratch NAME: a minimal tree with one file per layer, each including the
# layer below it, which passes; the caller then breaks one rule.
scratch() {
    s="$T/$1"
    prev=
    for l in base record chain hv ops repl face model; do
        mkdir -p "$s/src/$l"
        {
            echo '/* SPDX-License-Identifier: GPL-2.0-or-later */'
            echo '#include <config.h>'
            [ -n "$prev" ] && echo "#include \"$prev/$prev.h\""
            echo "int ${l}_x;"
        } >"$s/src/$l/$l.c"
        printf '/* SPDX-License-Identifier: GPL-2.0-or-later */\n/* %s */\n' "$l" >"$s/src/$l/$l.h"
        prev=$l
    done
    mkdir -p "$s/ui"
}
refused() {  # refused NAME RULE-TEXT DESCRIPTION
    out=$(sh "$check" "$T/$1" 2>&1)
    rc=$?
    [ $rc -ne 0 ] && printf '%s\n' "$out" | grep -q "^not ok .* - $2"
    ok $? "$3"
    printf '%s\n' "$out" | awk '/^not ok/ { p = 1; print; next } /^#/ && p { print; next } { p = 0 }' |
        sed 's/^/#   /'
}

scratch clean
sh "$check" "$T/clean" >/dev/null 2>&1
ok $? "a scratch tree that keeps the layers passes"

scratch upward
printf '#include "ops/ops.h"\n' >>"$T/upward/src/chain/chain.c"
refused upward "a folder of src/ includes only from the layers below it" \
    "chain/ including ops/ops.h is refused"
out=$(sh "$check" "$T/upward" 2>&1)
like "$out" "src/chain/chain.c:[0-9]+: chain/ reaches up into ops/" \
    "the refusal names the file, the line and both layers"

scratch upward-header
printf '#include "model/model.h"\n' >>"$T/upward-header/src/hv/hv.h"
refused upward-header "a folder of src/ includes only from the layers below it" \
    "a header of hv/ including model/model.h is refused"

scratch bare
printf '#include "base.h"\n' >>"$T/bare/src/record/record.c"
refused bare "includes of drover's headers name their folder" \
    "an include without its folder is refused"

scratch flat
printf '/* SPDX-License-Identifier: GPL-2.0-or-later */\n#include <config.h>\n' >"$T/flat/src/loose.c"
refused flat "every file of src/ lies in a layer's folder" \
    "a file directly in src/ is refused"

scratch unknown
mkdir -p "$T/unknown/src/misc" &&
    printf '/* SPDX-License-Identifier: GPL-2.0-or-later */\n#include <config.h>\n' >"$T/unknown/src/misc/m.c"
refused unknown "every file of src/ lies in a layer's folder" \
    "a folder that is no layer is refused"

scratch priv
printf '/* SPDX-License-Identifier: GPL-2.0-or-later */\n' >"$T/priv/src/ops/ops-priv.h"
printf '#include "ops/ops-priv.h"\n' >>"$T/priv/src/face/face.c"
refused priv "a -priv.h is included only by its own folder" \
    "another folder including ops/ops-priv.h is refused"

scratch virt
printf '#include <libvirt/libvirt.h>\n' >>"$T/virt/src/ops/ops.c"
refused virt "only src/hv/ includes libvirt in src/" \
    "libvirt outside src/hv/ is refused"

scratch curses
printf '#include <ncurses.h>\n' >>"$T/curses/src/model/model.c"
refused curses "src/ never includes curses" "curses in src/ is refused"

scratch nolicence
printf '#include <config.h>\nint x;\n' >"$T/nolicence/src/base/nolicence.c"
refused nolicence "every source file has its SPDX licence line" "a C file without its SPDX line is refused"
mkdir -p "$T/nolicence2/tests" && scratch nolicence2
printf '#!/bin/sh\necho hi\n' >"$T/nolicence2/tests/x.sh"
refused nolicence2 "every source file has its SPDX licence line" "a test script without its SPDX line is refused"

done_testing
