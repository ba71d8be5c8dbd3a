/*
** Live readers (core/follow.c): a database opened read-only beside a writer
** (here, a second handle on the same file in this process; test_crash runs
** the writer in another process and kills it) takes in the writer's
** records, checkpoints, compactions, drops and restarts at its next call,
** keeps the collection handles it gave out, refreshes when told to, and
** serves searches from several threads while it follows.
*/
#include "testutil.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#define DIM 8

static char path[128];

static void remove_files(void) { tu_remove_db(path); }

static int setup(void **state)
{
  (void)state;
  snprintf(path, sizeof path, "/tmp/omen-test-follow-%d.omen", (int)getpid());
  remove_files();
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  remove_files();
  return 0;
}

static omen_db *open_reader(uint32_t refresh_ms)
{
  omen_options o;
  omen_options_init(&o);
  o.alloc = tu_alloc;
  o.flags = OMEN_OPEN_READONLY;
  o.refresh_ms = refresh_ms;
  return tu_open_opts(path, &o);
}

static omen_db *open_writer(omen_sync sync)
{
  omen_options o;
  omen_options_init(&o);
  o.alloc = tu_alloc;
  o.sync = sync;
  return tu_open_opts(path, &o);
}

static omen_coll *create(omen_db *db, const char *name, uint32_t dim)
{
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, dim);
  omen_coll *c = NULL;
  assert_int_equal(omen_coll_create(db, name, &cfg, &c), OMEN_OK);
  return c;
}

/* Record i: a vector that is a function of i, and metadata n = i + gen. */
static void put(omen_coll *c, size_t i, double gen)
{
  char id[24];
  float v[DIM];
  uint64_t s = i * 7919u + 1;
  for (int d = 0; d < DIM; d++) v[d] = (float)tu_uniform(&s);
  omen_field f = {{"n", 1}, {.type = OMEN_NUMBER, .u.number = (double)i + gen}};
  tu_id(id, sizeof id, i);
  assert_int_equal(omen_upsert(c, id, strlen(id), v, &f, 1), OMEN_OK);
}

static void put_range(omen_coll *c, size_t from, size_t to, double gen)
{
  for (size_t i = from; i < to; i++) put(c, i, gen);
}

static void del(omen_coll *c, size_t i)
{
  char id[24];
  tu_id(id, sizeof id, i);
  assert_int_equal(omen_delete(c, id, strlen(id)), OMEN_OK);
}

static uint64_t count(omen_coll *c)
{
  uint64_t n = 0;
  int rc = omen_count(c, &n);
  if (rc) fprintf(stderr, "count: %s\n", omen_errmsg(omen_coll_db(c)));
  assert_int_equal(rc, OMEN_OK);
  return n;
}

/* The metadata n of record i as the collection holds it, or -1 if absent. */
static double meta_n(omen_coll *c, omen_result *r, size_t i)
{
  char id[24];
  tu_id(id, sizeof id, i);
  int rc = omen_get(c, id, strlen(id), r);
  if (rc == OMEN_NOTFOUND) return -1;
  assert_int_equal(rc, OMEN_OK);
  const omen_hit *h = omen_result_hit(r, 0);
  assert_int_equal(h->n_meta, 1);
  return h->meta[0].value.u.number;
}

/* Reader and writer answer a search alike: same ids, same distances. */
static void same_answers(omen_coll *w, omen_coll *rd, omen_db *wdb, omen_db *rdb)
{
  omen_result *a, *b;
  assert_int_equal(omen_result_new(wdb, &a), OMEN_OK);
  assert_int_equal(omen_result_new(rdb, &b), OMEN_OK);
  omen_search_opts o;
  omen_search_opts_init(&o, 10);
  o.exact = 1;
  uint64_t s = 99;
  for (int q = 0; q < 5; q++) {
    float v[DIM];
    for (int d = 0; d < DIM; d++) v[d] = (float)tu_uniform(&s);
    assert_int_equal(omen_search(w, v, &o, a), OMEN_OK);
    assert_int_equal(omen_search(rd, v, &o, b), OMEN_OK);
    assert_int_equal(omen_result_count(a), omen_result_count(b));
    for (size_t i = 0; i < omen_result_count(a); i++) {
      const omen_hit *x = omen_result_hit(a, i), *y = omen_result_hit(b, i);
      assert_int_equal(x->id.len, y->id.len);
      assert_memory_equal(x->id.ptr, y->id.ptr, x->id.len);
      assert_true(x->distance == y->distance);
    }
  }
  omen_result_free(a);
  omen_result_free(b);
}

