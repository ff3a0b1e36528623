/* SPDX-License-Identifier: GPL-2.0-or-later */
/* paint: colours and glyphs, text that fits its cells, wrapped lines, boxes
 * and bars.  The primitives every part draws with; they call no other part. */
#include <config.h>

#include "ui.h"

#include <langinfo.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "base/util.h"

/* --- colours ---------------------------------------------------------------- */

typedef struct {
    short fg, bg;               /* -1: the terminal's default */
    attr_t attr;                /* added in colour */
    attr_t mono;                /* without colour */
} UiColor;

static const UiColor ui_colors[UI_R_COUNT] = {
    [UI_R_NORMAL] = { -1, -1, A_NORMAL, A_NORMAL },
    [UI_R_TITLE] = { COLOR_WHITE, COLOR_BLUE, A_BOLD, A_REVERSE | A_BOLD },
    [UI_R_HEADER] = { COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_UNDERLINE | A_BOLD },
    [UI_R_SEL] = { COLOR_BLACK, COLOR_WHITE, A_NORMAL, A_REVERSE },
    [UI_R_OK] = { COLOR_GREEN, -1, A_NORMAL, A_NORMAL },
    [UI_R_WARN] = { COLOR_YELLOW, -1, A_BOLD, A_BOLD },
    [UI_R_CRIT] = { COLOR_RED, -1, A_BOLD, A_BOLD | A_UNDERLINE },
    [UI_R_DIM] = { -1, -1, A_DIM, A_DIM },
    [UI_R_DLG] = { -1, -1, A_NORMAL, A_NORMAL },
    [UI_R_DLG_TITLE] = { COLOR_CYAN, -1, A_BOLD, A_BOLD },
    [UI_R_DELETE] = { COLOR_RED, -1, A_BOLD, A_BOLD },
    [UI_R_CREATE] = { COLOR_GREEN, -1, A_NORMAL, A_NORMAL },
    [UI_R_INPUT] = { -1, -1, A_UNDERLINE, A_UNDERLINE },
    [UI_R_BUTTON] = { -1, -1, A_NORMAL, A_NORMAL },
    [UI_R_BUTTON_ON] = { COLOR_BLACK, COLOR_WHITE, A_BOLD, A_REVERSE | A_BOLD },
    [UI_R_ERROR] = { COLOR_RED, -1, A_BOLD, A_BOLD },
    [UI_R_INFO] = { COLOR_CYAN, -1, A_NORMAL, A_NORMAL },
    [UI_R_BAR] = { COLOR_GREEN, -1, A_NORMAL, A_NORMAL },
    [UI_R_KEY] = { COLOR_YELLOW, -1, A_BOLD, A_BOLD },
    [UI_R_RECOVERED] = { COLOR_MAGENTA, -1, A_BOLD, A_BOLD },
    [UI_R_COMMITTED] = { COLOR_CYAN, -1, A_BOLD, A_UNDERLINE },
};

static const UiGlyphs ui_glyphs_utf8 = {
    "\u2500", "\u2502", "\u250c", "\u2510", "\u2514", "\u2518",
    "\u2588", "\u2591",
    "\u25b2", "\u25bc",
    "\u25b6", "\u2514",
    "\u2026", "\u2192", "\u00b7",
    "\u25cf", "\u2717",
};

static const UiGlyphs ui_glyphs_ascii = {
    "-", "|", "+", "+", "+", "+",
    "#", ".",
    "^", "v",
    ">", "`-",
    "...", "->", "|",
    "*", "x",
};

void
ui_theme_init(Console *c)
{
    const char *nc = getenv("NO_COLOR");
    int i;

    c->utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
    c->g = c->utf8 ? ui_glyphs_utf8 : ui_glyphs_ascii;
    /* NO_COLOR (any non-empty value), the "mono" theme and terminals
     * without colours all get the monochrome column. */
    c->mono = (nc && *nc) || util_streq(c->s->conf->theme, "mono") || !has_colors();
    if (c->mono)
        return;
    start_color();
    use_default_colors();
    for (i = 1; i < UI_R_COUNT; i++)
        init_pair((short)i, ui_colors[i].fg, ui_colors[i].bg);
}

attr_t
ui_attr(const Console *c, UiRole r)
{
    if (r < 0 || r >= UI_R_COUNT)
        r = UI_R_NORMAL;
    if (c->mono)
        return ui_colors[r].mono;
    if (r == UI_R_NORMAL)
        return A_NORMAL;
    return COLOR_PAIR(r) | ui_colors[r].attr;
}

/* --- text ------------------------------------------------------------------------ */

/* Decodes the next character of s: its wide character and cell width
 * (invalid bytes become '?'); returns the bytes used. */
