#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Helpers for tests/realworld.sh: libvirt's own test definitions as drover
replicas on a test-driver fleet, and their comparison after each step.

  realworld.py build DEFINITION DIR QEMU_IMG
      Writes DIR/fleet.xml: the definition as a replica on the test driver
      (domain type 'test', shut off), every file disk (device 'disk') on a
      qcow2 chain DIR/vms/<name>/<target>.base.qcow2 <- rp-0001 <- rp-0002
      <- rp-0003 made with qemu-img (driver type qcow2), a file disk vdz on
      such a chain when the definition has none, an <nvram> file of its own
      under DIR/nvram, and a drover record listing the three points.
      Prints "NAME TARGET..." (the replicated targets).
  realworld.py norm FILE MODE TARGETS
      The domain definition in FILE, canonical: drover's record removed,
      and with MODE "nodisks" the <source> and <backingStore> of the
      replicated TARGETS (comma separated) removed too.
  realworld.py sources FILE TARGET
      The children of the <source> of TARGET in FILE, one tag a line.
"""
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

DROVER_NS = "urn:drover:replica:1"
TEST_NS = "http://libvirt.org/schemas/domain/test/1.0"


def chain(qemu_img, d, target):
    prev = None
    files = []
    for n in ("base", "rp-0001", "rp-0002", "rp-0003"):
        f = os.path.join(d, "%s.%s.qcow2" % (target, n))
        args = [qemu_img, "create", "-q", "-f", "qcow2"]
        if prev:
            args += ["-F", "qcow2", "-b", prev]
        subprocess.run(args + [f, "16M"], check=True)
        prev = f
        files.append(f)
    return files[1:]


def build(src, outdir, qemu_img):
    text = open(src).read()
    root = ET.fromstring(text)
    name = root.findtext("name")
    vmdir = os.path.join(outdir, "vms", name)
    os.makedirs(vmdir, exist_ok=True)
    devices = root.find("devices")
    targets = []
    points = {"rp-0001": [], "rp-0002": [], "rp-0003": []}
    disks = [d for d in devices.findall("disk")
             if d.get("type") == "file" and d.get("device", "disk") == "disk"]
    if not disks:
        d = ET.SubElement(devices, "disk", type="file", device="disk")
        ET.SubElement(d, "driver", name="qemu", type="qcow2")
        ET.SubElement(d, "source", file="")
        ET.SubElement(d, "target", dev="vdz", bus="virtio")
        disks = [d]
    for d in disks:
        t = d.find("target").get("dev")
        files = chain(qemu_img, vmdir, t)
        for pid, f in zip(sorted(points), files):
            points[pid].append((t, f))
        drv = d.find("driver")
        if drv is None:
            drv = ET.SubElement(d, "driver", name="qemu")
        drv.set("type", "qcow2")
        d.find("source").set("file", files[-1])
        targets.append(t)
    nv = root.find("os/nvram")
    if nv is not None and (nv.text or "").strip():
        os.makedirs(os.path.join(outdir, "nvram"), exist_ok=True)
        nv.text = os.path.join(outdir, "nvram", "%s_VARS.fd" % name)
        with open(nv.text, "wb") as f:
            f.write(b"NVRAM of " + name.encode() + b"\0" * 4000)
    root.set("type", "test")
    rec = ['<drover:replica xmlns:drover="%s" format="1">' % DROVER_NS,
           "<drover:mode>2</drover:mode><drover:state>3</drover:state>",
           '<drover:primary host="prod-a" uri="qemu+ssh://prod-a/system" name="%s"/>' % name,
           "<drover:recovery-points>"]
    for i, pid in enumerate(sorted(points)):
        rec.append('<drover:point id="%s" time="2026-11-2%dT09:00:00Z" type="standard">'
                   % (pid, i + 1))
        for t, f in points[pid]:
            rec.append('<drover:disk target="%s" file="%s"/>' % (t, f))
        rec.append("</drover:point>")
    rec.append("</drover:recovery-points></drover:replica>")
    md = root.find("metadata")
    if md is None:
        md = ET.SubElement(root, "metadata")
    md.append(ET.fromstring("".join(rec)))
    ET.register_namespace("drover", DROVER_NS)
    ET.register_namespace("test", TEST_NS)
    ET.SubElement(root, "{%s}runstate" % TEST_NS).text = "5"
    with open(os.path.join(outdir, "fleet.xml"), "w") as f:
        f.write("<node>\n" + ET.tostring(root, encoding="unicode") + "\n</node>\n")
    print(name, " ".join(targets))


def strip_ws(e):
    if e.text is not None and not e.text.strip():
        e.text = None
    if e.tail is not None and not e.tail.strip():
        e.tail = None
    for c in e:
        strip_ws(c)


def canon(e):
    """Element as text, attributes sorted, whitespace-only text dropped."""
    attrs = "".join(' %s="%s"' % (k, v) for k, v in sorted(e.attrib.items()))
    inner = "".join(canon(c) for c in e)
    return "<%s%s>%s%s</%s>" % (e.tag, attrs, (e.text or "").strip(), inner, e.tag)


def norm(path, mode, targets):
    root = ET.parse(path).getroot()
    strip_ws(root)
    md = root.find("metadata")
    if md is not None:
        for c in list(md):
            if c.tag.startswith("{%s}" % DROVER_NS):
                md.remove(c)
        if len(md) == 0:
            root.remove(md)
    keep = set(t for t in targets.split(",") if t)
    if mode == "nodisks":
        for d in root.find("devices").findall("disk"):
            t = d.find("target")
            if t is not None and t.get("dev") in keep:
                for c in list(d):
                    if c.tag in ("source", "backingStore"):
                        d.remove(c)
    out = []
    for c in root:
        if c.tag == "devices":
            out.append("<devices>")
            out.extend("  " + canon(x) for x in c)
            out.append("</devices>")
        else:
            out.append(canon(c))
    print("<domain%s>" % "".join(' %s="%s"' % kv for kv in sorted(root.attrib.items())))
    print("\n".join(out))


def sources(path, target):
    root = ET.parse(path).getroot()
    for d in root.find("devices").findall("disk"):
        t = d.find("target")
        if t is not None and t.get("dev") == target:
            s = d.find("source")
            for c in (s if s is not None else []):
                print(c.tag)
            for c in d.findall("backingStore"):
                print("backingStore")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "build":
        build(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "norm":
        norm(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else "")
    elif cmd == "sources":
        sources(sys.argv[2], sys.argv[3])
    else:
        sys.exit("unknown command " + cmd)
