/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for conf: defaults, parsing, every refusal, file order, host names. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/conf.h"
#include "base/err.h"
#include "base/result.h"
#include "tap.h"
#include "base/util.h"

/* Writes text to tap_tmpdir()/name (creating directories); returns the path. */
static char *
write_conf(const char *name, const char *text)
{
    char *path = util_xasprintf("%s/%s", tap_tmpdir(), name);
    char *dir = util_dirname(path);
    FILE *fp;

    if (tap_system("mkdir -p '%s'", dir) != 0) {
        tap_diag("cannot create %s", dir);
        exit(99);
    }
    free(dir);
    fp = fopen(path, "w");
    if (!fp || fputs(text, fp) == EOF || fclose(fp) != 0) {
        tap_diag("cannot write %s", path);
        exit(99);
    }
    return path;
}

static char *
read_text(const char *path)
{
    FILE *fp = fopen(path, "r");
    UtilBuf b = { 0 };
    char buf[4096];
    size_t n;

    if (!fp)
        return NULL;
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
        util_buf_addn(&b, buf, n);
    fclose(fp);
    return util_buf_steal(&b);
}

static int
conf_equal(const Conf *a, const Conf *b)
{
    size_t i;

    if (a->nhosts != b->nhosts)
        return 0;
    for (i = 0; i < a->nhosts; i++)
        if (!util_streq(a->hosts[i].name, b->hosts[i].name) ||
            !util_streq(a->hosts[i].uri, b->hosts[i].uri) ||
            a->hosts[i].readonly != b->hosts[i].readonly)
            return 0;
    return a->refresh_interval == b->refresh_interval && a->confirm == b->confirm &&
        a->shutdown_timeout == b->shutdown_timeout && a->require_reason == b->require_reason &&
        a->rpo_warning == b->rpo_warning && util_streq(a->audit_log, b->audit_log) &&
        util_streq(a->job_history, b->job_history) && util_streq(a->theme, b->theme) &&
        a->readonly == b->readonly;
}

static void
test_defaults_scalar(const Conf *c, const char *what)
{
    is_int(c->nhosts, 0, "%s: no hosts", what);
    ok(c->hosts == NULL || c->nhosts == 0, "%s: host list empty", what);
    is_int(c->refresh_interval, 5, "%s: refresh_interval 5", what);
    is_int(c->confirm, CONF_CONFIRM_TYPE_NAME, "%s: confirm type-name", what);
    is_int(c->shutdown_timeout, 60, "%s: shutdown_timeout 60", what);
    is_int(c->connect_timeout, 30, "%s: connect_timeout 30", what);
    is_int(c->require_reason, 0, "%s: require_reason false", what);
    is_int(c->rpo_warning, 3600, "%s: rpo_warning 3600", what);
    is_str(c->theme, "default", "%s: theme default", what);
    is_int(c->readonly, 0, "%s: readonly false", what);
}

/* conf_new_default() in a child running as an ordinary user (uid 65534
 * when we are root) with the given HOME and XDG_STATE_HOME (NULL: unset);
 * returns "audit_log\njob_history" or NULL when the child could not run. */
static char *
defaults_as_user(const char *home, const char *state)
{
    int fds[2];
    pid_t pid;
    int st;
    UtilBuf b = { 0 };
    char buf[1024];
    ssize_t n;

    if (pipe(fds) < 0)
        return NULL;
    fflush(stdout);
    pid = fork();
    if (pid < 0)
        return NULL;
    if (pid == 0) {
        Conf *c;
        char *out;

        close(fds[0]);
        if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
            _exit(3);
        if (home)
            setenv("HOME", home, 1);
        else
            unsetenv("HOME");
        if (state)
            setenv("XDG_STATE_HOME", state, 1);
        else
            unsetenv("XDG_STATE_HOME");
        c = conf_new_default();
        out = util_xasprintf("%s\n%s", c->audit_log, c->job_history);
        if (write(fds[1], out, strlen(out)) < 0)
            _exit(4);
        free(out);
        conf_free(c);
        _exit(0);
    }
    close(fds[1]);
    util_buf_add(&b, "");
    while ((n = read(fds[0], buf, sizeof(buf))) > 0)
        util_buf_addn(&b, buf, (size_t)n);
    close(fds[0]);
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        util_buf_free(&b);
        return NULL;
    }
    return util_buf_steal(&b);
}

static void
test_defaults(void)
{
    Conf *c = conf_new_default();
    char *s;

    test_defaults_scalar(c, "defaults");
    if (geteuid() == 0) {
        is_str(c->audit_log, LOCALSTATEDIR "/log/drover/audit.log", "root: audit log under --localstatedir (" LOCALSTATEDIR ")/log/drover");
        is_str(c->job_history, LOCALSTATEDIR "/lib/drover/jobs.jsonl", "root: job history under --localstatedir (" LOCALSTATEDIR ")/lib/drover");
    } else {
        ok(c->audit_log && c->audit_log[0] == '/', "user: audit log is absolute (%s)", c->audit_log);
        ok(c->job_history && c->job_history[0] == '/', "user: job history is absolute");
    }
    conf_free(c);
    conf_free(NULL);
    ok(1, "conf_free(NULL) is harmless");

    s = defaults_as_user("/home/op", "/srv/state");
    if (!s) {
        tap_skip(5, "cannot run a child as an ordinary user");
        return;
    }
    is_str(s, "/srv/state/drover/audit.log\n/srv/state/drover/jobs.jsonl",
           "user: paths under $XDG_STATE_HOME/drover");
    free(s);
    s = defaults_as_user("/home/op", NULL);
    is_str(s, "/home/op/.local/state/drover/audit.log\n/home/op/.local/state/drover/jobs.jsonl",
           "user: $XDG_STATE_HOME defaults to ~/.local/state");
    free(s);
    s = defaults_as_user("/home/op", "relative/state");
    is_str(s, "/home/op/.local/state/drover/audit.log\n/home/op/.local/state/drover/jobs.jsonl",
           "user: a relative $XDG_STATE_HOME is ignored (XDG spec)");
    free(s);
    s = defaults_as_user("/home/op", "/srv/state/");
    is_str(s, "/srv/state/drover/audit.log\n/srv/state/drover/jobs.jsonl",
           "user: trailing slash of $XDG_STATE_HOME dropped");
    free(s);
    s = defaults_as_user(NULL, NULL);
    ok(s && s[0] == '/' && strstr(s, "/drover/audit.log\n"),
       "user without $HOME: still an absolute path");
    free(s);
}

