/*
** Full-text index (text.c): a collection's BM25 index over one metadata
** field. Documents are the collection's slots; the index keeps
**  - the term dictionary (an omen__keys: names, and a hash of them), and
**    per term its encoded list (postings.h), its count of postings there,
**    and its document frequency;
**  - each slot's document length (OMEN__NO_DOC without text), with the flag
**    saying its postings are in the encoded lists;
**  - per term a tail: the postings written since the lists were last
**    encoded, unencoded. Deleting a document removes it from the tails and
**    clears its flag, which drops its encoded postings from every walk.
** Merging encodes lists and tails anew into one heap (dropping dead
** postings and terms, renumbering slots on compaction); checkpoints merge
** before they save, so a file holds encoded lists only, mapped as they lie.
**
** Writes come in two steps, as everywhere in omen: omen__text_plan
** tokenizes and reserves everything (it may fail and then changes nothing
** a search can see); omen__text_apply cannot fail.
*/
#ifndef OMEN_TEXT_H
#define OMEN_TEXT_H

#include <stdint.h>

#include "meta.h"
#include "postings.h"
#include "tokenize.h"

/* A term's postings since the last merge, ascending by slot. */
typedef struct omen__tlist {
  omen__posting *p;
  uint32_t n, cap;
  uint32_t max_tf, min_len; /* bound every posting ever added */
} omen__tlist;

#define OMEN__MAX_TERMS (UINT32_MAX / 2) /* distinct terms in an index */
#define OMEN__MAX_TOKNAME 64             /* bytes in a tokenizer's name */

typedef struct omen__text {
  /* settings */
  char field[OMEN__MAX_KEY + 1];
  uint32_t field_len;
  omen__tokenizer tok;
  char custom[OMEN__MAX_TOKNAME + 1]; /* an application's tokenizer, or "" */
  omen_tokenize_fn custom_fn;         /* NULL until registered (registry.c) */
  void *custom_ud;
  double k1, b;
  omen__keys stop;          /* stopwords, as terms */
  /* the dictionary and the encoded lists */
  omen__keys terms;
  omen__buf post;           /* uint64 per term: its list's offset in heap */
  omen__buf count;          /* uint32 per term: postings in its list */
  omen__buf df;             /* uint32 per term: documents holding it now */
  omen__buf heap;           /* the encoded lists */
  uint64_t heap_used;
  uint32_t n_per_term;      /* terms post, count and df cover */
  /* documents */
  omen__buf len;            /* uint32 per slot */
  uint32_t n_len;           /* slots covered */
  uint64_t n_docs, total_len;
  /* written since the last merge (memory only) */
  omen__buf tail_of;        /* uint32 per term: its tail + 1, 0 none */
  omen__tlist *tails;
  uint32_t n_tails, cap_tails;
  uint64_t tail_postings;
  /* per-term work space of a write: stamps and counts */
  omen__buf stamp, tf;
  uint32_t n_stamp;         /* terms the per-term arrays cover */
  uint32_t epoch;
} omen__text;

/* -- Lifetime ----------------------------------------------------------------- */

/* Check a configuration (OMEN_INVALID with a message in err). */
int omen__text_check(const omen_text_config *cfg, char *err, size_t errcap);
/* A new empty index for cfg (checked). Its stopwords are tokenized unless
** they are terms already (`terms` set: from the log or the file). */
int omen__text_new(const omen__mem *m, const omen_text_config *cfg, int terms,
                   omen__text **out);

/* An index's settings as bytes, for the log and the file: their size, and
** written to out. */
size_t omen__text_settings_size(const omen__text *t);
void omen__text_settings_write(const omen__text *t, uint8_t *out);
/* A new empty index from settings bytes (from disk: checked);
** OMEN_CORRUPT or OMEN_NOMEM. */
int omen__text_settings_read(const omen__mem *m, const uint8_t *p, size_t n,
                             omen__text **out);
void omen__text_free(const omen__mem *m, omen__text *t);

/* Why the calling thread's last text call failed with OMEN_INVALID (a
** tokenizer's failure, a full dictionary). */
const char *omen__text_error(void);

/* -- Writes ------------------------------------------------------------------- */

/* A write's documents: per document its slot (set by the caller before
** apply), and its distinct terms with their counts. */
typedef struct omen__text_doc {
  uint32_t slot;
  uint32_t len;             /* tokens, OMEN__NO_DOC: the record has no text */
  uint32_t first, n;        /* its terms in the batch's list */
  uint8_t drop;             /* the document in slot goes (before any is added) */
} omen__text_doc;

