/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for hv's fleet file (libvirt's test driver with a node file): two
 * connections on one file stand for two drover processes; what a changed
 * definition tells an operator; a list's second reader, in parts or not. */
#include <config.h>

#include <errno.h>
#include <libvirt/libvirt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"
#include "hv/domxml.h"
#include "hv/hv.h"
#include "tap.h"
#include "test-hv.h"

#define UUID_A "8d3a1c2e-0000-4000-8000-00000000000a"
#define UUID_B "8d3a1c2e-0000-4000-8000-00000000000b"

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

/* How many of v's n domains carry their own record: vmNNN's says n='NNN'. */
static size_t
count_own_records(const HvDomain *v, size_t n)
{
    size_t i, good = 0;

    for (i = 0; i < n; i++) {
        char sq[32], dq[32];
        unsigned long k;

        if (strncmp(v[i].name, "vm", 2) != 0 || !v[i].metadata)
            continue;
        k = strtoul(v[i].name + 2, NULL, 10);
        snprintf(sq, sizeof(sq), "n='%lu'", k);
        snprintf(dq, sizeof(dq), "n=\"%lu\"", k);
        good += strstr(v[i].metadata, sq) || strstr(v[i].metadata, dq);
    }
    return good;
}

/* Each name of v's n domains once (v sorted by name). */
static int
names_once(const HvDomain *v, size_t n)
{
    size_t i;

    for (i = 1; i < n; i++)
        if (strcmp(v[i - 1].name, v[i].name) == 0)
            return 0;
    return 1;
}

static int
has_name(const HvDomain *v, size_t n, const char *name)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            return 1;
    return 0;
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

    memset(&p, 0, sizeof(p));
    pthread_mutex_init(&p.mu, NULL);
    if (write_numbered_fleet(path, 301) < 0) {
        ok(0, "cannot write %s", path);
        return;
    }
    memset(&out, 0, sizeof(out));
    hv_list_many(&c, uris, NULL, 1, HV_LIST_METADATA, parts_done, &p, &out);
    ok(!out.failed && p.parts >= 4, "301 domains on one host come in parts (%d)", p.parts);
    is_int(p.n, 301, "every domain once");
    qsort(p.v, p.n, sizeof(*p.v), cmp_name);
    if (c && hv_list(c, HV_LIST_METADATA, &one, &n) == 0 && n == p.n)
        for (i = 0; i < n; i++)
            same += strcmp(one[i].name, p.v[i].name) == 0 && one[i].metadata && p.v[i].metadata &&
                    strcmp(one[i].metadata, p.v[i].metadata) == 0;
    is_int(same, 301, "each with the record a list without parts reads");
    is_int(count_own_records(p.v, p.n), 301, "which is its own");
    hv_domain_list_free(one, n);
    hv_domain_list_free(p.v, p.n);
    hv_domain_list_free(out.doms, out.n);
    hv_close(c);
    pthread_mutex_destroy(&p.mu);
}

/* --- a hold on the record reads of the thread that reads ahead ----------- */

/* mk/hv.am links this test with -Wl,--wrap=virDomainGetMetadata: every
 * record read of drover's comes here first.  Armed, the at-th read made by
 * the thread "list ahead" (hv-list.c reads every odd position there) acts
 * just before it is made:
 *   HOLD_COUNT: nothing; the reads of each thread are counted;
 *   HOLD_VANISH: its domain is destroyed and undefined, so that the read
 *     finds no domain (VIR_ERR_NO_DOMAIN);
 *   HOLD_KILL: once the list's own thread has read every record before
 *     this one (it waits for this one then), the host's daemon is killed
 *     (SIGKILL), so that this read, and no earlier one, fails.
 * The read itself is libvirt's own, on the real connection. */
enum { HOLD_OFF, HOLD_COUNT, HOLD_VANISH, HOLD_KILL };

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int mode;
    int at;
    int ahead;                  /* reads made by "list ahead" */
    int others;                 /* reads done by the other threads */
    int acted;                  /* the hold acted, in "list ahead" */
    int waited;                 /* HOLD_KILL: the list's thread got there */
    char name[64];              /* the domain whose read it acted on */
    pid_t daemon;               /* HOLD_KILL: the host's libvirtd */
} hold = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, HOLD_OFF, 0, 0, 0, 0, 0, "", 0 };