static const char full_conf[] =
    "# every setting, none at its default\n"
    "hosts = (\n"
    "  { name = \"dr-b\"; uri = \"qemu+ssh://dr-b/system\"; readonly = true; },\n"
    "  {\n"
    "    name = \"local\";\n"
    "    uri = \"qemu:///system\";\n"
    "  }\n"
    ");\n"
    "refresh_interval = 30;\n"
    "confirm = \"yes-no\";\n"
    "shutdown_timeout = 0;\n"
    "require_reason = true;\n"
    "rpo_warning = 7200;\n"
    "audit_log = \"/srv/drover/audit.log\";\n"
    "job_history = \"/srv/drover/jobs.jsonl\";\n"
    "theme = \"mono\";\n"
    "readonly = true;\n";

static void
test_full(void)
{
    char *path = write_conf("full.conf", full_conf);
    Conf *c = conf_new_default();

    is_int(conf_load_file(c, path), 0, "full file loads");
    if (c->nhosts == 2) {
        is_str(c->hosts[0].name, "dr-b", "host 0 name");
        is_str(c->hosts[0].uri, "qemu+ssh://dr-b/system", "host 0 uri");
        is_int(c->hosts[0].readonly, 1, "host 0 readonly");
        is_str(c->hosts[1].name, "local", "host 1 name");
        is_str(c->hosts[1].uri, "qemu:///system", "host 1 uri");
        is_int(c->hosts[1].readonly, 0, "host 1 readonly defaults to false");
    } else {
        is_int(c->nhosts, 2, "two hosts");
    }
    is_int(c->refresh_interval, 30, "refresh_interval");
    is_int(c->confirm, CONF_CONFIRM_YES_NO, "confirm yes-no");
    is_int(c->shutdown_timeout, 0, "shutdown_timeout 0 allowed");
    is_int(c->require_reason, 1, "require_reason");
    is_int(c->rpo_warning, 7200, "rpo_warning");
    is_str(c->audit_log, "/srv/drover/audit.log", "audit_log");
    is_str(c->job_history, "/srv/drover/jobs.jsonl", "job_history");
    is_str(c->theme, "mono", "theme");
    is_int(c->readonly, 1, "readonly");
    conf_free(c);
    free(path);
}

static void
test_accepted_forms(void)
{
    char *path;
    Conf *c = conf_new_default();

    path = write_conf("bounds-low.conf",
                      "refresh_interval = 1; shutdown_timeout = 0; rpo_warning = 60;\n"
                      "hosts = ();\n");
    is_int(conf_load_file(c, path), 0, "lower bounds accepted");
    is_int(c->refresh_interval, 1, "refresh_interval 1");
    is_int(c->rpo_warning, 60, "rpo_warning 60");
    free(path);
    path = write_conf("bounds-high.conf",
                      "refresh_interval = 3600\n"
                      "shutdown_timeout : 3600\n"
                      "rpo_warning = 31536000L;\n");
    is_int(conf_load_file(c, path), 0, "upper bounds, ':' and a 64-bit literal accepted");
    is_int(c->refresh_interval, 3600, "refresh_interval 3600");
    is_int(c->shutdown_timeout, 3600, "shutdown_timeout 3600");
    is_int(c->rpo_warning, 31536000, "rpo_warning 31536000L");
    free(path);
    path = write_conf("hex.conf", "refresh_interval = 0x10;\nshutdown_timeout = 010;\n");
    is_int(conf_load_file(c, path), 0, "hex and leading-zero literals accepted");
    is_int(c->refresh_interval, 16, "0x10 is 16");
    is_int(c->shutdown_timeout, 10, "010 is decimal 10, as libconfig reads it");
    free(path);
    path = write_conf("empty.conf", "# nothing but a comment\n");
    is_int(conf_load_file(c, path), 0, "a file with only a comment loads");
    is_int(c->refresh_interval, 16, "and changes nothing");
    free(path);
    conf_free(c);
}

/* Settings that are valid, so a refusal after them proves nothing of the
 * file took effect.  Two lines. */
#define PREFIX \
    "refresh_interval = 77;\n" \
    "hosts = ( { name = \"new\"; uri = \"test:///default\"; } );\n"
/* The same for files that set hosts themselves. */
#define PREFIX_NOHOSTS \
    "refresh_interval = 77;\n" \
    "theme = \"default\";\n"

static const char base_conf[] =
    "hosts = ( { name = \"old\"; uri = \"qemu:///system\"; readonly = true; } );\n"
    "theme = \"mono\";\n"
    "shutdown_timeout = 9;\n";

/* Loads text over a conf that already holds base_conf and checks it is
 * refused with 32773, "PATH:LINE:", key and expect in the message, and
 * that the conf did not change. */
static void
check_refused(const char *what, const char *text, int line, const char *key, const char *expect)
{
    char *base = write_conf("base.conf", base_conf);
    char *path = write_conf("bad.conf", text);
    Conf *c = conf_new_default(), *ref = conf_new_default();
    char *where = util_xasprintf("%s:%d: ", path, line);
    const char *msg;
    int rc, good;

    if (conf_load_file(c, base) < 0 || conf_load_file(ref, base) < 0) {
        tap_diag("base.conf: %s", err_message());
        exit(99);
    }
    err_clear();
    rc = conf_load_file(c, path);
    msg = err_message();
    is_int(rc, -1, "%s: refused", what);
    is_int(err_code(), RESULT_INVALID_PARAMETER, "%s: code 32773", what);
    good = strncmp(msg, where, strlen(where)) == 0;
    ok(good, "%s: message starts with path and line %d", what, line);
    good &= strstr(msg, key) != NULL;
    ok(strstr(msg, key) != NULL, "%s: message names '%s'", what, key);
    if (expect) {
        good &= strstr(msg, expect) != NULL;
        ok(strstr(msg, expect) != NULL, "%s: message says '%s'", what, expect);
    }
    if (!good)
        tap_diag("message: %s", msg);
    ok(conf_equal(c, ref), "%s: conf unchanged", what);
    conf_free(c);
    conf_free(ref);
    free(where);
    free(path);
    free(base);
}