typedef struct omen__text_term {
  uint32_t term, tf;
} omen__text_term;

typedef struct omen__text_batch {
  omen__text_doc *docs;
  size_t n_docs, cap_docs;
  omen__text_term *terms;   /* distinct terms of each document, in turn */
  size_t n_terms, cap_terms;
} omen__text_batch;

void omen__text_batch_free(const omen__mem *m, omen__text_batch *b);

/* Tokenize the text field of an encoded record (meta) as document i of the
** batch, interning its terms; the document's slot is set later. */
int omen__text_add_doc(const omen__mem *m, omen__text *t, const omen__keys *keys,
                       const uint8_t *meta, size_t meta_len, omen__text_batch *b);

/* Reserve what applying the batch needs: tails, the work space, and slots
** up to n_slots. */
int omen__text_reserve(const omen__mem *m, omen__text *t, const omen__text_batch *b,
                       uint32_t n_slots);

/* Note that the document of slot (its record's meta) goes: its terms are
** looked up now, so that applying cannot fail. */
int omen__text_drop_doc(const omen__mem *m, omen__text *t, const omen__keys *keys,
                        uint32_t slot, const uint8_t *meta, size_t meta_len,
                        omen__text_batch *b);

/* Take out the documents going, then add the new ones (their slots set);
** cannot fail once reserved. */
void omen__text_apply(omen__text *t, const omen__text_batch *b);

/* -- Merging ------------------------------------------------------------------ */

/* Whether the tails have grown enough to be worth merging. */
int omen__text_merge_due(const omen__text *t);

/* Encode lists and tails into one; map (NULL: none) renumbers the map_n
** old slots (OMEN__NO_DOC: gone) into n_slots. A failure (OMEN_NOMEM, or
** OMEN_CORRUPT for a damaged list) changes nothing. */
int omen__text_merge(const omen__mem *m, omen__text *t, const uint32_t *map,
                     uint32_t map_n, uint32_t n_slots);

/* -- Saving, loading, checking ----------------------------------------------- */

/* What a checkpoint writes of an index: its arrays, all postings encoded
** (built anew, in `own`, when the tails hold some). */
typedef struct omen__text_image {
  const void *names, *index;  /* the dictionary (omen__keys' arrays) */
  const void *post, *count, *df, *heap, *len;
  uint64_t names_used, heap_used, n_docs, total_len;
  uint32_t n_terms, n_len;
  void *own;
} omen__text_image;

int omen__text_image_make(const omen__mem *m, const omen__text *t, uint32_t n_slots,
                          omen__text_image *img);
void omen__text_image_free(const omen__mem *m, omen__text_image *img);

/* Give a new index (from its settings) the arrays of an image read from a
** file, where they lie, checking every count and reference (the postings
** decode checks theirs as they are read); only live slots (by state) may
** hold documents. OMEN_CORRUPT with err set. */
int omen__text_attach(const omen__mem *m, omen__text *t, const omen__text_image *img,
                      const uint8_t *state, char *err, size_t cap);

/* Decode every list and check it against the documents and their states. */
int omen__text_verify(const omen__mem *m, const omen__text *t, const uint8_t *state,
                      char *err, size_t cap);

/* Documents, live terms, bytes of the arrays a file holds, and (added to
** *memory) the bytes held. */
void omen__text_sizes(const omen__text *t, uint64_t *docs, uint64_t *terms,
                      uint64_t *bytes, uint64_t *memory);

/* -- Search ------------------------------------------------------------------- */

typedef struct omen__text_hit {
  double score;
  uint32_t slot;
} omen__text_hit;

/* A record's encoded metadata, by slot (phrases read documents again). */
typedef const uint8_t *(*omen__text_doc_fn)(void *ctx, uint32_t slot, size_t *len);

typedef struct omen__text_query {
  const char *text;             /* words, "+required", "-excluded", "a phrase" */
  size_t len;
  uint32_t k;
  const struct omen__pred *pred; /* the slots it may return (NULL: all) */
  const omen__keys *keys;       /* the collection's metadata keys */
  omen__text_doc_fn doc;
  void *ctx;
} omen__text_query;

/* The top k documents for a query, best first; *n receives the count; out
** has room for k. OMEN_CORRUPT when a list is damaged, OMEN_INVALID with
** omen__text_error() when a tokenizer fails or a phrase is too long. */
int omen__text_search(const omen__mem *m, const omen__text *t, const omen__text_query *q,
                      omen__text_hit *out, size_t *n);

#endif
