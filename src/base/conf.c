/* SPDX-License-Identifier: GPL-2.0-or-later */
/* conf: drover.conf (libconfig): the table of settings, their defaults,
 * the parser and the order of the files.  Reading a file and its
 * @include checks are in conf-file.c, the replication groups in
 * conf-repl.c, URIs and the read-only floor in conf-uri.c. */
#include <config.h>

#include "base/conf.h"
#include "base/conf-priv.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"

typedef enum {
    CONF_KIND_HOSTS,            /* list of host groups */
    CONF_KIND_REPLS,            /* list of per-primary replication groups */
    CONF_KIND_INT,              /* int field, range min..max */
    CONF_KIND_BOOL,             /* int field, 0 or 1 */
    CONF_KIND_ENUM,             /* string from choices, stored as its index (int field) */
    CONF_KIND_CHOICE,           /* string from choices, stored as a copy (char * field) */
    CONF_KIND_PATH,             /* absolute path, stored as a copy (char * field) */
} ConfKind;

typedef struct {
    const char *name;
    ConfKind kind;
    size_t offset;              /* of the field in Conf */
    long long min, max;         /* INT */
    const char *const *choices; /* ENUM, CHOICE: NULL-terminated */
    long long def;              /* INT, BOOL, ENUM (index into choices) */
    const char *def_text;       /* CHOICE: the default; PATH: root's default under LOCALSTATEDIR */
    const char *doc;
} ConfSpec;

static const char *const conf_confirm_choices[] = { "type-name", "yes-no", NULL };
static const char *const conf_theme_choices[] = { "default", "mono", NULL };
static const char *const conf_host_keys[] = { "name", "uri", "readonly", NULL };

/* The one list of settings: the parser, the defaults, the copy and free
 * code and conf_settings() (hence drover.conf(5)) all walk it. */
