/*
** Records: the id and encoded metadata of every slot, packed back to back in
** one byte heap, with a fixed-size reference (offset and lengths) per slot.
** Replaced and deleted records leave garbage in the heap, reclaimed by
** compaction once it outweighs the live bytes.
*/
#ifndef OMEN_RECORDS_H
#define OMEN_RECORDS_H

#include <stdint.h>

#include "mem.h"

typedef struct omen__recref {
  uint64_t off;      /* id bytes, then meta bytes */
  uint32_t id_len;   /* 0: the slot holds no record */
  uint32_t meta_len;
} omen__recref;

typedef struct omen__records {
  omen__buf refs;    /* omen__recref per slot */
  omen__buf heap;
  uint64_t used;     /* heap bytes written */
  uint64_t garbage;  /* of which no longer referenced */
} omen__records;

void omen__records_free(const omen__mem *m, omen__records *r);

/* Make room for `cap` slot references; the first n_slots are kept. */
int omen__records_reserve(const omen__mem *m, omen__records *r, uint32_t cap,
                          uint32_t n_slots);

/* Make room for `bytes` more heap bytes, compacting first when garbage
** dominates, so that the next puts of that many bytes cannot fail. */
int omen__records_reserve_heap(const omen__mem *m, omen__records *r,
                               uint64_t bytes, uint32_t n_slots);

/* Mark a newly created slot as holding no record. */
static inline void omen__records_init_slot(omen__records *r, uint32_t slot)
{
  omen__recref *ref = (omen__recref *)r->refs.p + slot;
  ref->off = 0;
  ref->id_len = ref->meta_len = 0;
}

/* Store a slot's record; any previous one becomes garbage. The heap must
** have room (omen__records_reserve_heap). */
void omen__records_put(omen__records *r, uint32_t slot, const char *id,
                       uint32_t id_len, const uint8_t *meta, uint32_t meta_len);

/* Forget a slot's record. */
void omen__records_clear(omen__records *r, uint32_t slot);

static inline const omen__recref *omen__records_ref(const omen__records *r,
                                                    uint32_t slot)
{
  return (const omen__recref *)r->refs.p + slot;
}

static inline const char *omen__records_id(const omen__records *r,
                                           uint32_t slot, uint32_t *len)
{
  const omen__recref *ref = omen__records_ref(r, slot);
  *len = ref->id_len;
  return (const char *)r->heap.p + ref->off;
}

static inline const uint8_t *omen__records_meta(const omen__records *r,
                                                uint32_t slot, uint32_t *len)
{
  const omen__recref *ref = omen__records_ref(r, slot);
  *len = ref->meta_len;
  return (const uint8_t *)r->heap.p + ref->off + ref->id_len;
}

#endif
