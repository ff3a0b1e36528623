/* floor: the least any tool must do to list replicas — one bulk
 * virConnectListAllDomains and one virDomainGetMetadata per domain.
 * drover's list and console are measured against it (doc/performance.md).
 * Usage: floor URI */
#include <config.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>

static void
floor_quiet(void *opaque, virErrorPtr e)
{
    (void)opaque;
    (void)e;
}

int
main(int argc, char **argv)
{
    virConnectPtr conn;
    virDomainPtr *doms = NULL;
    int n, i, with_md = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: floor URI\n");
        return 2;
    }
    virSetErrorFunc(NULL, floor_quiet);
    if (!(conn = virConnectOpenReadOnly(argv[1]))) {
        fprintf(stderr, "floor: cannot open %s\n", argv[1]);
        return 1;
    }
    if ((n = virConnectListAllDomains(conn, &doms, 0)) < 0) {
        fprintf(stderr, "floor: cannot list domains\n");
        return 1;
    }
    for (i = 0; i < n; i++) {
        char *md = virDomainGetMetadata(doms[i], VIR_DOMAIN_METADATA_ELEMENT,
                                        "urn:drover:replica:1", 0);
        if (md)
            with_md++;
        free(md);
        virDomainFree(doms[i]);
    }
    free(doms);
    printf("%d domains, %d with a replica record\n", n, with_md);
    virConnectClose(conn);
    return 0;
}
