/*
** Crashes: a child process writes to a database without pause (single
** upserts, batches, deletes; a tiny checkpoint threshold makes it fold its
** log into the file all the time) and reports each write that returned. The
** parent kills it with SIGKILL at a random moment, reopens the database and
** checks that it holds exactly the acknowledged writes, or those and the one
** in flight, byte for byte; then a new child goes on, many times over.
*/
#include "ops.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 40

static char path[128];

/* -- The child: write until killed -------------------------------------------- */

static void child(int ack, uint64_t first)
{
  omen_options o;
  omen_options_init(&o);
  o.checkpoint_bytes = 16 << 10; /* checkpoint often: crash inside them too */
  omen_db *db;
  omen_coll *c;
  if (ops_open(path, &o, &db, &c)) _exit(2);
  for (uint64_t i = first;; i++) {
    if (run_op(c, i)) _exit(4);
    if (write(ack, &i, sizeof i) != sizeof i) _exit(5);
  }
}

/* -- The parent: check what survived ------------------------------------------ */

static void t_kill_and_reopen(void **state)
{
  (void)state;
  snprintf(path, sizeof path, "/tmp/omen-test-crash-%d.omen", (int)getpid());
  rec *model = calloc(OPS_IDS, sizeof *model), *next = calloc(OPS_IDS, sizeof *model);
  uint64_t first = 0, s = (uint64_t)time(NULL);
  int in_flight_seen = 0;
  for (int round = 0; round < ROUNDS; round++) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      child(fds[1], first);
    }
    close(fds[1]);
    usleep((useconds_t)(5000 + tu_next(&s) % 60000));
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status)); /* it was still writing */
    uint64_t acked, last = first - 1; /* first - 1: none acknowledged */
    while (read(fds[0], &acked, sizeof acked) == sizeof acked) {
      assert_int_equal(acked, last + 1);
      last = acked;
    }
    close(fds[0]);
    for (uint64_t i = first; i != last + 1; i++) apply_op(model, i);

    omen_db *db = tu_open(path, 0);
    omen_coll *c = NULL;
    omen_result *r;
    assert_int_equal(omen_result_new(db, &r), OMEN_OK);
    int rc = omen_coll_open(db, "c", &c);
    assert_true(rc == OMEN_OK || (rc == OMEN_NOTFOUND && last + 1 == first));
    if (!ops_match(c, r, model)) { /* then the write in flight made it too */
      memcpy(next, model, OPS_IDS * sizeof *model);
      apply_op(next, last + 1);
      if (!ops_match(c, r, next))
        fail_msg("round %d: the database matches neither %llu acknowledged "
                 "writes nor one more", round, (unsigned long long)(last + 1));
      memcpy(model, next, OPS_IDS * sizeof *model);
      last++;
      in_flight_seen++;
    }
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
    first = last + 1;
  }
  print_message("  %d kills, %llu writes acknowledged, %d in-flight writes "
                "found applied\n", ROUNDS, (unsigned long long)first, in_flight_seen);
  assert_true(first > ROUNDS);
  free(model);
  free(next);
  char side[160];
  unlink(path);
  snprintf(side, sizeof side, "%s-wal", path);
  unlink(side);
  snprintf(side, sizeof side, "%s-tmp", path);
  unlink(side);
}

int main(void)
{
  const struct CMUnitTest tests[] = {cmocka_unit_test(t_kill_and_reopen)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
