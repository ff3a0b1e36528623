/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ops-define: saving a replica's definition without overwriting another
 * writer's change (virsh edit, replication, another application): the
 * definition is read again before each define and after it. */
#include <config.h>

#include "ops/ops.h"
#include "ops/ops-priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/result.h"
#include "base/testhook.h"
#include "base/util.h"
#include "hv/domxml.h"
#include "record/replica.h"

int
ops_check_definition(HvConn *c, const char *uuid, const char *name, const char *expect,
                     char **changed)
{
    UTIL_AUTOFREE char *now = NULL;
    UTIL_AUTOFREE char *what = NULL;

    if (changed)
        *changed = NULL;
    if (!expect || !uuid)
        return 0;
    /* On a fleet file another process's write reaches memory on reload. */
    if (hv_reload_if_changed(c) < 0 || !(now = hv_get_xml(c, uuid))) {
        if (err_code() == RESULT_INVALID_PARAMETER) {
            /* Undefined meanwhile: defining it again would bring it back. */
            if (changed)
                *changed = util_xstrdup("");
            err_set(RESULT_IN_USE, "%s was undefined while drover was working on it, and drover "
                    "does not define it again", name);
            err_hint(RESULT_HINT_DEFINITION_CHANGED);
            return -1;
        }
        err_prefix("cannot read the definition of %s again before changing it", name);
        return -1;
    }
    if (strcmp(now, expect) == 0)
        return 0;
    if (!(what = domxml_describe_changes(expect, now))) {
        if (err_code())
            return -1;
        return 0;   /* the same content, laid out differently */
    }
    if (changed)
        *changed = UTIL_STEAL(&now);
    err_set(RESULT_IN_USE, "the definition of %s changed while drover was working on it "
            "(%s): another writer (virsh edit, replication, another application) changed it, "
            "and drover does not overwrite its change", name, what);
    err_hint(RESULT_HINT_DEFINITION_CHANGED);
    return -1;
}

/* Refuses (32774) when the definition is no longer the one this run last
 * read or wrote: a define built from the older copy would silently revert
 * another writer's change. */
int
ops_check_unchanged(OpsCtx *x)
{
    char *changed = NULL;

    if (ops_check_definition(x->c, domxml_uuid(x->dx), domxml_name(x->dx), x->expect,
                             &changed) == 0)
        return 0;
    if (changed) {
        free(x->changed);
        x->changed = changed;
    }
    return -1;
}

/* Takes now, read back right after this run defined x->defined, as the
 * definition to expect, unless it holds more than libvirt fills in: then
 * another writer's change landed in between (32774, x->changed). */
static int
ops_take_read_back(OpsCtx *x, char *now)
{
    UTIL_AUTOFREE char *what = domxml_describe_changes(x->defined, now);

    if (!what) {
        free(x->expect);
        x->expect = now;
        if (err_code()) {
            /* Not comparable: keep what was sent, checked at the next define. */
            err_clear();
            x->expect = util_xstrdup(x->defined);
            free(now);
        }
        return 0;
    }
    free(x->expect);
    x->expect = util_xstrdup(x->defined);
    free(x->changed);
    x->changed = now;
    err_set(RESULT_IN_USE, "the definition of %s changed right after drover saved it (%s): "
            "another writer (virsh edit, replication, another application) changed it, and "
            "drover does not overwrite its change", domxml_name(x->dx), what);
    err_hint(RESULT_HINT_DEFINITION_CHANGED);
    return -1;
}

int
ops_define(OpsCtx *x, const Replica *rec)
{
    UTIL_AUTOFREE char *md = replica_format(rec);
    const char *uuid = domxml_uuid(x->dx);
    char *now;

    x->applied = 0;
    x->define_unknown = 0;
    if (!md) {
        err_prefix("the record of %s", domxml_name(x->dx));
        return -1;
    }
    if (ops_check_unchanged(x) < 0)
        return -1;
    if (domxml_set_replica(x->dx, md) < 0)
        return -1;
    free(x->defined);
    x->defined = domxml_format(x->dx);
    if (hv_define(x->c, x->defined) < 0) {
        x->define_unknown = 1;
        err_prefix("cannot save the definition of %s", domxml_name(x->dx));
        return -1;
    }
    x->applied = 1;
    if (getenv("DROVER_PAUSE")) {
        /* A test lands another writer's change between define and read-back. */
        char where[128];
        snprintf(where, sizeof(where), "%s:defined-%s", x->opname,
                 rec->journal && rec->journal->step ? rec->journal->step : "closed");
        testhook_pause(where);
    }
    if (!x->expect || !uuid)
        return 0;
    if (!(now = hv_get_xml(x->c, uuid))) {
        /* The define stands; what libvirt made of it is checked at the
         * next define, against what was sent. */
        err_clear();
        free(x->expect);
        x->expect = util_xstrdup(x->defined);
        return 0;
    }
    return ops_take_read_back(x, now);
}

int
ops_define_last(OpsCtx *x, const Replica *rec)
{
    if (ops_define(x, rec) < 0 && !x->applied)
        return -1;
    err_clear();
    return 0;
}
