/*
** Exact search (exact.c): the k nearest returnable slots by a scan of every
** slot, or of the slots set in a filter's bitmap.
*/
#ifndef OMEN_EXACT_H
#define OMEN_EXACT_H

#include "omen_int.h"

/* The k returnable slots (live, matching pred if given) closest to a
** prepared query, ascending, into out; OMEN_CORRUPT if a chunk it reads
** fails its first-use check. */
int omen__exact_search(const omen__space *sp, const uint8_t *state,
                       const omen__pred *pred, uint32_t n_slots, const float *q,
                       uint32_t k, omen__scratch *sc, omen__cand *out, size_t *n);
/* The same over the slots set in bits (a filter's bitmap). */
int omen__exact_search_bits(const omen__space *sp, const uint64_t *bits,
                            uint32_t n_slots, const float *q, uint32_t k,
                            omen__scratch *sc, omen__cand *out, size_t *n);

#endif
