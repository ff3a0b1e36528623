/* SPDX-License-Identifier: GPL-2.0-or-later */
/* keys: the key table.  Each key names an action; an action changes the
 * console's state and returns what must be repainted — it never draws. */
#include <config.h>

#include "ui.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record/state.h"
#include "base/util.h"

#define UI_CTRL(k) ((k) & 0x1f)
#define UI_KEY_ESC 27

typedef unsigned (*UiAction)(Console *c);

typedef struct {
    int keys[4];                /* 0-terminated; values >= KEY_MIN are curses key codes */
    const char *names;          /* as the help shows them */
    const char *help;
    int mutates;                /* changes VMs: off in read-only mode */
    int op;                     /* for mutating actions: the operation, for the message */
    UiAction fn;
} UiBinding;

static unsigned
ui_sel_moved(Console *c)
{
    c->pane_scroll = c->pane == PANE_DETAIL ? 0 : c->pane_scroll;
    return UI_DIRTY_TABLE | UI_DIRTY_PANE | UI_DIRTY_HEADER;
}

static size_t
ui_page(const Console *c)
{
    return c->table_h > 2 ? (size_t)c->table_h - 2 : 1;
}

static unsigned
act_up(Console *c)
{
    if (c->pane_focus) {
        c->pane_scroll--;
        return UI_DIRTY_PANE;
    }
    view_move(&c->view, -1);
    return ui_sel_moved(c);
}

static unsigned
act_down(Console *c)
{
    if (c->pane_focus) {
        c->pane_scroll++;
        return UI_DIRTY_PANE;
    }
    view_move(&c->view, 1);
    return ui_sel_moved(c);
}

static unsigned
act_pgup(Console *c)
{
    if (c->pane_focus) {
        c->pane_scroll -= c->pane_h - 2;
        return UI_DIRTY_PANE;
    }
    view_move(&c->view, -(long)ui_page(c));
    return ui_sel_moved(c);
}

static unsigned
act_pgdn(Console *c)
{
    if (c->pane_focus) {
        c->pane_scroll += c->pane_h - 2;
        return UI_DIRTY_PANE;
    }
    view_move(&c->view, (long)ui_page(c));
    return ui_sel_moved(c);
}

/* Home, End, g and G: the top and bottom of whatever has the focus. */
static unsigned
act_home(Console *c)
{
    if (c->pane_focus) {
        c->pane_scroll = 0;
        return UI_DIRTY_PANE;
    }
    view_select(&c->view, 0);
    return ui_sel_moved(c);
}

static unsigned
act_end(Console *c)
{
    if (c->pane_focus) {
        /* The pane clamps it to its last page when it draws. */
        c->pane_scroll = c->pane_lines;
        return UI_DIRTY_PANE;
    }
    if (c->view.n)
        view_select(&c->view, c->view.n - 1);
    return ui_sel_moved(c);
}

static unsigned
act_detail(Console *c)
{
    c->pane = c->pane == PANE_DETAIL ? PANE_NONE : PANE_DETAIL;
    c->pane_focus = 0;
    c->pane_scroll = 0;
    return UI_LAYOUT;
}

static unsigned
act_jobs(Console *c)
{
    c->pane = c->pane == PANE_JOBS ? PANE_NONE : PANE_JOBS;
    c->pane_focus = 0;
    c->pane_scroll = 0;
    c->jobs_sel[0] = '\0';
    return UI_LAYOUT;
}

static unsigned
act_focus(Console *c)
{
    if (c->pane == PANE_NONE) {
        ui_set_msg(c, UI_R_INFO, "No pane to scroll: Enter opens the details, J the jobs.");
        return UI_DIRTY_STATUS;
    }
    c->pane_focus = !c->pane_focus;
    return UI_DIRTY_PANE | UI_DIRTY_STATUS;
}

