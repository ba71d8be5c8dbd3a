/*
** Full-text search (text.c, postings.c, fuse.c, query.c) against the
** brute-force reference of text_ref.h:
**  - BM25 top k of random corpora (Zipf-distributed words, so lists run
**    to many blocks) for OR queries with absent and repeated words, for
**    "+required" and "-excluded" words, and with filters; a corpus built
**    for MaxScore's pruning to skip most postings;
**  - quoted phrases (in the random queries throughout, and by hand): runs
**    of documents, random words, repeated words ("a a"), required and
**    excluded, never across two strings of an array; stopwords keeping
**    their places, trigram phrases, the longest phrase;
**  - exactness through upserts (new ids, replaced records, metadata-only
**    replacements), deletes and delete_where, records without the field or
**    with it as a number, an array or an empty string, automatic merges of
**    the tails, checkpoints and compaction (slots renumbered);
**  - the API: indexing records already there, OMEN_EXISTS, bad configs,
**    a text search without an index, text-only searches, k edge cases;
**  - RRF and linear fusion against their definition, computed here from an
**    exact vector search and the text ranking; true distances on every hit;
**  - non-ASCII text, the Porter stemmer, stopwords, the trigram tokenizer;
**  - a file database: reopened, its log replayed, verified.
** Hits are compared ties aside (check_topk): hit scores are floats.
*/
#include "text_ref.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include "omen_int.h" /* the text index's tail, to see merges happen */

#define K1 1.2
#define B 0.75
#define REL 1e-6      /* BM25 hit scores: floats of doubles */
#define FUSED_REL 1e-5 /* fused scores: computed in floats */

static const uint32_t KS[] = {1, 3, 10, 100};
static char phase[96]; /* where a test is, for failure messages */

/* A database with a collection "c", a result, and the model of c. */
typedef struct env {
  omen_db *db;
  omen_coll *c;
  omen_result *res;
  model m;
  zipf z;
} env;

static void db_open(env *e, const char *path)
{
  e->db = tu_open(path, 0);
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, RDIM);
  if (omen_coll_open(e->db, "c", &e->c))
    assert_int_equal(omen_coll_create(e->db, "c", &cfg, &e->c), OMEN_OK);
  assert_int_equal(omen_result_new(e->db, &e->res), OMEN_OK);
}

static void db_close(env *e)
{
  omen_result_free(e->res);
  omen_coll_close(e->c);
  assert_int_equal(omen_close(e->db), OMEN_OK);
}

static void env_open(env *e, const char *path, size_t ids, int vocab)
{
  db_open(e, path);
  e->m.n = ids;
  e->m.r = calloc(ids, sizeof(rec));
  zipf_init(&e->z, vocab);
}

static void env_close(env *e)
{
  db_close(e);
  free(e->m.r);
  free(e->z.cdf);
}

static void index_body(omen_coll *c)
{
  omen_text_config cfg;
  omen_text_config_init(&cfg, "body");
  int rc = omen_text_index(c, &cfg);
  if (rc) fail_msg("omen_text_index: %s", omen_errmsg(omen_coll_db(c)));
}

/* Mostly strings; some arrays, empty strings, numbers, no field. */
static int random_kind(uint64_t *s, int *max_words)
{
  uint64_t r = tu_next(s) % 100;
  *max_words = r >= 70 && r < 75 ? 0 : MAX_WORDS;
  return r < 75 ? TXT_STRING : r < 85 ? TXT_ARRAY : r < 93 ? TXT_NONE : TXT_NUMBER;
}

/* Record i becomes a random record of kind (-1: any), in the model and in c. */
static void put_random(env *e, size_t i, uint64_t *s, int kind)
{
  int max_words = MAX_WORDS;
  if (kind < 0) kind = random_kind(s, &max_words);
  rec_random(&e->m.r[i], s, &e->z, kind, max_words);
  assert_int_equal(rec_put(e->c, i, &e->m.r[i]), OMEN_OK);
}

static int search_text(env *e, const float *vec, const char *text, uint32_t k,
                       const omen_filter *f)
{
  omen_search_opts o;
  omen_search_opts_init(&o, k);
  o.text = text;
  o.filter = f;
  return omen_search(e->c, vec, &o, e->res);
}

typedef int (*keep_fn)(const rec *, const void *);

/* q's text-only hits for each of the nk values of k, against the
** reference over the records keep lets through. */
static void check_query(env *e, const query *q, const uint32_t *ks, size_t nk,
                        const omen_filter *f, keep_fn keep, const void *ud)
{
  double *want = malloc(e->m.n * sizeof *want);
  ref_scores(&e->m, q, K1, B, keep, ud, want);
  char what[400];
  snprintf(what, sizeof what, "%s%squery '%s'", phase, *phase ? ": " : "", q->text);
  for (size_t i = 0; i < nk; i++) {
    if (search_text(e, NULL, q->text, ks[i], f))
      fail_msg("%s: %s", what, omen_errmsg(e->db));
    check_topk(e->res, want, e->m.n, ks[i], REL, what);
    for (size_t h = 0; h < omen_result_count(e->res); h++)
      assert_true(isnan(omen_result_hit(e->res, h)->distance));
  }
  free(want);
}