static const ConfSpec conf_specs[] = {
    { "hosts", CONF_KIND_HOSTS, 0, 0, 0, NULL, 0, NULL,
      "libvirt hosts to show, each { name = \"dr-b\"; uri = \"qemu+ssh://dr-b/system\"; "
      "readonly = false; }: name is unique and has no whitespace, readonly is optional; "
      "a later file replaces the whole list" },
    { "refresh_interval", CONF_KIND_INT, offsetof(Conf, refresh_interval), 1, 3600, NULL, 5, NULL,
      "seconds between full resyncs of every host (libvirt events bring changes in between)" },
    { "confirm", CONF_KIND_ENUM, offsetof(Conf, confirm), 0, 0, conf_confirm_choices,
      CONF_CONFIRM_TYPE_NAME, NULL,
      "how the console confirms an operation: type-name (type the VM's name) or yes-no" },
    { "shutdown_timeout", CONF_KIND_INT, offsetof(Conf, shutdown_timeout), 0, 3600, NULL, 60, NULL,
      "seconds a running VM gets to shut down gracefully before it is destroyed (0: at once)" },
    { "connect_timeout", CONF_KIND_INT, offsetof(Conf, connect_timeout), 1, 3600, NULL, 30, NULL,
      "seconds drover waits for a host to answer its connect before it reports the host as not "
      "answering (32777) and goes on without it; a host that hangs after the connect is noticed "
      "by libvirt's keepalive instead" },
    { "require_reason", CONF_KIND_BOOL, offsetof(Conf, require_reason), 0, 0, NULL, 0, NULL,
      "mutating operations need a reason (--reason, or typed in the dialog), kept in the audit log" },
    { "rpo_warning", CONF_KIND_INT, offsetof(Conf, rpo_warning), 60, 31536000, NULL, 3600, NULL,
      "seconds without a new recovery point before a replica's health becomes Warning" },
    { "audit_log", CONF_KIND_PATH, offsetof(Conf, audit_log), 0, 0, NULL, 0,
      "log/drover/audit.log",
      "audit log: one JSON line per mutating operation" },
    { "job_history", CONF_KIND_PATH, offsetof(Conf, job_history), 0, 0, NULL, 0,
      "lib/drover/jobs.jsonl",
      "job history: one JSON line per finished job" },
    { "theme", CONF_KIND_CHOICE, offsetof(Conf, theme), 0, 0, conf_theme_choices, 0, "default",
      "console colours: default, or mono (no colour)" },
    { "replication_interval", CONF_KIND_INT, offsetof(Conf, repl_interval), 0, 31536000, NULL, 0,
      NULL, "seconds between replication cycles for enable-replication without --interval "
      "(0: on demand only)" },
    { "replication_points", CONF_KIND_INT, offsetof(Conf, repl_points), 0, 1000, NULL, 0, NULL,
      "recovery points kept for enable-replication without --points (0: all)" },
    { "replication_app_consistent_every", CONF_KIND_INT, offsetof(Conf, repl_app_every), 0,
      31536000, NULL, 0, NULL,
      "seconds between application-consistent points for enable-replication without "
      "--app-consistent-every (0: never)" },
    { "replication_auto_resync", CONF_KIND_BOOL, offsetof(Conf, repl_auto_resync), 0, 0, NULL, 0,
      NULL, "a replication cycle (replicate VM, --due, --watch) that finds the changes since the "
      "newest point unknown (checkpoint lost) runs drover resync by itself instead of refusing; "
      "the resync deletes the older points" },
    { "replication", CONF_KIND_REPLS, 0, 0, 0, NULL, 0, NULL,
      "per-primary defaults of enable-replication's options, over the replication_* ones, each "
      "{ primary = \"prod-a\"; vm = \"db01\"; interval = 300; points = 12; "
      "app_consistent_every = 14400; nbd = \"10.0.0.5:10809\"; nbd_tls = \"/etc/pki/drover\"; "
      "network_map = [ \"prodnet=drnet\", \"bridge:br-prod=br-dr\" ]; }: primary (required) is the "
      "--from URI or its host name, vm (optional, the primary VM's name as enable-replication "
      "names it) makes it per replica; the others are optional, in seconds as the "
      "replication_* settings, nbd as --nbd, nbd_tls the directory of the client's certificates "
      "(ca-cert.pem, client-cert.pem, client-key.pem) for NBD over TLS, network_map a list of "
      "--network-map entries SRC=DST (each side NAME, network:NAME or bridge:NAME) that "
      "move the replica's interfaces to the DR site's networks or bridges (an entry no "
      "interface of the VM uses is left unused; an empty list is no map); each setting "
      "comes from the replica's group, else the primary's, else replication_*; "
      "command-line options win (any --network-map replaces the whole network_map); a later "
      "file replaces the whole list" },
    { "readonly", CONF_KIND_BOOL, offsetof(Conf, readonly), 0, 0, NULL, 0, NULL,
      "open every host read-only and disable every mutating operation; set in the system file "
      "(as a host's readonly there), user files, --config and -c cannot lower it" },
};

#define CONF_NSPECS (sizeof(conf_specs) / sizeof(conf_specs[0]))

#define CONF_INT_FIELD(conf, sp) ((int *)(void *)((char *)(conf) + (sp)->offset))
#define CONF_STR_FIELD(conf, sp) ((char **)(void *)((char *)(conf) + (sp)->offset))

static int
conf_kind_is_string(ConfKind kind)
{
    return kind == CONF_KIND_CHOICE || kind == CONF_KIND_PATH;
}

int
conf_spec_range(const char *name, long long *min, long long *max)
{
    size_t i;

    for (i = 0; i < CONF_NSPECS; i++) {
        if (strcmp(conf_specs[i].name, name) == 0) {
            *min = conf_specs[i].min;
            *max = conf_specs[i].max;
            return 0;
        }
    }
    return -1;
}

/* ---- conf_settings() ---- */

static ConfSetting conf_pub[CONF_NSPECS + 1];
static char conf_pub_type[CONF_NSPECS][128];
static char conf_pub_def[CONF_NSPECS][160];
static pthread_once_t conf_pub_once = PTHREAD_ONCE_INIT;

