/*
** Collections as containers: a collection's slots and the tables indexed by
** them (vectors, norms, codes, states, the free list), its lock, its pool of
** search scratch, its worker threads, the input checks every call makes,
** binding filters to its records, and the accessors users call on it (name,
** count, info). What a write or a search does with these lives above, in
** write.c, link.c and query.c.
**
** Calls: hnsw, idmap, records, meta, codes, filter, mem (below it).
*/
#include "port.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "coll.h"
#include "fcache.h"
#include "filter.h"
#include "hash.h"

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
  const omen__code_kind *kind = omen__code_kind_of((int)cfg->quantization);
  if (!kind)
    return omen__fail(db, OMEN_INVALID, "unknown quantization %d",
                      (int)cfg->quantization);
  if (kind->max_dim && cfg->dim > kind->max_dim)
    return omen__fail(db, OMEN_INVALID, "%s takes vectors of up to %u components (got %u)",
                      kind->name, kind->max_dim, cfg->dim);
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
  omen__kernels_get(db->isa, &c->kern);
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

static void free_pool(omen_coll *c)
{
  for (omen__scratch *s = c->pool, *next; s; s = next) {
    next = s->next;
    omen__scratch_free(&c->db->mem, s);
    omen__free(&c->db->mem, s, sizeof *s);
  }
  c->pool = NULL;
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
  omen__text_free(m, c->text);
  c->text = NULL;
  if (c->lazy.done) omen__free(m, c->lazy.done, (c->n_slots + OMEN__CHUNK - 1) / OMEN__CHUNK);
  memset(&c->lazy, 0, sizeof c->lazy);
  c->lazy_on = 0;
  omen__fcache_clear(c);
  free_pool(c);
  c->n_slots = c->cap = c->n_free = c->n_deleted = 0;
}

void omen__coll_kill(omen_coll *c, int dead_rc)
{
  pthread_rwlock_wrlock(&c->rw);
  free_data(c);
  c->dead_rc = dead_rc;
  pthread_rwlock_unlock(&c->rw);
}

/* What is left of a collection without its data: locks, name, struct. */
static void free_husk(omen_coll *c)
{
  const omen__mem *m = &c->db->mem;
  pthread_rwlock_destroy(&c->rw);
  pthread_mutex_destroy(&c->pool_mu);
  pthread_mutex_destroy(&c->fcache_mu);
  pthread_mutex_destroy(&c->lazy_mu);
  omen__free(m, c->name, c->name_len + 1);
  omen__free(m, c, sizeof *c);
}

void omen__coll_free_shell(omen_coll *c)
{
  free_data(c);
  omen__codes_free(&c->codes, &c->db->mem);
  free_husk(c);
}