static void check_random_queries(env *e, uint64_t *s, int n, int signs,
                                 const omen_filter *f, keep_fn keep, const void *ud)
{
  for (int i = 0; i < n; i++) {
    query q;
    query_random(&q, s, &e->z, &e->m, 5, signs);
    check_query(e, &q, KS, 4, f, keep, ud);
  }
}

/* -- 1. BM25 against the reference ------------------------------------------ */

static void t_bm25_random(void **state)
{
  (void)state;
  static const struct {
    uint64_t seed;
    size_t n;
    int vocab;
  } corpora[] = {{1, 300, 20}, {2, 1000, 100}, {3, 3000, 500}, {4, 2000, 40}};
  for (size_t c = 0; c < sizeof corpora / sizeof corpora[0]; c++) {
    env e;
    env_open(&e, NULL, corpora[c].n, corpora[c].vocab);
    uint64_t s = corpora[c].seed;
    for (size_t i = 0; i < corpora[c].n; i++) {
      if (i == corpora[c].n / 2) index_body(e.c); /* half encoded, half in tails */
      put_random(&e, i, &s, TXT_STRING);
    }
    check_random_queries(&e, &s, 150, 0, NULL, NULL, NULL);
    env_close(&e);
  }
}

/* Word 0 in ~45% of the documents, often many times; word 1 in ~1%, word 2
** in ~10%. Once k documents are held, the common word alone cannot reach
** the k-th score, and MaxScore walks its list only where the rare words
** lead, skipping blocks by their bounds. */
static void t_pruning(void **state)
{
  (void)state;
  env e;
  env_open(&e, NULL, 4000, 300);
  uint64_t s = 11;
  for (size_t i = 0; i < e.m.n; i++) {
    if (i == 3600) index_body(e.c);
    rec *r = &e.m.r[i];
    rec_random(r, &s, &e.z, TXT_STRING, 30);
    for (int j = 0; j < r->n_words; j++) r->words[j] += 3;
    if (tu_uniform(&s) < 0.45)
      for (int n = 1 + (int)(tu_next(&s) % 8); n > 0; n--) r->words[r->n_words++] = 0;
    if (tu_uniform(&s) < 0.01) r->words[r->n_words++] = 1;
    if (tu_uniform(&s) < 0.10) r->words[r->n_words++] = 2;
    assert_int_equal(rec_put(e.c, i, r), OMEN_OK);
  }
  static const int queries[][4] = {{0, 1, -1}, {0, 2, -1}, {0, 1, 2, -1}, {0, 0, 1, -1},
                                   {2, 1, -1}, {0, -1}, {0, 0, 0, 1}};
  for (int round = 0; round < 2; round++) {
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
      query q;
      memset(&q, 0, sizeof q);
      for (int j = 0; j < 4 && queries[i][j] >= 0; j++) query_add(&q, queries[i][j], ANY);
      for (uint32_t k = 1; k <= 10; k++) check_query(&e, &q, &k, 1, NULL, NULL, NULL);
    }
    /* Then without the best documents: their encoded postings must drop out. */
    for (size_t i = 0; i < e.m.n; i++)
      if (e.m.r[i].live && e.m.r[i].n_words > 25 && i % 2) {
        char id[24];
        snprintf(id, sizeof id, "r%zu", i);
        assert_int_equal(omen_delete(e.c, id, strlen(id)), OMEN_OK);
        e.m.r[i].live = 0;
      }
  }
  env_close(&e);
}

/* -- 2. Required and excluded words ----------------------------------------- */

static void t_required_excluded(void **state)
{
  (void)state;
  env e;
  env_open(&e, NULL, 2000, 60);
  uint64_t s = 21;
  index_body(e.c);
  for (size_t i = 0; i < e.m.n; i++) put_random(&e, i, &s, TXT_STRING);
  check_random_queries(&e, &s, 300, 1, NULL, NULL, NULL);
  static const struct {
    int n, word[4], mode[4];
  } fixed[] = {
    {1, {0}, {MUST}},                                /* +w0 */
    {1, {0}, {NOT}},                                 /* -w0: nothing to score */
    {4, {0, 1, 2, 3}, {MUST, MUST, NOT, ANY}},
    {2, {ABSENT, 0}, {MUST, ANY}},                   /* required, in no document */
    {3, {ABSENT, 1, 1}, {NOT, ANY, ANY}},
    {3, {5, 0, 1}, {MUST, NOT, NOT}},
  };
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
    query q;
    memset(&q, 0, sizeof q);
    for (int j = 0; j < fixed[i].n; j++) query_add(&q, fixed[i].word[j], fixed[i].mode[j]);
    check_query(&e, &q, KS, 4, NULL, NULL, NULL);
  }
  query q;
  memset(&q, 0, sizeof q);
  query_add_phrase(&q, (const int[]){3, 4}, 2, ANY); /* "wd we" wh */
  query_add(&q, 7, ANY);
  assert_string_equal(q.text, "\"wd we\" wh");
  check_query(&e, &q, KS, 4, NULL, NULL, NULL);
  env_close(&e);
}

/* -- 3. Phrases ---------------------------------------------------------------- */

