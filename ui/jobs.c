/* SPDX-License-Identifier: GPL-2.0-or-later */
/* jobs: the job snapshot, decoded results, the jobs pane, the job line
 * and the message line. */
#include <config.h>

#include "ui.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "face/report.h"
#include "base/result.h"
#include "record/state.h"
#include "base/util.h"

void
ui_jobs_refresh(Console *c)
{
    size_t i;

    free(c->jobs);
    c->jobs = NULL;
    c->njobs = job_table_snapshot(c->s->jobs, &c->jobs);
    /* The selection stays on its job when the order changes (a job that
     * ends moves below the running ones). */
    if (c->pane == PANE_JOBS && c->jobs_sel[0])
        for (i = 0; i < c->njobs; i++)
            if (strcmp(c->jobs[i].id, c->jobs_sel) == 0)
                c->pane_scroll = (int)i;
    /* A job on the VM of the detail pane ended: read its details again.
     * A refused replication cycle leaves the record as it was, so no row
     * change would, but the statistics and the primary's answer moved. */
    if (c->detail_uuid[0]) {
        const JobInfo *j = ui_job_for_vm(c, c->detail_host, c->detail_uuid);

        if (j && j->state >= JOB_COMPLETED && c->detail_job[0] && strcmp(j->id, c->detail_job) != 0) {
            util_strlcpy(c->detail_job, j->id, sizeof(c->detail_job));
            /* With the pane closed, it asks when it opens (a request now
             * could replace a dialog's for another VM). */
            if (c->pane == PANE_DETAIL)
                model_detail_request(c->m, c->detail_host, c->detail_uuid);
            else
                c->detail_uuid[0] = '\0';
        }
    }
}

size_t
ui_jobs_running(const Console *c)
{
    size_t i, n = 0;

    for (i = 0; i < c->njobs; i++)
        n += c->jobs[i].state < JOB_COMPLETED;
    return n;
}

void
ui_jobs_track(Console *c, const char *id)
{
    util_grow(&c->tracked, &c->tracked_cap, c->ntracked + 1, sizeof(*c->tracked));
    memset(&c->tracked[c->ntracked], 0, sizeof(*c->tracked));
    util_strlcpy(c->tracked[c->ntracked].id, id, sizeof(c->tracked[c->ntracked].id));
    c->ntracked++;
}

const JobInfo *
ui_job_find(const Console *c, const char *id)
{
    size_t i;

    for (i = 0; i < c->njobs; i++)
        if (strcmp(c->jobs[i].id, id) == 0)
            return &c->jobs[i];
    return NULL;
}

const JobInfo *
ui_job_for_vm(const Console *c, size_t host, const char *uuid)
{
    const JobInfo *best = NULL;
    size_t i;

    /* Running jobs come first in the snapshot, then the newest. */
    for (i = 0; i < c->njobs; i++) {
        const JobInfo *j = &c->jobs[i];
        if (job_is_for(j, c->s->hosts[host].uri, uuid) && !job_refused(j)) {
            if (!best || (j->state < JOB_COMPLETED && best->state >= JOB_COMPLETED) ||
                (j->start_time > best->start_time && (j->state < JOB_COMPLETED) == (best->state < JOB_COMPLETED)))
                best = j;
        }
    }
    return best;
}

const JobInfo *
ui_refusal_for_vm(const Console *c, size_t host, const char *uuid, const JobInfo *last)
{
    const JobInfo *best = NULL;
    size_t i;

    for (i = 0; i < c->njobs; i++) {
        const JobInfo *j = &c->jobs[i];

        if (job_is_for(j, c->s->hosts[host].uri, uuid) && job_refused(j) &&
            (!last || j->start_ms > last->start_ms) && (!best || j->start_ms > best->start_ms))
            best = j;
    }
    return best;
}

static int
ui_job_running(const JobInfo *j)
{
    return j->state < JOB_COMPLETED;
}

char *
ui_row_busy(const Console *c, const ModelRow *r)
{
    const JobInfo *j = ui_job_for_vm(c, r->host, r->s.uuid);

    if (j && ui_job_running(j))
        return util_xasprintf("%s running here, %d%%: %s", model_job_title(j->type), j->percent, j->step);
    if (r->busy)
        return util_xasprintf("an operation is running on it now, held by %s", r->busy);
    return NULL;
}

int
ui_job_plan_changed(const JobInfo *ji)
{
    /* Refused before it changed anything: the re-plan under the lock
     * disagreed with what the operator saw. */
    return ji->state >= JOB_COMPLETED && (ji->hints & RESULT_HINT_PLAN_CHANGED);
}