static void
conf_choices_text(const char *const *choices, const char *sep, char *buf, size_t size)
{
    UtilBuf b = { 0 };
    size_t i;

    for (i = 0; choices[i]; i++) {
        if (i)
            util_buf_add(&b, choices[i + 1] ? ", " : sep);
        util_buf_printf(&b, "\"%s\"", choices[i]);
    }
    util_strlcpy(buf, b.s ? b.s : "", size);
    util_buf_free(&b);
}

static const char *
conf_basename(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash ? slash + 1 : path;
}

static void
conf_pub_build(void)
{
    size_t i;

    for (i = 0; i < CONF_NSPECS; i++) {
        const ConfSpec *sp = &conf_specs[i];
        char *type = conf_pub_type[i];
        char *def = conf_pub_def[i];
        size_t tsz = sizeof(conf_pub_type[i]), dsz = sizeof(conf_pub_def[i]);
        char choices[96];

        switch (sp->kind) {
        case CONF_KIND_HOSTS:
        case CONF_KIND_REPLS:
            snprintf(type, tsz, "list of groups");
            snprintf(def, dsz, "()");
            break;
        case CONF_KIND_INT:
            snprintf(type, tsz, "integer, %lld..%lld", sp->min, sp->max);
            snprintf(def, dsz, "%lld", sp->def);
            break;
        case CONF_KIND_BOOL:
            snprintf(type, tsz, "boolean");
            snprintf(def, dsz, "%s", sp->def ? "true" : "false");
            break;
        case CONF_KIND_ENUM:
        case CONF_KIND_CHOICE:
            conf_choices_text(sp->choices, " or ", choices, sizeof(choices));
            snprintf(type, tsz, "string: %s", choices);
            snprintf(def, dsz, "\"%s\"",
                     sp->kind == CONF_KIND_ENUM ? sp->choices[sp->def] : sp->def_text);
            break;
        case CONF_KIND_PATH:
            snprintf(type, tsz, "string: absolute path");
            /* The manual is the same for every build: it names /var, what
             * packages pass as configure's --localstatedir. */
            snprintf(def, dsz, "\"$XDG_STATE_HOME/drover/%s\" (root: \"/var/%s\" when built with "
                     "--localstatedir=/var)",
                     conf_basename(sp->def_text), sp->def_text);
            break;
        }
        conf_pub[i].name = sp->name;
        conf_pub[i].type = type;
        conf_pub[i].def = def;
        conf_pub[i].doc = sp->doc;
    }
}

const ConfSetting *
conf_settings(void)
{
    pthread_once(&conf_pub_once, conf_pub_build);
    return conf_pub;
}

/* ---- defaults ---- */

/* $HOME, or the password database's home when it is unset; NULL if neither
 * gives an absolute path. */
static char *
conf_home(void)
{
    const char *home = getenv("HOME");
    struct passwd pw, *res = NULL;
    char buf[4096];

    if (home && home[0] == '/')
        return util_xstrdup(home);
    if (getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &res) == 0 && res &&
        res->pw_dir && res->pw_dir[0] == '/')
        return util_xstrdup(res->pw_dir);
    return NULL;
}

/* $VAR if it is absolute (the XDG spec says to ignore relative values),
 * else $HOME/fallback; trailing slashes removed.  NULL without a home. */
static char *
conf_xdg_dir(const char *var, const char *fallback)
{
    const char *v = getenv(var);
    char *dir;
    size_t n;

    if (v && v[0] == '/') {
        dir = util_xstrdup(v);
    } else {
        char *home = conf_home();

        if (!home)
            return NULL;
        dir = util_xasprintf("%s/%s", home, fallback);
        free(home);
    }
    n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        dir[--n] = '\0';
    return dir;
}

static char *
conf_default_path(const ConfSpec *sp)
{
    char *state;
    char *path;

    if (geteuid() == 0)
        return util_xasprintf("%s/%s", LOCALSTATEDIR, sp->def_text);
    state = conf_xdg_dir("XDG_STATE_HOME", ".local/state");
    /* Without any home directory there is no per-user place: fall back
     * to /tmp rather than failing to start. */
    path = util_xasprintf("%s/drover/%s", state ? state : "/tmp", conf_basename(sp->def_text));
    free(state);
    return path;
}

