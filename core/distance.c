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
#include <cpuid.h>
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

uint16_t omen__half_of(float f)
{
  uint32_t x;
  memcpy(&x, &f, sizeof x);
  uint32_t sign = (x >> 16) & 0x8000u, mant = x & 0x7fffffu, e = (x >> 23) & 0xffu;
  int32_t exp = (int32_t)e - 127 + 15;
  if (e == 0xff) return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0)); /* inf, NaN */
  if (exp >= 31) return (uint16_t)(sign | 0x7c00u);                       /* too big */
  if (exp <= 0) {                                                         /* subnormal */
    if (exp < -10) return (uint16_t)sign;
    mant |= 0x800000u;
    uint32_t shift = (uint32_t)(14 - exp), h = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (h & 1))) h++;
    return (uint16_t)(sign | h);
  }
  uint32_t h = ((uint32_t)exp << 10) | (mant >> 13), rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++; /* a carry is right */
  return (uint16_t)(sign | h);
}

float omen__float_of_half(uint16_t h)
{
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0) {
    float v = ldexpf((float)mant, -24);
    return sign ? -v : v;
  }
  uint32_t bits = sign | (exp == 31 ? 0x7f800000u : (exp - 15 + 127) << 23) | mant << 13;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

static void matvec_scalar(const uint16_t *m, const float *x, size_t rows, size_t cols,
                          float *y)
{
  for (size_t j = 0; j < cols; j++) y[j] = 0.0f;
  for (size_t i = 0; i < rows; i++)
    for (size_t j = 0; j < cols; j++) y[j] += x[i] * omen__float_of_half(m[i * cols + j]);
}

/* -- AVX2 + FMA ------------------------------------------------------------ */

#define AVX2 __attribute__((target("avx2,fma,f16c")))

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

/* A vector times a matrix: a block of columns in registers, the rows
** streamed through them, two rows at a time into two sets of sums (one FMA
** waits for the one before on its register: two sets keep twice as many in
** flight). */
AVX2 static void matvec_avx2(const uint16_t *m, const float *x, size_t rows, size_t cols,
                             float *y)
{
  for (size_t j = 0; j < cols; j += 32) {
    __m256 a[4], b[4];
    for (int k = 0; k < 4; k++) a[k] = b[k] = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 2 <= rows; i += 2) {
      __m256 x0 = _mm256_set1_ps(x[i]), x1 = _mm256_set1_ps(x[i + 1]);
      const uint16_t *r0 = m + i * cols + j, *r1 = r0 + cols;
      for (int k = 0; k < 4; k++) {
        a[k] = _mm256_fmadd_ps(x0, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(r0 + 8 * k))), a[k]);
        b[k] = _mm256_fmadd_ps(x1, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(r1 + 8 * k))), b[k]);
      }
    }
    if (i < rows) {
      __m256 x0 = _mm256_set1_ps(x[i]);
      const uint16_t *r0 = m + i * cols + j;
      for (int k = 0; k < 4; k++)
        a[k] = _mm256_fmadd_ps(x0, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(r0 + 8 * k))), a[k]);
    }
    for (int k = 0; k < 4; k++) _mm256_storeu_ps(y + j + 8 * k, _mm256_add_ps(a[k], b[k]));
  }
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

/* With 32 registers: four rows at a time into four sets of sums. */
AVX512 static void matvec_avx512(const uint16_t *m, const float *x, size_t rows,
                                 size_t cols, float *y)
{
#define ROW_TIMES(set, r, xi)                                                             \
  for (int k = 0; k < 4; k++)                                                             \
    acc[set][k] = _mm512_fmadd_ps(                                                        \
        xi, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((r) + 16 * k))),         \
        acc[set][k])
  for (size_t j = 0; j < cols; j += 64) {
    __m512 acc[4][4];
    for (int s = 0; s < 4; s++)
      for (int k = 0; k < 4; k++) acc[s][k] = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 4 <= rows; i += 4) {
      const uint16_t *r0 = m + i * cols + j;
      for (int s = 0; s < 4; s++) ROW_TIMES(s, r0 + s * cols, _mm512_set1_ps(x[i + s]));
    }
    for (; i < rows; i++) ROW_TIMES(0, m + i * cols + j, _mm512_set1_ps(x[i]));
    for (int k = 0; k < 4; k++)
      _mm512_storeu_ps(y + j + 16 * k, _mm512_add_ps(_mm512_add_ps(acc[0][k], acc[1][k]),
                                                     _mm512_add_ps(acc[2][k], acc[3][k])));
  }
