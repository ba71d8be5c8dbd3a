/*
** Code kind "pca8": 8-bit codes (sq8.h) of each vector's projection on the
** r directions along which the data varies most, r about a quarter of the
** components (a multiple of 64, at least 64). A walk then reads r bytes a
** node instead of dim (as LeanVec does), and measures distances between
** projections: they leave out the variance outside those directions, so
** the candidates a walk finds are measured again on the floats.
**
** The directions are those of the covariance for l2 (differences do not
** see the mean) and of the uncentred second moment for the dot metrics (so
** dot products of projections approach those of the vectors). Any
** orthonormal basis of that subspace gives the same distances, so a fit
** needs the subspace only, not eigenvectors: the covariance of up to 4,096
** sample vectors, then subspace iteration (sample vectors multiplied by
** the matrix a few times, orthonormalised each time), then the sq8 fit on
** the projected sample. The basis and the sq8 parameters are saved in the
** file; the codes are made again from the vectors.
**
** Calls: search (the space), distance (the float kernels), sq8 (the codes),
** mem.
*/
#include "port.h"

#include <math.h>
#include <string.h>

#include "codes.h"
#include "hash.h"
#include "search.h"
#include "sq8.h"

#define PCA_MAX_DIM 4096   /* components taken: the basis is r x dim floats */
#define PCA_COV_ROWS 4096  /* sample vectors in the covariance */
#define PCA_ROUNDS 4       /* of subspace iteration, from sample vectors */
#define PCA_MAX_ROW 1024   /* projected components at PCA_MAX_DIM (a quarter) */

/* Projected components for dim: a quarter, to the nearest multiple of 64
** (a cache line of codes), at least 64, at most dim. */
static uint32_t pca_comps_of(uint32_t dim)
{
  uint32_t r = (dim / 4 + 32) / 64 * 64;
  if (r < 64) r = 64;
  return r < dim ? r : dim;
}

/* The parameters: the sq8 part first (sq8.h), then the basis at a 64-byte
** offset, transposed: dim rows of cs->row halves (r directions, then
** zeros), so projecting is a vector times a matrix (the matvec kernel). In
** half precision: every query reads the whole basis, and halves read half
** the bytes; their error (1 in 2,000) is far below a code's step. */
static size_t pca_basis_at(uint32_t r)
{
  return (omen__sq8_size(r) + 63) / 64 * 64;
}

static omen__sq8 *pca_params(const omen__codes *cs) { return cs->params; }

static uint32_t pca_comps(const omen__codes *cs)
{
  return pca_comps_of(cs->dim);
}

static uint16_t *pca_basis(const omen__codes *cs)
{
  return (uint16_t *)((char *)cs->params + pca_basis_at(pca_comps(cs)));
}

static int pca8_init(omen__codes *cs, const omen__mem *m)
{
  uint32_t r = pca_comps(cs);
  cs->row = (uint32_t)omen__code_padded(r);
  if (cs->row > PCA_MAX_ROW) return OMEN_INVALID; /* projections live on the stack */
  cs->params_size = pca_basis_at(r) + (size_t)cs->dim * cs->row * sizeof(uint16_t);
  cs->params = omen__calloc(m, cs->params_size);
  if (!cs->params) return OMEN_NOMEM;
  cs->aux = cs->metric->dot; /* lo . c per row */
  return OMEN_OK;
}

static void pca8_free(omen__codes *cs, const omen__mem *m)
{
  omen__free(m, cs->params, cs->params_size);
  cs->params = NULL;
}

static size_t pca8_memory(const omen__codes *cs) { return cs->params_size; }

static int pca8_fitted(const omen__codes *cs) { return pca_params(cs)->step > 0; }

