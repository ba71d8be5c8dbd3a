/*
** HNSW graph: levels, neighbour lists, insertion, repair and search, after
** Malkov and Yashunin (2016), with the neighbour selection heuristic of
** their paper (and hnswlib): a candidate is kept only if it is closer to the
** base node than to every neighbour already kept.
**
** Deleted nodes stay in the graph as routes until enough have piled up;
** then consolidation takes them out all at once and rebuilds every list
** that named one (as FreshDiskANN does), after which their slots are free
** for reuse with no link left pointing at them. Removing nodes can leave
** others without an incoming link, out of reach: the graph counts, per
** node, the level-0 lists that name it, and omen__graph_repair links such
** nodes in again. Pruning can orphan a node too; that is repaired for the
** true metrics only, since under inner product many points are rightly
** nobody's neighbour and forcing them into lists costs recall.
**
** Calls: search (space, heaps, scratch), codes (distances), mem.
*/
#include "port.h"

#include "hnsw.h"

#include <math.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "hash.h"

/* -- Storage ---------------------------------------------------------------- */

void omen__graph_init(omen__graph *g, uint32_t m, uint32_t ef_construction,
                      uint64_t seed)
{
  memset(g, 0, sizeof *g);
  g->m = m;
  g->m0 = 2 * m;
  g->ef_construction = ef_construction < m ? m : ef_construction;
  g->seed = seed;
  g->entry = OMEN__NO_SLOT;
}

void omen__graph_free(const omen__mem *m, omen__graph *g)
{
  omen__buf_free(m, &g->links0);
  omen__buf_free(m, &g->level);
  omen__buf_free(m, &g->upper_at);
  omen__buf_free(m, &g->upper);
  omen__buf_free(m, &g->indeg);
  omen__buf_free(m, &g->locks);
  g->upper_blocks = 0;
  g->entry = OMEN__NO_SLOT;
  g->max_level = 0;
}

int omen__graph_reserve(const omen__mem *m, omen__graph *g, uint32_t cap,
                        uint32_t n_slots)
{
  size_t row = (1 + (size_t)g->m0) * sizeof(uint32_t), u32 = sizeof(uint32_t);
  int rc;
  if ((rc = omen__buf_reserve(m, &g->links0, cap * row, n_slots * row)) ||
      (rc = omen__buf_reserve(m, &g->level, cap, n_slots)) ||
      (rc = omen__buf_reserve(m, &g->upper_at, cap * u32, n_slots * u32)) ||
      (rc = omen__buf_reserve(m, &g->indeg, cap * u32, n_slots * u32)) ||
      (rc = omen__buf_reserve(m, &g->locks, cap, n_slots)))
    return rc;
  return OMEN_OK;
}

uint32_t omen__graph_level_of(const omen__graph *g, uint32_t slot)
{
  /* Geometric levels as in HNSW: P(level >= l) = m^-l. */
  uint64_t h = omen__mix64(slot ^ omen__mix64(g->seed));
  double u = (double)((h >> 11) + 1) * (1.0 / 9007199254740992.0); /* (0,1] */
  double level = -log(u) / log((double)g->m);
  return level >= OMEN__MAX_LEVEL ? OMEN__MAX_LEVEL : (uint32_t)level;
}

static inline atomic_uint *indeg_of(const omen__graph *g, uint32_t slot)
{
  return (atomic_uint *)g->indeg.p + slot;
}

int omen__graph_add_slot(const omen__mem *m, omen__graph *g, uint32_t slot)
{
  uint32_t level = omen__graph_level_of(g, slot), first = 0;
  if (level) {
    size_t block = (1 + (size_t)g->m) * sizeof(uint32_t);
    uint64_t need = g->upper_blocks + level;
    if (need >= UINT32_MAX) return OMEN_NOMEM;
    int rc = omen__buf_ensure(m, &g->upper, (size_t)need * block,
                              (size_t)g->upper_blocks * block, 64 * block);
    if (rc) return rc;
    first = (uint32_t)g->upper_blocks + 1;
    g->upper_blocks = need;
  }
  ((uint8_t *)g->level.p)[slot] = (uint8_t)level;
  ((uint8_t *)g->locks.p)[slot] = 0;
  ((uint32_t *)g->upper_at.p)[slot] = first;
  ((uint32_t *)g->indeg.p)[slot] = 0;
  for (uint32_t l = 0; l <= level; l++) omen__links(g, slot, l)[0] = 0;
  return OMEN_OK;
}

