/* SPDX-License-Identifier: GPL-2.0-or-later */
/* domxml: reading and editing a libvirt domain definition (libxml2).
 *
 * Operations switch disks and the replica record in one document, so one
 * define changes both together. */
#ifndef DROVER_DOMXML_H
#define DROVER_DOMXML_H

#include <stddef.h>

typedef struct DomXml DomXml;

typedef struct {
    char *target;           /* "vda" */
    char *source;           /* file path, NULL for an empty drive */
    char *driver_type;      /* "qcow2", may be NULL */
    int encrypted;          /* <encryption> anywhere in the disk (<source>, <backingStore>) */
    char *kind;             /* other disks only: what the disk is, for messages */
} DomDisk;

typedef struct {
    DomDisk *v;
    size_t n;
    /* The domain's other disks (block, network, volume, CD-ROM, ...):
     * target and kind only ("network disk (<disk type='network'
     * device='disk'>)"); source and driver_type are NULL. */
    DomDisk *other;
    size_t nother;
} DomDiskList;

/* Parses a domain definition; NULL with err (32776) if it is not one. */
DomXml *domxml_parse(const char *xml);
void domxml_free(DomXml *d);
/* The whole document as text (never NULL). */
char *domxml_format(const DomXml *d);

const char *domxml_name(const DomXml *d);
const char *domxml_uuid(const DomXml *d);   /* NULL if absent */
void domxml_set_name(DomXml *d, const char *name);
/* Sets the UUID, or removes it when uuid is NULL (libvirt makes one). */
void domxml_set_uuid(DomXml *d, const char *uuid);

/* File-backed disks (device="disk", type="file"), in document order, in
 * out->v; every other disk that has a target in out->other. */
void domxml_disks(const DomXml *d, DomDiskList *out);
void domxml_disk_list_clear(DomDiskList *l);
/* Every source any <disk> of the domain names, whatever its type or
 * device (files and block devices as paths, storage volumes as pool and
 * volume, backing stores too): what a deletion must never touch. */
typedef struct {
    char *path;             /* file or block device, NULL for a volume */
    char *pool;             /* storage volume: pool and volume names */
    char *volume;
} DomSource;

typedef struct {
    DomSource *v;
    size_t n;
} DomSourceList;

void domxml_sources(const DomXml *d, DomSourceList *out);
void domxml_source_list_clear(DomSourceList *l);

/* From a storage pool definition: its type ("dir", "logical", ...) and
 * target path, each NULL when absent.  -1 with err (32776) if the text
 * is not a pool definition. */
int domxml_pool_target(const char *xml, char **type, char **path);

/* Points the disk with this target at file and drops any <backingStore>
 * (libvirt reads the chain from the image) and whatever in <source>
 * described the old file (slices, encryption, ...; a <seclabel> applies to
 * the new file too and stays).  -1 with err if no such disk. */
int domxml_set_disk_source(DomXml *d, const char *target, const char *file);
/* The file disk with this target as an XML element (text), or NULL. */
char *domxml_disk_element(const DomXml *d, const char *target);
/* Puts back what failover changed of a disk saved by domxml_disk_element:
 * its <source> and <backingStore>, in place of the current ones; the rest
 * of the current element (cache, iotune, discard set since) stays.  -1 with
 * err (32776) if element is not a <disk> with that target, 32773 if the
 * domain has no such file disk. */
int domxml_restore_disk(DomXml *d, const char *target, const char *element);

/* The file of the domain's <os><nvram> (its text, or the file of its
 * <source>); NULL when it has none.  *other is set when <nvram> names
 * something drover cannot copy (a network or block source). */
char *domxml_nvram(const DomXml *d, int *other);
/* Points <os><nvram> at path (keeping its other attributes). */
int domxml_set_nvram(DomXml *d, const char *path);

/* The replica element (namespace urn:drover:replica:1) under <metadata> as
 * text, or NULL when there is none. */
char *domxml_get_replica(const DomXml *d);
/* Replaces (or adds) the replica element; NULL removes it. */
int domxml_set_replica(DomXml *d, const char *replica_xml);

/* For a test system: drops every writable disk (device disk or lun, any
 * source type, no <readonly/>) whose target is not in keep (n of them), so
 * the test system never shares a writable disk with the replica.  Returns
 * how many it dropped. */
size_t domxml_drop_disks_except(DomXml *d, const char *const *keep, size_t n);
/* What a test system built with domxml_drop_disks_except(keep) and
 * domxml_strip_for_test lacks, for the plan: each dropped disk with its
 * type, source and boot order, each network interface, the generation id;
 * "; " between them.  NULL when it lacks nothing. */
char *domxml_test_omissions(const DomXml *d, const char *const *keep, size_t n);
/* The same without the network interfaces (a test system on a network). */
char *domxml_test_omissions_but_interfaces(const DomXml *d, const char *const *keep, size_t n);
/* For a test system: drops network interfaces and the VM generation id. */
void domxml_strip_for_test(DomXml *d);
/* The same but keeps the interfaces (domxml_interfaces_to_network). */
void domxml_strip_genid(DomXml *d);
/* For a test system on an isolated network: every interface becomes
 * <interface type='network'><source network='net'/> (its MAC, model and
 * address kept; the old source, target, virtualport and vlan dropped). */
void domxml_interfaces_to_network(DomXml *d, const char *net);

/* A failover network map entry: an interface whose source is from (of
 * kind from_type, "network" or "bridge"; NULL: either) moves to to (of
 * kind to_type; NULL: the interface's own kind). */
typedef struct {
    const char *from_type;
    const char *from;
    const char *to_type;
    const char *to;
    size_t used;                /* out: interfaces it moved */
    size_t used_network;        /* out: of those, how many are now of type network */
} DomNetMap;
/* Applies n map entries to the interfaces; *changes (may be NULL) gets
 * one "interface MAC: network default -> network dr-lan" per interface
 * moved, "; " between them, and one "... (kept: not in the map)" per
 * interface left as it was; NULL when there is no interface.  Returns how
 * many interfaces moved. */
size_t domxml_map_networks(DomXml *d, DomNetMap *map, size_t n, char **changes);
/* Asks libvirt for a new VM generation id (failover and revert change the
 * VM's history, DESIGN §8.1 of the facts sheet). */
void domxml_reset_genid(DomXml *d);

/* What differs between two definitions of one domain, for an operator:
 * "disk vdb added; the record's recovery points changed; metadata of
 * namespace urn:x removed".  NULL with err code 0 when they hold the same
 * content (layout, comments and namespace prefixes aside); NULL with err
 * set when either does not parse. */
char *domxml_describe_changes(const char *before, const char *after);

/* libvirt's test driver: declares the test namespace and sets
 * <test:runstate> (5 = shut off, 1 = running) so a fleet file keeps the
 * domain's power state. */
void domxml_set_test_runstate(DomXml *d, int runstate);

#endif
