/* cli: the command line. */
#include <config.h>

#include "face/cli.h"
#include "face/cli-priv.h"

#include <ctype.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "face/demo.h"
#include "base/err.h"
#include "face/report.h"
#include "base/result.h"
#include "record/state.h"
#include "base/util.h"

static int cli_decode(const CliCommand *cmd, CliOpts *o);
static int cli_demo(const CliCommand *cmd, CliOpts *o);
static int cli_config(const CliCommand *cmd, CliOpts *o);

static const CliCommand cli_commands[] = {
    { "list", cli_list, "", 0, 0, "list replicas: state, health, failover point",
      "  Options: --json", -1 },
    { "show", cli_show, "VM", 1, 1, "one replica: disk chains, recovery points, health",
      "  Options: --json", -1 },
    { "failover", cli_operation, "VM", 1, 1, "fail over to a recovery point (newest by default)",
      "  Options: --point ID, --dry-run, --yes, --reason TEXT, --json\n"
      "  Creates one overlay per disk on the point and switches the VM to it: 5 Recovered.", OP_INITIATE },
    { "revert", cli_operation, "VM", 1, 1, "discard the failover disk: back to 3 Replicating",
      "  Options: --dry-run, --yes, --reason TEXT, --json\n"
      "  Powers the VM off first if it runs (graceful, then forced after shutdown_timeout).\n"
      "  Recovery points are never touched; failover can be tried again afterwards.", OP_REVERT },
    { "commit", cli_operation, "VM", 1, 1, "keep the failover, drop the other points (final)",
      "  Keeps the failed-over point and the failover disk; newer points are deleted.\n"
      "  It cannot be undone: revert is refused afterwards.\n"
      "  Options: --flatten (merge the layers under the failover disk; the VM must be off),\n"
      "           --dry-run, --yes, --reason TEXT, --json", OP_COMMIT },
    { "test-failover", cli_operation, "VM", 1, 1, "test failover: a VM-test domain without network",
      "  Options: --point ID, --dry-run, --yes, --reason TEXT, --json", OP_TEST },
    { "stop-test", cli_operation, "VM", 1, 1, "remove the test domain and its disks",
      "  Options: --dry-run, --yes, --reason TEXT, --json", OP_STOP_TEST },
    { "jobs", cli_jobs, "", 0, 0, "running and finished jobs, with their history",
      "  Options: --json", -1 },
    { "repair", cli_repair, "[VM]", 0, 1, "finish or undo interrupted operations",
      "  Without VM: every replica with an interrupted operation.\n"
      "  Options: --dry-run (say what it would do), --yes, --reason TEXT, --json", -1 },
    { "check", cli_check, "[VM]", 0, 1, "compare records with the disks; report health",
      "  Options: --json.  Exit status 7 when a replica is Critical.", -1 },
    { "decode", cli_decode, "[CODE]", 0, 1, "explain a result code (--all: every code)",
      "  Options: --all, --json,\n"
      "           --man (the code and exit-status tables as roff, for drover(1))", -1 },
    { "config", cli_config, "", 0, 0, "print the effective configuration and hosts",
      "  Options: --json, --man (the settings table as roff, for drover.conf(5))", -1 },
    { "demo", cli_demo, "", 0, 0, "build a demo DR site and open the console",
      "  Options: --dir DIR, --vms N, --no-console", -1 },
};
#define CLI_NCOMMANDS (sizeof(cli_commands) / sizeof(cli_commands[0]))

enum {
    OPT_CONFIG = 256, OPT_JSON, OPT_DRY_RUN, OPT_REASON, OPT_POINT, OPT_FLATTEN, OPT_DIR,
    OPT_VMS, OPT_NO_CONSOLE, OPT_EXIT_AFTER, OPT_ALL, OPT_MAN,
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
    { "dir", required_argument, NULL, OPT_DIR },
    { "vms", required_argument, NULL, OPT_VMS },
    { "no-console", no_argument, NULL, OPT_NO_CONSOLE },
    { "exit-after", required_argument, NULL, OPT_EXIT_AFTER },
    { "all", no_argument, NULL, OPT_ALL },
    { "man", no_argument, NULL, OPT_MAN },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
};