static inline uint32_t level_at(const omen__graph *g, uint32_t slot)
{
  return ((const uint8_t *)g->level.p)[slot];
}

void omen__graph_count_indeg(omen__graph *g, uint32_t n_slots)
{
  uint32_t *indeg = g->indeg.p;
  if (n_slots) memset(indeg, 0, n_slots * sizeof(uint32_t));
  for (uint32_t s = 0; s < n_slots; s++) {
    const uint32_t *l = omen__links(g, s, 0);
    for (uint32_t i = 1; i <= l[0]; i++) indeg[l[i]]++;
  }
}

/* -- Locks ------------------------------------------------------------------ */

static inline void lock_node(const omen__build *b, uint32_t slot)
{
  if (!b->parallel) return;
  atomic_uchar *l = (atomic_uchar *)b->g->locks.p + slot;
  while (atomic_exchange_explicit(l, 1, memory_order_acquire))
    for (int spin = 0; atomic_load_explicit(l, memory_order_relaxed); spin++)
      if (spin > 64) sched_yield();
}

static inline void unlock_node(const omen__build *b, uint32_t slot)
{
  if (b->parallel)
    atomic_store_explicit((atomic_uchar *)b->g->locks.p + slot, 0,
                          memory_order_release);
}

/* A neighbour list: read in place when alone, else copied under its lock
** (into buf) so the lock is not held while distances are computed. */
static uint32_t get_list(const omen__build *b, uint32_t slot, uint32_t level,
                         uint32_t *buf, const uint32_t **out)
{
  const uint32_t *l = omen__links(b->g, slot, level);
  if (!b->parallel) {
    *out = l + 1;
    return l[0];
  }
  lock_node(b, slot);
  uint32_t n = l[0];
  memcpy(buf, l + 1, n * sizeof(uint32_t));
  unlock_node(b, slot);
  *out = buf;
  return n;
}

/* Whether nodes that pruning leaves without in-links get relinked. */
static int repairs_pruned(const omen__build *b)
{
  return b->sp->codes->metric->relink_pruned;
}

/* Replace the list of node (held locked by the caller when parallel). At
** level 0 the in-degrees follow, new links counted before old ones are
** dropped so a node in both lists never looks orphaned; nodes left with no
** in-link are noted when `note` is set. */
static void set_list(const omen__build *b, omen__scratch *sc, uint32_t node,
                     uint32_t level, const omen__cand *c, size_t n, int note)
{
  uint32_t *l = omen__links(b->g, node, level);
  if (level == 0) {
    for (size_t i = 0; i < n; i++)
      atomic_fetch_add_explicit(indeg_of(b->g, c[i].slot), 1, memory_order_relaxed);
    for (uint32_t i = 1; i <= l[0]; i++)
      if (atomic_fetch_sub_explicit(indeg_of(b->g, l[i]), 1,
                                    memory_order_relaxed) == 1 && note)
        omen__scratch_note_orphan(b->mem, sc, l[i]);
  }
  for (size_t i = 0; i < n; i++) l[1 + i] = c[i].slot;
  l[0] = (uint32_t)n;
}

/* -- Search ----------------------------------------------------------------- */

static void sort_cands(omen__cand *c, size_t n);

/* Greedy walk on one level towards q. */
static int greedy(const omen__build *b, omen__scratch *sc, const omen__query *q,
                  uint32_t level, uint32_t *cur, float *cur_d)
{
  for (int changed = 1; changed;) {
    changed = 0;
    const uint32_t *nb;
    float d[2 * OMEN_MAX_M];
    uint32_t n = get_list(b, *cur, level, sc->links, &nb);
    for (uint32_t j = 0; j < n; j++)
      if (omen__touch(b->sp, nb[j])) return OMEN_CORRUPT;
    omen__walk_dists(b->sp, q, nb, n, d);
    for (uint32_t j = 0; j < n; j++) {
      if (d[j] < *cur_d) {
        *cur_d = d[j];
        *cur = nb[j];
        changed = 1;
      }
    }
  }
  return OMEN_OK;
}

