/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-chain: what its source files share (the helpers in test-chain.c and
 * each file's test functions, called from main in test-chain.c). */
#ifndef DROVER_TEST_CHAIN_H
#define DROVER_TEST_CHAIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fixture.h"

/* The run's temporary folder, the sums of every recovery point and base,
 * and the chains kept between tests (freed by main). */
extern const char *tmp;
extern FixtureSums rp_sums;
extern char **deep200;
extern char **ovchain;

/* Helpers (test-chain.c). */
char *mkdir_in(const char *name);
int msg_has(const char *needle);
void refused(int rc, int code, const char *name1, const char *name2, const char *what);
int qemu_img(const char *fmt_args);
int compare_images(const char *a, const char *b);
int check_image(const char *a);
void write_bytes(const char *path, off_t off, const void *data, size_t n);
void put_be32(const char *path, off_t off, uint32_t v);
void put_be64(const char *path, off_t off, uint64_t v);
uint32_t get_be32(const char *path, off_t off);
long find_be32(const char *path, uint32_t v);
void check_walk_against_qemu(const char *top, const char *label);

/* Reader and walk (test-chain-walk.c). */
void test_depths(void);
void test_depth_201(void);
void test_variants(void);
void test_unusual_images(void);
void test_relative_and_symlink(void);
void test_raw_base(void);
void test_corrupt(void);
void test_loops_and_missing(void);

/* Overlay, flatten, rebase, discard (test-chain-ops.c). */
void test_create_overlay(void);
void test_full_disk(void);
void test_flatten_and_rebase(void);
void test_discard(void);

#endif
