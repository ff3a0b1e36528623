/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for replica: parse, validate, format, copy and the small helpers. */
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

#define NS "urn:drover:replica:1"
#define HEAD "<drover:replica xmlns:drover=\"" NS "\" format=\"1\">\n"
#define TAIL "</drover:replica>\n"
#define MS(m, s) "  <drover:mode>" m "</drover:mode>\n  <drover:state>" s "</drover:state>\n"
#define DISK(t, f) "<drover:disk target=\"" t "\" file=\"" f "\"/>"
#define PT(id, tm, type, disks) \
    "<drover:point id=\"" id "\" time=\"" tm "\" type=\"" type "\">" disks "</drover:point>\n"
#define RPS(x) "  <drover:recovery-points>\n" x "  </drover:recovery-points>\n"
#define T1 "2026-11-24T08:00:00Z"
#define T2 "2026-11-24T09:00:00Z"
#define P11 PT("rp-0011", T1, "standard", DISK("vda", "/r/vda.11") DISK("vdb", "/r/vdb.11"))
#define P12 PT("rp-0012", T2, "app-consistent", DISK("vda", "/r/vda.12") DISK("vdb", "/r/vdb.12"))
#define FO(attrs, disks) "  <drover:failover " attrs ">" disks "</drover:failover>\n"
#define FO_OK FO("point=\"rp-0011\" time=\"" T2 "\"", DISK("vda", "/r/vda.fo") DISK("vdb", "/r/vdb.fo"))
#define TS(attrs, disks) "  <drover:test-system " attrs ">" disks "</drover:test-system>\n"
#define JN(attrs, kids) "  <drover:journal " attrs ">" kids "</drover:journal>\n"
#define JN_ATTRS(op, step) \
    "op=\"" op "\" job=\"job-1\" step=\"" step "\" time=\"" T2 "\" from=\"5\" to=\"3\""

/* ---- helpers ---------------------------------------------------------- */

static int
disk_lists_same(const ReplicaDiskList *a, const ReplicaDiskList *b)
{
    size_t i;

    if (a->n != b->n)
        return 0;
    for (i = 0; i < a->n; i++) {
        if (!util_streq(a->v[i].target, b->v[i].target) ||
            !util_streq(a->v[i].file, b->v[i].file) || a->v[i].inode != b->v[i].inode ||
            !util_streq(a->v[i].before, b->v[i].before))
            return 0;
    }
    return 1;
}

/* Field by field; returns the name of the first difference or NULL. */
static const char *
replica_diff(const Replica *a, const Replica *b)
{
    size_t i;

    if (a->format != b->format) return "format";
    if (a->mode != b->mode) return "mode";
    if (a->state != b->state) return "state";
    if (!util_streq(a->primary_host, b->primary_host)) return "primary host";
    if (!util_streq(a->primary_uri, b->primary_uri)) return "primary uri";
    if (!util_streq(a->primary_name, b->primary_name)) return "primary name";
    if (a->npoints != b->npoints) return "npoints";
    for (i = 0; i < a->npoints; i++) {
        const ReplicaPoint *p = &a->points[i], *q = &b->points[i];

        if (!util_streq(p->id, q->id) || p->time != q->time || p->type != q->type ||
            !disk_lists_same(&p->disks, &q->disks))
            return "point";
    }
    if (!a->failover != !b->failover) return "failover presence";
    if (a->failover &&
        (!util_streq(a->failover->point, b->failover->point) ||
         a->failover->time != b->failover->time || !util_streq(a->failover->by, b->failover->by) ||
         !disk_lists_same(&a->failover->disks, &b->failover->disks)))
        return "failover";
    if (!a->test != !b->test) return "test presence";
    if (a->test &&
        (!util_streq(a->test->domain, b->test->domain) || !util_streq(a->test->uuid, b->test->uuid) ||
         !util_streq(a->test->point, b->test->point) || a->test->time != b->test->time ||
         !util_streq(a->test->nvram, b->test->nvram) ||
         !disk_lists_same(&a->test->disks, &b->test->disks)))
        return "test";
    if (!a->journal != !b->journal) return "journal presence";
    if (a->journal) {
        const ReplicaJournal *j = a->journal, *k = b->journal;

        if (!util_streq(j->op, k->op) || !util_streq(j->job, k->job) ||
            !util_streq(j->step, k->step) || j->time != k->time ||
            j->from_state != k->from_state || j->to_state != k->to_state ||
            !util_streq(j->point, k->point) || !disk_lists_same(&j->create, &k->create) ||
            !disk_lists_same(&j->remove, &k->remove))
            return "journal";
    }
    return NULL;
}

static Replica *
parse_str(const char *xml)
{
    return replica_parse(xml, strlen(xml));
}

/* Parses, then checks format(parse(format(r))) == format(r) and that
 * parse(format(r)) equals r. */
static void
check_round_trip(const Replica *r, const char *name)
{
    char *text = replica_format(r);
    Replica *back = replica_parse(text, strlen(text));
    char *text2;
    const char *diff;

    ok(back != NULL, "%s: formatted record parses back", name);
    if (!back) {
        tap_diag("error: %s", err_message());
        tap_diag("document:\n%s", text);
        free(text);
        return;
    }
    diff = replica_diff(r, back);
    ok(diff == NULL, "%s: parse(format(r)) equals r field by field", name);
    if (diff)
        tap_diag("first difference: %s", diff);
    text2 = replica_format(back);
    is_str(text2, text, "%s: format(parse(format(r))) is byte for byte format(r)", name);
    free(text);
    free(text2);
    replica_free(back);
}