/* Record i becomes the n words w of kind (an array: strings of the words
** from cut[j] to cut[j + 1], for j < parts), in the model and in c. */
static void put_words(env *e, size_t i, uint64_t *s, int kind, const int *w, int n,
                      const int *cut, int parts)
{
  rec *r = &e->m.r[i];
  rec_random(r, s, &e->z, kind, 0);
  r->n_words = n;
  memcpy(r->words, w, (size_t)n * sizeof *w);
  r->n_parts = parts;
  if (parts) memcpy(r->cut, cut, (size_t)(parts + 1) * sizeof *cut);
  assert_int_equal(rec_put(e->c, i, r), OMEN_OK);
}

/* Phrases: random ones in random queries (from documents, words repeated,
** words at random, some with a word in no document; required, excluded),
** on a corpus of few words (phrases common, many "a a" and "a a a" runs)
** and one of more; then repeated words and strings of arrays, checked by
** hand. */
static void t_phrases(void **state)
{
  (void)state;
  static const struct {
    uint64_t seed;
    size_t n;
    int vocab;
  } corpora[] = {{91, 1500, 12}, {92, 3000, 80}};
  for (size_t c = 0; c < sizeof corpora / sizeof corpora[0]; c++) {
    env e;
    env_open(&e, NULL, corpora[c].n, corpora[c].vocab);
    uint64_t s = corpora[c].seed;
    for (size_t i = 0; i < e.m.n; i++) {
      if (i == e.m.n / 2) index_body(e.c);
      put_random(&e, i, &s, -1);
    }
    size_t phrases = 0, matched = 0;
    double *want = malloc(e.m.n * sizeof *want);
    for (int i = 0; i < 400; i++) {
      query q;
      do query_random(&q, &s, &e.z, &e.m, 5, i % 2);
      while (q.n == 0);
      check_query(&e, &q, KS, 4, NULL, NULL, NULL);
      for (int j = 0; j < q.n; j++)
        if (q.len[j] > 1) { /* the phrase alone, as typed (with its sign) */
          query p;
          memset(&p, 0, sizeof p);
          query_add_phrase(&p, q.word[j], q.len[j], q.mode[j]);
          check_query(&e, &p, KS + 2, 2, NULL, NULL, NULL);
          phrases++;
          p.mode[0] = ANY;
          matched += ref_scores(&e.m, &p, K1, B, NULL, NULL, want) > 0;
        }
    }
    free(want);
    /* Both kinds drawn often enough: matching and not. */
    if (matched < phrases / 4 || matched > phrases - phrases / 20)
      fail_msg("corpus %zu: %zu of %zu random phrases match", c, matched, phrases);
    static const struct {
      int n, len[4], word[4][3], mode[4];
    } fixed[] = {
      {1, {2}, {{0, 0}}, {ANY}},                               /* "wa wa" */
      {1, {3}, {{0, 0, 0}}, {ANY}},                            /* "wa wa wa" */
      {2, {2, 1}, {{0, 0}, {0}}, {ANY, ANY}},                  /* "wa wa" wa */
      {2, {2, 3}, {{0, 0}, {0, 0, 0}}, {ANY, ANY}},
      {2, {2, 1}, {{1, 1}, {2}}, {MUST, ANY}},                 /* +"wb wb" wc */
      {2, {2, 1}, {{0, 0}, {0}}, {NOT, ANY}},                  /* -"wa wa" wa */
      {3, {2, 2, 1}, {{0, 1}, {1, 0}, {2}}, {MUST, NOT, ANY}}, /* order matters */
      {2, {2, 2}, {{0, 1}, {0, 1}}, {ANY, ANY}},               /* named twice */
      {2, {2, 1}, {{0, ABSENT}, {1}}, {MUST, ANY}},            /* a word in no document */
      {2, {2, 1}, {{0, ABSENT}, {1}}, {NOT, ANY}},
      {2, {2, 1}, {{ABSENT, 0}, {1}}, {ANY, ANY}},
      {2, {1, 1}, {{0}, {1}}, {MUST, ANY}},                    /* "wa" is wa (quoted below) */
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
      query q;
      memset(&q, 0, sizeof q);
      for (int j = 0; j < fixed[i].n; j++)
        query_add_run(&q, fixed[i].word[j], fixed[i].len[j], 1, fixed[i].mode[j]);
      check_query(&e, &q, KS, 4, NULL, NULL, NULL);
    }

    /* Words 1000 .. 1002 in no other document: a phrase never spans two
    ** strings of an array, even with an empty string or nothing between. */
    enum { X = 1000, Y = 1001, Z = 1002 };
    put_words(&e, 0, &s, TXT_ARRAY, (const int[]){0, X, Y, 1}, 4, (const int[]){0, 2, 4}, 2);
    put_words(&e, 1, &s, TXT_ARRAY, (const int[]){X, Y, Z}, 3, (const int[]){0, 1, 1, 2, 3}, 4);
    put_words(&e, 2, &s, TXT_STRING, (const int[]){Y, X, 2, Z}, 4, NULL, 0);
    put_words(&e, 3, &s, TXT_ARRAY, (const int[]){Y, Z, X}, 3, (const int[]){0, 2, 3}, 2);
    static const struct {
      int len, word[3], mode, hits[2]; /* the phrase's hits alone, in each round */
    } spans[] = {
      {2, {X, Y}, ANY, {0, 1}},    {2, {X, Y}, MUST, {0, 1}}, {3, {0, X, Y}, ANY, {0, 0}},
      {2, {Y, Z}, ANY, {1, 1}},    {2, {Y, X}, ANY, {1, 1}},  {2, {Z, X}, ANY, {0, 0}},
      {2, {X, Y}, NOT, {0, 0}},    {3, {Y, X, 2}, MUST, {1, 1}},
    };
    for (int round = 0; round < 2; round++) {
      for (size_t i = 0; i < sizeof spans / sizeof spans[0]; i++)
        for (int with = 0; with < 2; with++) {
          query q;
          memset(&q, 0, sizeof q);
          query_add_phrase(&q, spans[i].word, spans[i].len, spans[i].mode);
          if (with) query_add(&q, X, ANY);
          check_query(&e, &q, KS, 4, NULL, NULL, NULL);
          if (!with && omen_result_count(e.res) != (size_t)spans[i].hits[round])
            fail_msg("round %d: '%s' has %zu hits", round, q.text, omen_result_count(e.res));
        }
      /* Then the phrase "wX wY" in one string of an array (wc wX wY, wZ). */
      put_words(&e, 4, &s, TXT_ARRAY, (const int[]){2, X, Y, Z}, 4, (const int[]){0, 3, 4}, 2);
    }
    /* As typed: case folded, punctuation between the words. */
    assert_int_equal(search_text(&e, NULL, "+\"WMMB, wnmb!\"", 10, NULL), OMEN_OK);
    assert_true(omen_result_count(e.res) == 1 && omen_result_hit(e.res, 0)->id.len == 2 &&
                !memcmp(omen_result_hit(e.res, 0)->id.ptr, "r4", 2));
    env_close(&e);
  }
}

