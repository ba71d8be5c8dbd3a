/*
** Search plumbing shared by the graph and the exact scan: the vector space
** (where vectors live and how two are compared), candidate heaps, and the
** per-thread scratch that makes a search allocation-free once warm.
*/
#ifndef OMEN_SEARCH_H
#define OMEN_SEARCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codes.h"
#include "distance.h"
#include "mem.h"
#include "metric.h"
#include "omen.h"

/* A hint to fetch the cache line at p. GCC 12 deletes __builtin_prefetch
** calls that sit in a loop of their own (as prefetch_walk's do), so on x86
** a volatile asm states it; a prefetch never faults, whatever p is. */
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define OMEN__PREFETCH(p) __asm__ volatile("prefetcht0 %0" : : "m"(*(const char *)(p)))
#elif defined(__GNUC__) || defined(__clang__)
#define OMEN__PREFETCH(p) __builtin_prefetch(p)
#else
#define OMEN__PREFETCH(p) ((void)0)
#endif

/* Slot states. A deleted slot stays in the graph as a route (a tombstone)
** until consolidation takes it out; then it is free: no link leads to it or
** from it, and a write may reuse it. A pending slot is being filled by the
** current write: its links are not made yet, so nothing leads to it. Live,
** deleted and free slots are saved in the file; pending ones never are. */
enum {
  OMEN__SLOT_LIVE = 1,
  OMEN__SLOT_DELETED = 2,
  OMEN__SLOT_PENDING = 3,
  OMEN__SLOT_FREE = 4
};

/* -- Checks on first use -----------------------------------------------------
** The vectors and level-0 links of a collection opened from a file are its
** bulk, so opening does not read them: each run of OMEN__CHUNK slots is
** checked (checksums, link targets) the first time a search touches it. */

#define OMEN__CHUNK 1024u

typedef struct omen__lazy {
  const uint32_t *crc;    /* per chunk: CRC of its vectors, of its links */
  atomic_uchar *done;     /* per chunk: checked */
  const uint32_t *links0; /* the level-0 lists */
  uint32_t n_slots, m0;
  pthread_mutex_t *mu;    /* one check at a time */
  /* Derive what a checked chunk needs (its codes), if set. */
  void (*ready)(void *ctx, uint32_t first, uint32_t end);
  void *ctx;
} omen__lazy;

/* -- Space ----------------------------------------------------------------- */

struct omen__space {
  omen__dist_fn fn;       /* the metric's float kernel */
  omen_metric metric;
  const float *vecs;      /* stride floats per slot, 64-byte aligned */
  size_t stride;
  const float *inv_norm;  /* normalised metrics: 1 / |v| per slot */
  const omen__lazy *lazy; /* chunks still to check on first use, or NULL */
  const omen__codes *codes; /* what graph walks read (codes.h) */
  /* omen_interrupt: the database's counter (searches only; NULL elsewhere)
  ** and its value when the call began; long scans stop once it moves */
  const atomic_uint *interrupts;
  unsigned seen;
};

static inline int omen__interrupted(const omen__space *sp)
{
  return sp->interrupts &&
         atomic_load_explicit(sp->interrupts, memory_order_relaxed) != sp->seen;
}

/* Check a chunk: OMEN_OK, or OMEN_CORRUPT if it does not match its file. */
int omen__lazy_check(const omen__space *sp, uint32_t chunk);

/* Make sure the chunk of slot has been checked before it is read. */
static inline int omen__touch(const omen__space *sp, uint32_t slot)
{
  const omen__lazy *z = sp->lazy;
  if (!z || atomic_load_explicit(&z->done[slot / OMEN__CHUNK], memory_order_acquire))
    return OMEN_OK;
  return omen__lazy_check(sp, slot / OMEN__CHUNK);
}

static inline const float *omen__vec(const omen__space *s, uint32_t slot)
{
  return s->vecs + (size_t)slot * s->stride;
}

