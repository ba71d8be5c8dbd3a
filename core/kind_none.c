/*
** Code kind "none": the walk reads the float vectors themselves, so its
** distances are exact and nothing is kept beside the vectors.
**
** Calls: search (the space), distance.
*/
#include "port.h"

#include <string.h>

#include "codes.h"
#include "search.h"

static int none_init(omen__codes *cs, const omen__mem *m)
{
  (void)m;
  cs->row = 0;
  cs->aux = 0;
  return OMEN_OK;
}

static void none_free(omen__codes *cs, const omen__mem *m)
{
  (void)cs;
  (void)m;
}

static size_t none_memory(const omen__codes *cs)
{
  (void)cs;
  return 0;
}

static int none_fitted(const omen__codes *cs)
{
  (void)cs;
  return 1;
}

static int none_place(const omen__codes *cs, const float *v, float mul)
{
  (void)cs, (void)v, (void)mul;
  return OMEN__CODES_INSIDE;
}

static int none_fit(omen__codes *cs, const omen__mem *m, const float *const *rows,
                    const float *muls, size_t n, float *work)
{
  (void)cs, (void)m, (void)rows, (void)muls, (void)n, (void)work;
  return OMEN_OK;
}

static void none_encode(const omen__codes *cs, const float *v, float mul, uint8_t *row,
                        float *aux)
{
  (void)cs, (void)v, (void)mul, (void)row, (void)aux;
}

/* A node as the query: its vector, normalised into buf when the metric
** wants unit length. */
static size_t none_query_bytes(const omen__codes *cs)
{
  return cs->stride * sizeof(float);
}

static void none_prepare(const omen__codes *cs, const float *q, void *buf, omen__query *out)
{
  (void)cs, (void)buf;
  out->f = q;
  out->code = q;
}

static void none_node_query(const omen__space *sp, uint32_t slot, void *buf,
                            omen__query *out)
{
  const float *v = omen__vec(sp, slot);
  if (sp->codes->metric->normalised) {
    float *n = buf, mul = sp->inv_norm[slot];
    for (size_t i = 0; i < sp->stride; i++) n[i] = v[i] * mul;
    v = n;
  }
  out->f = v;
  out->code = v;
  out->aux = 0;
}

static void none_dists(const omen__space *sp, const omen__query *q, const uint32_t *slots,
                       size_t n, float *out)
{
  size_t row = sp->stride * sizeof(float);
  for (size_t i = 0; i < n && i < OMEN__AHEAD; i++)
    omen__prefetch_bytes(omen__vec(sp, slots[i]), row);
  for (size_t i = 0; i < n; i++) {
    if (i + OMEN__AHEAD < n) omen__prefetch_bytes(omen__vec(sp, slots[i + OMEN__AHEAD]), row);
    out[i] = omen__dist_q(sp, q->f, slots[i]);
  }
}

static float none_dist(const omen__space *sp, const omen__query *q, uint32_t slot)
{
  return omen__dist_q(sp, q->f, slot);
}

static float none_dist_nodes(const omen__space *sp, uint32_t a, uint32_t b)
{
  return omen__dist_nodes(sp, a, b);
}

static size_t none_saved_bytes(const omen__codes *cs)
{
  (void)cs;
  return 0;
}

static void none_save(const omen__codes *cs, void *out)
{
  (void)cs, (void)out;
}

static int none_load(omen__codes *cs, const void *in, size_t n)
{
  (void)cs, (void)in;
  return n == 0 ? OMEN_OK : OMEN_CORRUPT;
}

const omen__code_kind omen__kind_none = {
  "none", OMEN_QUANT_NONE, 1, 0,
  none_init, none_free, none_memory,
  none_fitted, none_place, none_fit, none_encode,
  none_query_bytes, none_prepare, none_node_query,
  none_dists, none_dist, none_dist_nodes,
  none_saved_bytes, none_save, none_load,
};