/* From the entry point greedily down to level 1: the node where the
** level-0 walk starts, and its distance. */
static int descend(const omen__build *b, omen__scratch *sc, const omen__query *q,
                   uint32_t *cur, float *d)
{
  *cur = b->g->entry;
  if (omen__touch(b->sp, *cur)) return OMEN_CORRUPT;
  *d = omen__walk_dist(b->sp, q, *cur);
  int rc = OMEN_OK;
  for (uint32_t level = b->g->max_level; level > 0 && !rc; level--)
    rc = greedy(b, sc, q, level, cur, d);
  return rc;
}

/* Keep c among the `spill` best that the ef best pushed out (sc->spill). */
static inline void offer_spill(omen__scratch *sc, uint32_t spill, omen__cand c)
{
  if (sc->n_spill < spill) {
    omen__maxheap_push(sc->spill, &sc->n_spill, c);
  } else if (spill && c.d < sc->spill[0].d) {
    omen__maxheap_pop(sc->spill, &sc->n_spill);
    omen__maxheap_push(sc->spill, &sc->n_spill, c);
  }
}

/* Best-first search of one level from ep, keeping the ef closest accepted
** nodes in the max-heap sc->top, and the `spill` next closest in sc->spill
** (the walk is bounded by the ef; the spill only widens what is measured
** again on the floats). Accepted: not `exclude` and, when state is given,
** returnable (live and matching pred). Every node is still walked through,
** so a filter does not cut the graph apart. */
static int search_layer(const omen__build *b, omen__scratch *sc, const omen__query *q,
                        uint32_t ep, float ep_d, uint32_t ef, uint32_t spill,
                        uint32_t level, const uint8_t *state, const omen__pred *pred,
                        uint32_t exclude, size_t *n_top)
{
  const omen__space *sp = b->sp;
  omen__stamp epoch = omen__visit_epoch(sc);
  omen__stamp *visited = sc->visited;
  size_t nc = 0, nt = 0;
  sc->n_spill = 0;
#define ACCEPT(x) ((x) != exclude && (!state || omen__returnable(state, pred, x)))
  visited[ep] = epoch;
  omen__minheap_push(sc->cand, &nc, (omen__cand){ep_d, ep});
  if (ACCEPT(ep)) omen__maxheap_push(sc->top, &nt, (omen__cand){ep_d, ep});
  float bound = nt ? sc->top[0].d : INFINITY;
  while (nc) {
    if (sc->cand[0].d > bound && nt >= ef) break;
    omen__cand c = omen__minheap_pop(sc->cand, &nc);
    if (nc) { /* the next list to read: a count and up to 2m links */
      const char *next = (const char *)omen__links(b->g, sc->cand[0].slot, level);
      OMEN__PREFETCH(next);
      OMEN__PREFETCH(next + 64);
    }
    const uint32_t *nb;
    uint32_t n = get_list(b, c.slot, level, sc->links, &nb), fresh[2 * OMEN_MAX_M];
    float dist[2 * OMEN_MAX_M];
    /* The unvisited neighbours first, measured together: the code kind asks
    ** for their rows ahead of each distance. */
    uint32_t n_fresh = 0;
    for (uint32_t j = 0; j < n; j++) {
      uint32_t x = nb[j];
      if (visited[x] == epoch) continue;
      visited[x] = epoch;
      if (omen__touch(sp, x)) return OMEN_CORRUPT;
      fresh[n_fresh++] = x;
    }
    omen__walk_dists(sp, q, fresh, n_fresh, dist);
    for (uint32_t j = 0; j < n_fresh; j++) {
      uint32_t x = fresh[j];
      float d = dist[j];
      if (nt >= ef && d >= bound) {
        if (spill && ACCEPT(x)) offer_spill(sc, spill, (omen__cand){d, x});
        continue;
      }
      if (nc == sc->cand_cap && omen__scratch_grow_cand(b->mem, sc))
        return OMEN_NOMEM;
      omen__minheap_push(sc->cand, &nc, (omen__cand){d, x});
      if (ACCEPT(x)) {
        omen__maxheap_push(sc->top, &nt, (omen__cand){d, x});
        if (nt > ef) offer_spill(sc, spill, omen__maxheap_pop(sc->top, &nt));
        bound = sc->top[0].d;
      }
    }
  }
#undef ACCEPT
  *n_top = nt;
  return OMEN_OK;
}

