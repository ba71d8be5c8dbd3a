/*
** HNSW graph: a hierarchy of proximity graphs over the slots of a
** collection. All links live in flat arrays indexed by slot, with no
** pointers inside: level 0 has (1 + m0) uint32 per slot (count, then
** neighbours); a slot on levels 1..L owns L consecutive blocks of (1 + m)
** uint32 in the `upper` pool. A slot's level is a hash of the slot number,
** so a reused slot keeps its level and its blocks.
**
** Writers either run alone (queries excluded by the collection lock) or as
** the threads of one batch insert, which lock each neighbour list with a
** one-byte spinlock and the entry point with a mutex.
*/
#ifndef OMEN_HNSW_H
#define OMEN_HNSW_H

#include <pthread.h>
#include <stdint.h>

#include "mem.h"
#include "search.h"

#define OMEN__MAX_LEVEL 15
#define OMEN__NO_SLOT UINT32_MAX

typedef struct omen__graph {
  uint32_t m, m0, ef_construction;
  uint64_t seed;          /* for the levels */
  omen__buf links0;       /* (1 + m0) uint32 per slot */
  omen__buf level;        /* uint8 per slot */
  omen__buf upper_at;     /* uint32 per slot: 1 + its first block, 0 = none */
  omen__buf upper;        /* blocks of (1 + m) uint32 */
  uint64_t upper_blocks;  /* blocks handed out */
  omen__buf indeg;        /* uint32 per slot: level-0 lists that name it */
  omen__buf locks;        /* one byte per slot, for parallel inserts */
  uint32_t entry;         /* OMEN__NO_SLOT while empty */
  uint32_t max_level;
} omen__graph;

/* Shared context of one write to the graph. */
typedef struct omen__build {
  omen__graph *g;
  const omen__space *sp;
  const omen__mem *mem;
  const uint8_t *state;      /* slot states (OMEN__SLOT_*) */
  int parallel;              /* several threads insert at once */
  pthread_mutex_t *entry_mu; /* guards entry and max_level when parallel */
} omen__build;

void omen__graph_init(omen__graph *g, uint32_t m, uint32_t ef_construction,
                      uint64_t seed);
void omen__graph_free(const omen__mem *m, omen__graph *g);

/* Make room for cap slots (the first n_slots are kept). */
int omen__graph_reserve(const omen__mem *m, omen__graph *g, uint32_t cap,
                        uint32_t n_slots);

uint32_t omen__graph_level_of(const omen__graph *g, uint32_t slot);

/* Give a brand-new slot its level and blocks, with empty lists. */
int omen__graph_add_slot(const omen__mem *m, omen__graph *g, uint32_t slot);

/* Take the nodes set in `gone` (a bitmap over the slots) out of the graph
** for good. First every list of the nodes in [first, end) that names a gone
** node is rebuilt without it (threads may take disjoint ranges at once;
** sc->sel bounds the candidates of one list); then, alone, _finish empties
** the gone nodes' lists, moves the entry point off them, recounts the
** in-degrees and asks omen__graph_repair to look for nodes left out. */
void omen__graph_consolidate_range(const omen__build *b, omen__scratch *sc,
                                   const uint64_t *gone, uint32_t first, uint32_t end);
void omen__graph_consolidate_finish(omen__build *b, omen__scratch *sc,
                                    const uint64_t *gone, uint32_t n_slots);

/* Link a slot whose vector is in place into the graph (or link it again:
** its lists are replaced). */
int omen__graph_insert(omen__build *b, omen__scratch *sc, uint32_t slot);

/* Relink the live nodes that writes noted in sc->orphans as left without
** any incoming level-0 link, so that live nodes stay reachable. Runs alone. */
int omen__graph_repair(omen__build *b, omen__scratch *sc, uint32_t n_slots);

/* Recount in-degrees from the lists (after loading them). */
void omen__graph_count_indeg(omen__graph *g, uint32_t n_slots);

/* The k returnable slots (live, matching pred if given) closest to a
** query (fewer if the graph leads to fewer), ascending by exact distance,
** into out, which needs room for max(ef, 2k) entries and must not be
** sc->top. The scratch must be prepared for max(ef, k). */
int omen__graph_search(const omen__graph *g, const omen__space *sp,
                       const uint8_t *state, const omen__pred *pred,
                       const omen__mem *m, omen__scratch *sc, const omen__query *q,
                       uint32_t k, uint32_t ef, omen__cand *out, size_t *n);

/* The same, among the slots set in bits (a filter's bitmap of matching
** live slots): distances are computed for matching nodes only. */
int omen__graph_search_bits(const omen__graph *g, const omen__space *sp,
                            const uint64_t *bits, const omen__mem *m,
                            omen__scratch *sc, const omen__query *q, uint32_t k,
                            uint32_t ef, omen__cand *out, size_t *n);

static inline uint32_t *omen__links(const omen__graph *g, uint32_t slot,
                                    uint32_t level)
{
  if (level == 0) return (uint32_t *)g->links0.p + (size_t)slot * (1 + g->m0);
  uint32_t block = ((const uint32_t *)g->upper_at.p)[slot] + level - 2;
  return (uint32_t *)g->upper.p + (size_t)block * (1 + g->m);
}

#endif