/* z[0..cs->row) = the projection of v[0..dim) * mul, by the transposed
** basis bt. */
static void pca_project(const omen__codes *cs, const uint16_t *bt, const float *v, float mul,
                    float *z)
{
  cs->kern->matvec(bt, v, cs->dim, cs->row, z);
  if (mul != 1.0f)
    for (uint32_t j = 0; j < cs->row; j++) z[j] *= mul;
}

static int pca8_place(const omen__codes *cs, const float *v, float mul)
{
  if (!pca8_fitted(cs)) return OMEN__CODES_FAR;
  float z[PCA_MAX_ROW];
  pca_project(cs, pca_basis(cs), v, mul, z);
  return omen__sq8_place(pca_params(cs), pca_comps(cs), z, 1.0f);
}

static void pca8_encode(const omen__codes *cs, const float *v, float mul, uint8_t *row,
                        float *aux)
{
  float z[PCA_MAX_ROW];
  pca_project(cs, pca_basis(cs), v, mul, z);
  omen__sq8_encode(pca_params(cs), pca_comps(cs), cs->row, z, 1.0f, row, aux);
}

static size_t pca8_query_bytes(const omen__codes *cs) { return cs->row; }

static void pca8_prepare(const omen__codes *cs, const float *q, void *buf, omen__query *out)
{
  float z[PCA_MAX_ROW], aux = 0;
  pca_project(cs, pca_basis(cs), q, 1.0f, z);
  omen__sq8_encode(pca_params(cs), pca_comps(cs), cs->row, z, 1.0f, buf, cs->aux ? &aux : NULL);
  out->f = q;
  out->code = buf;
  out->aux = aux;
}

/* -- Fitting ------------------------------------------------------------------ */

/* v[0..s) -= c * w[0..s), s a multiple of 16: in blocks the compiler can
** vectorize. */
static void pca_axpy(float *v, float c, const float *w, size_t s)
{
  for (size_t i = 0; i < s; i += 16)
    for (size_t l = 0; l < 16; l++) v[i + l] -= c * w[i + l];
}

/* Make the r rows of stride floats in v orthonormal (Gram-Schmidt, twice,
** which is enough in floats); a row that falls to nothing (the data has
** fewer directions than r) is replaced by a random one and done again. */
static void pca_orthonormalize(const omen__codes *cs, float *v, uint32_t r, uint64_t *seed)
{
  size_t s = cs->stride;
  for (uint32_t j = 0; j < r; j++) {
    float *vj = v + j * s;
    for (int tries = 0;; tries++) {
      for (int pass = 0; pass < 2; pass++)
        for (uint32_t k = 0; k < j; k++)
          pca_axpy(vj, cs->kern->dot(vj, v + k * s, s), v + k * s, s);
      float norm = sqrtf(cs->kern->dot(vj, vj, s));
      if (norm > 1e-6f || tries == 8) {
        float inv = norm > 0 ? 1.0f / norm : 0.0f;
        for (size_t i = 0; i < cs->dim; i++) vj[i] *= inv;
        break;
      }
      for (size_t i = 0; i < cs->dim; i++) {
        *seed = omen__mix64(*seed + 0x9e3779b97f4a7c15ull);
        vj[i] = (float)((double)(*seed >> 11) * (1.0 / 9007199254740992.0) - 0.5);
      }
    }
  }
}

/* The work of a fit, allocated together. */
typedef struct fit_work {
  float *xt;       /* the covariance sample by component: dim rows of mp */
  float *cov;      /* dim rows of stride (when the sample has more than r) */
  float *b, *next; /* r rows of stride: the basis, and the matrix times it */
  uint16_t *bt;    /* the basis transposed, as in the parameters */
  float *z;        /* the projected sample: n rows of cs->row */
  const float **zrows;
  float *ones;
  omen__sq8 *sq;   /* the new sq8 parameters */
  size_t mp, bytes[9];
  void *p[9];
} fit_work;

static void pca_work_free(const omen__mem *m, fit_work *w)
{
  for (int i = 0; i < 9; i++) omen__free(m, w->p[i], w->bytes[i]);
}