/* -- 4. Updates and deletes ------------------------------------------------- */

static int cat_is(const rec *r, const void *ud) { return r->cat == *(const double *)ud; }

static omen_filter *cat_filter(omen_db *db, omen_op op, double v)
{
  omen_cond c = {.op = op, .key = {"cat", 3}};
  c.value = (omen_value){.type = OMEN_NUMBER, .u.number = v};
  omen_filter *f;
  assert_int_equal(omen_filter_new(db, &c, &f), OMEN_OK);
  return f;
}

/* One random write to the model and, unless c is NULL, to c (the same
** random draws either way: the file test replays a child's writes). Of a
** thousand: 600 upsert a random id (new, or replaced with a new vector),
** 250 replace a live record keeping its vector (the metadata-only path),
** 149 delete the record (upsert it when absent), 1 deletes a category by
** filter. */
static void random_write(model *m, const zipf *z, omen_coll *c, uint64_t *s)
{
  uint64_t r = tu_next(s) % 1000;
  size_t i = (size_t)(tu_next(s) % m->n);
  int max_words, kind = random_kind(s, &max_words);
  rec *x = &m->r[i], old = *x;
  char id[24];
  snprintf(id, sizeof id, "r%zu", i);
  if (r < 850 || !x->live) { /* new id, replaced, or (r >= 600) the same vector */
    rec_random(x, s, z, kind, max_words);
    if (r >= 600 && old.live) memcpy(x->vec, old.vec, sizeof x->vec);
    if (c) assert_int_equal(rec_put(c, i, x), OMEN_OK);
  } else if (r < 999) {
    x->live = 0;
    if (c) assert_int_equal(omen_delete(c, id, strlen(id)), OMEN_OK);
  } else {
    double cat = (double)(tu_next(s) % 50);
    uint64_t n = 0, deleted = 0;
    for (size_t j = 0; j < m->n; j++)
      if (m->r[j].live && m->r[j].cat == cat) {
        m->r[j].live = 0;
        n++;
      }
    if (!c) return;
    omen_filter *f = cat_filter(omen_coll_db(c), OMEN_OP_EQ, cat);
    assert_int_equal(omen_delete_where(c, f, &deleted), OMEN_OK);
    assert_int_equal(deleted, n);
    omen_filter_free(f);
  }
}

static void t_updates(void **state)
{
  (void)state;
  env e;
  env_open(&e, NULL, 8000, 300);
  uint64_t s = 31, last_tail = 0;
  index_body(e.c);
  int merges = 0;
  for (int op = 1; op <= 24000; op++) {
    random_write(&e.m, &e.z, e.c, &s);
    uint64_t tail = e.c->text->tail_postings;
    int merged = tail == 0 && last_tail > 60000; /* merged after this write */
    merges += merged;
    last_tail = tail;
    snprintf(phase, sizeof phase, "op %d%s", op, merged ? ", tails just merged" : "");
    if (merged || op % (op <= 400 ? 20 : 200) == 0)
      check_random_queries(&e, &s, merged ? 12 : 4, op % 3 == 0, NULL, NULL, NULL);
    if (merged && merges == 1) { /* compaction right after a merge, no write between */
      strcat(phase, ", compacted");
      assert_int_equal(omen_compact(e.db), OMEN_OK);
      check_random_queries(&e, &s, 12, 1, NULL, NULL, NULL);
    }
    if (op % 9000 == 0) {
      strcat(phase, ", checkpoint");
      assert_int_equal(omen_checkpoint(e.db), OMEN_OK);
      check_random_queries(&e, &s, 6, 1, NULL, NULL, NULL);
      strcat(phase, ", compacted");
      assert_int_equal(omen_compact(e.db), OMEN_OK);
      check_random_queries(&e, &s, 12, 1, NULL, NULL, NULL);
      last_tail = e.c->text->tail_postings;
    }
  }
  if (merges < 2) fail_msg("the tails were merged %d times", merges);
  phase[0] = '\0';
  env_close(&e);
}

