/* SPDX-License-Identifier: GPL-2.0-or-later */
/* detail: the selected VM — record, disk chains from base to top, recovery
 * points, failover record, last job and health reasons. */
#include <config.h>

#include "ui.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record/state.h"
#include "base/util.h"

static const char *
ui_base(const char *path)
{
    const char *s = path ? strrchr(path, '/') : NULL;
    return s ? s + 1 : path ? path : "";
}

static void
ui_when(int64_t t, char *buf, size_t size)
{
    char iso[32], age[32];

    util_format_time(t, iso, sizeof(iso));
    util_format_age(util_now() > t ? util_now() - t : 0, age, sizeof(age));
    snprintf(buf, size, "%s, %s ago", iso, age);
}

/* What the record says a file is: "rp-0005", "failover disk", ... */
static void
ui_file_role(const Replica *rec, const char *target, const char *path, char *buf, size_t size)
{
    const ReplicaDisk *d;
    size_t i;

    buf[0] = '\0';
    if (!rec)
        return;
    for (i = 0; i < rec->npoints; i++) {
        d = replica_disk_list_find(&rec->points[i].disks, target);
        if (d && util_streq(d->file, path)) {
            snprintf(buf, size, "%s", rec->points[i].id);
            return;
        }
    }
    if (rec->failover && (d = replica_disk_list_find(&rec->failover->disks, target)) &&
        util_streq(d->file, path)) {
        snprintf(buf, size, "failover disk");
        return;
    }
    if (rec->test && (d = replica_disk_list_find(&rec->test->disks, target)) && util_streq(d->file, path))
        snprintf(buf, size, "test overlay");
}

/* The index of the recovery point whose file for target is path, or -1. */
static int
ui_point_of(const Replica *rec, const char *target, const char *path)
{
    const ReplicaDisk *d;
    size_t i;

    for (i = 0; rec && path && i < rec->npoints; i++)
        if ((d = replica_disk_list_find(&rec->points[i].disks, target)) && util_streq(d->file, path))
            return (int)i;
    return -1;
}

static const char *
ui_broken(const ModelDetail *md, int point)
{
    return point >= 0 && md->point_broken ? md->point_broken[point] : NULL;
}

/* One layer of the tree: depth 0 is the base; a branch off the trunk is
 * drawn one step further in, right under the layer it is built on.  The
 * sizes wrap under the name rather than being cut. */
static void
ui_layer_line(const Console *c, UiLines *l, const ModelDisk *k, const ModelDetail *md, const char *path,
              const ChainLayer *ly, int depth, int width)
{
    char role[64], vsz[32], asz[32], lead[64], sizes[96] = "";
    int used = util_streq(path, k->source);
    int point = ui_point_of(md->rec, k->target, path);
    const char *broken = ui_broken(md, point);
    UTIL_AUTOFREE char *line = NULL;

    ui_file_role(md->rec, k->target, path, role, sizeof(role));
    if (!role[0])
        util_strlcpy(role, ly && !ly->backing_name ? "base" : used ? "disk in use" : "layer", sizeof(role));
    if (ly) {
        util_format_size(ly->virtual_size, vsz, sizeof(vsz));
        util_format_size(ly->allocated, asz, sizeof(asz));
        snprintf(sizes, sizeof(sizes), "  %s of %s", asz, vsz);
    }
    snprintf(lead, sizeof(lead), " %s %*s%s%s", used ? c->g.use : " ", depth > 1 ? 2 * (depth - 1) : 0, "",
             depth ? c->g.branch : "", depth ? " " : "");
    line = util_xasprintf("%s%s  [%s%s]%s", lead, ui_base(path), role, broken ? ", BROKEN" : "", sizes);
    if (ui_width(line) > width && sizes[0]) {
        /* The sizes go under the name as a whole, never split. */
        line[strlen(line) - strlen(sizes)] = '\0';
        ui_lines_hang(l, broken ? UI_R_CRIT : used ? UI_R_OK : UI_R_NORMAL, line, width, ui_width(lead) + 1);
        ui_lines_pushf(l, broken ? UI_R_CRIT : used ? UI_R_OK : UI_R_NORMAL, "%*s%s", ui_width(lead) + 1, "",
                       sizes + 2);
        return;
    }
    ui_lines_hang(l, broken ? UI_R_CRIT : used ? UI_R_OK : UI_R_NORMAL, line, width, ui_width(lead) + 1);
}

/* The layers of chain ch from index from down to index to (top to base
 * order in the chain, drawn base first). */