static void
test_syntax_errors(void)
{
    check_refused("syntax error", PREFIX "theme = ;\n", 3, "syntax error", NULL);
    check_refused("syntax error deep in the file",
                  PREFIX "\n\n# comment\nconfirm = \"yes-no\";\nreadonly = true\ntheme = \"mono\" = 1;\n",
                  8, "syntax error", NULL);
    /* libconfig notices the missing quote at the end of the file. */
    check_refused("unterminated string", PREFIX "theme = \"mono;\n", 4, "syntax error", NULL);
    check_refused("setting given twice", PREFIX "refresh_interval = 6;\n", 3,
                  "duplicate setting name", NULL);
}

static void
test_unknown_keys(void)
{
    const ConfSetting *set;
    char *path;
    Conf *c;
    int all;

    check_refused("unknown key", PREFIX "theme = \"mono\";\nrefresh_intervall = 5;\n", 4,
                  "\"refresh_intervall\"", "unknown setting");
    check_refused("unknown group", PREFIX "ui = { theme = \"mono\"; };\n", 3, "\"ui\"",
                  "unknown setting");
    check_refused("unknown host key",
                  PREFIX_NOHOSTS "hosts = (\n  { name = \"a\"; uri = \"qemu:///system\"; },\n"
                  "  { name = \"b\";\n    url = \"qemu:///system\"; }\n);\n",
                  6, "\"url\"", "hosts[1]");

    /* The refusal lists every valid setting, from the same table the
     * manual is made from. */
    path = write_conf("unknown.conf", "colour = \"red\";\n");
    c = conf_new_default();
    is_int(conf_load_file(c, path), -1, "unknown key refused");
    all = 1;
    for (set = conf_settings(); set->name; set++)
        if (!strstr(err_message(), set->name))
            all = 0;
    ok(all, "the refusal lists every valid setting (%s)", err_message());
    conf_free(c);
    free(path);
    path = write_conf("unknown-host.conf", "hosts = ( { name = \"a\"; uri = \"b\"; ro = true; } );\n");
    c = conf_new_default();
    is_int(conf_load_file(c, path), -1, "unknown host key refused");
    ok(strstr(err_message(), "name, uri, readonly") != NULL, "and lists the host settings (%s)",
       err_message());
    conf_free(c);
    free(path);
}

static void
test_wrong_types(void)
{
    check_refused("string where int expected", "theme = \"mono\";\nrpo_warning = \"3600\";\n", 2,
                  "rpo_warning", "expected an integer, found a string");
    check_refused("float where int expected", PREFIX "shutdown_timeout = 60.0;\n", 3,
                  "shutdown_timeout", "expected an integer, found a floating-point number");
    check_refused("list where int expected", PREFIX "rpo_warning = ( 1 );\n", 3,
                  "rpo_warning", "expected an integer, found a list");
    check_refused("int where bool expected", PREFIX "require_reason = 1;\n", 3,
                  "require_reason", "expected a boolean (true or false), found an integer");
    check_refused("string where bool expected", PREFIX "readonly = \"false\";\n", 3,
                  "readonly", "expected a boolean (true or false), found a string");
    check_refused("int where string expected", PREFIX "theme = 1;\n", 3,
                  "theme", "expected a string, found an integer");
    check_refused("bool where string expected", PREFIX "confirm = true;\n", 3,
                  "confirm", "expected a string, found a boolean");
    check_refused("int where path expected", PREFIX "audit_log = 5;\n", 3,
                  "audit_log", "expected a string, found an integer");
    check_refused("array of strings where path expected",
                  PREFIX "job_history = [ \"/a\", \"/b\" ];\n", 3,
                  "job_history", "expected a string, found an array");
    check_refused("group where host list expected",
                  "refresh_interval = 77;\nhosts = { name = \"a\"; uri = \"b\"; };\n", 2,
                  "hosts", "expected a list of groups");
    check_refused("array where host list expected", PREFIX_NOHOSTS "\n\n\nhosts = [ \"a\" ];\n", 6,
                  "hosts", "found an array");
    check_refused("string in host list", "\nhosts = ( \"dr-b\" );\n", 2,
                  "hosts[0]", "expected a group");
    check_refused("int as host name", "hosts = (\n  { name = 5; uri = \"x\"; }\n);\n", 2,
                  "hosts[0].name", "expected a string, found an integer");
    check_refused("bool as host uri",
                  "hosts = (\n  { name = \"a\"; uri = \"x\"; },\n  { name = \"b\";\n    uri = true; }\n);\n",
                  4, "hosts[1].uri", "expected a string, found a boolean");
    check_refused("string as host readonly",
                  "hosts = ( { name = \"a\"; uri = \"x\"; readonly = \"yes\"; } );\n", 1,
                  "hosts[0].readonly", "expected a boolean (true or false), found a string");
}

static void
test_ranges(void)
{
    check_refused("refresh_interval 0", "theme = \"mono\";\nrefresh_interval = 0;\n", 2,
                  "refresh_interval", "0 is out of range 1..3600");
    check_refused("refresh_interval 3601", "\n\nrefresh_interval = 3601;\n", 3,
                  "refresh_interval", "3601 is out of range 1..3600");
    check_refused("shutdown_timeout -1", PREFIX "shutdown_timeout = -1;\n", 3,
                  "shutdown_timeout", "-1 is out of range 0..3600");
    check_refused("shutdown_timeout 3601", PREFIX "shutdown_timeout = 3601;\n", 3,
                  "shutdown_timeout", "out of range 0..3600");
    check_refused("connect_timeout 0", PREFIX "connect_timeout = 0;\n", 3,
                  "connect_timeout", "0 is out of range 1..3600");
    check_refused("rpo_warning 59", PREFIX "rpo_warning = 59;\n", 3,
                  "rpo_warning", "59 is out of range 60..31536000");
    check_refused("rpo_warning 31536001", PREFIX "rpo_warning = 31536001;\n", 3,
                  "rpo_warning", "31536001 is out of range 60..31536000");
    check_refused("64-bit literal out of range", PREFIX "rpo_warning = 99999999999L;\n", 3,
                  "rpo_warning", "99999999999 is out of range");
    /* libconfig 1.5 wraps these to 0 and 5, which are in range. */
    check_refused("literal beyond int (wraps in libconfig)", PREFIX "shutdown_timeout = 4294967296;\n",
                  3, "shutdown_timeout", "4294967296 is out of range 0..3600");
    check_refused("hex literal beyond int (wraps in libconfig)",
                  "hosts = ();\nconfirm = \"yes-no\"; refresh_interval = 0x100000005;\n", 2,
                  "refresh_interval", "0x100000005 is out of range 1..3600");
}

