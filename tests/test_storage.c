/*
** Storage: databases survive close and reopen byte for byte; the writer lock
** and read-only mode hold; damaged, truncated, foreign and newer files are
** refused with a message and never crash (run under ASan by `make asan`);
** files of format version 2 are read and carried forward.
*/
#include "testutil.h"

#include "graphcheck.h"

#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"

#define DIM 12
#define N 1500

static char path[256];

static int setup(void **state)
{
  (void)state;
  snprintf(path, sizeof path, "/tmp/omen-test-storage-%d.omen", (int)getpid());
  unlink(path);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  char side[300];
  unlink(path);
  snprintf(side, sizeof side, "%s-tmp", path);
  unlink(side);
  snprintf(side, sizeof side, "%s-wal", path);
  unlink(side);
  return 0;
}

static void make_meta(size_t i, omen_field *f, omen_str *tags, char *buf)
{
  snprintf(buf, 32, "cat-%zu", i % 7);
  tags[0] = (omen_str){"t", 1};
  tags[1] = (omen_str){buf, strlen(buf)};
  f[0] = (omen_field){{"cat", 3}, {.type = OMEN_STRING, .u.string = {buf, strlen(buf)}}};
  f[1] = (omen_field){{"n", 1}, {.type = OMEN_NUMBER, .u.number = (double)i / 3}};
  f[2] = (omen_field){{"odd", 3}, {.type = OMEN_BOOL, .u.boolean = (int)(i & 1)}};
  f[3] = (omen_field){{"tags", 4}, {.type = OMEN_STRINGS, .u.strings = {tags, 2}}};
}

/* A file with two collections, metadata, and deleted slots. */
static void build_file(const float *data)
{
  omen_db *db = tu_open(path, 0);
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, DIM);
  omen_coll *a, *b;
  assert_int_equal(omen_coll_create(db, "alpha", &cfg, &a), OMEN_OK);
  omen_text_config tc; /* its text index's arrays are in the file too */
  omen_text_config_init(&tc, "tags");
  assert_int_equal(omen_text_index(a, &tc), OMEN_OK);
  cfg.metric = OMEN_COSINE;
  cfg.m = 8;
  assert_int_equal(omen_coll_create(db, "beta", &cfg, &b), OMEN_OK);
  char id[16], buf[32];
  for (size_t i = 0; i < N; i++) {
    omen_field f[4];
    omen_str tags[2];
    make_meta(i, f, tags, buf);
    tu_id(id, sizeof id, i);
    assert_int_equal(omen_upsert(a, id, strlen(id), data + i * DIM, f, 4), OMEN_OK);
    assert_int_equal(omen_upsert(b, id, strlen(id), data + i * DIM, NULL, 0), OMEN_OK);
  }
  for (size_t i = 0; i < N; i += 5) {
    tu_id(id, sizeof id, i);
    assert_int_equal(omen_delete(a, id, strlen(id)), OMEN_OK);
  }
  omen_coll_close(a);
  omen_coll_close(b);
  assert_int_equal(omen_close(db), OMEN_OK);
  tu_corpus("open", path, 0);
}

/* Compare every record of "alpha" with what was written. With `lenient`,
** a record may instead be refused as damaged (a damaged chunk found on
** first use), but never come back wrong. Returns how many were refused. */
static int check_alpha_lenient(omen_db *db, const float *data, int lenient)
{
  omen_coll *a;
  omen_result *r;
  assert_int_equal(omen_coll_open(db, "alpha", &a), OMEN_OK);
  assert_int_equal(omen_result_new(db, &r), OMEN_OK);
  uint64_t n;
  assert_int_equal(omen_count(a, &n), OMEN_OK);
  assert_int_equal(n, N - N / 5);
  char id[16], buf[32];
  int refused = 0;
  for (size_t i = 0; i < N; i++) {
    tu_id(id, sizeof id, i);
    int rc = omen_get(a, id, strlen(id), r);
    if (lenient && rc == OMEN_CORRUPT) {
      refused++;
      continue;
    }
    if (i % 5 == 0) {
      assert_int_equal(rc, OMEN_NOTFOUND);
      continue;
    }
    assert_int_equal(rc, OMEN_OK);
    const omen_hit *h = omen_result_hit(r, 0);
    assert_memory_equal(h->vec, data + i * DIM, DIM * sizeof(float));
    omen_field f[4];
    omen_str tags[2];
    make_meta(i, f, tags, buf);
    assert_int_equal(h->n_meta, 4);
    for (size_t j = 0; j < 4; j++) {
      const omen_field *g = NULL;
      for (size_t k = 0; k < 4; k++)
        if (h->meta[k].key.len == f[j].key.len &&
            !memcmp(h->meta[k].key.ptr, f[j].key.ptr, f[j].key.len))
          g = &h->meta[k];
      assert_non_null(g);
      assert_int_equal(g->value.type, f[j].value.type);
    }
  }
  omen_result_free(r);
  omen_coll_close(a);
  return refused;
}

