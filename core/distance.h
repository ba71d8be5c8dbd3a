/*
** Distance kernels: squared L2 and dot product over float vectors, and over
** 8-bit codes (see quant.c), in a portable scalar version and SIMD versions
** (AVX2+FMA, AVX-512) picked at run time from what the CPU offers. Vectors
** are padded with zeros to a multiple of OMEN__PAD floats, and codes to a
** multiple of OMEN__CODE_PAD bytes, so kernels need no tail loop.
*/
#ifndef OMEN_DISTANCE_H
#define OMEN_DISTANCE_H

#include <stddef.h>

#include <stdint.h>

#define OMEN__PAD 16      /* floats: one 64-byte line */
#define OMEN__CODE_PAD 64 /* bytes: one line */

typedef float (*omen__dist_fn)(const float *a, const float *b, size_t n);

/* Over n codes (n <= 65536, so the sums fit 32 bits). */
typedef uint32_t (*omen__code_fn)(const uint8_t *a, const uint8_t *b, size_t n);

typedef enum omen__isa {
  OMEN__ISA_SCALAR = 0,
  OMEN__ISA_AVX2 = 1,
  OMEN__ISA_AVX512 = 2,
  OMEN__ISA_COUNT
} omen__isa;

/* y[0..cols) = sum over i < rows of x[i] * m[i * cols + 0..cols), for cols
** a multiple of 64: a vector times a matrix stored by rows, in half
** precision (IEEE binary16, half the bytes to read). */
typedef void (*omen__matvec_fn)(const uint16_t *m, const float *x, size_t rows,
                                size_t cols, float *y);

typedef struct omen__kernels {
  omen__isa isa;
  omen__dist_fn l2sq; /* sum of (a[i] - b[i])^2 */
  omen__dist_fn dot;  /* sum of a[i] * b[i] */
  omen__code_fn l2sq_u8;
  omen__code_fn dot_u8;
  omen__matvec_fn matvec;
} omen__kernels;

/* Whether this build and this CPU can run isa. */
int omen__isa_supported(omen__isa isa);
omen__isa omen__isa_best(void);
const char *omen__isa_name(omen__isa isa);
/* The isa named name ("scalar", "avx2", "avx512"), or -1. */
int omen__isa_from_name(const char *name);

/* Fill k with the kernels of isa; OMEN_NOTFOUND when it is not supported. */
int omen__kernels_get(omen__isa isa, omen__kernels *k);

/* IEEE binary16 from float (to nearest, ties to even) and back. */
uint16_t omen__half_of(float f);
float omen__float_of_half(uint16_t h);

/* 1 / |v| over n components, summed in double precision; 0 for a vector
** of zeros. Cosine distances scale by it. */
float omen__inverse_norm(const float *v, size_t n);

/* Floats a vector of dim components occupies once padded. */
static inline size_t omen__padded(size_t dim)
{
  return (dim + OMEN__PAD - 1) / OMEN__PAD * OMEN__PAD;
}

/* Bytes the codes of a dim-component vector occupy once padded. */
static inline size_t omen__code_padded(size_t dim)
{
  return (dim + OMEN__CODE_PAD - 1) / OMEN__CODE_PAD * OMEN__CODE_PAD;
}

#endif
