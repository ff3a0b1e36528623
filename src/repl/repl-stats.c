/* SPDX-License-Identifier: GPL-2.0-or-later */
/* repl-stats: the statistics kept across cycles, and health from them. */
#include <config.h>

#include "repl/repl.h"
#include "repl/repl-priv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libxml/xmlwriter.h>
#include <nettle/base16.h>
#include <nettle/sha2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/lock.h"
#include "base/result.h"
#include "base/util.h"
#include "chain/chain.h"
#include "hv/domxml.h"
#include "ops/audit.h"
#include "ops/ops.h"
#include "ops/plan.h"
#include "record/replica.h"
#include "record/state.h"

/* --- statistics -------------------------------------------------------------- */

static char *
repl_stats_path(const Replica *r, const char *uuid)
{
    UTIL_AUTOFREE char *dir = replica_dir(r);

    return dir ? util_xasprintf("%s/.drover-stats-%s.json", dir, uuid) : NULL;
}

static int64_t
repl_json_int(json_object *o, const char *key)
{
    json_object *v;

    return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

int
repl_stats_read(const Replica *r, const char *uuid, ReplStats *st)
{
    UTIL_AUTOFREE char *path = repl_stats_path(r, uuid);
    UTIL_AUTOFREE char *text = NULL;
    json_object *o, *v;
    size_t len;

    memset(st, 0, sizeof(*st));
    if (!path)
        return 0;
    if (!(text = fsutil_read_file(path, 65536, &len))) {
        if (err_code() == RESULT_FILE_NOT_FOUND) {
            err_clear();
            return 0;
        }
        return -1;
    }
    if (!(o = json_tokener_parse(text))) {
        err_set(RESULT_INCORRECT_TYPE, "%s is not JSON", path);
        return -1;
    }
    st->succeeded = repl_json_int(o, "succeeded");
    st->failed = repl_json_int(o, "failed");
    st->missed = repl_json_int(o, "missed");
    st->last_size = (uint64_t)repl_json_int(o, "last_size");
    st->max_size = (uint64_t)repl_json_int(o, "max_size");
    st->total_size = (uint64_t)repl_json_int(o, "total_size");
    st->last_ms = repl_json_int(o, "last_ms");
    st->total_ms = repl_json_int(o, "total_ms");
    st->last_success = repl_json_int(o, "last_success");
    st->last_failure = repl_json_int(o, "last_failure");
    st->last_code = (int)repl_json_int(o, "last_code");
    st->streak = repl_json_int(o, "failed_in_a_row");
    if (json_object_object_get_ex(o, "last_message", &v) && json_object_is_type(v, json_type_string))
        util_strlcpy(st->last_message, json_object_get_string(v), sizeof(st->last_message));
    json_object_put(o);
    return 0;
}

static int
repl_stats_write(const Replica *r, const char *uuid, const ReplStats *st)
{
    UTIL_AUTOFREE char *path = repl_stats_path(r, uuid);
    json_object *o = json_object_new_object();
    const char *text;
    int ret;

    if (!path) {
        json_object_put(o);
        return 0;
    }
    json_object_object_add(o, "succeeded", json_object_new_int64(st->succeeded));
    json_object_object_add(o, "failed", json_object_new_int64(st->failed));
    json_object_object_add(o, "missed", json_object_new_int64(st->missed));
    json_object_object_add(o, "last_size", json_object_new_int64((int64_t)st->last_size));
    json_object_object_add(o, "max_size", json_object_new_int64((int64_t)st->max_size));
    json_object_object_add(o, "total_size", json_object_new_int64((int64_t)st->total_size));
    json_object_object_add(o, "last_ms", json_object_new_int64(st->last_ms));
    json_object_object_add(o, "total_ms", json_object_new_int64(st->total_ms));
    json_object_object_add(o, "last_success", json_object_new_int64(st->last_success));
    json_object_object_add(o, "last_failure", json_object_new_int64(st->last_failure));
    json_object_object_add(o, "last_code", json_object_new_int(st->last_code));
    json_object_object_add(o, "failed_in_a_row", json_object_new_int64(st->streak));
    json_object_object_add(o, "last_message", json_object_new_string(st->last_message));
    text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    ret = fsutil_write_atomic(path, text, strlen(text), 0600);
    json_object_put(o);
    return ret;
}

/* Adds one cycle to the statistics (code 0: it made a point).  Statistics
 * never fail a cycle: a file that cannot be written is left as it was. */
void
repl_stats_note(const Replica *r, const char *uuid, int code, const char *message,
                uint64_t moved, int64_t ms)
{
    const ReplicaPoint *np = replica_newest_point(r);
    int64_t now = util_now();
    ReplStats st;

    if (repl_stats_read(r, uuid, &st) < 0)
        memset(&st, 0, sizeof(st));
    /* Whole intervals that passed beyond the one this cycle is for. */
    if (r->repl && r->repl->interval > 0 && np && now - np->time > 2 * (int64_t)r->repl->interval) {
        int64_t since = st.last_failure > np->time ? st.last_failure : np->time;
        if (now - since > 2 * (int64_t)r->repl->interval)
            st.missed += (now - since) / r->repl->interval - 1;
    }
    if (code == 0) {
        st.succeeded++;
        st.last_size = moved;
        if (moved > st.max_size)
            st.max_size = moved;
        st.total_size += moved;
        st.last_ms = ms;
        st.total_ms += ms;
        st.last_success = now;
        st.streak = 0;
    } else {
        st.failed++;
        st.streak++;
        st.last_failure = now;
        st.last_code = code;
        util_strlcpy(st.last_message, message ? message : "", sizeof(st.last_message));
    }
    repl_stats_write(r, uuid, &st);
    err_clear();
}

void
repl_stats_note_failure(const Replica *r, const char *uuid, int code, const char *message)
{
    ErrInfo saved;

    err_save(&saved);
    repl_stats_note(r, uuid, code, message, 0, 0);
    err_restore(&saved);
}

void
repl_pending_seen_clear(ReplPendingSeen *seen)
{
    size_t i;

    if (!seen)
        return;
    for (i = 0; i < seen->n; i++) {
        free(seen->uris[i]);
        free(seen->whys[i]);
    }
    free(seen->uris);
    free(seen->whys);
    memset(seen, 0, sizeof(*seen));
}

void
repl_stats_pending(const Replica *r, const char *uuid, ReplPendingSeen *seen, ReplPending *out)
{
    const ReplicaPoint *np = replica_newest_point(r);
    HvConn *pc = NULL;
    ErrInfo saved;
    char holder[256], *lockpath;
    size_t i;

    memset(out, 0, sizeof(*out));
    if (r->state == STATE_RECOVERED || r->state == STATE_COMMITTED ||
        r->state == STATE_FAILOVER_IN_PROGRESS) {
        snprintf(out->why, sizeof(out->why), "failed over (state %d %s): cycles pause",
                 r->state, state_name(r->state));
        return;
    }
    if (!np || !np->checkpoint) {
        util_strlcpy(out->why, np ? "the newest point has no checkpoint on the primary"
                     : "no recovery point yet (the initial copy is pending)", sizeof(out->why));
        return;
    }
    for (i = 0; seen && r->primary_uri && i < seen->n; i++) {
        if (strcmp(seen->uris[i], r->primary_uri) == 0) {
            util_strlcpy(out->why, seen->whys[i], sizeof(out->why));
            return;
        }
    }
    /* The size makes libvirt read every block node of the primary, and
     * qemu 7.2 aborts (qcow2_get_specific_info) on a backup's node being
     * added or removed: not while a job holds the replica, as a cycle does
     * around its backup (doc/reliability.md). */
    err_save(&saved);
    lockpath = replica_lock_path(r, uuid);
    if (lockpath && lock_probe(lockpath, holder, sizeof(holder)) == 1) {
        snprintf(out->why, sizeof(out->why), "not asked while a job holds the replica: %s", holder);
        free(lockpath);
        err_restore(&saved);
        return;
    }
    free(lockpath);
    /* repl_primary_open gives up after the connect timeout (hv_open). */
    if (!(pc = repl_primary_open(r->primary_uri)) ||
        hv_checkpoint_pending(pc, uuid, np->checkpoint, &out->bytes) < 0) {
        snprintf(out->why, sizeof(out->why), "%d %s: %s", err_code(), result_name(err_code()),
                 err_message());
        out->bytes = 0;
        if (seen && r->primary_uri && err_code() == RESULT_NOT_AVAILABLE) {
            seen->uris = util_xrealloc(seen->uris, (seen->n + 1) * sizeof(*seen->uris));
            seen->whys = util_xrealloc(seen->whys, (seen->n + 1) * sizeof(*seen->whys));
            seen->uris[seen->n] = util_xstrdup(r->primary_uri);
            seen->whys[seen->n++] = util_xstrdup(out->why);
        }
    } else {
        out->known = 1;
    }
    hv_close(pc);
    err_restore(&saved);
}

/* --- health from the cycles --------------------------------------------------- */

const char *
repl_failure_kind(int code, const char *message)
{
    const char *m = message ? message : "";

    if (strstr(m, "No space left on device") || strstr(m, "Disk quota exceeded"))
        return "DR disk full";
    if (code == RESULT_NOT_AVAILABLE && (strstr(m, "NBD") || strstr(m, "nbd")))
        return "NBD refused";
    if (code == RESULT_NOT_AVAILABLE)
        return "primary unreachable";
    if (code == RESULT_INVALID_STATE && strstr(m, "resync"))
        return "checkpoint lost";
    return NULL;
}

int64_t
repl_next_due(const Replica *r, int power, int64_t now)
{
    int64_t next = 0;

    repl_is_due(r, power, now, &next);
    return next;
}

/* Adds a reason to out; a more serious one goes first. */
static void repl_health_add(HealthReport *out, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
repl_health_add(HealthReport *out, int level, const char *fmt, ...)
{
    char *s;
    va_list ap;

    va_start(ap, fmt);
    s = util_xvasprintf(fmt, ap);
    va_end(ap);
    out->reasons = util_xrealloc(out->reasons, (out->n + 1) * sizeof(*out->reasons));
    if (level > out->health) {
        memmove(&out->reasons[1], &out->reasons[0], out->n * sizeof(*out->reasons));
        out->reasons[0] = s;
        out->health = level;
    } else {
        out->reasons[out->n] = s;
    }
    out->n++;
}

void
repl_health(const Replica *r, const char *uuid, int64_t now, int local, HealthReport *out)
{
    const ReplicaPoint *np;
    ReplStats st;
    const char *kind;
    char age[32];

    if (!r || !r->repl || r->mode != MODE_REPLICA || out->health == HEALTH_NA ||
        (r->state != STATE_REPLICATING && r->state != STATE_READY &&
         r->state != STATE_WAITING_INITIAL && r->state != STATE_RESYNCING))
        return;
    memset(&st, 0, sizeof(st));
    if (local && repl_stats_read(r, uuid, &st) < 0) {
        err_clear();
        memset(&st, 0, sizeof(st));
    }
    kind = st.streak ? repl_failure_kind(st.last_code, st.last_message) : NULL;
    if (st.streak >= REPL_CRITICAL_FAILURES)
        repl_health_add(out, HEALTH_CRITICAL, "the last %lld replication cycles failed%s%s%s: "
                        "%d %s", (long long)st.streak, kind ? " (" : "", kind ? kind : "",
                        kind ? ")" : "", st.last_code, st.last_message);
    np = replica_newest_point(r);
    if (np && r->repl->interval > 0 && r->state == STATE_REPLICATING &&
        now - np->time > (int64_t)r->repl->interval + REPL_GRACE(r->repl->interval)) {
        util_format_age(now - np->time, age, sizeof(age));
        if (st.streak && st.streak < REPL_CRITICAL_FAILURES)
            repl_health_add(out, HEALTH_WARNING, "the newest point %s is %s old (a cycle every "
                            "%d s, grace %d s); the last cycle failed%s%s%s: %d %s", np->id, age,
                            r->repl->interval, REPL_GRACE(r->repl->interval),
                            kind ? " (" : "", kind ? kind : "", kind ? ")" : "",
                            st.last_code, st.last_message);
        else
            repl_health_add(out, HEALTH_WARNING, "the newest point %s is %s old (a cycle every "
                            "%d s, grace %d s): is drover-replicate.timer running?", np->id, age,
                            r->repl->interval, REPL_GRACE(r->repl->interval));
    } else if (st.streak && st.streak < REPL_CRITICAL_FAILURES) {
        repl_health_add(out, HEALTH_NORMAL, "the last replication cycle failed%s%s%s: %d %s",
                        kind ? " (" : "", kind ? kind : "", kind ? ")" : "", st.last_code,
                        st.last_message);
    }
}

void
repl_health_summary(Summary *s, const Replica *r, int64_t now, int local)
{
    HealthReport hr;

    if (!r || s->record_error)
        return;
    memset(&hr, 0, sizeof(hr));
    hr.health = s->health;
    repl_health(r, s->uuid, now, local, &hr);
    if (hr.health > s->health && hr.n) {
        s->health = hr.health;
        free(s->problem);
        s->problem = util_xstrdup(hr.reasons[0]);
    }
    health_report_clear(&hr);
}