static void
test_hosts_refused(void)
{
    check_refused("duplicate host name",
                  "hosts = (\n  { name = \"a\"; uri = \"qemu:///system\"; },\n"
                  "  { name = \"b\"; uri = \"test:///default\"; },\n"
                  "  { name = \"a\"; uri = \"qemu+ssh://a/system\"; }\n);\n",
                  4, "name \"a\"", "already used by hosts[0]");
    check_refused("host without uri",
                  PREFIX_NOHOSTS "hosts = (\n  { name = \"a\"; uri = \"qemu:///system\"; },\n"
                  "  {\n    name = \"b\";\n    readonly = true;\n  }\n);\n",
                  5, "uri", "hosts[1] (\"b\"): missing uri");
    check_refused("host without name", PREFIX_NOHOSTS "hosts = ( { uri = \"qemu:///system\"; } );\n", 3,
                  "name", "hosts[0]: missing name");
    check_refused("empty host name", PREFIX_NOHOSTS "hosts = ( { name = \"\"; uri = \"qemu:///system\"; } );\n",
                  3, "hosts[0].name", "not a host name");
    check_refused("host name with a space",
                  PREFIX_NOHOSTS "hosts = ( { name = \"dr b\"; uri = \"qemu:///system\"; } );\n",
                  3, "hosts[0].name", "\"dr b\" is not a host name");
    check_refused("host name with a tab",
                  PREFIX_NOHOSTS "hosts = ( { name = \"dr\\tb\"; uri = \"qemu:///system\"; } );\n",
                  3, "hosts[0].name", "not a host name");
    check_refused("empty host uri", PREFIX_NOHOSTS "hosts = ( { name = \"a\"; uri = \"\"; } );\n",
                  3, "hosts[0].uri", "empty");
}

/* Per-primary and per-replica replication defaults. */
static void
test_replication(void)
{
    char *path = write_conf("repl.conf",
                            "replication = (\n"
                            "  { primary = \"prod-a\"; interval = 300; points = 12; nbd = \"10.0.0.5:10809\"; },\n"
                            "  { primary = \"prod-a\"; vm = \"db01\"; points = 24; app_consistent_every = 14400; },\n"
                            "  { primary = \"qemu+ssh://prod-b/system\"; nbd = \"unix:/run/nbd.sock\"; },\n"
                            "  { primary = \"prod-c\"; nbd_tls = \"/etc/pki/drover/prod-c\"; },\n"
                            "  { primary = \"prod-a\"; interval = 60; }\n"
                            ");\n");
    Conf *c = conf_new_default(), *copy;
    const ConfRepl *r;
    int rc;

    rc = conf_load_file(c, path);
    is_int(rc, 0, "replication groups load (%s)", rc ? err_message() : "");
    is_int((int)c->nrepls, 5, "five groups");
    r = conf_repl_find(c, "qemu+ssh://prod-a/system", "prod-a", NULL);
    ok(r && r->interval == 300 && r->points == 12 && r->app_every == -1 &&
       util_streq(r->nbd, "10.0.0.5:10809") && !r->vm,
       "the primary's group is found by its host name, the first of two");
    r = conf_repl_find(c, "qemu+ssh://prod-a/system", "prod-a", "db01");
    ok(r && r->points == 24 && r->app_every == 14400 && r->interval == -1 && !r->nbd,
       "the replica's group is found by the VM's name, unset settings -1/NULL");
    ok(!conf_repl_find(c, "qemu+ssh://prod-a/system", "prod-a", "web01"),
       "no group names web01");
    r = conf_repl_find(c, "qemu+ssh://prod-b/system", "prod-b", NULL);
    ok(r && util_streq(r->nbd, "unix:/run/nbd.sock"), "a group found by the whole URI");
    r = conf_repl_find(c, "qemu+ssh://prod-c/system", "prod-c", NULL);
    ok(r && util_streq(r->nbd_tls, "/etc/pki/drover/prod-c") && !r->nbd, "prod-c's group: nbd_tls");
    ok(!conf_repl_find(c, "qemu+ssh://prod-d/system", "prod-d", NULL), "no group for prod-d");
    ok(!conf_repl_find(c, "qemu:///system", NULL, NULL), "no group for a local URI");
    copy = conf_load(path);
    ok(copy && copy->nrepls == 5 && util_streq(copy->repls[1].vm, "db01") &&
       util_streq(copy->repls[3].nbd_tls, "/etc/pki/drover/prod-c"),
       "conf_load keeps the groups");
    conf_free(copy);
    free(path);
    /* A later file replaces the whole list. */
    path = write_conf("repl2.conf", "replication = ( { primary = \"prod-z\"; } );\n");
    rc = conf_load_file(c, path);
    ok(rc == 0 && c->nrepls == 1 && !conf_repl_find(c, "x", "prod-a", NULL) &&
       conf_repl_find(c, "x", "prod-z", NULL)->interval == -1, "a later file replaces the list");
    free(path);
    conf_free(c);

    check_refused("replication group without primary",
                  PREFIX_NOHOSTS "replication = ( { vm = \"db01\"; } );\n", 3, "replication[0]",
                  "missing primary");
    check_refused("replication points out of range",
                  PREFIX_NOHOSTS "replication = ( { primary = \"a\"; points = 1001; } );\n", 3,
                  "replication[0].points", "out of range 0..1000");
    check_refused("replication interval negative",
                  PREFIX_NOHOSTS "replication = ( { primary = \"a\"; interval = -5; } );\n", 3,
                  "replication[0].interval", "out of range");
    check_refused("replication nbd without port",
                  PREFIX_NOHOSTS "replication = ( { primary = \"a\"; nbd = \"10.0.0.5\"; } );\n", 3,
                  "replication[0].nbd", "HOST:PORT");
    check_refused("replication nbd_tls relative",
                  PREFIX_NOHOSTS "replication = ( { primary = \"a\"; nbd_tls = \"pki\"; } );\n", 3,
                  "replication[0].nbd_tls", "absolute path of a directory");
    check_refused("replication unknown key",
                  PREFIX_NOHOSTS "replication = ( { primary = \"a\"; tls = true; } );\n", 3,
                  "unknown setting \"tls\"", "valid replication settings: primary, vm");
    check_refused("replication interval as a string",
                  PREFIX_NOHOSTS "replication = ( { primary = \"a\"; interval = \"5m\"; } );\n", 3,
                  "replication[0].interval", "expected an integer");
    check_refused("replication not a list", PREFIX_NOHOSTS "replication = 5;\n", 3,
                  "replication", "a list of groups");
    check_refused("replication element not a group", PREFIX_NOHOSTS "replication = ( 5 );\n", 3,
                  "replication[0]", "a group");
}

