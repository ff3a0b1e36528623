#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# ops-fleet.sh: every failover operation end to end on a demo fleet
# (libvirt test driver, real qcow2 chains): the result, the state the
# fleet file keeps, and the files on disk exactly as the plan said.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/ops-common.sh"

command -v "$QEMU_IMG" >/dev/null 2>&1 || skip_all "qemu-img not found"
command -v "$PYTHON" >/dev/null 2>&1 || skip_all "python3 not found"
command -v "$VIRSH" >/dev/null 2>&1 || skip_all "virsh not found"

mktemp_dir
F=$T/f
make_fleet "$F"
ok $? "demo fleet built"
[ -f "$F/fleet.xml" ] || { done_testing; exit 1; }

# plan_vs_disk: compares the VM directory and the fleet's recovery points
# before and after an operation with the plan in $T/op.json.  Prints one
# line per problem.
plan_vs_disk() {
    "$PYTHON" - "$T/op.json" "$vmdir" "$T/vm.before" "$T/vm.after" "$T/rp.before" "$T/rp.after" <<'EOF'
import json, os, re, sys

op, vmdir, vb, va, rb, ra = sys.argv[1:]
plan = json.load(open(op))["plan"]
real = os.path.realpath

def sums(path, base):
    m = {}
    for line in open(path):
        s, f = line.rstrip("\n").split("  ", 1)
        m[real(os.path.join(base, f))] = s
    return m

before, after = sums(vb, vmdir), sums(va, vmdir)
rpb, rpa = sums(rb, "/"), sums(ra, "/")
create = {real(f["path"]) for f in plan["create"]}
delete = {real(f["path"]) for f in plan["delete"]}
rebased = {real(f["path"]) for f in plan["keep"] if "rebased" in f["role"]}
lock = re.compile(r"^\.drover-[0-9a-f-]{36}\.lock$")
bad = []
for f in sorted(create):
    if f in before:
        bad.append("created file existed before: " + f)
    if f not in after:
        bad.append("planned file not created: " + f)
for f in sorted(delete):
    if f not in before:
        bad.append("deleted file did not exist before: " + f)
    if f in after:
        bad.append("planned deletion still there: " + f)
for f in sorted(set(before) | set(after)):
    if f in create or f in delete:
        continue
    if lock.match(os.path.basename(f)):
        if f in after and os.path.getsize(f) != 0:
            bad.append("lock file not cleared after the operation: " + f)
        continue
    if f not in before:
        bad.append("file not in the plan appeared: " + f)
    elif f not in after:
        bad.append("file not in the plan disappeared: " + f)
    elif before[f] != after[f] and f not in rebased:
        bad.append("file not in the plan changed: " + f)
for f in sorted(rpb):
    if f in delete:
        continue
    if f not in rpa:
        bad.append("recovery point or base file gone: " + f)
    elif rpa[f] != rpb[f]:
        bad.append("recovery point or base file changed: " + f)
for f in sorted(set(rpa) - set(rpb)):
    bad.append("new recovery point or base file: " + f)
print("\n".join(bad))
EOF
}

# images_ok: every created image passes `qemu-img check` and has the
# backing file the plan names (a flattened image has none).
images_ok() {
    "$PYTHON" - "$T/op.json" "$QEMU_IMG" <<'EOF'
import json, os, subprocess, sys

plan = json.load(open(sys.argv[1]))["plan"]
qi = sys.argv[2]
bad = []
for f in plan["create"]:
    p = f["path"]
    r = subprocess.run([qi, "check", "-q", p], capture_output=True, text=True)
    if r.returncode != 0:
        bad.append("qemu-img check %s: %d %s" % (p, r.returncode, r.stdout + r.stderr))
    info = json.loads(subprocess.run([qi, "info", "--output=json", "-U", p],
                                     capture_output=True, text=True).stdout or "{}")
    if info.get("format") != "qcow2":
        bad.append("%s: format %s" % (p, info.get("format")))
    got = info.get("full-backing-filename")
    if f["role"] == "flattened image":
        if got is not None:
            bad.append("%s: flattened image has backing %s" % (p, got))
    elif got is None or os.path.realpath(got) != os.path.realpath(f["backing"]):
        bad.append("%s: backing %s, plan says %s" % (p, got, f.get("backing")))
print("\n".join(bad))
EOF
}

