/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for what the console shows and asks: the view's orders (ui/view.c)
 * and the model's replication requests. */
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
#include "test-model.h"
#include "tap.h"
#include "base/util.h"
#include "view.h"

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
void
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
    /* A refresh round's list moves the model's rows: the view points into
     * the old ones until it is built again (the console rebuilds it at
     * once, not at its next frame, since a key may come before). */
    view_rebuild(&v, m);
    ok(view_current(&v, m), "a view just built is current");
    {
        unsigned two = 2;

        model_refresh(m);
        pump(m, pred_rounds, &two, &okp);
    }
    ok(okp && !view_current(&v, m), "after a refresh round's list it is not");
    view_rebuild(&v, m);
    ok(view_current(&v, m), "built again, it is");
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
void
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
