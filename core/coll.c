/*
** Collections: the records of one vector space and their index. A record
** lives in a slot: its vector in the slot's row of one aligned array, its id
** and metadata in the record store, its links in the graph. This file ties
** those together under the collection lock: upsert (single and batch, with
** parallel graph building), delete, get, count and search.
**
** Every write first validates its input and reserves all the memory it can
** need; only then does it change anything, so a failed call changes nothing.
*/
#include "port.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "filter.h"
#include "hash.h"
#include "omen_int.h"

#define MAX_SLOTS (UINT32_MAX - 1)
#define EXACT_FACTOR 8      /* scan exactly while live <= 8 * max(ef, k) */
#define MIN_PER_THREAD 256  /* inserts worth starting a thread for */
#define SERIAL_START 1024   /* a fresh graph gets its first nodes one by one */
#define MAX_THREADS 256

/* -- Lifetime --------------------------------------------------------------- */

int omen__coll_check_config(omen_db *db, const omen_coll_config *cfg)
{
  if (cfg->dim < 1 || cfg->dim > OMEN_MAX_DIM)
    return omen__fail(db, OMEN_INVALID, "dim must be between 1 and %d (got %u)",
                      OMEN_MAX_DIM, cfg->dim);
  if (!omen__metric(cfg->metric))
    return omen__fail(db, OMEN_INVALID, "unknown metric %d", (int)cfg->metric);
  if (cfg->m < 2 || cfg->m > OMEN_MAX_M)
    return omen__fail(db, OMEN_INVALID, "m must be between 2 and %d (got %u)",
                      OMEN_MAX_M, cfg->m);
  if (cfg->ef_construction < 1 || cfg->ef_construction > OMEN_MAX_EF)
    return omen__fail(db, OMEN_INVALID,
                      "ef_construction must be between 1 and %d (got %u)", OMEN_MAX_EF,
                      cfg->ef_construction);
  if (cfg->ef_search < 1 || cfg->ef_search > OMEN_MAX_EF)
    return omen__fail(db, OMEN_INVALID, "ef_search must be between 1 and %d (got %u)",
                      OMEN_MAX_EF, cfg->ef_search);
  if (!omen__code_kind_of((int)cfg->quantization))
    return omen__fail(db, OMEN_INVALID, "unknown quantization %d",
                      (int)cfg->quantization);
  return OMEN_OK;
}

/* Writers are preferred, so a stream of searches cannot starve them. */
static int init_rwlock(pthread_rwlock_t *rw)
{
  pthread_rwlockattr_t attr;
  if (pthread_rwlockattr_init(&attr)) return OMEN_ERROR;
#if defined(__GLIBC__)
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
  int rc = pthread_rwlock_init(rw, &attr);
  pthread_rwlockattr_destroy(&attr);
  return rc ? OMEN_ERROR : OMEN_OK;
}

int omen__coll_new(omen_db *db, const char *name, size_t name_len,
                   const omen_coll_config *cfg, omen_coll **out)
{
  omen_coll *c = omen__calloc(&db->mem, sizeof *c);
  if (!c) return OMEN_NOMEM;
  c->name = omen__malloc(&db->mem, name_len + 1);
  if (!c->name) {
    omen__free(&db->mem, c, sizeof *c);
    return OMEN_NOMEM;
  }
  memcpy(c->name, name, name_len);
  c->name[name_len] = 0;
  c->name_len = name_len;
  c->db = db;
  c->cfg = *cfg;
  c->stride = (uint32_t)omen__padded(cfg->dim);
  c->metric = omen__metric(cfg->metric);
  omen__kernels_get(omen__isa_best(), &c->kern);
  if (omen__codes_init(&c->codes, &db->mem, (int)cfg->quantization, cfg->dim, c->stride,
                       c->metric, &c->kern)) {
    omen__free(&db->mem, c->name, name_len + 1);
    omen__free(&db->mem, c, sizeof *c);
    return OMEN_NOMEM;
  }
  uint64_t seed = omen__hash_bytes(name, name_len, 0x6f6d656eull);
  omen__graph_init(&c->graph, cfg->m, cfg->ef_construction, seed);
  c->ids.seed = omen__mix64(seed);
  if (init_rwlock(&c->rw)) goto fail_rw;
  if (pthread_mutex_init(&c->pool_mu, NULL)) goto fail_mu;
  if (pthread_mutex_init(&c->fcache_mu, NULL)) goto fail_cache;
  if (pthread_mutex_init(&c->lazy_mu, NULL)) goto fail_lazy;
  *out = c;
  return OMEN_OK;
fail_lazy:
  pthread_mutex_destroy(&c->fcache_mu);
fail_cache:
  pthread_mutex_destroy(&c->pool_mu);
fail_mu:
  pthread_rwlock_destroy(&c->rw);
fail_rw:
  omen__codes_free(&c->codes, &db->mem);
  omen__free(&db->mem, c->name, name_len + 1);
  omen__free(&db->mem, c, sizeof *c);
  return OMEN_ERROR;
}

static void free_data(omen_coll *c)
{
  const omen__mem *m = &c->db->mem;
  omen__buf_free(m, &c->vecs);
  omen__buf_free(m, &c->inv_norm);
  omen__buf_free(m, &c->state);
  omen__buf_free(m, &c->free_slots);
  omen__buf_free(m, &c->gone);
  omen__graph_free(m, &c->graph);
  omen__idmap_free(m, &c->ids);
  omen__records_free(m, &c->recs);
  omen__keys_free(m, &c->keys);
  if (c->lazy.done) omen__free(m, c->lazy.done, (c->n_slots + OMEN__CHUNK - 1) / OMEN__CHUNK);
  memset(&c->lazy, 0, sizeof c->lazy);
  c->lazy_on = 0;
  omen__fcache_clear(c);
  for (omen__scratch *s = c->pool, *next; s; s = next) {
    next = s->next;
    omen__scratch_free(m, s);
    omen__free(m, s, sizeof *s);
  }
  c->pool = NULL;
  c->n_slots = c->cap = c->n_free = c->n_deleted = 0;
}

void omen__coll_kill(omen_coll *c, int dead_rc)
{
  pthread_rwlock_wrlock(&c->rw);
  free_data(c);
  c->dead_rc = dead_rc;
  pthread_rwlock_unlock(&c->rw);
}

void omen__coll_free_shell(omen_coll *c)
{
  const omen__mem *m = &c->db->mem;
  free_data(c);
  pthread_rwlock_destroy(&c->rw);
  pthread_mutex_destroy(&c->pool_mu);
  pthread_mutex_destroy(&c->fcache_mu);
  pthread_mutex_destroy(&c->lazy_mu);
  omen__codes_free(&c->codes, m);
  omen__free(m, c->name, c->name_len + 1);
  omen__free(m, c, sizeof *c);
}

omen_db *omen_coll_db(omen_coll *c) { return c ? c->db : NULL; }
const char *omen_coll_name(omen_coll *c) { return c ? c->name : NULL; }

/* -- Slots ------------------------------------------------------------------ */

omen__space omen__coll_space(const omen_coll *c)
{
  omen__space sp = {c->metric->dot ? c->kern.dot : c->kern.l2sq, c->cfg.metric,
                    c->vecs.p, c->stride,
                    c->metric->normalised ? c->inv_norm.p : NULL,
                    c->lazy_on ? &c->lazy : NULL, &c->codes, NULL, 0};
  return sp;
}

int omen__coll_reserve(omen_coll *c, uint32_t need)
{
  if (need <= c->cap) return OMEN_OK;
  const omen__mem *m = &c->db->mem;
  size_t cap = omen__grow_cap(c->cap, need, 64), n = c->n_slots;
  if (cap > MAX_SLOTS) cap = MAX_SLOTS;
  size_t row = (size_t)c->stride * sizeof(float);
  int rc;
  if ((rc = omen__buf_reserve(m, &c->vecs, cap * row, n * row)) ||
      (rc = omen__buf_reserve(m, &c->state, cap, n)) ||
      (c->metric->normalised &&
       (rc = omen__buf_reserve(m, &c->inv_norm, cap * sizeof(float),
                               n * sizeof(float)))) ||
      (rc = omen__codes_reserve(&c->codes, m, cap, n)) ||
      (rc = omen__graph_reserve(m, &c->graph, (uint32_t)cap, (uint32_t)n)) ||
      (rc = omen__records_reserve(m, &c->recs, (uint32_t)cap, (uint32_t)n)))
    return rc;
  c->cap = (uint32_t)cap;
  return OMEN_OK;
}

static inline uint8_t *slot_state(const omen_coll *c) { return c->state.p; }