# do_op DESC OP VM [ARGS...]: runs `drover OP VM ARGS --yes --json` and
# checks the result, the JSON, the files and the recovery points.
do_op() {
    _desc=$1
    shift
    vmdir=$F/vms/$2
    tree_sums "$vmdir" >"$T/vm.before"
    rp_sums "$F" >"$T/rp.before"
    run -c "$URI" "$@" --yes --json
    cp "$T/out" "$T/op.json"
    is "$rc" 0 "$_desc: exit status 0"
    is "$(jq_ "$T/op.json" 'd["result"]')" 0 "$_desc: result 0"
    json_ok op "$T/op.json" "$_desc: JSON as documented"
    is "$(jq_ "$T/op.json" 'd["job"]["state"], d["job"]["percent"], d["job"]["error_code"]')" \
        "(7, 100, 0)" "$_desc: job Completed, 100%, error 0"
    is "$(jq_ "$T/op.json" 'd["job"]["digest"] == d["plan"]["digest"]')" true \
        "$_desc: the job ran the plan it printed (same digest)"
    tree_sums "$vmdir" >"$T/vm.after"
    rp_sums "$F" >"$T/rp.after"
    is "$(plan_vs_disk)" "" "$_desc: files on disk exactly as planned, other RPs and bases unchanged"
    is "$(images_ok)" "" "$_desc: created images pass qemu-img check, backing as planned"
    is "$(vm_field "$2" state)" "$(jq_ "$T/op.json" 'd["plan"]["to_state"]')" \
        "$_desc: list --json shows the planned state"
}

# disk_sources VM: the disk source files of VM in the fleet (virsh reads
# the fleet file afresh, so this is what drover wrote back).
disk_sources() {
    "$VIRSH" -c "$URI" dumpxml "$1" 2>/dev/null |
        sed -n "s/.*<source file='\([^']*\)'.*/\1/p"
}

# --- initiate failover, newest point by default ---------------------------
newest=$(vm_field web01 newest_point)
is "$newest" rp-0006 "web01 starts Replicating with rp-0006 the newest point"
do_op "failover web01" failover web01
is "$(jq_ "$T/op.json" 'd["plan"]["point"], d["plan"]["from_state"], d["plan"]["to_state"]')" \
    "('rp-0006', 3, 5)" "failover web01: to the newest point, 3 -> 5"
is "$(jq_ "$T/op.json" 'd["job"]["type"], d["job"]["type_name"]')" "(97, 'Initiate Failover')" \
    "failover web01: job type 97"
ovl=$(jq_ "$T/op.json" 'd["plan"]["create"][0]["path"]')
like "$ovl" "/vms/web01/vda\.failover-[0-9]{8}T[0-9]{6}Z\.qcow2$" "failover web01: overlay named vda.failover-STAMP.qcow2"
is "$(jq_ "$T/op.json" 'd["plan"]["create"][0]["backing"]')" "$F/vms/web01/vda.rp-0006.qcow2" \
    "failover web01: overlay on rp-0006"
is "$(disk_sources web01)" "$ovl" "failover web01: the domain's disk is the overlay"
is "$(vm_field web01 failover_point)" rp-0006 "failover web01: failover_point rp-0006"
drover -c "$URI" show web01 --json </dev/null >"$T/show.json"
is "$(jq_ "$T/show.json" '[l["path"] for l in d["disks"][0]["chain"]][:2]')" \
    "['$ovl', '$F/vms/web01/vda.rp-0006.qcow2']" "failover web01: show --json chain is overlay <- rp-0006"

# --- revert (VM off) --------------------------------------------------------
do_op "revert web01" revert web01
is "$(jq_ "$T/op.json" 'd["job"]["type"], [f["path"] for f in d["plan"]["delete"]]')" \
    "(98, ['$ovl'])" "revert web01: job type 98, deletes exactly the overlay"
is "$(disk_sources web01)" "$F/vms/web01/vda.rp-0006.qcow2" "revert web01: disk back on the newest RP"
is "$(vm_field web01 failover_point)" null "revert web01: no failover point"
is "$(vm_field web01 health_name)" Normal "revert web01: health Normal"

# --- failover again, to an older point -----------------------------------
do_op "failover web01 --point rp-0003" failover web01 --point rp-0003
is "$(jq_ "$T/op.json" 'd["plan"]["point"], d["plan"]["create"][0]["backing"]')" \
    "('rp-0003', '$F/vms/web01/vda.rp-0003.qcow2')" "failover --point rp-0003: overlay on rp-0003"
