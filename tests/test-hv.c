/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for hv's fleet file (libvirt's test driver with a node file): two
 * connections on one file stand for two drover processes. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <libvirt/libvirt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/result.h"
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

/* A fleet file of n domains vm000..., each with a record that names it
 * (n='NUMBER'); 0 or -1. */
static int
write_numbered_fleet(const char *path, size_t n)
{
    FILE *f = fopen(path, "w");
    size_t i;

    if (!f)
        return -1;
    fputs("<node>\n", f);
    for (i = 0; i < n; i++)
        fprintf(f, "  <domain type='test'><name>vm%03zu</name>"
                "<uuid>8d3a1c2e-0000-4000-8000-%012zx</uuid><memory>65536</memory>"
                "<os><type>hvm</type></os><metadata><r:replica xmlns:r='urn:drover:replica:1' "
                "n='%zu'/></metadata></domain>\n", i, i + 1, i);
    fputs("</node>\n", f);
    return fclose(f) == 0 ? 0 : -1;
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
    is_int(same, 301, "each with its own record, as a list without parts reads it");
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
 *   HOLD_VANISH: its domain is destroyed and undefined, so that the read
 *     finds no domain (VIR_ERR_NO_DOMAIN);
 *   HOLD_KILL: once the list's own thread has read every record before
 *     this one (it waits for this one then), the host's daemon is killed
 *     (SIGKILL), so that this read, and no earlier one, fails.
 * The read itself is libvirt's own, on the real connection. */
enum { HOLD_OFF, HOLD_VANISH, HOLD_KILL };

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

/* The state letter of a /proc stat file (R, S, Z, ...), or 0 when there
 * is none to read. */
static char
proc_state(const char *path)
{
    char buf[512];
    const char *st;
    FILE *f;
    size_t n;

    if (!(f = fopen(path, "r")))
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    st = strrchr(buf, ')');
    return st && st[1] ? st[2] : 0;
}

/* Process pid is gone (or a zombie): its sockets are closed. */
static int
gone(pid_t pid)
{
    char path[64], st;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    st = proc_state(path);
    return !st || st == 'Z' || st == 'X';
}

/* Whether a private libvirtd can run here (tests/hosts-lib.sh). */
static int
daemon_usable(const char *top)
{
    return top && geteuid() == 0 &&
           tap_system(". '%s/tests/hosts-lib.sh' && hosts_require", top) == 0;
}

/* Starts one private libvirtd under hd (its socket hd/h1/s/libvirt-sock):
 * its pid, or 0 when it did not start. */
static pid_t
daemon_start(const char *top, const char *hd)
{
    UTIL_AUTOFREE char *pidfile = util_xasprintf("%s/h1/libvirtd.pid", hd);
    FILE *f;
    long pid = 0;

    if (tap_system(". '%s/tests/hosts-lib.sh' && hosts_require && hosts_start '%s' 1", top, hd) != 0)
        return 0;
    if ((f = fopen(pidfile, "r"))) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return (pid_t)pid;
}

/* SIGKILL, and waits until it is gone: 0, or -1. */
static int
kill_daemon(pid_t pid)
{
    int64_t end = util_mono_ms() + WAIT_MS;

    if (pid <= 0 || kill(pid, SIGKILL) < 0)
        return -1;
    while (!gone(pid) && util_mono_ms() < end)
        usleep(10000);
    return gone(pid) ? 0 : -1;
}

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
    act = hold.mode != HOLD_OFF && ahead && ++hold.ahead == hold.at;
    if (act) {
        hold.acted = 1;
        util_strlcpy(hold.name, virDomainGetName(dom), sizeof(hold.name));
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += WAIT_MS / 1000;
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

/* A thread that makes one call on a host: hv_is_alive (as a console
 * reader after a failed call), hv_reconnect (as a fetcher's round) or
 * hv_close; with its thread's id, whether it returned, and what. */
typedef struct {
    HvConn *c;
    int (*fn)(HvConn *c);
    pthread_mutex_t mu;
    pid_t tid;
    int done;
    int r;
} Caller;

static void *
caller_thread(void *arg)
{
    Caller *k = arg;
    int r;

    pthread_mutex_lock(&k->mu);
    k->tid = gettid();
    pthread_mutex_unlock(&k->mu);
    r = k->fn(k->c);
    err_clear();
    pthread_mutex_lock(&k->mu);
    k->r = r;
    k->done = 1;
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

static int
call_close(HvConn *c)
{
    hv_close(c);
    return 0;
}

/* Waits within ms for *flag, read under mu: its value. */
static int
wait_done(pthread_mutex_t *mu, const int *flag, int64_t ms)
{
    int64_t end = util_mono_ms() + ms;
    int v;

    for (;;) {
        pthread_mutex_lock(mu);
        v = *flag;
        pthread_mutex_unlock(mu);
        if (v || util_mono_ms() >= end)
            return v;
        usleep(10000);
    }
}

/* Thread tid of this process sleeps (waits on a lock, here). */
static int
task_sleeps(pid_t tid)
{
    char path[64];

    snprintf(path, sizeof(path), "/proc/self/task/%ld/stat", (long)tid);
    return proc_state(path) == 'S';
}

/* libvirt calls hv_close_cb with the connection's close-callback lock
 * held, and the callback takes c->mu; a reader that finds the host dead
 * (hv_check_alive) unregisters that callback, which takes the same lock.
 * Were it to hold c->mu meanwhile, each would wait for the other for good:
 * a console whose host stays NOT RESPONDING after its daemon died
 * (tests/console-lost1.exp met it once in 22 runs).  Here the callback is
 * held at its start (the pause point) until the reader waits, then let go:
 * both must end. */
#define CLOSE_TESTS 6
static void
test_close_callback_against_reader(const char *dir)
{
    const char *top = getenv("top_srcdir");
    UTIL_AUTOFREE char *path = util_xasprintf("%s/close.xml", dir);
    UTIL_AUTOFREE char *hd = util_xasprintf("%s/dc", dir);
    UTIL_AUTOFREE char *pause_file = util_xasprintf("%s/close.pause", dir);
    UTIL_AUTOFREE char *uri = util_xasprintf("test+unix://%s?socket=%s/h1/s/libvirt-sock", path, hd);
    Caller k;
    pthread_t t;
    int64_t end;
    pid_t pid = 0;
    int held, sleeps = 0, done = 0, started;

    if (!daemon_usable(top)) {
        tap_skip(CLOSE_TESTS, "a private libvirtd: needs root, libvirtd and unshare");
        return;
    }
    memset(&k, 0, sizeof(k));
    pthread_mutex_init(&k.mu, NULL);
    k.fn = hv_is_alive;
    ok(write_numbered_fleet(path, 3) == 0 && (pid = daemon_start(top, hd)) > 0,
       "a private libvirtd serves a fleet of 3");
    /* With events: the close callback registered, libvirt's loop running. */
    k.c = hv_open(uri, 1);
    setenv("DROVER_PAUSE", "hv:close-callback", 1);
    setenv("DROVER_PAUSE_FILE", pause_file, 1);
    ok(k.c && hv_is_alive(k.c) && kill_daemon(pid) == 0, "connected, then the daemon killed");
    end = util_mono_ms() + WAIT_MS;
    while (!(held = access(pause_file, F_OK) == 0) && util_mono_ms() < end)
        usleep(10000);
    ok(held, "libvirt's loop calls the close callback, which is held at its start");
    started = pthread_create(&t, NULL, caller_thread, &k) == 0;
    /* The reader waits (on the close-callback lock) or is done already. */
    end = util_mono_ms() + WAIT_MS;
    while (started && util_mono_ms() < end) {
        pid_t tid;

        pthread_mutex_lock(&k.mu);
        tid = k.tid;
        done = k.done;
        pthread_mutex_unlock(&k.mu);
        if (done || (tid && (sleeps = task_sleeps(tid))))
            break;
        usleep(10000);
    }
    ok(started && (sleeps || done), "a reader checks the host meanwhile, and waits");
    unlink(pause_file);
    end = util_mono_ms() + WAIT_MS;
    while (started && util_mono_ms() < end) {
        pthread_mutex_lock(&k.mu);
        done = k.done;
        pthread_mutex_unlock(&k.mu);
        if (done)
            break;
        usleep(10000);
    }
    unsetenv("DROVER_PAUSE");
    unsetenv("DROVER_PAUSE_FILE");
    ok(done, "once the callback goes on, both end: the reader within %d s", WAIT_MS / 1000);
    ok(done && !k.r, "and the host is found not alive");
    tap_system(". '%s/tests/hosts-lib.sh'; HOSTS_DIR='%s'; HOSTS_N=1; hosts_stop", top, hd);
    if (!done)
        return;         /* deadlocked: the threads stay as they are */
    pthread_join(t, NULL);
    hv_close(k.c);
    pthread_mutex_destroy(&k.mu);
}

/* An event callback libvirt runs while its connection is closed.  A
 * review found it: unregistering a domain event callback does not wait
 * for a dispatch that is in it, and hv_close freed the HvConn the
 * callback was about to lock.  The test holds libvirt's event thread in
 * the lifecycle callback (on its virDomainGetUUIDString, before the lock),
 * closes the connection, lets the callback go, and waits for a later event
 * of another connection, which the same thread dispatches after it.  Under
 * ASan (CI's second pass) a use after free is a report; in any build, the
 * closed connection's handler must not be called. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int armed, in_cb, go;
} evhold = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0 };

/* WAIT_MS from now on CLOCK_REALTIME, the clock of a condition made with
 * PTHREAD_COND_INITIALIZER. */
static struct timespec
rt_deadline(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += WAIT_MS / 1000;
    return ts;
}

int __real_virDomainGetUUIDString(virDomainPtr dom, char *buf);
int __wrap_virDomainGetUUIDString(virDomainPtr dom, char *buf);

int
__wrap_virDomainGetUUIDString(virDomainPtr dom, char *buf)
{
    char thread[16] = "";
    struct timespec until = rt_deadline();

    pthread_getname_np(pthread_self(), thread, sizeof(thread));
    pthread_mutex_lock(&evhold.mu);
    if (evhold.armed && strcmp(thread, "libvirt events") == 0) {
        evhold.armed = 0;
        evhold.in_cb = 1;
        pthread_cond_broadcast(&evhold.cv);
        while (!evhold.go && pthread_cond_timedwait(&evhold.cv, &evhold.mu, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&evhold.mu);
    return __real_virDomainGetUUIDString(dom, buf);
}

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
} EvCount;

static void
ev_count(HvConn *c, const char *uuid, int kind, void *opaque)
{
    EvCount *e = opaque;

    (void)c;
    (void)uuid;
    (void)kind;
    pthread_mutex_lock(&e->mu);
    e->n++;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

/* Waits for *flag (under mu, signalled on cv, a CLOCK_REALTIME
 * condition) within WAIT_MS. */
static int
wait_flag(pthread_mutex_t *mu, pthread_cond_t *cv, const int *flag)
{
    struct timespec until = rt_deadline();
    int r;

    pthread_mutex_lock(mu);
    while (!*flag && pthread_cond_timedwait(cv, mu, &until) != ETIMEDOUT)
        ;
    r = *flag;
    pthread_mutex_unlock(mu);
    return r;
}

#define EVCLOSE_TESTS 5
static void
test_event_during_close(void)
{
    EvCount closed = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    EvCount later = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    HvConn *c = hv_open("test:///default", 0), *c2;
    Caller closer = { NULL, call_close, PTHREAD_MUTEX_INITIALIZER, 0, 0, 0 };
    pthread_t tc;
    int held, n;

    if (!hv_is_alive(c)) {
        hv_close(c);
        tap_skip(EVCLOSE_TESTS, "no test:///default");
        return;
    }
    hv_set_event_handler(c, ev_count, &closed);
    pthread_mutex_lock(&evhold.mu);
    evhold.armed = 1;
    pthread_mutex_unlock(&evhold.mu);
    ok(hv_destroy(c, "test") == 0, "the test driver's domain is stopped: a lifecycle event (%s)",
       err_message());
    held = wait_flag(&evhold.mu, &evhold.cv, &evhold.in_cb);
    ok(held, "libvirt's event thread is held in the lifecycle callback, before it locks the connection");
    /* Opened first: test:///default's driver goes with its last
     * connection, and the event below is of the same driver. */
    c2 = hv_open("test:///default", 0);
    hv_set_event_handler(c2, ev_count, &later);
    /* In a thread: a close that waited for the held callback would
     * otherwise hold the test, not fail it. */
    closer.c = c;
    ok(pthread_create(&tc, NULL, caller_thread, &closer) == 0 &&
       wait_done(&closer.mu, &closer.done, WAIT_MS),
       "hv_close returns while the callback runs");
    pthread_mutex_lock(&evhold.mu);
    evhold.go = 1;
    pthread_cond_broadcast(&evhold.cv);
    pthread_mutex_unlock(&evhold.mu);
    if (wait_done(&closer.mu, &closer.done, WAIT_MS))
        pthread_join(tc, NULL);
    hv_start(c2, "test");
    ok(wait_flag(&later.mu, &later.cv, &later.n),
       "a later event of another connection comes: the held callback has ended");
    pthread_mutex_lock(&closed.mu);
    n = closed.n;
    pthread_mutex_unlock(&closed.mu);
    ok(n == 0, "the closed connection's handler was not called (%d)", n);
    hv_close(c2);
    err_clear();
}

/* Threads of this process named name (/proc/self/task/N/comm). */
static int
threads_named(const char *name)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    while (d && (e = readdir(d))) {
        char path[300], comm[32] = "";
        FILE *f;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
        if ((f = fopen(path, "r"))) {
            if (fgets(comm, sizeof(comm), f))
                comm[strcspn(comm, "\n")] = '\0';
            fclose(f);
        }
        n += strcmp(comm, name) == 0;
    }
    if (d)
        closedir(d);
    return n;
}

/* hv_close of a host whose connect was answered after its caller gave up,
 * and which hangs again by then.  A review found it: the connect's last
 * reference, dropped in hv_close's own thread, closed that connection
 * there, a call to the hung host that never ended. */
#define LATE_TESTS 6
#define LATE_CLOSE_MS 8000
static void
test_close_late_dial(const char *dir)
{
    const char *top = getenv("top_srcdir");
    UTIL_AUTOFREE char *path = util_xasprintf("%s/late.xml", dir);
    UTIL_AUTOFREE char *hd = util_xasprintf("%s/dl", dir);
    UTIL_AUTOFREE char *pause_file = util_xasprintf("%s/late.pause", dir);
    UTIL_AUTOFREE char *uri = util_xasprintf("test+unix://%s?socket=%s/h1/s/libvirt-sock", path, hd);
    int timeout = hv_connect_timeout(), reached, alone, done = 0;
    Caller k = { NULL, call_close, PTHREAD_MUTEX_INITIALIZER, 0, 0, 0 };
    pthread_t t;
    int64_t end;
    pid_t pid = 0;

    if (!daemon_usable(top)) {
        tap_skip(LATE_TESTS, "a private libvirtd: needs root, libvirtd and unshare");
        return;
    }
    ok(write_numbered_fleet(path, 3) == 0 && (pid = daemon_start(top, hd)) > 0,
       "a private libvirtd serves a fleet of 3");
    kill(pid, SIGSTOP);
    hv_set_connect_timeout(1);
    setenv("DROVER_PAUSE", "hv:dial-done", 1);
    setenv("DROVER_PAUSE_FILE", pause_file, 1);
    k.c = hv_open(uri, 1);
    ok(!hv_is_alive(k.c), "the daemon stopped (SIGSTOP): hv_open gives up after its 1 s");
    kill(pid, SIGCONT);
    end = util_mono_ms() + WAIT_MS;
    while (!(reached = access(pause_file, F_OK) == 0) && util_mono_ms() < end)
        usleep(10000);
    ok(reached, "the daemon goes on (SIGCONT): the connect left behind is answered");
    kill(pid, SIGSTOP);
    unlink(pause_file);
    end = util_mono_ms() + WAIT_MS;
    while (!(alone = threads_named("dial") == 0) && util_mono_ms() < end)
        usleep(10000);
    unsetenv("DROVER_PAUSE");
    unsetenv("DROVER_PAUSE_FILE");
    ok(alone, "the daemon hangs again (SIGSTOP), and the connect's thread has ended");
    /* hv_close waits HV_CLOSE_WAIT_MS (1 s) for a host; keepalive would
     * end a close that hangs only after three pings go unanswered, and
     * without libvirt's event loop running never. */
    if (pthread_create(&t, NULL, caller_thread, &k) == 0)
        done = wait_done(&k.mu, &k.done, LATE_CLOSE_MS);
    ok(done, "hv_close returns within %d s: the late connection is closed by a thread of its own",
       LATE_CLOSE_MS / 1000);
    kill(pid, SIGCONT);
    ok(tap_system(". '%s/tests/hosts-lib.sh'; HOSTS_DIR='%s'; HOSTS_N=1; hosts_stop", top, hd) == 0,
       "the daemon goes on and is stopped");
    if (done)
        pthread_join(t, NULL);
    hv_set_connect_timeout(timeout);
    err_clear();
}

/* Waits within WAIT_MS until c is found dead (libvirt's loop reads the
 * socket's end): 1, or 0. */
static int
wait_dead(HvConn *c)
{
    int64_t end = util_mono_ms() + WAIT_MS;

    while (hv_is_alive(c) && util_mono_ms() < end)
        usleep(10000);
    err_clear();
    return !hv_is_alive(c);
}

/* Thread tid of this process waits in poll(2) (libvirt's client waits for
 * a reply there), not elsewhere (a pause point sleeps in nanosleep). */
static int
task_in_poll(pid_t tid)
{
    char path[64];
    long nr = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/self/task/%ld/syscall", (long)tid);
    if (!(f = fopen(path, "r")))
        return 0;
    if (fscanf(f, "%ld", &nr) != 1)
        nr = -1;
    fclose(f);
    return nr == SYS_poll || nr == SYS_ppoll;
}

/* A reconnect whose host stops answering right after the connect, in the
 * calls that register drover's callbacks.  A review found it: they were
 * made with c->mu held and before keepalive was asked for, so the
 * reconnect waited for good and every reader of the host, and its close,
 * with it. */
#define SWAP_TESTS 7
#define SWAP_END_MS 60000
static void
test_reconnect_to_hung_host(const char *dir)
{
    const char *top = getenv("top_srcdir");
    UTIL_AUTOFREE char *path = util_xasprintf("%s/swap.xml", dir);
    UTIL_AUTOFREE char *hd = util_xasprintf("%s/ds", dir);
    UTIL_AUTOFREE char *pause_file = util_xasprintf("%s/swap.pause", dir);
    UTIL_AUTOFREE char *pidfile = util_xasprintf("%s/h1/libvirtd.pid", hd);
    UTIL_AUTOFREE char *uri = util_xasprintf("test+unix://%s?socket=%s/h1/s/libvirt-sock", path, hd);
    Caller r = { NULL, hv_reconnect, PTHREAD_MUTEX_INITIALIZER, 0, 0, 0 };
    Caller k = { NULL, hv_is_alive, PTHREAD_MUTEX_INITIALIZER, 0, 0, 0 };
    pthread_t t, tk;
    int reached, sleeping = 0, started = 0, kstarted = 0;
    int64_t end;
    pid_t pid = 0;
    long pid2 = 0;
    FILE *f;

    if (!daemon_usable(top)) {
        tap_skip(SWAP_TESTS, "a private libvirtd: needs root, libvirtd and unshare");
        return;
    }
    ok(write_numbered_fleet(path, 3) == 0 && (pid = daemon_start(top, hd)) > 0,
       "a private libvirtd serves a fleet of 3");
    r.c = k.c = hv_open(uri, 1);
    ok(hv_is_alive(r.c) && kill_daemon(pid) == 0 && wait_dead(r.c) &&
       tap_system(". '%s/tests/hosts-lib.sh' && hosts_require && HOSTS_DIR='%s' && HOSTS_N=1 && "
                  "hosts_restart_one 1", top, hd) == 0 &&
       (f = fopen(pidfile, "r")) && fscanf(f, "%ld", &pid2) == 1 && fclose(f) == 0 && pid2 > 0,
       "connected; the daemon killed and started again");
    if (pid2 <= 0) {
        /* Never signal pid 0 (the test's own group). */
        tap_skip(SWAP_TESTS - 2, "the daemon did not start again");
        tap_system(". '%s/tests/hosts-lib.sh'; HOSTS_DIR='%s'; HOSTS_N=1; hosts_stop", top, hd);
        hv_close(r.c);
        return;
    }
    setenv("DROVER_PAUSE", "hv:swap-connected", 1);
    setenv("DROVER_PAUSE_FILE", pause_file, 1);
    started = pthread_create(&t, NULL, caller_thread, &r) == 0;
    end = util_mono_ms() + WAIT_MS;
    while (!(reached = access(pause_file, F_OK) == 0) && util_mono_ms() < end)
        usleep(10000);
    ok(started && reached, "a reconnect has its new connection, and is held there");
    kill((pid_t)pid2, SIGSTOP);
    unlink(pause_file);
    /* It goes on into the calls that register its callbacks, and waits. */
    end = util_mono_ms() + WAIT_MS;
    while (started && util_mono_ms() < end) {
        pid_t tid;
        int done;

        pthread_mutex_lock(&r.mu);
        tid = r.tid;
        done = r.done;
        pthread_mutex_unlock(&r.mu);
        if (done || (tid && (sleeping = task_in_poll(tid))))
            break;
        usleep(10000);
    }
    unsetenv("DROVER_PAUSE");
    unsetenv("DROVER_PAUSE_FILE");
    ok(sleeping, "the daemon stopped (SIGSTOP): the reconnect waits on it, in a call");
    kstarted = pthread_create(&tk, NULL, caller_thread, &k) == 0;
    ok(kstarted && wait_done(&k.mu, &k.done, LATE_CLOSE_MS),
       "meanwhile another thread asks whether the host is alive, and has its answer within %d s",
       LATE_CLOSE_MS / 1000);
    ok(started && wait_done(&r.mu, &r.done, SWAP_END_MS),
       "the reconnect ends by itself within %d s (keepalive)", SWAP_END_MS / 1000);
    kill((pid_t)pid2, SIGCONT);
    ok(tap_system(". '%s/tests/hosts-lib.sh'; HOSTS_DIR='%s'; HOSTS_N=1; hosts_stop", top, hd) == 0,
       "the daemon goes on and is stopped");
    if (!r.done || !k.done)
        return;         /* held for good: the threads stay as they are */
    pthread_join(t, NULL);
    pthread_join(tk, NULL);
    hv_close(r.c);
    err_clear();
}

int
main(void)
{
    if (hv_init() < 0)
        tap_skip_all("libvirt cannot be initialised");
    test_describe_changes();
    test_write_in_reload_window(tap_tmpdir());
    test_list_ahead(tap_tmpdir());
    test_list_ahead_vanished(tap_tmpdir());
    test_list_ahead_lost(tap_tmpdir());
    test_close_callback_against_reader(tap_tmpdir());
    test_event_during_close();
    test_close_late_dial(tap_tmpdir());
    test_reconnect_to_hung_host(tap_tmpdir());
    return tap_done();
}