#undef ROW_TIMES
}

/* Codes with AVX-512BW: the AVX2 kernels' arithmetic on 64 bytes at a time
** (codes are padded to 64). A lane gains at most 2 * 255^2 per 64 bytes;
** the lanes are folded with wrapping vector adds into a uint32 (a reduction
** in ints would overflow, undefined, past 2^31). */

#define AVX512BW __attribute__((target("avx2,avx512f,avx512bw")))

AVX512BW static inline uint32_t hsum512_epi32(__m512i v)
{
  return hsum256_epi32(_mm256_add_epi32(_mm512_castsi512_si256(v),
                                        _mm512_extracti64x4_epi64(v, 1)));
}

AVX512BW static uint32_t l2sq_u8_avx512(const uint8_t *a, const uint8_t *b, size_t n)
{
  __m512i zero = _mm512_setzero_si512(), s0 = zero, s1 = zero;
  for (size_t i = 0; i < n; i += 64) {
    __m512i x = _mm512_loadu_si512((const void *)(a + i));
    __m512i y = _mm512_loadu_si512((const void *)(b + i));
    __m512i d = _mm512_or_si512(_mm512_subs_epu8(x, y), _mm512_subs_epu8(y, x));
    __m512i lo = _mm512_unpacklo_epi8(d, zero), hi = _mm512_unpackhi_epi8(d, zero);
    s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(lo, lo));
    s1 = _mm512_add_epi32(s1, _mm512_madd_epi16(hi, hi));
  }
  return hsum512_epi32(_mm512_add_epi32(s0, s1));
}

AVX512BW static uint32_t dot_u8_avx512(const uint8_t *a, const uint8_t *b, size_t n)
{
  __m512i zero = _mm512_setzero_si512(), s0 = zero, s1 = zero;
  for (size_t i = 0; i < n; i += 64) {
    __m512i x = _mm512_loadu_si512((const void *)(a + i));
    __m512i y = _mm512_loadu_si512((const void *)(b + i));
    s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(_mm512_unpacklo_epi8(x, zero),
                                                _mm512_unpacklo_epi8(y, zero)));
    s1 = _mm512_add_epi32(s1, _mm512_madd_epi16(_mm512_unpackhi_epi8(x, zero),
                                                _mm512_unpackhi_epi8(y, zero)));
  }
  return hsum512_epi32(_mm512_add_epi32(s0, s1));
}

#endif /* OMEN__X86 */

/* -- Dispatch -------------------------------------------------------------- */

#if OMEN__X86
/* Half-precision conversions (F16C: CPUID leaf 1, ECX bit 29), which not
** every compiler's __builtin_cpu_supports names. */
static int has_f16c(void)
{
  unsigned a, b, c, d;
  return __get_cpuid(1, &a, &b, &c, &d) && (c >> 29 & 1);
}
#endif

int omen__isa_supported(omen__isa isa)
{
  switch (isa) {
  case OMEN__ISA_SCALAR:
    return 1;
#if OMEN__X86
  case OMEN__ISA_AVX2:
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
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
  k->matvec = matvec_scalar;
#if OMEN__X86
  if (isa >= OMEN__ISA_AVX2) { /* and AVX-512 ones without BW */
    k->l2sq_u8 = l2sq_u8_avx2;
    k->dot_u8 = dot_u8_avx2;
  }
  if (isa == OMEN__ISA_AVX512 && __builtin_cpu_supports("avx512bw")) {
    k->l2sq_u8 = l2sq_u8_avx512;
    k->dot_u8 = dot_u8_avx512;
  }
  if (isa == OMEN__ISA_AVX2) {
    k->l2sq = l2sq_avx2;
    k->dot = dot_avx2;
    k->matvec = matvec_avx2;
  } else if (isa == OMEN__ISA_AVX512) {
    k->l2sq = l2sq_avx512;
    k->dot = dot_avx512;
    k->matvec = matvec_avx512;
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
