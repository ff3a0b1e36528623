/* SPDX-License-Identifier: GPL-2.0-or-later */
/* replica-priv.h: what replica.c (the record in memory, messages),
 * replica-validate.c (the rules), replica-format.c (the writer) and
 * replica-parse.c (the XML reader) share. */
#ifndef DROVER_REPLICA_PRIV_H
#define DROVER_REPLICA_PRIV_H

#include <stddef.h>
#include <stdint.h>

/* Free-text attributes (host, uri, operator, domain name). */
#define REPLICA_MAX_TEXT 1024
/* Identifiers: point ids, disk targets, job ids. */
#define REPLICA_MAX_ID 64
#define REPLICA_MAX_PATH 4095
/* A commit may delete every point but one, each with all its disks. */
#define REPLICA_MAX_JOURNAL_FILES (REPLICA_MAX_POINTS * REPLICA_MAX_DISKS)
/* 9999-12-31T23:59:59Z: the last time the 4-digit year format can write. */
#define REPLICA_MAX_TIME INT64_C(253402300799)
#define REPLICA_CTX_MAX 512

/* Sets a 32776 error and returns -1, so checks read "return replica_bad()". */
int replica_bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A value for a message: control characters shown as '?', cut when long. */
char *replica_show(const char *s);
/* replica_show(s), freeing s. */
char *replica_show_free(char *s);
/* "<point id="rp-0003">" (or "#N" when it has no id) for messages. */
void replica_point_ctx(char *buf, size_t size, const char *id, size_t idx);
void replica_disk_ctx(char *buf, size_t size, const char *ctx, const char *elem,
                      const char *target, size_t idx);
/* Strict UTF-8 (no overlong forms, surrogates, U+FFFE/U+FFFF): what the
 * rules accept and the writer writes (replica-validate.c). */
int replica_utf8_ok(const char *str);

#endif
