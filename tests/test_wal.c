/*
** Write-ahead log: a log left by a process that died is applied up to its
** last whole record: truncated at any byte, or with any bit flipped, the
** database comes back as exactly some prefix of the writes, never with part
** of one; logs that do not belong to the file are never applied; a failed
** write leaves no record; the sync modes and read-only opens behave.
*/
#include "ops.h"

#include <sys/wait.h>
#include <unistd.h>

#define WRITES 60

static char path[128], wal[160];

static int setup(void **state)
{
  (void)state;
  snprintf(path, sizeof path, "/tmp/omen-test-wal-%d.omen", (int)getpid());
  snprintf(wal, sizeof wal, "%s-wal", path);
  unlink(path);
  unlink(wal);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  char tmp[200];
  snprintf(tmp, sizeof tmp, "%s-tmp", path);
  unlink(path);
  unlink(wal);
  unlink(tmp);
  return 0;
}

/* In a child, run writes first..last-1 then die without closing (after an
** optional flush); the log holds them all. */
static void writes_then_die(uint64_t first, uint64_t last, omen_sync sync,
                            int flush)
{
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    omen_options o;
    omen_options_init(&o);
    o.sync = sync;
    omen_db *db;
    omen_coll *c;
    if (ops_open(path, &o, &db, &c)) _exit(2);
    for (uint64_t i = first; i < last; i++)
      if (run_op(c, i)) _exit(3);
    if (flush && omen_flush(db)) _exit(4);
    _exit(0);
  }
  int status;
  waitpid(pid, &status, 0);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  if (first == 0) tu_corpus("wal", wal, 64); /* the records, for fuzzing */
}

static unsigned char *slurp(const char *p, size_t *n)
{
  FILE *f = fopen(p, "rb");
  if (!f) {
    *n = 0;
    return NULL;
  }
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc(*n ? *n : 1);
  assert_int_equal(fread(b, 1, *n, f), *n);
  fclose(f);
  return b;
}

static void spill(const char *p, const unsigned char *b, size_t n)
{
  FILE *f = fopen(p, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(b, 1, n, f), n);
  fclose(f);
}

/* Open read-only (so the log is left as it is): whether the database holds
** exactly what writes 0..k-1 leave. */
static int holds(uint64_t k)
{
  omen_db *db = tu_open(path, OMEN_OPEN_READONLY);
  omen_coll *c = NULL;
  omen_result *r;
  assert_int_equal(omen_result_new(db, &r), OMEN_OK);
  omen_coll_open(db, "c", &c);
  rec *model = calloc(OPS_IDS, sizeof *model);
  for (uint64_t i = 0; i < k; i++) apply_op(model, i);
  int same = ops_match(c, r, model);
  free(model);
  omen_result_free(r);
  omen_coll_close(c);
  omen_close(db);
  return same;
}

/* Which write made each log record: a delete of an absent id changes
** nothing and logs nothing. Record 0 creates the collection. */
static size_t writes_of_records(uint64_t first, uint64_t last, uint64_t *write)
{
  rec *model = calloc(OPS_IDS, sizeof *model);
  size_t n = 1;
  for (uint64_t i = 0; i < last; i++) {
    op o;
    op_of(i, &o);
    int logged = o.kind != 2 || model[o.id[0]].present;
    apply_op(model, i);
    if (i >= first && logged) write[n++] = i;
  }
  free(model);
  return n;
}

/* Writes held when the first `whole` records of the log apply. */
static uint64_t writes_held(const uint64_t *write, size_t whole)
{
  return whole > 1 ? write[whole - 1] + 1 : 0;
}

/* The end offsets of the whole records in a log. */
static size_t record_ends(const unsigned char *log, size_t n, size_t *ends)
{
  size_t count = 0;
  for (size_t at = 64; at + 24 <= n;) {
    uint64_t len;
    memcpy(&len, log + at, 8);
    if (len > n - at - 24) break;
    at += 24 + (size_t)len;
    ends[count++] = at;
  }
  return count;
}

static void t_truncated_log(void **state)
{
  (void)state;
  writes_then_die(0, WRITES, OMEN_SYNC_NORMAL, 0);
  assert_true(holds(WRITES));
  size_t n, ends[WRITES + 8];
  uint64_t write[WRITES + 8];
  unsigned char *log = slurp(wal, &n);
  assert_non_null(log);
  size_t records = record_ends(log, n, ends);
  assert_int_equal(records, writes_of_records(0, WRITES, write));
  int checked = 0;
  for (size_t cut = 0; cut <= n; cut += cut < 2000 ? 1 : 37, checked++) {
    spill(wal, log, cut);
    size_t whole = 0;
    while (whole < records && ends[whole] <= cut) whole++;
    if (!holds(writes_held(write, whole)))
      fail_msg("log cut at %zu of %zu: not the first %zu records", cut, n, whole);
  }
  print_message("  %d truncations of a %zu-byte log, each a whole prefix\n", checked, n);
  free(log);
}