static unsigned act_revert(Console *c) { return ui_dialog_start(c, OP_REVERT); }
static unsigned act_failover(Console *c) { return ui_dialog_start(c, OP_INITIATE); }
static unsigned act_commit(Console *c) { return ui_dialog_start(c, OP_COMMIT); }
static unsigned act_test(Console *c) { return ui_dialog_start(c, OP_TEST); }
static unsigned act_stop_test(Console *c) { return ui_dialog_start(c, OP_STOP_TEST); }
static unsigned act_repair(Console *c) { return ui_dialog_start(c, UI_OP_REPAIR); }
static unsigned act_replicate(Console *c) { return ui_dialog_start(c, UI_OP_REPLICATE); }
static unsigned act_suspend(Console *c) { return ui_dialog_start(c, UI_OP_SUSPEND); }
static unsigned act_resume(Console *c) { return ui_dialog_start(c, UI_OP_RESUME); }
static unsigned act_resync(Console *c) { return ui_dialog_start(c, UI_OP_RESYNC); }

static unsigned
act_filter(Console *c)
{
    c->filtering = 1;
    return UI_DIRTY_STATUS;
}

/* n and N: the next (previous) row matching the filter, round the end.
 * With the filter cleared they search for what it was, among all rows. */
static unsigned
ui_next_match(Console *c, int dir)
{
    View *v = &c->view;
    const char *what = v->filter[0] ? v->filter : v->last_filter;
    size_t k, i, n = v->n, matches = 0, at = 0;
    const ModelRow *r;

    if (!what[0]) {
        ui_set_msg(c, UI_R_INFO, "No filter to match: / sets one, then n and N step through its matches.");
        return UI_DIRTY_STATUS;
    }
    for (k = 1; k <= n; k++) {
        i = (v->sel + n + (dir > 0 ? k : n - k)) % n;
        if (view_matches(v->rows[i], what)) {
            view_select(v, i);
            break;
        }
    }
    if (!n || k > n) {
        ui_set_msg(c, UI_R_INFO, "No VM matches \"%s\".", what);
        return UI_DIRTY_STATUS;
    }
    for (i = 0; i < n; i++) {
        if (view_matches(v->rows[i], what)) {
            matches++;
            if (i == v->sel)
                at = matches;
        }
    }
    r = view_selected(v);
    ui_set_msg(c, UI_R_INFO, "%s: match %zu of %zu for \"%s\" (n: next, N: previous).", r->s.name, at, matches,
               what);
    return ui_sel_moved(c) | UI_DIRTY_STATUS;
}

static unsigned act_next_match(Console *c) { return ui_next_match(c, 1); }
static unsigned act_prev_match(Console *c) { return ui_next_match(c, -1); }

static unsigned
act_sort(Console *c)
{
    view_sort_next(&c->view);
    ui_set_msg(c, UI_R_INFO, "Sorted by %s (s: next column, S: reverse).", view_col_title(c->view.sort_col));
    return UI_REBUILD | UI_DIRTY_TABLE | UI_DIRTY_STATUS;
}

static unsigned
act_sort_rev(Console *c)
{
    view_sort_reverse(&c->view);
    ui_set_msg(c, UI_R_INFO, "Sorted by %s, %s.", view_col_title(c->view.sort_col),
               c->view.sort_rev ? "reversed" : "normal order");
    return UI_REBUILD | UI_DIRTY_TABLE | UI_DIRTY_STATUS;
}

static unsigned
act_refresh(Console *c)
{
    model_refresh(c->m);
    ui_set_msg(c, UI_R_INFO, "Refreshing every host%s", c->g.ell);
    return UI_DIRTY_HEADER | UI_DIRTY_STATUS;
}

static unsigned
act_help(Console *c)
{
    Dialog *d = ui_dialog_new(DLG_HELP);

    d->title = util_xstrdup("drover keys");
    d->text = ui_help_text(c);
    ui_dialog_push(c, d);
    return UI_DIRTY_DIALOG;
}

static unsigned
act_redraw(Console *c)
{
    clearok(curscr, TRUE);
    return UI_LAYOUT;
}

static unsigned
act_escape(Console *c)
{
    if (c->view.filter[0]) {
        util_strlcpy(c->view.last_filter, c->view.filter, sizeof(c->view.last_filter));
        c->view.filter[0] = '\0';
        ui_set_msg(c, UI_R_INFO, "Filter cleared.");
        return UI_REBUILD | UI_DIRTY_ALL;
    }
    if (c->pane_focus) {
        c->pane_focus = 0;
        return UI_DIRTY_PANE;
    }
    if (c->pane != PANE_NONE) {
        c->pane = PANE_NONE;
        return UI_LAYOUT;
    }
    return 0;
}