char *__real_virDomainGetMetadata(virDomainPtr dom, int type, const char *uri, unsigned int flags);
char *__wrap_virDomainGetMetadata(virDomainPtr dom, int type, const char *uri, unsigned int flags);

char *
__wrap_virDomainGetMetadata(virDomainPtr dom, int type, const char *uri, unsigned int flags)
{
    char thread[16] = "";
    struct timespec until;
    char *md;
    int ahead, act;

    pthread_getname_np(pthread_self(), thread, sizeof(thread));
    ahead = strcmp(thread, "list ahead") == 0;
    pthread_mutex_lock(&hold.mu);
    act = hold.mode != HOLD_OFF && ahead && ++hold.ahead == hold.at && hold.mode != HOLD_COUNT;
    if (act) {
        hold.acted = 1;
        util_strlcpy(hold.name, virDomainGetName(dom), sizeof(hold.name));
        until = rt_deadline();
        while (hold.mode == HOLD_KILL && hold.others < hold.at &&
               pthread_cond_timedwait(&hold.cv, &hold.mu, &until) != ETIMEDOUT)
            ;
        hold.waited = hold.others >= hold.at;
    }
    pthread_mutex_unlock(&hold.mu);
    if (act && hold.mode == HOLD_VANISH) {
        virDomainDestroy(dom);  /* fails on one not running: then undefine alone */
        virDomainUndefine(dom);
    }
    if (act && hold.mode == HOLD_KILL && kill_daemon(hold.daemon) < 0)
        hold.daemon = -1;
    md = __real_virDomainGetMetadata(dom, type, uri, flags);
    if (!ahead) {
        pthread_mutex_lock(&hold.mu);
        if (hold.mode != HOLD_OFF)
            hold.others++;
        pthread_cond_broadcast(&hold.cv);
        pthread_mutex_unlock(&hold.mu);
    }
    return md;
}

static void
hold_arm(int mode, int at, pid_t daemon)
{
    pthread_mutex_lock(&hold.mu);
    hold.mode = mode;
    hold.at = at;
    hold.ahead = hold.others = hold.acted = hold.waited = 0;
    hold.name[0] = '\0';
    hold.daemon = daemon;
    pthread_mutex_unlock(&hold.mu);
}

static void
hold_off(void)
{
    pthread_mutex_lock(&hold.mu);
    hold.mode = HOLD_OFF;
    pthread_mutex_unlock(&hold.mu);
}

/* A domain at an odd position, read by the thread ahead, vanishes between
 * the list of domains and its read: it is simply not listed, as when the
 * list's own thread finds one gone, and every other domain comes once with
 * its own record.  Were the second thread's error dropped, the domain would
 * come without a record, as if it were not a replica. */
static void
test_list_ahead_vanished(const char *dir)
{
    UTIL_AUTOFREE char *path = util_xasprintf("%s/vanish.xml", dir);
    UTIL_AUTOFREE char *uri = util_xasprintf("test://%s", path);
    const char *uris[1] = { uri };
    HvConn *c = NULL;
    HvDomain *one = NULL;
    HvListResult out;
    Parts p;
    size_t n = 0;

    memset(&p, 0, sizeof(p));
    pthread_mutex_init(&p.mu, NULL);
    if (write_numbered_fleet(path, 301) < 0) {
        ok(0, "cannot write %s", path);
        return;
    }
    memset(&out, 0, sizeof(out));
    /* Its 50th read: position 99. */
    hold_arm(HOLD_VANISH, 50, 0);
    hv_list_many(&c, uris, NULL, 1, HV_LIST_METADATA, parts_done, &p, &out);
    hold_off();
    ok(hold.acted && hold.name[0], "the thread ahead read its 50th record, of %s, after %s vanished",
       hold.name, hold.name);
    ok(!out.failed, "the list does not fail (%d: %s)", out.err.code, out.err.message);
    qsort(p.v, p.n, sizeof(*p.v), cmp_name);
    is_int(p.n, 300, "the 300 other domains are listed");
    ok(!has_name(p.v, p.n, hold.name), "%s, vanished, is not listed (not even without a record)",
       hold.name);
    ok(names_once(p.v, p.n), "each domain once");
    is_int(count_own_records(p.v, p.n), 300, "each with its own record");
    ok(c && hv_list(c, HV_LIST_METADATA, &one, &n) == 0 && n == 300 && !has_name(one, n, hold.name),
       "a list without parts agrees: %s is gone", hold.name);
    hv_domain_list_free(one, n);
    hv_domain_list_free(p.v, p.n);
    hv_domain_list_free(out.doms, out.n);
    hv_close(c);
    pthread_mutex_destroy(&p.mu);
}

