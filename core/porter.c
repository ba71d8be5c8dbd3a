/*
** Porter stemmer (see porter.h): owns the rules of M. F. Porter's
** algorithm ("An algorithm for suffix stripping", 1980) as SQLite's FTS5
** applies them, byte for byte. Calls nothing.
**
** Where FTS5 departs from the paper, or settles what it leaves open, this
** file does as FTS5 does:
** - tokens shorter than 3 bytes or longer than OMEN__PORTER_MAX are kept;
** - a, e, i, o, u are vowels, and so is a y after a consonant; every other
**   byte (digits, each byte of a non-ASCII letter) is a consonant;
** - *v* (steps 1b and 1c) counts any y but the first byte as a vowel;
** - a suffix is stripped only with at least one byte before it;
** - in each step the first rule whose suffix ends the word decides: when
**   its condition fails the step does nothing (so longer suffixes come
**   first in the tables);
** - step 2 maps "bli" to "ble" (not "abli" to "able") and "logi" to "log",
**   as Porter's own later versions do.
** No rule lengthens the word: the stem is written over the token.
*/
#include "port.h"

#include "porter.h"

/* -- Letters and measure ---------------------------------------------------- */

static int porter_aeiou(char c)
{
  return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

/* Whether w[i] is a consonant: not a e i o u, nor a y after a consonant
** (a y first in the word is a consonant). */
static int porter_consonant(const char *w, size_t i)
{
  if (porter_aeiou(w[i])) return 0;
  if (w[i] != 'y') return 1;
  return i == 0 || !porter_consonant(w, i - 1);
}

/* Porter's m of w[0..n): how many times a consonant follows a vowel. */
static int porter_measure(const char *w, size_t n)
{
  int m = 0;
  for (size_t i = 1; i < n; i++)
    m += porter_consonant(w, i) && !porter_consonant(w, i - 1);
  return m;
}

/* *v*: whether w[0..n) holds a vowel, FTS5's way (any y but the first). */
static int porter_has_vowel(const char *w, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (porter_aeiou(w[i]) || (i > 0 && w[i] == 'y')) return 1;
  return 0;
}

/* *o: whether w[0..n) ends consonant, vowel, consonant, the last not w, x
** or y. */
static int porter_cvc(const char *w, size_t n)
{
  if (n < 3 || w[n - 1] == 'w' || w[n - 1] == 'x' || w[n - 1] == 'y') return 0;
  return porter_consonant(w, n - 3) && !porter_consonant(w, n - 2) &&
         porter_consonant(w, n - 1);
}

/* Whether w[0..n) ends with the len-byte suffix s, with a byte before it. */
static int porter_ends(const char *w, size_t n, const char *s, size_t len)
{
  if (n <= len) return 0;
  for (size_t i = 0; i < len; i++)
    if (w[n - len + i] != s[i]) return 0;
  return 1;
}

/* -- Rule tables ------------------------------------------------------------ */

/* What the stem left before a suffix must satisfy for the rule to apply. */
enum { PORTER_ANY, PORTER_M_GT0, PORTER_M_GT1, PORTER_M_GT1_S_OR_T };

typedef struct porter_rule {
  const char *suffix, *to;
  unsigned char suffix_len, to_len, cond;
} porter_rule;

#define PORTER_RULE(suffix, to, cond) {suffix, to, sizeof suffix - 1, sizeof to - 1, cond}
#define PORTER_COUNT(rules) (sizeof rules / sizeof rules[0])

static const porter_rule porter_step1a_rules[] = {
  PORTER_RULE("sses", "ss", PORTER_ANY), PORTER_RULE("ies", "i", PORTER_ANY),
  PORTER_RULE("ss", "ss", PORTER_ANY),   PORTER_RULE("s", "", PORTER_ANY),
};

static const porter_rule porter_step2_rules[] = {
  PORTER_RULE("ational", "ate", PORTER_M_GT0), PORTER_RULE("tional", "tion", PORTER_M_GT0),
  PORTER_RULE("enci", "ence", PORTER_M_GT0),   PORTER_RULE("anci", "ance", PORTER_M_GT0),
  PORTER_RULE("izer", "ize", PORTER_M_GT0),    PORTER_RULE("logi", "log", PORTER_M_GT0),
  PORTER_RULE("bli", "ble", PORTER_M_GT0),     PORTER_RULE("alli", "al", PORTER_M_GT0),
  PORTER_RULE("entli", "ent", PORTER_M_GT0),   PORTER_RULE("eli", "e", PORTER_M_GT0),
  PORTER_RULE("ousli", "ous", PORTER_M_GT0),   PORTER_RULE("ization", "ize", PORTER_M_GT0),
  PORTER_RULE("ation", "ate", PORTER_M_GT0),   PORTER_RULE("ator", "ate", PORTER_M_GT0),
  PORTER_RULE("alism", "al", PORTER_M_GT0),    PORTER_RULE("iveness", "ive", PORTER_M_GT0),
  PORTER_RULE("fulness", "ful", PORTER_M_GT0), PORTER_RULE("ousness", "ous", PORTER_M_GT0),
  PORTER_RULE("aliti", "al", PORTER_M_GT0),    PORTER_RULE("iviti", "ive", PORTER_M_GT0),
  PORTER_RULE("biliti", "ble", PORTER_M_GT0),
};

static const porter_rule porter_step3_rules[] = {
  PORTER_RULE("icate", "ic", PORTER_M_GT0), PORTER_RULE("ative", "", PORTER_M_GT0),
  PORTER_RULE("alize", "al", PORTER_M_GT0), PORTER_RULE("iciti", "ic", PORTER_M_GT0),
  PORTER_RULE("ical", "ic", PORTER_M_GT0),  PORTER_RULE("ful", "", PORTER_M_GT0),
  PORTER_RULE("ness", "", PORTER_M_GT0),
};

static const porter_rule porter_step4_rules[] = {
  PORTER_RULE("al", "", PORTER_M_GT1),   PORTER_RULE("ance", "", PORTER_M_GT1),
  PORTER_RULE("ence", "", PORTER_M_GT1), PORTER_RULE("er", "", PORTER_M_GT1),
  PORTER_RULE("ic", "", PORTER_M_GT1),   PORTER_RULE("able", "", PORTER_M_GT1),
  PORTER_RULE("ible", "", PORTER_M_GT1), PORTER_RULE("ant", "", PORTER_M_GT1),
  PORTER_RULE("ement", "", PORTER_M_GT1), PORTER_RULE("ment", "", PORTER_M_GT1),
  PORTER_RULE("ent", "", PORTER_M_GT1),  PORTER_RULE("ion", "", PORTER_M_GT1_S_OR_T),
  PORTER_RULE("ou", "", PORTER_M_GT1),   PORTER_RULE("ism", "", PORTER_M_GT1),
  PORTER_RULE("ate", "", PORTER_M_GT1),  PORTER_RULE("iti", "", PORTER_M_GT1),
  PORTER_RULE("ous", "", PORTER_M_GT1),  PORTER_RULE("ive", "", PORTER_M_GT1),
  PORTER_RULE("ize", "", PORTER_M_GT1),
};

/* Whether the stem w[0..n), n > 0, meets condition cond. */
static int porter_holds(int cond, const char *w, size_t n)
{
  switch (cond) {
  case PORTER_M_GT0: return porter_measure(w, n) > 0;
  case PORTER_M_GT1: return porter_measure(w, n) > 1;
  case PORTER_M_GT1_S_OR_T:
    return (w[n - 1] == 's' || w[n - 1] == 't') && porter_measure(w, n) > 1;
  default: return 1;
  }
}

/* One step of rules on w[0..n): the first rule whose suffix ends the word
** replaces it if its condition holds. Returns the new length. */
static size_t porter_apply(char *w, size_t n, const porter_rule *rules, size_t count)
{
  for (size_t r = 0; r < count; r++) {
    const porter_rule *p = &rules[r];
    if (!porter_ends(w, n, p->suffix, p->suffix_len)) continue;
    size_t stem = n - p->suffix_len;
    if (!porter_holds(p->cond, w, stem)) return n;
    for (size_t i = 0; i < p->to_len; i++) w[stem + i] = p->to[i];
    return stem + p->to_len;
  }
  return n;
}

/* -- Steps ------------------------------------------------------------------ */

/* After -ed or -ing went: "at", "bl", "iz" get their e back; a doubled
** consonant other than l, s, z loses one; a word of m = 1 ending cvc gains
** an e. The stem is at least 2 bytes shorter than the word was, so the e
** fits. */
static size_t porter_step1b_tidy(char *w, size_t n)
{
  if (porter_ends(w, n, "at", 2) || porter_ends(w, n, "bl", 2) ||
      porter_ends(w, n, "iz", 2)) {
    w[n] = 'e';
    return n + 1;
  }
  char last = w[n - 1];
  if (n >= 2 && last == w[n - 2] && !porter_aeiou(last) && last != 'l' &&
      last != 's' && last != 'z')
    return n - 1;
  if (porter_measure(w, n) == 1 && porter_cvc(w, n)) {
    w[n] = 'e';
    return n + 1;
  }
  return n;
}

/* -eed becomes -ee where m > 0; -ed and -ing go where a vowel is left. */
static size_t porter_step1b(char *w, size_t n)
{
  if (porter_ends(w, n, "eed", 3))
    return porter_measure(w, n - 3) > 0 ? n - 1 : n;
  size_t stem;
  if (porter_ends(w, n, "ed", 2)) stem = n - 2;
  else if (porter_ends(w, n, "ing", 3)) stem = n - 3;
  else return n;
  return porter_has_vowel(w, stem) ? porter_step1b_tidy(w, stem) : n;
}

/* A final y after a vowel somewhere becomes i. */
static size_t porter_step1c(char *w, size_t n)
{
  if (w[n - 1] == 'y' && porter_has_vowel(w, n - 1)) w[n - 1] = 'i';
  return n;
}

/* A final e goes where m > 1, or m = 1 and the rest does not end cvc; then
** a final ll loses an l where m > 1. */
static size_t porter_step5(const char *w, size_t n)
{
  if (w[n - 1] == 'e') {
    int m = porter_measure(w, n - 1);
    if (m > 1 || (m == 1 && !porter_cvc(w, n - 1))) n--;
  }
  if (n > 1 && w[n - 1] == 'l' && w[n - 2] == 'l' && porter_measure(w, n - 1) > 1) n--;
  return n;
}

/* -- Stemming --------------------------------------------------------------- */

size_t omen__porter_stem(char *w, size_t n)
{
  if (n < 3 || n > OMEN__PORTER_MAX) return n;
  n = porter_apply(w, n, porter_step1a_rules, PORTER_COUNT(porter_step1a_rules));
  n = porter_step1b(w, n);
  n = porter_step1c(w, n);
  n = porter_apply(w, n, porter_step2_rules, PORTER_COUNT(porter_step2_rules));
  n = porter_apply(w, n, porter_step3_rules, PORTER_COUNT(porter_step3_rules));
  n = porter_apply(w, n, porter_step4_rules, PORTER_COUNT(porter_step4_rules));
  return porter_step5(w, n);
}
