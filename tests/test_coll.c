/*
** Collections through the public API: records, replacement, deletion and
** slot reuse, metadata, metrics, exact search against brute force, batch
** atomicity, bad input, handle lifetimes, threads, batch search, listing.
*/
#include "testutil.h"

#define DIM 8

static omen_db *db;
static omen_coll *coll;
static omen_result *res;

static int setup(void **state)
{
  (void)state;
  db = tu_open(NULL, 0);
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, DIM);
  assert_int_equal(omen_coll_create(db, "c", &cfg, &coll), OMEN_OK);
  assert_int_equal(omen_result_new(db, &res), OMEN_OK);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  omen_result_free(res);
  omen_coll_close(coll);
  assert_int_equal(omen_close(db), OMEN_OK);
  return 0;
}

static void vec_of(float *v, float base)
{
  for (int i = 0; i < DIM; i++) v[i] = base + (float)i * 0.125f;
}

static uint64_t count(void)
{
  uint64_t n = 0;
  assert_int_equal(omen_count(coll, &n), OMEN_OK);
  return n;
}

static int put(const char *id, float base)
{
  float v[DIM];
  vec_of(v, base);
  return omen_upsert(coll, id, strlen(id), v, NULL, 0);
}

static void t_upsert_get_delete(void **state)
{
  (void)state;
  assert_int_equal(put("a", 1), OMEN_OK);
  assert_int_equal(put("b", 2), OMEN_OK);
  assert_int_equal(count(), 2);
  assert_int_equal(omen_get(coll, "a", 1, res), OMEN_OK);
  const omen_hit *h = omen_result_hit(res, 0);
  float v[DIM];
  vec_of(v, 1);
  assert_memory_equal(h->vec, v, sizeof v);
  assert_int_equal(h->id.len, 1);
  assert_int_equal(h->n_meta, 0);
  assert_int_equal(put("a", 5), OMEN_OK); /* replace */
  assert_int_equal(count(), 2);
  assert_int_equal(omen_get(coll, "a", 1, res), OMEN_OK);
  vec_of(v, 5);
  assert_memory_equal(omen_result_hit(res, 0)->vec, v, sizeof v);
  assert_int_equal(omen_delete(coll, "a", 1), OMEN_OK);
  assert_int_equal(omen_delete(coll, "a", 1), OMEN_NOTFOUND);
  assert_int_equal(omen_get(coll, "a", 1, res), OMEN_NOTFOUND);
  assert_int_equal(omen_result_count(res), 0);
  assert_int_equal(count(), 1);
}

static void t_meta(void **state)
{
  (void)state;
  const omen_str tags[] = {{"x", 1}, {"yz", 2}};
  omen_field f[4] = {
    {{"cat", 3}, {.type = OMEN_STRING, .u.string = {"shoes", 5}}},
    {{"price", 5}, {.type = OMEN_NUMBER, .u.number = 49.5}},
    {{"new", 3}, {.type = OMEN_BOOL, .u.boolean = 1}},
    {{"tags", 4}, {.type = OMEN_STRINGS, .u.strings = {tags, 2}}},
  };
  float v[DIM];
  vec_of(v, 0);
  assert_int_equal(omen_upsert(coll, "m", 1, v, f, 4), OMEN_OK);
  assert_int_equal(omen_get(coll, "m", 1, res), OMEN_OK);
  const omen_hit *h = omen_result_hit(res, 0);
  assert_int_equal(h->n_meta, 4);
  int seen = 0;
  for (size_t i = 0; i < h->n_meta; i++) {
    const omen_field *g = &h->meta[i];
    if (g->key.len == 3 && !memcmp(g->key.ptr, "cat", 3)) {
      assert_int_equal(g->value.type, OMEN_STRING);
      assert_memory_equal(g->value.u.string.ptr, "shoes", 5);
      seen |= 1;
    } else if (g->key.len == 5) {
      assert_true(g->value.u.number == 49.5);
      seen |= 2;
    } else if (g->key.len == 3) {
      assert_int_equal(g->value.u.boolean, 1);
      seen |= 4;
    } else {
      assert_int_equal(g->value.u.strings.n, 2);
      assert_memory_equal(g->value.u.strings.items[1].ptr, "yz", 2);
      seen |= 8;
    }
  }
  assert_int_equal(seen, 15);
  /* Same vector, new meta: the record changes without touching the graph. */
  assert_int_equal(omen_upsert(coll, "m", 1, v, f, 1), OMEN_OK);
  assert_int_equal(omen_get(coll, "m", 1, res), OMEN_OK);
  assert_int_equal(omen_result_hit(res, 0)->n_meta, 1);
  /* Search can leave metadata out. */
  omen_search_opts o;
  omen_search_opts_init(&o, 1);
  o.with = 0;
  assert_int_equal(omen_search(coll, v, &o, res), OMEN_OK);
  assert_int_equal(omen_result_hit(res, 0)->n_meta, 0);
  assert_null(omen_result_hit(res, 0)->vec);
}

