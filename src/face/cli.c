/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cli: the command line's main: options, the session, shared helpers, demo and the console. */
#include <config.h>

#include "face/cli.h"
#include "face/cli-priv.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "face/demo.h"
#include "base/err.h"
#include "face/report.h"
#include "base/result.h"
#include "base/util.h"

enum {
    OPT_CONFIG = 256, OPT_JSON, OPT_DRY_RUN, OPT_REASON, OPT_POINT, OPT_FLATTEN, OPT_DIR,
    OPT_VMS, OPT_NO_CONSOLE, OPT_EXIT_AFTER, OPT_ALL, OPT_MAN, OPT_NAMES, OPT_FROM, OPT_NBD,
    OPT_NAME, OPT_INTERVAL, OPT_POINTS, OPT_DUE, OPT_WATCH, OPT_APP_EVERY, OPT_FORCE,
    OPT_TEST_NETWORK, OPT_NETWORK_MAP, OPT_FOLLOW, OPT_NO_WAIT, OPT_PLANNED, OPT_START,
};

static const struct option cli_options[] = {
    { "connect", required_argument, NULL, 'c' },
    { "config", required_argument, NULL, OPT_CONFIG },
    { "readonly", no_argument, NULL, 'r' },
    { "json", no_argument, NULL, OPT_JSON },
    { "yes", no_argument, NULL, 'y' },
    { "dry-run", no_argument, NULL, OPT_DRY_RUN },
    { "reason", required_argument, NULL, OPT_REASON },
    { "point", required_argument, NULL, OPT_POINT },
    { "flatten", no_argument, NULL, OPT_FLATTEN },
    { "force", no_argument, NULL, OPT_FORCE },
    { "planned", no_argument, NULL, OPT_PLANNED },
    { "start", no_argument, NULL, OPT_START },
    { "test-network", required_argument, NULL, OPT_TEST_NETWORK },
    { "network-map", required_argument, NULL, OPT_NETWORK_MAP },
    { "dir", required_argument, NULL, OPT_DIR },
    { "vms", required_argument, NULL, OPT_VMS },
    { "no-console", no_argument, NULL, OPT_NO_CONSOLE },
    { "exit-after", required_argument, NULL, OPT_EXIT_AFTER },
    { "all", no_argument, NULL, OPT_ALL },
    { "man", no_argument, NULL, OPT_MAN },
    { "names", no_argument, NULL, OPT_NAMES },
    { "from", required_argument, NULL, OPT_FROM },
    { "nbd", required_argument, NULL, OPT_NBD },
    { "name", required_argument, NULL, OPT_NAME },
    { "interval", required_argument, NULL, OPT_INTERVAL },
    { "points", required_argument, NULL, OPT_POINTS },
    { "due", no_argument, NULL, OPT_DUE },
    { "watch", no_argument, NULL, OPT_WATCH },
    { "app-consistent-every", required_argument, NULL, OPT_APP_EVERY },
    { "follow", no_argument, NULL, OPT_FOLLOW },
    { "no-wait", no_argument, NULL, OPT_NO_WAIT },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
};

static CliConsoleFn cli_console;
/* This program, for the job processes it starts; NULL when unknown. */
static char *cli_exe;

void
cli_usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("drover: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'drover --help' for more information.\n", stderr);
}

/* --- helpers ------------------------------------------------------------- */

Session *
cli_session_in(const CliOpts *o, int connect, const char *state_dir);

Session *
cli_session(const CliOpts *o, int connect)
{
    return cli_session_in(o, connect, NULL);
}

Session *
cli_session_in(const CliOpts *o, int connect, const char *state_dir)
{
    SessionArgs sa;
    const char **uris = util_xcalloc(o->nuris + 1, sizeof(*uris));
    Session *s;
    size_t i;

    for (i = 0; i < o->nuris; i++)
        uris[i] = o->uris[i];
    memset(&sa, 0, sizeof(sa));
    sa.config = o->config;
    sa.uris = uris;
    sa.readonly = o->readonly;
    sa.connect = connect;
    sa.state_dir = state_dir;
    s = session_open(&sa);
    free(uris);
    if (!s)
        fprintf(stderr, "drover: %s\n", err_message());
    else if (cli_exe)
        job_table_set_exe(s->jobs, cli_exe);
    return s;
}