/* Every call sees what the writer committed before it. */
static void t_follows_writes(void **state)
{
  (void)state;
  omen_db *w = open_writer(OMEN_SYNC_NORMAL);
  omen_db *r = open_reader(0);
  omen_coll *rc_ = NULL;
  assert_int_equal(omen_coll_open(r, "c", &rc_), OMEN_NOTFOUND);
  omen_coll *wc = create(w, "c", DIM);
  assert_int_equal(omen_coll_open(r, "c", &rc_), OMEN_OK);
  omen_result *res;
  assert_int_equal(omen_result_new(r, &res), OMEN_OK);
  assert_int_equal(count(rc_), 0);
  put(wc, 1, 0);
  assert_int_equal(count(rc_), 1);
  assert_true(meta_n(rc_, res, 1) == 1);
  put_range(wc, 0, 50, 100); /* updates one, adds the rest */
  assert_int_equal(count(rc_), 50);
  assert_true(meta_n(rc_, res, 1) == 101);
  del(wc, 1);
  assert_true(meta_n(rc_, res, 1) == -1);
  assert_int_equal(count(rc_), 49);
  same_answers(wc, rc_, w, r);
  /* a batch arrives whole */
  omen_str ids[3] = {{"b0", 2}, {"b1", 2}, {"b2", 2}};
  float vecs[3 * DIM] = {0};
  for (int i = 0; i < 3 * DIM; i++) vecs[i] = (float)i;
  assert_int_equal(omen_upsert_batch(wc, 3, ids, vecs, NULL, 1), OMEN_OK);
  assert_int_equal(count(rc_), 52);
  /* writes through a reader are still refused */
  assert_int_equal(omen_delete(rc_, "b0", 2), OMEN_READONLY);
  omen_result_free(res);
  omen_coll_close(rc_);
  omen_coll_close(wc);
  assert_int_equal(omen_close(r), OMEN_OK);
  assert_int_equal(omen_close(w), OMEN_OK);
}

/* Checkpoints and compactions replace the file: the reader loads the new
** one and its handles go on, with the same answers as the writer's. */
static void t_checkpoint_and_compact(void **state)
{
  (void)state;
  omen_db *w = open_writer(OMEN_SYNC_NORMAL);
  omen_coll *wc = create(w, "c", DIM);
  put_range(wc, 0, 300, 0);
  omen_db *r = open_reader(0);
  omen_coll *rc_ = NULL;
  assert_int_equal(omen_coll_open(r, "c", &rc_), OMEN_OK);
  omen_result *res;
  assert_int_equal(omen_result_new(r, &res), OMEN_OK);
  assert_int_equal(count(rc_), 300);
  assert_int_equal(omen_checkpoint(w), OMEN_OK);
  put_range(wc, 300, 320, 0); /* in the new log */
  assert_int_equal(count(rc_), 320);
  same_answers(wc, rc_, w, r);
  for (size_t i = 0; i < 300; i += 2) del(wc, i);
  assert_int_equal(omen_compact(w), OMEN_OK); /* renumbers the slots */
  assert_int_equal(count(rc_), 170);
  assert_true(meta_n(rc_, res, 0) == -1);
  assert_true(meta_n(rc_, res, 1) == 1);
  same_answers(wc, rc_, w, r);
  omen_coll_info info;
  assert_int_equal(omen_coll_info_get(rc_, &info), OMEN_OK);
  assert_int_equal(info.count, 170);
  assert_int_equal(info.slots, 170); /* the compacted file's, not the old slots */
  omen_result_free(res);
  omen_coll_close(rc_);
  omen_coll_close(wc);
  assert_int_equal(omen_close(r), OMEN_OK);
  assert_int_equal(omen_close(w), OMEN_OK);
}

static size_t names(omen_db *db)
{
  size_t need, n;
  assert_int_equal(omen_coll_names(db, NULL, 0, &need, &n), OMEN_OK);
  return n;
}

