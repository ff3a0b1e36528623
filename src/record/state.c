/* SPDX-License-Identifier: GPL-2.0-or-later */
/* state: replication states, modes, health and the allowed-operation table. */
#include <config.h>

#include "record/state.h"

#include <string.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"

/* WMI names (facts §4.1) in a short readable form. */
static const char *const state_names[STATE_MAX + 1] = {
    [STATE_DISABLED] = "Disabled",
    [STATE_READY] = "Ready for replication",
    [STATE_WAITING_INITIAL] = "Waiting for initial replication",
    [STATE_REPLICATING] = "Replicating",
    [STATE_SYNCED] = "Synced (prepared for failover)",
    [STATE_RECOVERED] = "Recovered",
    [STATE_COMMITTED] = "Committed",
    [STATE_SUSPENDED] = "Suspended",
    [STATE_CRITICAL] = "Critical",
    [STATE_RESYNC_WAITING] = "Waiting to start resync",
    [STATE_RESYNCING] = "Resynchronizing",
    [STATE_RESYNC_SUSPENDED] = "Resync suspended",
    [STATE_FAILOVER_IN_PROGRESS] = "Failover in progress",
    [STATE_FAILBACK_IN_PROGRESS] = "Failback in progress",
    [STATE_FAILBACK_COMPLETE] = "Failback complete",
    [STATE_DISK_UPDATE] = "Disk update in progress",
    [STATE_DISK_UPDATE_CRITICAL] = "Disk update critical",
    [STATE_UNKNOWN] = "Unknown",
    [STATE_REPURPOSE] = "Repurpose in progress",
    [STATE_PREPARED_SYNC] = "Prepared for sync replication",
    [STATE_PREPARED_GROUP_REVERSE] = "Prepared for group reverse replication",
    [STATE_FIREDRILL] = "Fire drill in progress",
};

static const char *const mode_names[MODE_MAX + 1] = {
    [MODE_NONE] = "None",
    [MODE_PRIMARY] = "Primary",
    [MODE_REPLICA] = "Replica",
    [MODE_TEST_REPLICA] = "Test replica",
    [MODE_EXTENDED_REPLICA] = "Extended replica",
};

static const char *const health_names[HEALTH_MAX + 1] = {
    [HEALTH_NA] = "n/a",
    [HEALTH_NORMAL] = "Normal",
    [HEALTH_WARNING] = "Warning",
    [HEALTH_CRITICAL] = "Critical",
};

#define STATE_BIT(s) (1u << (s))
#define STATE_ANY 0xffffffffu
#define STATE_SAME (-1)

enum {
    TEST_ANY = 0,           /* a test system may or may not exist */
    TEST_NEEDED = 1,        /* refused unless one exists */
    TEST_REFUSED = 2,       /* refused while one exists */
};

/* The allowed-operation table (facts §6.2, DESIGN §1).  Initiate from 10
 * or 15 (Hyper-V's wrapper accepts them) is left out: drover has no
 * resync or disk update to interrupt.  Revert from 12 is how an interrupted
 * failover is rolled back. */
static const struct {
    const char *name;       /* command name */
    const char *title;
    int job_type;           /* CIM JobType */
    unsigned from;          /* bit per allowed state */
    int test;               /* TEST_* */
    int during;             /* state recorded while it runs, or STATE_SAME */
    int after;              /* resulting state, or STATE_SAME */
} state_ops[OP_COUNT] = {
    [OP_INITIATE] = { "failover", "Initiate failover", 97,
                      STATE_BIT(STATE_REPLICATING) | STATE_BIT(STATE_SUSPENDED),
                      TEST_ANY, STATE_FAILOVER_IN_PROGRESS, STATE_RECOVERED },
    [OP_REVERT] = { "revert", "Revert failover", 98,
                    STATE_BIT(STATE_RECOVERED) | STATE_BIT(STATE_FAILOVER_IN_PROGRESS),
                    TEST_ANY, STATE_SAME, STATE_REPLICATING },
    [OP_COMMIT] = { "commit", "Commit failover", 99,
                    STATE_BIT(STATE_RECOVERED),
                    TEST_ANY, STATE_SAME, STATE_COMMITTED },
    [OP_TEST] = { "test-failover", "Test failover", 102,
                  STATE_BIT(STATE_REPLICATING) | STATE_BIT(STATE_SUSPENDED),
                  TEST_REFUSED, STATE_SAME, STATE_SAME },
    [OP_STOP_TEST] = { "stop-test", "Stop test failover", 103,
                       STATE_ANY,
                       TEST_NEEDED, STATE_SAME, STATE_SAME },
};

static int
state_op_is_valid(StateOp op)
{
    return (int)op >= 0 && op < OP_COUNT;
}

int
state_is_valid(int state)
{
    return state >= 0 && state <= STATE_MAX;
}

const char *
state_name(int state)
{
    return state_is_valid(state) ? state_names[state] : "Invalid state";
}

