/* SPDX-License-Identifier: GPL-2.0-or-later */
/* util: allocation, growable strings, time and small path helpers. */
#include <config.h>

#include "base/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

static void
util_oom(void)
{
    fputs("drover: out of memory\n", stderr);
    abort();
}

void *
util_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        util_oom();
    return p;
}

void *
util_xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (!p)
        util_oom();
    return p;
}

void *
util_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        util_oom();
    return q;
}

void
util_grow(void *arr, size_t *cap, size_t want, size_t size)
{
    void **parr = arr;
    size_t ncap;

    if (want <= *cap)
        return;
    ncap = *cap ? *cap : 8;
    while (ncap < want) {
        if (ncap > SIZE_MAX / 2 / size)
            util_oom();
        ncap *= 2;
    }
    *parr = util_xrealloc(*parr, ncap * size);
    memset((char *)*parr + *cap * size, 0, (ncap - *cap) * size);
    *cap = ncap;
}

char *
util_xstrdup(const char *s)
{
    char *d;

    if (!s)
        return NULL;
    d = strdup(s);
    if (!d)
        util_oom();
    return d;
}

char *
util_xstrndup(const char *s, size_t n)
{
    char *d = strndup(s, n);
    if (!d)
        util_oom();
    return d;
}

char *
util_xvasprintf(const char *fmt, va_list ap)
{
    char *s = NULL;

    if (vasprintf(&s, fmt, ap) < 0)
        util_oom();
    return s;
}

char *
util_xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = util_xvasprintf(fmt, ap);
    va_end(ap);
    return s;
}

void
util_freep(void *p)
{
    free(*(void **)p);
}

void *
util_steal(void **pp)
{
    void *p = *pp;
    *pp = NULL;
    return p;
}

void
util_buf_addn(UtilBuf *b, const char *s, size_t n)
{
    util_grow(&b->s, &b->cap, b->len + n + 1, 1);
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void
util_buf_add(UtilBuf *b, const char *s)
{
    util_buf_addn(b, s, strlen(s));
}

void
util_buf_printf(UtilBuf *b, const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = util_xvasprintf(fmt, ap);
    va_end(ap);
    util_buf_add(b, s);
    free(s);
}

void
util_buf_add_xml(UtilBuf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': util_buf_add(b, "&lt;"); break;
        case '>': util_buf_add(b, "&gt;"); break;
        case '&': util_buf_add(b, "&amp;"); break;
        case '"': util_buf_add(b, "&quot;"); break;
        case '\'': util_buf_add(b, "&apos;"); break;
        default: util_buf_addn(b, s, 1); break;
        }
    }
}

char *
util_buf_steal(UtilBuf *b)
{
    char *s = b->s ? b->s : util_xstrdup("");
    b->s = NULL;
    b->len = b->cap = 0;
    return s;
}

void
util_buf_free(UtilBuf *b)
{
    if (!b)
        return;
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

void
util_uuid_format(const unsigned char raw[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    char *p = out;
    int i;

    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[raw[i] >> 4];
        *p++ = hex[raw[i] & 15];
    }
    *p = '\0';
}

size_t
util_strlcpy(char *dst, const char *src, size_t size)
{
    size_t n = strlen(src);

    if (size) {
        size_t c = n < size - 1 ? n : size - 1;
        memcpy(dst, src, c);
        dst[c] = '\0';
    }
    return n;
}

int
util_streq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

int
util_parse_ll(const char *s, long long min, long long max, long long *out)
{
    char *end;
    long long v;

    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end || end == s || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int
util_display_width(const char *s)
{
    mbstate_t st;
    int w = 0;

    memset(&st, 0, sizeof(st));
    while (*s) {
        wchar_t wc;
        size_t n;
        int cw;

        if ((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f) {
            w++;        /* printable ASCII, the common case: one cell */
            s++;
            continue;
        }
        n = mbrtowc(&wc, s, MB_CUR_MAX, &st);
        if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
            memset(&st, 0, sizeof(st));
            w++;
            s++;
            continue;
        }
        cw = wcwidth(wc);
        w += cw > 0 ? cw : 0;
        s += n;
    }
    return w;
}

int64_t
util_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timespec
util_mono_deadline(int64_t mono_ms)
{
    struct timespec ts;

    ts.tv_sec = (time_t)(mono_ms / 1000);
    ts.tv_nsec = (long)(mono_ms % 1000) * 1000000L;
    return ts;
}

void
util_thread_name(const char *fmt, ...)
{
    char name[16];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);
    pthread_setname_np(pthread_self(), name);
}

void
util_thread_lower(int steps)
{
    /* Linux: the nice value is the thread's own, by its tid. */
    id_t tid = (id_t)syscall(SYS_gettid);
    int now;

    errno = 0;
    now = getpriority(PRIO_PROCESS, tid);
    if (now == -1 && errno)
        return;
    if (setpriority(PRIO_PROCESS, tid, now + steps > 19 ? 19 : now + steps) < 0) {
        /* Not allowed here (a seccomp filter): it runs as it was. */
    }
}

int64_t
util_now(void)
{
    return (int64_t)time(NULL);
}

void
util_format_time(int64_t t, char *buf, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
util_parse_time(const char *s, int64_t *out)
{
    struct tm tm;
    const char *end;

    memset(&tm, 0, sizeof(tm));
    if (!s)
        return -1;
    end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end)
        return -1;
    *out = (int64_t)timegm(&tm);
    return 0;
}

void
util_format_age(int64_t seconds, char *buf, size_t size)
{
    if (seconds < 0)
        seconds = 0;
    if (seconds < 60)
        snprintf(buf, size, "%llds", (long long)seconds);
    else if (seconds < 3600)
        snprintf(buf, size, "%lldm", (long long)(seconds / 60));
    else if (seconds < 86400 * 2)
        snprintf(buf, size, "%lldh", (long long)(seconds / 3600));
    else
        snprintf(buf, size, "%lldd", (long long)(seconds / 86400));
}

void
util_format_size(uint64_t bytes, char *buf, size_t size)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
    double v = (double)bytes;
    size_t u = 0;

    while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, size, "%llu B", (unsigned long long)bytes);
    else
        snprintf(buf, size, "%.1f %s", v, units[u]);
}

char *
util_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        return util_xstrdup(".");
    if (slash == path)
        return util_xstrdup("/");
    return util_xstrndup(path, (size_t)(slash - path));
}

char *
util_path_join(const char *dir, const char *name)
{
    if (name[0] == '/')
        return util_xstrdup(name);
    if (dir[0] && dir[strlen(dir) - 1] == '/')
        return util_xasprintf("%s%s", dir, name);
    return util_xasprintf("%s/%s", dir, name);
}

int
util_path_is_clean_absolute(const char *path)
{
    const char *p;

    if (!path || path[0] != '/')
        return 0;
    for (p = path; *p; ) {
        const char *seg;
        size_t n;

        while (*p == '/') {
            if (p[1] == '/')
                return 0;
            p++;
        }
        seg = p;
        while (*p && *p != '/')
            p++;
        n = (size_t)(p - seg);
        if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return 0;
    }
    return 1;
}

int
util_path_is_inside(const char *path, const char *dir)
{
    size_t n;

    if (!util_path_is_clean_absolute(path) || !util_path_is_clean_absolute(dir))
        return 0;
    n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (n == 1)     /* dir is "/" */
        return path[1] != '\0';
    return strncmp(path, dir, n) == 0 && path[n] == '/' && path[n + 1] != '\0';
}
