/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-conf: the drover.conf loader (libconfig and our validation).
 *
 * The input is the text of a configuration file named fuzz.conf in a
 * private directory that also holds a valid file and a subdirectory for
 * @include to find.  Loading from the string and from the same text as a
 * file must agree; a refusal must leave the configuration untouched and
 * name the file and line; an accepted one must hold only values in range. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/conf.h"
#include "base/err.h"
#include "fuzz.h"
#include "base/result.h"
#include "base/util.h"

static char *conf_path;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char inc[] = "refresh_interval = 7;\nhosts = ( { name = \"inc\"; uri = \"test:///default\"; } );\n";
    char *p = fuzz_path("inc.conf");

    fuzz_write(p, inc, sizeof(inc) - 1);
    free(p);
    p = fuzz_path("sub");
    if (mkdir(p, 0700) < 0) {
        perror(p);
        exit(99);
    }
    free(p);
    conf_path = fuzz_path("fuzz.conf");
    return 0;
}

static int
same_conf(const Conf *a, const Conf *b)
{
    size_t i;

    if (a->nhosts != b->nhosts || a->refresh_interval != b->refresh_interval ||
        a->confirm != b->confirm || a->shutdown_timeout != b->shutdown_timeout ||
        a->require_reason != b->require_reason || a->rpo_warning != b->rpo_warning ||
        !util_streq(a->audit_log, b->audit_log) || !util_streq(a->job_history, b->job_history) ||
        !util_streq(a->theme, b->theme) || a->readonly != b->readonly)
        return 0;
    for (i = 0; i < a->nhosts; i++)
        if (!util_streq(a->hosts[i].name, b->hosts[i].name) ||
            !util_streq(a->hosts[i].uri, b->hosts[i].uri) ||
            a->hosts[i].readonly != b->hosts[i].readonly)
            return 0;
    return 1;
}

static void
check_values(const Conf *c)
{
    size_t i, j;

    if (c->refresh_interval < 1 || c->refresh_interval > 3600 ||
        c->shutdown_timeout < 0 || c->shutdown_timeout > 3600 ||
        c->rpo_warning < 60 || c->rpo_warning > 31536000)
        fuzz_fail("integer out of range: %d %d %d", c->refresh_interval, c->shutdown_timeout,
                  c->rpo_warning);
    if ((c->confirm != CONF_CONFIRM_TYPE_NAME && c->confirm != CONF_CONFIRM_YES_NO) ||
        (c->require_reason != 0 && c->require_reason != 1) || (c->readonly != 0 && c->readonly != 1))
        fuzz_fail("enum or boolean out of range");
    if (!c->theme || (strcmp(c->theme, "default") != 0 && strcmp(c->theme, "mono") != 0))
        fuzz_fail("theme %s", c->theme ? c->theme : "(null)");
    if (!c->audit_log || c->audit_log[0] != '/' || !c->job_history || c->job_history[0] != '/')
        fuzz_fail("relative log path");
    for (i = 0; i < c->nhosts; i++) {
        if (!c->hosts[i].name || !*c->hosts[i].name || !c->hosts[i].uri || !*c->hosts[i].uri)
            fuzz_fail("host %zu without name or uri", i);
        for (j = 0; j < i; j++)
            if (strcmp(c->hosts[i].name, c->hosts[j].name) == 0)
                fuzz_fail("host name %s twice", c->hosts[i].name);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_string(data, size);
    Conf *def, *a, *b;
    ErrInfo ea;
    int ra, rb;

    /* A file with a NUL byte is refused before parsing; a string cannot
     * hold one. */
    if (!text)
        return 0;
    def = conf_new_default();
    a = conf_new_default();
    b = conf_new_default();

    /* Written first: the text may @include itself. */
    fuzz_write(conf_path, text, size);
    err_clear();
    ra = conf_load_string(a, text, conf_path);
    err_save(&ea);
    err_clear();
    rb = conf_load_file(b, conf_path);

    if (ra != rb)
        fuzz_fail("conf_load_string gave %d, conf_load_file %d (%s)", ra, rb,
                  ra < 0 ? ea.message : err_message());
    if (ra < 0) {
        if (ea.code != RESULT_INVALID_PARAMETER)
            fuzz_fail("refused with code %d: %s", ea.code, ea.message);
        if (strcmp(ea.message, err_message()) != 0)
            fuzz_fail("string and file refusals differ:\n%s\n%s", ea.message, err_message());
        /* "FILE:LINE: ..." where FILE is ours or one it included. */
        if (strncmp(ea.message, fuzz_dir(), strlen(fuzz_dir())) != 0 &&
            strncmp(ea.message, "./", 2) != 0)
            fuzz_fail("the refusal does not start with the file: %s", ea.message);
        if (!same_conf(a, def))
            fuzz_fail("a refused text changed the configuration");
    } else {
        if (!same_conf(a, b))
            fuzz_fail("string and file loads differ");
        check_values(a);
        /* Loading the same text again over the result is a fixed point. */
        if (conf_load_string(b, text, conf_path) < 0 || !same_conf(a, b))
            fuzz_fail("loading accepted text twice changed the result: %s", err_message());
    }
    conf_free(def);
    conf_free(a);
    conf_free(b);
    free(text);
    return 0;
}
