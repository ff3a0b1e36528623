/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What test-hv-fleet and test-hv-conn share (test-hv.h): a fleet file of
 * numbered domains, and a private libvirtd (tests/hosts-lib.sh) that serves
 * it, started and killed. */
#include <config.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "tap.h"
#include "test-hv.h"

/* A fleet file of n domains vm000..., each with a record that names it
 * (n='NUMBER'); 0 or -1. */
int
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

/* The state letter of a /proc stat file (R, S, Z, ...), or 0 when there
 * is none to read. */
char
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
int
daemon_usable(const char *top)
{
    return top && geteuid() == 0 &&
           tap_system(". '%s/tests/hosts-lib.sh' && hosts_require", top) == 0;
}

/* Starts one private libvirtd under hd (its socket hd/h1/s/libvirt-sock):
 * its pid, or 0 when it did not start. */
pid_t
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
int
kill_daemon(pid_t pid)
{
    int64_t end = util_mono_ms() + WAIT_MS;

    if (pid <= 0 || kill(pid, SIGKILL) < 0)
        return -1;
    while (!gone(pid) && util_mono_ms() < end)
        usleep(10000);
    return gone(pid) ? 0 : -1;
}