static void
ui_disk_lines(const Console *c, UiLines *l, const ModelDisk *k, const ModelDetail *md, int width)
{
    const Replica *rec = md->rec;
    const Chain *trunk = k->points ? k->points : k->used;
    const Chain *used = k->used;
    size_t i, top = 0;
    int parent = -1;            /* trunk index the branch of used grows on */
    size_t nbranch = 0;         /* used layers 0..nbranch-1 are that branch */

    ui_lines_pushf(l, UI_R_DLG_TITLE, "Disk %s, base first; branches under their point (%s = in use)",
                   k->target, c->g.use);
    if (k->used_error) {
        UTIL_AUTOFREE char *t = util_xasprintf("cannot walk the chain the domain uses: %s", k->used_error);
        ui_lines_wrap(l, UI_R_CRIT, t, width, 2);
    }
    /* The same file walked twice fails the same way: say it once. */
    if (k->points_error && !util_streq(k->points_error, k->used_error)) {
        UTIL_AUTOFREE char *t = util_xasprintf("cannot walk the recovery points: %s", k->points_error);
        ui_lines_wrap(l, UI_R_CRIT, t, width, 2);
    }
    if (!trunk) {
        /* No chain walks: the record's points, oldest first, each marked
         * when it cannot be used. */
        for (i = 0; rec && i < rec->npoints; i++) {
            const ReplicaDisk *d = replica_disk_list_find(&rec->points[i].disks, k->target);
            if (d)
                ui_layer_line(c, l, k, md, d->file, NULL, i ? 1 : 0, width);
        }
        return;
    }
    if (trunk == used) {
        /* The top layers of the chain in use that are not recovery points
         * (a failover disk) hang off the newest point they sit on. */
        while (top + 1 < used->n && ui_point_of(rec, k->target, used->layers[top].path) < 0)
            top++;
        if (ui_point_of(rec, k->target, used->layers[top].path) < 0)
            top = 0;        /* no recovery point in it (a test system's own record) */
        nbranch = top;
        parent = (int)top;
    } else if (used) {
        for (nbranch = 0; nbranch < used->n && chain_find_path(trunk, used->layers[nbranch].path) < 0; nbranch++)
            ;
        parent = nbranch < used->n ? chain_find_path(trunk, used->layers[nbranch].path) : -1;
    }
    for (i = trunk->n; i-- > top;) {
        const ChainLayer *ly = &trunk->layers[i];
        const ReplicaTest *t = rec ? rec->test : NULL;
        const ReplicaDisk *td;
        size_t b;

        ui_layer_line(c, l, k, md, ly->path, ly, i + 1 == trunk->n ? 0 : 1, width);
        if ((int)i == parent)
            for (b = nbranch; b-- > 0;)
                ui_layer_line(c, l, k, md, used->layers[b].path, &used->layers[b], 2 + (int)(nbranch - 1 - b), width);
        /* A test system's overlay on this point. */
        if (t && (td = replica_disk_list_find(&t->disks, k->target))) {
            int at = ui_point_of(rec, k->target, ly->path);
            if (at >= 0 && util_streq(rec->points[at].id, t->point)) {
                UTIL_AUTOFREE char *line = util_xasprintf("     %s %s  [test disk of %s]", c->g.branch,
                                                          ui_base(td->file), t->domain);
                ui_lines_hang(l, UI_R_INFO, line, width, 4);
            }
        }
    }
    if (k->source && used && used->n && !util_streq(used->layers[0].path, k->source))
        ui_lines_pushf(l, UI_R_WARN, "  the domain uses %s", k->source);
}