static inline float omen__inv_norm(const omen__space *s, uint32_t slot)
{
  return s->inv_norm ? s->inv_norm[slot] : 1.0f; /* set for normalised metrics */
}

/* Distance from a prepared query (see omen__prepare_query) to a slot. */
static inline float omen__dist_q(const omen__space *s, const float *q,
                                 uint32_t slot)
{
  float r = s->fn(q, omen__vec(s, slot), s->stride);
  return omen__distance(s->metric, r, omen__inv_norm(s, slot));
}

static inline float omen__dist_nodes(const omen__space *s, uint32_t a,
                                     uint32_t b)
{
  float r = s->fn(omen__vec(s, a), omen__vec(s, b), s->stride);
  return omen__distance(s->metric, r, omen__inv_norm(s, a) * omen__inv_norm(s, b));
}

/* -- Graph walks ------------------------------------------------------------
** Walks measure through the collection's code kind (codes.h); when its
** distances are not exact, the candidates they find are measured again on
** the floats at the end. */

static inline float omen__walk_dist(const omen__space *s, const omen__query *q,
                                    uint32_t slot)
{
  return s->codes->kind->dist(s, q, slot);
}

static inline void omen__walk_dists(const omen__space *s, const omen__query *q,
                                    const uint32_t *slots, size_t n, float *out)
{
  s->codes->kind->dists(s, q, slots, n, out);
}

static inline float omen__walk_dist_nodes(const omen__space *s, uint32_t a, uint32_t b)
{
  return s->codes->kind->dist_nodes(s, a, b);
}

/* Ask for bytes at p ahead of their use (a walk reads rows at random
** places): up to 16 lines, a whole row of 1-byte codes of 1024 dimensions;
** longer rows are streamed by the hardware prefetcher. */
#define OMEN__PREFETCH_LINES 16
#define OMEN__AHEAD 2 /* rows asked for before the one measured */

static inline void omen__prefetch_bytes(const void *at, size_t bytes)
{
  const char *p = at;
  size_t lines = bytes / 64 < OMEN__PREFETCH_LINES ? bytes / 64 : OMEN__PREFETCH_LINES;
  for (size_t i = 0; i < lines; i++) OMEN__PREFETCH(p + 64 * i);
}

/* -- Predicates -------------------------------------------------------------- */

/* Which slots a search may return beyond the live ones (a filter). */
typedef struct omen__pred {
  int (*match)(const void *ctx, uint32_t slot);
  const void *ctx;
} omen__pred;

/* Whether a search may return slot: live, and matching pred if given. */
static inline int omen__returnable(const uint8_t *state, const omen__pred *pred,
                                   uint32_t slot)
{
  return state[slot] == OMEN__SLOT_LIVE && (!pred || pred->match(pred->ctx, slot));
}

/* -- Candidates ------------------------------------------------------------ */

typedef struct omen__cand {
  float d;
  uint32_t slot;
} omen__cand;

/* Binary heaps over a plain array: closest on top (min) or farthest (max).
** Inline: a walk pushes and pops for every node it measures. */
#define OMEN__HEAP_FNS(name, before)                                         \
  static inline void omen__##name##_push(omen__cand *h, size_t *n, omen__cand c) \
  {                                                                          \
    size_t i = (*n)++;                                                       \
    while (i > 0) {                                                          \
      size_t parent = (i - 1) / 2;                                           \
      if (!before(c, h[parent])) break;                                      \
      h[i] = h[parent];                                                      \
      i = parent;                                                            \
    }                                                                        \
    h[i] = c;                                                                \
  }                                                                          \
  static inline omen__cand omen__##name##_pop(omen__cand *h, size_t *n)      \
  {                                                                          \
    omen__cand top = h[0], last = h[--*n];                                   \
    size_t i = 0, size = *n;                                                 \
    for (;;) {                                                               \
      size_t c = 2 * i + 1;                                                  \
      if (c >= size) break;                                                  \
      if (c + 1 < size && before(h[c + 1], h[c])) c++;                       \
      if (!before(h[c], last)) break;                                        \
      h[i] = h[c];                                                           \
      i = c;                                                                 \
    }                                                                        \
    if (size) h[i] = last;                                                   \
    return top;                                                              \
  }

