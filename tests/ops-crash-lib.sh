# SPDX-License-Identifier: GPL-2.0-or-later
# ops-crash-lib.sh: snapshots and invariants shared by the crash and
# concurrency tests (tests/ops-crash*.sh, tests/ops-concurrency.sh).
# Source it after tests/lib.sh.
#
# A snapshot of one replica is read from the fleet file itself (the record,
# the domain's disks, the test domain) and from its directory (every file
# with its sha256 and qcow2 backing name), plus its `drover list --json`
# entry: an oracle independent of drover's own reading of the record.

CRASH_PY=$(cat <<'PY'
import hashlib, json, os, re, struct, sys
import xml.etree.ElementTree as ET

NS = {"d": "urn:drover:replica:1", "t": "http://libvirt.org/schemas/domain/test/1.0"}
STAMP = re.compile(r"(failover|test|flat)-\d{8}T\d{6}Z")
TMP = re.compile(r"\.tmp-[A-Za-z0-9]{6}$")
NEW = re.compile(r"\.(failover|test|flat)-")
RUNSTATE = {"1": "running", "5": "shut off"}


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def backing(path):
    """The backing file name in a qcow2 header, None without one, '?' if unreadable."""
    try:
        with open(path, "rb") as f:
            hd = f.read(20)
            if len(hd) < 20 or hd[:4] != b"QFI\xfb":
                return "?"
            off, = struct.unpack(">Q", hd[8:16])
            n, = struct.unpack(">I", hd[16:20])
            if not off:
                return None
            f.seek(off)
            return f.read(n).decode("utf-8", "replace")
    except OSError:
        return "?"


def disks(dom):
    out = {}
    for d in dom.findall("./devices/disk"):
        s, t = d.find("source"), d.find("target")
        if s is not None and t is not None and s.get("file"):
            out[t.get("dev")] = s.get("file")
    return out


def dlist(el):
    return {d.get("target"): d.get("file") for d in el.findall("d:disk", NS)} if el is not None else {}


def record(dom):
    r = dom.find("./metadata/d:replica", NS)
    if r is None:
        return None
    pts = [{"id": p.get("id"), "time": p.get("time"), "disks": dlist(p)}
           for p in r.findall("d:recovery-points/d:point", NS)]
    fo = r.find("d:failover", NS)
    ts = r.find("d:test-system", NS)
    jo = r.find("d:journal", NS)
    return {
        "state": r.findtext("d:state", namespaces=NS),
        "mode": r.findtext("d:mode", namespaces=NS),
        "points": pts,
        "failover": None if fo is None else {"point": fo.get("point"), "disks": dlist(fo)},
        "test": None if ts is None else {"domain": ts.get("domain"), "point": ts.get("point"),
                                         "disks": dlist(ts)},
        "journal": None if jo is None else {"op": jo.get("op"), "step": jo.get("step")},
    }


def domain(root, name):
    for dom in root.findall("domain"):
        if dom.findtext("name") == name:
            return {"sources": disks(dom), "power": RUNSTATE.get(dom.findtext("t:runstate", namespaces=NS), "?"),
                    "record": record(dom)}
    return None


def snap(fleetdir, vm, listjson):
    root = ET.parse(os.path.join(fleetdir, "fleet.xml")).getroot()
    d = domain(root, vm)
    vmdir = os.path.join(fleetdir, "vms", vm)
    files, tmp = {}, []
    for n in sorted(os.listdir(vmdir)):
        p = os.path.join(vmdir, n)
        if n.startswith(".drover-") and n.endswith(".lock"):
            continue    # the lock file stays on purpose
        if TMP.search(n):
            tmp.append(n)   # reported by consistent(), kept out of the comparisons
            continue
        files[n] = {"sha": sha(p), "backing": backing(p) if ".qcow2" in n else None}
    entry = why = None
    with open(listjson) as f:
        for e in json.load(f):
            if e["name"] == vm:
                entry = {k: e.get(k) for k in ("state", "state_name", "health_name", "recovery_points",
                                               "failover_point", "test_system", "interrupted_operation",
                                               "power", "mode")}
                # Why list says what it says (kept out of the comparisons).
                why = e.get("record_error") or e.get("problem")
    test = domain(root, vm + "-test")
    if test:
        del test["record"]
    return {"fleet": fleetdir, "vm": vm, "record": d["record"] if d else None,
            "sources": d["sources"] if d else None, "power": d["power"] if d else None,
            "test_domain": test, "files": files, "tmp": tmp, "list": entry, "list_why": why}


def norm(obj, fleet):
    """Paths relative to the fleet, time stamps of new files and temp suffixes masked."""
    if isinstance(obj, dict):
        return {norm(k, fleet): norm(v, fleet) for k, v in obj.items()}
    if isinstance(obj, list):
        return [norm(v, fleet) for v in obj]
    if isinstance(obj, str):
        s = obj.replace(fleet, "@")
        s = STAMP.sub(lambda m: m.group(1) + "-STAMP", s)
        return TMP.sub(".tmp-XXXXXX", s)
    return obj


def is_rp(name):
    return ".rp-" in name or name.endswith(".base.qcow2")


def named(s):
    """Files the record or a domain names (after a commit the VM's disks are
    the former failover disks, which the record no longer lists)."""
    r = s["record"] or {}
    out = set((s["sources"] or {}).values())
    if s["test_domain"]:
        out.update(s["test_domain"]["sources"].values())
    for p in r.get("points", []):
        out.update(p["disks"].values())
    for k in ("failover", "test"):
        if r.get(k):
            out.update(r[k]["disks"].values())
    return {os.path.basename(f) for f in out}


def consistent(s):
    """What is wrong between the record and the disks, as text lines."""
    bad = []
    r = s["record"]
    if r is None:
        return ["no replica record"]
    if r["journal"]:
        bad.append("journal still open: %s" % r["journal"])
    if r["failover"]:
        want = r["failover"]["disks"]
    elif r["points"]:
        newest = max(r["points"], key=lambda p: p["time"])
        want = newest["disks"]
    else:
        want = {}
    if r["failover"] or r["state"] != "6":
        if s["sources"] != want:
            bad.append("domain disks %s but the record says %s" % (s["sources"], want))
    elif len(r["points"]) == 1:
        # Committed: the disks stay on the former failover disks, which must
        # now rest on the one point left.
        for t, src in (s["sources"] or {}).items():
            b = backing(src)
            b = b if b in (None, "?") else os.path.join(os.path.dirname(src), b)
            if b != r["points"][0]["disks"].get(t):
                bad.append("committed disk %s rests on %s, not on point %s" % (src, b, r["points"][0]["id"]))
    else:
        bad.append("committed with %d recovery points" % len(r["points"]))
    for t, f in (r["failover"] or {"disks": {}})["disks"].items():
        if not os.path.exists(f):
            bad.append("failover disk %s missing" % f)
    if r["test"]:
        if not s["test_domain"]:
            bad.append("record names test system %s but no such domain" % r["test"]["domain"])
        elif s["test_domain"]["sources"] != r["test"]["disks"]:
            bad.append("test domain disks %s but the record says %s" % (s["test_domain"]["sources"],
                                                                        r["test"]["disks"]))
    elif s["test_domain"]:
        bad.append("a domain %s-test exists that the record does not name" % s["vm"])
    for p in r["points"]:
        for f in p["disks"].values():
            if not os.path.exists(f):
                bad.append("recovery point %s file %s missing" % (p["id"], f))
    names = named(s)
    for n in s["files"]:
        if NEW.search(n) and n not in names:
            bad.append("%s is in the directory but the record does not name it" % n)
    for n in s["tmp"]:
        bad.append("temporary file %s is in the directory" % n)
    if s["list"] and s["list"]["health_name"] == "Critical":
        bad.append("drover list says Critical: %s" % s.get("list_why"))
    return bad


def same_before(b, c, power_action):
    why = []
    for k in ("record", "sources", "files"):
        if b[k] != c[k]:
            why.append("%s differs from before" % k)
    bt, ct = b["test_domain"], c["test_domain"]
    if (bt is None) != (ct is None) or (bt and bt["sources"] != ct["sources"]):
        why.append("test domain differs from before")
    if c["power"] != b["power"] and not (power_action and c["power"] == "shut off"):
        why.append("power %s, before %s" % (c["power"], b["power"]))
    bl = dict(b["list"] or {}); cl = dict(c["list"] or {})
    if power_action:
        bl.pop("power", None); cl.pop("power", None)
    if bl != cl:
        why.append("list entry %s, before %s" % (cl, bl))
    return why


def same_after(b, a, c, flatten):
    why = []
    na, nc = norm(a, a["fleet"]), norm(c, c["fleet"])
    for k in ("record", "sources", "power", "test_domain", "list"):
        if na[k] != nc[k]:
            why.append("%s %s, the reference run gives %s" % (k, nc[k], na[k]))
    if sorted(na["files"]) != sorted(nc["files"]):
        why.append("files %s, the reference run gives %s" % (sorted(nc["files"]), sorted(na["files"])))
        return why
    for n, f in c["files"].items():
        nn = norm(n, c["fleet"])
        if is_rp(n):
            if n not in b["files"] or b["files"][n]["sha"] != f["sha"]:
                why.append("recovery point or base %s changed" % n)
        else:
            if norm(f["backing"], c["fleet"]) != na["files"][nn]["backing"]:
                why.append("%s is backed by %s, the reference run gives %s" %
                           (n, f["backing"], na["files"][nn]["backing"]))
            if n in b["files"] and not flatten and b["files"][n]["sha"] != f["sha"]:
                why.append("%s changed although the operation keeps it" % n)
    return why


def load(p):
    with open(p) as f:
        return json.load(f)


cmd = sys.argv[1]
if cmd == "snap":
    # snap FLEET VM LISTJSON OUT [BEFORE REF POWER FLATTEN]: writes the
    # snapshot to OUT, prints "bad TEXT" for each disagreement between record
    # and disks and, given BEFORE and REF, "verdict before|after|neither"
    # (then "#" lines saying why it is neither).
    s = snap(sys.argv[2], sys.argv[3], sys.argv[4])
    with open(sys.argv[5], "w") as f:
        json.dump(s, f, sort_keys=True)
    for line in consistent(s):
        print("bad " + line)
    if len(sys.argv) > 6:
        b, a = load(sys.argv[6]), load(sys.argv[7])
        wb = same_before(b, s, sys.argv[8] == "1")
        wa = same_after(b, a, s, sys.argv[9] == "1")
        if not wb:
            print("verdict before")
        elif not wa:
            print("verdict after")
        else:
            print("verdict neither")
            for w in wb:
                print("#   not before: " + w)
            for w in wa:
                print("#   not after: " + w)
elif cmd == "race":
    # race PREFIX N TITLE: the N contenders of one round wrote PREFIX.I.out
    # (drover --json) and PREFIX.I.rc; prints "won W inuse U state S other O
    # anon A stale X" and a "bad ..." line for each result that breaks the
    # rules: a refusal with 32774 must name a job of this round running TITLE.
    # Known bugs get their own lines: "anon ..." for a 32774 that names no
    # holder, "stale ..." for a 32779 about the disk the winner just deleted.
    n = int(sys.argv[3])
    outs, jobs = [], set()
    for i in range(1, n + 1):
        rc = open("%s.%d.rc" % (sys.argv[2], i)).read().strip()
        try:
            d = load("%s.%d.out" % (sys.argv[2], i))
        except (OSError, ValueError) as e:
            d = {"result": None, "message": "unreadable output: %s" % e}
        outs.append((i, rc, d))
        if isinstance(d.get("job"), dict) and d["job"].get("id"):
            jobs.add(d["job"]["id"])
    won = inuse = state = other = anon = stale = 0
    for i, rc, d in outs:
        res, msg = d.get("result"), d.get("message") or ""
        if rc == "0" and res == 0:
            won += 1
        elif rc == "4" and res == 32774:
            inuse += 1
            m = re.search(r"job ([0-9a-f-]{36})", msg)
            if "has not described itself yet" in msg:
                # Known bug: the lock file is empty for a moment after the
                # lock is taken and before it is released (src/base/lock.c).
                anon += 1
                print("anon contender %d: %s" % (i, msg))
            elif not m or m.group(1) not in jobs or sys.argv[4] not in msg:
                print("bad contender %d: 32774 does not name a job of this round (%s): %s" % (i, sorted(jobs), msg))
        elif rc == "3" and res == 32775:
            state += 1
        elif rc == "7" and res == 32779 and re.match(r"(failover|test) disk .*No such file", msg):
            # Known bug: planned on the fleet as it was when the process
            # started, after the winner had finished and deleted that disk.
            stale += 1
            print("stale contender %d: %s" % (i, msg))
        else:
            other += 1
            print("bad contender %d: exit %s, result %s: %s" % (i, rc, res, msg))
    print("won %d inuse %d state %d other %d anon %d stale %d" % (won, inuse, state, other, anon, stale))
elif cmd == "journal":
    # journal SNAP: the step of the open journal, or "none"
    j = (load(sys.argv[2])["record"] or {}).get("journal")
    print(j["step"] if j else "none")
elif cmd == "rpsums":
    # rpsums SNAP: name and sha256 of every recovery point and base file
    s = load(sys.argv[2])
    for n in sorted(s["files"]):
        if is_rp(n):
            print(n, s["files"][n]["sha"])
else:
    sys.exit("unknown command " + cmd)
PY
)

