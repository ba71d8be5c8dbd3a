/*
** Queries: get, list, count, describe and search a collection, one query or
** a batch on several threads. Each call of a read-only database first
** follows the writer (follow.c), then holds the collection's read lock. A search is planned here: the graph walk or an exact
** scan, by the collection's size and, with a filter, by the share of
** records it lets through or by its cached bitmap (fcache.c); a walk that
** comes up short ends in a scan. Hits are copied into results (result.c)
** before the lock is released.
**
** Calls: follow, hnsw and exact (the searches), fcache, result, coll
** (lock, scratch, checks, bound filters).
*/
#include "port.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "coll.h"
#include "exact.h"
#include "fcache.h"
#include "follow.h"
#include "fuse.h"
#include "result.h"

#define EXACT_FACTOR 8      /* scan exactly while live <= 8 * max(ef, k) */
#define SAMPLE 256          /* records a filter's share is estimated on */

/* -- Get and list --------------------------------------------------------------- */

static int damaged_chunk(omen_coll *c, uint32_t slot)
{
  uint32_t first = slot / OMEN__CHUNK * OMEN__CHUNK;
  return omen__fail(c->db, OMEN_CORRUPT,
                    "database file '%s' is damaged: checksum mismatch in "
                    "collection '%s', slots %u to %u", c->db->path, c->name,
                    first, first + OMEN__CHUNK - 1);
}

/* The message of a read that failed copying a hit. */
static int read_failed(omen_coll *c, int rc)
{
  if (rc == OMEN_NOMEM) return omen__fail(c->db, rc, "out of memory");
  if (rc == OMEN_CORRUPT)
    return omen__fail(c->db, rc, "database file '%s' is damaged: a record of "
                      "collection '%s' does not decode",
                      c->db->path ? c->db->path : ":memory:", c->name);
  return rc;
}

/* The writer's latest state (for a reader), then the read lock. */
static int read_lock(omen_coll *c)
{
  int rc = omen__follow(c->db);
  return rc ? rc : omen__coll_lock(c, 0);
}

int omen_get(omen_coll *c, const char *id, size_t id_len, omen_result *r)
{
  if (!c) return OMEN_INVALID;
  if (!r) return omen__missing(c->db, "result");
  int rc = omen__check_id(c->db, id, id_len, "");
  if (rc || (rc = read_lock(c))) return rc;
  omen__result_reset(r);
  uint32_t slot = omen__coll_find(c, id, id_len, omen__idmap_hash(&c->ids, id, id_len));
  omen__space sp = omen__coll_space(c);
  if (slot == OMEN__NO_SLOT)
    rc = omen__coll_no_record(c, id, id_len);
  else if (omen__touch(&sp, slot))
    rc = damaged_chunk(c, slot);
  else
    rc = read_failed(c, omen__result_add_hit(r, c, slot, 0.0f,
                                             OMEN_WITH_META | OMEN_WITH_VECTOR));
  pthread_rwlock_unlock(&c->rw);
  if (rc && rc != OMEN_NOTFOUND) omen__result_reset(r);
  return rc;
}

int omen_list(omen_coll *c, uint64_t *cursor, size_t max, unsigned with, omen_result *r)
{
  if (!c) return OMEN_INVALID;
  if (!cursor || !r) return omen__missing(c->db, !cursor ? "cursor" : "result");
  if (max == 0) return omen__fail(c->db, OMEN_INVALID, "list needs max >= 1");
  int rc = read_lock(c);
  if (rc) return rc;
  omen__result_reset(r);
  omen__space sp = omen__coll_space(c);
  const uint8_t *state = omen__coll_state(c);
  uint64_t slot = *cursor;
  for (size_t got = 0; slot < c->n_slots && got < max && !rc; slot++) {
    if (state[slot] != OMEN__SLOT_LIVE) continue;
    if (omen__touch(&sp, (uint32_t)slot)) rc = damaged_chunk(c, (uint32_t)slot);
    else if (!(rc = omen__result_add_hit(r, c, (uint32_t)slot, 0.0f, with))) got++;
  }
  pthread_rwlock_unlock(&c->rw);
  if (rc) {
    omen__result_reset(r);
    return read_failed(c, rc);
  }
  *cursor = slot;
  return OMEN_OK;
}

/* -- Search planning ------------------------------------------------------------- */

