/* SPDX-License-Identifier: GPL-2.0-or-later */
/* replay: runs a fuzz target over files without libFuzzer.
 *
 * Usage: replay-TARGET PATH...  Each PATH is a file or a directory whose
 * regular files are run in name order.  Prints how many inputs ran; a
 * broken invariant aborts (the target calls abort()), and the signal
 * handler names the input that did it first. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "base/util.h"

static char current[4096];

static void
on_crash(int sig)
{
    static const char msg[] = "replay: crashed on input ";
    size_t n = strlen(current);

    ssize_t r;

    /* Only async-signal-safe calls here; nothing to do if stderr fails. */
    r = write(2, msg, sizeof(msg) - 1);
    r = write(2, current, n);
    r = write(2, "\n", 1);
    (void)r;
    signal(sig, SIG_DFL);
    raise(sig);
}

static int
read_file(const char *path, uint8_t **data, size_t *size)
{
    FILE *fp = fopen(path, "rb");
    UtilBuf b = { 0 };
    char buf[65536];
    size_t n;

    if (!fp) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
        util_buf_addn(&b, buf, n);
    if (ferror(fp)) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        fclose(fp);
        util_buf_free(&b);
        return -1;
    }
    fclose(fp);
    *size = b.len;
    *data = (uint8_t *)util_buf_steal(&b);
    return 0;
}

static int
run_file(const char *path)
{
    uint8_t *data;
    uint8_t *copy;
    size_t size;

    if (read_file(path, &data, &size) < 0)
        return -1;
    util_strlcpy(current, path, sizeof(current));
    /* An exact-size copy, as libFuzzer passes it, so a sanitizer build
     * catches a read past the end. */
    copy = util_xmalloc(size ? size : 1);
    if (size)
        memcpy(copy, data, size);
    LLVMFuzzerTestOneInput(copy, size);
    free(copy);
    free(data);
    return 0;
}

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs path (a file, or each file of a directory); adds to *count. */
static int
run_path(const char *path, size_t *count)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0, i;
    int rc = 0;

    if (stat(path, &st) < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (run_file(path) < 0)
            return -1;
        (*count)++;
        return 0;
    }
    d = opendir(path);
    if (!d) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        util_grow(&names, &cap, n + 1, sizeof(*names));
        names[n++] = util_path_join(path, e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), name_cmp);
    for (i = 0; i < n; i++) {
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
            if (run_file(names[i]) < 0)
                rc = -1;
            else
                (*count)++;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int
main(int argc, char **argv)
{
    size_t count = 0;
    int rc = 0;
    int i;

    signal(SIGABRT, on_crash);
    signal(SIGSEGV, on_crash);
    signal(SIGBUS, on_crash);
    signal(SIGFPE, on_crash);
    LLVMFuzzerInitialize(&argc, &argv);
    for (i = 1; i < argc; i++)
        if (run_path(argv[i], &count) < 0)
            rc = 1;
    printf("replay: %zu inputs\n", count);
    return rc;
}
