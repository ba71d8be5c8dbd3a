/*
** Unicode for the full-text tokenizers: lenient UTF-8 decoding, which code
** points are token characters, case folding and diacritics removal, each
** exactly as SQLite FTS5's unicode61 tokenizer does it (FTS5 carries Unicode
** 6.1 data; the tables are measured from SQLite by
** scripts/build/gen_unicode.py).
*/
#ifndef OMEN_UNICODE_H
#define OMEN_UNICODE_H

#include <stddef.h>
#include <stdint.h>

/* Diacritics modes (omen__tokenizer.diacritics): FTS5's remove_diacritics
** 0, 1 (letters with one diacritic) and 2 (all Latin letters), and omen's
** 3: Latin as 2, plus Greek and Cyrillic letters reduced to the base letter
** of their canonical decomposition. */
#define OMEN__DIA_KEEP 0
#define OMEN__DIA_SIMPLE 1
#define OMEN__DIA_LATIN 2
#define OMEN__DIA_ALL 3

/* One entry per byte of text: 0 for an ASCII separator, 0xff for any byte
** of a multi-byte character, else the ASCII token character case-folded.
** The tokenizers' fast path. */
extern const uint8_t omen__uni_ascii[256];

/* Decode the code point at *p (which must be before end) and advance *p;
** never reads at or past end. Lenient as FTS5: a lead byte takes every
** continuation byte that follows, however many (the value wraps at 32
** bits) or few (E2 82 'A' reads U+0082, then 'A'); a result below 0x80
** (overlong, or a lead byte alone), a surrogate or U+FFFE/U+FFFF becomes
** U+FFFD; a stray continuation byte 0x80..0xbf stands for the code point
** of that value; values above U+10FFFF are kept. */
static inline uint32_t omen__uni_decode(const uint8_t **p, const uint8_t *end)
{
  const uint8_t *s = *p;
  uint32_t c = *s++;
  if (c >= 0xc0) {
    c &= c < 0xe0 ? 0x1f : c < 0xf0 ? 0x0f : c < 0xf8 ? 0x07 : c < 0xfc ? 0x03
       : c < 0xfe ? 0x01 : 0;
    while (s < end && (*s & 0xc0) == 0x80) c = (c << 6) + (*s++ & 0x3fu);
    if (c < 0x80 || (c & 0xfffff800u) == 0xd800 || (c & 0xfffffffeu) == 0xfffe) c = 0xfffd;
  }
  *p = s;
  return c;
}

/* Encode cp as FTS5 does: 1 to 4 bytes, and a value above U+1FFFFF (which
** only damaged text decodes to) loses its high bits. Returns the length. */
static inline size_t omen__uni_encode(uint32_t cp, char *out)
{
  unsigned char *o = (unsigned char *)out;
  if (cp < 0x80) {
    o[0] = (unsigned char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (unsigned char)(0xc0 | (cp >> 6));
    o[1] = (unsigned char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (unsigned char)(0xe0 | (cp >> 12));
    o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    o[2] = (unsigned char)(0x80 | (cp & 0x3f));
    return 3;
  }
  o[0] = (unsigned char)(0xf0 | ((cp >> 18) & 0x07));
  o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
  o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
  o[3] = (unsigned char)(0x80 | (cp & 0x3f));
  return 4;
}

/* Whether cp is a token character: FTS5's default categories "L* N* Co",
** judged by Unicode 6.1, where code points unassigned in 6.1 (and all from
** U+100000 up) count as token characters too. */
int omen__uni_is_token(uint32_t cp);

/* Whether cp is a combining mark that continues a token although it is no
** token character (it never starts one): FTS5's 25 common Latin marks in
** U+0300..U+0331, and in mode 3 every mark in U+0300..U+036F. */
int omen__uni_is_joiner(uint32_t cp, int diacritics);

/* cp case-folded (one code point to one, as FTS5's simple lower-casing),
** then its diacritics removed per mode (OMEN__DIA_*); 0 when cp is a
** joiner that the mode drops. */
uint32_t omen__uni_fold(uint32_t cp, int diacritics);

#endif
