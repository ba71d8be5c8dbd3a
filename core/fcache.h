/*
** The filter-bitmap cache of a collection (fcache.c). Entries are
** omen__fbits (omen_int.h); a search holding one reads its bits without the
** cache's mutex, then releases it.
*/
#ifndef OMEN_FCACHE_H
#define OMEN_FCACHE_H

#include "omen_int.h"

/* A filter's cached bitmap for c as it is now, with a reference taken; or
** NULL, with *seen telling whether the filter was used before. */
omen__fbits *omen__fcache_get(omen_coll *c, const omen_filter *f, int *seen);
/* Remember that f was used (bits NULL), or give the cache its bitmap (the
** cache then owns bits; the entry comes back with a reference taken, or
** NULL if every entry is in use, leaving bits with the caller). */
omen__fbits *omen__fcache_put(omen_coll *c, const omen_filter *f, uint64_t *bits,
                              size_t words, uint64_t count);
void omen__fcache_release(omen_coll *c, omen__fbits *e);
void omen__fcache_clear(omen_coll *c);

#endif
