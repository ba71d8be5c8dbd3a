/*
** Distance kernels: every kernel the machine can run agrees with a double
** precision reference, for every padded length and awkward values; the
** kernels over 8-bit codes are exact; a vector times a half-precision
** matrix matches the reference, odd row counts included; halves convert
** to nearest, subnormals and limits included.
*/
#include "testutil.h"

#include "distance.h"

static double ref_l2(const float *a, const float *b, size_t n)
{
  double s = 0;
  for (size_t i = 0; i < n; i++) s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
  return s;
}

static double ref_dot(const float *a, const float *b, size_t n)
{
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
  return s;
}

/* The code kernels are integer sums: exact, up to the largest dimension
** with every code at its extremes. */
static void check_codes(const omen__kernels *k)
{
  uint64_t s = 9;
  for (size_t n = OMEN__CODE_PAD; n <= 1024; n += OMEN__CODE_PAD) {
    uint8_t a[1024], b[1024];
    for (size_t i = 0; i < n; i++) {
      a[i] = (uint8_t)(tu_uniform(&s) * 256);
      b[i] = (uint8_t)(tu_uniform(&s) * 256);
    }
    uint32_t l2 = 0, dot = 0;
    for (size_t i = 0; i < n; i++) {
      l2 += (uint32_t)((a[i] - b[i]) * (a[i] - b[i]));
      dot += (uint32_t)a[i] * b[i];
    }
    assert_int_equal(k->l2sq_u8(a, b, n), l2);
    assert_int_equal(k->dot_u8(a, b, n), dot);
  }
  size_t n = OMEN_MAX_DIM;
  uint8_t *hi = malloc(n), *zero = calloc(n, 1);
  assert_non_null(hi);
  assert_non_null(zero);
  memset(hi, 255, n);
  assert_int_equal(k->l2sq_u8(hi, zero, n), 255u * 255u * n);
  assert_int_equal(k->dot_u8(hi, hi, n), 255u * 255u * n);
  free(hi);
  free(zero);
}

/* A vector times a matrix of halves, against double sums of the same
** halves: rows odd and even, one block of columns and several. */
static void check_matvec(const omen__kernels *k)
{
  uint64_t s = 5;
  static const size_t shapes[][2] = {{1, 64}, {3, 64}, {7, 128}, {784, 192}, {33, 256}};
  for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
    size_t rows = shapes[t][0], cols = shapes[t][1];
    uint16_t *m = malloc(rows * cols * sizeof *m);
    float *x = malloc(rows * sizeof *x), *y = malloc(cols * sizeof *y);
    for (size_t i = 0; i < rows * cols; i++)
      m[i] = omen__half_of((float)(tu_uniform(&s) * 2 - 1));
    for (size_t i = 0; i < rows; i++) x[i] = (float)(tu_uniform(&s) * 200 - 100);
    k->matvec(m, x, rows, cols, y);
    for (size_t j = 0; j < cols; j++) {
      double want = 0, mag = 0;
      for (size_t i = 0; i < rows; i++) {
        double term = x[i] * (double)omen__float_of_half(m[i * cols + j]);
        want += term;
        mag += fabs(term);
      }
      assert_true(fabs(y[j] - want) <= 1e-5 * mag + 1e-6);
    }
    free(m);
    free(x);
    free(y);
  }
}

static void check_isa(omen__isa isa)
{
  omen__kernels k;
  if (!omen__isa_supported(isa)) {
    print_message("  %s: not supported here, skipped\n", omen__isa_name(isa));
    assert_int_equal(omen__kernels_get(isa, &k), OMEN_NOTFOUND);
    return;
  }
  assert_int_equal(omen__kernels_get(isa, &k), OMEN_OK);
  assert_int_equal(k.isa, isa);
  uint64_t s = 42;
  for (size_t n = OMEN__PAD; n <= 1024 + OMEN__PAD; n += OMEN__PAD) {
    float *a = aligned_alloc(64, n * sizeof(float));
    float *b = aligned_alloc(64, n * sizeof(float));
    for (int round = 0; round < 4; round++) {
      double scale = round == 3 ? 1000.0 : 1.0;
      for (size_t i = 0; i < n; i++) {
        a[i] = (float)((tu_uniform(&s) * 2 - 1) * scale);
        b[i] = (float)((tu_uniform(&s) * 2 - 1) * scale);
      }
      double l2 = ref_l2(a, b, n), dot = ref_dot(a, b, n);
      double mag = ref_dot(a, a, n) + ref_dot(b, b, n);
      assert_true(fabs(k.l2sq(a, b, n) - l2) <= 1e-5 * (l2 + 1e-6) + 1e-6);
      assert_true(fabs(k.dot(a, b, n) - dot) <= 1e-5 * mag + 1e-6);
      assert_true(k.l2sq(a, a, n) == 0.0f); /* identical vectors: exactly 0 */
    }
    free(a);
    free(b);
  }
  check_codes(&k);
  check_matvec(&k);
}

