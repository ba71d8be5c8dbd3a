/*
** Tokenizers: every text of tests/data/unicode61.txt gives the terms, at the
** positions, SQLite FTS5 gives under each configuration
** (scripts/build/tokenize_fixture.sh made the file); mode 3 folds Greek and
** Cyrillic; terms are cut at OMEN__MAX_TERM on a character boundary; the
** callback stops the walk; and random bytes, in a block of exactly their
** length, are never read past and tokenize as a plain code-point-at-a-time
** reference does.
*/
#include "testutil.h"

#include "porter.h"
#include "tokenize.h"
#include "unicode.h"

#define FIXTURE "tests/data/unicode61.txt"

/* -- Collecting terms ---------------------------------------------------- */

/* Terms as text: " POS:HEX" each, as in the fixture. */
typedef struct terms {
  char *s;
  size_t n, cap;
  uint32_t count;
  int bad_pos;   /* a position was not the count so far */
  int stop_at;   /* return 7 from the stop_at-th call (1-based), 0 never */
} terms;

static void terms_add(terms *t, const char *s, size_t n)
{
  if (t->n + n + 1 > t->cap) {
    t->cap = (t->n + n + 1) * 2;
    t->s = realloc(t->s, t->cap);
    assert_non_null(t->s);
  }
  memcpy(t->s + t->n, s, n);
  t->n += n;
  t->s[t->n] = '\0';
}

static int collect(void *ud, const char *term, size_t len, uint32_t pos)
{
  terms *t = ud;
  char head[16];
  if (pos != t->count) t->bad_pos = 1;
  if (len == 0 || len > OMEN__MAX_TERM) t->bad_pos = 1;
  snprintf(head, sizeof head, " %u:", (unsigned)pos);
  terms_add(t, head, strlen(head));
  for (size_t i = 0; i < len; i++) {
    char hex[3];
    snprintf(hex, sizeof hex, "%02X", (unsigned char)term[i]);
    terms_add(t, hex, 2);
  }
  t->count++;
  return t->stop_at && t->count == (uint32_t)t->stop_at ? 7 : 0;
}

/* Tokenize the n bytes at s from a heap block of exactly n bytes (ASan
** sees any overrun); the terms as text (caller frees). */
static char *run(const omen__tokenizer *tok, const char *s, size_t n, uint32_t *count)
{
  char *copy = malloc(n ? n : 1);
  assert_non_null(copy);
  memcpy(copy, s, n);
  terms t = {0};
  terms_add(&t, "", 0);
  assert_int_equal(omen__tokenize(tok, copy, n, collect, &t), 0);
  assert_false(t.bad_pos);
  free(copy);
  if (count) *count = t.count;
  return t.s;
}

static char *run_str(const omen__tokenizer *tok, const char *s)
{
  return run(tok, s, strlen(s), NULL);
}

/* The terms of s as text: terms given as plain strings. */
static char *expect(const char *const *want, size_t n)
{
  terms t = {0};
  terms_add(&t, "", 0);
  for (size_t i = 0; i < n; i++) collect(&t, want[i], strlen(want[i]), (uint32_t)i);
  return t.s;
}

#define U61(d) {OMEN__TOK_UNICODE61, (d), 0, 0}
#define TRI(d, cs) {OMEN__TOK_TRIGRAM, (d), 0, (cs)}

static void check_terms(const omen__tokenizer *tok, const char *s, const char *const *want,
                        size_t n)
{
  char *got = run_str(tok, s), *exp = expect(want, n);
  if (strcmp(got, exp)) fprintf(stderr, "%s:\n  got %s\n want %s\n", s, got, exp);
  assert_string_equal(got, exp);
  free(got);
  free(exp);
}
#define CHECK(tok, s, ...)                                                    \
  do {                                                                        \
    const char *const want_[] = {__VA_ARGS__};                                \
    check_terms(tok, s, want_, sizeof want_ / sizeof want_[0]);               \
  } while (0)

/* -- Against FTS5 -------------------------------------------------------- */

