/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ops-undo: when an execution fails before its switch, undoing it with
 * repair's rollback; when another writer changed the definition meanwhile,
 * undoing (or, after the switch, closing the journal) on their definition
 * so their change stays. */
#include <config.h>

#include "ops/ops.h"
#include "ops/ops-priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"
#include "chain/chain.h"
#include "hv/domxml.h"
#include "hv/hv.h"
#include "record/replica.h"
#include "record/state.h"

/* Appends text to a saved error's message. */
static void
ops_err_append(ErrInfo *e, const char *text)
{
    size_t n = strlen(e->message);

    snprintf(e->message + n, sizeof(e->message) - n, "; %s", text);
}

/* Says in a saved error what the undo left in place (x->left). */
static void
ops_err_append_left(const OpsCtx *x, ErrInfo *e)
{
    UTIL_AUTOFREE char *left = ops_left_text(x);
    UTIL_AUTOFREE char *t = NULL;

    if (!left)
        return;
    t = util_xasprintf("the undo left in place what drover could not prove unused: %s", left);
    ops_err_append(e, t);
}

/* Parses the definition another writer left (x->changed) into *cur and its
 * record into *r (NULL when either is gone; no error left).  Returns 1 when
 * that record still holds this run's journal, else 0. */
static int
ops_parse_changed(OpsCtx *x, const Replica *journaled, DomXml **cur, Replica **r)
{
    UTIL_AUTOFREE char *md = NULL;

    *r = NULL;
    if ((*cur = domxml_parse(x->changed)) && (md = domxml_get_replica(*cur)))
        *r = replica_parse(md, strlen(md));
    err_clear();    /* no definition or no record: the callers say so */
    return *r && (*r)->journal && (*r)->journal->job && journaled->journal->job &&
           strcmp((*r)->journal->job, journaled->journal->job) == 0;
}

/* Another writer changed the definition before the switch: undo this run
 * on *their* definition, so their change stays.  The record is theirs (a
 * recovery point replication added stays); the journal is ours, whatever
 * they left of it, so the rollback removes exactly what this run made and
 * puts the state back. */
static void
ops_undo_on_changed(OpsCtx *x, const Replica *journaled)
{
    const Plan *p = x->p;
    DomXml *cur = NULL;
    Replica *r = NULL;
    ErrInfo saved;
    int ours;

    err_save(&saved);
    ours = ops_parse_changed(x, journaled, &cur, &r);
    if (!ours && x->nmade == 0) {
        /* Our journal never reached the definition and nothing was made. */
        if (p->power_action == PLAN_POWER_NONE) {
            ops_err_append(&saved, "nothing was changed");
        } else {
            const char *off = p->power_action == PLAN_POWER_DESTROY ? p->test_domain : p->vm;
            UTIL_AUTOFREE char *t = util_xasprintf("nothing was changed (%s was powered off, "
                                                   "as the plan said)", off);
            ops_err_append(&saved, t);
        }
        err_restore(&saved);
        goto cleanup;
    }
    if (!r) {
        /* Nothing to define: only remove what this run made, if no domain
         * uses it now; a test system this run defined goes first, as in
         * ops_rollback (it uses the overlays and the NVRAM copy). */
        UtilBuf left = { 0 };
        int keep_ok;
        size_t i;

        if (p->op == OP_TEST && p->test_uuid[0] &&
            ops_remove_test_system(x, p->test_uuid, p->test_domain) < 0)
            util_buf_printf(&left, "the test system %s, ", p->test_domain);
        keep_ok = ops_load_keep(x, 0) == 0;
        for (i = 0; i < x->nmade; i++) {
            const OpsMade *m = &x->made[i];
            if (!keep_ok || left.len ||
                chain_discard(m->path, m->dev, m->ino, p->dir,
                              (const Chain *const *)x->keep, x->nkeep) < 0)
                util_buf_printf(&left, "%s%s", i ? ", " : "", m->path);
        }
        err_clear();
        {
            UTIL_AUTOFREE char *t = util_xasprintf("%s or its drover record is gone, so there is "
                                                   "no definition to undo this operation on; %s%s",
                                                   p->vm, left.len ? "what it made is left: " :
                                                   "the files it made are removed",
                                                   left.len ? left.s : "");
            ops_err_append(&saved, t);
        }
        util_buf_free(&left);
        err_restore(&saved);
        goto cleanup;
    }
    {
        Replica *mine = replica_copy(journaled);

        replica_journal_free(r->journal);
        r->journal = UTIL_STEAL(&mine->journal);
        replica_free(mine);
    }
    ops_set_journal_step(r, "prepared");
    domxml_free(x->dx);
    x->dx = UTIL_STEAL(&cur);
    free(x->expect);
    x->expect = UTIL_STEAL(&x->changed);
    x->undo = 1;
    if (ops_rollback(x, r, p->dir, p->vm) < 0) {
        err_restore(&saved);
        err_hint(RESULT_HINT_REPAIR);
        err_prefix("the operation could not be undone: run drover repair %s", p->vm);
    } else {
        ops_err_append(&saved, "the operation was undone on the new definition, which keeps "
                       "that change");
        ops_err_append_left(x, &saved);
        err_restore(&saved);
    }
    x->undo = 0;

cleanup:
    replica_free(r);
    domxml_free(cur);
}

