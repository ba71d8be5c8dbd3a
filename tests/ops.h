/*
** A deterministic stream of writes for the durability tests: write number i
** (a single upsert, a batch or a delete of ids among OPS_IDS) is a pure
** function of i, so a test can run writes in one process, kill it, and
** check the database against a model of what writes 0..n leave.
*/
#ifndef OMEN_TEST_OPS_H
#define OMEN_TEST_OPS_H

#include "testutil.h"

#define DIM 8
#define OPS_IDS 300
#define BATCH_MAX 24

typedef struct rec {
  int present;
  float vec[DIM];
  double n;        /* metadata "n" */
} rec;

static uint64_t mix(uint64_t x)
{
  uint64_t s = x * 0x9e3779b97f4a7c15ull;
  return tu_next(&s);
}

/* -- The writes, a pure function of their number ---------------------------- */

typedef struct op {
  int kind;                 /* 0 upsert, 1 batch, 2 delete */
  size_t n;
  uint32_t id[BATCH_MAX];
} op;

static void op_of(uint64_t i, op *o)
{
  uint64_t s = mix(i);
  uint64_t r = s % 10;
  o->kind = r < 5 ? 0 : r < 8 ? 1 : 2;
  o->n = o->kind == 1 ? 1 + (size_t)(mix(s) % BATCH_MAX) : 1;
  for (size_t j = 0; j < o->n; j++) o->id[j] = (uint32_t)(mix(s + j + 1) % OPS_IDS);
}

static void vec_of(uint64_t i, size_t j, float *v)
{
  for (int d = 0; d < DIM; d++)
    v[d] = (float)(mix(i * 1000 + j * 16 + (uint64_t)d) % 20000) / 100.0f - 100.0f;
}

static double n_of(uint64_t i, size_t j) { return (double)i + (double)j / 100.0; }

static void apply_op(rec *model, uint64_t i)
{
  op o;
  op_of(i, &o);
  for (size_t j = 0; j < o.n; j++) {
    rec *r = &model[o.id[j]];
    if (o.kind == 2) {
      r->present = 0;
      continue;
    }
    r->present = 1;
    vec_of(i, j, r->vec);
    r->n = n_of(i, j);
  }
}

static int run_op(omen_coll *c, uint64_t i)
{
  op o;
  op_of(i, &o);
  char names[BATCH_MAX][16];
  omen_str ids[BATCH_MAX];
  float vecs[BATCH_MAX * DIM];
  omen_field f[BATCH_MAX];
  omen_meta metas[BATCH_MAX];
  for (size_t j = 0; j < o.n; j++) {
    tu_id(names[j], sizeof names[j], o.id[j]);
    ids[j] = (omen_str){names[j], strlen(names[j])};
    vec_of(i, j, vecs + j * DIM);
    f[j] = (omen_field){{"n", 1}, {.type = OMEN_NUMBER, .u.number = n_of(i, j)}};
    metas[j] = (omen_meta){&f[j], 1};
  }
  if (o.kind == 2) {
    int rc = omen_delete(c, ids[0].ptr, ids[0].len);
    return rc == OMEN_NOTFOUND ? OMEN_OK : rc;
  }
  if (o.kind == 0) return omen_upsert(c, ids[0].ptr, ids[0].len, vecs, &f[0], 1);
  return omen_upsert_batch(c, o.n, ids, vecs, metas, 1);
}

/* Whether the collection holds exactly model (NULL collection: empty). */
static int ops_match(omen_coll *c, omen_result *r, const rec *model)
{
  char id[16];
  for (uint32_t k = 0; k < OPS_IDS; k++) {
    tu_id(id, sizeof id, k);
    int rc = c ? omen_get(c, id, strlen(id), r) : OMEN_NOTFOUND;
    if (!model[k].present) {
      if (rc != OMEN_NOTFOUND) return 0;
      continue;
    }
    if (rc != OMEN_OK) return 0;
    const omen_hit *h = omen_result_hit(r, 0);
    if (memcmp(h->vec, model[k].vec, sizeof model[k].vec) || h->n_meta != 1 ||
        h->meta[0].value.type != OMEN_NUMBER || h->meta[0].value.u.number != model[k].n)
      return 0;
  }
  return 1;
}

/* Open path with o and the collection "c", creating it when missing. */
static int ops_open(const char *path, const omen_options *o, omen_db **db,
                    omen_coll **c)
{
  if (omen_open(path, o, db)) return 1;
  if (omen_coll_open(*db, "c", c) == OMEN_OK) return 0;
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, DIM);
  return omen_coll_create(*db, "c", &cfg, c) != OMEN_OK;
}

#endif