static void check_alpha(omen_db *db, const float *data)
{
  check_alpha_lenient(db, data, 0);
}

static void t_roundtrip(void **state)
{
  (void)state;
  float *data = tu_clustered(N, DIM, 8, 3);
  build_file(data);
  omen_db *db = tu_open(path, 0);
  size_t need, count;
  char names[64];
  assert_int_equal(omen_coll_names(db, names, sizeof names, &need, &count), OMEN_OK);
  assert_int_equal(count, 2);
  assert_string_equal(names, "alpha");
  assert_string_equal(names + 6, "beta");
  check_alpha(db, data);

  /* Searches agree with a database built in memory the same way, and the
  ** free slots are reused after the reopen. */
  omen_coll *b;
  assert_int_equal(omen_coll_open(db, "beta", &b), OMEN_OK);
  omen_coll_info info;
  assert_int_equal(omen_coll_info_get(b, &info), OMEN_OK);
  assert_int_equal(info.config.metric, OMEN_COSINE);
  assert_int_equal(info.config.m, 8);
  assert_int_equal(info.count, N);
  omen_result *r;
  assert_int_equal(omen_result_new(db, &r), OMEN_OK);
  omen_search_opts o;
  omen_search_opts_init(&o, 10);
  assert_int_equal(omen_search(b, data, &o, r), OMEN_OK);
  assert_memory_equal(omen_result_hit(r, 0)->id.ptr, "id-0", 4);
  omen_coll *a;
  assert_int_equal(omen_coll_open(db, "alpha", &a), OMEN_OK);
  assert_int_equal(omen_upsert(a, "again", 5, data, NULL, 0), OMEN_OK);
  assert_int_equal(omen_coll_info_get(a, &info), OMEN_OK);
  assert_int_equal(info.slots, N);
  assert_int_equal(info.deleted, N / 5 - 1);
  omen_result_free(r);
  omen_coll_close(a);
  omen_coll_close(b);
  assert_int_equal(omen_close(db), OMEN_OK);

  db = tu_open(path, 0); /* and once more, after a write */
  assert_int_equal(omen_coll_open(db, "alpha", &a), OMEN_OK);
  assert_int_equal(omen_coll_info_get(a, &info), OMEN_OK);
  assert_int_equal(info.count, N - N / 5 + 1);
  omen_coll_close(a);
  omen_close(db);
  free(data);
}