static void
refused(const char *xml, size_t len, const char *want, const char *name)
{
    Replica *r;

    err_clear();
    r = replica_parse(xml, len);
    ok(r == NULL, "refused: %s", name);
    is_int(err_code(), RESULT_INCORRECT_TYPE, "refused with 32776: %s", name);
    ok(strstr(err_message(), want) != NULL, "message names the fault: %s", name);
    if (!strstr(err_message(), want))
        tap_diag("message: '%s'\n#   wanted: '%s'", err_message(), want);
    replica_free(r);
}

#define REFUSED(xml, want, name) refused((xml), strlen(xml), (want), (name))

static void
invalid(const Replica *r, const char *want, const char *name)
{
    err_clear();
    ok(replica_validate(r) == -1, "validate refuses: %s", name);
    is_int(err_code(), RESULT_INCORRECT_TYPE, "validate: 32776: %s", name);
    ok(strstr(err_message(), want) != NULL, "validate names the fault: %s", name);
    if (!strstr(err_message(), want))
        tap_diag("message: '%s'\n#   wanted: '%s'", err_message(), want);
}

static Replica *
make_full(void)
{
    Replica *r = replica_new();
    int64_t t;
    size_t i;

    r->mode = 2;
    r->state = 5;
    r->primary_host = util_xstrdup("prod-a");
    r->primary_uri = util_xstrdup("qemu+ssh://prod-a/system");
    r->primary_name = util_xstrdup("web01");
    r->npoints = 3;
    r->points = util_xcalloc(r->npoints, sizeof(*r->points));
    util_parse_time("2026-11-24T07:00:00Z", &t);
    for (i = 0; i < r->npoints; i++) {
        char *a = util_xasprintf("/var/lib/drover/web01/vda.rp-%04zu.qcow2", i + 10);
        char *b = util_xasprintf("/var/lib/drover/web01/vdb.rp-%04zu.qcow2", i + 10);

        r->points[i].id = util_xasprintf("rp-%04zu", i + 10);
        r->points[i].time = t + (int64_t)i * 3600;
        r->points[i].type = (int)i % 3 + 1;
        replica_disk_list_add(&r->points[i].disks, "vda", a, 0);
        replica_disk_list_add(&r->points[i].disks, "vdb", b, 0);
        free(a);
        free(b);
    }
    r->failover = util_xcalloc(1, sizeof(*r->failover));
    r->failover->point = util_xstrdup("rp-0011");
    r->failover->time = t + 4 * 3600 + 900;
    r->failover->by = util_xstrdup("alice");
    replica_disk_list_add(&r->failover->disks, "vda",
                          "/var/lib/drover/web01/vda.failover-20261124T111500Z.qcow2", 0);
    replica_disk_list_add(&r->failover->disks, "vdb",
                          "/var/lib/drover/web01/vdb.failover-20261124T111500Z.qcow2", 0);
    r->test = util_xcalloc(1, sizeof(*r->test));
    r->test->domain = util_xstrdup("web01-test");
    r->test->uuid = util_xstrdup("4dea22b3-1d52-d8f3-2516-782e98ab3fa0");
    r->test->point = util_xstrdup("rp-0010");
    r->test->time = t + 60;
    replica_disk_list_add(&r->test->disks, "vda", "/var/lib/drover/web01/vda.test.qcow2", 0);
    replica_disk_list_add(&r->test->disks, "vdb", "/var/lib/drover/web01/vdb.test.qcow2", 0);
    r->journal = util_xcalloc(1, sizeof(*r->journal));
    r->journal->op = util_xstrdup("revert");
    r->journal->job = util_xstrdup("JOB-0042");
    r->journal->step = util_xstrdup("prepared");
    r->journal->time = t + 5 * 3600;
    r->journal->from_state = 5;
    r->journal->to_state = 3;
    r->journal->point = util_xstrdup("rp-0011");
    replica_disk_list_add(&r->journal->create, "vda", "/var/lib/drover/web01/vda.new.qcow2", 0);
    replica_disk_list_add(&r->journal->remove, "vda",
                          "/var/lib/drover/web01/vda.failover-20261124T111500Z.qcow2", 123456);
    replica_disk_list_add(&r->journal->remove, "vdb",
                          "/var/lib/drover/web01/vdb.failover-20261124T111500Z.qcow2",
                          UINT64_MAX);
    return r;
}

/* ---- round trips -------------------------------------------------------- */

static void
test_minimal(void)
{
    Replica *r = replica_new();
    char *text;

    is_int(r->format, REPLICA_FORMAT, "new record has format 1");
    ok(replica_validate(r) == 0, "new record validates");
    r->mode = 2;
    r->state = 3;
    text = replica_format(r);
    is_str(text,
           "<drover:replica xmlns:drover=\"urn:drover:replica:1\" format=\"1\">\n"
           "  <drover:mode>2</drover:mode>\n"
           "  <drover:state>3</drover:state>\n"
           "</drover:replica>\n",
           "minimal record formats canonically (no optional parts)");
    free(text);
    check_round_trip(r, "minimal");
    replica_free(r);
}

