/* SPDX-License-Identifier: GPL-2.0-or-later */
/* conf-hosts: drover.conf's "hosts" list: its groups parsed and checked, copied and freed. */
#include <config.h>

#include "base/conf.h"

#include <ctype.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/conf-priv.h"
#include "base/util.h"

static const char *const conf_host_keys[] = { "name", "uri", "readonly", NULL };

void
conf_hosts_free(ConfHost *hosts, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(hosts[i].name);
        free(hosts[i].uri);
    }
    free(hosts);
}

ConfHost *
conf_hosts_copy(const ConfHost *src, size_t n)
{
    ConfHost *dst = util_xcalloc(n ? n : 1, sizeof(*dst));
    size_t i;

    for (i = 0; i < n; i++) {
        dst[i].name = util_xstrdup(src[i].name);
        dst[i].uri = util_xstrdup(src[i].uri);
        dst[i].readonly = src[i].readonly;
    }
    return dst;
}

static int
conf_host_name_ok(const char *name)
{
    const char *p;

    if (!*name)
        return 0;
    for (p = name; *p; p++)
        if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
            return 0;
    return 1;
}

void
conf_host_add(ConfHost **hosts, size_t *nhosts, char *name, char *uri, int readonly)
{
    *hosts = util_xrealloc(*hosts, (*nhosts + 1) * sizeof(**hosts));
    (*hosts)[*nhosts].name = name;
    (*hosts)[*nhosts].uri = uri;
    (*hosts)[*nhosts].readonly = readonly;
    (*nhosts)++;
}

static int
conf_parse_host(const ConfSrc *src, const config_setting_t *g, int idx,
                ConfHost **hosts, size_t *nhosts)
{
    const char *name = NULL, *uri = NULL;
    int readonly = 0, n, i;
    char key[64];
    size_t j;

    snprintf(key, sizeof(key), "hosts[%d]", idx);
    if (config_setting_type(g) != CONFIG_TYPE_GROUP)
        return conf_type_error(src, g, key, "a group { name = \"...\"; uri = \"...\"; }");
    n = config_setting_length(g);
    for (i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *k = config_setting_name(s);
        char sub[96];

        snprintf(sub, sizeof(sub), "%s.%s", key, k);
        if (strcmp(k, "name") == 0) {
            if (conf_get_string(src, s, sub, &name) < 0)
                return -1;
            if (!conf_host_name_ok(name))
                return conf_fail(src, s, "%s: \"%s\" is not a host name: it must be non-empty "
                                 "and have no whitespace", sub, name);
        } else if (strcmp(k, "uri") == 0) {
            if (conf_get_string(src, s, sub, &uri) < 0)
                return -1;
            if (!*uri)
                return conf_fail(src, s, "%s: expected a libvirt URI, found an empty string", sub);
        } else if (strcmp(k, "readonly") == 0) {
            if (conf_get_bool(src, s, sub, &readonly) < 0)
                return -1;
        } else {
            return conf_fail_unknown(src, s, key, k, "host", conf_host_keys);
        }
    }
    if (!name)
        return conf_fail(src, g, "%s: missing name (a host needs name and uri)", key);
    if (!uri)
        return conf_fail(src, g, "%s (\"%s\"): missing uri (a host needs name and uri)", key, name);
    for (j = 0; j < *nhosts; j++)
        if (strcmp((*hosts)[j].name, name) == 0)
            return conf_fail(src, g, "%s: name \"%s\" is already used by hosts[%zu]",
                             key, name, j);
    conf_host_add(hosts, nhosts, util_xstrdup(name), util_xstrdup(uri), readonly);
    return 0;
}

/* Replaces conf's hosts with the list in s. */
int
conf_parse_hosts(Conf *conf, const ConfSrc *src, const config_setting_t *s)
{
    ConfHost *hosts = NULL;
    size_t nhosts = 0;
    int n, i;

    if (config_setting_type(s) != CONFIG_TYPE_LIST)
        return conf_type_error(src, s, "hosts",
                               "a list of groups: ( { name = \"...\"; uri = \"...\"; }, ... )");
    n = config_setting_length(s);
    for (i = 0; i < n; i++) {
        if (conf_parse_host(src, config_setting_get_elem(s, (unsigned)i), i, &hosts, &nhosts) < 0) {
            conf_hosts_free(hosts, nhosts);
            return -1;
        }
    }
    conf_hosts_free(conf->hosts, conf->nhosts);
    conf->hosts = hosts;
    conf->nhosts = nhosts;
    return 0;
}
