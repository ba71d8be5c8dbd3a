/*
** Queries through the public API (query.c): every metric, exact search
** against brute force, counts, searches beside writers on other threads,
** batch search, listing.
*/
#include "coll_fixture.h"

/* Distances follow the documented conventions for each metric. */
static void t_metrics(void **state)
{
  (void)state;
  const float a[3] = {1, 2, 2}, q[3] = {2, 0, 1};
  const double want[] = {0, 1 + 4 + 1, 1 - 4.0 / (3 * sqrt(5)), -4};
  for (int m = OMEN_L2; m <= OMEN_IP; m++) {
    omen_coll_config cfg;
    omen_coll_config_init(&cfg, 3);
    cfg.metric = (omen_metric)m;
    omen_coll *c;
    char name[16];
    snprintf(name, sizeof name, "m%d", m);
    assert_int_equal(omen_coll_create(db, name, &cfg, &c), OMEN_OK);
    assert_int_equal(omen_upsert(c, "a", 1, a, NULL, 0), OMEN_OK);
    omen_search_opts o;
    omen_search_opts_init(&o, 5);
    assert_int_equal(omen_search(c, q, &o, res), OMEN_OK);
    assert_int_equal(omen_result_count(res), 1);
    assert_float_equal(omen_result_hit(res, 0)->distance, want[m], 1e-5);
    omen_coll_close(c);
  }
  assert_string_equal(omen_metric_name(OMEN_COSINE), "cosine");
  assert_int_equal(omen_metric_from_name("ip"), OMEN_IP);
  assert_int_equal(omen_metric_from_name("manhattan"), 0);
}

/* Exact search returns exactly the brute-force neighbours, all metrics. */
static void t_exact_is_brute_force(void **state)
{
  (void)state;
  const size_t n = 3000, k = 25;
  float *data = tu_clustered(n, DIM, 10, 77);
  float *queries = tu_clustered(20, DIM, 10, 78);
  for (int m = OMEN_L2; m <= OMEN_IP; m++) {
    omen_coll_config cfg;
    omen_coll_config_init(&cfg, DIM);
    cfg.metric = (omen_metric)m;
    omen_coll *c;
    char name[16], id[16];
    snprintf(name, sizeof name, "e%d", m);
    assert_int_equal(omen_coll_create(db, name, &cfg, &c), OMEN_OK);
    for (size_t i = 0; i < n; i++) {
      tu_id(id, sizeof id, i);
      assert_int_equal(omen_upsert(c, id, strlen(id), data + i * DIM, NULL, 0), OMEN_OK);
    }
    omen_search_opts o;
    omen_search_opts_init(&o, (uint32_t)k);
    o.exact = 1;
    for (size_t q = 0; q < 20; q++) {
      size_t truth[25];
      double dist[25];
      tu_brute((omen_metric)m, data, n, DIM, queries + q * DIM, k, truth, dist);
      assert_int_equal(omen_search(c, queries + q * DIM, &o, res), OMEN_OK);
      assert_int_equal(omen_result_count(res), k);
      for (size_t i = 0; i < k; i++) {
        const omen_hit *h = omen_result_hit(res, i);
        assert_float_equal(h->distance, dist[i], 1e-3 * (1 + fabs(dist[i])));
        tu_id(id, sizeof id, truth[i]);
        /* Ties may swap places; the distance check above covers them. */
        if (h->id.len != strlen(id) || memcmp(h->id.ptr, id, h->id.len))
          assert_float_equal(dist[i], tu_dist((omen_metric)m, data + truth[i] * DIM,
                                              queries + q * DIM, DIM), 1e-9);
      }
    }
    omen_coll_close(c);
  }
  free(data);
  free(queries);
}