/* The k closest of the found candidates out[0..found), ascending: with
** codes, measured again on the floats. */
static size_t finish(const omen__space *sp, const omen__query *q, omen__cand *out,
                     size_t found, uint32_t k)
{
  if (!sp->codes->kind->exact) {
    size_t row = sp->stride * sizeof(float);
    for (size_t i = 0; i < found && i < OMEN__AHEAD; i++)
      omen__prefetch_bytes(omen__vec(sp, out[i].slot), row);
    for (size_t i = 0; i < found; i++) {
      if (i + OMEN__AHEAD < found)
        omen__prefetch_bytes(omen__vec(sp, out[i + OMEN__AHEAD].slot), row);
      out[i].d = omen__dist_q(sp, q->f, out[i].slot);
    }
    sort_cands(out, found);
  }
  return found < k ? found : k;
}

/* Codes that are not exact: measure at least 2k candidates again, the ef
** best and the next best, which a walk on approximate distances misplaces
** most. */
static uint32_t spill_of(const omen__space *sp, uint32_t k, uint32_t ef)
{
  return !sp->codes->kind->exact && 2 * k > ef ? 2 * k - ef : 0;
}

/* finish() over the ef best in sc->top and the spill after them. */
static size_t finish_all(const omen__space *sp, omen__scratch *sc, const omen__query *q,
                         omen__cand *out, size_t *nt, uint32_t k)
{
  size_t found = omen__maxheap_drain(sc->top, nt, out);
  memcpy(out + found, sc->spill, sc->n_spill * sizeof *out);
  return finish(sp, q, out, found + sc->n_spill, k);
}

int omen__graph_search(const omen__graph *g, const omen__space *sp,
                       const uint8_t *state, const omen__pred *pred,
                       const omen__mem *m, omen__scratch *sc, const omen__query *q,
                       uint32_t k, uint32_t ef, omen__cand *out, size_t *n)
{
  omen__build b = {(omen__graph *)g, sp, m, state, 0, NULL};
  *n = 0;
  if (g->entry == OMEN__NO_SLOT) return OMEN_OK;
  if (ef < k) ef = k;
  uint32_t cur;
  float d;
  int rc = descend(&b, sc, q, &cur, &d);
  size_t nt;
  if (!rc)
    rc = search_layer(&b, sc, q, cur, d, ef, spill_of(sp, k, ef), 0, state, pred,
                      OMEN__NO_SLOT, &nt);
  if (rc) return rc;
  *n = finish_all(sp, sc, q, out, &nt, k);
  return OMEN_OK;
}

/* -- Search within a bitmap ------------------------------------------------- */
/* When a filter's bitmap is at hand (a test costs one bit), the walk
** computes distances for matching nodes only, as far as it can:
**  - the matching neighbours of the node being expanded are measured;
**  - if they are fewer than m, the neighbours of the non-matching ones are
**    looked at too, two hops away (as ACORN-1 does), up to m0 matches;
**  - if even that finds only a few (matches are sparse around here), the
**    non-matching neighbours are measured and queued as stepping stones,
**    as the plain filtered walk does, so the walk is not stranded.
** So the work follows the matches when they are dense enough, and falls
** back to the plain walk where they are not. */

static inline int allowed(const uint64_t *bits, uint32_t slot)
{
  return (int)(bits[slot >> 6] >> (slot & 63) & 1);
}

typedef struct walk {
  const omen__space *sp;
  omen__scratch *sc;
  const omen__query *q;
  uint32_t ef, spill;
  size_t nc, nt;
  float bound;
} walk;

/* Measure x and queue it for expansion, unless it cannot enter the ef
** best; *d is its distance, *queued whether it went in. */
static int queue(walk *w, const omen__mem *m, uint32_t x, float *d, int *queued)
{
  *queued = 0;
  if (omen__touch(w->sp, x)) return OMEN_CORRUPT;
  *d = omen__walk_dist(w->sp, w->q, x);
  if (w->nt >= w->ef && *d >= w->bound) return OMEN_OK;
  omen__scratch *sc = w->sc;
  if (w->nc == sc->cand_cap && omen__scratch_grow_cand(m, sc)) return OMEN_NOMEM;
  omen__minheap_push(sc->cand, &w->nc, (omen__cand){*d, x});
  *queued = 1;
  return OMEN_OK;
}

