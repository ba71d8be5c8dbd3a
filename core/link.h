/*
** Linking (link.c): putting slots into a collection's graph on several
** threads, and consolidation, which takes deleted slots (routes) out of the
** graph in bulk and frees them. The collection's lock is held for writing
** by the caller, and every reservation made before anything changes.
*/
#ifndef OMEN_LINK_H
#define OMEN_LINK_H

#include "omen_int.h"

/* Link slots[0..n) (new, or to link again) with up to `threads` threads
** (0: every core; the caller is one), then relink nodes left unreachable. */
int omen__link(omen_coll *c, const uint32_t *slots, size_t n, unsigned threads,
               omen__scratch *sc);

/* Whether a write leaving `deleted` routes among `live` records makes
** consolidation due, and the room consolidating them needs. */
int omen__link_due(uint64_t deleted, uint64_t live);
int omen__link_reserve(omen_coll *c, uint64_t deleted);
/* Reserve what deleting n more records needs: *due tells whether they make
** consolidation due, and sc is prepared for it. */
int omen__link_reserve_deletions(omen_coll *c, omen__scratch *sc, uint64_t n, int *due);

/* Consolidate every route, then relink nodes left unreachable; cannot fail
** once reserved (omen__link_reserve, and sc prepared). */
void omen__link_consolidate(omen_coll *c, omen__scratch *sc, unsigned threads);
/* The same, reserving first (compaction). */
int omen__link_consolidate_all(omen_coll *c, omen__scratch *sc);

#endif
