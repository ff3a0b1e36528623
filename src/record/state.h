/* SPDX-License-Identifier: GPL-2.0-or-later */
/* state: replication states, modes, health and which operation is allowed
 * from which state.  Numbers are the WMI ones (Msvm_ReplicationRelationship);
 * there is no second numbering. */
#ifndef DROVER_STATE_H
#define DROVER_STATE_H

enum {
    STATE_DISABLED = 0,
    STATE_READY = 1,
    STATE_WAITING_INITIAL = 2,
    STATE_REPLICATING = 3,
    STATE_SYNCED = 4,
    STATE_RECOVERED = 5,
    STATE_COMMITTED = 6,
    STATE_SUSPENDED = 7,
    STATE_CRITICAL = 8,
    STATE_RESYNC_WAITING = 9,
    STATE_RESYNCING = 10,
    STATE_RESYNC_SUSPENDED = 11,
    STATE_FAILOVER_IN_PROGRESS = 12,
    STATE_FAILBACK_IN_PROGRESS = 13,
    STATE_FAILBACK_COMPLETE = 14,
    STATE_DISK_UPDATE = 15,
    STATE_DISK_UPDATE_CRITICAL = 16,
    STATE_UNKNOWN = 17,
    STATE_REPURPOSE = 18,
    STATE_PREPARED_SYNC = 19,
    STATE_PREPARED_GROUP_REVERSE = 20,
    STATE_FIREDRILL = 21,
    STATE_MAX = 21,
};

enum {
    MODE_NONE = 0,
    MODE_PRIMARY = 1,
    MODE_REPLICA = 2,
    MODE_TEST_REPLICA = 3,
    MODE_EXTENDED_REPLICA = 4,
    MODE_MAX = 4,
};

enum {
    HEALTH_NA = 0,
    HEALTH_NORMAL = 1,
    HEALTH_WARNING = 2,
    HEALTH_CRITICAL = 3,
    HEALTH_MAX = 3,
};

/* Operations.  The job type is the CIM JobType of Msvm_ConcreteJob. */
typedef enum {
    OP_INITIATE = 0,        /* job 97 */
    OP_REVERT,              /* job 98 */
    OP_COMMIT,              /* job 99 */
    OP_TEST,                /* job 102 */
    OP_STOP_TEST,           /* job 103 */
    OP_COUNT
} StateOp;

const char *state_name(int state);      /* "Recovered"; "Invalid state" if out of range */
int state_is_valid(int state);
const char *mode_name(int mode);        /* "Replica"; "Invalid mode" if out of range */
int mode_is_valid(int mode);
const char *health_name(int health);    /* "Warning"; "Invalid health" if out of range */
int health_is_valid(int health);

/* Command name: "failover", "revert", "commit", "test-failover", "stop-test";
 * "unknown" (title "Unknown operation", job type 0) outside StateOp. */
const char *state_op_name(StateOp op);
const char *state_op_title(StateOp op); /* "Initiate failover", "Revert failover", ... */
int state_op_from_name(const char *name);   /* -1 if unknown; accepts command names and "initiate" */
int state_op_job_type(StateOp op);      /* 97, 98, 99, 102, 103 */

/* Checks whether op may run on a replica in state with mode, given whether a
 * test system exists.  Returns 0, or RESULT_INVALID_STATE and sets err with
 * a sentence naming the state and what is allowed instead.  An op outside
 * StateOp is a caller bug: RESULT_INVALID_PARAMETER. */
int state_check(StateOp op, int state, int mode, int has_test);
/* The state op leaves behind (state itself for test and stop-test). */
int state_after(StateOp op, int state);
/* The state recorded while op runs (12 for initiate, else the current). */
int state_during(StateOp op, int state);

#endif
