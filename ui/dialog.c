/* SPDX-License-Identifier: GPL-2.0-or-later */
/* dialog: pick a point, read the plan and confirm it, follow the job, read
 * its decoded result.  A dialog pins its VM by host and UUID: refreshes
 * never move it to another row.  What each dialog shows is drawn by
 * dialog-draw.c. */
#include <config.h>

#include "ui.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "ops/plan.h"
#include "base/result.h"
#include "record/state.h"
#include "base/util.h"

#define UI_KEY_ESC 27

Dialog *
ui_dialog_new(DlgKind kind)
{
    Dialog *d = util_xcalloc(1, sizeof(*d));

    d->kind = kind;
    return d;
}

void
ui_dialog_free(Dialog *d)
{
    size_t i;

    if (!d)
        return;
    for (i = 0; i < d->nitems; i++) {
        free(d->items[i].label);
        free(d->items[i].value);
    }
    free(d->items);
    free(d->title);
    free(d->point);
    plan_free(d->plan);
    model_repl_plan_free(d->rplan);
    free(d->text);
    free(d);
}

void
ui_dialog_push(Console *c, Dialog *d)
{
    if (c->ndlg == UI_MAX_DIALOGS) {
        /* Never drop what the operator has not seen: replace the oldest
         * plain message instead, or the bottom one. */
        ui_dialog_free(c->dlg[0]);
        memmove(&c->dlg[0], &c->dlg[1], (UI_MAX_DIALOGS - 1) * sizeof(c->dlg[0]));
        c->ndlg--;
    }
    c->dlg[c->ndlg++] = d;
}

void
ui_dialog_pop(Console *c)
{
    if (c->ndlg)
        ui_dialog_free(c->dlg[--c->ndlg]);
}

Dialog *
ui_dialog_top(const Console *c)
{
    return c->ndlg ? c->dlg[c->ndlg - 1] : NULL;
}

void
ui_message(Console *c, UiRole role, const char *title, const char *text)
{
    Dialog *d = ui_dialog_new(DLG_MESSAGE);

    d->title = util_xstrdup(title);
    d->text = util_xstrdup(text);
    d->role = role;
    ui_dialog_push(c, d);
}

/* What the operator types to confirm. */
const char *
ui_expected(const Console *c, const Dialog *d)
{
    return c->s->conf->confirm == CONF_CONFIRM_YES_NO ? "yes" : d->vm;
}

/* A reason is asked when the configuration requires one, and always for
 * an override of the split-brain guard (it goes to the audit log). */
int
ui_needs_reason(const Console *c, const Dialog *d)
{
    return c->s->conf->require_reason || d->force;
}

int
ui_confirmed(const Console *c, const Dialog *d)
{
    if (d->failed || d->plan_id || (!d->plan && !d->rplan && d->op != UI_OP_REPAIR))
        return 0;
    if (ui_needs_reason(c, d) && !d->reason[0])
        return 0;
    return strcmp(d->input, ui_expected(c, d)) == 0;
}

/* --- starting and advancing ----------------------------------------------------- */

static void
ui_dialog_plan(Console *c, Dialog *d)
{
    const ModelRow *row = model_find(c->m, d->host, d->uuid);

    d->kind = DLG_PLAN;
    plan_free(d->plan);
    d->plan = NULL;
    model_repl_plan_free(d->rplan);
    d->rplan = NULL;
    d->failed = 0;
    d->input[0] = '\0';
    d->field = ui_needs_reason(c, d) && !d->reason[0] ? 1 : 0;
    d->scroll = 0;
    d->row_version = row ? row->version : 0;
    if (d->op == UI_OP_PLANNED)
        d->plan_id = model_planned_request(c->m, d->host, d->uuid, d->vm, d->start);
    else if (ui_op_repl(d->op) >= 0)
        d->plan_id = model_repl_plan_request(c->m, d->host, d->uuid, d->vm, ui_op_repl(d->op));
    else if (d->op == OP_INITIATE)
        d->plan_id = model_failover_plan_request(c->m, d->host, d->uuid, d->point, d->force);
    else if (d->op != UI_OP_REPAIR)
        d->plan_id = model_plan_request(c->m, d->host, d->uuid, (StateOp)d->op, d->point, d->flatten);
}

