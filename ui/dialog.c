/* SPDX-License-Identifier: GPL-2.0-or-later */
/* dialog: pick a point, read the plan and confirm it, follow the job, read
 * its decoded result.  A dialog pins its VM by host and UUID: refreshes
 * never move it to another row. */
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
static const char *
ui_expected(const Console *c, const Dialog *d)
{
    return c->s->conf->confirm == CONF_CONFIRM_YES_NO ? "yes" : d->vm;
}

/* A reason is asked when the configuration requires one, and always for
 * an override of the split-brain guard (it goes to the audit log). */
static int
ui_needs_reason(const Console *c, const Dialog *d)
{
    return c->s->conf->require_reason || d->force;
}

static int
ui_confirmed(const Console *c, const Dialog *d)
{
    if (d->failed || d->plan_id || (!d->plan && !d->rplan && d->op != UI_OP_REPAIR))
        return 0;
    if (ui_needs_reason(c, d) && !d->reason[0])
        return 0;
    return strcmp(d->input, ui_expected(c, d)) == 0;
}

/* --- content --------------------------------------------------------------- */

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
static int
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
