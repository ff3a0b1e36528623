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

    return util_xasprintf("%s%s%s%s", r ? "Enter details  " : "", keys, keys[0] ? "  " : "",
                          c->view.filter[0] ? "? keys" : "/ filter  s sort  ? keys");
}
