/*
** Code kind "sq8": 8-bit scalar quantization, one byte per component.
**
** One step serves every component (each has its own offset), so distances
** between codes are float distances up to known terms:
**   x ~ lo + step * cx                       (per component)
**   |x - y|^2 ~ step^2 * |cx - cy|^2
**   x . y ~ |lo|^2 + step * (lo . cx + lo . cy) + step^2 * (cx . cy)
** so the walk needs integer kernels only, and for dot metrics the term
** lo . c of each row, kept beside it.
**
** Fitting: per component the range of a sample without its most extreme
** values (one in 1,024 on each side), widened by a margin of an eighth of
** the widest range; values outside are clamped to the end codes. So one
** outlier cannot stretch the step for everyone else. The offsets and the
** step are saved in the file; the codes are made again from the vectors.
**
** The codes themselves (sq8.h) serve "pca8" too.
**
** Calls: search (the space), distance, mem.
*/
#include "port.h"

#include <math.h>
#include <string.h>

#include "codes.h"
#include "search.h"
#include "sq8.h"

#define MARGIN 0.125f /* of the widest range, on each side */
#define TRIM 1024     /* one sample value in TRIM left out per side */

static omen__sq8 *params(const omen__codes *cs) { return cs->params; }

static int sq8_init(omen__codes *cs, const omen__mem *m)
{
  cs->params_size = omen__sq8_size(cs->dim);
  cs->params = omen__calloc(m, cs->params_size);
  if (!cs->params) return OMEN_NOMEM;
  cs->row = (uint32_t)omen__code_padded(cs->dim);
  cs->aux = cs->metric->dot; /* lo . c per row */
  return OMEN_OK;
}

static void sq8_free(omen__codes *cs, const omen__mem *m)
{
  omen__free(m, cs->params, cs->params_size);
  cs->params = NULL;
}

static size_t sq8_memory(const omen__codes *cs) { return cs->params_size; }

static int sq8_fitted(const omen__codes *cs) { return params(cs)->step > 0; }

int omen__sq8_place(const omen__sq8 *p, uint32_t n, const float *v, float mul)
{
  if (!(p->step > 0)) return OMEN__CODES_FAR;
  float top = 255.0f * p->step;
  int out = OMEN__CODES_INSIDE;
  for (uint32_t i = 0; i < n; i++) {
    float t = v[i] * mul - p->lo[i];
    if (t >= 0 && t <= top) continue;
    if (!(t >= -top && t <= 2 * top)) return OMEN__CODES_FAR; /* NaN too */
    out = OMEN__CODES_CLAMPED;
  }
  return out;
}

static int sq8_place(const omen__codes *cs, const float *v, float mul)
{
  return omen__sq8_place(params(cs), cs->dim, v, mul);
}

static void set_lo_sq(omen__sq8 *p, uint32_t n)
{
  double sum = 0;
  for (uint32_t i = 0; i < n; i++) sum += (double)p->lo[i] * p->lo[i];
  p->lo_sq = (float)sum;
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

void omen__sq8_fit(omen__sq8 *p, uint32_t n, const float *const *rows, const float *muls,
                   size_t m, float *work)
{
  float span = 0;
  size_t trim = m / TRIM;
  for (uint32_t i = 0; i < n; i++) {
    for (size_t r = 0; r < m; r++) work[r] = rows[r][i] * muls[r];
    float a = m ? kth(work, m, trim) : 0, b = m ? kth(work, m, m - 1 - trim) : 0;
    p->lo[i] = a;
    if (b - a > span) span = b - a;
  }
  if (!(span > 0)) span = 1.0f; /* one point, or none: any step will do */
  float margin = MARGIN * span;
  for (uint32_t i = 0; i < n; i++) p->lo[i] -= margin;
  p->step = (span + 2 * margin) / 255.0f;
  set_lo_sq(p, n);
}

static int sq8_fit(omen__codes *cs, const omen__mem *m, const float *const *rows,
                   const float *muls, size_t n, float *work)
{
  (void)m;
  omen__sq8_fit(params(cs), cs->dim, rows, muls, n, work);
  return OMEN_OK;
}

static float offset_of(const omen__sq8 *p, uint32_t n, const uint8_t *code)
{
  float part[8] = {0};
  uint32_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) part[j] += p->lo[i + j] * code[i + j];
  float sum = 0;
  for (; i < n; i++) sum += p->lo[i] * code[i];
  for (int j = 0; j < 8; j++) sum += part[j];
  return sum;
}

void omen__sq8_encode(const omen__sq8 *p, uint32_t n, uint32_t row_bytes, const float *v,
                      float mul, uint8_t *row, float *aux)
{
  float inv = 1.0f / p->step;
  /* Branch-free, so the compiler can vectorize it: queries pay it. */
  for (uint32_t i = 0; i < n; i++) {
    float t = (v[i] * mul - p->lo[i]) * inv;
    t = t >= 0 ? t : 0; /* also NaN */
    t = t <= 255 ? t : 255;
    row[i] = (uint8_t)(int32_t)(t + 0.5f);
  }
  memset(row + n, 0, row_bytes - n);
  if (aux) *aux = offset_of(p, n, row);
}

