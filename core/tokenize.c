/*
** Tokenizers (see tokenize.h): owns the walk from text to terms, FTS5's
** unicode61 and trigram. Calls unicode (classes, folding) and porter
** (stemming).
**
** Most text is ASCII, so both walks take a byte at a time through
** omen__uni_ascii and decode only at bytes >= 0x80.
*/
#include "port.h"

#include <string.h>

#include "porter.h"
#include "tokenize.h"
#include "unicode.h"

#define TOKZ_NONASCII 0xff

/* -- unicode61 ----------------------------------------------------------------- */

/* A term being built: bytes n of at most OMEN__MAX_TERM; once a character
** does not fit, the rest of the token is dropped (full). */
typedef struct u61_term {
  char b[OMEN__MAX_TERM + 4];
  size_t n;
  int full;
} u61_term;

static void u61_put(u61_term *w, uint32_t cp)
{
  char enc[4];
  size_t k = omen__uni_encode(cp, enc);
  if (w->full || w->n + k > OMEN__MAX_TERM) {
    w->full = 1;
    return;
  }
  memcpy(w->b + w->n, enc, k);
  w->n += k;
}

/* Skip separators from s; returns the start of the next token, or end.
** A joiner cannot start a token: FTS5 skips it here. */
static const uint8_t *u61_skip(const uint8_t *s, const uint8_t *end)
{
  while (s < end) {
    uint8_t f = omen__uni_ascii[*s];
    if (f != TOKZ_NONASCII) {
      if (f) return s;
      s++;
      continue;
    }
    const uint8_t *next = s;
    if (omen__uni_is_token(omen__uni_decode(&next, end))) return s;
    s = next;
  }
  return s;
}

/* Fold the token at s into w; returns where the token ends (after the
** separator that ended it when that was not ASCII: it separates anyway). */
static const uint8_t *u61_scan(const uint8_t *s, const uint8_t *end, int dia, u61_term *w)
{
  w->n = 0;
  w->full = 0;
  while (s < end) {
    uint8_t f = omen__uni_ascii[*s];
    if (f != TOKZ_NONASCII) {
      if (!f) break;
      if (w->n < OMEN__MAX_TERM && !w->full) w->b[w->n++] = (char)f;
      else w->full = 1;
      s++;
      continue;
    }
    uint32_t cp = omen__uni_decode(&s, end);
    if (!omen__uni_is_token(cp) && !omen__uni_is_joiner(cp, dia)) break;
    cp = omen__uni_fold(cp, dia);
    if (cp) u61_put(w, cp);
  }
  return s;
}

static int u61_walk(const omen__tokenizer *t, const uint8_t *s, const uint8_t *end,
                    omen__term_fn fn, void *ud)
{
  u61_term w;
  uint32_t pos = 0;
  for (;;) {
    s = u61_skip(s, end);
    if (s == end) return 0;
    s = u61_scan(s, end, t->diacritics, &w);
    size_t n = t->porter ? omen__porter_stem(w.b, w.n) : w.n;
    int rc = fn(ud, w.b, n, pos++);
    if (rc) return rc;
  }
}

/* -- trigram ------------------------------------------------------------------- */

/* The next character of a trigram text, folded per mode (-1: no folding);
** 0 at the end of the text or at a NUL, which ends it for FTS5 too. Skips
** characters that diacritics removal drops. */
static uint32_t tri_next(const uint8_t **s, const uint8_t *end, int mode)
{
  while (*s < end) {
    uint32_t cp = **s;
    if (cp < 0x80) {
      (*s)++;
      return mode >= 0 && cp - 'A' < 26 ? cp + 32 : cp;
    }
    cp = omen__uni_decode(s, end);
    if (mode < 0) return cp;
    cp = omen__uni_fold(cp, mode);
    if (cp) return cp;
  }
  return 0;
}

static int tri_walk(const omen__tokenizer *t, const uint8_t *s, const uint8_t *end,
                    omen__term_fn fn, void *ud)
{
  /* FTS5's trigram knows only "remove all Latin diacritics". */
  int mode = t->case_sensitive ? -1 : t->diacritics == OMEN__DIA_SIMPLE ? OMEN__DIA_LATIN
                                                                       : t->diacritics;
  char ch[3][4]; /* the window's characters, encoded, oldest at [first] */
  size_t len[3], first = 0, have = 0;
  uint32_t pos = 0, cp;
  while ((cp = tri_next(&s, end, mode)) != 0) {
    size_t slot = (first + have) % 3;
    if (have == 3) first = (first + 1) % 3;
    else have++;
    len[slot] = omen__uni_encode(cp, ch[slot]);
    if (have < 3) continue;
    char term[12];
    size_t n = 0;
    for (size_t i = 0; i < 3; i++) {
      size_t k = (first + i) % 3;
      memcpy(term + n, ch[k], len[k]);
      n += len[k];
    }
    int rc = fn(ud, term, n, pos++);
    if (rc) return rc;
  }
  return 0;
}

/* -- Entry --------------------------------------------------------------------- */

int omen__tokenize(const omen__tokenizer *t, const char *text, size_t len, omen__term_fn fn,
                   void *ud)
{
  if (!len) return 0;
  const uint8_t *s = (const uint8_t *)text, *end = s + len;
  if (t->kind == OMEN__TOK_TRIGRAM) return tri_walk(t, s, end, fn, ud);
  return u61_walk(t, s, end, fn, ud);
}