/* Halves: exact where a half can be exact, else within half a unit in the
** last place (to nearest, ties to even), and the limits. */
static void t_half(void **state)
{
  (void)state;
  static const float exact[] = {0.0f, 1.0f, -2.5f, 65504.0f, 0.000061035156f /* 2^-14 */,
                                0.000000059604645f /* 2^-24 */, -0.333251953125f};
  for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
    assert_true(omen__float_of_half(omen__half_of(exact[i])) == exact[i]);
  assert_int_equal(omen__half_of(1.0f + 1.0f / 2048), 0x3c00);      /* tie: to even */
  assert_int_equal(omen__half_of(1.0f + 3.0f / 2048), 0x3c02);      /* tie: to even */
  assert_int_equal(omen__half_of(1e6f), 0x7c00);                     /* too big */
  assert_int_equal(omen__half_of(-1e-9f), 0x8000);                   /* too small */
  assert_true(isinf(omen__float_of_half(omen__half_of(INFINITY))));
  assert_true(isnan(omen__float_of_half(omen__half_of(NAN))));
  uint64_t s = 3;
  for (int i = 0; i < 100000; i++) {
    float f = (float)((tu_uniform(&s) * 2 - 1) * pow(2, (int)(tu_uniform(&s) * 40) - 26));
    float back = omen__float_of_half(omen__half_of(f));
    double ulp = fabs(f) < 6.103515625e-05 ? pow(2, -24) : pow(2, floor(log2(fabs(f))) - 10);
    assert_true(fabs(back - f) <= ulp / 2);
  }
}

static void t_scalar(void **state) { (void)state; check_isa(OMEN__ISA_SCALAR); }
static void t_avx2(void **state) { (void)state; check_isa(OMEN__ISA_AVX2); }
static void t_avx512(void **state) { (void)state; check_isa(OMEN__ISA_AVX512); }

/* All supported kernels agree with each other to float tolerance. */
static void t_agree(void **state)
{
  (void)state;
  omen__kernels ref, k;
  omen__kernels_get(OMEN__ISA_SCALAR, &ref);
  uint64_t s = 7;
  float a[784], b[784];
  tu_random_vec(&s, a, 784);
  tu_random_vec(&s, b, 784);
  for (int isa = 0; isa < OMEN__ISA_COUNT; isa++) {
    if (omen__kernels_get((omen__isa)isa, &k)) continue;
    assert_float_equal(k.l2sq(a, b, 784), ref.l2sq(a, b, 784), 1e-3);
    assert_float_equal(k.dot(a, b, 784), ref.dot(a, b, 784), 1e-3);
  }
}

static void t_best(void **state)
{
  (void)state;
  omen__isa best = omen__isa_best();
  assert_true(omen__isa_supported(best));
  print_message("  best kernels here: %s\n", omen__isa_name(best));
  assert_int_equal(omen__padded(1), 16);
  assert_int_equal(omen__padded(16), 16);
  assert_int_equal(omen__padded(784), 784);
  assert_int_equal(omen__padded(785), 800);
  assert_int_equal(omen__code_padded(1), OMEN__CODE_PAD);
  assert_int_equal(omen__code_padded(784), 832);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(t_scalar), cmocka_unit_test(t_avx2),
    cmocka_unit_test(t_avx512), cmocka_unit_test(t_agree), cmocka_unit_test(t_half),
    cmocka_unit_test(t_best),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