/* x: cancel the job selected in the jobs pane, where that is safe. */
static unsigned
act_cancel_job(Console *c)
{
    const JobInfo *j = c->pane == PANE_JOBS ? ui_jobs_selected(c) : NULL;
    Dialog *d;

    if (c->pane != PANE_JOBS || !j) {
        ui_set_msg(c, UI_R_INFO, c->pane != PANE_JOBS ? "x cancels the job selected in the jobs pane: "
                   "J opens it, Tab and Up/Down select a job." : "No job to cancel.");
        return UI_DIRTY_STATUS;
    }
    if (c->readonly) {
        ui_set_msg(c, UI_R_WARN, "Read-only: jobs cannot be cancelled from here.");
        return UI_DIRTY_STATUS;
    }
    if (j->state >= JOB_COMPLETED) {
        ui_set_msg(c, UI_R_INFO, "%s of %s already ended (%s): nothing to cancel.", model_job_title(j->type),
                   j->vm, job_state_name(j->state));
        return UI_DIRTY_STATUS;
    }
    if (!j->cancellable) {
        ui_set_msg(c, UI_R_WARN, "%s of %s has passed its switch: it cannot be cancelled (stopping it now "
                   "would leave it half done); it finishes by itself.", model_job_title(j->type), j->vm);
        return UI_DIRTY_STATUS;
    }
    d = ui_dialog_new(DLG_CANCEL_JOB);
    d->title = util_xstrdup("Cancel the job?");
    util_strlcpy(d->job_id, j->id, sizeof(d->job_id));
    d->text = util_xasprintf("%s of %s@%s (job %.8s) is still before its switch: cancelling stops it and "
                             "rolls it back, and %s stays as it was.\n\nCancel this job?",
                             model_job_title(j->type), j->vm, j->host, j->id, j->vm);
    ui_dialog_push(c, d);
    return UI_DIRTY_DIALOG;
}

static unsigned
act_quit(Console *c)
{
    size_t running = ui_jobs_running(c);
    Dialog *d = ui_dialog_top(c);

    if (!running && !job_table_running(c->s->jobs))
        return UI_QUIT;
    if (d && d->kind == DLG_QUIT)
        return 0;
    d = ui_dialog_new(DLG_QUIT);
    d->title = util_xstrdup("Quit?");
    d->text = util_xasprintf("%zu job%s running. Jobs run detached from this console: quitting, "
                             "closing the terminal or Ctrl-C does not stop them. A new console or "
                             "drover jobs --follow shows them to their end.\n\nQuit now?",
                             running, running == 1 ? " is" : "s are");
    ui_dialog_push(c, d);
    return UI_DIRTY_DIALOG;
}

unsigned
ui_quit_request(Console *c)
{
    return act_quit(c) | UI_DIRTY_ALL;
}