static size_t
ui_next(const char *s, wchar_t *wc, int *cells)
{
    mbstate_t st;
    size_t n;
    int w;

    /* Most of what a table shows is printable ASCII: one byte, one cell
     * (in UTF-8 and in every locale drover paints in). */
    if ((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f) {
        *wc = (wchar_t)*s;
        *cells = 1;
        return 1;
    }
    memset(&st, 0, sizeof(st));
    n = mbrtowc(wc, s, MB_CUR_MAX, &st);
    if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
        *wc = L'?';
        *cells = 1;
        return 1;
    }
    w = wcwidth(*wc);
    if (w < 0) {
        *wc = L'?';
        w = 1;
    }
    *cells = w;
    return n;
}

int
ui_width(const char *s)
{
    int total = 0, w;
    wchar_t wc;

    while (s && *s) {
        s += ui_next(s, &wc, &w);
        total += w;
    }
    return total;
}

int
ui_text(const Console *c, int y, int x, int w, const char *s, attr_t a, int pad)
{
    wchar_t buf[512];
    int used = 0, n = 0, cw, ell = ui_width(c->g.ell);
    wchar_t wc;
    const char *p = s ? s : "";

    if (w <= 0 || y < 0 || y >= c->rows || x >= c->cols)
        return 0;
    if (x + w > c->cols)
        w = c->cols - x;
    if (ui_width(p) > w) {
        /* Cut, and say so. */
        while (*p) {
            size_t k = ui_next(p, &wc, &cw);
            if (used + cw > w - ell || n >= (int)(sizeof(buf) / sizeof(buf[0])) - 4)
                break;
            buf[n++] = wc;
            used += cw;
            p += k;
        }
        for (p = c->g.ell; *p && n < (int)(sizeof(buf) / sizeof(buf[0])) - 1;) {
            p += ui_next(p, &wc, &cw);
            buf[n++] = wc;
            used += cw;
        }
    } else {
        while (*p && n < (int)(sizeof(buf) / sizeof(buf[0])) - 1) {
            p += ui_next(p, &wc, &cw);
            buf[n++] = wc;
            used += cw;
        }
    }
    buf[n] = L'\0';
    attrset(a);
    mvaddnwstr(y, x, buf, n);
    if (pad && used < w)
        mvhline(y, x + used, ' ', w - used);
    attrset(A_NORMAL);
    return used;
}

