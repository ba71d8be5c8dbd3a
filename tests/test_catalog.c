/*
** Databases and their catalogs (db.c, catalog.c): handle lifetimes across
** drops and closes in any order, many databases in one process, and each
** thread's own error message.
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

WITH_FIXTURE(t_lifetimes)
WITH_FIXTURE(t_many_databases)
WITH_FIXTURE(t_errors_per_thread)

int main(void)
{
#define T(f) cmocka_unit_test(f##_)
  const struct CMUnitTest tests[] = {
    T(t_lifetimes), T(t_many_databases), T(t_errors_per_thread),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
