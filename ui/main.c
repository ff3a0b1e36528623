/* SPDX-License-Identifier: GPL-2.0-or-later */
/* drover: entry point.  The command line lives in the core (src/face/cli.c);
 * the console is handed to it as the function to run when no command is
 * given. */
#include <config.h>

#include <locale.h>

#include "face/cli.h"
#include "console.h"

/* Until the console is linked in, the command line runs without it. */
extern int console_run(Session *s, const CliConsoleOpts *o) __attribute__((weak));

int
main(int argc, char **argv)
{
    setlocale(LC_ALL, "");
    return cli_main(argc, argv, console_run);
}
