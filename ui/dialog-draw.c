/* SPDX-License-Identifier: GPL-2.0-or-later */
/* dialog-draw: what each dialog shows (the plan, the split-brain guard's
 * finding, the picker, the job's progress and decoded result) and its
 * footer of keys; wrapped to the width, never cut. */
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

/* A plan line: wrapped, never cut, continued under its text. */
static void __attribute__((format(printf, 4, 5)))
ui_plan_linef(UiLines *l, UiRole role, int width, const char *fmt, ...)
{
    va_list ap;
    char *t;

    va_start(ap, fmt);
    t = util_xvasprintf(fmt, ap);
    va_end(ap);
    ui_lines_hang(l, role, t, width, 4);
    free(t);
}

static void
ui_plan_files(UiLines *l, UiRole role, const char *what, const PlanFileList *f, const char *dir, int width)
{
    uint64_t total = 0;
    char sz[32];
    size_t i;

    if (!f->n)
        return;
    /* A file still to be made has no size on disk yet, only the disk size
     * the guest will see: say which. */
    if (role == UI_R_CREATE) {
        ui_plan_linef(l, role, width, "%s %zu empty file%s (sizes: the disk the guest sees):", what, f->n,
                       f->n == 1 ? "" : "s");
    } else {
        for (i = 0; i < f->n; i++)
            total += f->v[i].allocated ? f->v[i].allocated : f->v[i].size;
        util_format_size(total, sz, sizeof(sz));
        ui_plan_linef(l, role, width, "%s %zu file%s, %s:", what, f->n, f->n == 1 ? "" : "s", sz);
    }
    for (i = 0; i < f->n; i++) {
        const char *p = f->v[i].path;
        size_t dl = dir ? strlen(dir) : 0;

        if (dl && strncmp(p, dir, dl) == 0 && p[dl] == '/')
            p += dl + 1;
        if (role == UI_R_CREATE) {
            const char *b = f->v[i].backing ? strrchr(f->v[i].backing, '/') : NULL;
            util_format_size(f->v[i].size, sz, sizeof(sz));
            ui_plan_linef(l, role, width, "  %-4s %s  (%s on %s, %s)", f->v[i].target, p, f->v[i].role,
                           b ? b + 1 : "?", sz);
            continue;
        }
        util_format_size(f->v[i].allocated ? f->v[i].allocated : f->v[i].size, sz, sizeof(sz));
        ui_plan_linef(l, role, width, "  %-4s %s  (%s, %s)", f->v[i].target, p, f->v[i].role, sz);
    }
}

/* Next steps in console keys. */
static void
ui_console_result(const ResultCtx *ctx, ResultInfo *info)
{
    char *next = result_console_next_step(ctx);

    if (next) {
        free(info->next_step);
        info->next_step = next;
    }
}

static const char *
ui_op_explain(int op)
{
    switch (op) {
    case OP_REVERT:
        return "Revert discards the failover disks and points the VM back at the newest recovery point. "
               "Recovery points are never touched; afterwards failover can be tried again.";
    case OP_INITIATE:
        return "Failover creates one empty overlay per disk on the chosen recovery point and points the VM "
               "at them. The VM is not started. Revert undoes it; commit makes it permanent.";
    case OP_COMMIT:
        return "COMMIT CANNOT BE UNDONE: recovery points newer than the failover point are deleted and "
               "revert is no longer possible.";
    case OP_TEST:
        return "Test failover defines a separate test system (no network interfaces) on its own overlays; "
               "the replica keeps its state. T stops it.";
    case OP_STOP_TEST:
        return "Stop test destroys and undefines the test system and deletes its overlays; the replica "
               "itself is not changed.";
    case UI_OP_REPLICATE:
        return "A cycle copies what changed on the primary since the newest point into a new recovery "
               "point, under the replica's lock; the replica stays shut off. It deletes nothing but what "
               "retention merges (the oldest point into the base, when more than the kept number exist).";
    case UI_OP_SUSPEND:
        return "Suspend stops the cycles (the timer and p skip it) until Z resumes them; nothing is "
               "deleted and every recovery point stays usable for failover.";
    case UI_OP_RESUME:
        return "Resume lets the cycles run again: the next one when the interval says, or now with p.";
    case UI_OP_PLANNED:
        return "A planned failover loses no data: the primary's guest is asked to shut down, a final cycle "
               "copies its last changes into a new point, the primary is marked prepared (autostart off, "
               "drover's record) so it is not started by accident, then this replica fails over to that "
               "point (5 Recovered). If the primary does not shut down in time, nothing is changed.";
    case UI_OP_RESYNC:
        return "RESYNC COPIES EVERY DISK IN FULL into a new base while the old chain stays usable; after "
               "its switch the older recovery points are gone: their files are deleted.";
    default:
        return "";
    }
}

