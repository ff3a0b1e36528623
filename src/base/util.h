/* SPDX-License-Identifier: GPL-2.0-or-later */
/* util: allocation, growable strings, time and small path helpers. */
#ifndef DROVER_UTIL_H
#define DROVER_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Small allocations abort on failure: a UI object or a string cannot be
 * rolled back usefully.  Disk-chain operations never allocate between
 * their switch and their deletions. */
void *util_xmalloc(size_t n);
void *util_xcalloc(size_t nmemb, size_t size);
void *util_xrealloc(void *p, size_t n);
/* Grows *arr so it holds at least want elements of size size; *cap tracks
 * the allocated count. */
void util_grow(void *arr, size_t *cap, size_t want, size_t size);
char *util_xstrdup(const char *s);      /* NULL stays NULL */
char *util_xstrndup(const char *s, size_t n);
char *util_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *util_xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* For __attribute__((cleanup)): frees *(void **)p. */
void util_freep(void *p);
#define UTIL_AUTOFREE __attribute__((cleanup(util_freep)))
/* Returns *pp and sets it to NULL: hands ownership to the caller. */
#define UTIL_STEAL(pp) util_steal((void **)(pp))
void *util_steal(void **pp);

/* Growable NUL-terminated string. */
typedef struct {
    char *s;
    size_t len;
    size_t cap;
} UtilBuf;

void util_buf_add(UtilBuf *b, const char *s);
void util_buf_addn(UtilBuf *b, const char *s, size_t n);
void util_buf_printf(UtilBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s with XML special characters escaped. */
void util_buf_add_xml(UtilBuf *b, const char *s);
char *util_buf_steal(UtilBuf *b);       /* never NULL */
void util_buf_free(UtilBuf *b);

/* Copies at most size-1 bytes and always terminates; returns strlen(src). */
size_t util_strlcpy(char *dst, const char *src, size_t size);
/* A 16-byte UUID as text, lower case with dashes (8-4-4-4-12). */
void util_uuid_format(const unsigned char raw[16], char out[37]);
int util_streq(const char *a, const char *b);   /* NULL-safe */
/* Parses a whole decimal string into a long long in [min,max]: 0 or -1. */
int util_parse_ll(const char *s, long long min, long long max, long long *out);

/* Columns s takes on a terminal in the current locale (bytes that do not
 * decode count one column each). */
int util_display_width(const char *s);

/* Milliseconds on the monotonic clock. */
int64_t util_mono_ms(void);
/* A util_mono_ms() time as the deadline of a pthread_cond_timedwait on a
 * condition whose clock is CLOCK_MONOTONIC. */
struct timespec util_mono_deadline(int64_t mono_ms);
/* Names the calling thread, as top -H, ps -L and gdb show it; cut to the
 * kernel's 15 bytes. */
void util_thread_name(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Lowers the calling thread's CPU priority by steps nice values (at most
 * to 19); threads it creates from then on inherit it.  Best effort: an
 * unprivileged thread can never raise it again, so only for threads that
 * do background work for their whole life. */
void util_thread_lower(int steps);
/* Wall clock as seconds since the epoch. */
int64_t util_now(void);
/* "2026-11-24T09:00:00Z" into buf (at least 21 bytes). */
void util_format_time(int64_t t, char *buf, size_t size);
/* Parses the format above: 0, or -1 if it is not one. */
int util_parse_time(const char *s, int64_t *out);
/* "3m", "2h", "5d" style age. */
void util_format_age(int64_t seconds, char *buf, size_t size);
/* "1.5 GiB" style size. */
void util_format_size(uint64_t bytes, char *buf, size_t size);

/* Directory part of path (newly allocated; "." when there is none). */
char *util_dirname(const char *path);
/* The path of name relative to dir unless name is absolute. */
char *util_path_join(const char *dir, const char *name);
/* True if path is absolute and has no "." or ".." components nor "//". */
int util_path_is_clean_absolute(const char *path);
/* True if path lies strictly inside dir (both clean absolute). */
int util_path_is_inside(const char *path, const char *dir);

#endif
