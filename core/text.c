/*
** Full-text index: the dictionary, the documents, writes and merges (see
** text.h), and BM25 top-k searches over it.
**
** Searches score as SQLite FTS5's bm25() does, but higher is better:
**   score(d) = sum over query terms t in d of
**              idf(t) * tf (k1 + 1) / (tf + k1 (1 - b + b len(d) / avglen))
**   idf(t)   = ln((N - df + 0.5) / (df + 0.5)), or 1e-6 where that is <= 0
** with N the documents and avglen their mean length in tokens. They prune
** as MaxScore does, with each block's bound (postings.h): once k documents
** are held, a term whose bound and those of all weaker terms together
** cannot lift a document past the k-th only scores documents that the
** stronger terms bring, and a document whose sure part plus the bounds of
** the blocks it falls in cannot pass the k-th is dropped unscored.
**
** Calls: tokenize, postings, meta, mem.
*/
#include "port.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "error.h"
#include "search.h"
#include "text.h"

#define NO_TAIL 0u

/* -- Settings ------------------------------------------------------------------ */

void omen_text_config_init(omen_text_config *cfg, const char *name)
{
  memset(cfg, 0, sizeof *cfg);
  cfg->field.ptr = name;
  cfg->field.len = name ? strlen(name) : 0;
  cfg->remove_diacritics = -1;
  cfg->k1 = 1.2;
  cfg->b = 0.75;
}

static int tok_kind(const char *name)
{
  if (!name || !strcmp(name, "unicode61")) return OMEN__TOK_UNICODE61;
  if (!strcmp(name, "trigram")) return OMEN__TOK_TRIGRAM;
  return 0; /* an application's */
}

/* -- Tokenizing ------------------------------------------------------------------
** Built-in tokenizers are called directly; an application's through a
** sink, with the thread marked (error.h) so that it cannot call back in. */

static _Thread_local char last_error[320];

const char *omen__text_error(void) { return last_error; }

struct omen_token_sink {
  omen__term_fn fn;
  void *ud;
  uint32_t pos;
  int rc;                 /* what fn said, once nonzero */
};

int omen_token_emit(omen_token_sink *s, const char *term, size_t len)
{
  if (!s || s->rc || !term || !len) return s ? s->rc : OMEN_INVALID;
  if (len > OMEN__MAX_TERM) { /* cut before a character that does not fit */
    size_t cut = OMEN__MAX_TERM;
    while (cut && ((unsigned char)term[cut] & 0xc0) == 0x80) cut--;
    len = cut ? cut : OMEN__MAX_TERM; /* no boundary in reach: cut the bytes */
  }
  return s->rc = s->fn(s->ud, term, len, s->pos++);
}

void omen_token_error(omen_token_sink *s, const char *msg)
{
  (void)s;
  snprintf(last_error, sizeof last_error, "%s", msg ? msg : "");
}

static int text_tokenize(const omen__text *t, const char *text, size_t len,
                         omen__term_fn fn, void *ud)
{
  if (!t->custom[0]) return omen__tokenize(&t->tok, text, len, fn, ud);
  if (!t->custom_fn) {
    snprintf(last_error, sizeof last_error, "tokenizer '%s' is not registered with "
             "this database (omen_options.tokenizers)", t->custom);
    return OMEN_INVALID;
  }
  omen_token_sink s = {fn, ud, 0, 0};
  last_error[0] = 0;
  omen__callback_enter();
  int r = t->custom_fn(t->custom_ud, text, len, &s);
  omen__callback_leave();
  if (s.rc) return s.rc;
  if (!r) return OMEN_OK;
  char why[160];
  size_t n = strlen(last_error) < sizeof why - 1 ? strlen(last_error) : sizeof why - 1;
  memcpy(why, last_error, n); /* the tokenizer's own words, kept short */
  why[n] = 0;
  snprintf(last_error, sizeof last_error, "tokenizer '%s' failed%s%s", t->custom,
           why[0] ? ": " : "", why);
  return OMEN_INVALID;
}

static int stemmer(const char *name)
{
  if (!name || !strcmp(name, "none")) return 0;
  if (!strcmp(name, "porter")) return 1;
  return -1;
}

int omen__text_check(const omen_text_config *cfg, char *err, size_t cap)
{
  const char *why = NULL;
  if (!cfg->field.ptr || cfg->field.len < 1 || cfg->field.len > OMEN__MAX_KEY)
    why = "the text field needs a name of 1 to 255 bytes";
  else if (!tok_kind(cfg->tokenizer) &&
           (!cfg->tokenizer[0] || strlen(cfg->tokenizer) > OMEN__MAX_TOKNAME))
    why = "a tokenizer's name is 1 to 64 bytes";
  else if (stemmer(cfg->stemmer) < 0)
    why = "unknown stemmer (none or porter)";
  else if (stemmer(cfg->stemmer) && tok_kind(cfg->tokenizer) != OMEN__TOK_UNICODE61)
    why = "the porter stemmer goes with the unicode61 tokenizer";
  else if (cfg->case_sensitive && tok_kind(cfg->tokenizer) != OMEN__TOK_TRIGRAM)
    why = "case_sensitive goes with the trigram tokenizer";
  else if (cfg->remove_diacritics < -1 || cfg->remove_diacritics > 3)
    why = "remove_diacritics is 0, 1, 2 or 3 (-1: the tokenizer's default)";
  else if (!(cfg->k1 >= 0 && cfg->k1 <= 1000))
    why = "k1 must be a number from 0 to 1000";
  else if (!(cfg->b >= 0 && cfg->b <= 1))
    why = "b must be a number from 0 to 1";
  else if (cfg->n_stopwords && !cfg->stopwords)
    why = "stopwords are missing";
  else if (cfg->n_stopwords > OMEN__MAX_KEYS)
    why = "65,536 stopwords at most";
  for (size_t i = 0; !why && i < cfg->n_stopwords; i++)
    if (!cfg->stopwords[i].ptr || !cfg->stopwords[i].len ||
        cfg->stopwords[i].len > OMEN__MAX_TERM)
      why = "a stopword is 1 to 255 bytes";
  if (why) snprintf(err, cap, "%s", why);
  return why ? OMEN_INVALID : OMEN_OK;
}

/* Add each term of a stopword to the stop list. */
static int stop_term(void *ud, const char *term, size_t len, uint32_t pos)
{
  (void)pos;
  void **a = ud;
  uint32_t key;
  return omen__keys_intern(a[0], a[1], term, len, &key);
}

int omen__text_new(const omen__mem *m, const omen_text_config *cfg, int terms,
                   omen__text **out)
{
  omen__text *t = omen__calloc(m, sizeof *t);
  if (!t) return OMEN_NOMEM;
  memcpy(t->field, cfg->field.ptr, cfg->field.len);
  t->field_len = (uint32_t)cfg->field.len;
  t->tok.kind = (omen__tok_kind)tok_kind(cfg->tokenizer);
  if (!t->tok.kind) { /* an application's: its terms are taken as they come */
    snprintf(t->custom, sizeof t->custom, "%s", cfg->tokenizer);
    t->tok.kind = OMEN__TOK_UNICODE61;
    terms = 1;
  }
  /* The tokenizer's own default, as in FTS5: unicode61 removes them. */
  int diacritics = cfg->remove_diacritics >= 0 ? cfg->remove_diacritics
                                               : t->tok.kind == OMEN__TOK_UNICODE61;
  t->tok.diacritics = (uint8_t)diacritics;
  t->tok.porter = (uint8_t)stemmer(cfg->stemmer);
  t->tok.case_sensitive = cfg->case_sensitive != 0;
  t->k1 = cfg->k1;
  t->b = cfg->b;
  t->terms.limit = OMEN__MAX_TERMS;
  void *ud[2] = {(void *)m, &t->stop};
  int rc = OMEN_OK;
  for (size_t i = 0; i < cfg->n_stopwords && !rc; i++)
    rc = terms ? stop_term(ud, cfg->stopwords[i].ptr, cfg->stopwords[i].len, 0)
               : text_tokenize(t, cfg->stopwords[i].ptr, cfg->stopwords[i].len,
                               stop_term, ud);
  if (rc) {
    omen__text_free(m, t);
    return rc;
  }
  *out = t;
  return OMEN_OK;
}

/*   settings := u32 field length, field, u32 tokenizer, u32 diacritics,
**               u32 porter, u32 case_sensitive, f64 k1, f64 b,
**               u32 stopwords, (u32 length, term) per stopword,
**               u32 length, the application's tokenizer's name (or 0) */
size_t omen__text_settings_size(const omen__text *t)
{
  return 4 + t->field_len + 16 + 16 + 4 + (size_t)t->stop.n * 4 + t->stop.names_used + 4 +
         strlen(t->custom);
}

