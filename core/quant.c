/*
** 8-bit scalar quantization: fitting, encoding, and the code copy of a
** collection kept in step with its float vectors (see quant.h).
**
** The codes are fitted to a sample of the data: per component its range
** without the most extreme values of the sample (one in 1024 on each side),
** widened by a margin of an eighth of the widest range. Values outside are
** clamped to the end codes; the candidates a walk finds are measured again
** on the floats, so a clamped value costs some walk precision, never a
** wrong distance. One outlier therefore cannot stretch the step for
** everyone else.
**
** The fit follows the data: it is made again (and every slot encoded
** again, O(slots x dim)) when the collection has doubled since the last
** fit, up to a million records, and whenever a share of the vectors
** written since lands far outside it (beyond the range by more than its
** width): the data moved. Compaction fits afresh too.
**
** Calls: the collection's tables (omen_int.h), the allocator.
*/
#include "port.h"

#include "quant.h"

#include <math.h>
#include <string.h>

#include "omen_int.h"

#define MARGIN 0.125f          /* of the widest range, on each side */
#define TRIM 1024              /* one sample value in TRIM left out per side */
#define FIT_SAMPLE 8192        /* vectors a fit looks at, at most */
#define GROWTH_FITS (1u << 20) /* refit on doubling until this many records */
#define FAR_SHARE 64           /* refit once live / FAR_SHARE land far out */
#define FAR_LEAST 16           /* ... or at least this many */

int omen__sq8_init(const omen__mem *m, omen__sq8 *q, uint32_t dim)
{
  memset(q, 0, sizeof *q);
  q->dim = dim;
  int rc = omen__buf_reserve(m, &q->lo, (size_t)dim * sizeof(float), 0);
  if (!rc) memset(q->lo.p, 0, q->lo.size);
  return rc;
}

void omen__sq8_free(const omen__mem *m, omen__sq8 *q)
{
  omen__buf_free(m, &q->lo);
  q->scale = q->lo_sq = 0;
}

static float *lo_of(const omen__sq8 *q) { return q->lo.p; }

int omen__sq8_outside(const omen__sq8 *q, const float *v, float mul)
{
  if (!(q->scale > 0)) return OMEN__SQ8_FAR;
  const float *lo = lo_of(q);
  float top = 255.0f * q->scale;
  int out = OMEN__SQ8_INSIDE;
  for (uint32_t i = 0; i < q->dim; i++) {
    float t = v[i] * mul - lo[i];
    if (t >= 0 && t <= top) continue;
    if (!(t >= -top && t <= 2 * top)) return OMEN__SQ8_FAR; /* NaN too */
    out = OMEN__SQ8_CLAMPED;
  }
  return out;
}

static void set_lo_sq(omen__sq8 *q)
{
  double sum = 0;
  for (uint32_t i = 0; i < q->dim; i++) sum += (double)lo_of(q)[i] * lo_of(q)[i];
  q->lo_sq = (float)sum;
}

/* The k-th smallest of a[0..n) (k < n); reorders a. Quickselect with a
** three-way partition, so runs of equal values cost nothing extra. */
static float kth(float *a, size_t n, size_t k)
{
  size_t lo = 0, hi = n; /* k is in [lo, hi) */
  while (hi - lo > 1) {
    float x = a[lo + (hi - lo) / 2];
    size_t lt = lo, i = lo, gt = hi; /* [lo,lt) < x, [lt,i) == x, [gt,hi) > x */
    while (i < gt) {
      float t = a[i];
      if (t < x) {
        a[i++] = a[lt];
        a[lt++] = t;
      } else if (t > x) {
        a[i] = a[--gt];
        a[gt] = t;
      } else {
        i++;
      }
    }
    if (k < lt) hi = lt;
    else if (k >= gt) lo = gt;
    else return x;
  }
  return a[lo];
}

void omen__sq8_fit(omen__sq8 *q, const float *const *rows, const float *muls, size_t m,
                   float *work)
{
  uint32_t dim = q->dim;
  float *lo = lo_of(q), span = 0;
  size_t trim = m / TRIM;
  for (uint32_t i = 0; i < dim; i++) {
    for (size_t r = 0; r < m; r++) work[r] = rows[r][i] * muls[r];
    float a = m ? kth(work, m, trim) : 0, b = m ? kth(work, m, m - 1 - trim) : 0;
    lo[i] = a;
    if (b - a > span) span = b - a;
  }
  if (!(span > 0)) span = 1.0f; /* one point, or none: any step will do */
  float margin = MARGIN * span;
  for (uint32_t i = 0; i < dim; i++) lo[i] -= margin;
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

/* Fit the codes to a sample of the live records and the n vectors about to
** be written (spread evenly over both, in proportion), then encode every
** slot again. Without memory for the sample, the old fit stays. */
static void refit(omen_coll *c, const float *vecs, size_t n)
{
  const omen__mem *mem = &c->db->mem;
  uint32_t live = omen__coll_live(c), dim = c->cfg.dim;
  size_t total = (size_t)live + n, m = total < FIT_SAMPLE ? total : FIT_SAMPLE;
  size_t from_live = total ? (size_t)((double)m * live / (double)total) : 0;
  const float **rows = omen__malloc(mem, (m ? m : 1) * sizeof *rows);
  float *muls = omen__malloc(mem, (m ? m : 1) * sizeof(float));
  float *work = omen__malloc(mem, (m ? m : 1) * sizeof(float));
  if (rows && muls && work) {
    const uint8_t *state = c->state.p;
    size_t got = 0, seen = 0;
    for (uint32_t s = 0; s < c->n_slots && got < from_live; s++)
      if (state[s] == OMEN__SLOT_LIVE && seen++ * from_live >= got * (size_t)live) {
        rows[got] = vec_of(c, s);
        muls[got++] = mul_of_slot(c, s);
      }
    for (size_t i = 0; got < m && i < n; i++)
      if (i * (m - from_live) >= (got - from_live) * n) {
        rows[got] = vecs + i * dim;
        muls[got] = mul_of_vec(c, rows[got]);
        got++;
      }
    omen__sq8_fit(&c->sq, rows, muls, got, work);
    c->sq.fitted_at = total;
    c->sq.far = 0;
    omen__codes_fill(c, 0, c->n_slots);
  }
  omen__free(mem, rows, (m ? m : 1) * sizeof *rows);
  omen__free(mem, muls, (m ? m : 1) * sizeof(float));
  omen__free(mem, work, (m ? m : 1) * sizeof(float));
}

void omen__codes_admit(omen_coll *c, const float *vecs, size_t n)
{
  if (!c->cstride) return;
  omen__sq8 *q = &c->sq;
  for (size_t i = 0; i < n; i++) {
    const float *v = vecs + i * c->cfg.dim;
    q->far += omen__sq8_outside(q, v, mul_of_vec(c, v)) == OMEN__SQ8_FAR;
  }
  uint64_t live = (uint64_t)omen__coll_live(c) + n;
  uint64_t far_enough = live / FAR_SHARE > FAR_LEAST ? live / FAR_SHARE : FAR_LEAST;
  int grown = q->fitted_at < GROWTH_FITS && live >= 2 * q->fitted_at;
  if (!(q->scale > 0) || grown || q->far >= far_enough) refit(c, vecs, n);
}

void omen__codes_refit(omen_coll *c)
{
  if (c->cstride) refit(c, NULL, 0);
}
