/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-replica: round trips (minimal, full, escaping, accepted variants, the
 * size limit), what the writer refuses, and drover's own <replication>. */
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

/* ---- round trips -------------------------------------------------------- */

void
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

const char full_text[] =
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

void
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
void
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

void
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

void
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

void
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

/* What drover's own replication adds: <replication> and a point's
 * checkpoint, round trip and refusals; replica_dir before the first point. */
void
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