static CliConsoleFn cli_console;

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

static void
cli_print_help(void)
{
    size_t i;

    printf("Usage: drover [OPTION]... [COMMAND [ARG]...]\n"
           "Disaster-recovery console for libvirt/KVM replica VMs on qcow2 chains.\n"
           "Without a command, drover opens the console.\n\n"
           "Commands:\n");
    for (i = 0; i < CLI_NCOMMANDS; i++) {
        char left[40];
        snprintf(left, sizeof(left), "%s %s", cli_commands[i].name, cli_commands[i].args);
        printf("  %-20s %s\n", left, cli_commands[i].summary);
    }
    printf("\nOptions:\n"
           "  -c, --connect URI    libvirt host to use (repeatable); default: the hosts of\n"
           "                       drover.conf, else LIBVIRT_DEFAULT_URI or qemu:///system\n"
           "      --config FILE    read FILE after " SYSCONFDIR "/drover/drover.conf and\n"
           "                       ~/.config/drover/drover.conf\n"
           "  -r, --readonly       open libvirt read-only; every mutating action is refused\n"
           "      --json           print JSON (a stable interface, see doc/json.md)\n"
           "  -y, --yes            do not ask for confirmation (required when stdin is not\n"
           "                       a terminal)\n"
           "      --dry-run        print the plan and change nothing\n"
           "      --reason TEXT    why, for the audit log\n"
           "      --point ID       recovery point for failover and test-failover\n"
           "      --flatten        commit: merge the layers under the failover disk\n"
           "      --dir DIR        demo: where to build the demo site\n"
           "      --vms N          demo: number of replicas (default 12)\n"
           "      --no-console     demo: only build it and print its URI\n"
           "      --exit-after N   console: quit after N refresh cycles (for tests)\n"
           "      --man            decode, config: print the tables of the manual as roff\n"
           "      --all            decode: every result code\n"
           "  -h, --help           show this help (drover COMMAND --help for a command)\n"
           "  -V, --version        show the version\n\n"
           "A VM is named NAME, UUID or NAME@HOST.  Exit status: 0 success, 1 failed,\n"
           "2 usage or invalid parameter, 3 invalid state, 4 in use, 5 host not available\n"
           "or timeout, 6 access denied, 7 data or file problem, 8 not supported\n"
           "(drover decode --all lists every result code).\n\n"
           "Report bugs to: %s\n", PACKAGE_BUGREPORT);
}

static void
cli_print_command_help(const CliCommand *c)
{
    printf("Usage: drover %s%s%s\n%c%s.\n%s\n\nCommon options: -c URI, --config FILE, --readonly, --help.\n",
           c->name, c->args[0] ? " " : "", c->args, toupper((unsigned char)c->summary[0]),
           c->summary + 1, c->help);
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
cli_decode_one(int code, json_object *arr)
{
    ResultCtx ctx;
    ResultInfo info;

    memset(&ctx, 0, sizeof(ctx));
    ctx.code = code;
    result_decode(&ctx, &info);
    if (arr) {
        json_object_array_add(arr, report_result_json(&info, NULL));
    } else {
        printf("%d %s (%s)\n  %s\n", code, info.name, result_symbol(code) ? result_symbol(code) : "?",
               info.summary);
        if (code != 0 && code != 4096)
            printf("  next step: %s\n  retry safe: %s\n", info.next_step, info.retry_safe ? "yes" : "no");
        printf("  exit status: %d\n", result_exit_status(code));
    }
    result_info_clear(&info);
}

/* Text for roff: a leading dot or quote and backslashes are escaped. */
static void
cli_roff(const char *s)
{
    if (*s == '.' || *s == '\'')
        fputs("\\&", stdout);
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\e", stdout);
        else if (*s == '-')
            fputs("\\-", stdout);
        else
            fputc(*s, stdout);
    }
}