static void t_search_counts(void **state)
{
  (void)state;
  float v[DIM];
  vec_of(v, 0);
  omen_search_opts o;
  omen_search_opts_init(&o, 10);
  assert_int_equal(omen_search(coll, v, &o, res), OMEN_OK);
  assert_int_equal(omen_result_count(res), 0); /* empty collection */
  char id[16];
  for (int i = 0; i < 3; i++) {
    tu_id(id, sizeof id, (size_t)i);
    assert_int_equal(put(id, (float)i), OMEN_OK);
  }
  assert_int_equal(omen_search(coll, v, &o, res), OMEN_OK);
  assert_int_equal(omen_result_count(res), 3); /* min(k, count) */
  assert_memory_equal(omen_result_hit(res, 0)->id.ptr, "id-0", 4);
  assert_int_equal(omen_delete(coll, "id-0", 4), OMEN_OK);
  assert_int_equal(omen_search(coll, v, &o, res), OMEN_OK);
  assert_int_equal(omen_result_count(res), 2); /* gone at once */
  for (size_t i = 0; i < 2; i++)
    assert_true(memcmp(omen_result_hit(res, i)->id.ptr, "id-0", 4));
}

/* Readers search while a writer keeps inserting; every search succeeds and
** sees a consistent collection. */
typedef struct reader_arg {
  omen_coll *c;
  int searches;
  int failures;
} reader_arg;

static void *reader(void *p)
{
  reader_arg *a = p;
  omen_result *r;
  if (omen_result_new(omen_coll_db(a->c), &r)) return NULL;
  omen_search_opts o;
  omen_search_opts_init(&o, 5);
  float q[DIM];
  vec_of(q, 3);
  for (int i = 0; i < 300; i++) {
    if (omen_search(a->c, q, &o, r)) a->failures++;
    for (size_t j = 1; j < omen_result_count(r); j++)
      if (omen_result_hit(r, j)->distance < omen_result_hit(r, j - 1)->distance)
        a->failures++;
    a->searches++;
  }
  omen_result_free(r);
  return NULL;
}

static void t_threads(void **state)
{
  (void)state;
  pthread_t th[2];
  reader_arg args[2] = {{coll, 0, 0}, {coll, 0, 0}};
  for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, reader, &args[i]);
  char id[16];
  for (int i = 0; i < 3000; i++) {
    tu_id(id, sizeof id, (size_t)(i % 1500));
    assert_int_equal(put(id, (float)i * 0.01f), OMEN_OK);
  }
  for (int i = 0; i < 2; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(args[i].failures, 0);
    assert_int_equal(args[i].searches, 300);
  }
  assert_int_equal(count(), 1500);
}

