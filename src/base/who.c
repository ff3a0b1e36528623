/* SPDX-License-Identifier: GPL-2.0-or-later */
/* who: the operator's identity: facts first, claims beside them. */
#include <config.h>

#include "base/who.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"

static void
who_name(unsigned uid, char *buf, size_t size)
{
    struct passwd pw, *res = NULL;
    char pwbuf[1024];

    if (getpwuid_r((uid_t)uid, &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res)
        util_strlcpy(buf, res->pw_name, size);
    else
        snprintf(buf, size, "uid %u", uid);
}

/* The kernel's audit login uid: set at login by pam_loginuid, kept across
 * su and sudo, and not changeable by the user afterwards. */
static long long
who_login_uid(void)
{
    FILE *f = fopen("/proc/self/loginuid", "re");
    char line[32];
    long long v;

    if (!f)
        return -1;
    if (!fgets(line, sizeof(line), f)) {
        fclose(f);
        return -1;
    }
    fclose(f);
    line[strcspn(line, "\n")] = '\0';
    /* (uid_t)-1 means "not set" (a daemon, a container, no PAM). */
    if (util_parse_ll(line, 0, 4294967294LL, &v) < 0)
        return -1;
    return v;
}

void
who_get(WhoAmI *w)
{
    const char *sudo = getenv("SUDO_USER");
    const char *ssh = getenv("SSH_CONNECTION");

    memset(w, 0, sizeof(*w));
    w->uid = (unsigned)getuid();
    who_name(w->uid, w->user, sizeof(w->user));
    w->login_uid = who_login_uid();
    if (w->login_uid >= 0)
        who_name((unsigned)w->login_uid, w->login_user, sizeof(w->login_user));
    if (sudo && *sudo)
        snprintf(w->claimed, sizeof(w->claimed), "%s", sudo);
    if (ssh && *ssh)
        snprintf(w->ssh_client, sizeof(w->ssh_client), "%.*s", (int)strcspn(ssh, " "), ssh);
}

char *
who_describe(const WhoAmI *w)
{
    UtilBuf b = { 0 };

    util_buf_printf(&b, "%s (uid %u", w->user, w->uid);
    if (w->login_uid >= 0 && (unsigned long long)w->login_uid != w->uid)
        util_buf_printf(&b, ", login uid %lld %s", w->login_uid, w->login_user);
    if (w->claimed[0])
        util_buf_printf(&b, ", sudo for %s", w->claimed);
    util_buf_printf(&b, ", pid %ld", (long)getpid());
    if (w->ssh_client[0])
        util_buf_printf(&b, ", from %s", w->ssh_client);
    util_buf_add(&b, ")");
    return util_buf_steal(&b);
}