/* conf_netmap_parse: the syntax of a network map entry, shared by
 * --network-map and drover.conf's network_map. */
static void
test_netmap_parse(void)
{
    static const struct {
        const char *entry, *ftype, *from, *ttype, *to;
    } good[] = {
        { "prodnet=drnet", NULL, "prodnet", NULL, "drnet" },
        { "network:prodnet=drnet", "network", "prodnet", NULL, "drnet" },
        { "bridge:br-prod=network:drnet", "bridge", "br-prod", "network", "drnet" },
        { "lan=bridge:br0", NULL, "lan", "bridge", "br0" },
        { "network=bridge", NULL, "network", NULL, "bridge" },
    };
    static const char *const bad[] = {
        "prodnet", "=drnet", "prodnet=", "vlan:prodnet=drnet", "prodnet=vlan:7",
        "network:=drnet", "a=b=c", "bridge:=br0", "", "prodnet=network:",
    };
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ConfNetSide f = { 0 }, t = { 0 };
        int rc = conf_netmap_parse(good[i].entry, &f, &t);

        ok(rc == 0 && util_streq(f.type, good[i].ftype) && util_streq(f.name, good[i].from) &&
           util_streq(t.type, good[i].ttype) && util_streq(t.name, good[i].to),
           "netmap entry %s: %s %s -> %s %s", good[i].entry, f.type ? f.type : "(any)",
           f.name ? f.name : "?", t.type ? t.type : "(its own kind)", t.name ? t.name : "?");
        conf_net_side_clear(&f);
        conf_net_side_clear(&t);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ConfNetSide f = { 0 }, t = { 0 };
        int rc;

        err_clear();
        rc = conf_netmap_parse(bad[i], &f, &t);
        ok(rc == -1 && err_code() == RESULT_INVALID_PARAMETER &&
           strstr(err_message(), bad[i]) && !f.name && !t.name,
           "netmap entry \"%s\" refused with 32773 naming it (%s)", bad[i], err_message());
    }
    conf_net_side_clear(NULL);
    ok(1, "conf_net_side_clear(NULL) is harmless");
}

/* network_map in the replication groups. */
static void
test_replication_netmap(void)
{
    char *path = write_conf("netmap.conf",
                            "replication = (\n"
                            "  { primary = \"prod-a\";\n"
                            "    network_map = [ \"prodnet=drnet\", \"bridge:br-prod=network:drnet\" ]; },\n"
                            "  { primary = \"prod-a\"; vm = \"db01\"; network_map = [ ]; },\n"
                            "  { primary = \"prod-a\"; vm = \"web01\";\n"
                            "    network_map = ( \"lan=bridge:br-dr\" ); },\n"
                            "  { primary = \"prod-b\"; points = 3; }\n"
                            ");\n");
    char *from;
    Conf *c = conf_new_default(), *copy;
    const ConfRepl *r;
    int rc;

    rc = conf_load_file(c, path);
    is_int(rc, 0, "groups with network_map load (%s)", rc ? err_message() : "");
    r = conf_repl_find(c, "qemu+ssh://prod-a/system", "prod-a", NULL);
    ok(r && r->netmap && r->nnetmap == 2 && util_streq(r->netmap[0], "prodnet=drnet") &&
       util_streq(r->netmap[1], "bridge:br-prod=network:drnet"),
       "the primary's group: an array of two entries, in order");
    from = util_xasprintf("%s:3", path);
    ok(r && util_streq(r->netmap_from, from), "it says where it is (%s)",
       r && r->netmap_from ? r->netmap_from : "nothing");
    free(from);
    r = conf_repl_find(c, "qemu+ssh://prod-a/system", "prod-a", "db01");
    ok(r && r->netmap && r->nnetmap == 0, "an empty array is set: no map (not inherited)");
    r = conf_repl_find(c, "qemu+ssh://prod-a/system", "prod-a", "web01");
    ok(r && r->nnetmap == 1 && util_streq(r->netmap[0], "lan=bridge:br-dr"),
       "a list of strings is accepted too");
    from = util_xasprintf("%s:6", path);
    ok(r && util_streq(r->netmap_from, from), "its place is the line of network_map (%s)",
       r && r->netmap_from ? r->netmap_from : "nothing");
    free(from);
    r = conf_repl_find(c, "qemu+ssh://prod-b/system", "prod-b", NULL);
    ok(r && !r->netmap && r->nnetmap == 0 && !r->netmap_from, "a group without network_map: not set");
    copy = conf_load(path);
    ok(copy && copy->nrepls == 4 && copy->repls[0].nnetmap == 2 &&
       util_streq(copy->repls[0].netmap[1], "bridge:br-prod=network:drnet") &&
       copy->repls[1].netmap && copy->repls[1].nnetmap == 0 &&
       util_streq(copy->repls[2].netmap_from, c->repls[2].netmap_from),
       "conf_load keeps the maps and where they are");
    conf_free(copy);
    free(path);
    conf_free(c);

    check_refused("network_map entry without =",
                  PREFIX_NOHOSTS "replication = ( { primary = \"a\"; network_map = [ \"prodnet\" ]; } );\n",
                  3, "replication[0].network_map[0]", "\"prodnet\" is not SRC=DST");
    check_refused("network_map entry of an unknown kind",
                  PREFIX_NOHOSTS "replication = ( { primary = \"a\";\n"
                  "  network_map = [ \"prodnet=drnet\", \"vlan:7=drnet\" ]; } );\n",
                  4, "replication[0].network_map[1]", "NAME, network:NAME or bridge:NAME");
    check_refused("network_map entry with an empty side",
                  PREFIX_NOHOSTS "replication = (\n { primary = \"a\"; },\n"
                  " { primary = \"b\"; network_map = [ \"=drnet\" ]; } );\n",
                  5, "replication[1].network_map[0]", "\"=drnet\"");
    check_refused("network_map as a string",
                  PREFIX_NOHOSTS "replication = ( { primary = \"a\"; network_map = \"a=b\"; } );\n",
                  3, "replication[0].network_map", "a list of strings");
    check_refused("network_map of integers",
                  PREFIX_NOHOSTS "replication = ( { primary = \"a\"; network_map = [ 5 ]; } );\n",
                  3, "replication[0].network_map[0]", "expected a string");
    check_refused("network_map with a group in it",
                  PREFIX_NOHOSTS "replication = ( { primary = \"a\";\n"
                  "  network_map = ( \"a=b\", { x = 1; } ); } );\n",
                  4, "replication[0].network_map[1]", "expected a string");
    check_refused("network_map at the top level",
                  PREFIX_NOHOSTS "network_map = [ \"a=b\" ];\n", 3,
                  "unknown setting \"network_map\"", NULL);
}