static void
ui_record_lines(const Console *c, UiLines *l, const ModelDetail *d, int width)
{
    const Replica *rec = d->rec;
    const ReplicaPoint **pts;
    char when[96];
    size_t i, j;

    if (!rec) {
        ui_lines_push(l, d->rec_error ? UI_R_CRIT : UI_R_DIM, -1,
                      d->rec_error ? "The replica record cannot be read:" : "No drover replica record: not a replica.");
        if (d->rec_error)
            ui_lines_wrap(l, UI_R_CRIT, d->rec_error, width, 2);
        return;
    }
    if (rec->primary_host || rec->primary_name || d->primary_text) {
        /* The primary as its host answered: its state, or that it did not
         * answer (what the split-brain guard would find now). */
        const char *name = rec->primary_name ? rec->primary_name : "?";
        const char *host = rec->primary_host ? rec->primary_host : "?";
        UTIL_AUTOFREE char *line = NULL;
        int role = UI_R_NORMAL;

        switch (d->primary_guard) {
        case PLAN_GUARD_RUNNING:
        case PLAN_GUARD_STOPPED:
            line = util_xasprintf("Primary: %s on %s: %s (reachable)", name, host,
                                  hv_power_name(d->primary_power));
            role = d->primary_guard == PLAN_GUARD_RUNNING && rec->state == STATE_RECOVERED ? UI_R_WARN
                                                                                            : UI_R_NORMAL;
            break;
        case PLAN_GUARD_ABSENT:
            line = util_xasprintf("Primary: %s on %s: not on that host (reachable)", name, host);
            role = UI_R_WARN;
            break;
        case PLAN_GUARD_UNREACHABLE:
            line = util_xasprintf("Primary: %s on %s: state unknown (unreachable)", name, host);
            role = UI_R_WARN;
            break;
        case PLAN_GUARD_NOT_ASKED:
            line = util_xasprintf("Primary: %s on %s: not asked%s%s", name, host,
                                  rec->primary_uri ? "" : " (the record names no URI)",
                                  rec->primary_uri ? " (a demo)" : "");
            role = UI_R_DIM;
            break;
        default:
            /* Not asked at all: a test system names its replica's primary. */
            line = util_xasprintf("Primary: %s on %s", name, host);
        }
        ui_lines_hang(l, role, line, width, 9);
    }
    if (rec->journal) {
        UTIL_AUTOFREE char *text = NULL;

        ui_when(rec->journal->time, when, sizeof(when));
        text = util_xasprintf("INTERRUPTED: a %s stopped at step \"%s\" (job %s, %s). It stopped %s its "
                              "switch, so repair %s it: press R.", rec->journal->op, rec->journal->step,
                              rec->journal->job, when,
                              strcmp(rec->journal->step, "switched") == 0 ? "after" : "before",
                              strcmp(rec->journal->step, "switched") == 0 ? "finishes" : "rolls back");
        ui_lines_wrap(l, UI_R_CRIT, text, width, 0);
    }
    if (rec->failover) {
        ui_when(rec->failover->time, when, sizeof(when));
        ui_lines_pushf(l, UI_R_NORMAL, "Failover: to %s at %s%s%s", rec->failover->point, when,
                       rec->failover->by ? " by " : "", rec->failover->by ? rec->failover->by : "");
    }
    if (rec->test) {
        ui_when(rec->test->time, when, sizeof(when));
        ui_lines_pushf(l, UI_R_NORMAL, "Test system: %s on %s since %s (T stops it)", rec->test->domain,
                       rec->test->point, when);
    }
    for (i = 0; i < d->ndisks; i++)
        ui_disk_lines(c, l, &d->disks[i], d, width);
    /* Newest first. */
    pts = util_xcalloc(rec->npoints + 1, sizeof(*pts));
    for (i = 0; i < rec->npoints; i++)
        pts[i] = &rec->points[i];
    for (i = 1; i < rec->npoints; i++)
        for (j = i; j > 0 && pts[j]->time > pts[j - 1]->time; j--) {
            const ReplicaPoint *t = pts[j];
            pts[j] = pts[j - 1];
            pts[j - 1] = t;
        }
    ui_lines_pushf(l, UI_R_DLG_TITLE, "Recovery points: %zu, newest first", rec->npoints);
    for (i = 0; i < rec->npoints; i++) {
        const char *broken = ui_broken(d, (int)(pts[i] - rec->points));

        ui_when(pts[i]->time, when, sizeof(when));
        ui_lines_pushf(l, broken ? UI_R_CRIT : UI_R_NORMAL, "  %-8s %s  %-14s%s%s", pts[i]->id, when,
                       replica_rp_type_name(pts[i]->type),
                       rec->failover && util_streq(rec->failover->point, pts[i]->id) ? " <- failed over to" : "",
                       broken ? " BROKEN" : "");
        if (broken) {
            UTIL_AUTOFREE char *t = util_xasprintf("not offered for failover or test: %s", broken);
            ui_lines_wrap(l, UI_R_CRIT, t, width, 13);
        }
    }
    free(pts);
}

/* drover's own replication: its direction, interval, last cycle, next
 * due, a failure, and the statistics (drover stats). */
