/*
** Compaction: give a collection's deleted and free slots back. Once the
** deleted ones are consolidated out of the graph (no link leads to a free
** slot), compaction renumbers the live slots densely in their old order and
** rewrites every per-slot array, link and id-map entry under the new
** numbers. Nodes that lost too many links on the way (most of them, when
** most records went) are linked in again by the insert path, so the cost
** follows the damage. The next checkpoint then writes the smaller file.
**
** Calls: link (consolidation, relinking), coll (lock, slots, codes),
** storage (the file's bulk is checked before it is rewritten), hnsw.
*/
#include "port.h"

#include <string.h>

#include "coll.h"
#include "compact.h"
#include "link.h"
#include "storage.h"

/* The new arrays of a collection, allocated before anything changes. */
typedef struct fresh_arrays {
  omen__buf vecs, inv_norm, state, links0, level, upper_at, upper, indeg,
      locks, refs;
  uint32_t *map;     /* old slot -> new slot, or OMEN__NO_SLOT */
  uint32_t *weak;    /* new slots left with too few level-0 links */
  size_t n_weak;
  uint64_t blocks;   /* upper blocks of the kept slots */
} fresh_arrays;

static void fresh_free(const omen__mem *m, fresh_arrays *f, uint32_t old_slots)
{
  omen__buf *bufs[] = {&f->vecs, &f->inv_norm, &f->state, &f->links0, &f->level,
                       &f->upper_at, &f->upper, &f->indeg, &f->locks, &f->refs};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) omen__buf_free(m, bufs[i]);
  omen__free(m, f->map, ((size_t)old_slots + 1) * sizeof(uint32_t));
  omen__free(m, f->weak, ((size_t)old_slots + 1) * sizeof(uint32_t));
}

static int fresh_alloc(omen_coll *c, fresh_arrays *f, uint32_t live)
{
  const omen__mem *m = &c->db->mem;
  const omen__graph *g = &c->graph;
  const uint8_t *state = c->state.p, *level = g->level.p;
  memset(f, 0, sizeof *f);
  for (uint32_t s = 0; s < c->n_slots; s++)
    if (state[s] == OMEN__SLOT_LIVE) f->blocks += level[s];
  size_t n = live ? live : 1, u32 = sizeof(uint32_t);
  size_t row0 = (1 + (size_t)g->m0) * u32, block = (1 + (size_t)g->m) * u32;
  f->map = omen__malloc(m, ((size_t)c->n_slots + 1) * u32);
  f->weak = omen__malloc(m, ((size_t)c->n_slots + 1) * u32);
  int rc = f->map && f->weak ? OMEN_OK : OMEN_NOMEM;
  if (!rc && ((rc = omen__buf_reserve(m, &f->vecs, n * c->stride * sizeof(float), 0)) ||
              (c->metric->normalised &&
               (rc = omen__buf_reserve(m, &f->inv_norm, n * sizeof(float), 0))) ||
              (rc = omen__buf_reserve(m, &f->state, n, 0)) ||
              (rc = omen__buf_reserve(m, &f->links0, n * row0, 0)) ||
              (rc = omen__buf_reserve(m, &f->level, n, 0)) ||
              (rc = omen__buf_reserve(m, &f->upper_at, n * u32, 0)) ||
              (rc = omen__buf_reserve(m, &f->upper, (f->blocks ? f->blocks : 1) * block, 0)) ||
              (rc = omen__buf_reserve(m, &f->indeg, n * u32, 0)) ||
              (rc = omen__buf_reserve(m, &f->locks, n, 0)) ||
              (rc = omen__buf_reserve(m, &f->refs, n * sizeof(omen__recref), 0))))
    rc = OMEN_NOMEM;
  return rc;
}

/* Copy a list through the map, leaving out links to removed slots. */
static void copy_list(uint32_t *dst, const uint32_t *src, const uint32_t *map)
{
  uint32_t n = 0;
  for (uint32_t i = 1; i <= src[0]; i++)
    if (map[src[i]] != OMEN__NO_SLOT) dst[1 + n++] = map[src[i]];
  dst[0] = n;
}

/* Old slot -> new slot: the live ones, densely, in their order. */
static void make_map(const omen_coll *c, fresh_arrays *f)
{
  const uint8_t *state = c->state.p;
  uint32_t live = 0;
  for (uint32_t s = 0; s < c->n_slots; s++)
    f->map[s] = state[s] == OMEN__SLOT_LIVE ? live++ : OMEN__NO_SLOT;
}