/* Measure a matching node and keep it if it is among the ef best (or
** the spill after them). */
static int measure(walk *w, const omen__mem *m, uint32_t x)
{
  float d;
  int queued, rc = queue(w, m, x, &d, &queued);
  omen__scratch *sc = w->sc;
  if (!rc && !queued) offer_spill(sc, w->spill, (omen__cand){d, x});
  if (rc || !queued) return rc;
  omen__maxheap_push(sc->top, &w->nt, (omen__cand){d, x});
  if (w->nt > w->ef) offer_spill(sc, w->spill, omen__maxheap_pop(sc->top, &w->nt));
  w->bound = sc->top[0].d;
  return OMEN_OK;
}

#define FEW_MATCHES 4 /* fewer after two hops: step through non-matching */

/* Queue a non-matching node as a stepping stone (never a result). */
static int step_through(walk *w, const omen__mem *m, uint32_t x)
{
  float d;
  int queued;
  return queue(w, m, x, &d, &queued);
}

/* Expand node c (see above). `around` counts the matches near c, seen
** before or not: it measures how dense they are here. */
static int expand(const omen__graph *g, walk *w, const omen__mem *m,
                  const uint64_t *bits, uint32_t c, omen__stamp epoch)
{
  omen__stamp *visited = w->sc->visited;
  uint32_t around = 0, others[2 * OMEN_MAX_M], n_others = 0;
  const uint32_t *l = omen__links(g, c, 0);
  int rc = OMEN_OK;
  for (uint32_t j = 1; j <= l[0] && !rc; j++) {
    uint32_t x = l[j];
    if (allowed(bits, x)) {
      around++;
      if (visited[x] != epoch) {
        visited[x] = epoch;
        rc = measure(w, m, x);
      }
    } else if (visited[x] != epoch) {
      visited[x] = epoch;
      others[n_others++] = x;
    }
  }
  for (uint32_t j = 0; j < n_others && around < g->m && !rc; j++) {
    if (omen__touch(w->sp, others[j])) return OMEN_CORRUPT; /* its list is read */
    const uint32_t *l2 = omen__links(g, others[j], 0);
    for (uint32_t i = 1; i <= l2[0] && around < g->m0 && !rc; i++) {
      uint32_t y = l2[i];
      if (!allowed(bits, y)) continue;
      around++;
      if (visited[y] == epoch) continue;
      visited[y] = epoch;
      rc = measure(w, m, y);
    }
  }
  for (uint32_t j = 0; j < n_others && around < FEW_MATCHES && !rc; j++)
    rc = step_through(w, m, others[j]);
  return rc;
}

int omen__graph_search_bits(const omen__graph *g, const omen__space *sp,
                            const uint64_t *bits, const omen__mem *m,
                            omen__scratch *sc, const omen__query *q, uint32_t k,
                            uint32_t ef, omen__cand *out, size_t *n)
{
  omen__build b = {(omen__graph *)g, sp, m, NULL, 0, NULL};
  *n = 0;
  if (g->entry == OMEN__NO_SLOT) return OMEN_OK;
  if (ef < k) ef = k;
  uint32_t cur;
  float d;
  int rc = descend(&b, sc, q, &cur, &d);
  if (rc) return rc;
  /* The landing node starts the walk even when it does not match. */
  walk w = {sp, sc, q, ef, spill_of(sp, k, ef), 0, 0, INFINITY};
  sc->n_spill = 0;
  omen__stamp epoch = omen__visit_epoch(sc);
  sc->visited[cur] = epoch;
  omen__minheap_push(sc->cand, &w.nc, (omen__cand){d, cur});
  if (allowed(bits, cur)) {
    omen__maxheap_push(sc->top, &w.nt, (omen__cand){d, cur});
    w.bound = d;
  }
  while (w.nc && !rc) {
    if (sc->cand[0].d > w.bound && w.nt >= ef) break;
    omen__cand c = omen__minheap_pop(sc->cand, &w.nc);
    rc = expand(g, &w, m, bits, c.slot, epoch);
  }
  if (rc) return rc;
  *n = finish_all(sp, sc, q, out, &w.nt, k);
  return OMEN_OK;
}

