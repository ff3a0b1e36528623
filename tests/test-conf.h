/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-conf: the helpers shared by test-conf's files and the groups of
 * tests main() runs (test-conf-parse.c, test-conf-files.c). */
#ifndef DROVER_TEST_CONF_H
#define DROVER_TEST_CONF_H

#include "base/conf.h"

/* test-conf.c */
char *write_conf(const char *name, const char *text);
int conf_equal(const Conf *a, const Conf *b);

/* test-conf-parse.c: every refusal, replication and network_map. */
void test_syntax_errors(void);
void test_unknown_keys(void);
void test_wrong_types(void);
void test_ranges(void);
void test_hosts_refused(void);
void test_replication(void);
void test_netmap_parse(void);
void test_replication_netmap(void);
void test_values_refused(void);

/* test-conf-files.c: files, order, conf_load, host names, settings, sample. */
void test_files(void);
void test_order(void);
void test_conf_load(void);
void test_add_host(void);
void test_settings_table(void);
void test_sample(void);

#endif