static int
ui_cmp_point_newest(const void *a, const void *b)
{
    const ReplicaPoint *x = *(const ReplicaPoint *const *)a, *y = *(const ReplicaPoint *const *)b;
    return x->time < y->time ? 1 : x->time > y->time ? -1 : 0;
}

static void
ui_items_clear(Dialog *d)
{
    size_t i;

    for (i = 0; i < d->nitems; i++) {
        free(d->items[i].label);
        free(d->items[i].value);
    }
    free(d->items);
    d->items = NULL;
    d->nitems = 0;
    d->sel = 0;
}

/* f on a replica drover replicates: planned (the primary shut down, a
 * final cycle, no data lost) or unplanned (a point, the guard).  Planned
 * is marked and skipped when the row already says it cannot run. */
static void
ui_pick_choice(const Console *c, Dialog *d, const ModelRow *r)
{
    ErrInfo why;
    int no = ui_op_refusal(c, r, UI_OP_PLANNED, &why) < 0;

    d->choice = 1;
    d->text = util_xasprintf("How should %s fail over?%s%s%s", d->vm, no ? " Planned is not possible now: " : "",
                             no ? why.message : "", no ? "." : "");
    d->items = util_xcalloc(4, sizeof(*d->items));
    d->items[0].label = util_xasprintf("Planned: shut the primary down, a final cycle, fail over; no data "
                                       "lost (%s stays off)", d->vm);
    d->items[0].value = util_xstrdup("planned");
    d->items[1].label = util_xasprintf("Planned, then start %s here", d->vm);
    d->items[1].value = util_xstrdup("planned-start");
    d->items[2].label = util_xstrdup("Unplanned: fail over to a recovery point you pick (newer writes on "
                                     "the primary are lost)");
    d->items[2].value = util_xstrdup("unplanned");
    d->items[0].disabled = d->items[1].disabled = no;
    d->nitems = 3;
    d->sel = no ? 2 : 0;
}

static void
ui_pick_points(const Console *c, Dialog *d)
{
    const ModelDetail *md = model_detail(c->m);
    const ReplicaPoint **pts;
    const Replica *rec;
    size_t i;

    if (!md || md->host != d->host || strcmp(md->uuid, d->uuid) != 0 || model_detail_pending(c->m))
        return;
    d->waiting = 0;
    rec = md->rec;
    if (!rec || !rec->npoints) {
        free(d->text);
        d->text = util_xasprintf("%s has no recovery points to fail over to%s%s.", d->vm,
                                 md->failed ? ": " : "", md->failed ? md->err.message : "");
        return;
    }
    pts = util_xcalloc(rec->npoints + 1, sizeof(*pts));
    for (i = 0; i < rec->npoints; i++)
        pts[i] = &rec->points[i];
    qsort(pts, rec->npoints, sizeof(*pts), ui_cmp_point_newest);
    d->items = util_xcalloc(rec->npoints + 1, sizeof(*d->items));
    d->sel = rec->npoints;
    for (i = 0; i < rec->npoints; i++) {
        const char *broken = md->point_broken ? md->point_broken[pts[i] - rec->points] : NULL;
        char iso[32], age[32];

        util_format_time(pts[i]->time, iso, sizeof(iso));
        util_format_age(util_now() > pts[i]->time ? util_now() - pts[i]->time : 0, age, sizeof(age));
        d->items[i].value = util_xstrdup(pts[i]->id);
        d->items[i].disabled = broken != NULL;
        d->items[i].label = util_xasprintf("%-10s %s  %5s ago  %-14s %s", pts[i]->id, iso, age,
                                           replica_rp_type_name(pts[i]->type),
                                           broken ? "BROKEN" : i == 0 ? "(newest)" : "");
        /* The newest point that can be used is preselected. */
        if (!broken && d->sel == rec->npoints)
            d->sel = i;
    }
    d->nitems = rec->npoints;
    if (d->sel == rec->npoints) {
        d->sel = 0;
        free(d->text);
        d->text = util_xasprintf("Every recovery point of %s is broken (a file of its chain is missing or "
                                 "unreadable): there is nothing to fail over to. Enter on %s shows which "
                                 "files.", d->vm, d->vm);
    }
    free(pts);
}