/* A failover refused by the split-brain guard: F may override it. */
int
ui_can_force(const Dialog *d)
{
    return d->op == OP_INITIATE && d->failed && !d->force && (d->err.hints & RESULT_HINT_PRIMARY_RUNS);
}

/* What the split-brain guard finds now (the details ask the primary):
 * for the failover's choice and its point picker. */
static void
ui_guard_line(const Console *c, const Dialog *d, UiLines *l, int width)
{
    const ModelDetail *md = model_detail(c->m);
    const Replica *rec = md && md->host == d->host && strcmp(md->uuid, d->uuid) == 0 ? md->rec : NULL;
    const char *name, *host;
    UTIL_AUTOFREE char *t = NULL;
    UiRole role = UI_R_WARN;
    int planned = ui_offers_planned(model_find(c->m, d->host, d->uuid));

    if (!rec || model_detail_pending(c->m)) {
        ui_plan_linef(l, UI_R_DIM, width, "Split-brain guard: asking the primary for its state%s", c->g.ell);
        return;
    }
    name = rec->primary_name ? rec->primary_name : d->vm;
    host = rec->primary_host ? rec->primary_host : rec->primary_uri ? rec->primary_uri : "?";
    switch (md->primary_guard) {
    case PLAN_GUARD_RUNNING:
        t = util_xasprintf("Split-brain guard: the primary %s on %s is %s: %s failover is refused (F then "
                           "overrides it, with a reason)%s.", name, host, hv_power_name(md->primary_power),
                           planned ? "an unplanned" : "the", planned ? "; Planned shuts it down first" : "");
        break;
    case PLAN_GUARD_STOPPED:
        t = util_xasprintf("Split-brain guard: the primary %s on %s is %s: a failover may proceed.", name,
                           host, hv_power_name(md->primary_power));
        role = UI_R_NORMAL;
        break;
    case PLAN_GUARD_ABSENT:
        t = util_xasprintf("Split-brain guard: %s answers but has no VM %s: a failover proceeds.", host, name);
        break;
    case PLAN_GUARD_UNREACHABLE:
        t = util_xasprintf("Split-brain guard: the primary's host %s does not answer: %s failover proceeds "
                           "and its plan says so%s.", host, planned ? "an unplanned" : "the",
                           planned ? "; Planned cannot run without it" : "");
        break;
    case PLAN_GUARD_NOT_ASKED:
        t = util_xasprintf("Split-brain guard: the primary %s on %s is not asked (%s).", name, host,
                           rec->primary_uri ? "a demo" : "the record names no URI");
        role = UI_R_DIM;
        break;
    default:
        return;
    }
    ui_lines_hang(l, role, t, width, 19);
}

/* The plan of a replication op: src/repl's own text, line by line. */
static void
ui_repl_plan_body(const Console *c, const Dialog *d, UiLines *l, int width)
{
    const ModelReplPlan *p = d->rplan;
    const ModelRow *row = model_find(c->m, d->host, d->uuid);
    char **v;
    size_t n, i;

    if (!p)
        return;
    if (row && row->version != d->row_version)
        ui_lines_wrap(l, UI_R_WARN, "The VM changed since this plan was made: look again before you "
                                    "confirm (Esc, then the key again).", width, 0);
    if (p->primary_down)
        ui_lines_wrap(l, UI_R_WARN, "The primary does not answer now: the cycle is likely to fail "
                                    "(and to change nothing here).", width, 0);
    n = ui_wrap(p->text, 100000, &v);
    for (i = 0; i < n; i++) {
        int del = strncmp(v[i], "  delete:", 9) == 0;
        ui_lines_hang(l, del ? UI_R_DELETE : strncmp(v[i], "  create:", 9) == 0 ? UI_R_CREATE : UI_R_NORMAL,
                      v[i], width, 11);
    }
    ui_lines_free(v, n);
    ui_lines_wrap(l, d->op == UI_OP_RESYNC ? UI_R_WARN : UI_R_INFO, ui_op_explain(d->op), width, 0);
}