static int reserve_free_list(omen_coll *c, size_t n)
{
  return omen__buf_ensure(&c->db->mem, &c->free_slots, n * sizeof(uint32_t),
                          c->n_free * sizeof(uint32_t), 256);
}

/* -- Scratch pool ----------------------------------------------------------- */

static omen__scratch *scratch_get(omen_coll *c)
{
  pthread_mutex_lock(&c->pool_mu);
  omen__scratch *s = c->pool;
  if (s) c->pool = s->next;
  pthread_mutex_unlock(&c->pool_mu);
  return s ? s : omen__calloc(&c->db->mem, sizeof *s);
}

static void scratch_put(omen_coll *c, omen__scratch *s)
{
  if (!s) return;
  pthread_mutex_lock(&c->pool_mu);
  s->next = c->pool;
  c->pool = s;
  pthread_mutex_unlock(&c->pool_mu);
}

static int scratch_prepare(omen_coll *c, omen__scratch *s, uint32_t n_slots,
                           uint32_t ef)
{
  if (!s) return OMEN_NOMEM;
  return omen__scratch_prepare(&c->db->mem, s, n_slots, c->stride,
                               omen__coll_query_bytes(c), c->graph.m0, ef);
}

static unsigned default_threads(void)
{
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (unsigned)n;
}

/* -- Worker threads --------------------------------------------------------
** The parallel part of a write: up to `threads` threads, the caller one of
** them, each run fn(job, scratch) with a scratch of its own and share the
** work through the job. Fewer start when threads or scratch cannot be had,
** which is still correct. After the join, merge(c, first, sc) runs for each
** other thread's scratch, if given. */

typedef void (*work_fn)(void *job, omen__scratch *sc);

typedef struct crew_member {
  work_fn fn;
  void *job;
  omen__scratch *sc;
  pthread_t thread;
} crew_member;

static void *crew_run(void *arg)
{
  crew_member *m = arg;
  m->fn(m->job, m->sc);
  return NULL;
}

static void run_crew(omen_coll *c, unsigned threads, omen__scratch *first, work_fn fn,
                     void *job, void (*merge)(omen_coll *, omen__scratch *, omen__scratch *))
{
  crew_member crew[MAX_THREADS];
  unsigned started = 0;
  crew[0] = (crew_member){fn, job, first, 0};
  for (unsigned t = 1; t < threads && t < MAX_THREADS; t++) {
    omen__scratch *sc = scratch_get(c);
    if (scratch_prepare(c, sc, c->n_slots, c->graph.ef_construction)) {
      scratch_put(c, sc);
      break;
    }
    crew[t] = (crew_member){fn, job, sc, 0};
    if (pthread_create(&crew[t].thread, NULL, crew_run, &crew[t])) {
      scratch_put(c, sc);
      break;
    }
    started = t;
  }
  crew_run(&crew[0]);
  for (unsigned t = 1; t <= started; t++) {
    pthread_join(crew[t].thread, NULL);
    if (merge) merge(c, first, crew[t].sc);
    scratch_put(c, crew[t].sc);
  }
}

/* -- Consolidation ----------------------------------------------------------
** Deleted slots (tombstones: routes in the graph) are taken out of the graph
** in bulk once they reach a share of the live records (see hnsw.c), which
** frees their slots for reuse. A write that deletes or replaces records
** reserves what that needs before it changes anything. */

/* Consolidation is due once deleted slots reach a share of the live records,
** within bounds: often enough that few routes linger, rarely enough that its
** scan of every list is paid by many deletions, and in pieces small enough
** that no single write stalls long (a deletion costs about two inserts). */
#define CONSOLIDATE_SHARE 32 /* live / 32 ... */
#define CONSOLIDATE_MIN 64   /* ... but at least 64 */
#define CONSOLIDATE_MAX 2048 /* ... and at most 2048 */
#define CONSOLIDATE_CHUNK 1024 /* nodes a thread takes at a time */

static uint64_t consolidation_size(uint64_t live)
{
  uint64_t n = live / CONSOLIDATE_SHARE;
  return n < CONSOLIDATE_MIN ? CONSOLIDATE_MIN : n > CONSOLIDATE_MAX ? CONSOLIDATE_MAX : n;
}

/* Whether a write leaving `deleted` tombstones among `live` records
** consolidates them. */
static int consolidation_due(uint64_t deleted, uint64_t live)
{
  return deleted >= consolidation_size(live);
}

/* Room for consolidating `deleted` tombstones: the free list they join and
** the bitmap that names them. */
static int reserve_consolidation(omen_coll *c, uint64_t deleted)
{
  size_t words = ((size_t)c->cap + 63) / 64 + 1;
  int rc = reserve_free_list(c, c->n_free + deleted);
  if (!rc) rc = omen__buf_reserve(&c->db->mem, &c->gone, words * sizeof(uint64_t), 0);
  return rc;
}

typedef struct consolidator {
  const omen__build *b;
  const uint64_t *gone;
  uint32_t n_slots;
  atomic_uint next; /* chunk */
} consolidator;

static void consolidate_work(void *arg, omen__scratch *sc)
{
  consolidator *j = arg;
  for (;;) {
    uint32_t first = atomic_fetch_add(&j->next, 1) * CONSOLIDATE_CHUNK;
    if (first >= j->n_slots) break;
    uint32_t end = j->n_slots - first < CONSOLIDATE_CHUNK ? j->n_slots : first + CONSOLIDATE_CHUNK;
    omen__graph_consolidate_range(j->b, sc, j->gone, first, end);
  }
}

/* Rebuild, on up to `threads` threads, every list that names a slot set
** in c->gone. */
static void rebuild_lists(omen_coll *c, omen__scratch *sc, const omen__build *bld,
                          unsigned threads)
{
  consolidator job = {bld, c->gone.p, c->n_slots, 0};
  unsigned cores = default_threads(), chunks = c->n_slots / CONSOLIDATE_CHUNK + 1;
  if (threads == 0 || threads > cores) threads = cores;
  if (threads > chunks) threads = chunks;
  run_crew(c, threads, sc, consolidate_work, &job, NULL);
}

/* Take every tombstone out of the graph and free its slot, on up to
** `threads` threads (sc is the caller's, prepared); cannot fail once
** reserve_consolidation succeeded. Many tombstones go in waves of a share
** of the graph each: a rebuilt list draws on the neighbours of the nodes
** leaving, and nodes that leave later (routes still) hand on the long links
** they drew in, which one sweeping pass would lose with them (deleting the
** oldest half of a graph at once leaves its rest in islands). Nodes left
** unreachable are linked again by the next omen__graph_repair. */
static void consolidate(omen_coll *c, omen__scratch *sc, unsigned threads)
{
  uint64_t *gone = c->gone.p;
  uint8_t *state = slot_state(c);
  size_t words = ((size_t)c->n_slots + 63) / 64 + 1;
  uint32_t per_wave = (uint32_t)consolidation_size(c->n_slots - c->n_free);
  uint32_t waves = (c->n_deleted + per_wave - 1) / per_wave;
  omen__space sp = omen__coll_space(c);
  omen__build bld = {&c->graph, &sp, &c->db->mem, state, 0, NULL};
  uint32_t at = 0, seen = 0;
  for (uint32_t w = 0; w < waves; w++) {
    memset(gone, 0, words * sizeof(uint64_t));
    uint32_t quota = (uint32_t)(((uint64_t)c->n_deleted * (w + 1)) / waves) - seen;
    for (; at < c->n_slots && quota; at++)
      if (state[at] == OMEN__SLOT_DELETED) {
        gone[at >> 6] |= 1ull << (at & 63);
        quota--;
        seen++;
      }
    rebuild_lists(c, sc, &bld, threads);
    omen__graph_consolidate_finish(&bld, sc, gone, c->n_slots);
    for (uint32_t s = 0; s < c->n_slots; s++)
      if (gone[s >> 6] >> (s & 63) & 1) {
        state[s] = OMEN__SLOT_FREE;
        ((uint32_t *)c->free_slots.p)[c->n_free++] = s;
      }
  }
  c->n_deleted = 0;
}

static uint32_t find_id(const omen_coll *c, const char *id, size_t len,
                        uint32_t hash)
{
  return omen__idmap_find(&c->ids, &c->recs, id, len, hash);
}

/* Turn a live slot into a deleted one: its record goes, its node stays in
** the graph as a route until consolidation. */
static void delete_slot(omen_coll *c, uint32_t slot)
{
  uint32_t len;
  const char *id = omen__records_id(&c->recs, slot, &len);
  omen__idmap_remove(&c->ids, omen__idmap_hash(&c->ids, id, len), slot);
  omen__records_clear(&c->recs, slot);
  slot_state(c)[slot] = OMEN__SLOT_DELETED;
  c->n_deleted++;
}

