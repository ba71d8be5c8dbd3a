/*
** Distance kernels: squared L2 and dot product over float vectors, in a
** portable scalar version and SIMD versions (AVX2+FMA, AVX-512) picked at run
** time from what the CPU offers. Vectors are padded with zeros to a multiple
** of OMEN__PAD floats, so kernels need no tail loop.
*/
#ifndef OMEN_DISTANCE_H
#define OMEN_DISTANCE_H

#include <stddef.h>

#define OMEN__PAD 16 /* floats: one 64-byte line */

typedef float (*omen__dist_fn)(const float *a, const float *b, size_t n);

typedef enum omen__isa {
  OMEN__ISA_SCALAR = 0,
  OMEN__ISA_AVX2 = 1,
  OMEN__ISA_AVX512 = 2,
  OMEN__ISA_COUNT
} omen__isa;

typedef struct omen__kernels {
  omen__isa isa;
  omen__dist_fn l2sq; /* sum of (a[i] - b[i])^2 */
  omen__dist_fn dot;  /* sum of a[i] * b[i] */
} omen__kernels;

/* Whether this build and this CPU can run isa. */
int omen__isa_supported(omen__isa isa);
omen__isa omen__isa_best(void);
const char *omen__isa_name(omen__isa isa);

/* Fill k with the kernels of isa; OMEN_NOTFOUND when it is not supported. */
int omen__kernels_get(omen__isa isa, omen__kernels *k);

/* Floats a vector of dim components occupies once padded. */
static inline size_t omen__padded(size_t dim)
{
  return (dim + OMEN__PAD - 1) / OMEN__PAD * OMEN__PAD;
}

#endif
