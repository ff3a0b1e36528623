/* SPDX-License-Identifier: GPL-2.0-or-later */
/* view: filtered, sorted rows and a selection kept by UUID. */
#include <config.h>

#include "view.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "record/state.h"
#include "base/util.h"

static const char *const view_titles[VIEW_NCOLS] = {
    "HOST", "NAME", "STATE", "HEALTH", "MODE", "RPS", "LAST", "NEXT", "FAILOVER", "POWER",
};

void
view_init(View *v)
{
    memset(v, 0, sizeof(*v));
    v->sort_col = VIEW_COL_NAME;
}

void
view_clear(View *v)
{
    if (!v)
        return;
    free(v->rows);
    v->rows = NULL;
    v->n = 0;
    v->built = 0;
}

const char *
view_col_title(int col)
{
    return col >= 0 && col < VIEW_NCOLS ? view_titles[col] : "";
}

static int
view_has_word(const char *hay, const char *word, size_t len)
{
    size_t i, n;

    if (!hay)
        return 0;
    n = strlen(hay);
    for (i = 0; i + len <= n; i++)
        if (strncasecmp(hay + i, word, len) == 0)
            return 1;
    return 0;
}

int
view_matches(const ModelRow *r, const char *filter)
{
    const Summary *s = &r->s;
    char state[64] = "";
    const char *p = filter;
    int want_host = 0, host_ok = 0;

    while (p && *p) {
        size_t len;

        while (*p == ' ')
            p++;
        len = strcspn(p, " ");
        if (!len)
            break;
        if (*p == '@') {
            /* A host filter: "@dr-b" keeps the rows of the hosts whose name
             * begins so; several of them add up ("@dr-a @dr-b"). */
            if (len > 1) {
                want_host = 1;
                if (s->host && strlen(s->host) >= len - 1 && strncasecmp(s->host, p + 1, len - 1) == 0)
                    host_ok = 1;
            }
        } else if (!state[0] &&
                   snprintf(state, sizeof(state), "%d %s", s->state, state_name(s->state)) < 0) {
            return 0;
        } else if (!view_has_word(s->name, p, len) && !view_has_word(s->host, p, len) &&
                   !(r->loaded && (view_has_word(state, p, len) ||
                                   view_has_word(health_name(s->health), p, len) ||
                                   view_has_word(mode_name(s->mode), p, len))) &&
                   !view_has_word(hv_power_name(s->power), p, len)) {
            return 0;
        }
        p += len;
    }
    return !want_host || host_ok;
}

static int
view_cmp_i64(int64_t a, int64_t b)
{
    return a < b ? -1 : a > b;
}

static int view_sort_col;

/* Rows whose record is not read yet sort after the others for every column
 * that needs the record. */
static int
view_cmp(const void *pa, const void *pb)
{
    const ModelRow *a = *(const ModelRow *const *)pa, *b = *(const ModelRow *const *)pb;
    int r = 0;

    if (view_sort_col != VIEW_COL_HOST && view_sort_col != VIEW_COL_NAME &&
        view_sort_col != VIEW_COL_POWER && a->loaded != b->loaded)
        return a->loaded ? -1 : 1;
    switch (view_sort_col) {
    case VIEW_COL_HOST: r = a->host < b->host ? -1 : a->host > b->host; break;
    case VIEW_COL_STATE: r = a->s.state - b->s.state; break;
    /* Worst first: that is what an operator looks for. */
    case VIEW_COL_HEALTH: r = b->s.health - a->s.health; break;
    case VIEW_COL_MODE: r = a->s.mode - b->s.mode; break;
    case VIEW_COL_RPS: r = view_cmp_i64((int64_t)a->s.npoints, (int64_t)b->s.npoints); break;
    /* Oldest replication first. */
    case VIEW_COL_LAST: r = view_cmp_i64(a->s.newest_time, b->s.newest_time); break;
    /* Soonest due first; rows without a schedule after them. */
    case VIEW_COL_NEXT:
        r = (a->repl_next_due == 0) - (b->repl_next_due == 0);
        if (!r)
            r = view_cmp_i64(a->repl_next_due, b->repl_next_due);
        break;
    case VIEW_COL_FAILOVER:
        r = (a->s.failover_point == NULL) - (b->s.failover_point == NULL);
        if (!r)
            r = view_cmp_i64(a->s.failover_time, b->s.failover_time);
        break;
    case VIEW_COL_POWER: r = a->s.power - b->s.power; break;
    default: break;
    }
    if (!r)
        r = strcmp(a->s.name ? a->s.name : "", b->s.name ? b->s.name : "");
    if (!r)
        r = a->host < b->host ? -1 : a->host > b->host;
    if (!r)
        r = strcmp(a->s.uuid, b->s.uuid);
    return r;
}

/* Sorts v[0..n) with view_cmp: a merge sort of the runs already in order.
 * The model keeps each host's rows in its list's order (by name), so for
 * the default sort by name the rows come as one run a host: twenty hosts
 * merge in log2(20) passes instead of qsort's log2(10,000), and the view is
 * rebuilt for every batch of rows while the hosts load. */
