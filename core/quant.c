/*
** 8-bit scalar quantization: training, encoding, and the code copy of a
** collection kept in step with its float vectors (see quant.h).
**
** Codes cover the range of the data plus a margin of an eighth of it on
** each side. A write bringing a component outside that range retrains on
** all the data and encodes every slot again: O(slots x dim), rare, since
** each retrain widens the range by at least the margin.
*/
#include "port.h"

#include "quant.h"

#include <math.h>
#include <string.h>

#include "omen_int.h"

#define MARGIN 0.125f /* of the data's range, on each side */

int omen__sq8_init(const omen__mem *m, omen__sq8 *q, uint32_t dim)
{
  memset(q, 0, sizeof *q);
  q->dim = dim;
  int rc = omen__buf_reserve(m, &q->lo, 3 * (size_t)dim * sizeof(float), 0);
  if (!rc) memset(q->lo.p, 0, q->lo.size);
  return rc;
}

void omen__sq8_free(const omen__mem *m, omen__sq8 *q)
{
  omen__buf_free(m, &q->lo);
  q->scale = q->lo_sq = 0;
}

static float *lo_of(const omen__sq8 *q) { return q->lo.p; }
static float *min_of(const omen__sq8 *q) { return lo_of(q) + q->dim; }
static float *max_of(const omen__sq8 *q) { return lo_of(q) + 2 * (size_t)q->dim; }

int omen__sq8_fits(const omen__sq8 *q, const float *v, float mul)
{
  uint32_t dim = q->dim;
  if (!(q->scale > 0)) return 0;
  const float *lo = lo_of(q);
  float top = 255.0f * q->scale;
  for (uint32_t i = 0; i < dim; i++) {
    float t = v[i] * mul - lo[i];
    if (!(t >= 0 && t <= top)) return 0;
  }
  return 1;
}

void omen__sq8_range_start(omen__sq8 *q)
{
  uint32_t dim = q->dim;
  float *lo = min_of(q), *hi = max_of(q);
  for (uint32_t i = 0; i < dim; i++) {
    lo[i] = INFINITY;
    hi[i] = -INFINITY;
  }
}

void omen__sq8_range_add(omen__sq8 *q, const float *v, float mul)
{
  uint32_t dim = q->dim;
  float *lo = min_of(q), *hi = max_of(q);
  for (uint32_t i = 0; i < dim; i++) {
    float x = v[i] * mul;
    if (x < lo[i]) lo[i] = x;
    if (x > hi[i]) hi[i] = x;
  }
}

static void set_lo_sq(omen__sq8 *q)
{
  double sum = 0;
  for (uint32_t i = 0; i < q->dim; i++) sum += (double)lo_of(q)[i] * lo_of(q)[i];
  q->lo_sq = (float)sum;
}

void omen__sq8_train(omen__sq8 *q)
{
  uint32_t dim = q->dim;
  const float *mn = min_of(q), *mx = max_of(q);
  float span = 0;
  for (uint32_t i = 0; i < dim; i++)
    if (mx[i] - mn[i] > span) span = mx[i] - mn[i];
  if (!(span > 0)) span = 1.0f; /* one point, or none: any step will do */
  float margin = MARGIN * span, *lo = lo_of(q);
  for (uint32_t i = 0; i < dim; i++) lo[i] = (mn[i] <= mx[i] ? mn[i] : 0) - margin;
  q->scale = (span + 2 * margin) / 255.0f;
  set_lo_sq(q);
}

int omen__sq8_set(omen__sq8 *q, const float *lo, float scale)
{
  if (!(scale > 0) || !isfinite(scale)) return OMEN_CORRUPT;
  for (uint32_t i = 0; i < q->dim; i++)
    if (!isfinite(lo[i])) return OMEN_CORRUPT;
  memcpy(lo_of(q), lo, q->dim * sizeof(float));
  q->scale = scale;
  set_lo_sq(q);
  return OMEN_OK;
}