/* Reopening links nothing into the graph and answers exactly as before. */
static void t_no_rebuild(void **state)
{
  (void)state;
  float *data = tu_clustered(N, DIM, 8, 3);
  float *queries = tu_clustered(50, DIM, 8, 4);
  build_file(data);
  omen_db *db = tu_open(path, 0);
  omen_coll *a;
  omen_result *r;
  assert_int_equal(omen_coll_open(db, "alpha", &a), OMEN_OK);
  assert_int_equal(omen_result_new(db, &r), OMEN_OK);
  omen_search_opts o;
  omen_search_opts_init(&o, 10);
  char (*before)[10][16] = calloc(50, sizeof *before);
  for (int q = 0; q < 50; q++) {
    assert_int_equal(omen_search(a, queries + q * DIM, &o, r), OMEN_OK);
    for (size_t i = 0; i < omen_result_count(r); i++)
      memcpy(before[q][i], omen_result_hit(r, i)->id.ptr, omen_result_hit(r, i)->id.len);
  }
  omen_coll_info info;
  assert_int_equal(omen_coll_info_get(a, &info), OMEN_OK);
  assert_int_equal(info.graph_inserts, 0);
  omen_result_free(r);
  omen_coll_close(a);
  omen_close(db);

  db = tu_open(path, 0);
  assert_int_equal(omen_coll_open(db, "alpha", &a), OMEN_OK);
  assert_int_equal(omen_result_new(db, &r), OMEN_OK);
  for (int q = 0; q < 50; q++) {
    assert_int_equal(omen_search(a, queries + q * DIM, &o, r), OMEN_OK);
    for (size_t i = 0; i < omen_result_count(r); i++)
      assert_memory_equal(before[q][i], omen_result_hit(r, i)->id.ptr,
                          omen_result_hit(r, i)->id.len);
  }
  assert_int_equal(omen_coll_info_get(a, &info), OMEN_OK);
  assert_int_equal(info.graph_inserts, 0);
  assert_int_equal(omen_upsert(a, "one more", 8, data, NULL, 0), OMEN_OK);
  assert_int_equal(omen_coll_info_get(a, &info), OMEN_OK);
  assert_int_equal(info.graph_inserts, 1); /* the counter counts */
  free(before);
  omen_result_free(r);
  omen_coll_close(a);
  omen_close(db);
  free(data);
  free(queries);
}

static void t_empty_and_new(void **state)
{
  (void)state;
  omen_db *db = tu_open(path, 0); /* creates an empty file */
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(omen_close(db), OMEN_OK);
  db = tu_open(path, 0);
  size_t need, count;
  assert_int_equal(omen_coll_names(db, NULL, 0, &need, &count), OMEN_OK);
  assert_int_equal(count, 0);
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, 3);
  omen_coll *c;
  assert_int_equal(omen_coll_create(db, "empty", &cfg, &c), OMEN_OK);
  omen_coll_close(c);
  assert_int_equal(omen_close(db), OMEN_OK);
  db = tu_open(path, 0);
  assert_int_equal(omen_coll_open(db, "empty", &c), OMEN_OK);
  uint64_t n = 9;
  assert_int_equal(omen_count(c, &n), OMEN_OK);
  assert_int_equal(n, 0);
  omen_coll_close(c);
  omen_close(db);
}

static int open_rc(unsigned flags, char *msg, size_t cap)
{
  omen_options o;
  omen_options_init(&o);
  o.alloc = tu_alloc;
  o.flags = flags;
  omen_db *db;
  int rc = omen_open(path, &o, &db);
  if (msg) snprintf(msg, cap, "%s", omen_errmsg(db));
  omen_close(db);
  return rc;
}

static void t_lock_and_readonly(void **state)
{
  (void)state;
  float *data = tu_clustered(N, DIM, 8, 3);
  build_file(data);
  omen_db *w = tu_open(path, 0);
  char msg[256];
  assert_int_equal(open_rc(0, msg, sizeof msg), OMEN_LOCKED);
  assert_non_null(strstr(msg, "locked"));
  omen_db *ro = tu_open(path, OMEN_OPEN_READONLY); /* readers never wait */
  check_alpha(ro, data);
  omen_coll *a;
  assert_int_equal(omen_coll_open(ro, "alpha", &a), OMEN_OK);
  assert_int_equal(omen_upsert(a, "x", 1, data, NULL, 0), OMEN_READONLY);
  assert_int_equal(omen_delete(a, "id-1", 4), OMEN_READONLY);
  omen_coll_close(a);
  assert_int_equal(omen_coll_drop(ro, "alpha"), OMEN_READONLY);
  omen_close(ro);

  /* A checkpoint replaces the file; the lock moves with it. */
  assert_int_equal(omen_coll_open(w, "alpha", &a), OMEN_OK);
  assert_int_equal(omen_upsert(a, "new", 3, data, NULL, 0), OMEN_OK);
  assert_int_equal(omen_checkpoint(w), OMEN_OK);
  assert_int_equal(open_rc(0, NULL, 0), OMEN_LOCKED);
  ro = tu_open(path, OMEN_OPEN_READONLY);
  omen_coll *a2;
  omen_result *r;
  assert_int_equal(omen_coll_open(ro, "alpha", &a2), OMEN_OK);
  assert_int_equal(omen_result_new(ro, &r), OMEN_OK);
  assert_int_equal(omen_get(a2, "new", 3, r), OMEN_OK);
  omen_result_free(r);
  omen_coll_close(a2);
  omen_close(ro);
  omen_coll_close(a);
  assert_int_equal(omen_close(w), OMEN_OK);
  assert_int_equal(open_rc(0, NULL, 0), OMEN_OK); /* unlocked */
  assert_int_equal(open_rc(OMEN_OPEN_READONLY, NULL, 0), OMEN_OK);
  free(data);
}

