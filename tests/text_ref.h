/*
** The brute-force reference of tests/test_text.c. A model of a
** collection's records, whose text is made of word ids spelled as
** lower-case ASCII words ("w" and base-26 letters) separated by single
** spaces, so that the engine's unicode61 tokenizer yields exactly those
** words; the metadata the engine receives for each record; queries of
** words and quoted phrases; BM25 computed naively from its definition (a
** phrase found by scanning each string's words, scoring as one term, as in
** SQLite FTS5); and the comparison of a search's hits with reference
** scores, ties aside.
*/
#ifndef OMEN_TEXT_REF_H
#define OMEN_TEXT_REF_H

#include "testutil.h"

#define RDIM 8          /* the vectors' dimension */
#define MAX_WORDS 60    /* words of a document */
#define MAX_QTERMS 8    /* terms of a query */
#define ABSENT 100000   /* word ids from here on are in no document */

/* How a record holds the text field "body". An empty string is a
** TXT_STRING of no words. */
enum { TXT_NONE, TXT_NUMBER, TXT_STRING, TXT_ARRAY };

typedef struct rec {
  int live, kind, n_words;
  int n_parts, cut[5];   /* TXT_ARRAY: part j holds words cut[j] .. cut[j+1) */
  int words[MAX_WORDS];
  float vec[RDIM];
  double cat;            /* the metadata field "cat", for filters */
} rec;

/* Records by number: record i has the id "r<i>". */
typedef struct model {
  rec *r;
  size_t n;
} model;

/* Word ids drawn with probability ~ 1 / (rank + 1): a few words are in
** most documents, most are rare. */
typedef struct zipf {
  double *cdf;
  int n;
} zipf;

static void zipf_init(zipf *z, int n)
{
  z->n = n;
  z->cdf = malloc((size_t)n * sizeof *z->cdf);
  double sum = 0;
  for (int i = 0; i < n; i++) z->cdf[i] = sum += 1.0 / (i + 1);
  for (int i = 0; i < n; i++) z->cdf[i] /= sum;
}