static int pca_work_alloc(const omen__codes *cs, const omen__mem *m, size_t n, size_t used,
                      fit_work *w)
{
  uint32_t r = pca_comps(cs);
  size_t d = cs->dim, s = cs->stride, f = sizeof(float);
  memset(w, 0, sizeof *w);
  w->mp = omen__padded(used);
  size_t need[9] = {d * w->mp * f, used > r ? d * s * f : f, r * s * f, r * s * f,
                     (n ? n : 1) * cs->row * f, (n ? n : 1) * sizeof(float *),
                     (n ? n : 1) * f, omen__sq8_size(r), d * cs->row * sizeof(uint16_t)};
  for (int i = 0; i < 9; i++) {
    w->bytes[i] = need[i];
    if (!(w->p[i] = omen__calloc(m, need[i]))) {
      pca_work_free(m, w);
      return OMEN_NOMEM;
    }
  }
  w->xt = w->p[0], w->cov = w->p[1], w->b = w->p[2], w->next = w->p[3];
  w->z = w->p[4], w->zrows = w->p[5], w->ones = w->p[6], w->sq = w->p[7];
  w->bt = w->p[8];
  return OMEN_OK;
}

/* The sample rows spread over the n given, as columns of w->xt (centred
** for l2). */
static void pca_sample(const omen__codes *cs, const float *const *rows, const float *muls,
                       size_t n, size_t used, fit_work *w)
{
  size_t d = cs->dim;
  for (size_t k = 0; k < used; k++) {
    size_t at = (size_t)((double)k * n / (double)used);
    for (size_t i = 0; i < d; i++) w->xt[i * w->mp + k] = rows[at][i] * muls[at];
  }
  if (!cs->metric->dot)
    for (size_t i = 0; i < d; i++) {
      float *x = w->xt + i * w->mp;
      double sum = 0;
      for (size_t k = 0; k < used; k++) sum += x[k];
      float mean = (float)(sum / (double)used);
      for (size_t k = 0; k < used; k++) x[k] -= mean;
    }
}

/* The leading r-dimensional subspace of the sample, as orthonormal rows in
** w->b. It starts from sample vectors (already in the data's span); when
** there are no more of them than r, their span is the answer. Otherwise a
** few rounds of multiplying by the covariance (up to a factor, w->cov)
** turn the start towards the directions of most variance. */
static void pca_subspace(const omen__codes *cs, size_t used, fit_work *w)
{
  uint32_t r = pca_comps(cs);
  size_t s = cs->stride, d = cs->dim, start = used < r ? used : r;
  uint64_t seed = 0x70636138ull; /* fits are repeatable */
  memset(w->b, 0, (size_t)r * s * sizeof(float));
  for (size_t j = 0; j < start; j++) {
    size_t k = j * used / start;
    for (size_t i = 0; i < d; i++) w->b[j * s + i] = w->xt[i * w->mp + k];
  }
  pca_orthonormalize(cs, w->b, r, &seed); /* rows of zeros: random ones */
  if (used <= r) return;
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j <= i; j++) {
      float c = cs->kern->dot(w->xt + i * w->mp, w->xt + j * w->mp, w->mp);
      w->cov[i * s + j] = w->cov[j * s + i] = c;
    }
  for (int round = 0; round < PCA_ROUNDS; round++) {
    for (uint32_t j = 0; j < r; j++)
      for (size_t i = 0; i < d; i++)
        w->next[j * s + i] = cs->kern->dot(w->cov + i * s, w->b + j * s, s);
    pca_orthonormalize(cs, w->next, r, &seed);
    float *t = w->b;
    w->b = w->next;
    w->next = t;
  }
}

