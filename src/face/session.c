/* SPDX-License-Identifier: GPL-2.0-or-later */
/* session: configuration, hosts and jobs of one drover process. */
#include <config.h>

#include "face/session.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"
#include "face/demo.h"

static void
session_add_host(Session *s, const char *name, const char *uri, int readonly)
{
    SessionHost *h;

    s->hosts = util_xrealloc(s->hosts, (s->nhosts + 1) * sizeof(*s->hosts));
    h = &s->hosts[s->nhosts++];
    memset(h, 0, sizeof(*h));
    h->name = util_xstrdup(name);
    h->uri = util_xstrdup(uri);
    h->readonly = readonly;
}

/* The demo is a sandbox: when every host is a fleet of one demo
 * directory, what operations write (audit log, job history) stays in it,
 * never in the system's files.  An explicit --config names its own. */
static void
session_sandbox(Session *s)
{
    UTIL_AUTOFREE char *dir = NULL;
    size_t i;

    for (i = 0; i < s->nhosts; i++) {
        char *d = demo_dir_of(s->hosts[i].uri);

        if (!d || (dir && strcmp(d, dir) != 0)) {
            free(d);
            return;
        }
        free(dir);
        dir = d;
    }
    if (!dir)
        return;
    free(s->conf->audit_log);
    free(s->conf->job_history);
    s->conf->audit_log = util_xasprintf("%s/audit.log", dir);
    s->conf->job_history = util_xasprintf("%s/jobs.jsonl", dir);
}

Session *
session_open(const SessionArgs *a)
{
    Session *s = util_xcalloc(1, sizeof(*s));
    size_t i;

    if (!(s->conf = conf_load(a->config))) {
        free(s);
        return NULL;
    }
    if (a->state_dir) {
        free(s->conf->audit_log);
        free(s->conf->job_history);
        s->conf->audit_log = util_xasprintf("%s/audit.log", a->state_dir);
        s->conf->job_history = util_xasprintf("%s/jobs.jsonl", a->state_dir);
    }
    /* Before the first connect, libvirt's default URI included. */
    hv_set_connect_timeout(s->conf->connect_timeout);
    s->hosts_from = "the configuration";
    if (a->uris && a->uris[0]) {
        /* -c replaces the configured hosts: the operator named what to see. */
        Conf *tmp = conf_new_default();

        s->hosts_from = "the command line (-c)";
        for (i = 0; a->uris[i]; i++)
            conf_add_host(tmp, NULL, a->uris[i], 0);
        for (i = 0; i < tmp->nhosts; i++)
            session_add_host(s, tmp->hosts[i].name, tmp->hosts[i].uri,
                             conf_host_readonly(s->conf, tmp->hosts[i].name, tmp->hosts[i].uri));
        conf_free(tmp);
    } else if (s->conf->nhosts) {
        for (i = 0; i < s->conf->nhosts; i++)
            session_add_host(s, s->conf->hosts[i].name, s->conf->hosts[i].uri,
                             s->conf->hosts[i].readonly);
    } else {
        /* No host anywhere: the one virsh would use.  LIBVIRT_DEFAULT_URI
         * is taken as it is (a host that is down is shown down, never
         * swapped for another); without it libvirt is asked (uri_default in
         * libvirt.conf, then its probing). */
        const char *env = getenv("LIBVIRT_DEFAULT_URI");
        UTIL_AUTOFREE char *uri = env && *env ? util_xstrdup(env) : hv_default_uri();
        Conf *tmp = conf_new_default();

        err_clear();    /* unresolvable: the usual DR host, shown as down if it is */
        s->hosts_from = env && *env ? "LIBVIRT_DEFAULT_URI"
                        : uri ? "libvirt's default URI (uri_default in libvirt.conf)"
                              : "nowhere: libvirt resolved no default URI, qemu:///system is assumed";
        conf_add_host(tmp, NULL, uri ? uri : "qemu:///system", 0);
        session_add_host(s, tmp->hosts[0].name, tmp->hosts[0].uri,
                         conf_host_readonly(s->conf, tmp->hosts[0].name, tmp->hosts[0].uri));
        conf_free(tmp);
    }
    if (!a->state_dir && !a->config)
        session_sandbox(s);
    for (i = 0; i < s->nhosts; i++)
        if (a->readonly || s->conf->readonly)
            s->hosts[i].readonly = 1;
    if (a->connect) {
        /* Every host at once: twenty DR hosts connect in the time of the
         * slowest.  A host that is down is shown as down, not fatal. */
        const char **uris = util_xcalloc(s->nhosts + 1, sizeof(*uris));
        int *ro = util_xcalloc(s->nhosts + 1, sizeof(*ro));
        HvConn **conns = util_xcalloc(s->nhosts + 1, sizeof(*conns));

        for (i = 0; i < s->nhosts; i++) {
            uris[i] = s->hosts[i].uri;
            ro[i] = s->hosts[i].readonly;
        }
        hv_open_many(uris, ro, s->nhosts, conns);
        for (i = 0; i < s->nhosts; i++)
            s->hosts[i].conn = conns[i];
        free(conns);
        free(ro);
        free(uris);
    }
    s->jobs = job_table_new(s->conf->job_history);
    return s;
}

