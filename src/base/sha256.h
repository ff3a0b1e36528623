/* sha256: SHA-256 for plan digests (FIPS 180-4). */
#ifndef DROVER_SHA256_H
#define DROVER_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[8];
    uint64_t len;
    unsigned char buf[64];
    size_t nbuf;
} Sha256;

void sha256_init(Sha256 *c);
void sha256_update(Sha256 *c, const void *data, size_t n);
/* Writes 64 lowercase hex digits and a NUL into hex. */
void sha256_final_hex(Sha256 *c, char hex[65]);

#endif