void
ui_refusal_note(Console *c, int op, size_t host, const char *uuid, const char *vm, const char *hostname,
                const char *reason, const char *digest, const ErrInfo *e)
{
    OpsArgs oa;

    memset(&oa, 0, sizeof(oa));
    oa.reason = reason && *reason ? reason : NULL;
    oa.audit_log = c->s->conf->audit_log;
    ops_refused(c->s->jobs, &oa, op == UI_OP_REPAIR ? JOB_TYPE_REPAIR
                                 : ui_op_repl(op) >= 0 ? repljob_type(ui_op_repl(op))
                                                       : state_op_job_type((StateOp)op),
                ui_op_name(op), hostname,
                host < c->s->nhosts ? c->s->hosts[host].uri : NULL, vm, uuid, digest, e);
    ui_jobs_refresh(c);
}

static void
ui_dialog_refused(Console *c, const Dialog *d)
{
    ui_refusal_note(c, d->op, d->host, d->uuid, d->vm, d->hostname, d->reason,
                    d->plan ? d->plan->digest : d->rplan && d->rplan->digest[0] ? d->rplan->digest : NULL,
                    &d->err);
}

unsigned
ui_dialog_start(Console *c, int op)
{
    const ModelRow *r = ui_op_row(c, view_selected(&c->view), op);
    ErrInfo why;
    int refused;
    Dialog *d;

    if (!r) {
        ui_set_msg(c, UI_R_INFO, "No VM selected.");
        return UI_DIRTY_STATUS;
    }
    if (!r->loaded) {
        ui_set_msg(c, UI_R_INFO, "%s: its record is still being read; try again in a moment.", r->s.name);
        return UI_DIRTY_STATUS;
    }
    if (op == UI_OP_REPAIR && r->busy) {
        ui_set_msg(c, UI_R_INFO, "%s is not interrupted: an operation runs on it now (held by %s).", r->s.name,
                   r->busy);
        return UI_DIRTY_STATUS;
    }
    refused = ui_op_refusal(c, r, op, &why) < 0;
    if (refused && op == UI_OP_REPAIR) {
        ui_set_msg(c, UI_R_INFO, "%s.", why.message);
        return UI_DIRTY_STATUS;
    }
    d = ui_dialog_new(DLG_PLAN);
    d->op = op;
    d->host = r->host;
    util_strlcpy(d->uuid, r->s.uuid, sizeof(d->uuid));
    util_strlcpy(d->vm, r->s.name, sizeof(d->vm));
    util_strlcpy(d->hostname, r->s.host, sizeof(d->hostname));
    if (refused) {
        /* Refused whatever the operator would pick: say so before any
         * picker, decoded like every other refusal. */
        d->failed = 1;
        d->err = why;
        ui_dialog_refused(c, d);
    } else if (op == OP_INITIATE && ui_offers_planned(r)) {
        d->kind = DLG_PICK;
        ui_pick_choice(c, d, r);
        /* The details ask the primary: what the guard finds, shown here. */
        model_detail_request(c->m, d->host, d->uuid);
    } else if (op == OP_INITIATE || op == OP_TEST) {
        d->kind = DLG_PICK;
        d->waiting = 1;
        d->text = util_xasprintf("Choose the recovery point for the %s (newest first):",
                                 op == OP_TEST ? "test failover" : "failover");
        model_detail_request(c->m, d->host, d->uuid);
    } else if (op == OP_COMMIT) {
        d->kind = DLG_PICK;
        d->text = util_xasprintf("Commit makes the failover of %s%s%s permanent. It cannot be undone: recovery "
                                 "points newer than the failover point are deleted and revert is no longer "
                                 "possible. How should the chain be kept?", d->vm,
                                 r->s.failover_point ? " to " : "", r->s.failover_point ? r->s.failover_point : "");
        d->items = util_xcalloc(3, sizeof(*d->items));
        d->items[0].label = util_xstrdup("Keep the older recovery points as backing layers (quick)");
        d->items[0].value = util_xstrdup("");
        d->items[1].label = util_xstrdup("Flatten: merge the chain into one standalone file (long job, real progress)");
        d->items[1].value = util_xstrdup("flatten");
        d->nitems = 2;
    } else {
        if (op == UI_OP_REPAIR)
            model_detail_request(c->m, d->host, d->uuid);
        ui_dialog_plan(c, d);
    }
    ui_dialog_push(c, d);
    return UI_DIRTY_DIALOG;
}