static void
ui_repl_lines(const Console *c, UiLines *l, const ModelDetail *d, const char *host, int width)
{
    const ReplStats *st = &d->repl_stats;
    int64_t now = util_now();
    char age[32], next[32];
    const char *kind;

    if (!d->rec || !d->rec->repl)
        return;
    {
        /* Which way the data flows: from the primary's host to this one. */
        const Replica *rec = d->rec;
        UTIL_AUTOFREE char *t = util_xasprintf("Direction: %s%s%s%s %s %s (this host, mode %d %s)",
                                               rec->primary_host ? rec->primary_host : "the primary",
                                               rec->primary_uri ? " (" : "",
                                               rec->primary_uri ? rec->primary_uri : "",
                                               rec->primary_uri ? ")" : "", c->g.arrow, host, rec->mode,
                                               mode_name(rec->mode));
        ui_lines_hang(l, UI_R_NORMAL, t, width, 11);
    }
    age[0] = next[0] = '\0';
    if (st->last_success)
        util_format_age(now - st->last_success, age, sizeof(age));
    if (d->repl_next_due > now)
        util_format_age(d->repl_next_due - now, next, sizeof(next));
    if (d->rec->repl->interval > 0)
        ui_lines_pushf(l, UI_R_NORMAL, "Replication: every %d s; last cycle %s%s; next %s%s",
                       d->rec->repl->interval, age[0] ? age : "never", age[0] ? " ago" : "",
                       d->repl_next_due ? (next[0] ? "due in " : "due now") : "paused",
                       next);
    else
        ui_lines_pushf(l, UI_R_NORMAL, "Replication: on demand (no interval); last cycle %s%s",
                       age[0] ? age : "never", age[0] ? " ago" : "");
    if (st->streak) {
        UTIL_AUTOFREE char *t = NULL;

        kind = repl_failure_kind(st->last_code, st->last_message);
        t = util_xasprintf("  last cycle failed (%lld in a row%s%s): %d %s", (long long)st->streak,
                           kind ? ", " : "", kind ? kind : "", st->last_code, st->last_message);
        ui_lines_hang(l, st->streak >= REPL_CRITICAL_FAILURES ? UI_R_CRIT : UI_R_WARN, t, width, 2);
    }
    {
        char ls[32], as[32], ms[32], app[32];
        int64_t app_time = 0;
        size_t i;
        UTIL_AUTOFREE char *t = NULL;

        util_format_size(st->last_size, ls, sizeof(ls));
        util_format_size(st->succeeded ? st->total_size / (uint64_t)st->succeeded : 0, as, sizeof(as));
        util_format_size(st->max_size, ms, sizeof(ms));
        for (i = 0; i < d->rec->npoints; i++)
            if (d->rec->points[i].type == RP_TYPE_APP_CONSISTENT && d->rec->points[i].time > app_time)
                app_time = d->rec->points[i].time;
        app[0] = '\0';
        if (app_time)
            util_format_age(now > app_time ? now - app_time : 0, app, sizeof(app));
        t = util_xasprintf("Statistics: %lld cycle%s ok, %lld failed, %lld missed; last %s in %.1f s, "
                           "average %s in %.1f s, largest %s; last app-consistent point %s%s",
                           (long long)st->succeeded, st->succeeded == 1 ? "" : "s", (long long)st->failed,
                           (long long)st->missed, ls, (double)st->last_ms / 1000.0, as,
                           st->succeeded ? (double)st->total_ms / 1000.0 / (double)st->succeeded : 0.0, ms,
                           app[0] ? app : "never", app[0] ? " ago" : "");
        ui_lines_hang(l, UI_R_DIM, t, width, 12);
    }
    if (d->rec->mode == MODE_REPLICA) {
        const ReplicaPoint *np = replica_newest_point(d->rec);
        UTIL_AUTOFREE char *t = NULL;
        char ps[32];

        util_format_size(d->repl_pending.bytes, ps, sizeof(ps));
        if (d->repl_pending.known && np)
            t = util_xasprintf("Pending: %s written on the primary since %s", ps, np->id);
        else
            t = util_xasprintf("Pending: unknown (%s)", d->repl_pending.why);
        ui_lines_hang(l, UI_R_DIM, t, width, 9);
    }
}

