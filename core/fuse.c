/*
** Rank fusion (see fuse.h). The two lists are short (a search's depth), so
** a record found by both is matched by sorting the union by slot.
**
** Calls mem.
*/
#include "port.h"

#include <math.h>
#include <stdlib.h>

#include "fuse.h"

/* A record's place in each ranking (0: not ranked) and what each said. */
typedef struct entry {
  uint32_t slot, vrank, trank;
  float distance, text;
} entry;

static int by_slot(const void *a, const void *b)
{
  uint32_t x = ((const entry *)a)->slot, y = ((const entry *)b)->slot;
  return x < y ? -1 : x > y;
}

static int by_score(const void *a, const void *b)
{
  const omen__fused *x = a, *y = b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* Scale v from [lo, hi] to [0, 1] (1 when they are equal). */
static float scaled(float v, float lo, float hi)
{
  return hi > lo ? (v - lo) / (hi - lo) : 1.0f;
}

static float fused_score(const omen_search_opts *o, const entry *e, float dmin,
                         float dmax, float smin, float smax)
{
  if (o->fusion == OMEN_FUSION_LINEAR) { /* the closest 1 (all equal: all 1) */
    float v = e->vrank ? (dmax > dmin ? (dmax - e->distance) / (dmax - dmin) : 1.0f) : 0.0f;
    float t = e->trank ? scaled(e->text, smin, smax) : 0.0f;
    return o->alpha * v + (1.0f - o->alpha) * t;
  }
  float s = 0;
  if (e->vrank) s += o->vector_weight / (o->rrf_k + (float)e->vrank);
  if (e->trank) s += o->text_weight / (o->rrf_k + (float)e->trank);
  return s;
}

int omen__fuse(const omen__mem *m, const omen_search_opts *o, const omen__cand *vec,
               size_t nv, const omen__text_hit *text, size_t nt, omen__fused *out,
               size_t *n_out)
{
  size_t size = (nv + nt + 1) * sizeof(entry);
  entry *e = omen__malloc(m, size);
  if (!e) return OMEN_NOMEM;
  float dmin = nv ? vec[0].d : 0, dmax = nv ? vec[nv - 1].d : 0;
  float smin = nt ? (float)text[nt - 1].score : 0, smax = nt ? (float)text[0].score : 0;
  for (size_t i = 0; i < nv; i++)
    e[i] = (entry){vec[i].slot, (uint32_t)i + 1, 0, vec[i].d, 0};
  for (size_t i = 0; i < nt; i++)
    e[nv + i] = (entry){text[i].slot, 0, (uint32_t)i + 1, NAN, (float)text[i].score};
  qsort(e, nv + nt, sizeof *e, by_slot);
  size_t n = 0;
  for (size_t i = 0; i < nv + nt; i++) {
    entry x = e[i];
    if (i + 1 < nv + nt && e[i + 1].slot == x.slot) { /* ranked by both */
      entry y = e[++i];
      if (y.vrank) {
        x.vrank = y.vrank;
        x.distance = y.distance;
      } else {
        x.trank = y.trank;
        x.text = y.text;
      }
    }
    out[n].slot = x.slot;
    out[n].distance = x.vrank ? x.distance : NAN;
    out[n].score = fused_score(o, &x, dmin, dmax, smin, smax);
    n++;
  }
  omen__free(m, e, size);
  qsort(out, n, sizeof *out, by_score);
  *n_out = n;
  return OMEN_OK;
}
