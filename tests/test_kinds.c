/*
** The code-kind seam, from outside: a toy kind defined here (4-bit codes,
** two components a byte, one range for all of them) is registered the way
** kinds.c registers the built-in ones, by this file's own registry, which
** the test links instead of kinds.o. Collections of it build, search with
** exact distances, save its parameters, and reopen from the file, with no
** line of the engine knowing of it. (Not run against the amalgamation,
** which carries the built-in registry.)
*/
#include "testutil.h"

#include <math.h>

#include "codes.h"
#include "omen_int.h"

#define TOY_ID 100
#define DIM 24
#define N 3000
#define K 10

/* -- The toy kind ---------------------------------------------------------------- */

typedef struct toy {
  float lo, step; /* one range for every component; step 0 until fitted */
} toy;

static toy *params(const omen__codes *cs) { return cs->params; }

static int toy_init(omen__codes *cs, const omen__mem *m)
{
  cs->params_size = sizeof(toy);
  if (!(cs->params = omen__calloc(m, sizeof(toy)))) return OMEN_NOMEM;
  cs->row = (cs->dim + 1) / 2;
  cs->aux = 0;
  return OMEN_OK;
}

static void toy_free(omen__codes *cs, const omen__mem *m)
{
  omen__free(m, cs->params, cs->params_size);
}

static size_t toy_memory(const omen__codes *cs) { return cs->params_size; }
static int toy_fitted(const omen__codes *cs) { return params(cs)->step > 0; }

static int toy_place(const omen__codes *cs, const float *v, float mul)
{
  const toy *p = params(cs);
  if (!(p->step > 0)) return OMEN__CODES_FAR;
  for (uint32_t i = 0; i < cs->dim; i++) {
    float t = (v[i] * mul - p->lo) / p->step;
    if (!(t >= -15 && t <= 30)) return OMEN__CODES_FAR;
  }
  return OMEN__CODES_INSIDE;
}

static int toy_fit(omen__codes *cs, const omen__mem *mem, const float *const *rows,
                   const float *muls, size_t m, float *work)
{
  (void)mem, (void)work;
  float lo = INFINITY, hi = -INFINITY;
  for (size_t r = 0; r < m; r++)
    for (uint32_t i = 0; i < cs->dim; i++) {
      float x = rows[r][i] * muls[r];
      lo = x < lo ? x : lo;
      hi = x > hi ? x : hi;
    }
  if (!(hi > lo)) hi = lo + 1;
  params(cs)->lo = lo;
  params(cs)->step = (hi - lo) / 15;
  return OMEN_OK;
}

static void toy_encode(const omen__codes *cs, const float *v, float mul, uint8_t *row,
                       float *aux)
{
  (void)aux;
  const toy *p = params(cs);
  memset(row, 0, cs->row);
  for (uint32_t i = 0; i < cs->dim; i++) {
    float t = (v[i] * mul - p->lo) / p->step + 0.5f;
    int q = t <= 0 ? 0 : t >= 15 ? 15 : (int)t;
    row[i / 2] |= (uint8_t)(q << (4 * (i % 2)));
  }
}

static size_t toy_query_bytes(const omen__codes *cs) { return cs->row; }

static void toy_prepare(const omen__codes *cs, const float *q, void *buf, omen__query *out)
{
  toy_encode(cs, q, 1.0f, buf, NULL);
  out->f = q;
  out->code = buf;
  out->aux = 0;
}

static void toy_node_query(const omen__space *sp, uint32_t slot, void *buf, omen__query *out)
{
  (void)buf;
  out->f = omen__vec(sp, slot);
  out->code = omen__codes_row(sp->codes, slot);
  out->aux = 0;
}

/* Squared L2 between two rows of codes, in steps squared. */
static float rows_l2(const omen__codes *cs, const uint8_t *a, const uint8_t *b)
{
  uint32_t sum = 0;
  for (uint32_t i = 0; i < cs->dim; i++) {
    int x = a[i / 2] >> (4 * (i % 2)) & 15, y = b[i / 2] >> (4 * (i % 2)) & 15;
    sum += (uint32_t)((x - y) * (x - y));
  }
  float step = params(cs)->step;
  return step * step * (float)sum;
}

static float toy_dist(const omen__space *sp, const omen__query *q, uint32_t slot)
{
  return rows_l2(sp->codes, q->code, omen__codes_row(sp->codes, slot));
}

static void toy_dists(const omen__space *sp, const omen__query *q, const uint32_t *slots,
                      size_t n, float *out)
{
  for (size_t i = 0; i < n; i++) out[i] = toy_dist(sp, q, slots[i]);
}

static float toy_dist_nodes(const omen__space *sp, uint32_t a, uint32_t b)
{
  const omen__codes *cs = sp->codes;
  return rows_l2(cs, omen__codes_row(cs, a), omen__codes_row(cs, b));
}

static size_t toy_saved_bytes(const omen__codes *cs)
{
  return toy_fitted(cs) ? sizeof(toy) : 0;
}

static void toy_save(const omen__codes *cs, void *out) { memcpy(out, cs->params, sizeof(toy)); }

