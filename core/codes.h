/*
** Codes: what a collection's graph walks read instead of (or as) its float
** vectors, behind one seam. A code kind (quantization) is one table of
** operations: fitting its parameters to the data, encoding a vector into a
** fixed-size row, preparing a query, distances from a query to rows and
** between rows, saving and restoring its parameters in the file, and its
** memory. "none" walks the floats themselves; others keep rows of codes
** beside them, and a search measures the candidates they find again on the
** floats, so hits always carry exact distances.
**
** Kinds are registered in kinds.c, one line each. The rest of the engine
** (the walk, storage, compaction, the collection's writes) reaches them
** only through this header.
*/
#ifndef OMEN_CODES_H
#define OMEN_CODES_H

#include <stddef.h>
#include <stdint.h>

#include "distance.h"
#include "mem.h"
#include "metric.h"
#include "omen.h"

typedef struct omen__space omen__space;
typedef struct omen__query omen__query;
typedef struct omen__codes omen__codes;

/* Where a vector lands against a fitted kind: inside its range, outside but
** near (clamped to the end codes), or far out (or the kind is not fitted
** yet). */
enum { OMEN__CODES_INSIDE, OMEN__CODES_CLAMPED, OMEN__CODES_FAR };

typedef struct omen__code_kind {
  const char *name;      /* as users write it */
  int id;                /* its omen_quant value */
  int exact;             /* distances on codes are the exact distances */
  uint32_t max_dim;      /* the most components it takes; 0: OMEN_MAX_DIM */

  /* State: allocate the kind's parameters for cs->dim and cs->metric and
  ** set cs->row (bytes of code per slot; 0: the walk reads the floats) and
  ** cs->aux (a float per slot beside the row). */
  int (*init)(omen__codes *cs, const omen__mem *m);
  void (*free)(omen__codes *cs, const omen__mem *m);
  size_t (*memory)(const omen__codes *cs);

  /* Fitting. Vectors are v[0..dim) scaled by mul (the inverse norm when the
  ** metric is normalised). `fit` sets the parameters from n sample rows
  ** (work holds n floats), or fails (OMEN_NOMEM) leaving them as they were. */
  int (*fitted)(const omen__codes *cs);
  int (*place)(const omen__codes *cs, const float *v, float mul);
  int (*fit)(omen__codes *cs, const omen__mem *m, const float *const *rows,
             const float *muls, size_t n, float *work);
  void (*encode)(const omen__codes *cs, const float *v, float mul, uint8_t *row, float *aux);

  /* Queries: bytes of a prepared query, and preparing one from floats
  ** already normalised for the metric and zero-padded to the stride. */
  size_t (*query_bytes)(const omen__codes *cs);
  void (*prepare)(const omen__codes *cs, const float *q, void *buf, omen__query *out);
  /* A stored node as the query (inserts search from their own vector). */
  void (*node_query)(const omen__space *sp, uint32_t slot, void *buf, omen__query *out);

  /* Distances from q to n slots (read with prefetches ahead), from q to one
  ** slot, and between two slots. */
  void (*dists)(const omen__space *sp, const omen__query *q, const uint32_t *slots,
                size_t n, float *out);
  float (*dist)(const omen__space *sp, const omen__query *q, uint32_t slot);
  float (*dist_nodes)(const omen__space *sp, uint32_t a, uint32_t b);

  /* The parameters in the file: their size (0 when not fitted), writing
  ** them, and reading them back (OMEN_CORRUPT when they make no sense). */
  size_t (*saved_bytes)(const omen__codes *cs);
  void (*save)(const omen__codes *cs, void *out);
  int (*load)(omen__codes *cs, const void *in, size_t n);
} omen__code_kind;

/* The kind OMEN_QUANT_AUTO stands for at dim components. */
omen_quant omen__quant_auto(uint32_t dim);

/* The registered kinds, NULL-terminated (kinds.c), and one by id. */
extern const omen__code_kind *const omen__code_kinds[];
const omen__code_kind *omen__code_kind_of(int id);

/* A collection's codes: its kind, the kind's parameters, and the rows. */
struct omen__codes {
  const omen__code_kind *kind;
  const omen__metric_desc *metric;
  const omen__kernels *kern;
  uint32_t dim, stride;  /* components, and floats per stored vector */
  void *params;          /* the kind's */
  size_t params_size;
  uint32_t row;          /* bytes per slot, 0 for none */
  int aux;               /* a float per slot beside the row */
  omen__buf rows;        /* row bytes per slot (memory only: made from the
                            vectors, never stored) */
  omen__buf auxs;        /* float per slot */
  uint64_t fitted_at;    /* records at the last fit */
  uint64_t far;          /* vectors written since that landed far out */
};

/* A query as walks see it: prepared floats (for exact distances) and the
** kind's form of it. */
struct omen__query {
  const float *f;
  const void *code;
  float aux;
};

/* Set up cs for a collection of the given kind (OMEN_INVALID if unknown). */
int omen__codes_init(omen__codes *cs, const omen__mem *m, int kind, uint32_t dim,
                     uint32_t stride, const omen__metric_desc *metric,
                     const omen__kernels *kern);
void omen__codes_free(omen__codes *cs, const omen__mem *m);
/* Memory held, rows included. */
size_t omen__codes_memory(const omen__codes *cs);

/* Room for rows of cap slots (the first n kept). */
int omen__codes_reserve(omen__codes *cs, const omen__mem *m, size_t cap, size_t n);

static inline uint8_t *omen__codes_row(const omen__codes *cs, uint32_t slot)
{
  return (uint8_t *)cs->rows.p + (size_t)slot * cs->row;
}

static inline float *omen__codes_aux(const omen__codes *cs, uint32_t slot)
{
  return cs->aux ? (float *)cs->auxs.p + slot : NULL;
}

/* Encode a vector (mul: its inverse norm when the metric is normalised)
** into slot's row; nothing when the kind keeps no rows or is not fitted. */
void omen__codes_put(omen__codes *cs, uint32_t slot, const float *v, float mul);
/* Move slot from's row to slot to (compaction). */
void omen__codes_move(omen__codes *cs, uint32_t from, uint32_t to);

/* Where a sample for a fit comes from: n vectors by index. */
typedef struct omen__sample_src {
  size_t n;
  const float *(*vec)(const void *ctx, size_t i, float *mul);
  const void *ctx;
} omen__sample_src;

/* Before n new vectors are written into a collection of `live` records:
** whether the kind wants fitting again (not fitted, the data doubled up to a
** million records, or a share of the writes since landed far out). Counts
** the far ones. */
int omen__codes_due(omen__codes *cs, const float *vecs, size_t n, uint64_t live);
/* Fit to up to 8,192 vectors spread over the given sources (in proportion
** to their sizes); `total` records then. 0, or OMEN_NOMEM (the old fit
** stays). The caller encodes every row again. */
int omen__codes_fit(omen__codes *cs, const omen__mem *m, const omen__sample_src *src,
                    size_t n_src, uint64_t total);

#endif
