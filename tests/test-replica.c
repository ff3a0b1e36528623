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
#include "test-replica.h"

/* ---- helpers ---------------------------------------------------------- */

int
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
const char *
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

Replica *
parse_str(const char *xml)
{
    return replica_parse(xml, strlen(xml));
}

/* Parses, then checks format(parse(format(r))) == format(r) and that
 * parse(format(r)) equals r. */
void
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

void
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

void
invalid(const Replica *r, const char *want, const char *name)
{
    err_clear();
    ok(replica_validate(r) == -1, "validate refuses: %s", name);
    is_int(err_code(), RESULT_INCORRECT_TYPE, "validate: 32776: %s", name);
    ok(strstr(err_message(), want) != NULL, "validate names the fault: %s", name);
    if (!strstr(err_message(), want))
        tap_diag("message: '%s'\n#   wanted: '%s'", err_message(), want);
}

Replica *
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
