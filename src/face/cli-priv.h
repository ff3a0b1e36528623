/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cli-priv.h: what the command line's files share (src/face/cli.c,
 * cli-commands.c, cli-info.c, cli-view.c, cli-ops.c, cli-repl.c,
 * cli-planned.c, cli-protocol.c); not part of drover's core API. */
#ifndef DROVER_CLI_PRIV_H
#define DROVER_CLI_PRIV_H

#include <json-c/json.h>
#include <stddef.h>

#include "hv/hv.h"
#include <stdio.h>
#include <sys/types.h>

#include "face/session.h"

#define CLI_EXIT_USAGE 2
/* Ctrl-C while following a job (which goes on): as a shell reports SIGINT. */
#define CLI_EXIT_INTERRUPTED 130


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
    int force;                  /* failover --force: override the split-brain guard */
    int planned;                /* failover --planned (cli-planned.c) */
    int start;                  /* failover --planned --start: start the replica after */
    const char *test_network;   /* test-failover --test-network NET */
    const char **netmap;        /* enable-replication --network-map SRC=DST, repeatable */
    size_t nnetmap;
    int no_console;
    int all;
    int man;
    int names;                  /* --names: one name per line, for scripts and completion */
    const char **seen;          /* the long names of the options given, for cli_check_options */
    size_t nseen;
    int exit_after;
    int vms;
    int follow;
    int no_wait;
    const char *reason;
    const char *point;
    const char *dir;
    const char *from;           /* enable-replication --from URI */
    const char *nbd;            /* enable-replication --nbd HOST:PORT */
    const char *name;           /* enable-replication --name NAME */
    const char *interval;       /* enable-replication --interval DURATION */
    int points;                 /* enable-replication --points N */
    const char *app_every;      /* enable-replication --app-consistent-every DURATION */
    int due;                    /* replicate --due */
    int watch;                  /* replicate --watch */
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
    /* The long options it takes besides the common ones (-c, --config,
     * --readonly, --help), space-separated: any other is a usage error. */
    const char *opts;
};

/* cli-commands.c: the table of commands and the help printed from it. */
/* The command called name, or NULL. */
const CliCommand *cli_find_command(const char *name);
/* drover --help, and drover COMMAND --help. */
void cli_print_help(void);
void cli_print_command_help(const CliCommand *c);

/* The commands (cli-view.c: read-only views; cli-ops.c: operations). */
int cli_list(const CliCommand *cmd, CliOpts *o);
int cli_show(const CliCommand *cmd, CliOpts *o);
int cli_check(const CliCommand *cmd, CliOpts *o);
int cli_jobs(const CliCommand *cmd, CliOpts *o);
int cli_operation(const CliCommand *cmd, CliOpts *o);
int cli_repair(const CliCommand *cmd, CliOpts *o);
/* cli-repl.c: replication. */
int cli_enable_replication(const CliCommand *cmd, CliOpts *o);
int cli_replicate(const CliCommand *cmd, CliOpts *o);
int cli_repl_set(const CliCommand *cmd, CliOpts *o);
int cli_resync(const CliCommand *cmd, CliOpts *o);
int cli_repl_stats(const CliCommand *cmd, CliOpts *o);
/* cli-planned.c: failover (--planned there, else cli_operation). */
int cli_failover(const CliCommand *cmd, CliOpts *o);
int cli_reverse_replication(const CliCommand *cmd, CliOpts *o);
int cli_cancel(const CliCommand *cmd, CliOpts *o);
/* cli-info.c: on drover itself (result codes, settings). */
int cli_decode(const CliCommand *cmd, CliOpts *o);
int cli_config(const CliCommand *cmd, CliOpts *o);
/* cli.c: builds a demo site and opens the console on it. */
int cli_demo(const CliCommand *cmd, CliOpts *o);
/* `drover jobs ID` or `drover jobs --follow [ID]` (cli-ops.c). */
int cli_job_show(Session *s, CliOpts *o);
/* `drover job-run ID SPEC`: the detached job process (cli-ops.c). */
int cli_job_process(const char *id, const char *spec);

/* Follows job id to its end, printing each new step on out (NULL: quiet).
 * pid > 0 is our own child, the job process: if it dies without a result
 * *died gets the exit status it died with (128 + signal when killed).
 * 0 with *fin set when the job ended; 1 when interrupted by Ctrl-C (the
 * job goes on); -1 with err set (unknown job).  (cli-ops.c) */
int cli_follow(Session *s, const char *id, pid_t pid, FILE *out, JobInfo *fin, int *died);

/* --- the protocol every mutating command walks (cli-protocol.c) ----------
 * plan (its text, or JSON) -> --dry-run stops -> the read-only refusal ->
 * confirmation (--yes, or the VM's name typed on a terminal) -> a job ->
 * its decoded result.  Every refusal before the job is audited and listed
 * with the jobs (ops_refused), unless it is a dry run. */

