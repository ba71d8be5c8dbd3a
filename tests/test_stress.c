/*
** Many threads and many handles: the thread-safety contract of omen.h under
** load, and what thousands of open databases and collections cost.
**
** The stress test runs one writer per collection on three collections at
** once (two in a database file, sharing its log; one in memory) while reader
** threads search, batch-search and fetch. Writers insert, update, delete
** and batch-insert; they publish what each call acknowledged (release
** stores) and readers check, after acquiring it:
**  - every vector read is whole: a record's components all derive from its
**    number and version, so a torn write shows;
**  - hits come closest first, without duplicates, with distances that match
**    their vectors;
**  - an acknowledged record is found by get, at its acknowledged version or
**    a later one; a record deleted before a read began is never returned.
** At the end every collection equals its writer's model, and the file
** database equals it again after being closed and reopened.
**
** Then thousands of databases and of collection handles in one process,
** their memory counted through the allocator hook, a hundred database
** files open at once, and searches that allocate nothing once warm.
*/
#include "testutil.h"

#include <stdatomic.h>

#define DIM 16
#define NCOLL 3
#define NREC 4096       /* records a writer may create */
#define WRITES 3000     /* writer calls per collection */
#define BATCH 16        /* records per batch insert */
#define READERS 3
#define MIN_READS 300   /* reads per reader, however fast the writers are */
#define DELETED (-1)
#define DELETING (-2)

typedef struct shared_coll {
  omen_coll *c;
  omen_metric metric;
  /* Per record: 0 never written, > 0 live at that version, DELETING while
  ** a delete runs, DELETED once acknowledged. */
  atomic_int state[NREC];
  atomic_int last_version[NREC]; /* the version a deleted record had */
  atomic_uint deleted_at[NREC];  /* `acked` value that acknowledged its delete */
  atomic_int created;            /* records 0 .. created-1 have been written */
  atomic_uint acked;             /* writer calls acknowledged so far */
} shared_coll;

static shared_coll shared[NCOLL];
static atomic_int writers_left;

/* A failure seen by a thread: counted, the first one described. */
static atomic_int failures;
static char first_failure[256];
static pthread_mutex_t failure_mu = PTHREAD_MUTEX_INITIALIZER;

static void report(const char *fmt, ...)
{
  pthread_mutex_lock(&failure_mu);
  if (atomic_fetch_add(&failures, 1) == 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(first_failure, sizeof first_failure, fmt, ap);
    va_end(ap);
  }
  pthread_mutex_unlock(&failure_mu);
}

#define FAILED(...)  \
  do {                   \
    report(__VA_ARGS__); \
    return;              \
  } while (0)

/* The vector of record r at version ver. Components 0 and 1 encode r and
** ver exactly (multiples of 1/4096); the rest follow from them. */
static void record_vec(float *v, int r, int ver)
{
  v[0] = (float)r / 4096.0f;
  v[1] = (float)ver / 4096.0f;
  for (int j = 2; j < DIM; j++) v[j] = sinf((float)r * 0.7f + (float)ver * 1.3f + (float)j);
}

static void record_id(char *buf, size_t cap, int r)
{
  snprintf(buf, cap, "r%d", r);
}

/* A record's text (its "t" field, in the collections' text index): its id
** and version as words. */
typedef struct text_meta {
  char text[32];
  omen_field f;
} text_meta;

static const omen_field *record_text(text_meta *m, int r, int ver)
{
  int n = snprintf(m->text, sizeof m->text, "r%d v%d", r, ver);
  m->f = (omen_field){{"t", 1}, {.type = OMEN_STRING, .u.string = {m->text, (size_t)n}}};
  return &m->f;
}

/* The record number and version a stored vector claims, or -1 when the
** vector is not one record_vec makes (torn, or corrupted). */
static int decode(const float *v, int *ver)
{
  int r = (int)(v[0] * 4096.0f), version = (int)(v[1] * 4096.0f);
  float want[DIM];
  if (r < 0 || r >= NREC || version < 1) return -1;
  record_vec(want, r, version);
  if (memcmp(want, v, sizeof want)) return -1;
  *ver = version;
  return r;
}

