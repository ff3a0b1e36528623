/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for hv's fleet file (libvirt's test driver with a node file): two
 * connections on one file stand for two drover processes. */
#include <config.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/util.h"
#include "hv/domxml.h"
#include "hv/hv.h"
#include "tap.h"

#define UUID_A "8d3a1c2e-0000-4000-8000-00000000000a"
#define UUID_B "8d3a1c2e-0000-4000-8000-00000000000b"
#define WAIT_MS 30000

static const char fleet_text[] =
    "<node>\n"
    "  <domain type='test'><name>a</name><uuid>" UUID_A "</uuid>"
    "<memory>65536</memory><os><type>hvm</type></os></domain>\n"
    "  <domain type='test'><name>b</name><uuid>" UUID_B "</uuid>"
    "<memory>65536</memory><os><type>hvm</type></os></domain>\n"
    "</node>\n";

/* Redefines uuid on c with a <title>: a change another process makes. */
static int
set_title(HvConn *c, const char *uuid, const char *title)
{
    UTIL_AUTOFREE char *xml = hv_get_xml(c, uuid);
    UTIL_AUTOFREE char *tag = NULL;
    UTIL_AUTOFREE char *edited = NULL;
    char *at;

    if (!xml || !(at = strstr(xml, "</name>")))
        return -1;
    at += strlen("</name>");
    tag = util_xasprintf("<title>%s</title>", title);
    edited = util_xasprintf("%.*s%s%s", (int)(at - xml), xml, tag, at);
    return hv_define(c, edited);
}

static int
has_title(HvConn *c, const char *uuid, const char *title)
{
    UTIL_AUTOFREE char *xml = hv_get_xml(c, uuid);
    UTIL_AUTOFREE char *tag = util_xasprintf("<title>%s</title>", title);

    return xml && strstr(xml, tag) != NULL;
}

typedef struct {
    HvConn *other;
    const char *pause;
    int reached;
    int wrote;
} Window;

/* Waits for the reload to stop in its window, writes, lets it go on. */
static void *
write_in_window(void *arg)
{
    Window *w = arg;
    int64_t end = util_mono_ms() + WAIT_MS;
    struct stat st;

    while (stat(w->pause, &st) < 0 && util_mono_ms() < end)
        usleep(10000);
    w->reached = stat(w->pause, &st) == 0;
    w->wrote = set_title(w->other, UUID_B, "second") == 0;
    unlink(w->pause);
    return NULL;
}

/* Issue 11 item 4: a write landing between hv_swap's connect (which parses
 * the file) and its stat was marked as loaded while memory held the older
 * copy; the view stayed stale for good. */
static void
test_write_in_reload_window(const char *dir)
{
    UTIL_AUTOFREE char *path = util_xasprintf("%s/fleet.xml", dir);
    UTIL_AUTOFREE char *uri = util_xasprintf("test://%s", path);
    UTIL_AUTOFREE char *pause = util_xasprintf("%s/paused", dir);
    HvConn *mine, *other;
    Window w;
    pthread_t t;
    FILE *f;
    int r;

    f = fopen(path, "w");
    ok(f && fputs(fleet_text, f) >= 0 && fclose(f) == 0, "fleet file written");
    mine = hv_open(uri, 0);
    other = hv_open(uri, 0);
    ok(hv_is_alive(mine) && hv_is_alive(other), "two connections on %s", path);

    ok(set_title(other, UUID_A, "first") == 0, "the other process changes a");
    ok(!has_title(mine, UUID_A, "first"), "not seen before the reload");

    setenv("DROVER_PAUSE", "hv:swap-connected", 1);
    setenv("DROVER_PAUSE_FILE", pause, 1);
    memset(&w, 0, sizeof(w));
    w.other = other;
    w.pause = pause;
    pthread_create(&t, NULL, write_in_window, &w);
    r = hv_reload_if_changed(mine);
    pthread_join(t, NULL);
    unsetenv("DROVER_PAUSE");
    is_int(r, 1, "the first change is reloaded");
    ok(w.reached && w.wrote, "the other process wrote b while the reload was between connect and stat");
    ok(has_title(mine, UUID_A, "first"), "the first change is in memory");

    r = hv_reload_if_changed(mine);
    ok(r >= 0, "the next reload check runs (%d)", r);
    ok(has_title(mine, UUID_B, "second"),
       "the write that landed in the window is loaded, not marked as loaded while memory is older");
    is_int(hv_reload_if_changed(mine), 0, "then the view is current");

    hv_close(other);
    hv_close(mine);
}

#define DOM_HEAD "<domain type='test'><name>a</name><uuid>" UUID_A "</uuid>"
#define DOM_RECORD(points) \
    "<metadata><drover:replica xmlns:drover='urn:drover:replica:1' format='1'>" \
    "<drover:state>3</drover:state><drover:recovery-points>" points \
    "</drover:recovery-points></drover:replica></metadata>"
#define DOM_DISK(target, extra) \
    "<disk type='file' device='disk'><driver name='qemu' type='qcow2'" extra "/>" \
    "<source file='/x/" target ".qcow2'/><target dev='" target "'/></disk>"