static void
ui_plan_body(const Console *c, const Dialog *d, UiLines *l, int width)
{
    const Plan *p = d->plan;
    const ModelRow *row = model_find(c->m, d->host, d->uuid);
    char buf[256];
    size_t i;

    if (d->op == UI_OP_REPAIR) {
        const ModelDetail *md = model_detail(c->m);
        const ReplicaJournal *j = md && md->rec && md->host == d->host && strcmp(md->uuid, d->uuid) == 0
                                      ? md->rec->journal : NULL;

        ui_plan_linef(l, UI_R_NORMAL, width, "VM:     %s@%s", d->vm, d->hostname);
        if (j) {
            int after = strcmp(j->step, "switched") == 0;
            const ReplicaDiskList *files = after ? &j->remove : &j->create;
            size_t k;

            ui_plan_linef(l, UI_R_CRIT, width, "Interrupted: %s, stopped at step \"%s\" (job %s)", j->op, j->step, j->job);
            ui_lines_wrap(l, UI_R_NORMAL,
                          after ? "It stopped after its switch: repair finishes it, deleting only the files its journal names."
                                : "It stopped before its switch: repair rolls it back, removing only files it had created.",
                          width, 0);
            if (j->domain && *j->domain)
                ui_plan_linef(l, UI_R_DELETE, width, "Removes the test system %s%s", j->domain,
                              after ? "" : " if it was defined");
            /* The files, by name: what the operator confirms. */
            if (files->n)
                ui_plan_linef(l, UI_R_DELETE, width, "DELETES %zu file%s%s:", files->n, files->n == 1 ? "" : "s",
                              after ? "" : " (those it had created; a file never made is skipped)");
            else
                ui_lines_push(l, UI_R_NORMAL, -1, "Deletes nothing.");
            for (k = 0; k < files->n; k++) {
                const char *f = files->v[k].file ? files->v[k].file : "";
                const char *b = strrchr(f, '/');

                if (k == 0 && b)
                    ui_plan_linef(l, UI_R_DIM, width, "  in %.*s", (int)(b - f), f);
                ui_plan_linef(l, UI_R_DELETE, width, "  %-4s %s", files->v[k].target, b ? b + 1 : f);
            }
        } else {
            ui_plan_linef(l, UI_R_CRIT, width, "Interrupted: %s", row && row->s.journal_op ? row->s.journal_op : "an operation");
            ui_lines_wrap(l, UI_R_NORMAL, "Repair rolls it back if it stopped before its switch and finishes it "
                                          "if it stopped after; it deletes only files its journal names.", width, 0);
        }
        return;
    }
    if (d->replanned)
        ui_lines_wrap(l, UI_R_WARN, "The plan changed since you confirmed it, so nothing was done. This is the "
                                    "new plan: confirm again only if it is still what you want.", width, 0);
    if (d->plan_id) {
        ui_plan_linef(l, UI_R_DIM, width, "Planning%s reading %s, its record and its files (nothing changes yet).",
                       c->g.ell, d->vm);
        return;
    }
    if (d->failed) {
        ResultCtx ctx;
        ResultInfo info;
        UTIL_AUTOFREE char *text = NULL;

        err_info_to_ctx(&ctx, &d->err, ui_op_name(d->op),
                             d->vm, d->hostname);
        result_decode(&ctx, &info);
        ui_console_result(&ctx, &info);
        if (info.code == RESULT_INVALID_STATE && !d->err.virt_code && row &&
            !(d->err.hints & RESULT_HINT_PRIMARY_RUNS)) {
            /* The row's own keys, not examples. */
            UTIL_AUTOFREE char *keys = ui_op_keys(c, row, ", ");

            free(info.next_step);
            info.next_step = keys[0] ? util_xasprintf("The cause names the states that allow it. What %s allows "
                                                      "now: %s.", d->vm, keys)
                                     : util_xasprintf("The cause names the states that allow it; %s allows no "
                                                      "operation now.", d->vm);
        }
        if (ui_can_force(d)) {
            free(info.next_step);
            info.next_step = util_xasprintf("Shut the primary down on its host, then press f again, or choose "
                                            "Planned (f: drover shuts it down, no data lost). If it is cut off "
                                            "from its users and storage, F here overrides the guard with a "
                                            "reason (audited), as drover failover %s --force --reason TEXT "
                                            "does.", d->vm);
        }
        /* Refused while planning: nothing was touched, so trying again
         * is safe whatever the code. */
        info.retry_safe = 1;
        text = util_xasprintf("Result: %d %s\n%s\nCause: %s\nNext: %s\nRetry is safe: %s\nNothing was changed.",
                              info.code, info.name, info.summary, info.cause, info.next_step,
                              info.retry_safe ? "yes" : "no");
        ui_lines_wrap(l, UI_R_ERROR, text, width, 0);
        result_info_clear(&info);
        return;
    }
    if (ui_op_repl(d->op) >= 0) {
        ui_repl_plan_body(c, d, l, width);
        return;
    }
    if (!p)
        return;
    if (row && row->version != d->row_version)
        ui_lines_wrap(l, UI_R_WARN, "The VM changed since this plan was made: confirming will be refused "
                                    "and you will see the new plan.", width, 0);
    ui_plan_linef(l, UI_R_NORMAL, width, "VM:     %s@%s (%s)", p->vm, p->host, p->uuid);
    ui_plan_linef(l, UI_R_NORMAL, width, "State:  %d %s %s %d %s", p->from_state, state_name(p->from_state), c->g.arrow,
                   p->to_state, state_name(p->to_state));
    if (p->power_action != PLAN_POWER_NONE) {
        /* The timeout is known here: say it once, as a number. */
        if (p->op == OP_STOP_TEST && p->test_domain)
            snprintf(buf, sizeof(buf), "Power:  the test system %s is powered off at once", p->test_domain);
        else if (p->power_action == PLAN_POWER_SHUTDOWN)
            snprintf(buf, sizeof(buf), "Power:  %s now: shut down (forced off after %d s)", hv_power_name(p->power),
                     c->s->conf->shutdown_timeout);
        else
            snprintf(buf, sizeof(buf), "Power:  %s now: %s", hv_power_name(p->power),
                     plan_power_action_text(p->power_action));
        ui_lines_hang(l, UI_R_WARN, buf, width, 8);
    } else {
        ui_plan_linef(l, UI_R_NORMAL, width, "Power:  %s; no power action", hv_power_name(p->power));
    }
    if (p->point)
        ui_plan_linef(l, UI_R_NORMAL, width, "Point:  %s", p->point);
    if (p->guard_text) {
        /* What the split-brain guard found: a warning unless the primary
         * said it is off. */
        char *t = util_xasprintf("Primary: %s", p->guard_text);
        ui_lines_hang(l, p->guard == PLAN_GUARD_STOPPED || p->guard == PLAN_GUARD_ABSENT ? UI_R_NORMAL : UI_R_WARN,
                      t, width, 9);
        free(t);
    }
    if (p->test_domain)
        ui_lines_pushf(l, UI_R_NORMAL, "Test system: %s", p->test_domain);
    if (p->test_omitted) {
        char *t = util_xasprintf("Left out of the test system: %s", p->test_omitted);
        ui_lines_wrap(l, UI_R_WARN, t, width, 2);
        free(t);
    }
    for (i = 0; i < p->nswitches; i++) {
        const char *from = p->switches[i].from ? strrchr(p->switches[i].from, '/') : NULL;
        const char *to = strrchr(p->switches[i].to, '/');
        ui_plan_linef(l, UI_R_NORMAL, width, "Disk %s: %s %s %s", p->switches[i].target, from ? from + 1 : "(none)",
                       c->g.arrow, to ? to + 1 : p->switches[i].to);
    }
    if (p->dir)
        ui_plan_linef(l, UI_R_DIM, width, "Files in %s", p->dir);
    if (p->remove.n)
        ui_plan_files(l, UI_R_DELETE, "DELETES", &p->remove, p->dir, width);
    else
        ui_lines_push(l, UI_R_NORMAL, -1, "Deletes nothing.");
    ui_plan_files(l, UI_R_CREATE, "Creates", &p->create, p->dir, width);
    ui_lines_wrap(l, p->op == OP_COMMIT ? UI_R_WARN : UI_R_INFO, ui_op_explain(p->op), width, 0);
    ui_plan_files(l, UI_R_DIM, "Keeps", &p->keep, p->dir, width);
}