static void t_flipped_log(void **state)
{
  (void)state;
  writes_then_die(0, WRITES, OMEN_SYNC_NORMAL, 0);
  size_t n, ends[WRITES + 8];
  uint64_t write[WRITES + 8];
  unsigned char *log = slurp(wal, &n);
  size_t records = record_ends(log, n, ends);
  writes_of_records(0, WRITES, write);
  uint64_t s = 17;
  for (int round = 0; round < 200; round++) {
    size_t at = round < 20 ? (size_t)round * 3 : (size_t)(tu_next(&s) % n);
    unsigned char *copy = malloc(n);
    memcpy(copy, log, n);
    copy[at] ^= (unsigned char)(1u << (tu_next(&s) % 8));
    spill(wal, copy, n);
    free(copy);
    /* Everything before the damaged record stays; nothing after it. */
    size_t damaged = 0;
    while (damaged < records && ends[damaged] <= at) damaged++;
    if (!holds(at < 64 ? 0 : writes_held(write, damaged)))
      fail_msg("bit flip at %zu: not the %zu records before it", at, damaged);
  }
  free(log);
}

/* A log of another file, or of an earlier checkpoint, is never applied. */
static void t_foreign_logs(void **state)
{
  (void)state;
  writes_then_die(0, 20, OMEN_SYNC_NORMAL, 0);
  size_t n;
  unsigned char *old_log = slurp(wal, &n);
  omen_db *db = tu_open(path, 0); /* folds the log in, removes it at close */
  omen_close(db);
  assert_int_equal(access(wal, F_OK), -1);
  spill(wal, old_log, n); /* the already folded log comes back */
  assert_true(holds(20));
  /* A new database at the same path must not take the old log either. */
  unlink(path);
  db = tu_open(path, 0);
  omen_close(db);
  spill(wal, old_log, n);
  assert_true(holds(0));
  free(old_log);
}

/* Failed writes leave no record; read-only opens leave the log alone. */
static void t_failed_and_readonly(void **state)
{
  (void)state;
  writes_then_die(0, 10, OMEN_SYNC_NORMAL, 0);
  size_t before, after;
  free(slurp(wal, &before));
  omen_db *ro = tu_open(path, OMEN_OPEN_READONLY);
  omen_close(ro);
  free(slurp(wal, &after));
  assert_int_equal(after, before);

  omen_db *db = tu_open(path, 0);
  omen_coll *c;
  assert_int_equal(omen_coll_open(db, "c", &c), OMEN_OK);
  free(slurp(wal, &before));
  float bad[DIM] = {0};
  bad[2] = NAN;
  assert_int_equal(omen_upsert(c, "x", 1, bad, NULL, 0), OMEN_INVALID);
  assert_int_equal(omen_delete(c, "never", 5), OMEN_NOTFOUND);
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, DIM);
  omen_coll *dup;
  assert_int_equal(omen_coll_create(db, "c", &cfg, &dup), OMEN_EXISTS);
  free(slurp(wal, &after));
  assert_int_equal(after, before);
  omen_coll_close(c);
  omen_close(db);
}

/* full syncs every write; off keeps writes in memory until flushed, so a
** crash keeps a prefix, and everything up to the flush. */
static void t_sync_modes(void **state)
{
  (void)state;
  writes_then_die(0, 30, OMEN_SYNC_FULL, 0);
  assert_true(holds(30));
  writes_then_die(30, 45, OMEN_SYNC_OFF, 1);
  assert_true(holds(45));
  writes_then_die(45, 50, OMEN_SYNC_OFF, 0);
  int some = 0;
  for (uint64_t k = 45; k <= 50; k++) some |= holds(k);
  assert_true(some);
}

/* Many writes with a small checkpoint threshold: the log is folded in over
** and over, and stays small. */
static void t_auto_checkpoint(void **state)
{
  (void)state;
  omen_options o;
  omen_options_init(&o);
  o.alloc = tu_alloc;
  o.checkpoint_bytes = 8 << 10;
  omen_db *db;
  omen_coll *c;
  assert_int_equal(ops_open(path, &o, &db, &c), 0);
  size_t biggest = 0, n;
  for (uint64_t i = 0; i < 400; i++) {
    assert_int_equal(run_op(c, i), OMEN_OK);
    free(slurp(wal, &n));
    if (n > biggest) biggest = n;
  }
  assert_true(biggest < 8 * 1024 + 4096);
  omen_coll_close(c);
  omen_close(db);
  assert_true(holds(400));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
    T(t_truncated_log), T(t_flipped_log), T(t_foreign_logs),
    T(t_failed_and_readonly), T(t_sync_modes), T(t_auto_checkpoint),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