static const char full_text[] =
    "<drover:replica xmlns:drover=\"urn:drover:replica:1\" format=\"1\">\n"
    "  <drover:mode>2</drover:mode>\n"
    "  <drover:state>5</drover:state>\n"
    "  <drover:primary host=\"prod-a\" uri=\"qemu+ssh://prod-a/system\" name=\"web01\"/>\n"
    "  <drover:recovery-points>\n"
    "    <drover:point id=\"rp-0010\" time=\"2026-11-24T07:00:00Z\" type=\"standard\">\n"
    "      <drover:disk target=\"vda\" file=\"/var/lib/drover/web01/vda.rp-0010.qcow2\"/>\n"
    "      <drover:disk target=\"vdb\" file=\"/var/lib/drover/web01/vdb.rp-0010.qcow2\"/>\n"
    "    </drover:point>\n"
    "    <drover:point id=\"rp-0011\" time=\"2026-11-24T08:00:00Z\" type=\"app-consistent\">\n"
    "      <drover:disk target=\"vda\" file=\"/var/lib/drover/web01/vda.rp-0011.qcow2\"/>\n"
    "      <drover:disk target=\"vdb\" file=\"/var/lib/drover/web01/vdb.rp-0011.qcow2\"/>\n"
    "    </drover:point>\n"
    "    <drover:point id=\"rp-0012\" time=\"2026-11-24T09:00:00Z\" type=\"planned\">\n"
    "      <drover:disk target=\"vda\" file=\"/var/lib/drover/web01/vda.rp-0012.qcow2\"/>\n"
    "      <drover:disk target=\"vdb\" file=\"/var/lib/drover/web01/vdb.rp-0012.qcow2\"/>\n"
    "    </drover:point>\n"
    "  </drover:recovery-points>\n"
    "  <drover:failover point=\"rp-0011\" time=\"2026-11-24T11:15:00Z\" by=\"alice\">\n"
    "    <drover:disk target=\"vda\" file=\"/var/lib/drover/web01/vda.failover-20261124T111500Z.qcow2\"/>\n"
    "    <drover:disk target=\"vdb\" file=\"/var/lib/drover/web01/vdb.failover-20261124T111500Z.qcow2\"/>\n"
    "  </drover:failover>\n"
    "  <drover:test-system domain=\"web01-test\" uuid=\"4dea22b3-1d52-d8f3-2516-782e98ab3fa0\" "
    "point=\"rp-0010\" time=\"2026-11-24T07:01:00Z\">\n"
    "    <drover:disk target=\"vda\" file=\"/var/lib/drover/web01/vda.test.qcow2\"/>\n"
    "    <drover:disk target=\"vdb\" file=\"/var/lib/drover/web01/vdb.test.qcow2\"/>\n"
    "  </drover:test-system>\n"
    "  <drover:journal op=\"revert\" job=\"JOB-0042\" step=\"prepared\" "
    "time=\"2026-11-24T12:00:00Z\" from=\"5\" to=\"3\" point=\"rp-0011\">\n"
    "    <drover:create target=\"vda\" file=\"/var/lib/drover/web01/vda.new.qcow2\"/>\n"
    "    <drover:remove target=\"vda\" file=\"/var/lib/drover/web01/vda.failover-20261124T111500Z.qcow2\" "
    "inode=\"123456\"/>\n"
    "    <drover:remove target=\"vdb\" file=\"/var/lib/drover/web01/vdb.failover-20261124T111500Z.qcow2\" "
    "inode=\"18446744073709551615\"/>\n"
    "  </drover:journal>\n"
    "</drover:replica>\n";

static void
test_full(void)
{
    Replica *r = make_full();
    Replica *p;
    char *text;

    ok(replica_validate(r) == 0, "full record validates");
    if (replica_validate(r) < 0)
        tap_diag("%s", err_message());
    text = replica_format(r);
    is_str(text, full_text, "full record formats canonically, elements in order");
    free(text);
    check_round_trip(r, "full");

    p = parse_str(full_text);
    ok(p != NULL, "canonical full text parses");
    if (p) {
        ok(replica_diff(r, p) == NULL, "parsed full text equals the record built in memory");
        is_int(p->journal->remove.v[1].inode, UINT64_MAX, "inode keeps all 64 bits");
        is_int(p->points[1].type, RP_TYPE_APP_CONSISTENT, "point type parsed");
        is_str(p->failover->by, "alice", "failover operator parsed");
    }
    replica_free(p);
    replica_free(r);
}

/* What XML cannot hold is refused by the writer, never written. */
static void
test_format_refuses(void)
{
    static const struct {
        const char *what, *value;
    } bad[] = {
        { "a control character", "O'Brien\x01" },
        { "an escape", "a\x1b[31mred" },
        { "DEL", "x\x7fy" },
        { "broken UTF-8", "caf\xc3" },
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        Replica *r = make_full();
        char *text;

        free(r->failover->by);
        r->failover->by = util_xstrdup(bad[i].value);
        err_clear();
        text = replica_format(r);
        ok(text == NULL, "format refuses %s in an attribute", bad[i].what);
        ok(err_code() == RESULT_INCORRECT_TYPE, "%s: code 32776", bad[i].what);
        ok(strstr(err_message(), "by \"") != NULL, "%s: the message names the field (%s)",
            bad[i].what, err_message());
        free(text);
        replica_free(r);
    }
    {
        Replica *r = make_full();
        char *text;

        free(r->failover->disks.v[0].before);
        r->failover->disks.v[0].before = util_xstrdup("<disk>\n\t<source file='/x'/>\r\n</disk>");
        text = replica_format(r);
        ok(text != NULL && strstr(text, "\t&lt;source") != NULL,
           "tab, newline and carriage return are written in <before>");
        free(text);
        free(r->failover->disks.v[0].before);
        r->failover->disks.v[0].before = util_xstrdup("<disk>\x02</disk>");
        text = replica_format(r);
        ok(text == NULL, "another control character in <before> is refused");
        free(text);
        replica_free(r);
    }
}