static const UiBinding ui_keys[] = {
    { { KEY_UP, 'k' }, "Up k", "move up; in the pane: scroll", 0, 0, act_up },
    { { KEY_DOWN, 'j' }, "Down j", "move down; in the pane: scroll", 0, 0, act_down },
    { { KEY_PPAGE }, "PgUp", "page up", 0, 0, act_pgup },
    { { KEY_NPAGE }, "PgDn", "page down", 0, 0, act_pgdn },
    { { KEY_HOME, 'g' }, "Home g", "first row; in the pane: its top", 0, 0, act_home },
    { { KEY_END, 'G' }, "End G", "last row; in the pane: its bottom", 0, 0, act_end },
    { { '\n', '\r', KEY_ENTER }, "Enter", "details: disk chains, recovery points, last job (toggle)", 0, 0, act_detail },
    { { '\t' }, "Tab", "switch between the table and the pane (arrows scroll it)", 0, 0, act_focus },
    { { 'r' }, "r", "revert failover: discard the failover disks, back to 3", 1, OP_REVERT, act_revert },
    { { 'f' }, "f", "initiate failover to a point you pick; planned or unplanned if drover replicates it", 1, OP_INITIATE, act_failover },
    { { 'c' }, "c", "commit the failover (cannot be undone; optional flatten)", 1, OP_COMMIT, act_commit },
    { { 't' }, "t", "test failover: a separate test system on a point", 1, OP_TEST, act_test },
    { { 'T' }, "T", "stop the test failover (on the replica or its test system)", 1, OP_STOP_TEST, act_stop_test },
    { { 'R' }, "R", "repair an interrupted operation (finish or undo it)", 1, UI_OP_REPAIR, act_repair },
    { { 'p' }, "p", "replicate now: one replication cycle, a new recovery point", 1, UI_OP_REPLICATE, act_replicate },
    { { 'z' }, "z", "suspend replication (3 -> 7 Suspended): no cycles until resumed", 1, UI_OP_SUSPEND, act_suspend },
    { { 'Z' }, "Z", "resume replication (7 -> 3 Replicating)", 1, UI_OP_RESUME, act_resume },
    { { 'Y' }, "Y", "resync: copy every disk in full into a new base (older points go)", 1, UI_OP_RESYNC, act_resync },
    { { '/', KEY_F(3) }, "/ F3", "filter as you type (name, host, state, health, power)", 0, 0, act_filter },
    { { 'n' }, "n", "next row matching the filter", 0, 0, act_next_match },
    { { 'N' }, "N", "previous row matching the filter", 0, 0, act_prev_match },
    { { 's', KEY_F(6) }, "s F6", "sort by the next column", 0, 0, act_sort },
    { { 'S' }, "S", "reverse the sort order", 0, 0, act_sort_rev },
    { { UI_CTRL('r'), KEY_F(5) }, "Ctrl-R F5", "refresh every host now (reconnects those down)", 0, 0, act_refresh },
    { { 'J' }, "J", "jobs pane: every job on this machine, with results (toggle)", 0, 0, act_jobs },
    { { 'x' }, "x", "jobs pane: cancel the selected job (asks first)", 0, 0, act_cancel_job },
    { { '?', KEY_F(1) }, "? F1", "this help", 0, 0, act_help },
    { { UI_CTRL('l') }, "Ctrl-L", "redraw the screen", 0, 0, act_redraw },
    { { UI_KEY_ESC }, "Esc", "clear the filter, leave/close the pane; dialogs: cancel", 0, 0, act_escape },
    { { 'q', KEY_F(10) }, "q F10", "quit (asks first while jobs run)", 0, 0, act_quit },
};
#define UI_NKEYS (sizeof(ui_keys) / sizeof(ui_keys[0]))

/* Why a mutating key does nothing here, or NULL when it may run. */
static char *
ui_readonly_reason(const Console *c, const UiBinding *b)
{
    const ModelRow *r = view_selected(&c->view);
    const char *what = ui_op_title(b->op);

    if (c->readonly)
        return util_xasprintf("Read-only: %s is off (%s). Nothing was changed.", what,
                              c->s->conf->readonly ? "drover.conf" : "--readonly");
    if (r && c->s->hosts[r->host].readonly)
        return util_xasprintf("Read-only: %s is off for %s (host %s). Nothing was changed.", what,
                              r->s.name, r->s.host);
    return NULL;
}

static unsigned
ui_filter_key(Console *c, int key, int code)
{
    View *v = &c->view;
    size_t n = strlen(v->filter);

    if (!code && key == UI_KEY_ESC) {
        c->filtering = 0;
        if (v->filter[0])
            util_strlcpy(v->last_filter, v->filter, sizeof(v->last_filter));
        v->filter[0] = '\0';
        ui_set_msg(c, UI_R_INFO, "Filter cleared.");
        return UI_REBUILD | UI_DIRTY_ALL;
    }
    if ((!code && (key == '\n' || key == '\r')) || (code && key == KEY_ENTER)) {
        c->filtering = 0;
        if (v->filter[0])
            util_strlcpy(v->last_filter, v->filter, sizeof(v->last_filter));
        return UI_DIRTY_STATUS;
    }
    if ((code && key == KEY_BACKSPACE) || (!code && (key == 127 || key == 8))) {
        if (n)
            v->filter[n - 1] = '\0';
        return UI_REBUILD | UI_DIRTY_ALL;
    }
    if (!code && key >= 32 && key < 127 && n + 1 < sizeof(v->filter)) {
        v->filter[n] = (char)key;
        v->filter[n + 1] = '\0';
        return UI_REBUILD | UI_DIRTY_ALL;
    }
    if (code && (key == KEY_UP || key == KEY_DOWN)) {
        view_move(v, key == KEY_UP ? -1 : 1);
        return ui_sel_moved(c);
    }
    return 0;
}

