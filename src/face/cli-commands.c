/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cli-commands: the table of commands (arguments, options, help) and the help printed from it. */
#include <config.h>

#include "face/cli-priv.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "record/state.h"

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

void
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

void
cli_print_command_help(const CliCommand *c)
{
    printf("Usage: drover %s%s%s\n%c%s.\n%s\n\nCommon options: -c URI, --config FILE, --readonly, --help.\n",
           c->name, c->args[0] ? " " : "", c->args, toupper((unsigned char)c->summary[0]),
           c->summary + 1, c->help);
}

const CliCommand *
cli_find_command(const char *name)
{
    size_t i;

    for (i = 0; i < CLI_NCOMMANDS; i++)
        if (strcmp(cli_commands[i].name, name) == 0)
            return &cli_commands[i];
    return NULL;
}