is "$(vm_field web01 failover_point)" rp-0003 "failover --point rp-0003: failover_point rp-0003"
do_op "revert web01 (second time)" revert web01
is "$(ls "$F/vms/web01" | grep -c failover)" 0 "revert web01: no failover file left"

# --- revert of the demo's failed-over web02 --------------------------------
do_op "revert web02" revert web02
is "$(jq_ "$T/op.json" 'd["plan"]["power"], d["plan"]["power_action"]')" "('shut off', 'none')" \
    "revert web02: VM off, no power action"

# --- revert of a running VM: it is shut down first, as a visible step ------
is "$(vm_field db01 power)" running "db01 runs before the revert"
do_op "revert db01 (running, 2 disks)" revert db01
is "$(jq_ "$T/op.json" 'd["plan"]["power"], d["plan"]["power_action"], len(d["plan"]["delete"])')" \
    "('running', 'shutdown', 2)" "revert db01: plan shuts it down and deletes both overlays"
like "$err" '^\[ *[0-9]+%\] shutting down db01' "revert db01: a visible 'shutting down' progress step"
is "$(vm_field db01 power)" "shut off" "revert db01: powered off afterwards"
is "$(disk_sources db01 | sed 's|.*/||' | tr '\n' ' ')" "vda.rp-0004.qcow2 vdb.rp-0004.qcow2 " \
    "revert db01: both disks on rp-0004"

# --- commit (no flatten): newer points deleted, older kept as backing -------
do_op "commit hr01" commit hr01
is "$(jq_ "$T/op.json" 'd["job"]["type"], sorted(f["path"].split("/")[-1] for f in d["plan"]["delete"])')" \
    "(99, ['vda.rp-0003.qcow2', 'vda.rp-0004.qcow2'])" "commit hr01: deletes the points newer than rp-0002"
is "$(ls "$F/vms/hr01" | grep -v '^\.' | sed 's/failover-.*/failover/' | tr '\n' ' ')" \
    "vda.base.qcow2 vda.failover vda.rp-0001.qcow2 vda.rp-0002.qcow2 " \
    "commit hr01: base, rp-0001, rp-0002 and the failover disk remain"
is "$(vm_field hr01 recovery_points) $(vm_field hr01 newest_point)" "1 rp-0002" \
    "commit hr01: the record keeps one point, rp-0002"
"$QEMU_IMG" check -q "$(disk_sources hr01)"
ok $? "commit hr01: the failover disk passes qemu-img check"
run -c "$URI" revert hr01 --yes
is "$rc" 3 "commit hr01: revert afterwards is refused (exit 3)"
like "$err" "Result: 32775 " "commit hr01: revert afterwards gives 32775"

# --- commit --flatten: one standalone image with the same content ----------
# Keep a copy of the chain; RP layers name their backing relatively, so the
# copy of rp-0005 reads the same data as the original.
run -c "$URI" failover web03 --point rp-0002 --yes
is "$rc" 0 "failover web03 (2 disks) to rp-0002 before commit --flatten"
cp -a "$F/vms/web03" "$T/web03.copy"
do_op "commit web03 --flatten" commit web03 --flatten
is "$(jq_ "$T/op.json" 'd["plan"]["flatten"], len(d["plan"]["create"])')" "(True, 2)" \
    "commit --flatten: one flattened image per disk"
for disk in vda vdb; do
    flat=$(ls "$F/vms/web03/$disk".flat-*.qcow2 2>/dev/null)
    [ -n "$flat" ]
    ok $? "commit --flatten: $disk flattened image exists"
    "$QEMU_IMG" compare -q "$T/web03.copy/$disk.rp-0002.qcow2" "$flat"
    ok $? "commit --flatten: $disk flattened image equals the old rp-0002 chain (qemu-img compare)"
    fo=$(ls "$F/vms/web03/$disk".failover-*.qcow2)
    "$QEMU_IMG" check -q "$fo"
    ok $? "commit --flatten: $disk failover disk passes qemu-img check"
    is "$("$QEMU_IMG" info -U --output=json "$fo" | py 'import json,sys; print(json.load(sys.stdin).get("full-backing-filename"))')" \
        "$flat" "commit --flatten: $disk failover disk now backed by the flattened image"
    # The guest sees the same disk as before: compare with the old overlay,
    # repointed (unsafely: header only) at the copied chain.
    cfo=$T/web03.copy/$(basename "$fo")
    "$QEMU_IMG" rebase -u -F qcow2 -b "$T/web03.copy/$disk.rp-0002.qcow2" "$cfo" &&
        "$QEMU_IMG" compare -q "$cfo" "$fo"
    ok $? "commit --flatten: $disk guest view unchanged"
