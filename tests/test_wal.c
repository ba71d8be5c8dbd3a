/*
** Write-ahead log: a log left by a process that died is applied up to its
** last whole record: truncated at any byte, the database comes back as
** exactly some prefix of the writes, never with part of one. A bit flipped
** in the last record is a torn tail too; one flipped before it, with whole
** records after, is damage: every open refuses and leaves the log as it is,
** unless told to cut it there. Logs that do not belong to the file are
** never applied; a failed write leaves no record and loses none written
** before it, also on a full disk with sync off; the sync modes and
** read-only opens behave.
*/
#include "ops.h"

#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
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
static int holds_with(uint64_t k, unsigned flags)
{
  omen_db *db = tu_open(path, OMEN_OPEN_READONLY | flags);
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

static int holds(uint64_t k) { return holds_with(k, 0); }

/* An open that must fail with OMEN_CORRUPT, its message naming the log and
** the record; flags add to it. */
static void refused(unsigned flags, size_t record)
{
  omen_options o;
  omen_options_init(&o);
  o.alloc = tu_alloc;
  o.flags = flags;
  omen_db *db;
  int rc = omen_open(path, &o, &db);
  if (rc != OMEN_CORRUPT) fail_msg("open (flags %u) gave %d, not OMEN_CORRUPT", flags, rc);
  char want[64];
  snprintf(want, sizeof want, "record %zu ", record);
  const char *msg = omen_errmsg(db);
  if (!strstr(msg, "-wal") || !strstr(msg, "truncate") || (record && !strstr(msg, want)))
    fail_msg("message does not name the log and record %zu: %s", record, msg);
  omen_close(db);
}

/* Which write made each log record: a delete of an absent id changes
** nothing and logs nothing. Records 0 and 1 create the collection and its
** text index. */
#define SETUP_RECORDS 2
static size_t writes_of_records(uint64_t first, uint64_t last, uint64_t *write)
{
  rec *model = calloc(OPS_IDS, sizeof *model);
  size_t n = SETUP_RECORDS;
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
  return whole > SETUP_RECORDS ? write[whole - 1] + 1 : 0;
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

/* Recovery applies the log without logging it again: a read-write open
** leaves the log byte for byte, and the next write adds one record after
** it. */
static void t_replay_logs_nothing(void **state)
{
  (void)state;
  writes_then_die(0, WRITES, OMEN_SYNC_NORMAL, 0);
  size_t n, m, ends[WRITES + 8];
  unsigned char *log = slurp(wal, &n);
  assert_non_null(log);
  size_t records = record_ends(log, n, ends);
  omen_db *db = tu_open(path, 0);
  omen_coll *c;
  assert_int_equal(omen_coll_open(db, "c", &c), OMEN_OK);
  unsigned char *after = slurp(wal, &m);
  assert_int_equal(m, n);
  assert_memory_equal(after, log, n);
  free(after);
  float v[DIM] = {1};
  assert_int_equal(omen_upsert(c, "new", 3, v, NULL, 0), OMEN_OK); /* not an op's id */
  assert_int_equal(omen_flush(db), OMEN_OK);
  after = slurp(wal, &m);
  assert_true(m > n);
  assert_memory_equal(after, log, n);
  assert_int_equal(record_ends(after, m, ends), records + 1);
  free(after);
  free(log);
  omen_coll_close(c);
  assert_int_equal(omen_close(db), OMEN_OK);
  assert_true(holds(WRITES));
}

/* Flip one bit at each of many places of a log written in `sync` mode. In
** the header or in a record before the last, with whole records after it,
** that is damage: read-only and read-write opens (and verify) refuse,
** naming the record, and leave the log byte for byte; asked to cut it
** there, they hold the records before it. In the last record it is a torn
** tail: the records before it apply. */
static void flipped_log(omen_sync sync)
{
  writes_then_die(0, WRITES, sync, sync == OMEN_SYNC_OFF);
  size_t n, ends[WRITES + 8];
  uint64_t write[WRITES + 8];
  unsigned char *log = slurp(wal, &n);
  size_t records = record_ends(log, n, ends);
  writes_of_records(0, WRITES, write);
  uint64_t s = 17;
  int damage = 0, torn = 0;
  for (int round = 0; round < 200; round++) {
    size_t last = ends[records - 2], at = round < 20   ? (size_t)round * 3
                                         : round < 40 ? last + (size_t)(tu_next(&s) % (n - last))
                                                      : (size_t)(tu_next(&s) % n);
    unsigned char *copy = malloc(n);
    memcpy(copy, log, n);
    copy[at] ^= (unsigned char)(1u << (tu_next(&s) % 8));
    spill(wal, copy, n);
    size_t hit = 0; /* the record flipped (0: the header), counted from 1 */
    while (hit < records && ends[hit] <= at) hit++;
    if (at < 64) hit = 0;
    else hit++;
    uint64_t before = at < 64 ? 0 : writes_held(write, hit - 1);
    if (hit == records) { /* the last one: a torn tail */
      torn++;
      if (!holds(before)) fail_msg("bit flip at %zu, last record: not the records before it", at);
    } else {
      damage++;
      refused(OMEN_OPEN_READONLY, hit);
      refused(OMEN_OPEN_READONLY | OMEN_OPEN_VERIFY, hit);
      refused(0, hit);
      size_t now;
      unsigned char *after = slurp(wal, &now);
      if (now != n || memcmp(after, copy, n))
        fail_msg("bit flip at %zu: a refused open changed the log", at);
      free(after);
      if (!holds_with(before, OMEN_OPEN_TRUNCATE_LOG))
        fail_msg("bit flip at %zu, truncating: not the records before record %zu", at, hit);
    }
    free(copy);
  }
  print_message("  %d flips before the last record refused, %d in it dropped as torn\n",
                damage, torn);
  assert_true(damage > 100 && torn > 0);
  free(log);
}

static void t_flipped_log(void **state)
{
  (void)state;
  flipped_log(OMEN_SYNC_NORMAL);
}

static void t_flipped_log_sync_off(void **state)
{
  (void)state;
  flipped_log(OMEN_SYNC_OFF);
}

/* A writer told to cut a damaged log keeps the records before the damage,
** cuts the log there, and goes on writing after them. */
static void t_truncate_damaged(void **state)
{
  (void)state;
  writes_then_die(0, WRITES, OMEN_SYNC_NORMAL, 0);
  size_t n, ends[WRITES + 8];
  uint64_t write[WRITES + 8];
  unsigned char *log = slurp(wal, &n);
  size_t records = record_ends(log, n, ends);
  writes_of_records(0, WRITES, write);
  size_t bad = records / 2; /* record bad + 1, counted from 1 */
  log[ends[bad - 1] + 30] ^= 4;
  spill(wal, log, n);
  refused(0, bad + 1);
  omen_db *db = tu_open(path, OMEN_OPEN_TRUNCATE_LOG);
  size_t now;
  free(slurp(wal, &now));
  assert_int_equal(now, ends[bad - 1]);
  omen_close(db);
  assert_true(holds(writes_held(write, bad)));
  free(log);
}

/* A damaged vector chunk in the file behind a pending log: the open fails,
** naming the file's chunk, not the healthy log. */
static void t_damaged_file_behind_log(void **state)
{
  (void)state;
  writes_then_die(0, 30, OMEN_SYNC_NORMAL, 0);
  omen_db *db = tu_open(path, 0); /* folds the log into the file */
  omen_close(db);
  writes_then_die(30, 40, OMEN_SYNC_NORMAL, 0);
  size_t n;
  unsigned char *file = slurp(path, &n);
  file[4096 + 3] ^= 0x10; /* the first collection's vectors begin there */
  spill(path, file, n);
  free(file);
  omen_options o;
  omen_options_init(&o);
  o.alloc = tu_alloc;
  int rc = omen_open(path, &o, &db);
  assert_int_equal(rc, OMEN_CORRUPT);
  const char *msg = omen_errmsg(db);
  if (!strstr(msg, "checksum mismatch in collection 'c', slots 0 to 1023") ||
      strstr(msg, "log"))
    fail_msg("the message does not name the damaged chunk of the file: %s", msg);
  omen_close(db);
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

/* -- A full disk -------------------------------------------------------------
** A file size limit (RLIMIT_FSIZE) stands in for a full disk: writes past it
** fail with EFBIG, after writing what fits. In a child, write until the
** writes fail, keep trying, flush; then lift the limit, flush, write more,
** flush again and die without closing. Every write that returned, and no
** other, must survive, in every sync mode. */

static void fill_then_die(omen_sync sync, off_t room, int ack)
{
  omen_options o;
  omen_options_init(&o);
  o.sync = sync;
  omen_db *db;
  omen_coll *c;
  if (ops_open(path, &o, &db, &c)) _exit(2);
  uint64_t i = 0;
  for (; i < 20; i++)
    if (run_op(c, i) || write(ack, &i, sizeof i) != sizeof i) _exit(3);
  if (omen_flush(db)) _exit(4);
  struct stat st;
  if (stat(wal, &st)) _exit(5);
  signal(SIGXFSZ, SIG_IGN);
  struct rlimit lim = {(rlim_t)(st.st_size + room), RLIM_INFINITY};
  if (setrlimit(RLIMIT_FSIZE, &lim)) _exit(6);
  int failures = 0;
  for (; failures < 50 && i < 200000; i++) {
    int rc = run_op(c, i);
    if (rc == OMEN_OK) {
      if (write(ack, &i, sizeof i) != sizeof i) _exit(7);
    } else if (rc == OMEN_IOERR && strstr(omen_errmsg(db), "File too large")) {
      failures++;
    } else {
      _exit(8);
    }
  }
  if (failures < 50) _exit(9); /* never filled up */
  /* With sync off, acknowledged writes wait in the buffer: no flush yet. */
  if (omen_flush(db) != (sync == OMEN_SYNC_OFF ? OMEN_IOERR : OMEN_OK)) _exit(10);
  lim.rlim_cur = RLIM_INFINITY;
  if (setrlimit(RLIMIT_FSIZE, &lim)) _exit(11);
  if (omen_flush(db)) _exit(12);
  for (uint64_t end = i + 300; i < end; i++)
    if (run_op(c, i) || write(ack, &i, sizeof i) != sizeof i) _exit(13);
  if (omen_flush(db)) _exit(14);
  _exit(0);
}

static void t_full_disk(void **state)
{
  (void)state;
  static const omen_sync modes[] = {OMEN_SYNC_OFF, OMEN_SYNC_NORMAL, OMEN_SYNC_FULL};
  static const off_t rooms[] = {0, 100, 4000, 70000};
  rec *model = calloc(OPS_IDS, sizeof *model);
  for (size_t m = 0; m < 3; m++)
    for (size_t r = 0; r < sizeof rooms / sizeof rooms[0]; r++) {
      teardown(NULL);
      int fds[2];
      assert_int_equal(pipe(fds), 0);
      pid_t pid = fork();
      assert_true(pid >= 0);
      if (pid == 0) {
        close(fds[0]);
        fill_then_die(modes[m], rooms[r], fds[1]);
      }
      close(fds[1]);
      memset(model, 0, OPS_IDS * sizeof *model);
      uint64_t acked, count = 0;
      while (read(fds[0], &acked, sizeof acked) == sizeof acked) {
        apply_op(model, acked);
        count++;
      }
      close(fds[0]);
      int status;
      waitpid(pid, &status, 0);
      if (!WIFEXITED(status) || WEXITSTATUS(status))
        fail_msg("sync mode %d, room %ld: the writer failed (status %d)", (int)modes[m],
                 (long)rooms[r], status);
      omen_db *db = tu_open(path, OMEN_OPEN_READONLY);
      omen_coll *c;
      omen_result *res;
      assert_int_equal(omen_coll_open(db, "c", &c), OMEN_OK);
      assert_int_equal(omen_result_new(db, &res), OMEN_OK);
      if (!ops_match(c, res, model))
        fail_msg("sync mode %d, room %ld: the database is not the %llu acknowledged "
                 "writes", (int)modes[m], (long)rooms[r], (unsigned long long)count);
      omen_result_free(res);
      omen_coll_close(c);
      omen_close(db);
    }
  free(model);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
    T(t_truncated_log), T(t_replay_logs_nothing), T(t_flipped_log), T(t_flipped_log_sync_off),
    T(t_truncate_damaged), T(t_damaged_file_behind_log), T(t_foreign_logs),
    T(t_full_disk),
    T(t_failed_and_readonly), T(t_sync_modes), T(t_auto_checkpoint),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
