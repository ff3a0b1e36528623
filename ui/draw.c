/* SPDX-License-Identifier: GPL-2.0-or-later */
/* draw: the layout, and the one place that repaints: it calls each part's
 * draw function (header and table, detail, dialogs, jobs, message line);
 * the parts draw with paint.c's primitives and never call back here. */
#include <config.h>

#include "ui.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include "base/util.h"

/* --- layout and repaint --------------------------------------------------------- */

void
ui_layout(Console *c)
{
    int body;

    getmaxyx(stdscr, c->rows, c->cols);
    c->too_small = c->cols < UI_MIN_COLS || c->rows < UI_MIN_ROWS;
    c->msg_y = c->rows - 2;
    c->jobs_y = c->rows - 1;
    c->table_y = 1;
    body = c->rows - 3;         /* title, message line, job line */
    if (c->pane == PANE_NONE) {
        c->table_h = body;
        c->pane_h = 0;
    } else {
        /* The table keeps at least a few rows; the pane gets the rest. */
        c->table_h = body / 3 + 1;
        if (c->table_h < 5)
            c->table_h = 5;
        c->pane_h = body - c->table_h;
    }
    c->pane_y = c->table_y + c->table_h;
}

/* Writes the screen as text (DROVER_SCREEN_DUMP): what tests read. */
static void
ui_dump(const Console *c)
{
    UTIL_AUTOFREE char *tmp = util_xasprintf("%s.tmp", c->dump_path);
    FILE *f = fopen(tmp, "w");
    cchar_t cells[1024];
    int y, x, n;

    if (!f)
        return;
    for (y = 0; y < c->rows; y++) {
        char line[4096];
        size_t len = 0;

        n = c->cols < 1023 ? c->cols : 1023;
        if (mvin_wchnstr(y, 0, cells, n) == ERR)
            n = 0;
        for (x = 0; x < n; x++) {
            wchar_t wc[CCHARW_MAX + 1];
            attr_t a;
            short pair;
            char mb[16];
            mbstate_t st;
            size_t k;

            if (getcchar(&cells[x], wc, &a, &pair, NULL) == ERR || !wc[0])
                continue;   /* the second cell of a wide character */
            if (wc[0] < 0x80) {
                mb[0] = (char)wc[0];    /* ASCII, most of a screen: no conversion */
                k = 1;
            } else {
                memset(&st, 0, sizeof(st));
                k = wcrtomb(mb, wc[0], &st);
                if (k == (size_t)-1)
                    k = 0;
            }
            if (len + k < sizeof(line) - 1) {
                memcpy(line + len, mb, k);
                len += k;
            }
        }
        while (len && line[len - 1] == ' ')
            len--;
        line[len] = '\0';
        fprintf(f, "%s\n", line);
    }
    if (fclose(f) == 0)
        rename(tmp, c->dump_path);
}

static void
ui_draw_too_small(Console *c)
{
    char line[160];
    int y = c->rows / 2 - 1;

    erase();
    snprintf(line, sizeof(line), "Terminal too small: %dx%d", c->cols, c->rows);
    ui_text(c, y < 0 ? 0 : y, 0, c->cols, line, A_BOLD, 0);
    snprintf(line, sizeof(line), "drover needs at least %dx%d.", UI_MIN_COLS, UI_MIN_ROWS);
    ui_text(c, y + 1, 0, c->cols, line, A_NORMAL, 0);
    ui_text(c, y + 2, 0, c->cols, "Enlarge the window; q quits.", A_NORMAL, 0);
    ui_text(c, y + 3, 0, c->cols, "(still running: jobs and refreshes go on)", A_NORMAL, 0);
}

void
ui_repaint(Console *c, unsigned dirty)
{
    int i;

    if (dirty & UI_LAYOUT) {
        ui_layout(c);
        erase();
        dirty |= UI_DIRTY_ALL;
    }
    if (c->too_small) {
        ui_draw_too_small(c);
    } else {
        if (dirty & UI_DIRTY_HEADER)
            ui_draw_header(c);
        if (dirty & UI_DIRTY_TABLE)
            ui_draw_table(c);
        if (dirty & UI_DIRTY_PANE) {
            if (c->pane == PANE_DETAIL)
                ui_draw_detail(c);
            else if (c->pane == PANE_JOBS)
                ui_draw_jobs(c);
        }
        if (dirty & UI_DIRTY_STATUS) {
            ui_draw_msgline(c);
            ui_draw_jobline(c);
        }
        /* Dialogs lie on top: whatever was drawn under them is covered
         * again. */
        if (c->ndlg && (dirty & UI_DIRTY_ALL))
            for (i = 0; i < c->ndlg; i++)
                ui_draw_dialog(c, c->dlg[i]);
    }
    if (c->dump_path)
        ui_dump(c);
    refresh();
}
