/*
** Errors: every call that fails on a live handle leaves a message for
** omen_errmsg (a call with a missing argument too), codes have names, and
** the limits of omen.h are the ones the calls enforce.
*/
#include "testutil.h"

static omen_db *db;
static omen_coll *coll;

static int setup(void **state)
{
  (void)state;
  db = tu_open(NULL, 0);
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, 2);
  assert_int_equal(omen_coll_create(db, "e", &cfg, &coll), OMEN_OK);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  omen_coll_close(coll);
  omen_close(db);
  return 0;
}

/* Leave a message that the next failure must replace. */
static void sentinel(void)
{
  assert_int_equal(omen_delete(coll, "no such id", 10), OMEN_NOTFOUND);
  assert_non_null(strstr(omen_errmsg(db), "no such id"));
}

#define FAILS_WITH(call, rc, words)                                              \
  do {                                                                           \
    sentinel();                                                                  \
    assert_int_equal((call), (rc));                                              \
    const char *msg_ = omen_errmsg(db);                                          \
    if (!strstr(msg_, (words)))                                                  \
      fail_msg("%s: message \"%s\" does not say \"%s\"", #call, msg_, (words));  \
  } while (0)

static void t_missing_arguments(void **state)
{
  setup(state);
  omen_result *r;
  assert_int_equal(omen_result_new(db, &r), OMEN_OK);
  omen_search_opts o;
  omen_search_opts_init(&o, 1);
  float v[2] = {1, 2};
  uint64_t n;
  size_t need, count;
  omen_coll *c;
  omen_filter *f;
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, 2);
  FAILS_WITH(omen_count(coll, NULL), OMEN_INVALID, "count is missing");
  FAILS_WITH(omen_coll_info_get(coll, NULL), OMEN_INVALID, "info is missing");
  FAILS_WITH(omen_get(coll, "a", 1, NULL), OMEN_INVALID, "result is missing");
  FAILS_WITH(omen_list(coll, NULL, 10, 0, r), OMEN_INVALID, "cursor is missing");
  FAILS_WITH(omen_list(coll, &n, 0, 0, r), OMEN_INVALID, "max >= 1");
  FAILS_WITH(omen_count_where(coll, NULL, NULL), OMEN_INVALID, "count is missing");
  FAILS_WITH(omen_delete_where(coll, NULL, NULL), OMEN_INVALID, "deleted is missing");
  FAILS_WITH(omen_delete_where(coll, NULL, &n), OMEN_INVALID, "needs a filter");
  FAILS_WITH(omen_search(coll, v, NULL, r), OMEN_INVALID, "options is missing");
  FAILS_WITH(omen_search(coll, v, &o, NULL), OMEN_INVALID, "result is missing");
  FAILS_WITH(omen_search(coll, NULL, &o, r), OMEN_INVALID, "query is missing");
  FAILS_WITH(omen_search_batch(coll, 2, NULL, &o, NULL, 1), OMEN_INVALID, "queries is missing");
  FAILS_WITH(omen_upsert(coll, "a", 1, NULL, NULL, 0), OMEN_INVALID, "vector is missing");
  FAILS_WITH(omen_upsert_batch(coll, 1, NULL, v, NULL, 0), OMEN_INVALID, "missing");
  FAILS_WITH(omen_coll_create(db, "x", &cfg, NULL), OMEN_INVALID, "out is missing");
  FAILS_WITH(omen_coll_create(db, "x", NULL, &c), OMEN_INVALID, "config is missing");
  FAILS_WITH(omen_coll_open(db, "e", NULL), OMEN_INVALID, "out is missing");
  FAILS_WITH(omen_coll_names(db, NULL, 0, NULL, &count), OMEN_INVALID, "needed is missing");
  FAILS_WITH(omen_coll_names(db, NULL, 0, &need, NULL), OMEN_INVALID, "count is missing");
  FAILS_WITH(omen_result_new(db, NULL), OMEN_INVALID, "out is missing");
  FAILS_WITH(omen_filter_new(db, NULL, &f), OMEN_INVALID, "filter is missing");
  FAILS_WITH(omen_file_sizes(db, NULL, &n), OMEN_INVALID, "file_bytes is missing");
  omen_result_free(r);
  teardown(state);
}

static void t_limits(void **state)
{
  setup(state);
  omen_result *r;
  assert_int_equal(omen_result_new(db, &r), OMEN_OK);
  float v[2] = {1, 2};
  omen_search_opts o;
  omen_search_opts_init(&o, OMEN_MAX_K + 1);
  FAILS_WITH(omen_search(coll, v, &o, r), OMEN_INVALID, "k must be at most");
  omen_search_opts_init(&o, 1);
  o.ef = OMEN_MAX_EF + 1;
  FAILS_WITH(omen_search(coll, v, &o, r), OMEN_INVALID, "ef must be at most");
  o.ef = OMEN_MAX_EF;
  assert_int_equal(omen_search(coll, v, &o, r), OMEN_OK);
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, 2);
  cfg.ef_search = OMEN_MAX_EF + 1;
  omen_coll *c;
  FAILS_WITH(omen_coll_create(db, "x", &cfg, &c), OMEN_INVALID, "ef_search must be between 1 and 65536");
  cfg.ef_search = 64;
  cfg.ef_construction = OMEN_MAX_EF + 1;
  FAILS_WITH(omen_coll_create(db, "x", &cfg, &c), OMEN_INVALID, "ef_construction");
  omen_result_free(r);
  teardown(state); /* the collection's search scratch goes with it */
}

static void t_codes(void **state)
{
  (void)state;
  assert_string_equal(omen_strerror(OMEN_OK), "not an error");
  assert_string_equal(omen_strerror(OMEN_CORRUPT), "database file is damaged");
  assert_string_equal(omen_strerror(12345), "unknown error");
  assert_string_equal(omen_errmsg(NULL), "out of memory");
}

int main(void)
{
  const struct CMUnitTest tests[] = {cmocka_unit_test(t_missing_arguments),
                                     cmocka_unit_test(t_limits), cmocka_unit_test(t_codes)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