static void
test_escaping(void)
{
    Replica *r = make_full();
    char *text;

    free(r->primary_host);
    r->primary_host = util_xstrdup("a\"b'c<d>&e");
    free(r->primary_name);
    r->primary_name = util_xstrdup("Z\xc3\xbcrich \xe2\x9c\x93 web");
    free(r->failover->by);
    r->failover->by = util_xstrdup("O'Brien & <Sons>");
    free(r->failover->disks.v[0].file);
    r->failover->disks.v[0].file = util_xstrdup("/var/lib/drover/we\"b&01/vda<1>.qcow2");
    ok(replica_validate(r) == 0, "odd but valid characters validate");
    text = replica_format(r);
    /* libxml2's writer: " < > & escaped in attributes; ' needs none inside "". */
    ok(strstr(text, "host=\"a&quot;b'c&lt;d&gt;&amp;e\"") != NULL, "quotes, < and & escaped");
    ok(strstr(text, "by=\"O'Brien &amp; &lt;Sons&gt;\"") != NULL, "operator escaped");
    ok(strstr(text, "name=\"Z\xc3\xbcrich \xe2\x9c\x93 web\"") != NULL, "UTF-8 kept as is");
    ok(strstr(text, "file=\"/var/lib/drover/we&quot;b&amp;01/vda&lt;1&gt;.qcow2\"") != NULL,
       "file path escaped");
    free(text);
    check_round_trip(r, "escaping");
    replica_free(r);
}

static void
test_accepted_variants(void)
{
    static const char unprefixed[] =
        "<replica xmlns=\"urn:drover:replica:1\" format=\"1\">\n"
        "  <mode>2</mode>\n"
        "  <state>3</state>\n"
        "  <recovery-points>\n"
        "    <point id=\"rp-0011\" time=\"" T1 "\" type=\"standard\">\n"
        "      <disk target=\"vda\" file=\"/r/vda.11\"/>\n"
        "    </point>\n"
        "  </recovery-points>\n"
        "</replica>\n";
    static const char other_prefix[] =
        "<?xml version=\"1.0\"?>\n<!-- written by hand -->\n"
        "<x:replica xmlns:x=\"urn:drover:replica:1\" format=\"1\">"
        "<x:recovery-points><x:point id=\"rp-0011\" time=\"" T1 "\" type=\"standard\">"
        "<!-- c --><x:disk target=\"vda\" file=\"/r/vda.11\"/></x:point></x:recovery-points>"
        "<x:state><!-- three -->3</x:state><x:mode>2</x:mode></x:replica>";
    Replica *a = parse_str(unprefixed);
    Replica *b = parse_str(other_prefix);
    char *ta, *tb;

    ok(a != NULL, "unprefixed default-namespace document accepted (libvirt test driver form)");
    if (!a)
        tap_diag("%s", err_message());
    ok(b != NULL, "any prefix for the namespace, comments and any element order accepted");
    if (!b)
        tap_diag("%s", err_message());
    if (a && b) {
        ok(replica_diff(a, b) == NULL, "both forms read the same record");
        is_int(a->mode, 2, "mode read");
        is_int(a->state, 3, "state read");
        is_int(a->npoints, 1, "one point read");
        is_str(a->points[0].disks.v[0].file, "/r/vda.11", "disk file read");
        ta = replica_format(a);
        tb = replica_format(b);
        ok(strncmp(ta, "<drover:replica xmlns:drover=", 29) == 0, "formatted with the drover prefix");
        is_str(ta, tb, "both format to the same canonical text");
        free(ta);
        free(tb);
    }
    replica_free(a);
    replica_free(b);

    a = parse_str(HEAD MS("2", "12") RPS(P11) TAIL);
    ok(a != NULL && !a->failover, "state 12 without a failover element accepted");
    replica_free(a);
    a = parse_str(HEAD MS("2", "12") RPS(P11) FO_OK TAIL);
    ok(a != NULL && a->failover, "state 12 with a failover element accepted");
    replica_free(a);
    a = parse_str(HEAD MS("2", "3") RPS(P11 P12)
                  TS("domain=\"web01-test\" point=\"rp-0012\" time=\"" T2 "\"",
                     DISK("vda", "/r/vda.t") DISK("vdb", "/r/vdb.t"))
                  JN("op=\"commit\" job=\"j\" step=\"switched\" time=\"" T2 "\" from=\"5\" to=\"6\"",
                     "<drover:remove target=\"vda\" file=\"/r/vda.12\"/>"
                     "<drover:remove target=\"vda\" file=\"/r/vda.13\" inode=\"0\"/>") TAIL);
    ok(a != NULL, "test system without uuid, journal without point, repeated remove target");
    if (!a)
        tap_diag("%s", err_message());
    else
        ok(a->test->uuid == NULL && a->journal->point == NULL, "absent optional attributes are NULL");
    replica_free(a);
    a = parse_str(HEAD MS("0", "0") "  <drover:primary/>\n" TAIL);
    ok(a != NULL && !a->primary_host && !a->primary_uri && !a->primary_name,
       "empty <primary/> accepted");
    replica_free(a);
    a = parse_str(HEAD "<drover:mode>&#50;</drover:mode>" "<drover:state><![CDATA[3]]></drover:state>"
                  TAIL);
    ok(a != NULL && a->mode == 2 && a->state == 3, "character reference and CDATA in numbers");
    replica_free(a);
}

