/* SPDX-License-Identifier: GPL-2.0-or-later */
/* replica: the <drover:replica format="1"> metadata element kept in each
 * replica domain's <metadata> (namespace urn:drover:replica:1).
 *
 * This module only parses, validates and formats; it touches no disk and no
 * libvirt.  All file paths in a valid record are clean absolute paths. */
#ifndef DROVER_REPLICA_H
#define DROVER_REPLICA_H

#include <stddef.h>
#include <stdint.h>

#define REPLICA_NS "urn:drover:replica:1"
#define REPLICA_PREFIX "drover"
#define REPLICA_ELEMENT "replica"
#define REPLICA_FORMAT 1
/* Larger documents are refused before parsing (32776). */
#define REPLICA_MAX_BYTES (1024 * 1024)
#define REPLICA_MAX_POINTS 1024
#define REPLICA_MAX_DISKS 64
/* A saved <disk> element (<failover><disk><before>) is at most this long. */
#define REPLICA_MAX_BEFORE (64 * 1024)

enum {
    RP_TYPE_STANDARD = 1,       /* "standard" */
    RP_TYPE_APP_CONSISTENT = 2, /* "app-consistent" */
    RP_TYPE_PLANNED = 3,        /* "planned" */
};

/* One disk's file in a point, failover, test system or journal. */
typedef struct {
    char *target;           /* "vda" */
    char *file;             /* absolute path */
    uint64_t inode;         /* 0 when not recorded (journal deletions record it) */
    char *before;           /* failover disks: the domain's <disk> element before the
                             * failover (XML text), which revert puts back; else NULL */
} ReplicaDisk;

typedef struct {
    ReplicaDisk *v;
    size_t n;
} ReplicaDiskList;

typedef struct {
    char *id;               /* "rp-0012" */
    int64_t time;           /* seconds since the epoch (UTC) */
    int type;               /* RP_TYPE_* */
    char *checkpoint;       /* the primary's checkpoint taken with it ("drover.3"), may be NULL */
    ReplicaDiskList disks;
} ReplicaPoint;

/* <replication>: how drover itself replicates this replica (src/repl/);
 * absent on replicas something else feeds. */
typedef struct {
    char *dir;              /* where its files live (also before the first point) */
    char *nbd;              /* the primary's NBD address, "HOST:PORT" or "unix:PATH" */
    int interval;           /* seconds between cycles, 0: only on demand */
    int points;             /* points kept, 0: all */
    int app_every;          /* seconds between application-consistent points, 0: never */
    char *tls;              /* NBD over TLS: the directory of the client's certificates, or NULL */
} ReplicaRepl;

typedef struct {
    char *point;            /* id of the point failed over to */
    int64_t time;
    char *by;               /* operator, may be NULL */
    ReplicaDiskList disks;  /* the failover overlays */
} ReplicaFailover;

typedef struct {
    char *domain;           /* "web01-test" */
    char *uuid;             /* may be NULL */
    char *point;
    int64_t time;
    char *nvram;            /* the test system's own copy of the replica's NVRAM, or NULL */
    ReplicaDiskList disks;  /* the test overlays */
} ReplicaTest;

/* An operation in flight: written before its first change, advanced by the
 * define that switches, removed when it is done. */
typedef struct {
    char *op;               /* state_op_name(): "failover", "revert", ... */
    char *job;              /* job id */
    char *step;             /* "prepared" (nothing switched yet) or "switched" */
    int64_t time;
    int from_state;
    int to_state;
    char *point;            /* may be NULL */
    char *domain;           /* test system the operation defines or removes, may be NULL */
    char *uuid;             /* its UUID, may be NULL */
    int flatten;            /* commit --flatten */
    ReplicaDiskList create; /* files the operation creates before the switch */
    ReplicaDiskList remove; /* files it deletes after the switch (with inode) */
} ReplicaJournal;

typedef struct {
    int format;             /* always REPLICA_FORMAT once parsed */
    int mode;
    int state;
    char *primary_host;     /* <primary host= uri= name=>, all may be NULL */
    char *primary_uri;
    char *primary_name;
    ReplicaPoint *points;   /* in document order: oldest first */
    size_t npoints;
    ReplicaFailover *failover;  /* NULL unless failed over */
    ReplicaTest *test;      /* NULL unless a test failover exists */
    ReplicaJournal *journal;    /* NULL unless an operation is in flight */
    ReplicaRepl *repl;          /* NULL unless drover replicates it */
} Replica;

/* Parses and validates a document of len bytes.  The root element is
 * <replica> in REPLICA_NS (with or without a prefix; libvirt's test driver
 * returns it unprefixed).  Returns NULL and sets err with RESULT_INCORRECT_TYPE
 * and a message naming the element or attribute at fault. */
Replica *replica_parse(const char *xml, size_t len);
/* Checks an in-memory record with the same rules as the parser. */
int replica_validate(const Replica *r);
/* Canonical text, prefixed "drover:" with the namespace declared on the root,
 * written by libxml2's writer.  NULL with err set (32776) when a value holds
 * what XML cannot (a control character, broken UTF-8): refused, not written. */
char *replica_format(const Replica *r);

Replica *replica_new(void);
Replica *replica_copy(const Replica *r);
void replica_free(Replica *r);
void replica_disk_list_clear(ReplicaDiskList *l);
void replica_disk_list_add(ReplicaDiskList *l, const char *target, const char *file, uint64_t inode);
void replica_disk_list_copy(ReplicaDiskList *dst, const ReplicaDiskList *src);
const ReplicaDisk *replica_disk_list_find(const ReplicaDiskList *l, const char *target);

const ReplicaPoint *replica_find_point(const Replica *r, const char *id);
/* The point with the latest time (ties: the later one in the document). */
const ReplicaPoint *replica_newest_point(const Replica *r);

/* The replica directory: where the newest point's first disk lives; new
 * files and the lock go there.  Before the first point, the <replication>
 * directory.  NULL when there is neither. */
char *replica_dir(const Replica *r);
/* The file whose OFD lock serialises operations on the replica with this
 * UUID (".drover-UUID.lock" in replica_dir); NULL when there is no point.
 * Every process must compute it the same way: this is the one place. */
char *replica_lock_path(const Replica *r, const char *uuid);

const char *replica_rp_type_name(int type);     /* "app-consistent" */
int replica_rp_type_from_name(const char *name);    /* -1 if unknown */

void replica_journal_free(ReplicaJournal *j);
void replica_failover_free(ReplicaFailover *f);
void replica_test_free(ReplicaTest *t);
void replica_repl_free(ReplicaRepl *p);

#endif
