/* SPDX-License-Identifier: GPL-2.0-or-later */
/* plan-keep: the chains no deletion may touch: every disk of every other
 * domain on the host and, after a switch, the replica's own; what
 * chain_discard checks each deletion against. */
#include <config.h>

#include "ops/plan.h"

#include <stdlib.h>
#include <string.h>

#include "chain/chain.h"
#include "hv/domxml.h"
#include "base/err.h"
#include "base/result.h"
#include "base/util.h"

typedef struct {
    Chain **v;
    size_t n;
} PlanKeep;

static void
plan_keep_add(PlanKeep *x, Chain *c)
{
    x->v = util_xrealloc(x->v, (x->n + 1) * sizeof(*x->v));
    x->v[x->n++] = c;
}

/* A one-layer chain: protects a file whose chain cannot (or need not) be
 * walked. */
static void
plan_keep_add_file(PlanKeep *x, const char *path)
{
    dev_t dev;
    ino_t ino;
    uint64_t size;
    Chain *c;

    if (chain_stat(path, &dev, &ino, &size) < 0) {
        err_clear();
        return;
    }
    c = util_xcalloc(1, sizeof(*c));
    c->layers = util_xcalloc(1, sizeof(*c->layers));
    c->n = 1;
    c->layers[0].path = util_xstrdup(path);
    c->layers[0].format = util_xstrdup("unknown");
    c->layers[0].dev = dev;
    c->layers[0].ino = ino;
    plan_keep_add(x, c);
}

/* Protects every layer of top's chain.  A chain that cannot be walked to
 * its end still protects what could be read and the layer that failed;
 * but when a layer cannot be read at all (permissions) or the chain is too
 * deep to follow, what lies below is unknown, and nothing may be deleted. */
static int
plan_keep_add_walk(PlanKeep *x, const char *top)
{
    Chain *partial = NULL;
    Chain *c = chain_walk_partial(top, &partial);
    UTIL_AUTOFREE char *failed_at = NULL;
    int code;

    if (c) {
        plan_keep_add(x, c);
        return 0;
    }
    code = err_code();
    if (code == RESULT_ACCESS_DENIED || strstr(err_message(), "deeper than")) {
        chain_free(partial);
        err_prefix("cannot read the whole disk chain of %s, so drover cannot tell which files it "
                   "uses; nothing is deleted", top);
        return -1;
    }
    err_clear();
    if (partial && partial->n) {
        const ChainLayer *last = &partial->layers[partial->n - 1];
        if (last->backing_name) {
            UTIL_AUTOFREE char *dir = util_dirname(last->path);
            failed_at = util_path_join(dir, last->backing_name);
        }
        plan_keep_add(x, partial);
    } else {
        chain_free(partial);
        failed_at = util_xstrdup(top);
    }
    if (failed_at)
        plan_keep_add_file(x, failed_at);
    return 0;
}

void
plan_keep_free(Chain **keep, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        chain_free(keep[i]);
    free(keep);
}

/* The replica's disks after the switch (p's switches applied). */
static int
plan_keep_future(PlanKeep *x, const Plan *p)
{
    DomDiskList disks = { 0 };
    DomXml *d = domxml_parse(p->domxml);
    size_t i, j;
    int ret = 0;

    if (!d)
        return -1;
    domxml_disks(d, &disks);
    for (i = 0; i < disks.n && ret == 0; i++) {
        const char *top = disks.v[i].source;

        for (j = 0; j < p->nswitches; j++)
            if (strcmp(p->switches[j].target, disks.v[i].target) == 0)
                top = p->switches[j].to;
        if (!top)
            continue;
        /* After a flatten the disk's chain is its overlay and a new image. */
        if (p->op == OP_COMMIT && p->flatten)
            plan_keep_add_file(x, top);
        else
            ret = plan_keep_add_walk(x, top);
    }
    domxml_disk_list_clear(&disks);
    domxml_free(d);
    return ret;
}

int
plan_keep_load_but(HvConn *c, const char *const *exclude, Chain ***keep, size_t *nkeep)
{
    PlanKeep x = { NULL, 0 };
    char **src;
    size_t i;

    *keep = NULL;
    *nkeep = 0;
    if (!(src = hv_all_disk_sources(c, exclude))) {
        err_prefix("cannot list the disks of the domains on %s", hv_uri(c));
        return -1;
    }
    for (i = 0; src[i]; i++)
        if (plan_keep_add_walk(&x, src[i]) < 0)
            break;
    if (src[i]) {
        hv_strv_free(src);
        plan_keep_free(x.v, x.n);
        return -1;
    }
    hv_strv_free(src);
    *keep = x.v;
    *nkeep = x.n;
    return 0;
}

int
plan_load_keep(HvConn *c, const Plan *p, int future, Chain ***keep, size_t *nkeep)
{
    const char *exclude[3] = { NULL, NULL, NULL };
    PlanKeep x = { NULL, 0 };

    if (future) {
        exclude[0] = p->uuid;
        exclude[1] = p->test_uuid;
    }
    if (plan_keep_load_but(c, exclude, &x.v, &x.n) < 0)
        return -1;
    if (future && plan_keep_future(&x, p) < 0) {
        plan_keep_free(x.v, x.n);
        *keep = NULL;
        *nkeep = 0;
        return -1;
    }
    *keep = x.v;
    *nkeep = x.n;
    return 0;
}
