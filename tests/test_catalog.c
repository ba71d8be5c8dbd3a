/*
** Databases and their catalogs (db.c, catalog.c): handle lifetimes across
** drops and closes in any order, many databases in one process, each
** thread's own error message, the kernels' instruction set (OMEN_ISA).
*/
#include "coll_fixture.h"

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

/* OMEN_ISA caps the kernels' instruction set when a database opens: each
** set this CPU runs gives the same exact hits, one above the CPU's best
** gives the best, and a name omen does not know fails the open, saying so. */
static void isa_hits(const char *isa, const char *want, const float *data, size_t n,
                     const float *q, char ids[5][16], float *d)
{
  setenv("OMEN_ISA", isa, 1);
  omen_db *x = tu_open(NULL, 0);
  assert_string_equal(omen_isa(x), want);
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, DIM);
  omen_coll *c;
  omen_result *r;
  assert_int_equal(omen_coll_create(x, "c", &cfg, &c), OMEN_OK);
  assert_int_equal(omen_result_new(x, &r), OMEN_OK);
  for (size_t i = 0; i < n; i++) {
    char id[16];
    tu_id(id, sizeof id, i);
    assert_int_equal(omen_upsert(c, id, strlen(id), data + i * DIM, NULL, 0), OMEN_OK);
  }
  omen_search_opts o;
  omen_search_opts_init(&o, 5);
  o.exact = 1;
  assert_int_equal(omen_search(c, q, &o, r), OMEN_OK);
  assert_int_equal(omen_result_count(r), 5);
  for (size_t i = 0; i < 5; i++) {
    const omen_hit *h = omen_result_hit(r, i);
    snprintf(ids[i], 16, "%.*s", (int)h->id.len, h->id.ptr);
    d[i] = h->distance;
  }
  omen_result_free(r);
  omen_coll_close(c);
  assert_int_equal(omen_close(x), OMEN_OK);
}

static void t_isa(void **state)
{
  (void)state;
  static const char *const names[] = {"scalar", "avx2", "avx512"};
  const char *best = omen_isa(NULL);
  size_t n = 300, top = 0;
  while (strcmp(names[top], best)) top++;
  uint64_t seed = 7;
  float *data = malloc(n * DIM * sizeof *data), q[DIM];
  for (size_t i = 0; i < n; i++) tu_random_vec(&seed, data + i * DIM, DIM);
  tu_random_vec(&seed, q, DIM);
  char first[5][16], ids[5][16];
  float d0[5], d[5];
  isa_hits("scalar", "scalar", data, n, q, first, d0);
  for (size_t k = 1; k < 3; k++) {
    isa_hits(names[k], names[k <= top ? k : top], data, n, q, ids, d);
    for (size_t i = 0; i < 5; i++) {
      assert_string_equal(ids[i], first[i]);
      assert_true(fabsf(d[i] - d0[i]) <= 1e-4f * (1 + d0[i]));
    }
  }
  free(data);
  setenv("OMEN_ISA", "avx9", 1);
  omen_options o;
  omen_options_init(&o);
  omen_db *x;
  assert_int_equal(omen_open(NULL, &o, &x), OMEN_INVALID);
  assert_non_null(strstr(omen_errmsg(x), "OMEN_ISA='avx9' is not an instruction set"));
  omen_close(x);
  unsetenv("OMEN_ISA");
  assert_int_equal(omen_open(NULL, &o, &x), OMEN_OK);
  assert_string_equal(omen_isa(x), best);
  omen_close(x);
}

WITH_FIXTURE(t_lifetimes)
WITH_FIXTURE(t_many_databases)
WITH_FIXTURE(t_errors_per_thread)
WITH_FIXTURE(t_isa)

int main(void)
{
#define T(f) cmocka_unit_test(f##_)
  const struct CMUnitTest tests[] = {
    T(t_lifetimes), T(t_many_databases), T(t_errors_per_thread), T(t_isa),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