static void
test_values_refused(void)
{
    check_refused("relative audit_log", PREFIX "audit_log = \"var/log/audit.log\";\n", 3,
                  "audit_log", "expected an absolute file path");
    check_refused("relative job_history", PREFIX "job_history = \"jobs.jsonl\";\n", 3,
                  "job_history", "\"jobs.jsonl\"");
    check_refused("empty path", PREFIX "job_history = \"\";\n", 3, "job_history",
                  "expected an absolute file path");
    check_refused("path with ..", PREFIX "audit_log = \"/var/log/../audit.log\";\n", 3,
                  "audit_log", "expected an absolute file path");
    check_refused("path naming a directory", PREFIX "audit_log = \"/var/log/drover/\";\n", 3,
                  "audit_log", "expected an absolute file path");
    check_refused("bad confirm", PREFIX "confirm = \"yes\";\n", 3,
                  "confirm", "expected \"type-name\" or \"yes-no\", found \"yes\"");
    check_refused("bad confirm case", PREFIX "confirm = \"Type-Name\";\n", 3,
                  "confirm", "found \"Type-Name\"");
    check_refused("bad theme", PREFIX "theme = \"dark\";\n", 3,
                  "theme", "expected \"default\" or \"mono\", found \"dark\"");
}

static void
test_files(void)
{
    char *path, *inc, *want;
    Conf *c = conf_new_default(), *ref = conf_new_default();
    const char *msg;
    int rc;

    path = util_xasprintf("%s/does-not-exist.conf", tap_tmpdir());
    is_int(conf_load_file(c, path), -1, "missing file refused by conf_load_file");
    is_int(err_code(), RESULT_INVALID_PARAMETER, "missing file: 32773");
    ok(strstr(err_message(), path) && strstr(err_message(), "No such file"),
       "missing file: message names it and says why (%s)", err_message());
    free(path);

    path = util_xasprintf("%s/a-directory", tap_tmpdir());
    mkdir(path, 0700);
    is_int(conf_load_file(c, path), -1, "directory refused");
    ok(strstr(err_message(), path) && strstr(err_message(), "Is a directory"),
       "directory: message names it (%s)", err_message());
    free(path);

    path = write_conf("binary.conf", "");
    tap_system("printf 'theme = \"mono\";\\000\\001' > '%s'", path);
    is_int(conf_load_file(c, path), -1, "file with a NUL byte refused");
    ok(strstr(err_message(), path) != NULL, "NUL byte: message names the file (%s)", err_message());
    free(path);
    ok(conf_equal(c, ref), "conf unchanged by the unreadable files");

    /* @include is resolved beside the including file, and an error inside
     * the included file names that file. */
    inc = write_conf("inc/hosts.conf",
                     "hosts = ( { name = \"inc\"; uri = \"test:///default\"; } );\n");
    path = write_conf("inc/main.conf", "theme = \"mono\";\n@include \"hosts.conf\"\n");
    rc = conf_load_file(c, path);
    is_int(rc, 0, "@include beside the file loads (%s)", rc ? err_message() : "");
    ok(c->nhosts == 1 && util_streq(c->hosts[0].name, "inc"), "included hosts taken");
    free(path);
    free(inc);
    inc = write_conf("inc/bad.conf", "\nrpo_warning = 1;\n");
    path = write_conf("inc/main2.conf", "theme = \"default\";\n@include \"bad.conf\"\n");
    want = util_xasprintf("%s/inc/bad.conf:2: rpo_warning", tap_tmpdir());
    is_int(conf_load_file(c, path), -1, "error in an included file refused");
    msg = err_message();
    ok(strstr(msg, want) == msg, "message names the included file and its line (%s)", msg);
    is_str(c->theme, "mono", "conf unchanged");
    free(want);
    free(path);
    free(inc);
    inc = write_conf("inc/main3.conf", "theme = \"default\";\n@include \"missing.conf\"\n");
    is_int(conf_load_file(c, inc), -1, "missing include refused");
    want = util_xasprintf("%s:2: ", inc);
    ok(strstr(err_message(), want) == err_message(), "names the including file and line (%s)",
       err_message());
    free(want);
    free(inc);
    inc = write_conf("inc/main4.conf", "theme = \"default\";\n@include \"a\\\\b\"\n");
    is_int(conf_load_file(c, inc), -1, "an @include name with a backslash refused");
    ok(strstr(err_message(), "backslashes") != NULL && strstr(err_message(), ":2:") != NULL,
       "names the line and the reason (%s)", err_message());
    free(inc);

    conf_free(c);
    conf_free(ref);
}