# drover runs $QEMU_IMG with execve (no PATH search): give it a full path.
case "$QEMU_IMG" in
    */*) ;;
    *) QEMU_IMG=$(command -v "$QEMU_IMG" || echo "$QEMU_IMG"); export QEMU_IMG;;
esac

crash_py() { python3 -S -c "$CRASH_PY" "$@"; }

# crash_snap FLEETDIR VM OUT [BEFORE REF POWER FLATTEN]: snapshot of VM into
# the file OUT; prints "bad ..." lines (record and disks disagree) and, given
# the snapshot before and a reference snapshot after the operation,
# "verdict before|after|neither".
crash_snap() {
    drover -c "test://$1/fleet.xml" list --json >"$3.list" 2>/dev/null || { echo "bad drover list failed"; return 1; }
    crash_py snap "$1" "$2" "$3.list" "$3" ${4:+"$4" "$5" "$6" "$7"}
}

# crash_bad OUTPUT, crash_verdict OUTPUT: the parts of crash_snap's output.
crash_bad() { printf '%s\n' "$1" | sed -n 's/^bad //p'; }
crash_verdict() { printf '%s\n' "$1" | sed -n 's/^verdict //p'; }
crash_why() { printf '%s\n' "$1" | grep '^#' || true; }

# crash_health FLEETDIR VM: the health `drover check VM` gives (and "rc=N"
# after it when check exits non-zero).
crash_health() {
    _h=$(drover -c "test://$1/fleet.xml" check "$2" 2>&1)
    _rc=$?
    _h=$(printf '%s\n' "$_h" | awk -v vm="$2" '$1 == vm { print $2 }')
    if [ "$_rc" -ne 0 ]; then _h="$_h rc=$_rc"; fi
    echo "$_h"
}

# crash_qcheck DIR: qemu-img check of every overlay, test and flattened image
# in DIR; prints the ones that fail.
crash_qcheck() {
    for _f in "$1"/*.failover-*.qcow2 "$1"/*.test-*.qcow2 "$1"/*.flat-*.qcow2; do
        [ -e "$_f" ] || continue
        "$QEMU_IMG" check -q "$_f" >/dev/null 2>&1 || echo "$_f"
    done
}