unsigned
ui_key(Console *c, int key, int code)
{
    size_t i, k;

    if (c->msg[0] && !c->filtering)
        ui_msg_seen(c);     /* a message lasts until the next key */
    if (c->too_small) {
        if ((!code && key == 'q') || (code && key == KEY_F(10)))
            return act_quit(c) | UI_LAYOUT;
        return UI_DIRTY_STATUS;
    }
    if (!code && key == UI_CTRL('l'))
        return act_redraw(c);
    if (ui_dialog_top(c))
        return ui_dialog_key(c, key, code) | UI_DIRTY_STATUS;
    if (c->filtering)
        return ui_filter_key(c, key, code) | UI_DIRTY_STATUS;
    for (i = 0; i < UI_NKEYS; i++) {
        const UiBinding *b = &ui_keys[i];

        for (k = 0; k < 4 && b->keys[k]; k++) {
            if (b->keys[k] != key || (key >= KEY_MIN) != (code != 0))
                continue;
            if (b->mutates) {
                UTIL_AUTOFREE char *why = ui_readonly_reason(c, b);
                if (why) {
                    const ModelRow *r = ui_op_row(c, view_selected(&c->view), b->op);

                    /* A refused attempt like any other: audited, listed with the jobs. */
                    if (r) {
                        ErrInfo e;

                        memset(&e, 0, sizeof(e));
                        e.code = RESULT_ACCESS_DENIED;
                        util_strlcpy(e.message, why, sizeof(e.message));
                        ui_refusal_note(c, b->op, r->host, r->s.uuid, r->s.name, r->s.host, NULL, NULL, &e);
                    }
                    ui_set_msg(c, UI_R_ERROR, "%s", why);
                    return UI_DIRTY_STATUS | UI_DIRTY_PANE;
                }
            }
            return b->fn(c) | UI_DIRTY_STATUS;
        }
    }
    if (!code && key >= 32 && key < 127) {
        ui_set_msg(c, UI_R_INFO, "Key '%c' does nothing here; ? lists every key.", key);
        return UI_DIRTY_STATUS;
    }
    return UI_DIRTY_STATUS;
}

char *
ui_help_text(const Console *c)
{
    UtilBuf b = { 0 };
    size_t i;

    util_buf_printf(&b, "Keys (* changes VMs%s):\n", c->readonly ? "; OFF now: read-only mode" : "; off in read-only mode");
    for (i = 0; i < UI_NKEYS; i++)
        util_buf_printf(&b, "  %-*s %s %s\n", UI_HELP_KEYS, ui_keys[i].names, ui_keys[i].mutates ? "*" : " ",
                        ui_keys[i].help);
    util_buf_add(&b, "\nEvery change shows its plan first: the files it deletes and keeps, the state "
                     "before and after, any power action. You confirm by typing the VM name; Cancel is "
                     "the default and Esc cancels. What runs is the plan you saw: if the VM changed "
                     "meanwhile, nothing is done and the new plan is shown.\n\n"
                     "States (number and name, as Hyper-V Replica numbers them): 3 Replicating (normal), "
                     "5 Recovered (failed over: revert or commit), 6 Committed, 7 Suspended, 8 Critical, "
                     "12 Failover in progress. Health: Normal, Warning (replication late or suspended), "
                     "Critical (record and disks disagree, or an interrupted operation: press R).\n\n"
                     "Results: every job ends with its code (0 = success, 32768-32779 errors), what "
                     "happened to the VM, the cause, the next step, and whether retrying is safe.\n\n"
                     "The title line shows each host's connection and how old its data is; rows of a "
                     "disconnected host show their age in the POWER column.");
    return util_buf_steal(&b);
}