static void
test_order(void)
{
    char *a = write_conf("order-a.conf",
                         "refresh_interval = 10;\nshutdown_timeout = 30;\n"
                         "hosts = ( { name = \"a1\"; uri = \"qemu:///system\"; },\n"
                         "          { name = \"a2\"; uri = \"test:///default\"; } );\n");
    char *b = write_conf("order-b.conf",
                         "refresh_interval = 20;\ntheme = \"mono\";\n"
                         "hosts = ( { name = \"b1\"; uri = \"qemu+ssh://b1/system\"; readonly = true; } );\n");
    char *e = write_conf("order-empty.conf", "hosts = ();\n");
    char *n = write_conf("order-nohosts.conf", "readonly = true;\n");
    Conf *c = conf_new_default();

    is_int(conf_load_file(c, a), 0, "first file loads");
    is_int(c->nhosts, 2, "first file: two hosts");
    is_int(conf_load_file(c, b), 0, "second file loads");
    is_int(c->refresh_interval, 20, "later file overrides refresh_interval");
    is_int(c->shutdown_timeout, 30, "setting the later file does not name is kept");
    is_str(c->theme, "mono", "later file's own setting taken");
    is_int(c->nhosts, 1, "later host list replaces, not appends");
    ok(c->nhosts == 1 && util_streq(c->hosts[0].name, "b1") && c->hosts[0].readonly,
       "the host is the later file's");
    is_int(conf_load_file(c, n), 0, "file without hosts loads");
    is_int(c->nhosts, 1, "a file without hosts keeps the list");
    is_int(conf_load_file(c, e), 0, "file with an empty host list loads");
    is_int(c->nhosts, 0, "hosts = () clears the list");
    conf_free(c);
    free(a);
    free(b);
    free(e);
    free(n);
}

static void
restore_env(const char *name, char *saved)
{
    if (saved)
        setenv(name, saved, 1);
    else
        unsetenv(name);
    free(saved);
}

static void
test_conf_load(void)
{
    char *save_sys = util_xstrdup(getenv("DROVER_SYSCONFDIR"));
    char *save_cfg = util_xstrdup(getenv("XDG_CONFIG_HOME"));
    char *save_home = util_xstrdup(getenv("HOME"));
    char *sysdir = util_xasprintf("%s/load/sys", tap_tmpdir());
    char *cfgdir = util_xasprintf("%s/load/user", tap_tmpdir());
    char *sys, *user, *expl, *missing, *home;
    Conf *c, *def = conf_new_default();

    setenv("DROVER_SYSCONFDIR", sysdir, 1);
    setenv("XDG_CONFIG_HOME", cfgdir, 1);

    c = conf_load(NULL);
    ok(c != NULL, "conf_load with no files at all");
    ok(c && conf_equal(c, def), "gives the defaults");
    conf_free(c);

    sys = write_conf("load/sys/drover/drover.conf",
                     "refresh_interval = 10;\nshutdown_timeout = 30;\n"
                     "hosts = ( { name = \"s1\"; uri = \"qemu:///system\"; },\n"
                     "          { name = \"s2\"; uri = \"test:///default\"; } );\n");
    c = conf_load(NULL);
    ok(c && c->refresh_interval == 10 && c->nhosts == 2, "system file read from $DROVER_SYSCONFDIR/drover");
    conf_free(c);

    user = write_conf("load/user/drover/drover.conf",
                      "refresh_interval = 20;\n"
                      "hosts = ( { name = \"u1\"; uri = \"qemu+ssh://u1/system\"; } );\n");
    expl = write_conf("load/explicit.conf", "theme = \"mono\";\n");
    c = conf_load(expl);
    ok(c != NULL, "system, user and explicit files load (%s)", c ? "" : err_message());
    if (c) {
        is_int(c->refresh_interval, 20, "user file overrides the system file");
        is_int(c->shutdown_timeout, 30, "system setting the user file does not name is kept");
        is_str(c->theme, "mono", "explicit file applied");
        ok(c->nhosts == 1 && util_streq(c->hosts[0].name, "u1"), "user hosts replace system hosts");
    } else {
        tap_skip(4, "conf_load failed");
    }
    conf_free(c);

    missing = util_xasprintf("%s/load/missing.conf", tap_tmpdir());
    c = conf_load(missing);
    ok(c == NULL, "missing explicit file refused");
    is_int(err_code(), RESULT_INVALID_PARAMETER, "missing explicit file: 32773");
    ok(strstr(err_message(), missing) != NULL, "missing explicit file named (%s)", err_message());
    conf_free(c);
    free(missing);

    free(write_conf("load/user/drover/drover.conf", "\n\ntheme = \"blue\";\n"));
    c = conf_load(expl);
    ok(c == NULL, "bad user file stops conf_load");
    missing = util_xasprintf("%s:3: theme", user);
    ok(strstr(err_message(), missing) == err_message(), "message names the user file and line (%s)",
       err_message());
    free(missing);
    conf_free(c);

    /* Any error but "does not exist" is reported, also for the optional files. */
    tap_system("rm -f '%s' && mkdir '%s'", sys, sys);
    tap_system("rm -f '%s'", user);
    c = conf_load(NULL);
    ok(c == NULL, "system path that is a directory is reported");
    ok(strstr(err_message(), sys) != NULL, "naming it (%s)", err_message());
    conf_free(c);
    tap_system("rmdir '%s'", sys);

    /* Without $XDG_CONFIG_HOME the user file is ~/.config/drover/drover.conf. */
    unsetenv("XDG_CONFIG_HOME");
    home = util_xasprintf("%s/load/home", tap_tmpdir());
    setenv("HOME", home, 1);
    free(write_conf("load/home/.config/drover/drover.conf", "rpo_warning = 120;\n"));
    c = conf_load(NULL);
    ok(c && c->rpo_warning == 120, "user file found under $HOME/.config");
    conf_free(c);
    setenv("XDG_CONFIG_HOME", "relative/dir", 1);
    c = conf_load(NULL);
    ok(c && c->rpo_warning == 120, "a relative $XDG_CONFIG_HOME is ignored");
    conf_free(c);

    restore_env("DROVER_SYSCONFDIR", save_sys);
    restore_env("XDG_CONFIG_HOME", save_cfg);
    restore_env("HOME", save_home);
    conf_free(def);
    free(home);
    free(sys);
    free(user);
    free(expl);
    free(sysdir);
    free(cfgdir);
}

