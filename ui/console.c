/* SPDX-License-Identifier: GPL-2.0-or-later */
/* console: start-up, the main loop and shutdown.
 *
 * One poll() waits on the keyboard, the model's pipe, the job table's pipe
 * and a signal pipe, with the refresh timer as its timeout; everything that
 * happens sets dirty flags, and the loop repaints once per turn.  What the
 * model brings is painted at most once a frame (UI_FRAME_MS), what it
 * marks MODEL_CH_NOW at once; a key is painted at once, with whatever the
 * model brought before it. */
#include <config.h>

#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/result.h"
#include "record/state.h"
#include "ui.h"
#include "base/util.h"

/* Signals only write a byte here; the loop does the work. */
static int ui_sig_pipe[2] = { -1, -1 };

static void
ui_on_signal(int sig)
{
    char c = sig == SIGWINCH ? 'W' : sig == SIGINT ? 'I' : 'T';
    int saved = errno;

    if (ui_sig_pipe[1] >= 0 && write(ui_sig_pipe[1], &c, 1) < 0) {
        /* Full: a wake-up is already pending. */
    }
    errno = saved;
}

static void
ui_signals(int install)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = install ? ui_on_signal : SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGWINCH, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

/* Takes the new size from the terminal (our SIGWINCH handler replaces
 * curses' own).  The terminal rewraps or keeps what it showed in its own
 * way, so curses' idea of the screen no longer holds: the next refresh
 * repaints every cell, as Ctrl-L does. */
static void
ui_resize(void)
{
    struct winsize ws;

    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
        resize_term(ws.ws_row, ws.ws_col);
    clearok(curscr, TRUE);
}

/* Once the first load is done: say which VMs wait for a repair. */
static unsigned
ui_tell_interrupted(Console *c)
{
    size_t i, n = 0;
    const char *first = NULL;
    UiRole role;

    if (c->interrupted_told || model_rounds(c->m) < 1)
        return 0;
    /* Records load after the names: look once every row has its record. */
    for (i = 0; i < model_nrows(c->m); i++)
        if (!model_row(c->m, i)->loaded)
            return 0;
    c->interrupted_told = 1;
    for (i = 0; i < model_nrows(c->m); i++) {
        const ModelRow *r = model_row(c->m, i);
        if (r->s.journal_op && !r->busy) {
            if (!first)
                first = r->s.name;
            n++;
        }
    }
    if (!n)
        return 0;
    /* Before the operator does anything it waits its turn like a warning;
     * once they have pressed keys it is a plain hint, so a late one never
     * pushes their own messages back in the queue (the rows already show
     * Critical). */
    role = c->keys_seen ? UI_R_WARN : UI_R_CRIT;
    if (c->readonly)
        ui_set_msg(c, role, "%s%s has an interrupted operation (Critical): repair it from a "
                   "read-write session.", first, n > 1 ? " and others" : "");
    else if (n == 1)
        ui_set_msg(c, role, "Press R on %s to repair its interrupted operation (shown Critical).", first);
    else
        ui_set_msg(c, role, "Press R on %s and %zu more VMs to repair interrupted operations (Critical).",
                   first, n - 1);
    return UI_DIRTY_STATUS;
}

/* The selected VM's details follow the cursor while the pane is open. */
static void
ui_follow_detail(Console *c)
{
    const ModelRow *r = view_selected(&c->view);
    const ModelDetail *d = model_detail(c->m);

    if (c->pane != PANE_DETAIL || !r)
        return;
    if (c->detail_host == r->host && strcmp(c->detail_uuid, r->s.uuid) == 0 &&
        (d || model_detail_pending(c->m)))
        return;
    c->detail_host = r->host;
    util_strlcpy(c->detail_uuid, r->s.uuid, sizeof(c->detail_uuid));
    {
        /* Its newest finished job now: one that ends later re-reads them. */
        const JobInfo *j = ui_job_for_vm(c, r->host, r->s.uuid);
        util_strlcpy(c->detail_job, j && j->state >= JOB_COMPLETED ? j->id : "-", sizeof(c->detail_job));
    }
    model_detail_request(c->m, r->host, r->s.uuid);
}

/* A host that goes down (or comes back) is announced with the reason. */
static unsigned
ui_host_changes(Console *c)
{
    size_t i;
    unsigned dirty = 0;

    for (i = 0; i < model_nhosts(c->m); i++) {
        const ModelHost *h = model_host(c->m, i);

        if (h->state == c->host_state[i])
            continue;
        if (h->state == MODEL_HOST_DISCONNECTED) {
            ui_set_msg(c, UI_R_CRIT, "Host %s is disconnected: %s. drover retries every %d s (Ctrl-R: now).", h->name,
                       h->error ? h->error : "no answer", c->s->conf->refresh_interval);
            dirty |= UI_DIRTY_STATUS;
        } else if (h->state == MODEL_HOST_CONNECTED && c->host_state[i] == MODEL_HOST_DISCONNECTED) {
            ui_set_msg(c, UI_R_INFO, "Host %s is connected again.", h->name);
            dirty |= UI_DIRTY_STATUS;
        }
        c->host_state[i] = h->state;
    }
    return dirty;
}