/* An allocator hook that counts what a database holds, from any thread
** (cmocka's own tracking is per thread, and memory a search grows on one
** thread may be freed on another). A 16-byte header keeps each block's
** size and malloc's alignment. */
typedef struct tally {
  pthread_mutex_t mu;
  size_t bytes, blocks;
  size_t grants; /* blocks made or grown */
} tally;

static void *tally_alloc(void *ud, void *p, size_t osize, size_t nsize)
{
  tally *t = ud;
  (void)osize;
  size_t *head = p ? (size_t *)p - 2 : NULL, *grown = NULL;
  pthread_mutex_lock(&t->mu);
  size_t old = head ? head[0] : 0;
  if (nsize == 0) free(head);
  else grown = realloc(head, nsize + 2 * sizeof(size_t));
  if (nsize == 0 || grown) {
    t->bytes = t->bytes - old + nsize;
    t->blocks = t->blocks - (head != NULL) + (grown != NULL);
    if (grown) grown[0] = nsize;
    t->grants += nsize > old;
  }
  pthread_mutex_unlock(&t->mu);
  return grown ? grown + 2 : NULL;
}

static omen_db *tally_open(const char *path, unsigned flags, tally *t)
{
  return tu_open_with(path, flags, tally_alloc, t);
}


/* -- Writers --------------------------------------------------------------- */

typedef struct writer {
  shared_coll *sc;
  uint64_t rng;
  int version[NREC]; /* the model: 0 never, > 0 live, DELETED */
  int live[NREC], n_live;
  int created;
} writer;

static void publish(writer *w, int r, int state)
{
  atomic_store_explicit(&w->sc->state[r], state, memory_order_release);
}

static void acknowledge(writer *w)
{
  atomic_fetch_add_explicit(&w->sc->acked, 1, memory_order_release);
}

static void insert_one(writer *w)
{
  int r = w->created;
  char id[16];
  float v[DIM];
  record_id(id, sizeof id, r);
  record_vec(v, r, 1);
  text_meta tm;
  int rc = omen_upsert(w->sc->c, id, strlen(id), v, record_text(&tm, r, 1), 1);
  if (rc) FAILED("insert %s: %s", id, omen_errmsg(omen_coll_db(w->sc->c)));
  w->version[r] = 1;
  w->live[w->n_live++] = r;
  w->created++;
  publish(w, r, 1);
  atomic_store_explicit(&w->sc->created, w->created, memory_order_release);
  acknowledge(w);
}

static void insert_batch(writer *w)
{
  char names[BATCH][16];
  omen_str ids[BATCH];
  float vecs[BATCH * DIM];
  text_meta tm[BATCH];
  omen_meta metas[BATCH];
  for (int i = 0; i < BATCH; i++) {
    record_id(names[i], sizeof names[i], w->created + i);
    ids[i] = (omen_str){names[i], strlen(names[i])};
    record_vec(vecs + i * DIM, w->created + i, 1);
    metas[i] = (omen_meta){record_text(&tm[i], w->created + i, 1), 1};
  }
  if (omen_upsert_batch(w->sc->c, BATCH, ids, vecs, metas, 2))
    FAILED("batch: %s", omen_errmsg(omen_coll_db(w->sc->c)));
  for (int i = 0; i < BATCH; i++) {
    int r = w->created++;
    w->version[r] = 1;
    w->live[w->n_live++] = r;
    publish(w, r, 1);
  }
  atomic_store_explicit(&w->sc->created, w->created, memory_order_release);
  acknowledge(w);
}

static void update_one(writer *w, int at)
{
  int r = w->live[at], ver = w->version[r] + 1;
  char id[16];
  float v[DIM];
  record_id(id, sizeof id, r);
  record_vec(v, r, ver);
  text_meta tm;
  if (omen_upsert(w->sc->c, id, strlen(id), v, record_text(&tm, r, ver), 1))
    FAILED("update %s: %s", id, omen_errmsg(omen_coll_db(w->sc->c)));
  w->version[r] = ver;
  publish(w, r, ver);
  acknowledge(w);
}

