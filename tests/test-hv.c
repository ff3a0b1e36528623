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

int
main(void)
{
    if (hv_init() < 0)
        tap_skip_all("libvirt cannot be initialised");
    test_write_in_reload_window(tap_tmpdir());
    return tap_done();
}
