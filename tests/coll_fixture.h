/*
** The fixture of the collection tests: a database in memory with one
** collection "c" of dimension DIM and a result, set up and torn down inside
** each test so that cmocka's leak check covers them too.
*/
#ifndef OMEN_COLL_FIXTURE_H
#define OMEN_COLL_FIXTURE_H

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

static inline void vec_of(float *v, float base)
{
  for (int i = 0; i < DIM; i++) v[i] = base + (float)i * 0.125f;
}

static inline uint64_t count(void)
{
  uint64_t n = 0;
  assert_int_equal(omen_count(coll, &n), OMEN_OK);
  return n;
}

static inline int put(const char *id, float base)
{
  float v[DIM];
  vec_of(v, base);
  return omen_upsert(coll, id, strlen(id), v, NULL, 0);
}

/* rc is want, and the database's message contains text. */
static inline void expect(int rc, int want, const char *text)
{
  assert_int_equal(rc, want);
  const char *msg = omen_errmsg(db);
  if (!strstr(msg, text)) fail_msg("message '%s' lacks '%s'", msg, text);
}

#define WITH_FIXTURE(f)                   \
  static void f##_(void **state)          \
  {                                       \
    setup(state);                         \
    f(state);                             \
    teardown(state);                      \
  }

#endif