/* A batch answers each query exactly as a lone search does, on any number
** of threads; bad input fails the whole batch and changes no result. */
static void t_search_batch(void **state)
{
  {
    omen_search_opts none;
    omen_search_opts_init(&none, 1);
    assert_int_equal(omen_search_batch(coll, 2, NULL, &none, NULL, 1), OMEN_INVALID);
    assert_non_null(strstr(omen_errmsg(db), "queries is missing"));
  }
  (void)state;
  enum { N = 3000, NQ = 300 };
  uint64_t s = 5;
  for (int i = 0; i < N; i++) {
    float v[DIM];
    char id[16];
    tu_random_vec(&s, v, DIM);
    tu_id(id, sizeof id, (size_t)i);
    assert_int_equal(omen_upsert(coll, id, strlen(id), v, NULL, 0), OMEN_OK);
  }
  float *q = malloc(NQ * DIM * sizeof(float));
  omen_result *rs[NQ];
  for (int i = 0; i < NQ; i++) assert_int_equal(omen_result_new(db, &rs[i]), OMEN_OK);
  tu_random_vec(&s, q, NQ * DIM);
  omen_search_opts o;
  omen_search_opts_init(&o, 7);
  o.ef = 32;
  for (unsigned threads = 0; threads <= 3; threads++) {
    assert_int_equal(omen_search_batch(coll, NQ, q, &o, rs, threads), OMEN_OK);
    for (int i = 0; i < NQ; i++) {
      assert_int_equal(omen_search(coll, q + i * DIM, &o, res), OMEN_OK);
      assert_int_equal(omen_result_count(rs[i]), omen_result_count(res));
      for (size_t h = 0; h < omen_result_count(res); h++) {
        const omen_hit *a = omen_result_hit(rs[i], h), *b = omen_result_hit(res, h);
        assert_int_equal(a->id.len, b->id.len);
        assert_memory_equal(a->id.ptr, b->id.ptr, a->id.len);
        assert_true(a->distance == b->distance);
      }
    }
  }
  assert_int_equal(omen_search_batch(coll, 0, NULL, &o, NULL, 2), OMEN_OK);
  q[(NQ - 1) * DIM + 3] = NAN;
  expect(omen_search_batch(coll, NQ, q, &o, rs, 2), OMEN_INVALID, "query 300 component 4 is NaN");
  for (int i = 0; i < NQ; i++) assert_int_equal(omen_result_count(rs[i]), 7);
  q[(NQ - 1) * DIM + 3] = 0;
  o.k = 0;
  expect(omen_search_batch(coll, NQ, q, &o, rs, 2), OMEN_INVALID, "k must be");
  o.k = 7;
  omen_result *kept = rs[5];
  rs[5] = NULL;
  expect(omen_search_batch(coll, NQ, q, &o, rs, 2), OMEN_INVALID, "results[5] is NULL");
  rs[5] = kept;
  for (int i = 0; i < NQ; i++) omen_result_free(rs[i]);
  free(q);
}

/* Listing: every live record exactly once, page by page, with what is
** asked; bad arguments are refused. */
static void t_list(void **state)
{
  (void)state;
  char id[16];
  for (int i = 0; i < 100; i++) {
    tu_id(id, sizeof id, (size_t)i);
    assert_int_equal(put(id, (float)i), OMEN_OK);
  }
  for (int i = 0; i < 100; i += 3) {
    tu_id(id, sizeof id, (size_t)i);
    assert_int_equal(omen_delete(coll, id, strlen(id)), OMEN_OK);
  }
  int seen[100] = {0}, listed = 0;
  uint64_t cursor = 0;
  for (;;) {
    assert_int_equal(omen_list(coll, &cursor, 7, OMEN_WITH_VECTOR, res), OMEN_OK);
    size_t n = omen_result_count(res);
    assert_true(n <= 7);
    if (n == 0) break;
    for (size_t j = 0; j < n; j++) {
      const omen_hit *h = omen_result_hit(res, j);
      int i = atoi(h->id.ptr + 3); /* "id-N" */
      assert_true(i >= 0 && i < 100 && i % 3 != 0);
      assert_true(h->vec[0] == (float)i);
      assert_null(h->meta);
      seen[i]++;
      listed++;
    }
  }
  assert_int_equal(listed, 66);
  for (int i = 0; i < 100; i++) assert_int_equal(seen[i], i % 3 ? 1 : 0);
  cursor = 0;
  assert_int_equal(omen_list(coll, &cursor, 0, 0, res), OMEN_INVALID);
  assert_int_equal(omen_list(coll, NULL, 5, 0, res), OMEN_INVALID);
  assert_int_equal(omen_list(coll, &cursor, 1000, 0, res), OMEN_OK);
  assert_int_equal(omen_result_count(res), 66);
  assert_null(omen_result_hit(res, 0)->vec);
}

WITH_FIXTURE(t_metrics)
WITH_FIXTURE(t_exact_is_brute_force)
WITH_FIXTURE(t_search_counts)
WITH_FIXTURE(t_threads)
WITH_FIXTURE(t_search_batch)
WITH_FIXTURE(t_list)

int main(void)
{
#define T(f) cmocka_unit_test(f##_)
  const struct CMUnitTest tests[] = {
    T(t_metrics), T(t_exact_is_brute_force), T(t_search_counts), T(t_threads),
    T(t_search_batch), T(t_list),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