static uint8_t *put_u32(uint8_t *p, uint32_t v)
{
  memcpy(p, &v, 4);
  return p + 4;
}

void omen__text_settings_write(const omen__text *t, uint8_t *p)
{
  p = put_u32(p, t->field_len);
  memcpy(p, t->field, t->field_len);
  p += t->field_len;
  uint32_t u[] = {t->tok.kind, t->tok.diacritics, t->tok.porter, t->tok.case_sensitive};
  for (size_t i = 0; i < 4; i++) p = put_u32(p, u[i]);
  memcpy(p, &t->k1, 8);
  memcpy(p + 8, &t->b, 8);
  p = put_u32(p + 16, t->stop.n);
  for (uint32_t i = 0; i < t->stop.n; i++) {
    size_t len;
    const char *name = omen__keys_name(&t->stop, i, &len);
    p = put_u32(p, (uint32_t)len);
    memcpy(p, name, len);
    p += len;
  }
  size_t custom = strlen(t->custom);
  p = put_u32(p, (uint32_t)custom);
  memcpy(p, t->custom, custom);
}

int omen__text_settings_read(const omen__mem *m, const uint8_t *p, size_t n,
                             omen__text **out)
{
  omen__cursor c = {p, p + n, 0};
  omen_text_config cfg;
  omen_text_config_init(&cfg, NULL);
  cfg.field.len = omen__take_u32(&c);
  cfg.field.ptr = cfg.field.len <= OMEN__MAX_KEY ? (const char *)omen__take(&c, cfg.field.len)
                                                 : NULL;
  uint32_t kind = omen__take_u32(&c), diacritics = omen__take_u32(&c);
  uint32_t porter = omen__take_u32(&c), cased = omen__take_u32(&c);
  const uint8_t *k1 = omen__take(&c, 8), *b = omen__take(&c, 8);
  uint32_t n_stop = omen__take_u32(&c);
  if (c.bad || !cfg.field.ptr || n_stop > n / 4 || porter > 1 || cased > 1 ||
      (kind != OMEN__TOK_UNICODE61 && kind != OMEN__TOK_TRIGRAM) || diacritics > 3)
    return OMEN_CORRUPT;
  cfg.tokenizer = kind == OMEN__TOK_TRIGRAM ? "trigram" : "unicode61";
  cfg.stemmer = porter ? "porter" : "none";
  cfg.remove_diacritics = (int)diacritics;
  cfg.case_sensitive = (int)cased;
  memcpy(&cfg.k1, k1, 8);
  memcpy(&cfg.b, b, 8);
  omen_str *stop = omen__malloc(m, (n_stop ? n_stop : 1) * sizeof *stop);
  if (!stop) return OMEN_NOMEM;
  for (uint32_t i = 0; i < n_stop; i++) {
    stop[i].len = omen__take_u32(&c);
    stop[i].ptr = stop[i].len && stop[i].len <= OMEN__MAX_TERM
                      ? (const char *)omen__take(&c, stop[i].len) : NULL;
    if (!stop[i].ptr) c.bad = 1;
  }
  cfg.stopwords = stop;
  cfg.n_stopwords = n_stop;
  char custom[OMEN__MAX_TOKNAME + 1];
  uint32_t custom_len = omen__take_u32(&c);
  const uint8_t *name = custom_len <= OMEN__MAX_TOKNAME ? omen__take(&c, custom_len) : NULL;
  if (!name) c.bad = 1;
  else if (custom_len) {
    memcpy(custom, name, custom_len);
    custom[custom_len] = 0;
    if (!memchr(custom, 0, custom_len) && !tok_kind(custom) && !porter)
      cfg.tokenizer = custom;
    else c.bad = 1;
  }
  char err[128];
  int rc = c.bad || c.p != c.end || omen__text_check(&cfg, err, sizeof err)
               ? OMEN_CORRUPT : omen__text_new(m, &cfg, 1, out);
  omen__free(m, stop, (n_stop ? n_stop : 1) * sizeof *stop);
  return rc;
}

static void free_tails(const omen__mem *m, omen__text *t)
{
  for (uint32_t i = 0; i < t->n_tails; i++)
    omen__free(m, t->tails[i].p, t->tails[i].cap * sizeof(omen__posting));
  omen__free(m, t->tails, t->cap_tails * sizeof(omen__tlist));
  t->tails = NULL;
  t->n_tails = t->cap_tails = 0;
  t->tail_postings = 0;
  if (t->n_stamp) memset(t->tail_of.p, 0, t->n_stamp * sizeof(uint32_t));
}

void omen__text_free(const omen__mem *m, omen__text *t)
{
  if (!t) return;
  free_tails(m, t);
  omen__keys_free(m, &t->stop);
  omen__keys_free(m, &t->terms);
  omen__buf *bufs[] = {&t->post, &t->count, &t->df, &t->heap, &t->len,
                       &t->tail_of, &t->stamp, &t->tf};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) omen__buf_free(m, bufs[i]);
  omen__free(m, t, sizeof *t);
}

/* -- Documents ------------------------------------------------------------------ */

static uint32_t *lens(const omen__text *t) { return t->len.p; }
static uint32_t *dfs(const omen__text *t) { return t->df.p; }

/* Call fn on every term of the record's text (the field's string, or each
** string of an array in turn); *has says whether the record has the field
** as text. */
static int walk_text(const omen__text *t, const omen__keys *keys, const uint8_t *meta,
                     size_t meta_len, omen__term_fn fn, void *ud, int *has)
{
  *has = 0;
  uint32_t want = omen__keys_find(keys, t->field, t->field_len);
  omen__meta_it it;
  uint64_t n;
  if (want == UINT32_MAX || omen__meta_open(&it, meta, meta_len, &n)) return OMEN_OK;
  for (uint64_t i = 0; i < n; i++) {
    uint32_t key;
    omen_value v;
    const uint8_t *raw;
    size_t raw_len;
    if (omen__meta_next(&it, &key, &v, &raw, &raw_len)) return OMEN_CORRUPT;
    if (key != want) continue;
    if (v.type == OMEN_STRING) {
      *has = 1;
      return text_tokenize(t, v.u.string.ptr, v.u.string.len, fn, ud);
    }
    if (v.type != OMEN_STRINGS) return OMEN_OK;
    *has = 1;
    const uint8_t *p = raw, *end = raw + raw_len;
    for (size_t j = 0; j < v.u.strings.n; j++) {
      omen_str s;
      int rc = omen__meta_next_string(&p, end, &s);
      if (!rc) rc = text_tokenize(t, s.ptr, s.len, fn, ud);
      if (rc) return rc;
    }
    return OMEN_OK;
  }
  return OMEN_OK;
}

static int stopped(const omen__text *t, const char *term, size_t len)
{
  return t->stop.n && omen__keys_find(&t->stop, term, len) != UINT32_MAX;
}

/* A new stamp epoch for the per-term work space (cleared on wrap). */
static uint32_t next_epoch(omen__text *t)
{
  if (++t->epoch == 0) {
    memset(t->stamp.p, 0, t->n_stamp * sizeof(uint32_t));
    t->epoch = 1;
  }
  return t->epoch;
}

/* Grow n-entry arrays of `size`-byte items, the first `old` kept, to
** cover `n`; new entries are zero. */
static int grow_zeroed(const omen__mem *m, omen__buf *const *bufs, size_t n_bufs,
                       const size_t *size, uint32_t old, uint32_t n)
{
  for (size_t i = 0; i < n_bufs; i++)
    if (omen__buf_ensure(m, bufs[i], (size_t)n * size[i], (size_t)old * size[i],
                         4096 * size[i]))
      return OMEN_NOMEM;
  for (size_t i = 0; i < n_bufs; i++)
    memset((char *)bufs[i]->p + (size_t)old * size[i], 0, (size_t)(n - old) * size[i]);
  return OMEN_OK;
}

/* The per-term arrays (new terms start with no postings) and the work
** space, for every term there is. */
static int cover(const omen__mem *m, omen__text *t, uint32_t n)
{
  if (n > t->n_per_term) {
    omen__buf *const bufs[] = {&t->post, &t->count, &t->df};
    static const size_t size[] = {8, 4, 4};
    if (grow_zeroed(m, bufs, 3, size, t->n_per_term, n)) return OMEN_NOMEM;
    t->n_per_term = n;
  }
  if (n > t->n_stamp) {
    omen__buf *const bufs[] = {&t->stamp, &t->tf, &t->tail_of};
    static const size_t size[] = {4, 4, 4};
    if (grow_zeroed(m, bufs, 3, size, t->n_stamp, n)) return OMEN_NOMEM;
    t->n_stamp = n;
  }
  return OMEN_OK;
}