static const float *vector_of(const omen_coll *c, uint32_t slot)
{
  return (const float *)c->vecs.p + (size_t)slot * c->stride;
}

static float mul_of(const omen_coll *c, uint32_t slot)
{
  return c->metric->normalised ? ((const float *)c->inv_norm.p)[slot] : 1.0f;
}

static void write_vector(omen_coll *c, uint32_t slot, const float *vec)
{
  float *dst = (float *)c->vecs.p + (size_t)slot * c->stride;
  memcpy(dst, vec, c->cfg.dim * sizeof(float));
  memset(dst + c->cfg.dim, 0, (c->stride - c->cfg.dim) * sizeof(float));
  if (c->metric->normalised)
    ((float *)c->inv_norm.p)[slot] = omen__inverse_norm(vec, c->cfg.dim);
  omen__codes_put(&c->codes, slot, dst, mul_of(c, slot));
}

/* -- Codes -------------------------------------------------------------------- */

void omen__coll_codes_fill(omen_coll *c, uint32_t first, uint32_t end)
{
  const uint8_t *state = slot_state(c);
  for (uint32_t s = first; s < end; s++)
    if (state[s] != OMEN__SLOT_PENDING)
      omen__codes_put(&c->codes, s, vector_of(c, s), mul_of(c, s));
}

/* Samples for a fit: the live slots, and the vectors about to be written. */
typedef struct live_list {
  const omen_coll *c;
  const uint32_t *slots;
} live_list;

static const float *live_vector(const void *ctx, size_t i, float *mul)
{
  const live_list *l = ctx;
  *mul = mul_of(l->c, l->slots[i]);
  return vector_of(l->c, l->slots[i]);
}

typedef struct new_list {
  const float *vecs;
  uint32_t dim;
} new_list;

static const float *new_vector(const void *ctx, size_t i, float *mul)
{
  const new_list *l = ctx;
  const float *v = l->vecs + i * l->dim;
  *mul = omen__inverse_norm(v, l->dim); /* used for normalised metrics only */
  return v;
}

void omen__coll_codes_refit(omen_coll *c, const float *vecs, size_t n)
{
  if (!c->codes.row) return;
  const omen__mem *m = &c->db->mem;
  uint32_t live = omen__coll_live(c), got = 0;
  uint32_t *slots = omen__malloc(m, (live ? live : 1) * sizeof(uint32_t));
  if (!slots) return;
  for (uint32_t s = 0; s < c->n_slots && got < live; s++)
    if (slot_state(c)[s] == OMEN__SLOT_LIVE) slots[got++] = s;
  live_list ll = {c, slots};
  new_list nl = {vecs, c->cfg.dim};
  omen__sample_src src[2] = {{got, live_vector, &ll}, {vecs ? n : 0, new_vector, &nl}};
  if (!omen__codes_fit(&c->codes, m, src, 2, (uint64_t)got + (vecs ? n : 0)))
    omen__coll_codes_fill(c, 0, c->n_slots);
  omen__free(m, slots, (live ? live : 1) * sizeof(uint32_t));
}

static int same_vector(const omen_coll *c, uint32_t slot, const float *vec)
{
  return memcmp(vector_of(c, slot), vec, c->cfg.dim * sizeof(float)) == 0;
}

/* -- Input checks ----------------------------------------------------------- */

static int no_record(omen_coll *c, const char *id, size_t len)
{
  char text[64];
  return omen__fail(c->db, OMEN_NOTFOUND, "no record with id '%s'",
                    omen__id_text(text, sizeof text, id, len));
}

/* Prefix for messages about item i of a batch ("" for single calls). */
static const char *item_prefix(char *buf, size_t cap, size_t i, size_t n,
                               const omen_str *id)
{
  if (n <= 1) return "";
  char text[64];
  snprintf(buf, cap, "record %zu (id '%s'): ", i + 1,
           omen__id_text(text, sizeof text, id->ptr, id->len));
  return buf;
}

static int check_id(omen_db *db, const char *id, size_t len, const char *pre)
{
  if (!id || len == 0)
    return omen__fail(db, OMEN_INVALID, "%sid must not be empty", pre);
  if (len > OMEN_MAX_ID)
    return omen__fail(db, OMEN_INVALID, "%sid is %zu bytes (at most %d)", pre,
                      len, OMEN_MAX_ID);
  return OMEN_OK;
}

/* Distances are computed in float: two vectors whose squared lengths stay
** below a quarter of FLT_MAX are at most FLT_MAX apart (squared), and their
** dot product is below it too. */
#define MAX_SQUARED_LENGTH (FLT_MAX / 4)

static int check_vector(const omen_coll *c, const float *v, const char *what,
                        const char *pre)
{
  if (!v) return omen__fail(c->db, OMEN_INVALID, "%s%s is missing", pre, what);
  double sum = 0, squares = 0;
  for (uint32_t i = 0; i < c->cfg.dim; i++) {
    if (!isfinite(v[i]))
      return omen__fail(c->db, OMEN_INVALID, "%s%s component %u is %s", pre,
                        what, i + 1, isnan(v[i]) ? "NaN" : "infinite");
    sum += fabs((double)v[i]);
    squares += (double)v[i] * v[i];
  }
  if (squares > MAX_SQUARED_LENGTH)
    return omen__fail(c->db, OMEN_INVALID, "%s%s is too long: its squared length %.3g "
                      "would overflow distances (at most %.3g)", pre, what, squares,
                      (double)MAX_SQUARED_LENGTH);
  if (c->metric->normalised && sum == 0)
    return omen__fail(c->db, OMEN_INVALID,
                      "%s%s is all zeros: it has no direction for the cosine "
                      "metric", pre, what);
  return OMEN_OK;
}

/* Lock for reading or writing and check the collection still has data. */
static int lock_coll(omen_coll *c, int write)
{
  if (write) {
    if ((c->db->flags & OMEN_OPEN_READONLY) && !c->db->replaying)
      return omen__fail(c->db, OMEN_READONLY, "database is read-only");
    pthread_rwlock_wrlock(&c->rw);
  } else {
    pthread_rwlock_rdlock(&c->rw);
  }
  if (c->dead_rc) {
    int rc = c->dead_rc;
    pthread_rwlock_unlock(&c->rw);
    return omen__fail(c->db, rc, rc == OMEN_CLOSED ? "database is closed"
                                                   : "collection '%s' was dropped",
                      c->name);
  }
  /* A write may change any chunk: check the file's bulk before. Any write
  ** outdates the cached filter bitmaps. */
  int rc = write ? omen__storage_check_all(c) : OMEN_OK;
  if (rc) pthread_rwlock_unlock(&c->rw);
  else if (write) c->version++;
  return rc;
}

/* -- Upsert ----------------------------------------------------------------- */

typedef struct batch_item {
  const char *id;
  uint32_t id_len;
  uint32_t hash;
  const float *vec;
  const omen_field *fields;
  size_t n_fields;
  size_t meta_off, meta_len; /* in the batch's encoded metadata */
  uint32_t old;              /* slot holding the id before, or NO_SLOT */
  uint8_t skip;              /* a later item has the same id */
  uint8_t meta_only;         /* same vector: only the record changes */
} batch_item;

typedef struct batch {
  omen_coll *c;
  size_t n;
  batch_item *items;
  uint8_t *meta;             /* encoded metadata of all items */
  size_t meta_cap;
  uint32_t *link;            /* slots to link into the graph */
  size_t n_link;
  unsigned threads;
  int consolidate;           /* the replaced records make consolidation due */
} batch;

static void batch_free(batch *b)
{
  const omen__mem *m = &b->c->db->mem;
  omen__free(m, b->items, b->n * sizeof(batch_item));
  omen__free(m, b->meta, b->meta_cap);
  omen__free(m, b->link, b->n * sizeof(uint32_t));
}

/* Mark every item whose id appears again later: the later one wins. */
static int mark_duplicates(batch *b)
{
  if (b->n < 2) return OMEN_OK;
  const omen__mem *m = &b->c->db->mem;
  size_t size = 16;
  while (size < 2 * b->n) size *= 2;
  uint32_t *tab = omen__calloc(m, size * sizeof(uint32_t));
  if (!tab) return OMEN_NOMEM;
  for (size_t i = b->n; i-- > 0;) {
    batch_item *it = &b->items[i];
    size_t j = it->hash & (size - 1);
    for (; tab[j]; j = (j + 1) & (size - 1)) {
      const batch_item *o = &b->items[tab[j] - 1];
      if (o->hash == it->hash && o->id_len == it->id_len &&
          !memcmp(o->id, it->id, it->id_len)) {
        it->skip = 1;
        break;
      }
    }
    if (!it->skip) tab[j] = (uint32_t)i + 1;
  }
  omen__free(m, tab, size * sizeof(uint32_t));
  return OMEN_OK;
}