int
mode_is_valid(int mode)
{
    return mode >= 0 && mode <= MODE_MAX;
}

const char *
mode_name(int mode)
{
    return mode_is_valid(mode) ? mode_names[mode] : "Invalid mode";
}

int
health_is_valid(int health)
{
    return health >= 0 && health <= HEALTH_MAX;
}

const char *
health_name(int health)
{
    return health_is_valid(health) ? health_names[health] : "Invalid health";
}

const char *
state_op_name(StateOp op)
{
    return state_op_is_valid(op) ? state_ops[op].name : "unknown";
}

const char *
state_op_title(StateOp op)
{
    return state_op_is_valid(op) ? state_ops[op].title : "Unknown operation";
}

int
state_op_from_name(const char *name)
{
    int i;

    if (!name)
        return -1;
    /* Hyper-V's method is InitiateFailover; accept its verb too. */
    if (strcmp(name, "initiate") == 0)
        return OP_INITIATE;
    for (i = 0; i < OP_COUNT; i++)
        if (strcmp(name, state_ops[i].name) == 0)
            return i;
    return -1;
}

int
state_op_job_type(StateOp op)
{
    return state_op_is_valid(op) ? state_ops[op].job_type : 0;
}

/* "revert failover" for messages that continue a sentence. */
static void
state_op_lower(StateOp op, char *buf, size_t size)
{
    size_t i;

    util_strlcpy(buf, state_op_title(op), size);
    for (i = 0; buf[i]; i++)
        if (buf[i] >= 'A' && buf[i] <= 'Z')
            buf[i] = (char)(buf[i] - 'A' + 'a');
}

/* "5 Recovered or 12 Failover in progress" */
static char *
state_list(unsigned bits)
{
    UtilBuf b = { 0 };
    int s, n = 0, total = 0;

    for (s = 0; s <= STATE_MAX; s++)
        if (bits & STATE_BIT(s))
            total++;
    for (s = 0; s <= STATE_MAX; s++) {
        if (!(bits & STATE_BIT(s)))
            continue;
        if (n)
            util_buf_add(&b, n == total - 1 ? " or " : ", ");
        util_buf_printf(&b, "%d %s", s, state_names[s]);
        n++;
    }
    return util_buf_steal(&b);
}

int
state_check(StateOp op, int state, int mode, int has_test)
{
    char opname[64];
    unsigned from;

    if (!state_op_is_valid(op)) {
        err_set(RESULT_INVALID_PARAMETER, "operation %d is not a replica operation", (int)op);
        return RESULT_INVALID_PARAMETER;
    }
    state_op_lower(op, opname, sizeof(opname));
    if (!state_is_valid(state)) {
        err_set(RESULT_INVALID_STATE, "%s is not allowed: state %d is not a valid replication state (0-%d)",
                opname, state, STATE_MAX);
        return RESULT_INVALID_STATE;
    }
    if (!mode_is_valid(mode)) {
        err_set(RESULT_INVALID_STATE, "%s is not allowed: mode %d is not a valid replication mode (0-%d)",
                opname, mode, MODE_MAX);
        return RESULT_INVALID_STATE;
    }
    if (mode != MODE_REPLICA && mode != MODE_EXTENDED_REPLICA) {
        err_set(RESULT_INVALID_STATE, "%s is not allowed in mode %d %s: it is allowed only on a replica "
                "(mode %d %s or %d %s)", opname, mode, mode_names[mode],
                MODE_REPLICA, mode_names[MODE_REPLICA],
                MODE_EXTENDED_REPLICA, mode_names[MODE_EXTENDED_REPLICA]);
        return RESULT_INVALID_STATE;
    }
    from = state_ops[op].from;
    if (!(from & STATE_BIT(state))) {
        UTIL_AUTOFREE char *allowed = state_list(from);

        err_set(RESULT_INVALID_STATE, "%s is not allowed in state %d %s: it is allowed from %s",
                opname, state, state_names[state], allowed);
        return RESULT_INVALID_STATE;
    }
    if (state_ops[op].test == TEST_NEEDED && !has_test) {
        err_set(RESULT_INVALID_STATE, "%s is not allowed in state %d %s: no test system exists",
                opname, state, state_names[state]);
        return RESULT_INVALID_STATE;
    }
    if (state_ops[op].test == TEST_REFUSED && has_test) {
        err_set(RESULT_INVALID_STATE, "%s is not allowed in state %d %s while a test system exists: "
                "stop it first with stop-test", opname, state, state_names[state]);
        return RESULT_INVALID_STATE;
    }
    return 0;
}

int
state_after(StateOp op, int state)
{
    if (!state_op_is_valid(op) || state_ops[op].after == STATE_SAME)
        return state;
    return state_ops[op].after;
}

int
state_during(StateOp op, int state)
{
    if (!state_op_is_valid(op) || state_ops[op].during == STATE_SAME)
        return state;
    return state_ops[op].during;
}