/* Bad input is refused with a message naming the problem, changing nothing. */
static void expect(int rc, int want, const char *text)
{
  assert_int_equal(rc, want);
  const char *msg = omen_errmsg(db);
  if (!strstr(msg, text)) fail_msg("message '%s' lacks '%s'", msg, text);
}

static void t_bad_input(void **state)
{
  (void)state;
  assert_int_equal(put("keep", 1), OMEN_OK);
  float v[DIM];
  vec_of(v, 0);
  v[3] = NAN;
  expect(omen_upsert(coll, "x", 1, v, NULL, 0), OMEN_INVALID, "component 4 is NaN");
  v[3] = INFINITY;
  expect(omen_upsert(coll, "x", 1, v, NULL, 0), OMEN_INVALID, "infinite");
  vec_of(v, 0);
  expect(omen_upsert(coll, "", 0, v, NULL, 0), OMEN_INVALID, "empty");
  char big[OMEN_MAX_ID + 1];
  memset(big, 'x', sizeof big);
  expect(omen_upsert(coll, big, sizeof big, v, NULL, 0), OMEN_INVALID, "at most 1024");
  assert_int_equal(omen_upsert(coll, big, OMEN_MAX_ID, v, NULL, 0), OMEN_OK);
  assert_int_equal(omen_delete(coll, big, OMEN_MAX_ID), OMEN_OK);
  expect(omen_upsert(coll, "x", 1, NULL, NULL, 0), OMEN_INVALID, "missing");
  omen_field f = {{"k", 1}, {.type = OMEN_NUMBER, .u.number = NAN}};
  expect(omen_upsert(coll, "x", 1, v, &f, 1), OMEN_INVALID, "NaN");
  omen_search_opts o;
  omen_search_opts_init(&o, 0);
  expect(omen_search(coll, v, &o, res), OMEN_INVALID, "k must be");
  assert_int_equal(count(), 1);
  assert_int_equal(omen_get(coll, "x", 1, res), OMEN_NOTFOUND);

  omen_coll_config cfg;
  omen_coll_config_init(&cfg, 0);
  omen_coll *c2;
  expect(omen_coll_create(db, "d", &cfg, &c2), OMEN_INVALID, "dim must be");
  cfg.dim = 4;
  cfg.metric = (omen_metric)9;
  expect(omen_coll_create(db, "d", &cfg, &c2), OMEN_INVALID, "metric");
  cfg.metric = OMEN_L2;
  cfg.m = 1;
  expect(omen_coll_create(db, "d", &cfg, &c2), OMEN_INVALID, "m must be");
  cfg.m = 16;
  expect(omen_coll_create(db, "", &cfg, &c2), OMEN_INVALID, "name");
  expect(omen_coll_create(db, "c", &cfg, &c2), OMEN_EXISTS, "already exists");
  expect(omen_coll_open(db, "nope", &c2), OMEN_NOTFOUND, "no collection");
}

static void t_cosine_zero(void **state)
{
  (void)state;
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, 3);
  cfg.metric = OMEN_COSINE;
  omen_coll *c;
  assert_int_equal(omen_coll_create(db, "cos", &cfg, &c), OMEN_OK);
  float zero[3] = {0, 0, 0};
  expect(omen_upsert(c, "z", 1, zero, NULL, 0), OMEN_INVALID, "all zeros");
  omen_coll_close(c);
}

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

