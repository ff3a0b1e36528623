/* SPDX-License-Identifier: GPL-2.0-or-later */
/* msg: the message line: what the operator is told, a queue for errors that
 * must not be overwritten unseen, and its drawing. */
#include <config.h>

#include "ui.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"

static int
ui_msg_sticky(UiRole role)
{
    return role == UI_R_CRIT || role == UI_R_ERROR;
}

void
ui_set_msg(Console *c, UiRole role, const char *fmt, ...)
{
    char text[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (c->msg[0] && ui_msg_sticky(c->msg_role)) {
        if (ui_msg_sticky(role) && c->nqueued < 4) {
            util_strlcpy(c->msg_queue[c->nqueued], text, sizeof(c->msg_queue[0]));
            c->msg_queue_role[c->nqueued++] = role;
        }
        return;
    }
    util_strlcpy(c->msg, text, sizeof(c->msg));
    c->msg_role = role;
}

void
ui_msg_seen(Console *c)
{
    c->msg[0] = '\0';
    if (c->nqueued) {
        util_strlcpy(c->msg, c->msg_queue[0], sizeof(c->msg));
        c->msg_role = c->msg_queue_role[0];
        memmove(&c->msg_queue[0], &c->msg_queue[1], (size_t)(c->nqueued - 1) * sizeof(c->msg_queue[0]));
        memmove(&c->msg_queue_role[0], &c->msg_queue_role[1], (size_t)(c->nqueued - 1) * sizeof(c->msg_queue_role[0]));
        c->nqueued--;
    }
}

void
ui_draw_msgline(Console *c)
{
    const ModelRow *sel;
    char line[512];

    move(c->msg_y, 0);
    clrtoeol();
    if (c->filtering) {
        snprintf(line, sizeof(line), "Filter: %s_   (type to narrow; Enter keeps it, Esc clears it)", c->view.filter);
        ui_text(c, c->msg_y, 0, c->cols, line, ui_attr(c, UI_R_INPUT) | A_BOLD, 0);
        return;
    }
    if (c->msg[0]) {
        ui_text(c, c->msg_y, 0, c->cols, c->msg, ui_attr(c, c->msg_role), 0);
        return;
    }
    sel = view_selected(&c->view);
    if (sel && c->ndlg == 0) {
        UTIL_AUTOFREE char *busy = ui_row_busy(c, sel);

        if (busy) {
            snprintf(line, sizeof(line), "%s: %s", sel->s.name, busy);
            ui_text(c, c->msg_y, 0, c->cols, line, ui_attr(c, UI_R_INFO), 0);
            return;
        }
    }
    if (sel && sel->loaded && sel->s.problem && c->ndlg == 0) {
        /* The selected VM's worst problem, so nobody has to open the
         * details to learn why it is not Normal. */
        UTIL_AUTOFREE char *keys = ui_op_keys(c, sel, ", ");

        /* The keys first: a long problem is cut at the end. */
        snprintf(line, sizeof(line), "%s (Enter: details%s%s): %s", sel->s.name, keys[0] ? ", " : "", keys,
                 sel->s.problem);
        ui_text(c, c->msg_y, 0, c->cols, line,
                ui_attr(c, sel->s.health == HEALTH_CRITICAL ? UI_R_CRIT : UI_R_WARN), 0);
        return;
    }
    {
        UTIL_AUTOFREE char *hint = ui_op_hint(c, sel);

        if (c->view.filter[0])
            snprintf(line, sizeof(line), "Filter \"%s\" (Esc clears)  %s", c->view.filter, hint);
        else
            snprintf(line, sizeof(line), "%s", hint);
    }
    ui_text(c, c->msg_y, 0, c->cols, line, ui_attr(c, UI_R_DIM), 0);
}