static void write_file(const void *p, size_t n)
{
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(p, 1, n, f), n);
  fclose(f);
}

static unsigned char *read_file(size_t *n)
{
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *p = malloc(*n);
  assert_int_equal(fread(p, 1, *n, f), *n);
  fclose(f);
  return p;
}

static void t_foreign_and_newer(void **state)
{
  (void)state;
  char msg[256];
  write_file("hello, this is a text file\n", 27);
  assert_int_equal(open_rc(0, msg, sizeof msg), OMEN_NOTOMEN);
  assert_non_null(strstr(msg, "not an omen database"));
  write_file("\x89OM", 3);
  assert_int_equal(open_rc(0, NULL, 0), OMEN_NOTOMEN);
  unlink(path);
  assert_int_equal(open_rc(OMEN_OPEN_READONLY, msg, sizeof msg), OMEN_IOERR);
  assert_non_null(strstr(msg, "No such file"));

  float *data = tu_clustered(N, DIM, 8, 3);
  build_file(data);
  size_t n;
  unsigned char *p = read_file(&n);
  uint32_t version = 5, crc;
  memcpy(p + 8, &version, 4);
  crc = omen__crc32c(0, p, 124);
  memcpy(p + 124, &crc, 4);
  write_file(p, n);
  assert_int_equal(open_rc(0, msg, sizeof msg), OMEN_FORMAT);
  assert_non_null(strstr(msg, "version 5"));
  free(p);
  free(data);
  assert_int_equal(open_rc(0, msg, sizeof msg), OMEN_FORMAT); /* untouched */
}

/* Every failure mode a damaged file can produce. */
static int refused(int rc)
{
  return rc == OMEN_CORRUPT || rc == OMEN_NOTOMEN || rc == OMEN_FORMAT;
}

static void t_truncated(void **state)
{
  (void)state;
  float *data = tu_clustered(N, DIM, 8, 3);
  build_file(data);
  size_t n;
  unsigned char *p = read_file(&n);
  for (size_t cut = 1; cut < n; cut += cut < 4200 ? 97 : n / 61) {
    write_file(p, cut);
    char msg[256];
    int rc = open_rc(0, msg, sizeof msg);
    if (!refused(rc)) fail_msg("truncated at %zu of %zu: rc %d (%s)", cut, n, rc, msg);
  }
  write_file(p, n);
  assert_int_equal(open_rc(0, NULL, 0), OMEN_OK);
  free(p);
  free(data);
}

static omen_db *open_flags(unsigned flags, int *rc)
{
  omen_options o;
  omen_options_init(&o);
  o.alloc = tu_alloc;
  o.flags = flags;
  omen_db *db;
  *rc = omen_open(path, &o, &db);
  if (*rc && !refused(*rc)) fail_msg("rc %d (%s)", *rc, omen_errmsg(db));
  return db;
}

