/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rules: what the selected row allows.  The key hint, the keys and the
 * dialogs ask here, so what the hint offers is what a key does, and a
 * refusal that needs no choice comes before any picker. */
#include <config.h>

#include "ui.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/result.h"
#include "record/state.h"
#include "base/util.h"

int
ui_op_repl(int op)
{
    switch (op) {
    case UI_OP_REPLICATE: return REPLJOB_CYCLE;
    case UI_OP_SUSPEND: return REPLJOB_SUSPEND;
    case UI_OP_RESUME: return REPLJOB_RESUME;
    case UI_OP_RESYNC: return REPLJOB_RESYNC;
    case UI_OP_PLANNED: return REPLJOB_PLANNED;
    default: return -1;
    }
}

const char *
ui_op_title(int op)
{
    switch (op) {
    case UI_OP_REPAIR: return "Repair";
    case UI_OP_REPLICATE: return "Replicate now";
    case UI_OP_SUSPEND: return "Suspend replication";
    case UI_OP_RESUME: return "Resume replication";
    case UI_OP_RESYNC: return "Resync";
    case UI_OP_PLANNED: return "Planned failover";
    default: return state_op_title((StateOp)op);
    }
}

const char *
ui_op_name(int op)
{
    if (op == UI_OP_REPAIR)
        return "repair";
    if (ui_op_repl(op) >= 0)
        return repljob_op_name(ui_op_repl(op));
    return state_op_name((StateOp)op);
}

/* Replication keys on a replica drover replicates: the states src/repl
 * allows (repl_check_state, repl_check_resync, repl_set), known from the
 * row before any plan. */
static int
ui_repl_refusal(const ModelRow *r, int op, ErrInfo *why)
{
    const Summary *s = &r->s;
    int st = s->state;
    int replicating = st == STATE_READY || st == STATE_WAITING_INITIAL || st == STATE_REPLICATING;
    int failed_over = st == STATE_RECOVERED || st == STATE_COMMITTED || st == STATE_FAILOVER_IN_PROGRESS;
    char *m = why->message;
    size_t n = sizeof(why->message);

    if (!r->repl) {
        why->code = RESULT_NOT_SUPPORTED;
        snprintf(m, n, "%s is not replicated by drover (its record has no <replication>): drover "
                 "enable-replication on the command line starts it", s->name);
        return -1;
    }
    if (op == UI_OP_PLANNED) {
        /* What repl_plan_planned refuses before it asks the primary. */
        if (!r->repl_primary) {
            why->code = RESULT_NOT_SUPPORTED;
            snprintf(m, n, "the record of %s names no primary URI: a planned failover needs the primary",
                     s->name);
        } else if (st != STATE_REPLICATING) {
            snprintf(m, n, "a planned failover runs in state 3 Replicating; %s is in state %d %s", s->name,
                     st, state_name(st));
        } else if (s->power != HV_POWER_OFF) {
            snprintf(m, n, "%s is %s on this host: a planned failover needs the replica off", s->name,
                     hv_power_name(s->power));
        } else if (!s->npoints) {
            snprintf(m, n, "%s has no recovery point yet: the final cycle copies the changes since the "
                     "newest one", s->name);
        } else if (s->test_domain) {
            why->code = RESULT_IN_USE;
            snprintf(m, n, "the test system %s reads the chain of %s: T stops it first", s->test_domain,
                     s->name);
        } else {
            return 0;
        }
        return -1;
    }
    if (op == UI_OP_RESUME) {
        if (st == STATE_SUSPENDED)
            return 0;
        snprintf(m, n, "%s is not suspended (state %d %s): only a suspended replica (7) is resumed",
                 s->name, st, state_name(st));
        return -1;
    }
    if (op == UI_OP_SUSPEND) {
        if (replicating)
            return 0;
        snprintf(m, n, "%s cannot be suspended in state %d %s: only a replicating replica (1, 2 or 3) "
                 "is suspended", s->name, st, state_name(st));
        return -1;
    }
    if (st == STATE_SUSPENDED)
        snprintf(m, n, "replication of %s is suspended (state 7 Suspended): Z resumes it first", s->name);
    else if (failed_over)
        snprintf(m, n, "replication of %s is paused: it is failed over (state %d %s); it resumes after a "
                 "revert", s->name, st, state_name(st));
    else if (op == UI_OP_RESYNC && (st != STATE_REPLICATING || !s->npoints))
        snprintf(m, n, "a resync runs only in state 3 Replicating with a recovery point; %s is in state "
                 "%d %s (%zu recovery point%s)", s->name, st, state_name(st), s->npoints,
                 s->npoints == 1 ? "" : "s");
    else if (!replicating)
        snprintf(m, n, "replication cycles run only in state 1 Ready, 2 Waiting for initial replication or "
                 "3 Replicating; %s is in state %d %s", s->name, st, state_name(st));
    else if (s->power != HV_POWER_OFF)
        snprintf(m, n, "%s is %s: replication runs only while the replica is shut off", s->name,
                 hv_power_name(s->power));
    else if (op == UI_OP_RESYNC && s->test_domain) {
        why->code = RESULT_IN_USE;
        snprintf(m, n, "the test system %s reads the chain of %s: T stops it, then resync", s->test_domain,
                 s->name);
    } else
        return 0;
    return -1;
}

