/* console: the ncurses console operators drive during drills and on call. */
#ifndef DROVER_CONSOLE_H
#define DROVER_CONSOLE_H

#include "cli.h"
#include "session.h"

/* Runs until the operator quits (or o->exit_after refresh cycles passed);
 * returns the exit status.  Matches CliConsoleFn. */
int console_run(Session *s, const CliConsoleOpts *o);

#endif