static int cover_terms(const omen__mem *m, omen__text *t) { return cover(m, t, t->terms.n); }

/* -- Adding documents ------------------------------------------------------------ */

typedef struct adder {
  const omen__mem *m;
  omen__text *t;
  omen__text_batch *b;
  uint32_t epoch, tokens;
  int drop;       /* terms of a document going: looked up, not added */
} adder;

static int grow_batch_terms(const omen__mem *m, omen__text_batch *b)
{
  if (b->n_terms < b->cap_terms) return OMEN_OK;
  size_t cap = omen__grow_cap(b->cap_terms, b->n_terms + 1, 256);
  omen__text_term *p = omen__realloc(m, b->terms, b->cap_terms * sizeof *p, cap * sizeof *p);
  if (!p) return OMEN_NOMEM;
  b->terms = p;
  b->cap_terms = cap;
  return OMEN_OK;
}

static int add_term(void *ud, const char *term, size_t len, uint32_t pos)
{
  (void)pos;
  adder *a = ud;
  omen__text *t = a->t;
  if (stopped(t, term, len)) return OMEN_OK;
  uint32_t id;
  int rc = OMEN_OK;
  if (a->drop) {
    id = omen__keys_find(&t->terms, term, len);
    if (id == UINT32_MAX || id >= t->n_stamp) return OMEN_OK; /* never indexed */
  } else if ((id = omen__keys_find(&t->terms, term, len)) == UINT32_MAX) {
    /* A new term: its arrays first, so it is never without its entries. */
    rc = cover(a->m, t, t->terms.n + 1);
    if (!rc) rc = omen__keys_intern(a->m, &t->terms, term, len, &id);
    if (rc == OMEN_INVALID) {
      snprintf(last_error, sizeof last_error, "the text index holds as many terms as it "
               "can (%u)", OMEN__MAX_TERMS);
      return rc;
    }
    if (rc) return rc;
  }
  a->tokens++;
  uint32_t *stamp = t->stamp.p, *tf = t->tf.p;
  if (stamp[id] == a->epoch) {
    tf[id]++;
    return OMEN_OK;
  }
  if ((rc = grow_batch_terms(a->m, a->b))) return rc;
  stamp[id] = a->epoch;
  tf[id] = 1;
  a->b->terms[a->b->n_terms++].term = id;
  return OMEN_OK;
}

void omen__text_batch_free(const omen__mem *m, omen__text_batch *b)
{
  omen__free(m, b->docs, b->cap_docs * sizeof(omen__text_doc));
  omen__free(m, b->terms, b->cap_terms * sizeof *b->terms);
  memset(b, 0, sizeof *b);
}

static int batch_doc(const omen__mem *m, omen__text *t, const omen__keys *keys,
                     const uint8_t *meta, size_t meta_len, omen__text_batch *b, int drop);

int omen__text_add_doc(const omen__mem *m, omen__text *t, const omen__keys *keys,
                       const uint8_t *meta, size_t meta_len, omen__text_batch *b)
{
  return batch_doc(m, t, keys, meta, meta_len, b, 0);
}

int omen__text_drop_doc(const omen__mem *m, omen__text *t, const omen__keys *keys,
                        uint32_t slot, const uint8_t *meta, size_t meta_len,
                        omen__text_batch *b)
{
  if (slot >= t->n_len || lens(t)[slot] == OMEN__NO_DOC) return OMEN_OK;
  size_t at = b->n_docs;
  int rc = batch_doc(m, t, keys, meta, meta_len, b, 1);
  if (!rc) b->docs[at].slot = slot;
  return rc;
}

static int batch_doc(const omen__mem *m, omen__text *t, const omen__keys *keys,
                     const uint8_t *meta, size_t meta_len, omen__text_batch *b, int drop)
{
  if (b->n_docs == b->cap_docs) {
    size_t cap = omen__grow_cap(b->cap_docs, b->n_docs + 1, 16);
    omen__text_doc *d = omen__realloc(m, b->docs, b->cap_docs * sizeof *d, cap * sizeof *d);
    if (!d) return OMEN_NOMEM;
    b->docs = d;
    b->cap_docs = cap;
  }
  int rc = cover_terms(m, t);
  if (rc) return rc;
  omen__text_doc *d = &b->docs[b->n_docs];
  adder a = {m, t, b, next_epoch(t), 0, drop};
  size_t first = b->n_terms;
  int has;
  if ((rc = walk_text(t, keys, meta, meta_len, add_term, &a, &has))) {
    b->n_terms = first;
    return rc;
  }
  const uint32_t *tf = t->tf.p;
  for (size_t i = first; i < b->n_terms; i++) b->terms[i].tf = tf[b->terms[i].term];
  d->slot = OMEN__NO_DOC;
  d->drop = (uint8_t)drop;
  d->len = has ? (a.tokens < OMEN__LEN_MASK ? a.tokens : OMEN__LEN_MASK - 1) : OMEN__NO_DOC;
  d->first = (uint32_t)first;
  d->n = (uint32_t)(b->n_terms - first);
  b->n_docs++;
  return OMEN_OK;
}

/* -- Reserving ------------------------------------------------------------------ */

/* A term's tail, or NULL (also for a term the work space does not cover
** yet: one new since the last merge, read by a search). */
static omen__tlist *tail_of(const omen__text *t, uint32_t term)
{
  if (term >= t->n_stamp) return NULL;
  uint32_t i = ((const uint32_t *)t->tail_of.p)[term];
  return i == NO_TAIL ? NULL : &t->tails[i - 1];
}

static int new_tail(const omen__mem *m, omen__text *t, uint32_t term)
{
  if (t->n_tails == t->cap_tails) {
    size_t cap = omen__grow_cap(t->cap_tails, t->n_tails + 1, 64);
    omen__tlist *tl = omen__realloc(m, t->tails, t->cap_tails * sizeof *tl, cap * sizeof *tl);
    if (!tl) return OMEN_NOMEM;
    t->tails = tl;
    t->cap_tails = (uint32_t)cap;
  }
  omen__tlist *tl = &t->tails[t->n_tails++];
  memset(tl, 0, sizeof *tl);
  tl->min_len = OMEN__LEN_MASK;
  ((uint32_t *)t->tail_of.p)[term] = t->n_tails;
  return OMEN_OK;
}

static int reserve_slots(const omen__mem *m, omen__text *t, uint32_t n_slots)
{
  if (n_slots <= t->n_len) return OMEN_OK;
  int rc = omen__buf_ensure(m, &t->len, (size_t)n_slots * 4, (size_t)t->n_len * 4, 4096);
  if (rc) return rc;
  for (uint32_t s = t->n_len; s < n_slots; s++) lens(t)[s] = OMEN__NO_DOC;
  t->n_len = n_slots;
  return OMEN_OK;
}

/* Make room in term id's tail for need more postings. */
static int grow_tail(const omen__mem *m, omen__text *t, uint32_t id, uint32_t need)
{
  if (!tail_of(t, id) && new_tail(m, t, id)) return OMEN_NOMEM;
  omen__tlist *tl = tail_of(t, id);
  if (tl->n + need <= tl->cap) return OMEN_OK;
  uint32_t cap = (uint32_t)omen__grow_cap(tl->cap, (size_t)tl->n + need, 4);
  omen__posting *p = omen__realloc(m, tl->p, tl->cap * sizeof *p, cap * sizeof *p);
  if (!p) return OMEN_NOMEM;
  tl->p = p;
  tl->cap = cap;
  return OMEN_OK;
}

int omen__text_reserve(const omen__mem *m, omen__text *t, const omen__text_batch *b,
                       uint32_t n_slots)
{
  int rc = reserve_slots(m, t, n_slots);
  if (rc || (rc = cover_terms(m, t))) return rc;
  /* Count what each term's tail receives from the documents added (tf
  ** serves as the counter), then grow each tail once. */
  uint32_t *need = t->tf.p, *stamp = t->stamp.p, epoch = next_epoch(t);
  for (int pass = 0; pass < 2 && !rc; pass++)
    for (size_t i = 0; i < b->n_docs && !rc; i++) {
      const omen__text_doc *d = &b->docs[i];
      for (uint32_t j = d->first; j < d->first + d->n && !d->drop && !rc; j++) {
        uint32_t id = b->terms[j].term;
        if (pass == 0) {
          if (stamp[id] != epoch) {
            stamp[id] = epoch;
            need[id] = 0;
          }
          need[id]++;
        } else if (need[id]) {
          rc = grow_tail(m, t, id, need[id]);
          need[id] = 0;
        }
      }
    }
  return rc;
}

