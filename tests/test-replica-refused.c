/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-replica: documents the parser refuses (structure, numbers, points,
 * failover, a disk's <before> and nvram, journal, too many points). */
#include <config.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "record/replica.h"
#include "base/result.h"
#include "tap.h"
#include "base/util.h"
#include "test-replica.h"

/* ---- refusals ----------------------------------------------------------- */

void
test_refused_structure(void)
{
    REFUSED(HEAD "  <drover:mode>2</drover:mode>\n  <drover:state>3</drover:stat>\n" TAIL,
            "not well-formed XML: line 3: Opening and ending tag mismatch: state",
            "not well-formed (libxml2 message and line)");
    REFUSED(HEAD MS("2", "3"), "not well-formed XML", "unterminated document");
    REFUSED("<drover:replica xmlns:drover=\"" NS "\" format=\"2\">" MS("2", "3") TAIL,
            "unknown metadata format \"2\": this drover understands format 1 only", "unknown format");
    REFUSED("<drover:replica xmlns:drover=\"" NS "\" format=\"2\"><drover:future/>" TAIL,
            "unknown metadata format \"2\"", "unknown format refused before its content is judged");
    REFUSED("<drover:replica xmlns:drover=\"" NS "\">" MS("2", "3") TAIL,
            "<replica>: attribute format missing", "missing format");
    REFUSED("<drover:replica xmlns:drover=\"" NS "\" format=\" 1\">" MS("2", "3") TAIL,
            "unknown metadata format \" 1\"", "format with a space");
    REFUSED("<replica xmlns=\"urn:other\" format=\"1\"><mode>2</mode><state>3</state></replica>",
            "in namespace \"urn:other\"", "wrong namespace on the root");
    REFUSED("<replica format=\"1\"><mode>2</mode><state>3</state></replica>",
            "has no namespace", "root without a namespace");
    REFUSED("<drover:replicas xmlns:drover=\"" NS "\" format=\"1\"/>",
            "root element <replicas> is not <replica>", "wrong root element");
    REFUSED(HEAD "  <mode>2</mode>\n  <drover:state>3</drover:state>\n" TAIL,
            "element <mode> has no namespace", "child without namespace (unprefixed under prefixed root)");
    REFUSED(HEAD MS("2", "3") "  <o:note xmlns:o=\"urn:other\"/>\n" TAIL,
            "element <note> is in namespace \"urn:other\"", "child element in another namespace");
    REFUSED(HEAD MS("2", "3") "  <drover:recovery-point/>\n" TAIL,
            "<replica>: unknown element <recovery-point>", "unknown element (typo)");
    REFUSED(HEAD MS("2", "3") RPS(PT("rp-1", T1, "standard", DISK("vda", "/r/a") "<drover:dsk/>")) TAIL,
            "<point id=\"rp-1\">: unknown element <dsk>", "unknown element inside a point");
    REFUSED(HEAD MS("2", "3") "junk\n" TAIL, "unexpected text \"junk\":", "text junk between elements");
    REFUSED(HEAD MS("2", "3") RPS(PT("rp-1", T1, "standard", DISK("vda", "/r/a") "x")) TAIL,
            "<point id=\"rp-1\">: unexpected text \"x\"", "text junk inside a point");
    REFUSED(HEAD "  <drover:mode>2</drover:mode>\n" TAIL, "<replica>: element <state> missing",
            "missing state");
    REFUSED(HEAD "  <drover:state>3</drover:state>\n" TAIL, "<replica>: element <mode> missing",
            "missing mode");
    REFUSED(HEAD MS("2", "3") "  <drover:state>3</drover:state>\n" TAIL,
            "duplicate element <state>", "duplicate <state>");
    REFUSED(HEAD MS("2", "5") RPS(P11) FO_OK FO_OK TAIL, "duplicate element <failover>",
            "duplicate <failover>");
    REFUSED(HEAD MS("2", "3") RPS(P11) RPS(P12) TAIL, "duplicate element <recovery-points>",
            "duplicate <recovery-points>");
    REFUSED(HEAD MS("2", "3") RPS(PT("rp-1", T1, "standard", "<drover:disk target=\"vda\" "
                                     "file=\"/r/a\" size=\"3\"/>")) TAIL,
            "unknown attribute size (allowed: target, file)", "unknown attribute");
    REFUSED(HEAD MS("2", "3") "  <drover:primary host=\"a\" drover:host=\"b\"/>\n" TAIL,
            "attribute drover:host is not allowed", "namespaced attribute");
    REFUSED("<!DOCTYPE r [<!ENTITY e \"3\">]>" HEAD "<drover:mode>2</drover:mode>"
            "<drover:state>&e;</drover:state>" TAIL,
            "document type declarations are not allowed", "DTD with an entity");
    REFUSED(HEAD MS("2", "3") "  <drover:primary host=\"&undefined;\"/>\n" TAIL,
            "not well-formed XML", "undefined entity");
    REFUSED(HEAD MS("2", "3") "  <u:x/>\n" TAIL, "not well-formed XML", "undeclared prefix");
    REFUSED("", "the document is empty", "empty input");
}

void
test_refused_numbers(void)
{
    REFUSED(HEAD MS("2", "22") TAIL, "<state>: \"22\" is not a state number (0-21)", "state 22");
    REFUSED(HEAD MS("-1", "3") TAIL, "<mode>: \"-1\" is not a mode number (0-4)", "mode -1");
    REFUSED(HEAD MS("2x", "3") TAIL, "<mode>: \"2x\" is not a mode number", "mode 2x");
    REFUSED(HEAD MS("+2", "3") TAIL, "\"+2\" is not a mode number", "mode +2 (sign trick)");
    REFUSED(HEAD MS(" 2", "3") TAIL, "\" 2\" is not a mode number", "mode with a space");
    REFUSED(HEAD MS("5", "3") TAIL, "\"5\" is not a mode number", "mode 5");
    REFUSED(HEAD MS("", "3") TAIL, "<mode>: \"\" is not a mode number", "empty mode");
    REFUSED(HEAD MS("99999999999999999999999", "3") TAIL, "is not a mode number", "huge mode");
    REFUSED(HEAD "<drover:mode>2<drover:b/></drover:mode><drover:state>3</drover:state>" TAIL,
            "<mode>: unexpected element <b>", "element inside <mode>");
    REFUSED(HEAD MS("2", "3") JN(JN_ATTRS("revert", "prepared") " x=\"1\"", "") TAIL,
            "unknown attribute x", "unknown journal attribute");
    REFUSED(HEAD MS("2", "3") JN("op=\"revert\" job=\"j\" step=\"prepared\" time=\"" T2
                                 "\" from=\"22\" to=\"3\"", "") TAIL,
            "<journal>: from \"22\" is not a state number (0-21)", "journal from 22");
    REFUSED(HEAD MS("2", "3") JN("op=\"revert\" job=\"j\" step=\"prepared\" time=\"" T2
                                 "\" from=\"5\"", "") TAIL,
            "<journal>: attribute to missing", "journal without to");
    REFUSED(HEAD MS("2", "3") JN(JN_ATTRS("revert", "switched"),
                                 "<drover:remove target=\"vda\" file=\"/r/a\" inode=\"12a\"/>") TAIL,
            "<journal>: <remove target=\"vda\">: inode \"12a\" is not a decimal number",
            "inode not a number");
    REFUSED(HEAD MS("2", "3") JN(JN_ATTRS("revert", "switched"),
                                 "<drover:remove target=\"vda\" file=\"/r/a\" "
                                 "inode=\"18446744073709551616\"/>") TAIL,
            "inode \"18446744073709551616\" is not a decimal number", "inode beyond 64 bits");
    REFUSED(HEAD MS("2", "3") JN(JN_ATTRS("revert", "switched"),
                                 "<drover:remove target=\"vda\" file=\"/r/a\" inode=\"-1\"/>") TAIL,
            "inode \"-1\"", "negative inode");
    REFUSED(HEAD MS("2", "3") JN(JN_ATTRS("failover", "prepared"),
                                 "<drover:create target=\"vda\" file=\"/r/a\" inode=\"5\"/>") TAIL,
            "<create target=\"vda\">: unknown attribute inode", "inode on <create>");
}

void
test_refused_points(void)
{
    REFUSED(HEAD MS("2", "3") RPS(P11 PT("rp-0011", T2, "standard", DISK("vda", "/r/x")
                                         DISK("vdb", "/r/y"))) TAIL,
            "<point id=\"rp-0011\">: duplicate point id (also point #1)", "duplicate point id");
    REFUSED(HEAD MS("2", "3") RPS(P11 PT("rp-0003", T2, "standard", DISK("vda", "/r/x"))) TAIL,
            "<point id=\"rp-0003\">: <disk target=\"vdb\"> missing: every point must have the same "
            "disks as the first (vda, vdb)", "disk target missing from a later point");
    REFUSED(HEAD MS("2", "3") RPS(P11 PT("rp-0003", T2, "standard", DISK("vda", "/r/x")
                                         DISK("vdb", "/r/y") DISK("vdc", "/r/z"))) TAIL,
            "<point id=\"rp-0003\">: <disk target=\"vdc\"> is one too many", "extra disk in a later point");
    REFUSED(HEAD MS("2", "3") RPS(PT("rp-1", T1, "standard", DISK("vda", "r/vda.1"))) TAIL,
            "<point id=\"rp-1\">: <disk target=\"vda\">: file \"r/vda.1\" is not a clean absolute path",
            "relative path");
    REFUSED(HEAD MS("2", "3") RPS(PT("rp-1", T1, "standard", DISK("vda", "/r/../etc/shadow"))) TAIL,
            "file \"/r/../etc/shadow\" is not a clean absolute path", "path with ..");
    REFUSED(HEAD MS("2", "3") RPS(PT("rp-1", T1, "standard", DISK("vda", "/r//a"))) TAIL,
            "file \"/r//a\" is not a clean absolute path", "path with //");
    REFUSED(HEAD MS("2", "3") RPS(PT("rp-1", T1, "standard", DISK("vda", "/r/a") DISK("vda", "/r/b")))
            TAIL, "<point id=\"rp-1\">: <disk target=\"vda\">: duplicate disk target",
            "duplicate disk target");
    REFUSED(HEAD MS("2", "3") RPS(PT("rp-1", T1, "standard", DISK("vda", "/r/a"))
                                  PT("rp-2", T2, "standard", DISK("vda", "/r/a"))) TAIL,
            "<point id=\"rp-2\">: <disk target=\"vda\"> file \"/r/a\" is already the file of "
            "<point id=\"rp-1\"> <disk target=\"vda\">", "two points name the same file");
    REFUSED(HEAD MS("2", "3") RPS(PT("rp-1", T1, "standard", DISK("vda", "/r/a") DISK("vdb", "/r/a")))
            TAIL, "file \"/r/a\" is already the file of", "two disks of a point share a file");
    REFUSED(HEAD MS("2", "3") RPS(PT("rp-1", "2026-11-24 08:00:00", "standard", DISK("vda", "/r/a")))
            TAIL, "<point id=\"rp-1\">: time \"2026-11-24 08:00:00\" is not a UTC time", "bad time");
    REFUSED(HEAD MS("2", "3") RPS(PT("rp-1", "2026-02-30T08:00:00Z", "standard", DISK("vda", "/r/a")))
            TAIL, "time \"2026-02-30T08:00:00Z\" is not a UTC time", "February 30");
    REFUSED(HEAD MS("2", "3") RPS(PT("rp-1", "2026-11-24T08:00:00+01:00", "standard",
                                     DISK("vda", "/r/a"))) TAIL,
            "is not a UTC time", "time with an offset");
    REFUSED(HEAD MS("2", "3") RPS(PT("rp-1", T1, "crash-consistent", DISK("vda", "/r/a"))) TAIL,
            "<point id=\"rp-1\">: type \"crash-consistent\" is not a recovery point type",
            "bad recovery point type");
    REFUSED(HEAD MS("2", "3") RPS("<drover:point time=\"" T1 "\" type=\"standard\">"
                                  DISK("vda", "/r/a") "</drover:point>") TAIL,
            "<point> #1: attribute id missing", "point without id");
    REFUSED(HEAD MS("2", "3") RPS(PT("rp 1", T1, "standard", DISK("vda", "/r/a"))) TAIL,
            "id \"rp 1\" must be 1-64 printable ASCII characters without spaces", "id with a space");
    REFUSED(HEAD MS("2", "3") RPS(PT("rp-1", T1, "standard", "")) TAIL,
            "<point id=\"rp-1\">: no <disk>: at least one is required", "point without disks");
    REFUSED(HEAD MS("2", "3") RPS(PT("rp-1", T1, "standard", "<drover:disk file=\"/r/a\"/>")) TAIL,
            "<point id=\"rp-1\">: <disk> #1: attribute target missing", "disk without target");
    REFUSED(HEAD MS("2", "3") RPS(PT("rp-1", T1, "standard", "<drover:disk target=\"vda\"/>")) TAIL,
            "<disk target=\"vda\">: attribute file missing", "disk without file");
    REFUSED(HEAD MS("2", "3") "  <drover:primary host=\"a&#9;b\"/>\n" TAIL,
            "<primary>: host \"a?b\" contains a control character", "control character in an attribute");
    REFUSED(HEAD MS("2", "3") "  <drover:primary host=\"\"/>\n" TAIL,
            "<primary>: host is empty", "empty optional attribute");
}

void
test_refused_failover(void)
{
    REFUSED(HEAD MS("2", "3") RPS(P11) FO_OK TAIL,
            "<failover>: not allowed in state 3", "failover in state 3");
    REFUSED(HEAD MS("2", "5") RPS(P11) TAIL,
            "<failover> missing: state 5 (Recovered) requires it", "state 5 without failover");
    REFUSED(HEAD MS("2", "5") RPS(P11) FO("point=\"rp-9999\" time=\"" T2 "\"",
                                          DISK("vda", "/r/vda.fo") DISK("vdb", "/r/vdb.fo")) TAIL,
            "<failover>: point \"rp-9999\" is not a recovery point of this replica",
            "failover naming an unknown point");
    REFUSED(HEAD MS("2", "5") RPS(P11) FO("time=\"" T2 "\"", DISK("vda", "/r/vda.fo")) TAIL,
            "<failover>: attribute point missing", "failover without point");
    REFUSED(HEAD MS("2", "5") RPS(P11) FO("point=\"rp-0011\"", DISK("vda", "/r/vda.fo")) TAIL,
            "<failover>: attribute time missing", "failover without time");
    REFUSED(HEAD MS("2", "5") RPS(P11 P12) FO("point=\"rp-0011\" time=\"" T2 "\"",
                                              DISK("vda", "/r/vda.fo") DISK("vdb", "/r/vdb.12")) TAIL,
            "<failover>: <disk target=\"vdb\"> file \"/r/vdb.12\" is already the file of "
            "<point id=\"rp-0012\"> <disk target=\"vdb\">", "failover file equal to a point file");
    REFUSED(HEAD MS("2", "5") RPS(P11) FO("point=\"rp-0011\" time=\"" T2 "\"",
                                          DISK("vda", "/r/vda.fo")) TAIL,
            "<failover>: <disk target=\"vdb\"> missing: the failover needs one disk for each disk",
            "failover missing a disk");
    REFUSED(HEAD MS("2", "5") RPS(P11) FO("point=\"rp-0011\" time=\"" T2 "\" by=\"\"",
                                          DISK("vda", "/r/vda.fo") DISK("vdb", "/r/vdb.fo")) TAIL,
            "<failover>: by is empty", "empty operator");
    REFUSED(HEAD MS("2", "3") RPS(P11)
            TS("domain=\"t\" point=\"rp-0404\" time=\"" T2 "\"", DISK("vda", "/r/a") DISK("vdb", "/r/b"))
            TAIL, "<test-system>: point \"rp-0404\" is not a recovery point", "test-system with unknown point");
    REFUSED(HEAD MS("2", "3") RPS(P11)
            TS("point=\"rp-0011\" time=\"" T2 "\"", DISK("vda", "/r/a") DISK("vdb", "/r/b"))
            TAIL, "<test-system>: attribute domain missing", "test-system without domain");
    REFUSED(HEAD MS("2", "3") RPS(P11)
            TS("domain=\"t\" uuid=\"not-a-uuid\" point=\"rp-0011\" time=\"" T2 "\"",
               DISK("vda", "/r/a") DISK("vdb", "/r/b"))
            TAIL, "<test-system>: uuid \"not-a-uuid\" is not a UUID", "test-system with a bad uuid");
    REFUSED(HEAD MS("2", "5") RPS(P11) FO_OK
            TS("domain=\"t\" point=\"rp-0011\" time=\"" T2 "\"", DISK("vda", "/r/vda.fo")
               DISK("vdb", "/r/b"))
            TAIL, "<test-system>: <disk target=\"vda\"> file \"/r/vda.fo\" is already the file of "
            "<failover>", "test overlay equal to a failover overlay");
}

/* Issue 11 item 5: a failover disk keeps its <disk> element from before the
 * failover (any XML, escaped), so revert can put it back; a test system
 * names its own NVRAM copy.  Both survive format and parse byte for byte. */
void
test_before_and_nvram(void)
{
    static const char elem[] =
        "<disk type='file' device='disk'>\n  <driver name='qemu' type='qcow2'/>\n"
        "  <source file='/r/vda.12'><slices><slice type='storage' offset='1' size='2'/>"
        "</slices></source>\n  <backingStore type='file'><format type='qcow2'/>"
        "<source file=\"/r/a&b.qcow2\"/><backingStore/></backingStore>\n"
        "  <target dev='vda' bus='virtio'/>\n</disk>";
    Replica *r = parse_str(HEAD MS("2", "5") RPS(P11 P12) FO_OK TAIL);
    Replica *c;
    char *text;

    ok(r != NULL, "a failover record without <before> parses (older records)");
    if (!r)
        return;
    ok(r->failover->disks.v[0].before == NULL, "no <before>: NULL");
    r->failover->disks.v[0].before = util_xstrdup(elem);
    check_round_trip(r, "failover disk with <before>");
    text = replica_format(r);
    ok(strstr(text, "<drover:before>&lt;disk type='file'") != NULL,
       "<before> holds the element as escaped text");
    free(text);
    c = replica_copy(r);
    is_str(c->failover->disks.v[0].before, elem, "replica_copy copies <before>");
    replica_free(c);
    replica_free(r);

    r = parse_str(HEAD MS("2", "3") RPS(P11)
                  TS("domain=\"t\" point=\"rp-0011\" time=\"" T2 "\" nvram=\"/r/nvram.test-1.fd\"",
                     DISK("vda", "/r/a") DISK("vdb", "/r/b")) TAIL);
    ok(r && util_streq(r->test->nvram, "/r/nvram.test-1.fd"), "<test-system nvram=> parses");
    if (r) {
        check_round_trip(r, "test system with an NVRAM copy");
        c = replica_copy(r);
        is_str(c->test->nvram, "/r/nvram.test-1.fd", "replica_copy copies the NVRAM copy's path");
        replica_free(c);
    }
    replica_free(r);

    REFUSED(HEAD MS("2", "3") RPS(PT("rp-0011", T1, "standard",
                                     "<drover:disk target=\"vda\" file=\"/r/vda.11\">"
                                     "<drover:before>x</drover:before></drover:disk>")) TAIL,
            "unknown element <before>", "<before> in a point");
    REFUSED(HEAD MS("2", "3") RPS(P11)
            TS("domain=\"t\" point=\"rp-0011\" time=\"" T2 "\" nvram=\"rel/nvram\"",
               DISK("vda", "/r/a") DISK("vdb", "/r/b")) TAIL,
            "is not a clean absolute path", "test-system with a relative nvram");
}

void
test_refused_journal(void)
{
    REFUSED(HEAD MS("2", "3") JN(JN_ATTRS("rollback", "prepared"), "") TAIL,
            "<journal>: op \"rollback\" is not an operation", "journal with a bad op");
    REFUSED(HEAD MS("2", "3") JN(JN_ATTRS("revert", "discarding"), "") TAIL,
            "<journal>: step \"discarding\" is neither \"prepared\" nor \"switched\"",
            "journal with a bad step");
    REFUSED(HEAD MS("2", "3") JN("op=\"revert\" step=\"prepared\" time=\"" T2 "\" from=\"5\" to=\"3\"",
                                 "") TAIL,
            "<journal>: attribute job missing", "journal without job");
    REFUSED(HEAD MS("2", "3") JN("op=\"revert\" job=\"j\" step=\"prepared\" from=\"5\" to=\"3\"", "")
            TAIL, "<journal>: attribute time missing", "journal without time");
    REFUSED(HEAD MS("2", "3") JN(JN_ATTRS("revert", "prepared"),
                                 "<drover:create target=\"vda\" file=\"../a\"/>") TAIL,
            "<journal>: <create target=\"vda\">: file \"../a\" is not a clean absolute path",
            "journal with a relative file");
    REFUSED(HEAD MS("2", "3") JN(JN_ATTRS("revert", "prepared"),
                                 "<drover:remove target=\"vda\" file=\"/r/a\"/>"
                                 "<drover:remove target=\"vdb\" file=\"/r/a\"/>") TAIL,
            "<journal>: <remove target=\"vdb\"> file \"/r/a\" is already the file of "
            "<journal> <remove target=\"vda\">", "journal removes a file twice");
    REFUSED(HEAD MS("2", "3") JN(JN_ATTRS("revert", "prepared"), "<drover:disk target=\"vda\" "
                                 "file=\"/r/a\"/>") TAIL,
            "<journal>: unknown element <disk>", "disk inside a journal");
}

void
test_too_many_points(void)
{
    UtilBuf b = { 0 };
    char *doc;
    int i;

    util_buf_add(&b, HEAD MS("2", "3") "<drover:recovery-points>");
    for (i = 0; i < REPLICA_MAX_POINTS + 1; i++)
        util_buf_printf(&b, "<drover:point id=\"rp-%d\" time=\"" T1 "\" type=\"standard\">"
                        "<drover:disk target=\"vda\" file=\"/r/%d\"/></drover:point>", i, i);
    util_buf_add(&b, "</drover:recovery-points>" TAIL);
    doc = util_buf_steal(&b);
    REFUSED(doc, "more than 1024 points", "1025 points");
    free(doc);

    util_buf_add(&b, HEAD MS("2", "3") "<drover:recovery-points><drover:point id=\"rp-1\" time=\""
                 T1 "\" type=\"standard\">");
    for (i = 0; i < REPLICA_MAX_DISKS + 1; i++)
        util_buf_printf(&b, "<drover:disk target=\"vd%d\" file=\"/r/%d\"/>", i, i);
    util_buf_add(&b, "</drover:point></drover:recovery-points>" TAIL);
    doc = util_buf_steal(&b);
    REFUSED(doc, "more than 64 disks", "65 disks");
    free(doc);
}