unsigned
ui_dialog_model(Console *c, unsigned changes)
{
    unsigned dirty = 0;
    int i;

    for (i = 0; i < c->ndlg; i++) {
        Dialog *d = c->dlg[i];

        if ((changes & MODEL_CH_PLAN) && d->kind == DLG_PLAN && d->plan_id) {
            Plan *p = NULL;
            ModelReplPlan *rp = NULL;
            int repl = ui_op_repl(d->op) >= 0;
            int got = repl ? model_repl_plan_take(c->m, d->plan_id, &rp, &d->err)
                           : model_plan_take(c->m, d->plan_id, &p, &d->err);

            if (got != 0) {
                const ModelRow *row = model_find(c->m, d->host, d->uuid);

                d->plan_id = 0;
                d->plan = p;
                d->rplan = rp;
                d->failed = !p && !rp;
                if (got < 0) {
                    d->err.code = RESULT_FAILED;
                    util_strlcpy(d->err.message, "the plan request was lost; close and try again",
                                 sizeof(d->err.message));
                }
                /* The job's own refusal is recorded already: not its re-plan. */
                if (d->failed && !d->replanned)
                    ui_dialog_refused(c, d);
                d->row_version = row ? row->version : 0;
                dirty |= UI_DIRTY_DIALOG;
            }
        }
        if ((changes & MODEL_CH_DETAIL) && (d->kind == DLG_PICK || d->kind == DLG_PLAN)) {
            if (d->kind == DLG_PICK && d->waiting)
                ui_pick_points(c, d);
            if (d->kind == DLG_PICK && d->choice && !d->touched) {
                const ModelDetail *md = model_detail(c->m);

                /* Planned needs the primary: when it does not answer,
                 * unplanned is what the operator is here for. */
                if (md && md->host == d->host && strcmp(md->uuid, d->uuid) == 0 && !model_detail_pending(c->m) &&
                    md->primary_guard == PLAN_GUARD_UNREACHABLE)
                    d->sel = 2;
            }
            dirty |= UI_DIRTY_DIALOG;
        }
        if ((changes & MODEL_CH_ROWS) && d->kind == DLG_PLAN)
            dirty |= UI_DIRTY_DIALOG;
    }
    return dirty;
}

unsigned
ui_dialog_jobs(Console *c)
{
    unsigned dirty = 0;
    size_t t;
    int i;

    for (i = 0; i < c->ndlg; i++)
        if (c->dlg[i]->kind == DLG_PROGRESS)
            dirty |= UI_DIRTY_DIALOG;
    for (t = 0; t < c->ntracked; t++) {
        UiTracked *tr = &c->tracked[t];
        const JobInfo *j;
        Dialog *shown = NULL;

        if (tr->reported || !(j = ui_job_find(c, tr->id)) || j->state < JOB_COMPLETED)
            continue;
        tr->reported = 1;
        for (i = 0; i < c->ndlg; i++)
            if (c->dlg[i]->kind == DLG_PROGRESS && strcmp(c->dlg[i]->job_id, tr->id) == 0)
                shown = c->dlg[i];
        if (shown && shown->op != UI_OP_REPAIR && ui_job_plan_changed(j)) {
            /* What the operator confirmed no longer holds: show the new plan. */
            shown->replanned = 1;
            ui_dialog_plan(c, shown);
        } else if (!shown) {
            UTIL_AUTOFREE char *title = util_xasprintf("%s of %s@%s: %s", model_job_title(j->type), j->vm, j->host,
                                                       job_state_name(j->state));
            UTIL_AUTOFREE char *text = ui_job_result_text(j);
            ui_message(c, j->state == JOB_COMPLETED ? UI_R_OK : UI_R_ERROR, title, text);
        }
        dirty |= UI_DIRTY_DIALOG;
    }
    return dirty;
}

/* --- keys ---------------------------------------------------------------------------- */

static void
ui_field_del(char *s)
{
    size_t n = strlen(s);

    /* Drop one whole UTF-8 character. */
    while (n > 0 && ((unsigned char)s[n - 1] & 0xc0) == 0x80)
        n--;
    if (n > 0)
        n--;
    s[n] = '\0';
}