static void
test_size_limit(void)
{
    static const char body[] = HEAD MS("2", "3");
    size_t len = REPLICA_MAX_BYTES;
    char *buf = util_xmalloc(len + 2);
    size_t tail = strlen(TAIL);
    Replica *r;

    /* Exactly at the limit: padded with whitespace, still accepted. */
    memcpy(buf, body, strlen(body));
    memset(buf + strlen(body), ' ', len - strlen(body) - tail);
    memcpy(buf + len - tail, TAIL, tail);
    r = replica_parse(buf, len);
    ok(r != NULL, "a document of exactly REPLICA_MAX_BYTES is parsed");
    replica_free(r);
    memset(buf + strlen(body), ' ', len + 1 - strlen(body) - tail);
    memcpy(buf + len + 1 - tail, TAIL, tail);
    refused(buf, len + 1, "1048577 bytes, more than the 1048576 allowed", "oversized input (1 MiB + 1)");
    free(buf);
}

/* ---- refusals ----------------------------------------------------------- */

static void
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

static void
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

static void
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

static void
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
static void
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

static void
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

static void
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

/* ---- validate on in-memory records -------------------------------------- */

static void
test_validate(void)
{
    Replica *r = make_full();
    char *saved;

    ok(replica_validate(NULL) == -1 && err_code() == RESULT_INCORRECT_TYPE, "validate(NULL) refused");

    r->format = 2;
    invalid(r, "unknown metadata format \"2\"", "format 2 in memory");
    r->format = 1;

    r->mode = 7;
    invalid(r, "<mode>: 7 is not a mode number", "mode 7 in memory");
    r->mode = 2;

    r->points[0].type = 0;
    invalid(r, "<point id=\"rp-0010\">: type 0 is not a recovery point type", "type 0 in memory");
    r->points[0].type = RP_TYPE_STANDARD;

    r->points[1].time = -5;
    invalid(r, "<point id=\"rp-0011\">: time -5 is outside", "negative time in memory");
    r->points[1].time = 0;
    ok(replica_validate(r) == 0, "time 0 (1970) accepted");
    r->points[1].time = 1764000000;

    saved = r->points[2].id;
    r->points[2].id = NULL;
    invalid(r, "<point> #3: attribute id missing", "NULL id in memory");
    r->points[2].id = saved;

    r->points[0].disks.v[0].inode = 7;
    invalid(r, "<point id=\"rp-0010\">: <disk target=\"vda\">: an inode is only recorded for <remove>",
            "inode on a point disk in memory");
    r->points[0].disks.v[0].inode = 0;

    saved = r->failover->disks.v[1].file;
    r->failover->disks.v[1].file = util_xstrdup("/var/lib/drover/web01/vdb.rp-0012.qcow2");
    invalid(r, "<failover>: <disk target=\"vdb\"> file \"/var/lib/drover/web01/vdb.rp-0012.qcow2\" "
            "is already the file of <point id=\"rp-0012\">", "failover file equal to a point file in memory");
    free(r->failover->disks.v[1].file);
    r->failover->disks.v[1].file = saved;

    saved = r->primary_host;
    r->primary_host = util_xstrdup("bad\xff");
    invalid(r, "<primary>: host \"bad\xff\" is not valid UTF-8", "invalid UTF-8 in memory");
    free(r->primary_host);
    r->primary_host = util_xstrdup("a\nb");
    invalid(r, "contains a control character", "newline in memory");
    free(r->primary_host);
    r->primary_host = saved;

    r->journal->from_state = -1;
    invalid(r, "<journal>: from -1 is not a state number", "journal from -1 in memory");
    r->journal->from_state = 5;

    r->state = 3;
    invalid(r, "<failover>: not allowed in state 3", "failover in state 3 in memory");
    r->state = 12;
    ok(replica_validate(r) == 0, "record valid again after every field was restored");
    replica_failover_free(r->failover);
    r->failover = NULL;
    ok(replica_validate(r) == 0, "state 12 without failover is valid");
    r->state = 5;
    invalid(r, "<failover> missing", "state 5 without failover in memory");
    replica_free(r);
}

/* ---- helpers and memory ------------------------------------------------- */