/* Check every item and size the metadata buffer; nothing is locked yet. */
static int batch_check(batch *b, const omen_str *ids, const float *vecs,
                       const omen_meta *metas)
{
  omen_coll *c = b->c;
  char pre[96], err[OMEN__ERR_LEN];
  size_t meta_total = 0;
  for (size_t i = 0; i < b->n; i++) {
    batch_item *it = &b->items[i];
    const char *p = item_prefix(pre, sizeof pre, i, b->n, &ids[i]);
    int rc = check_id(c->db, ids[i].ptr, ids[i].len, p);
    if (rc) return rc;
    it->id = ids[i].ptr;
    it->id_len = (uint32_t)ids[i].len;
    it->hash = omen__idmap_hash(&c->ids, it->id, it->id_len);
    it->vec = vecs + i * c->cfg.dim;
    if ((rc = check_vector(c, it->vec, "vector", p))) return rc;
    if (metas) {
      it->fields = metas[i].fields;
      it->n_fields = metas[i].n;
    }
    size_t bound;
    if ((rc = omen__meta_check(it->fields, it->n_fields, &bound, err, sizeof err)))
      return omen__fail(c->db, rc, "%s%s", p, err);
    it->meta_off = meta_total;
    meta_total += bound;
  }
  b->meta_cap = meta_total;
  if (meta_total && !(b->meta = omen__malloc(&c->db->mem, meta_total)))
    return OMEN_NOMEM;
  return mark_duplicates(b);
}

/* Under the lock: encode metadata, find old slots, reserve all memory. */
static int batch_plan(batch *b)
{
  omen_coll *c = b->c;
  const omen__mem *m = &c->db->mem;
  size_t need_slots = 0, replaced = 0, heap = 0;
  for (size_t i = 0; i < b->n; i++) {
    batch_item *it = &b->items[i];
    if (it->skip) continue;
    int rc = omen__meta_encode(m, &c->keys, it->fields, it->n_fields,
                               b->meta + it->meta_off, &it->meta_len);
    if (rc == OMEN_INVALID) {
      char pre[96];
      omen_str id = {it->id, it->id_len};
      return omen__fail(c->db, rc, "%smetadata too large or too many distinct field "
                        "names", item_prefix(pre, sizeof pre, i, b->n, &id));
    }
    if (rc) return rc;
    heap += it->id_len + it->meta_len;
    it->old = find_id(c, it->id, it->id_len, it->hash);
    it->meta_only = it->old != OMEN__NO_SLOT && same_vector(c, it->old, it->vec);
    if (it->meta_only) continue;
    need_slots++;
    replaced += it->old != OMEN__NO_SLOT;
  }
  uint64_t deleted = (uint64_t)c->n_deleted + replaced;
  b->consolidate = consolidation_due(deleted, omen__coll_live(c));
  size_t reusable = c->n_free + (b->consolidate ? deleted : 0);
  size_t fresh = need_slots > reusable ? need_slots - reusable : 0;
  if (fresh > MAX_SLOTS - c->n_slots)
    return omen__fail(c->db, OMEN_INVALID, "collection is full (%u slots)",
                      MAX_SLOTS);
  uint32_t total = c->n_slots + (uint32_t)fresh;
  uint64_t blocks = c->graph.upper_blocks;
  for (uint32_t s = c->n_slots; s < total; s++)
    blocks += omen__graph_level_of(&c->graph, s);
  size_t block = (1 + (size_t)c->graph.m) * sizeof(uint32_t);
  int rc;
  if ((rc = omen__coll_reserve(c, total)) ||
      (rc = omen__idmap_reserve(m, &c->ids, need_slots)) ||
      (rc = omen__records_reserve_heap(m, &c->recs, heap, c->n_slots)) ||
      (b->consolidate && (rc = reserve_consolidation(c, deleted))) ||
      (rc = omen__buf_ensure(m, &c->graph.upper, blocks * block,
                             c->graph.upper_blocks * block, 64 * block)))
    return rc;
  b->link = omen__malloc(m, b->n * sizeof(uint32_t));
  if (!b->link) return OMEN_NOMEM;
  if (need_slots && omen__codes_due(&c->codes, b->items[0].vec, b->n,
                                    (uint64_t)omen__coll_live(c) + b->n))
    omen__coll_codes_refit(c, b->items[0].vec, b->n);
  return OMEN_OK;
}

/* Take a free slot (no link leads to it) or a new one; it is pending until
** its vector is in. */
static uint32_t take_slot(omen_coll *c)
{
  if (c->n_free) {
    uint32_t slot = ((uint32_t *)c->free_slots.p)[--c->n_free];
    slot_state(c)[slot] = OMEN__SLOT_PENDING;
    return slot;
  }
  uint32_t slot = c->n_slots++;
  omen__graph_add_slot(&c->db->mem, &c->graph, slot); /* room reserved */
  omen__records_init_slot(&c->recs, slot);
  slot_state(c)[slot] = OMEN__SLOT_PENDING;
  return slot;
}

/* A graph write context for this collection. */
static omen__build builder(omen_coll *c, const omen__space *sp)
{
  omen__build b = {&c->graph, sp, &c->db->mem, c->state.p, 0, NULL};
  return b;
}

/* Apply the planned changes; cannot fail. A replaced record's old slot is
** deleted like any other (its node stays a route for now); if that makes
** consolidation due, it runs before new slots are taken, so the batch may
** reuse the very slots it freed, and no link is left pointing at a slot
** whose vector changes. */
static void batch_apply(batch *b, omen__scratch *sc)
{
  omen_coll *c = b->c;
  for (size_t i = 0; i < b->n; i++) {
    batch_item *it = &b->items[i];
    if (it->skip) continue;
    if (it->meta_only)
      omen__records_put(&c->recs, it->old, it->id, it->id_len,
                        b->meta + it->meta_off, (uint32_t)it->meta_len);
    else if (it->old != OMEN__NO_SLOT)
      delete_slot(c, it->old);
  }
  if (b->consolidate) {
    consolidate(c, sc, b->threads);
    omen__space sp = omen__coll_space(c);
    omen__build bld = builder(c, &sp);
    omen__graph_repair(&bld, sc, c->n_slots);
  }
  for (size_t i = 0; i < b->n; i++) {
    batch_item *it = &b->items[i];
    if (it->skip || it->meta_only) continue;
    uint32_t slot = take_slot(c);
    omen__idmap_insert(&c->ids, it->hash, slot);
    b->link[b->n_link++] = slot;
    omen__records_put(&c->recs, slot, it->id, it->id_len,
                      b->meta + it->meta_off, (uint32_t)it->meta_len);
    it->old = slot;
  }
  for (size_t i = 0; i < b->n; i++) {
    batch_item *it = &b->items[i];
    if (it->skip || it->meta_only) continue;
    write_vector(c, it->old, it->vec);
    slot_state(c)[it->old] = OMEN__SLOT_LIVE;
  }
}

/* The log record of a batch: the records it will store, in order. */
static void emit_batch(omen__sink *s, const void *arg)
{
  const batch *b = arg;
  const omen_coll *c = b->c;
  uint32_t n = 0;
  for (size_t i = 0; i < b->n; i++) n += !b->items[i].skip;
  omen__sink_str(s, c->name, c->name_len);
  omen__sink_u32(s, n);
  omen__sink_u32(s, c->cfg.dim);
  for (size_t i = 0; i < b->n; i++) {
    const batch_item *it = &b->items[i];
    if (it->skip) continue;
    omen__sink_str(s, it->id, it->id_len);
    omen__sink_put(s, it->vec, c->cfg.dim * sizeof(float));
    omen__sink_meta(s, it->fields, it->n_fields);
  }
}

/* A write has returned: fold the log into the file once it is large. A
** failed attempt is retried when the log has grown as much again. */
static void maybe_checkpoint(omen_db *db)
{
  if (!omen__wal_active(db) || !omen__wal_full(db)) return;
  if (omen__auto_checkpoint(db)) omen__wal_backoff(db);
}

/* -- Graph linking, on several threads -------------------------------------- */

typedef struct linker {
  omen_coll *c;
  omen__build bld;
  const uint32_t *slots;
  size_t n;
  atomic_size_t next;
  atomic_int rc;
} linker;

static void link_work(void *arg, omen__scratch *sc)
{
  linker *lk = arg;
  for (;;) {
    size_t i = atomic_fetch_add(&lk->next, 1);
    if (i >= lk->n) break;
    int rc = omen__graph_insert(&lk->bld, sc, lk->slots[i]);
    if (rc) atomic_store(&lk->rc, rc);
  }
}