/* -- Neighbour selection ---------------------------------------------------- */

static void sort_cands(omen__cand *c, size_t n)
{
  for (size_t i = 1; i < n; i++) /* lists are short: insertion sort */
    for (size_t j = i; j > 0 && c[j - 1].d > c[j].d; j--) {
      omen__cand t = c[j];
      c[j] = c[j - 1];
      c[j - 1] = t;
    }
}

/* From c[0..n) sorted by distance to the base node, keep (in place) at most
** max candidates, each closer to the base than to any candidate kept before
** it. This spreads links over directions instead of one dense cluster. */
static size_t select_neighbors(const omen__space *sp, omen__cand *c, size_t n,
                               size_t max)
{
  if (n <= max) return n;
  size_t kept = 0;
  for (size_t i = 0; i < n && kept < max; i++) {
    int good = 1;
    for (size_t j = 0; j < kept && good; j++)
      good = omen__walk_dist_nodes(sp, c[j].slot, c[i].slot) >= c[i].d;
    if (good) c[kept++] = c[i];
  }
  return kept;
}

static uint32_t max_links(const omen__graph *g, uint32_t level)
{
  return level ? g->m : g->m0;
}

/* Add the link node -> s, pruning node's list by the heuristic when full. */
static void connect(const omen__build *b, omen__scratch *sc, uint32_t node,
                    uint32_t s, uint32_t level, float d)
{
  const omen__graph *g = b->g;
  uint32_t max = max_links(g, level);
  lock_node(b, node);
  uint32_t *l = omen__links(g, node, level), n = l[0];
  int present = 0;
  for (uint32_t i = 0; i < n && !present; i++) present = l[1 + i] == s;
  if (present) {
    /* already linked (a repair reconnected them) */
  } else if (n < max) {
    l[1 + n] = s;
    l[0] = n + 1;
    if (level == 0)
      atomic_fetch_add_explicit(indeg_of(g, s), 1, memory_order_relaxed);
  } else {
    omen__cand *c = sc->sel;
    c[0] = (omen__cand){d, s};
    for (uint32_t i = 0; i < n; i++)
      c[1 + i] = (omen__cand){omen__walk_dist_nodes(b->sp, node, l[1 + i]), l[1 + i]};
    sort_cands(c, n + 1);
    set_list(b, sc, node, level, c, select_neighbors(b->sp, c, n + 1, max),
             repairs_pruned(b));
  }
  unlock_node(b, node);
}

/* -- Insert ----------------------------------------------------------------- */

int omen__graph_insert(omen__build *b, omen__scratch *sc, uint32_t slot)
{
  omen__graph *g = b->g;
  const omen__space *sp = b->sp;
  uint32_t level = level_at(g, slot);
  omen__query q;
  sp->codes->kind->node_query(sp, slot, sc->qbuf, &q);

  if (b->parallel) pthread_mutex_lock(b->entry_mu);
  uint32_t cur = g->entry, top = g->max_level;
  if (cur == OMEN__NO_SLOT || cur == slot) {
    g->entry = slot;
    g->max_level = level;
    if (b->parallel) pthread_mutex_unlock(b->entry_mu);
    return OMEN_OK;
  }
  /* A node that raises the graph keeps the entry lock until it is linked,
  ** so nobody enters through it half-built. */
  int raises = level > top;
  if (b->parallel && !raises) pthread_mutex_unlock(b->entry_mu);

  float d = omen__walk_dist(sp, &q, cur);
  int rc = OMEN_OK;
  for (uint32_t l = top; l > level && !rc; l--) rc = greedy(b, sc, &q, l, &cur, &d);

  for (uint32_t l = level < top ? level : top; !rc; l--) {
    size_t nt;
    rc = search_layer(b, sc, &q, cur, d, g->ef_construction, 0, l, NULL, NULL, slot, &nt);
    if (rc) break;
    omen__cand *c = sc->sel;
    size_t found = omen__maxheap_drain(sc->top, &nt, c);
    if (found) {
      cur = c[0].slot;
      d = c[0].d;
    }
    omen__cand chosen[OMEN_MAX_M];
    size_t n = select_neighbors(sp, c, found, g->m);
    memcpy(chosen, c, n * sizeof *chosen);
    lock_node(b, slot);
    set_list(b, sc, slot, l, chosen, n, repairs_pruned(b));
    unlock_node(b, slot);
    for (size_t i = 0; i < n; i++)
      connect(b, sc, chosen[i].slot, slot, l, chosen[i].d);
    if (l == 0) break;
  }
  if (raises) {
    if (!rc) {
      g->entry = slot;
      g->max_level = level;
    }
    if (b->parallel) pthread_mutex_unlock(b->entry_mu);
  }
  /* Every link back to it may have been pruned at once. */
  if (!rc && !raises && repairs_pruned(b) &&
      atomic_load_explicit(indeg_of(g, slot), memory_order_relaxed) == 0)
    omen__scratch_note_orphan(b->mem, sc, slot);
  return rc;
}

