/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for conf: every refusal of a file's text (syntax, unknown keys, wrong
 * types, ranges, hosts, values) and the replication and network_map settings. */
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

void
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

void
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

void
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

void
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

void
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
void
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
void
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
void
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

void
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