static void
test_copy_and_lookups(void)
{
    Replica *r = make_full();
    Replica *c = replica_copy(r);
    char *before = replica_format(r);
    char *after;
    const ReplicaPoint *p;

    replica_free(r);
    after = replica_format(c);
    is_str(after, before, "copy survives freeing the original and formats the same");
    ok(replica_validate(c) == 0, "copy validates");
    free(before);
    free(after);
    ok(replica_copy(NULL) == NULL, "copy(NULL) is NULL");

    p = replica_find_point(c, "rp-0011");
    ok(p && p == &c->points[1], "find_point finds rp-0011");
    ok(replica_find_point(c, "rp-9999") == NULL, "find_point: unknown id is NULL");
    ok(replica_find_point(c, NULL) == NULL, "find_point: NULL id is NULL");
    ok(replica_find_point(NULL, "rp-0011") == NULL, "find_point: NULL record is NULL");

    p = replica_newest_point(c);
    ok(p && util_streq(p->id, "rp-0012"), "newest point is the latest time");
    c->points[2].time = c->points[0].time - 1;
    p = replica_newest_point(c);
    ok(p && util_streq(p->id, "rp-0011"), "newest point by time, not by document order");
    c->points[0].time = c->points[1].time;
    p = replica_newest_point(c);
    ok(p && util_streq(p->id, "rp-0011"), "tie goes to the later point in the document");
    replica_free(c);

    c = replica_new();
    ok(replica_newest_point(c) == NULL, "no points: newest is NULL");
    ok(replica_newest_point(NULL) == NULL, "newest_point(NULL) is NULL");
    replica_free(c);
}

static void
test_disk_lists(void)
{
    ReplicaDiskList a = { 0 }, b = { 0 };
    const ReplicaDisk *d;
    int i;

    for (i = 0; i < 20; i++) {
        char t[16], f[32];

        snprintf(t, sizeof(t), "vd%d", i);
        snprintf(f, sizeof(f), "/r/%d", i);
        replica_disk_list_add(&a, t, f, (uint64_t)i);
    }
    is_int(a.n, 20, "add appends");
    d = replica_disk_list_find(&a, "vd7");
    ok(d && util_streq(d->file, "/r/7") && d->inode == 7, "find returns the disk");
    ok(replica_disk_list_find(&a, "vdz") == NULL, "find: unknown target is NULL");
    ok(replica_disk_list_find(NULL, "vda") == NULL, "find: NULL list is NULL");
    ok(replica_disk_list_find(&a, NULL) == NULL, "find: NULL target is NULL");

    replica_disk_list_copy(&b, &a);
    ok(disk_lists_same(&a, &b), "copy is equal");
    ok(b.v != a.v && b.v[3].file != a.v[3].file, "copy is deep");
    b.v[3].file[1] = 'X';
    is_str(a.v[3].file, "/r/3", "changing the copy leaves the source alone");
    replica_disk_list_clear(&a);
    ok(a.n == 0 && a.v == NULL, "clear empties the list");
    is_str(b.v[19].target, "vd19", "copy survives clearing the source");
    replica_disk_list_add(&b, "vdx", "/r/x", 0);
    is_int(b.n, 21, "add after copy");
    replica_disk_list_clear(&b);
    replica_disk_list_copy(&b, &a);
    ok(b.n == 0 && b.v == NULL, "copy of an empty list is empty");
    replica_disk_list_clear(&b);
}

static void
test_names_and_free_null(void)
{
    is_str(replica_rp_type_name(RP_TYPE_STANDARD), "standard", "type name standard");
    is_str(replica_rp_type_name(RP_TYPE_APP_CONSISTENT), "app-consistent", "type name app-consistent");
    is_str(replica_rp_type_name(RP_TYPE_PLANNED), "planned", "type name planned");
    is_str(replica_rp_type_name(9), "invalid", "unknown type has a printable name");
    is_int(replica_rp_type_from_name("app-consistent"), RP_TYPE_APP_CONSISTENT, "type from name");
    is_int(replica_rp_type_from_name("Standard"), -1, "type names are case-sensitive");
    is_int(replica_rp_type_from_name(NULL), -1, "type from NULL");
    replica_free(NULL);
    replica_journal_free(NULL);
    replica_failover_free(NULL);
    replica_test_free(NULL);
    replica_disk_list_clear(NULL);
    ok(1, "every _free accepts NULL");
}

/* libxml2 must not write to stderr: the console owns the terminal. */
static void
test_quiet(void)
{
    char path[4096];
    int fd, saved;
    Replica *r1, *r2;
    off_t size;

    snprintf(path, sizeof(path), "%s/stderr", tap_tmpdir());
    fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
    fflush(stderr);
    saved = dup(2);
    dup2(fd, 2);
    r1 = parse_str("<drover:replica xmlns:drover=\"" NS "\" format=\"1\"><x:y/></drover:replica>");
    r2 = parse_str("<a>\n<b>\n</a>");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    size = lseek(fd, 0, SEEK_END);
    close(fd);
    ok(r1 == NULL && r2 == NULL, "malformed documents refused");
    is_int(size, 0, "nothing printed to stderr while parsing malformed XML");
    ok(strstr(err_message(), "line 3: Opening and ending tag mismatch: b line 2 and a") != NULL,
       "libxml2's first message and its line kept in the error");
    if (!strstr(err_message(), "line 3: Opening and ending tag mismatch: b line 2 and a"))
        tap_diag("message: %s", err_message());
}

#define THREADS 4
#define ROUNDS 200

typedef struct {
    int failures;
} ThreadResult;