/* -- Removing and applying -------------------------------------------------------- */

static uint32_t tail_find(const omen__tlist *tl, uint32_t slot)
{
  uint32_t lo = 0, hi = tl->n;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (tl->p[mid].slot < slot) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* Take a document's postings out of the tails (its encoded ones drop
** out as its length loses OMEN__IN_LISTS). */
static void tail_remove(omen__text *t, uint32_t term, uint32_t slot)
{
  omen__tlist *tl = tail_of(t, term);
  if (!tl) return;
  uint32_t i = tail_find(tl, slot);
  if (i < tl->n && tl->p[i].slot == slot) {
    memmove(tl->p + i, tl->p + i + 1, (tl->n - i - 1) * sizeof *tl->p);
    tl->n--;
    t->tail_postings--;
  }
}

static void apply_drop(omen__text *t, const omen__text_batch *b, const omen__text_doc *d)
{
  uint32_t l = lens(t)[d->slot];
  if (l == OMEN__NO_DOC) return;
  for (uint32_t j = d->first; j < d->first + d->n; j++) {
    uint32_t id = b->terms[j].term;
    if (dfs(t)[id]) dfs(t)[id]--;
    tail_remove(t, id, d->slot);
  }
  t->n_docs--;
  t->total_len -= l & OMEN__LEN_MASK;
  lens(t)[d->slot] = OMEN__NO_DOC;
}

static void tail_insert(omen__text *t, omen__tlist *tl, uint32_t slot, uint32_t tf,
                        uint32_t len)
{
  uint32_t i = tl->n && tl->p[tl->n - 1].slot >= slot ? tail_find(tl, slot) : tl->n;
  if (i < tl->n && tl->p[i].slot == slot) { /* left by a tokenizer that changed its mind */
    tl->p[i].tf = tf;
    t->tail_postings--;
  } else {
    memmove(tl->p + i + 1, tl->p + i, (tl->n - i) * sizeof *tl->p);
    tl->p[i].slot = slot;
    tl->p[i].tf = tf;
    tl->n++;
  }
  if (tf > tl->max_tf) tl->max_tf = tf;
  if (len < tl->min_len) tl->min_len = len;
  t->tail_postings++;
}

void omen__text_apply(omen__text *t, const omen__text_batch *b)
{
  for (size_t i = 0; i < b->n_docs; i++)
    if (b->docs[i].drop) apply_drop(t, b, &b->docs[i]);
  for (size_t i = 0; i < b->n_docs; i++) {
    const omen__text_doc *d = &b->docs[i];
    if (d->drop || d->len == OMEN__NO_DOC) continue;
    lens(t)[d->slot] = d->len;
    t->n_docs++;
    t->total_len += d->len;
    for (uint32_t j = d->first; j < d->first + d->n; j++) {
      const omen__text_term *tt = &b->terms[j];
      dfs(t)[tt->term]++;
      tail_insert(t, tail_of(t, tt->term), d->slot, tt->tf, d->len);
    }
  }
}

/* -- Merging ------------------------------------------------------------------------ */

/* A merge passes over every list: done once the tails have grown by a
** share of what is encoded (a posting takes two to three bytes there, so
** a quarter of the bytes is over half the postings), its cost stays
** proportional to the postings written; below 65,536 tail postings it is
** never worth it. */
int omen__text_merge_due(const omen__text *t)
{
  return t->tail_postings >= 65536 && t->tail_postings >= t->heap_used / 4;
}

/* What a merge builds before it replaces anything. */
typedef struct merged {
  omen__keys terms;
  omen__buf post, count, df, heap, len;
  uint64_t heap_used;
  omen__posting *list, *out; /* one term's postings, before and after */
  size_t cap;
} merged;

static void merged_free(const omen__mem *m, merged *g)
{
  omen__keys_free(m, &g->terms);
  omen__buf *bufs[] = {&g->post, &g->count, &g->df, &g->heap, &g->len};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) omen__buf_free(m, bufs[i]);
  omen__free(m, g->list, g->cap * sizeof *g->list);
  omen__free(m, g->out, g->cap * sizeof *g->out);
}

static const uint64_t *posts(const omen__text *t) { return t->post.p; }
static const uint32_t *counts_of(const omen__text *t) { return t->count.p; }

/* Size everything for the worst case: heap bytes, the longest list. */
static int merged_alloc(const omen__mem *m, const omen__text *t, merged *g,
                        uint32_t n_slots)
{
  uint64_t heap = 0;
  size_t longest = 1;
  for (uint32_t id = 0; id < t->terms.n; id++) {
    const omen__tlist *tl = tail_of(t, id);
    size_t n = (size_t)counts_of(t)[id] + (tl ? tl->n : 0);
    heap += omen__postings_bound(n);
    if (n > longest) longest = n;
  }
  g->cap = longest;
  g->list = omen__malloc(m, longest * sizeof *g->list);
  g->out = omen__malloc(m, longest * sizeof *g->out);
  if (!g->list || !g->out || heap > SIZE_MAX / 2 ||
      omen__buf_reserve(m, &g->heap, heap ? (size_t)heap : 1, 0) ||
      omen__buf_reserve(m, &g->len, (size_t)(n_slots ? n_slots : 1) * 4, 0))
    return OMEN_NOMEM;
  return OMEN_OK;
}

/* The documents under their new slots, all now in the lists. */
static void merged_lens(const omen__text *t, merged *g, const uint32_t *map,
                        uint32_t map_n, uint32_t n_slots)
{
  uint32_t *len = g->len.p, old = map && map_n < t->n_len ? map_n : t->n_len;
  for (uint32_t s = 0; s < n_slots; s++) len[s] = OMEN__NO_DOC;
  for (uint32_t s = 0; s < old; s++) {
    uint32_t to = map ? map[s] : s, l = lens(t)[s];
    if (to != OMEN__NO_DOC && to < n_slots && l != OMEN__NO_DOC)
      len[to] = (l & OMEN__LEN_MASK) | OMEN__IN_LISTS;
  }
}

/* One term's live postings, encoded and tail merged, under new slots. */
static int merged_term(const omen__text *t, merged *g, uint32_t id, const uint32_t *map,
                       uint32_t map_n, size_t *n_out)
{
  uint32_t n = counts_of(t)[id];
  const uint8_t *heap = t->heap.p;
  size_t used;
  if (n && !omen__postings_decode(heap + posts(t)[id], heap + t->heap_used, n, t->n_len,
                                  g->list, &used))
    return OMEN_CORRUPT;
  const omen__tlist *tl = tail_of(t, id);
  uint32_t tn = tl ? tl->n : 0, i = 0, j = 0;
  size_t k = 0;
  while (i < n || j < tn) {
    omen__posting p;
    if (j >= tn || (i < n && g->list[i].slot < tl->p[j].slot)) {
      p = g->list[i++];
      uint32_t l = lens(t)[p.slot];
      if (l == OMEN__NO_DOC || !(l & OMEN__IN_LISTS)) continue;
    } else {
      p = tl->p[j++];
      uint32_t l = lens(t)[p.slot]; /* only a document of the tails counts */
      if (l == OMEN__NO_DOC || (l & OMEN__IN_LISTS)) continue;
    }
    uint32_t to = map ? (p.slot < map_n ? map[p.slot] : OMEN__NO_DOC) : p.slot;
    if (to == OMEN__NO_DOC) continue;
    p.slot = to;
    g->out[k++] = p;
  }
  *n_out = k;
  return OMEN_OK;
}

static int merged_build(const omen__mem *m, const omen__text *t, merged *g,
                        const uint32_t *map, uint32_t map_n)
{
  for (uint32_t id = 0; id < t->terms.n; id++) {
    size_t n;
    int rc = merged_term(t, g, id, map, map_n, &n);
    if (rc) return rc;
    if (!n) continue; /* a term no document holds any more goes */
    size_t len;
    const char *name = omen__keys_name(&t->terms, id, &len);
    uint32_t to, k = g->terms.n;
    if (omen__keys_intern(m, &g->terms, name, len, &to) ||
        omen__buf_ensure(m, &g->post, ((size_t)k + 1) * 8, (size_t)k * 8, 8192) ||
        omen__buf_ensure(m, &g->count, ((size_t)k + 1) * 4, (size_t)k * 4, 4096) ||
        omen__buf_ensure(m, &g->df, ((size_t)k + 1) * 4, (size_t)k * 4, 4096))
      return OMEN_NOMEM;
    ((uint64_t *)g->post.p)[k] = g->heap_used;
    ((uint32_t *)g->count.p)[k] = (uint32_t)n;
    ((uint32_t *)g->df.p)[k] = (uint32_t)n;
    g->heap_used += omen__postings_encode(g->out, n, g->len.p,
                                          (uint8_t *)g->heap.p + g->heap_used);
  }
  return OMEN_OK;
}

