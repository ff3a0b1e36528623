/* SPDX-License-Identifier: GPL-2.0-or-later */
/* conf-priv.h: what conf.c (the settings, the parser), conf-file.c
 * (reading files, @include checks), conf-value.c (one setting's value,
 * FILE:LINE errors), conf-hosts.c (the hosts list), conf-repl.c (the
 * replication groups) and conf-uri.c (URIs, the read-only floor, hosts
 * from the command line) share. */
#ifndef DROVER_CONF_PRIV_H
#define DROVER_CONF_PRIV_H

#include <stddef.h>

#include "base/conf.h"

/* A configuration file larger than this is certainly not one. */
#define CONF_MAX_SIZE (1024 * 1024)

/* libconfig's setting (<libconfig.h>, which the .c files include). */
struct config_setting_t;

/* The text being parsed. */
typedef struct {
    const char *path;           /* the file as the caller named it */
    char *dir;                  /* its directory, where @include looks */
    const char *text;           /* its contents */
} ConfSrc;

/* ---- conf.c ---- */

/* The range of the integer setting name: 0, or -1 when there is none. */
int conf_spec_range(const char *name, long long *min, long long *max);

/* ---- conf-value.c ---- */

/* The file a setting came from: the main file, or an @include'd one. */
char *conf_setting_file(const ConfSrc *src, const struct config_setting_t *s);
/* Sets the error (32773) "FILE:LINE: message" for setting s; returns -1. */
int conf_fail(const ConfSrc *src, const struct config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Refuses setting k of group key (s): "unknown setting", listing the valid
 * ones (keys, NULL-terminated) of that kind of group (what: "host").
 * Returns -1. */
int conf_fail_unknown(const ConfSrc *src, const struct config_setting_t *s, const char *key,
                      const char *k, const char *what, const char *const *keys);
/* libconfig's type as the messages name it ("an integer"). */
const char *conf_type_text(int type);
/* "KEY: expected WANT, found <s's type>"; returns -1. */
int conf_type_error(const ConfSrc *src, const struct config_setting_t *s, const char *key,
                    const char *want);
/* s as a string, or -1 with the error set. */
int conf_get_string(const ConfSrc *src, const struct config_setting_t *s, const char *key,
                    const char **out);
/* The integer literal of "key = literal" on s's line, as written (libconfig
 * wraps large ones): 1 with the value and text, 0 if not found. */
int conf_int_literal(const ConfSrc *src, const struct config_setting_t *s, const char *key,
                     long long *out, char *lit, size_t litsize);
/* s as a boolean (0 or 1), or -1 with the error set. */
int conf_get_bool(const ConfSrc *src, const struct config_setting_t *s, const char *key, int *out);

/* ---- conf-hosts.c ---- */

void conf_hosts_free(ConfHost *hosts, size_t n);
ConfHost *conf_hosts_copy(const ConfHost *src, size_t n);
/* Appends a host; takes name and uri. */
void conf_host_add(ConfHost **hosts, size_t *nhosts, char *name, char *uri, int readonly);
/* Replaces conf's hosts with the list in s. */
int conf_parse_hosts(Conf *conf, const ConfSrc *src, const struct config_setting_t *s);

/* ---- conf-file.c ---- */

/* The file libconfig opens for "@include NAME": DIR/NAME, even when NAME
 * is absolute. */
char *conf_include_path(const char *dir, const char *name);
/* Reads path whole: 1 with *text set, 0 when the file does not exist and
 * optional is set, -1 with err set. */
int conf_read_text(const char *path, int optional, char **text);
/* Refuses text (the contents of path) when a file it would @include from
 * dir is not a regular file or cannot be read: libconfig would exit the
 * process or block on it. */
int conf_check_includes(const char *dir, const char *text, const char *path);

/* ---- conf-repl.c ---- */

void conf_repls_free(ConfRepl *r, size_t n);
ConfRepl *conf_repls_copy(const ConfRepl *src, size_t n);
/* Replaces conf's replication groups with the list in s. */
int conf_parse_repls(Conf *conf, const ConfSrc *src, const struct config_setting_t *s);

/* ---- conf-uri.c ---- */

/* Records what the system file (just loaded) made read-only. */
void conf_set_floor(Conf *conf);
/* Raises conf's settings to the floor after the other files. */
void conf_apply_floor(Conf *conf);

#endif
