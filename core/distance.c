/*
** Distance kernels and their run-time dispatch. The SIMD versions are
** compiled with per-function target attributes, so one binary carries all of
** them and needs no -march flag; compilers without those attributes (or other
** architectures) get the scalar kernels only.
**
** Calls: nothing of omen's (a leaf).
*/
#include "port.h"

#include "distance.h"

#include <string.h>

#include <math.h>

#include "omen.h"

#if (defined(__x86_64__) || defined(__i386__)) && \
    (defined(__GNUC__) || defined(__clang__))
#define OMEN__X86 1
#include <immintrin.h>
#else
#define OMEN__X86 0
#endif

/* -- Scalar ---------------------------------------------------------------- */

/* Four independent sums let the compiler keep several operations in flight
** without reassociating floating point. */
static float l2sq_scalar(const float *a, const float *b, size_t n)
{
  float s[4] = {0, 0, 0, 0};
  for (size_t i = 0; i < n; i += 4)
    for (int j = 0; j < 4; j++) {
      float d = a[i + j] - b[i + j];
      s[j] += d * d;
    }
  return (s[0] + s[1]) + (s[2] + s[3]);
}

static float dot_scalar(const float *a, const float *b, size_t n)
{
  float s[4] = {0, 0, 0, 0};
  for (size_t i = 0; i < n; i += 4)
    for (int j = 0; j < 4; j++) s[j] += a[i + j] * b[i + j];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

static uint32_t l2sq_u8_scalar(const uint8_t *a, const uint8_t *b, size_t n)
{
  uint32_t s = 0;
  for (size_t i = 0; i < n; i++) {
    int d = (int)a[i] - (int)b[i];
    s += (uint32_t)(d * d);
  }
  return s;
}

static uint32_t dot_u8_scalar(const uint8_t *a, const uint8_t *b, size_t n)
{
  uint32_t s = 0;
  for (size_t i = 0; i < n; i++) s += (uint32_t)a[i] * b[i];
  return s;
}

#if OMEN__X86

/* -- AVX2 + FMA ------------------------------------------------------------ */

#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline float hsum256(__m256 v)
{
  __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  x = _mm_add_ss(x, _mm_shuffle_ps(x, x, 1));
  return _mm_cvtss_f32(x);
}

AVX2 static float l2sq_avx2(const float *a, const float *b, size_t n)
{
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
    __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
    s0 = _mm256_fmadd_ps(d0, d0, s0);
    s1 = _mm256_fmadd_ps(d1, d1, s1);
    s2 = _mm256_fmadd_ps(d2, d2, s2);
    s3 = _mm256_fmadd_ps(d3, d3, s3);
  }
  if (i < n) { /* n is a multiple of 16: at most one half-step remains */
    __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    s0 = _mm256_fmadd_ps(d0, d0, s0);
    s1 = _mm256_fmadd_ps(d1, d1, s1);
  }
  return hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

AVX2 static float dot_avx2(const float *a, const float *b, size_t n)
{
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  if (i < n) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  return hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

/* Codes: bytes widened to 16 bits, then multiplied and summed in pairs
** into 32-bit lanes (vpmaddwd). A lane gains at most 2 * 255^2 per 32
** bytes, so 65536 codes stay far from overflow. */

AVX2 static inline uint32_t hsum256_epi32(__m256i v)
{
  __m128i x = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(1, 0, 3, 2)));
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(2, 3, 0, 1)));
  return (uint32_t)_mm_cvtsi128_si32(x);
}

AVX2 static uint32_t l2sq_u8_avx2(const uint8_t *a, const uint8_t *b, size_t n)
{
  __m256i zero = _mm256_setzero_si256(), s0 = zero, s1 = zero;
  for (size_t i = 0; i < n; i += 32) {
    __m256i x = _mm256_loadu_si256((const __m256i *)(a + i));
    __m256i y = _mm256_loadu_si256((const __m256i *)(b + i));
    /* |x - y| in bytes, then widened: the order of lanes does not matter */
    __m256i d = _mm256_or_si256(_mm256_subs_epu8(x, y), _mm256_subs_epu8(y, x));
    __m256i lo = _mm256_unpacklo_epi8(d, zero), hi = _mm256_unpackhi_epi8(d, zero);
    s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(lo, lo));
    s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(hi, hi));
  }
  return hsum256_epi32(_mm256_add_epi32(s0, s1));
}

