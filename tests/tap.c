/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tap: a small TAP producer for drover's C tests. */
#include <config.h>

#include "tap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static int tap_count;
static int tap_failed;
static char tap_dir[4096];

static void
tap_vreport(int pass, const char *file, int line, const char *fmt, va_list ap)
{
    tap_count++;
    printf("%s %d - ", pass ? "ok" : "not ok", tap_count);
    vprintf(fmt, ap);
    printf("\n");
    if (!pass) {
        tap_failed++;
        printf("#   failed at %s:%d\n", file, line);
    }
    fflush(stdout);
}

void
tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tap_vreport(pass, file, line, fmt, ap);
    va_end(ap);
}

void
tap_is_int(long long got, long long want, const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tap_vreport(got == want, file, line, fmt, ap);
    va_end(ap);
    if (got != want)
        printf("#   got: %lld\n#   expected: %lld\n", got, want);
}

void
tap_is_str(const char *got, const char *want, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    int pass = (got && want) ? strcmp(got, want) == 0 : got == want;

    va_start(ap, fmt);
    tap_vreport(pass, file, line, fmt, ap);
    va_end(ap);
    if (!pass)
        printf("#   got: '%s'\n#   expected: '%s'\n", got ? got : "(null)", want ? want : "(null)");
}

void
tap_diag(const char *fmt, ...)
{
    va_list ap;

    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

void
tap_skip(int n, const char *reason)
{
    while (n-- > 0) {
        tap_count++;
        printf("ok %d # SKIP %s\n", tap_count, reason);
    }
    fflush(stdout);
}

void
tap_skip_all(const char *reason)
{
    printf("1..0 # SKIP %s\n", reason);
    exit(0);
}

int
tap_failures(void)
{
    return tap_failed;
}

int
tap_done(void)
{
    printf("1..%d\n", tap_count);
    if (tap_failed)
        printf("# %d of %d failed; files kept in %s\n", tap_failed, tap_count,
               tap_dir[0] ? tap_dir : "(no temporary directory)");
    else if (tap_dir[0])
        tap_system("rm -rf '%s'", tap_dir);
    fflush(stdout);
    return tap_failed ? 1 : 0;
}

const char *
tap_tmpdir(void)
{
    const char *base;

    if (tap_dir[0])
        return tap_dir;
    base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    snprintf(tap_dir, sizeof(tap_dir), "%s/drover-test.XXXXXX", base);
    if (!mkdtemp(tap_dir)) {
        perror("mkdtemp");
        exit(99);
    }
    return tap_dir;
}

static char *
tap_vformat(const char *fmt, va_list ap)
{
    char *s = NULL;

    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    return s;
}

int
tap_system(const char *fmt, ...)
{
    va_list ap;
    char *cmd;
    int st;

    va_start(ap, fmt);
    cmd = tap_vformat(fmt, ap);
    va_end(ap);
    fflush(stdout);
    st = system(cmd);
    free(cmd);
    if (st == -1 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

char *
tap_capture(const char *fmt, ...)
{
    va_list ap;
    char *cmd;
    FILE *fp;
    char *out = NULL;
    size_t len = 0, cap = 0;
    char buf[4096];
    size_t n;

    va_start(ap, fmt);
    cmd = tap_vformat(fmt, ap);
    va_end(ap);
    fflush(stdout);
    fp = popen(cmd, "r");
    free(cmd);
    if (!fp)
        return NULL;
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            out = realloc(out, cap);
            if (!out)
                abort();
        }
        memcpy(out + len, buf, n);
        len += n;
    }
    if (!out)
        out = calloc(1, 1);
    else
        out[len] = '\0';
    if (pclose(fp) != 0) {
        free(out);
        return NULL;
    }
    return out;
}
