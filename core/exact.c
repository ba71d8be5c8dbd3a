/*
** Exact search: a scan of every live slot (that a filter lets through),
** keeping the k closest in a bounded max-heap. Used on request, for small
** collections, for filters few records match, and as the ground truth the
** graph is measured against.
**
** Calls: search (space, heaps, first-use checks), codes.
*/
#include "port.h"

#include "exact.h"
#include "hash.h"

/* Keep c in the max-heap of the k closest so far. */
static void keep_closest(omen__cand *heap, size_t *nh, uint32_t k, omen__cand c)
{
  if (*nh < k) {
    omen__maxheap_push(heap, nh, c);
  } else if (c.d < heap[0].d) {
    omen__maxheap_pop(heap, nh);
    omen__maxheap_push(heap, nh, c);
  }
}

int omen__exact_search(const omen__space *sp, const uint8_t *state,
                       const omen__pred *pred, uint32_t n_slots, const float *q,
                       uint32_t k, omen__scratch *sc, omen__cand *out, size_t *n)
{
  omen__cand *heap = sc->top;
  size_t nh = 0;
  *n = 0;
  for (uint32_t s = 0; s < n_slots; s++) {
    if (s % OMEN__CHUNK == 0) {
      if (omen__touch(sp, s)) return OMEN_CORRUPT;
      if (omen__interrupted(sp)) return OMEN_INTERRUPTED;
    }
    if (!omen__returnable(state, pred, s)) continue;
    keep_closest(heap, &nh, k, (omen__cand){omen__dist_q(sp, q, s), s});
  }
  *n = omen__maxheap_drain(heap, &nh, out);
  return OMEN_OK;
}

int omen__exact_search_bits(const omen__space *sp, const uint64_t *bits,
                            uint32_t n_slots, const float *q, uint32_t k,
                            omen__scratch *sc, omen__cand *out, size_t *n)
{
  omen__cand *heap = sc->top;
  size_t nh = 0;
  *n = 0;
  for (uint32_t w = 0; w < (n_slots + 63) / 64; w++) {
    if (w % (OMEN__CHUNK / 64) == 0 && omen__interrupted(sp)) return OMEN_INTERRUPTED;
    for (uint64_t word = bits[w]; word; word &= word - 1) {
      uint32_t s = w * 64 + (uint32_t)omen__ctz64(word);
      if (omen__touch(sp, s)) return OMEN_CORRUPT;
      keep_closest(heap, &nh, k, (omen__cand){omen__dist_q(sp, q, s), s});
    }
  }
  *n = omen__maxheap_drain(heap, &nh, out);
  return OMEN_OK;
}