static void delete_one(writer *w, int at)
{
  int r = w->live[at];
  char id[16];
  record_id(id, sizeof id, r);
  atomic_store_explicit(&w->sc->last_version[r], w->version[r], memory_order_relaxed);
  publish(w, r, DELETING);
  if (omen_delete(w->sc->c, id, strlen(id)))
    FAILED("delete %s: %s", id, omen_errmsg(omen_coll_db(w->sc->c)));
  w->version[r] = DELETED;
  w->live[at] = w->live[--w->n_live];
  unsigned seq = atomic_load_explicit(&w->sc->acked, memory_order_relaxed) + 1;
  atomic_store_explicit(&w->sc->deleted_at[r], seq, memory_order_relaxed);
  publish(w, r, DELETED);
  acknowledge(w);
}

static void *write_loop(void *p)
{
  writer *w = p;
  for (int i = 0; i < WRITES && !atomic_load(&failures); i++) {
    unsigned dice = (unsigned)(tu_next(&w->rng) % 100);
    int room = w->created + BATCH <= NREC;
    if (room && dice < 3) insert_batch(w);
    else if (room && (dice < 45 || w->n_live < 8)) insert_one(w);
    else if (dice < 80) update_one(w, (int)(tu_next(&w->rng) % (uint64_t)w->n_live));
    else delete_one(w, (int)(tu_next(&w->rng) % (uint64_t)w->n_live));
  }
  atomic_fetch_sub(&writers_left, 1);
  return NULL;
}

/* -- Readers --------------------------------------------------------------- */

typedef struct reader {
  uint64_t rng;
  omen_result *res, *batch[4];
  int reads;
} reader;

/* Every hit whole, sorted, distinct, at its true distance, and not deleted
** before the search began (`acked` then was `before`). */
static void check_hits(shared_coll *sc, const omen_result *res, const float *q,
                       unsigned before)
{
  size_t n = omen_result_count(res);
  int seen[64];
  for (size_t i = 0; i < n && i < 64; i++) {
    const omen_hit *h = omen_result_hit(res, i);
    int ver, r = decode(h->vec, &ver);
    char id[16];
    record_id(id, sizeof id, r);
    if (r < 0 || h->id.len != strlen(id) || memcmp(h->id.ptr, id, h->id.len))
      FAILED("hit %.*s: its vector is torn or another record's", (int)h->id.len, h->id.ptr);
    double d = tu_dist(sc->metric, h->vec, q, DIM);
    if (fabs(d - h->distance) > 1e-4 * (1 + fabs(d)))
      FAILED("hit %s: distance %g, its vector is at %g", id, h->distance, d);
    if (i > 0 && h->distance < omen_result_hit(res, i - 1)->distance)
      FAILED("hits out of order at %zu", i);
    for (size_t j = 0; j < i; j++)
      if (seen[j] == r) FAILED("hit %s twice", id);
    seen[i] = r;
    unsigned gone = atomic_load_explicit(&sc->deleted_at[r], memory_order_acquire);
    if (gone && gone <= before)
      FAILED("hit %s was deleted (call %u) before the search (after call %u)", id,
                  gone, before);
  }
}

/* get(r) agrees with what the writer had acknowledged when it began. */
static void check_get(shared_coll *sc, reader *rd, int r)
{
  int state = atomic_load_explicit(&sc->state[r], memory_order_acquire);
  char id[16];
  record_id(id, sizeof id, r);
  int rc = omen_get(sc->c, id, strlen(id), rd->res);
  if (rc == OMEN_NOTFOUND) {
    int now = atomic_load_explicit(&sc->state[r], memory_order_acquire);
    if (now != DELETED && now != DELETING) report("get %s: not found, state %d", id, now);
    return;
  }
  if (rc) FAILED("get %s: %s", id, omen_strerror(rc));
  if (state == DELETED) FAILED("get %s: found after its delete", id);
  int ver, got = decode(omen_result_hit(rd->res, 0)->vec, &ver);
  if (got != r) FAILED("get %s: torn or foreign vector", id);
  if (state > 0 && ver < state) report("get %s: version %d, %d acknowledged", id, ver, state);
}