static void
ui_field_add(char *s, size_t size, int key)
{
    char mb[8];
    size_t n = strlen(s), k;

    if (key < 0x80) {
        mb[0] = (char)key;
        k = 1;
    } else if (key < 0x800) {
        mb[0] = (char)(0xc0 | (key >> 6));
        mb[1] = (char)(0x80 | (key & 0x3f));
        k = 2;
    } else if (key < 0x10000) {
        mb[0] = (char)(0xe0 | (key >> 12));
        mb[1] = (char)(0x80 | ((key >> 6) & 0x3f));
        mb[2] = (char)(0x80 | (key & 0x3f));
        k = 3;
    } else {
        return;
    }
    if (n + k < size) {
        memcpy(s + n, mb, k);
        s[n + k] = '\0';
    }
}

static unsigned
ui_execute(Console *c, Dialog *d)
{
    char id[37];
    int rc;

    if (d->op == UI_OP_REPAIR) {
        rc = model_repair(c->m, d->host, d->uuid, d->vm, d->reason[0] ? d->reason : NULL, id);
    } else if (ui_op_repl(d->op) >= 0) {
        ModelReplPlan *p = d->rplan;
        d->rplan = NULL;    /* the job owns it now */
        rc = model_repl_execute(c->m, p, d->reason[0] ? d->reason : NULL, id);
    } else {
        Plan *p = d->plan;
        d->plan = NULL;     /* the job owns it now */
        rc = model_execute(c->m, p, d->reason[0] ? d->reason : NULL, id);
    }
    if (rc < 0) {
        d->kind = DLG_PLAN;
        d->failed = 1;
        err_save(&d->err);
        err_clear();
        ui_dialog_refused(c, d);
        return UI_DIRTY_DIALOG;
    }
    ui_jobs_track(c, id);
    ui_jobs_refresh(c);
    d->kind = DLG_PROGRESS;
    util_strlcpy(d->job_id, id, sizeof(d->job_id));
    d->scroll = 0;
    return UI_DIRTY_DIALOG | UI_DIRTY_STATUS | UI_DIRTY_PANE;
}

static int
ui_is_enter(int key, int code)
{
    return (!code && (key == '\n' || key == '\r')) || (code && key == KEY_ENTER);
}

static unsigned
ui_scroll_key(Dialog *d, int key, int code)
{
    if (!code)
        return 0;
    switch (key) {
    case KEY_UP: d->scroll--; return UI_DIRTY_DIALOG;
    case KEY_DOWN: d->scroll++; return UI_DIRTY_DIALOG;
    case KEY_PPAGE: d->scroll -= 8; return UI_DIRTY_DIALOG;
    case KEY_NPAGE: d->scroll += 8; return UI_DIRTY_DIALOG;
    default: return 0;
    }
}

static unsigned
ui_close(Console *c, const char *msg)
{
    ui_dialog_pop(c);
    if (msg)
        ui_set_msg(c, UI_R_INFO, "%s", msg);
    return UI_DIRTY_ALL;
}

static unsigned
ui_plan_key(Console *c, Dialog *d, int key, int code)
{
    char *field = d->field ? d->reason : d->input;
    size_t size = d->field ? sizeof(d->reason) : sizeof(d->input);
    unsigned r;

    if (!code && key == UI_KEY_ESC)
        return ui_close(c, "Cancelled: nothing was changed.");
    if ((r = ui_scroll_key(d, key, code)))
        return r;
    if (!code && key == 'F' && ui_can_force(d)) {
        /* The same failover with the guard overridden: planned again (the
         * plan says so), confirmed with a reason like any other. */
        d->force = 1;
        ui_dialog_plan(c, d);
        return UI_DIRTY_DIALOG;
    }
    if (ui_is_enter(key, code)) {
        if (d->failed)
            return ui_close(c, NULL);
        if (d->field == 1 && ui_needs_reason(c, d)) {
            d->field = 0;
            return UI_DIRTY_DIALOG;
        }
        if (ui_confirmed(c, d))
            return ui_execute(c, d);
        /* Cancel is the default. */
        return ui_close(c, "Cancelled: nothing was changed.");
    }
    if (d->failed || d->plan_id)
        return 0;
    if (!code && key == '\t' && ui_needs_reason(c, d)) {
        d->field = !d->field;
        return UI_DIRTY_DIALOG;
    }
    if ((code && key == KEY_BACKSPACE) || (!code && (key == 127 || key == 8))) {
        ui_field_del(field);
        return UI_DIRTY_DIALOG;
    }
    if (!code && key >= 32 && key != 127) {
        ui_field_add(field, size, key);
        return UI_DIRTY_DIALOG;
    }
    return 0;
}