static void sq8_encode(const omen__codes *cs, const float *v, float mul, uint8_t *row,
                       float *aux)
{
  omen__sq8_encode(params(cs), cs->dim, cs->row, v, mul, row, aux);
}

static size_t sq8_query_bytes(const omen__codes *cs) { return cs->row; }

static void sq8_prepare(const omen__codes *cs, const float *q, void *buf, omen__query *out)
{
  float aux = 0;
  sq8_encode(cs, q, 1.0f, buf, cs->aux ? &aux : NULL);
  out->f = q;
  out->code = buf;
  out->aux = aux;
}

void omen__sq8_node_query(const omen__space *sp, uint32_t slot, void *buf,
                           omen__query *out)
{
  (void)buf;
  const omen__codes *cs = sp->codes;
  out->f = omen__vec(sp, slot);
  out->code = omen__codes_row(cs, slot);
  out->aux = cs->aux ? *omen__codes_aux(cs, slot) : 0;
}

/* A distance from a kernel result r and the two offset terms. */
static inline float from_codes(const omen__codes *cs, uint32_t r, float offs)
{
  const omen__sq8 *p = params(cs);
  float step2 = p->step * p->step;
  if (!cs->metric->dot) return step2 * (float)r;
  float dot = p->lo_sq + p->step * offs + step2 * (float)r;
  return omen__distance(cs->metric->id, dot, 1.0f);
}

static inline uint32_t kernel(const omen__codes *cs, const uint8_t *a, const uint8_t *b)
{
  return cs->metric->dot ? cs->kern->dot_u8(a, b, cs->row) : cs->kern->l2sq_u8(a, b, cs->row);
}

static inline float dist_q(const omen__space *sp, const omen__query *q, uint32_t slot)
{
  const omen__codes *cs = sp->codes;
  uint32_t r = kernel(cs, q->code, omen__codes_row(cs, slot));
  return from_codes(cs, r, cs->aux ? q->aux + *omen__codes_aux(cs, slot) : 0);
}

float omen__sq8_dist(const omen__space *sp, const omen__query *q, uint32_t slot)
{
  return dist_q(sp, q, slot);
}

void omen__sq8_dists(const omen__space *sp, const omen__query *q, const uint32_t *slots,
                      size_t n, float *out)
{
  const omen__codes *cs = sp->codes;
  /* Short rows are quick to measure: ask for more of them ahead, about
  ** eight lines in flight. */
  size_t lines = (cs->row + 63) / 64, ahead = lines >= 4 ? OMEN__AHEAD : 8 / lines;
  for (size_t i = 0; i < n && i < ahead; i++)
    omen__prefetch_bytes(omen__codes_row(cs, slots[i]), cs->row);
  for (size_t i = 0; i < n; i++) {
    if (i + ahead < n) omen__prefetch_bytes(omen__codes_row(cs, slots[i + ahead]), cs->row);
    out[i] = dist_q(sp, q, slots[i]);
  }
}

float omen__sq8_dist_nodes(const omen__space *sp, uint32_t a, uint32_t b)
{
  const omen__codes *cs = sp->codes;
  uint32_t r = kernel(cs, omen__codes_row(cs, a), omen__codes_row(cs, b));
  return from_codes(cs, r, cs->aux ? *omen__codes_aux(cs, a) + *omen__codes_aux(cs, b) : 0);
}

void omen__sq8_save(const omen__sq8 *p, uint32_t n, void *out)
{
  memcpy(out, p->lo, n * sizeof(float));
  memcpy((float *)out + n, &p->step, sizeof(float));
}

int omen__sq8_load(omen__sq8 *p, uint32_t n, const float *in)
{
  float step;
  memcpy(&step, in + n, sizeof step);
  if (!(step > 0) || !isfinite(step)) return OMEN_CORRUPT;
  for (uint32_t i = 0; i < n; i++)
    if (!isfinite(in[i])) return OMEN_CORRUPT;
  memcpy(p->lo, in, n * sizeof(float));
  p->step = step;
  set_lo_sq(p, n);
  return OMEN_OK;
}

static size_t sq8_saved_bytes(const omen__codes *cs)
{
  return sq8_fitted(cs) ? omen__sq8_saved_bytes(cs->dim) : 0;
}

static void sq8_save(const omen__codes *cs, void *out)
{
  omen__sq8_save(params(cs), cs->dim, out);
}

static int sq8_load(omen__codes *cs, const void *in, size_t n)
{
  if (n == 0) return OMEN_OK; /* not fitted yet */
  if (n != omen__sq8_saved_bytes(cs->dim)) return OMEN_CORRUPT;
  return omen__sq8_load(params(cs), cs->dim, in);
}

const omen__code_kind omen__kind_sq8 = {
  "sq8", OMEN_QUANT_SQ8, 0, 0,
  sq8_init, sq8_free, sq8_memory,
  sq8_fitted, sq8_place, sq8_fit, sq8_encode,
  sq8_query_bytes, sq8_prepare, omen__sq8_node_query,
  omen__sq8_dists, omen__sq8_dist, omen__sq8_dist_nodes,
  sq8_saved_bytes, sq8_save, sq8_load,
};
