/* drover: entry point.  Commands go to the core's command line; the console
 * starts when no command is given. */
#include <config.h>

#include <stdio.h>
#include <string.h>

int
main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("drover %s\n", PACKAGE_VERSION);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "demo") == 0) {
        printf("drover demo: not yet\n");
        return 0;
    }
    printf("Usage: drover [--version]\n");
    return 0;
}