static void
check_host_name(Conf *c, const char *uri, const char *want)
{
    conf_add_host(c, NULL, uri, 0);
    is_str(c->nhosts ? c->hosts[c->nhosts - 1].name : NULL, want, "%s is named %s", uri, want);
}

static void
test_add_host(void)
{
    Conf *c = conf_new_default();

    check_host_name(c, "qemu+ssh://dr-b/system", "dr-b");
    check_host_name(c, "qemu+ssh://root@dr-c:2222/system?keyfile=/k", "dr-c");
    check_host_name(c, "qemu+tcp://dr-d.example.org/system", "dr-d.example.org");
    check_host_name(c, "qemu+tcp://[fe80::1]:16509/system", "fe80::1");
    check_host_name(c, "qemu:///system", "localhost");
    check_host_name(c, "qemu+unix:///system?socket=/run/x.sock", "localhost-2");
    check_host_name(c, "test:///tmp/demo/fleet.xml", "fleet");
    check_host_name(c, "test:///default", "default");
    check_host_name(c, "test+unix:///tmp/demo/fleet2.xml?socket=/s", "fleet2");
    check_host_name(c, "hail", "hail");
    check_host_name(c, "qemu+ssh://dr-b/system", "dr-b-2");
    check_host_name(c, "qemu+ssh://dr-b/session", "dr-b-3");
    is_str(c->hosts[0].uri, "qemu+ssh://dr-b/system", "uri kept");
    is_int(c->hosts[0].readonly, 0, "readonly kept (0)");
    conf_add_host(c, "prod", "qemu+ssh://dr-x/system", 1);
    is_str(c->hosts[c->nhosts - 1].name, "prod", "explicit name kept");
    is_int(c->hosts[c->nhosts - 1].readonly, 1, "readonly kept (1)");
    conf_add_host(c, "", "qemu+ssh://dr-y/system", 0);
    is_str(c->hosts[c->nhosts - 1].name, "dr-y", "empty name derived from the URI");
    is_int(c->nhosts, 14, "every host appended");
    conf_free(c);
}

static void
test_settings_table(void)
{
    static const char *const want[] = {
        "hosts", "refresh_interval", "confirm", "shutdown_timeout", "require_reason",
        "rpo_warning", "audit_log", "job_history", "theme", "readonly", NULL,
    };
    const ConfSetting *set = conf_settings(), *s;
    char *path;
    size_t n = 0, i;
    int complete = 1, known = 1;

    for (s = set; s->name; s++) {
        n++;
        if (!s->type || !*s->type || !s->def || !*s->def || !s->doc || !*s->doc)
            complete = 0;
    }
    is_int(n, 16, "sixteen settings");
    ok(complete, "each has a type, a default and a doc");
    for (i = 0; want[i]; i++) {
        for (s = set; s->name; s++)
            if (strcmp(s->name, want[i]) == 0)
                break;
        ok(s->name != NULL, "setting %s listed", want[i]);
    }
    for (s = set; s->name; s++) {
        if (strcmp(s->name, "refresh_interval") == 0) {
            is_str(s->def, "5", "refresh_interval default shown as 5");
            ok(strstr(s->type, "1..3600") != NULL, "refresh_interval type shows its range (%s)",
               s->type);
        } else if (strcmp(s->name, "confirm") == 0) {
            is_str(s->def, "\"type-name\"", "confirm default shown");
        } else if (strcmp(s->name, "readonly") == 0) {
            is_str(s->def, "false", "readonly default shown");
        }
    }
    ok(conf_settings() == set, "the same table every call");

    /* Every documented name is one the parser knows: a list is the wrong
     * type for all of them, never an unknown setting. */
    for (s = set; s->name; s++) {
        char *text = util_xasprintf("%s = ( 1 );\n", s->name);
        Conf *c = conf_new_default();

        path = write_conf("table.conf", text);
        if (conf_load_file(c, path) == 0 || strstr(err_message(), "unknown setting")) {
            known = 0;
            tap_diag("%s: %s", s->name, err_message());
        }
        conf_free(c);
        free(path);
        free(text);
    }
    ok(known, "the parser checks every documented setting");
}

static void
test_sample(void)
{
    const char *top = getenv("top_srcdir");
    char *path = util_xasprintf("%s/conf/drover.conf", top && *top ? top : "..");
    char *text = read_text(path);
    Conf *c = conf_new_default(), *def = conf_new_default();
    const ConfSetting *s;
    int all = 1, rc;

    ok(text != NULL, "sample %s readable", path);
    rc = conf_load_file(c, path);
    is_int(rc, 0, "sample conf/drover.conf loads (%s)", rc ? err_message() : "");
    /* An installed sample must not shadow -c or LIBVIRT_DEFAULT_URI. */
    is_int(c->nhosts, 0, "sample names no host (its example is commented out)");
    ok(conf_equal(c, def), "every value in the sample is the default");
    for (s = conf_settings(); text && s->name; s++) {
        char *key = util_xasprintf("%s = ", s->name);

        if (!strstr(text, key)) {
            all = 0;
            tap_diag("sample lacks %s", s->name);
        }
        free(key);
    }
    ok(text && all, "sample shows every setting");
    free(text);
    free(path);
    conf_free(c);
    conf_free(def);
}

int
main(void)
{
    test_defaults();
    test_full();
    test_accepted_forms();
    test_syntax_errors();
    test_unknown_keys();
    test_wrong_types();
    test_ranges();
    test_hosts_refused();
    test_replication();
    test_netmap_parse();
    test_replication_netmap();
    test_values_refused();
    test_files();
    test_order();
    test_conf_load();
    test_add_host();
    test_settings_table();
    test_sample();
    return tap_done();
}