/* Collections dropped and made by the writer, in the log and across a
** checkpoint; a name made again with another shape is another collection. */
static void t_drop_and_create(void **state)
{
  (void)state;
  omen_db *w = open_writer(OMEN_SYNC_NORMAL);
  omen_coll *a = create(w, "a", DIM), *b = create(w, "b", DIM);
  put_range(a, 0, 10, 0);
  put_range(b, 0, 5, 0);
  omen_db *r = open_reader(0);
  omen_coll *ra, *rb, *rd;
  assert_int_equal(omen_coll_open(r, "a", &ra), OMEN_OK);
  assert_int_equal(omen_coll_open(r, "b", &rb), OMEN_OK);
  assert_int_equal(names(r), 2);
  omen_coll_close(a);
  assert_int_equal(omen_coll_drop(w, "a"), OMEN_OK); /* a log record */
  uint64_t n;
  assert_int_equal(omen_count(ra, &n), OMEN_DROPPED);
  assert_int_equal(count(rb), 5);
  omen_coll *d = create(w, "d", DIM);
  put_range(d, 0, 3, 0);
  assert_int_equal(names(r), 2);
  assert_int_equal(omen_coll_open(r, "d", &rd), OMEN_OK);
  assert_int_equal(count(rd), 3);
  /* across a checkpoint: b is dropped and made again with another dimension */
  omen_coll_close(b);
  assert_int_equal(omen_coll_drop(w, "b"), OMEN_OK);
  omen_coll *b2 = create(w, "b", DIM * 2);
  put_range(d, 3, 6, 0);
  assert_int_equal(omen_checkpoint(w), OMEN_OK);
  assert_int_equal(count(rd), 6); /* reloaded: the same handle goes on */
  assert_int_equal(omen_count(rb, &n), OMEN_DROPPED);
  omen_coll *rb2;
  assert_int_equal(omen_coll_open(r, "b", &rb2), OMEN_OK);
  omen_coll_info info;
  assert_int_equal(omen_coll_info_get(rb2, &info), OMEN_OK);
  assert_int_equal(info.config.dim, DIM * 2);
  omen_coll_close(ra);
  omen_coll_close(rb);
  omen_coll_close(rb2);
  omen_coll_close(rd);
  omen_coll_close(b2);
  omen_coll_close(d);
  assert_int_equal(omen_close(r), OMEN_OK);
  assert_int_equal(omen_close(w), OMEN_OK);
}

/* A writer that closes (its log goes) and another that opens after it. */
static void t_writer_restarts(void **state)
{
  (void)state;
  omen_db *w = open_writer(OMEN_SYNC_NORMAL);
  omen_coll *wc = create(w, "c", DIM);
  put_range(wc, 0, 20, 0);
  omen_db *r = open_reader(0);
  omen_coll *rc_;
  assert_int_equal(omen_coll_open(r, "c", &rc_), OMEN_OK);
  assert_int_equal(count(rc_), 20);
  for (int round = 0; round < 3; round++) {
    omen_coll_close(wc);
    assert_int_equal(omen_close(w), OMEN_OK);
    assert_int_equal(count(rc_), 20 + 10 * (uint64_t)round);
    w = open_writer(OMEN_SYNC_NORMAL);
    assert_int_equal(omen_coll_open(w, "c", &wc), OMEN_OK);
    put_range(wc, 20 + 10 * (size_t)round, 30 + 10 * (size_t)round, 0);
    assert_int_equal(count(rc_), 30 + 10 * (uint64_t)round);
  }
  omen_coll_close(wc);
  assert_int_equal(omen_close(w), OMEN_OK);
  omen_coll_close(rc_);
  assert_int_equal(omen_close(r), OMEN_OK);
}

