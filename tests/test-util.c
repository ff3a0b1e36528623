/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for util and err. */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/result.h"
#include "base/stage.h"
#include "tap.h"
#include "base/util.h"

static void
test_paths(void)
{
    char *s;

    ok(util_path_is_clean_absolute("/var/lib/drover/a.qcow2"), "clean absolute path accepted");
    ok(!util_path_is_clean_absolute("var/lib"), "relative path refused");
    ok(!util_path_is_clean_absolute("/var/../etc"), "'..' component refused");
    ok(!util_path_is_clean_absolute("/var/./lib"), "'.' component refused");
    ok(!util_path_is_clean_absolute("/var//lib"), "'//' refused");
    ok(!util_path_is_clean_absolute(""), "empty path refused");
    ok(util_path_is_clean_absolute("/a/..b/c."), "names that only start with dots accepted");
    ok(util_path_is_inside("/srv/r/web01/a.qcow2", "/srv/r/web01"), "file inside dir");
    ok(util_path_is_inside("/srv/r/web01/a.qcow2", "/srv/r/web01/"), "file inside dir with slash");
    ok(!util_path_is_inside("/srv/r/web010/a.qcow2", "/srv/r/web01"), "sibling with common prefix is outside");
    ok(!util_path_is_inside("/srv/r/web01", "/srv/r/web01"), "dir itself is not inside");
    ok(!util_path_is_inside("/srv/r/web01/../x", "/srv/r/web01"), "'..' escapes are outside");
    s = util_dirname("/a/b/c.qcow2");
    is_str(s, "/a/b", "dirname");
    free(s);
    s = util_dirname("c.qcow2");
    is_str(s, ".", "dirname of a bare name");
    free(s);
    s = util_path_join("/a/b", "c");
    is_str(s, "/a/b/c", "join relative");
    free(s);
    s = util_path_join("/a/b", "/x/y");
    is_str(s, "/x/y", "join absolute keeps it");
    free(s);
}

static void
test_time_and_format(void)
{
    int64_t t = 0;
    char buf[64];

    ok(util_parse_time("2026-11-24T09:00:00Z", &t) == 0, "parse ISO time");
    util_format_time(t, buf, sizeof(buf));
    is_str(buf, "2026-11-24T09:00:00Z", "format ISO time round-trips");
    ok(util_parse_time("2026-11-24 09:00", &t) < 0, "malformed time refused");
    ok(util_parse_time("2026-11-24T09:00:00Zjunk", &t) < 0, "trailing junk refused");
    util_format_age(59, buf, sizeof(buf));
    is_str(buf, "59s", "age seconds");
    util_format_age(3600 * 5, buf, sizeof(buf));
    is_str(buf, "5h", "age hours");
    util_format_age(86400 * 3, buf, sizeof(buf));
    is_str(buf, "3d", "age days");
    util_format_size(512, buf, sizeof(buf));
    is_str(buf, "512 B", "size bytes");
    util_format_size(1536ULL * 1024 * 1024, buf, sizeof(buf));
    is_str(buf, "1.5 GiB", "size GiB");
}

static void
test_buf_and_parse(void)
{
    UtilBuf b = { 0 };
    long long v = 0;
    char *s;

    util_buf_add(&b, "a");
    util_buf_printf(&b, "%d", 42);
    util_buf_add_xml(&b, "<&\"'>");
    s = util_buf_steal(&b);
    is_str(s, "a42&lt;&amp;&quot;&apos;&gt;", "buffer append, printf and XML escape");
    free(s);
    util_buf_free(&b);
    util_buf_free(NULL);
    ok(util_parse_ll("123", 0, 1000, &v) == 0 && v == 123, "parse number");
    ok(util_parse_ll("12x", 0, 1000, &v) < 0, "trailing junk refused");
    ok(util_parse_ll("2000", 0, 1000, &v) < 0, "out of range refused");
    ok(util_parse_ll("", 0, 1000, &v) < 0, "empty refused");
}

static void
test_err(void)
{
    err_clear();
    is_int(err_code(), 0, "no error after clear");
    err_set_errno(0, ENOENT, "opening %s", "/x");
    is_int(err_code(), RESULT_FILE_NOT_FOUND, "ENOENT maps to 32779");
    is_int(err_get()->sys_errno, ENOENT, "errno kept");
    ok(strstr(err_message(), "opening /x: ") == err_message(), "message has context and errno text");
    err_prefix("revert web01");
    ok(strncmp(err_message(), "revert web01: opening /x", 24) == 0, "prefix adds context");
    is_int(err_code(), RESULT_FILE_NOT_FOUND, "prefix keeps the code");
    err_set_virt(55, "Requested operation is not valid: domain is running", "defining %s", "web01");
    is_int(err_code(), RESULT_INVALID_STATE, "VIR_ERR_OPERATION_INVALID maps to 32775");
    is_str(err_get()->virt_msg, "Requested operation is not valid: domain is running", "libvirt message kept");
    err_set(RESULT_IN_USE, "held by %s", "alice");
    err_hint(RESULT_HINT_FILE_IN_USE);
    err_prefix("revert");
    is_int(err_get()->hints, RESULT_HINT_FILE_IN_USE, "a hint survives added context");
    err_set(RESULT_IN_USE, "held by %s", "alice");
    is_int(err_get()->hints, 0, "a new error starts without hints");
    is_int(err_get()->virt_code, 0, "err_set clears the libvirt part");
    is_str(err_message(), "held by alice", "plain message");
}

