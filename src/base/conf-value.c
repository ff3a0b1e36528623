/* SPDX-License-Identifier: GPL-2.0-or-later */
/* conf-value: one setting read from libconfig: FILE:LINE errors, types, strings, booleans, integers. */
#include <config.h>

#include "base/conf.h"

#include <ctype.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/conf-priv.h"
#include "base/err.h"
#include "base/result.h"
#include "base/util.h"

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

int
conf_get_bool(const ConfSrc *src, const config_setting_t *s, const char *key, int *out)
{
    if (config_setting_type(s) != CONFIG_TYPE_BOOL)
        return conf_type_error(src, s, key, "a boolean (true or false)");
    *out = config_setting_get_bool(s) ? 1 : 0;
    return 0;
}