static unsigned
ui_model_changes(Console *c, unsigned ch)
{
    unsigned dirty = 0;

    if (ch & MODEL_CH_HOSTS)
        dirty |= ui_host_changes(c);

    if (ch & MODEL_CH_HOSTS)
        dirty |= UI_DIRTY_HEADER;
    if (ch & (MODEL_CH_ROWS | MODEL_CH_HOSTS))
        dirty |= UI_REBUILD | UI_DIRTY_TABLE | UI_DIRTY_HEADER | UI_DIRTY_STATUS;
    if (ch & (MODEL_CH_DETAIL | MODEL_CH_ROWS))
        dirty |= UI_DIRTY_PANE;
    dirty |= ui_dialog_model(c, ch);
    if (ch & MODEL_CH_CYCLE)
        dirty |= ui_tell_interrupted(c);
    return dirty;
}

static int
ui_read_keys(Console *c, unsigned *dirty)
{
    wint_t ch;
    unsigned f;
    int r, n = 0;

    while ((r = get_wch(&ch)) != ERR) {
        n++;
        if (r == KEY_CODE_YES && ch == KEY_RESIZE) {
            clearok(curscr, TRUE);
            *dirty |= UI_LAYOUT;
            continue;
        }
        c->keys_seen = 1;
        f = ui_key(c, (int)ch, r == KEY_CODE_YES);
        if (f & UI_REBUILD) {
            /* The next key must act on the rows as filtered now. */
            view_rebuild(&c->view, c->m);
            f = (f & ~(unsigned)UI_REBUILD) | UI_DIRTY_TABLE | UI_DIRTY_HEADER | UI_DIRTY_PANE;
        }
        *dirty |= f;
    }
    return n;
}

/* While records stream in (twenty hosts give a batch every few ms), each
 * batch would rebuild the view of every row and repaint: the UI thread then
 * took a core's share from the threads reading the records.  A frame of
 * 40 ms keeps the screen live (25 a second) at a tenth of that work. */
#define UI_FRAME_MS 40

static int
ui_loop(Console *c)
{
    unsigned dirty = UI_LAYOUT | UI_REBUILD;
    unsigned held = 0;          /* the model's changes, for the next frame */
    int64_t last_second = 0, frame_ms = 0;
    int quit = 0, fast_quit = 0;

    while (!fast_quit) {
        struct pollfd fds[4];
        int wait, i;
        int64_t now;

        if (dirty & UI_QUIT) {
            dirty &= ~(unsigned)UI_QUIT;
            quit = 1;
        }
        if ((quit || c->quit_pending) && job_table_running(c->s->jobs) == 0)
            break;
        if (c->o->exit_after > 0 && model_rounds(c->m) >= (unsigned)c->o->exit_after)
            c->quit_pending = 1;
        now = util_mono_ms();
        if (held && (dirty || now - frame_ms >= UI_FRAME_MS)) {
            /* What came while the frame was held goes in too. */
            dirty |= held | ui_model_changes(c, model_process(c->m));
            held = 0;
        }
        if (dirty & UI_REBUILD) {
            view_rebuild(&c->view, c->m);
            dirty |= UI_DIRTY_TABLE | UI_DIRTY_HEADER | UI_DIRTY_PANE;
        }
        ui_follow_detail(c);
        if (dirty & ~(unsigned)UI_REBUILD) {
            ui_repaint(c, dirty);
            if (dirty & (UI_DIRTY_TABLE | UI_LAYOUT))
                ui_table_priority(c);
            frame_ms = now;
        }
        dirty = 0;

        wait = model_tick(c->m);
        now = util_mono_ms();
        if (wait > 1000 - (int)(now % 1000))
            wait = 1000 - (int)(now % 1000);
        if (held && wait > UI_FRAME_MS - (int)(now - frame_ms))
            wait = UI_FRAME_MS - (int)(now - frame_ms);
        fds[0].fd = STDIN_FILENO;
        /* A held frame takes the model's news at its time, not at each
         * batch: the UI thread then sleeps instead of waking for each,
         * but wakes for news worth a frame at once (a first load's end
         * came 20-34 ms late, at the frame's time, and with it the title
         * that says the table is whole: doc/performance.md). */
        fds[1].fd = held ? model_now_fd(c->m) : model_fd(c->m);
        fds[2].fd = job_table_fd(c->s->jobs);
        fds[3].fd = ui_sig_pipe[0];
        for (i = 0; i < 4; i++) {
            fds[i].events = POLLIN;
            fds[i].revents = 0;
        }
        if (poll(fds, 4, wait < 0 ? 0 : wait) < 0 && errno != EINTR)
            break;
        if (fds[3].revents & POLLIN) {
            char buf[32];
            ssize_t k = read(ui_sig_pipe[0], buf, sizeof(buf));

            for (i = 0; i < (int)k; i++) {
                if (buf[i] == 'W') {
                    ui_resize();
                    dirty |= UI_LAYOUT;
                } else if (buf[i] == 'I') {
                    dirty |= ui_quit_request(c);
                } else {
                    /* SIGTERM or a lost terminal: leave now; jobs still
                     * finish before the process exits. */
                    fast_quit = 1;
                }
            }
        }
        /* Curses may hold keys it already read: always ask it. */
        ui_read_keys(c, &dirty);
        if (fds[1].revents & POLLIN) {
            unsigned ch = model_process(c->m);

            held |= ui_model_changes(c, ch);
            if (ch & MODEL_CH_NOW) {
                /* A host's names (its fetcher waits for the rows on
                 * screen: ui_table_priority), those rows, or the end of
                 * its round (the table may be whole now). */
                dirty |= held;
                held = 0;
            } else if (!view_current(&c->view, c->m)) {
                /* A frame holds the paint, not the view: the model's rows
                 * moved (a refresh round's list, a row added or gone) and
                 * a key may come before the frame; it acted on freed rows
                 * (a crash in CI, 2026-12-05). */
                view_rebuild(&c->view, c->m);
            }
        }
        if (fds[2].revents & POLLIN) {
            job_table_drain(c->s->jobs);
            ui_jobs_refresh(c);
            dirty |= UI_DIRTY_STATUS | UI_DIRTY_PANE | ui_dialog_jobs(c);
        }
        now = util_mono_ms();
        if (now / 1000 != last_second) {
            /* Ages and elapsed times move on. */
            last_second = now / 1000;
            if (job_table_running(c->s->jobs) || ui_jobs_running(c)) {
                ui_jobs_refresh(c);
                dirty |= UI_DIRTY_STATUS | UI_DIRTY_DIALOG | (c->pane == PANE_JOBS ? UI_DIRTY_PANE : 0);
            } else {
                /* Jobs other drover processes finished reach the history
                 * file: show them (repaint only when there are new ones). */
                size_t before = c->njobs;
                char newest[37] = "";
                if (c->njobs)
                    util_strlcpy(newest, c->jobs[0].id, sizeof(newest));
                ui_jobs_refresh(c);
                if (c->njobs != before || (c->njobs && strcmp(newest, c->jobs[0].id) != 0))
                    dirty |= UI_DIRTY_STATUS | (c->pane == PANE_JOBS ? UI_DIRTY_PANE : 0);
            }
            dirty |= UI_DIRTY_HEADER | UI_DIRTY_TABLE;
        }
    }
    return 0;
}

