/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-replica: what its source files share (the documents' building blocks,
 * the helpers in test-replica.c and each file's test functions, called from
 * main in test-replica.c). */
#ifndef DROVER_TEST_REPLICA_H
#define DROVER_TEST_REPLICA_H

#include <stddef.h>

#include "record/replica.h"

#define NS "urn:drover:replica:1"
#define HEAD "<drover:replica xmlns:drover=\"" NS "\" format=\"1\">\n"
#define TAIL "</drover:replica>\n"
#define MS(m, s) "  <drover:mode>" m "</drover:mode>\n  <drover:state>" s "</drover:state>\n"
#define DISK(t, f) "<drover:disk target=\"" t "\" file=\"" f "\"/>"
#define PT(id, tm, type, disks) \
    "<drover:point id=\"" id "\" time=\"" tm "\" type=\"" type "\">" disks "</drover:point>\n"
#define RPS(x) "  <drover:recovery-points>\n" x "  </drover:recovery-points>\n"
#define T1 "2026-11-24T08:00:00Z"
#define T2 "2026-11-24T09:00:00Z"
#define P11 PT("rp-0011", T1, "standard", DISK("vda", "/r/vda.11") DISK("vdb", "/r/vdb.11"))
#define P12 PT("rp-0012", T2, "app-consistent", DISK("vda", "/r/vda.12") DISK("vdb", "/r/vdb.12"))
#define FO(attrs, disks) "  <drover:failover " attrs ">" disks "</drover:failover>\n"
#define FO_OK FO("point=\"rp-0011\" time=\"" T2 "\"", DISK("vda", "/r/vda.fo") DISK("vdb", "/r/vdb.fo"))
#define TS(attrs, disks) "  <drover:test-system " attrs ">" disks "</drover:test-system>\n"
#define JN(attrs, kids) "  <drover:journal " attrs ">" kids "</drover:journal>\n"
#define JN_ATTRS(op, step) \
    "op=\"" op "\" job=\"job-1\" step=\"" step "\" time=\"" T2 "\" from=\"5\" to=\"3\""

#define REFUSED(xml, want, name) refused((xml), strlen(xml), (want), (name))

/* The full record's canonical text (test-replica-roundtrip.c). */
extern const char full_text[];

/* Helpers (test-replica.c). */
int disk_lists_same(const ReplicaDiskList *a, const ReplicaDiskList *b);
const char *replica_diff(const Replica *a, const Replica *b);
Replica *parse_str(const char *xml);
void check_round_trip(const Replica *r, const char *name);
void refused(const char *xml, size_t len, const char *want, const char *name);
void invalid(const Replica *r, const char *want, const char *name);
Replica *make_full(void);

/* Round trips (test-replica-roundtrip.c). */
void test_minimal(void);
void test_full(void);
void test_format_refuses(void);
void test_escaping(void);
void test_accepted_variants(void);
void test_size_limit(void);
void test_replication(void);

/* Refusals (test-replica-refused.c). */
void test_refused_structure(void);
void test_refused_numbers(void);
void test_refused_points(void);
void test_refused_failover(void);
void test_before_and_nvram(void);
void test_refused_journal(void);
void test_too_many_points(void);

/* Validate, helpers and memory (test-replica-memory.c). */
void test_validate(void);
void test_copy_and_lookups(void);
void test_disk_lists(void);
void test_names_and_free_null(void);
void test_quiet(void);
void test_threads(void);
void test_parse_again(void);

#endif
