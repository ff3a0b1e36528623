/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ptyrun-read: what ptyrun reads besides the terminal: the console's
 * screen dump (its layout, ui/draw.c and ui/table.c) and the CPU time of
 * its process and UI thread from /proc. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ptyrun-read.h"

char *
read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0, cap = 0, k;

    if (!f)
        return NULL;
    for (;;) {
        if (cap - len < 4096) {
            char *nb;

            cap = cap ? cap * 2 : 16384;
            if (!(nb = realloc(buf, cap))) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        k = fread(buf + len, 1, cap - len - 1, f);
        len += k;
        if (k == 0)
            break;
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* --- the screen ---------------------------------------------------------- */

/* Line i of s (0-based) into out, or "" past the end. */
static void
screen_line(const char *s, int i, char *out, size_t size)
{
    const char *e;
    size_t n;

    while (s && i-- > 0) {
        s = strchr(s, '\n');
        if (s)
            s++;
    }
    out[0] = '\0';
    if (!s || !*s)
        return;
    e = strchr(s, '\n');
    n = e ? (size_t)(e - s) : strlen(s);
    if (n >= size)
        n = size - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

static int
screen_nlines(const char *s)
{
    int n = 0;

    for (; s && *s; s++)
        if (*s == '\n')
            n++;
    return n;
}

/* The byte offset of character column col in a UTF-8 line, or -1. */
static int
utf8_offset(const char *line, int col)
{
    int i, c = 0;

    for (i = 0; line[i]; i++) {
        if (((unsigned char)line[i] & 0xc0) == 0x80)
            continue;
        if (c == col)
            return i;
        c++;
    }
    return -1;
}

/* The character column of needle in line, or -1. */
static int
utf8_column(const char *line, const char *needle)
{
    const char *p = strstr(line, needle);
    int c = 0;

    if (!p)
        return -1;
    for (const char *q = line; q < p; q++)
        if (((unsigned char)*q & 0xc0) != 0x80)
            c++;
    return c;
}

/* Reads the console's layout (ui/draw.c, ui/table.c): the title line, the
 * column titles, the table, then the message and job lines. */
ScreenState
read_screen_state(const char *s)
{
    ScreenState st = { -1, 0, 0, 0 };
    char line[8192], *p;
    long shown;
    int n = screen_nlines(s), y, state_col, rows = 0, loaded = 0;

    screen_line(s, 0, line, sizeof(line));
    if ((p = strstr(line, " VMs")) != NULL) {
        while (p > line && (p[-1] >= '0' && p[-1] <= '9'))
            p--;
        if (p > line && p[-1] == '/')
            st.total = strtol(p, NULL, 10);
    }
    /* One host says "connected, data fresh"; many say so each, or sum up
     * those that do not fit ("+18 more: 18 connected"). */
    st.all = strstr(line, "connected") != NULL && strstr(line, "loading") == NULL &&
             strstr(line, "connecting") == NULL;
    screen_line(s, 1, line, sizeof(line));
    if ((state_col = utf8_column(line, "STATE")) < 0 || st.total < 0)
        return st;
    for (y = 2; y < n - 2; y++) {
        int off;

        screen_line(s, y, line, sizeof(line));
        if (!line[0])
            continue;
        rows++;
        off = utf8_offset(line, state_col);
        /* A record not read yet shows an ellipsis as its state. */
        if (off >= 0 && ((line[off] >= '0' && line[off] <= '9') || (line[off] >= 'a' && line[off] <= 'z')))
            loaded++;
    }
    shown = st.total < n - 4 ? st.total : n - 4;
    st.names = st.total > 0 && rows == shown;
    st.visible = st.names && loaded == rows;
    st.all = st.all && st.visible;
    return st;
}

/* --- /proc ----------------------------------------------------------------------------- */

/* utime+stime in milliseconds from a /proc stat file, -1 if unreadable. */
static double
stat_cpu_ms(const char *path)
{
    char *s = read_file(path), *p;
    unsigned long long ut = 0, st = 0;
    double ms = -1;

    if (s && (p = strrchr(s, ')')) != NULL &&
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
        ms = (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
    free(s);
    return ms;
}

/* The UI thread's time on a CPU from schedstat, in milliseconds. */
double
read_ui_sched_ms(pid_t pid)
{
    char path[64];
    char *s;
    double ms = -1;

    snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int)pid, (int)pid);
    if ((s = read_file(path)) != NULL)
        ms = (double)strtoull(s, NULL, 10) / 1e6;
    free(s);
    return ms;
}

double
read_ui_cpu_ms(pid_t pid)
{
    char path[64];

    snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)pid);
    return stat_cpu_ms(path);
}

double
read_proc_cpu_ms(pid_t pid)
{
    char path[64];

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    return stat_cpu_ms(path);
}