#define LOST_TESTS 12

/* The host's daemon dies under a read of the thread ahead, the list's own
 * thread waiting for that record: the list fails with that read's error,
 * turned into 32777 (the host is not available), and stops there: the
 * parts handed on before are whole, the record that failed and those after
 * it are not handed on.  Were the second thread's error dropped, the
 * domain would be handed on without a record and the list would fail on
 * the next record's read instead.  A private libvirtd (tests/hosts-lib.sh)
 * serves the fleet through the remote protocol, as a real host. */
static void
test_list_ahead_lost(const char *dir)
{
    const char *top = getenv("top_srcdir");
    UTIL_AUTOFREE char *path = util_xasprintf("%s/lost.xml", dir);
    UTIL_AUTOFREE char *hd = util_xasprintf("%s/d", dir);
    UTIL_AUTOFREE char *uri = util_xasprintf("test+unix://%s?socket=%s/h1/s/libvirt-sock", path, hd);
    UTIL_AUTOFREE char *want = NULL;
    const char *uris[1] = { uri };
    HvConn *c = NULL;
    HvListResult out;
    Parts p;
    pid_t pid;

    if (!daemon_usable(top)) {
        tap_skip(LOST_TESTS, "a private libvirtd: needs root, libvirtd and unshare");
        return;
    }
    memset(&p, 0, sizeof(p));
    pthread_mutex_init(&p.mu, NULL);
    ok(write_numbered_fleet(path, 301) == 0, "fleet file of 301 domains written");
    ok((pid = daemon_start(top, hd)) > 0, "a private libvirtd serves it");
    /* The daemon closes the socket under libvirt's writes. */
    signal(SIGPIPE, SIG_IGN);
    memset(&out, 0, sizeof(out));
    /* Its 80th read: position 159; two parts of 64 went out before. */
    hold_arm(HOLD_KILL, 80, pid);
    hv_list_many(&c, uris, NULL, 1, HV_LIST_METADATA, parts_done, &p, &out);
    hold_off();
    ok(hold.acted && hold.waited, "the thread ahead read its 80th record, of %s, once the list's "
       "own thread had read every record before it", hold.name);
    ok(pid > 0 && hold.daemon == pid, "the daemon was killed (SIGKILL) just before that read");
    ok(out.failed, "the list fails");
    is_int(out.err.code, RESULT_NOT_AVAILABLE, "with 32777: the host is not available");
    want = util_xasprintf("cannot read metadata of %s", hold.name);
    ok(strstr(out.err.message, want) != NULL,
       "the error is that of the read the thread ahead made, of %s: %s", hold.name, out.err.message);
    ok(out.err.virt_code != 0 && out.err.virt_msg[0], "with libvirt's reason: %s", out.err.virt_msg);
    qsort(p.v, p.n, sizeof(*p.v), cmp_name);
    is_int(p.n, 128, "the two parts of 64 read before the loss were handed on, nothing after");
    ok(!has_name(p.v, p.n, hold.name), "%s, whose read failed, is not handed on without a record",
       hold.name);
    is_int(count_own_records(p.v, p.n), 128, "the domains handed on carry their own records");
    ok(c && !hv_is_alive(c), "the connection is marked dead");
    tap_system(". '%s/tests/hosts-lib.sh'; HOSTS_DIR='%s'; HOSTS_N=1; hosts_stop", top, hd);
    hv_domain_list_free(p.v, p.n);
    hv_domain_list_free(out.doms, out.n);
    hv_close(c);
    pthread_mutex_destroy(&p.mu);
}