Conf *
conf_new_default(void)
{
    Conf *conf = util_xcalloc(1, sizeof(*conf));
    size_t i;

    for (i = 0; i < CONF_NSPECS; i++) {
        const ConfSpec *sp = &conf_specs[i];

        switch (sp->kind) {
        case CONF_KIND_HOSTS:
        case CONF_KIND_REPLS:
            break;
        case CONF_KIND_INT:
        case CONF_KIND_BOOL:
        case CONF_KIND_ENUM:
            *CONF_INT_FIELD(conf, sp) = (int)sp->def;
            break;
        case CONF_KIND_CHOICE:
            *CONF_STR_FIELD(conf, sp) = util_xstrdup(sp->def_text);
            break;
        case CONF_KIND_PATH:
            *CONF_STR_FIELD(conf, sp) = conf_default_path(sp);
            break;
        }
    }
    return conf;
}

/* ---- copy and free ---- */

static void
conf_hosts_free(ConfHost *hosts, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(hosts[i].name);
        free(hosts[i].uri);
    }
    free(hosts);
}

/* Frees what conf owns, not conf itself. */
static void
conf_clear(Conf *conf)
{
    size_t i;

    conf_hosts_free(conf->hosts, conf->nhosts);
    conf->hosts = NULL;
    conf->nhosts = 0;
    conf_repls_free(conf->repls, conf->nrepls);
    conf->repls = NULL;
    conf->nrepls = 0;
    conf_hosts_free(conf->floor_hosts, conf->nfloor_hosts);
    conf->floor_hosts = NULL;
    conf->nfloor_hosts = 0;
    for (i = 0; i < conf->nfiles; i++)
        free(conf->files[i]);
    free(conf->files);
    conf->files = NULL;
    conf->nfiles = 0;
    for (i = 0; i < CONF_NSPECS; i++) {
        if (conf_kind_is_string(conf_specs[i].kind)) {
            char **field = CONF_STR_FIELD(conf, &conf_specs[i]);

            free(*field);
            *field = NULL;
        }
    }
}

static ConfHost *
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

static void
conf_copy(Conf *dst, const Conf *src)
{
    size_t i;

    *dst = *src;
    dst->hosts = conf_hosts_copy(src->hosts, src->nhosts);
    dst->floor_hosts = conf_hosts_copy(src->floor_hosts, src->nfloor_hosts);
    dst->repls = conf_repls_copy(src->repls, src->nrepls);
    dst->files = util_xcalloc(src->nfiles ? src->nfiles : 1, sizeof(*dst->files));
    for (i = 0; i < src->nfiles; i++)
        dst->files[i] = util_xstrdup(src->files[i]);
    for (i = 0; i < CONF_NSPECS; i++) {
        if (conf_kind_is_string(conf_specs[i].kind)) {
            char **field = CONF_STR_FIELD(dst, &conf_specs[i]);

            *field = util_xstrdup(*field);
        }
    }
}

void
conf_free(Conf *conf)
{
    if (!conf)
        return;
    conf_clear(conf);
    free(conf);
}

/* ---- parsing ---- */

/* The file a setting came from: the main file, or an @include'd one
 * (libconfig names those as written). */
char *
conf_setting_file(const ConfSrc *src, const config_setting_t *s)
{
    const char *f = config_setting_source_file(s);

    if (!f)
        return util_xstrdup(src->path);
    return conf_include_path(src->dir, f);
}

/* Sets the error "FILE:LINE: message" for setting s; returns -1. */
int
conf_fail(const ConfSrc *src, const config_setting_t *s, const char *fmt, ...)
{
    va_list ap;
    char *file = conf_setting_file(src, s);
    char *msg;

    va_start(ap, fmt);
    msg = util_xvasprintf(fmt, ap);
    va_end(ap);
    err_set(RESULT_INVALID_PARAMETER, "%s:%u: %s", file, config_setting_source_line(s), msg);
    free(msg);
    free(file);
    return -1;
}

