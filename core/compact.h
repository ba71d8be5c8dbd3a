/*
** Compaction (compact.c): giving a collection's deleted and free slots back
** by renumbering its live ones densely.
*/
#ifndef OMEN_COMPACT_H
#define OMEN_COMPACT_H

#include "omen_int.h"

/* Compact c if at least `min_share` of its slots are deleted or free (0:
** any), taking its lock; a dropped collection is left alone. */
int omen__compact(omen_coll *c, double min_share);

#endif