/* Deleted slots are reused once consolidated (every 64 deletes here): the
** slot count grows by less than that, round after round. */
static void t_slot_reuse(void **state)
{
  (void)state;
  char id[16];
  for (int i = 0; i < 2000; i++) {
    tu_id(id, sizeof id, (size_t)i);
    assert_int_equal(put(id, (float)i), OMEN_OK);
  }
  omen_coll_info info;
  assert_int_equal(omen_coll_info_get(coll, &info), OMEN_OK);
  assert_int_equal(info.slots, 2000);
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 2000; i += 2) {
      tu_id(id, sizeof id, (size_t)i);
      assert_int_equal(omen_delete(coll, id, strlen(id)), OMEN_OK);
    }
    assert_int_equal(omen_coll_info_get(coll, &info), OMEN_OK);
    assert_int_equal(info.count, 1000);
    assert_int_equal(info.deleted, info.slots - 1000);
    for (int i = 0; i < 2000; i += 2) {
      tu_id(id, sizeof id, (size_t)i);
      assert_int_equal(put(id, (float)(i + round)), OMEN_OK);
    }
    assert_int_equal(omen_coll_info_get(coll, &info), OMEN_OK);
    assert_true(info.slots < 2000 + 64);
    assert_int_equal(info.count, 2000);
  }
  float v[DIM];
  vec_of(v, 1000 + 2);
  omen_search_opts o;
  omen_search_opts_init(&o, 1);
  assert_int_equal(omen_search(coll, v, &o, res), OMEN_OK);
  assert_memory_equal(omen_result_hit(res, 0)->id.ptr, "id-1000", 7);
  assert_float_equal(omen_result_hit(res, 0)->distance, 0, 1e-6);
}

/* A batch is all or nothing; a repeated id keeps its last record. */
static void t_batch(void **state)
{
  (void)state;
  float v[4 * DIM];
  for (int i = 0; i < 4; i++) vec_of(v + i * DIM, (float)i);
  omen_str ids[4] = {{"p", 1}, {"q", 1}, {"p", 1}, {"r", 1}};
  omen_field f = {{"n", 1}, {.type = OMEN_NUMBER, .u.number = 3}};
  omen_meta metas[4] = {{NULL, 0}, {NULL, 0}, {&f, 1}, {NULL, 0}};
  assert_int_equal(omen_upsert_batch(coll, 4, ids, v, metas, 2), OMEN_OK);
  assert_int_equal(count(), 3);
  assert_int_equal(omen_get(coll, "p", 1, res), OMEN_OK);
  assert_memory_equal(omen_result_hit(res, 0)->vec, v + 2 * DIM, DIM * sizeof(float));
  assert_int_equal(omen_result_hit(res, 0)->n_meta, 1);

  v[3 * DIM + 1] = NAN; /* the 4th record is bad: nothing is stored */
  omen_str more[4] = {{"s", 1}, {"t", 1}, {"p", 1}, {"u", 1}};
  expect(omen_upsert_batch(coll, 4, more, v, NULL, 1), OMEN_INVALID, "record 4");
  assert_int_equal(count(), 3);
  assert_int_equal(omen_get(coll, "s", 1, res), OMEN_NOTFOUND);
  assert_int_equal(omen_get(coll, "p", 1, res), OMEN_OK);
  assert_int_equal(omen_result_hit(res, 0)->n_meta, 1);
  assert_int_equal(omen_upsert_batch(coll, 0, NULL, NULL, NULL, 1), OMEN_OK);
}

/* Handles outlive drops and closes; calls then fail cleanly. */
static void t_lifetimes(void **state)
{
  (void)state;
  omen_db *d = tu_open(NULL, 0);
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, 2);
  omen_coll *a, *a2, *b;
  assert_int_equal(omen_coll_create(d, "a", &cfg, &a), OMEN_OK);
  assert_int_equal(omen_coll_open(d, "a", &a2), OMEN_OK);
  assert_ptr_equal(a, a2);
  assert_int_equal(omen_coll_create(d, "b", &cfg, &b), OMEN_OK);
  float v[2] = {1, 2};
  assert_int_equal(omen_upsert(a, "x", 1, v, NULL, 0), OMEN_OK);
  assert_int_equal(omen_coll_drop(d, "a"), OMEN_OK);
  assert_int_equal(omen_upsert(a, "x", 1, v, NULL, 0), OMEN_DROPPED);
  assert_non_null(strstr(omen_errmsg(d), "dropped"));
  assert_int_equal(omen_coll_drop(d, "a"), OMEN_NOTFOUND);
  size_t need, n;
  char names[64];
  assert_int_equal(omen_coll_names(d, names, sizeof names, &need, &n), OMEN_OK);
  assert_int_equal(n, 1);
  assert_string_equal(names, "b");
  omen_coll_close(a);
  /* Close the database while b and a2 are open, then release them. */
  assert_int_equal(omen_close(d), OMEN_OK);
  uint64_t cnt;
  assert_int_equal(omen_count(b, &cnt), OMEN_CLOSED);
  assert_int_equal(omen_count(a2, &cnt), OMEN_DROPPED);
  omen_coll_close(b);
  omen_coll_close(a2); /* the last handle frees the database */
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