static const struct {
  const char *name;
  omen__tokenizer tok;
} configs[] = {
  {"u61", {OMEN__TOK_UNICODE61, 1, 0, 0}},
  {"u61rd0", {OMEN__TOK_UNICODE61, 0, 0, 0}},
  {"u61rd2", {OMEN__TOK_UNICODE61, 2, 0, 0}},
  {"porter", {OMEN__TOK_UNICODE61, 1, 1, 0}},
  {"trigram", {OMEN__TOK_TRIGRAM, 0, 0, 0}},
  {"trigramcs", {OMEN__TOK_TRIGRAM, 0, 0, 1}},
};

static int hexval(int c)
{
  return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Decode hex text into a fresh block; its length in *n. */
static char *unhex(const char *h, size_t *n)
{
  size_t len = strlen(h) / 2;
  char *out = malloc(len ? len : 1);
  assert_non_null(out);
  for (size_t i = 0; i < len; i++)
    out[i] = (char)(hexval(h[2 * i]) << 4 | hexval(h[2 * i + 1]));
  *n = len;
  return out;
}

static void t_fixture(void **state)
{
  (void)state;
  FILE *f = fopen(FIXTURE, "r");
  if (!f) fprintf(stderr, "cannot open %s (run the tests from the repo root)\n", FIXTURE);
  assert_non_null(f);
  char *line = NULL, *text = NULL, note[160] = "";
  size_t cap = 0, len = 0, lineno = 0, texts = 0, checks = 0, bad = 0;
  size_t per_config[sizeof configs / sizeof configs[0]] = {0};
  ssize_t got;
  while ((got = getline(&line, &cap, f)) > 0) {
    lineno++;
    if (line[got - 1] == '\n') line[--got] = '\0';
    if (line[0] == '#') {
      snprintf(note, sizeof note, "%s", line);
      continue;
    }
    if (!strncmp(line, "text ", 5)) {
      free(text);
      text = unhex(line + 5, &len);
      texts++;
      continue;
    }
    char *sp = strchr(line, ' ');
    size_t name_len = sp ? (size_t)(sp - line) : strlen(line);
    size_t c = 0;
    while (c < sizeof configs / sizeof configs[0] &&
           (strlen(configs[c].name) != name_len || strncmp(configs[c].name, line, name_len)))
      c++;
    if (c == sizeof configs / sizeof configs[0] || !text)
      fprintf(stderr, "%s:%zu: unknown line\n", FIXTURE, lineno);
    assert_true(c < sizeof configs / sizeof configs[0] && text);
    char *terms_got = run(&configs[c].tok, text, len, NULL);
    checks++;
    per_config[c]++;
    if (strcmp(terms_got, line + name_len) && ++bad <= 10)
      fprintf(stderr, "%s:%zu: %s\n  %s: FTS5%s\n  %*s  omen%s\n", FIXTURE, lineno, note,
              configs[c].name, line + name_len, (int)name_len, "", terms_got);
    free(terms_got);
  }
  free(text);
  free(line);
  fclose(f);
  if (bad) fprintf(stderr, "%zu of %zu tokenizations differ from FTS5\n", bad, checks);
  assert_true(texts >= 400);
  for (size_t c = 0; c < sizeof configs / sizeof configs[0]; c++)
    assert_true(per_config[c] >= 200);
  assert_int_equal(bad, 0);
}

/* -- Behaviours named in the FTS5 sources -------------------------------- */

static void t_unicode61(void **state)
{
  (void)state;
  const omen__tokenizer d1 = U61(1), d0 = U61(0), d2 = U61(2);
  CHECK(&d1, "Hello, World! it's foo_bar.baz()", "hello", "world", "it", "s", "foo", "bar",
        "baz");
  CHECK(&d1, "Straße İstanbul ΣΊΣΥΦΟΣ ς", "straße", "istanbul", "σίσυφοσ", "σ");
  CHECK(&d0, "İstanbul", "\xc4\xb0stanbul"); /* FTS5 has no lower case for İ */
  /* A combining mark continues a token but cannot start one; remove_diacritics
  ** drops it, 0 keeps it; marks FTS5 does not know separate. */
  CHECK(&d1, "e\xcc\x81x \xcc\x81y a\xcd\x82" "b", "ex", "y", "a", "b");
  CHECK(&d0, "e\xcc\x81x", "e\xcc\x81x");
  /* 1 strips one diacritic, 2 all of them. */
  CHECK(&d1, "ǖ ṍ ặ é", "ǖ", "ṍ", "ặ", "e");
  CHECK(&d2, "ǖ ṍ ặ é", "u", "o", "a", "e");
  /* Unassigned in Unicode 6.1 means a token character: 🤔 (Unicode 8) is one,
  ** 😀 (6.1, a symbol) is not. */
  CHECK(&d1, "a😀b🤔c", "a", "b🤔c");
}

static void t_trigram(void **state)
{
  (void)state;
  const omen__tokenizer tri = TRI(0, 0), cs = TRI(0, 1), rd = TRI(1, 0);
  check_terms(&tri, "ab", NULL, 0);
  CHECK(&tri, "abc", "abc");
  CHECK(&tri, "A b-C", "a b", " b-", "b-c");
  CHECK(&cs, "A b-C", "A b", " b-", "b-C");
  /* A NUL ends the text (FTS5 3.40). */
  const char nul[] = "abcd\0efgh";
  uint32_t n;
  char *got = run(&tri, nul, sizeof nul - 1, &n);
  assert_int_equal(n, 2);
  free(got);
  /* Diacritics: 1 removes all Latin ones, and a dropped mark is no
  ** character; case_sensitive folds nothing. */
  CHECK(&rd, "Ǖe\xcc\x81x", "uex");
  CHECK(&tri, "Ǖe\xcc\x81x", "ǖe\xcc\x81", "e\xcc\x81x");
  const omen__tokenizer csrd = TRI(1, 1);
  CHECK(&csrd, "ÉÉÉ", "ÉÉÉ");
}

/* -- omen's mode 3 ------------------------------------------------------- */

static void t_greek_cyrillic(void **state)
{
  (void)state;
  const omen__tokenizer d3 = U61(3), d2 = U61(2), tri3 = TRI(3, 0);
  CHECK(&d3, "Ἀθῆναι ёлка йод ї ΐ ΆΈΉΊΌΎΏ ᾼ ѐ ӂ", "αθηναι", "елка", "иод", "і", "ι",
        "αεηιουω", "α", "е", "ж");
  CHECK(&d2, "Ἀθῆναι ёлка йод ї ΐ", "ἀθῆναι", "ёлка", "йод", "ї", "ΐ");
  /* Latin as in mode 2, letters without diacritics as they were. */
  CHECK(&d3, "Crème Brûlée ǖ Ω щ Ω", "creme", "brulee", "u", "ω", "щ", "ω");
  /* Decomposed: every mark of U+0300..U+036F joins the token and goes. */
  CHECK(&d3, "\xce\x91\xcc\x93\xce\xb8\xce\xb7\xcd\x82\xce\xbd\xce\xb1\xce\xb9", "αθηναι");
  CHECK(&d2, "\xce\x91\xcc\x93\xce\xb8\xce\xb7\xcd\x82\xce\xbd\xce\xb1\xce\xb9", "α", "θη",
        "ναι");
  CHECK(&d3, "\xd0\xb5\xcc\x88\xd0\xbb\xd0\xba\xd0\xb0", "елка");
  CHECK(&tri3, "Ἀθή", "αθη");
  assert_int_equal(omen__uni_fold(0x1f08, 3), 0x3b1);  /* Ἀ */
  assert_int_equal(omen__uni_fold(0x1f08, 2), 0x1f00); /* ἀ */
  assert_int_equal(omen__uni_fold(0x419, 3), 0x438);   /* Й */
  assert_int_equal(omen__uni_fold(0x342, 3), 0);
  assert_int_equal(omen__uni_fold(0x342, 2), 0x342);
}

/* -- The Unicode layer ---------------------------------------------------- */

static uint32_t decode_hex(const char *h, size_t *used)
{
  size_t n;
  char *b = unhex(h, &n);
  const uint8_t *p = (const uint8_t *)b;
  uint32_t cp = omen__uni_decode(&p, p + n);
  *used = (size_t)(p - (const uint8_t *)b);
  free(b);
  return cp;
}

static void t_unicode(void **state)
{
  (void)state;
  static const struct {
    const char *hex;
    uint32_t cp;
    size_t used;
  } cases[] = {
    {"41", 0x41, 1},         {"c3a9", 0xe9, 2},          {"e282ac", 0x20ac, 3},
    {"f09f9880", 0x1f600, 4}, {"b5", 0xb5, 1},            {"80", 0x80, 1},
    {"c3", 0xfffd, 1},       {"c3c3", 0xfffd, 1},        {"c0af", 0xfffd, 2},
    {"c080", 0xfffd, 2},     {"e08080", 0xfffd, 3},      {"eda080", 0xfffd, 3},
    {"efbfbe", 0xfffd, 3},   {"efbfbf", 0xfffd, 3},      {"f7bfbfbf", 0x1fffff, 4},
    {"f4908080", 0x110000, 4}, {"c3a9a9a9", 0xe9a69, 4},  {"fe", 0xfffd, 1},
    {"e28241", 0x82, 2},     {"fd8080808080", 0x40000000u, 6},
    {"fd808080808080", 0xfffd, 7}, /* 36 bits wrap to 0 */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t used;
    uint32_t cp = decode_hex(cases[i].hex, &used);
    if (cp != cases[i].cp || used != cases[i].used)
      fprintf(stderr, "decode %s: U+%X (%zu bytes)\n", cases[i].hex, (unsigned)cp, used);
    assert_int_equal(cp, cases[i].cp);
    assert_int_equal(used, cases[i].used);
  }
  char enc[4];
  assert_int_equal(omen__uni_encode(0x20ac, enc), 3);
  assert_memory_equal(enc, "\xe2\x82\xac", 3);
  assert_int_equal(omen__uni_encode(0x80000000u, enc), 4);
  assert_memory_equal(enc, "\xf0\x80\x80\x80", 4);

  assert_true(omen__uni_is_token('a') && omen__uni_is_token('Z') && omen__uni_is_token('7'));
  assert_false(omen__uni_is_token('_') || omen__uni_is_token(' ') || omen__uni_is_token(0));
  assert_true(omen__uni_is_token(0xaa) && omen__uni_is_token(0xb5) && omen__uni_is_token(0x4e00));
  assert_false(omen__uni_is_token(0xa0) || omen__uni_is_token(0xd7) || omen__uni_is_token(0x301));
  assert_true(omen__uni_is_token(0x1f914) && omen__uni_is_token(0xe000));
  assert_false(omen__uni_is_token(0x1f600) || omen__uni_is_token(0xfffd));
  assert_true(omen__uni_is_token(0x10ffff) && omen__uni_is_token(0x110000) &&
              omen__uni_is_token(0xffffffffu));
  assert_true(omen__uni_is_joiner(0x301, 1) && omen__uni_is_joiner(0x331, 0));
  assert_false(omen__uni_is_joiner(0x305, 2) || omen__uni_is_joiner(0x342, 2));
  assert_true(omen__uni_is_joiner(0x342, 3) && omen__uni_is_joiner(0x36f, 3));
  assert_false(omen__uni_is_joiner(0x370, 3) || omen__uni_is_joiner(0x2ff, 3));

  assert_int_equal(omen__uni_fold('A', 0), 'a');
  assert_int_equal(omen__uni_fold(0xc9, 0), 0xe9);
  assert_int_equal(omen__uni_fold(0xc9, 1), 'e');
  assert_int_equal(omen__uni_fold(0x130, 0), 0x130);
  assert_int_equal(omen__uni_fold(0x130, 1), 'i');
  assert_int_equal(omen__uni_fold(0x3a3, 0), 0x3c3);
  assert_int_equal(omen__uni_fold(0x3c2, 0), 0x3c3);
  assert_int_equal(omen__uni_fold(0x1e9e, 0), 0xdf);
  assert_int_equal(omen__uni_fold(0x10400, 0), 0x10428);
  assert_int_equal(omen__uni_fold(0x1d6, 1), 0x1d6);
  assert_int_equal(omen__uni_fold(0x1d5, 2), 'u');
  assert_int_equal(omen__uni_fold(0x301, 0), 0x301);
  assert_int_equal(omen__uni_fold(0x301, 1), 0);
  assert_int_equal(omen__uni_fold(0xffffffffu, 2), 0xffffffffu);
}

/* -- Limits and the callback ---------------------------------------------- */

static char *repeat(const char *s, size_t times)
{
  size_t n = strlen(s);
  char *out = malloc(n * times + 1);
  assert_non_null(out);
  for (size_t i = 0; i < times; i++) memcpy(out + i * n, s, n);
  out[n * times] = '\0';
  return out;
}

static void t_max_term(void **state)
{
  (void)state;
  const omen__tokenizer d0 = U61(0), d1 = U61(1);
  char buf[1024];
  char *a300 = repeat("a", 300), *a255 = repeat("a", 255), *a254 = repeat("a", 254);
  char *e200 = repeat("é", 200), *e127 = repeat("é", 127);

  snprintf(buf, sizeof buf, "%s next", a300);
  CHECK(&d0, buf, a255, "next");
  /* Two-byte letters: 127 of them fill 254 bytes; the 128th does not fit. */
  snprintf(buf, sizeof buf, "x %s y", e200);
  CHECK(&d0, buf, "x", e127, "y");
  /* After a character that does not fit, nothing more of the token is
  ** added, even what would fit. */
  snprintf(buf, sizeof buf, "%sébc", a254);
  CHECK(&d0, buf, a254);
  /* Removal happens before the cut: é as e fits, then b does not. */
  char a254e[256];
  snprintf(a254e, sizeof a254e, "%se", a254);
  CHECK(&d1, buf, a254e);
  /* Exactly 255 bytes is kept whole. */
  CHECK(&d0, a255, a255);
  free(a300);
  free(a255);
  free(a254);
  free(e200);
  free(e127);
}

static void t_stop(void **state)
{
  (void)state;
  static const omen__tokenizer toks[] = {U61(1), TRI(0, 0), {OMEN__TOK_UNICODE61, 1, 1, 0}};
  const char *text = "one two three four five";
  for (size_t i = 0; i < sizeof toks / sizeof toks[0]; i++) {
    terms t = {0};
    t.stop_at = 3;
    assert_int_equal(omen__tokenize(&toks[i], text, strlen(text), collect, &t), 7);
    assert_int_equal(t.count, 3);
    free(t.s);
  }
}

static int never(void *ud, const char *term, size_t len, uint32_t pos)
{
  (void)ud;
  (void)term;
  (void)len;
  (void)pos;
  fail_msg("no term expected");
  return 0;
}

static void t_empty(void **state)
{
  (void)state;
  static const omen__tokenizer toks[] = {U61(0), U61(1), U61(3), TRI(0, 0), TRI(2, 0),
                                         {OMEN__TOK_UNICODE61, 1, 1, 0}};
  for (size_t i = 0; i < sizeof toks / sizeof toks[0]; i++) {
    assert_int_equal(omen__tokenize(&toks[i], NULL, 0, never, NULL), 0);
    assert_int_equal(omen__tokenize(&toks[i], "", 0, never, NULL), 0);
    if (toks[i].kind == OMEN__TOK_UNICODE61) {
      const char *seps = " \t\n.,;!?-_()[]\xc2\xa0\xe2\x80\x94\xcc\x81\xf0\x9f\x98\x80";
      assert_int_equal(omen__tokenize(&toks[i], seps, strlen(seps), never, NULL), 0);
    } else {
      assert_int_equal(omen__tokenize(&toks[i], "ab", 2, never, NULL), 0);
      assert_int_equal(omen__tokenize(&toks[i], "\xc3\xa9\xc3\xa9", 4, never, NULL), 0);
    }
  }
}

/* -- Random bytes against a reference ------------------------------------- */

/* Code points of s[0..n), as omen__uni_decode reads them one at a time. */
static uint32_t *code_points(const uint8_t *s, size_t n, size_t *count)
{
  uint32_t *cp = malloc((n + 1) * sizeof *cp);
  assert_non_null(cp);
  const uint8_t *p = s, *end = s + n;
  size_t k = 0;
  while (p < end) {
    const uint8_t *before = p;
    cp[k++] = omen__uni_decode(&p, end);
    assert_true(p > before && p <= end);
  }
  *count = k;
  return cp;
}

/* The unicode61 walk written plainly: classify, fold, encode, cut. */
static char *ref_unicode61(const omen__tokenizer *tok, const uint32_t *cp, size_t n)
{
  terms t = {0};
  terms_add(&t, "", 0);
  size_t i = 0;
  while (i < n) {
    if (!omen__uni_is_token(cp[i])) {
      i++;
      continue;
    }
    char w[OMEN__MAX_TERM + 4];
    size_t len = 0;
    int full = 0;
    for (; i < n; i++) {
      if (!omen__uni_is_token(cp[i]) && !omen__uni_is_joiner(cp[i], tok->diacritics)) break;
      uint32_t c = omen__uni_fold(cp[i], tok->diacritics);
      char e[4];
      size_t k = c ? omen__uni_encode(c, e) : 0;
      if (full || len + k > OMEN__MAX_TERM) {
        full = 1;
      } else {
        memcpy(w + len, e, k);
        len += k;
      }
    }
    if (tok->porter) len = omen__porter_stem(w, len);
    collect(&t, w, len, t.count);
  }
  return t.s;
}

static char *ref_trigram(const omen__tokenizer *tok, const uint32_t *cp, size_t n)
{
  terms t = {0};
  terms_add(&t, "", 0);
  uint32_t keep[3];
  size_t have = 0;
  int mode = tok->diacritics == 1 ? 2 : tok->diacritics;
  for (size_t i = 0; i < n && cp[i]; i++) {
    uint32_t c = tok->case_sensitive ? cp[i] : omen__uni_fold(cp[i], mode);
    if (!c) continue;
    if (have == 3) {
      keep[0] = keep[1];
      keep[1] = keep[2];
      have = 2;
    }
    keep[have++] = c;
    if (have < 3) continue;
    char w[12];
    size_t len = 0;
    for (int j = 0; j < 3; j++) len += omen__uni_encode(keep[j], w + len);
    collect(&t, w, len, t.count);
  }
  return t.s;
}

static void t_fuzz(void **state)
{
  (void)state;
  static const uint8_t pool[] = {'a', 'Z', '0', ' ', '.', '\0', 0x80, 0x81, 0xa9, 0xb5, 0xbf,
                                 0xc3, 0xc2, 0xcc, 0xce, 0xd0, 0xe2, 0xe3, 0xed, 0xef, 0xf0,
                                 0xf4, 0xf7, 0xfc, 0xff};
  static const omen__tokenizer toks[] = {
    U61(0), U61(1), U61(2), U61(3), {OMEN__TOK_UNICODE61, 1, 1, 0},
    TRI(0, 0), TRI(0, 1), TRI(1, 0), TRI(3, 0)};
  static const uint32_t blocks[16] = {0,      0x100,  0x200,  0x300,   0x400,  0x500,
                                      0x1e00, 0x1f00, 0x2100, 0x2c00,  0xa700, 0xff00,
                                      0x10400, 0x1f900, 0x20000, 0xe0000};
  uint64_t seed = 42;
  uint8_t buf[600];
  for (int iter = 0; iter < 4000; iter++) {
    size_t n = (size_t)(tu_next(&seed) % (iter < 3000 ? 40 : sizeof buf - 4));
    int style = (int)(tu_next(&seed) % 4);
    for (size_t i = 0; i < n; i++) {
      uint64_t r = tu_next(&seed);
      if (style == 0) buf[i] = (uint8_t)r;
      else if (style == 1) buf[i] = pool[r % sizeof pool];
      else if (style == 2) buf[i] = r % 4 ? (uint8_t)('a' + r % 26) : pool[(r >> 8) % sizeof pool];
      else /* valid text whose characters collide in the tokenizer's memo */
        i += omen__uni_encode(blocks[r % 16] + 0xc0 + (r >> 8) % 8, (char *)buf + i) - 1;
    }
    size_t count;
    uint32_t *cp = code_points(buf, n, &count);
    for (size_t k = 0; k < sizeof toks / sizeof toks[0]; k++) {
      char *got = run(&toks[k], (const char *)buf, n, NULL);
      char *want = toks[k].kind == OMEN__TOK_TRIGRAM ? ref_trigram(&toks[k], cp, count)
                                                      : ref_unicode61(&toks[k], cp, count);
      if (strcmp(got, want)) fprintf(stderr, "iter %d tok %zu:\n  %s\n  %s\n", iter, k, got, want);
      assert_string_equal(got, want);
      free(got);
      free(want);
    }
    free(cp);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(t_fixture),     cmocka_unit_test(t_unicode61), cmocka_unit_test(t_trigram),
    cmocka_unit_test(t_greek_cyrillic), cmocka_unit_test(t_unicode), cmocka_unit_test(t_max_term),
    cmocka_unit_test(t_stop),        cmocka_unit_test(t_empty),     cmocka_unit_test(t_fuzz),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