int
conf_fail_unknown(const ConfSrc *src, const config_setting_t *s, const char *key, const char *k,
                  const char *what, const char *const *keys)
{
    UtilBuf valid = { 0 };
    size_t j;
    int rc;

    for (j = 0; keys[j]; j++)
        util_buf_printf(&valid, "%s%s", j ? ", " : "", keys[j]);
    rc = conf_fail(src, s, "%s: unknown setting \"%s\" (valid %s settings: %s)", key, k, what,
                   valid.s);
    util_buf_free(&valid);
    return rc;
}

const char *
conf_type_text(int type)
{
    switch (type) {
    case CONFIG_TYPE_GROUP:
        return "a group";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return "an integer";
    case CONFIG_TYPE_FLOAT:
        return "a floating-point number";
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_BOOL:
        return "a boolean";
    case CONFIG_TYPE_ARRAY:
        return "an array";
    case CONFIG_TYPE_LIST:
        return "a list";
    default:
        return "nothing";
    }
}

int
conf_type_error(const ConfSrc *src, const config_setting_t *s, const char *key, const char *want)
{
    return conf_fail(src, s, "%s: expected %s, found %s", key, want,
                     conf_type_text(config_setting_type(s)));
}

static int
conf_is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '*';
}

/* libconfig 1.5 reads an integer literal without the L suffix into an int
 * and silently wraps larger values (4294967301 reads as 5), which would
 * let an absurd value pass the range check.  So find "key = literal" on
 * the setting's line of the main file and parse the literal ourselves.
 * Returns 1 and the value (saturated) and literal text, or 0 if not found. */
int
conf_int_literal(const ConfSrc *src, const config_setting_t *s, const char *key,
                 long long *out, char *lit, size_t litsize)
{
    const char *p = src->text, *end, *q;
    unsigned line = config_setting_source_line(s);
    size_t klen = strlen(key);

    if (config_setting_source_file(s) || line == 0)
        return 0;
    while (--line > 0 && p) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    if (!p)
        return 0;
    end = strchr(p, '\n');
    if (!end)
        end = p + strlen(p);
    for (q = p; q + klen <= end; q++) {
        const char *v = q + klen, *digits;
        unsigned long long acc = 0;
        int neg = 0, base = 10, over = 0;

        if (memcmp(q, key, klen) != 0 || (q > p && conf_is_name_char(q[-1])) ||
            conf_is_name_char(*v))
            continue;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        if (v >= end || (*v != '=' && *v != ':'))
            continue;
        v++;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        digits = v;
        if (v < end && (*v == '-' || *v == '+'))
            neg = *v++ == '-';
        if (v + 1 < end && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
            base = 16;
            v += 2;
        }
        if (v >= end || !isxdigit((unsigned char)*v) || (base == 10 && !isdigit((unsigned char)*v)))
            continue;
        for (; v < end && isxdigit((unsigned char)*v); v++) {
            unsigned d = isdigit((unsigned char)*v) ? (unsigned)(*v - '0')
                                                   : (unsigned)(tolower((unsigned char)*v) - 'a' + 10);

            if (base == 10 && d > 9)
                break;
            if (acc > (ULLONG_MAX - d) / (unsigned)base)
                over = 1;
            else
                acc = acc * (unsigned)base + d;
        }
        if (over || acc > (unsigned long long)LLONG_MAX)
            *out = neg ? LLONG_MIN : LLONG_MAX;
        else
            *out = neg ? -(long long)acc : (long long)acc;
        util_strlcpy(lit, digits, (size_t)(v - digits) + 1 < litsize ? (size_t)(v - digits) + 1 : litsize);
        return 1;
    }
    return 0;
}

int
conf_get_string(const ConfSrc *src, const config_setting_t *s, const char *key, const char **out)
{
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return conf_type_error(src, s, key, "a string");
    *out = config_setting_get_string(s);
    return 0;
}