/* -- Repair ----------------------------------------------------------------- */

/* A live node, not the entry, that no level-0 list names. */
static int orphaned(const omen__build *b, uint32_t s)
{
  return b->state[s] == OMEN__SLOT_LIVE && s != b->g->entry &&
         atomic_load_explicit(indeg_of(b->g, s), memory_order_relaxed) == 0;
}

/* Make node link to s at level 0 whatever the heuristic thinks, evicting
** the link whose target has the most other incoming links (so the eviction
** orphans nobody unless every target has only this one). */
static void force_link(const omen__build *b, omen__scratch *sc, uint32_t node,
                       uint32_t s)
{
  const omen__graph *g = b->g;
  uint32_t *l = omen__links(g, node, 0);
  omen__cand *c = sc->sel;
  size_t n = 0, evict = 0;
  uint32_t most = 0;
  for (uint32_t i = 1; i <= l[0]; i++) {
    if (l[i] == s) return;
    uint32_t deg = atomic_load_explicit(indeg_of(g, l[i]), memory_order_relaxed);
    if (deg > most) {
      most = deg;
      evict = n;
    }
    c[n++] = (omen__cand){0, l[i]};
  }
  if (n == g->m0) c[evict].slot = s;
  else c[n++] = (omen__cand){0, s};
  set_list(b, sc, node, 0, c, n, 1);
}

int omen__graph_repair(omen__build *b, omen__scratch *sc, uint32_t n_slots)
{
  if (sc->orphans_lost) { /* a note was lost: look at every node */
    /* (under inner product this also relinks nodes pruning left alone) */
    sc->orphans_lost = 0;
    for (uint32_t s = 0; s < n_slots; s++)
      if (orphaned(b, s)) omen__scratch_note_orphan(b->mem, sc, s);
  }
  /* Relinking prunes other lists and may orphan more nodes; each round
  ** gives a node incoming links, and the budget bounds pathological cases. */
  size_t budget = 4 * sc->n_orphans + 64;
  while (sc->n_orphans && budget--) {
    uint32_t s = sc->orphans[--sc->n_orphans];
    if (!orphaned(b, s)) continue;
    int rc = omen__graph_insert(b, sc, s);
    if (rc) return rc;
    const uint32_t *mine = omen__links(b->g, s, 0);
    if (orphaned(b, s) && mine[0]) force_link(b, sc, mine[1], s);
  }
  sc->n_orphans = 0;
  return OMEN_OK;
}

/* -- Consolidation ------------------------------------------------------------
** The list of a node p that names gone nodes is rebuilt from its other
** links and the links of the gone nodes it named (their neighbours were
** close to them, so likely to p), by the selection heuristic. A rebuild
** reads p's own list and gone nodes' lists and writes only p's, so threads
** rebuild disjoint ranges of nodes without locks. */

static inline int is_gone(const uint64_t *gone, uint32_t slot)
{
  return (int)(gone[slot >> 6] >> (slot & 63) & 1);
}

static int names_gone(const uint32_t *list, const uint64_t *gone)
{
  for (uint32_t i = 1; i <= list[0]; i++)
    if (is_gone(gone, list[i])) return 1;
  return 0;
}

