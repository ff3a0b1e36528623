/* SPDX-License-Identifier: GPL-2.0-or-later */
/* table: the title line with the hosts, and the replica table. */
#include <config.h>

#include "ui.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record/state.h"
#include "base/util.h"

/* Column widths: minimum, wanted; the extra space goes to columns in
 * grow order, and columns are dropped in drop order when even the
 * minimums do not fit. */
typedef struct {
    int min, want;
} UiCol;

static const UiCol ui_cols[VIEW_NCOLS] = {
    [VIEW_COL_HOST] = { 5, 10 },
    [VIEW_COL_NAME] = { 8, 20 },
    [VIEW_COL_STATE] = { 13, 16 },
    [VIEW_COL_HEALTH] = { 8, 8 },
    [VIEW_COL_MODE] = { 7, 12 },
    [VIEW_COL_RPS] = { 3, 4 },
    [VIEW_COL_LAST] = { 5, 7 },
    [VIEW_COL_NEXT] = { 5, 7 },
    [VIEW_COL_FAILOVER] = { 12, 14 },
    [VIEW_COL_POWER] = { 8, 10 },
};

static const int ui_drop_order[] = {
    VIEW_COL_MODE, VIEW_COL_HOST, VIEW_COL_RPS, VIEW_COL_LAST, VIEW_COL_POWER,
};

static void ui_cell(const Console *c, const ModelRow *r, int col, char *buf, size_t size);

/* The cells a column needs: its title (and the sort mark) or its widest
 * cell among all rows, so no column is cut while another has room. */
static int
ui_col_need(const Console *c, int col)
{
    const View *v = &c->view;
    int need = ui_width(view_col_title(col)) + 1;
    size_t i;

    /* The others have short cells of known widths: no need to look. */
    if (col != VIEW_COL_NAME && col != VIEW_COL_FAILOVER && col != VIEW_COL_MODE && col != VIEW_COL_STATE)
        return ui_cols[col].want > need ? ui_cols[col].want : need;

    for (i = 0; i < v->n; i++) {
        char cell[256];
        int w;

        ui_cell(c, v->rows[i], col, cell, sizeof(cell));
        if ((w = ui_width(cell)) > need)
            need = w;
    }
    return need;
}

static void
ui_col_grow(const Console *c, int w[VIEW_NCOLS], int *total, int col, int upto)
{
    while (w[col] && w[col] < upto && *total < c->cols) {
        w[col]++;
        (*total)++;
    }
}

static void
ui_col_widths(Console *c, int w[VIEW_NCOLS])
{
    static const int grow_order[] = {
        VIEW_COL_STATE, VIEW_COL_FAILOVER, VIEW_COL_MODE, VIEW_COL_HOST, VIEW_COL_POWER, VIEW_COL_LAST,
        VIEW_COL_NEXT, VIEW_COL_RPS, VIEW_COL_HEALTH,
    };
    int i, total = 0, need[VIEW_NCOLS], whole;
    size_t k, loaded = 0, rows = 0;

    /* Measured again when the rows come or go, when every record is read
     * (or no longer is), else at most every 2 s: without the second, the
     * widths measured on the names alone stayed 2 s after the load. */
    for (k = 0; k < model_nhosts(c->m); k++) {
        loaded += model_host(c->m, k)->nloaded;
        rows += model_host(c->m, k)->nrows;
    }
    whole = loaded == rows;
    if (c->view.n != c->col_need_rows || whole != c->col_need_whole ||
        util_mono_ms() - c->col_need_ms > 2000 || !c->col_need_ms) {
        for (i = 0; i < VIEW_NCOLS; i++)
            c->col_need[i] = ui_col_need(c, i);
        c->col_need_rows = c->view.n;
        c->col_need_whole = whole;
        c->col_need_ms = util_mono_ms();
    }
    for (i = 0; i < VIEW_NCOLS; i++) {
        /* NEXT only when a row replicates: other fleets keep their layout. */
        w[i] = i == VIEW_COL_NEXT && !view_any_repl(&c->view) ? 0 : ui_cols[i].min;
        total += w[i] ? w[i] + 1 : 0;
        need[i] = c->col_need[i];
    }
    for (k = 0; total - 1 > c->cols && k < sizeof(ui_drop_order) / sizeof(ui_drop_order[0]); k++) {
        total -= w[ui_drop_order[k]] ? w[ui_drop_order[k]] + 1 : 0;
        w[ui_drop_order[k]] = 0;
    }
    /* Names first, up to a usual length; then every column that would be
     * cut (FAILOVER and MODE above all) gets what it needs; only then do
     * long names get the rest. */
    ui_col_grow(c, w, &total, VIEW_COL_NAME, need[VIEW_COL_NAME] < ui_cols[VIEW_COL_NAME].want
                                             ? need[VIEW_COL_NAME] : ui_cols[VIEW_COL_NAME].want);
    for (k = 0; k < sizeof(grow_order) / sizeof(grow_order[0]); k++)
        ui_col_grow(c, w, &total, grow_order[k], need[grow_order[k]]);
    ui_col_grow(c, w, &total, VIEW_COL_NAME, need[VIEW_COL_NAME]);
    /* Whatever is left goes to the name. */
    if (total < c->cols)
        w[VIEW_COL_NAME] += c->cols - total;
}