/* After a define that failed (perhaps after libvirt applied it), reads the
 * definition again: unchanged (not applied) or this run's own (applied),
 * x->expect becomes it; another writer's, x->changed does.  Unreadable:
 * x->expect is unknown (NULL) and the undo defines without a check. */
static void
ops_settle_failed_define(OpsCtx *x)
{
    const char *uuid = domxml_uuid(x->dx);
    char *now = uuid ? hv_get_xml(x->c, uuid) : NULL;
    UTIL_AUTOFREE char *vs_expect = NULL;
    UTIL_AUTOFREE char *vs_defined = NULL;

    if (!now) {
        if (uuid && err_code() == RESULT_INVALID_PARAMETER) {
            free(x->changed);
            x->changed = util_xstrdup("");     /* undefined meanwhile */
        } else {
            free(x->expect);
            x->expect = NULL;
        }
        err_clear();
        return;
    }
    if (x->expect && !(vs_expect = domxml_describe_changes(x->expect, now)) && !err_code()) {
        free(now);      /* not applied */
        return;
    }
    if (x->defined && !(vs_defined = domxml_describe_changes(x->defined, now)) && !err_code()) {
        free(x->expect);
        x->expect = now;        /* applied: ours */
        return;
    }
    err_clear();
    free(x->changed);
    x->changed = now;           /* another writer's */
}

/* The operation failed before its switch (or the switch's outcome is
 * unknown): put the definition back as it was, journal included, then roll
 * back with repair's own code, deleting only files this run made.  If even
 * that fails, the journal stays and repair finishes the job later.  The
 * definition is checked first: another writer's change made meanwhile is
 * kept (ops_undo_on_changed). */
void
ops_undo(OpsCtx *x, const Replica *journaled)
{
    const Plan *p = x->p;
    ErrInfo saved;
    Replica *r;

    err_save(&saved);
    if (!x->changed && x->define_unknown)
        ops_settle_failed_define(x);
    if (!x->changed && x->expect && ops_check_unchanged(x) < 0 && !x->changed) {
        err_restore(&saved);
        err_hint(RESULT_HINT_REPAIR);
        err_prefix("the failed operation could not be undone: run drover repair %s", p->vm);
        return;
    }
    err_restore(&saved);
    if (x->changed) {
        ops_undo_on_changed(x, journaled);
        return;
    }
    r = replica_copy(journaled);
    ops_set_journal_step(r, "prepared");
    domxml_free(x->dx);
    x->dx = domxml_parse(p->domxml);
    x->undo = 1;
    if (!x->dx || ops_define(x, r) < 0 || ops_rollback(x, r, p->dir, p->vm) < 0) {
        err_restore(&saved);
        err_hint(RESULT_HINT_REPAIR);
        err_prefix("the failed operation could not be undone: run drover repair %s", p->vm);
    } else {
        ops_err_append_left(x, &saved);
        err_restore(&saved);
    }
    x->undo = 0;
    replica_free(r);
}

/* Another writer changed the definition after the switch, which stands:
 * close the journal on their definition instead of overwriting it. */
int
ops_close_on_changed(OpsCtx *x, const Replica *journaled)
{
    DomXml *cur = NULL;
    Replica *r = NULL;
    ErrInfo saved;
    int ret = -1;

    err_save(&saved);
    if (!ops_parse_changed(x, journaled, &cur, &r)) {
        /* Their definition no longer holds our journal: nothing to close. */
        err_restore(&saved);
        err_prefix("%s of %s was done, but its journal is gone from the definition another "
                   "writer left: check it (drover check %s)", state_op_title(x->p->op),
                   x->p->vm, x->p->vm);
        goto cleanup;
    }
    replica_journal_free(r->journal);
    r->journal = NULL;
    ops_step(x, 98, "closing the journal on the definition another writer changed");
    domxml_free(x->dx);
    x->dx = UTIL_STEAL(&cur);
    free(x->expect);
    x->expect = UTIL_STEAL(&x->changed);
    ret = ops_define_last(x, r);

cleanup:
    replica_free(r);
    domxml_free(cur);
    return ret;
}