/* -- 5. The index's API ------------------------------------------------------- */

static void expect_invalid(env *e, const omen_text_config *cfg, const char *why)
{
  assert_int_equal(omen_text_index(e->c, cfg), OMEN_INVALID);
  if (!strstr(omen_errmsg(e->db), why))
    fail_msg("message '%s' lacks '%s'", omen_errmsg(e->db), why);
}

static void t_index_api(void **state)
{
  (void)state;
  env e;
  env_open(&e, NULL, 300, 30);
  uint64_t s = 41;
  for (size_t i = 0; i < e.m.n; i++) put_random(&e, i, &s, TXT_STRING);
  float v[RDIM] = {0};
  assert_int_equal(search_text(&e, v, "wa", 5, NULL), OMEN_INVALID);
  assert_non_null(strstr(omen_errmsg(e.db), "has no text index"));
  assert_int_equal(search_text(&e, NULL, "wa", 5, NULL), OMEN_INVALID);
  assert_non_null(strstr(omen_errmsg(e.db), "has no text index"));
  omen_text_config cfg;
  omen_text_config_init(&cfg, "");
  expect_invalid(&e, &cfg, "text field");
  omen_text_config_init(&cfg, "body");
  cfg.tokenizer = "bogus";
  expect_invalid(&e, &cfg, "tokenizer");
  cfg.tokenizer = "trigram";
  cfg.stemmer = "porter";
  expect_invalid(&e, &cfg, "porter");
  omen_text_config_init(&cfg, "body");
  cfg.b = 2;
  expect_invalid(&e, &cfg, "b must");
  omen_text_config_init(&cfg, "body");
  cfg.remove_diacritics = 7;
  expect_invalid(&e, &cfg, "remove_diacritics");
  assert_int_equal(search_text(&e, NULL, "wa", 5, NULL), OMEN_INVALID);
  index_body(e.c); /* the records already there */
  check_random_queries(&e, &s, 40, 1, NULL, NULL, NULL);
  omen_text_config_init(&cfg, "body");
  assert_int_equal(omen_text_index(e.c, &cfg), OMEN_EXISTS);
  omen_text_config_init(&cfg, "other");
  assert_int_equal(omen_text_index(e.c, &cfg), OMEN_EXISTS);
  /* k = 1, and k far above the matches (a rarer word, then a common one). */
  static const uint32_t ks[] = {1, 2, 1000, OMEN_MAX_K};
  for (int w = 29; w >= 0; w -= 29) {
    query q;
    memset(&q, 0, sizeof q);
    query_add(&q, w, ANY);
    check_query(&e, &q, ks, 4, NULL, NULL, NULL);
  }
  /* text_len bounds the query; nothing to score gives no hits. */
  query q;
  memset(&q, 0, sizeof q);
  query_add(&q, 1, ANY);
  query_add(&q, 2, ANY);
  omen_search_opts o;
  omen_search_opts_init(&o, 10);
  o.text = "wb wc wd";
  o.text_len = 5;
  double *want = malloc(e.m.n * sizeof *want);
  ref_scores(&e.m, &q, K1, B, NULL, NULL, want);
  assert_int_equal(omen_search(e.c, NULL, &o, e.res), OMEN_OK);
  check_topk(e.res, want, e.m.n, 10, REL, "'wb wc wd' cut to 5 bytes");
  free(want);
  static const char *const empty[] = {"", "   ", "+", "-wb", "\"\"", "zzz"};
  for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
    assert_int_equal(search_text(&e, NULL, empty[i], 10, NULL), OMEN_OK);
    assert_int_equal(omen_result_count(e.res), 0);
  }
  /* Any bytes make a query (in a block of exactly their size, for ASan). */
  static const char bytes[] = "+-\" \t\xc3\xa9\xff\x80wab";
  for (int i = 0; i < 300; i++) {
    size_t n = 1 + (size_t)(tu_next(&s) % 24);
    char *junk = malloc(n);
    for (size_t j = 0; j < n; j++) junk[j] = bytes[tu_next(&s) % (sizeof bytes - 1)];
    omen_search_opts_init(&o, 5);
    o.text = junk;
    o.text_len = n;
    assert_int_equal(omen_search(e.c, NULL, &o, e.res), OMEN_OK);
    free(junk);
  }
  /* A phrase spans 64 tokens at most: "wa wa ... wa", 64 of them, then 65. */
  char run[65 * 3 + 3];
  for (int words = 64; words <= 65; words++) {
    strcpy(run, "\"wa");
    for (int i = 1; i < words; i++) strcat(run, " wa");
    strcat(run, "\"");
    if (words == 64) {
      assert_int_equal(search_text(&e, NULL, run, 5, NULL), OMEN_OK);
      assert_int_equal(omen_result_count(e.res), 0);
    } else {
      assert_int_equal(search_text(&e, NULL, run, 5, NULL), OMEN_INVALID);
      assert_non_null(strstr(omen_errmsg(e.db), "a phrase spans 64 tokens at most"));
    }
  }
  /* No vector and no text is still an error; vector hits have no score. */
  omen_search_opts_init(&o, 10);
  assert_int_equal(omen_search(e.c, NULL, &o, e.res), OMEN_INVALID);
  assert_int_equal(omen_search(e.c, v, &o, e.res), OMEN_OK);
  assert_true(omen_result_count(e.res) == 10 && isnan(omen_result_hit(e.res, 9)->score));
  env_close(&e);
}