static UiRole
ui_state_role(int state)
{
    switch (state) {
    case STATE_RECOVERED:
    case STATE_FAILOVER_IN_PROGRESS: return UI_R_RECOVERED;
    case STATE_COMMITTED: return UI_R_COMMITTED;
    case STATE_CRITICAL: return UI_R_CRIT;
    default: return UI_R_NORMAL;
    }
}

static UiRole
ui_health_role(int health)
{
    switch (health) {
    case HEALTH_NORMAL: return UI_R_OK;
    case HEALTH_WARNING: return UI_R_WARN;
    case HEALTH_CRITICAL: return UI_R_CRIT;
    default: return UI_R_DIM;
    }
}

static void
ui_age(int64_t when, char *buf, size_t size)
{
    int64_t now = util_now();

    if (!when) {
        util_strlcpy(buf, "-", size);
        return;
    }
    util_format_age(now > when ? now - when : 0, buf, size);
}

/* The text of one cell. */
static void
ui_cell(const Console *c, const ModelRow *r, int col, char *buf, size_t size)
{
    const Summary *s = &r->s;
    const ModelHost *h = model_host(c->m, r->host);
    char age[32];

    buf[0] = '\0';
    switch (col) {
    case VIEW_COL_HOST: util_strlcpy(buf, s->host, size); return;
    case VIEW_COL_NAME: util_strlcpy(buf, s->name, size); return;
    case VIEW_COL_POWER:
        if (h && (h->state == MODEL_HOST_DISCONNECTED || h->hung)) {
            /* The host is gone or hung: what we show is old, and says how old. */
            util_format_age((util_mono_ms() - r->fetched_ms) / 1000, age, sizeof(age));
            snprintf(buf, size, "? %s old", age);
        } else {
            util_strlcpy(buf, hv_power_name(s->power), size);
        }
        return;
    default: break;
    }
    if (!r->loaded) {
        /* "…" is a record on its way; from a host that is gone or hung,
         * none is coming until it answers again. */
        if (col == VIEW_COL_STATE)
            util_strlcpy(buf, h && (h->state == MODEL_HOST_DISCONNECTED || h->hung) ? "not read" : c->g.ell,
                         size);
        return;
    }
    if (!s->has_record) {
        if (col == VIEW_COL_STATE)
            util_strlcpy(buf, "not a replica", size);
        return;
    }
    switch (col) {
    case VIEW_COL_STATE:
        if (s->record_error)
            snprintf(buf, size, "unreadable %d", s->record_error);
        else
            snprintf(buf, size, "%d %s", s->state, state_name(s->state));
        break;
    case VIEW_COL_HEALTH: util_strlcpy(buf, health_name(s->health), size); break;
    case VIEW_COL_MODE: util_strlcpy(buf, mode_name(s->mode), size); break;
    case VIEW_COL_RPS: snprintf(buf, size, "%zu", s->npoints); break;
    case VIEW_COL_LAST: ui_age(s->newest_time, buf, size); break;
    case VIEW_COL_NEXT:
        /* The schedule's next cycle: "due" once it has passed (the timer
         * runs it within a minute), "-" when there is none (suspended,
         * failed over, running, no interval). */
        if (!r->repl)
            break;
        if (!r->repl_next_due)
            util_strlcpy(buf, "-", size);
        else if (r->repl_next_due <= util_now())
            util_strlcpy(buf, "due", size);
        else
            util_format_age(r->repl_next_due - util_now(), buf, size);
        break;
    case VIEW_COL_FAILOVER:
        if (s->failover_point) {
            ui_age(s->failover_time, age, sizeof(age));
            snprintf(buf, size, "%s %s", s->failover_point, age);
        } else if (s->test_domain) {
            snprintf(buf, size, "test: %s", s->test_domain);
        } else {
            util_strlcpy(buf, "-", size);
        }
        break;
    default: break;
    }
}