static int zipf_draw(const zipf *z, uint64_t *s)
{
  double u = tu_uniform(s);
  int lo = 0, hi = z->n - 1;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (z->cdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static size_t word_name(int w, char *out)
{
  size_t n = 0;
  out[n++] = 'w';
  do {
    out[n++] = (char)('a' + w % 26);
    w /= 26;
  } while (w);
  out[n] = '\0';
  return n;
}

/* A random record of `kind` with 0 .. max_words words. */
static void rec_random(rec *r, uint64_t *s, const zipf *z, int kind, int max_words)
{
  memset(r, 0, sizeof *r);
  r->live = 1;
  r->kind = kind;
  r->cat = (double)(tu_next(s) % 50);
  tu_random_vec(s, r->vec, RDIM);
  if (kind != TXT_STRING && kind != TXT_ARRAY) return;
  r->n_words = (int)(tu_next(s) % (uint64_t)(max_words + 1));
  for (int i = 0; i < r->n_words; i++) r->words[i] = zipf_draw(z, s);
  if (kind == TXT_ARRAY) { /* 0 .. 4 parts, some maybe empty */
    r->n_parts = r->n_words ? 1 + (int)(tu_next(s) % 4) : (int)(tu_next(s) % 3);
    for (int j = 1; j < r->n_parts; j++) r->cut[j] = (int)(tu_next(s) % (uint64_t)(r->n_words + 1));
    r->cut[r->n_parts] = r->n_words;
    for (int j = 1; j < r->n_parts; j++) /* ascending */
      for (int i = j; i > 1 && r->cut[i - 1] > r->cut[i]; i--) {
        int x = r->cut[i];
        r->cut[i] = r->cut[i - 1];
        r->cut[i - 1] = x;
      }
  }
}

/* The metadata of a record as omen_upsert takes it (pointing into mb). */
typedef struct meta_buf {
  char text[MAX_WORDS * 8];
  size_t start[MAX_WORDS + 1];  /* where each word begins; [n] the end + 1 */
  omen_str parts[4];
  omen_field f[2];
  size_t n;
} meta_buf;

static void rec_meta(const rec *r, meta_buf *mb)
{
  size_t len = 0;
  for (int i = 0; i < r->n_words; i++) {
    mb->start[i] = len;
    len += word_name(r->words[i], mb->text + len);
    mb->text[len++] = ' ';
  }
  mb->start[r->n_words] = len;
  size_t text_len = len ? len - 1 : 0;
  mb->f[0] = (omen_field){{"cat", 3}, {.type = OMEN_NUMBER, .u.number = r->cat}};
  mb->f[1].key = (omen_str){"body", 4};
  mb->n = r->kind == TXT_NONE ? 1 : 2;
  if (r->kind == TXT_NUMBER) {
    mb->f[1].value = (omen_value){.type = OMEN_NUMBER, .u.number = 42};
  } else if (r->kind == TXT_STRING) {
    mb->f[1].value = (omen_value){.type = OMEN_STRING, .u.string = {mb->text, text_len}};
  } else if (r->kind == TXT_ARRAY) {
    for (int j = 0; j < r->n_parts; j++) {
      size_t a = mb->start[r->cut[j]], b = mb->start[r->cut[j + 1]];
      mb->parts[j] = (omen_str){mb->text + a, b > a ? b - a - 1 : 0};
    }
    mb->f[1].value = (omen_value){.type = OMEN_STRINGS,
                                  .u.strings = {r->n_parts ? mb->parts : NULL,
                                                (size_t)r->n_parts}};
  }
}

static int rec_put(omen_coll *c, size_t i, const rec *r)
{
  char id[24];
  meta_buf mb;
  rec_meta(r, &mb);
  snprintf(id, sizeof id, "r%zu", i);
  return omen_upsert(c, id, strlen(id), r->vec, mb.f, mb.n);
}

/* -- Queries ---------------------------------------------------------------- */

enum { ANY, MUST, NOT };

#define MAX_PHRASE 3    /* words of a quoted run */

/* Terms, each a word or a quoted run of words (a phrase: the words one
** after the other; a run of one word is that word), with their modes. */
typedef struct query {
  int word[MAX_QTERMS][MAX_PHRASE], len[MAX_QTERMS], mode[MAX_QTERMS], n;
  char text[MAX_QTERMS * 24];
} query;

/* Add the term of the n words w, quoted or not (a word alone). */
static void query_add_run(query *q, const int *w, int n, int quoted, int mode)
{
  assert_true(q->n < MAX_QTERMS && n >= 1 && n <= MAX_PHRASE && (quoted || n == 1));
  size_t at = strlen(q->text);
  if (at) q->text[at++] = ' ';
  if (mode != ANY) q->text[at++] = mode == MUST ? '+' : '-';
  if (quoted) q->text[at++] = '"';
  for (int i = 0; i < n; i++) {
    if (i) q->text[at++] = ' ';
    at += word_name(w[i], q->text + at);
    q->word[q->n][i] = w[i];
  }
  if (quoted) q->text[at++] = '"';
  q->text[at] = '\0';
  q->len[q->n] = n;
  q->mode[q->n++] = mode;
}

static void query_add(query *q, int word, int mode) { query_add_run(q, &word, 1, 0, mode); }

static void query_add_phrase(query *q, const int *w, int n, int mode)
{
  query_add_run(q, w, n, 1, mode);
}

/* Whether term i of q is the n words w. */
static int query_term_is(const query *q, int i, const int *w, int n)
{
  return q->len[i] == n && !memcmp(q->word[i], w, (size_t)n * sizeof *w);
}

static int query_has_run(const query *q, const int *w, int n)
{
  for (int i = 0; i < q->n; i++)
    if (query_term_is(q, i, w, n)) return 1;
  return 0;
}

/* n words for a phrase: mostly a run of a document of m (so that it
** matches, or spans two strings of an array), or one word repeated ("a a"),
** or words of the vocabulary drawn uniformly (rarely in a document in
** that order), some with a word in no document. */
static void phrase_random(int *w, int n, uint64_t *s, const zipf *z, const model *m)
{
  uint64_t r = tu_next(s) % 100;
  if (r < 55 && m->n)
    for (int tries = 0; tries < 30; tries++) {
      const rec *d = &m->r[tu_next(s) % m->n];
      if (!d->live || d->n_words < n) continue;
      int at = (int)(tu_next(s) % (uint64_t)(d->n_words - n + 1));
      for (int i = 0; i < n; i++) w[i] = d->words[at + i];
      return;
    }
  int one = zipf_draw(z, s);
  for (int i = 0; i < n; i++) w[i] = r < 70 ? one : (int)(tu_next(s) % (uint64_t)z->n);
  if (r >= 90) w[tu_next(s) % (uint64_t)n] = ABSENT + (int)(tu_next(s) % 50);
}

/* 1 .. max_terms terms: words mostly from the corpus' distribution, some
** absent, some named twice; with m, also quoted runs (phrases of 2 or 3
** words, see phrase_random, and now and then a quoted word); with signs,
** some "+required" and "-excluded" (terms the query names once). */
static void query_random(query *q, uint64_t *s, const zipf *z, const model *m, int max_terms,
                         int signs)
{
  memset(q, 0, sizeof *q);
  int n = 1 + (int)(tu_next(s) % (uint64_t)max_terms);
  for (int i = 0; i < n; i++) {
    int w[MAX_PHRASE], len = 1, quoted = 0;
    uint64_t r = tu_next(s) % 100;
    if (r < 20 && q->n) { /* a term again */
      int j = (int)(tu_next(s) % (uint64_t)q->n);
      len = q->len[j];
      memcpy(w, q->word[j], sizeof w);
      quoted = len > 1 || tu_next(s) % 2;
    } else if (m && r < 45) {
      len = tu_next(s) % 10 ? 2 + (int)(tu_next(s) % 2) : 1;
      quoted = 1;
      phrase_random(w, len, s, z, m);
    } else {
      w[0] = tu_next(s) % 8 ? zipf_draw(z, s) : ABSENT + (int)(tu_next(s) % 50);
    }
    int mode = ANY;
    if (signs && !query_has_run(q, w, len)) {
      uint64_t x = tu_next(s) % 4;
      mode = x == 0 ? MUST : x == 1 ? NOT : ANY;
    }
    if (mode == ANY)
      for (int j = 0; j < q->n; j++) /* named again: only next to plain terms */
        if (query_term_is(q, j, w, len) && q->mode[j] != ANY) mode = -1;
    if (mode >= 0) query_add_run(q, w, len, quoted, mode);
  }
}

/* -- BM25 ------------------------------------------------------------------- */

static int has_text(const rec *r)
{
  return r->live && (r->kind == TXT_STRING || r->kind == TXT_ARRAY);
}

/* How often the n words w stand one after the other in r's text, string by
** string (overlapping places count). A word alone: how often r holds it. */
static int run_tf(const rec *r, const int *w, int n)
{
  int tf = 0, parts = r->kind == TXT_ARRAY ? r->n_parts : 1;
  for (int j = 0; j < parts; j++) {
    int from = r->kind == TXT_ARRAY ? r->cut[j] : 0;
    int to = r->kind == TXT_ARRAY ? r->cut[j + 1] : r->n_words;
    for (int i = from; i + n <= to; i++) {
      int k = 0;
      while (k < n && r->words[i + k] == w[k]) k++;
      tf += k == n;
    }
  }
  return tf;
}

/* score[i]: record i's BM25 for q if it is a hit (keep lets it through,
** it holds every required term and no excluded one, and some scored term),
** else -1. A phrase is a term: its tf where it stands in a document, its
** df the documents where it stands. Returns the number of hits. */
static size_t ref_scores(const model *m, const query *q, double k1, double b,
                         int (*keep)(const rec *, const void *), const void *ud,
                         double *score)
{
  int word[MAX_QTERMS][MAX_PHRASE], len[MAX_QTERMS], mode[MAX_QTERMS], n = 0;
  double times[MAX_QTERMS], df[MAX_QTERMS] = {0};
  for (int i = 0; i < q->n; i++) { /* distinct terms, each with its weight */
    int j = 0;
    while (j < n && !(len[j] == q->len[i] &&
                      !memcmp(word[j], q->word[i], (size_t)len[j] * sizeof(int))))
      j++;
    if (j == n) {
      memcpy(word[n], q->word[i], sizeof word[n]);
      len[n] = q->len[i];
      mode[n] = q->mode[i];
      times[n++] = 0;
    }
    times[j] += q->mode[i] != NOT;
  }
  double N = 0, total = 0;
  for (size_t d = 0; d < m->n; d++) {
    const rec *r = &m->r[d];
    if (!has_text(r)) continue;
    N++;
    total += r->n_words;
    for (int j = 0; j < n; j++) df[j] += run_tf(r, word[j], len[j]) > 0;
  }
  double avg = N ? total / N : 0;
  size_t hits = 0;
  for (size_t d = 0; d < m->n; d++) {
    const rec *r = &m->r[d];
    score[d] = -1;
    if (!has_text(r) || (keep && !keep(r, ud))) continue;
    double s = 0;
    int ok = 1, scored = 0;
    for (int j = 0; j < n && ok; j++) {
      double tf = run_tf(r, word[j], len[j]);
      if (mode[j] == MUST && !tf) ok = 0;
      if (mode[j] == NOT && tf) ok = 0;
      if (mode[j] == NOT || !tf) continue;
      double idf = log((N - df[j] + 0.5) / (df[j] + 0.5));
      if (idf <= 0) idf = 1e-6;
      s += idf * times[j] * tf * (k1 + 1) / (tf + k1 * (1 - b + b * r->n_words / avg));
      scored = 1;
    }
    if (ok && scored) {
      score[d] = s;
      hits++;
    }
  }
  return hits;
}

/* -- Comparing hits ----------------------------------------------------------- */

static size_t hit_rec(const omen_hit *h)
{
  size_t i = 0;
  assert_true(h->id.len > 1 && h->id.ptr[0] == 'r');
  for (size_t j = 1; j < h->id.len; j++) i = i * 10 + (size_t)(h->id.ptr[j] - '0');
  return i;
}

static int by_desc(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x > y ? -1 : x < y;
}

static int near(double got, double want, double rel)
{
  return fabs(got - want) <= rel * fabs(want) + 1e-12;
}

/* The hits in res are a top k of the n records' scores `want` (-1: not a
** hit), ties aside: as many as there are up to k, best first, each
** scoring as the reference says (within rel), the scores those of the
** reference's top k, and no record left out scoring more than the last. */
static void check_topk(const omen_result *res, const double *want, size_t n, uint32_t k,
                       double rel, const char *what)
{
  double *best = malloc((n + 1) * sizeof *best);
  char *taken = calloc(n + 1, 1);
  size_t hits = 0;
  for (size_t i = 0; i < n; i++)
    if (want[i] >= 0) best[hits++] = want[i];
  qsort(best, hits, sizeof *best, by_desc);
  size_t expect = hits < k ? hits : k, got = omen_result_count(res);
  if (got != expect)
    fail_msg("%s, k %u: %zu hits, the reference has %zu", what, k, got, expect);
  double last = INFINITY;
  for (size_t i = 0; i < got; i++) {
    const omen_hit *h = omen_result_hit(res, i);
    size_t d = hit_rec(h);
    if (d >= n || want[d] < 0 || taken[d])
      fail_msg("%s, k %u: hit %zu (r%zu) is not a hit of the reference, or again", what,
               k, i, d);
    if (!near(h->score, want[d], rel) || !near(want[d], best[i], rel) || h->score > last)
      fail_msg("%s, k %u: hit %zu (r%zu) scores %.9g, the reference %.9g; its %zu-th "
               "best is %.9g", what, k, i, d, (double)h->score, want[d], i + 1, best[i]);
    taken[d] = 1;
    last = h->score;
  }
  double floor_ = expect ? best[expect - 1] : INFINITY;
  for (size_t d = 0; d < n; d++)
    if (want[d] >= 0 && !taken[d] && want[d] > floor_ + rel * floor_ + 1e-12)
      fail_msg("%s, k %u: r%zu (%.9g) left out above the last hit (%.9g)", what, k, d,
               want[d], floor_);
  free(best);
  free(taken);
}

#endif