/* Add x to the candidates of p unless seen (or gone, or p itself). */
static size_t add_candidate(const omen__build *b, omen__scratch *sc, uint32_t p,
                            uint32_t x, omen__stamp epoch, size_t n)
{
  if (sc->visited[x] == epoch || n == sc->sel_cap) return n;
  sc->visited[x] = epoch;
  sc->sel[n] = (omen__cand){omen__walk_dist_nodes(b->sp, p, x), x};
  return n + 1;
}

/* Rebuild p's list at `level` if it names a gone node; mark p (level 0). */
static void rebuild_list(const omen__build *b, omen__scratch *sc, const uint64_t *gone,
                         uint32_t p, uint32_t level)
{
  uint32_t *list = omen__links(b->g, p, level);
  if (!names_gone(list, gone)) return;
  if (level == 0) ((uint8_t *)b->g->locks.p)[p] = 1;
  omen__stamp epoch = omen__visit_epoch(sc);
  sc->visited[p] = epoch;
  size_t n = 0;
  for (uint32_t i = 1; i <= list[0]; i++)
    if (!is_gone(gone, list[i])) n = add_candidate(b, sc, p, list[i], epoch, n);
  for (uint32_t i = 1; i <= list[0]; i++) {
    if (!is_gone(gone, list[i])) continue;
    const uint32_t *theirs = omen__links(b->g, list[i], level);
    for (uint32_t j = 1; j <= theirs[0]; j++)
      if (!is_gone(gone, theirs[j])) n = add_candidate(b, sc, p, theirs[j], epoch, n);
  }
  sort_cands(sc->sel, n);
  n = select_neighbors(b->sp, sc->sel, n, max_links(b->g, level));
  for (size_t i = 0; i < n; i++) list[1 + i] = sc->sel[i].slot;
  list[0] = (uint32_t)n;
}

void omen__graph_consolidate_range(const omen__build *b, omen__scratch *sc,
                                   const uint64_t *gone, uint32_t first, uint32_t end)
{
  for (uint32_t p = first; p < end; p++) {
    if (is_gone(gone, p)) continue;
    for (uint32_t l = 0; l <= level_at(b->g, p); l++) rebuild_list(b, sc, gone, p, l);
  }
}

/* Give the rebuilt lists (marked in the lock bytes) back the links that
** point at their nodes, while they have room, as inserts append back-links:
** the heuristic alone keeps a sparse core of each list, and a graph of only
** such cores is harder to reach through than a grown one. Clears the marks. */
static void add_back_links(omen__graph *g, const uint64_t *gone, uint32_t n_slots)
{
  uint8_t *rebuilt = g->locks.p;
  for (uint32_t q = 0; q < n_slots; q++) {
    if (is_gone(gone, q)) continue;
    const uint32_t *theirs = omen__links(g, q, 0);
    for (uint32_t i = 1; i <= theirs[0]; i++) {
      uint32_t *mine = omen__links(g, theirs[i], 0);
      if (!rebuilt[theirs[i]] || mine[0] >= g->m0) continue;
      int has = 0;
      for (uint32_t j = 1; j <= mine[0] && !has; j++) has = mine[j] == q;
      if (!has) mine[1 + mine[0]++] = q;
    }
  }
  memset(rebuilt, 0, n_slots);
}

void omen__graph_consolidate_finish(omen__build *b, omen__scratch *sc,
                                    const uint64_t *gone, uint32_t n_slots)
{
  omen__graph *g = b->g;
  for (uint32_t s = 0; s < n_slots; s++)
    if (is_gone(gone, s))
      for (uint32_t l = 0; l <= level_at(g, s); l++) omen__links(g, s, l)[0] = 0;
  if (g->entry != OMEN__NO_SLOT && is_gone(gone, g->entry)) {
    g->entry = OMEN__NO_SLOT; /* the highest node left takes its place */
    for (uint32_t s = 0; s < n_slots; s++)
      if (b->state[s] == OMEN__SLOT_LIVE && !is_gone(gone, s) &&
          (g->entry == OMEN__NO_SLOT || level_at(g, s) > level_at(g, g->entry)))
        g->entry = s;
    g->max_level = g->entry == OMEN__NO_SLOT ? 0 : level_at(g, g->entry);
  }
  add_back_links(g, gone, n_slots);
  omen__graph_count_indeg(g, n_slots);
  sc->orphans_lost = 1; /* omen__graph_repair: look at every node */
}