/* The result-code and exit-status tables for drover(1), from the same
 * tables `drover decode` uses. */
static void
cli_decode_man(void)
{
    const ResultExitRow *row;
    size_t n = 0, i;
    const int *codes = result_codes(&n);

    fputs(".\\\" Generated by: drover decode --all --man\n", stdout);
    fputs(".SH RESULT CODES\n"
          "Every operation ends with one of the result codes of Hyper-V's\n"
          ".BR Msvm_ReplicationService ;\n"
          "drover prints the number, the name, what happened to the VM, the cause,\n"
          "the next step and whether running it again is safe.\n", stdout);
    for (i = 0; i < n; i++) {
        ResultCtx ctx;
        ResultInfo info;

        memset(&ctx, 0, sizeof(ctx));
        ctx.code = codes[i];
        result_decode(&ctx, &info);
        printf(".TP\n.B %d\n", codes[i]);
        cli_roff(info.name);
        printf(" (%s).\n", result_symbol(codes[i]) ? result_symbol(codes[i]) : "");
        if (codes[i] != 0 && codes[i] != 4096) {
            cli_roff(info.next_step);
            printf("\nRetry safe: %s.\n", info.retry_safe ? "yes" : "no");
        }
        result_info_clear(&info);
    }
    fputs(".SH EXIT STATUS\n", stdout);
    for (row = result_exit_table(); row->meaning; row++) {
        printf(".TP\n.B %d\n", row->status);
        cli_roff(row->meaning);
        fputs(" (", stdout);
        cli_roff(row->codes);
        fputs(").\n", stdout);
    }
}

static int
cli_decode(const CliCommand *cmd, CliOpts *o)
{
    json_object *arr = o->json ? json_object_new_array() : NULL;
    long long code;

    (void)cmd;
    if (o->man) {
        if (arr)
            json_object_put(arr);
        cli_decode_man();
        return 0;
    }
    if (o->all || !o->nargs) {
        size_t n = 0, i;
        const int *codes = result_codes(&n);
        for (i = 0; i < n; i++)
            cli_decode_one(codes[i], arr);
    } else {
        if (util_parse_ll(o->args[0], 0, 65535, &code) < 0) {
            cli_usage_error("decode: '%s' is not a result code (a number such as 32775)", o->args[0]);
            if (arr)
                json_object_put(arr);
            return CLI_EXIT_USAGE;
        }
        cli_decode_one((int)code, arr);
        if (!result_is_known((int)code) && !arr)
            printf("  (not one of drover's result codes: see drover decode --all)\n");
    }
    if (arr) {
        report_print_json(o->nargs && !o->all ? json_object_array_get_idx(arr, 0) : arr);
        json_object_put(arr);
    }
    return 0;
}

static void
cli_config_man(void)
{
    const ConfSetting *st;

    fputs(".\\\" Generated by: drover config --man\n.SH SETTINGS\n", stdout);
    for (st = conf_settings(); st->name; st++) {
        printf(".TP\n\\fB%s\\fR (", st->name);
        cli_roff(st->type);
        fputs(")\n", stdout);
        cli_roff(st->doc);
        fputs(".\nDefault: ", stdout);
        cli_roff(st->def && *st->def ? st->def : "none");
        fputs(".\n", stdout);
    }
}

