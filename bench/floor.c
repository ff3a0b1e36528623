/* SPDX-License-Identifier: GPL-2.0-or-later */
/* floor: the least any tool must do to list replicas — one bulk
 * virConnectListAllDomains and one virDomainGetMetadata per domain.
 * drover's list and console are measured against it (doc/performance.md).
 * With several URIs, each host is opened and listed in a thread of its
 * own, all at once: the least a tool watching many DR hosts must do.
 * Usage: floor URI... */
#include <config.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    const char *uri;
    int n;                      /* domains, -1 on failure */
    int with_md;
} FloorHost;

static void
floor_quiet(void *opaque, virErrorPtr e)
{
    (void)opaque;
    (void)e;
}

static void *
floor_host(void *arg)
{
    FloorHost *h = arg;
    virConnectPtr conn;
    virDomainPtr *doms = NULL;
    int i;

    h->n = -1;
    if (!(conn = virConnectOpenReadOnly(h->uri))) {
        fprintf(stderr, "floor: cannot open %s\n", h->uri);
        return NULL;
    }
    if ((h->n = virConnectListAllDomains(conn, &doms, 0)) < 0) {
        fprintf(stderr, "floor: cannot list domains of %s\n", h->uri);
        virConnectClose(conn);
        return NULL;
    }
    for (i = 0; i < h->n; i++) {
        char *md = virDomainGetMetadata(doms[i], VIR_DOMAIN_METADATA_ELEMENT,
                                        "urn:drover:replica:1", 0);
        if (md)
            h->with_md++;
        free(md);
        virDomainFree(doms[i]);
    }
    free(doms);
    virConnectClose(conn);
    return NULL;
}

int
main(int argc, char **argv)
{
    FloorHost *h;
    pthread_t *t;
    int i, n = 0, with_md = 0, nhosts = argc - 1;

    if (argc < 2) {
        fprintf(stderr, "usage: floor URI...\n");
        return 2;
    }
    virSetErrorFunc(NULL, floor_quiet);
    if (virInitialize() < 0)
        return 1;
    h = calloc((size_t)nhosts, sizeof(*h));
    t = calloc((size_t)nhosts, sizeof(*t));
    if (!h || !t)
        return 1;
    for (i = 0; i < nhosts; i++)
        h[i].uri = argv[i + 1];
    if (nhosts == 1) {
        floor_host(&h[0]);
    } else {
        for (i = 0; i < nhosts; i++)
            if (pthread_create(&t[i], NULL, floor_host, &h[i]) != 0)
                return 1;
        for (i = 0; i < nhosts; i++)
            pthread_join(t[i], NULL);
    }
    for (i = 0; i < nhosts; i++) {
        if (h[i].n < 0)
            return 1;
        n += h[i].n;
        with_md += h[i].with_md;
    }
    printf("%d domains, %d with a replica record\n", n, with_md);
    free(h);
    free(t);
    return 0;
}