static int toy_load(omen__codes *cs, const void *in, size_t n)
{
  if (n == 0) return OMEN_OK;
  toy t;
  if (n != sizeof t) return OMEN_CORRUPT;
  memcpy(&t, in, sizeof t);
  if (!(t.step > 0) || !isfinite(t.step) || !isfinite(t.lo)) return OMEN_CORRUPT;
  *params(cs) = t;
  return OMEN_OK;
}

static const omen__code_kind toy_kind = {
  "toy", TOY_ID, 0, 0,
  toy_init, toy_free, toy_memory,
  toy_fitted, toy_place, toy_fit, toy_encode,
  toy_query_bytes, toy_prepare, toy_node_query,
  toy_dists, toy_dist, toy_dist_nodes,
  toy_saved_bytes, toy_save, toy_load,
};

/* This test's registry, in place of kinds.c's: the built-in kinds and the toy. */
extern const omen__code_kind omen__kind_none, omen__kind_sq8;
const omen__code_kind *const omen__code_kinds[] = {&omen__kind_none, &omen__kind_sq8,
                                                   &toy_kind, NULL};

/* -- The test ------------------------------------------------------------------- */

static char path[128];

static double recall_and_ids(omen_coll *c, const float *data, const float *queries, size_t nq,
                             size_t *ids)
{
  omen_result *r;
  assert_int_equal(omen_result_new(omen_coll_db(c), &r), OMEN_OK);
  omen_search_opts o;
  omen_search_opts_init(&o, K);
  size_t found = 0;
  for (size_t q = 0; q < nq; q++) {
    size_t truth[K];
    double dist[K];
    tu_brute(OMEN_L2, data, N, DIM, queries + q * DIM, K, truth, dist);
    assert_int_equal(omen_search(c, queries + q * DIM, &o, r), OMEN_OK);
    assert_int_equal(omen_result_count(r), K);
    for (size_t i = 0; i < K; i++) {
      const omen_hit *h = omen_result_hit(r, i);
      char num[16] = {0}; /* "id-N", not terminated */
      assert_true(h->id.len > 3 && h->id.len < 3 + sizeof num);
      memcpy(num, h->id.ptr + 3, h->id.len - 3);
      size_t at = strtoul(num, NULL, 10);
      if (at >= N) print_message("  bad id %.*s\n", (int)h->id.len, h->id.ptr);
      assert_true(at < N);
      /* exact distances: the codes only steer the walk */
      assert_true(fabs(h->distance - tu_dist(OMEN_L2, data + at * DIM, queries + q * DIM, DIM)) <=
                  1e-3 * (1 + h->distance));
      ids[q * K + i] = at;
      for (size_t j = 0; j < K; j++) found += truth[j] == at;
    }
  }
  omen_result_free(r);
  return (double)found / (double)(nq * K);
}

static void t_toy_kind(void **state)
{
  (void)state;
  snprintf(path, sizeof path, "/tmp/omen-test-kinds-%d.omen", (int)getpid());
  unlink(path);
  assert_int_equal(omen_quant_from_name("toy"), TOY_ID);
  assert_string_equal(omen_quant_name((omen_quant)TOY_ID), "toy");
  assert_string_equal(omen_quantization_at(2), "toy");
  assert_null(omen_quantization_at(3));

  float *data = tu_clustered(N, DIM, 12, 7), *queries = tu_clustered(100, DIM, 12, 8);
  size_t *before = malloc(100 * K * sizeof *before), *after = malloc(100 * K * sizeof *after);
  omen_db *db = tu_open(path, 0);
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, DIM);
  cfg.quantization = (omen_quant)TOY_ID;
  omen_coll *c;
  assert_int_equal(omen_coll_create(db, "t", &cfg, &c), OMEN_OK);
  omen_str *ids = malloc(N * sizeof *ids);
  char (*names)[16] = malloc(N * sizeof *names);
  for (size_t i = 0; i < N; i++) {
    tu_id(names[i], sizeof names[i], i);
    ids[i] = (omen_str){names[i], strlen(names[i])};
  }
  assert_int_equal(omen_upsert_batch(c, N, ids, data, NULL, 2), OMEN_OK);
  assert_true(c->codes.kind == &toy_kind && toy_fitted(&c->codes));
  double r = recall_and_ids(c, data, queries, 100, before);
  print_message("  toy 4-bit kind: recall@%d %.4f\n", K, r);
  assert_true(r >= 0.85);
  omen_coll_close(c);
  assert_int_equal(omen_close(db), OMEN_OK);

  db = tu_open(path, OMEN_OPEN_VERIFY); /* its parameters come back from the file */
  assert_int_equal(omen_coll_open(db, "t", &c), OMEN_OK);
  omen_coll_info info;
  assert_int_equal(omen_coll_info_get(c, &info), OMEN_OK);
  assert_int_equal((int)info.config.quantization, TOY_ID);
  assert_true(toy_fitted(&c->codes));
  recall_and_ids(c, data, queries, 100, after);
  assert_memory_equal(before, after, 100 * K * sizeof *before);
  omen_coll_close(c);
  assert_int_equal(omen_close(db), OMEN_OK);
  unlink(path);
  free(ids);
  free(names);
  free(data);
  free(queries);
  free(before);
  free(after);
}

int main(void)
{
  const struct CMUnitTest tests[] = {cmocka_unit_test(t_toy_kind)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
