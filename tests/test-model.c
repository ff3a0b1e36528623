/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for the console's model (src/model*) and view (ui/view.c) against
 * real demo fleets: libvirt's test driver and real qcow2 chains. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "face/demo.h"
#include "base/fsutil.h"
#include "base/err.h"
#include "ops/job.h"
#include "base/lock.h"
#include "model/model.h"
#include "ops/ops.h"
#include "ops/plan.h"
#include "base/result.h"
#include "face/session.h"
#include "record/state.h"
#include "tap.h"
#include "base/util.h"
#include "view.h"

#define WAIT_MS 30000

/* Runs the UI side of the loop until pred(m, arg) holds or WAIT_MS pass;
 * returns the flags seen.  *okp tells whether pred held. */
typedef int (*Pred)(Model *m, void *arg);

static unsigned
pump(Model *m, Pred pred, void *arg, int *okp)
{
    int64_t end = util_mono_ms() + WAIT_MS;
    unsigned seen = 0;

    *okp = 0;
    while (util_mono_ms() < end) {
        struct pollfd p = { .fd = model_fd(m), .events = POLLIN };
        int wait = model_tick(m);

        if (pred(m, arg)) {
            *okp = 1;
            return seen;
        }
        if (poll(&p, 1, wait > 100 ? 100 : wait) > 0)
            seen |= model_process(m);
    }
    *okp = pred(m, arg);
    return seen;
}

static int
pred_rounds(Model *m, void *arg)
{
    return model_rounds(m) >= *(unsigned *)arg;
}

static const ModelRow *
find_name(Model *m, size_t host, const char *name)
{
    size_t i;

    for (i = 0; i < model_nrows(m); i++) {
        const ModelRow *r = model_row(m, i);
        if (r->host == host && util_streq(r->s.name, name))
            return r;
    }
    return NULL;
}

typedef struct {
    const char *name;
    int state;
} WantState;

static int
pred_state(Model *m, void *arg)
{
    WantState *w = arg;
    const ModelRow *r = find_name(m, 0, w->name);
    return r && r->loaded && r->s.state == w->state;
}

/* erp01 is (*arg) or is not (!*arg) busy. */
static int
pred_busy(Model *m, void *arg)
{
    const ModelRow *r = find_name(m, 0, "erp01");
    return r && r->loaded && (r->busy != NULL) == *(int *)arg;
}

static int
pred_repaired(Model *m, void *arg)
{
    const ModelRow *r = find_name(m, 0, arg);
    return r && r->loaded && !r->s.journal_op;
}

/* Where this test's audit log and job history live: never the system's
 * (as root the defaults are LOCALSTATEDIR's, shared with every drover). */
static char *test_state_dir;

static Session *
open_session(const char *uri, const char *uri2)
{
    const char *uris[3] = { uri, uri2, NULL };
    SessionArgs a;

    memset(&a, 0, sizeof(a));
    a.uris = uris;
    a.connect = 1;
    a.state_dir = test_state_dir;
    return session_open(&a);
}

static char *
build_fleet(const char *sub, int vms)
{
    UTIL_AUTOFREE char *dir = util_xasprintf("%s/%s", tap_tmpdir(), sub);
    DemoArgs da;
    char *uri;

    memset(&da, 0, sizeof(da));
    da.dir = dir;
    da.vms = vms;
    uri = demo_build(&da);
    if (!uri)
        tap_diag("demo_build %s: %s", dir, err_message());
    return uri;
}

