/* SPDX-License-Identifier: GPL-2.0-or-later */
/* console: the ncurses console operators drive during drills and on call.
 *
 * ui/console.c runs the loop, ui/keys.c holds the key table (the `?` help
 * is generated from it), ui/table.c, ui/detail.c, ui/jobs.c and
 * ui/dialog.c draw, ui/view.c filters and sorts; the data comes from
 * src/model.h, which does all libvirt and disk work on worker threads.
 *
 * Environment: NO_COLOR (non-empty) turns colours off, as does theme "mono"
 * in drover.conf; a locale whose codeset is not UTF-8 gets ASCII lines.
 * DROVER_SCREEN_DUMP=PATH writes the screen as text to PATH (atomically,
 * by rename) after every repaint: the expect tests read it. */
#ifndef DROVER_CONSOLE_H
#define DROVER_CONSOLE_H

#include "face/cli.h"
#include "face/session.h"

/* Runs until the operator quits (or o->exit_after refresh cycles passed:
 * a cycle is a refresh round every host finished, the first load
 * included); returns the exit status: 0, or non-zero when there is no
 * terminal.  Running jobs are waited for before it returns.  Matches
 * CliConsoleFn. */
int console_run(Session *s, const CliConsoleOpts *o);

#endif
