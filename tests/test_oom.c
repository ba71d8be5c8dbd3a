/*
** Out of memory: a scenario runs again and again with an allocator that
** fails its Nth request, for every N until the scenario completes. Every
** call must fail cleanly (OMEN_NOMEM), leave the data as it was, and leak
** nothing (cmocka checks the blocks).
*/
#include "testutil.h"

#include <unistd.h>

static long budget; /* allocations still allowed; < 0: unlimited */

static void *failing_alloc(void *ud, void *p, size_t osize, size_t nsize)
{
  if (nsize > osize || !p) { /* growth or a new block may fail */
    pthread_mutex_lock(&tu_alloc_mu);
    int refuse = budget == 0;
    if (budget > 0) budget--;
    pthread_mutex_unlock(&tu_alloc_mu);
    if (refuse && nsize) return NULL;
  }
  return tu_alloc(ud, p, osize, nsize);
}

#define DIM 6
#define N 300

/* Run the scenario; returns 1 when every step succeeded. */
static int scenario(const char *path, const float *data)
{
  omen_options o;
  omen_options_init(&o);
  o.alloc = failing_alloc;
  omen_db *db = NULL;
  int rc = omen_open(path, &o, &db), ok = 0;
  if (rc) {
    assert_true(rc == OMEN_NOMEM || rc == OMEN_ERROR);
    omen_close(db);
    return 0;
  }
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, DIM);
  cfg.metric = OMEN_COSINE;
  omen_coll *c = NULL;
  omen_result *r = NULL;
  if ((rc = omen_coll_open(db, "c", &c)) == OMEN_NOTFOUND)
    rc = omen_coll_create(db, "c", &cfg, &c);
  if (rc) goto done;
  if ((rc = omen_result_new(db, &r))) goto done;
  uint64_t before, after;
  assert_int_equal(omen_count(c, &before), OMEN_OK);
  omen_str ids[N];
  char names[N][16];
  omen_field f[N];
  omen_meta metas[N];
  for (size_t i = 0; i < N; i++) {
    tu_id(names[i], sizeof names[i], i);
    ids[i] = (omen_str){names[i], strlen(names[i])};
    f[i] = (omen_field){{"i", 1}, {.type = OMEN_NUMBER, .u.number = (double)i}};
    metas[i] = (omen_meta){&f[i], 1};
  }
  rc = omen_upsert_batch(c, N, ids, data, metas, 2);
  assert_int_equal(omen_count(c, &after), OMEN_OK);
  if (rc) { /* all or nothing */
    assert_int_equal(rc, OMEN_NOMEM);
    assert_int_equal(after, before);
    goto done;
  }
  assert_int_equal(after, N);
  if ((rc = omen_upsert(c, "extra", 5, data, f, 1))) goto done;
  if ((rc = omen_delete(c, "id-3", 4)) && rc != OMEN_NOTFOUND) goto done;
  omen_search_opts so;
  omen_search_opts_init(&so, 5);
  if ((rc = omen_search(c, data + DIM, &so, r))) goto done;
  assert_int_equal(omen_result_count(r), 5);
  if ((rc = omen_get(c, "id-7", 4, r))) goto done;
  /* A filter, its cached bitmap (second use), count and delete by it. */
  omen_cond cond = {OMEN_OP_LT, {"i", 1}, {.type = OMEN_NUMBER, .u.number = 150},
                    NULL, 0, NULL, 0};
  omen_filter *flt = NULL;
  if ((rc = omen_filter_new(db, &cond, &flt))) goto done;
  so.filter = flt;
  uint64_t matched = 0, gone = 0;
  for (int use = 0; use < 2 && !rc; use++) rc = omen_search(c, data, &so, r);
  if (!rc) rc = omen_count_where(c, flt, &matched);
  if (!rc) rc = omen_delete_where(c, flt, &gone);
  omen_filter_free(flt);
  if (rc) goto done;
  assert_true(matched >= 149 && gone == matched);
  if ((rc = omen_checkpoint(db))) goto done;
  ok = 1;
done:
  if (!ok) assert_true(rc == OMEN_NOMEM || rc == OMEN_ERROR || rc == OMEN_IOERR);
  omen_result_free(r);
  omen_coll_close(c);
  rc = omen_close(db);
  return ok && rc == OMEN_OK;
}

static void run_until_done(const char *path)
{
  float *data = tu_clustered(N + 1, DIM, 4, 21);
  long fail_at;
  char wal[160];
  snprintf(wal, sizeof wal, "%s-wal", path ? path : "");
  for (fail_at = 0; fail_at < 100000; fail_at++) {
    if (path) {
      unlink(path);
      unlink(wal);
    }
    budget = fail_at;
    int done = scenario(path, data);
    budget = -1;
    if (done) break;
  }
  print_message("  completed once %ld allocations were allowed\n", fail_at);
  assert_true(fail_at > 10 && fail_at < 100000);
  free(data);
}

static void t_memory(void **state)
{
  (void)state;
  run_until_done(NULL);
}

static void t_file(void **state)
{
  (void)state;
  char path[128];
  snprintf(path, sizeof path, "/tmp/omen-test-oom-%d.omen", (int)getpid());
  run_until_done(path);
  /* Reloading a file also fails cleanly at every allocation. */
  long fail_at;
  for (fail_at = 0; fail_at < 100000; fail_at++) {
    omen_options o;
    omen_options_init(&o);
    o.alloc = failing_alloc;
    o.flags = OMEN_OPEN_READONLY;
    budget = fail_at;
    omen_db *db = NULL;
    int rc = omen_open(path, &o, &db);
    budget = -1;
    if (rc) assert_true(rc == OMEN_NOMEM || rc == OMEN_ERROR);
    omen_close(db);
    if (!rc) break;
  }
  print_message("  reload completed once %ld allocations were allowed\n", fail_at);
  unlink(path);
  strcat(path, "-wal");
  unlink(path);
}

int main(void)
{
  budget = -1;
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(t_memory),
    cmocka_unit_test(t_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
