/* SPDX-License-Identifier: GPL-2.0-or-later */
/* conf-file: reading a configuration file whole and safely, and checking
 * the files its @include directives name before libconfig opens them. */
#include <config.h>

#include "base/conf-priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"

/* The file libconfig opens for "@include NAME": INCLUDE_DIR/NAME, even
 * when NAME is absolute. */
char *
conf_include_path(const char *dir, const char *name)
{
    size_t n = strlen(dir);

    return util_xasprintf("%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name);
}

/* Reads path whole.  Returns 1 with *text set, 0 when the file does not
 * exist and optional is set, -1 with err set. */
int
conf_read_text(const char *path, int optional, char **text)
{
    UtilBuf b = { 0 };
    struct stat st = { 0 };
    char buf[8192];
    ssize_t n;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT && optional)
            return 0;
        err_set_errno(RESULT_INVALID_PARAMETER, errno, "%s: cannot open configuration file", path);
        return -1;
    }
    /* Refused here: libconfig's scanner aborts the process on a read error. */
    if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
        int e = S_ISDIR(st.st_mode) ? EISDIR : errno;

        err_set_errno(RESULT_INVALID_PARAMETER, e, "%s: cannot read configuration file", path);
        close(fd);
        return -1;
    }
    util_buf_add(&b, "");
    for (;;) {
        n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err_set_errno(RESULT_INVALID_PARAMETER, errno, "%s: cannot read configuration file",
                          path);
            goto fail;
        }
        if (n == 0)
            break;
        if (memchr(buf, '\0', (size_t)n)) {
            err_set(RESULT_INVALID_PARAMETER, "%s: contains a NUL byte: not a configuration file",
                    path);
            goto fail;
        }
        if (b.len + (size_t)n > CONF_MAX_SIZE) {
            err_set(RESULT_INVALID_PARAMETER, "%s: larger than %d bytes: not a configuration file",
                    path, CONF_MAX_SIZE);
            goto fail;
        }
        util_buf_addn(&b, buf, (size_t)n);
    }
    close(fd);
    *text = util_buf_steal(&b);
    return 1;

fail:
    close(fd);
    util_buf_free(&b);
    return -1;
}

/* libconfig 1.5 reads an @include'd file with a flex scanner that exits the
 * process when a read fails, as it does on a directory, and its fopen()
 * blocks on a FIFO.  So each file the text would include must be a regular
 * file before libconfig sees the text.  They are found as libconfig finds
 * them: a line of blanks, "@include", blanks and a quoted name (which may
 * span lines; a backslash takes the next character as it is), opened as
 * "INCLUDE_DIR/NAME" even when NAME is absolute; the same inside included
 * files.  Past libconfig's nesting limit it refuses the text itself, so the
 * scan stops there; the directive count bounds the work a file including
 * itself many times would cost. */
#define CONF_MAX_INCLUDE_DEPTH 10
#define CONF_MAX_INCLUDES 1024

typedef struct {
    const char *dir;            /* the include directory */
    size_t count;               /* directives seen */
    int stop;                   /* nesting limit reached: libconfig refuses the text */
} ConfIncScan;

static int conf_check_include(ConfIncScan *sc, const char *name, const char *file,
                              unsigned line, int depth);

static int
conf_scan_includes(ConfIncScan *sc, const char *text, const char *file, int depth)
{
    const char *p = text;
    unsigned line = 1;

    while (*p && !sc->stop) {
        const char *q = p + strspn(p, " \t");

        if (strncmp(q, "@include", 8) == 0 && (q[8] == ' ' || q[8] == '\t')) {
            q += 8;
            q += strspn(q, " \t");
            if (*q == '"') {
                UtilBuf name = { 0 };
                unsigned at = line;
                int rc = 0;

                int escaped = 0;

                util_buf_add(&name, "");
                for (q++; *q && *q != '"'; q++) {
                    if (*q == '\\' && q[1]) {
                        escaped = 1;
                        q++;
                    }
                    if (*q == '\n')
                        line++;
                    util_buf_addn(&name, q, 1);
                }
                /* libconfig prints stray characters to stdout for some
                 * escapes in include names, which would corrupt --json. */
                if (escaped) {
                    err_set(RESULT_INVALID_PARAMETER,
                            "%s:%u: @include names may not contain backslashes", file, at);
                    rc = -1;
                } else if (*q == '"') {
                    rc = conf_check_include(sc, name.s, file, at, depth);
                }
                util_buf_free(&name);
                if (rc < 0)
                    return -1;
            }
        }
        p = strchr(q, '\n');
        if (!p)
            break;
        line++;
        p++;
    }
    return 0;
}

static int
conf_check_include(ConfIncScan *sc, const char *name, const char *file, unsigned line, int depth)
{
    char *path;
    char *text = NULL;
    struct stat st;
    int rc = 0;

    if (++sc->count > CONF_MAX_INCLUDES) {
        err_set(RESULT_INVALID_PARAMETER, "%s:%u: more than %d @include directives",
                file, line, CONF_MAX_INCLUDES);
        return -1;
    }
    if (depth >= CONF_MAX_INCLUDE_DEPTH) {
        sc->stop = 1;
        return 0;
    }
    path = conf_include_path(sc->dir, name);
    /* A missing file is left to libconfig, which reports it. */
    if (stat(path, &st) < 0)
        goto out;
    if (!S_ISREG(st.st_mode)) {
        err_set(RESULT_INVALID_PARAMETER, "%s:%u: @include \"%s\": %s is not a regular file",
                file, line, name, path);
        rc = -1;
        goto out;
    }
    if (conf_read_text(path, 0, &text) < 0) {
        err_prefix("%s:%u: @include \"%s\"", file, line, name);
        rc = -1;
        goto out;
    }
    rc = conf_scan_includes(sc, text, path, depth + 1);
out:
    free(text);
    free(path);
    return rc;
}

int
conf_check_includes(const char *dir, const char *text, const char *path)
{
    ConfIncScan sc = { dir, 0, 0 };

    return conf_scan_includes(&sc, text, path, 0);
}
