/*
** Id map: string ids to slots.
**
** Calls: records (the ids it compares), hash, mem.
*/
#include "port.h"

#include "idmap.h"

#include <string.h>

#include "hash.h"

#define EMPTY 0u
#define REMOVED 1u

static inline uint32_t entry_slot(uint64_t e) { return (uint32_t)e - 2; }
static inline uint32_t entry_hash(uint64_t e) { return (uint32_t)(e >> 32); }
static inline uint64_t make_entry(uint32_t hash, uint32_t slot)
{
  return (uint64_t)hash << 32 | (uint64_t)(slot + 2u);
}

void omen__idmap_free(const omen__mem *m, omen__idmap *map)
{
  omen__buf_free(m, &map->tab);
  map->mask = map->live = map->removed = 0;
}

uint32_t omen__idmap_hash(const omen__idmap *map, const char *id, size_t len)
{
  return (uint32_t)omen__hash_bytes(id, len, map->seed);
}

uint32_t omen__idmap_find(const omen__idmap *map, const omen__records *recs,
                          const char *id, size_t len, uint32_t hash)
{
  if (!map->mask) return UINT32_MAX;
  const uint64_t *tab = map->tab.p;
  for (uint64_t i = hash & map->mask;; i = (i + 1) & map->mask) {
    uint64_t e = tab[i];
    if (e == EMPTY) return UINT32_MAX;
    if (e == REMOVED || entry_hash(e) != hash) continue;
    uint32_t slot = entry_slot(e), slot_len;
    const char *slot_id = omen__records_id(recs, slot, &slot_len);
    if (slot_len == len && memcmp(slot_id, id, len) == 0) return slot;
  }
}

static void place(uint64_t *tab, uint64_t mask, uint64_t e)
{
  uint64_t i = entry_hash(e) & mask;
  while (tab[i] > REMOVED) i = (i + 1) & mask;
  tab[i] = e;
}

/* Keep the table at most 5/8 full, counting removed entries. */
static int fits(uint64_t entries, uint64_t size) { return entries * 8 <= size * 5; }

int omen__idmap_reserve(const omen__mem *m, omen__idmap *map, uint64_t more)
{
  uint64_t size = map->mask ? map->mask + 1 : 0;
  if (size && fits(map->live + map->removed + more, size)) return OMEN_OK;
  uint64_t want = 16;
  while (!fits(map->live + more, want) || want < size / 2) want *= 2;
  if (want > ((uint64_t)1 << 40)) return OMEN_NOMEM;
  omen__buf fresh = {0};
  int rc = omen__buf_reserve(m, &fresh, (size_t)want * sizeof(uint64_t), 0);
  if (rc) return rc;
  uint64_t *dst = fresh.p;
  memset(dst, 0, (size_t)want * sizeof(uint64_t));
  const uint64_t *src = map->tab.p;
  for (uint64_t i = 0; i < size; i++)
    if (src[i] > REMOVED) place(dst, want - 1, src[i]);
  omen__buf_free(m, &map->tab);
  map->tab = fresh;
  map->mask = want - 1;
  map->removed = 0;
  return OMEN_OK;
}

void omen__idmap_insert(omen__idmap *map, uint32_t hash, uint32_t slot)
{
  uint64_t *tab = map->tab.p;
  uint64_t i = hash & map->mask;
  while (tab[i] > REMOVED) i = (i + 1) & map->mask;
  if (tab[i] == REMOVED) map->removed--;
  tab[i] = make_entry(hash, slot);
  map->live++;
}

void omen__idmap_remove(omen__idmap *map, uint32_t hash, uint32_t slot)
{
  uint64_t *tab = map->tab.p, e = make_entry(hash, slot);
  for (uint64_t i = hash & map->mask; tab[i] != EMPTY; i = (i + 1) & map->mask)
    if (tab[i] == e) {
      tab[i] = REMOVED;
      map->live--;
      map->removed++;
      return;
    }
}
