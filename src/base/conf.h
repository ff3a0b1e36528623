/* SPDX-License-Identifier: GPL-2.0-or-later */
/* conf: drover.conf (libconfig) loading and validation.
 *
 * Files are read in order: /etc/drover/drover.conf (SYSCONFDIR), then
 * $XDG_CONFIG_HOME/drover/drover.conf (or ~/.config/...), then --config FILE;
 * a later file overrides the settings it names.  A bad file is refused with
 * its path, line and what was expected, and nothing starts. */
#ifndef DROVER_CONF_H
#define DROVER_CONF_H

#include <stddef.h>

typedef enum {
    CONF_CONFIRM_TYPE_NAME = 0, /* type the VM name (default) */
    CONF_CONFIRM_YES_NO = 1,    /* answer yes */
} ConfConfirm;

typedef struct {
    char *name;                 /* shown in the console, "dr-b" */
    char *uri;                  /* "qemu:///system" */
    int readonly;
} ConfHost;

/* Per-primary (or per-replica) defaults of enable-replication's options:
 * one group of the "replication" list.  -1 or NULL: not set here. */
typedef struct {
    char *primary;              /* the primary's libvirt URI, or its host name */
    char *vm;                   /* the primary VM's name; NULL: every VM of that primary */
    int interval;               /* seconds */
    int points;
    int app_every;              /* seconds */
    char *nbd;                  /* "HOST:PORT" or "unix:PATH" */
    char *nbd_tls;              /* NBD over TLS: the client's certificate directory */
    char **netmap;              /* network_map: nnetmap "SRC=DST" entries (checked with
                                 * conf_netmap_parse); NULL: not set here, so an empty
                                 * list is set (no map, over the primary's group) */
    size_t nnetmap;
    char *netmap_from;          /* where network_map is: "FILE:LINE" */
} ConfRepl;

typedef struct {
    ConfHost *hosts;
    size_t nhosts;
    int refresh_interval;       /* seconds between full resyncs, 1..3600, default 5 */
    ConfConfirm confirm;
    int shutdown_timeout;       /* seconds of graceful shutdown before destroy, 0..3600, default 60 */
    int connect_timeout;        /* seconds a connect waits for a host to answer, 1..3600, default 30 */
    int require_reason;         /* mutations need --reason / a reason typed in the dialog */
    int rpo_warning;            /* seconds without a new RP before health is Warning, default 3600 */
    char *audit_log;            /* path; default under the state directory */
    char *job_history;          /* path of the JSON-lines job history */
    char *theme;                /* "default" or "mono" */
    int readonly;               /* global read-only (all hosts) */
    /* Defaults of enable-replication's options, and whether a cycle that
     * finds its checkpoint lost resynchronises by itself. */
    int repl_interval;          /* seconds, 0: on demand */
    int repl_points;            /* 0: all */
    int repl_app_every;         /* seconds, 0: never */
    int repl_auto_resync;
    ConfRepl *repls;            /* "replication": per primary or replica, over the above */
    size_t nrepls;
    /* The system file's read-only settings, a floor that user files and
     * options cannot lower (conf_load applies it; conf_host_readonly asks). */
    int readonly_floor;         /* the system file said readonly = true */
    ConfHost *floor_hosts;      /* its hosts with readonly = true */
    size_t nfloor_hosts;
    char **files;               /* the files conf_load read, in order */
    size_t nfiles;
} Conf;

/* Defaults: no hosts, paths under $XDG_STATE_HOME/drover (or
 * LOCALSTATEDIR/lib/drover and LOCALSTATEDIR/log/drover for root, from
 * configure's --localstatedir). */
Conf *conf_new_default(void);
/* Loads one file over conf.  Returns 0, or -1 with err set (32773) to
 * "FILE:LINE: what was expected".  A missing file is an error here; the
 * caller decides which files are optional. */
int conf_load_file(Conf *conf, const char *path);
/* Loads text (the contents of a file) over conf, as conf_load_file() does;
 * name stands for the file in messages ("NAME:LINE: ...") and its
 * directory is where @include looks ("<string>" and the working directory
 * when name is NULL). */
int conf_load_string(Conf *conf, const char *text, const char *name);
/* Loads the system and user files that exist, then explicit (if not NULL,
 * which must exist).  Returns NULL with err set. */
Conf *conf_load(const char *explicit_path);
/* Whether the system file's floor makes a host read-only: its global
 * readonly, or a read-only host of the same name or URI there. */
int conf_host_readonly(const Conf *conf, const char *name, const char *uri);
/* Adds a host (for -c URI); name defaults to the URI's host part. */
void conf_add_host(Conf *conf, const char *name, const char *uri, int readonly);
void conf_free(Conf *conf);
/* The first "replication" group whose primary is uri or its host (host:
 * NULL for a local URI) and that names VM vm, or, with vm NULL, that is for
 * the whole primary (names no VM).  NULL when none is. */
const ConfRepl *conf_repl_find(const Conf *conf, const char *uri, const char *host,
                               const char *vm);

/* One side of a failover network map entry. */
typedef struct {
    const char *type;           /* "network" or "bridge"; NULL: not given */
    char *name;
} ConfNetSide;
/* Splits a network map entry "SRC=DST" (enable-replication's
 * --network-map, drover.conf's network_map), each side "NAME",
 * "network:NAME" or "bridge:NAME".  Returns 0 with both sides set (the
 * caller frees their names with conf_net_side_clear), or -1 with err set
 * (32773, naming the entry; the caller adds where it came from). */
int conf_netmap_parse(const char *entry, ConfNetSide *from, ConfNetSide *to);
void conf_net_side_clear(ConfNetSide *side);

/* The setting names, types and defaults, for drover.conf(5) and --help. */
typedef struct {
    const char *name;
    const char *type;
    const char *def;
    const char *doc;
} ConfSetting;
const ConfSetting *conf_settings(void);     /* terminated by name == NULL */

#endif
