/*
** Linking: new slots go into a collection's graph (hnsw.c) on several
** threads, each with its own scratch; deleted slots, kept in the graph as
** routes, are consolidated out of it in bulk and their slots freed. Both
** end by relinking whatever the changes left unreachable.
**
** Calls: hnsw (the graph), coll (slots, scratch, worker threads).
*/
#include "port.h"

#include <string.h>

#include "coll.h"
#include "link.h"

#define MIN_PER_THREAD 256  /* inserts worth starting a thread for */
#define SERIAL_START 1024   /* a fresh graph gets its first nodes one by one */

/* A graph write context for this collection. */
static omen__build builder(omen_coll *c, const omen__space *sp)
{
  omen__build b = {&c->graph, sp, &c->db->mem, c->state.p, 0, NULL};
  return b;
}

/* -- Linking, on several threads --------------------------------------------- */

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
  unsigned cores = omen__cores();
  if (threads == 0 || threads > cores) threads = cores;
  size_t most = n / MIN_PER_THREAD;
  if (threads > most) threads = most ? (unsigned)most : 1;
  pthread_mutex_t entry_mu;
  if (pthread_mutex_init(&entry_mu, NULL)) return OMEN_ERROR;
  linker lk = {c, builder(c, sp), slots, n, 0, OMEN_OK};
  lk.bld.parallel = threads > 1;
  lk.bld.entry_mu = &entry_mu;
  omen__coll_crew(c, threads, first, link_work, &lk, merge_orphans);
  pthread_mutex_destroy(&entry_mu);
  return atomic_load(&lk.rc);
}

int omen__link(omen_coll *c, const uint32_t *slots, size_t n, unsigned threads,
               omen__scratch *first)
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

int omen__link_due(uint64_t deleted, uint64_t live)
{
  return deleted >= consolidation_size(live);
}

/* Room for the free list the routes join and the bitmap that names them. */
int omen__link_reserve(omen_coll *c, uint64_t deleted)
{
  size_t words = ((size_t)c->cap + 63) / 64 + 1;
  int rc = omen__coll_reserve_free(c, c->n_free + deleted);
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
  unsigned cores = omen__cores(), chunks = c->n_slots / CONSOLIDATE_CHUNK + 1;
  if (threads == 0 || threads > cores) threads = cores;
  if (threads > chunks) threads = chunks;
  omen__coll_crew(c, threads, sc, consolidate_work, &job, NULL);
}

/* Take every tombstone out of the graph and free its slot, on up to
** `threads` threads (sc is the caller's, prepared); cannot fail once
** omen__link_reserve succeeded. Many tombstones go in waves of a share
** of the graph each: a rebuilt list draws on the neighbours of the nodes
** leaving, and nodes that leave later (routes still) hand on the long links
** they drew in, which one sweeping pass would lose with them (deleting the
** oldest half of a graph at once leaves its rest in islands). Nodes left
** unreachable are linked again by the next omen__graph_repair. */
static void consolidate(omen_coll *c, omen__scratch *sc, unsigned threads)
{
  uint64_t *gone = c->gone.p;
  uint8_t *state = omen__coll_state(c);
  size_t words = ((size_t)c->n_slots + 63) / 64 + 1;
  uint32_t per_wave = (uint32_t)consolidation_size(c->n_slots - c->n_free);
  uint32_t waves = (c->n_deleted + per_wave - 1) / per_wave;
  omen__space sp = omen__coll_space(c);
  omen__build bld = builder(c, &sp);
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

void omen__link_consolidate(omen_coll *c, omen__scratch *sc, unsigned threads)
{
  consolidate(c, sc, threads);
  omen__space sp = omen__coll_space(c);
  omen__build bld = builder(c, &sp);
  omen__graph_repair(&bld, sc, c->n_slots); /* no allocation: it only relinks */
}

int omen__link_consolidate_all(omen_coll *c, omen__scratch *sc)
{
  if (!c->n_deleted) return OMEN_OK;
  int rc = omen__link_reserve(c, c->n_deleted);
  if (!rc) rc = omen__coll_scratch_prepare(c, sc, c->n_slots, c->graph.ef_construction);
  if (rc) return omen__fail(c->db, OMEN_NOMEM, "out of memory");
  omen__link_consolidate(c, sc, 0);
  return OMEN_OK;
}

int omen__link_reserve_deletions(omen_coll *c, omen__scratch *sc, uint64_t n,
                                 int *due)
{
  uint64_t deleted = (uint64_t)c->n_deleted + n;
  *due = omen__link_due(deleted, omen__coll_live(c) - n);
  if (!*due) return OMEN_OK;
  int rc = omen__link_reserve(c, deleted);
  if (!rc) rc = omen__coll_scratch_prepare(c, sc, c->n_slots, c->graph.ef_construction);
  return rc;
}