/* refresh_ms spaces the looks out; OMEN_REFRESH_MANUAL leaves them to
** omen_refresh; with sync "off", readers see what was written out. */
static void t_refresh_and_sync_off(void **state)
{
  (void)state;
  omen_db *w = open_writer(OMEN_SYNC_NORMAL);
  omen_coll *wc = create(w, "c", DIM);
  omen_db *manual = open_reader(OMEN_REFRESH_MANUAL), *spaced = open_reader(3600000);
  omen_coll *m, *s;
  assert_int_equal(omen_coll_open(manual, "c", &m), OMEN_OK);
  assert_int_equal(omen_coll_open(spaced, "c", &s), OMEN_OK); /* its first look */
  put_range(wc, 0, 5, 0);
  assert_int_equal(count(m), 0);
  assert_int_equal(count(s), 0);
  assert_int_equal(omen_refresh(manual), OMEN_OK);
  assert_int_equal(omen_refresh(spaced), OMEN_OK);
  assert_int_equal(count(m), 5);
  assert_int_equal(count(s), 5);
  assert_int_equal(omen_refresh(w), OMEN_OK); /* a writer: nothing to do */
  omen_coll_close(wc);
  assert_int_equal(omen_close(w), OMEN_OK);

  w = open_writer(OMEN_SYNC_OFF);
  assert_int_equal(omen_coll_open(w, "c", &wc), OMEN_OK);
  put_range(wc, 5, 8, 0); /* in the writer's buffer */
  assert_int_equal(omen_refresh(manual), OMEN_OK);
  assert_int_equal(count(m), 5);
  assert_int_equal(omen_flush(w), OMEN_OK);
  assert_int_equal(omen_refresh(manual), OMEN_OK);
  assert_int_equal(count(m), 8);
  omen_coll_close(wc);
  assert_int_equal(omen_close(w), OMEN_OK);
  omen_coll_close(m);
  omen_coll_close(s);
  assert_int_equal(omen_close(manual), OMEN_OK);
  assert_int_equal(omen_close(spaced), OMEN_OK);
}

/* Threads searching one reader while the writer writes and checkpoints:
** every search answers in full (there are always more than 5 records), and
** counts never go back (the writer only adds). */
typedef struct searcher {
  omen_db *db;
  omen_coll *c;
  atomic_int *stop;
  int failures;
  long searches;
} searcher;

static void *search_loop(void *arg)
{
  searcher *s = arg;
  omen_result *r;
  if (omen_result_new(s->db, &r)) {
    s->failures++;
    return NULL;
  }
  omen_search_opts o;
  omen_search_opts_init(&o, 5);
  uint64_t seed = (uint64_t)(uintptr_t)arg, last = 0;
  while (!atomic_load(s->stop)) {
    float v[DIM];
    for (int d = 0; d < DIM; d++) v[d] = (float)tu_uniform(&seed);
    uint64_t n;
    if (omen_search(s->c, v, &o, r) || omen_result_count(r) != 5 ||
        omen_count(s->c, &n) || n < last)
      s->failures++;
    else
      last = n;
    s->searches++;
  }
  omen_result_free(r);
  return NULL;
}

static void t_threads_while_following(void **state)
{
  (void)state;
  omen_db *w = open_writer(OMEN_SYNC_NORMAL);
  omen_coll *wc = create(w, "c", DIM);
  put_range(wc, 0, 10, 0);
  omen_db *r = open_reader(0);
  omen_coll *rc_;
  assert_int_equal(omen_coll_open(r, "c", &rc_), OMEN_OK);
  atomic_int stop = 0;
  searcher s[2] = {{r, rc_, &stop, 0, 0}, {r, rc_, &stop, 0, 0}};
  pthread_t t[2];
  for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&t[i], NULL, search_loop, &s[i]), 0);
  for (size_t round = 0; round < 6; round++) {
    put_range(wc, 10 + round * 40, 50 + round * 40, 0);
    if (round % 2) assert_int_equal(omen_checkpoint(w), OMEN_OK);
  }
  atomic_store(&stop, 1);
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  assert_int_equal(s[0].failures + s[1].failures, 0);
  assert_true(s[0].searches > 0 && s[1].searches > 0);
  assert_int_equal(count(rc_), 250);
  omen_coll_close(rc_);
  omen_coll_close(wc);
  assert_int_equal(omen_close(r), OMEN_OK);
  assert_int_equal(omen_close(w), OMEN_OK);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(t_follows_writes, setup, teardown),
      cmocka_unit_test_setup_teardown(t_checkpoint_and_compact, setup, teardown),
      cmocka_unit_test_setup_teardown(t_drop_and_create, setup, teardown),
      cmocka_unit_test_setup_teardown(t_writer_restarts, setup, teardown),
      cmocka_unit_test_setup_teardown(t_refresh_and_sync_off, setup, teardown),
      cmocka_unit_test_setup_teardown(t_threads_while_following, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