static int pca8_fit(omen__codes *cs, const omen__mem *m, const float *const *rows,
                    const float *muls, size_t n, float *work)
{
  uint32_t r = pca_comps(cs);
  size_t used = n < PCA_COV_ROWS ? n : PCA_COV_ROWS;
  fit_work w;
  if (pca_work_alloc(cs, m, n, used, &w)) return OMEN_NOMEM;
  pca_sample(cs, rows, muls, n, used, &w);
  pca_subspace(cs, used, &w);
  for (uint32_t j = 0; j < r; j++)
    for (uint32_t i = 0; i < cs->dim; i++)
      w.bt[(size_t)i * cs->row + j] = omen__half_of(w.b[(size_t)j * cs->stride + i]);
  for (size_t k = 0; k < n; k++) {
    w.zrows[k] = w.z + k * cs->row;
    pca_project(cs, w.bt, rows[k], muls[k], w.z + k * cs->row);
    w.ones[k] = 1.0f;
  }
  omen__sq8_fit(w.sq, r, w.zrows, w.ones, n, work);
  memcpy(pca_params(cs), w.sq, omen__sq8_size(r));
  memcpy(pca_basis(cs), w.bt, (size_t)cs->dim * cs->row * sizeof(uint16_t));
  pca_work_free(m, &w);
  return OMEN_OK;
}

/* -- In the file: the sq8 parameters (sq8.h), then the basis transposed, dim
** rows of r floats. ------------------------------------------------------------- */

static size_t pca8_saved_bytes(const omen__codes *cs)
{
  uint32_t r = pca_comps(cs);
  return pca8_fitted(cs) ? omen__sq8_saved_bytes(r) + (size_t)r * cs->dim * sizeof(float)
                         : 0;
}

static void pca8_save(const omen__codes *cs, void *out)
{
  uint32_t r = pca_comps(cs);
  omen__sq8_save(pca_params(cs), r, out);
  float *to = (float *)((char *)out + omen__sq8_saved_bytes(r));
  for (uint32_t i = 0; i < cs->dim; i++)
    for (uint32_t j = 0; j < r; j++)
      to[(size_t)i * r + j] = omen__float_of_half(pca_basis(cs)[(size_t)i * cs->row + j]);
}

/* A basis that is not made of unit vectors of finite numbers was damaged. */
static int pca_unit_columns(const float *bt, uint32_t dim, uint32_t r)
{
  for (uint32_t j = 0; j < r; j++) {
    double sum = 0;
    for (uint32_t i = 0; i < dim; i++) {
      float x = bt[(size_t)i * r + j];
      if (!isfinite(x)) return 0;
      sum += (double)x * x;
    }
    if (!(fabs(sum - 1.0) < 1e-3)) return 0;
  }
  return 1;
}

static int pca8_load(omen__codes *cs, const void *in, size_t n)
{
  uint32_t r = pca_comps(cs);
  if (n == 0) return OMEN_OK; /* not fitted yet */
  if (n != omen__sq8_saved_bytes(r) + (size_t)r * cs->dim * sizeof(float))
    return OMEN_CORRUPT;
  const float *from = (const float *)((const char *)in + omen__sq8_saved_bytes(r));
  if (!pca_unit_columns(from, cs->dim, r) || omen__sq8_load(pca_params(cs), r, in))
    return OMEN_CORRUPT;
  for (uint32_t i = 0; i < cs->dim; i++)
    for (uint32_t j = 0; j < r; j++)
      pca_basis(cs)[(size_t)i * cs->row + j] = omen__half_of(from[(size_t)i * r + j]);
  return OMEN_OK;
}

const omen__code_kind omen__kind_pca8 = {
  "pca8", OMEN_QUANT_PCA8, 0, PCA_MAX_DIM,
  pca8_init, pca8_free, pca8_memory,
  pca8_fitted, pca8_place, pca8_fit, pca8_encode,
  pca8_query_bytes, pca8_prepare, omen__sq8_node_query,
  omen__sq8_dists, omen__sq8_dist, omen__sq8_dist_nodes,
  pca8_saved_bytes, pca8_save, pca8_load,
};
