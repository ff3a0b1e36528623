/* SPDX-License-Identifier: GPL-2.0-or-later */
/* who: who is running drover, for the audit log and lock files.
 *
 * The facts (the real uid, and the login uid the kernel keeps from the
 * login through su and sudo) identify the operator; SUDO_USER is only
 * what the environment claims, kept beside them, never instead. */
#ifndef DROVER_WHO_H
#define DROVER_WHO_H

typedef struct {
    char user[64];              /* the real uid's name, or "uid N" */
    unsigned uid;               /* the real uid */
    long long login_uid;        /* /proc/self/loginuid, -1 when unset */
    char login_user[64];        /* its name, "" when unset */
    char claimed[64];           /* $SUDO_USER, "" when unset */
    char ssh_client[128];       /* the address from $SSH_CONNECTION, "" if none */
} WhoAmI;

void who_get(WhoAmI *w);
/* "root (uid 0, login uid 1000 alice, sudo for alice, pid 42, from 192.0.2.7)"
 * with the parts that are unset left out; malloc'd. */
char *who_describe(const WhoAmI *w);

#endif