/* A text search for r's id word finds r alone, while it lives, at its
** latest version or a later one; a fused search's hits are whole. */
static void check_text(shared_coll *sc, reader *rd, int r, const float *q)
{
  char word[24], id[16];
  snprintf(word, sizeof word, "+r%d", r);
  record_id(id, sizeof id, r);
  int state = atomic_load_explicit(&sc->state[r], memory_order_acquire);
  omen_search_opts o;
  omen_search_opts_init(&o, 4);
  o.text = word;
  int rc = omen_search(sc->c, NULL, &o, rd->res);
  if (rc) FAILED("text search: %s", omen_strerror(rc));
  size_t n = omen_result_count(rd->res);
  int now = atomic_load_explicit(&sc->state[r], memory_order_acquire);
  if (n > 1) FAILED("text search %s: %zu hits", word, n);
  if (n == 1) {
    const omen_hit *h = omen_result_hit(rd->res, 0);
    int ver = 0;
    if (h->id.len != strlen(id) || memcmp(h->id.ptr, id, h->id.len) || h->n_meta != 1 ||
        sscanf(h->meta[0].value.u.string.ptr, "r%*d v%d", &ver) != 1)
      FAILED("text search %s: found %.*s", word, (int)h->id.len, h->id.ptr);
    if (state == DELETED) FAILED("text search %s: found after its delete", word);
    if (state > 0 && ver < state) FAILED("text search %s: version %d, %d acknowledged", word,
                                         ver, state);
  } else if (state > 0 && now > 0) {
    FAILED("text search %s: not found, version %d acknowledged", word, state);
  }
  o.text = word + 1; /* fused with the vector search: hits whole, distances true */
  unsigned before = atomic_load_explicit(&sc->acked, memory_order_acquire);
  o.with = OMEN_WITH_VECTOR;
  if ((rc = omen_search(sc->c, q, &o, rd->res))) FAILED("fused search: %s", omen_strerror(rc));
  for (size_t i = 0; i < omen_result_count(rd->res); i++) {
    const omen_hit *h = omen_result_hit(rd->res, i);
    int v, got = decode(h->vec, &v);
    double d = tu_dist(sc->metric, h->vec, q, DIM);
    if (got < 0 || fabs(d - h->distance) > 1e-4 * (1 + fabs(d)))
      FAILED("fused hit %.*s: torn, or not at its distance", (int)h->id.len, h->id.ptr);
    unsigned gone = atomic_load_explicit(&sc->deleted_at[got], memory_order_acquire);
    if (gone && gone <= before) FAILED("fused hit %.*s deleted before the search",
                                       (int)h->id.len, h->id.ptr);
  }
}

static void read_once(shared_coll *sc, reader *rd)
{
  int created = atomic_load_explicit(&sc->created, memory_order_acquire);
  if (created == 0) return;
  int r = (int)(tu_next(&rd->rng) % (uint64_t)created);
  check_get(sc, rd, r);

  /* Search near r's latest (or last) vector: deleted records nearby too. */
  int state = atomic_load_explicit(&sc->state[r], memory_order_acquire);
  int ver = state > 0 ? state : atomic_load_explicit(&sc->last_version[r], memory_order_relaxed);
  float q[4][DIM];
  record_vec(q[0], r, ver > 0 ? ver : 1);
  omen_search_opts o;
  omen_search_opts_init(&o, 8);
  o.with = OMEN_WITH_VECTOR;
  o.exact = (int)(tu_next(&rd->rng) % 4 == 0);
  unsigned before = atomic_load_explicit(&sc->acked, memory_order_acquire);
  int rc = omen_search(sc->c, q[0], &o, rd->res);
  if (rc) FAILED("search: %s", omen_strerror(rc));
  check_hits(sc, rd->res, q[0], before);
  if (rd->reads % 4 == 1) check_text(sc, rd, r, q[0]);

  if (rd->reads % 8 == 0) { /* a batch on two threads, beside the writers */
    for (int i = 1; i < 4; i++) record_vec(q[i], (r + i * 7) % created, 1);
    before = atomic_load_explicit(&sc->acked, memory_order_acquire);
    if ((rc = omen_search_batch(sc->c, 4, q[0], &o, rd->batch, 2)))
      FAILED("search_batch: %s", omen_strerror(rc));
    for (int i = 0; i < 4; i++) check_hits(sc, rd->batch[i], q[i], before);
  }
}

