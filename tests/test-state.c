/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for state: names and the allowed-operation table, cell by cell. */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/result.h"
#include "record/state.h"
#include "tap.h"

/* Literal expectations, written from facts §4.1/§6.2 and DESIGN §1, not
 * derived from state.c. */
static const char *const want_states[22] = {
    "Disabled", "Ready for replication", "Waiting for initial replication",
    "Replicating", "Synced (prepared for failover)", "Recovered", "Committed",
    "Suspended", "Critical", "Waiting to start resync", "Resynchronizing",
    "Resync suspended", "Failover in progress", "Failback in progress",
    "Failback complete", "Disk update in progress", "Disk update critical",
    "Unknown", "Repurpose in progress", "Prepared for sync replication",
    "Prepared for group reverse replication", "Fire drill in progress",
};
static const char *const want_modes[5] = {
    "None", "Primary", "Replica", "Test replica", "Extended replica",
};
static const char *const want_health[4] = { "n/a", "Normal", "Warning", "Critical" };

static const struct {
    StateOp op;
    const char *name;
    const char *title;
    int job;
} want_ops[] = {
    { OP_INITIATE, "failover", "Initiate failover", 97 },
    { OP_REVERT, "revert", "Revert failover", 98 },
    { OP_COMMIT, "commit", "Commit failover", 99 },
    { OP_TEST, "test-failover", "Test failover", 102 },
    { OP_STOP_TEST, "stop-test", "Stop test failover", 103 },
};

/* The allowed (op, state) pairs, with the state during and after.  Test
 * failover additionally needs no test system; stop-test is in no list
 * because it depends only on a test system existing. */
static const struct {
    StateOp op;
    int state;
    int during;
    int after;
} allowed[] = {
    { OP_INITIATE, 3, 12, 5 },
    { OP_INITIATE, 7, 12, 5 },
    { OP_REVERT, 5, 5, 3 },
    { OP_REVERT, 12, 12, 3 },
    { OP_COMMIT, 5, 5, 6 },
    { OP_TEST, 3, 3, 3 },
    { OP_TEST, 7, 7, 7 },
};
#define N_ALLOWED (sizeof(allowed) / sizeof(allowed[0]))

static int
expect_allowed(StateOp op, int state, int mode, int has_test)
{
    size_t i;

    if (state < 0 || state > 21 || (mode != 2 && mode != 4))
        return 0;
    if (op == OP_STOP_TEST)
        return has_test;
    for (i = 0; i < N_ALLOWED; i++)
        if (allowed[i].op == op && allowed[i].state == state)
            return op == OP_TEST ? !has_test : 1;
    return 0;
}

static void
test_names(void)
{
    int i;

    for (i = 0; i <= 21; i++) {
        is_str(state_name(i), want_states[i], "state %d name", i);
        ok(state_is_valid(i), "state %d valid", i);
    }
    is_int(STATE_MAX, 21, "STATE_MAX is 21");
    ok(!state_is_valid(-1) && !state_is_valid(22) && !state_is_valid(1000), "out-of-range states invalid");
    is_str(state_name(-1), "Invalid state", "state -1 name");
    is_str(state_name(22), "Invalid state", "state 22 name");
    for (i = 0; i <= 4; i++) {
        is_str(mode_name(i), want_modes[i], "mode %d name", i);
        ok(mode_is_valid(i), "mode %d valid", i);
    }
    ok(!mode_is_valid(-1) && !mode_is_valid(5), "out-of-range modes invalid");
    is_str(mode_name(5), "Invalid mode", "mode 5 name");
    is_str(mode_name(-1), "Invalid mode", "mode -1 name");
    for (i = 0; i <= 3; i++) {
        is_str(health_name(i), want_health[i], "health %d name", i);
        ok(health_is_valid(i), "health %d valid", i);
    }
    ok(!health_is_valid(-1) && !health_is_valid(4), "out-of-range health invalid");
    is_str(health_name(4), "Invalid health", "health 4 name");
    is_str(health_name(-1), "Invalid health", "health -1 name");
}