#define OMEN__CLOSER(a, b) ((a).d < (b).d)
#define OMEN__FARTHER(a, b) ((a).d > (b).d)
OMEN__HEAP_FNS(minheap, OMEN__CLOSER)
OMEN__HEAP_FNS(maxheap, OMEN__FARTHER)

/* Empty a max-heap into ascending order in out; returns the count. */
static inline size_t omen__maxheap_drain(omen__cand *h, size_t *n, omen__cand *out)
{
  size_t count = *n;
  for (size_t i = count; i > 0; i--) out[i - 1] = omen__maxheap_pop(h, n);
  return count;
}

/* -- Scratch --------------------------------------------------------------- */

/* A visit stamp: 16 bits, as hnswlib's, so the stamps of a million slots
** take 2 MB and stay in cache better; they are cleared every 65,535 walks. */
typedef uint16_t omen__stamp;

typedef struct omen__scratch {
  struct omen__scratch *next; /* in the collection's pool */
  omen__stamp *visited;       /* epoch stamps per slot */
  size_t visited_cap;
  omen__stamp epoch;
  omen__cand *cand;           /* min-heap of nodes to expand */
  size_t cand_cap;
  omen__cand *top;            /* max-heap of the best found */
  size_t top_cap;
  omen__cand *spill;          /* max-heap of the next best (see hnsw.c) */
  size_t spill_cap, n_spill;
  omen__cand *sel;            /* neighbour selection work space */
  size_t sel_cap;
  uint32_t *links;            /* copy of a neighbour list */
  size_t links_cap;
  float *q;                   /* the query, padded and aligned */
  size_t q_cap;
  void *qbuf;                 /* its form for the code kind, 64-byte aligned */
  size_t qbuf_cap;
  uint32_t *keyids;           /* a bound filter's key numbers */
  size_t keyids_cap;
  uint32_t *orphans;          /* live nodes a write left without in-links */
  size_t n_orphans, orphans_cap;
  int orphans_lost;           /* a note could not be stored: check them all */
} omen__scratch;

/* Size the scratch for n_slots slots, stride-float queries (and their form
** for a code kind, query_bytes), lists of up to max_links entries and ef
** candidates. */
int omen__scratch_prepare(const omen__mem *m, omen__scratch *s, size_t n_slots,
                          size_t stride, size_t query_bytes, size_t max_links,
                          size_t ef);
void omen__scratch_free(const omen__mem *m, omen__scratch *s);

/* A new visited epoch; clears the stamps when the counter wraps. */
static inline omen__stamp omen__visit_epoch(omen__scratch *s)
{
  if (++s->epoch == 0) {
    memset(s->visited, 0, s->visited_cap * sizeof *s->visited);
    s->epoch = 1;
  }
  return s->epoch;
}

/* Grow the candidate heap when full (the only growth during a search). */
int omen__scratch_grow_cand(const omen__mem *m, omen__scratch *s);

/* Room for n key numbers in s->keyids. */
int omen__scratch_keyids(const omen__mem *m, omen__scratch *s, size_t n);

/* Note a node that may have lost its last incoming link. */
void omen__scratch_note_orphan(const omen__mem *m, omen__scratch *s,
                               uint32_t slot);

/* Copy a query into s->q, zero-padded to the stride, normalized for
** cosine. Returns the prepared query. */
const float *omen__prepare_query(omen__scratch *s, const omen__space *sp,
                                 const float *vec, size_t dim);

/* A prepared query for walks, in the code kind's form (in s->qbuf). */
omen__query omen__walk_query(omen__scratch *s, const omen__space *sp,
                             const float *prepared);

#endif