static int
ui_all_down(const Console *c)
{
    size_t i;

    for (i = 0; i < model_nhosts(c->m); i++)
        if (model_host(c->m, i)->state != MODEL_HOST_DISCONNECTED)
            return 0;
    return 1;
}

static int
ui_col_right(int col)
{
    return col == VIEW_COL_RPS || col == VIEW_COL_LAST || col == VIEW_COL_NEXT;
}

void
ui_draw_table(Console *c)
{
    int w[VIEW_NCOLS], col, x, y;
    size_t i;
    View *v = &c->view;
    attr_t hdr = ui_attr(c, UI_R_HEADER);
    char *busy = NULL;

    ui_col_widths(c, w);
    /* Column titles, with the sort column marked. */
    move(c->table_y, 0);
    attrset(hdr);
    hline(' ', c->cols);
    attrset(A_NORMAL);
    for (col = 0, x = 0; col < VIEW_NCOLS; col++) {
        char t[64];

        if (!w[col])
            continue;
        snprintf(t, sizeof(t), "%s%s", view_col_title(col),
                 col == v->sort_col ? (v->sort_rev ? c->g.up : c->g.down) : "");
        ui_text(c, c->table_y, x, w[col], t, hdr | (col == v->sort_col ? A_BOLD : 0), 0);
        x += w[col] + 1;
    }
    view_scroll(v, (size_t)(c->table_h - 1));
    for (y = 1; y < c->table_h; y++) {
        const ModelRow *r;
        int sel;
        attr_t base;

        i = v->top + (size_t)y - 1;
        move(c->table_y + y, 0);
        clrtoeol();
        if (i >= v->n) {
            if (i == 0 && y == 1)
                ui_text(c, c->table_y + 1, 1, c->cols - 2,
                        v->filter[0] ? "No VM matches the filter (Esc clears it)."
                        : ui_all_down(c) ? "No host answers (see the title line); drover keeps retrying."
                                         : "No VMs yet (loading, or the hosts have none).",
                        ui_attr(c, UI_R_DIM), 0);
            continue;
        }
        r = v->rows[i];
        sel = i == v->sel;
        free(busy);
        busy = ui_row_busy(c, r);
        base = sel ? ui_attr(c, UI_R_SEL) : (!r->loaded ? ui_attr(c, UI_R_DIM) : A_NORMAL);
        if (sel) {
            attrset(base);
            mvhline(c->table_y + y, 0, ' ', c->cols);
            attrset(A_NORMAL);
        }
        for (col = 0, x = 0; col < VIEW_NCOLS; col++) {
            char cell[256];
            attr_t a = base;
            int cw;

            if (!w[col])
                continue;
            ui_cell(c, r, col, cell, sizeof(cell));
            if (col == VIEW_COL_HEALTH && busy) {
                /* A journal under a held lock is work in progress, not damage. */
                util_strlcpy(cell, "Busy", sizeof(cell));
                if (!sel)
                    a = ui_attr(c, UI_R_INFO);
            } else if (col == VIEW_COL_HEALTH && r->loaded && !sel) {
                a = ui_attr(c, ui_health_role(r->s.health));
            } else if (col == VIEW_COL_STATE && r->loaded && r->s.has_record && !r->s.record_error) {
                /* Failed over and committed VMs stand out from the
                 * replicating mass; on the selected row too (bold). */
                UiRole sr = ui_state_role(r->s.state);
                if (sr != UI_R_NORMAL)
                    a = sel ? base | A_BOLD : ui_attr(c, sr);
            }
            cw = ui_width(cell);
            if (ui_col_right(col) && cw < w[col])
                ui_text(c, c->table_y + y, x + w[col] - cw, cw, cell, a, 0);
            else
                ui_text(c, c->table_y + y, x, w[col], cell, a, 0);
            x += w[col] + 1;
        }
    }
    free(busy);
}

