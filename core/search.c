/*
** Search plumbing: checks on first use and per-thread scratch (the heaps
** are inline, in search.h).
**
** Calls: crc32c (first-use checks), codes, mem.
*/
#include "port.h"

#include "search.h"

#include <string.h>

#include "crc32c.h"

/* -- Checks on first use ------------------------------------------------------- */

static int check_chunk(const omen__space *sp, uint32_t chunk)
{
  const omen__lazy *z = sp->lazy;
  uint32_t first = chunk * OMEN__CHUNK, end = first + OMEN__CHUNK;
  if (end > z->n_slots) end = z->n_slots;
  size_t rows = end - first, row0 = 1 + (size_t)z->m0;
  const uint32_t *links = z->links0 + first * row0;
  if (!omen__crc_ok(z->crc[2 * chunk], omen__crc32c(0, omen__vec(sp, first),
                                                    rows * sp->stride * sizeof(float))) ||
      !omen__crc_ok(z->crc[2 * chunk + 1],
                    omen__crc32c(0, links, rows * row0 * sizeof(uint32_t))))
    return OMEN_CORRUPT;
  /* The checksum says these are the bytes written; the bounds say they are
  ** safe to follow even if a damaged file was given a fitting checksum. */
  for (size_t r = 0; r < rows; r++, links += row0) {
    if (links[0] > z->m0) return OMEN_CORRUPT;
    for (uint32_t i = 1; i <= links[0]; i++)
      if (links[i] >= z->n_slots) return OMEN_CORRUPT;
  }
  if (z->ready) z->ready(z->ctx, first, end);
  atomic_store_explicit(&z->done[chunk], 1, memory_order_release);
  return OMEN_OK;
}

int omen__lazy_check(const omen__space *sp, uint32_t chunk)
{
  const omen__lazy *z = sp->lazy;
  pthread_mutex_lock(z->mu);
  int rc = atomic_load_explicit(&z->done[chunk], memory_order_acquire)
               ? OMEN_OK : check_chunk(sp, chunk);
  pthread_mutex_unlock(z->mu);
  return rc;
}

/* -- Scratch ---------------------------------------------------------------- */

static int grow(const omen__mem *m, void **p, size_t *cap, size_t need,
                size_t elem)
{
  if (need <= *cap) return OMEN_OK;
  size_t cap2 = omen__grow_cap(*cap, need, 64);
  void *q = omen__realloc(m, *p, *cap * elem, cap2 * elem);
  if (!q) return OMEN_NOMEM;
  *p = q;
  *cap = cap2;
  return OMEN_OK;
}

int omen__scratch_prepare(const omen__mem *m, omen__scratch *s, size_t n_slots,
                          size_t stride, size_t query_bytes, size_t max_links,
                          size_t ef)
{
  size_t old_visited = s->visited_cap;
  int rc = grow(m, (void **)&s->visited, &s->visited_cap, n_slots,
                sizeof(omen__stamp));
  if (rc) return rc;
  if (s->visited_cap > old_visited) { /* new stamps must not look visited */
    memset(s->visited + old_visited, 0,
           (s->visited_cap - old_visited) * sizeof(omen__stamp));
  }
  if ((rc = grow(m, (void **)&s->cand, &s->cand_cap, 2 * ef + max_links,
                 sizeof(omen__cand))) ||
      (rc = grow(m, (void **)&s->top, &s->top_cap, ef + 1, sizeof(omen__cand))) ||
      (rc = grow(m, (void **)&s->spill, &s->spill_cap, ef + 1, sizeof(omen__cand))) ||
      (rc = grow(m, (void **)&s->sel, &s->sel_cap, 2 * (ef + max_links + 1),
                 sizeof(omen__cand))) ||
      (rc = grow(m, (void **)&s->links, &s->links_cap, 2 * (max_links + 1),
                 sizeof(uint32_t))))
    return rc;
  if (stride > s->q_cap) { /* aligned, so kernels read whole lines */
    omen__buf b = {s->q, s->q_cap * sizeof(float), 0};
    rc = omen__buf_reserve(m, &b, stride * sizeof(float), 0);
    if (rc) return rc;
    s->q = b.p;
    s->q_cap = stride;
  }
  if (query_bytes > s->qbuf_cap) {
    omen__buf b = {s->qbuf, s->qbuf_cap, 0};
    rc = omen__buf_reserve(m, &b, query_bytes, 0);
    if (rc) return rc;
    s->qbuf = b.p;
    s->qbuf_cap = query_bytes;
  }
  return OMEN_OK;
}

void omen__scratch_free(const omen__mem *m, omen__scratch *s)
{
  omen__free(m, s->visited, s->visited_cap * sizeof(omen__stamp));
  omen__free(m, s->cand, s->cand_cap * sizeof(omen__cand));
  omen__free(m, s->top, s->top_cap * sizeof(omen__cand));
  omen__free(m, s->spill, s->spill_cap * sizeof(omen__cand));
  omen__free(m, s->sel, s->sel_cap * sizeof(omen__cand));
  omen__free(m, s->links, s->links_cap * sizeof(uint32_t));
  omen__free(m, s->orphans, s->orphans_cap * sizeof(uint32_t));
  omen__free(m, s->keyids, s->keyids_cap * sizeof(uint32_t));
  omen__buf b = {s->q, s->q_cap * sizeof(float), 0};
  omen__buf_free(m, &b);
  omen__buf c = {s->qbuf, s->qbuf_cap, 0};
  omen__buf_free(m, &c);
  memset(s, 0, sizeof *s);
}

int omen__scratch_grow_cand(const omen__mem *m, omen__scratch *s)
{
  return grow(m, (void **)&s->cand, &s->cand_cap, s->cand_cap + 1,
              sizeof(omen__cand));
}

int omen__scratch_keyids(const omen__mem *m, omen__scratch *s, size_t n)
{
  return grow(m, (void **)&s->keyids, &s->keyids_cap, n ? n : 1, sizeof(uint32_t));
}

void omen__scratch_note_orphan(const omen__mem *m, omen__scratch *s,
                               uint32_t slot)
{
  if (grow(m, (void **)&s->orphans, &s->orphans_cap, s->n_orphans + 1,
           sizeof(uint32_t)))
    s->orphans_lost = 1;
  else
    s->orphans[s->n_orphans++] = slot;
}

const float *omen__prepare_query(omen__scratch *s, const omen__space *sp,
                                 const float *vec, size_t dim)
{
  float scale = sp->codes->metric->normalised ? omen__inverse_norm(vec, dim) : 1.0f;
  for (size_t i = 0; i < dim; i++) s->q[i] = vec[i] * scale;
  for (size_t i = dim; i < sp->stride; i++) s->q[i] = 0.0f;
  return s->q;
}

omen__query omen__walk_query(omen__scratch *s, const omen__space *sp,
                             const float *prepared)
{
  omen__query q = {prepared, NULL, 0.0f};
  sp->codes->kind->prepare(sp->codes, prepared, s->qbuf, &q);
  return q;
}
