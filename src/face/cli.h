/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cli: the command line — parsing, the non-interactive commands, and their
 * text and JSON output.  The console is started through a hook so this
 * module never touches curses. */
#ifndef DROVER_CLI_H
#define DROVER_CLI_H

#include "face/session.h"

typedef struct {
    int readonly;               /* --readonly: mutating actions are off */
    int exit_after;             /* --exit-after N: quit after N refresh cycles (tests) */
    const char *demo_dir;       /* set when started by `drover demo` */
} CliConsoleOpts;

/* Runs the console on s; returns the process exit status. */
typedef int (*CliConsoleFn)(Session *s, const CliConsoleOpts *o);

/* The whole program: parses argv, runs a command, or calls console when
 * no command is given (and after `drover demo` without --no-console).
 * Returns the exit status. */
int cli_main(int argc, char **argv, CliConsoleFn console);

#endif
