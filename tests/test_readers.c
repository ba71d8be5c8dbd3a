/*
** Many processes, one database: a writer process runs the deterministic
** stream of writes of ops.h (upserts, batches, deletes; tiny checkpoints,
** and a compaction every COMPACT_EVERY writes), publishing the number of
** writes acknowledged in shared memory, beside READERS reader processes,
** each holding one live reader (refresh at every call) from start to end.
** Each reader, again and again, reads the count acknowledged and then
** checks, at its next calls:
**  - visibility: the records of the last acknowledged write show that write
**    or a later one;
**  - wholeness: a record's vector is the one written with its metadata (the
**    metadata names the write and the item of its batch);
**  - no going back: per id, the writes a reader sees never get older, and a
**    record it saw deleted comes back only through a later write.
** Round one ends with the writer closing after WRITES writes: every reader
** must then hold exactly the model of them all. Round two kills the writer
** with SIGKILL at random moments, KILLS times, a new writer going on from
** what the file holds; the readers keep answering throughout and end on
** exactly what the last writer left.
*/
#include "ops.h"

#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#define READERS 4
#define WRITES 3000
#define COMPACT_EVERY 700
#define KILLS 12

static char path[128];

/* Shared between the processes (an anonymous shared mapping). */
typedef struct shared {
  _Atomic uint64_t acked;   /* writes 0..acked-1 returned */
  _Atomic uint64_t first;   /* of this writer (a new one goes on from there) */
  _Atomic int stop;         /* readers stop */
  _Atomic uint64_t final;   /* writes in the file at the end of a round */
  _Atomic int epoch;        /* bumped when the writer is done: check all */
  _Atomic int checked[READERS]; /* the epoch each reader checked whole */
  _Atomic int failures;
  _Atomic uint64_t checks;
  char why[READERS][256];
} shared;

static shared *sh;

static void remove_files(void) { tu_remove_db(path); }

/* -- The writer ------------------------------------------------------------------ */

static void writer(uint64_t first, uint64_t last)
{
  omen_options o;
  omen_options_init(&o);
  o.checkpoint_bytes = 16 << 10;
  omen_db *db;
  omen_coll *c;
  if (ops_open(path, &o, &db, &c)) _exit(2);
  for (uint64_t i = first; i < last; i++) {
    if (run_op(c, i)) _exit(4);
    atomic_store(&sh->acked, i + 1);
    if (i % COMPACT_EVERY == COMPACT_EVERY - 1 && omen_compact(db)) _exit(6);
  }
  omen_coll_close(c);
  _exit(omen_close(db) ? 7 : 0);
}

/* -- A reader ----------------------------------------------------------------------- */

typedef struct seen {
  int64_t op;      /* the write whose record was seen last; -1: none yet */
  int deleted;     /* seen absent after that */
} seen;

static int bad(int me, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(sh->why[me], sizeof sh->why[me], fmt, ap);
  va_end(ap);
  atomic_fetch_add(&sh->failures, 1);
  return 1;
}

/* The record of id k as this reader's next call shows it: -1 if absent,
** else the write that made it; 1 through `fault` if it is not whole. */
static int64_t look_up(omen_coll *c, omen_result *r, uint32_t k, int *fault)
{
  char id[16];
  tu_id(id, sizeof id, k);
  int rc = omen_get(c, id, strlen(id), r);
  if (rc == OMEN_NOTFOUND) return -1;
  if (rc || omen_result_count(r) != 1) {
    *fault = 1;
    return -1;
  }
  const omen_hit *h = omen_result_hit(r, 0);
  if (h->n_meta != 2 || h->meta[0].value.type != OMEN_NUMBER) {
    *fault = 1;
    return -1;
  }
  double n = h->meta[0].value.u.number;
  uint64_t i = (uint64_t)n;
  size_t j = (size_t)((n - (double)i) * 100 + 0.5);
  float v[DIM];
  vec_of(i, j, v);
  if (j >= BATCH_MAX || n_of(i, j) != n || memcmp(v, h->vec, sizeof v)) *fault = 1;
  return (int64_t)i;
}