/* Build the merged index in g; nothing of t changes. */
/* The heap was sized for the worst case (ten bytes a posting); keep what
** the lists took, when a copy can be had (else the large one serves). */
static void fit_heap(const omen__mem *m, merged *g)
{
  omen__buf fit = {0};
  if (g->heap_used >= g->heap.size / 2 || !g->heap_used ||
      omen__buf_reserve(m, &fit, (size_t)g->heap_used, 0))
    return;
  memcpy(fit.p, g->heap.p, (size_t)g->heap_used);
  omen__buf_free(m, &g->heap);
  g->heap = fit;
}

static int merged_make(const omen__mem *m, const omen__text *t, merged *g,
                       const uint32_t *map, uint32_t map_n, uint32_t n_slots)
{
  memset(g, 0, sizeof *g);
  g->terms.limit = OMEN__MAX_TERMS;
  int rc = merged_alloc(m, t, g, n_slots);
  if (!rc) {
    merged_lens(t, g, map, map_n, n_slots);
    rc = merged_build(m, t, g, map, map_n);
  }
  omen__free(m, g->list, g->cap * sizeof *g->list);
  omen__free(m, g->out, g->cap * sizeof *g->out);
  g->list = g->out = NULL;
  if (!rc) fit_heap(m, g);
  if (rc) merged_free(m, g);
  return rc;
}

int omen__text_merge(const omen__mem *m, omen__text *t, const uint32_t *map,
                     uint32_t map_n, uint32_t n_slots)
{
  merged g;
  int rc = merged_make(m, t, &g, map, map_n, n_slots);
  if (rc) return rc;
  free_tails(m, t);
  omen__keys_free(m, &t->terms);
  omen__buf *old[] = {&t->post, &t->count, &t->df, &t->heap, &t->len,
                      &t->stamp, &t->tf, &t->tail_of};
  for (size_t i = 0; i < sizeof old / sizeof old[0]; i++) omen__buf_free(m, old[i]);
  t->terms = g.terms;
  t->post = g.post;
  t->count = g.count;
  t->df = g.df;
  t->heap = g.heap;
  t->heap_used = g.heap_used;
  t->len = g.len;
  t->n_len = n_slots;
  t->n_per_term = t->terms.n;
  t->n_stamp = 0;
  return OMEN_OK;
}

/* -- Images ------------------------------------------------------------------------ */

static void image_arrays(omen__text_image *img, const omen__keys *terms,
                         const omen__buf *post, const omen__buf *count,
                         const omen__buf *df, const omen__buf *heap, uint64_t heap_used,
                         const omen__buf *len)
{
  img->names = terms->names.p;
  img->names_used = terms->names_used;
  img->index = terms->index.p;
  img->n_terms = terms->n;
  img->post = post->p;
  img->count = count->p;
  img->df = df->p;
  img->heap = heap->p;
  img->heap_used = heap_used;
  img->len = len->p;
}

int omen__text_image_make(const omen__mem *m, const omen__text *t, uint32_t n_slots,
                          omen__text_image *img)
{
  memset(img, 0, sizeof *img);
  if (t->tail_postings || t->n_len != n_slots) { /* written since the last merge */
    merged *g = omen__malloc(m, sizeof *g);
    int rc = g ? merged_make(m, t, g, NULL, 0, n_slots) : OMEN_NOMEM;
    if (rc) {
      omen__free(m, g, sizeof *g);
      return rc;
    }
    img->own = g;
    image_arrays(img, &g->terms, &g->post, &g->count, &g->df, &g->heap, g->heap_used,
                 &g->len);
  } else {
    image_arrays(img, &t->terms, &t->post, &t->count, &t->df, &t->heap, t->heap_used,
                 &t->len);
  }
  img->n_len = n_slots;
  img->n_docs = t->n_docs;
  img->total_len = t->total_len;
  return OMEN_OK;
}

void omen__text_image_free(const omen__mem *m, omen__text_image *img)
{
  if (!img->own) return;
  merged_free(m, img->own);
  omen__free(m, img->own, sizeof(merged));
  img->own = NULL;
}

void omen__text_sizes(const omen__text *t, uint64_t *docs, uint64_t *terms,
                      uint64_t *stored, uint64_t *memory)
{
  uint64_t live = 0;
  for (uint32_t i = 0; i < t->n_per_term; i++) live += dfs(t)[i] > 0;
  *docs = t->n_docs;
  *terms = live;
  *stored = t->terms.names_used + (uint64_t)t->n_per_term * 24 + t->heap_used +
           (uint64_t)t->n_len * 4;
  const omen__buf *bufs[] = {&t->terms.names, &t->terms.index, &t->terms.table, &t->post,
                             &t->count, &t->df, &t->heap, &t->len, &t->tail_of,
                             &t->stamp, &t->tf};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) *memory += bufs[i]->size;
  for (uint32_t i = 0; i < t->n_tails; i++)
    *memory += t->tails[i].cap * sizeof(omen__posting);
  *memory += sizeof *t + t->cap_tails * sizeof(omen__tlist);
}

/* -- Loading ----------------------------------------------------------------------- */

static int bad_index(char *err, size_t cap, const char *why)
{
  snprintf(err, cap, "text index: %s", why);
  return OMEN_CORRUPT;
}

int omen__text_attach(const omen__mem *m, omen__text *t, const omen__text_image *img,
                      const uint8_t *state, char *err, size_t cap)
{
  uint32_t n = img->n_terms;
  t->terms.names = omen__buf_mapped((void *)img->names, (size_t)img->names_used);
  t->terms.names_used = img->names_used;
  t->terms.index = omen__buf_mapped((void *)img->index, (size_t)n * 8);
  t->terms.n = n;
  t->post = omen__buf_mapped((void *)img->post, (size_t)n * 8);
  t->count = omen__buf_mapped((void *)img->count, (size_t)n * 4);
  t->df = omen__buf_mapped((void *)img->df, (size_t)n * 4);
  t->heap = omen__buf_mapped((void *)img->heap, (size_t)img->heap_used);
  t->heap_used = img->heap_used;
  t->len = omen__buf_mapped((void *)img->len, (size_t)img->n_len * 4);
  t->n_len = img->n_len;
  t->n_per_term = n;
  t->n_docs = img->n_docs;
  t->total_len = img->total_len;
  /* Empty arrays point nowhere (see storage.c's attach). */
  omen__buf *bufs[] = {&t->terms.names, &t->terms.index, &t->post, &t->count, &t->df,
                       &t->heap, &t->len};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
    if (!bufs[i]->size) memset(bufs[i], 0, sizeof *bufs[i]);
  for (uint32_t i = 0; i < n; i++) {
    size_t len;
    uint64_t e = ((const uint64_t *)img->index)[i];
    len = (size_t)(e & 0xff);
    if (len == 0 || (e >> 8) > img->names_used || len > img->names_used - (e >> 8))
      return bad_index(err, cap, "bad term");
    uint32_t c = counts_of(t)[i];
    if (dfs(t)[i] > c || c > img->n_len || posts(t)[i] > img->heap_used ||
        (c && posts(t)[i] == img->heap_used))
      return bad_index(err, cap, "bad term counts");
  }
  uint64_t docs = 0, total = 0;
  for (uint32_t s = 0; s < img->n_len; s++) {
    uint32_t l = lens(t)[s];
    if (l == OMEN__NO_DOC) continue;
    if (state[s] != OMEN__SLOT_LIVE) return bad_index(err, cap, "a deleted record is indexed");
    if ((l & OMEN__LEN_MASK) == OMEN__LEN_MASK) return bad_index(err, cap, "bad document length");
    docs++;
    total += l & OMEN__LEN_MASK;
  }
  if (docs != img->n_docs || total != img->total_len)
    return bad_index(err, cap, "document counts do not match");
  int rc = omen__keys_rehash(m, &t->terms);
  if (rc == OMEN_CORRUPT) return bad_index(err, cap, "repeated term");
  return rc;
}

