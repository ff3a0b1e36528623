/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for conf: files (includes, order, conf_load and its search), host
 * names added, the settings table and the sample file. */
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

void
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

void
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

void
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

void
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

void
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

void
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