/* Move the orphan notes of a worker's scratch into the caller's. */
static void merge_orphans(omen_coll *c, omen__scratch *into, omen__scratch *from)
{
  for (size_t i = 0; i < from->n_orphans; i++)
    omen__scratch_note_orphan(&c->db->mem, into, from->orphans[i]);
  into->orphans_lost |= from->orphans_lost;
  from->n_orphans = 0;
  from->orphans_lost = 0;
}

/* Link slots with several threads, each with its own scratch. */
static int link_parallel(omen_coll *c, const omen__space *sp,
                         const uint32_t *slots, size_t n, unsigned threads,
                         omen__scratch *first)
{
  /* More threads than cores only leaves half-linked nodes waiting while
  ** others build around them. */
  unsigned cores = default_threads();
  if (threads == 0 || threads > cores) threads = cores;
  size_t most = n / MIN_PER_THREAD;
  if (threads > most) threads = most ? (unsigned)most : 1;
  pthread_mutex_t entry_mu;
  if (pthread_mutex_init(&entry_mu, NULL)) return OMEN_ERROR;
  linker lk = {c, builder(c, sp), slots, n, 0, OMEN_OK};
  lk.bld.parallel = threads > 1;
  lk.bld.entry_mu = &entry_mu;
  run_crew(c, threads, first, link_work, &lk, merge_orphans);
  pthread_mutex_destroy(&entry_mu);
  return atomic_load(&lk.rc);
}

/* Link slots[0..n) with up to `threads` threads (the caller is one), then
** relink whatever the writes left unreachable. */
int omen__coll_link(omen_coll *c, const uint32_t *slots, size_t n,
                    unsigned threads, omen__scratch *first)
{
  omen__space sp = omen__coll_space(c);
  omen__build alone = builder(c, &sp);
  size_t serial = 0;
  uint32_t live = c->n_slots - c->n_free;
  if (live - n < SERIAL_START) serial = SERIAL_START - (live - n);
  if (serial > n) serial = n;
  int rc = OMEN_OK;
  c->graph_inserts += n;
  for (size_t i = 0; i < serial && !rc; i++)
    rc = omen__graph_insert(&alone, first, slots[i]);
  if (!rc && serial < n) rc = link_parallel(c, &sp, slots + serial, n - serial,
                                            threads, first);
  if (!rc) rc = omen__graph_repair(&alone, first, c->n_slots);
  return rc;
}

int omen_upsert_batch(omen_coll *c, size_t n, const omen_str *ids,
                      const float *vecs, const omen_meta *metas,
                      unsigned threads)
{
  if (!c) return OMEN_INVALID;
  if (n == 0) return OMEN_OK;
  if (!ids || !vecs)
    return omen__fail(c->db, OMEN_INVALID, "ids or vectors are missing");
  batch b = {c, n, NULL, NULL, 0, NULL, 0, threads, 0};
  b.items = omen__calloc(&c->db->mem, n * sizeof(batch_item));
  if (!b.items) return omen__fail(c->db, OMEN_NOMEM, "out of memory");
  int rc = batch_check(&b, ids, vecs, metas);
  if (rc) goto done;
  if ((rc = lock_coll(c, 1))) goto done;
  omen__scratch *sc = scratch_get(c);
  /* Logged only once nothing can fail before it is in memory too. */
  if (!(rc = batch_plan(&b)) &&
      !(rc = scratch_prepare(c, sc, c->cap, c->graph.ef_construction)) &&
      !(rc = omen__wal_active(c->db) ? omen__wal_append(c->db, OMEN__LOG_UPSERT,
                                                        emit_batch, &b)
                                     : OMEN_OK)) {
    batch_apply(&b, sc);
    atomic_store(&c->db->dirty, 1);
    rc = omen__coll_link(c, b.link, b.n_link, b.threads, sc);
  }
  scratch_put(c, sc);
  pthread_rwlock_unlock(&c->rw);
done:
  batch_free(&b);
  if (rc == OMEN_NOMEM) omen__fail(c->db, rc, "out of memory");
  if (!rc) maybe_checkpoint(c->db);
  return rc;
}

int omen_upsert(omen_coll *c, const char *id, size_t id_len, const float *vec,
                const omen_field *meta, size_t n_meta)
{
  if (!c) return OMEN_INVALID;
  if (!vec) return omen__fail(c->db, OMEN_INVALID, "vector is missing");
  omen_str s = {id, id_len};
  omen_meta md = {meta, n_meta};
  return omen_upsert_batch(c, 1, &s, vec, &md, 0); /* 0: consolidation may use every core */
}

/* -- Compaction -------------------------------------------------------------- */

int omen__coll_compact(omen_coll *c, double min_share)
{
  int rc = lock_coll(c, 1);
  if (rc) return rc == OMEN_READONLY || rc == OMEN_DROPPED ? OMEN_OK : rc;
  uint32_t gone = c->n_free + c->n_deleted;
  if (gone && gone >= min_share * c->n_slots) {
    omen__scratch *sc = scratch_get(c);
    rc = sc ? omen__compact_slots(c, sc) : OMEN_NOMEM;
    scratch_put(c, sc);
    atomic_store(&c->db->dirty, 1);
  }
  pthread_rwlock_unlock(&c->rw);
  return rc;
}

/* -- Delete, count, info ---------------------------------------------------- */

typedef struct deletion {
  const omen_coll *c;
  omen_str id;
} deletion;

static void emit_delete(omen__sink *s, const void *arg)
{
  const deletion *d = arg;
  omen__sink_str(s, d->c->name, d->c->name_len);
  omen__sink_str(s, d->id.ptr, d->id.len);
}

int omen__coll_consolidate(omen_coll *c, omen__scratch *sc)
{
  if (!c->n_deleted) return OMEN_OK;
  int rc = reserve_consolidation(c, c->n_deleted);
  if (!rc) rc = scratch_prepare(c, sc, c->n_slots, c->graph.ef_construction);
  if (rc) return omen__fail(c->db, OMEN_NOMEM, "out of memory");
  consolidate(c, sc, 0);
  omen__space sp = omen__coll_space(c);
  omen__build bld = builder(c, &sp);
  return omen__graph_repair(&bld, sc, c->n_slots);
}

/* After a write deleted records: consolidate if due, and relink whatever
** that left unreachable. */
static void after_deletions(omen_coll *c, omen__scratch *sc, int due)
{
  if (!due) return;
  consolidate(c, sc, 0);
  omen__space sp = omen__coll_space(c);
  omen__build bld = builder(c, &sp);
  omen__graph_repair(&bld, sc, c->n_slots); /* no allocation: it only relinks */
}

/* Reserve what deleting n more records needs: *due tells whether they
** make consolidation due, and sc is prepared for it. */
static int reserve_deletions(omen_coll *c, omen__scratch *sc, uint64_t n, int *due)
{
  uint64_t deleted = (uint64_t)c->n_deleted + n;
  *due = consolidation_due(deleted, omen__coll_live(c) - n);
  if (!*due) return OMEN_OK;
  int rc = reserve_consolidation(c, deleted);
  if (!rc) rc = scratch_prepare(c, sc, c->n_slots, c->graph.ef_construction);
  return rc;
}

int omen_delete(omen_coll *c, const char *id, size_t id_len)
{
  if (!c) return OMEN_INVALID;
  int rc = check_id(c->db, id, id_len, "");
  if (rc || (rc = lock_coll(c, 1))) return rc;
  uint32_t slot = find_id(c, id, id_len, omen__idmap_hash(&c->ids, id, id_len));
  omen__scratch *sc = NULL;
  int due = 0;
  if (slot == OMEN__NO_SLOT) {
    rc = no_record(c, id, id_len);
  } else if (!(sc = scratch_get(c)) || (rc = reserve_deletions(c, sc, 1, &due))) {
    rc = omen__fail(c->db, OMEN_NOMEM, "out of memory");
  } else {
    deletion d = {c, {id, id_len}};
    if (omen__wal_active(c->db))
      rc = omen__wal_append(c->db, OMEN__LOG_DELETE, emit_delete, &d);
    if (!rc) {
      delete_slot(c, slot);
      after_deletions(c, sc, due);
      atomic_store(&c->db->dirty, 1);
    }
  }
  scratch_put(c, sc);
  pthread_rwlock_unlock(&c->rw);
  if (!rc) maybe_checkpoint(c->db);
  return rc;
}

int omen_count(omen_coll *c, uint64_t *count)
{
  if (!c) return OMEN_INVALID;
  if (!count) return omen__missing(c->db, "count");
  int rc = lock_coll(c, 0);
  if (rc) return rc;
  *count = omen__coll_live(c);
  pthread_rwlock_unlock(&c->rw);
  return OMEN_OK;
}