/* The share of live records pred lets through, estimated on up to SAMPLE
** of them spread evenly over the slots (all of them when fewer). */
static double estimate_share(const omen_coll *c, const omen__pred *pred)
{
  const uint8_t *state = omen__coll_state(c);
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
  double walking = 30.0 * width * (blocks + 100.0) / sqrt(share > 1e-9 ? share : 1e-9);
  return matches * (blocks + 30.0) <= walking;
}

/* The bitmap of the slots pred lets through (freshly allocated). */
static uint64_t *build_bits(omen_coll *c, const omen__pred *pred, size_t *words,
                            uint64_t *count)
{
  *words = (c->n_slots + 63) / 64 + 1;
  *count = 0;
  uint64_t *bits = omen__calloc(&c->db->mem, *words * sizeof(uint64_t));
  for (uint32_t s = 0; bits && s < c->n_slots; s++)
    if (omen__returnable(omen__coll_state(c), pred, s)) {
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
    rc = omen__graph_search(&c->graph, sp, omen__coll_state(c), pred, &c->db->mem, sc, q,
                            k, ef, sc->sel, n);
    if (!rc && *n < (k < live ? k : live)) /* short: maybe few match; scan */
      rc = omen__exact_search(sp, omen__coll_state(c), pred, c->n_slots, q->f, k, sc,
                              sc->sel, n);
  }
  omen__fcache_release(c, held);
  omen__free(&c->db->mem, owned, owned_words * sizeof(uint64_t));
  return rc;
}

/* The vector half: the k closest records in sc->sel[0 .. *n). */
static int vector_hits(omen_coll *c, omen__scratch *sc, const float *query,
                       const omen_search_opts *o, uint32_t k, const omen__pred *pred,
                       unsigned seen, size_t *n)
{
  uint32_t ef = o->ef ? o->ef : c->cfg.ef_search;
  uint32_t width = ef > k ? ef : k, live = omen__coll_live(c);
  omen__space sp = omen__coll_space(c);
  sp.interrupts = &c->db->interrupts;
  sp.seen = seen;
  omen__query q = omen__walk_query(sc, &sp, omen__prepare_query(sc, &sp, query,
                                                                c->cfg.dim));
  size_t want = k < live ? k : live;
  omen_search_opts ko = *o;
  ko.k = k;
  *n = 0;
  if (pred) return search_filtered(c, sc, &sp, &q, &ko, pred, n);
  int scan = o->exact || o->plan == OMEN_PLAN_SCAN ||
             (o->plan == OMEN_PLAN_AUTO && live <= (uint64_t)EXACT_FACTOR * width);
  int rc = OMEN_OK;
  if (!scan)
    rc = omen__graph_search(&c->graph, &sp, omen__coll_state(c), NULL, &c->db->mem, sc,
                            &q, k, ef, sc->sel, n);
  /* Small, asked for, or the graph came up short. */
  if (!rc && *n < want)
    rc = omen__exact_search(&sp, omen__coll_state(c), NULL, c->n_slots, q.f, k, sc,
                            sc->sel, n);
  return rc;
}

/* A record's metadata, for the text index to read a document again. */
static const uint8_t *record_meta(void *ctx, uint32_t slot, size_t *len)
{
  const omen_coll *c = ctx;
  uint32_t n;
  const uint8_t *meta = omen__records_meta(&c->recs, slot, &n);
  *len = n;
  return meta;
}

/* The text half: the k best records by BM25, in a new array (*hits). */
static int text_hits(omen_coll *c, const omen_search_opts *o, uint32_t k,
                     const omen__pred *pred, omen__text_hit **hits, size_t *n)
{
  *hits = omen__malloc(&c->db->mem, (size_t)k * sizeof **hits);
  if (!*hits) return OMEN_NOMEM;
  omen__text_query tq = {o->text, o->text_len ? o->text_len : strlen(o->text), k, pred,
                         &c->keys, record_meta, c};
  int rc = omen__text_search(&c->db->mem, c->text, &tq, *hits, n);
  if (rc == OMEN_INVALID)
    return omen__fail(c->db, rc, "collection '%s': %s", c->name, omen__text_error());
  return rc;
}

static int add_text_hits(omen_coll *c, const omen__text_hit *hits, size_t n,
                         unsigned with, omen_result *r)
{
  omen__space sp = omen__coll_space(c);
  int rc = OMEN_OK;
  for (size_t i = 0; i < n && !rc; i++) {
    if ((with & OMEN_WITH_VECTOR) && omen__touch(&sp, hits[i].slot))
      return damaged_chunk(c, hits[i].slot); /* its vector's chunk is unchecked */
    if (!(rc = omen__result_add_hit(r, c, hits[i].slot, NAN, with)))
      ((omen_hit *)omen_result_hit(r, omen_result_count(r) - 1))->score =
          (float)hits[i].score;
  }
  return rc;
}