static void renumber(omen_coll *c, fresh_arrays *f)
{
  omen__graph *g = &c->graph;
  const uint8_t *level = g->level.p;
  size_t row0 = 1 + (size_t)g->m0, block = 1 + (size_t)g->m;
  uint32_t next_block = 0;
  for (uint32_t s = 0; s < c->n_slots; s++) {
    uint32_t t = f->map[s];
    if (t == OMEN__NO_SLOT) continue;
    memcpy((float *)f->vecs.p + (size_t)t * c->stride,
           (const float *)c->vecs.p + (size_t)s * c->stride, c->stride * sizeof(float));
    if (f->inv_norm.p) ((float *)f->inv_norm.p)[t] = ((const float *)c->inv_norm.p)[s];
    omen__codes_move(&c->codes, s, t); /* within their array: t <= s */
    ((uint8_t *)f->state.p)[t] = OMEN__SLOT_LIVE;
    ((uint8_t *)f->locks.p)[t] = 0;
    ((omen__recref *)f->refs.p)[t] = ((const omen__recref *)c->recs.refs.p)[s];
    ((uint8_t *)f->level.p)[t] = level[s];
    uint32_t *list = (uint32_t *)f->links0.p + t * row0;
    copy_list(list, omen__links(g, s, 0), f->map);
    if (list[0] < g->m) f->weak[f->n_weak++] = t;
    ((uint32_t *)f->upper_at.p)[t] = level[s] ? next_block + 1 : 0;
    for (uint32_t l = 1; l <= level[s]; l++, next_block++)
      copy_list((uint32_t *)f->upper.p + next_block * block, omen__links(g, s, l), f->map);
  }
}

/* Install the new arrays; the old ones (heap or mapped) are released. */
static void install(omen_coll *c, fresh_arrays *f, uint32_t live)
{
  const omen__mem *m = &c->db->mem;
  omen__graph *g = &c->graph;
  omen__buf *old[] = {&c->vecs, &c->inv_norm, &c->state, &g->links0, &g->level,
                      &g->upper_at, &g->upper, &g->indeg, &g->locks, &c->recs.refs};
  omen__buf *new[] = {&f->vecs, &f->inv_norm, &f->state, &f->links0, &f->level,
                      &f->upper_at, &f->upper, &f->indeg, &f->locks, &f->refs};
  for (size_t i = 0; i < sizeof old / sizeof old[0]; i++) {
    omen__buf_free(m, old[i]);
    *old[i] = *new[i];
    memset(new[i], 0, sizeof *new[i]);
  }
  g->entry = g->entry == OMEN__NO_SLOT ? OMEN__NO_SLOT : f->map[g->entry];
  g->max_level = g->entry == OMEN__NO_SLOT ? 0 : ((uint8_t *)g->level.p)[g->entry];
  g->upper_blocks = f->blocks;
  /* Id-map entries keep their place (it depends on the hash only). */
  uint64_t *tab = c->ids.tab.p;
  for (uint64_t i = 0; c->ids.mask && i <= c->ids.mask; i++)
    if (tab[i] > 1)
      tab[i] = (tab[i] & 0xffffffff00000000ull) | (uint64_t)(f->map[(uint32_t)tab[i] - 2] + 2);
  c->n_slots = c->cap = live;
  c->n_free = 0;
  omen__graph_count_indeg(g, live);
}

/* Renumber the slots without the deleted ones; the lock is held for
** writing and the bulk checked. */
static int compact_slots(omen_coll *c, omen__scratch *sc)
{
  if (c->n_free + c->n_deleted == 0) return OMEN_OK;
  int rc = omen__link_consolidate_all(c, sc);
  if (rc) return rc;
  uint32_t live = omen__coll_live(c), old_slots = c->n_slots;
  fresh_arrays f;
  rc = fresh_alloc(c, &f, live);
  if (!rc) rc = omen__scratch_prepare(&c->db->mem, sc, c->n_slots, c->stride,
                                      omen__coll_query_bytes(c),
                                      c->graph.m0, c->graph.ef_construction);
  if (!rc) make_map(c, &f);
  /* The text index is renumbered first: it is the last step that can fail. */
  if (!rc && c->text) rc = omen__text_merge(&c->db->mem, c->text, f.map, c->n_slots, live);
  if (rc) {
    fresh_free(&c->db->mem, &f, old_slots);
    if (rc == OMEN_CORRUPT)
      return omen__fail(c->db, rc, "collection '%s': its text index is damaged", c->name);
    return omen__fail(c->db, OMEN_NOMEM, "out of memory compacting '%s'", c->name);
  }
  renumber(c, &f);
  install(c, &f, live);
  omen__coll_codes_refit(c, NULL, 0); /* fitted to what is left */
  /* Notes taken so far name old slots: the linker looks at every node for
  ** ones left without an incoming link. */
  sc->n_orphans = 0;
  sc->orphans_lost = 1;
  rc = omen__link(c, f.weak, f.n_weak, 0, sc);
  fresh_free(&c->db->mem, &f, old_slots);
  return rc;
}

int omen__compact(omen_coll *c, double min_share)
{
  int rc = omen__coll_lock(c, 1);
  if (rc) return rc == OMEN_DROPPED ? OMEN_OK : rc;
  uint32_t gone = c->n_free + c->n_deleted;
  if (gone && gone >= min_share * c->n_slots && !(rc = omen__storage_check_all(c))) {
    omen__scratch *sc = omen__coll_scratch(c);
    rc = sc ? compact_slots(c, sc) : OMEN_NOMEM;
    omen__coll_scratch_put(c, sc);
    atomic_store(&c->db->dirty, 1);
  } else if (c->text && c->text->tail_postings) {
    /* Encode what was written since the last merge, as a file holds it. */
    rc = omen__text_merge(&c->db->mem, c->text, NULL, 0, c->n_slots);
  }
  pthread_rwlock_unlock(&c->rw);
  if (rc == OMEN_CORRUPT)
    return omen__fail(c->db, rc, "collection '%s': its text index is damaged", c->name);
  return rc;
}
