#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# repl-nvram.sh: enable-replication of a UEFI primary (a pflash loader of
# ours and an NVRAM file) copies the primary's NVRAM into the replica's
# directory, the plan names the copy, the replica's definition points at
# it, and the primary's file is only read; cycles and disable-replication
# leave the copy alone; a second enable into a directory that already holds
# an nvram.fd is refused and writes nothing.
REPL_UEFI=1
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/qemu-lib.sh"
. "${top_srcdir:-.}/tests/repl-lib.sh"

PNV=$TOP/prim/VARS.fd
COPY=$DIR/nvram.fd
nvram_of() {  # nvram_of VIRSH_FN NAME: the file <nvram> names
    "$1" dumpxml --inactive "$2" 2>/dev/null | sed -n 's|.*<nvram[^>]*>\(.*\)</nvram>.*|\1|p'
}
like "$(pvirsh dumpxml --inactive "$VM")" "<nvram>$PNV</nvram>" "the primary names its NVRAM"
p_sum=$(sha256sum <"$PNV")
p_mtime=$(command stat -c %Y.%y "$PNV")

# The plan lists the copy.
out=$(dr enable-replication "$VM" --from "$PURI" --dir "$DIR" --nbd "127.0.0.1:$PORT" --dry-run 2>&1)
is "$?" 0 "enable-replication --dry-run: exit 0"
like "$out" "create: +$COPY \(nvram, 128(\.0)? KiB, a copy of the primary's $PNV, which is only read\)" \
    "the plan names the NVRAM copy it creates, and the primary's file it reads"
[ -e "$COPY" ]
ok $((! $?)) "a dry run copies nothing"
out=$(dr enable-replication "$VM" --from "$PURI" --dir "$DIR" --nbd "127.0.0.1:$PORT" --dry-run --json 2>/dev/null)
is "$(json_get "$out" 'd["plan"]["nvram"], d["plan"]["primary_nvram"]')" "$COPY $PNV" \
    "--json: the plan's nvram and primary_nvram"

out=$(dr enable-replication "$VM" --from "$PURI" --dir "$DIR" --nbd "127.0.0.1:$PORT" --yes 2>&1)
rc=$?
is "$rc" 0 "enable-replication: exit 0"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
cmp -s "$COPY" "$PNV"
ok $? "the replica directory holds a copy of the primary's NVRAM"
is "$(command stat -c %a "$COPY" 2>/dev/null)" 600 "the copy is private (mode 600)"
is "$(nvram_of dvirsh "$VM")" "$COPY" "the replica's definition points at the copy"
is "$(nvram_of pvirsh "$VM")" "$PNV" "the primary's definition still names its own"
is "$(sha256sum <"$PNV") $(command stat -c %Y.%y "$PNV")" "$p_sum $p_mtime" "the primary's NVRAM is not written"
is "$(record "v['state'], v['newest_point']")" "3 rp-0001" "state 3, rp-0001"
is "$(ls -A "$DIR" | grep -c 'nvram.*tmp')" 0 "no temporary NVRAM file left"
c_sum=$(sha256sum <"$COPY")

# A cycle: the copy stays as it is.
write "$DEV_A" 0x31 1M 64k
out=$(dr replicate "$VM" 2>&1)
is "$?" 0 "a cycle: exit 0"
is "$(record "v['newest_point']")" rp-0002 "rp-0002 made"
is "$(sha256sum <"$COPY")" "$c_sum" "the cycle leaves the replica's NVRAM alone"
is "$(nvram_of dvirsh "$VM")" "$COPY" "the replica still names the copy"

# disable-replication leaves it.
out=$(dr disable-replication "$VM" --yes 2>&1)
is "$?" 0 "disable-replication: exit 0"
is "$(sha256sum <"$COPY" 2>/dev/null)" "$c_sum" "disable-replication leaves the NVRAM copy"
is "$(nvram_of dvirsh "$VM")" "$COPY" "and the replica still names it"
is "$(sha256sum <"$PNV")" "$p_sum" "the primary's NVRAM is unchanged"

# A directory that already holds an nvram.fd: refused, nothing written.
dvirsh undefine --keep-nvram "$VM" >/dev/null
ok $? "the replica is undefined (its files kept)"
before=$(ls -l --time-style=+%s.%N "$DIR")
dr enable-replication "$VM" --from "$PURI" --dir "$DIR" --nbd "127.0.0.1:$PORT" --yes --json \
    >"$T/out" 2>"$T/err"
rc=$?
ok "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" "enable into a directory with an nvram.fd: non-zero exit ($rc)"
is "$(json_get "$(cat "$T/out")" 'd["result"]')" 32774 "refused with 32774"
like "$(json_get "$(cat "$T/out")" 'd["message"]')" "$COPY already exists" "the refusal names the file"
is "$(ls -l --time-style=+%s.%N "$DIR")" "$before" "nothing in the directory changed"
is "$(sha256sum <"$COPY")" "$c_sum" "the existing NVRAM file is not written"
dvirsh dominfo "$VM" >/dev/null 2>&1
ok $((! $?)) "no replica was defined"
is "$(system_jobs_of_this_test)" 0 "the system's job history holds no job of this test"

qemu_stop_all >/dev/null 2>&1
done_testing