unsigned
ui_dialog_key(Console *c, int key, int code)
{
    Dialog *d = ui_dialog_top(c);
    const JobInfo *j;

    if (!d)
        return 0;
    switch (d->kind) {
    case DLG_PLAN:
        return ui_plan_key(c, d, key, code);
    case DLG_PICK:
        if (!code && key == UI_KEY_ESC)
            return ui_close(c, "Cancelled: nothing was changed.");
        if (code && (key == KEY_UP || key == KEY_DOWN)) {
            /* Broken points are skipped: they are not offered. */
            size_t i = d->sel;

            d->touched = 1;
            while (key == KEY_UP ? i > 0 : i + 1 < d->nitems) {
                i += key == KEY_UP ? (size_t)-1 : 1;
                if (!d->items[i].disabled) {
                    d->sel = i;
                    break;
                }
            }
        } else if (ui_is_enter(key, code) && d->choice && d->nitems && !d->items[d->sel].disabled) {
            if (strncmp(d->items[d->sel].value, "planned", 7) == 0) {
                d->op = UI_OP_PLANNED;
                d->start = strcmp(d->items[d->sel].value, "planned-start") == 0;
                d->choice = 0;
                ui_items_clear(d);
                ui_dialog_plan(c, d);
            } else {
                /* Unplanned: the point picker, as on any replica. */
                d->choice = 0;
                ui_items_clear(d);
                free(d->text);
                d->text = util_xstrdup("Choose the recovery point for the unplanned failover (newest first):");
                d->waiting = 1;
                ui_pick_points(c, d);
            }
        } else if (ui_is_enter(key, code) && !d->waiting && d->nitems && !d->items[d->sel].disabled) {
            if (d->op == OP_COMMIT)
                d->flatten = strcmp(d->items[d->sel].value, "flatten") == 0;
            else
                d->point = util_xstrdup(d->items[d->sel].value);
            ui_dialog_plan(c, d);
        } else if (ui_is_enter(key, code)) {
            return ui_close(c, NULL);
        }
        return UI_DIRTY_DIALOG;
    case DLG_PROGRESS:
        j = ui_job_find(c, d->job_id);
        if ((!code && (key == UI_KEY_ESC || key == 'q')) || ui_is_enter(key, code)) {
            if (j && j->state < JOB_COMPLETED) {
                /* Its result pops up when it ends. */
                size_t t;
                for (t = 0; t < c->ntracked; t++)
                    if (strcmp(c->tracked[t].id, d->job_id) == 0)
                        c->tracked[t].reported = 0;
                return ui_close(c, "The job keeps running; J shows it, and its result appears here when it ends.");
            }
            return ui_close(c, NULL);
        }
        return ui_scroll_key(d, key, code);
    case DLG_CANCEL_JOB:
        if (!code && (key == 'y' || key == 'Y')) {
            if (job_cancel(c->s->jobs, d->job_id, NULL) < 0) {
                ui_dialog_pop(c);
                ui_set_msg(c, UI_R_WARN, "Not cancelled: %s", err_message());
                return UI_DIRTY_ALL;
            }
            return ui_close(c, "Cancel requested: the job rolls back at its next step; "
                            "the jobs pane shows how it ends.");
        }
        if ((!code && (key == 'n' || key == 'N' || key == UI_KEY_ESC || key == 'q')) || ui_is_enter(key, code))
            return ui_close(c, "Not cancelled: the job goes on.");
        return 0;
    case DLG_QUIT:
        if (!code && (key == 'y' || key == 'Y')) {
            c->quit_pending = 1;
            return ui_close(c, "Quitting; the running jobs go on.") | UI_QUIT;
        }
        if ((!code && (key == 'n' || key == 'N' || key == UI_KEY_ESC || key == 'q')) || ui_is_enter(key, code))
            return ui_close(c, "Not quitting.");
        return 0;
    case DLG_HELP:
        if ((!code && (key == UI_KEY_ESC || key == '?' || key == 'q')) || (code && key == KEY_F(1)) ||
            ui_is_enter(key, code))
            return ui_close(c, NULL);
        return ui_scroll_key(d, key, code);
    default:
        if ((!code && (key == UI_KEY_ESC || key == 'q' || key == ' ')) || ui_is_enter(key, code))
            return ui_close(c, NULL);
        return ui_scroll_key(d, key, code);
    }
}