/* Every field of omen_int.h's "Data, under rw" but those fixed by the
** configuration moves (a field added there must be added here), and the
** pointers into the collection that its data keeps (codes, lazy checks) are
** bound to dst; the pool of scratch and the filter cache were made for the
** old data and go with it. */
void omen__coll_adopt(omen_coll *dst, omen_coll *src)
{
  pthread_rwlock_wrlock(&dst->rw);
  free_data(dst);
  omen__codes_free(&dst->codes, &dst->db->mem);
  /* cfg and what follows from it (kern, metric, stride) are the same: they
  ** stay, as calls read them before they take the lock */
  dst->n_slots = src->n_slots;
  dst->cap = src->cap;
  dst->vecs = src->vecs;
  dst->inv_norm = src->inv_norm;
  dst->codes = src->codes;
  dst->state = src->state;
  dst->free_slots = src->free_slots;
  dst->n_free = src->n_free;
  dst->n_deleted = src->n_deleted;
  dst->gone = src->gone;
  dst->graph = src->graph;
  dst->ids = src->ids;
  dst->recs = src->recs;
  dst->keys = src->keys;
  dst->text = src->text;
  dst->graph_inserts = src->graph_inserts;
  dst->version += src->version + 1; /* a version no cached bitmap was made for */
  dst->lazy = src->lazy;
  dst->lazy_on = src->lazy_on;
  /* what pointed into src points into dst now */
  if (dst->codes.kern == &src->kern) dst->codes.kern = &dst->kern;
  if (dst->lazy.mu == &src->lazy_mu) dst->lazy.mu = &dst->lazy_mu;
  if (dst->lazy.ctx == src) dst->lazy.ctx = dst;
  pthread_rwlock_unlock(&dst->rw);
  omen__fcache_clear(src); /* src's pool and cache go; the rest is dst's now */
  free_pool(src);
  free_husk(src);
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
  if (cap > OMEN__MAX_SLOTS) cap = OMEN__MAX_SLOTS;
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

int omen__coll_reserve_free(omen_coll *c, size_t n)
{
  return omen__buf_ensure(&c->db->mem, &c->free_slots, n * sizeof(uint32_t),
                          c->n_free * sizeof(uint32_t), 256);
}

uint32_t omen__coll_find(const omen_coll *c, const char *id, size_t len,
                         uint32_t hash)
{
  return omen__idmap_find(&c->ids, &c->recs, id, len, hash);
}

void omen__coll_delete_slot(omen_coll *c, uint32_t slot)
{
  uint32_t len;
  const char *id = omen__records_id(&c->recs, slot, &len);
  omen__idmap_remove(&c->ids, omen__idmap_hash(&c->ids, id, len), slot);
  omen__records_clear(&c->recs, slot);
  omen__coll_state(c)[slot] = OMEN__SLOT_DELETED;
  c->n_deleted++;
}

void omen__coll_write_vector(omen_coll *c, uint32_t slot, const float *vec)
{
  float *dst = (float *)c->vecs.p + (size_t)slot * c->stride;
  memcpy(dst, vec, c->cfg.dim * sizeof(float));
  memset(dst + c->cfg.dim, 0, (c->stride - c->cfg.dim) * sizeof(float));
  if (c->metric->normalised)
    ((float *)c->inv_norm.p)[slot] = omen__inverse_norm(vec, c->cfg.dim);
  omen__codes_put(&c->codes, slot, dst, omen__coll_mul(c, slot));
}

/* -- Codes -------------------------------------------------------------------- */

void omen__coll_codes_fill(omen_coll *c, uint32_t first, uint32_t end)
{
  const uint8_t *state = omen__coll_state(c);
  for (uint32_t s = first; s < end; s++)
    if (state[s] != OMEN__SLOT_PENDING)
      omen__codes_put(&c->codes, s, omen__coll_vector(c, s), omen__coll_mul(c, s));
}

/* Samples for a fit: the live slots, and the vectors about to be written. */
typedef struct live_list {
  const omen_coll *c;
  const uint32_t *slots;
} live_list;

static const float *live_vector(const void *ctx, size_t i, float *mul)
{
  const live_list *l = ctx;
  *mul = omen__coll_mul(l->c, l->slots[i]);
  return omen__coll_vector(l->c, l->slots[i]);
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
    if (omen__coll_state(c)[s] == OMEN__SLOT_LIVE) slots[got++] = s;
  live_list ll = {c, slots};
  new_list nl = {vecs, c->cfg.dim};
  omen__sample_src src[2] = {{got, live_vector, &ll}, {vecs ? n : 0, new_vector, &nl}};
  if (!omen__codes_fit(&c->codes, m, src, 2, (uint64_t)got + (vecs ? n : 0)))
    omen__coll_codes_fill(c, 0, c->n_slots);
  omen__free(m, slots, (live ? live : 1) * sizeof(uint32_t));
}

/* -- Scratch pool ----------------------------------------------------------- */

omen__scratch *omen__coll_scratch(omen_coll *c)
{
  pthread_mutex_lock(&c->pool_mu);
  omen__scratch *s = c->pool;
  if (s) c->pool = s->next;
  pthread_mutex_unlock(&c->pool_mu);
  return s ? s : omen__calloc(&c->db->mem, sizeof *s);
}

void omen__coll_scratch_put(omen_coll *c, omen__scratch *s)
{
  if (!s) return;
  pthread_mutex_lock(&c->pool_mu);
  s->next = c->pool;
  c->pool = s;
  pthread_mutex_unlock(&c->pool_mu);
}

int omen__coll_scratch_prepare(omen_coll *c, omen__scratch *s, uint32_t n_slots,
                               uint32_t ef)
{
  if (!s) return OMEN_NOMEM;
  return omen__scratch_prepare(&c->db->mem, s, n_slots, c->stride,
                               omen__coll_query_bytes(c), c->graph.m0, ef);
}

unsigned omen__cores(void)
{
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > OMEN__MAX_THREADS ? OMEN__MAX_THREADS : (unsigned)n;
}

/* -- Worker threads ---------------------------------------------------------- */

typedef struct crew_member {
  omen__work_fn fn;
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

void omen__coll_crew(omen_coll *c, unsigned threads, omen__scratch *first,
                     omen__work_fn fn, void *job,
                     void (*merge)(omen_coll *, omen__scratch *, omen__scratch *))
{
  crew_member crew[OMEN__MAX_THREADS];
  unsigned started = 0;
  crew[0] = (crew_member){fn, job, first, 0};
  for (unsigned t = 1; t < threads && t < OMEN__MAX_THREADS; t++) {
    omen__scratch *sc = omen__coll_scratch(c);
    if (omen__coll_scratch_prepare(c, sc, c->n_slots, c->graph.ef_construction)) {
      omen__coll_scratch_put(c, sc);
      break;
    }
    crew[t] = (crew_member){fn, job, sc, 0};
    if (pthread_create(&crew[t].thread, NULL, crew_run, &crew[t])) {
      omen__coll_scratch_put(c, sc);
      break;
    }
    started = t;
  }
  crew_run(&crew[0]);
  for (unsigned t = 1; t <= started; t++) {
    pthread_join(crew[t].thread, NULL);
    if (merge) merge(c, first, crew[t].sc);
    omen__coll_scratch_put(c, crew[t].sc);
  }
}

/* -- Lock ---------------------------------------------------------------------- */

int omen__coll_lock(omen_coll *c, int write)
{
  int rc = omen__reentered(c->db);
  if (rc) return rc;
  if (write) pthread_rwlock_wrlock(&c->rw);
  else pthread_rwlock_rdlock(&c->rw);
  if (c->dead_rc) {
    rc = c->dead_rc;
    pthread_rwlock_unlock(&c->rw);
    return omen__fail(c->db, rc, rc == OMEN_CLOSED ? "database is closed"
                                                   : "collection '%s' was dropped",
                      c->name);
  }
  if (write) c->version++;
  return OMEN_OK;
}

/* -- Input checks ----------------------------------------------------------- */

int omen__coll_no_record(omen_coll *c, const char *id, size_t len)
{
  char text[64];
  return omen__fail(c->db, OMEN_NOTFOUND, "no record with id '%s'",
                    omen__id_text(text, sizeof text, id, len));
}

const char *omen__item_prefix(char *buf, size_t cap, size_t i, size_t n,
                              const omen_str *id)
{
  if (n <= 1) return "";
  char text[64];
  snprintf(buf, cap, "record %zu (id '%s'): ", i + 1,
           omen__id_text(text, sizeof text, id->ptr, id->len));
  return buf;
}

int omen__check_id(omen_db *db, const char *id, size_t len, const char *pre)
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

/* The careful check, with double sums: what is wrong, if anything. */
static int check_slowly(const omen_coll *c, const float *v, const char *what,
                        const char *pre)
{
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

int omen__coll_check_vector(const omen_coll *c, const float *v, const char *what,
                            const char *pre)
{
  if (!v) return omen__fail(c->db, OMEN_INVALID, "%s%s is missing", pre, what);
  /* Every query pays this: eight float lanes without branches (x - x is 0
  ** for finite x only) settle the usual case; anything near a limit gets
  ** the careful check. */
  float sq[8] = {0}, ok[8] = {0};
  uint32_t i = 0, dim = c->cfg.dim;
  for (; i + 8 <= dim; i += 8)
    for (int j = 0; j < 8; j++) {
      float x = v[i + j];
      sq[j] += x * x;
      ok[j] += x - x;
    }
  float squares = 0, bad = 0;
  for (; i < dim; i++) {
    squares += v[i] * v[i];
    bad += v[i] - v[i];
  }
  for (int j = 0; j < 8; j++) {
    squares += sq[j];
    bad += ok[j];
  }
  if (bad == 0 && squares < MAX_SQUARED_LENGTH / 8 && squares > 0) return OMEN_OK;
  return check_slowly(c, v, what, pre);
}

/* -- Filters on records ------------------------------------------------------ */

static int match_slot(const void *ctx, uint32_t slot)
{
  const omen__bound_filter *b = ctx;
  uint32_t len;
  const uint8_t *meta = omen__records_meta(b->recs, slot, &len);
  return omen__filter_match(b->f, b->ids, meta, len);
}

/* Bind f to c (lock held) as a predicate; NULL f gives a NULL predicate. */
int omen__coll_bind_filter(omen_coll *c, omen__scratch *sc, const omen_filter *f,
                           omen__bound_filter *bf, omen__pred *pred,
                           const omen__pred **out)
{
  *out = NULL;
  if (!f) return OMEN_OK;
  if (omen__scratch_keyids(&c->db->mem, sc, f->n_keys)) return OMEN_NOMEM;
  omen__filter_bind(f, &c->keys, sc->keyids);
  *bf = (omen__bound_filter){f, &c->recs, sc->keyids};
  *pred = (omen__pred){match_slot, bf};
  *out = pred;
  return OMEN_OK;
}