int omen_coll_info_get(omen_coll *c, omen_coll_info *info)
{
  if (!c) return OMEN_INVALID;
  if (!info) return omen__missing(c->db, "info");
  int rc = lock_coll(c, 0);
  if (rc) return rc;
  memset(info, 0, sizeof *info);
  info->config = c->cfg;
  info->count = omen__coll_live(c);
  info->slots = c->n_slots;
  info->deleted = c->n_free + c->n_deleted;
  info->max_level = c->graph.max_level;
  info->graph_inserts = c->graph_inserts;
  const omen__buf *bufs[] = {&c->vecs, &c->inv_norm, &c->state, &c->free_slots,
                             &c->graph.links0, &c->graph.level, &c->graph.upper_at,
                             &c->graph.upper, &c->graph.locks, &c->ids.tab,
                             &c->recs.refs, &c->recs.heap, &c->keys.names,
                             &c->keys.index, &c->keys.table,
                             &c->graph.indeg, &c->gone};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
    info->memory += bufs[i]->size;
  info->memory += omen__codes_memory(&c->codes);
  info->memory += sizeof *c + c->name_len;
  pthread_rwlock_unlock(&c->rw);
  return OMEN_OK;
}

/* -- Reading records into results ------------------------------------------- */

static char *copy_bytes(omen_result *r, const void *p, size_t len)
{
  char *dst = omen__result_alloc(r, len ? len : 1, 1);
  if (dst && len) memcpy(dst, p, len);
  return dst;
}

static int copy_value(omen_result *r, omen_value *v, const uint8_t *raw,
                      size_t raw_len)
{
  if (v->type == OMEN_STRING) {
    v->u.string.ptr = copy_bytes(r, v->u.string.ptr, v->u.string.len);
    return v->u.string.ptr ? OMEN_OK : OMEN_NOMEM;
  }
  if (v->type != OMEN_STRINGS) return OMEN_OK;
  size_t n = v->u.strings.n;
  omen_str *items = omen__result_alloc(r, (n ? n : 1) * sizeof(omen_str),
                                       _Alignof(omen_str));
  if (!items) return OMEN_NOMEM;
  const uint8_t *p = raw, *end = raw + raw_len;
  for (size_t i = 0; i < n; i++) {
    if (omen__meta_next_string(&p, end, &items[i])) return OMEN_CORRUPT;
    items[i].ptr = copy_bytes(r, items[i].ptr, items[i].len);
    if (!items[i].ptr) return OMEN_NOMEM;
  }
  v->u.strings.items = items;
  return OMEN_OK;
}

static int copy_meta(omen_result *r, const omen_coll *c, uint32_t slot,
                     omen_hit *h)
{
  uint32_t len;
  const uint8_t *meta = omen__records_meta(&c->recs, slot, &len);
  omen__meta_it it;
  uint64_t n;
  if (omen__meta_open(&it, meta, len, &n)) return OMEN_CORRUPT;
  if (n == 0) return OMEN_OK;
  omen_field *f = omen__result_alloc(r, (size_t)n * sizeof *f, _Alignof(omen_field));
  if (!f) return OMEN_NOMEM;
  for (uint64_t i = 0; i < n; i++) {
    uint32_t key;
    const uint8_t *raw = NULL;
    size_t raw_len = 0, key_len;
    if (omen__meta_next(&it, &key, &f[i].value, &raw, &raw_len) ||
        key >= c->keys.n)
      return OMEN_CORRUPT;
    const char *name = omen__keys_name(&c->keys, key, &key_len);
    f[i].key.ptr = copy_bytes(r, name, key_len);
    f[i].key.len = key_len;
    if (!f[i].key.ptr) return OMEN_NOMEM;
    int rc = copy_value(r, &f[i].value, raw, raw_len);
    if (rc) return rc;
  }
  h->meta = f;
  h->n_meta = (size_t)n;
  return OMEN_OK;
}

static int add_hit(omen_result *r, const omen_coll *c, uint32_t slot, float d,
                   unsigned with)
{
  omen_hit *h = omen__result_push(r);
  if (!h) return OMEN_NOMEM;
  uint32_t id_len;
  const char *id = omen__records_id(&c->recs, slot, &id_len);
  h->id.ptr = copy_bytes(r, id, id_len);
  h->id.len = id_len;
  h->distance = d;
  if (!h->id.ptr) return OMEN_NOMEM;
  if (with & OMEN_WITH_VECTOR) {
    float *v = omen__result_alloc(r, c->cfg.dim * sizeof(float), OMEN__ALIGN);
    if (!v) return OMEN_NOMEM;
    memcpy(v, (const float *)c->vecs.p + (size_t)slot * c->stride,
           c->cfg.dim * sizeof(float));
    h->vec = v;
  }
  return with & OMEN_WITH_META ? copy_meta(r, c, slot, h) : OMEN_OK;
}

/* -- Get and search --------------------------------------------------------- */

static int damaged_chunk(omen_coll *c, uint32_t slot)
{
  uint32_t first = slot / OMEN__CHUNK * OMEN__CHUNK;
  return omen__fail(c->db, OMEN_CORRUPT,
                    "database file '%s' is damaged: checksum mismatch in "
                    "collection '%s', slots %u to %u", c->db->path, c->name,
                    first, first + OMEN__CHUNK - 1);
}

/* The message of a read that failed in add_hit. */
static int read_failed(omen_coll *c, int rc)
{
  if (rc == OMEN_NOMEM) return omen__fail(c->db, rc, "out of memory");
  if (rc == OMEN_CORRUPT)
    return omen__fail(c->db, rc, "database file '%s' is damaged: a record of "
                      "collection '%s' does not decode", omen_path(c->db), c->name);
  return rc;
}

int omen_get(omen_coll *c, const char *id, size_t id_len, omen_result *r)
{
  if (!c) return OMEN_INVALID;
  if (!r) return omen__missing(c->db, "result");
  int rc = check_id(c->db, id, id_len, "");
  if (rc || (rc = lock_coll(c, 0))) return rc;
  omen__result_reset(r);
  uint32_t slot = find_id(c, id, id_len, omen__idmap_hash(&c->ids, id, id_len));
  omen__space sp = omen__coll_space(c);
  if (slot == OMEN__NO_SLOT)
    rc = no_record(c, id, id_len);
  else if (omen__touch(&sp, slot))
    rc = damaged_chunk(c, slot);
  else
    rc = read_failed(c, add_hit(r, c, slot, 0.0f, OMEN_WITH_META | OMEN_WITH_VECTOR));
  pthread_rwlock_unlock(&c->rw);
  if (rc && rc != OMEN_NOTFOUND) omen__result_reset(r);
  return rc;
}

int omen_list(omen_coll *c, uint64_t *cursor, size_t max, unsigned with, omen_result *r)
{
  if (!c) return OMEN_INVALID;
  if (!cursor || !r) return omen__missing(c->db, !cursor ? "cursor" : "result");
  if (max == 0) return omen__fail(c->db, OMEN_INVALID, "list needs max >= 1");
  int rc = lock_coll(c, 0);
  if (rc) return rc;
  omen__result_reset(r);
  omen__space sp = omen__coll_space(c);
  const uint8_t *state = slot_state(c);
  uint64_t slot = *cursor;
  for (size_t got = 0; slot < c->n_slots && got < max && !rc; slot++) {
    if (state[slot] != OMEN__SLOT_LIVE) continue;
    if (omen__touch(&sp, (uint32_t)slot)) rc = damaged_chunk(c, (uint32_t)slot);
    else if (!(rc = add_hit(r, c, (uint32_t)slot, 0.0f, with))) got++;
  }
  pthread_rwlock_unlock(&c->rw);
  if (rc) {
    omen__result_reset(r);
    return read_failed(c, rc);
  }
  *cursor = slot;
  return OMEN_OK;
}

/* -- Filters in searches ------------------------------------------------------ */

/* A filter bound to this collection for one call. */
typedef struct bound_filter {
  const omen_filter *f;
  const omen__records *recs;
  const uint32_t *ids; /* the collection's key number of each filter field */
} bound_filter;

static int match_slot(const void *ctx, uint32_t slot)
{
  const bound_filter *b = ctx;
  uint32_t len;
  const uint8_t *meta = omen__records_meta(b->recs, slot, &len);
  return omen__filter_match(b->f, b->ids, meta, len);
}

