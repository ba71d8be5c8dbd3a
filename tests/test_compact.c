/*
** Compaction: deleted slots are given back; the records that remain keep
** their vectors and metadata, the graph stays valid and searchable, the
** file shrinks, and checkpoints compact by themselves past a quarter.
*/
#include "graphcheck.h"

#include <sys/stat.h>
#include <unistd.h>

#define DIM 16
#define N 4000

static char path[128];

static int setup(void **state)
{
  (void)state;
  snprintf(path, sizeof path, "/tmp/omen-test-compact-%d.omen", (int)getpid());
  unlink(path);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  char side[200];
  unlink(path);
  snprintf(side, sizeof side, "%s-wal", path);
  unlink(side);
  snprintf(side, sizeof side, "%s-tmp", path);
  unlink(side);
  return 0;
}

static omen_coll *fill(omen_db *db, const float *data, omen_metric metric)
{
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, DIM);
  cfg.metric = metric;
  omen_coll *c;
  assert_int_equal(omen_coll_create(db, "c", &cfg, &c), OMEN_OK);
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
  assert_int_equal(omen_upsert_batch(c, N, ids, data, metas, 2), OMEN_OK);
  return c;
}

/* Every kept record is intact, and searching with its vector finds what
** exact search finds (for inner product that need not be the record). */
static void check_kept(omen_coll *c, const float *data, int (*kept)(size_t))
{
  omen_result *r, *ex;
  assert_int_equal(omen_result_new(omen_coll_db(c), &r), OMEN_OK);
  assert_int_equal(omen_result_new(omen_coll_db(c), &ex), OMEN_OK);
  omen_search_opts o, exact;
  omen_search_opts_init(&o, 1);
  exact = o;
  exact.exact = 1;
  size_t missed = 0, searched = 0;
  char id[16];
  for (size_t i = 0; i < N; i++) {
    tu_id(id, sizeof id, i);
    int rc = omen_get(c, id, strlen(id), r);
    if (!kept(i)) {
      assert_int_equal(rc, OMEN_NOTFOUND);
      continue;
    }
    assert_int_equal(rc, OMEN_OK);
    const omen_hit *h = omen_result_hit(r, 0);
    assert_memory_equal(h->vec, data + i * DIM, DIM * sizeof(float));
    assert_true(h->n_meta == 1 && h->meta[0].value.u.number == (double)i);
    assert_int_equal(omen_search(c, data + i * DIM, &o, r), OMEN_OK);
    assert_int_equal(omen_search(c, data + i * DIM, &exact, ex), OMEN_OK);
    missed += omen_result_hit(r, 0)->distance > omen_result_hit(ex, 0)->distance + 1e-3f;
    searched++;
  }
  assert_true(missed * 100 <= searched); /* at most 1% */
  omen_result_free(r);
  omen_result_free(ex);
}

static int keep_fifth(size_t i) { return i % 5 == 0; }
static int keep_none(size_t i) { (void)i; return 0; }

static void t_compact_in_memory(void **state)
{
  (void)state;
  float *data = tu_clustered(N, DIM, 10, 8);
  for (int metric = OMEN_L2; metric <= OMEN_IP; metric++) {
    omen_db *db = tu_open(NULL, 0);
    omen_coll *c = fill(db, data, (omen_metric)metric);
    char id[16];
    for (size_t i = 0; i < N; i++)
      if (!keep_fifth(i)) {
        tu_id(id, sizeof id, i);
        assert_int_equal(omen_delete(c, id, strlen(id)), OMEN_OK);
      }
    assert_int_equal(omen_compact(db), OMEN_OK);
    omen_coll_info info;
    assert_int_equal(omen_coll_info_get(c, &info), OMEN_OK);
    assert_int_equal(info.slots, N / 5);
    assert_int_equal(info.deleted, 0);
    assert_int_equal(info.count, N / 5);
    tu_check_graph(c);
    check_kept(c, data, keep_fifth);
    /* and it keeps working: new records, deletes, reuse */
    assert_int_equal(omen_upsert(c, "new", 3, data + DIM, NULL, 0), OMEN_OK);
    assert_int_equal(omen_delete(c, "id-0", 4), OMEN_OK);
    assert_int_equal(omen_upsert(c, "id-0", 4, data, NULL, 0), OMEN_OK);
    tu_check_graph(c);
    omen_coll_close(c);
    omen_close(db);
  }
  free(data);
}