/* Each thread checks both outcomes and its own error: the error is per thread. */
static void *
thread_main(void *arg)
{
    ThreadResult *res = arg;
    static const char bad[] = HEAD MS("2", "5") RPS(P11) TAIL;
    int i;

    for (i = 0; i < ROUNDS; i++) {
        Replica *r = replica_parse(full_text, strlen(full_text));
        char *text = r ? replica_format(r) : NULL;

        if (!r || strcmp(text, full_text) != 0)
            res->failures++;
        free(text);
        replica_free(r);
        r = replica_parse(bad, strlen(bad));
        if (r || err_code() != RESULT_INCORRECT_TYPE || !strstr(err_message(), "<failover> missing"))
            res->failures++;
        replica_free(r);
    }
    return NULL;
}

static void
test_threads(void)
{
    pthread_t th[THREADS];
    ThreadResult res[THREADS];
    int i, failures = 0;

    memset(res, 0, sizeof(res));
    for (i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, thread_main, &res[i]);
    for (i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        failures += res[i].failures;
    }
    is_int(failures, 0, "%d threads parse, refuse and format concurrently", THREADS);
}

/* The same text parsed twice in a row gives two records of their own that
 * read the same, and a text that differs by one byte reads as itself. */
static void
test_parse_again(void)
{
    static const char a[] = HEAD MS("2", "3") RPS(P11 P12) TAIL;
    static const char b[] = HEAD MS("2", "4") RPS(P11 P12) TAIL;
    char bad[sizeof(a)];
    Replica *r1 = parse_str(a), *r2 = parse_str(a), *r3;
    char *f1, *f2;
    int i, wrong = 0;

    ok(r1 && r2 && r1 != r2, "the same text parsed twice: two records");
    f1 = r1 ? replica_format(r1) : NULL;
    f2 = r2 ? replica_format(r2) : NULL;
    ok(f1 && f2 && strcmp(f1, f2) == 0, "both read the same");
    if (r1 && r2) {
        r1->state = 4;
        free(r1->points[0].id);
        r1->points[0].id = util_xstrdup("rp-9999");
        replica_free(r1);
        r1 = NULL;
        is_int(r2->state, 3, "changing and freeing the first leaves the second alone (state)");
        is_str(r2->points[0].id, "rp-0011", "changing and freeing the first leaves the second "
               "alone (point id)");
    }
    replica_free(r2);
    /* Every part of a record survives a second parse of its text. */
    r1 = parse_str(full_text);
    r2 = parse_str(full_text);
    free(f1);
    free(f2);
    f1 = r1 ? replica_format(r1) : NULL;
    f2 = r2 ? replica_format(r2) : NULL;
    ok(f1 && f2 && strcmp(f1, full_text) == 0 && strcmp(f2, full_text) == 0,
       "the full record parsed twice formats back to its text both times");
    replica_free(r1);
    replica_free(r2);
    /* Same length, one byte changed: a different record, and a refusal. */
    r3 = parse_str(b);
    is_int(r3 ? r3->state : -1, 4, "a text of the same length that differs: its own record");
    replica_free(r3);
    memcpy(bad, a, sizeof(a));
    bad[strlen(HEAD) + 2] = '!';
    r3 = parse_str(a);
    replica_free(r3);
    r3 = parse_str(bad);
    ok(!r3 && err_code() == RESULT_INCORRECT_TYPE,
       "after a valid text, the same text with one byte broken is refused");
    err_clear();
    r3 = parse_str(a);
    is_int(r3 ? r3->state : -1, 3, "and the valid text reads again");
    replica_free(r3);
    /* Thousands of distinct short names and values: each record reads as
     * it is. */
    for (i = 0; i < 6000; i++) {
        char id[16], doc[512];
        Replica *r;

        snprintf(id, sizeof(id), "rp-%05d", i);
        snprintf(doc, sizeof(doc), HEAD MS("2", "3") RPS(PT("%s", T1, "standard",
                 DISK("v%d", "/r/%d"))) TAIL, id, i, i);
        r = parse_str(doc);
        if (!r || r->npoints != 1 || strcmp(r->points[0].id, id) != 0)
            wrong++;
        replica_free(r);
    }
    is_int(wrong, 0, "6000 records with distinct names read as themselves");
    free(f1);
    free(f2);
}

/* What drover's own replication adds: <replication> and a point's
 * checkpoint, round trip and refusals; replica_dir before the first point. */