/* "fleet ok 3s" / "dr-b DOWN 2m" / "dr-c connecting" */
static void
ui_host_status(const Console *c, const ModelHost *h, int with_count, char *buf, size_t size)
{
    char age[32] = "", count[32] = "";

    if (h->last_ok_ms)
        util_format_age((util_mono_ms() - h->last_ok_ms) / 1000, age, sizeof(age));
    /* With several hosts, each says how many rows it has. */
    if (with_count)
        snprintf(count, sizeof(count), ", %zu VMs", h->nrows);
    if (h->hung) {
        snprintf(buf, size, "%s %s NOT RESPONDING%s%s%s", h->name, c->g.bad, h->last_ok_ms ? ", data " : "",
                 age, h->last_ok_ms ? " old" : "");
        return;
    }
    switch (h->state) {
    case MODEL_HOST_CONNECTING:
        snprintf(buf, size, "%s connecting%s", h->name, c->g.ell);
        break;
    case MODEL_HOST_DISCONNECTED:
        snprintf(buf, size, "%s %s DISCONNECTED%s%s%s", h->name, c->g.bad, h->last_ok_ms ? ", data " : "",
                 age, h->last_ok_ms ? " old" : "");
        break;
    default:
        if (h->nloaded < h->nrows)
            snprintf(buf, size, "%s %s loading %zu/%zu", h->name, c->g.good, h->nloaded, h->nrows);
        else if (h->last_ok_ms &&
                 util_mono_ms() - h->last_ok_ms < 2000LL * c->s->conf->refresh_interval)
            /* A clock ticking every second would be the only thing an idle
             * console writes: within two refresh intervals say so, once. */
            snprintf(buf, size, "%s %s connected, data fresh%s", h->name, c->g.good, count);
        else
            snprintf(buf, size, "%s %s connected, data %s old%s", h->name, c->g.good, age[0] ? age : "0s",
                     count);
        break;
    }
}

/* The hosts from index from on that did not fit, counted by state:
 * "+18 more: 16 connected, 1 loading 120/500, 1 NOT RESPONDING". */