static void
test_ops(void)
{
    size_t i;

    is_int(OP_COUNT, 5, "five operations");
    for (i = 0; i < sizeof(want_ops) / sizeof(want_ops[0]); i++) {
        StateOp op = want_ops[i].op;

        is_str(state_op_name(op), want_ops[i].name, "op %d name", (int)op);
        is_str(state_op_title(op), want_ops[i].title, "op %d title", (int)op);
        is_int(state_op_job_type(op), want_ops[i].job, "op %d job type", (int)op);
        is_int(state_op_from_name(want_ops[i].name), op, "'%s' parses back", want_ops[i].name);
        is_int(state_op_from_name(state_op_name(op)), op, "op %d name round-trips", (int)op);
    }
    is_int(state_op_from_name("initiate"), OP_INITIATE, "'initiate' accepted");
    is_int(state_op_from_name("Revert"), -1, "names are case-sensitive");
    is_int(state_op_from_name("test"), -1, "'test' is not a command name");
    is_int(state_op_from_name("revert "), -1, "trailing space refused");
    is_int(state_op_from_name(""), -1, "empty name refused");
    is_int(state_op_from_name(NULL), -1, "NULL name refused");
    is_int(state_op_from_name("repair"), -1, "repair is not a state operation");
    is_str(state_op_name(OP_COUNT), "unknown", "out-of-range op name");
    is_str(state_op_name((StateOp)-1), "unknown", "negative op name");
    is_str(state_op_title(OP_COUNT), "Unknown operation", "out-of-range op title");
    is_int(state_op_job_type(OP_COUNT), 0, "out-of-range op has no job type");
    is_int(state_op_from_name(state_op_name(OP_COUNT)), -1, "'unknown' does not parse");
}

/* Every cell: 22 valid states plus out-of-range ones, every op, every mode
 * plus out-of-range ones, with and without a test system. */
static void
test_table(void)
{
    int op, state, mode, has_test;
    int cells = 0, mismatches = 0, bad_err = 0, n_allowed = 0;

    for (op = 0; op < OP_COUNT; op++)
        for (state = -2; state <= 23; state++)
            for (mode = -1; mode <= 5; mode++)
                for (has_test = 0; has_test <= 1; has_test++) {
                    int want = expect_allowed(op, state, mode, has_test);
                    int got;

                    err_clear();
                    got = state_check(op, state, mode, has_test);
                    cells++;
                    if (want) {
                        n_allowed++;
                        if (got != 0) {
                            mismatches++;
                            tap_diag("op %d state %d mode %d test %d: refused: %s",
                                     op, state, mode, has_test, err_message());
                        } else if (err_code() != 0) {
                            bad_err++;
                            tap_diag("op %d state %d mode %d test %d: allowed but set err", op, state, mode, has_test);
                        }
                    } else {
                        if (got != RESULT_INVALID_STATE) {
                            mismatches++;
                            tap_diag("op %d state %d mode %d test %d: got %d, want 32775",
                                     op, state, mode, has_test, got);
                        } else if (err_code() != RESULT_INVALID_STATE || !*err_message()) {
                            bad_err++;
                            tap_diag("op %d state %d mode %d test %d: refused without err", op, state, mode, has_test);
                        }
                    }
                }
    is_int(cells, 5 * 26 * 7 * 2, "every cell checked");
    is_int(mismatches, 0, "state_check agrees with the literal table in every cell");
    is_int(bad_err, 0, "err is set exactly when refused, with code 32775");
    /* states x modes x has_test: initiate 2x2x2, revert 2x2x2, commit 1x2x2,
     * test 2x2x1 (no test system), stop-test 22x2x1 (with one). */
    is_int(n_allowed, 8 + 8 + 4 + 4 + 44, "expected number of allowed cells");
}