static void
test_read_file(void)
{
    char *path = util_xasprintf("%s/f.txt", tap_tmpdir());
    char big[10000];
    size_t len = 0;
    char *s;

    memset(big, 'x', sizeof(big));
    ok(fsutil_write_atomic(path, big, sizeof(big), 0644) == 0, "atomic write of 10000 bytes");
    s = fsutil_read_file(path, 10000, &len);
    ok(s && len == 10000 && s[9999] == 'x' && s[10000] == '\0', "a file of exactly the limit is read whole");
    free(s);
    s = fsutil_read_file(path, 9999, &len);
    ok(!s && err_code() == RESULT_INVALID_PARAMETER && strstr(err_message(), "larger than 9999"),
       "a file over the limit is refused, naming the limit");
    free(s);
    s = fsutil_read_file(path, 1 << 30, &len);
    ok(s && len == 10000, "a large limit does not change what is read");
    free(s);
    ok(fsutil_write_atomic(path, "", 0, 0644) == 0 && (s = fsutil_read_file(path, 10, &len)) && len == 0 &&
       s[0] == '\0', "an empty file reads as an empty string");
    free(s);
    s = fsutil_read_file("/nonexistent/x", 10, &len);
    ok(!s && err_code() == RESULT_FILE_NOT_FOUND, "a missing file is 32779");
    free(path);
}

/* A stage's jobs: each appends its number; the first one waits at a gate
 * the test opens once every job is pushed, so the others queue behind it. */
typedef struct {
    int *seen;
    size_t *n;
    int v;
} StageTestJob;

static pthread_mutex_t stage_gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stage_gate_cv = PTHREAD_COND_INITIALIZER;
static int stage_gate_open;

static void
stage_test_run(void *arg)
{
    StageTestJob *j = arg;

    if (j->v == 0) {
        pthread_mutex_lock(&stage_gate_mu);
        while (!stage_gate_open)
            pthread_cond_wait(&stage_gate_cv, &stage_gate_mu);
        pthread_mutex_unlock(&stage_gate_mu);
    }
    j->seen[(*j->n)++] = j->v;
}

static void
stage_test_name(void *arg)
{
    pthread_getname_np(pthread_self(), arg, 16);
}

static void
test_stage(void)
{
    StageTestJob jobs[100];
    int seen[100];
    size_t n = 0, i;
    int in_order = 1;
    char name[16] = "";
    Stage *st = stage_new("test stage", 0);

    ok(st != NULL, "a stage starts its thread");
    for (i = 0; i < 100; i++) {
        jobs[i] = (StageTestJob){ seen, &n, (int)i };
        stage_push(st, stage_test_run, &jobs[i]);
    }
    pthread_mutex_lock(&stage_gate_mu);
    stage_gate_open = 1;
    pthread_cond_signal(&stage_gate_cv);
    pthread_mutex_unlock(&stage_gate_mu);
    stage_wait(st);
    for (i = 0; i < n; i++)
        in_order &= seen[i] == (int)i;
    ok(n == 100 && in_order, "stage_wait returns once all 100 jobs ran, in the order pushed");
    stage_push(st, stage_test_name, name);
    stage_wait(st);
    is_str(name, "test stage", "the stage's thread has the name it was given");
    n = 0;
    for (i = 0; i < 10; i++)
        stage_push(st, stage_test_run, &jobs[i]);
    stage_free(st);
    ok(n == 10, "stage_free runs the jobs still waiting first");
    n = 0;
    stage_push(NULL, stage_test_run, &jobs[5]);
    ok(n == 1 && seen[0] == 5, "without a stage a job runs at once, in the caller");
    stage_wait(NULL);
    stage_free(NULL);
    ok(1, "stage_wait and stage_free take NULL");
}

static void
test_thread_name(void)
{
    char name[16] = "";

    util_thread_name("fetch %s", "dr-a");
    pthread_getname_np(pthread_self(), name, sizeof(name));
    is_str(name, "fetch dr-a", "util_thread_name names the calling thread");
    util_thread_name("fetch %s", "a-very-long-host-name");
    pthread_getname_np(pthread_self(), name, sizeof(name));
    is_str(name, "fetch a-very-lo", "a long name is cut to the kernel's 15 bytes, not refused");
}

static void
test_uuid_format(void)
{
    static const unsigned char raw[16] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                           0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10 };
    char out[37];

    memset(out, 'x', sizeof(out));
    util_uuid_format(raw, out);
    is_str(out, "01234567-89ab-cdef-fedc-ba9876543210",
           "a UUID's text: lower case, dashes after bytes 4, 6, 8 and 10, every digit in its place");
}

int
main(void)
{
    test_uuid_format();
    test_stage();
    test_thread_name();
    test_read_file();
    test_paths();
    test_time_and_format();
    test_buf_and_parse();
    test_err();
    return tap_done();
}