static void
ui_progress_body(const Console *c, const Dialog *d, UiLines *l, int width)
{
    const JobInfo *j = ui_job_find(c, d->job_id);
    char el[32];

    if (!j) {
        ui_lines_pushf(l, UI_R_DIM, "Starting job %s%s", d->job_id, c->g.ell);
        return;
    }
    ui_fmt_elapsed(j->elapsed_ms, el, sizeof(el));
    ui_lines_pushf(l, UI_R_NORMAL, "Job %.8s: %s, %s %s", j->id, job_state_name(j->state),
                   j->state < JOB_COMPLETED ? "elapsed" : "took", el);
    ui_lines_push(l, UI_R_NORMAL, j->percent, "");
    {
        char pct[16];
        snprintf(pct, sizeof(pct), "%3d%%", j->percent);
        free(l->text[l->n - 1]);
        l->text[l->n - 1] = util_xstrdup(pct);
    }
    if (j->state < JOB_COMPLETED)
        ui_lines_wrap(l, UI_R_NORMAL, j->step, width, 0);
    if (j->state >= JOB_COMPLETED) {
        UTIL_AUTOFREE char *text = ui_job_result_text(j);
        ui_lines_push(l, UI_R_NORMAL, -1, "");
        ui_lines_wrap(l, j->state == JOB_COMPLETED ? UI_R_OK : UI_R_ERROR, text, width, 0);
    }
}