/* -- 6. Filters ----------------------------------------------------------------- */

static int cat_below(const rec *r, const void *ud) { return r->cat < *(const double *)ud; }

static void t_filters(void **state)
{
  (void)state;
  env e;
  env_open(&e, NULL, 2000, 80);
  uint64_t s = 61;
  index_body(e.c);
  for (size_t i = 0; i < e.m.n; i++) put_random(&e, i, &s, -1);
  static const double limits[] = {25, 10, 1, -1};
  for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
    omen_filter *f = cat_filter(e.db, OMEN_OP_LT, limits[i]);
    check_random_queries(&e, &s, 60, (int)i % 2, f, cat_below, &limits[i]);
    omen_filter_free(f);
  }
  double three = 3;
  omen_filter *f = cat_filter(e.db, OMEN_OP_EQ, three);
  check_random_queries(&e, &s, 40, 1, f, cat_is, &three);
  omen_filter_free(f);
  env_close(&e);
}

/* -- 7. Fusion ------------------------------------------------------------------ */

static float scaled(float v, float lo, float hi) { return hi > lo ? (v - lo) / (hi - lo) : 1.0f; }

/* The fused search of (qv, q) with base's settings against the fusion
** computed here from its halves: the exact vector search's `depth`
** closest and the text search's `depth` best (itself checked against the
** reference); every hit at its true distance. */
static void check_fusion(env *e, const float *qv, const query *q, const omen_search_opts *base,
                         keep_fn keep, const void *ud)
{
  size_t n = e->m.n;
  uint32_t k = base->k, depth = base->depth ? base->depth : 50;
  if (depth < k) depth = k; /* each half ranks k at least */
  struct {
    uint32_t v, t; /* ranks in each half, from 1; 0: not ranked */
    float dist, score;
  } *rank = calloc(n, sizeof *rank);
  double *want = malloc(n * sizeof *want);
  omen_search_opts o;
  omen_search_opts_init(&o, depth);
  o.exact = 1;
  o.filter = base->filter;
  assert_int_equal(omen_search(e->c, qv, &o, e->res), OMEN_OK);
  size_t nv = omen_result_count(e->res), nt;
  float dmin = nv ? omen_result_hit(e->res, 0)->distance : 0, dmax = 0, smin = 0, smax = 0;
  for (size_t i = 0; i < nv; i++) {
    const omen_hit *h = omen_result_hit(e->res, i);
    rank[hit_rec(h)].v = (uint32_t)i + 1;
    rank[hit_rec(h)].dist = dmax = h->distance;
  }
  o.exact = 0;
  o.text = q->text;
  assert_int_equal(omen_search(e->c, NULL, &o, e->res), OMEN_OK);
  ref_scores(&e->m, q, K1, B, keep, ud, want);
  check_topk(e->res, want, n, depth, REL, q->text);
  nt = omen_result_count(e->res);
  for (size_t i = 0; i < nt; i++) {
    const omen_hit *h = omen_result_hit(e->res, i);
    rank[hit_rec(h)].t = (uint32_t)i + 1;
    rank[hit_rec(h)].score = h->score;
    if (i == 0) smax = h->score;
    smin = h->score;
  }
  for (size_t d = 0; d < n; d++) {
    want[d] = -1;
    uint32_t vr = rank[d].v, tr = rank[d].t;
    if (!vr && !tr) continue;
    if (base->fusion == OMEN_FUSION_LINEAR) {
      double v = vr ? 1.0 - scaled(rank[d].dist, dmin, dmax) : 0;
      double t = tr ? scaled(rank[d].score, smin, smax) : 0;
      want[d] = base->alpha * v + (1.0 - base->alpha) * t;
    } else {
      want[d] = (vr ? base->vector_weight / (base->rrf_k + vr) : 0) +
                (tr ? base->text_weight / (base->rrf_k + tr) : 0);
    }
  }
  o = *base;
  o.text = q->text;
  o.exact = 1;
  assert_int_equal(omen_search(e->c, qv, &o, e->res), OMEN_OK);
  char what[320];
  snprintf(what, sizeof what, "fusion %d of '%s', depth %u", (int)base->fusion, q->text, depth);
  check_topk(e->res, want, n, k, FUSED_REL, what);
  for (size_t i = 0; i < omen_result_count(e->res); i++) {
    const omen_hit *h = omen_result_hit(e->res, i);
    double d = tu_dist(OMEN_L2, e->m.r[hit_rec(h)].vec, qv, RDIM);
    if (!near(h->distance, d, 1e-5))
      fail_msg("%s: r%zu at distance %g, truly %g", what, hit_rec(h), (double)h->distance, d);
  }
  free(rank);
  free(want);
}

