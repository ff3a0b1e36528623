/* SPDX-License-Identifier: GPL-2.0-or-later */
/* conf-uri: libvirt URIs as drover compares and names hosts, the system
 * file's read-only floor, and hosts added from the command line. */
#include <config.h>

#include "base/conf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/conf-priv.h"
#include "base/util.h"

/* What the system file made read-only: the administrator's floor. */
void
conf_set_floor(Conf *conf)
{
    size_t i;

    conf->readonly_floor = conf->readonly;
    for (i = 0; i < conf->nhosts; i++)
        if (conf->hosts[i].readonly)
            conf_host_add(&conf->floor_hosts, &conf->nfloor_hosts,
                          util_xstrdup(conf->hosts[i].name), util_xstrdup(conf->hosts[i].uri), 1);
}

/* The parts of a URI "SCHEME://[USER@]HOST[:PORT]/PATH?QUERY" drover
 * compares and names hosts by: the host without user, port or IPv6
 * brackets, and where the authority ends.  0, or -1 when uri has no "://". */
static int
conf_uri_split(const char *uri, const char **host, size_t *hlen, const char **auth_end)
{
    const char *sep = strstr(uri, "://");
    const char *auth, *h, *end, *close;

    if (!sep)
        return -1;
    auth = sep + 3;
    *auth_end = auth + strcspn(auth, "/?#");
    h = auth;
    for (const char *p = auth; p < *auth_end; p++)
        if (*p == '@')
            h = p + 1;
    if (*h == '[' && (close = memchr(h, ']', (size_t)(*auth_end - h)))) {
        h++;
        end = close;
    } else {
        end = memchr(h, ':', (size_t)(*auth_end - h));
        if (!end)
            end = *auth_end;
    }
    *host = h;
    *hlen = (size_t)(end - h);
    return 0;
}

static void
conf_buf_add_lower(UtilBuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = (char)tolower((unsigned char)s[i]);
        util_buf_addn(b, &c, 1);
    }
}

/* A URI as the host it reaches: the driver ("qemu" of "qemu+ssh"), the
 * host name without user or port, the path and the query, so that another
 * transport or spelling of the same host ("qemu+unix:///system",
 * "qemu:///system/", "QEMU+ssh://root@dr-b:22/system" for dr-b) compares
 * equal.  Not a libvirt parser: what it cannot split stays as it is. */
static char *
conf_uri_key(const char *uri)
{
    const char *sep = strstr(uri, "://");
    const char *plus, *host, *rest;
    size_t hlen, rlen;
    UtilBuf b = { 0 };

    if (conf_uri_split(uri, &host, &hlen, &rest) < 0)
        return util_xstrdup(uri);
    plus = memchr(uri, '+', (size_t)(sep - uri));
    conf_buf_add_lower(&b, uri, (size_t)((plus ? plus : sep) - uri));
    util_buf_add(&b, "://");
    /* "localhost" is the local host, as an empty host part is. */
    if (!(hlen == 9 && strncasecmp(host, "localhost", 9) == 0))
        conf_buf_add_lower(&b, host, hlen);
    rlen = strlen(rest);
    while (rlen > 1 && rest[rlen - 1] == '/')
        rlen--;
    util_buf_addn(&b, rest, rlen);
    return util_buf_steal(&b);
}

int
conf_host_readonly(const Conf *conf, const char *name, const char *uri)
{
    UTIL_AUTOFREE char *key = uri ? conf_uri_key(uri) : NULL;
    size_t i;

    if (conf->readonly_floor)
        return 1;
    for (i = 0; i < conf->nfloor_hosts; i++) {
        UTIL_AUTOFREE char *fk = conf_uri_key(conf->floor_hosts[i].uri);

        if ((name && strcmp(conf->floor_hosts[i].name, name) == 0) || (key && strcmp(fk, key) == 0))
            return 1;
    }
    return 0;
}

/* User files and --config may add hosts and settings, never lower the floor. */
void
conf_apply_floor(Conf *conf)
{
    size_t i;

    if (conf->readonly_floor)
        conf->readonly = 1;
    for (i = 0; i < conf->nhosts; i++)
        if (conf_host_readonly(conf, conf->hosts[i].name, conf->hosts[i].uri))
            conf->hosts[i].readonly = 1;
}

/* The name a URI's host goes by: its host part ("qemu+ssh://root@dr-b:22/system"
 * gives "dr-b"), the fleet file's base name for the test driver
 * ("test:///tmp/x/fleet.xml" gives "fleet"), "localhost" for a local URI,
 * and the URI itself when it is not one (a libvirt URI alias). */
static char *
conf_uri_name(const char *uri)
{
    const char *auth_end, *host, *host_end, *path, *path_end, *base, *dot;
    size_t scheme_len, hlen;

    if (conf_uri_split(uri, &host, &hlen, &auth_end) < 0)
        return util_xstrdup(uri);
    host_end = host + hlen;
    if (host_end > host)
        return util_xstrndup(host, (size_t)(host_end - host));
    /* Local.  The test driver (with or without a transport) names a file. */
    scheme_len = strcspn(uri, "+:");
    if (scheme_len == 4 && strncmp(uri, "test", 4) == 0) {
        path = auth_end;
        path_end = path + strcspn(path, "?#");
        while (path_end > path && path_end[-1] == '/')
            path_end--;
        base = path_end;
        while (base > path && base[-1] != '/')
            base--;
        dot = NULL;
        for (const char *p = base + 1; p < path_end; p++)
            if (*p == '.')
                dot = p;
        if (dot)
            path_end = dot;
        if (path_end > base)
            return util_xstrndup(base, (size_t)(path_end - base));
    }
    return util_xstrdup("localhost");
}

static int
conf_host_named(const Conf *conf, const char *name)
{
    size_t i;

    for (i = 0; i < conf->nhosts; i++)
        if (strcmp(conf->hosts[i].name, name) == 0)
            return 1;
    return 0;
}

/* Names stay unique (the console and --json identify hosts by name): a
 * name already taken gets "-2", "-3", ... appended. */
void
conf_add_host(Conf *conf, const char *name, const char *uri, int readonly)
{
    char *base = name && *name ? util_xstrdup(name) : conf_uri_name(uri);
    char *unique = util_xstrdup(base);
    unsigned n;

    for (n = 2; conf_host_named(conf, unique); n++) {
        free(unique);
        unique = util_xasprintf("%s-%u", base, n);
    }
    free(base);
    conf_host_add(&conf->hosts, &conf->nhosts, unique, util_xstrdup(uri), readonly ? 1 : 0);
}