/* Whether a write in (from, to] deletes id k. */
static int deleted_between(uint32_t k, uint64_t from, uint64_t to)
{
  for (uint64_t i = from + 1; i <= to; i++) {
    op o;
    op_of(i, &o);
    if (o.kind == 2 && o.id[0] == k) return 1;
  }
  return 0;
}

/* One check of id k, `must` the write it must show at least (-1: none). */
static int check_id(int me, omen_coll *c, omen_result *r, seen *s, uint32_t k,
                    int64_t must)
{
  int fault = 0;
  int64_t got = look_up(c, r, k, &fault);
  uint64_t after = atomic_load(&sh->acked); /* the one after may be under way */
  if (fault) return bad(me, "id-%u is not whole (%s)", k, omen_errmsg(omen_coll_db(c)));
  if (got > (int64_t)after)
    return bad(me, "id-%u shows write %lld, not yet begun (%llu acknowledged)", k,
               (long long)got, (unsigned long long)after);
  if (got >= 0 && got < s[k].op)
    return bad(me, "id-%u went back from write %lld to %lld", k, (long long)s[k].op,
               (long long)got);
  if (got >= 0 && got == s[k].op && s[k].deleted)
    return bad(me, "id-%u came back after its delete, as of write %lld", k, (long long)got);
  if (must >= 0) {
    op o;
    op_of((uint64_t)must, &o);
    int shows = o.kind == 2 ? got < 0 || got > must
                            : got >= must || (got < 0 && deleted_between(k, (uint64_t)must, after));
    if (!shows)
      return bad(me, "id-%u does not show write %lld, acknowledged before the call "
                 "(it shows %lld)", k, (long long)must, (long long)got);
  }
  if (got < 0) {
    s[k].deleted = s[k].op >= 0;
  } else {
    s[k].op = got;
    s[k].deleted = 0;
  }
  return 0;
}

/* The whole collection against the model of the first `final` writes. */
static void check_whole(int me, omen_coll *c, omen_result *r)
{
  rec *m = calloc(OPS_IDS, sizeof *m);
  uint64_t final = atomic_load(&sh->final);
  for (uint64_t i = 0; i < final; i++) apply_op(m, i);
  if (!ops_match(c, r, m))
    bad(me, "holds something else than the %llu writes made", (unsigned long long)final);
  free(m);
}

static void reader(int me)
{
  omen_options o;
  omen_options_init(&o);
  o.flags = OMEN_OPEN_READONLY;
  omen_db *db;
  omen_coll *c = NULL;
  omen_result *r;
  if (omen_open(path, &o, &db) || omen_result_new(db, &r)) _exit(bad(me, "open: %s", omen_errmsg(db)) + 20);
  if (omen_coll_open(db, "c", &c)) _exit(bad(me, "collection: %s", omen_errmsg(db)) + 20);
  seen *s = malloc(OPS_IDS * sizeof *s);
  for (uint32_t k = 0; k < OPS_IDS; k++) s[k] = (seen){-1, 0};
  uint64_t seed = (uint64_t)me * 7 + 1;
  while (!atomic_load(&sh->stop) && !atomic_load(&sh->failures)) {
    int epoch = atomic_load(&sh->epoch);
    if (epoch != atomic_load(&sh->checked[me])) { /* the writer is done */
      check_whole(me, c, r);
      atomic_store(&sh->checked[me], epoch);
    }
    uint64_t acked = atomic_load(&sh->acked), first = atomic_load(&sh->first);
    if (acked > first) {
      op w;
      op_of(acked - 1, &w);
      for (size_t j = 0; j < w.n; j++)
        if (check_id(me, c, r, s, w.id[j], (int64_t)acked - 1)) break;
    }
    uint32_t k = (uint32_t)(tu_next(&seed) % OPS_IDS); /* and one at random */
    check_id(me, c, r, s, k, -1);
    omen_search_opts so;
    omen_search_opts_init(&so, 5);
    float q[DIM] = {0};
    if (omen_search(c, q, &so, r)) bad(me, "search: %s", omen_errmsg(db));
    atomic_fetch_add(&sh->checks, 1);
  }
  free(s);
  omen_result_free(r);
  omen_coll_close(c);
  omen_close(db);
  _exit(0);
}

/* -- The rounds ----------------------------------------------------------------------- */

