/* SPDX-License-Identifier: GPL-2.0-or-later */
/* replica-priv.h: what replica.c (the record in memory, messages),
 * replica-validate.c (the rules), replica-format.c (the writer) and
 * replica-parse.c and replica-parse-element.c (the XML reader: the parse and
 * its elements) share. */
#ifndef DROVER_REPLICA_PRIV_H
#define DROVER_REPLICA_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include <libxml/xmlstring.h>

#include "base/util.h"
#include "record/replica.h"

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

/* ---- the parser's state and its elements: replica-parse.c reads, ----
 * ---- replica-parse-element.c checks each element -------------------- */

/* What an open element holds. */
enum {
    RS_REPLICA,     /* the root: <mode>, <state>, <primary>, ... */
    RS_NUMBER,      /* <mode>, <state>: text only */
    RS_EMPTY,       /* <primary>: no element */
    RS_REPL,        /* <replication>: no element; numbers checked at its end */
    RS_POINTS,      /* <recovery-points>: <point> */
    RS_DISKS,       /* <point>, <failover>, <test-system>: <disk> */
    RS_JOURNAL,     /* <journal>: <create>, <remove> */
    RS_DISK,        /* one of those: <before> for a failover disk */
    RS_BEFORE,      /* text only */
};

/* The node the pending text belongs to: a tree keeps text and CDATA apart. */
enum { RS_NO_TEXT, RS_TEXT, RS_CDATA };

/* <replica><recovery-points><point><disk> and a child of that disk, which
 * is refused: nothing goes deeper. */
#define RS_DEPTH 5

typedef struct {
    int kind;
    const char *ctx;        /* names the element in messages about its children */
} ReplicaFrame;

typedef struct {
    int have;
    char msg[512];
} ReplicaXmlError;

/* SAX2's attributes: localname, prefix, URI, value, end of value. */
typedef struct {
    const xmlChar **v;
    int n;
} ReplicaAttrs;

typedef struct {
    ReplicaXmlError xe;
    int failed;             /* a check failed: its error is set */
    int dtd;                /* a document type declaration: the tree builds */
    int depth;              /* elements open */
    ReplicaFrame f[RS_DEPTH];
    Replica *r;
    int have_mode, have_state, have_primary, have_points;
    size_t cap_points;
    /* In <mode>, <state> and <before> all their text; elsewhere the open
     * text node's from its first non-blank character, for the message. */
    UtilBuf text;
    int text_kind;
    char num_ctx[32];
    const char *num_what;
    int num_max;
    int *num_out;
    /* The open <point>, <failover> or <test-system>: its disks. */
    char point_ctx[REPLICA_CTX_MAX];
    ReplicaDiskList *list;
    size_t list_cap;
    int with_before;
    size_t cap_create, cap_remove;
    /* The open disk. */
    char disk_ctx[REPLICA_CTX_MAX];
    ReplicaDiskList *disk_list;
    size_t *disk_cap;
    char *target, *file, *inode, *before;
    /* <replication>'s numbers, checked after its children. */
    char *interval, *points, *app;
    /* xml:id values, which libxml2's tree checks (its messages). */
    char **ids;
    size_t nids, cap_ids;
} ReplicaSax;

int replica_blank(char c);
/* label is "" for an element's text, "from " for an attribute. */
int replica_parse_small(const char *ctx, const char *label, const char *what, const char *s,
                        int max, int *out);
/* The root element: name, namespace, then the format, which decides how to
 * read everything else. */
int replica_root_start(ReplicaSax *s, const char *name, const xmlChar *uri, const ReplicaAttrs *a);
/* An element starts inside parent p. */
int replica_child_start(ReplicaSax *s, const ReplicaFrame *p, const char *name, const xmlChar *uri,
                        const ReplicaAttrs *a, ReplicaFrame *f);
/* A <disk>, <create> or <remove> ends, after its children. */
int replica_disk_end(ReplicaSax *s);
/* <replication> ends: its numbers come after its children. */
int replica_repl_end(ReplicaSax *s);
/* Ends the open text node.  Among elements, text that is not blank is
 * refused with all of it (trimmed) in the message. */
int replica_text_end(ReplicaSax *s);

#endif