static void
ui_pick_body(const Console *c, const Dialog *d, UiLines *l, int width)
{
    size_t i;

    if (d->text)
        ui_lines_wrap(l, d->op == OP_COMMIT ? UI_R_WARN : UI_R_NORMAL, d->text, width, 0);
    if (d->op == OP_INITIATE)
        ui_guard_line(c, d, l, width);
    if (d->waiting) {
        ui_lines_pushf(l, UI_R_DIM, "Reading the recovery points of %s%s", d->vm, c->g.ell);
        return;
    }
    for (i = 0; i < d->nitems; i++)
        ui_lines_pushf(l, d->items[i].disabled ? UI_R_CRIT : i == d->sel ? UI_R_BUTTON_ON : UI_R_NORMAL, "%s %s",
                       i == d->sel && !d->items[i].disabled ? c->g.use : d->items[i].disabled ? c->g.bad : " ",
                       d->items[i].label);
}

/* The fixed lines under the body: fields, buttons, keys. */
static void
ui_footer(const Console *c, const Dialog *d, UiLines *l, int width)
{
    char buf[512];
    const JobInfo *j;

    switch (d->kind) {
    case DLG_PLAN:
        if (d->failed && ui_can_force(d)) {
            ui_lines_push(l, UI_R_KEY, -1, "F: fail over anyway (override the guard, with a reason)  "
                                           "Enter or Esc: close");
            break;
        }
        if (d->failed || d->plan_id) {
            ui_lines_push(l, UI_R_KEY, -1, d->failed ? "Enter or Esc: close" : "Esc: cancel");
            break;
        }
        if (ui_needs_reason(c, d)) {
            snprintf(buf, sizeof(buf), "Reason (required%s, goes to the audit log): %s%s",
                     d->force ? " to override the guard" : "", d->reason,
                     d->field == 1 ? "_" : "");
            ui_lines_push(l, d->field == 1 ? UI_R_INPUT : UI_R_NORMAL, -1, buf);
        }
        snprintf(buf, sizeof(buf), "Type %s to confirm: %s%s", ui_expected(c, d), d->input, d->field == 0 ? "_" : "");
        ui_lines_push(l, d->field == 0 ? UI_R_INPUT : UI_R_NORMAL, -1, buf);
        snprintf(buf, sizeof(buf), "%s< Cancel >%s   %s< %s %s >%s", ui_confirmed(c, d) ? " " : "[",
                 ui_confirmed(c, d) ? " " : "]", ui_confirmed(c, d) ? "[" : " ", ui_op_title(d->op), d->vm,
                 ui_confirmed(c, d) ? "]" : " ");
        ui_lines_push(l, ui_confirmed(c, d) ? UI_R_DELETE : UI_R_BUTTON_ON, -1, buf);
        snprintf(buf, sizeof(buf), "Enter: the [button] (Cancel until %s is typed)  Esc: cancel  %s",
                 ui_expected(c, d), ui_needs_reason(c, d) ? "Tab: field" : "Up/Down: scroll");
        ui_lines_wrap(l, UI_R_KEY, buf, width, 0);
        break;
    case DLG_PROGRESS:
        j = ui_job_find(c, d->job_id);
        ui_lines_push(l, UI_R_KEY, -1, j && j->state >= JOB_COMPLETED ? "Enter or Esc: close"
                                                                       : "Esc: hide (the job keeps running; J shows jobs)");
        break;
    case DLG_PICK:
        ui_lines_push(l, UI_R_KEY, -1, d->choice ? "Up/Down: choose  Enter: go on  Esc: cancel"
                                                 : "Up/Down: choose  Enter: show the plan  Esc: cancel");
        break;
    case DLG_QUIT:
        ui_lines_push(l, UI_R_KEY, -1, "y: quit (the jobs go on)   n or Esc: stay");
        break;
    case DLG_CANCEL_JOB:
        ui_lines_push(l, UI_R_KEY, -1, "y: cancel the job   n or Esc: let it run");
        break;
    case DLG_HELP:
        ui_lines_push(l, UI_R_KEY, -1, "Up/Down PgUp/PgDn: scroll   Esc, ? or F1: close");
        break;
    default:
        ui_lines_push(l, UI_R_KEY, -1, "Enter or Esc: close   Up/Down: scroll");
        break;
    }
}

