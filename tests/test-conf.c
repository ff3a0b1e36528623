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
#include "test-conf.h"
#include "tap.h"
#include "base/util.h"

/* Writes text to tap_tmpdir()/name (creating directories); returns the path. */
char *
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

int
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