int
ui_offers_planned(const ModelRow *r)
{
    return r && r->loaded && r->repl && r->repl_primary;
}

const ModelRow *
ui_test_replica(const Console *c, const ModelRow *r)
{
    size_t i;

    if (!r || !r->loaded || r->s.mode != MODE_TEST_REPLICA)
        return NULL;
    for (i = 0; i < model_nrows(c->m); i++) {
        const ModelRow *o = model_row(c->m, i);

        if (o->host == r->host && o->s.test_domain && util_streq(o->s.test_domain, r->s.name))
            return o;
    }
    return NULL;
}

const ModelRow *
ui_op_row(const Console *c, const ModelRow *r, int op)
{
    const ModelRow *replica;

    /* T on a test system stops it: the operation belongs to its replica. */
    if (op == OP_STOP_TEST && (replica = ui_test_replica(c, r)))
        return replica;
    return r;
}

int
ui_op_refusal(const Console *c, const ModelRow *r, int op, ErrInfo *why)
{
    const Summary *s;
    int rc;

    memset(why, 0, sizeof(*why));
    why->code = RESULT_INVALID_STATE;
    if (!r) {
        snprintf(why->message, sizeof(why->message), "no VM is selected");
        return -1;
    }
    s = &r->s;
    if (!r->loaded) {
        snprintf(why->message, sizeof(why->message), "%s: its record is still being read", s->name);
        why->code = RESULT_NOT_AVAILABLE;
        return -1;
    }
    if (s->mode == MODE_TEST_REPLICA) {
        const ModelRow *replica = ui_test_replica(c, r);

        if (op == OP_STOP_TEST && replica)
            return ui_op_refusal(c, replica, op, why);
        snprintf(why->message, sizeof(why->message), "%s is the test system of %s: T on either row stops "
                 "it; every other operation acts on the replica", s->name,
                 replica ? replica->s.name : "a replica");
        return -1;
    }
    if (!s->has_record) {
        snprintf(why->message, sizeof(why->message), "%s has no drover replica record: it is not a replica "
                 "drover manages", s->name);
        why->code = RESULT_INVALID_STATE;
        return -1;
    }
    if (s->record_error) {
        snprintf(why->message, sizeof(why->message), "the replica record of %s cannot be read (Enter shows "
                 "why)", s->name);
        why->code = s->record_error;
        return -1;
    }
    if (op == UI_OP_REPAIR) {
        if (!s->journal_op) {
            snprintf(why->message, sizeof(why->message), "%s has no interrupted operation: nothing to repair",
                     s->name);
            return -1;
        }
        return 0;
    }
    if (s->journal_op) {
        snprintf(why->message, sizeof(why->message), "%s has an interrupted %s: press R to repair it first",
                 s->name, s->journal_op);
        return -1;
    }
    if (ui_op_repl(op) >= 0)
        return ui_repl_refusal(r, op, why);
    if (op == OP_TEST && s->test_domain) {
        snprintf(why->message, sizeof(why->message), "%s already has a test system (%s): T stops it first",
                 s->name, s->test_domain);
        return -1;
    }
    if ((op == OP_INITIATE || op == OP_TEST) && !s->npoints) {
        snprintf(why->message, sizeof(why->message), "%s has no recovery points to fail over to", s->name);
        return -1;
    }
    if ((rc = state_check((StateOp)op, s->state, s->mode, s->test_domain != NULL)) != 0) {
        snprintf(why->message, sizeof(why->message), "%s: %s", s->name, err_message());
        why->code = rc;
        err_clear();
        return -1;
    }
    return 0;
}

char *
ui_op_keys(const Console *c, const ModelRow *r, const char *sep)
{
    static const struct {
        int op;
        const char *text;
    } keys[] = {
        { OP_REVERT, "r revert" }, { OP_INITIATE, "f failover" }, { OP_COMMIT, "c commit" },
        { OP_TEST, "t test" }, { OP_STOP_TEST, "T stop test" }, { UI_OP_REPAIR, "R repair" },
        { UI_OP_REPLICATE, "p replicate" }, { UI_OP_SUSPEND, "z suspend" }, { UI_OP_RESUME, "Z resume" },
        { UI_OP_RESYNC, "Y resync" },
    };
    UtilBuf b = { 0 };
    ErrInfo why;
    size_t i;

    /* Only the keys that act on this row: the others would only refuse. */
    for (i = 0; r && !c->readonly && !c->s->hosts[r->host].readonly && i < sizeof(keys) / sizeof(keys[0]); i++)
        if (ui_op_refusal(c, r, keys[i].op, &why) == 0)
            util_buf_printf(&b, "%s%s", b.len ? sep : "", keys[i].text);
    return util_buf_steal(&b);
}

char *
ui_op_hint(const Console *c, const ModelRow *r)
{
    UTIL_AUTOFREE char *keys = ui_op_keys(c, r, "  ");
    char *hint = util_xasprintf("%s%s%s%s", r ? "Enter details  " : "", keys, keys[0] ? "  " : "",
                                c->view.filter[0] ? "? keys" : "/ filter  s sort  ? keys");

    /* The row's own keys before the general ones when the line is short. */
    if (ui_width(hint) > c->cols && !c->view.filter[0]) {
        free(hint);
        hint = util_xasprintf("%s%s%s? keys", r ? "Enter details  " : "", keys, keys[0] ? "  " : "");
    }
    return hint;
}