int
console_run(Session *s, const CliConsoleOpts *o)
{
    Console c;
    ModelOpts mo;
    SCREEN *scr;
    int saved_err = -1, devnull, status, i;

    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "drover: the console needs a terminal; in scripts use a command such as "
                        "`drover list` (see drover --help)\n");
        return result_exit_status(RESULT_INVALID_PARAMETER);
    }
    memset(&c, 0, sizeof(c));
    c.s = s;
    c.o = o;
    c.readonly = o->readonly || s->conf->readonly;
    c.dump_path = getenv("DROVER_SCREEN_DUMP");
    if (c.dump_path && !*c.dump_path)
        c.dump_path = NULL;
    view_init(&c.view);
    c.detail_host = (size_t)-1;
    if (pipe2(ui_sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        fprintf(stderr, "drover: cannot create a pipe: %s\n", strerror(errno));
        return result_exit_status(RESULT_FAILED);
    }
    /* Before curses starts, so curses leaves SIGWINCH to us. */
    ui_signals(1);
    if (!(scr = newterm(NULL, stdout, stdin))) {
        ui_signals(0);
        fprintf(stderr, "drover: cannot start the console on terminal type '%s'; set TERM (e.g. xterm) "
                        "or use a command such as `drover list`\n", getenv("TERM") ? getenv("TERM") : "");
        close(ui_sig_pipe[0]);
        close(ui_sig_pipe[1]);
        return result_exit_status(RESULT_NOT_SUPPORTED);
    }
    set_term(scr);
    /* libvirt and libxml2 may still print warnings; under curses they would
     * tear the screen. */
    if ((devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) >= 0) {
        saved_err = dup(STDERR_FILENO);
        dup2(devnull, STDERR_FILENO);
        close(devnull);
    }
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(50);
    curs_set(0);
    ui_theme_init(&c);
    ui_jobs_refresh(&c);

    memset(&mo, 0, sizeof(mo));
    mo.refresh_interval = s->conf->refresh_interval;
    mo.rpo_warning = s->conf->rpo_warning;
    mo.priority_wait_ms = 200;
    c.m = model_new(s, &mo);
    c.host_state = util_xcalloc(s->nhosts + 1, sizeof(*c.host_state));

    status = ui_loop(&c);

    endwin();
    delscreen(scr);
    if (saved_err >= 0) {
        dup2(saved_err, STDERR_FILENO);
        close(saved_err);
    }
    ui_signals(0);
    model_free(c.m);
    for (i = 0; i < c.ndlg; i++)
        ui_dialog_free(c.dlg[i]);
    view_clear(&c.view);
    free(c.jobs);
    free(c.tracked);
    free(c.host_state);
    close(ui_sig_pipe[0]);
    close(ui_sig_pipe[1]);
    ui_sig_pipe[0] = ui_sig_pipe[1] = -1;
    return status;
}
