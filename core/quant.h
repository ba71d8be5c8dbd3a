/*
** 8-bit scalar quantization (sq8): a copy of a collection's vectors in one
** byte per component, which graph walks read instead of the floats (see
** quant.c for how the codes are fitted to the data).
**
** One scale serves every component (each has its own offset), so distances
** between codes are float distances up to known terms:
**   x ~ lo + scale * cx                        (per component)
**   |x - y|^2 ~ scale^2 * |cx - cy|^2
**   x . y ~ |lo|^2 + scale * (lo . cx + lo . cy) + scale^2 * (cx . cy)
** The copy lives in memory only; it is made again from the float vectors
** (by chunks, on first use, for a collection opened from a file) with the
** saved scale and offsets, so it comes out the same.
*/
#ifndef OMEN_QUANT_H
#define OMEN_QUANT_H

#include <stdint.h>

#include "mem.h"

typedef struct omen__sq8 {
  uint32_t dim;
  omen__buf lo;   /* dim floats: the offsets */
  float scale;    /* float step of one code; 0 until fitted */
  float lo_sq;    /* |lo|^2 */
  uint64_t fitted_at; /* records when fitted (for refits as the data grows) */
  uint64_t far;   /* vectors written since that landed far outside */
} omen__sq8;

/* Make room for the parameters of dim-component vectors. */
int omen__sq8_init(const omen__mem *m, omen__sq8 *q, uint32_t dim);
void omen__sq8_free(const omen__mem *m, omen__sq8 *q);

/* Vectors are v[0..dim) scaled by mul (the inverse norm, for cosine). */

/* Where mul * v lands: inside the codes' range, outside but within its
** width of it (clamped to the end codes), or far out (or not fitted yet). */
enum { OMEN__SQ8_INSIDE, OMEN__SQ8_CLAMPED, OMEN__SQ8_FAR };
int omen__sq8_outside(const omen__sq8 *q, const float *v, float mul);

/* Fit the codes to m sample vectors rows[r] * muls[r]: per component the
** range of the sample without its m/1024 most extreme values on each side,
** widened by an eighth of the widest range on each side. work holds m
** floats. */
void omen__sq8_fit(omen__sq8 *q, const float *const *rows, const float *muls, size_t m,
                   float *work);

/* The offsets (dim floats) and scale, to save them. */
static inline const float *omen__sq8_offsets(const omen__sq8 *q) { return q->lo.p; }

/* Set offsets and scale as saved; OMEN_CORRUPT if they are not finite or
** the scale is not positive. */
int omen__sq8_set(omen__sq8 *q, const float *lo, float scale);

/* Encode mul * v into out[0..cstride) (zero-padded). */
void omen__sq8_encode(const omen__sq8 *q, const float *v, float mul, uint8_t *out,
                      size_t cstride);

/* The offset term lo . c of dot products over codes c. */
float omen__sq8_offset(const omen__sq8 *q, const uint8_t *code);

#endif