int omen__text_verify(const omen__mem *m, const omen__text *t, const uint8_t *state,
                      char *err, size_t cap)
{
  size_t longest = 1;
  for (uint32_t i = 0; i < t->n_per_term; i++)
    if (counts_of(t)[i] > longest) longest = counts_of(t)[i];
  omen__posting *p = omen__malloc(m, longest * sizeof *p);
  if (!p) return OMEN_NOMEM;
  const uint8_t *heap = t->heap.p;
  int rc = OMEN_OK;
  for (uint32_t i = 0; i < t->n_per_term && !rc; i++) {
    uint32_t c = counts_of(t)[i], live = 0;
    size_t used;
    if (c && !omen__postings_decode(heap + posts(t)[i], heap + t->heap_used, c, t->n_len,
                                    p, &used)) {
      rc = bad_index(err, cap, "a postings list does not decode");
      break;
    }
    for (uint32_t j = 0; j < c; j++) {
      uint32_t l = lens(t)[p[j].slot];
      live += l != OMEN__NO_DOC && (l & OMEN__IN_LISTS);
    }
    const omen__tlist *tl = tail_of(t, i);
    if (live + (tl ? tl->n : 0) != dfs(t)[i])
      rc = bad_index(err, cap, "document frequencies do not match the postings");
  }
  for (uint32_t s = 0; s < t->n_len && !rc; s++)
    if (lens(t)[s] != OMEN__NO_DOC && state[s] != OMEN__SLOT_LIVE)
      rc = bad_index(err, cap, "a deleted record is indexed");
  omen__free(m, p, longest * sizeof *p);
  return rc;
}

/* -- Queries ------------------------------------------------------------------------ */

enum { ANY = 0, MUST = 1, MUST_NOT = 2 };

#define PHRASE 0xffffffffu /* the id of a query term that is a phrase */
#define MAX_SPAN 64        /* tokens a phrase spans, at most */

/* A query term: a term of the dictionary, or a phrase (its words in the
** query's list, its documents found before the walk). */
typedef struct qterm {
  uint32_t id;
  int mode;
  double times;   /* how often the query names it */
  double w, ub;   /* idf * times; the bound of its whole list */
  uint32_t word, n_words;  /* a phrase's words */
  omen__posting *list;     /* a phrase's documents and counts */
  uint32_t list_n, list_cap, list_max_tf, list_min_len;
  omen__pcur cur;
} qterm;

/* A word of a phrase: its term and its place relative to the first. */
typedef struct qword {
  uint32_t id, at;
} qword;

typedef struct query {
  const omen__mem *m;
  const omen__text *t;
  qterm *q;
  size_t n, cap;
  qword *words;
  size_t n_words, cap_words;
  int mode;       /* of the word being read */
  int missing;    /* the run being read holds a term no document holds */
  int run_start;  /* the next word is a run's first */
  uint32_t first_pos;
  int empty;      /* a required term no document holds */
} query;

static qterm *new_qterm(query *qy)
{
  if (qy->n == qy->cap) {
    size_t cap = omen__grow_cap(qy->cap, qy->n + 1, 8);
    qterm *q = omen__realloc(qy->m, qy->q, qy->cap * sizeof *q, cap * sizeof *q);
    if (!q) return NULL;
    qy->q = q;
    qy->cap = cap;
  }
  qterm *q = &qy->q[qy->n++];
  memset(q, 0, sizeof *q);
  q->mode = qy->mode;
  q->times = qy->mode != MUST_NOT;
  return q;
}

/* Add a term of the dictionary to the query, or count it again. */
static int add_term_of_query(query *qy, uint32_t id)
{
  for (size_t i = 0; i < qy->n; i++)
    if (qy->q[i].id == id) { /* named again: count it, strictest mode wins */
      qy->q[i].times += qy->mode != MUST_NOT;
      if (qy->mode > qy->q[i].mode) qy->q[i].mode = qy->mode;
      return OMEN_OK;
    }
  qterm *q = new_qterm(qy);
  if (!q) return OMEN_NOMEM;
  q->id = id;
  return OMEN_OK;
}

/* A term's id, or UINT32_MAX for one no document holds. */
static uint32_t live_term(const omen__text *t, const char *term, size_t len)
{
  uint32_t id = omen__keys_find(&t->terms, term, len);
  return id == UINT32_MAX || !dfs(t)[id] ? UINT32_MAX : id;
}

/* A word of a quoted run, kept with its place. */
static int phrase_word(void *ud, const char *term, size_t len, uint32_t pos)
{
  query *qy = ud;
  if (stopped(qy->t, term, len)) return OMEN_OK;
  uint32_t id = live_term(qy->t, term, len);
  if (id == UINT32_MAX) qy->missing = 1;
  if (qy->run_start) {
    qy->first_pos = pos;
    qy->run_start = 0;
  }
  if (pos - qy->first_pos >= MAX_SPAN) {
    snprintf(last_error, sizeof last_error, "a phrase spans %d tokens at most", MAX_SPAN);
    return OMEN_INVALID;
  }
  if (qy->n_words == qy->cap_words) {
    size_t cap = omen__grow_cap(qy->cap_words, qy->n_words + 1, 16);
    qword *w = omen__realloc(qy->m, qy->words, qy->cap_words * sizeof *w, cap * sizeof *w);
    if (!w) return OMEN_NOMEM;
    qy->words = w;
    qy->cap_words = cap;
  }
  qy->words[qy->n_words++] = (qword){id, pos - qy->first_pos};
  return OMEN_OK;
}

/* A quoted run: a phrase of its words (two or more), a word (one), or
** nothing a document holds. */
static int quoted_run(query *qy, const char *s, size_t len)
{
  size_t first = qy->n_words;
  qy->missing = 0;
  qy->run_start = 1;
  int rc = text_tokenize(qy->t, s, len, phrase_word, qy);
  size_t n = qy->n_words - first;
  if (rc || n == 0) return rc;
  if (qy->missing) {
    if (qy->mode == MUST) qy->empty = 1;
    qy->n_words = first;
  } else if (n == 1) {
    rc = add_term_of_query(qy, qy->words[first].id);
    qy->n_words = first;
  } else {
    qterm *q = new_qterm(qy);
    if (!q) return OMEN_NOMEM;
    q->id = PHRASE;
    q->word = (uint32_t)first;
    q->n_words = (uint32_t)n;
  }
  return rc;
}

