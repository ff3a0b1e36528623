/* SPDX-License-Identifier: GPL-2.0-or-later */
/* view: the table as the operator sees it — rows filtered and sorted, the
 * selection kept by host and UUID across refreshes, the scroll position.
 * No curses here, so tests can drive it. */
#ifndef DROVER_VIEW_H
#define DROVER_VIEW_H

#include <stddef.h>

#include "model/model.h"

typedef enum {
    VIEW_COL_HOST = 0,
    VIEW_COL_NAME,
    VIEW_COL_STATE,
    VIEW_COL_HEALTH,
    VIEW_COL_MODE,
    VIEW_COL_RPS,
    VIEW_COL_LAST,
    VIEW_COL_NEXT,              /* drover's replication: when the next cycle is due */
    VIEW_COL_FAILOVER,
    VIEW_COL_POWER,
    VIEW_NCOLS
} ViewCol;

typedef struct {
    const ModelRow **rows;      /* filtered and sorted; valid until the model changes */
    size_t n;
    int sort_col;               /* VIEW_COL_* */
    int sort_rev;
    char filter[128];
    char last_filter[128];      /* the filter before Esc cleared it: n and N find it */
    size_t sel;                 /* index into rows while n > 0 */
    int has_sel;                /* a row is selected (by host and UUID) */
    size_t sel_host;
    char sel_uuid[37];
    size_t top;                 /* first row on screen */
    int built;                  /* rows were built with the fields below */
    unsigned built_layout;      /* model_layout() then */
    int built_col, built_rev, built_filtered;
} View;

void view_init(View *v);
void view_clear(View *v);

/* Filters and sorts the model's rows again, then finds the selected row by
 * host and UUID; if it is gone, the selection stays at the same position. */
void view_rebuild(View *v, const Model *m);
/* Whether v's rows still point into m's: built, and from the model's
 * layout now (a list, a row added or gone moves the model's rows). */
int view_current(const View *v, const Model *m);
/* Moves the selection by delta rows (clamped). */
void view_move(View *v, long delta);
void view_select(View *v, size_t i);
/* Selects the row with this host and UUID if it is in the view: 1, else 0. */
int view_select_uuid(View *v, size_t host, const char *uuid);
const ModelRow *view_selected(const View *v);
/* Keeps the selection within height rows on screen (adjusts top). */
void view_scroll(View *v, size_t height);

/* True when a row of the view is replicated by drover (the NEXT column
 * is shown only then). */
int view_any_repl(const View *v);
/* Next sort column; the order the `s` key cycles through. */
void view_sort_next(View *v);
void view_sort_reverse(View *v);
const char *view_col_title(int col);

/* True if the row matches the filter: every word (case-insensitive) is
 * found in its host, name, state ("5 Recovered"), health, mode or power;
 * words "@NAME" keep only the hosts whose name begins with NAME (any of
 * them when there are several). */
int view_matches(const ModelRow *r, const char *filter);

#endif
