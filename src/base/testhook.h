/* SPDX-License-Identifier: GPL-2.0-or-later */
/* testhook: a pause point for tests that must land a second writer's
 * change exactly between two steps of drover (a fleet reload, an operation
 * waiting for a shutdown).
 *
 * When the environment variable DROVER_PAUSE names the point and
 * DROVER_PAUSE_FILE a path, the first time the process reaches the point it
 * creates that file (holding its pid) and waits until the file is removed
 * (at most ten minutes), then goes on, once per point and file a process
 * is given; DROVER_PAUSE="POINT@N" does so the Nth time instead of the
 * first.  DROVER_PAUSE="POINT:FILE" instead holds at the point, every time
 * it is reached, while FILE (made by the test beforehand) exists.
 * DROVER_PAUSE may name several points, separated by spaces.  Costs one
 * getenv() when unset. */
#ifndef DROVER_TESTHOOK_H
#define DROVER_TESTHOOK_H

/* where: "hv:swap-connected", "revert:powered-off", ... */
void testhook_pause(const char *where);

#endif
