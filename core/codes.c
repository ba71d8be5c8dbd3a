/*
** Codes: the registry of code kinds and a collection's rows of codes, kept
** in step with its vectors (see codes.h). When to fit a kind again is
** decided here, the same for every kind that has parameters: when the
** collection has doubled since the last fit (up to a million records), and
** when a share (1/64) of the vectors written since land far outside the
** fitted range (the data moved). Fitting looks at a sample of up to 8,192
** vectors spread evenly over the records and the vectors being written.
**
** Calls: the kinds (through their tables), the allocator.
*/
#include "port.h"

#include "codes.h"

#include <string.h>

#define SAMPLE_MOST 8192       /* vectors a fit looks at */
#define GROWTH_FITS (1u << 20) /* fit again on doubling until this many records */
#define FAR_SHARE 64           /* fit again once live / FAR_SHARE land far out */
#define FAR_LEAST 16           /* ... and at least this many */

const omen__code_kind *omen__code_kind_of(int id)
{
  for (size_t i = 0; omen__code_kinds[i]; i++)
    if (omen__code_kinds[i]->id == id) return omen__code_kinds[i];
  return NULL;
}

const char *omen_quantization_at(size_t i)
{
  for (size_t k = 0; omen__code_kinds[k]; k++)
    if (k == i) return omen__code_kinds[k]->name;
  return NULL;
}

int omen_quant_from_name(const char *name)
{
  if (name && !strcmp(name, "auto")) return OMEN_QUANT_AUTO;
  for (size_t i = 0; name && omen__code_kinds[i]; i++)
    if (!strcmp(name, omen__code_kinds[i]->name)) return omen__code_kinds[i]->id;
  return -1;
}

const char *omen_quant_name(omen_quant quant)
{
  if (quant == OMEN_QUANT_AUTO) return "auto";
  const omen__code_kind *k = omen__code_kind_of((int)quant);
  return k ? k->name : NULL;
}

/* pca8 walks a quarter of the components, at least 64: from 128 up it
** reads half the bytes or fewer, and its basis stays within its bound. */
omen_quant omen__quant_auto(uint32_t dim)
{
  return dim >= 128 && dim <= 4096 ? OMEN_QUANT_PCA8 : OMEN_QUANT_NONE;
}

int omen__codes_init(omen__codes *cs, const omen__mem *m, int kind, uint32_t dim,
                     uint32_t stride, const omen__metric_desc *metric,
                     const omen__kernels *kern)
{
  memset(cs, 0, sizeof *cs);
  cs->kind = omen__code_kind_of(kind);
  if (!cs->kind) return OMEN_INVALID;
  cs->metric = metric;
  cs->kern = kern;
  cs->dim = dim;
  cs->stride = stride;
  return cs->kind->init(cs, m);
}

void omen__codes_free(omen__codes *cs, const omen__mem *m)
{
  if (!cs->kind) return;
  cs->kind->free(cs, m);
  omen__buf_free(m, &cs->rows);
  omen__buf_free(m, &cs->auxs);
}

size_t omen__codes_memory(const omen__codes *cs)
{
  return cs->kind ? cs->kind->memory(cs) + cs->rows.size + cs->auxs.size : 0;
}

int omen__codes_reserve(omen__codes *cs, const omen__mem *m, size_t cap, size_t n)
{
  int rc = OMEN_OK;
  if (cs->row) rc = omen__buf_reserve(m, &cs->rows, cap * cs->row, n * cs->row);
  if (!rc && cs->aux)
    rc = omen__buf_reserve(m, &cs->auxs, cap * sizeof(float), n * sizeof(float));
  return rc;
}

void omen__codes_put(omen__codes *cs, uint32_t slot, const float *v, float mul)
{
  if (!cs->row || !cs->kind->fitted(cs)) return;
  cs->kind->encode(cs, v, mul, omen__codes_row(cs, slot), omen__codes_aux(cs, slot));
}

void omen__codes_move(omen__codes *cs, uint32_t from, uint32_t to)
{
  if (!cs->row || from == to) return;
  memcpy(omen__codes_row(cs, to), omen__codes_row(cs, from), cs->row);
  if (cs->aux) *omen__codes_aux(cs, to) = *omen__codes_aux(cs, from);
}

static float mul_of(const omen__codes *cs, const float *v)
{
  return cs->metric->normalised ? omen__inverse_norm(v, cs->dim) : 1.0f;
}

int omen__codes_due(omen__codes *cs, const float *vecs, size_t n, uint64_t live)
{
  if (!cs->row) return 0;
  for (size_t i = 0; i < n; i++) {
    const float *v = vecs + i * cs->dim;
    cs->far += cs->kind->place(cs, v, mul_of(cs, v)) == OMEN__CODES_FAR;
  }
  uint64_t far_enough = live / FAR_SHARE > FAR_LEAST ? live / FAR_SHARE : FAR_LEAST;
  int grown = cs->fitted_at < GROWTH_FITS && live >= 2 * cs->fitted_at;
  return !cs->kind->fitted(cs) || grown || cs->far >= far_enough;
}

int omen__codes_fit(omen__codes *cs, const omen__mem *m, const omen__sample_src *src,
                    size_t n_src, uint64_t total)
{
  size_t all = 0;
  for (size_t i = 0; i < n_src; i++) all += src[i].n;
  size_t most = all < SAMPLE_MOST ? all : SAMPLE_MOST, size = most ? most : 1;
  const float **rows = omen__malloc(m, size * sizeof *rows);
  float *muls = omen__malloc(m, size * sizeof(float));
  float *work = omen__malloc(m, size * sizeof(float));
  int rc = rows && muls && work ? OMEN_OK : OMEN_NOMEM;
  size_t got = 0;
  for (size_t i = 0; !rc && i < n_src; i++) {
    /* this source's share of the sample, spread evenly over it */
    size_t want = all ? (size_t)((double)most * src[i].n / (double)all) : 0;
    if (i + 1 == n_src) want = most - got;
    for (size_t k = 0; k < want && k < src[i].n; k++) {
      float mul;
      rows[got] = src[i].vec(src[i].ctx, (size_t)((double)k * src[i].n / (double)want), &mul);
      muls[got++] = cs->metric->normalised ? mul : 1.0f;
    }
  }
  if (!rc) rc = cs->kind->fit(cs, m, rows, muls, got, work);
  if (!rc) {
    cs->fitted_at = total;
    cs->far = 0;
  }
  omen__free(m, rows, size * sizeof *rows);
  omen__free(m, muls, size * sizeof(float));
  omen__free(m, work, size * sizeof(float));
  return rc;
}