static int
conf_get_bool(const ConfSrc *src, const config_setting_t *s, const char *key, int *out)
{
    if (config_setting_type(s) != CONFIG_TYPE_BOOL)
        return conf_type_error(src, s, key, "a boolean (true or false)");
    *out = config_setting_get_bool(s) ? 1 : 0;
    return 0;
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
static int
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

static int
conf_apply(Conf *conf, const ConfSrc *src, const ConfSpec *sp, const config_setting_t *s)
{
    const char *str = NULL;
    long long v;
    char lit[64];
    size_t i;
    int b = 0;

    switch (sp->kind) {
    case CONF_KIND_HOSTS:
        return conf_parse_hosts(conf, src, s);
    case CONF_KIND_REPLS:
        return conf_parse_repls(conf, src, s);
    case CONF_KIND_INT:
        if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64)
            return conf_type_error(src, s, sp->name, "an integer");
        v = config_setting_get_int64(s);
        if (config_setting_type(s) != CONFIG_TYPE_INT ||
            !conf_int_literal(src, s, sp->name, &v, lit, sizeof(lit)))
            snprintf(lit, sizeof(lit), "%lld", v);
        if (v < sp->min || v > sp->max)
            return conf_fail(src, s, "%s: %s is out of range %lld..%lld", sp->name, lit,
                             sp->min, sp->max);
        *CONF_INT_FIELD(conf, sp) = (int)v;
        return 0;
    case CONF_KIND_BOOL:
        if (conf_get_bool(src, s, sp->name, &b) < 0)
            return -1;
        *CONF_INT_FIELD(conf, sp) = b;
        return 0;
    case CONF_KIND_ENUM:
    case CONF_KIND_CHOICE:
        if (conf_get_string(src, s, sp->name, &str) < 0)
            return -1;
        for (i = 0; sp->choices[i]; i++)
            if (strcmp(sp->choices[i], str) == 0)
                break;
        if (!sp->choices[i]) {
            char choices[96];

            conf_choices_text(sp->choices, " or ", choices, sizeof(choices));
            return conf_fail(src, s, "%s: expected %s, found \"%s\"", sp->name, choices, str);
        }
        if (sp->kind == CONF_KIND_ENUM) {
            *CONF_INT_FIELD(conf, sp) = (int)i;
        } else {
            free(*CONF_STR_FIELD(conf, sp));
            *CONF_STR_FIELD(conf, sp) = util_xstrdup(str);
        }
        return 0;
    case CONF_KIND_PATH:
        if (conf_get_string(src, s, sp->name, &str) < 0)
            return -1;
        if (!util_path_is_clean_absolute(str) || str[strlen(str) - 1] == '/')
            return conf_fail(src, s, "%s: expected an absolute file path (no '.', '..' or '//'), "
                             "found \"%s\"", sp->name, str);
        free(*CONF_STR_FIELD(conf, sp));
        *CONF_STR_FIELD(conf, sp) = util_xstrdup(str);
        return 0;
    }
    return conf_fail(src, s, "%s: internal error: unknown kind", sp->name);
}

static int
conf_apply_root(Conf *conf, const ConfSrc *src, const config_setting_t *root)
{
    int n = config_setting_length(root), i;

    for (i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const char *key = config_setting_name(s);
        size_t j;

        for (j = 0; j < CONF_NSPECS; j++)
            if (strcmp(conf_specs[j].name, key) == 0)
                break;
        if (j == CONF_NSPECS) {
            UtilBuf valid = { 0 };
            int rc;

            for (j = 0; j < CONF_NSPECS; j++)
                util_buf_printf(&valid, "%s%s", j ? ", " : "", conf_specs[j].name);
            rc = conf_fail(src, s, "unknown setting \"%s\" (valid settings: %s)", key, valid.s);
            util_buf_free(&valid);
            return rc;
        }
        if (conf_apply(conf, src, &conf_specs[j], s) < 0)
            return -1;
    }
    return 0;
}

/* Parses text, the contents of path, over conf; @include looks in path's
 * directory.  conf changes only when the whole text is valid. */
