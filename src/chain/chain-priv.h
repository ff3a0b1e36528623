/* SPDX-License-Identifier: GPL-2.0-or-later */
/* chain-priv.h: what chain.c (reading) and chain-qemu.c, chain-edit.c and
 * chain-discard.c (writing) share. */
#ifndef DROVER_CHAIN_PRIV_H
#define DROVER_CHAIN_PRIV_H

/* The last component of path (path itself when it has no slash). */
const char *chain_basename(const char *path);

#endif