static void *read_loop(void *p)
{
  reader *rd = p;
  while ((atomic_load(&writers_left) > 0 || rd->reads < MIN_READS) && !atomic_load(&failures)) {
    read_once(&shared[rd->reads % NCOLL], rd);
    rd->reads++;
  }
  return NULL;
}

/* -- The test -------------------------------------------------------------- */

static void remove_db(const char *path)
{
  char wal[128];
  if (snprintf(wal, sizeof wal, "%s-wal", path) < (int)sizeof wal) unlink(wal);
  unlink(path);
}

/* The collection holds exactly the writer's model. */
static void check_model(omen_coll *c, const writer *w)
{
  omen_result *res;
  assert_int_equal(omen_result_new(omen_coll_db(c), &res), OMEN_OK);
  uint64_t n;
  assert_int_equal(omen_count(c, &n), OMEN_OK);
  assert_int_equal(n, (uint64_t)w->n_live);
  for (int r = 0; r < w->created; r++) {
    char id[16];
    record_id(id, sizeof id, r);
    int rc = omen_get(c, id, strlen(id), res);
    if (w->version[r] == DELETED) {
      assert_int_equal(rc, OMEN_NOTFOUND);
      continue;
    }
    assert_int_equal(rc, OMEN_OK);
    int ver;
    assert_int_equal(decode(omen_result_hit(res, 0)->vec, &ver), r);
    assert_int_equal(ver, w->version[r]);
  }
  omen_result_free(res);
}

static void t_readers_beside_writers(void **state)
{
  (void)state;
  char dir[] = "/tmp/omen-stress-XXXXXX", path[64];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/s.omen", dir);
  static tally t = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
  omen_db *file = tally_open(path, 0, &t), *mem = tally_open(NULL, 0, &t);
  static const struct { const char *name; omen_metric metric; omen_quant quant; } kinds[NCOLL] = {
    {"l2", OMEN_L2, OMEN_QUANT_NONE}, {"cos", OMEN_COSINE, OMEN_QUANT_SQ8},
    {"ip", OMEN_IP, OMEN_QUANT_NONE}};
  static writer w[NCOLL];
  pthread_t wt[NCOLL], rt[READERS];
  reader rd[READERS];
  atomic_store(&writers_left, NCOLL);
  for (int i = 0; i < NCOLL; i++) {
    omen_coll_config cfg;
    omen_coll_config_init(&cfg, DIM);
    cfg.metric = kinds[i].metric;
    cfg.quantization = kinds[i].quant;
    cfg.m = 8;
    cfg.ef_construction = 40;
    memset(&shared[i], 0, sizeof shared[i]);
    shared[i].metric = kinds[i].metric;
    assert_int_equal(omen_coll_create(i < 2 ? file : mem, kinds[i].name, &cfg, &shared[i].c),
                     OMEN_OK);
    omen_text_config tc;
    omen_text_config_init(&tc, "t");
    assert_int_equal(omen_text_index(shared[i].c, &tc), OMEN_OK);
    memset(&w[i], 0, sizeof w[i]);
    w[i].sc = &shared[i];
    w[i].rng = 1000 + (uint64_t)i;
  }
  for (int i = 0; i < READERS; i++) {
    memset(&rd[i], 0, sizeof rd[i]);
    rd[i].rng = 77 + (uint64_t)i;
    assert_int_equal(omen_result_new(mem, &rd[i].res), OMEN_OK);
    for (int j = 0; j < 4; j++) assert_int_equal(omen_result_new(mem, &rd[i].batch[j]), OMEN_OK);
    pthread_create(&rt[i], NULL, read_loop, &rd[i]);
  }
  for (int i = 0; i < NCOLL; i++) pthread_create(&wt[i], NULL, write_loop, &w[i]);
  for (int i = 0; i < NCOLL; i++) pthread_join(wt[i], NULL);
  for (int i = 0; i < READERS; i++) pthread_join(rt[i], NULL);
  if (failures) fprintf(stderr, "stress: %d failures, the first: %s\n", failures, first_failure);
  assert_int_equal(failures, 0);
  for (int i = 0; i < READERS; i++) {
    assert_true(rd[i].reads >= MIN_READS);
    omen_result_free(rd[i].res);
    for (int j = 0; j < 4; j++) omen_result_free(rd[i].batch[j]);
  }

  int reads = 0;
  for (int i = 0; i < READERS; i++) reads += rd[i].reads;
  for (int i = 0; i < NCOLL; i++) {
    print_message("%s: %d records written, %d live, %u calls acknowledged\n",
                  kinds[i].name, w[i].created, w[i].n_live, (unsigned)shared[i].acked);
  }
  print_message("%d reads (get, search, some batches) beside them\n", reads);
  for (int i = 0; i < NCOLL; i++) {
    check_model(shared[i].c, &w[i]);
    omen_coll_close(shared[i].c);
  }
  assert_int_equal(omen_close(file), OMEN_OK);
  assert_int_equal(omen_close(mem), OMEN_OK);
  file = tally_open(path, OMEN_OPEN_VERIFY, &t);
  for (int i = 0; i < 2; i++) {
    omen_coll *c;
    assert_int_equal(omen_coll_open(file, kinds[i].name, &c), OMEN_OK);
    check_model(c, &w[i]);
    omen_coll_close(c);
  }
  assert_int_equal(omen_close(file), OMEN_OK);
  assert_int_equal(t.bytes, 0); /* every byte given back */
  assert_int_equal(t.blocks, 0);
  remove_db(path);
  rmdir(dir);
}