static int
cli_config(const CliCommand *cmd, CliOpts *o)
{
    Session *s;
    size_t i;

    (void)cmd;
    if (o->man) {
        cli_config_man();
        return 0;
    }
    if (!(s = cli_session(o, 0)))
        return result_exit_status(err_code());
    if (o->json) {
        json_object *j = json_object_new_object();
        json_object *hosts = json_object_new_array();
        for (i = 0; i < s->nhosts; i++) {
            json_object *h = json_object_new_object();
            json_object_object_add(h, "name", json_object_new_string(s->hosts[i].name));
            json_object_object_add(h, "uri", json_object_new_string(s->hosts[i].uri));
            json_object_object_add(h, "readonly", json_object_new_boolean(s->hosts[i].readonly));
            json_object_array_add(hosts, h);
        }
        json_object_object_add(j, "hosts", hosts);
        json_object_object_add(j, "refresh_interval", json_object_new_int(s->conf->refresh_interval));
        json_object_object_add(j, "confirm", json_object_new_string(
            s->conf->confirm == CONF_CONFIRM_YES_NO ? "yes-no" : "type-name"));
        json_object_object_add(j, "shutdown_timeout", json_object_new_int(s->conf->shutdown_timeout));
        json_object_object_add(j, "require_reason", json_object_new_boolean(s->conf->require_reason));
        json_object_object_add(j, "rpo_warning", json_object_new_int(s->conf->rpo_warning));
        json_object_object_add(j, "audit_log", s->conf->audit_log ? json_object_new_string(s->conf->audit_log) : NULL);
        json_object_object_add(j, "job_history", s->conf->job_history ? json_object_new_string(s->conf->job_history) : NULL);
        json_object_object_add(j, "theme", json_object_new_string(s->conf->theme ? s->conf->theme : "default"));
        json_object_object_add(j, "readonly", json_object_new_boolean(s->conf->readonly));
        report_print_json(j);
        json_object_put(j);
    } else {
        printf("hosts:\n");
        for (i = 0; i < s->nhosts; i++)
            printf("  %-12s %s%s\n", s->hosts[i].name, s->hosts[i].uri,
                   s->hosts[i].readonly ? " (read-only)" : "");
        printf("refresh_interval = %d;\nconfirm = \"%s\";\nshutdown_timeout = %d;\n"
               "require_reason = %s;\nrpo_warning = %d;\naudit_log = \"%s\";\n"
               "job_history = \"%s\";\ntheme = \"%s\";\nreadonly = %s;\n",
               s->conf->refresh_interval,
               s->conf->confirm == CONF_CONFIRM_YES_NO ? "yes-no" : "type-name",
               s->conf->shutdown_timeout, s->conf->require_reason ? "true" : "false",
               s->conf->rpo_warning, s->conf->audit_log ? s->conf->audit_log : "",
               s->conf->job_history ? s->conf->job_history : "",
               s->conf->theme ? s->conf->theme : "default", s->conf->readonly ? "true" : "false");
    }
    session_free(s);
    return 0;
}

static void
cli_demo_progress(const char *line, void *opaque)
{
    (void)opaque;
    fprintf(stderr, "drover demo: %s\n", line);
}

static int
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

static const CliCommand *
cli_find_command(const char *name)
{
    size_t i;

    for (i = 0; i < CLI_NCOMMANDS; i++)
        if (strcmp(cli_commands[i].name, name) == 0)
            return &cli_commands[i];
    return NULL;
}

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
}

int
cli_main(int argc, char **argv, CliConsoleFn console)
{
    CliOpts o;
    const CliCommand *cmd = NULL;
    int help = 0, c, status, i;

    cli_console = console;
    memset(&o, 0, sizeof(o));
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:ryhV", cli_options, NULL)) != -1) {
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
        case OPT_DIR: o.dir = optarg; break;
        case OPT_NO_CONSOLE: o.no_console = 1; break;
        case OPT_ALL: o.all = 1; break;
        case OPT_MAN: o.man = 1; break;
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
            printf("drover %s\nThe Hyper-V Replica failover model for libvirt/KVM and qcow2.\n"
                   "Built against libvirt %s.\nCopyright (C) 2026 the drover developers.\n",
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
