/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-replica: the <drover:replica> metadata parser and its formatter.
 *
 * Whatever the parser accepts must validate, format, parse again and format
 * to the same text (the record is rewritten on every operation, so a
 * record that does not survive that would be lost or changed), and a copy
 * must format the same. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "fuzz.h"
#include "record/replica.h"
#include "base/result.h"
#include "base/util.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Replica *r, *r2, *copy;
    char *text, *text2, *text3;

    err_clear();
    r = replica_parse((const char *)data, size);
    if (!r) {
        if (err_code() != RESULT_INCORRECT_TYPE && err_code() != RESULT_OUT_OF_MEMORY)
            fuzz_fail("replica_parse failed with code %d: %s", err_code(), err_message());
        if (!err_message()[0])
            fuzz_fail("replica_parse failed without a message");
        return 0;
    }
    if (r->format != REPLICA_FORMAT)
        fuzz_fail("parsed format %d", r->format);
    if (replica_validate(r) < 0)
        fuzz_fail("a parsed record does not validate: %s", err_message());

    text = replica_format(r);
    if (!text)
        fuzz_fail("replica_format returned NULL");
    err_clear();
    r2 = replica_parse(text, strlen(text));
    if (!r2)
        fuzz_fail("the formatted record does not parse (%s):\n%s", err_message(), text);
    text2 = replica_format(r2);
    if (strcmp(text, text2) != 0)
        fuzz_fail("format, parse, format changed the record:\n%s\n---\n%s", text, text2);

    copy = replica_copy(r);
    text3 = replica_format(copy);
    if (strcmp(text, text3) != 0)
        fuzz_fail("a copy formats differently:\n%s\n---\n%s", text, text3);
    if (r->npoints && !replica_newest_point(r))
        fuzz_fail("no newest point among %zu", r->npoints);

    free(text);
    free(text2);
    free(text3);
    replica_free(copy);
    replica_free(r2);
    replica_free(r);
    return 0;
}