/* A list that is not in parts (many hosts, or hv_list itself) reads
 * ahead too: the thread ahead reads the 150 odd positions of 301 domains,
 * the list's own thread the 151 others, and each domain comes once with
 * its own record.  Without the reader ahead the count of its reads fails. */
static void
test_list_whole_ahead(const char *dir)
{
    UTIL_AUTOFREE char *path = util_xasprintf("%s/whole.xml", dir);
    UTIL_AUTOFREE char *uri = util_xasprintf("test://%s", path);
    HvConn *c;
    HvDomain *v = NULL;
    size_t n = 0;
    int rc;

    if (write_numbered_fleet(path, 301) < 0 || !(c = hv_open(uri, 0))) {
        ok(0, "cannot write or open %s: %s", path, err_message());
        return;
    }
    hold_arm(HOLD_COUNT, 0, 0);
    rc = hv_list(c, HV_LIST_METADATA, &v, &n);
    hold_off();
    ok(rc == 0 && n == 301, "a list without parts lists all 301 domains (%zu)", n);
    is_int(hold.ahead, 150, "the thread ahead read the records at odd positions");
    is_int(hold.others, 151, "the list's own thread read the others");
    ok(names_once(v, n), "each domain once");
    is_int(count_own_records(v, n), 301, "each with its own record");
    hv_domain_list_free(v, n);
    v = NULL;
    n = 0;

    /* Its 50th read: position 99. */
    hold_arm(HOLD_VANISH, 50, 0);
    rc = hv_list(c, HV_LIST_METADATA, &v, &n);
    hold_off();
    ok(hold.acted && hold.name[0], "the thread ahead read its 50th record, of %s, after %s vanished",
       hold.name, hold.name);
    ok(rc == 0 && n == 300, "the list does not fail and lists the 300 others (%zu)", n);
    ok(!has_name(v, n, hold.name), "%s, vanished, is not listed (not even without a record)",
       hold.name);
    is_int(count_own_records(v, n), 300, "each with its own record");
    hv_domain_list_free(v, n);
    hv_close(c);
}

#define WHOLE_LOST_TESTS 6

/* The daemon dies under a read of the thread ahead of a list without
 * parts: the list fails with that read's error, 32777, and hands out no
 * domain. */
static void
test_list_whole_ahead_lost(const char *dir)
{
    const char *top = getenv("top_srcdir");
    UTIL_AUTOFREE char *path = util_xasprintf("%s/wlost.xml", dir);
    UTIL_AUTOFREE char *hd = util_xasprintf("%s/w", dir);
    UTIL_AUTOFREE char *uri = util_xasprintf("test+unix://%s?socket=%s/h1/s/libvirt-sock", path, hd);
    UTIL_AUTOFREE char *want = NULL;
    HvConn *c = NULL;
    HvDomain *v = NULL;
    size_t n = 0;
    pid_t pid = -1;
    int rc;

    if (!daemon_usable(top)) {
        tap_skip(WHOLE_LOST_TESTS, "a private libvirtd: needs root, libvirtd and unshare");
        return;
    }
    ok(write_numbered_fleet(path, 301) == 0 && (pid = daemon_start(top, hd)) > 0 &&
       (c = hv_open(uri, 0)) != NULL, "a private libvirtd serves a fleet of 301 domains");
    signal(SIGPIPE, SIG_IGN);
    /* Its 80th read: position 159. */
    hold_arm(HOLD_KILL, 80, pid);
    rc = c ? hv_list(c, HV_LIST_METADATA, &v, &n) : 0;
    hold_off();
    ok(hold.acted && hold.waited, "the thread ahead read its 80th record, of %s, once the list's "
       "own thread had read every record before it", hold.name);
    ok(rc < 0 && !v && n == 0, "the list fails and hands out no domain");
    is_int(err_code(), RESULT_NOT_AVAILABLE, "with 32777: the host is not available");
    want = util_xasprintf("cannot read metadata of %s", hold.name);
    ok(strstr(err_message(), want) != NULL,
       "the error is that of the read the thread ahead made, of %s: %s", hold.name, err_message());
    err_clear();
    ok(c && !hv_is_alive(c), "the connection is marked dead");
    tap_system(". '%s/tests/hosts-lib.sh'; HOSTS_DIR='%s'; HOSTS_N=1; hosts_stop", top, hd);
    hv_close(c);
}