/* Bind f to c (lock held) as a predicate; NULL f gives a NULL predicate. */
static int bind_filter(omen_coll *c, omen__scratch *sc, const omen_filter *f,
                       bound_filter *bf, omen__pred *pred, const omen__pred **out)
{
  *out = NULL;
  if (!f) return OMEN_OK;
  if (omen__scratch_keyids(&c->db->mem, sc, f->n_keys)) return OMEN_NOMEM;
  omen__filter_bind(f, &c->keys, sc->keyids);
  *bf = (bound_filter){f, &c->recs, sc->keyids};
  *pred = (omen__pred){match_slot, bf};
  *out = pred;
  return OMEN_OK;
}

#define SAMPLE 256

/* The share of live records pred lets through, estimated on up to SAMPLE
** of them spread evenly over the slots (all of them when fewer). */
static double estimate_share(const omen_coll *c, const omen__pred *pred)
{
  const uint8_t *state = slot_state(c);
  uint32_t step = c->n_slots / SAMPLE ? c->n_slots / SAMPLE : 1, seen = 0, hit = 0;
  for (uint32_t s = 0; s < c->n_slots && seen < SAMPLE; s += step) {
    uint32_t t = s; /* the first live slot of this stretch */
    while (t < c->n_slots && t < s + step && state[t] != OMEN__SLOT_LIVE) t++;
    if (t >= c->n_slots || state[t] != OMEN__SLOT_LIVE) continue;
    seen++;
    hit += (uint32_t)pred->match(pred->ctx, t);
  }
  return seen ? (hit + 0.5) / (seen + 1.0) : 1.0;
}

/* Whether scanning is cheaper than walking the graph for a filter that
** lets `share` of the records through. Rough costs in nanoseconds: the
** graph gathers `width` matches after some 15 * width / share visits, each
** a distance to a vector fetched from anywhere; the scan tests every
** record's metadata and measures the matching ones, streaming. */
static int scan_is_cheaper(const omen_coll *c, double share, uint32_t live,
                           uint32_t width)
{
  double blocks = c->stride / 16.0; /* ~1 ns each */
  double graph = 15.0 * width / share * (blocks + 100.0);
  double scan = live * 20.0 + share * live * (blocks + 5.0);
  return scan <= graph;
}

/* With a filter's bitmap the match count is known: scanning the matches
** costs a distance each (~30 ns beside the arithmetic: they lie scattered);
** the walk over the bitmap costs some 30 * width distances to nodes fetched
** from anywhere, more as matches thin out (two-hop detours). Calibrated on
** bench/filter. */
static int bits_scan_is_cheaper(const omen_coll *c, uint64_t matches,
                                uint32_t live, uint32_t width)
{
  double blocks = c->stride / 16.0, share = live ? (double)matches / live : 1.0;
  double walk = 30.0 * width * (blocks + 100.0) / sqrt(share > 1e-9 ? share : 1e-9);
  return matches * (blocks + 30.0) <= walk;
}

/* The bitmap of the slots pred lets through (freshly allocated). */
static uint64_t *build_bits(omen_coll *c, const omen__pred *pred, size_t *words,
                            uint64_t *count)
{
  *words = (c->n_slots + 63) / 64 + 1;
  *count = 0;
  uint64_t *bits = omen__calloc(&c->db->mem, *words * sizeof(uint64_t));
  for (uint32_t s = 0; bits && s < c->n_slots; s++)
    if (omen__returnable(slot_state(c), pred, s)) {
      bits[s >> 6] |= 1ull << (s & 63);
      (*count)++;
    }
  return bits;
}

/* A filter's bitmap for this search: from the cache, or built when the
** filter was used before or is to be scanned anyway (and then cached). NULL
** when the filter is new and will be walked: building costs a scan. */
static const uint64_t *filter_bits(omen_coll *c, const omen_filter *f,
                                   const omen__pred *pred, int scanning,
                                   omen__fbits **held, uint64_t **owned,
                                   size_t *owned_words, uint64_t *count)
{
  int seen;
  *held = omen__fcache_get(c, f, &seen);
  if (*held) {
    *count = (*held)->count;
    return (*held)->bits;
  }
  if (!seen && !scanning) {
    omen__fcache_put(c, f, NULL, 0, 0); /* next time, build */
    return NULL;
  }
  size_t words;
  uint64_t *bits = build_bits(c, pred, &words, count);
  if (!bits) return NULL;
  if ((*held = omen__fcache_put(c, f, bits, words, *count))) return bits;
  *owned = bits; /* the cache is busy: use and free */
  *owned_words = words;
  return bits;
}

/* Search with a filter: plan by its bitmap when there is one, else by an
** estimate of its share; a walk short of min(k, matches) ends in a scan. */
static int search_filtered(omen_coll *c, omen__scratch *sc, const omen__space *sp,
                           const omen__query *q, const omen_search_opts *o,
                           const omen__pred *pred, size_t *n)
{
  uint32_t k = o->k, ef = o->ef ? o->ef : c->cfg.ef_search;
  uint32_t width = ef > k ? ef : k, live = omen__coll_live(c);
  int forced_scan = o->exact || o->plan == OMEN_PLAN_SCAN, rc;
  int auto_plan = o->plan == OMEN_PLAN_AUTO;
  int small = live <= (uint64_t)EXACT_FACTOR * width;
  double share = 1;
  if (!forced_scan && auto_plan && !small) share = estimate_share(c, pred);
  int scanning = forced_scan ||
                 (auto_plan && (small || scan_is_cheaper(c, share, live, width)));
  omen__fbits *held = NULL;
  uint64_t *owned = NULL, count = 0;
  size_t owned_words = 0;
  const uint64_t *bits = filter_bits(c, o->filter, pred, scanning, &held, &owned,
                                     &owned_words, &count);
  *n = 0;
  if (bits) {
    if (!forced_scan && (!auto_plan || !bits_scan_is_cheaper(c, count, live, width)))
      rc = omen__graph_search_bits(&c->graph, sp, bits, &c->db->mem, sc, q, k, ef,
                                   sc->sel, n);
    else
      rc = OMEN_OK;
    if (!rc && *n < (k < count ? k : count))
      rc = omen__exact_search_bits(sp, bits, c->n_slots, q->f, k, sc, sc->sel, n);
  } else {
    rc = omen__graph_search(&c->graph, sp, slot_state(c), pred, &c->db->mem, sc, q,
                            k, ef, sc->sel, n);
    if (!rc && *n < (k < live ? k : live)) /* short: maybe few match; scan */
      rc = omen__exact_search(sp, slot_state(c), pred, c->n_slots, q->f, k, sc,
                              sc->sel, n);
  }
  omen__fcache_release(c, held);
  omen__free(&c->db->mem, owned, owned_words * sizeof(uint64_t));
  return rc;
}

static int search_locked(omen_coll *c, omen__scratch *sc, const float *query,
                         const omen_search_opts *o, omen_result *r, unsigned seen)
{
  uint32_t k = o->k, ef = o->ef ? o->ef : c->cfg.ef_search;
  uint32_t width = ef > k ? ef : k, live = omen__coll_live(c);
  bound_filter bf;
  omen__pred pred_store;
  const omen__pred *pred;
  int rc = scratch_prepare(c, sc, c->n_slots, width);
  if (!rc) rc = bind_filter(c, sc, o->filter, &bf, &pred_store, &pred);
  if (rc) return rc;
  omen__space sp = omen__coll_space(c);
  sp.interrupts = &c->db->interrupts;
  sp.seen = seen;
  omen__query q = omen__walk_query(sc, &sp, omen__prepare_query(sc, &sp, query,
                                                                c->cfg.dim));
  size_t n = 0, want = k < live ? k : live;
  if (pred) {
    rc = search_filtered(c, sc, &sp, &q, o, pred, &n);
  } else {
    int scan = o->exact || o->plan == OMEN_PLAN_SCAN ||
               (o->plan == OMEN_PLAN_AUTO && live <= (uint64_t)EXACT_FACTOR * width);
    if (!scan)
      rc = omen__graph_search(&c->graph, &sp, slot_state(c), NULL, &c->db->mem, sc,
                              &q, k, ef, sc->sel, &n);
    /* Small, asked for, or the graph came up short. */
    if (!rc && n < want)
      rc = omen__exact_search(&sp, slot_state(c), NULL, c->n_slots, q.f, k, sc,
                              sc->sel, &n);
  }
  for (size_t i = 0; i < n && !rc; i++)
    rc = add_hit(r, c, sc->sel[i].slot, sc->sel[i].d, o->with);
  return rc;
}

/* -- Count and delete by filter ------------------------------------------------ */