static pid_t spawn_writer(uint64_t first, uint64_t last)
{
  atomic_store(&sh->first, first);
  atomic_store(&sh->acked, first);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) writer(first, last);
  return pid;
}

/* What the file holds now, as a count of writes: the longest prefix of the
** stream from `first` that matches (acknowledged ones, and one more). */
static uint64_t held(rec *model, uint64_t first, uint64_t acked)
{
  omen_db *db = tu_open(path, OMEN_OPEN_READONLY);
  omen_coll *c;
  omen_result *r;
  assert_int_equal(omen_coll_open(db, "c", &c), OMEN_OK);
  assert_int_equal(omen_result_new(db, &r), OMEN_OK);
  rec *m = malloc(OPS_IDS * sizeof *m);
  memcpy(m, model, OPS_IDS * sizeof *m);
  for (uint64_t i = first; i < acked; i++) apply_op(m, i);
  uint64_t n = acked;
  if (!ops_match(c, r, m)) {
    apply_op(m, acked);
    assert_true(ops_match(c, r, m)); /* the write being made when it died */
    n = acked + 1;
  }
  memcpy(model, m, OPS_IDS * sizeof *m);
  free(m);
  omen_result_free(r);
  omen_coll_close(c);
  assert_int_equal(omen_close(db), OMEN_OK);
  return n;
}

/* The writer is done (finished or killed) with `final` writes in the file:
** every reader checks its whole collection against them. */
static void settle(uint64_t final)
{
  atomic_store(&sh->final, final);
  int epoch = atomic_fetch_add(&sh->epoch, 1) + 1;
  for (int i = 0; i < READERS && !atomic_load(&sh->failures); i++)
    while (atomic_load(&sh->checked[i]) != epoch && !atomic_load(&sh->failures)) usleep(1000);
}

static void t_writer_and_readers(void **state)
{
  (void)state;
  snprintf(path, sizeof path, "/tmp/omen-test-readers-%d.omen", (int)getpid());
  remove_files();
  sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  assert_true(sh != MAP_FAILED);
  memset(sh, 0, sizeof *sh);
  omen_db *made;
  omen_coll *made_c;
  assert_int_equal(ops_open(path, NULL, &made, &made_c), 0);
  omen_coll_close(made_c);
  assert_int_equal(omen_close(made), OMEN_OK);

  pid_t readers[READERS];
  for (int i = 0; i < READERS; i++) {
    readers[i] = fork();
    assert_true(readers[i] >= 0);
    if (readers[i] == 0) reader(i);
  }
  /* round one: a writer that finishes */
  int status;
  pid_t w = spawn_writer(0, WRITES);
  waitpid(w, &status, 0);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  settle(WRITES);
  rec *model = calloc(OPS_IDS, sizeof *model);
  for (uint64_t i = 0; i < WRITES; i++) apply_op(model, i);

  /* round two: writers killed at random moments */
  uint64_t first = WRITES, s = (uint64_t)time(NULL);
  for (int k = 0; k < KILLS && !atomic_load(&sh->failures); k++) {
    w = spawn_writer(first, UINT64_MAX);
    usleep((useconds_t)(20000 + tu_next(&s) % 80000));
    kill(w, SIGKILL);
    waitpid(w, &status, 0);
    assert_true(WIFSIGNALED(status));
    first = held(model, first, atomic_load(&sh->acked));
    atomic_store(&sh->acked, first);
    settle(first);
  }
  atomic_store(&sh->stop, 1);
  for (int i = 0; i < READERS; i++) {
    waitpid(readers[i], &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) atomic_fetch_add(&sh->failures, 1);
  }
  for (int i = 0; i < READERS; i++)
    if (sh->why[i][0]) print_message("  reader %d: %s\n", i, sh->why[i]);
  print_message("  %d reader processes, %llu checks; %d writes then %d kills, %llu writes "
                "in the end\n", READERS, (unsigned long long)atomic_load(&sh->checks), WRITES,
                KILLS, (unsigned long long)first);
  assert_int_equal(atomic_load(&sh->failures), 0);
  free(model);
  munmap(sh, sizeof *sh);
  remove_files();
}

int main(void)
{
  const struct CMUnitTest tests[] = {cmocka_unit_test(t_writer_and_readers)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
