/* SPDX-License-Identifier: GPL-2.0-or-later */
/* conf-repl: drover.conf's "replication" groups (per-primary and
 * per-replica defaults of enable-replication) and network map entries. */
#include <config.h>

#include "base/conf.h"

#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/conf-priv.h"
#include "base/err.h"
#include "base/result.h"
#include "base/util.h"

static const char *const conf_repl_keys[] = { "primary", "vm", "interval", "points",
                                              "app_consistent_every", "nbd", "nbd_tls",
                                              "network_map", NULL };

void
conf_repls_free(ConfRepl *r, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(r[i].primary);
        free(r[i].vm);
        free(r[i].nbd);
        free(r[i].nbd_tls);
        for (size_t k = 0; k < r[i].nnetmap; k++)
            free(r[i].netmap[k]);
        free(r[i].netmap);
        free(r[i].netmap_from);
    }
    free(r);
}

ConfRepl *
conf_repls_copy(const ConfRepl *src, size_t n)
{
    ConfRepl *dst = util_xcalloc(n ? n : 1, sizeof(*dst));
    size_t i;

    for (i = 0; i < n; i++) {
        dst[i] = src[i];
        dst[i].primary = util_xstrdup(src[i].primary);
        dst[i].vm = util_xstrdup(src[i].vm);
        dst[i].nbd = util_xstrdup(src[i].nbd);
        dst[i].nbd_tls = util_xstrdup(src[i].nbd_tls);
        if (src[i].netmap) {
            dst[i].netmap = util_xcalloc(src[i].nnetmap + 1, sizeof(*dst[i].netmap));
            for (size_t k = 0; k < src[i].nnetmap; k++)
                dst[i].netmap[k] = util_xstrdup(src[i].netmap[k]);
        }
        dst[i].netmap_from = util_xstrdup(src[i].netmap_from);
    }
    return dst;
}

/* An integer of a replication group, in the range of the replication_*
 * setting it overrides. */
static int
conf_repl_int(const ConfSrc *src, const config_setting_t *s, const char *key, const char *global,
              int *out)
{
    long long v, min, max;
    int ranged = conf_spec_range(global, &min, &max) == 0;
    char lit[64];

    if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64)
        return conf_type_error(src, s, key, "an integer");
    v = config_setting_get_int64(s);
    if (config_setting_type(s) != CONFIG_TYPE_INT ||
        !conf_int_literal(src, s, config_setting_name(s), &v, lit, sizeof(lit)))
        snprintf(lit, sizeof(lit), "%lld", v);
    if (ranged && (v < min || v > max))
        return conf_fail(src, s, "%s: %s is out of range %lld..%lld", key, lit, min, max);
    *out = (int)v;
    return 0;
}

void
conf_net_side_clear(ConfNetSide *side)
{
    if (!side)
        return;
    free(side->name);
    side->name = NULL;
    side->type = NULL;
}

/* "network:NAME", "bridge:NAME" or "NAME" (len bytes of side). */
static int
conf_net_side(const char *side, size_t len, ConfNetSide *out)
{
    static const char *const kinds[] = { "network", "bridge", NULL };
    size_t i;

    out->type = NULL;
    for (i = 0; kinds[i]; i++) {
        size_t k = strlen(kinds[i]);

        if (len > k && strncmp(side, kinds[i], k) == 0 && side[k] == ':') {
            out->type = kinds[i];
            side += k + 1;
            len -= k + 1;
            break;
        }
    }
    if (!len || memchr(side, ':', len) || memchr(side, '=', len))
        return -1;
    out->name = util_xstrndup(side, len);
    return 0;
}

int
conf_netmap_parse(const char *entry, ConfNetSide *from, ConfNetSide *to)
{
    const char *eq = strchr(entry, '=');

    from->name = to->name = NULL;
    if (!eq) {
        err_set(RESULT_INVALID_PARAMETER, "\"%s\" is not SRC=DST", entry);
        return -1;
    }
    if (conf_net_side(entry, (size_t)(eq - entry), from) < 0 ||
        conf_net_side(eq + 1, strlen(eq + 1), to) < 0) {
        conf_net_side_clear(from);
        conf_net_side_clear(to);
        err_set(RESULT_INVALID_PARAMETER, "\"%s\": each side of SRC=DST is NAME, network:NAME "
                "or bridge:NAME", entry);
        return -1;
    }
    return 0;
}

/* network_map = [ "SRC=DST", ... ] (or a list of strings): each entry
 * checked as --network-map's are, here, so a typo stops drover at start
 * rather than at the enable-replication that would use it. */