char *
ui_job_result_text(const JobInfo *ji)
{
    ResultInfo info;
    UtilBuf b = { 0 };
    int code = ji->state == JOB_COMPLETED ? 0 : ji->error_code;

    report_decode_job_for(ji, model_job_op(ji->type), 1, &info);
    util_buf_printf(&b, "Result: %d %s\n", info.code, info.name);
    /* Success is said once: the last step names the new state. */
    if (code)
        util_buf_printf(&b, "%s\nCause: %s\n", info.summary, info.cause);
    else
        util_buf_printf(&b, "%s\n", ji->step[0] ? ji->step : info.summary);
    util_buf_printf(&b, "Next: %s", info.next_step);
    /* A plan that changed under the lock was refused before anything
     * changed: trying again is safe. */
    if (code)
        util_buf_printf(&b, "\nRetry is safe: %s", info.retry_safe || ui_job_plan_changed(ji) ? "yes" : "no");
    result_info_clear(&info);
    return util_buf_steal(&b);
}

/* --- jobs pane --------------------------------------------------------------------- */

/* The job the jobs pane selects: pane_scroll is its index there. */
const JobInfo *
ui_jobs_selected(Console *c)
{
    if (!c->njobs)
        return NULL;
    if (c->pane_scroll >= (int)c->njobs)
        c->pane_scroll = (int)c->njobs - 1;
    if (c->pane_scroll < 0)
        c->pane_scroll = 0;
    util_strlcpy(c->jobs_sel, c->jobs[c->pane_scroll].id, sizeof(c->jobs_sel));
    return &c->jobs[c->pane_scroll];
}

/* One line per job: running ones with their bar, finished ones with their
 * state and result code (refusals and failures included). */
static void
ui_job_row(Console *c, const JobInfo *j, int y, int selected)
{
    char el[32], when[32], line[1024];
    attr_t a;
    int x = 1, w = c->cols - 2;

    ui_fmt_elapsed(j->elapsed_ms, el, sizeof(el));
    if (ui_job_running(j)) {
        a = ui_attr(c, selected ? UI_R_SEL : UI_R_NORMAL);
        ui_text(c, y, x, 1, selected ? ">" : " ", a, 0);
        ui_bar(c, y, x + 1, 12, j->percent);
        snprintf(line, sizeof(line), " %s %s@%s  %3d%%  %s  %s", model_job_title(j->type), j->vm, j->host,
                 j->percent, el, j->step);
        ui_text(c, y, x + 13, w - 13, line, a, 1);
        return;
    }
    util_format_age(util_now() - j->start_time, when, sizeof(when));
    if (job_refused(j))
        /* It never ran: no time taken, only when it was tried. */
        snprintf(line, sizeof(line), "%s%s %s %s@%s  Refused %d %s  %s ago", selected ? ">" : " ",
                 c->g.bad, model_job_title(j->type), j->vm, j->host, j->error_code,
                 result_name(j->error_code) ? result_name(j->error_code) : "", when);
    else if (j->state == JOB_COMPLETED)
        snprintf(line, sizeof(line), "%s%s %s %s@%s  Completed  took %s, %s ago", selected ? ">" : " ",
                 c->g.good, model_job_title(j->type), j->vm, j->host, el, when);
    else
        snprintf(line, sizeof(line), "%s%s %s %s@%s  %s %d %s  took %s, %s ago", selected ? ">" : " ",
                 c->g.bad, model_job_title(j->type), j->vm, j->host, job_state_name(j->state),
                 j->error_code, result_name(j->error_code) ? result_name(j->error_code) : "", el, when);
    a = ui_attr(c, selected ? UI_R_SEL : j->state == JOB_COMPLETED ? UI_R_OK : UI_R_CRIT);
    ui_text(c, y, x, w, line, a, 1);
}

/* What the pane says about the selected job, below the list. */
static char *
ui_job_detail_text(const JobInfo *j)
{
    char when[32];
    UtilBuf b = { 0 };

    util_format_time(j->start_time, when, sizeof(when));
    if (!ui_job_running(j)) {
        char *r = ui_job_result_text(j);

        if (job_refused(j)) {
            /* Said right under the code: the pane may show only a few lines. */
            char *nl = strchr(r, '\n');

            if (nl)
                *nl++ = '\0';
            util_buf_printf(&b, "%s\nRefused before it started, %s by %s: nothing was changed%s.\n%s", r,
                            when, j->owner, j->hints & RESULT_HINT_REPAIR ? "; R repairs the VM first"
                                                                          : ", so retrying is safe",
                            nl ? nl : "");
        } else {
            util_buf_printf(&b, "%s\nJob %s, started %s by %s.", r, j->id, when, j->owner);
        }
        free(r);
        return util_buf_steal(&b);
    }
    if (j->cancellable)
        util_buf_printf(&b, "It is before its switch: x cancels it (it rolls back, nothing is changed).\n");
    else
        util_buf_printf(&b, "It has passed its switch: it cannot be cancelled, it finishes by itself.\n");
    util_buf_printf(&b, "%s of %s@%s: %s, %d%%: %s\n", model_job_title(j->type), j->vm, j->host,
                    job_state_name(j->state), j->percent, j->step);
    util_buf_printf(&b, "Job %s, started %s by %s; it runs on by itself, detached from any console.",
                    j->id, when, j->owner);
    return util_buf_steal(&b);
}