/* A flipped bit is caught: when opening with OMEN_OPEN_VERIFY, or by the
** first call that reads it; only bytes no checksum covers (padding) may
** change unnoticed, and no call ever returns data that differs. */
static void t_bit_flips(void **state)
{
  (void)state;
  float *data = tu_clustered(N, DIM, 8, 3);
  build_file(data);
  size_t n;
  unsigned char *p = read_file(&n);
  uint64_t s = 99;
  int at_open = 0, on_use = 0, untouched = 0, unnoticed = 0, rounds = 300;
  for (int round = 0; round < rounds; round++) {
    unsigned char *q = malloc(n);
    memcpy(q, p, n);
    /* Half the flips in the header and catalog, where they matter most. */
    size_t at = round % 2 ? tu_next(&s) % 64 : tu_next(&s) % n;
    if (round % 4 == 2) at = n - 1 - tu_next(&s) % 400;
    q[at] ^= (unsigned char)(1u << (tu_next(&s) % 8));
    write_file(q, n);
    int rc, verified_rc;
    omen_db *db = open_flags(OMEN_OPEN_VERIFY, &verified_rc);
    if (!verified_rc) check_alpha(db, data); /* all checked: must be exact */
    omen_close(db);
    db = open_flags(0, &rc);
    if (rc) {
      at_open++;
    } else {
      int bad = check_alpha_lenient(db, data, 1);
      if (bad) on_use++;
      else if (verified_rc) untouched++; /* damage where alpha never reads */
      else unnoticed++;
    }
    omen_close(db);
    free(q);
  }
  print_message("  %d flipped files: %d refused at open, %d on first use, %d "
                "only by a full check, %d flips in unchecked padding\n",
                rounds, at_open, on_use, untouched, unnoticed);
  assert_true(at_open + on_use + untouched > rounds * 2 / 3);
  free(p);
  free(data);
}

/* Recompute every checksum after damage, so validation past the checksums
** is exercised: the catalog is walked as storage.c writes it (name, eleven
** uint32, seven uint64, then 23 sections of offset, length, CRC, then the
** text index's settings and counts; the vectors and level-0 links are
** checksummed per chunk of 1024 slots). The places of the first
** collection's sections go to first_off and first_len, when given. */
enum { S_VECS = 0, S_LINKS0 = 4, S_CHUNKS = 14, S_TNAMES = 16, N_SECT = 23 };

static void refresh_checksums(unsigned char *p, size_t n, uint64_t *first_off,
                              uint64_t *first_len)
{
  uint64_t cat_off, cat_len;
  uint32_t n_colls;
  memcpy(&cat_off, p + 24, 8);
  memcpy(&cat_len, p + 32, 8);
  memcpy(&n_colls, p + 44, 4);
  if (cat_off > n || cat_len > n - cat_off) return;
  unsigned char *c = p + cat_off, *end = c + cat_len;
  for (uint32_t i = 0; i < n_colls; i++) {
    uint32_t name_len, u[11];
    if (end - c < 4) return;
    memcpy(&name_len, c, 4);
    c += 4 + name_len;
    if (c + 44 + 56 + N_SECT * 20 + 4 > end) return;
    memcpy(u, c, 44); /* dim, metric, m, efc, efs, quantization, n_slots, ... */
    c += 44 + 56;
    uint64_t off[N_SECT], len[N_SECT];
    for (int k = 0; k < N_SECT; k++) {
      memcpy(&off[k], c + 20 * k, 8);
      memcpy(&len[k], c + 20 * k + 8, 8);
      if (off[k] > n || len[k] > n - off[k]) return;
    }
    if (i == 0 && first_off) {
      memcpy(first_off, off, sizeof off);
      memcpy(first_len, len, sizeof len);
    }
    uint64_t n_slots = u[6], rows[2] = {(u[0] + 15) / 16 * 16 * 4, (1 + 2 * (uint64_t)u[2]) * 4};
    int bulk[2] = {S_VECS, S_LINKS0};
    for (uint64_t ch = 0; ch * 1024 < n_slots; ch++)
      for (int b = 0; b < 2; b++) {
        uint64_t first = ch * 1024, cnt = n_slots - first < 1024 ? n_slots - first : 1024;
        if ((first + cnt) * rows[b] > len[bulk[b]] || (ch * 2 + b + 1) * 4 > len[S_CHUNKS]) return;
        uint32_t crc = omen__crc32c(0, p + off[bulk[b]] + first * rows[b], cnt * rows[b]);
        memcpy(p + off[S_CHUNKS] + (ch * 2 + b) * 4, &crc, 4);
      }
    for (int k = 0; k < N_SECT; k++) {
      if (k == S_VECS || k == S_LINKS0) continue;
      uint32_t crc = omen__crc32c(0, p + off[k], (size_t)len[k]);
      memcpy(c + 20 * k + 16, &crc, 4);
    }
    c += N_SECT * 20;
    uint32_t text;
    memcpy(&text, c, 4);
    c += 4 + (text ? (size_t)text + 4 * 8 + 2 * 4 : 0);
  }
  uint32_t crc = omen__crc32c(0, p + cat_off, (size_t)cat_len);
  memcpy(p + 40, &crc, 4);
  crc = omen__crc32c(0, p, 124);
  memcpy(p + 124, &crc, 4);
}