static void t_compact_everything(void **state)
{
  (void)state;
  float *data = tu_clustered(N, DIM, 10, 9);
  omen_db *db = tu_open(NULL, 0);
  omen_coll *c = fill(db, data, OMEN_COSINE);
  char id[16];
  for (size_t i = 0; i < N; i++) {
    tu_id(id, sizeof id, i);
    assert_int_equal(omen_delete(c, id, strlen(id)), OMEN_OK);
  }
  assert_int_equal(omen_compact(db), OMEN_OK);
  omen_coll_info info;
  assert_int_equal(omen_coll_info_get(c, &info), OMEN_OK);
  assert_int_equal(info.slots, 0);
  check_kept(c, data, keep_none);
  assert_int_equal(omen_upsert(c, "back", 4, data, NULL, 0), OMEN_OK);
  uint64_t n;
  assert_int_equal(omen_count(c, &n), OMEN_OK);
  assert_int_equal(n, 1);
  omen_coll_close(c);
  omen_close(db);
  free(data);
}

static long file_size(void)
{
  struct stat st;
  return stat(path, &st) ? -1 : (long)st.st_size;
}

/* On a file: compact shrinks it; the compacted file reopens intact; and a
** checkpoint compacts by itself once a quarter of the slots are deleted. */
static void t_compact_file(void **state)
{
  (void)state;
  float *data = tu_clustered(N, DIM, 10, 10);
  omen_db *db = tu_open(path, 0);
  omen_coll *c = fill(db, data, OMEN_L2);
  assert_int_equal(omen_checkpoint(db), OMEN_OK);
  long full = file_size();
  char id[16];
  for (size_t i = 0; i < N; i++)
    if (!keep_fifth(i)) {
      tu_id(id, sizeof id, i);
      assert_int_equal(omen_delete(c, id, strlen(id)), OMEN_OK);
    }
  assert_int_equal(omen_compact(db), OMEN_OK);
  long small = file_size();
  print_message("  file: %ld bytes full, %ld after deleting 80%% and compacting\n",
                full, small);
  assert_true(small < full / 3);
  omen_coll_close(c);
  omen_close(db);

  db = tu_open(path, 0);
  assert_int_equal(omen_coll_open(db, "c", &c), OMEN_OK);
  check_kept(c, data, keep_fifth);
  tu_check_graph(c);
  /* An explicit checkpoint keeps deleted slots (and search results) ... */
  for (size_t i = 0; i < N / 2; i += 5) {
    tu_id(id, sizeof id, i);
    assert_int_equal(omen_delete(c, id, strlen(id)), OMEN_OK);
  }
  assert_int_equal(omen_checkpoint(db), OMEN_OK);
  omen_coll_info info;
  assert_int_equal(omen_coll_info_get(c, &info), OMEN_OK);
  assert_int_equal(info.deleted, N / 10);
  omen_coll_close(c);
  omen_close(db);

  /* ... the automatic one of a growing log compacts past a quarter. */
  omen_options o;
  omen_options_init(&o);
  o.alloc = tu_alloc;
  o.checkpoint_bytes = 100; /* one record passes it */
  assert_int_equal(omen_open(path, &o, &db), OMEN_OK);
  assert_int_equal(omen_coll_open(db, "c", &c), OMEN_OK);
  assert_int_equal(omen_upsert(c, "more", 4, data, NULL, 0), OMEN_OK);
  assert_int_equal(omen_coll_info_get(c, &info), OMEN_OK);
  assert_int_equal(info.deleted, 0);
  assert_int_equal(info.slots, N / 5 - N / 10 + 1);
  omen_coll_close(c);
  omen_close(db);
  free(data);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
    T(t_compact_in_memory), T(t_compact_everything), T(t_compact_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