/* First load, rows, a dead second host, details, plans, execution. */
static void
test_fleet(const char *uri)
{
    Session *s = open_session(uri, "test:///nonexistent/drover-no-such-fleet.xml");
    ModelOpts mo = { .refresh_interval = 3600, .rpo_warning = 3600 };
    Model *m;
    const ModelRow *r;
    const ModelHost *h;
    unsigned one = 1;
    int okp, i;
    char job[37];

    if (!s) {
        ok(0, "session opens: %s", err_message());
        return;
    }
    m = model_new(s, &mo);
    pump(m, pred_rounds, &one, &okp);
    ok(okp, "first load finishes on both hosts, one of them dead");
    h = model_host(m, 0);
    is_int(h->state, MODEL_HOST_CONNECTED, "the fleet host is connected");
    ok(h->last_ok_ms > 0, "its data age is known");
    is_int(h->nrows, h->nloaded, "every row's record is read");
    ok(h->nrows >= 12, "the twelve replicas are listed (%zu rows)", h->nrows);
    h = model_host(m, 1);
    is_int(h->state, MODEL_HOST_DISCONNECTED, "the missing fleet shows disconnected");
    ok(h->error && *h->error, "with why: %s", h->error ? h->error : "(none)");
    is_int(h->nrows, 0, "and no rows");

    r = find_name(m, 0, "web02");
    ok(r && r->loaded && r->s.state == STATE_RECOVERED, "web02 is 5 Recovered");
    ok(r && r->s.failover_point, "web02 has a failover point");
    r = find_name(m, 0, "erp01");
    ok(r && r->s.health == HEALTH_CRITICAL && r->s.journal_op,
       "erp01 with an interrupted operation is Critical");
    r = find_name(m, 0, "files01");
    ok(r && r->s.health == HEALTH_CRITICAL && r->s.problem, "files01 with a missing RP is Critical: %s",
       r && r->s.problem ? r->s.problem : "");
    r = find_name(m, 0, "web01");
    ok(r && r->s.state == STATE_REPLICATING && r->s.health == HEALTH_NORMAL, "web01 is 3 Replicating, Normal");
    ok(r && model_find(m, 0, r->s.uuid) == r, "model_find finds a row by UUID");
    ok(model_find(m, 0, "00000000-0000-0000-0000-000000000000") == NULL, "an unknown UUID is not found");
    for (i = 1, okp = 1; i < (int)model_host(m, 0)->nrows; i++)
        if (strcmp(model_row(m, (size_t)i - 1)->s.name, model_row(m, (size_t)i)->s.name) > 0)
            okp = 0;
    ok(okp, "rows are sorted by name");

    /* A full resync with nothing changed keeps every row as it was. */
    {
        unsigned before[64];
        size_t nb = model_nrows(m), k;
        unsigned two = model_rounds(m) + 1;
        int same = 1;

        for (k = 0; k < nb && k < 64; k++)
            before[k] = model_row(m, k)->version;
        model_refresh(m);
        pump(m, pred_rounds, &two, &okp);
        ok(okp, "a forced refresh runs another round");
        is_int(model_nrows(m), nb, "the same rows after the resync");
        for (k = 0; k < nb && k < 64; k++)
            if (model_row(m, k)->version != before[k] || !model_row(m, k)->loaded)
                same = 0;
        ok(same, "every row keeps its record and version when nothing changed");
    }

    /* Details: chains walked, deep health. */
    r = find_name(m, 0, "db01");
    if (r) {
        char uuid[37];
        const ModelDetail *d;
        int got;

        util_strlcpy(uuid, r->s.uuid, sizeof(uuid));
        model_detail_request(m, 0, uuid);
        ok(model_detail_pending(m), "a detail request is pending");
        for (got = 0, i = 0; i < 300 && !got; i++) {
            struct pollfd p = { .fd = model_fd(m), .events = POLLIN };
            if (poll(&p, 1, 100) > 0 && (model_process(m) & MODEL_CH_DETAIL))
                got = 1;
        }
        d = model_detail(m);
        ok(got && d && strcmp(d->uuid, uuid) == 0, "details of db01 arrive");
        if (d) {
            is_int(d->ndisks, 2, "db01 has two disks");
            ok(d->rec && d->rec->failover, "its record with the failover");
            ok(d->ndisks && d->disks[0].used && d->disks[0].used->n >= 2,
               "the chain of vda is walked (%zu layers)", d->ndisks && d->disks[0].used ? d->disks[0].used->n : 0);
            ok(d->ndisks && d->disks[0].source && d->disks[0].used &&
               strcmp(d->disks[0].used->layers[0].path, d->disks[0].source) == 0,
               "the top layer is what the domain uses");
            ok(d->health.health == HEALTH_NORMAL, "deep health is Normal (%d)", d->health.health);
        }
    }

    /* Plans: refused on a Replicating VM with 32775, a plan for a Recovered one. */
    r = find_name(m, 0, "web01");
    if (r) {
        Plan *p = NULL;
        ErrInfo e;
        unsigned id = model_plan_request(m, 0, r->s.uuid, OP_REVERT, NULL, 0);
        int done = 0;

        memset(&e, 0, sizeof(e));
        for (i = 0; i < 300 && !done; i++) {
            struct pollfd pf = { .fd = model_fd(m), .events = POLLIN };
            if (poll(&pf, 1, 100) > 0)
                model_process(m);
            done = model_plan_take(m, id, &p, &e) == 1;
        }
        ok(done && !p && e.code == RESULT_INVALID_STATE, "revert of a Replicating VM is refused: %d %s",
           e.code, e.message);
        plan_free(p);
    }
    r = find_name(m, 0, "web02");
    if (r) {
        Plan *p = NULL;
        ErrInfo e;
        unsigned id1 = model_plan_request(m, 0, r->s.uuid, OP_REVERT, NULL, 0);
        unsigned id = model_plan_request(m, 0, r->s.uuid, OP_REVERT, NULL, 0);
        int done = 0;
        WantState w = { "web02", STATE_REPLICATING };
        JobInfo ji;
        struct stat st;
        UTIL_AUTOFREE char *overlay = NULL;

        ok(id != id1, "each plan request has its own id");
        ok(model_plan_take(m, id1, &p, &e) == -1, "a replaced request is forgotten");
        for (i = 0; i < 300 && !done; i++) {
            struct pollfd pf = { .fd = model_fd(m), .events = POLLIN };
            if (poll(&pf, 1, 100) > 0)
                model_process(m);
            done = model_plan_take(m, id, &p, &e) == 1;
        }
        ok(done && p, "a revert plan for web02");
        if (p) {
            is_int(p->from_state, STATE_RECOVERED, "from 5 Recovered");
            is_int(p->to_state, STATE_REPLICATING, "to 3 Replicating");
            is_int(p->remove.n, 1, "one file to delete");
            overlay = p->remove.n ? util_xstrdup(p->remove.v[0].path) : NULL;
            ok(overlay && stat(overlay, &st) == 0, "the overlay exists before");
            /* Execute through a job; the row follows from events alone
             * (the resync interval is an hour). */
            ok(model_execute(m, p, "test", job) == 0, "the job starts");
            pump(m, pred_state, &w, &okp);
            ok(okp, "the row turns 3 Replicating without a resync");
            ok(job_table_get(s->jobs, job, &ji) == 0, "the job is in the table");
            for (i = 0; i < 300 && ji.state < JOB_COMPLETED; i++) {
                usleep(10000);
                job_table_get(s->jobs, job, &ji);
            }
            is_int(ji.state, JOB_COMPLETED, "the job completed");
            is_int(ji.error_code, 0, "with code 0");
            ok(overlay && stat(overlay, &st) < 0 && errno == ENOENT, "the overlay is gone");
        }
    }

    /* Read-only hosts refuse before anything starts. */
    s->hosts[0].readonly = 1;
    r = find_name(m, 0, "hr01");
    ok(r && model_repair(m, 0, r->s.uuid, r->s.name, NULL, job) < 0 &&
       err_code() == RESULT_ACCESS_DENIED, "repair on a read-only host is refused with 32769");
    err_clear();
    s->hosts[0].readonly = 0;

    /* erp01's journal with its lock held is an operation in progress
     * (busy, with the holder), not an interruption. */
    r = find_name(m, 0, "erp01");
    if (r) {
        UTIL_AUTOFREE char *lockpath = util_xasprintf("%s/fleet/vms/erp01/.drover-%s.lock", tap_tmpdir(),
                                                      r->s.uuid);
        LockHandle *lk = lock_acquire(lockpath, "test-holder (model test)");
        int want = 1;

        ok(lk != NULL, "the test holds erp01's lock");
        ok(r->busy == NULL, "erp01 is not busy before");
        model_refresh(m);
        pump(m, pred_busy, &want, &okp);
        r = find_name(m, 0, "erp01");
        ok(r && r->busy && strstr(r->busy, "test-holder (model test)"), "with the lock held erp01 is busy: %s",
           r && r->busy ? r->busy : "(not busy)");
        lock_release(lk);
        want = 0;
        model_refresh(m);
        pump(m, pred_busy, &want, &okp);
        r = find_name(m, 0, "erp01");
        ok(r && !r->busy && r->s.journal_op, "released: interrupted again, not busy (%s)",
           r && r->busy ? r->busy : "-");
    }

    /* Repair of erp01 (interrupted after its switch) through a job. */
    r = find_name(m, 0, "erp01");
    if (r) {
        const ModelRow *after;

        ok(r->s.journal_op != NULL, "erp01 carries a journal before");
        ok(model_repair(m, 0, r->s.uuid, r->s.name, "drill", job) == 0, "repair starts");
        pump(m, pred_repaired, (void *)"erp01", &okp);
        after = find_name(m, 0, "erp01");
        if (after)
            tap_diag("erp01 after repair: state %d health %d journal %s", after->s.state, after->s.health,
                     after->s.journal_op ? after->s.journal_op : "none");
        ok(okp && after && !after->s.journal_op && after->s.health != HEALTH_CRITICAL,
           "erp01 is repaired: 3 Replicating, no journal");
        is_str(model_job_op(MODEL_JOB_REPAIR), "repair", "repair jobs decode as repair");
        is_str(model_job_title(98), "Revert failover", "job titles are the operations' one name");
        is_str(model_job_title(102), "Test failover", "a test failover job is \"Test failover\", not the CIM name");
    }
    model_free(m);
    session_free(s);
}

