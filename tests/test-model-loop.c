/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for the console's model (src/model*) off the UI thread: another
 * process's changes, priority refreshes, resync, and the reader threads. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "face/demo.h"
#include "base/fsutil.h"
#include "base/err.h"
#include "ops/job.h"
#include "base/lock.h"
#include "model/model.h"
#include "ops/ops.h"
#include "ops/plan.h"
#include "base/result.h"
#include "face/session.h"
#include "record/state.h"
#include "test-model.h"
#include "tap.h"
#include "base/util.h"
#include "view.h"

/* A change made by another process reaches the model through the fleet
 * file reload on the refresh timer. */
void
test_other_process(const char *uri)
{
    Session *s = open_session(uri, NULL);
    ModelOpts mo = { .refresh_interval = 1, .rpo_warning = 3600 };
    Model *m;
    unsigned one = 1;
    int okp, status = -1;
    pid_t pid;
    UTIL_AUTOFREE char *conf = NULL;
    WantState w = { "hr01", STATE_REPLICATING };

    if (!s) {
        ok(0, "session opens: %s", err_message());
        return;
    }
    m = model_new(s, &mo);
    pump(m, pred_rounds, &one, &okp);
    ok(okp && find_name(m, 0, "hr01") && find_name(m, 0, "hr01")->s.state == STATE_RECOVERED,
       "hr01 starts 5 Recovered");
    /* The other process is drover's own command line, with its audit log
     * and job history in this test's directory too. */
    conf = util_xasprintf("%s/other.conf", test_state_dir);
    {
        FILE *f = fopen(conf, "w");

        if (f) {
            fprintf(f, "audit_log = \"%s/audit.log\";\njob_history = \"%s/jobs.jsonl\";\n",
                    test_state_dir, test_state_dir);
            fclose(f);
        }
    }
    pid = fork();
    if (pid == 0) {
        const char *drover = getenv("DROVER");
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(drover ? drover : "./drover", "drover", "--config", conf, "-c", uri, "--yes", "revert",
              "hr01", (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "drover revert hr01 in another process succeeds");
    pump(m, pred_state, &w, &okp);
    ok(okp, "the console's model sees hr01 turn 3 Replicating");
    model_free(m);
    session_free(s);
}

/* The rows on screen are read first. */
void
test_priority(const char *uri)
{
    Session *s = open_session(uri, NULL);
    ModelOpts mo = { .refresh_interval = 3600, .rpo_warning = 3600, .priority_wait_ms = 10000 };
    HvDomain *doms = NULL;
    size_t n = 0, i, first_loaded = 0;
    UTIL_AUTOFREE char *pause_file = NULL;
    UTIL_AUTOFREE char *pause_at = NULL;
    const char *want;
    Model *m;
    int okp = 0;

    if (!s || hv_list(s->hosts[0].conn, 0, &doms, &n) < 0 || n < 100) {
        ok(0, "a big fleet lists: %s", err_message());
        session_free(s);
        hv_domain_list_free(doms, n);
        return;
    }
    /* The last by name would be read last without priority. */
    want = doms[n - 1].uuid;
    /* The round is held halfway (a pause point) until the first batch is
     * seen: on a busy machine the in-process test driver read all 301
     * records before this thread looked (CI, 2026-12-04). */
    pause_file = util_xasprintf("%s/priority.pause", tap_tmpdir());
    pause_at = util_xasprintf("model:mid-round:%s", s->hosts[0].name);
    setenv("DROVER_PAUSE", pause_at, 1);
    setenv("DROVER_PAUSE_FILE", pause_file, 1);
    m = model_new(s, &mo);
    {
        size_t host = 0;
        model_set_priority(m, &host, &want, 1);
    }
    /* The priority is set just after the fetcher starts: under load it
     * may read a batch in name order first (CI, 2026-12-05), so the row
     * is looked for in every batch while the round is held halfway,
     * where it would not be without priority. */
    while (!okp) {
        struct pollfd p = { .fd = model_fd(m), .events = POLLIN };
        if (poll(&p, 1, WAIT_MS) <= 0)
            break;
        model_process(m);
        first_loaded = 0;
        for (i = 0; i < model_nrows(m); i++) {
            if (model_row(m, i)->loaded) {
                first_loaded++;
                if (strcmp(model_row(m, i)->s.uuid, want) == 0)
                    okp = 1;
            }
        }
    }
    ok(okp, "the prioritised row (the last by name of %zu) arrives while the round is held "
       "halfway", n);
    ok(first_loaded < n, "before the whole fleet (%zu of %zu read)", first_loaded, n);
    {
        /* Reading is background work, below the thread that paints. */
        int mine = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
        int want_nice = mine + 5 > 19 ? 19 : mine + 5, lo, hi;
        int nr = threads_named("read ", &lo, &hi);

        ok(nr >= 1 && lo == want_nice && hi == want_nice,
           "the round's readers run at nice %d, 5 below the caller's %d (%d threads, %d..%d)",
           want_nice, mine, nr, lo, hi);
    }
    unlink(pause_file);
    unsetenv("DROVER_PAUSE");
    unsetenv("DROVER_PAUSE_FILE");
    hv_domain_list_free(doms, n);
    model_free(m);
    session_free(s);
}

/* Resyncs of a big fleet keep rows (records, versions) that did not
 * change, at every step, not only at the end. */
void
test_resync(const char *uri)
{
    Session *s = open_session(uri, NULL);
    ModelOpts mo = { .refresh_interval = 3600, .rpo_warning = 3600 };
    Model *m;
    unsigned one = 1, two = 2, *before;
    size_t n, k;
    int okp, always_loaded = 1, same = 1;
    int64_t end;

    if (!s) {
        ok(0, "session opens");
        return;
    }
    m = model_new(s, &mo);
    pump(m, pred_rounds, &one, &okp);
    n = model_nrows(m);
    ok(okp && n > 100, "the big fleet loads (%zu rows)", n);
    before = util_xcalloc(n + 1, sizeof(*before));
    for (k = 0; k < n; k++)
        before[k] = model_row(m, k)->version;
    model_refresh(m);
    end = util_mono_ms() + WAIT_MS;
    while (model_rounds(m) < two && util_mono_ms() < end) {
        struct pollfd p = { .fd = model_fd(m), .events = POLLIN };
        if (poll(&p, 1, 100) > 0)
            model_process(m);
        for (k = 0; k < model_nrows(m); k++)
            if (!model_row(m, k)->loaded)
                always_loaded = 0;
    }
    ok(model_rounds(m) >= two, "the forced resync finishes");
    is_int(model_nrows(m), n, "with the same rows");
    for (k = 0; k < n && k < model_nrows(m); k++)
        if (model_row(m, k)->version != before[k])
            same = 0;
    ok(always_loaded, "no row loses its record while the resync runs");
    ok(same, "no row's version changes when nothing changed");
    free(before);
    model_free(m);
    session_free(s);
}

/* How many of this process's threads have a name that starts with
 * prefix; with lo and hi, the least and most nice value among them. */
int
threads_named(const char *prefix, int *lo, int *hi)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    if (lo && hi) {
        *lo = 100;
        *hi = -100;
    }
    while (d && (e = readdir(d))) {
        char path[300], name[32] = "", stat[1024] = "";
        const char *p;
        FILE *f;
        int i, nice;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
        if ((f = fopen(path, "r"))) {
            if (!fgets(name, sizeof(name), f))
                name[0] = 0;
            fclose(f);
        }
        if (strncmp(name, prefix, strlen(prefix)) != 0)
            continue;
        n++;
        if (!lo || !hi)
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
        if ((f = fopen(path, "r"))) {
            if (!fgets(stat, sizeof(stat), f))
                stat[0] = 0;
            fclose(f);
        }
        /* nice is the 17th field after the name's closing parenthesis */
        for (p = strrchr(stat, ')'), i = 0; p && i < 17; i++)
            p = strchr(p + 1, ' ');
        nice = p ? atoi(p + 1) : 100;
        if (nice < *lo)
            *lo = nice;
        if (nice > *hi)
            *hi = nice;
    }
    if (d)
        closedir(d);
    return n;
}

/* One host with many records is read by two readers at once, each with
 * a stage of its own: every record is read once, into the row it belongs
 * to.  Two hosts get two readers each too. */
void
test_readers(const char *uri)
{
    Session *s = open_session(uri, NULL), *s2;
    ModelOpts mo = { .refresh_interval = 3600, .rpo_warning = 3600 };
    HvDomain *doms = NULL;
    size_t n = 0, i, same = 0, loaded = 0;
    unsigned one = 1, two = 2;
    Model *m;
    int okp;

    if (!s || hv_list(s->hosts[0].conn, HV_LIST_METADATA, &doms, &n) < 0 || n < 100) {
        ok(0, "a big fleet lists with its records: %s", err_message());
        session_free(s);
        hv_domain_list_free(doms, n);
        return;
    }
    m = model_new(s, &mo);
    pump(m, pred_rounds, &one, &okp);
    ok(okp, "the big fleet loads");
    ok(threads_named("rows1 ", NULL, NULL) == 1, "one host of %zu records: a second reader's stage ran", n);
    model_refresh(m);
    pump(m, pred_rounds, &two, &okp);
    ok(okp, "a second round ends too");
    is_int(model_nrows(m), n, "one row for each domain");
    for (i = 0; i < n; i++) {
        Replica *r = replica_parse(doms[i].metadata, strlen(doms[i].metadata));
        const ModelRow *row = NULL;
        size_t k;

        for (k = 0; k < model_nrows(m) && !row; k++)
            if (strcmp(model_row(m, k)->s.uuid, doms[i].uuid) == 0)
                row = model_row(m, k);
        loaded += row && row->loaded;
        if (r && row && row->s.state == r->state && row->s.npoints == r->npoints &&
            strcmp(row->s.name, doms[i].name) == 0)
            same++;
        replica_free(r);
    }
    is_int(loaded, n, "every row has its record");
    is_int(same, n, "and each row holds its own domain's record (state, points, name)");
    model_free(m);
    ok(threads_named("rows1 ", NULL, NULL) == 0, "the second reader's stage ends with the model");
    if ((s2 = open_session(uri, uri))) {
        m = model_new(s2, &mo);
        pump(m, pred_rounds, &one, &okp);
        ok(okp && threads_named("rows1 ", NULL, NULL) == 2, "two hosts: two readers each");
        model_free(m);
        session_free(s2);
    }
    hv_domain_list_free(doms, n);
    session_free(s);
}

/* Rows of m that are read. */
static size_t
rows_loaded(Model *m)
{
    size_t i, n = 0;

    for (i = 0; i < model_nrows(m); i++)
        n += model_row(m, i)->loaded;
    return n;
}

/* One turn of a UI that does not hold its frame: waits up to 100 ms for
 * the model's pipe and, when results came, adds to *early whether
 * model_now_fd was readable and whether they were worth a frame at once;
 * returns model_process's flags (0: nothing came). */
static unsigned
now_fd_turn(Model *m, int *early)
{
    struct pollfd any = { .fd = model_fd(m), .events = POLLIN };
    struct pollfd now = { .fd = model_now_fd(m), .events = POLLIN };
    unsigned ch;

    if (poll(&any, 1, 100) != 1)
        return 0;
    *early += poll(&now, 1, 0) == 1;
    ch = model_process(m);
    *early += (ch & MODEL_CH_NOW) != 0;
    return ch;
}

/* A UI that holds the model's news for its next frame polls model_now_fd
 * alone (ui/console.c): on a first load the host's names and the end of
 * its round make it readable, batches of rows do not (the round is held
 * halfway while the batches of its first half come), and a refresh round
 * (Ctrl-R) does not either, from its list to its end. */
void
test_now_fd(const char *uri)
{
    Session *s = open_session(uri, NULL);
    /* Rows handed on as they are read, so that they come in batches
     * before the round is held halfway. */
    ModelOpts mo = { .refresh_interval = 3600, .rpo_warning = 3600, .chunk_ms = -1 };
    UTIL_AUTOFREE char *pause_file = util_xasprintf("%s/now.pause", tap_tmpdir());
    UTIL_AUTOFREE char *pause_at = NULL;
    struct pollfd now = { .fd = -1, .events = POLLIN };
    struct stat st;
    size_t loaded = 0;
    unsigned ch = 0;
    int64_t end;
    int woke = 0, early = 0, batches = 0;
    Model *m;

    if (!s) {
        ok(0, "a session on the big fleet: %s", err_message());
        return;
    }
    pause_at = util_xasprintf("model:mid-round:%s", s->hosts[0].name);
    setenv("DROVER_PAUSE", pause_at, 1);
    setenv("DROVER_PAUSE_FILE", pause_file, 1);
    m = model_new(s, &mo);
    now.fd = model_now_fd(m);
    if (poll(&now, 1, WAIT_MS) == 1) {
        woke = 1;
        ch = model_process(m);
    }
    ok(woke && (ch & MODEL_CH_NOW) && model_nrows(m) > 100,
       "the host's names make model_now_fd readable (%zu rows, flags %#x)", model_nrows(m), ch);
    /* Its first half in batches, until the round is held halfway (the
     * hold's file is there) with a batch in. */
    end = util_mono_ms() + WAIT_MS;
    while ((loaded < 64 || stat(pause_file, &st) != 0) && util_mono_ms() < end) {
        if (now_fd_turn(m, &early)) {
            batches++;
            loaded = rows_loaded(m);
        }
    }
    ok(loaded >= 64 && loaded < model_nrows(m) && stat(pause_file, &st) == 0,
       "rows come in %d batches while the round is held halfway (%zu of %zu read)", batches, loaded,
       model_nrows(m));
    is_int(early, 0, "no batch of rows made model_now_fd readable, nor was worth a frame at once");
    unlink(pause_file);
    woke = 0;
    end = util_mono_ms() + WAIT_MS;
    while (!woke && util_mono_ms() < end) {
        now.revents = 0;
        if (poll(&now, 1, 1000) == 1) {
            ch = model_process(m);
            woke = (ch & MODEL_CH_CYCLE) != 0;
        }
    }
    loaded = rows_loaded(m);
    ok(woke && (ch & MODEL_CH_NOW) && loaded == model_nrows(m),
       "let go, the end of the round makes it readable, with every row read (%zu of %zu)", loaded,
       model_nrows(m));
    unsetenv("DROVER_PAUSE");
    model_refresh(m);
    woke = early = 0;
    end = util_mono_ms() + WAIT_MS;
    while (!woke && util_mono_ms() < end)
        woke = (now_fd_turn(m, &early) & MODEL_CH_CYCLE) != 0;
    ok(woke && early == 0, "a refresh round ends without making model_now_fd readable (%d times)",
       early);
    unsetenv("DROVER_PAUSE_FILE");
    model_free(m);
    session_free(s);
}

/* A pause point's file is there (pump: a pause point holds the round). */
static int
pred_paused(Model *m, void *arg)
{
    struct stat st;

    (void)m;
    return stat(arg, &st) == 0;
}

/* The row of that name on host 0 is read. */
static int
pred_loaded(Model *m, void *arg)
{
    const ModelRow *r = find_name(m, 0, arg);
    return r && r->loaded;
}

/* A model of s whose first round holds halfway (model:mid-round:HOST) and
 * later at model:NEXT:HOST; *held: it holds halfway now.  *pause_file (the
 * caller frees it) is the file that holds it: remove it to go on. */
static Model *
held_halfway(Session *s, const ModelOpts *mo, const char *next, char **pause_file, int *held)
{
    UTIL_AUTOFREE char *points = util_xasprintf("model:mid-round:%s model:%s:%s", s->hosts[0].name,
                                                next, s->hosts[0].name);
    Model *m;

    *pause_file = util_xasprintf("%s/%s.pause", tap_tmpdir(), next);
    setenv("DROVER_PAUSE", points, 1);
    setenv("DROVER_PAUSE_FILE", *pause_file, 1);
    m = model_new(s, mo);
    pump(m, pred_paused, *pause_file, held);
    return m;
}

/* A row a reader read before it came on screen, and holds with the rows
 * it read since, goes out as soon as it is on screen: not when the chunk
 * is full or old (never, here), nor when the round ends. */
void
test_held(const char *uri)
{
    Session *s = open_session(uri, NULL);
    ModelOpts mo = { .refresh_interval = 3600, .rpo_warning = 3600, .chunk_ms = 600000 };
    HvDomain *doms = NULL;
    size_t n = 0, host = 0, loaded;
    UTIL_AUTOFREE char *pause_file = NULL;
    const char *want;
    unsigned one = 1;
    int okp = 0, held;
    Model *m;

    if (!s || hv_list(s->hosts[0].conn, 0, &doms, &n) < 0 || n < 100) {
        ok(0, "a big fleet lists: %s", err_message());
        session_free(s);
        hv_domain_list_free(doms, n);
        return;
    }
    /* The second by name: among the first records a round reads. */
    want = doms[1].uuid;
    m = held_halfway(s, &mo, "held", &pause_file, &held);
    model_process(m);
    loaded = rows_loaded(m);
    ok(held && find_name(m, 0, doms[1].name) && !pred_loaded(m, doms[1].name) && loaded == 0,
       "held halfway, every row read is still with its reader (%zu of %zu in)", loaded, n);
    model_set_priority(m, &host, &want, 1);
    unlink(pause_file);
    /* Its reader hands it on, then holds the round (model:held). */
    pump(m, pred_paused, pause_file, &held);
    ok(held, "on screen, the reader that holds %s hands it on", doms[1].name);
    okp = 0;
    if (held)
        pump(m, pred_loaded, doms[1].name, &okp);
    ok(okp && model_rounds(m) == 0, "and it comes while the round is held before its end (%zu of %zu in)",
       rows_loaded(m), n);
    unlink(pause_file);
    pump(m, pred_rounds, &one, &okp);
    loaded = rows_loaded(m);
    ok(okp && loaded == model_nrows(m), "let go, the round ends with every row (%zu of %zu)", loaded,
       model_nrows(m));
    unsetenv("DROVER_PAUSE");
    unsetenv("DROVER_PAUSE_FILE");
    hv_domain_list_free(doms, n);
    model_free(m);
    session_free(s);
}

/* The time *arg (util_mono_ms) has come. */
static int
pred_after(Model *m, void *arg)
{
    (void)m;
    return util_mono_ms() >= *(int64_t *)arg;
}

/* More rows are read than *arg. */
static int
pred_more(Model *m, void *arg)
{
    return rows_loaded(m) > *(size_t *)arg;
}

/* A chunk a reader has held for ModelOpts.chunk_ms goes out with the next
 * record the reader adds, as on a slow host, whose rows off screen then
 * move on while its round lasts: not when the chunk is full (it never is
 * here: 301 records, two readers) nor when the round ends.  The chunks are
 * made old by holding the round halfway for longer than chunk_ms, long
 * enough that the in-process driver reads its first half well within it. */
void
test_aged(const char *uri)
{
    Session *s = open_session(uri, NULL);
    ModelOpts mo = { .refresh_interval = 3600, .rpo_warning = 3600, .chunk_ms = 500 };
    UTIL_AUTOFREE char *pause_file = NULL;
    unsigned one = 1;
    int64_t old_at;
    size_t before = 0;
    int held = 0, okp = 0;
    Model *m;

    if (!s) {
        ok(0, "the big fleet opens: %s", err_message());
        return;
    }
    m = held_halfway(s, &mo, "aged", &pause_file, &held);
    ok(held && model_rounds(m) == 0, "a round is held halfway");
    /* Each chunk its readers hold began before the hold. */
    old_at = util_mono_ms() + mo.chunk_ms;
    pump(m, pred_after, &old_at, &okp);
    before = rows_loaded(m);
    unlink(pause_file);
    /* A reader adds its next record, hands the old chunk on, and holds the
     * round there (model:aged). */
    pump(m, pred_paused, pause_file, &held);
    ok(held, "let go after %d ms, a reader hands on its old chunk with its next record", mo.chunk_ms);
    okp = 0;
    if (held)
        pump(m, pred_more, &before, &okp);
    ok(okp && model_rounds(m) == 0, "its rows come while the round is held before its end "
       "(%zu, then %zu of %zu in)", before, rows_loaded(m), model_nrows(m));
    unlink(pause_file);
    pump(m, pred_rounds, &one, &okp);
    ok(okp && rows_loaded(m) == model_nrows(m), "let go, the round ends with every row (%zu of %zu)",
       rows_loaded(m), model_nrows(m));
    unsetenv("DROVER_PAUSE");
    unsetenv("DROVER_PAUSE_FILE");
    model_free(m);
    session_free(s);
}