/* Prints the decoded error for op on vm and returns the exit status. */
int
cli_fail(const CliOpts *o, const char *op, const char *vm, const char *host, json_object *extra)
{
    ResultCtx ctx;
    ResultInfo info;
    int status;

    err_to_ctx(&ctx, op, vm, host);
    if (!ctx.code)
        ctx.code = RESULT_FAILED;
    result_decode(&ctx, &info);
    status = result_exit_status(info.code);
    if (o->json) {
        json_object *j = report_result_json(&info, err_message());
        if (extra) {
            json_object_object_foreach(extra, k, v)
                json_object_object_add(j, k, json_object_get(v));
        }
        report_print_json(j);
        json_object_put(j);
    } else {
        char *text = report_result_text(&info);
        fputs(text, stderr);
        free(text);
    }
    result_info_clear(&info);
    return status;
}

/* Finds VM on the session's hosts. */
int
cli_find(Session *s, const CliOpts *o, const char *op, const char *ref, char uuid[37])
{
    int h = session_find_vm(s, ref, uuid);

    if (h < 0)
        return -1 - cli_fail(o, op, ref, NULL, NULL);
    return h;
}

int
cli_vm_matches(const char *ref, const HvDomain *d, const char *host)
{
    size_t n = strlen(d->name);

    if (strcmp(ref, d->name) == 0 || strcasecmp(ref, d->uuid) == 0)
        return 1;
    return strncmp(ref, d->name, n) == 0 && ref[n] == '@' && strcmp(ref + n + 1, host) == 0;
}

/* All domains of host i with their records; a host that cannot be listed
 * is reported on stderr and sets *status to the 32777 exit status. */
int
cli_list_host(Session *s, size_t i, HvDomain **doms, size_t *n, int *status)
{
    *doms = NULL;
    *n = 0;
    if (s->hosts[i].conn && hv_list(s->hosts[i].conn, HV_LIST_METADATA, doms, n) == 0)
        return 0;
    if (!s->hosts[i].conn)
        err_set(RESULT_NOT_AVAILABLE, "not connected");
    cli_list_host_down(s, i, status);
    return -1;
}

void
cli_list_host_down(Session *s, size_t i, int *status)
{
    fprintf(stderr, "drover: host %s (%s) is not available: %s (%d)\n", s->hosts[i].name,
            s->hosts[i].uri, err_message(), RESULT_NOT_AVAILABLE);
    *status = result_exit_status(RESULT_NOT_AVAILABLE);
}

static void
cli_demo_progress(const char *line, void *opaque)
{
    (void)opaque;
    fprintf(stderr, "drover demo: %s\n", line);
}

int
cli_demo(const CliCommand *cmd, CliOpts *o)
{
    DemoArgs da;
    UTIL_AUTOFREE char *uri = NULL;
    Session *s;
    CliConsoleOpts co;
    int status;

    (void)cmd;
    memset(&da, 0, sizeof(da));
    da.dir = o->dir;
    da.vms = o->vms;
    da.progress = cli_demo_progress;
    if (!(uri = demo_build(&da)))
        return cli_fail(o, "demo", NULL, NULL, NULL);
    if (o->no_console || !cli_console) {
        if (o->json) {
            json_object *j = json_object_new_object();
            json_object_object_add(j, "uri", json_object_new_string(uri));
            report_print_json(j);
            json_object_put(j);
        } else {
            printf("%s\n", uri);
            if (!o->no_console)
                printf("Try: drover -c %s list\n     drover -c %s revert web02\n", uri, uri);
        }
        return 0;
    }
    o->uris = util_xrealloc(o->uris, (o->nuris + 1) * sizeof(*o->uris));
    o->uris[o->nuris++] = util_xstrdup(uri);
    {
        /* The demo is a sandbox: its audit log and job history stay in it. */
        UTIL_AUTOFREE char *fleet_dir = util_dirname(uri + strlen("test://"));
        if (!(s = cli_session_in(o, 1, fleet_dir)))
            return result_exit_status(err_code());
    }
    memset(&co, 0, sizeof(co));
    co.readonly = o->readonly;
    co.exit_after = o->exit_after;
    co.demo_dir = o->dir;
    status = cli_console(s, &co);
    session_free(s);
    return status;
}

/* --- main ---------------------------------------------------------------- */