void
ui_lines_free(char **v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void
ui_lines_add(char ***v, size_t *n, size_t *cap, const char *s, size_t len)
{
    util_grow(v, cap, *n + 1, sizeof(**v));
    (*v)[(*n)++] = util_xstrndup(s, len);
}

size_t
ui_wrap(const char *text, int width, char ***out)
{
    char **v = NULL;
    size_t n = 0, cap = 0;
    const char *line = text ? text : "";

    if (width < 8)
        width = 8;
    for (;;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        const char *p = line, *stop = line + len;

        if (p == stop)
            ui_lines_add(&v, &n, &cap, "", 0);
        while (p < stop) {
            const char *q = p, *brk = NULL;
            int used = 0, cw;
            wchar_t wc;

            while (q < stop) {
                size_t k = ui_next(q, &wc, &cw);
                if (used + cw > width)
                    break;
                if (*q == ' ')
                    brk = q;
                used += cw;
                q += k;
            }
            if (q < stop && brk && brk > p)
                q = brk;    /* break at the last space */
            ui_lines_add(&v, &n, &cap, p, (size_t)(q - p));
            p = q;
            while (p < stop && *p == ' ')
                p++;
        }
        if (!end)
            break;
        line = end + 1;
    }
    *out = v;
    return n;
}

void
ui_lines_push(UiLines *l, UiRole role, int bar, const char *s)
{
    util_grow(&l->text, &l->cap, l->n + 1, sizeof(*l->text));
    util_grow(&l->role, &l->rcap, l->n + 1, sizeof(*l->role));
    util_grow(&l->bar, &l->bcap, l->n + 1, sizeof(*l->bar));
    l->text[l->n] = util_xstrdup(s);
    l->role[l->n] = role;
    l->bar[l->n] = bar;
    l->n++;
}

void
ui_lines_pushf(UiLines *l, UiRole role, const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = util_xvasprintf(fmt, ap);
    va_end(ap);
    ui_lines_push(l, role, -1, s);
    free(s);
}

void
ui_lines_wrap(UiLines *l, UiRole role, const char *text, int width, int indent)
{
    char **v, pad[32];
    size_t n, i;

    if (indent > (int)sizeof(pad) - 1)
        indent = (int)sizeof(pad) - 1;
    memset(pad, ' ', (size_t)indent);
    pad[indent] = '\0';
    n = ui_wrap(text, width - indent, &v);
    for (i = 0; i < n; i++)
        ui_lines_pushf(l, role, "%s%s", pad, v[i]);
    ui_lines_free(v, n);
}

void
ui_lines_hang(UiLines *l, UiRole role, const char *text, int width, int indent)
{
    const char *p = text;
    char **v, pad[32];
    size_t n, i;
    int lead = 0;

    /* The first line's own leading blanks stay; later lines go under its
     * text, indent cells further in. */
    while (*p == ' ')
        p++, lead++;
    indent += lead;
    if (indent > (int)sizeof(pad) - 1)
        indent = (int)sizeof(pad) - 1;
    if (width - indent < 8) {
        ui_lines_wrap(l, role, text, width, 0);
        return;
    }
    memset(pad, ' ', (size_t)indent);
    pad[indent] = '\0';
    n = ui_wrap(text, width, &v);
    if (n <= 1) {
        ui_lines_free(v, n);
        ui_lines_push(l, role, -1, text);
        return;
    }
    ui_lines_free(v, n);
    /* The first line as wide as the width allows, the rest narrower. */
    n = ui_wrap(p, width - lead, &v);
    ui_lines_pushf(l, role, "%.*s%s", lead, text, v[0]);
    {
        size_t len = 0;
        char *rest;

        for (i = 1; i < n; i++)
            len += strlen(v[i]) + 1;
        rest = util_xmalloc(len + 1);
        rest[0] = '\0';
        for (i = 1; i < n; i++) {
            strcat(rest, v[i]);
            if (i + 1 < n)
                strcat(rest, " ");
        }
        ui_lines_free(v, n);
        n = ui_wrap(rest, width - indent, &v);
        free(rest);
    }
    for (i = 0; i < n; i++)
        ui_lines_pushf(l, role, "%s%s", pad, v[i]);
    ui_lines_free(v, n);
}

void
ui_lines_clear(UiLines *l)
{
    ui_lines_free(l->text, l->n);
    free(l->role);
    free(l->bar);
    memset(l, 0, sizeof(*l));
}

void
ui_lines_draw(const Console *c, const UiLines *l, int y, int x, int h, int w, int scroll)
{
    int i;

    for (i = 0; i < h; i++) {
        size_t k = (size_t)(scroll + i);

        if (k >= l->n)
            break;
        if (l->bar[k] >= 0) {
            int bw = w / 3 < 12 ? 12 : w / 3;
            ui_bar(c, y + i, x, bw, l->bar[k]);
            ui_text(c, y + i, x + bw + 1, w - bw - 1, l->text[k], ui_attr(c, l->role[k]), 0);
        } else {
            ui_text(c, y + i, x, w, l->text[k], ui_attr(c, l->role[k]), 0);
        }
    }
}

void
ui_hline(const Console *c, int y, int x, int w, attr_t a)
{
    int i;

    for (i = 0; i < w; i++)
        ui_text(c, y, x + i, 1, c->g.h, a, 0);
}

void
ui_box(const Console *c, int y, int x, int h, int w, attr_t a)
{
    int i;

    if (h < 2 || w < 2)
        return;
    ui_text(c, y, x, 1, c->g.tl, a, 0);
    ui_hline(c, y, x + 1, w - 2, a);
    ui_text(c, y, x + w - 1, 1, c->g.tr, a, 0);
    for (i = 1; i < h - 1; i++) {
        ui_text(c, y + i, x, 1, c->g.v, a, 0);
        attrset(a);
        mvhline(y + i, x + 1, ' ', w - 2);
        attrset(A_NORMAL);
        ui_text(c, y + i, x + w - 1, 1, c->g.v, a, 0);
    }
    ui_text(c, y + h - 1, x, 1, c->g.bl, a, 0);
    ui_hline(c, y + h - 1, x + 1, w - 2, a);
    ui_text(c, y + h - 1, x + w - 1, 1, c->g.br, a, 0);
}

void
ui_bar(const Console *c, int y, int x, int w, int percent)
{
    int i, full;

    if (w < 3)
        return;
    if (percent < 0)
        percent = 0;
    if (percent > 100)
        percent = 100;
    full = (w - 2) * percent / 100;
    ui_text(c, y, x, 1, "[", A_NORMAL, 0);
    for (i = 0; i < w - 2; i++)
        ui_text(c, y, x + 1 + i, 1, i < full ? c->g.bar : c->g.bar_empty,
                i < full ? ui_attr(c, UI_R_BAR) : ui_attr(c, UI_R_DIM), 0);
    ui_text(c, y, x + w - 1, 1, "]", A_NORMAL, 0);
}

void
ui_fmt_elapsed(int64_t ms, char *buf, size_t size)
{
    int64_t s = ms / 1000;

    if (s < 60)
        snprintf(buf, size, "%lds", (long)s);
    else if (s < 3600)
        snprintf(buf, size, "%ld:%02ld", (long)(s / 60), (long)(s % 60));
    else
        snprintf(buf, size, "%ld:%02ld:%02ld", (long)(s / 3600), (long)(s / 60 % 60), (long)(s % 60));
}