static int is_space(char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Words, each "+word" (required) or "-word" (excluded) or plain; a quoted
** run of words (with "+" or "-" before it too) is a phrase: its words one
** after the other. So is a word the tokenizer splits. */
static int parse_query(query *qy, const char *s, size_t len)
{
  size_t i = 0;
  while (i < len) {
    while (i < len && is_space(s[i])) i++;
    qy->mode = ANY;
    if (i + 1 < len && (s[i] == '+' || s[i] == '-') && !is_space(s[i + 1])) {
      qy->mode = s[i] == '+' ? MUST : MUST_NOT;
      i++;
    }
    size_t start = i;
    int rc;
    if (i < len && s[i] == '"') {
      start = ++i;
      while (i < len && s[i] != '"') i++;
      rc = quoted_run(qy, s + start, i - start);
      if (i < len) i++;
    } else { /* a word of several terms ("e-mail", trigrams) is a phrase, as in FTS5 */
      while (i < len && !is_space(s[i])) i++;
      rc = quoted_run(qy, s + start, i - start);
    }
    if (rc) return rc;
  }
  return OMEN_OK;
}

/* -- Phrases --------------------------------------------------------------------
** The index keeps how often a term is in a document, not where: a phrase's
** documents are those holding all its words, each read again (its text,
** tokenized) to count the places where the words stand one after the
** other. That is found once per query, before the walk; the phrase then
** scores as a term would, with its own frequency and counts. */

typedef struct phrase_match {
  const omen__text *t;
  const qword *w;           /* the words and their places */
  uint32_t n;
  const char *name[MAX_SPAN]; /* each word's term */
  size_t name_len[MAX_SPAN];
  uint32_t ring_pos[MAX_SPAN], ring_word[MAX_SPAN]; /* the last tokens seen */
  uint32_t last_pos, count;
} phrase_match;

/* Which of the phrase's words a token is (n: none). */
static uint32_t word_of(const phrase_match *pm, const char *term, size_t len)
{
  for (uint32_t j = 0; j < pm->n; j++)
    if (pm->name_len[j] == len && !memcmp(pm->name[j], term, len)) return j;
  return pm->n;
}

/* Start a document, or a string of an array: no places seen. */
static void forget_places(phrase_match *pm)
{
  for (int k = 0; k < MAX_SPAN; k++) pm->ring_pos[k] = UINT32_MAX;
}

/* Note a token; count a match when it ends the phrase with the others in
** their places before it (in a ring of the last MAX_SPAN places). */
static int match_token(void *ud, const char *term, size_t len, uint32_t pos)
{
  phrase_match *pm = ud;
  if (pm->last_pos != UINT32_MAX && pos <= pm->last_pos) forget_places(pm); /* a new string */
  pm->last_pos = pos;
  uint32_t j = word_of(pm, term, len);
  pm->ring_pos[pos % MAX_SPAN] = pos;
  pm->ring_word[pos % MAX_SPAN] = j;
  uint32_t span = pm->w[pm->n - 1].at;
  if (j == pm->n || pm->w[j].id != pm->w[pm->n - 1].id || pos < span) return OMEN_OK;
  uint32_t start = pos - span;
  for (uint32_t k = 0; k < pm->n; k++) {
    uint32_t at = start + pm->w[k].at, slot = at % MAX_SPAN;
    if (pm->ring_pos[slot] != at || pm->ring_word[slot] >= pm->n ||
        pm->w[pm->ring_word[slot]].id != pm->w[k].id)
      return OMEN_OK;
  }
  pm->count++;
  return OMEN_OK;
}
/* A cursor on a dictionary term's list and tail; *max_tf and *min_len
** bound them all. */
static void open_term(const omen__text *t, uint32_t id, omen__pcur *c, uint32_t *max_tf,
                      uint32_t *min_len)
{
  const uint8_t *heap = t->heap.p, *end = heap + t->heap_used;
  uint32_t cnt = counts_of(t)[id];
  const uint8_t *p = heap + (cnt ? posts(t)[id] : 0);
  const omen__tlist *tl = tail_of(t, id);
  omen__pcur_init(c, p, end, cnt, tl ? tl->p : NULL, tl ? tl->n : 0, tl ? tl->max_tf : 0,
                  tl ? tl->min_len : OMEN__LEN_MASK, t->len.p, t->n_len);
  if (!omen__pcur_list_bound(p, end, cnt, max_tf, min_len)) c->bad = 1;
  if (tl && tl->n) {
    if (tl->max_tf > *max_tf) *max_tf = tl->max_tf;
    if (tl->min_len < *min_len) *min_len = tl->min_len;
  }
}

static int push_match(const omen__mem *m, qterm *q, uint32_t slot, uint32_t count,
                      uint32_t len)
{
  if (q->list_n == q->list_cap) {
    uint32_t cap = (uint32_t)omen__grow_cap(q->list_cap, (size_t)q->list_n + 1, 16);
    omen__posting *p = omen__realloc(m, q->list, q->list_cap * sizeof *p, cap * sizeof *p);
    if (!p) return OMEN_NOMEM;
    q->list = p;
    q->list_cap = cap;
  }
  q->list[q->list_n++] = (omen__posting){slot, count};
  if (count > q->list_max_tf) q->list_max_tf = count;
  if ((len & OMEN__LEN_MASK) < q->list_min_len) q->list_min_len = len & OMEN__LEN_MASK;
  return OMEN_OK;
}

/* The documents of phrase q (all its words, then read again), and how
** often it stands in each. */
static int find_phrase(const omen__mem *m, const omen__text *t, const omen__text_query *tq,
                       const qword *words, qterm *q)
{
  uint32_t n = q->n_words, tf, len;
  phrase_match pm;
  memset(&pm, 0, sizeof pm);
  pm.t = t;
  pm.w = words + q->word;
  pm.n = n;
  for (uint32_t j = 0; j < n; j++) pm.name[j] = omen__keys_name(&t->terms, pm.w[j].id, &pm.name_len[j]);
  omen__pcur *cur = omen__malloc(m, n * sizeof *cur);
  if (!cur) return OMEN_NOMEM;
  for (uint32_t j = 0; j < n; j++) open_term(t, pm.w[j].id, &cur[j], &tf, &len);
  q->list_min_len = OMEN__LEN_MASK;
  int rc = OMEN_OK;
  for (uint32_t d = 0; !rc;) {
    uint32_t agree = 0; /* leapfrog to a document holding every word */
    for (uint32_t j = 0; agree < n && d != OMEN__NO_DOC; j = (j + 1) % n) {
      omen__pcur_seek(&cur[j], d);
      if (cur[j].slot == d) agree++;
      else d = cur[j].slot, agree = 1;
    }
    if (d == OMEN__NO_DOC) break;
    size_t meta_len;
    const uint8_t *meta = tq->doc(tq->ctx, d, &meta_len);
    int has;
    pm.count = 0;
    pm.last_pos = UINT32_MAX;
    forget_places(&pm);
    rc = walk_text(t, tq->keys, meta, meta_len, match_token, &pm, &has);
    if (!rc && pm.count) rc = push_match(m, q, d, pm.count, ((const uint32_t *)t->len.p)[d]);
    if (d == OMEN__NO_DOC - 1) break;
    d++;
  }
  for (uint32_t j = 0; j < n && !rc; j++)
    if (cur[j].bad) rc = OMEN_CORRUPT;
  omen__free(m, cur, n * sizeof *cur);
  return rc;
}

/* BM25 of one term in a document. */
typedef struct scorer {
  double k1p1, base, per_len; /* k1 + 1; k1 (1 - b); k1 b / avglen */
} scorer;

static inline double term_score(const scorer *sc, double w, uint32_t tf, uint32_t len)
{
  return w * tf * sc->k1p1 / (tf + sc->base + sc->per_len * (len & OMEN__LEN_MASK));
}

/* Scores drift from their bounds by rounding: bounds are taken a little
** high so that pruning never drops a document that belongs. */
static inline int below(double bound, double theta)
{
  return bound * (1 + 1e-9) + 1e-12 <= theta;
}

static void start_terms(const omen__text *t, qterm *q, size_t n, const scorer *sc)
{
  double N = (double)t->n_docs;
  for (size_t i = 0; i < n; i++) {
    uint32_t max_tf = q[i].list_max_tf, min_len = q[i].list_min_len;
    double df = q[i].list_n;
    if (q[i].id == PHRASE) {
      omen__pcur_init(&q[i].cur, NULL, NULL, 0, q[i].list, q[i].list_n, max_tf, min_len,
                      t->len.p, t->n_len);
    } else {
      open_term(t, q[i].id, &q[i].cur, &max_tf, &min_len);
      df = dfs(t)[q[i].id];
    }
    double idf = log((N - df + 0.5) / (df + 0.5));
    q[i].w = (idf > 0 ? idf : 1e-6) * q[i].times;
    q[i].ub = max_tf ? term_score(sc, q[i].w, max_tf, min_len) : 0; /* 0 / 0 with k1 0 */
  }
}

/* -- The top k ------------------------------------------------------------------- */

typedef struct topk {
  omen__text_hit *h;
  size_t n, k;
} topk;

/* a ranks below b: a lower score, or the same and a later slot. */
static inline int worse(const omen__text_hit *a, const omen__text_hit *b)
{
  return a->score < b->score || (a->score == b->score && a->slot > b->slot);
}

static void sift_down(topk *tk, size_t i)
{
  omen__text_hit x = tk->h[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= tk->n) break;
    if (c + 1 < tk->n && worse(&tk->h[c + 1], &tk->h[c])) c++;
    if (!worse(&tk->h[c], &x)) break;
    tk->h[i] = tk->h[c];
    i = c;
  }
  tk->h[i] = x;
}

