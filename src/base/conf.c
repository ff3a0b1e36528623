/* SPDX-License-Identifier: GPL-2.0-or-later */
/* conf: drover.conf (libconfig): the table of settings, their defaults,
 * the parser and the order of the files (its other parts: conf-priv.h). */
#include <config.h>

#include "base/conf.h"
#include "base/conf-priv.h"

#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <pthread.h>
#include <pwd.h>
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