static void t_fusion(void **state)
{
  (void)state;
  env e;
  env_open(&e, NULL, 1500, 60);
  uint64_t s = 71;
  index_body(e.c);
  for (size_t i = 0; i < e.m.n; i++) put_random(&e, i, &s, -1);
  double half = 25;
  omen_filter *f = cat_filter(e.db, OMEN_OP_LT, half);
  struct {
    omen_fusion fusion;
    uint32_t k, depth;
    float rrf_k, vw, tw, alpha;
    int filtered;
  } cases[] = {
    {OMEN_FUSION_RRF, 10, 0, 60, 1, 1, 0.5f, 0},     /* depth 50 */
    {OMEN_FUSION_RRF, 80, 0, 60, 1, 1, 0.5f, 0},     /* depth 80 */
    {OMEN_FUSION_RRF, 10, 20, 10, 2, 0.5f, 0.5f, 0},
    {OMEN_FUSION_RRF, 200, 30, 60, 1, 1, 0.5f, 0},   /* k above the union */
    {OMEN_FUSION_RRF, 10, 0, 60, 1, 1, 0.5f, 1},
    {OMEN_FUSION_LINEAR, 10, 0, 60, 1, 1, 0.5f, 0},
    {OMEN_FUSION_LINEAR, 30, 100, 60, 1, 1, 0.3f, 0},
    {OMEN_FUSION_LINEAR, 10, 40, 60, 1, 1, 1.0f, 1},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
    for (int i = 0; i < 12; i++) {
      float qv[RDIM];
      tu_random_vec(&s, qv, RDIM);
      query q;
      query_random(&q, &s, &e.z, &e.m, 4, i % 3 == 2);
      if (i == 11) { /* the text half finds nothing */
        memset(&q, 0, sizeof q);
        query_add(&q, ABSENT, ANY);
      }
      omen_search_opts o;
      omen_search_opts_init(&o, cases[c].k);
      o.fusion = cases[c].fusion;
      o.depth = cases[c].depth;
      o.rrf_k = cases[c].rrf_k;
      o.vector_weight = cases[c].vw;
      o.text_weight = cases[c].tw;
      o.alpha = cases[c].alpha;
      o.filter = cases[c].filtered ? f : NULL;
      check_fusion(&e, qv, &q, &o, cases[c].filtered ? cat_below : NULL, &half);
    }
  omen_filter_free(f);
  env_close(&e);
}

/* -- 8. Tokenizer options --------------------------------------------------- */

static void put_text(omen_coll *c, const char *id, const char *text)
{
  float v[RDIM] = {1};
  omen_field f = {{"body", 4}, {.type = OMEN_STRING, .u.string = {text, strlen(text)}}};
  assert_int_equal(omen_upsert(c, id, strlen(id), v, &f, 1), OMEN_OK);
}

/* The ids of the hits of a text search, space-separated, best first. */
static const char *hits_of(omen_coll *c, omen_result *r, const char *text)
{
  static char out[256];
  omen_search_opts o;
  omen_search_opts_init(&o, 10);
  o.text = text;
  assert_int_equal(omen_search(c, NULL, &o, r), OMEN_OK);
  size_t at = 0;
  out[0] = '\0';
  for (size_t i = 0; i < omen_result_count(r); i++) {
    const omen_hit *h = omen_result_hit(r, i);
    at += (size_t)snprintf(out + at, sizeof out - at, "%s%.*s", i ? " " : "", (int)h->id.len,
                           h->id.ptr);
  }
  return out;
}

static void t_tokenizers(void **state)
{
  (void)state;
  omen_db *db = tu_open(NULL, 0);
  omen_result *r;
  assert_int_equal(omen_result_new(db, &r), OMEN_OK);
  omen_coll_config cc;
  omen_coll_config_init(&cc, RDIM);
  static const char *const names[] = {"plain", "porter", "stop", "tri"};
  const omen_str the[] = {{"The", 3}};
  omen_coll *cs[4];
  for (int i = 0; i < 4; i++) {
    omen_text_config cfg;
    omen_text_config_init(&cfg, "body");
    cfg.stemmer = i == 1 ? "porter" : NULL;
    cfg.stopwords = i == 2 ? the : NULL;
    cfg.n_stopwords = i == 2;
    cfg.tokenizer = i == 3 ? "trigram" : NULL;
    assert_int_equal(omen_coll_create(db, names[i], &cc, &cs[i]), OMEN_OK);
    assert_int_equal(omen_text_index(cs[i], &cfg), OMEN_OK);
  }
  omen_coll *plain = cs[0], *porter = cs[1], *stop = cs[2], *tri = cs[3];

  put_text(plain, "accents", "Café RÉSUMÉ naïve");
  put_text(plain, "bare", "cafe");
  put_text(plain, "runner", "running runs");
  put_text(plain, "other", "something else entirely");
  assert_string_equal(hits_of(plain, r, "cafe resume"), "accents bare");
  assert_string_equal(hits_of(plain, r, "NAÏVE"), "accents");
  assert_string_equal(hits_of(plain, r, "run"), ""); /* no stemming by default */

  put_text(porter, "runner", "running runs");
  put_text(porter, "walker", "walked");
  assert_string_equal(hits_of(porter, r, "run"), "runner");
  assert_string_equal(hits_of(porter, r, "walking"), "walker");

  put_text(stop, "many", "the the THE cat");
  put_text(stop, "one", "cat");
  put_text(stop, "dog", "the dog");
  assert_string_equal(hits_of(stop, r, "the"), "");
  hits_of(stop, r, "the cat");
  assert_int_equal(omen_result_count(r), 2);
  /* Stopwords are not counted in a document's length either. */
  assert_true(omen_result_hit(r, 0)->score == omen_result_hit(r, 1)->score);
  /* In a phrase, a stopword is left out but keeps its place; a phrase
  ** left with one word is that word. */
  put_text(stop, "dtc", "dog the cat");
  put_text(stop, "dxc", "dog x cat");
  put_text(stop, "dc", "dog cat");
  put_text(stop, "tdc", "the dog, the THE cat");
  assert_string_equal(hits_of(stop, r, "\"dog the cat\""), "dtc dxc");
  assert_string_equal(hits_of(stop, r, "\"the dog the the cat\""), "tdc");
  assert_string_equal(hits_of(stop, r, "\"dog cat\""), "dc");
  assert_string_equal(hits_of(stop, r, "+\"THE dog\" -cat"), "dog");
  assert_string_equal(hits_of(stop, r, "\"the the\""), "");
  put_text(tri, "ident", "omen_search_opts");
  put_text(tri, "prose", "research notes");
  /* A word of several trigrams is a phrase, as in FTS5: a substring, quoted
  ** or not; two words are two substrings, either of which may match. */
  assert_string_equal(hits_of(tri, r, "_SEARCH_"), "ident");
  assert_string_equal(hits_of(tri, r, "\"_SEARCH_\""), "ident");
  assert_string_equal(hits_of(tri, r, "_search notes"), "prose ident");
  assert_string_equal(hits_of(tri, r, "\"notes research\""), "");
  assert_string_equal(hits_of(tri, r, "\"arch not\""), "prose");
  for (int i = 0; i < 4; i++) omen_coll_close(cs[i]);
  omen_result_free(r);
  assert_int_equal(omen_close(db), OMEN_OK);
}

/* -- 9. A file database ------------------------------------------------------- */

static void check_file_queries(env *e, uint64_t seed, const char *when)
{
  uint64_t s = seed;
  snprintf(phase, sizeof phase, "%s", when);
  check_random_queries(e, &s, 25, 1, NULL, NULL, NULL);
  phase[0] = '\0';
}

static void t_file(void **state)
{
  (void)state;
  char path[128];
  snprintf(path, sizeof path, "/tmp/omen-test-text-%d.omen", (int)getpid());
  tu_remove_db(path);
  env e;
  env_open(&e, path, 1500, 100);
  uint64_t s = 81;
  for (size_t i = 0; i < 600; i++) put_random(&e, i, &s, -1);
  index_body(e.c);
  for (int i = 0; i < 800; i++) random_write(&e.m, &e.z, e.c, &s);
  check_file_queries(&e, 1, "before closing");
  db_close(&e);
  db_open(&e, path);
  assert_int_equal(omen_verify(e.db), OMEN_OK);
  check_file_queries(&e, 2, "after reopening");
  for (int i = 0; i < 300; i++) random_write(&e.m, &e.z, e.c, &s);
  assert_int_equal(omen_checkpoint(e.db), OMEN_OK);
  check_file_queries(&e, 3, "after a checkpoint");
  db_close(&e);

  /* A child writes, indexes a new collection, and dies: all in the log. */
  model d = {calloc(200, sizeof(rec)), 200};
  uint64_t child_s = s;
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    omen_db *db;
    omen_coll *c, *dc;
    omen_coll_config cfg;
    omen_coll_config_init(&cfg, RDIM);
    if (omen_open(path, NULL, &db) || omen_coll_open(db, "c", &c) ||
        omen_coll_create(db, "d", &cfg, &dc))
      _exit(2);
    for (int i = 0; i < 300; i++) random_write(&e.m, &e.z, c, &child_s);
    for (size_t i = 0; i < d.n; i++) {
      if (i == 120) index_body(dc);
      rec_random(&d.r[i], &child_s, &e.z, TXT_STRING, MAX_WORDS);
      if (rec_put(dc, i, &d.r[i])) _exit(3);
    }
    _exit(0);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  char wal[160];
  struct stat st;
  snprintf(wal, sizeof wal, "%s-wal", path);
  assert_true(stat(wal, &st) == 0 && st.st_size > 0);
  for (int i = 0; i < 300; i++) random_write(&e.m, &e.z, NULL, &s);
  for (size_t i = 0; i < d.n; i++) rec_random(&d.r[i], &s, &e.z, TXT_STRING, MAX_WORDS);
  for (int round = 0; round < 2; round++) { /* the log replayed, then the file */
    db_open(&e, path);
    assert_int_equal(omen_verify(e.db), OMEN_OK);
    check_file_queries(&e, 4, round ? "after the replay's checkpoint" : "the log replayed");
    env de = e;
    de.m = d;
    assert_int_equal(omen_coll_open(e.db, "d", &de.c), OMEN_OK);
    check_file_queries(&de, 5, "collection d, indexed in the log");
    omen_coll_close(de.c);
    db_close(&e);
  }
  free(d.r);
  free(e.m.r);
  free(e.z.cdf);
  tu_remove_db(path);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(t_bm25_random), cmocka_unit_test(t_pruning),
    cmocka_unit_test(t_required_excluded), cmocka_unit_test(t_phrases),
    cmocka_unit_test(t_index_api),
    cmocka_unit_test(t_filters), cmocka_unit_test(t_fusion),
    cmocka_unit_test(t_tokenizers), cmocka_unit_test(t_file),
    cmocka_unit_test(t_updates), /* the longest, last */
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