static void topk_push(topk *tk, double score, uint32_t slot)
{
  omen__text_hit x = {score, slot};
  if (tk->n == tk->k) {
    if (!worse(&tk->h[0], &x)) return;
    tk->h[0] = x;
    sift_down(tk, 0);
    return;
  }
  size_t i = tk->n++;
  while (i > 0 && worse(&x, &tk->h[(i - 1) / 2])) {
    tk->h[i] = tk->h[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  tk->h[i] = x;
}

/* The score a document must beat (any while the heap fills). */
static inline double threshold(const topk *tk)
{
  return tk->n == tk->k ? tk->h[0].score : -1.0;
}

/* Best first, in place. */
static void topk_sort(topk *tk)
{
  size_t n = tk->n;
  while (tk->n > 1) {
    omen__text_hit top = tk->h[0];
    tk->h[0] = tk->h[--tk->n];
    sift_down(tk, 0);
    tk->h[tk->n] = top;
  }
  tk->n = n;
}

/* -- Walks ----------------------------------------------------------------------- */

typedef struct bm25_walk {
  const omen__text *t;
  qterm *any;          /* scored optional terms, weakest bound first */
  size_t n_any;
  qterm *must, *not;   /* required (scored too), excluded */
  size_t n_must, n_not;
  double *pre;         /* pre[i]: the bounds of any[0 .. i) summed */
  double *blk;         /* per optional term, its block's bound at a document */
  double *part;        /* per optional term, its score in the document at hand */
  const omen__pred *pred;
  scorer sc;
  topk tk;
} bm25_walk;

static int wanted(const bm25_walk *w, uint32_t d)
{
  if (((const uint32_t *)w->t->len.p)[d] == OMEN__NO_DOC) return 0; /* never a ghost */
  for (size_t i = 0; i < w->n_not; i++) {
    omen__pcur_seek(&w->not[i].cur, d);
    if (w->not[i].cur.slot == d) return 0;
  }
  return !w->pred || w->pred->match(w->pred->ctx, d);
}

static int by_bound(const void *a, const void *b)
{
  double x = ((const qterm *)a)->ub, y = ((const qterm *)b)->ub;
  return x < y ? -1 : x > y;
}

/* Add the non-essential terms' scores at d, strongest first, while d can
** still pass theta by the bounds of the blocks it falls in; 0 once it
** cannot. */
static int complete(bm25_walk *w, size_t ess, uint32_t d, double theta, double *score)
{
  const uint32_t *len = w->t->len.p;
  qterm *q = w->any;
  double rest = 0;
  for (size_t i = 0; i < ess; i++) {
    uint32_t tf, min_len, upto;
    omen__pcur_bound(&q[i].cur, d, &tf, &min_len, &upto);
    w->blk[i] = tf ? term_score(&w->sc, q[i].w, tf, min_len) : 0;
    rest += w->blk[i];
  }
  for (size_t i = ess; i-- > 0;) {
    if (below(*score + rest, theta)) return 0;
    rest -= w->blk[i];
    omen__pcur_seek(&q[i].cur, d);
    w->part[i] = q[i].cur.slot == d ? term_score(&w->sc, q[i].w, q[i].cur.tf, len[d]) : 0;
    *score += w->part[i];
  }
  return 1;
}

/* A document's score summed in the terms' order, whichever were scored
** first: equal documents then score equal to the last bit, and ties fall
** to the slot order. */
static double ordered_sum(const double *part, size_t n)
{
  double s = 0;
  for (size_t i = 0; i < n; i++) s += part[i];
  return s;
}

/* Every term optional: MaxScore with block bounds. */
static void walk_any(bm25_walk *w)
{
  const uint32_t *len = w->t->len.p;
  qterm *q = w->any;
  size_t n = w->n_any, ess = 0;
  double theta = -1;
  for (;;) {
    uint32_t d = OMEN__NO_DOC;
    for (size_t i = ess; i < n; i++)
      if (q[i].cur.slot < d) d = q[i].cur.slot;
    if (d == OMEN__NO_DOC) break;
    double score = 0;
    for (size_t i = 0; i < ess; i++) w->part[i] = 0;
    for (size_t i = ess; i < n; i++) {
      w->part[i] = 0;
      if (q[i].cur.slot == d) {
        score += w->part[i] = term_score(&w->sc, q[i].w, q[i].cur.tf, len[d]);
        omen__pcur_next(&q[i].cur);
      }
    }
    if (ess && (below(score + w->pre[ess], theta) || !complete(w, ess, d, theta, &score)))
      continue;
    score = ordered_sum(w->part, n);
    if (!(score > theta) || !wanted(w, d)) continue;
    topk_push(&w->tk, score, d);
    theta = threshold(&w->tk);
    while (ess < n && below(w->pre[ess + 1], theta)) ess++;
  }
}

/* Some terms required: the documents all their lists hold, each scored. */
static void walk_must(bm25_walk *w)
{
  const uint32_t *len = w->t->len.p;
  qterm *m = w->must;
  uint32_t d = 0;
  for (;;) {
    size_t agree = 0; /* leapfrog to a document every required list holds */
    for (size_t i = 0; agree < w->n_must; i = (i + 1) % w->n_must) {
      omen__pcur_seek(&m[i].cur, d);
      if (m[i].cur.slot == OMEN__NO_DOC) return;
      if (m[i].cur.slot == d) {
        agree++;
      } else {
        d = m[i].cur.slot;
        agree = 1;
      }
    }
    double score = 0;
    for (size_t i = 0; i < w->n_must; i++)
      score += term_score(&w->sc, m[i].w, m[i].cur.tf, len[d]);
    for (size_t i = 0; i < w->n_any; i++) {
      omen__pcur_seek(&w->any[i].cur, d);
      if (w->any[i].cur.slot == d)
        score += term_score(&w->sc, w->any[i].w, w->any[i].cur.tf, len[d]);
    }
    if (score > threshold(&w->tk) && wanted(w, d)) topk_push(&w->tk, score, d);
    if (d == OMEN__NO_DOC - 1) return;
    d++;
  }
}

static int damaged_lists(const qterm *q, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (q[i].cur.bad) return 1;
  return 0;
}

/* Order the terms: optional ones (by bound), required, excluded; the
** bm25_walk's arrays point into q. */
static int plan_walk(const omen__mem *m, bm25_walk *w, qterm *q, size_t n)
{
  size_t at = 0;
  for (int mode = ANY; mode <= MUST_NOT; mode++)
    for (size_t i = at; i < n; i++)
      if (q[i].mode == mode) {
        qterm x = q[at];
        q[at++] = q[i];
        q[i] = x;
      }
  for (size_t i = 0; i < n; i++) {
    if (q[i].mode == ANY) w->n_any++;
    else if (q[i].mode == MUST) w->n_must++;
    else w->n_not++;
  }
  w->any = q;
  w->must = q + w->n_any;
  w->not = w->must + w->n_must;
  qsort(w->any, w->n_any, sizeof *q, by_bound);
  w->pre = omen__malloc(m, (w->n_any + 1) * sizeof(double));
  w->blk = omen__malloc(m, (w->n_any + 1) * sizeof(double));
  w->part = omen__malloc(m, (w->n_any + 1) * sizeof(double));
  if (!w->pre || !w->blk || !w->part) return OMEN_NOMEM;
  w->pre[0] = 0;
  for (size_t i = 0; i < w->n_any; i++) w->pre[i + 1] = w->pre[i] + w->any[i].ub;
  return OMEN_OK;
}

static void free_query(const omen__mem *m, query *qy)
{
  for (size_t i = 0; i < qy->n; i++)
    omen__free(m, qy->q[i].list, qy->q[i].list_cap * sizeof *qy->q[i].list);
  omen__free(m, qy->q, qy->cap * sizeof *qy->q);
  omen__free(m, qy->words, qy->cap_words * sizeof *qy->words);
}

int omen__text_search(const omen__mem *m, const omen__text *t, const omen__text_query *tq,
                      omen__text_hit *out, size_t *n_out)
{
  *n_out = 0;
  query qy;
  memset(&qy, 0, sizeof qy);
  qy.m = m;
  qy.t = t;
  int rc = parse_query(&qy, tq->text, tq->len);
  for (size_t i = 0; i < qy.n && !rc && !qy.empty; i++)
    if (qy.q[i].id == PHRASE) {
      rc = find_phrase(m, t, tq, qy.words, &qy.q[i]);
      if (!rc && !qy.q[i].list_n && qy.q[i].mode == MUST) qy.empty = 1;
    }
  if (rc || qy.empty || !qy.n || !t->n_docs || !tq->k) {
    free_query(m, &qy);
    return rc;
  }
  bm25_walk w;
  memset(&w, 0, sizeof w);
  w.t = t;
  w.pred = tq->pred;
  double avg = (double)t->total_len / (double)t->n_docs;
  w.sc.k1p1 = t->k1 + 1;
  w.sc.base = t->k1 * (1 - t->b);
  w.sc.per_len = avg > 0 ? t->k1 * t->b / avg : 0;
  w.tk.h = out;
  w.tk.k = tq->k;
  start_terms(t, qy.q, qy.n, &w.sc);
  rc = plan_walk(m, &w, qy.q, qy.n);
  if (!rc && (w.n_any || w.n_must)) {
    if (w.n_must) walk_must(&w);
    else walk_any(&w);
    if (damaged_lists(qy.q, qy.n)) rc = OMEN_CORRUPT;
  }
  if (!rc) {
    topk_sort(&w.tk);
    *n_out = w.tk.n;
  }
  omen__free(m, w.pre, (w.n_any + 1) * sizeof(double));
  omen__free(m, w.blk, (w.n_any + 1) * sizeof(double));
  omen__free(m, w.part, (w.n_any + 1) * sizeof(double));
  free_query(m, &qy);
  return rc;
}