static int
conf_repl_netmap(const ConfSrc *src, const config_setting_t *s, const char *key, ConfRepl *r)
{
    int type = config_setting_type(s), n, i;
    char **map;
    char *file;

    if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
        return conf_type_error(src, s, key, "a list of strings: [ \"SRC=DST\", ... ]");
    n = config_setting_length(s);
    map = util_xcalloc((size_t)n + 1, sizeof(*map));
    for (i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        /* libconfig gives elements of an array no line of their own. */
        const config_setting_t *at = config_setting_source_line(e) ? e : s;
        ConfNetSide from, to;
        const char *str;
        char sub[128];

        snprintf(sub, sizeof(sub), "%s[%d]", key, i);
        if (config_setting_type(e) != CONFIG_TYPE_STRING) {
            conf_fail(src, at, "%s: expected a string \"SRC=DST\", found %s", sub,
                      conf_type_text(config_setting_type(e)));
            goto fail;
        }
        str = config_setting_get_string(e);
        if (conf_netmap_parse(str, &from, &to) < 0) {
            char *msg = util_xstrdup(err_message());

            conf_fail(src, at, "%s: %s", sub, msg);
            free(msg);
            goto fail;
        }
        conf_net_side_clear(&from);
        conf_net_side_clear(&to);
        map[i] = util_xstrdup(str);
    }
    for (i = 0; r->netmap && (size_t)i < r->nnetmap; i++)
        free(r->netmap[i]);
    free(r->netmap);
    free(r->netmap_from);
    r->netmap = map;
    r->nnetmap = (size_t)n;
    file = conf_setting_file(src, s);
    r->netmap_from = util_xasprintf("%s:%u", file, config_setting_source_line(s));
    free(file);
    return 0;

fail:
    for (i = 0; i < n; i++)
        free(map[i]);
    free(map);
    return -1;
}

static int
conf_parse_repl(const ConfSrc *src, const config_setting_t *g, int idx, ConfRepl *r)
{
    const char *str = NULL;
    int n, i;
    char key[64];

    memset(r, 0, sizeof(*r));
    r->interval = r->points = r->app_every = -1;
    snprintf(key, sizeof(key), "replication[%d]", idx);
    if (config_setting_type(g) != CONFIG_TYPE_GROUP)
        return conf_type_error(src, g, key, "a group { primary = \"...\"; ... }");
    n = config_setting_length(g);
    for (i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *k = config_setting_name(s);
        char sub[96];

        snprintf(sub, sizeof(sub), "%s.%s", key, k);
        if (strcmp(k, "primary") == 0 || strcmp(k, "vm") == 0 || strcmp(k, "nbd") == 0) {
            char **field = k[0] == 'p' ? &r->primary : k[0] == 'v' ? &r->vm : &r->nbd;

            if (conf_get_string(src, s, sub, &str) < 0)
                return -1;
            if (!*str)
                return conf_fail(src, s, "%s: expected a non-empty string", sub);
            if (k[0] == 'n' && strncmp(str, "unix:/", 6) != 0 &&
                (!strrchr(str, ':') || strrchr(str, ':') == str || !strrchr(str, ':')[1]))
                return conf_fail(src, s, "%s: expected \"HOST:PORT\" or \"unix:PATH\", found "
                                 "\"%s\"", sub, str);
            free(*field);
            *field = util_xstrdup(str);
        } else if (strcmp(k, "nbd_tls") == 0) {
            if (conf_get_string(src, s, sub, &str) < 0)
                return -1;
            if (!util_path_is_clean_absolute(str) || str[strlen(str) - 1] == '/')
                return conf_fail(src, s, "%s: expected the absolute path of a directory (no '.', "
                                 "'..' or '//'), found \"%s\"", sub, str);
            free(r->nbd_tls);
            r->nbd_tls = util_xstrdup(str);
        } else if (strcmp(k, "network_map") == 0) {
            if (conf_repl_netmap(src, s, sub, r) < 0)
                return -1;
        } else if (strcmp(k, "interval") == 0) {
            if (conf_repl_int(src, s, sub, "replication_interval", &r->interval) < 0)
                return -1;
        } else if (strcmp(k, "points") == 0) {
            if (conf_repl_int(src, s, sub, "replication_points", &r->points) < 0)
                return -1;
        } else if (strcmp(k, "app_consistent_every") == 0) {
            if (conf_repl_int(src, s, sub, "replication_app_consistent_every", &r->app_every) < 0)
                return -1;
        } else {
            return conf_fail_unknown(src, s, key, k, "replication", conf_repl_keys);
        }
    }
    if (!r->primary)
        return conf_fail(src, g, "%s: missing primary (the --from URI or its host name)", key);
    return 0;
}

/* Replaces conf's replication groups with the list in s. */
int
conf_parse_repls(Conf *conf, const ConfSrc *src, const config_setting_t *s)
{
    ConfRepl *r = NULL;
    size_t nr = 0;
    int n, i;

    if (config_setting_type(s) != CONFIG_TYPE_LIST)
        return conf_type_error(src, s, "replication",
                               "a list of groups: ( { primary = \"...\"; ... }, ... )");
    n = config_setting_length(s);
    r = util_xcalloc(n > 0 ? (size_t)n : 1, sizeof(*r));
    for (i = 0; i < n; i++) {
        if (conf_parse_repl(src, config_setting_get_elem(s, (unsigned)i), i, &r[nr]) < 0) {
            conf_repls_free(r, nr + 1);
            return -1;
        }
        nr++;
    }
    conf_repls_free(conf->repls, conf->nrepls);
    conf->repls = r;
    conf->nrepls = nr;
    return 0;
}

const ConfRepl *
conf_repl_find(const Conf *conf, const char *uri, const char *host, const char *vm)
{
    size_t i;

    for (i = 0; conf && i < conf->nrepls; i++) {
        const ConfRepl *r = &conf->repls[i];

        if (!((uri && strcmp(r->primary, uri) == 0) || (host && strcmp(r->primary, host) == 0)))
            continue;
        if (vm ? r->vm && strcmp(r->vm, vm) == 0 : !r->vm)
            return r;
    }
    return NULL;
}
