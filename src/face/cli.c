/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cli: the command line. */
#include <config.h>

#include "face/cli.h"
#include "face/cli-priv.h"

#include <ctype.h>
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
#include "record/state.h"
#include "base/util.h"

static int cli_decode(const CliCommand *cmd, CliOpts *o);
static int cli_demo(const CliCommand *cmd, CliOpts *o);
static int cli_config(const CliCommand *cmd, CliOpts *o);

static const CliCommand cli_commands[] = {
    { "list", cli_list, "", 0, 0, "list replicas: state, health, failover point",
      "  Options: --json, --names (one VM per line: NAME, and NAME@HOST where a name\n"
      "           is on several hosts; for scripts and completion)", -1,
      "json names" },
    { "show", cli_show, "VM", 1, 1, "one replica: disk chains, recovery points, health",
      "  Options: --json, --names (its recovery point ids, one per line, oldest first)", -1,
      "json names" },
    { "failover", cli_failover, "VM", 1, 1, "fail over to a recovery point (newest by default)",
      "  Options: --point ID, --force (with --reason: although the primary runs),\n"
      "           --planned [--start], --dry-run, --yes, --reason TEXT, --no-wait, --json\n"
      "  Asks the primary's libvirt first (the split-brain guard): refused while the\n"
      "  primary VM runs; proceeds, and says so, when its host does not answer.\n"
      "  Creates one overlay per disk on the point and switches the VM to it: 5 Recovered.\n"
      "  --planned (a replica drover replicates; no data lost): shuts the primary down\n"
      "  (shutdown_timeout; refused if it does not stop), runs a final cycle, marks the\n"
      "  primary prepared (autostart off, state 4), fails over to that point; --start\n"
      "  starts the replica after.", OP_INITIATE,
      "point force planned start dry-run yes reason no-wait json" },
    { "revert", cli_operation, "VM", 1, 1, "discard the failover disk: back to 3 Replicating",
      "  Options: --dry-run, --yes, --reason TEXT, --no-wait, --json\n"
      "  Powers the VM off first if it runs (graceful, then forced after shutdown_timeout).\n"
      "  Recovery points are never touched; failover can be tried again afterwards.", OP_REVERT,
      "dry-run yes reason no-wait json" },
    { "commit", cli_operation, "VM", 1, 1, "keep the failover, drop the other points (final)",
      "  Keeps the failed-over point and the failover disk; newer points are deleted.\n"
      "  It cannot be undone: revert is refused afterwards.\n"
      "  Options: --flatten (merge the layers under the failover disk; the VM must be off),\n"
      "           --dry-run, --yes, --reason TEXT, --no-wait, --json", OP_COMMIT,
      "flatten dry-run yes reason no-wait json" },
    { "test-failover", cli_operation, "VM", 1, 1, "test failover: a VM-test domain without network",
      "  Options: --point ID, --test-network NET (an isolated network for its interfaces;\n"
      "           without it they are left out), --dry-run, --yes, --reason TEXT, --no-wait,\n"
      "           --json", OP_TEST,
      "point test-network dry-run yes reason no-wait json" },
    { "stop-test", cli_operation, "VM", 1, 1, "remove the test domain and its disks",
      "  Options: --dry-run, --yes, --reason TEXT, --no-wait, --json", OP_STOP_TEST,
      "dry-run yes reason no-wait json" },
    { "enable-replication", cli_enable_replication, "VM", 1, 1,
      "replicate VM from a primary host to this one",
      "  Options: --from PRIMARY_URI (required), --dir DIR, --nbd HOST:PORT|unix:PATH,\n"
      "           --name NAME, --interval DURATION, --points N,\n"
      "           --app-consistent-every DURATION, --network-map SRC=DST (repeatable),\n"
      "           --dry-run, --yes, --reason TEXT, --no-wait, --json\n"
      "  Run on the DR host (-c URI).  Defines the replica (same UUID, disks on\n"
      "  DIR/<target>.base.qcow2, state 1), then copies every disk in full from the\n"
      "  running primary (pull backup, checkpoint drover.1): rp-0001, state 3.", -1,
      "from dir nbd name interval points app-consistent-every network-map dry-run yes reason "
      "no-wait json" },
    { "replicate", cli_replicate, "[VM]", 0, 1, "one replication cycle now: a new recovery point",
      "  Options: --due (every replica whose interval has passed, instead of VM),\n"
      "           --watch (--due in a loop until stopped), --dry-run, --reason TEXT,\n"
      "           --no-wait, --json (no confirmation: a cycle deletes nothing on this host)\n"
      "  Copies what changed on the primary since the newest point into a new layer\n"
      "  (the initial copy first while it is pending).  Refused while the replica is\n"
      "  failed over, running or suspended.  With --due each cycle is a job of its\n"
      "  own, waited for before the next starts.", -1,
      "due watch dry-run reason no-wait json" },
    { "resync", cli_resync, "VM", 1, 1, "full resynchronisation: a new base, the old chain deleted",
      "  Options: --dry-run, --yes, --reason TEXT, --no-wait, --json\n"
      "  When a cycle refuses because the changes since the newest point are unknown\n"
      "  (checkpoint deleted, primary crashed, disk resized, chain broken): copies\n"
      "  every disk in full into a new base with an empty point on it (state 10\n"
      "  Resynchronizing) while the old points stay usable, swaps it in with one\n"
      "  define (state 3), then deletes the old chain's files.", -1,
      "dry-run yes reason no-wait json" },
    { "reverse-replication", cli_reverse_replication, "VM", 1, 1,
      "after a planned failover: the old primary becomes the replica",
      "  Run on the old primary's host (-c its URI).  Options: --from URI (the failed-over\n"
      "           VM's host as seen from here; default: the record's), --dir DIR (new\n"
      "           layers), --nbd HOST:PORT|unix:PATH, --dry-run, --yes, --reason TEXT,\n"
      "           --no-wait, --json\n"
      "  The prepared primary's disks are the base, reused in place: each must hold the\n"
      "  final point (its checkpoint's bitmap consistent and clean), and the failed-over\n"
      "  VM must be on that point with the checkpoint taken when the planned failover\n"
      "  started it.\n"
      "  Here: mode 2, state 3; there: mode 1, state 3.  Cycles then run this way.", -1,
      "from dir nbd dry-run yes reason no-wait json" },
    { "suspend-replication", cli_repl_set, "VM", 1, 1, "pause replication: state 7 Suspended",
      "  Options: --dry-run, --yes, --reason TEXT, --no-wait, --json", 0,
      "dry-run yes reason no-wait json" },
    { "resume-replication", cli_repl_set, "VM", 1, 1, "resume a suspended replication: state 3",
      "  Options: --dry-run, --yes, --reason TEXT, --no-wait, --json", 1,
      "dry-run yes reason no-wait json" },
    { "disable-replication", cli_repl_set, "VM", 1, 1, "stop replicating; the replica and its points stay",
      "  Options: --dry-run, --yes, --reason TEXT, --no-wait, --json\n"
      "  Removes drover's replication settings from the record and drover's\n"
      "  checkpoints from the primary; failover to the points still works.", 2,
      "dry-run yes reason no-wait json" },
    { "stats", cli_repl_stats, "[VM]", 0, 1, "replication statistics: cycles, sizes, times",
      "  Options: --json\n"
      "  Per replica drover replicates: cycles succeeded, failed and missed; last,\n"
      "  average and largest size moved; last and average cycle time; newest point.", -1,
      "json" },
    { "jobs", cli_jobs, "[ID]", 0, 1, "running and finished jobs of every drover process",
      "  With ID (or a unique prefix of it): that job and its decoded result.\n"
      "  Options: --follow (follow the job, or the newest running one, to its end and\n"
      "           exit with its result's status), --json", -1,
      "follow json" },
    { "cancel", cli_cancel, "ID", 1, 1, "cancel a job that has not reached its switch yet",
      "  The job rolls back and ends Terminated; after its switch it cannot be\n"
      "  cancelled (it finishes by itself) and cancel says so.  Waits for the job to end.\n"
      "  Options: --no-wait, --json", -1,
      "no-wait json" },
    { "repair", cli_repair, "[VM]", 0, 1, "finish or undo interrupted operations",
      "  Without VM: every replica with an interrupted operation.  Each repair runs\n"
      "  as a job detached from the terminal, like the operations; the command waits\n"
      "  for it (Ctrl-C stops the waiting, not the job).\n"
      "  Options: --dry-run (say what it would do), --yes, --reason TEXT, --no-wait, --json", -1,
      "dry-run yes reason no-wait json" },
    { "check", cli_check, "[VM]", 0, 1, "compare records with the disks; report health",
      "  Options: --json.  Exit status 7 when a replica is Critical.", -1,
      "json" },
    { "decode", cli_decode, "[CODE]", 0, 1, "explain a result code (--all: every code)",
      "  Options: --all, --json,\n"
      "           --man (the code and exit-status tables as roff, for drover(1))", -1,
      "all json man" },
    { "config", cli_config, "", 0, 0, "print the effective configuration and hosts",
      "  Options: --json, --man (the settings table as roff, for drover.conf(5)),\n"
      "           --names (the hosts' URIs, one per line)", -1,
      "json man names" },
    { "demo", cli_demo, "", 0, 0, "build a demo DR site and open the console",
      "  Options: --dir DIR, --vms N, --no-console, --json (with --no-console: the URI as JSON)", -1,
      "dir vms no-console exit-after json" },
};
#define CLI_NCOMMANDS (sizeof(cli_commands) / sizeof(cli_commands[0]))

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
           "                       drover.conf, else libvirt's default URI (as virsh's)\n"
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
           "      --force          failover: although the primary VM runs (the split-brain\n"
           "                       guard overridden); needs --reason, kept in the audit log\n"
           "      --planned        failover: a planned failover from the primary (no data lost)\n"
           "      --start          failover --planned: start the replica after it\n"
           "      --network-map SRC=DST  enable-replication: the replica's interfaces on the\n"
           "                       primary's network or bridge SRC use DST on the DR site\n"
           "                       (repeatable; network:NAME or bridge:NAME to say which)\n"
           "      --test-network NET  test-failover: the test system's interfaces use this\n"
           "                       isolated network (without it they are left out)\n"
           "      --no-wait        operations, replication, repair, cancel: start the job and\n"
           "                       return at once (result 4096 and the job id); without it\n"
           "                       the command waits, and Ctrl-C stops the waiting, not the job\n"
           "      --follow         jobs: follow a job to its end\n"
           "      --dir DIR        demo: where to build the demo site; enable-replication:\n"
           "                       where the replica's files go\n"
           "      --from URI       enable-replication: the primary host\n"
           "      --nbd HOST:PORT  enable-replication: the primary's NBD export address\n"
           "      --name NAME      enable-replication: the replica's name (default: the VM's)\n"
           "      --interval D     enable-replication: a cycle every D (300, 30s, 5m, 4h)\n"
           "                       for replicate --due\n"
           "      --points N       enable-replication: recovery points kept (default: all)\n"
           "      --app-consistent-every D  enable-replication: an application-consistent\n"
           "                       point (guest agent freeze) at most every D\n"
           "      --due            replicate: every replica whose interval has passed\n"
           "      --watch          replicate: --due in a loop, in the foreground\n"
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
           "Reporting problems: see the section of that name in %s/README.md.\n",
           DOCDIR);
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