static int
cli_parse_int(const char *opt, const char *val, long long min, long long max, int *out)
{
    long long v;

    if (util_parse_ll(val, min, max, &v) < 0) {
        cli_usage_error("%s: '%s' is not a number from %lld to %lld", opt, val, min, max);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static void
cli_opts_free(CliOpts *o)
{
    size_t i;

    for (i = 0; i < o->nuris; i++)
        free(o->uris[i]);
    free(o->uris);
    free(o->args);
    free(o->netmap);
    free(o->seen);
}

static int
cli_option_index(const char *name)
{
    int i;

    for (i = 0; cli_options[i].name; i++)
        if (strcmp(cli_options[i].name, name) == 0)
            return i;
    return -1;
}

/* Is word one of the space-separated words of list? */
static int
cli_word_in(const char *word, const char *list)
{
    size_t n = strlen(word);
    const char *p = list;

    while ((p = strstr(p, word))) {
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
        p += n;
    }
    return 0;
}

/* Options belong to commands, as with virsh and git: one a command does not
 * take is a usage error, not silently ignored.  The common options go
 * everywhere; the console (no command) takes --exit-after. */
static int
cli_check_options(const CliCommand *cmd, const char *const *seen, size_t nseen)
{
    static const char common[] = "connect config readonly help version";
    const char *takes = cmd ? cmd->opts : "exit-after";
    size_t i;

    for (i = 0; i < nseen; i++) {
        if (cli_word_in(seen[i], common) || cli_word_in(seen[i], takes ? takes : ""))
            continue;
        if (cmd) {
            UtilBuf b = { 0 };
            const char *p = takes ? takes : "";

            while (*p) {
                size_t n = strcspn(p, " ");
                util_buf_printf(&b, "%s--%.*s", b.len ? ", " : "", (int)n, p);
                p += n + (p[n] == ' ');
            }
            cli_usage_error("%s does not take --%s (%s%s)", cmd->name, seen[i],
                            b.len ? "it takes " : "it takes only the common options",
                            b.len ? b.s : "");
            util_buf_free(&b);
        } else
            cli_usage_error("--%s needs a command (the console takes only --exit-after)", seen[i]);
        return -1;
    }
    return 0;
}

/* A reader of our output went away: end silently, killed by SIGPIPE, as
 * a program that does not ignore it ends under `| head`. */
static void
cli_die_of_pipe(void)
{
    signal(SIGPIPE, SIG_DFL);
    raise(SIGPIPE);
}

void
cli_flush(FILE *f)
{
    if (fflush(f) == EOF && errno == EPIPE)
        cli_die_of_pipe();
}

/* GNU close_stdout: output that did not reach its file (a full disk,
 * /dev/full, a closed pipe's EIO) is an error, not a silent exit 0. */
static int
cli_close_stdout(int status)
{
    int failed = ferror(stdout) != 0;

    errno = 0;
    if (fclose(stdout) != 0)
        failed = 1;
    if (failed && errno == EPIPE)
        cli_die_of_pipe();
    if (failed) {
        fprintf(stderr, "drover: write error on standard output%s%s\n",
                errno ? ": " : "", errno ? strerror(errno) : "");
        return status ? status : 1;
    }
    return status;
}

static int cli_run(int argc, char **argv, CliConsoleFn console);

int
cli_main(int argc, char **argv, CliConsoleFn console)
{
    /* libvirt writes to its sockets with write(): a keepalive ping that
     * crosses the daemon's close of the connection raises SIGPIPE, which
     * must be that call's error, not the end of drover (or of the console
     * at 3 a.m.).  Our own output's readers: cli_flush. */
    signal(SIGPIPE, SIG_IGN);
    return cli_close_stdout(cli_run(argc, argv, console));
}

static int
cli_run(int argc, char **argv, CliConsoleFn console)
{
    CliOpts o;
    const CliCommand *cmd = NULL;
    int help = 0, c, status, i, li = -1;

    cli_console = console;
    /* A job process started by another drover: nothing else to parse. */
    if (argc == 4 && strcmp(argv[1], "job-run") == 0)
        return cli_job_process(argv[2], argv[3]);
    if (!cli_exe) {
        char exe[4096];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

        if (n > 0) {
            exe[n] = '\0';
            cli_exe = util_xstrdup(exe);
        }
    }
    memset(&o, 0, sizeof(o));
    o.seen = util_xcalloc((size_t)argc + 1, sizeof(*o.seen));
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:ryhV", cli_options, &li)) != -1) {
        if (c == 'y')
            li = cli_option_index("yes");
        if (li >= 0)
            o.seen[o.nseen++] = cli_options[li].name;   /* at most one per argument */
        li = -1;
        switch (c) {
        case 'c':
            o.uris = util_xrealloc(o.uris, (o.nuris + 1) * sizeof(*o.uris));
            o.uris[o.nuris++] = util_xstrdup(optarg);
            break;
        case OPT_CONFIG: o.config = optarg; break;
        case 'r': o.readonly = 1; break;
        case OPT_JSON: o.json = 1; break;
        case 'y': o.yes = 1; break;
        case OPT_DRY_RUN: o.dry_run = 1; break;
        case OPT_REASON: o.reason = optarg; break;
        case OPT_POINT: o.point = optarg; break;
        case OPT_FLATTEN: o.flatten = 1; break;
        case OPT_FORCE: o.force = 1; break;
        case OPT_PLANNED: o.planned = 1; break;
        case OPT_START: o.start = 1; break;
        case OPT_TEST_NETWORK: o.test_network = optarg; break;
        case OPT_NETWORK_MAP:
            o.netmap = util_xrealloc(o.netmap, (o.nnetmap + 1) * sizeof(*o.netmap));
            o.netmap[o.nnetmap++] = optarg;
            break;
        case OPT_DIR: o.dir = optarg; break;
        case OPT_NO_CONSOLE: o.no_console = 1; break;
        case OPT_ALL: o.all = 1; break;
        case OPT_MAN: o.man = 1; break;
        case OPT_NAMES: o.names = 1; break;
        case OPT_FROM: o.from = optarg; break;
        case OPT_NBD: o.nbd = optarg; break;
        case OPT_NAME: o.name = optarg; break;
        case OPT_INTERVAL: o.interval = optarg; break;
        case OPT_DUE: o.due = 1; break;
        case OPT_WATCH: o.watch = 1; break;
        case OPT_APP_EVERY: o.app_every = optarg; break;
        case OPT_POINTS:
            if (cli_parse_int("--points", optarg, 1, 1000, &o.points) < 0)
                goto usage;
            break;
        case OPT_FOLLOW: o.follow = 1; break;
        case OPT_NO_WAIT: o.no_wait = 1; break;
        case OPT_VMS:
            if (cli_parse_int("--vms", optarg, 1, 100000, &o.vms) < 0)
                goto usage;
            break;
        case OPT_EXIT_AFTER:
            if (cli_parse_int("--exit-after", optarg, 1, 1000000, &o.exit_after) < 0)
                goto usage;
            break;
        case 'h': help = 1; break;
        case 'V':
            /* GNU style: name and version, copyright, licence, warranty. */
            printf("drover %s\nBuilt against libvirt %s.\n"
                   "Copyright (C) 2026 the drover developers.\n"
                   "License GPLv2+: GNU GPL version 2 or later <https://gnu.org/licenses/old-licenses/gpl-2.0.html>.\n"
                   "This is free software: you are free to change and redistribute it.\n"
                   "There is NO WARRANTY, to the extent permitted by law.\n",
                   PACKAGE_VERSION, LIBVIRT_VERSION_TEXT);
            cli_opts_free(&o);
            return 0;
        case ':':
            cli_usage_error("option '%s' requires an argument", argv[optind - 1]);
            goto usage;
        default:
            if (optopt)
                cli_usage_error("invalid option -- '%c'", optopt);
            else
                cli_usage_error("unrecognized option '%s'", argv[optind - 1]);
            goto usage;
        }
    }
    if (optind < argc) {
        o.command = argv[optind++];
        if (!(cmd = cli_find_command(o.command))) {
            cli_usage_error("unknown command '%s'", o.command);
            goto usage;
        }
    }
    o.args = util_xcalloc((size_t)(argc - optind) + 1, sizeof(*o.args));
    for (i = optind; i < argc; i++)
        o.args[o.nargs++] = argv[i];
    if (!help && cli_check_options(cmd, o.seen, o.nseen) < 0)
        goto usage;
    if (help) {
        if (cmd)
            cli_print_command_help(cmd);
        else
            cli_print_help();
        cli_opts_free(&o);
        return 0;
    }
    if (!cmd) {
        Session *s;
        CliConsoleOpts co;

        if (o.nargs) {
            cli_usage_error("unexpected argument '%s'", o.args[0]);
            goto usage;
        }
        if (!console) {
            cli_usage_error("no command given");
            goto usage;
        }
        /* Not connected here: each host's fetcher connects (all at once),
         * so the console paints at once and a host that hangs holds up no
         * other. */
        if (!(s = cli_session(&o, 0))) {
            cli_opts_free(&o);
            return result_exit_status(RESULT_INVALID_PARAMETER);
        }
        memset(&co, 0, sizeof(co));
        co.readonly = o.readonly || s->conf->readonly;
        co.exit_after = o.exit_after;
        status = console(s, &co);
        session_free(s);
        cli_opts_free(&o);
        return status;
    }
    if (o.nargs < cmd->min_args || o.nargs > cmd->max_args) {
        cli_usage_error("%s takes %s%s", cmd->name, cmd->args[0] ? cmd->args : "no arguments",
                        o.nargs < cmd->min_args ? "" : " (too many arguments)");
        goto usage;
    }
    status = cmd->fn(cmd, &o);
    cli_opts_free(&o);
    return status;

usage:
    cli_opts_free(&o);
    return CLI_EXIT_USAGE;
}