/* Both halves, each `depth` deep, fused; records the text found alone are
** measured against the query too. */
static int fused_hits(omen_coll *c, omen__scratch *sc, const float *query,
                      const omen_search_opts *o, const omen__pred *pred, unsigned seen,
                      omen_result *r)
{
  const omen__mem *m = &c->db->mem;
  uint32_t depth = o->depth ? o->depth : 50;
  if (depth < o->k) depth = o->k; /* each half ranks at least k */
  size_t nv = 0, nt = 0, n = 0;
  omen__text_hit *th = NULL;
  omen__fused *f = NULL;
  int rc = omen__coll_scratch_prepare(c, sc, c->n_slots, depth);
  if (!rc) rc = vector_hits(c, sc, query, o, depth, pred, seen, &nv);
  if (!rc) rc = text_hits(c, o, depth, pred, &th, &nt);
  if (!rc && !(f = omen__malloc(m, (nv + nt + 1) * sizeof *f))) rc = OMEN_NOMEM;
  if (!rc) rc = omen__fuse(m, o, sc->sel, nv, th, nt, f, &n);
  omen__space sp = omen__coll_space(c);
  for (size_t i = 0; i < n && i < o->k && !rc; i++) {
    float d = f[i].distance;
    if (isnan(d) && !(rc = omen__touch(&sp, f[i].slot)))
      d = omen__dist_q(&sp, sc->q, f[i].slot);
    if (!rc && !(rc = omen__result_add_hit(r, c, f[i].slot, d, o->with)))
      ((omen_hit *)omen_result_hit(r, omen_result_count(r) - 1))->score = f[i].score;
  }
  omen__free(m, th, (size_t)depth * sizeof *th);
  omen__free(m, f, (nv + nt + 1) * sizeof *f);
  return rc;
}

static int search_locked(omen_coll *c, omen__scratch *sc, const float *query,
                         const omen_search_opts *o, omen_result *r, unsigned seen)
{
  uint32_t k = o->k, ef = o->ef ? o->ef : c->cfg.ef_search;
  uint32_t width = ef > k ? ef : k;
  omen__bound_filter bf;
  omen__pred pred_store;
  const omen__pred *pred;
  int rc = omen__coll_scratch_prepare(c, sc, c->n_slots, width);
  if (!rc) rc = omen__coll_bind_filter(c, sc, o->filter, &bf, &pred_store, &pred);
  if (rc) return rc;
  if (o->text && !c->text)
    return omen__fail(c->db, OMEN_INVALID, "collection '%s' has no text index",
                      c->name);
  if (o->text && query) return fused_hits(c, sc, query, o, pred, seen, r);
  if (o->text) {
    omen__text_hit *th;
    size_t n = 0;
    rc = text_hits(c, o, k, pred, &th, &n);
    if (!rc) rc = add_text_hits(c, th, n, o->with, r);
    omen__free(&c->db->mem, th, (size_t)k * sizeof *th);
    return rc;
  }
  size_t n = 0;
  rc = vector_hits(c, sc, query, o, k, pred, seen, &n);
  for (size_t i = 0; i < n && !rc; i++)
    rc = omen__result_add_hit(r, c, sc->sel[i].slot, sc->sel[i].d, o->with);
  return rc;
}

/* -- Count by filter ------------------------------------------------------------- */

int omen_count_where(omen_coll *c, const omen_filter *f, uint64_t *count)
{
  if (!c) return OMEN_INVALID;
  if (!count) return omen__missing(c->db, "count");
  if (!f) return omen_count(c, count);
  int rc = read_lock(c);
  if (rc) return rc;
  omen__scratch *sc = omen__coll_scratch(c);
  omen__bound_filter bf;
  omen__pred ps;
  const omen__pred *pred;
  rc = sc ? omen__coll_bind_filter(c, sc, f, &bf, &ps, &pred) : OMEN_NOMEM;
  uint64_t n = 0;
  omen__fbits *held = NULL;
  uint64_t *owned = NULL;
  size_t owned_words = 0;
  if (!rc && !filter_bits(c, f, pred, 1, &held, &owned, &owned_words, &n))
    rc = OMEN_NOMEM;
  omen__fcache_release(c, held);
  omen__free(&c->db->mem, owned, owned_words * sizeof(uint64_t));
  omen__coll_scratch_put(c, sc);
  pthread_rwlock_unlock(&c->rw);
  if (rc) return omen__fail(c->db, rc, "out of memory");
  *count = n;
  return OMEN_OK;
}