static int
conf_load_text(Conf *conf, const char *text, const char *path)
{
    ConfSrc src = { path, NULL, text };
    config_t cfg;
    Conf tmp;
    int rc;

    src.dir = util_dirname(path);
    if (conf_check_includes(src.dir, text, path) < 0) {
        free(src.dir);
        return -1;
    }
    config_init(&cfg);
    config_set_include_dir(&cfg, src.dir);
    if (!config_read_string(&cfg, text)) {
        const char *efile = config_error_file(&cfg);
        char *file = efile ? conf_include_path(src.dir, efile) : util_xstrdup(path);

        err_set(RESULT_INVALID_PARAMETER, "%s:%d: %s", file, config_error_line(&cfg),
                config_error_text(&cfg));
        free(file);
        rc = -1;
        goto out;
    }
    conf_copy(&tmp, conf);
    if (conf_apply_root(&tmp, &src, config_root_setting(&cfg)) < 0) {
        conf_clear(&tmp);
        rc = -1;
        goto out;
    }
    conf_clear(conf);
    *conf = tmp;
    rc = 0;

out:
    config_destroy(&cfg);
    free(src.dir);
    return rc;
}

/* Loads path over conf: 1 when loaded; a missing file is skipped (returns
 * 0) when optional.  conf changes only when the whole file is valid. */
static int
conf_load_path(Conf *conf, const char *path, int optional)
{
    char *text = NULL;
    int rc;

    rc = conf_read_text(path, optional, &text);
    if (rc <= 0)
        return rc;
    rc = conf_load_text(conf, text, path);
    free(text);
    return rc < 0 ? -1 : 1;
}

int
conf_load_string(Conf *conf, const char *text, const char *name)
{
    size_t len;

    if (!name || !*name)
        name = "<string>";
    if (!text) {
        err_set(RESULT_INVALID_PARAMETER, "%s: no configuration text", name);
        return -1;
    }
    /* The same bound as for a file. */
    len = strnlen(text, (size_t)CONF_MAX_SIZE + 1);
    if (len > CONF_MAX_SIZE) {
        err_set(RESULT_INVALID_PARAMETER, "%s: larger than %d bytes: not a configuration file",
                name, CONF_MAX_SIZE);
        return -1;
    }
    return conf_load_text(conf, text, name);
}

int
conf_load_file(Conf *conf, const char *path)
{
    return conf_load_path(conf, path, 0) < 0 ? -1 : 0;
}

static void
conf_note_file(Conf *conf, const char *path)
{
    conf->files = util_xrealloc(conf->files, (conf->nfiles + 1) * sizeof(*conf->files));
    conf->files[conf->nfiles++] = util_xstrdup(path);
}

Conf *
conf_load(const char *explicit_path)
{
    Conf *conf = conf_new_default();
    /* DROVER_SYSCONFDIR replaces SYSCONFDIR (normally /etc) so tests and
     * unprivileged installs can point at their own system file. */
    const char *sysdir = getenv("DROVER_SYSCONFDIR");
    char *sys, *user = NULL, *cfgdir;
    int rc;

    if (!sysdir || !*sysdir)
        sysdir = SYSCONFDIR;
    sys = util_xasprintf("%s/drover/drover.conf", sysdir);
    cfgdir = conf_xdg_dir("XDG_CONFIG_HOME", ".config");
    if (cfgdir)
        user = util_xasprintf("%s/drover/drover.conf", cfgdir);
    rc = conf_load_path(conf, sys, 1);
    if (rc > 0)
        conf_note_file(conf, sys);
    if (rc >= 0)
        conf_set_floor(conf);
    if (rc >= 0 && user && (rc = conf_load_path(conf, user, 1)) > 0)
        conf_note_file(conf, user);
    if (rc >= 0 && explicit_path && (rc = conf_load_path(conf, explicit_path, 0)) > 0)
        conf_note_file(conf, explicit_path);
    if (rc >= 0)
        conf_apply_floor(conf);
    free(sys);
    free(user);
    free(cfgdir);
    if (rc < 0) {
        conf_free(conf);
        return NULL;
    }
    return conf;
}

/* ---- hosts from the command line ---- */
