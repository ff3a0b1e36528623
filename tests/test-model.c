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
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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
#include "test-model.h"
#include "tap.h"
#include "base/util.h"
#include "view.h"

unsigned
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

int
pred_rounds(Model *m, void *arg)
{
    return model_rounds(m) >= *(unsigned *)arg;
}

const ModelRow *
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

int
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
char *test_state_dir;

Session *
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
    {
        /* Reading is background work, below the thread that paints; the
         * fetchers (whose connects may start the event loop's thread, and
         * a reconnect's thread) and that thread stay as the caller. */
        int mine = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
        int want = mine + 5 > 19 ? 19 : mine + 5, lo, hi, n;

        n = threads_named("rows ", &lo, &hi);
        ok(n >= 1 && lo == want && hi == want, "the stages run at nice %d, 5 below the caller's %d (%d threads, %d..%d)",
           want, mine, n, lo, hi);
        n = threads_named("fetch ", &lo, &hi);
        ok(n == 2 && lo == mine && hi == mine, "both fetchers run at the caller's nice (%d threads, %d..%d)", n, lo, hi);
        n = threads_named("libvirt events", &lo, &hi);
        ok(n == 1 && lo == mine && hi == mine, "the event loop's thread too (%d threads, %d..%d)", n, lo, hi);
        is_int(getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid)), mine, "the caller's own priority is unchanged");
    }
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
        test_now_fd(uri3);
        test_held(uri3);
        test_aged(uri3);
    }
    else
        ok(0, "a big fleet builds");
    if ((uri4 = build_fleet("fleet4", 0)))
        test_repl(uri4);
    return tap_done();
}