static void t_damage_behind_checksums(void **state)
{
  (void)state;
  float *data = tu_clustered(N, DIM, 8, 3);
  build_file(data);
  size_t n;
  unsigned char *p = read_file(&n);
  uint64_t s = 5, off[N_SECT] = {0}, len[N_SECT] = {0};
  refresh_checksums(p, n, off, len); /* alpha's places; changes nothing */
  int refusals = 0, rounds = 600;
  for (int round = 0; round < rounds; round++) {
    unsigned char *q = malloc(n);
    memcpy(q, p, n);
    for (int k = 0; k < 1 + round % 3; k++) {
      size_t at = 4096 + tu_next(&s) % (n - 4096);
      int sect = S_TNAMES + (int)(tu_next(&s) % (N_SECT - S_TNAMES));
      if (round % 2 && len[sect]) /* every other round: alpha's text index */
        at = (size_t)(off[sect] + tu_next(&s) % len[sect]);
      q[at] = round % 5 == 0 ? 0xff : (unsigned char)(q[at] ^ (1u << (tu_next(&s) % 8)));
    }
    refresh_checksums(q, n, NULL, NULL);
    write_file(q, n);
    omen_options o;
    omen_options_init(&o);
    o.alloc = tu_alloc;
    omen_db *db;
    int rc = omen_open(path, &o, &db);
    if (rc) {
      refusals++;
      if (!refused(rc)) fail_msg("rc %d (%s)", rc, omen_errmsg(db));
    } else { /* accepted: it must work, or find the damage when used */
      omen_coll *a;
      omen_result *r;
      assert_int_equal(omen_coll_open(db, "alpha", &a), OMEN_OK);
      assert_int_equal(omen_result_new(db, &r), OMEN_OK);
      omen_search_opts so;
      omen_search_opts_init(&so, 10);
      int src = omen_search(a, data, &so, r);
      assert_true(src == OMEN_OK || src == OMEN_CORRUPT);
      so.text = "t cat-1 cat-3 +t -cat-5"; /* text alone, then fused */
      src = omen_search(a, NULL, &so, r);
      assert_true(src == OMEN_OK || src == OMEN_CORRUPT);
      src = omen_search(a, data, &so, r);
      assert_true(src == OMEN_OK || src == OMEN_CORRUPT);
      src = omen_verify(db);
      assert_true(src == OMEN_OK || src == OMEN_CORRUPT);
      src = omen_upsert(a, "fresh", 5, data, NULL, 0);
      assert_true(src == OMEN_OK || src == OMEN_CORRUPT);
      src = omen_delete(a, "id-7", 4); /* takes a document out of the index */
      assert_true(src == OMEN_OK || src == OMEN_CORRUPT || src == OMEN_NOTFOUND);
      if (!src) { /* merges and renumbers the lists */
        src = omen_compact(db);
        assert_true(src == OMEN_OK || src == OMEN_CORRUPT);
      }
      omen_result_free(r);
      omen_coll_close(a);
    }
    omen_close(db);
    free(q);
  }
  print_message("  %d of %d damaged files refused past the checksums\n",
                refusals, rounds);
  free(p);
  free(data);
}

/* -- Format version 2 ----------------------------------------------------------
** tests/data/v2.omen was written by omen at commit e5e883f (format 2): two
** collections of dim 8, "plain" (l2) and "sq8cos" (cosine, sq8), each with
** records r0..r299, vector sin(7i + d), metadata i, and every seventh
** record (r0, r7, ...) deleted. In format 2 deleted slots sit on the free
** list with their links in place; they are read as deleted slots waiting
** for consolidation. */

#define V2_FILE "tests/data/v2.omen"

static void v2_vec(unsigned i, float *v)
{
  for (int d = 0; d < 8; d++) v[d] = sinf((float)(i * 7 + d));
}

