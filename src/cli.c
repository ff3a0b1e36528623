/* cli: the command line. */
#include <config.h>

#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chain.h"
#include "demo.h"
#include "domxml.h"
#include "err.h"
#include "health.h"
#include "ops.h"
#include "plan.h"
#include "replica.h"
#include "report.h"
#include "result.h"
#include "state.h"
#include "summary.h"
#include "util.h"

#define CLI_EXIT_USAGE 2

typedef struct {
    const char *command;
    char **args;
    int nargs;
    char **uris;
    size_t nuris;
    const char *config;
    int readonly;
    int json;
    int yes;
    int dry_run;
    int flatten;
    int no_console;
    int all;
    int man;
    int exit_after;
    int vms;
    const char *reason;
    const char *point;
    const char *dir;
} CliOpts;

typedef struct CliCommand CliCommand;
typedef int (*CliFn)(const CliCommand *cmd, CliOpts *o);

struct CliCommand {
    const char *name;
    CliFn fn;
    const char *args;           /* positional arguments, for usage */
    int min_args;
    int max_args;
    const char *summary;
    const char *help;           /* more lines for `drover CMD --help` */
    int op;                     /* StateOp for operations, -1 otherwise */
};

static int cli_list(const CliCommand *cmd, CliOpts *o);
static int cli_show(const CliCommand *cmd, CliOpts *o);
static int cli_operation(const CliCommand *cmd, CliOpts *o);
static int cli_jobs(const CliCommand *cmd, CliOpts *o);
static int cli_repair(const CliCommand *cmd, CliOpts *o);
static int cli_check(const CliCommand *cmd, CliOpts *o);
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

static void
cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void
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

static Session *
cli_session_in(const CliOpts *o, int connect, const char *state_dir);

static Session *
cli_session(const CliOpts *o, int connect)
{
    return cli_session_in(o, connect, NULL);
}

