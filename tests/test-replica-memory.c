/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-replica: validate on in-memory records, copy and lookups, disk lists,
 * names, quiet libxml2, threads and parsing the same text again. */
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

/* ---- validate on in-memory records -------------------------------------- */

void
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

void
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

void
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

void
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
void
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

void
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
void
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