/* -- Search ---------------------------------------------------------------------- */

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
  if ((unsigned)o->fusion > OMEN_FUSION_LINEAR)
    return omen__fail(c->db, OMEN_INVALID, "unknown fusion %d", (int)o->fusion);
  if (o->text && (!(o->rrf_k >= 0 && o->rrf_k < 1e9f) || !(o->alpha >= 0 && o->alpha <= 1) ||
                  !isfinite(o->vector_weight) || !isfinite(o->text_weight)))
    return omen__fail(c->db, OMEN_INVALID, "fusion settings out of range (rrf_k >= 0, "
                      "alpha 0 to 1, finite weights)");
  if (o->depth > OMEN_MAX_K)
    return omen__fail(c->db, OMEN_INVALID, "depth must be at most %u (got %u)",
                      OMEN_MAX_K, o->depth);
  return OMEN_OK;
}

/* The count of omen_interrupt calls when a search begins. */
static unsigned interrupts_now(const omen_coll *c)
{
  return atomic_load_explicit(&c->db->interrupts, memory_order_relaxed);
}

static int search_failed(omen_coll *c, int rc)
{
  if (rc == OMEN_INVALID) return rc; /* its message is set */
  if (rc == OMEN_INTERRUPTED) return omen__fail(c->db, rc, "search interrupted");
  if (rc == OMEN_CORRUPT)
    return omen__fail(c->db, rc, "database file '%s' is damaged: collection '%s' "
                      "failed a checksum or bounds check",
                      c->db->path ? c->db->path : ":memory:", c->name);
  return omen__fail(c->db, rc, "search failed: %s", omen_strerror(rc));
}

int omen_search(omen_coll *c, const float *query, const omen_search_opts *o,
                omen_result *r)
{
  if (!c) return OMEN_INVALID;
  if (!o || !r) return omen__missing(c->db, !o ? "options" : "result");
  unsigned seen = interrupts_now(c);
  int rc = check_search_opts(c, o);
  if (rc || ((query || !o->text) && (rc = omen__coll_check_vector(c, query, "query", ""))) ||
      (rc = read_lock(c)))
    return rc;
  omen__result_reset(r);
  omen__scratch *sc = omen__coll_scratch(c);
  rc = sc ? search_locked(c, sc, query, o, r, seen) : OMEN_NOMEM;
  omen__coll_scratch_put(c, sc);
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
  omen__scratch *sc = omen__coll_scratch(s->c);
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
  omen__coll_scratch_put(s->c, sc);
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
    rc = omen__coll_check_vector(c, queries + i * c->cfg.dim, what, "");
  }
  if (rc || (rc = read_lock(c))) return rc;
  for (size_t i = 0; i < n; i++) omen__result_reset(results[i]);
  unsigned cores = omen__cores();
  if (threads == 0 || threads > cores) threads = cores;
  if (threads > n) threads = n ? (unsigned)n : 1;
  /* An application's tokenizer (a Lua function) runs on the calling thread. */
  if (o->text && c->text && c->text->custom[0]) threads = 1;
  searcher s = {c, queries, o, results, n, 0, OMEN_OK, seen};
  pthread_t pool[OMEN__MAX_THREADS];
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

/* -- Accessors ------------------------------------------------------------------ */

int omen_count(omen_coll *c, uint64_t *count)
{
  if (!c) return OMEN_INVALID;
  if (!count) return omen__missing(c->db, "count");
  int rc = read_lock(c);
  if (rc) return rc;
  *count = omen__coll_live(c);
  pthread_rwlock_unlock(&c->rw);
  return OMEN_OK;
}

int omen_coll_info_get(omen_coll *c, omen_coll_info *info)
{
  if (!c) return OMEN_INVALID;
  if (!info) return omen__missing(c->db, "info");
  int rc = read_lock(c);
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
  if (c->text) {
    memcpy(info->text_field, c->text->field, c->text->field_len);
    info->text_field[c->text->field_len] = 0;
    omen__text_sizes(c->text, &info->text_docs, &info->text_terms, &info->text_bytes,
                     &info->memory);
  }
  pthread_rwlock_unlock(&c->rw);
  return OMEN_OK;
}