static void
test_transitions(void)
{
    size_t i;
    int s;

    for (i = 0; i < N_ALLOWED; i++) {
        is_int(state_during(allowed[i].op, allowed[i].state), allowed[i].during,
               "%s from %d: during", state_op_name(allowed[i].op), allowed[i].state);
        is_int(state_after(allowed[i].op, allowed[i].state), allowed[i].after,
               "%s from %d: after", state_op_name(allowed[i].op), allowed[i].state);
    }
    for (s = 0; s <= 21; s++) {
        is_int(state_after(OP_STOP_TEST, s), s, "stop-test from %d leaves the state", s);
        is_int(state_during(OP_STOP_TEST, s), s, "stop-test from %d: during is the state", s);
    }
    is_int(state_after(OP_COUNT, 3), 3, "invalid op leaves the state");
    is_int(state_during(OP_COUNT, 3), 3, "invalid op: during is the state");
}

static void
test_messages(void)
{
    int rc;

    rc = state_check(OP_REVERT, 3, MODE_REPLICA, 0);
    is_int(rc, RESULT_INVALID_STATE, "revert from 3 refused");
    is_str(err_message(), "revert failover is not allowed in state 3 Replicating: "
           "it is allowed from 5 Recovered or 12 Failover in progress", "revert message names states");

    rc = state_check(OP_COMMIT, 6, MODE_EXTENDED_REPLICA, 1);
    is_int(rc, RESULT_INVALID_STATE, "commit from 6 refused");
    is_str(err_message(), "commit failover is not allowed in state 6 Committed: it is allowed from 5 Recovered",
           "commit message");

    state_check(OP_INITIATE, 5, MODE_REPLICA, 0);
    is_str(err_message(), "initiate failover is not allowed in state 5 Recovered: "
           "it is allowed from 3 Replicating or 7 Suspended", "initiate message");

    state_check(OP_TEST, 3, MODE_REPLICA, 1);
    ok(strstr(err_message(), "state 3 Replicating") && strstr(err_message(), "test system exists"),
       "test refused while a test system exists: %s", err_message());
    ok(strstr(err_message(), "stop-test") != NULL, "says to stop the test first");

    state_check(OP_STOP_TEST, 5, MODE_REPLICA, 0);
    is_str(err_message(), "stop test failover is not allowed in state 5 Recovered: no test system exists",
           "stop-test without a test system");
    is_int(err_code(), RESULT_INVALID_STATE, "stop-test refusal is 32775");

    state_check(OP_REVERT, 5, MODE_PRIMARY, 0);
    ok(strstr(err_message(), "mode 1 Primary") && strstr(err_message(), "2 Replica")
       && strstr(err_message(), "4 Extended replica"), "mode refusal names modes: %s", err_message());

    rc = state_check(OP_REVERT, 42, MODE_REPLICA, 0);
    is_int(rc, RESULT_INVALID_STATE, "invalid state number refused with 32775");
    ok(strstr(err_message(), "state 42") != NULL, "names the invalid state number: %s", err_message());

    rc = state_check(OP_REVERT, -3, MODE_REPLICA, 0);
    ok(rc == RESULT_INVALID_STATE && strstr(err_message(), "state -3") != NULL, "negative state named");

    rc = state_check(OP_REVERT, 5, 9, 0);
    is_int(rc, RESULT_INVALID_STATE, "invalid mode refused with 32775");
    ok(strstr(err_message(), "mode 9") != NULL, "names the invalid mode: %s", err_message());

    rc = state_check(OP_COUNT, 5, MODE_REPLICA, 0);
    is_int(rc, RESULT_INVALID_PARAMETER, "out-of-range op is an invalid parameter");
    is_int(err_code(), RESULT_INVALID_PARAMETER, "err says so too");

    err_set(RESULT_FAILED, "stale");
    rc = state_check(OP_COMMIT, 5, MODE_REPLICA, 0);
    is_int(rc, 0, "commit from 5 allowed");
    is_str(err_message(), "stale", "an allowed check leaves err alone");
}

int
main(void)
{
    test_names();
    test_ops();
    test_table();
    test_transitions();
    test_messages();
    return tap_done();
}