/* s inside a libconfig string: a network name may hold '"' or '\\'. */
static void
cli_config_quoted(const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            putchar('\\');
        putchar(*s);
    }
}

/* drover.conf's per-primary replication groups, as drover.conf writes them. */
static void
cli_config_repls_text(const Conf *c)
{
    size_t i;

    if (!c->nrepls) {
        printf("replication = ( );\n");
        return;
    }
    printf("replication = (\n");
    for (i = 0; i < c->nrepls; i++) {
        const ConfRepl *r = &c->repls[i];

        printf("  { primary = \"%s\";", r->primary);
        if (r->vm)
            printf(" vm = \"%s\";", r->vm);
        if (r->interval >= 0)
            printf(" interval = %d;", r->interval);
        if (r->points >= 0)
            printf(" points = %d;", r->points);
        if (r->app_every >= 0)
            printf(" app_consistent_every = %d;", r->app_every);
        if (r->nbd)
            printf(" nbd = \"%s\";", r->nbd);
        if (r->nbd_tls)
            printf(" nbd_tls = \"%s\";", r->nbd_tls);
        if (r->netmap) {
            printf(" network_map = [");
            for (size_t k = 0; k < r->nnetmap; k++) {
                printf("%s \"", k ? "," : "");
                cli_config_quoted(r->netmap[k]);
                printf("\"");
            }
            printf(" ];");
        }
        printf(" }%s\n", i + 1 < c->nrepls ? "," : "");
    }
    printf(");\n");
}