static void
ui_body(const Console *c, const Dialog *d, UiLines *l, int width)
{
    switch (d->kind) {
    case DLG_PLAN: ui_plan_body(c, d, l, width); break;
    case DLG_PROGRESS: ui_progress_body(c, d, l, width); break;
    case DLG_PICK: ui_pick_body(c, d, l, width); break;
    case DLG_HELP: {
        /* Key lines wrap under their description. */
        char **v;
        size_t n = ui_wrap(d->text, 1000, &v), i;

        for (i = 0; i < n; i++) {
            size_t k, m;
            char **w;

            int lead = 2 + UI_HELP_KEYS + 3;    /* "  KEYS * " */

            if (strncmp(v[i], "  ", 2) != 0 || (int)strlen(v[i]) < lead) {
                ui_lines_wrap(l, i == 0 ? UI_R_DLG_TITLE : UI_R_NORMAL, v[i], width, 0);
                continue;
            }
            m = ui_wrap(v[i] + lead, width - lead, &w);
            for (k = 0; k < m; k++)
                ui_lines_pushf(l, UI_R_NORMAL, "%-*.*s%s", lead, k ? 0 : lead, v[i], w[k]);
            ui_lines_free(w, m);
        }
        ui_lines_free(v, n);
        break;
    }
    default: ui_lines_wrap(l, d->role, d->text, width, 0); break;
    }
}

void
ui_draw_dialog(Console *c, Dialog *d)
{
    UiLines body = { 0 }, foot = { 0 };
    int w = c->cols - 4 > 96 ? 96 : c->cols - 4, h, y, x, inner = w - 4, bh;
    char title[512];

    ui_body(c, d, &body, inner);
    ui_footer(c, d, &foot, inner);
    h = (int)(body.n + foot.n) + 3;
    if (h > c->rows - 2)
        h = c->rows - 2;
    bh = h - 3 - (int)foot.n;
    if (bh < 1)
        bh = 1;
    if (d->scroll > (int)body.n - bh)
        d->scroll = (int)body.n - bh;
    if (d->scroll < 0)
        d->scroll = 0;
    y = (c->rows - h) / 2;
    x = (c->cols - w) / 2;
    ui_box(c, y, x, h, w, ui_attr(c, UI_R_DLG));
    if (d->kind == DLG_PLAN || d->kind == DLG_PICK || d->kind == DLG_PROGRESS)
        snprintf(title, sizeof(title), " %s: %s@%s ", d->title ? d->title : ui_op_title(d->op), d->vm, d->hostname);
    else
        snprintf(title, sizeof(title), " %s ", d->title ? d->title : "drover");
    ui_text(c, y, x + 2, w - 4, title, ui_attr(c, UI_R_DLG_TITLE), 0);
    ui_lines_draw(c, &body, y + 1, x + 2, bh, inner, d->scroll);
    if (d->scroll > 0)
        ui_text(c, y + 1, x + w - 3, 1, c->g.up, ui_attr(c, UI_R_KEY), 0);
    if (d->scroll + bh < (int)body.n)
        ui_text(c, y + bh, x + w - 3, 1, c->g.down, ui_attr(c, UI_R_KEY), 0);
    ui_lines_draw(c, &foot, y + h - 1 - (int)foot.n, x + 2, (int)foot.n, inner, 0);
    ui_lines_clear(&body);
    ui_lines_clear(&foot);
}