void
session_free(Session *s)
{
    size_t i;

    if (!s || s->kept)
        return;
    job_table_free(s->jobs);
    {
        /* All at once: a host that stopped answering holds up no other. */
        HvConn **v = util_xcalloc(s->nhosts + 1, sizeof(*v));

        for (i = 0; i < s->nhosts; i++)
            v[i] = s->hosts[i].conn;
        hv_close_many(v, s->nhosts);
        free(v);
    }
    for (i = 0; i < s->nhosts; i++) {
        free(s->hosts[i].name);
        free(s->hosts[i].uri);
    }
    free(s->hosts);
    conf_free(s->conf);
    free(s);
}

void
session_keep(Session *s)
{
    s->kept = 1;
}

int
session_find_vm(Session *s, const char *ref, char uuid[37])
{
    UTIL_AUTOFREE char *name = util_xstrdup(ref);
    UtilBuf where = { 0 };
    char *at = strrchr(name, '@');
    const char *host = NULL;
    int found = -1, nfound = 0, unreachable = 0;
    ErrInfo why = { 0 };
    const char *why_host = NULL;
    size_t i;

    if (at && at != name && at[1]) {
        *at = '\0';
        host = at + 1;
    }
    for (i = 0; i < s->nhosts; i++) {
        HvDomain d;

        if (host && strcmp(s->hosts[i].name, host) != 0)
            continue;
        if (!s->hosts[i].conn || !hv_is_alive(s->hosts[i].conn)) {
            if (!s->hosts[i].conn || hv_reconnect(s->hosts[i].conn) < 0) {
                if (!unreachable++) {
                    err_save(&why);
                    why_host = s->hosts[i].name;
                }
                continue;
            }
        }
        if (hv_lookup(s->hosts[i].conn, name, 0, &d) == 0) {
            if (nfound++ == 0) {
                found = (int)i;
                util_strlcpy(uuid, d.uuid, 37);
            }
            util_buf_printf(&where, "%s%s@%s", where.len ? ", " : "", d.name, s->hosts[i].name);
            hv_domain_clear(&d);
        } else if (err_code() == RESULT_NOT_AVAILABLE) {
            if (!unreachable++) {
                err_save(&why);
                why_host = s->hosts[i].name;
            }
        }
    }
    if (host && found < 0 && !unreachable) {
        for (i = 0; i < s->nhosts && strcmp(s->hosts[i].name, host) != 0; i++)
            ;
        if (i == s->nhosts) {
            UtilBuf names = { 0 };
            for (i = 0; i < s->nhosts; i++)
                util_buf_printf(&names, "%s%s", i ? ", " : "", s->hosts[i].name);
            err_set(RESULT_INVALID_PARAMETER, "no host named %s (hosts: %s)", host,
                    names.s ? names.s : "none");
            util_buf_free(&names);
            util_buf_free(&where);
            return -1;
        }
    }
    if (nfound > 1) {
        err_set(RESULT_INVALID_PARAMETER, "%s exists on several hosts (%s): name one as VM@HOST",
                name, where.s);
        util_buf_free(&where);
        return -1;
    }
    util_buf_free(&where);
    if (found < 0) {
        if (unreachable) {
            /* With libvirt's reason for the first host, as virsh gives it. */
            if (why.code != RESULT_ACCESS_DENIED)
                why.code = RESULT_NOT_AVAILABLE;
            err_restore(&why);
            err_prefix("%s was not found and %d host(s) could not be reached (%s)", name,
                       unreachable, why_host);
        } else
            err_set(RESULT_INVALID_PARAMETER, "no VM named %s on %s", name,
                    host ? host : s->nhosts == 1 ? s->hosts[0].name : "any host");
        return -1;
    }
    err_clear();
    return found;
}