void
ui_draw_jobs(Console *c)
{
    size_t running = ui_jobs_running(c);
    const JobInfo *sel = ui_jobs_selected(c);
    int avail = c->pane_h - 1, res_h = 0, list_h, first, y, i;
    char title[160];

    snprintf(title, sizeof(title), " Jobs: %zu running, %zu finished (newest first)%s ", running,
             c->njobs - running,
             c->pane_focus ? " - Up/Down: select, x: cancel, Tab: back" : " - Tab: select");
    ui_hline(c, c->pane_y, 0, c->cols, ui_attr(c, UI_R_DIM));
    ui_text(c, c->pane_y, 2, c->cols - 4, title, ui_attr(c, UI_R_DLG_TITLE), 0);
    for (y = 1; y < c->pane_h; y++) {
        move(c->pane_y + y, 0);
        clrtoeol();
    }
    c->pane_lines = (int)c->njobs;
    if (!sel) {
        if (avail > 0)
            ui_text(c, c->pane_y + 1, 1, c->cols - 2,
                    "No jobs yet. Jobs started here and by drover commands on this machine appear here.",
                    ui_attr(c, UI_R_DIM), 0);
        return;
    }
    /* The list on top, the selected job's decoded result below. */
    if (avail >= 6)
        res_h = avail * 2 / 5 < 3 ? 3 : avail * 2 / 5;
    list_h = avail - res_h - (res_h ? 1 : 0);
    first = c->pane_scroll >= list_h ? c->pane_scroll - list_h + 1 : 0;
    for (i = 0; i < list_h && first + i < (int)c->njobs; i++)
        ui_job_row(c, &c->jobs[first + i], c->pane_y + 1 + i, first + i == c->pane_scroll);
    if (res_h) {
        UTIL_AUTOFREE char *text = ui_job_detail_text(sel);
        char **v;
        size_t n, k;

        y = c->pane_y + 1 + list_h;
        ui_hline(c, y, 1, c->cols - 2, ui_attr(c, UI_R_DIM));
        n = ui_wrap(text, c->cols - 4, &v);
        for (k = 0; k < n && (int)k < res_h; k++)
            ui_text(c, y + 1 + (int)k, 2, c->cols - 4, v[k],
                    ui_attr(c, k == 0 && sel->error_code && !ui_job_running(sel) ? UI_R_ERROR : UI_R_NORMAL), 0);
        ui_lines_free(v, n);
    }
}

void
ui_draw_jobline(Console *c)
{
    size_t i, running = 0;
    const JobInfo *first = NULL;
    char line[512], el[32];
    int x;

    for (i = 0; i < c->njobs; i++) {
        if (ui_job_running(&c->jobs[i])) {
            if (!first)
                first = &c->jobs[i];
            running++;
        }
    }
    move(c->jobs_y, 0);
    clrtoeol();
    if (!first) {
        snprintf(line, sizeof(line), "Jobs: none running, %zu finished (J shows them)", c->njobs);
        x = ui_text(c, c->jobs_y, 0, c->cols, line, ui_attr(c, UI_R_DIM), 0);
    } else {
        x = ui_text(c, c->jobs_y, 0, c->cols, "Jobs: ", A_BOLD, 0);
        ui_bar(c, c->jobs_y, x, 12, first->percent);
        x += 13;
        ui_fmt_elapsed(first->elapsed_ms, el, sizeof(el));
        snprintf(line, sizeof(line), "%3d%% %s %s %s: %s", first->percent, model_job_title(first->type),
                 first->vm, el, first->step);
        if (running > 1) {
            char more[32];
            snprintf(more, sizeof(more), " (+%zu more)", running - 1);
            ui_text(c, c->jobs_y, c->cols - ui_width(more), ui_width(more), more, A_BOLD, 0);
            x += ui_text(c, c->jobs_y, x, c->cols - x - ui_width(more), line, A_NORMAL, 0);
        } else {
            x += ui_text(c, c->jobs_y, x, c->cols - x, line, A_NORMAL, 0);
        }
    }
    if (x + 18 < c->cols && running <= 1)
        ui_text(c, c->jobs_y, c->cols - 16, 16, "?: help  q: quit", ui_attr(c, UI_R_DIM), 0);
}
