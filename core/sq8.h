/*
** 8-bit scalar codes, shared by the code kinds built on them: "sq8" codes
** the components themselves, "pca8" the components of a projection. One
** step serves every component (each has its own offset), so distances
** between codes are float distances up to known terms and the walk needs
** integer kernels only (kind_sq8.c says how).
**
** A kind built on these keeps an omen__sq8 at the start of its parameters
** (cs->params), so the distance functions below serve it unchanged.
*/
#ifndef OMEN_SQ8_H
#define OMEN_SQ8_H

#include <stddef.h>
#include <stdint.h>

#include "codes.h"

typedef struct omen__sq8 {
  float step;  /* float step of one code; 0 until fitted */
  float lo_sq; /* |lo|^2 */
  float lo[];  /* an offset per coded component */
} omen__sq8;

/* Bytes of an omen__sq8 for n components. */
static inline size_t omen__sq8_size(uint32_t n)
{
  return sizeof(omen__sq8) + (size_t)n * sizeof(float);
}

/* Over n components v[i] * mul: */
int omen__sq8_place(const omen__sq8 *p, uint32_t n, const float *v, float mul);
void omen__sq8_fit(omen__sq8 *p, uint32_t n, const float *const *rows, const float *muls,
                   size_t m, float *work);
/* Codes into row (row_bytes, zero past n) and, if aux, the term lo . c. */
void omen__sq8_encode(const omen__sq8 *p, uint32_t n, uint32_t row_bytes, const float *v,
                      float mul, uint8_t *row, float *aux);

/* In the file: the n offsets, then the step (floats). */
static inline size_t omen__sq8_saved_bytes(uint32_t n)
{
  return ((size_t)n + 1) * sizeof(float);
}
void omen__sq8_save(const omen__sq8 *p, uint32_t n, void *out);
int omen__sq8_load(omen__sq8 *p, uint32_t n, const float *in);

/* Code kind operations for kinds whose parameters start with an omen__sq8. */
void omen__sq8_node_query(const omen__space *sp, uint32_t slot, void *buf,
                          omen__query *out);
void omen__sq8_dists(const omen__space *sp, const omen__query *q, const uint32_t *slots,
                     size_t n, float *out);
float omen__sq8_dist(const omen__space *sp, const omen__query *q, uint32_t slot);
float omen__sq8_dist_nodes(const omen__space *sp, uint32_t a, uint32_t b);

#endif