static json_object *
cli_config_repls_json(const Conf *c)
{
    json_object *a = json_object_new_array();
    size_t i;

    for (i = 0; i < c->nrepls; i++) {
        const ConfRepl *r = &c->repls[i];
        json_object *g = json_object_new_object();

        json_object_object_add(g, "primary", json_object_new_string(r->primary));
        json_object_object_add(g, "vm", r->vm ? json_object_new_string(r->vm) : NULL);
        json_object_object_add(g, "interval", r->interval >= 0 ? json_object_new_int(r->interval) : NULL);
        json_object_object_add(g, "points", r->points >= 0 ? json_object_new_int(r->points) : NULL);
        json_object_object_add(g, "app_consistent_every",
                               r->app_every >= 0 ? json_object_new_int(r->app_every) : NULL);
        json_object_object_add(g, "nbd", r->nbd ? json_object_new_string(r->nbd) : NULL);
        json_object_object_add(g, "nbd_tls", r->nbd_tls ? json_object_new_string(r->nbd_tls) : NULL);
        if (r->netmap) {
            json_object *m = json_object_new_array();

            for (size_t k = 0; k < r->nnetmap; k++)
                json_object_array_add(m, json_object_new_string(r->netmap[k]));
            json_object_object_add(g, "network_map", m);
        } else {
            json_object_object_add(g, "network_map", NULL);
        }
        json_object_array_add(a, g);
    }
    return a;
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
    if (o->names) {
        for (i = 0; i < s->nhosts; i++)
            printf("%s\n", s->hosts[i].uri);
    } else if (o->json) {
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
        json_object_object_add(j, "hosts_from", json_object_new_string(s->hosts_from));
        {
            json_object *files = json_object_new_array();
            for (i = 0; i < s->conf->nfiles; i++)
                json_object_array_add(files, json_object_new_string(s->conf->files[i]));
            json_object_object_add(j, "files", files);
        }
        json_object_object_add(j, "readonly_floor", json_object_new_boolean(s->conf->readonly_floor ||
                                                                            s->conf->nfloor_hosts));
        json_object_object_add(j, "refresh_interval", json_object_new_int(s->conf->refresh_interval));
        json_object_object_add(j, "confirm", json_object_new_string(
            s->conf->confirm == CONF_CONFIRM_YES_NO ? "yes-no" : "type-name"));
        json_object_object_add(j, "shutdown_timeout", json_object_new_int(s->conf->shutdown_timeout));
        json_object_object_add(j, "connect_timeout", json_object_new_int(s->conf->connect_timeout));
        json_object_object_add(j, "require_reason", json_object_new_boolean(s->conf->require_reason));
        json_object_object_add(j, "rpo_warning", json_object_new_int(s->conf->rpo_warning));
        json_object_object_add(j, "audit_log", s->conf->audit_log ? json_object_new_string(s->conf->audit_log) : NULL);
        json_object_object_add(j, "job_history", s->conf->job_history ? json_object_new_string(s->conf->job_history) : NULL);
        json_object_object_add(j, "theme", json_object_new_string(s->conf->theme ? s->conf->theme : "default"));
        json_object_object_add(j, "readonly", json_object_new_boolean(s->conf->readonly));
        json_object_object_add(j, "replication_interval", json_object_new_int(s->conf->repl_interval));
        json_object_object_add(j, "replication_points", json_object_new_int(s->conf->repl_points));
        json_object_object_add(j, "replication_app_consistent_every",
                               json_object_new_int(s->conf->repl_app_every));
        json_object_object_add(j, "replication_auto_resync",
                               json_object_new_boolean(s->conf->repl_auto_resync));
        json_object_object_add(j, "replication", cli_config_repls_json(s->conf));
        report_print_json(j);
        json_object_put(j);
    } else {
        printf("files:");
        for (i = 0; i < s->conf->nfiles; i++)
            printf("%s %s", i ? "," : "", s->conf->files[i]);
        printf("%s\n", s->conf->nfiles ? "" : " none (the defaults)");
        if (s->conf->readonly_floor)
            printf("read-only: set by the system file; user files and options cannot lower it\n");
        else if (s->conf->nfloor_hosts)
            printf("read-only hosts set by the system file (user files and options cannot lower it):\n");
        for (i = 0; !s->conf->readonly_floor && i < s->conf->nfloor_hosts; i++)
            printf("  %s %s\n", s->conf->floor_hosts[i].name, s->conf->floor_hosts[i].uri);
        printf("hosts (from %s):\n", s->hosts_from);
        for (i = 0; i < s->nhosts; i++)
            printf("  %-12s %s%s\n", s->hosts[i].name, s->hosts[i].uri,
                   s->hosts[i].readonly ? " (read-only)" : "");
        printf("refresh_interval = %d;\nconfirm = \"%s\";\nshutdown_timeout = %d;\n"
               "connect_timeout = %d;\nrequire_reason = %s;\nrpo_warning = %d;\naudit_log = \"%s\";\n"
               "job_history = \"%s\";\ntheme = \"%s\";\nreadonly = %s;\n",
               s->conf->refresh_interval,
               s->conf->confirm == CONF_CONFIRM_YES_NO ? "yes-no" : "type-name",
               s->conf->shutdown_timeout, s->conf->connect_timeout,
               s->conf->require_reason ? "true" : "false",
               s->conf->rpo_warning, s->conf->audit_log ? s->conf->audit_log : "",
               s->conf->job_history ? s->conf->job_history : "",
               s->conf->theme ? s->conf->theme : "default", s->conf->readonly ? "true" : "false");
        printf("replication_interval = %d;\nreplication_points = %d;\n"
               "replication_app_consistent_every = %d;\nreplication_auto_resync = %s;\n",
               s->conf->repl_interval, s->conf->repl_points, s->conf->repl_app_every,
               s->conf->repl_auto_resync ? "true" : "false");
        cli_config_repls_text(s->conf);
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
