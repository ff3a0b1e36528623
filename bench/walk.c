/* SPDX-License-Identifier: GPL-2.0-or-later */
/* walk: drover's qcow2 chain walk on one image, printed as JSON like
 * `qemu-img info --backing-chain --output=json` so the two do the same
 * work for the benchmark.  Usage: walk TOP */
#include <config.h>

#include <stdint.h>
#include <stdio.h>

#include "chain/chain.h"
#include "base/err.h"
#include <json-c/json.h>

int
main(int argc, char **argv)
{
    Chain *c;
    json_object *j;

    if (argc != 2) {
        fprintf(stderr, "usage: walk TOP\n");
        return 2;
    }
    if (!(c = chain_walk(argv[1]))) {
        fprintf(stderr, "walk: %s\n", err_message());
        return 1;
    }
    j = json_object_new_array();
    for (size_t i = 0; i < c->n; i++) {
        json_object *l = json_object_new_object();
        json_object_object_add(l, "filename", json_object_new_string(c->layers[i].path));
        json_object_object_add(l, "format", json_object_new_string(c->layers[i].format));
        json_object_object_add(l, "virtual-size", json_object_new_int64((int64_t)c->layers[i].virtual_size));
        json_object_object_add(l, "actual-size", json_object_new_int64((int64_t)c->layers[i].allocated));
        if (c->layers[i].backing_name)
            json_object_object_add(l, "backing-filename", json_object_new_string(c->layers[i].backing_name));
        json_object_array_add(j, l);
    }
    puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
    json_object_put(j);
    chain_free(c);
    return 0;
}