/* The plan as JSON, for --dry-run and the result (a new object). */
typedef json_object *(*CliPlanJson)(const void *plan);

typedef struct CliProto CliProto;
/* Prints the JSON of a job that completed, for a command whose JSON had
 * its own shape before it ran as a job. */
typedef void (*CliJsonDone)(const CliProto *p, const JobInfo *ji);

struct CliProto {
    Session *s;
    const CliOpts *o;
    const char *op;             /* the decoder's name: "revert", "planned failover" */
    const char *audit_op;       /* the audit line's, when not op ("planned-failover") */
    int type;                   /* JobType: the job's, and its refusal's in the history */
    int h;                      /* the VM's host in s; -1 while not known */
    const char *vm;             /* as named, then the plan's */
    const char *uuid;           /* NULL while not known */
    const char *reason;
    const void *plan;           /* NULL until there is one */
    const char *digest;         /* the plan's */
    CliPlanJson plan_json;
    /* The words of the refusals and the prompt: "%s of VM refused: HOST is
     * open read-only", "refusing %s VM without --yes", "Type the VM name
     * (VM) to confirm: %s."; title NULL: no confirmation is asked. */
    const char *ro_what;
    const char *yes_what;
    const char *title;
    int yes_no;                 /* drover.conf's confirm = "yes-no" applies */
    CliJsonDone json_done;      /* NULL: the result object */
};

/* A refusal before any job ran (err says why): nothing was changed, so a
 * retry is safe; unless it is a dry run, audited and listed with the jobs.
 * Prints the decoded result; returns the exit status. */
int cli_proto_refuse(const CliProto *p);
/* Prints text, the plan (not with --json); with --dry-run also what the
 * dry run says (JSON: result, plan, job null), and returns 1: the command
 * stops there with exit status 0.  Else 0. */
int cli_proto_show(const CliProto *p, const char *text);
/* The read-only refusal and the confirmation: 0 to go on; -1 with *status
 * set when refused (audited) or cancelled at the prompt (1). */
int cli_proto_confirm(const CliProto *p, int *status);
/* Starts the confirmed job of p detached from the terminal (arg: what
 * start needs): 0 with id set, and *pid when pid is not NULL (the caller
 * reaps it), or -1 with err set. */
typedef int (*CliStartFn)(const CliProto *p, const void *arg, char id[37], pid_t *pid);
/* Starts the job (a failure to start is a refusal, audited) and, unless
 * --no-wait, follows it to its end and prints its decoded result: the exit
 * status.  --no-wait prints result 4096 and the job id at once (exit 0);
 * Ctrl-C while waiting says the job goes on and how to follow it
 * (CLI_EXIT_INTERRUPTED).  *fin (may be NULL) gets the job's end when it
 * was waited for (else it is zeroed). */
int cli_proto_run(const CliProto *p, CliStartFn start, const void *arg, JobInfo *fin);
/* Ctrl-C while following: says the job goes on, and how to follow (and
 * cancel) it; returns CLI_EXIT_INTERRUPTED.  (cli-ops.c) */
int cli_detached_note(const JobInfo *ji);
/* The result of a job that was started and goes on by itself (4096):
 * result, plan (consumed, may be NULL) and job.  (cli-ops.c) */
json_object *cli_started_json(const JobInfo *ji, json_object *plan);
/* Prints the end of job ji (the decoded result; plan, consumed, may be
 * NULL) and returns the exit status; died: see cli_follow. */
int cli_job_result(const CliOpts *o, const char *opname, const JobInfo *ji, json_object *plan, int died);

/* Shared helpers (cli.c). */
void cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* fflush(f); a reader of f that went away (EPIPE: `drover ... | head`)
 * ends drover as SIGPIPE would have, which cli_main ignores. */
void cli_flush(FILE *f);
/* The session for o's options, connected when asked; NULL with a message
 * printed.  state_dir: see SessionArgs. */
Session *cli_session(const CliOpts *o, int connect);
Session *cli_session_in(const CliOpts *o, int connect, const char *state_dir);
/* Prints the calling thread's error decoded for op on vm (text on stderr,
 * or the JSON result object) and returns the exit status. */
int cli_fail(const CliOpts *o, const char *op, const char *vm, const char *host, json_object *extra);
/* Finds a VM on the session's hosts: the host index, or -1 - exit status. */
int cli_find(Session *s, const CliOpts *o, const char *op, const char *ref, char uuid[37]);
/* ref (NAME, UUID or NAME@HOST) names domain d of host. */
int cli_vm_matches(const char *ref, const HvDomain *d, const char *host);
/* All domains of host i with their records; -1 (reported, *status set)
 * when the host cannot be listed. */
int cli_list_host(Session *s, size_t i, HvDomain **doms, size_t *n, int *status);
/* Says on stderr that host i is not available (err says why); sets *status. */
void cli_list_host_down(Session *s, size_t i, int *status);

#endif