static Session *
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
static int
cli_fail(const CliOpts *o, const char *op, const char *vm, const char *host, json_object *extra)
{
    ResultCtx ctx;
    ResultInfo info;
    int status;

    result_ctx_from_err(&ctx, op, vm, host);
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
static int
cli_find(Session *s, const CliOpts *o, const char *op, const char *ref, char uuid[37])
{
    int h = session_find_vm(s, ref, uuid);

    if (h < 0)
        return -1 - cli_fail(o, op, ref, NULL, NULL);
    return h;
}

static int
cli_cmp_summary(const void *a, const void *b)
{
    const Summary *x = a, *y = b;
    int r = strcmp(x->name, y->name);
    return r ? r : strcmp(x->host, y->host);
}

/* All domains of host i with their records; a host that cannot be listed
 * is reported on stderr and sets *status to the 32777 exit status. */
static int
cli_list_host(Session *s, size_t i, HvDomain **doms, size_t *n, int *status)
{
    *doms = NULL;
    *n = 0;
    if (s->hosts[i].conn && hv_list(s->hosts[i].conn, 1, doms, n) == 0)
        return 0;
    if (!s->hosts[i].conn)
        err_set(RESULT_NOT_AVAILABLE, "not connected");
    fprintf(stderr, "drover: host %s (%s) is not available: %s (%d)\n", s->hosts[i].name,
            s->hosts[i].uri, err_message(), RESULT_NOT_AVAILABLE);
    *status = result_exit_status(RESULT_NOT_AVAILABLE);
    return -1;
}

/* --- list ------------------------------------------------------------------ */

/* Prints s left-aligned in width terminal columns, then a space. */
static void
cli_pad(const char *s, int width)
{
    int w = util_display_width(s);

    fputs(s, stdout);
    for (; w < width; w++)
        fputc(' ', stdout);
    fputc(' ', stdout);
}

static int
cli_list(const CliCommand *cmd, CliOpts *o)
{
    Session *s = cli_session(o, 1);
    Summary *rows = NULL;
    size_t nrows = 0, cap = 0, i, k, down = 0;
    int64_t now = util_now();
    int status = 0, local;

    (void)cmd;
    if (!s)
        return result_exit_status(err_code());
    for (i = 0; i < s->nhosts; i++) {
        HvDomain *doms = NULL;
        size_t n = 0;

        if (cli_list_host(s, i, &doms, &n, &status) < 0) {
            down++;
            continue;
        }
        local = hv_is_local(s->hosts[i].conn) != 0;
        for (k = 0; k < n; k++) {
            if (!doms[k].metadata)
                continue;   /* not a replica */
            util_grow(&rows, &cap, nrows + 1, sizeof(*rows));
            summary_from_domain(&rows[nrows++], s->hosts[i].name, &doms[k], now,
                                s->conf->rpo_warning, local);
        }
        hv_domain_list_free(doms, n);
    }
    if (nrows > 1)
        qsort(rows, nrows, sizeof(*rows), cli_cmp_summary);
    if (o->json) {
        json_object *a = json_object_new_array();
        for (i = 0; i < nrows; i++)
            json_object_array_add(a, report_summary_json(&rows[i]));
        report_print_json(a);
        json_object_put(a);
    } else {
        printf("%-10s %-16s %-24s %-9s %-12s %3s %-8s %-16s %s\n", "HOST", "NAME", "STATE", "HEALTH",
               "MODE", "RPS", "LAST RP", "FAILOVER", "POWER");
        for (i = 0; i < nrows; i++) {
            char st[40], age[16] = "-", fo[40] = "-";
            const Summary *r = &rows[i];

            snprintf(st, sizeof(st), "%d %s", r->state, state_name(r->state));
            if (r->newest_time)
                util_format_age(now - r->newest_time, age, sizeof(age));
            if (r->failover_point) {
                char fa[16];
                util_format_age(now - r->failover_time, fa, sizeof(fa));
                snprintf(fo, sizeof(fo), "%s %s ago", r->failover_point, fa);
            }
            cli_pad(r->host, 10);
            cli_pad(r->name, 16);
            printf("%-24s %-9s %-12s %3zu %-8s %-16s %s\n", st,
                   health_name(r->health), mode_name(r->mode), r->npoints, age, fo,
                   hv_power_name(r->power));
        }
        if (!nrows && down < s->nhosts)
            printf("(no replica VMs on %zu reachable host%s)\n", s->nhosts - down,
                   s->nhosts - down == 1 ? "" : "s");
    }
    for (i = 0; i < nrows; i++)
        summary_clear(&rows[i]);
    free(rows);
    session_free(s);
    return status;
}

/* --- show and check ----------------------------------------------------- */

typedef struct {
    char *name;
    char uuid[37];
    int power;
    Replica *rec;
    DomDiskList disks;
    HealthReport health;
} CliVm;

static void
cli_vm_clear(CliVm *v)
{
    free(v->name);
    replica_free(v->rec);
    domxml_disk_list_clear(&v->disks);
    health_report_clear(&v->health);
    memset(v, 0, sizeof(*v));
}

/* Reads a domain, its record and disks, and assesses its health deeply. */
static int
cli_vm_load(Session *s, size_t host, const char *uuid, CliVm *v)
{
    HvDomain d;
    UTIL_AUTOFREE char *xml = NULL;
    UTIL_AUTOFREE char *md = NULL;
    DomXml *dx;

    memset(v, 0, sizeof(*v));
    if (hv_lookup(s->hosts[host].conn, uuid, 0, &d) < 0)
        return -1;
    v->name = util_xstrdup(d.name);
    util_strlcpy(v->uuid, d.uuid, sizeof(v->uuid));
    v->power = d.power;
    hv_domain_clear(&d);
    if (!(xml = hv_get_xml(s->hosts[host].conn, uuid)) || !(dx = domxml_parse(xml)))
        return -1;
    domxml_disks(dx, &v->disks);
    md = domxml_get_replica(dx);
    domxml_free(dx);
    if (md && !(v->rec = replica_parse(md, strlen(md)))) {
        err_prefix("replica record of %s", v->name);
        return -1;
    }
    health_assess(v->rec, &v->disks, util_now(), s->conf->rpo_warning,
                  hv_is_local(s->hosts[host].conn) != 0 ? HEALTH_FILES_DEEP : HEALTH_FILES_NONE,
                  &v->health);
    return 0;
}

static void
cli_show_text(const CliVm *v, const char *host, const JobInfo *last)
{
    const Replica *r = v->rec;
    int64_t now = util_now();
    char age[16], sz[32], when[32];
    size_t i, k;

    printf("%s@%s  %s\n", v->name, host, v->uuid);
    if (!r) {
        printf("  not a replica: no drover record (health n/a), power %s\n", hv_power_name(v->power));
        return;
    }
    printf("  mode %d %s, state %d %s, health %s, power %s\n", r->mode, mode_name(r->mode), r->state,
           state_name(r->state), health_name(v->health.health), hv_power_name(v->power));
    if (r->primary_name || r->primary_host)
        printf("  primary: %s on %s%s%s%s\n", r->primary_name ? r->primary_name : "?",
               r->primary_host ? r->primary_host : "?", r->primary_uri ? " (" : "",
               r->primary_uri ? r->primary_uri : "", r->primary_uri ? ")" : "");
    if (r->failover) {
        util_format_age(now - r->failover->time, age, sizeof(age));
        util_format_time(r->failover->time, when, sizeof(when));
        printf("  failover: to %s at %s (%s ago) by %s\n", r->failover->point, when, age,
               r->failover->by ? r->failover->by : "?");
    }
    if (r->test)
        printf("  test failover: %s on %s\n", r->test->domain, r->test->point);
    if (r->journal)
        printf("  INTERRUPTED: %s (job %s) stopped at step %s: run drover repair %s\n",
               r->journal->op, r->journal->job, r->journal->step, v->name);
    printf("  disks:\n");
    for (i = 0; i < v->disks.n; i++) {
        Chain *c = v->disks.v[i].source ? chain_walk(v->disks.v[i].source) : NULL;
        printf("    %s  %s\n", v->disks.v[i].target, v->disks.v[i].source ? v->disks.v[i].source : "(empty)");
        if (!c) {
            printf("          chain unreadable: %s\n", err_message());
            err_clear();
            continue;
        }
        for (k = 0; k < c->n; k++) {
            const char *role = k == 0 ? "in use" : "";
            size_t p;
            for (p = 0; p < r->npoints && !*role; p++) {
                const ReplicaDisk *d = replica_disk_list_find(&r->points[p].disks, v->disks.v[i].target);
                if (d && strcmp(d->file, c->layers[k].path) == 0)
                    role = r->points[p].id;
            }
            if (!*role)
                role = k + 1 == c->n ? "base" : "layer";
            util_format_size(c->layers[k].allocated, sz, sizeof(sz));
            printf("      %s %s  [%s, %s]\n", k == 0 ? "  " : "<-", c->layers[k].path, role, sz);
        }
        chain_free(c);
    }
    printf("  recovery points (newest first):\n");
    for (k = r->npoints; k-- > 0; ) {
        util_format_time(r->points[k].time, when, sizeof(when));
        util_format_age(now - r->points[k].time, age, sizeof(age));
        printf("    %-10s %s (%s ago)  %s\n", r->points[k].id, when, age,
               replica_rp_type_name(r->points[k].type));
    }
    if (!r->npoints)
        printf("    (none)\n");
    if (v->health.n) {
        printf("  health %s:\n", health_name(v->health.health));
        for (i = 0; i < v->health.n; i++)
            printf("    - %s\n", v->health.reasons[i]);
    }
    if (last) {
        util_format_time(last->start_time, when, sizeof(when));
        printf("  last job: %s %s at %s: %d %s\n", job_type_name(last->type),
               job_state_name(last->state), when, last->error_code,
               result_name(last->error_code) ? result_name(last->error_code) : "");
    }
}

/* The newest job of this VM on this host, from the history. */
static int
cli_last_job(Session *s, const char *host, const char *vm, JobInfo *out)
{
    JobInfo *jobs = NULL;
    size_t n = job_table_snapshot(s->jobs, &jobs), i;
    int found = 0;

    for (i = 0; i < n && !found; i++) {
        if (strcmp(jobs[i].vm, vm) == 0 && strcmp(jobs[i].host, host) == 0) {
            *out = jobs[i];
            found = 1;
        }
    }
    free(jobs);
    return found;
}

static json_object *
cli_vm_json(const CliVm *v, const char *host, const JobInfo *last)
{
    json_object *o = json_object_new_object();
    json_object *disks = json_object_new_array();
    const Replica *r = v->rec;
    size_t i;

    json_object_object_add(o, "host", json_object_new_string(host));
    json_object_object_add(o, "name", json_object_new_string(v->name));
    json_object_object_add(o, "uuid", json_object_new_string(v->uuid));
    json_object_object_add(o, "power", json_object_new_string(hv_power_name(v->power)));
    json_object_object_add(o, "state", r ? json_object_new_int(r->state) : NULL);
    json_object_object_add(o, "state_name", r ? json_object_new_string(state_name(r->state)) : NULL);
    json_object_object_add(o, "mode", json_object_new_int(r ? r->mode : 0));
    json_object_object_add(o, "mode_name", json_object_new_string(mode_name(r ? r->mode : 0)));
    json_object_object_add(o, "health", json_object_new_int(v->health.health));
    json_object_object_add(o, "health_name", json_object_new_string(health_name(v->health.health)));
    {
        json_object *reasons = json_object_new_array();
        for (i = 0; i < v->health.n; i++)
            json_object_array_add(reasons, json_object_new_string(v->health.reasons[i]));
        json_object_object_add(o, "health_reasons", reasons);
    }
    json_object_object_add(o, "recovery_points", report_points_json(r));
    json_object_object_add(o, "failover_point", r && r->failover ? json_object_new_string(r->failover->point) : NULL);
    {
        char when[32];
        const ReplicaPoint *newest = r ? replica_newest_point(r) : NULL;
        json_object *prim = NULL;

        if (r && r->failover)
            util_format_time(r->failover->time, when, sizeof(when));
        json_object_object_add(o, "failover_time", r && r->failover ? json_object_new_string(when) : NULL);
        json_object_object_add(o, "failover_by", r && r->failover && r->failover->by ?
                               json_object_new_string(r->failover->by) : NULL);
        json_object_object_add(o, "newest_point", newest ? json_object_new_string(newest->id) : NULL);
        if (r && (r->primary_host || r->primary_uri || r->primary_name)) {
            prim = json_object_new_object();
            json_object_object_add(prim, "host", r->primary_host ? json_object_new_string(r->primary_host) : NULL);
            json_object_object_add(prim, "uri", r->primary_uri ? json_object_new_string(r->primary_uri) : NULL);
            json_object_object_add(prim, "name", r->primary_name ? json_object_new_string(r->primary_name) : NULL);
        }
        json_object_object_add(o, "primary", prim);
    }
    json_object_object_add(o, "test_system", r && r->test ? json_object_new_string(r->test->domain) : NULL);
    json_object_object_add(o, "interrupted_operation", r && r->journal ? json_object_new_string(r->journal->op) : NULL);
    for (i = 0; i < v->disks.n; i++) {
        json_object *d = json_object_new_object();
        Chain *c = v->disks.v[i].source ? chain_walk(v->disks.v[i].source) : NULL;

        json_object_object_add(d, "target", json_object_new_string(v->disks.v[i].target));
        json_object_object_add(d, "source", v->disks.v[i].source ? json_object_new_string(v->disks.v[i].source) : NULL);
        json_object_object_add(d, "chain", report_chain_json(c));
        if (!c && v->disks.v[i].source) {
            json_object_object_add(d, "chain_error", json_object_new_string(err_message()));
            err_clear();
        }
        chain_free(c);
        json_object_array_add(disks, d);
    }
    json_object_object_add(o, "disks", disks);
    json_object_object_add(o, "last_job", last ? report_job_json(last) : NULL);
    return o;
}

static int
cli_show(const CliCommand *cmd, CliOpts *o)
{
    Session *s = cli_session(o, 1);
    char uuid[37];
    CliVm v;
    JobInfo last;
    int h, has_last, status = 0;

    (void)cmd;
    if (!s)
        return result_exit_status(err_code());
    if ((h = cli_find(s, o, "show", o->args[0], uuid)) < 0) {
        session_free(s);
        return -1 - h;
    }
    if (cli_vm_load(s, (size_t)h, uuid, &v) < 0) {
        status = cli_fail(o, "show", o->args[0], s->hosts[h].name, NULL);
    } else {
        has_last = cli_last_job(s, s->hosts[h].name, v.name, &last);
        if (o->json) {
            json_object *j = cli_vm_json(&v, s->hosts[h].name, has_last ? &last : NULL);
            report_print_json(j);
            json_object_put(j);
        } else {
            cli_show_text(&v, s->hosts[h].name, has_last ? &last : NULL);
        }
    }
    cli_vm_clear(&v);
    session_free(s);
    return status;
}

static int
cli_check(const CliCommand *cmd, CliOpts *o)
{
    Session *s = cli_session(o, 1);
    json_object *arr = json_object_new_array();
    size_t i, k;
    int worst = HEALTH_NA, status = 0, checked = 0;

    (void)cmd;
    if (!s) {
        json_object_put(arr);
        return result_exit_status(err_code());
    }
    for (i = 0; i < s->nhosts; i++) {
        HvDomain *doms = NULL;
        size_t n = 0;

        if (cli_list_host(s, i, &doms, &n, &status) < 0)
            continue;
        for (k = 0; k < n; k++) {
            CliVm v;
            char ref[600];

            if (o->nargs) {
                snprintf(ref, sizeof(ref), "%s", o->args[0]);
                if (strcmp(doms[k].name, ref) != 0 && strcmp(doms[k].uuid, ref) != 0) {
                    char *at = strrchr(ref, '@');
                    if (!at || strcmp(at + 1, s->hosts[i].name) != 0 ||
                        strncmp(doms[k].name, ref, (size_t)(at - ref)) != 0 ||
                        doms[k].name[at - ref] != '\0')
                        continue;
                }
            } else if (!doms[k].metadata) {
                continue;
            }
            checked++;
            if (cli_vm_load(s, i, doms[k].uuid, &v) < 0) {
                /* A record drover cannot read is the most critical finding. */
                char *reason = util_xstrdup(err_message());
                err_clear();
                health_report_clear(&v.health);
                v.health.health = HEALTH_CRITICAL;
                v.health.reasons = util_xcalloc(1, sizeof(*v.health.reasons));
                v.health.reasons[0] = reason;
                v.health.n = 1;
                if (!v.name)
                    v.name = util_xstrdup(doms[k].name);
                util_strlcpy(v.uuid, doms[k].uuid, sizeof(v.uuid));
            }
            if (v.health.health > worst)
                worst = v.health.health;
            if (o->json) {
                json_object *j = report_health_json(&v.health);
                json_object_object_add(j, "host", json_object_new_string(s->hosts[i].name));
                json_object_object_add(j, "name", json_object_new_string(v.name));
                json_object_object_add(j, "uuid", json_object_new_string(v.uuid));
                json_object_array_add(arr, j);
            } else {
                size_t r;
                printf("%-24s %s\n", v.name, health_name(v.health.health));
                for (r = 0; r < v.health.n; r++)
                    printf("    - %s\n", v.health.reasons[r]);
            }
            cli_vm_clear(&v);
        }
        hv_domain_list_free(doms, n);
    }
    if (o->nargs && !checked && !status) {
        json_object_put(arr);
        err_set(RESULT_INVALID_PARAMETER, "no VM named %s", o->args[0]);
        session_free(s);
        return cli_fail(o, "check", o->args[0], NULL, NULL);
    }
    if (o->json)
        report_print_json(arr);
    json_object_put(arr);
    session_free(s);
    if (!status && worst == HEALTH_CRITICAL)
        status = result_exit_status(RESULT_FILE_NOT_FOUND);
    return status;
}

/* --- operations ------------------------------------------------------------ */

typedef struct {
    HvConn *conn;
    Plan *plan;
    OpsArgs args;
} CliJob;

static int
cli_job_run(Job *job, void *arg)
{
    CliJob *cj = arg;

    return ops_execute(cj->conn, cj->plan, &cj->args, job);
}

typedef struct {
    pthread_mutex_t mu;
    char last[200];
    int last_percent;
    FILE *out;
} CliProgress;

static void
cli_observe(const JobInfo *j, void *opaque)
{
    CliProgress *p = opaque;

    pthread_mutex_lock(&p->mu);
    /* The first event, whichever thread reports it, opens the job. */
    if (p->last_percent < 0) {
        fprintf(p->out, "Job %s started (%s; result 4096 until it ends)\n", j->id, job_type_name(j->type));
        p->last_percent = 0;
    }
    if (j->state == JOB_RUNNING && strcmp(j->step, "starting") != 0 &&
        (strcmp(p->last, j->step) != 0 || p->last_percent != j->percent)) {
        if (strcmp(p->last, j->step) != 0) {
            fprintf(p->out, "[%3d%%] %s\n", j->percent, j->step);
            fflush(p->out);
        }
        util_strlcpy(p->last, j->step, sizeof(p->last));
        p->last_percent = j->percent;
    }
    pthread_mutex_unlock(&p->mu);
}

/* Asks on the terminal; 1 confirmed, 0 not. */
static int
cli_confirm(const Session *s, const Plan *p)
{
    char line[512];

    if (s->conf->confirm == CONF_CONFIRM_YES_NO)
        printf("%s %s@%s? Type yes to proceed, anything else cancels: ", state_op_title(p->op),
               p->vm, p->host);
    else
        printf("Type the VM name (%s) to confirm: %s. Anything else cancels: ", p->vm,
               state_op_title(p->op));
    fflush(stdout);
    if (!fgets(line, sizeof(line), stdin))
        return 0;
    line[strcspn(line, "\r\n")] = '\0';
    if (s->conf->confirm == CONF_CONFIRM_YES_NO)
        return strcmp(line, "yes") == 0;
    return strcmp(line, p->vm) == 0;
}

static char *
cli_ask_reason(void)
{
    char line[512];

    printf("Reason (kept in the audit log): ");
    fflush(stdout);
    if (!fgets(line, sizeof(line), stdin))
        return NULL;
    line[strcspn(line, "\r\n")] = '\0';
    return line[0] ? util_xstrdup(line) : NULL;
}

static int
cli_operation(const CliCommand *cmd, CliOpts *o)
{
    Session *s = cli_session(o, 1);
    StateOp op = (StateOp)cmd->op;
    const char *opname = state_op_name(op);
    UTIL_AUTOFREE char *reason = o->reason ? util_xstrdup(o->reason) : NULL;
    char uuid[37];
    PlanArgs pa;
    Plan *plan = NULL;
    CliJob *cj;
    CliProgress prog;
    JobInfo ji;
    ResultInfo info;
    Job *job;
    int h, status;

    if (!s)
        return result_exit_status(err_code());
    if ((h = cli_find(s, o, opname, o->args[0], uuid)) < 0) {
        session_free(s);
        return -1 - h;
    }
    if (o->flatten && op != OP_COMMIT) {
        err_set(RESULT_INVALID_PARAMETER, "--flatten only applies to commit");
        status = cli_fail(o, opname, o->args[0], s->hosts[h].name, NULL);
        goto out;
    }
    if (o->point && op != OP_INITIATE && op != OP_TEST) {
        err_set(RESULT_INVALID_PARAMETER, "--point only applies to failover and test-failover");
        status = cli_fail(o, opname, o->args[0], s->hosts[h].name, NULL);
        goto out;
    }
    memset(&pa, 0, sizeof(pa));
    pa.point = o->point;
    pa.flatten = o->flatten;
    if (!(plan = plan_make(s->hosts[h].conn, s->hosts[h].name, uuid, op, &pa))) {
        status = cli_fail(o, opname, o->args[0], s->hosts[h].name, NULL);
        goto out;
    }
    if (!o->json) {
        char *t = plan_text(plan);
        fputs(t, stdout);
        free(t);
    }
    if (o->dry_run) {
        if (o->json) {
            ResultCtx ctx;
            json_object *j;

            memset(&ctx, 0, sizeof(ctx));
            ctx.op = opname;
            ctx.vm = plan->vm;
            ctx.host = plan->host;
            ctx.detail = "dry run: nothing was changed";
            result_decode(&ctx, &info);
            j = report_result_json(&info, "dry run: nothing was changed");
            result_info_clear(&info);
            json_object_object_add(j, "plan", report_plan_json(plan));
            json_object_object_add(j, "job", NULL);
            report_print_json(j);
            json_object_put(j);
        } else {
            printf("Dry run: nothing was changed.\n");
        }
        status = 0;
        goto out;
    }
    if (s->hosts[h].readonly) {
        err_set(RESULT_ACCESS_DENIED, "%s of %s refused: %s is open read-only", state_op_title(op),
                plan->vm, s->hosts[h].name);
        status = cli_fail(o, opname, plan->vm, s->hosts[h].name, NULL);
        goto out;
    }
    if (!o->yes) {
        if (!isatty(STDIN_FILENO)) {
            err_set(RESULT_INVALID_PARAMETER,
                    "refusing to %s %s without --yes: standard input is not a terminal", opname, plan->vm);
            status = cli_fail(o, opname, plan->vm, s->hosts[h].name, NULL);
            goto out;
        }
        if (!cli_confirm(s, plan)) {
            fprintf(stderr, "drover: cancelled; nothing was changed\n");
            status = 1;
            goto out;
        }
    }
    if (!reason && s->conf->require_reason) {
        if (!o->yes && isatty(STDIN_FILENO))
            reason = cli_ask_reason();
        if (!reason) {
            err_set(RESULT_INVALID_PARAMETER, "a reason is required (require_reason in drover.conf): use --reason TEXT");
            status = cli_fail(o, opname, plan->vm, s->hosts[h].name, NULL);
            goto out;
        }
    }

    cj = util_xcalloc(1, sizeof(*cj));
    cj->conn = s->hosts[h].conn;
    cj->plan = plan;
    cj->args.reason = reason;
    cj->args.shutdown_timeout = s->conf->shutdown_timeout;
    cj->args.audit_log = s->conf->audit_log;
    memset(&prog, 0, sizeof(prog));
    pthread_mutex_init(&prog.mu, NULL);
    prog.out = o->json ? stderr : stdout;
    prog.last_percent = -1;
    job_table_set_observer(s->jobs, cli_observe, &prog);
    job = job_submit(s->jobs, state_op_job_type(op), s->hosts[h].name, plan->vm, plan->digest,
                     cli_job_run, cj, free);
    job_wait(job, &ji);
    job_table_set_observer(s->jobs, NULL, NULL);
    pthread_mutex_destroy(&prog.mu);

    report_decode_job(&ji, opname, &info);
    status = result_exit_status(info.code);
    if (o->json) {
        json_object *j = report_result_json(&info, ji.error_code ? ji.error_description : ji.step);
        json_object_object_add(j, "plan", report_plan_json(plan));
        json_object_object_add(j, "job", report_job_json(&ji));
        report_print_json(j);
        json_object_put(j);
    } else {
        char *t = report_result_text(&info);
        fputs(t, ji.error_code ? stderr : stdout);
        free(t);
        printf("Job %s: %s, %d%%, %.1f s\n", ji.id, job_state_name(ji.state), ji.percent,
               (double)ji.elapsed_ms / 1000.0);
    }
    result_info_clear(&info);

out:
    plan_free(plan);
    session_free(s);
    return status;
}

/* --- jobs, repair, decode ------------------------------------------------ */

static int
cli_jobs(const CliCommand *cmd, CliOpts *o)
{
    Session *s = cli_session(o, 0);
    JobInfo *jobs = NULL;
    size_t n, i;

    (void)cmd;
    if (!s)
        return result_exit_status(err_code());
    n = job_table_snapshot(s->jobs, &jobs);
    if (o->json) {
        json_object *a = json_object_new_array();
        for (i = 0; i < n; i++)
            json_object_array_add(a, report_job_json(&jobs[i]));
        report_print_json(a);
        json_object_put(a);
    } else {
        printf("%-20s %-22s %-16s %-10s %-10s %4s %8s  %s\n", "STARTED", "TYPE", "VM", "HOST", "STATE",
               "%", "ELAPSED", "RESULT");
        for (i = 0; i < n; i++) {
            char when[32];
            util_format_time(jobs[i].start_time, when, sizeof(when));
            printf("%-20s %-22s %-16s %-10s %-10s %4d %7.1fs  %d %s\n", when, job_type_name(jobs[i].type),
                   jobs[i].vm, jobs[i].host, job_state_name(jobs[i].state), jobs[i].percent,
                   (double)jobs[i].elapsed_ms / 1000.0, jobs[i].error_code,
                   result_name(jobs[i].error_code) ? result_name(jobs[i].error_code) : "");
        }
        if (!n)
            printf("(no jobs yet; history: %s)\n", s->conf->job_history ? s->conf->job_history : "off");
    }
    free(jobs);
    session_free(s);
    return 0;
}

static json_object *
cli_vm_ref_json(const char *host, const char *name)
{
    json_object *j = json_object_new_object();

    json_object_object_add(j, "host", json_object_new_string(host));
    json_object_object_add(j, "name", json_object_new_string(name));
    return j;
}

static int
cli_repair(const CliCommand *cmd, CliOpts *o)
{
    Session *s = cli_session(o, 1);
    OpsArgs oa;
    json_object *done = json_object_new_array();
    json_object *failed = json_object_new_array();
    size_t i, k;
    int status = 0, repaired = 0, matched = 0, pending = 0;

    (void)cmd;
    if (!s) {
        json_object_put(done);
        json_object_put(failed);
        return result_exit_status(err_code());
    }
    memset(&oa, 0, sizeof(oa));
    oa.reason = o->reason;
    oa.shutdown_timeout = s->conf->shutdown_timeout;
    oa.audit_log = s->conf->audit_log;
    for (i = 0; i < s->nhosts; i++) {
        HvDomain *doms = NULL;
        size_t n = 0;

        if (cli_list_host(s, i, &doms, &n, &status) < 0)
            continue;
        for (k = 0; k < n; k++) {
            UTIL_AUTOFREE char *preview = NULL;
            int did = 0, code, r;
            char ref[600];

            if (o->nargs) {
                snprintf(ref, sizeof(ref), "%s@%s", doms[k].name, s->hosts[i].name);
                if (strcmp(o->args[0], doms[k].name) && strcmp(o->args[0], doms[k].uuid) &&
                    strcmp(o->args[0], ref))
                    continue;
                matched++;
            } else if (!doms[k].metadata || !strstr(doms[k].metadata, "journal")) {
                continue;
            }
            r = ops_repair_preview(s->hosts[i].conn, doms[k].uuid, &preview);
            if (r <= 0) {
                if (r < 0) {
                    json_object *f = cli_vm_ref_json(s->hosts[i].name, doms[k].name);
                    int st = cli_fail(o, "repair", doms[k].name, s->hosts[i].name, NULL);
                    json_object_array_add(failed, f);
                    if (!status)
                        status = st;
                } else if (o->nargs && !o->json) {
                    printf("%s@%s: nothing to repair\n", doms[k].name, s->hosts[i].name);
                }
                continue;
            }
            pending++;
            if (!o->json)
                printf("%s@%s: %s\n", doms[k].name, s->hosts[i].name, preview);
            if (o->dry_run)
                continue;
            if (!o->yes) {
                char line[64];
                if (!isatty(STDIN_FILENO)) {
                    err_set(RESULT_INVALID_PARAMETER,
                            "refusing to repair %s without --yes: standard input is not a terminal",
                            doms[k].name);
                    status = cli_fail(o, "repair", doms[k].name, s->hosts[i].name, NULL);
                    continue;
                }
                printf("Type yes to repair %s@%s, anything else skips it: ", doms[k].name,
                       s->hosts[i].name);
                fflush(stdout);
                if (!fgets(line, sizeof(line), stdin) || strcmp(line, "yes\n") != 0) {
                    printf("%s@%s: skipped; nothing was changed\n", doms[k].name, s->hosts[i].name);
                    continue;
                }
            }
            code = ops_repair(s->hosts[i].conn, s->hosts[i].name, doms[k].uuid, &oa, NULL, &did);
            if (code) {
                json_object *f = cli_vm_ref_json(s->hosts[i].name, doms[k].name);
                json_object_object_add(f, "result", json_object_new_int(code));
                json_object_object_add(f, "message", json_object_new_string(err_message()));
                json_object_array_add(failed, f);
                if (!o->json) {
                    int st = cli_fail(o, "repair", doms[k].name, s->hosts[i].name, NULL);
                    if (!status)
                        status = st;
                } else if (!status) {
                    status = result_exit_status(code);
                }
            } else if (did) {
                json_object *d = cli_vm_ref_json(s->hosts[i].name, doms[k].name);
                json_object_object_add(d, "action", json_object_new_string(preview));
                json_object_array_add(done, d);
                repaired++;
                if (!o->json)
                    printf("%s@%s: repaired\n", doms[k].name, s->hosts[i].name);
            }
        }
        hv_domain_list_free(doms, n);
    }
    if (o->nargs && !matched && !status) {
        err_set(RESULT_INVALID_PARAMETER, "no VM named %s", o->args[0]);
        json_object_put(done);
        json_object_put(failed);
        session_free(s);
        return cli_fail(o, "repair", o->args[0], NULL, NULL);
    }
    if (o->json) {
        json_object *j = json_object_new_object();
        json_object_object_add(j, "result", json_object_new_int(status ? RESULT_FAILED : 0));
        json_object_object_add(j, "dry_run", json_object_new_boolean(o->dry_run));
        json_object_object_add(j, "pending", json_object_new_int(o->dry_run ? pending : pending - repaired));
        json_object_object_add(j, "repaired", done);
        json_object_object_add(j, "failed", failed);
        report_print_json(j);
        json_object_put(j);
    } else {
        json_object_put(done);
        json_object_put(failed);
        if (!pending && !status && !o->nargs)
            printf("nothing to repair\n");
        else if (o->dry_run)
            printf("Dry run: nothing was changed.\n");
    }
    session_free(s);
    return status;
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
        if (!(s = cli_session(&o, 1))) {
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