/* What domxml_describe_changes() tells an operator. */
static void
test_describe_changes(void)
{
    static const char base[] =
        DOM_HEAD DOM_RECORD("<drover:point id='rp-1'/>")
        "<devices>" DOM_DISK("vda", "") "</devices></domain>";
    char *d;

    d = domxml_describe_changes(base,
        "<domain type='test'>\n  <name>a</name>\n  <uuid>" UUID_A "</uuid>\n"
        "  <metadata>\n    <d:replica xmlns:d='urn:drover:replica:1' format='1'>\n"
        "      <d:state>3</d:state>\n      <d:recovery-points><!-- c -->\n"
        "        <d:point id='rp-1'/>\n      </d:recovery-points>\n    </d:replica>\n"
        "  </metadata>\n  <devices>\n    " DOM_DISK("vda", "") "\n  </devices>\n</domain>\n");
    ok(!d && !err_code(), "layout, comments and namespace prefixes are not changes");
    free(d);

    d = domxml_describe_changes(base,
        DOM_HEAD DOM_RECORD("<drover:point id='rp-1'/><drover:point id='rp-2'/>")
        "<devices>" DOM_DISK("vda", "") "</devices></domain>");
    is_str(d, "the record's recovery points changed", "a recovery point added");
    free(d);

    d = domxml_describe_changes(base,
        DOM_HEAD DOM_RECORD("<drover:point id='rp-1'/>")
        "<devices>" DOM_DISK("vda", " cache='none'") DOM_DISK("vdb", "") "</devices></domain>");
    is_str(d, "disk vda changed; disk vdb added", "a disk setting changed and a disk added");
    free(d);

    d = domxml_describe_changes(base,
        "<domain type='test'><name>a</name><uuid>" UUID_A "</uuid>"
        "<metadata><o:x xmlns:o='urn:other:1'/><drover:replica xmlns:drover='urn:drover:replica:1' "
        "format='1'><drover:state>3</drover:state><drover:recovery-points><drover:point id='rp-1'/>"
        "</drover:recovery-points></drover:replica></metadata><title>t</title>"
        "<devices>" DOM_DISK("vda", "") "</devices></domain>");
    is_str(d, "metadata of namespace urn:other:1 added; <title> added",
           "another application's metadata and a title added");
    free(d);

    d = domxml_describe_changes(base,
        DOM_HEAD "<metadata/><devices>" DOM_DISK("vda", "") "</devices></domain>");
    is_str(d, "drover's replica record removed", "the record removed");
    free(d);

    d = domxml_describe_changes(base, "<domain");
    ok(!d && err_code() == 32776, "a definition that does not parse is an error (%d)", err_code());
    err_clear();
}

/* What hv_list_many handed on, part by part (from its stage's thread). */
typedef struct {
    pthread_mutex_t mu;
    HvDomain *v;
    size_t n, cap;
    int parts;
} Parts;

static void
parts_done(size_t i, HvConn *c, HvListResult *r, void *opaque)
{
    Parts *p = opaque;
    size_t k;

    (void)i;
    (void)c;
    pthread_mutex_lock(&p->mu);
    p->parts++;
    for (k = 0; !r->failed && k < r->n; k++) {
        util_grow(&p->v, &p->cap, p->n + 1, sizeof(*p->v));
        p->v[p->n++] = r->doms[k];
        memset(&r->doms[k], 0, sizeof(r->doms[k]));
    }
    pthread_mutex_unlock(&p->mu);
}

static int
cmp_name(const void *a, const void *b)
{
    return strcmp(((const HvDomain *)a)->name, ((const HvDomain *)b)->name);
}

/* One host's list in parts reads every other record ahead in a second
 * thread: each domain comes once, with its own record, as one at a time. */
static void
test_list_ahead(const char *dir)
{
    UTIL_AUTOFREE char *path = util_xasprintf("%s/ahead.xml", dir);
    UTIL_AUTOFREE char *uri = util_xasprintf("test://%s", path);
    const char *uris[1] = { uri };
    HvConn *c = NULL;
    HvDomain *one = NULL;
    HvListResult out;
    Parts p;
    size_t n = 0, i, same = 0;
    FILE *f;

    memset(&p, 0, sizeof(p));
    pthread_mutex_init(&p.mu, NULL);
    if (!(f = fopen(path, "w"))) {
        ok(0, "cannot write %s", path);
        return;
    }
    fputs("<node>\n", f);
    for (i = 0; i < 301; i++)
        fprintf(f, "  <domain type='test'><name>vm%03zu</name>"
                "<uuid>8d3a1c2e-0000-4000-8000-%012zx</uuid><memory>65536</memory>"
                "<os><type>hvm</type></os><metadata><r:replica xmlns:r='urn:drover:replica:1' "
                "n='%zu'/></metadata></domain>\n", i, i + 1, i);
    fputs("</node>\n", f);
    fclose(f);
    memset(&out, 0, sizeof(out));
    hv_list_many(&c, uris, NULL, 1, HV_LIST_METADATA, parts_done, &p, &out);
    ok(!out.failed && p.parts >= 4, "301 domains on one host come in parts (%d)", p.parts);
    is_int(p.n, 301, "every domain once");
    qsort(p.v, p.n, sizeof(*p.v), cmp_name);
    if (c && hv_list(c, HV_LIST_METADATA, &one, &n) == 0 && n == p.n)
        for (i = 0; i < n; i++)
            same += strcmp(one[i].name, p.v[i].name) == 0 && one[i].metadata && p.v[i].metadata &&
                    strcmp(one[i].metadata, p.v[i].metadata) == 0;
    is_int(same, 301, "each with its own record, as a list without parts reads it");
    hv_domain_list_free(one, n);
    hv_domain_list_free(p.v, p.n);
    hv_domain_list_free(out.doms, out.n);
    hv_close(c);
    pthread_mutex_destroy(&p.mu);
}

int
main(void)
{
    if (hv_init() < 0)
        tap_skip_all("libvirt cannot be initialised");
    test_describe_changes();
    test_write_in_reload_window(tap_tmpdir());
    test_list_ahead(tap_tmpdir());
    return tap_done();
}
