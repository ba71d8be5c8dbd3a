/*
** Id map: string id -> slot, an open-addressing hash table with linear
** probing. An entry packs the id's 32-bit hash with its slot, so the table
** regrows without reading any id, and a probe compares id bytes (kept in the
** record store) only when the hashes agree.
*/
#ifndef OMEN_IDMAP_H
#define OMEN_IDMAP_H

#include <stdint.h>

#include "mem.h"
#include "records.h"

typedef struct omen__idmap {
  omen__buf tab;   /* uint64_t entries: hash << 32 | (slot + 2); 0 empty, 1 removed */
  uint64_t mask;   /* entries - 1, or 0 before the first insert */
  uint64_t live;
  uint64_t removed;
  uint64_t seed;
} omen__idmap;

void omen__idmap_free(const omen__mem *m, omen__idmap *map);

uint32_t omen__idmap_hash(const omen__idmap *map, const char *id, size_t len);

/* The slot holding id, or UINT32_MAX. */
uint32_t omen__idmap_find(const omen__idmap *map, const omen__records *recs,
                          const char *id, size_t len, uint32_t hash);

/* Make room for `more` inserts without regrowing. */
int omen__idmap_reserve(const omen__mem *m, omen__idmap *map, uint64_t more);

/* Add an id known to be absent; room must have been reserved. */
void omen__idmap_insert(omen__idmap *map, uint32_t hash, uint32_t slot);

/* Remove the entry of slot (whose id hashes to hash). */
void omen__idmap_remove(omen__idmap *map, uint32_t hash, uint32_t slot);

#endif
