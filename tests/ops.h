/*
** A deterministic stream of writes for the durability tests: write number i
** (a single upsert, a batch or a delete of ids among OPS_IDS) is a pure
** function of i, so a test can run writes in one process, kill it, and
** check the database against a model of what writes 0..n leave. Records
** carry a number "n" and a text "t" of a few words among OPS_WORDS, which a
** text index on the collection holds: checking a database checks that the
** index finds exactly the records holding each word.
*/
#ifndef OMEN_TEST_OPS_H
#define OMEN_TEST_OPS_H

#include "testutil.h"

#define DIM 8
#define OPS_IDS 300
#define BATCH_MAX 24
#define OPS_WORDS 12

typedef struct rec {
  int present;
  float vec[DIM];
  double n;        /* metadata "n" */
  unsigned words;  /* metadata "t": a bit per word */
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

/* The words of write i's record j (one to four of them), and as text. */
static unsigned words_of(uint64_t i, size_t j)
{
  uint64_t s = mix(i * 131 + j);
  unsigned w = 0;
  for (uint64_t k = 0; k <= s % 4; k++) w |= 1u << (mix(s + k) % OPS_WORDS);
  return w;
}

static size_t text_of(unsigned words, char *out, size_t cap)
{
  size_t at = 0;
  for (int k = 0; k < OPS_WORDS; k++)
    if (words & (1u << k)) at += (size_t)snprintf(out + at, cap - at, "%sw%d", at ? " " : "", k);
  return at;
}

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
    r->words = words_of(i, j);
  }
}

static int run_op(omen_coll *c, uint64_t i)
{
  op o;
  op_of(i, &o);
  char names[BATCH_MAX][16];
  omen_str ids[BATCH_MAX];
  float vecs[BATCH_MAX * DIM];
  omen_field f[BATCH_MAX][2];
  omen_meta metas[BATCH_MAX];
  char text[BATCH_MAX][64];
  for (size_t j = 0; j < o.n; j++) {
    tu_id(names[j], sizeof names[j], o.id[j]);
    ids[j] = (omen_str){names[j], strlen(names[j])};
    vec_of(i, j, vecs + j * DIM);
    size_t len = text_of(words_of(i, j), text[j], sizeof text[j]);
    f[j][0] = (omen_field){{"n", 1}, {.type = OMEN_NUMBER, .u.number = n_of(i, j)}};
    f[j][1] = (omen_field){{"t", 1}, {.type = OMEN_STRING, .u.string = {text[j], len}}};
    metas[j] = (omen_meta){f[j], 2};
  }
  if (o.kind == 2) {
    int rc = omen_delete(c, ids[0].ptr, ids[0].len);
    return rc == OMEN_NOTFOUND ? OMEN_OK : rc;
  }
  if (o.kind == 0) return omen_upsert(c, ids[0].ptr, ids[0].len, vecs, f[0], 2);
  return omen_upsert_batch(c, o.n, ids, vecs, metas, 1);
}

/* Whether the text index finds, for each word, exactly the records of the
** model holding it. */
static int ops_text_match(omen_coll *c, omen_result *r, const rec *model)
{
  int any = 0; /* an empty collection may not have its index yet (a log cut) */
  for (uint32_t k = 0; k < OPS_IDS; k++) any |= model[k].present;
  for (int w = 0; w < OPS_WORDS && any; w++) {
    char q[16], id[16];
    snprintf(q, sizeof q, "+w%d", w);
    omen_search_opts o;
    omen_search_opts_init(&o, OPS_IDS);
    o.text = q;
    o.with = 0;
    if (omen_search(c, NULL, &o, r)) return 0;
    uint32_t want = 0, got = (uint32_t)omen_result_count(r);
    for (uint32_t k = 0; k < OPS_IDS; k++) want += model[k].present && (model[k].words >> w & 1);
    if (got != want) return 0;
    for (uint32_t i = 0; i < got; i++) {
      const omen_hit *h = omen_result_hit(r, i);
      uint32_t k = 0;
      while (k < OPS_IDS && (tu_id(id, sizeof id, k), strlen(id) != h->id.len ||
                             memcmp(id, h->id.ptr, h->id.len)))
        k++;
      if (k == OPS_IDS || !model[k].present || !(model[k].words >> w & 1)) return 0;
    }
  }
  return 1;
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
    char text[64];
    size_t len = text_of(model[k].words, text, sizeof text);
    if (memcmp(h->vec, model[k].vec, sizeof model[k].vec) || h->n_meta != 2 ||
        h->meta[0].value.type != OMEN_NUMBER || h->meta[0].value.u.number != model[k].n ||
        h->meta[1].value.type != OMEN_STRING || h->meta[1].value.u.string.len != len ||
        memcmp(h->meta[1].value.u.string.ptr, text, len))
      return 0;
  }
  return !c || ops_text_match(c, r, model);
}

/* Open path with o and the collection "c", creating it (with a text index
** on "t") when missing. */
static int ops_open(const char *path, const omen_options *o, omen_db **db,
                    omen_coll **c)
{
  if (omen_open(path, o, db)) return 1;
  if (omen_coll_open(*db, "c", c) == OMEN_OK) return 0;
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, DIM);
  omen_text_config tc;
  omen_text_config_init(&tc, "t");
  return omen_coll_create(*db, "c", &cfg, c) != OMEN_OK || omen_text_index(*c, &tc) != OMEN_OK;
}

#endif
