/*
** Records: ids and metadata of the slots, in one compacting byte heap.
**
** Calls: mem.
*/
#include "port.h"

#include "records.h"

#include <string.h>

void omen__records_free(const omen__mem *m, omen__records *r)
{
  omen__buf_free(m, &r->refs);
  omen__buf_free(m, &r->heap);
  r->used = r->garbage = 0;
}

int omen__records_reserve(const omen__mem *m, omen__records *r, uint32_t cap,
                          uint32_t n_slots)
{
  size_t size = (size_t)cap * sizeof(omen__recref);
  if (size <= r->refs.size) return OMEN_OK;
  return omen__buf_reserve(m, &r->refs, size,
                           (size_t)n_slots * sizeof(omen__recref));
}

/* Rewrite the heap with the live records only, into a new block sized for
** `extra` more bytes. */
static int compact(const omen__mem *m, omen__records *r, uint64_t extra,
                   uint32_t n_slots)
{
  uint64_t live = r->used - r->garbage;
  omen__buf fresh = {0};
  size_t want = omen__grow_cap(0, (size_t)(live + extra), 4096);
  int rc = omen__buf_reserve(m, &fresh, want, 0);
  if (rc) return rc;
  omen__recref *refs = r->refs.p;
  unsigned char *dst = fresh.p;
  uint64_t at = 0;
  for (uint32_t s = 0; s < n_slots; s++) {
    if (!refs[s].id_len) continue;
    uint64_t len = (uint64_t)refs[s].id_len + refs[s].meta_len;
    memcpy(dst + at, (unsigned char *)r->heap.p + refs[s].off, len);
    refs[s].off = at;
    at += len;
  }
  omen__buf_free(m, &r->heap);
  r->heap = fresh;
  r->used = at;
  r->garbage = 0;
  return OMEN_OK;
}

int omen__records_reserve_heap(const omen__mem *m, omen__records *r,
                               uint64_t bytes, uint32_t n_slots)
{
  if (r->used + bytes <= r->heap.size) return OMEN_OK;
  if (r->garbage > (1u << 16) && r->garbage >= (r->used - r->garbage))
    return compact(m, r, bytes, n_slots);
  return omen__buf_ensure(m, &r->heap, (size_t)(r->used + bytes),
                          (size_t)r->used, 4096);
}

void omen__records_clear(omen__records *r, uint32_t slot)
{
  omen__recref *ref = (omen__recref *)r->refs.p + slot;
  r->garbage += (uint64_t)ref->id_len + ref->meta_len;
  ref->off = 0;
  ref->id_len = ref->meta_len = 0;
}

void omen__records_put(omen__records *r, uint32_t slot, const char *id,
                       uint32_t id_len, const uint8_t *meta, uint32_t meta_len)
{
  omen__records_clear(r, slot);
  unsigned char *dst = (unsigned char *)r->heap.p + r->used;
  memcpy(dst, id, id_len);
  if (meta_len) memcpy(dst + id_len, meta, meta_len);
  omen__recref *ref = (omen__recref *)r->refs.p + slot;
  ref->off = r->used;
  ref->id_len = id_len;
  ref->meta_len = meta_len;
  r->used += (uint64_t)id_len + meta_len;
}
