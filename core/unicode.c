/*
** Unicode classes and folding for the tokenizers (see unicode.h), looked up
** in the generated tables of unicode_tab.h. Calls nothing.
*/
#include "port.h"

#include "unicode.h"
#include "unicode_tab.h"

#define UNI_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Index of the last run starting at or before cp (cp >= 0x80). */
static size_t uni_run_of(uint32_t cp)
{
  size_t lo = 0, hi = UNI_COUNT(uni_runs);
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (uni_runs[mid] <= cp) lo = mid;
    else hi = mid;
  }
  return lo;
}

int omen__uni_is_token(uint32_t cp)
{
  if (cp < 0x80) return omen__uni_ascii[cp] != 0;
  /* The runs alternate from a separator run at U+0080. */
  return uni_run_of(cp) & 1;
}

int omen__uni_is_joiner(uint32_t cp, int diacritics)
{
  uint32_t k = cp - 0x300;
  if (diacritics == OMEN__DIA_ALL) return k < 0x70;
  return k < 64 && (UNI_JOINERS >> k & 1);
}

static uint32_t uni_fold_case(uint32_t cp)
{
  size_t lo = 0, hi = UNI_COUNT(uni_fold);
  if (cp < uni_fold[0].first) return cp;
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (uni_fold[mid].first <= cp) lo = mid;
    else hi = mid;
  }
  const struct uni_fold_rule *r = &uni_fold[lo];
  uint32_t k = cp - r->first;
  if (k % r->stride || k / r->stride >= r->count) return cp;
  return (uint32_t)((int32_t)cp + r->delta);
}

/* Only what folding can produce is in the table: upper-case letters that
** fold away may sit inside a range. */
static uint32_t uni_strip(uint32_t cp, int diacritics)
{
  size_t lo = 0, hi = UNI_COUNT(uni_dia);
  if (cp < uni_dia[0].first || cp > 0xffff) return cp;
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (uni_dia[mid].first <= cp) lo = mid;
    else hi = mid;
  }
  const struct uni_dia_range *r = &uni_dia[lo];
  if (cp - r->first > r->span || r->level > diacritics) return cp;
  return r->to;
}

uint32_t omen__uni_fold(uint32_t cp, int diacritics)
{
  if (cp < 0x80) return cp - 'A' < 26 ? cp + 32 : cp;
  if (diacritics && omen__uni_is_joiner(cp, diacritics)) return 0;
  cp = uni_fold_case(cp);
  return diacritics ? uni_strip(cp, diacritics) : cp;
}