/* Many independent databases in one process. */
static void t_many_databases(void **state)
{
  (void)state;
  enum { NDB = 200 };
  omen_db *dbs[NDB];
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, 2);
  for (int i = 0; i < NDB; i++) {
    dbs[i] = tu_open(NULL, 0);
    omen_coll *c;
    assert_int_equal(omen_coll_create(dbs[i], "c", &cfg, &c), OMEN_OK);
    float v[2] = {(float)i, 0};
    assert_int_equal(omen_upsert(c, "only", 4, v, NULL, 0), OMEN_OK);
    omen_coll_close(c);
  }
  for (int i = 0; i < NDB; i++) {
    omen_coll *c;
    omen_result *r;
    assert_int_equal(omen_coll_open(dbs[i], "c", &c), OMEN_OK);
    assert_int_equal(omen_result_new(dbs[i], &r), OMEN_OK);
    assert_int_equal(omen_get(c, "only", 4, r), OMEN_OK);
    assert_true(omen_result_hit(r, 0)->vec[0] == (float)i);
    omen_result_free(r);
    omen_coll_close(c);
    assert_int_equal(omen_close(dbs[i]), OMEN_OK);
  }
}

/* Each thread sees its own last error on a shared database. */
static void *fail_with(void *p)
{
  omen_coll *c = p;
  float v[DIM];
  vec_of(v, 0);
  for (int i = 0; i < 200; i++) {
    omen_upsert(c, "", 0, v, NULL, 0);
    if (!strstr(omen_errmsg(omen_coll_db(c)), "empty")) return (void *)1;
  }
  return NULL;
}

static void t_errors_per_thread(void **state)
{
  (void)state;
  pthread_t th;
  pthread_create(&th, NULL, fail_with, coll);
  float v[DIM];
  vec_of(v, 0);
  v[0] = NAN;
  for (int i = 0; i < 200; i++) {
    omen_upsert(coll, "x", 1, v, NULL, 0);
    assert_non_null(strstr(omen_errmsg(db), "NaN"));
  }
  void *ret;
  pthread_join(th, &ret);
  assert_null(ret);
  assert_string_equal(omen_strerror(OMEN_LOCKED), "database is locked");
  assert_string_equal(omen_strerror(12345), "unknown error");
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

/* Fixtures run inside each test, so cmocka's leak check covers them too. */
#define WITH_FIXTURE(f)                   \
  static void f##_(void **state)          \
  {                                       \
    setup(state);                         \
    f(state);                             \
    teardown(state);                      \
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

WITH_FIXTURE(t_upsert_get_delete)
WITH_FIXTURE(t_meta)
WITH_FIXTURE(t_bad_input)
WITH_FIXTURE(t_cosine_zero)
WITH_FIXTURE(t_metrics)
WITH_FIXTURE(t_exact_is_brute_force)
WITH_FIXTURE(t_search_counts)
WITH_FIXTURE(t_slot_reuse)
WITH_FIXTURE(t_batch)
WITH_FIXTURE(t_lifetimes)
WITH_FIXTURE(t_threads)
WITH_FIXTURE(t_many_databases)
WITH_FIXTURE(t_errors_per_thread)
WITH_FIXTURE(t_search_batch)
WITH_FIXTURE(t_list)

int main(void)
{
#define T(f) cmocka_unit_test(f##_)
  const struct CMUnitTest tests[] = {
    T(t_upsert_get_delete), T(t_meta), T(t_bad_input), T(t_cosine_zero),
    T(t_metrics), T(t_exact_is_brute_force), T(t_search_counts),
    T(t_slot_reuse), T(t_batch), T(t_lifetimes), T(t_threads),
    T(t_many_databases), T(t_errors_per_thread), T(t_search_batch), T(t_list),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