/* A change made by another process reaches the model through the fleet
 * file reload on the refresh timer. */
static void
test_other_process(const char *uri)
{
    Session *s = open_session(uri, NULL);
    ModelOpts mo = { .refresh_interval = 1, .rpo_warning = 3600 };
    Model *m;
    unsigned one = 1;
    int okp, status = -1;
    pid_t pid;
    UTIL_AUTOFREE char *conf = NULL;
    WantState w = { "hr01", STATE_REPLICATING };

    if (!s) {
        ok(0, "session opens: %s", err_message());
        return;
    }
    m = model_new(s, &mo);
    pump(m, pred_rounds, &one, &okp);
    ok(okp && find_name(m, 0, "hr01") && find_name(m, 0, "hr01")->s.state == STATE_RECOVERED,
       "hr01 starts 5 Recovered");
    /* The other process is drover's own command line, with its audit log
     * and job history in this test's directory too. */
    conf = util_xasprintf("%s/other.conf", test_state_dir);
    {
        FILE *f = fopen(conf, "w");

        if (f) {
            fprintf(f, "audit_log = \"%s/audit.log\";\njob_history = \"%s/jobs.jsonl\";\n",
                    test_state_dir, test_state_dir);
            fclose(f);
        }
    }
    pid = fork();
    if (pid == 0) {
        const char *drover = getenv("DROVER");
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(drover ? drover : "./drover", "drover", "--config", conf, "-c", uri, "--yes", "revert",
              "hr01", (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "drover revert hr01 in another process succeeds");
    pump(m, pred_state, &w, &okp);
    ok(okp, "the console's model sees hr01 turn 3 Replicating");
    model_free(m);
    session_free(s);
}

/* The rows on screen are read first. */
static void
test_priority(const char *uri)
{
    Session *s = open_session(uri, NULL);
    ModelOpts mo = { .refresh_interval = 3600, .rpo_warning = 3600, .priority_wait_ms = 10000 };
    HvDomain *doms = NULL;
    size_t n = 0, i, first_loaded = 0;
    const char *want;
    Model *m;
    int okp = 0, seen_rows = 0;

    if (!s || hv_list(s->hosts[0].conn, 0, &doms, &n) < 0 || n < 100) {
        ok(0, "a big fleet lists: %s", err_message());
        session_free(s);
        hv_domain_list_free(doms, n);
        return;
    }
    /* The last by name would be read last without priority. */
    want = doms[n - 1].uuid;
    m = model_new(s, &mo);
    {
        size_t host = 0;
        model_set_priority(m, &host, &want, 1);
    }
    while (!seen_rows) {
        struct pollfd p = { .fd = model_fd(m), .events = POLLIN };
        if (poll(&p, 1, WAIT_MS) <= 0)
            break;
        model_process(m);
        for (i = 0; i < model_nrows(m); i++) {
            if (model_row(m, i)->loaded) {
                seen_rows = 1;
                first_loaded++;
                if (strcmp(model_row(m, i)->s.uuid, want) == 0)
                    okp = 1;
            }
        }
    }
    ok(okp, "the prioritised row (the last by name of %zu) arrives in the first batch", n);
    ok(first_loaded < n, "before the whole fleet (%zu of %zu read)", first_loaded, n);
    hv_domain_list_free(doms, n);
    model_free(m);
    session_free(s);
}

/* Resyncs of a big fleet keep rows (records, versions) that did not
 * change, at every step, not only at the end. */
static void
test_resync(const char *uri)
{
    Session *s = open_session(uri, NULL);
    ModelOpts mo = { .refresh_interval = 3600, .rpo_warning = 3600 };
    Model *m;
    unsigned one = 1, two = 2, *before;
    size_t n, k;
    int okp, always_loaded = 1, same = 1;
    int64_t end;

    if (!s) {
        ok(0, "session opens");
        return;
    }
    m = model_new(s, &mo);
    pump(m, pred_rounds, &one, &okp);
    n = model_nrows(m);
    ok(okp && n > 100, "the big fleet loads (%zu rows)", n);
    before = util_xcalloc(n + 1, sizeof(*before));
    for (k = 0; k < n; k++)
        before[k] = model_row(m, k)->version;
    model_refresh(m);
    end = util_mono_ms() + WAIT_MS;
    while (model_rounds(m) < two && util_mono_ms() < end) {
        struct pollfd p = { .fd = model_fd(m), .events = POLLIN };
        if (poll(&p, 1, 100) > 0)
            model_process(m);
        for (k = 0; k < model_nrows(m); k++)
            if (!model_row(m, k)->loaded)
                always_loaded = 0;
    }
    ok(model_rounds(m) >= two, "the forced resync finishes");
    is_int(model_nrows(m), n, "with the same rows");
    for (k = 0; k < n && k < model_nrows(m); k++)
        if (model_row(m, k)->version != before[k])
            same = 0;
    ok(always_loaded, "no row loses its record while the resync runs");
    ok(same, "no row's version changes when nothing changed");
    free(before);
    model_free(m);
    session_free(s);
}

/* How many of this process's threads have a name that starts with prefix. */
static int
threads_named(const char *prefix)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    while (d && (e = readdir(d))) {
        char path[300], name[32] = "";
        FILE *f;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
        if ((f = fopen(path, "r"))) {
            if (fgets(name, sizeof(name), f) && strncmp(name, prefix, strlen(prefix)) == 0)
                n++;
            fclose(f);
        }
    }
    if (d)
        closedir(d);
    return n;
}

/* One host with many records is read by two readers at once, each with
 * a stage of its own: every record is read once, into the row it belongs
 * to.  Two hosts get one reader each. */
static void
test_readers(const char *uri)
{
    Session *s = open_session(uri, NULL), *s2;
    ModelOpts mo = { .refresh_interval = 3600, .rpo_warning = 3600 };
    HvDomain *doms = NULL;
    size_t n = 0, i, same = 0, loaded = 0;
    unsigned one = 1, two = 2;
    Model *m;
    int okp;

    if (!s || hv_list(s->hosts[0].conn, HV_LIST_METADATA, &doms, &n) < 0 || n < 100) {
        ok(0, "a big fleet lists with its records: %s", err_message());
        session_free(s);
        hv_domain_list_free(doms, n);
        return;
    }
    m = model_new(s, &mo);
    pump(m, pred_rounds, &one, &okp);
    ok(okp, "the big fleet loads");
    ok(threads_named("rows1 ") == 1, "one host of %zu records: a second reader's stage ran", n);
    model_refresh(m);
    pump(m, pred_rounds, &two, &okp);
    ok(okp, "a second round ends too");
    is_int(model_nrows(m), n, "one row for each domain");
    for (i = 0; i < n; i++) {
        Replica *r = replica_parse(doms[i].metadata, strlen(doms[i].metadata));
        const ModelRow *row = NULL;
        size_t k;

        for (k = 0; k < model_nrows(m) && !row; k++)
            if (strcmp(model_row(m, k)->s.uuid, doms[i].uuid) == 0)
                row = model_row(m, k);
        loaded += row && row->loaded;
        if (r && row && row->s.state == r->state && row->s.npoints == r->npoints &&
            strcmp(row->s.name, doms[i].name) == 0)
            same++;
        replica_free(r);
    }
    is_int(loaded, n, "every row has its record");
    is_int(same, n, "and each row holds its own domain's record (state, points, name)");
    model_free(m);
    ok(threads_named("rows1 ") == 0, "the second reader's stage ends with the model");
    if ((s2 = open_session(uri, uri))) {
        m = model_new(s2, &mo);
        pump(m, pred_rounds, &one, &okp);
        ok(okp && threads_named("rows1 ") == 0, "two hosts: one reader each");
        model_free(m);
        session_free(s2);
    }
    hv_domain_list_free(doms, n);
    session_free(s);
}

/* The key of a column as view.c orders it (every row here is loaded). */
static long long
view_key(const ModelRow *r, int col)
{
    switch (col) {
    case VIEW_COL_STATE: return r->s.state;
    case VIEW_COL_HEALTH: return -(long long)r->s.health;
    case VIEW_COL_MODE: return r->s.mode;
    case VIEW_COL_RPS: return (long long)r->s.npoints;
    case VIEW_COL_LAST: return r->s.newest_time;
    case VIEW_COL_POWER: return r->s.power;
    default: return 0;
    }
}

/* Every column, both ways: each row once, and in the column's order, ties
 * by name (the sort merges the runs it finds in the model's order). */
static void
test_view_orders(View *v, Model *m)
{
    static const int cols[] = { VIEW_COL_HOST, VIEW_COL_NAME, VIEW_COL_STATE, VIEW_COL_HEALTH,
                                VIEW_COL_MODE, VIEW_COL_RPS, VIEW_COL_LAST, VIEW_COL_POWER };
    size_t c, i, k, bad = 0;

    v->filter[0] = '\0';
    for (c = 0; c < sizeof(cols) / sizeof(cols[0]); c++) {
        for (k = 0; k < 2; k++) {
            v->sort_col = cols[c];
            v->sort_rev = (int)k;
            view_rebuild(v, m);
            if (v->n != model_nrows(m))
                bad++;
            for (i = 0; i < v->n; i++) {
                size_t j;

                for (j = i + 1; j < v->n; j++)
                    if (v->rows[i] == v->rows[j])
                        bad++;
            }
            for (i = 1; i < v->n; i++) {
                const ModelRow *a = v->rows[k ? i : i - 1], *b = v->rows[k ? i - 1 : i];
                long long ka = view_key(a, cols[c]), kb = view_key(b, cols[c]);

                if (ka > kb || (ka == kb && strcmp(a->s.name, b->s.name) > 0))
                    bad++;
            }
        }
    }
    is_int((long)bad, 0, "every sort column, both ways: each row once, in order, ties by name");
    v->sort_col = VIEW_COL_NAME;
    v->sort_rev = 0;
    view_rebuild(v, m);
}

/* Filter, sort and a selection that follows its UUID. */
static void
test_view(const char *uri)
{
    Session *s = open_session(uri, NULL);
    ModelOpts mo = { .refresh_interval = 3600, .rpo_warning = 3600 };
    Model *m;
    View v;
    unsigned one = 1;
    int okp;
    const ModelRow *sel;
    char uuid[37];
    size_t i;

    if (!s) {
        ok(0, "session opens");
        return;
    }
    m = model_new(s, &mo);
    pump(m, pred_rounds, &one, &okp);
    view_init(&v);
    view_rebuild(&v, m);
    ok(v.n >= 12, "the view shows every row");
    ok(view_select_uuid(&v, 0, find_name(m, 0, "web02")->s.uuid), "select web02");
    util_strlcpy(uuid, view_selected(&v)->s.uuid, sizeof(uuid));
    v.sort_col = VIEW_COL_HEALTH;
    view_rebuild(&v, m);
    sel = view_selected(&v);
    ok(sel && strcmp(sel->s.uuid, uuid) == 0, "the selection follows web02 after sorting by health");
    ok(v.rows[0]->s.health == HEALTH_CRITICAL, "sorted by health, Critical comes first");
    view_sort_reverse(&v);
    view_rebuild(&v, m);
    ok(v.rows[v.n - 1]->s.health == HEALTH_CRITICAL, "reversed, Critical comes last");
    util_strlcpy(v.filter, "recovered", sizeof(v.filter));
    view_rebuild(&v, m);
    for (i = 0, okp = v.n > 0; i < v.n; i++)
        if (v.rows[i]->s.state != STATE_RECOVERED)
            okp = 0;
    ok(okp, "filter 'recovered' keeps only 5 Recovered rows (%zu)", v.n);
    sel = view_selected(&v);
    ok(sel && strcmp(sel->s.uuid, uuid) == 0, "web02 stays selected through the filter");
    util_strlcpy(v.filter, "web0 fleet", sizeof(v.filter));
    view_rebuild(&v, m);
    ok(v.n == 3, "two words must both match: web01, web02, web03 on fleet (%zu)", v.n);
    util_strlcpy(v.filter, "nosuchvm", sizeof(v.filter));
    view_rebuild(&v, m);
    ok(v.n == 0 && view_selected(&v) == NULL, "a filter matching nothing leaves no selection");
    v.filter[0] = '\0';
    view_rebuild(&v, m);
    sel = view_selected(&v);
    ok(sel && strcmp(sel->s.uuid, uuid) == 0, "clearing the filter finds web02 again by UUID");
    view_select(&v, 0);
    view_move(&v, -5);
    is_int(v.sel, 0, "moving up from the top stays at the top");
    view_move(&v, 1000);
    is_int(v.sel, v.n - 1, "moving far down stops at the bottom");
    view_scroll(&v, 5);
    ok(v.top + 5 > v.sel && v.top <= v.sel, "scrolling keeps the selection on screen");
    v.sort_col = VIEW_COL_NAME;
    view_sort_next(&v);
    is_int(v.sort_col, VIEW_COL_STATE, "s cycles from name to state");
    test_view_orders(&v, m);
    view_clear(&v);
    model_free(m);
    session_free(s);
}

/* Takes a plan request's result: 1 when it arrived within WAIT_MS. */
static int
take_repl(Model *m, unsigned id, ModelReplPlan **p, ErrInfo *e)
{
    int64_t end = util_mono_ms() + WAIT_MS;

    memset(e, 0, sizeof(*e));
    while (util_mono_ms() < end) {
        struct pollfd pf = { .fd = model_fd(m), .events = POLLIN };

        if (poll(&pf, 1, 100) > 0)
            model_process(m);
        if (model_repl_plan_take(m, id, p, e) == 1)
            return 1;
    }
    return 0;
}

/* Replication requests: web01's record is made one drover replicates
 * (<replication>, an hour's interval) from a primary that does not exist. */
static void
test_repl(const char *uri)
{
    UTIL_AUTOFREE char *path = util_xasprintf("%s/fleet4/fleet.xml", tap_tmpdir());
    UTIL_AUTOFREE char *xml = NULL;
    UTIL_AUTOFREE char *dir = util_xasprintf("%s/fleet4/vms/web01", tap_tmpdir());
    const char *old = "uri=\"qemu+ssh://prod-a/system\" name=\"web01\"/>";
    char *at;
    size_t len = 0;
    ModelOpts o = { .refresh_interval = 3600, .rpo_warning = 0, .priority_wait_ms = 0 };
    Session *s;
    Model *m;
    const ModelRow *r;
    ModelReplPlan *p = NULL;
    ErrInfo e;
    unsigned rounds = 1;
    char job[37];
    int okp;

    if (!(xml = fsutil_read_file(path, 1 << 24, &len)) || !(at = strstr(xml, old))) {
        ok(0, "fleet4's fleet file has web01's primary");
        return;
    }
    {
        UTIL_AUTOFREE char *head = util_xstrndup(xml, (size_t)(at - xml));
        UTIL_AUTOFREE char *out = util_xasprintf("%suri=\"test:///nonexistent/primary.xml\" name=\"web01\"/>"
                                                 "<drover:replication dir=\"%s\" interval=\"3600\"/>%s",
                                                 head, dir, at + strlen(old));
        FILE *f = fopen(path, "w");

        ok(f && fputs(out, f) >= 0 && fclose(f) == 0, "web01 is made a replica drover replicates");
    }
    s = open_session(uri, NULL);
    m = model_new(s, &o);
    pump(m, pred_rounds, &rounds, &okp);
    r = find_name(m, 0, "web01");
    ok(r && r->repl, "web01's row: drover replicates it");
    ok(r && r->repl_next_due > util_now() && r->repl_next_due <= util_now() + 3600,
       "its next cycle is due within the hour");
    r = find_name(m, 0, "web02");
    ok(r && !r->repl && !r->repl_next_due, "web02's row: not replicated by drover");

    r = find_name(m, 0, "web01");
    if (!r)
        goto out;
    /* A cycle whose primary does not answer: still a plan, that says so. */
    ok(take_repl(m, model_repl_plan_request(m, 0, r->s.uuid, "web01", REPLJOB_CYCLE), &p, &e) && p,
       "a cycle plan although the primary does not answer");
    ok(p && p->primary_down && p->err.code == RESULT_NOT_AVAILABLE, "it says the primary is down (32777): %s",
       p ? p->err.message : "");
    ok(p && strstr(p->text, "did not answer"), "and the text says so");
    model_repl_plan_free(p);
    p = NULL;
    /* A resync needs the primary for its plan: refused. */
    okp = take_repl(m, model_repl_plan_request(m, 0, r->s.uuid, "web01", REPLJOB_RESYNC), &p, &e);
    ok(okp && !p && e.code == RESULT_NOT_AVAILABLE, "a resync plan is refused with 32777: %d %s", e.code,
       e.message);
    /* Resume on a replica that is not suspended: 32775. */
    okp = take_repl(m, model_repl_plan_request(m, 0, r->s.uuid, "web01", REPLJOB_RESUME), &p, &e);
    ok(okp && !p && e.code == RESULT_INVALID_STATE, "resume of a replicating replica is refused with 32775: %s",
       e.message);
    ok(take_repl(m, model_repl_plan_request(m, 0, r->s.uuid, "web01", REPLJOB_SUSPEND), &p, &e) && p,
       "a suspend plan");
    ok(p && strstr(p->text, "3 Replicating -> 7 Suspended"), "its plan: 3 Replicating -> 7 Suspended");
    /* Read-only refuses before anything starts, and frees the plan. */
    if (p) {
        ModelReplPlan *copy = util_xcalloc(1, sizeof(*copy));

        *copy = *p;
        copy->vm = util_xstrdup(p->vm);
        copy->text = util_xstrdup(p->text);
        s->hosts[0].readonly = 1;
        ok(model_repl_execute(m, copy, NULL, job) < 0 && err_code() == RESULT_ACCESS_DENIED,
           "suspend on a read-only host is refused with 32769");
        err_clear();
        s->hosts[0].readonly = 0;
    }
    /* Without an executable the job runs on a thread of this process. */
    if (p) {
        WantState w = { "web01", STATE_SUSPENDED };
        JobInfo ji;
        int i;

        ok(model_repl_execute(m, p, "test", job) == 0, "the suspend job starts");
        p = NULL;
        pump(m, pred_state, &w, &okp);
        ok(okp, "web01 turns 7 Suspended");
        memset(&ji, 0, sizeof(ji));
        job_table_get(s->jobs, job, &ji);
        for (i = 0; i < 300 && ji.state < JOB_COMPLETED; i++) {
            usleep(10000);
            job_table_get(s->jobs, job, &ji);
        }
        is_int(ji.type, REPLJOB_TYPE_STATE, "a Replicate State Change job (96)");
        is_int(ji.error_code, 0, "with code 0");
        ok(strstr(ji.step, "web01: now 7 Suspended") != NULL, "its last step names the state: %s", ji.step);
        r = find_name(m, 0, "web01");
        ok(r && r->repl && r->repl_next_due == 0, "suspended: no next cycle");
    }
    model_repl_plan_free(p);
out:
    model_free(m);
    session_free(s);
}

int
main(void)
{
    UTIL_AUTOFREE char *uri = NULL;
    UTIL_AUTOFREE char *uri2 = NULL;
    UTIL_AUTOFREE char *uri3 = NULL;
    UTIL_AUTOFREE char *uri4 = NULL;
    UTIL_AUTOFREE char *state = util_xasprintf("%s/state", tap_tmpdir());

    test_state_dir = state;
    if (mkdir(state, 0700) < 0 && errno != EEXIST)
        tap_skip_all("cannot make the test's state directory");
    setenv("XDG_STATE_HOME", state, 1);
    setenv("XDG_CONFIG_HOME", state, 1);
    setenv("DROVER_SYSCONFDIR", "/nonexistent", 1);
    signal(SIGPIPE, SIG_IGN);
    if (!(uri = build_fleet("fleet", 0)))
        tap_skip_all("cannot build a demo fleet");
    test_fleet(uri);
    if ((uri2 = build_fleet("fleet2", 0))) {
        test_view(uri2);
        test_other_process(uri2);
    }
    if ((uri3 = build_fleet("big", 300))) {
        test_priority(uri3);
        test_resync(uri3);
        test_readers(uri3);
    }
    else
        ok(0, "a big fleet builds");
    if ((uri4 = build_fleet("fleet4", 0)))
        test_repl(uri4);
    return tap_done();
}
