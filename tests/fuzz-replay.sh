#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Replays every fuzz target's seed corpus and crash regressions through the
# target built without libFuzzer (tests/fuzz/replay-TARGET): any input that
# once crashed, or breaks an invariant the target asserts, fails here.
. "${top_srcdir:-.}/tests/lib.sh"
src=${top_srcdir:-.}/tests/fuzz
bin=${top_builddir:-.}/tests/fuzz
# Matters in an --enable-asan build: a leak inside libconfig is not ours.
LSAN_OPTIONS="suppressions=$src/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export LSAN_OPTIONS

for t in qcow2 replica conf domxml; do
    n=$(ls "$src/corpus/$t" 2>/dev/null | wc -l)
    [ "$n" -gt 0 ]; ok $? "$t: seed corpus present ($n files)"
    set -- "$src/corpus/$t"
    r=0
    if [ -d "$src/regressions/$t" ]; then
        set -- "$@" "$src/regressions/$t"
        r=$(ls "$src/regressions/$t" | wc -l)
    fi
    out=$("$bin/replay-$t" "$@" 2>&1)
    rc=$?
    [ "$rc" -eq 0 ]; ok $? "$t: $n seeds and $r regressions replay cleanly"
    [ "$rc" -eq 0 ] || printf '%s\n' "$out" | tail -20 | sed 's/^/#   /'
    like "$out" "replay: $((n + r)) inputs$" "$t: every input ran"
done

# The driver itself must fail on a crashing target input and name it.
out=$("$bin/replay-replica" "$src/no-such-input" 2>&1)
[ $? -ne 0 ]; ok $? "replay fails on an unreadable input"
like "$out" "no-such-input" "and names it"

done_testing