static void
test_replication(void)
{
    static const char doc[] =
        "<drover:replica xmlns:drover=\"urn:drover:replica:1\" format=\"1\">\n"
        "  <drover:mode>2</drover:mode>\n"
        "  <drover:state>3</drover:state>\n"
        "  <drover:primary host=\"prod-a\" uri=\"qemu+ssh://prod-a/system\" name=\"web01\"/>\n"
        "  <drover:replication dir=\"/var/lib/drover/web01\" nbd=\"prod-a:10809\" interval=\"300\" points=\"12\"/>\n"
        "  <drover:recovery-points>\n"
        "    <drover:point id=\"rp-0001\" time=\"2026-11-24T09:00:00Z\" type=\"standard\" checkpoint=\"drover.1\">\n"
        "      <drover:disk target=\"vda\" file=\"/var/lib/drover/web01/vda.rp-0001.qcow2\"/>\n"
        "    </drover:point>\n"
        "  </drover:recovery-points>\n"
        "</drover:replica>\n";
    static const char *const bad[][2] = {
        { "<drover:replication nbd=\"x:1\"/>", "<replication>: attribute dir missing" },
        { "<drover:replication dir=\"rel/dir\"/>", "is not a clean absolute path" },
        { "<drover:replication dir=\"/d\" interval=\"-5\"/>", "interval" },
        { "<drover:replication dir=\"/d\" points=\"many\"/>", "points" },
        { "<drover:replication dir=\"/d\" speed=\"1\"/>", "speed" },
        { "<drover:replication dir=\"/d\" tls=\"pki/client\"/>", "tls \"pki/client\" is not a clean absolute path" },
        { "<drover:replication dir=\"/d\"/><drover:replication dir=\"/e\"/>", "duplicate element <replication>" },
    };
    Replica *r = replica_parse(doc, strlen(doc)), *e;
    char *text, *dir;
    size_t i;

    ok(r != NULL, "record with <replication> and a checkpoint parses");
    if (!r)
        return;
    ok(r->repl && util_streq(r->repl->dir, "/var/lib/drover/web01") &&
       util_streq(r->repl->nbd, "prod-a:10809") && r->repl->interval == 300 &&
       r->repl->points == 12, "<replication> read: dir, nbd, interval, points");
    is_str(r->points[0].checkpoint, "drover.1", "a point's checkpoint read");
    text = replica_format(r);
    is_str(text, doc, "formats back byte for byte");
    /* Parsed again: the same record, every part. */
    e = replica_parse(doc, strlen(doc));
    free(text);
    text = e ? replica_format(e) : NULL;
    is_str(text, doc, "parsed again, formats back byte for byte");
    replica_free(e);
    e = replica_copy(r);
    free(text);
    text = replica_format(e);
    is_str(text, doc, "a copy keeps <replication> and the checkpoint");
    free(text);
    replica_free(e);
    /* Before the first point the directory comes from <replication>. */
    e = replica_new();
    e->mode = 2;
    e->state = 1;
    e->repl = util_xcalloc(1, sizeof(*e->repl));
    e->repl->dir = util_xstrdup("/var/lib/drover/new");
    ok(replica_validate(e) == 0, "a record in state 1 without points validates");
    dir = replica_dir(e);
    is_str(dir, "/var/lib/drover/new", "replica_dir before the first point: <replication> dir");
    free(dir);
    dir = replica_lock_path(e, "1b4e28ba-2fa1-11d2-883f-0016d3cca427");
    is_str(dir, "/var/lib/drover/new/.drover-1b4e28ba-2fa1-11d2-883f-0016d3cca427.lock",
           "the lock lives there too");
    free(dir);
    replica_free(e);
    replica_free(r);
    /* NBD over TLS: the client's certificate directory, round trip. */
    {
        static const char tls[] =
            "<drover:replica xmlns:drover=\"urn:drover:replica:1\" format=\"1\">\n"
            "  <drover:mode>2</drover:mode>\n"
            "  <drover:state>1</drover:state>\n"
            "  <drover:replication dir=\"/var/lib/drover/web01\" nbd=\"prod-a:10809\" interval=\"0\" points=\"0\" tls=\"/etc/pki/drover\"/>\n"
            "</drover:replica>\n";
        Replica *t = replica_parse(tls, strlen(tls)), *tc;

        ok(t && t->repl && util_streq(t->repl->tls, "/etc/pki/drover"), "<replication> tls read");
        text = t ? replica_format(t) : NULL;
        is_str(text, tls, "tls formats back byte for byte");
        free(text);
        tc = t ? replica_copy(t) : NULL;
        ok(tc && util_streq(tc->repl->tls, "/etc/pki/drover"), "a copy keeps tls");
        replica_free(tc);
        replica_free(t);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *d = util_xasprintf("<drover:replica xmlns:drover=\"urn:drover:replica:1\" format=\"1\">"
                                 "<drover:mode>2</drover:mode><drover:state>1</drover:state>%s"
                                 "</drover:replica>", bad[i][0]);
        Replica *x = replica_parse(d, strlen(d));

        ok(x == NULL && err_code() == RESULT_INCORRECT_TYPE && strstr(err_message(), bad[i][1]),
           "refused with 32776 naming \"%s\": %s", bad[i][1], x ? "accepted" : err_message());
        replica_free(x);
        free(d);
    }
    {
        static const char cp[] =
            "<drover:replica xmlns:drover=\"urn:drover:replica:1\" format=\"1\">"
            "<drover:mode>2</drover:mode><drover:state>3</drover:state><drover:recovery-points>"
            "<drover:point id=\"rp-0001\" time=\"2026-11-24T09:00:00Z\" type=\"standard\" checkpoint=\"a b\">"
            "<drover:disk target=\"vda\" file=\"/r/a\"/></drover:point></drover:recovery-points>"
            "</drover:replica>";
        Replica *x = replica_parse(cp, strlen(cp));

        ok(x == NULL && err_code() == RESULT_INCORRECT_TYPE && strstr(err_message(), "checkpoint"),
           "a checkpoint name with a space is refused: %s", x ? "accepted" : err_message());
        replica_free(x);
    }
}

int
main(void)
{
    test_minimal();
    test_full();
    test_escaping();
    test_format_refuses();
    test_accepted_variants();
    test_size_limit();
    test_refused_structure();
    test_refused_numbers();
    test_refused_points();
    test_refused_failover();
    test_before_and_nvram();
    test_refused_journal();
    test_too_many_points();
    test_validate();
    test_copy_and_lookups();
    test_disk_lists();
    test_names_and_free_null();
    test_quiet();
    test_threads();
    test_parse_again();
    test_replication();
    return tap_done();
}