static void
view_sort(const ModelRow **v, size_t n)
{
    const ModelRow **tmp, **src = v, **dst;
    size_t *runs, nruns = 0, i, k;

    if (n < 2)
        return;
    runs = util_xcalloc(n + 2, sizeof(*runs));
    /* runs[k] is where ascending run k starts; runs[nruns] == n. */
    for (i = 0; i < n; i++)
        if (i == 0 || view_cmp(&v[i - 1], &v[i]) > 0)
            runs[nruns++] = i;
    runs[nruns] = n;
    if (nruns == 1) {
        free(runs);
        return;
    }
    tmp = util_xcalloc(n + 1, sizeof(*tmp));
    dst = tmp;
    while (nruns > 1) {
        size_t out = 0;

        for (k = 0; k < nruns; k += 2) {
            size_t a = runs[k], am = runs[k + 1], b = am;
            size_t bm = k + 1 < nruns ? runs[k + 2] : am, o = a;

            while (a < am && b < bm)
                dst[o++] = view_cmp(&src[a], &src[b]) <= 0 ? src[a++] : src[b++];
            while (a < am)
                dst[o++] = src[a++];
            while (b < bm)
                dst[o++] = src[b++];
            runs[out++] = runs[k];
        }
        runs[out] = n;
        nruns = out;
        {
            const ModelRow **t = src;
            src = dst;
            dst = t;
        }
    }
    if (src != v)
        memcpy(v, src, n * sizeof(*v));
    free(tmp);
    free(runs);
}

void
view_rebuild(View *v, const Model *m)
{
    size_t i, n = model_nrows(m), k, old_sel = v->sel;

    /* Sorted by host or name without a filter, the rows and their order
     * change only with the model's layout: batches of records while the
     * hosts load change neither, and this is called for each of them. */
    if (view_current(v, m) && !v->filter[0] && !v->built_filtered &&
        v->built_col == v->sort_col && v->built_rev == v->sort_rev && v->n == n &&
        (v->sort_col == VIEW_COL_NAME || v->sort_col == VIEW_COL_HOST))
        return;
    v->built = 1;
    v->built_layout = model_layout(m);
    v->built_col = v->sort_col;
    v->built_rev = v->sort_rev;
    v->built_filtered = v->filter[0] != '\0';

    free(v->rows);
    v->rows = util_xcalloc(n + 1, sizeof(*v->rows));
    v->n = 0;
    for (i = 0; i < n; i++) {
        const ModelRow *r = model_row(m, i);
        if (view_matches(r, v->filter))
            v->rows[v->n++] = r;
    }
    view_sort_col = v->sort_col;    /* qsort has no context; UI thread only */
    view_sort(v->rows, v->n);
    if (v->sort_rev) {
        for (i = 0, k = v->n ? v->n - 1 : 0; i < k; i++, k--) {
            const ModelRow *t = v->rows[i];
            v->rows[i] = v->rows[k];
            v->rows[k] = t;
        }
    }
    if (v->has_sel && view_select_uuid(v, v->sel_host, v->sel_uuid))
        return;
    /* The selected row is gone or filtered out: stay where we were. */
    if (v->n)
        view_select(v, old_sel < v->n ? old_sel : v->n - 1);
    else
        v->sel = 0;
}

int
view_current(const View *v, const Model *m)
{
    return v->built && v->built_layout == model_layout(m);
}

void
view_select(View *v, size_t i)
{
    if (!v->n)
        return;
    if (i >= v->n)
        i = v->n - 1;
    v->sel = i;
    v->has_sel = 1;
    v->sel_host = v->rows[i]->host;
    util_strlcpy(v->sel_uuid, v->rows[i]->s.uuid, sizeof(v->sel_uuid));
}

int
view_select_uuid(View *v, size_t host, const char *uuid)
{
    size_t i;

    for (i = 0; i < v->n; i++) {
        if (v->rows[i]->host == host && strcmp(v->rows[i]->s.uuid, uuid) == 0) {
            view_select(v, i);
            return 1;
        }
    }
    return 0;
}

void
view_move(View *v, long delta)
{
    long i;

    if (!v->n)
        return;
    i = (long)v->sel + delta;
    if (i < 0)
        i = 0;
    if (i >= (long)v->n)
        i = (long)v->n - 1;
    view_select(v, (size_t)i);
}

const ModelRow *
view_selected(const View *v)
{
    return v->n && v->sel < v->n ? v->rows[v->sel] : NULL;
}

void
view_scroll(View *v, size_t height)
{
    if (!height)
        height = 1;
    if (v->sel < v->top)
        v->top = v->sel;
    if (v->sel >= v->top + height)
        v->top = v->sel - height + 1;
    if (v->n <= height)
        v->top = 0;
    else if (v->top > v->n - height)
        v->top = v->n - height;
}

int
view_any_repl(const View *v)
{
    size_t i;

    for (i = 0; i < v->n; i++)
        if (v->rows[i]->repl)
            return 1;
    return 0;
}

void
view_sort_next(View *v)
{
    v->sort_col = (v->sort_col + 1) % VIEW_NCOLS;
    /* NEXT is not shown without a replicated row: nothing to sort by. */
    if (v->sort_col == VIEW_COL_NEXT && !view_any_repl(v))
        v->sort_col++;
    v->sort_rev = 0;
}

void
view_sort_reverse(View *v)
{
    v->sort_rev = !v->sort_rev;
}