/* -- Many handles ----------------------------------------------------------- */

/* Thousands of databases, each with two collections, cost kilobytes each;
** thousands of handles on collections cost next to nothing (a handle is a
** counted reference); every database stays independent, and closing
** everything gives every byte back. */
static void t_thousands_of_handles(void **state)
{
  (void)state;
  enum { NDB = 2000, NHANDLES = 5000 };
  static tally t = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
  omen_db **dbs = malloc(NDB * sizeof *dbs);
  omen_coll **h = malloc(NHANDLES * sizeof *h);
  assert_non_null(dbs);
  assert_non_null(h);
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, 128);
  cfg.quantization = OMEN_QUANT_SQ8;
  for (int i = 0; i < NDB; i++) {
    dbs[i] = tally_open(NULL, 0, &t);
    omen_coll *a, *b;
    assert_int_equal(omen_coll_create(dbs[i], "a", &cfg, &a), OMEN_OK);
    assert_int_equal(omen_coll_create(dbs[i], "b", &cfg, &b), OMEN_OK);
    omen_coll_close(a);
    omen_coll_close(b);
  }
  size_t per_db = t.bytes / NDB;
  print_message("%d databases with 2 empty collections each: %zu bytes each\n", NDB, per_db);
  assert_true(per_db < 64 * 1024);

  size_t before = t.bytes;
  for (int i = 0; i < NHANDLES; i++)
    assert_int_equal(omen_coll_open(dbs[i % 7], "a", &h[i]), OMEN_OK);
  size_t per_handle = (t.bytes - before) / NHANDLES;
  print_message("%d handles on collections: %zu bytes each\n", NHANDLES, per_handle);
  assert_true(per_handle < 1024);

  /* Independent: a record written through one handle shows through the
  ** others on the same collection, and nowhere else. */
  float v[128] = {1, 2, 3};
  assert_int_equal(omen_upsert(h[0], "x", 1, v, NULL, 0), OMEN_OK);
  for (int i = 0; i < NHANDLES; i += 7 * 97) {
    uint64_t n;
    assert_int_equal(omen_count(h[i], &n), OMEN_OK);
    assert_int_equal(n, 1);
    assert_int_equal(omen_count(h[i + 1], &n), OMEN_OK);
    assert_int_equal(n, 0);
  }
  for (int i = 0; i < NHANDLES; i++) omen_coll_close(h[i]);
  for (int i = 0; i < NDB; i++) assert_int_equal(omen_close(dbs[i]), OMEN_OK);
  assert_int_equal(t.bytes, 0);
  assert_int_equal(t.blocks, 0);
  free(dbs);
  free(h);
}

