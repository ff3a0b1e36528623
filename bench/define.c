/* SPDX-License-Identifier: GPL-2.0-or-later */
/* define: defines N replica domains (not started) on a libvirt host for the
 * console benchmark through a private libvirtd (bench/console.sh):
 * virDomainDefineXML in one process, since `virsh define` N times costs a
 * connection per domain.  Each domain is like tests/qemu-lib.sh's
 * qemu_make_replica in state 3: disk vda on DIR/vda.rp-0003.qcow2, three
 * recovery points DIR/vda.rp-000[123].qcow2 an hour apart, the newest ten
 * minutes old.  The domains share those files: listing reads records and
 * checks that files exist, nothing more.
 * Usage: define URI N DIR EMULATOR */
#include <config.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void
define_quiet(void *opaque, virErrorPtr e)
{
    (void)opaque;
    (void)e;
}

static void
define_time(time_t t, char *buf, size_t size)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
main(int argc, char **argv)
{
    virConnectPtr conn;
    const char *dir, *emulator;
    char t[3][32], *xml;
    long n, i;
    time_t now = time(NULL);
    size_t size = 8192;

    if (argc != 5 || (n = strtol(argv[2], NULL, 10)) <= 0) {
        fprintf(stderr, "usage: define URI N DIR EMULATOR\n");
        return 2;
    }
    dir = argv[3];
    emulator = argv[4];
    for (i = 0; i < 3; i++)
        define_time(now - 600 - (2 - i) * 3600, t[i], sizeof(t[i]));
    virSetErrorFunc(NULL, define_quiet);
    if (!(conn = virConnectOpen(argv[1]))) {
        fprintf(stderr, "define: cannot open %s\n", argv[1]);
        return 1;
    }
    if (!(xml = malloc(size)))
        return 1;
    for (i = 1; i <= n; i++) {
        virDomainPtr d;
        int k = snprintf(xml, size,
            "<domain type='qemu'>\n"
            "  <name>rep-%05ld</name>\n"
            "  <metadata>\n"
            "<drover:replica xmlns:drover=\"urn:drover:replica:1\" format=\"1\">\n"
            "  <drover:mode>2</drover:mode>\n"
            "  <drover:state>3</drover:state>\n"
            "  <drover:primary host=\"prod-a\" uri=\"qemu+ssh://prod-a/system\" name=\"rep-%05ld\"/>\n"
            "  <drover:recovery-points>\n"
            "    <drover:point id=\"rp-0001\" time=\"%s\" type=\"standard\">\n"
            "      <drover:disk target=\"vda\" file=\"%s/vda.rp-0001.qcow2\"/>\n"
            "    </drover:point>\n"
            "    <drover:point id=\"rp-0002\" time=\"%s\" type=\"standard\">\n"
            "      <drover:disk target=\"vda\" file=\"%s/vda.rp-0002.qcow2\"/>\n"
            "    </drover:point>\n"
            "    <drover:point id=\"rp-0003\" time=\"%s\" type=\"standard\">\n"
            "      <drover:disk target=\"vda\" file=\"%s/vda.rp-0003.qcow2\"/>\n"
            "    </drover:point>\n"
            "  </drover:recovery-points>\n"
            "</drover:replica>\n"
            "  </metadata>\n"
            "  <memory unit='MiB'>64</memory>\n"
            "  <vcpu>1</vcpu>\n"
            "  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n"
            "  <devices>\n"
            "    <emulator>%s</emulator>\n"
            "    <disk type='file' device='disk'>\n"
            "      <driver name='qemu' type='qcow2'/>\n"
            "      <source file='%s/vda.rp-0003.qcow2'/>\n"
            "      <target dev='vda' bus='virtio'/>\n"
            "    </disk>\n"
            "    <video><model type='none'/></video>\n"
            "    <memballoon model='none'/>\n"
            "  </devices>\n"
            "</domain>\n",
            i, i, t[0], dir, t[1], dir, t[2], dir, emulator, dir);
        if (k < 0 || (size_t)k >= size) {
            fprintf(stderr, "define: domain XML too long (DIR?)\n");
            return 1;
        }
        if (!(d = virDomainDefineXML(conn, xml))) {
            virErrorPtr e = virGetLastError();
            fprintf(stderr, "define: rep-%05ld: %s\n", i, e && e->message ? e->message : "failed");
            return 1;
        }
        virDomainFree(d);
    }
    free(xml);
    virConnectClose(conn);
    printf("%ld domains defined\n", n);
    return 0;
}