AVX2 static uint32_t dot_u8_avx2(const uint8_t *a, const uint8_t *b, size_t n)
{
  __m256i zero = _mm256_setzero_si256(), s0 = zero, s1 = zero;
  for (size_t i = 0; i < n; i += 32) {
    __m256i x = _mm256_loadu_si256((const __m256i *)(a + i));
    __m256i y = _mm256_loadu_si256((const __m256i *)(b + i));
    s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(_mm256_unpacklo_epi8(x, zero),
                                                _mm256_unpacklo_epi8(y, zero)));
    s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(_mm256_unpackhi_epi8(x, zero),
                                                _mm256_unpackhi_epi8(y, zero)));
  }
  return hsum256_epi32(_mm256_add_epi32(s0, s1));
}

/* -- AVX-512 --------------------------------------------------------------- */

#define AVX512 __attribute__((target("avx512f")))

AVX512 static float l2sq_avx512(const float *a, const float *b, size_t n)
{
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
    s0 = _mm512_fmadd_ps(d0, d0, s0);
    s1 = _mm512_fmadd_ps(d1, d1, s1);
  }
  if (i < n) {
    __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    s0 = _mm512_fmadd_ps(d0, d0, s0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

AVX512 static float dot_avx512(const float *a, const float *b, size_t n)
{
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
  }
  if (i < n) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

#endif /* OMEN__X86 */

/* -- Dispatch -------------------------------------------------------------- */

int omen__isa_supported(omen__isa isa)
{
  switch (isa) {
  case OMEN__ISA_SCALAR:
    return 1;
#if OMEN__X86
  case OMEN__ISA_AVX2:
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  case OMEN__ISA_AVX512:
    return __builtin_cpu_supports("avx512f");
#endif
  default:
    return 0;
  }
}

omen__isa omen__isa_best(void)
{
  for (int isa = OMEN__ISA_COUNT - 1; isa > OMEN__ISA_SCALAR; isa--)
    if (omen__isa_supported((omen__isa)isa)) return (omen__isa)isa;
  return OMEN__ISA_SCALAR;
}

const char *omen__isa_name(omen__isa isa)
{
  static const char *const names[OMEN__ISA_COUNT] = {"scalar", "avx2",
                                                     "avx512"};
  return (unsigned)isa < OMEN__ISA_COUNT ? names[isa] : "unknown";
}

int omen__isa_from_name(const char *name)
{
  for (int isa = 0; isa < OMEN__ISA_COUNT; isa++)
    if (!strcmp(name, omen__isa_name((omen__isa)isa))) return isa;
  return -1;
}

int omen__kernels_get(omen__isa isa, omen__kernels *k)
{
  if (!omen__isa_supported(isa)) return OMEN_NOTFOUND;
  k->isa = isa;
  k->l2sq = l2sq_scalar;
  k->dot = dot_scalar;
  k->l2sq_u8 = l2sq_u8_scalar;
  k->dot_u8 = dot_u8_scalar;
#if OMEN__X86
  if (isa >= OMEN__ISA_AVX2) { /* AVX-512 machines run the AVX2 code kernels */
    k->l2sq_u8 = l2sq_u8_avx2;
    k->dot_u8 = dot_u8_avx2;
  }
  if (isa == OMEN__ISA_AVX2) {
    k->l2sq = l2sq_avx2;
    k->dot = dot_avx2;
  } else if (isa == OMEN__ISA_AVX512) {
    k->l2sq = l2sq_avx512;
    k->dot = dot_avx512;
  }
#endif
  return OMEN_OK;
}

float omen__inverse_norm(const float *v, size_t n)
{
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += (double)v[i] * v[i];
  return sum > 0 ? (float)(1.0 / sqrt(sum)) : 0.0f;
}