/* A hundred database files open at once, each with its own records. */
static void t_many_files(void **state)
{
  (void)state;
  enum { NFILE = 100 };
  char dir[] = "/tmp/omen-files-XXXXXX", path[NFILE][64];
  assert_non_null(mkdtemp(dir));
  omen_db *dbs[NFILE];
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, 4);
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < NFILE; i++) {
      snprintf(path[i], sizeof path[i], "%s/db%d.omen", dir, i);
      dbs[i] = tu_open(path[i], 0);
      omen_coll *c;
      if (round == 0) {
        assert_int_equal(omen_coll_create(dbs[i], "c", &cfg, &c), OMEN_OK);
        float v[4] = {(float)i, 0, 0, 0};
        assert_int_equal(omen_upsert(c, "only", 4, v, NULL, 0), OMEN_OK);
      } else {
        omen_result *r;
        assert_int_equal(omen_coll_open(dbs[i], "c", &c), OMEN_OK);
        assert_int_equal(omen_result_new(dbs[i], &r), OMEN_OK);
        assert_int_equal(omen_get(c, "only", 4, r), OMEN_OK);
        assert_true(omen_result_hit(r, 0)->vec[0] == (float)i);
        omen_result_free(r);
      }
      omen_coll_close(c);
    }
    for (int i = 0; i < NFILE; i++) assert_int_equal(omen_close(dbs[i]), OMEN_OK);
  }
  for (int i = 0; i < NFILE; i++) remove_db(path[i]);
  rmdir(dir);
}

/* Once warm, searches allocate nothing: graph, exact, filtered, with
** metadata, in batches; so a query's memory use is known in advance. */
static void t_search_allocates_nothing(void **state)
{
  (void)state;
  enum { N = 3000, D = 24, ROUNDS = 200 };
  static tally t = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
  omen_db *db = tally_open(NULL, 0, &t);
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, D);
  cfg.quantization = OMEN_QUANT_SQ8;
  omen_coll *c;
  assert_int_equal(omen_coll_create(db, "c", &cfg, &c), OMEN_OK);
  float *data = tu_clustered(N, D, 8, 5);
  for (int i = 0; i < N; i++) {
    char id[16];
    tu_id(id, sizeof id, (size_t)i);
    omen_field meta[] = {{{"n", 1}, {.type = OMEN_NUMBER, .u.number = i % 10}}};
    assert_int_equal(omen_upsert(c, id, strlen(id), data + (size_t)i * D, meta, 1), OMEN_OK);
  }
  omen_cond cond = {.op = OMEN_OP_LT, .key = {"n", 1},
                    .value = {.type = OMEN_NUMBER, .u.number = 5}};
  omen_filter *f;
  assert_int_equal(omen_filter_new(db, &cond, &f), OMEN_OK);
  omen_result *res, *batch[8];
  assert_int_equal(omen_result_new(db, &res), OMEN_OK);
  for (int i = 0; i < 8; i++) assert_int_equal(omen_result_new(db, &batch[i]), OMEN_OK);
  omen_search_opts o[4];
  for (int v = 0; v < 4; v++) omen_search_opts_init(&o[v], 10);
  o[1].exact = 1;
  o[2].filter = f;
  o[3].with = OMEN_WITH_META | OMEN_WITH_VECTOR;
  size_t grants = 0;
  for (int round = 0; round < 2 * ROUNDS; round++) {
    if (round == ROUNDS) grants = t.grants; /* warm: from here on, count */
    const float *q = data + (size_t)(round * 7 % N) * D;
    for (int v = 0; v < 4; v++) assert_int_equal(omen_search(c, q, &o[v], res), OMEN_OK);
    assert_int_equal(omen_search_batch(c, 8, q, &o[round % 4], batch, 1), OMEN_OK);
  }
  print_message("%zu blocks made or grown by %d warm rounds of searches\n",
                t.grants - grants, ROUNDS);
  assert_int_equal(t.grants - grants, 0);
  omen_filter_free(f);
  omen_result_free(res);
  for (int i = 0; i < 8; i++) omen_result_free(batch[i]);
  omen_coll_close(c);
  assert_int_equal(omen_close(db), OMEN_OK);
  assert_int_equal(t.bytes, 0);
  free(data);
}