done
is "$(ls "$F/vms/web03" | grep -c -e '\.rp-' -e '\.base\.')" 0 "commit --flatten: every old layer is gone"
is "$(vm_field web03 state) $(vm_field web03 recovery_points)" "6 1" "commit --flatten: 6 Committed, one point"
drover -c "$URI" check web03 </dev/null >/dev/null 2>&1
ok $? "commit --flatten: drover check web03 is clean"

# --- test failover: a separate domain without network -----------------------
uuid01=$(vm_field web01 uuid)
"$VIRSH" -c "$URI" dumpxml web01 2>/dev/null | grep -q '<interface'
ok $? "web01 has a network interface (so its absence below means something)"
src_before=$(disk_sources web01)
do_op "test-failover web01 --point rp-0004" test-failover web01 --point rp-0004
is "$(jq_ "$T/op.json" 'd["job"]["type"], d["plan"]["test_domain"], d["plan"]["from_state"], d["plan"]["to_state"]')" \
    "(102, 'web01-test', 3, 3)" "test-failover: job 102, domain web01-test, replica stays 3"
tovl=$(jq_ "$T/op.json" 'd["plan"]["create"][0]["path"]')
like "$tovl" "/vms/web01/vda\.test-[0-9]{8}T[0-9]{6}Z\.qcow2$" "test-failover: test disk named vda.test-STAMP.qcow2"
"$VIRSH" -c "$URI" dumpxml web01-test >"$T/test.xml" 2>&1
ok $? "test-failover: domain web01-test exists"
tuuid=$(sed -n 's|.*<uuid>\(.*\)</uuid>.*|\1|p' "$T/test.xml")
[ -n "$tuuid" ] && [ "$tuuid" != "$uuid01" ]
ok $? "test-failover: web01-test has its own UUID ($tuuid)"
grep -q '<interface' "$T/test.xml"
ok $((!$?)) "test-failover: web01-test has no <interface>"
is "$(disk_sources web01-test)" "$tovl" "test-failover: web01-test runs on the test disk"
is "$(disk_sources web01)" "$src_before" "test-failover: web01's own disk is unchanged"
is "$(vm_field web01 test_system)" web01-test "test-failover: list --json names the test system"
is "$(vm_field web01-test mode)" 3 "test-failover: web01-test is mode 3 Test replica"

# --- stop test failover -----------------------------------------------------
do_op "stop-test web01" stop-test web01
is "$(jq_ "$T/op.json" 'd["job"]["type"], [f["path"] for f in d["plan"]["delete"]]')" \
    "(103, ['$tovl'])" "stop-test: job 103, deletes the test disk"
"$VIRSH" -c "$URI" dominfo web01-test >/dev/null 2>&1
ok $((!$?)) "stop-test: domain web01-test is gone"
is "$(ls "$F/vms/web01" | grep -c '\.test-')" 0 "stop-test: no test disk left"
is "$(vm_field web01 test_system)" null "stop-test: no test system in the record"

# The demo's running test system crm01-test.
is "$(vm_field crm01-test power)" running "crm01-test runs before stop-test"
do_op "stop-test crm01 (test system running)" stop-test crm01
is "$(jq_ "$T/op.json" 'd["plan"]["power_action"]')" destroy "stop-test crm01: the plan powers the running test system off"
like "$err" '^\[ *[0-9]+%\] powering off the test system crm01-test' "stop-test crm01: a visible power-off step"
"$VIRSH" -c "$URI" dominfo crm01-test >/dev/null 2>&1
ok $((!$?)) "stop-test crm01: crm01-test is gone"

# --- a two-disk round trip: failover, test-failover refused, revert ---------
do_op "failover legacy01 --point rp-0001" failover legacy01 --point rp-0001
do_op "revert legacy01" revert legacy01
is "$(vm_field legacy01 recovery_points)" 12 "legacy01 keeps its 12 points after failover and revert"

# Every image left in the fleet is consistent.
bad=""
for f in $(find "$F/vms" -name '*.qcow2' ! -path '*/files01/*'); do
    "$QEMU_IMG" check -q "$f" >/dev/null 2>&1 || bad="$bad $f"
done
is "$bad" "" "every qcow2 file in the fleet (but files01's broken chain) passes qemu-img check at the end"
drover -c "$URI" list --json </dev/null >"$T/list.json"
json_ok list "$T/list.json" "list --json at the end is as documented"

done_testing