/* The UUIDs a list gives are libvirt's text of each (hv_dom_uuid formats
 * them itself): lower case with dashes, every digit in its place, also
 * for a definition that wrote them in upper case or without dashes. */
static void
test_list_uuid_text(const char *dir)
{
    static const char *const given[] = {
        "01234567-89AB-CDEF-0123-456789ABCDEF", "fedcba9876543210fedcba9876543210",
        "00000000-0000-0000-0000-000000000001", "f0e1d2c3-b4a5-9687-7869-5a4b3c2d1e0f",
    };
    static const char *const want[] = {
        "01234567-89ab-cdef-0123-456789abcdef", "fedcba98-7654-3210-fedc-ba9876543210",
        "00000000-0000-0000-0000-000000000001", "f0e1d2c3-b4a5-9687-7869-5a4b3c2d1e0f",
    };
    UTIL_AUTOFREE char *path = util_xasprintf("%s/uuids.xml", dir);
    UTIL_AUTOFREE char *uri = util_xasprintf("test://%s", path);
    virConnectPtr vc = NULL;
    HvConn *c = NULL;
    HvDomain *v = NULL;
    size_t n = 0, i, k, same = 0, theirs = 0;
    FILE *f = fopen(path, "w");

    if (f) {
        fputs("<node>\n", f);
        for (i = 0; i < 4; i++)
            fprintf(f, "  <domain type='test'><name>u%zu</name><uuid>%s</uuid><memory>65536</memory>"
                    "<os><type>hvm</type></os></domain>\n", i, given[i]);
        fputs("</node>\n", f);
    }
    ok(f && fclose(f) == 0 && (c = hv_open(uri, 1)) != NULL && hv_list(c, HV_LIST_HANDLES, &v, &n) == 0 &&
       n == 4, "a fleet of four domains with chosen UUIDs is listed");
    vc = virConnectOpenReadOnly(uri);
    for (i = 0; i < n && i < 4; i++) {
        char text[VIR_UUID_STRING_BUFLEN] = "";
        virDomainPtr dom;

        k = (size_t)(v[i].name[1] - '0');
        same += k < 4 && strcmp(v[i].uuid, want[k]) == 0;
        if (vc && (dom = virDomainLookupByName(vc, v[i].name)) != NULL) {
            virDomainGetUUIDString(dom, text);
            theirs += strcmp(v[i].uuid, text) == 0;
            virDomainFree(dom);
        }
    }
    is_int(same, 4, "each UUID in lower case with its dashes, every digit in its place");
    is_int(theirs, 4, "each as virDomainGetUUIDString writes it");
    if (vc)
        virConnectClose(vc);
    hv_domain_list_free(v, n);
    hv_close(c);
}

int
main(void)
{
    if (hv_init() < 0)
        tap_skip_all("libvirt cannot be initialised");
    test_describe_changes();
    test_list_uuid_text(tap_tmpdir());
    test_write_in_reload_window(tap_tmpdir());
    test_list_ahead(tap_tmpdir());
    test_list_ahead_vanished(tap_tmpdir());
    test_list_ahead_lost(tap_tmpdir());
    test_list_whole_ahead(tap_tmpdir());
    test_list_whole_ahead_lost(tap_tmpdir());
    return tap_done();
}
