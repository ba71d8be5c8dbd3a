/*
** Crashes: a child process writes to a database without pause (single
** upserts, batches, deletes; a tiny checkpoint threshold makes it fold its
** log into the file all the time) and reports each write that returned.
** Meanwhile the parent opens the database read-only again and again, as a
** second process would, and checks that each open sees every write
** acknowledged before it began (with sync "off": every write flushed
** before it began) and nothing but a prefix of the writes. One live reader
** stays open through all of it, following the writers (their records and
** checkpoints, then the next writer's) and is checked the same way after
** each omen_refresh, and again after each kill. Then it kills
** the child with SIGKILL at a random moment, reopens the database and
** checks that it holds exactly such a prefix, byte for byte; a new child
** goes on from there, many times over.
*/
#include "ops.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 40
#define FLUSH_EVERY 29             /* sync off: the child flushes this often */
#define FLUSHED (1ull << 63)       /* an ack that also says "flushed" */

static char path[128];

/* -- The child: write until killed -------------------------------------------- */

static void child(int ack, uint64_t first, omen_sync sync)
{
  omen_options o;
  omen_options_init(&o);
  o.sync = sync;
  o.checkpoint_bytes = 16 << 10; /* checkpoint often: crash inside them too */
  omen_db *db;
  omen_coll *c;
  if (ops_open(path, &o, &db, &c)) _exit(2);
  for (uint64_t i = first;; i++) {
    if (run_op(c, i)) _exit(4);
    uint64_t msg = i;
    if (sync == OMEN_SYNC_OFF && i % FLUSH_EVERY == 0) {
      if (omen_flush(db)) _exit(6);
      msg |= FLUSHED;
    }
    if (write(ack, &msg, sizeof msg) != sizeof msg) _exit(5);
  }
}

/* -- The parent: what the writer has said so far ----------------------------- */

typedef struct progress {
  int fd;          /* the read end of the child's acks, non-blocking */
  uint64_t done;   /* writes acknowledged: first .. done-1 */
  uint64_t safe;   /* writes that must survive: all acknowledged with sync
                      normal, those up to the last flush with sync off */
  omen_sync sync;
} progress;

static void drain(progress *p)
{
  uint64_t msg;
  while (read(p->fd, &msg, sizeof msg) == sizeof msg) {
    uint64_t i = msg & ~FLUSHED;
    assert_int_equal(i, p->done);
    p->done = i + 1;
    if (p->sync != OMEN_SYNC_OFF || (msg & FLUSHED)) p->safe = p->done;
  }
}

/* The j in [lo, hi] for which the collection holds exactly what writes
** 0..j-1 leave (base: what writes 0..first-1 leave), or -1. */
static int64_t which_prefix(omen_coll *c, omen_result *r, const rec *base,
                            uint64_t first, uint64_t lo, uint64_t hi)
{
  rec *m = malloc(OPS_IDS * sizeof *m);
  memcpy(m, base, OPS_IDS * sizeof *m);
  for (uint64_t i = first; i < lo; i++) apply_op(m, i);
  int64_t found = -1;
  for (uint64_t j = lo; found < 0; j++) {
    if (ops_match(c, r, m)) found = (int64_t)j;
    if (j == hi) break;
    apply_op(m, j);
  }
  free(m);
  return found;
}

/* One read-only open beside the writer: it must see at least every write
** that had to survive before it began, and at most one more than were
** acknowledged after it read. */
static void read_beside(progress *p, const rec *base, uint64_t first, int *reads)
{
  drain(p);
  uint64_t lo = p->safe;
  omen_options o; /* held still: its calls check one state */
  omen_options_init(&o);
  o.flags = OMEN_OPEN_READONLY;
  o.refresh_ms = OMEN_REFRESH_MANUAL;
  omen_db *db = NULL;
  assert_int_equal(omen_open(path, &o, &db), OMEN_OK);
  omen_coll *c = NULL;
  omen_result *r;
  assert_int_equal(omen_result_new(db, &r), OMEN_OK);
  int rc = omen_coll_open(db, "c", &c);
  assert_true(rc == OMEN_OK || rc == OMEN_NOTFOUND);
  drain(p);
  if (which_prefix(c, r, base, first, lo, p->done + 1) < 0)
    fail_msg("a read-only open beside the writer saw neither the %llu writes that "
             "had to be there nor a longer prefix of the %llu acknowledged",
             (unsigned long long)lo, (unsigned long long)p->done);
  omen_result_free(r);
  omen_coll_close(c);
  omen_close(db);
  (*reads)++;
}

/* The live reader: what it shows after omen_refresh must be such a prefix
** too, from the same collection handle all along. */
typedef struct live {
  omen_db *db;
  omen_coll *c;
  omen_result *r;
  int refreshes;
} live;