/* Every record of a version-2 collection is as written, searchable by its
** own vector, and the deleted ones are gone. */
static void v2_check(omen_coll *c, omen_result *r, unsigned extra)
{
  char id[16];
  float v[8];
  omen_search_opts o;
  omen_search_opts_init(&o, 1);
  for (unsigned i = 0; i < 300 + extra; i++) {
    snprintf(id, sizeof id, i < 300 ? "r%u" : "n%u", i);
    int rc = omen_get(c, id, strlen(id), r);
    if (i < 300 && i % 7 == 0) {
      assert_int_equal(rc, OMEN_NOTFOUND);
      continue;
    }
    assert_int_equal(rc, OMEN_OK);
    v2_vec(i, v);
    assert_memory_equal(omen_result_hit(r, 0)->vec, v, sizeof v);
    assert_int_equal(omen_search(c, v, &o, r), OMEN_OK);
    assert_int_equal(omen_result_hit(r, 0)->id.len, strlen(id));
  }
  tu_check_graph(c);
}

static void t_reads_version_2(void **state)
{
  (void)state;
  FILE *in = fopen(V2_FILE, "rb"), *out = fopen(path, "wb");
  if (!in) fail_msg("%s is missing (run the tests from the top of the tree)", V2_FILE);
  char buf[8192];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0) assert_int_equal(fwrite(buf, 1, n, out), n);
  fclose(in);
  fclose(out);
  static const char *const names[] = {"plain", "sq8cos"};
  for (int k = 0; k < 2; k++) {
    omen_db *db = tu_open(path, 0);
    omen_coll *c;
    omen_result *r;
    assert_int_equal(omen_coll_open(db, names[k], &c), OMEN_OK);
    assert_int_equal(omen_result_new(db, &r), OMEN_OK);
    omen_coll_info info;
    assert_int_equal(omen_coll_info_get(c, &info), OMEN_OK);
    assert_int_equal(info.count, 257);
    assert_int_equal(info.deleted, 43);
    assert_int_equal(c->n_deleted, 43); /* routes, not free yet */
    v2_check(c, r, 0);
    /* 43 + 21 deletes make consolidation due: the 64 slots are free, and
    ** new records take them */
    char id[16];
    float v[8];
    for (unsigned i = 1; i < 300 && c->n_deleted; i += 7) {
      snprintf(id, sizeof id, "r%u", i);
      assert_int_equal(omen_delete(c, id, strlen(id)), OMEN_OK);
      v2_vec(i, v);
      snprintf(id, sizeof id, "r%u", i); /* back, as it was */
      assert_int_equal(omen_upsert(c, id, strlen(id), v, NULL, 0), OMEN_OK);
    }
    assert_int_equal(c->n_deleted, 0);
    for (unsigned i = 300; i < 340; i++) {
      snprintf(id, sizeof id, "n%u", i);
      v2_vec(i, v);
      assert_int_equal(omen_upsert(c, id, strlen(id), v, NULL, 0), OMEN_OK);
    }
    assert_int_equal(omen_coll_info_get(c, &info), OMEN_OK);
    assert_true(info.slots <= 340);
    v2_check(c, r, 40);
    omen_result_free(r);
    omen_coll_close(c);
    assert_int_equal(omen_close(db), OMEN_OK); /* now in format 4 */
    db = tu_open(path, OMEN_OPEN_READONLY);
    assert_int_equal(omen_coll_open(db, names[k], &c), OMEN_OK);
    assert_int_equal(omen_result_new(db, &r), OMEN_OK);
    v2_check(c, r, 40);
    omen_result_free(r);
    omen_coll_close(c);
    omen_close(db);
  }
  in = fopen(path, "rb");
  uint32_t version = 0;
  assert_int_equal(fread(buf, 1, 12, in), 12);
  fclose(in);
  memcpy(&version, buf + 8, 4);
  assert_int_equal(version, 4);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
    T(t_roundtrip), T(t_no_rebuild), T(t_empty_and_new), T(t_lock_and_readonly),
    T(t_foreign_and_newer), T(t_truncated), T(t_bit_flips),
    T(t_damage_behind_checksums), T(t_reads_version_2),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