void omen__sq8_encode(const omen__sq8 *q, const float *v, float mul, uint8_t *out,
                      size_t cstride)
{
  uint32_t dim = q->dim;
  const float *lo = lo_of(q);
  float inv = 1.0f / q->scale;
  /* Branch-free, so the compiler can vectorize it: queries pay it. */
  for (uint32_t i = 0; i < dim; i++) {
    float t = (v[i] * mul - lo[i]) * inv;
    t = t >= 0 ? t : 0; /* also NaN */
    t = t <= 255 ? t : 255;
    out[i] = (uint8_t)(int32_t)(t + 0.5f);
  }
  memset(out + dim, 0, cstride - dim);
}

float omen__sq8_offset(const omen__sq8 *q, const uint8_t *code)
{
  const float *lo = lo_of(q);
  float part[8] = {0};
  uint32_t i = 0;
  for (; i + 8 <= q->dim; i += 8)
    for (int j = 0; j < 8; j++) part[j] += lo[i + j] * code[i + j];
  float sum = 0;
  for (; i < q->dim; i++) sum += lo[i] * code[i];
  for (int j = 0; j < 8; j++) sum += part[j];
  return sum;
}

/* -- A collection's codes --------------------------------------------------- */

static float mul_of_vec(const omen_coll *c, const float *v)
{
  return c->cfg.metric == OMEN_COSINE ? omen__inverse_norm(v, c->cfg.dim) : 1.0f;
}

static float mul_of_slot(const omen_coll *c, uint32_t slot)
{
  return c->cfg.metric == OMEN_COSINE ? ((const float *)c->inv_norm.p)[slot] : 1.0f;
}

static const float *vec_of(const omen_coll *c, uint32_t slot)
{
  return (const float *)c->vecs.p + (size_t)slot * c->stride;
}

int omen__codes_reserve(omen_coll *c, size_t cap, size_t n)
{
  if (!c->cstride) return OMEN_OK;
  const omen__mem *m = &c->db->mem;
  int rc = omen__buf_reserve(m, &c->codes, cap * c->cstride, n * c->cstride);
  if (!rc && c->cfg.metric != OMEN_L2)
    rc = omen__buf_reserve(m, &c->code_offs, cap * sizeof(float), n * sizeof(float));
  return rc;
}

void omen__codes_put(omen_coll *c, uint32_t slot)
{
  uint8_t *out = (uint8_t *)c->codes.p + (size_t)slot * c->cstride;
  omen__sq8_encode(&c->sq, vec_of(c, slot), mul_of_slot(c, slot), out, c->cstride);
  if (c->cfg.metric != OMEN_L2)
    ((float *)c->code_offs.p)[slot] = omen__sq8_offset(&c->sq, out);
}

void omen__codes_fill(omen_coll *c, uint32_t first, uint32_t end)
{
  const uint8_t *state = c->state.p;
  for (uint32_t s = first; s < end; s++)
    if (state[s] != OMEN__SLOT_PENDING) omen__codes_put(c, s);
}

void omen__codes_admit(omen_coll *c, const float *vecs, size_t n)
{
  if (!c->cstride) return;
  size_t i = 0;
  while (i < n && omen__sq8_fits(&c->sq, vecs + i * c->cfg.dim,
                                 mul_of_vec(c, vecs + i * c->cfg.dim)))
    i++;
  if (i == n) return;
  /* Deleted slots count too: walks still pass through them. */
  const uint8_t *state = c->state.p;
  omen__sq8_range_start(&c->sq);
  for (uint32_t s = 0; s < c->n_slots; s++)
    if (state[s] != OMEN__SLOT_PENDING)
      omen__sq8_range_add(&c->sq, vec_of(c, s), mul_of_slot(c, s));
  for (i = 0; i < n; i++) {
    const float *v = vecs + i * c->cfg.dim;
    omen__sq8_range_add(&c->sq, v, mul_of_vec(c, v));
  }
  omen__sq8_train(&c->sq);
  omen__codes_fill(c, 0, c->n_slots);
}