static void
ui_hosts_rest(const Console *c, size_t from, char *buf, size_t size)
{
    size_t i, n = model_nhosts(c->m), ok = 0, loading = 0, hung = 0, down = 0, conn = 0;
    size_t nl = 0, nr = 0;
    int k;

    for (i = from; i < n; i++) {
        const ModelHost *h = model_host(c->m, i);

        if (h->hung)
            hung++;
        else if (h->state == MODEL_HOST_CONNECTING)
            conn++;
        else if (h->state == MODEL_HOST_DISCONNECTED)
            down++;
        else if (h->nloaded < h->nrows) {
            loading++;
            nl += h->nloaded;
            nr += h->nrows;
        } else
            ok++;
    }
    k = snprintf(buf, size, "+%zu more:", n - from);
    if (ok && k >= 0 && (size_t)k < size)
        k += snprintf(buf + k, size - (size_t)k, " %zu connected,", ok);
    if (loading && k >= 0 && (size_t)k < size)
        k += snprintf(buf + k, size - (size_t)k, " %zu loading %zu/%zu,", loading, nl, nr);
    if (conn && k >= 0 && (size_t)k < size)
        k += snprintf(buf + k, size - (size_t)k, " %zu connecting%s,", conn, c->g.ell);
    if (hung && k >= 0 && (size_t)k < size)
        k += snprintf(buf + k, size - (size_t)k, " %zu NOT RESPONDING,", hung);
    if (down && k >= 0 && (size_t)k < size)
        k += snprintf(buf + k, size - (size_t)k, " %zu DISCONNECTED,", down);
    if (k > 0 && (size_t)k < size && buf[k - 1] == ',')
        buf[k - 1] = '\0';
}

void
ui_draw_header(Console *c)
{
    attr_t t = ui_attr(c, UI_R_TITLE);
    size_t i, n = model_nhosts(c->m);
    int x = 0, right, with_count = 0;
    char buf[256], total[64];

    attrset(t);
    mvhline(0, 0, ' ', c->cols);
    attrset(A_NORMAL);
    snprintf(total, sizeof(total), " %zu/%zu VMs ", c->view.n, model_nrows(c->m));
    right = ui_width(total);
    x += ui_text(c, 0, x, c->cols, " drover ", t | A_BOLD, 0);
    if (c->readonly)
        x += ui_text(c, 0, x, c->cols - x, "[READ-ONLY] ", t | A_BOLD, 0);
    /* Each host's number of VMs when there are several and every host
     * fits with it; else the room goes to the hosts' states. */
    if (n > 1) {
        int w = x;

        for (i = 0; i < n; i++) {
            ui_host_status(c, model_host(c->m, i), 1, buf, sizeof(buf));
            w += ui_width(buf) + 2 + (model_host(c->m, i)->readonly && !c->readonly ? 12 : 0);
        }
        with_count = w + right <= c->cols;
    }
    for (i = 0; i < n && x < c->cols; i++) {
        const ModelHost *h = model_host(c->m, i);

        ui_host_status(c, h, with_count, buf, sizeof(buf));
        if (i)
            x += ui_text(c, 0, x, c->cols - x, "  ", t, 0);
        if (i + 1 < n) {
            char rest[256];

            /* Room for this host and what the others come to? */
            ui_hosts_rest(c, i + 1, rest, sizeof(rest));
            if (x + ui_width(buf) + 2 + ui_width(rest) + right > c->cols) {
                ui_hosts_rest(c, i, rest, sizeof(rest));
                ui_text(c, 0, x, c->cols - x, rest, t, 0);
                break;
            }
        }
        x += ui_text(c, 0, x, c->cols - x, buf,
                     t | (h->state == MODEL_HOST_DISCONNECTED || h->hung ? A_BOLD : 0), 0);
        if (h->readonly && !c->readonly)
            x += ui_text(c, 0, x, c->cols - x, " (read-only)", t, 0);
    }
    if (x + right < c->cols)
        ui_text(c, 0, c->cols - right, right, total, t, 0);
}

void
ui_table_priority(Console *c)
{
    View *v = &c->view;
    size_t i, n = 0, *hosts;
    const char **uuids;
    size_t rows = c->table_h > 1 ? (size_t)c->table_h - 1 : 1;

    hosts = util_xcalloc(rows + 1, sizeof(*hosts));
    uuids = util_xcalloc(rows + 1, sizeof(*uuids));
    for (i = v->top; i < v->n && n < rows; i++) {
        hosts[n] = v->rows[i]->host;
        uuids[n++] = v->rows[i]->s.uuid;
    }
    model_set_priority(c->m, hosts, uuids, n);
    free(hosts);
    free(uuids);
}