int omen_count_where(omen_coll *c, const omen_filter *f, uint64_t *count)
{
  if (!c) return OMEN_INVALID;
  if (!count) return omen__missing(c->db, "count");
  if (!f) return omen_count(c, count);
  int rc = lock_coll(c, 0);
  if (rc) return rc;
  omen__scratch *sc = scratch_get(c);
  bound_filter bf;
  omen__pred ps;
  const omen__pred *pred;
  rc = sc ? bind_filter(c, sc, f, &bf, &ps, &pred) : OMEN_NOMEM;
  uint64_t n = 0;
  omen__fbits *held = NULL;
  uint64_t *owned = NULL;
  size_t owned_words = 0;
  if (!rc && !filter_bits(c, f, pred, 1, &held, &owned, &owned_words, &n))
    rc = OMEN_NOMEM;
  omen__fcache_release(c, held);
  omen__free(&c->db->mem, owned, owned_words * sizeof(uint64_t));
  scratch_put(c, sc);
  pthread_rwlock_unlock(&c->rw);
  if (rc) return omen__fail(c->db, rc, "out of memory");
  *count = n;
  return OMEN_OK;
}

typedef struct deletions {
  const omen_coll *c;
  const uint32_t *slots;
  size_t n;
} deletions;

static void emit_deletions(omen__sink *s, const void *arg)
{
  const deletions *d = arg;
  omen__sink_str(s, d->c->name, d->c->name_len);
  omen__sink_u32(s, (uint32_t)d->n);
  for (size_t i = 0; i < d->n; i++) {
    uint32_t len;
    const char *id = omen__records_id(&d->c->recs, d->slots[i], &len);
    omen__sink_str(s, id, len);
  }
}

int omen_delete_where(omen_coll *c, const omen_filter *f, uint64_t *deleted)
{
  if (!c) return OMEN_INVALID;
  if (!deleted) return omen__missing(c->db, "deleted");
  *deleted = 0;
  if (!f) return omen__fail(c->db, OMEN_INVALID, "delete_where needs a filter");
  int rc = lock_coll(c, 1);
  if (rc) return rc;
  const omen__mem *m = &c->db->mem;
  omen__scratch *sc = scratch_get(c);
  size_t cap = (size_t)omen__coll_live(c) + 1, n = 0;
  uint32_t *slots = omen__malloc(m, cap * sizeof(uint32_t));
  bound_filter bf;
  omen__pred ps;
  const omen__pred *pred;
  int due = 0;
  rc = sc && slots ? bind_filter(c, sc, f, &bf, &ps, &pred) : OMEN_NOMEM;
  for (uint32_t s = 0; !rc && s < c->n_slots; s++)
    if (omen__returnable(slot_state(c), pred, s)) slots[n++] = s;
  if (!rc && n) rc = reserve_deletions(c, sc, n, &due);
  deletions d = {c, slots, n};
  if (!rc && n && omen__wal_active(c->db))
    rc = omen__wal_append(c->db, OMEN__LOG_DELETE_MANY, emit_deletions, &d);
  for (size_t i = 0; !rc && i < n; i++) delete_slot(c, slots[i]);
  if (!rc && n) {
    after_deletions(c, sc, due);
    atomic_store(&c->db->dirty, 1);
  }
  scratch_put(c, sc);
  pthread_rwlock_unlock(&c->rw);
  omen__free(m, slots, cap * sizeof(uint32_t));
  if (rc == OMEN_NOMEM) return omen__fail(c->db, rc, "out of memory");
  if (rc) return rc;
  *deleted = n;
  maybe_checkpoint(c->db);
  return OMEN_OK;
}

static int check_search_opts(omen_coll *c, const omen_search_opts *o)
{
  if (o->k < 1)
    return omen__fail(c->db, OMEN_INVALID, "k must be at least 1 (got %u)", o->k);
  if (o->k > OMEN_MAX_K)
    return omen__fail(c->db, OMEN_INVALID, "k must be at most %u (got %u)",
                      OMEN_MAX_K, o->k);
  if (o->ef > OMEN_MAX_EF)
    return omen__fail(c->db, OMEN_INVALID, "ef must be at most %d (got %u)", OMEN_MAX_EF,
                      o->ef);
  if ((unsigned)o->plan > OMEN_PLAN_SCAN)
    return omen__fail(c->db, OMEN_INVALID, "unknown search plan %d", (int)o->plan);
  return OMEN_OK;
}

/* The count of omen_interrupt calls when a search begins. */
static unsigned interrupts_now(const omen_coll *c)
{
  return atomic_load_explicit(&c->db->interrupts, memory_order_relaxed);
}

void omen_interrupt(omen_db *db)
{
  if (db) atomic_fetch_add_explicit(&db->interrupts, 1, memory_order_relaxed);
}

/* The message of a search that failed with rc (results already reset). */
static int search_failed(omen_coll *c, int rc)
{
  if (rc == OMEN_INTERRUPTED) return omen__fail(c->db, rc, "search interrupted");
  if (rc == OMEN_CORRUPT)
    return omen__fail(c->db, rc, "database file '%s' is damaged: collection '%s' "
                      "failed a checksum or bounds check", c->db->path, c->name);
  return omen__fail(c->db, rc, "search failed: %s", omen_strerror(rc));
}

int omen_search(omen_coll *c, const float *query, const omen_search_opts *o,
                omen_result *r)
{
  if (!c) return OMEN_INVALID;
  if (!o || !r) return omen__missing(c->db, !o ? "options" : "result");
  unsigned seen = interrupts_now(c);
  int rc = check_search_opts(c, o);
  if (rc || (rc = check_vector(c, query, "query", "")) || (rc = lock_coll(c, 0)))
    return rc;
  omen__result_reset(r);
  omen__scratch *sc = scratch_get(c);
  rc = sc ? search_locked(c, sc, query, o, r, seen) : OMEN_NOMEM;
  scratch_put(c, sc);
  pthread_rwlock_unlock(&c->rw);
  if (rc) {
    omen__result_reset(r);
    search_failed(c, rc);
  }
  return rc;
}

/* -- Batch search ---------------------------------------------------------------
** The caller holds the read lock for the whole batch; each thread takes the
** next query from a shared counter and searches with its own scratch. */

typedef struct searcher {
  omen_coll *c;
  const float *queries;
  const omen_search_opts *o;
  omen_result *const *results;
  size_t n;
  atomic_size_t next;
  atomic_int rc;
  unsigned seen; /* interrupts when the batch began */
} searcher;

static void *search_worker(void *arg)
{
  searcher *s = arg;
  omen__scratch *sc = scratch_get(s->c);
  if (!sc) atomic_store(&s->rc, OMEN_NOMEM);
  while (sc && !atomic_load_explicit(&s->rc, memory_order_relaxed)) {
    size_t i = atomic_fetch_add(&s->next, 1);
    if (i >= s->n) break;
    int rc = interrupts_now(s->c) != s->seen
                 ? OMEN_INTERRUPTED
                 : search_locked(s->c, sc, s->queries + i * s->c->cfg.dim, s->o,
                                 s->results[i], s->seen);
    if (rc) atomic_store(&s->rc, rc);
  }
  scratch_put(s->c, sc);
  return NULL;
}

int omen_search_batch(omen_coll *c, size_t n, const float *queries,
                      const omen_search_opts *o, omen_result *const *results,
                      unsigned threads)
{
  if (!c) return OMEN_INVALID;
  if (!o || (n && (!queries || !results)))
    return omen__missing(c->db, !o ? "options" : !queries ? "queries" : "results");
  unsigned seen = interrupts_now(c);
  int rc = check_search_opts(c, o);
  for (size_t i = 0; i < n && !rc; i++) {
    char what[32];
    snprintf(what, sizeof what, "query %zu", i + 1);
    if (!results[i]) return omen__fail(c->db, OMEN_INVALID, "results[%zu] is NULL", i);
    rc = check_vector(c, queries + i * c->cfg.dim, what, "");
  }
  if (rc || (rc = lock_coll(c, 0))) return rc;
  for (size_t i = 0; i < n; i++) omen__result_reset(results[i]);
  unsigned cores = default_threads();
  if (threads == 0 || threads > cores) threads = cores;
  if (threads > n) threads = n ? (unsigned)n : 1;
  searcher s = {c, queries, o, results, n, 0, OMEN_OK, seen};
  pthread_t pool[MAX_THREADS];
  unsigned started = 0;
  while (started + 1 < threads &&
         !pthread_create(&pool[started], NULL, search_worker, &s))
    started++;
  search_worker(&s); /* fewer threads than asked still answers every query */
  for (unsigned t = 0; t < started; t++) pthread_join(pool[t], NULL);
  pthread_rwlock_unlock(&c->rw);
  rc = atomic_load(&s.rc);
  if (rc) {
    for (size_t i = 0; i < n; i++) omen__result_reset(results[i]);
    search_failed(c, rc);
  }
  return rc;
}