void
ui_draw_detail(Console *c)
{
    const ModelRow *r = view_selected(&c->view);
    const ModelDetail *d = model_detail(c->m);
    UiLines l = { 0 };
    char title[512];
    int y, width = c->cols - 2;
    size_t i;

    if (!r) {
        ui_lines_push(&l, UI_R_DIM, -1, "No VM selected.");
        snprintf(title, sizeof(title), " Details ");
    } else {
        const Summary *s = &r->s;
        const JobInfo *job = ui_job_for_vm(c, r->host, s->uuid);
        const JobInfo *refused = ui_refusal_for_vm(c, r->host, s->uuid, job);

        snprintf(title, sizeof(title), " %s@%s %s", s->name, s->host,
                 c->pane_focus ? "- arrows scroll, Tab: back to the table " : "- Tab: scroll ");
        if (r->loaded && s->has_record)
            ui_lines_pushf(&l, UI_R_NORMAL, "State %d %s %s health %s %s mode %d %s %s power %s", s->state,
                           state_name(s->state), c->g.dot, health_name(s->health), c->g.dot, s->mode,
                           mode_name(s->mode), c->g.dot, hv_power_name(s->power));
        ui_lines_pushf(&l, UI_R_DIM, "UUID %s", s->uuid);
        if (job) {
            UTIL_AUTOFREE char *text = NULL;
            char el[32];

            ui_fmt_elapsed(job->elapsed_ms, el, sizeof(el));
            ui_lines_pushf(&l, UI_R_DLG_TITLE, "Last job: %s, %s%s, %s%s", model_job_title(job->type),
                           job_state_name(job->state), job->from_history ? " (earlier run)" : "",
                           job->state < JOB_COMPLETED ? "running for " : "took ", el);
            if (job->state < JOB_COMPLETED) {
                ui_lines_push(&l, UI_R_NORMAL, job->percent, job->step);
            } else {
                text = ui_job_result_text(job);
                ui_lines_wrap(&l, job->state == JOB_COMPLETED ? UI_R_NORMAL : UI_R_ERROR, text, width, 2);
            }
        }
        if (refused) {
            char when[32];

            /* Tried since, and refused: said as such, never as a job that ran. */
            util_format_age(util_now() - refused->start_time, when, sizeof(when));
            ui_lines_pushf(&l, UI_R_WARN, "Refused since: %s, %s ago: %d %s (nothing was changed)",
                           model_job_title(refused->type), when, refused->error_code,
                           result_name(refused->error_code) ? result_name(refused->error_code) : "");
        }
        if (!d || d->host != r->host || strcmp(d->uuid, s->uuid) != 0 ||
            (model_detail_pending(c->m) && !d)) {
            ui_lines_pushf(&l, UI_R_DIM, "Reading the record and disk chains of %s%s", s->name, c->g.ell);
        } else if (d->failed) {
            ui_lines_pushf(&l, UI_R_CRIT, "Cannot read %s: %s", s->name, d->err.message);
        } else {
            UTIL_AUTOFREE char *busy = ui_row_busy(c, r);

            if (busy) {
                UTIL_AUTOFREE char *t = util_xasprintf("Busy: %s. The journal in its record is that "
                                                       "operation's intent, not an interruption.", busy);
                ui_lines_wrap(&l, UI_R_INFO, t, width, 0);
            }
            if (d->health.n) {
                ui_lines_pushf(&l, d->health.health == HEALTH_CRITICAL ? UI_R_CRIT : UI_R_WARN,
                               "Health %s:", health_name(d->health.health));
                for (i = 0; i < d->health.n; i++) {
                    UTIL_AUTOFREE char *t = util_xasprintf("  - %s", d->health.reasons[i]);
                    ui_lines_hang(&l, d->health.health == HEALTH_CRITICAL ? UI_R_CRIT : UI_R_WARN, t, width, 2);
                }
            }
            ui_repl_lines(c, &l, d, s->host, width);
            ui_record_lines(c, &l, d, width);
        }
    }
    c->pane_lines = (int)l.n;
    if (c->pane_scroll > (int)l.n - (c->pane_h - 1))
        c->pane_scroll = (int)l.n - (c->pane_h - 1);
    if (c->pane_scroll < 0)
        c->pane_scroll = 0;
    for (y = 0; y < c->pane_h; y++) {
        move(c->pane_y + y, 0);
        clrtoeol();
    }
    ui_hline(c, c->pane_y, 0, c->cols, ui_attr(c, UI_R_DIM));
    ui_text(c, c->pane_y, 2, c->cols - 4, title, ui_attr(c, UI_R_DLG_TITLE), 0);
    ui_lines_draw(c, &l, c->pane_y + 1, 1, c->pane_h - 1, width, c->pane_scroll);
    ui_lines_clear(&l);
}