static void live_open(live *l)
{
  omen_options o;
  omen_options_init(&o);
  o.flags = OMEN_OPEN_READONLY;
  o.refresh_ms = OMEN_REFRESH_MANUAL;
  assert_int_equal(omen_open(path, &o, &l->db), OMEN_OK);
  assert_int_equal(omen_coll_open(l->db, "c", &l->c), OMEN_OK);
  assert_int_equal(omen_result_new(l->db, &l->r), OMEN_OK);
  l->refreshes = 0;
}

static void live_close(live *l)
{
  omen_result_free(l->r);
  omen_coll_close(l->c);
  assert_int_equal(omen_close(l->db), OMEN_OK);
}

static void live_check(live *l, progress *p, const rec *base, uint64_t first)
{
  drain(p);
  uint64_t lo = p->safe;
  int rc = omen_refresh(l->db);
  if (rc) fail_msg("the live reader could not follow: %s", omen_errmsg(l->db));
  drain(p);
  if (which_prefix(l->c, l->r, base, first, lo, p->done + 1) < 0)
    fail_msg("the live reader saw neither the %llu writes that had to be there nor "
             "a longer prefix of the %llu acknowledged", (unsigned long long)lo,
             (unsigned long long)p->done);
  l->refreshes++;
}

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void remove_files(void) { tu_remove_db(path); }

static void kill_rounds(omen_sync sync)
{
  snprintf(path, sizeof path, "/tmp/omen-test-crash-%d.omen", (int)getpid());
  remove_files();
  omen_db *made; /* an empty database, so readers find one from the start */
  omen_coll *made_c;
  assert_int_equal(ops_open(path, NULL, &made, &made_c), 0);
  omen_coll_close(made_c);
  assert_int_equal(omen_close(made), OMEN_OK);
  rec *model = calloc(OPS_IDS, sizeof *model);
  uint64_t first = 0, s = (uint64_t)time(NULL), lost = 0;
  int reads = 0;
  live l;
  live_open(&l);
  for (int round = 0; round < ROUNDS; round++) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      child(fds[1], first, sync);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    progress p = {fds[0], first, first, sync};
    double until = now() + (5 + (double)(tu_next(&s) % 60)) / 1000;
    while (now() < until) {
      read_beside(&p, model, first, &reads);
      live_check(&l, &p, model, first);
    }
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status)); /* it was still writing */
    drain(&p);
    close(fds[0]);
    live_check(&l, &p, model, first); /* the writer's death harms no reader */

    omen_db *db = tu_open(path, 0);
    omen_coll *c = NULL;
    omen_result *r;
    assert_int_equal(omen_result_new(db, &r), OMEN_OK);
    int rc = omen_coll_open(db, "c", &c);
    assert_int_equal(rc, OMEN_OK);
    int64_t j = which_prefix(c, r, model, first, p.safe, p.done + 1);
    if (j < 0)
      fail_msg("round %d: the database holds no prefix of the writes from the %llu "
               "that had to survive to the %llu acknowledged and one more", round,
               (unsigned long long)p.safe, (unsigned long long)p.done);
    lost += p.done > (uint64_t)j ? p.done - (uint64_t)j : 0;
    if (c) { /* and it still searches */
      uint64_t count;
      assert_int_equal(omen_count(c, &count), OMEN_OK);
      omen_search_opts o;
      omen_search_opts_init(&o, 5);
      float q[DIM] = {0};
      assert_int_equal(omen_search(c, q, &o, r), OMEN_OK);
      assert_int_equal(omen_result_count(r), count < 5 ? count : 5);
    }
    omen_result_free(r);
    omen_coll_close(c);
    assert_int_equal(omen_close(db), OMEN_OK);
    for (uint64_t i = first; i < (uint64_t)j; i++) apply_op(model, i);
    first = (uint64_t)j; /* the next child goes on from what is there */
  }
  print_message("  sync %s: %d kills, %llu writes kept, %llu acknowledged but "
                "unflushed lost, %d read-only opens beside the writer, %d checks "
                "of a live reader\n",
                sync == OMEN_SYNC_OFF ? "off" : "normal", ROUNDS,
                (unsigned long long)first, (unsigned long long)lost, reads,
                l.refreshes);
  live_close(&l);
  assert_true(first > ROUNDS);
  free(model);
  remove_files();
}

static void t_kill_and_reopen(void **state)
{
  (void)state;
  kill_rounds(OMEN_SYNC_NORMAL);
}

static void t_kill_and_reopen_sync_off(void **state)
{
  (void)state;
  kill_rounds(OMEN_SYNC_OFF);
}

int main(void)
{
  const struct CMUnitTest tests[] = {cmocka_unit_test(t_kill_and_reopen),
                                     cmocka_unit_test(t_kill_and_reopen_sync_off)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