/* omen_interrupt from another thread stops a long batch of exact searches
** with OMEN_INTERRUPTED and empty results; an interrupt before a call does
** not touch it. */
typedef struct long_batch {
  omen_coll *c;
  const float *q;
  omen_result **res;
  atomic_int started, rc;
  int said_interrupted; /* the caller's message says so */
} long_batch;

static void *run_long_batch(void *p)
{
  long_batch *b = p;
  omen_search_opts o;
  omen_search_opts_init(&o, 5);
  o.exact = 1;
  atomic_store(&b->started, 1);
  int rc = omen_search_batch(b->c, 2000, b->q, &o, b->res, 1);
  b->said_interrupted = strstr(omen_errmsg(omen_coll_db(b->c)), "interrupted") != NULL;
  atomic_store(&b->rc, rc);
  return NULL;
}

static void t_interrupt(void **state)
{
  (void)state;
  enum { N = 20000, D = 32, NQ = 2000 };
  static tally t = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
  omen_db *db = tally_open(NULL, 0, &t);
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, D);
  omen_coll *c;
  assert_int_equal(omen_coll_create(db, "c", &cfg, &c), OMEN_OK);
  float *data = tu_clustered(N, D, 4, 9);
  omen_str *ids = calloc(N, sizeof *ids);
  char (*names)[12] = calloc(N, sizeof *names);
  for (int i = 0; i < N; i++) {
    snprintf(names[i], sizeof names[i], "%d", i);
    ids[i] = (omen_str){names[i], strlen(names[i])};
  }
  assert_int_equal(omen_upsert_batch(c, N, ids, data, NULL, 0), OMEN_OK);
  static omen_result *res[NQ];
  for (int i = 0; i < NQ; i++) assert_int_equal(omen_result_new(db, &res[i]), OMEN_OK);

  /* Long enough (2,000 exact scans of 20,000 records on one thread) that
  ** it is still running when the interrupts come, every millisecond. */
  long_batch b = {c, data, res, 0, 0, 0};
  pthread_t th;
  pthread_create(&th, NULL, run_long_batch, &b);
  while (!atomic_load(&b.started)) usleep(100);
  int rounds = 0;
  while (atomic_load(&b.rc) == 0 && rounds++ < 10000) {
    omen_interrupt(db);
    usleep(1000);
  }
  pthread_join(th, NULL);
  assert_int_equal(atomic_load(&b.rc), OMEN_INTERRUPTED);
  assert_true(b.said_interrupted);
  for (int i = 0; i < NQ; i++) assert_int_equal(omen_result_count(res[i]), 0);
  omen_interrupt(db); /* before the call: no effect on it */
  omen_search_opts o;
  omen_search_opts_init(&o, 5);
  o.exact = 1;
  assert_int_equal(omen_search_batch(c, 64, data, &o, res, 2), OMEN_OK);
  assert_int_equal(omen_result_count(res[63]), 5);
  assert_int_equal(omen_search(c, data, &o, res[0]), OMEN_OK);
  omen_interrupt(NULL); /* harmless */
  for (int i = 0; i < NQ; i++) omen_result_free(res[i]);
  omen_coll_close(c);
  assert_int_equal(omen_close(db), OMEN_OK);
  free(data);
  free(ids);
  free(names);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(t_readers_beside_writers),
      cmocka_unit_test(t_thousands_of_handles),
      cmocka_unit_test(t_many_files),
      cmocka_unit_test(t_search_allocates_nothing),
      cmocka_unit_test(t_interrupt),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
