/*
** Tokenizers (see tokenize.h): owns the walk from text to terms, FTS5's
** unicode61 and trigram. Calls unicode (classes, folding) and porter
** (stemming).
**
** Most text is ASCII, so both walks take a byte at a time through
** omen__uni_ascii and decode only at bytes >= 0x80; what the Unicode tables
** say of a non-ASCII character is memoized per call.
*/
#include "port.h"

#include <string.h>

#include "porter.h"
#include "tokenize.h"
#include "unicode.h"

#define TOKZ_NONASCII 0xff

/* -- Memo of non-ASCII characters --------------------------------------------- */

/* A text in one script uses a few dozen non-ASCII characters, over and over.
** A direct-mapped memo of each one's class and folding, on the stack, spares
** most of the table searches; it is cleared only once a text shows a
** non-ASCII character. Keys are code points >= 0x80, so 0 is free. */
#define TOKZ_MEMO_SIZE 256
#define TOKZ_TOKEN (1u << 30)
#define TOKZ_JOINER (1u << 29)
#define TOKZ_FOLDED 0x1fffffu

typedef struct tokz_memo {
  int dia, ready;
  uint32_t key[TOKZ_MEMO_SIZE];
  uint32_t val[TOKZ_MEMO_SIZE]; /* folded code point | TOKZ_TOKEN | TOKZ_JOINER */
} tokz_memo;

static void tokz_memo_init(tokz_memo *m, int dia)
{
  m->dia = dia;
  m->ready = 0;
}

/* Class and folding of cp >= 0x80: *folded receives cp folded (0 when the
** mode drops it); returns TOKZ_TOKEN, TOKZ_JOINER or 0 for a separator. */
static uint32_t tokz_memo_look(tokz_memo *m, uint32_t cp, uint32_t *folded)
{
  if (cp > 0x10ffff) { /* damaged text only: a token character, kept */
    *folded = cp;
    return TOKZ_TOKEN;
  }
  if (!m->ready) {
    memset(m->key, 0, sizeof m->key);
    m->ready = 1;
  }
  size_t h = cp & (TOKZ_MEMO_SIZE - 1);
  if (m->key[h] != cp) {
    uint32_t cls = 0;
    if (omen__uni_is_token(cp)) cls = TOKZ_TOKEN;
    else if (omen__uni_is_joiner(cp, m->dia)) cls = TOKZ_JOINER;
    m->key[h] = cp;
    m->val[h] = cls | (m->dia < 0 ? cp : omen__uni_fold(cp, m->dia));
  }
  *folded = m->val[h] & TOKZ_FOLDED;
  return m->val[h] & (TOKZ_TOKEN | TOKZ_JOINER);
}

/* -- unicode61 ----------------------------------------------------------------- */

/* A term being built: n bytes of at most OMEN__MAX_TERM. Once a character
** does not fit, the rest of the token is dropped: limit falls to 0. */
typedef struct u61_term {
  char b[OMEN__MAX_TERM];
  size_t n, limit;
} u61_term;

static void u61_put(u61_term *w, uint32_t cp)
{
  char enc[4];
  size_t k = omen__uni_encode(cp, enc);
  if (w->n + k > w->limit) {
    w->limit = 0;
    return;
  }
  memcpy(w->b + w->n, enc, k);
  w->n += k;
}

/* Skip separators from s; returns the start of the next token, or end.
** A joiner cannot start a token: FTS5 skips it here. */
static const uint8_t *u61_skip(const uint8_t *s, const uint8_t *end, tokz_memo *m)
{
  while (s < end) {
    uint8_t f = omen__uni_ascii[*s];
    if (f != TOKZ_NONASCII) {
      if (f) return s;
      s++;
      continue;
    }
    const uint8_t *next = s;
    uint32_t folded;
    if (tokz_memo_look(m, omen__uni_decode(&next, end), &folded) == TOKZ_TOKEN) return s;
    s = next;
  }
  return s;
}

/* Fold the token at s into w; returns where the token ends (after the
** separator that ended it when that was not ASCII: it separates anyway). */
static const uint8_t *u61_scan(const uint8_t *s, const uint8_t *end, tokz_memo *m,
                               u61_term *w)
{
  w->n = 0;
  w->limit = OMEN__MAX_TERM;
  while (s < end) {
    /* The bulk of most text: ASCII letters and digits. */
    uint8_t f = omen__uni_ascii[*s];
    while (f && f != TOKZ_NONASCII && w->n < w->limit) {
      w->b[w->n++] = (char)f;
      if (++s == end) return s;
      f = omen__uni_ascii[*s];
    }
    if (!f) break;
    if (f != TOKZ_NONASCII) {
      w->limit = 0; /* an ASCII character that does not fit */
      s++;
      continue;
    }
    uint32_t folded;
    if (!tokz_memo_look(m, omen__uni_decode(&s, end), &folded)) break;
    if (folded) u61_put(w, folded);
  }
  return s;
}

static int u61_walk(const omen__tokenizer *t, const uint8_t *s, const uint8_t *end,
                    omen__term_fn fn, void *ud)
{
  u61_term w;
  tokz_memo m;
  uint32_t pos = 0;
  tokz_memo_init(&m, t->diacritics);
  for (;;) {
    s = u61_skip(s, end, &m);
    if (s == end) return 0;
    s = u61_scan(s, end, &m, &w);
    size_t n = t->porter ? omen__porter_stem(w.b, w.n) : w.n;
    int rc = fn(ud, w.b, n, pos++);
    if (rc) return rc;
  }
}

/* -- trigram ------------------------------------------------------------------- */

/* The next character of a trigram text, folded per the memo's mode (-1: no
** folding); 0 at the end of the text or at a NUL, which ends it for FTS5
** too. Skips characters that diacritics removal drops. */
static uint32_t tri_next(const uint8_t **s, const uint8_t *end, tokz_memo *m)
{
  while (*s < end) {
    uint32_t cp = **s;
    if (cp < 0x80) {
      (*s)++;
      return m->dia >= 0 && cp - 'A' < 26 ? cp + 32 : cp;
    }
    tokz_memo_look(m, omen__uni_decode(s, end), &cp);
    if (cp) return cp;
  }
  return 0;
}

/* The folded text is appended to a buffer, and each term is the last three
** characters there: one append per character, no copying per term. When the
** buffer fills, the two characters still needed move to its front. */
#define TOKZ_TRI_BUF 256

static int tri_walk(const omen__tokenizer *t, const uint8_t *s, const uint8_t *end,
                    omen__term_fn fn, void *ud)
{
  /* FTS5's trigram knows only "remove all Latin diacritics". */
  int mode = t->case_sensitive ? -1 : t->diacritics == OMEN__DIA_SIMPLE ? OMEN__DIA_LATIN
                                                                       : t->diacritics;
  tokz_memo m;
  char buf[TOKZ_TRI_BUF];
  size_t at0 = 0, at1 = 0, at2 = 0, n = 0; /* starts of the last 3 characters */
  uint32_t have = 0, pos = 0, cp;
  tokz_memo_init(&m, mode);
  while ((cp = tri_next(&s, end, &m)) != 0) {
    if (n + 4 > TOKZ_TRI_BUF) {
      memmove(buf, buf + at1, n - at1);
      n -= at1;
      at2 -= at1;
      at1 = 0;
    }
    at0 = at1;
    at1 = at2;
    at2 = n;
    n += omen__uni_encode(cp, buf + n);
    if (have < 2) {
      have++;
      continue;
    }
    int rc = fn(ud, buf + at0, n - at0, pos++);
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
