/*
** Porter stemmer: every word of tests/data/porter.txt stems as SQLite FTS5
** stems it (scripts/build/porter_fixture.sh made the file); Porter's own
** examples hold; tokens under 3 or over 64 bytes are kept; the stem never
** grows, and no input, however odd, is read or written past its end.
*/
#include "testutil.h"

#include "porter.h"

#define FIXTURE "tests/data/porter.txt"

/* Stem the n bytes at s in a heap block of exactly n bytes (so ASan sees
** any overrun) and return the stem as a string (caller frees). */
static char *stem_of(const char *s, size_t n)
{
  char *w = malloc(n ? n : 1);
  assert_non_null(w);
  memcpy(w, s, n);
  size_t len = omen__porter_stem(w, n);
  assert_true(len <= n);
  char *out = malloc(len + 1);
  assert_non_null(out);
  memcpy(out, w, len);
  out[len] = '\0';
  free(w);
  return out;
}

/* -- Against FTS5 --------------------------------------------------------- */

static void t_fixture(void **state)
{
  (void)state;
  FILE *f = fopen(FIXTURE, "r");
  if (!f) fprintf(stderr, "cannot open %s (run the tests from the repo root)\n", FIXTURE);
  assert_non_null(f);
  char *line = NULL;
  size_t cap = 0, words = 0, bad = 0, lineno = 0;
  ssize_t got;
  while ((got = getline(&line, &cap, f)) > 0) {
    lineno++;
    if (line[0] == '#') continue;
    if (line[got - 1] == '\n') line[--got] = '\0';
    char *tab = strchr(line, '\t');
    if (!tab) fprintf(stderr, "%s:%zu: no tab\n", FIXTURE, lineno);
    assert_non_null(tab);
    const char *want = tab + 1;
    char *stem = stem_of(line, (size_t)(tab - line));
    words++;
    if (strcmp(stem, want) && ++bad <= 20) {
      *tab = '\0';
      fprintf(stderr, "%s:%zu: %s -> %s, FTS5 gives %s\n", FIXTURE, lineno, line, stem,
              want);
    }
    free(stem);
  }
  free(line);
  fclose(f);
  if (bad) fprintf(stderr, "%zu of %zu words stem unlike FTS5\n", bad, words);
  assert_true(words >= 5000);
  assert_int_equal(bad, 0);
}

/* -- Porter's examples ----------------------------------------------------- */

static void t_classic(void **state)
{
  (void)state;
  static const char *const pairs[][2] = {
    {"caresses", "caress"}, {"ponies", "poni"}, {"ties", "ti"},
    {"caress", "caress"}, {"cats", "cat"}, {"feed", "feed"},
    {"agreed", "agre"}, {"plastered", "plaster"}, {"bled", "bled"},
    {"motoring", "motor"}, {"sing", "sing"}, {"conflated", "conflat"},
    {"troubled", "troubl"}, {"sized", "size"}, {"hopping", "hop"},
    {"tanned", "tan"}, {"falling", "fall"}, {"hissing", "hiss"},
    {"fizzed", "fizz"}, {"failing", "fail"}, {"filing", "file"},
    {"happy", "happi"}, {"sky", "sky"}, {"relational", "relat"},
    {"conditional", "condit"}, {"rational", "ration"},
    {"generalization", "gener"}, {"generalizations", "gener"},
    {"oscillators", "oscil"}, {"hopefulness", "hope"},
    {"electrical", "electr"}, {"adjustment", "adjust"},
    {"replacement", "replac"}, {"adoption", "adopt"}, {"controll", "control"},
    {"roll", "roll"}, {"cease", "ceas"}, {"probate", "probat"},
    {"rate", "rate"}, {"ated", "at"}, {"mp3s", "mp3"},
    {"café", "café"}, {"cafés", "café"}, {"naïve", "naïv"},
  };
  for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
    char *stem = stem_of(pairs[i][0], strlen(pairs[i][0]));
    if (strcmp(stem, pairs[i][1]))
      fprintf(stderr, "%s -> %s, want %s\n", pairs[i][0], stem, pairs[i][1]);
    assert_string_equal(stem, pairs[i][1]);
    free(stem);
  }
}

/* -- Tokens left alone ------------------------------------------------------ */

/* Every token of 0, 1 or 2 bytes comes back as it was. */
static void t_short_kept(void **state)
{
  (void)state;
  char *w = malloc(2);
  assert_non_null(w);
  assert_int_equal(omen__porter_stem(w, 0), 0);
  for (unsigned a = 0; a < 256; a++) {
    w[0] = (char)a;
    assert_int_equal(omen__porter_stem(w, 1), 1);
    assert_int_equal((unsigned char)w[0], a);
    for (unsigned b = 0; b < 256; b++) {
      w[0] = (char)a;
      w[1] = (char)b;
      assert_int_equal(omen__porter_stem(w, 2), 2);
      assert_int_equal((unsigned char)w[0], a);
      assert_int_equal((unsigned char)w[1], b);
    }
  }
  free(w);
}

/* A token of 64 bytes is stemmed, one of 65 or 1,000 is not. */
static void t_long_kept(void **state)
{
  (void)state;
  char word[1001];
  for (size_t n = 60; n <= 66; n++) {
    memset(word, 'b', n - 8);
    memcpy(word + n - 8, "motoring", 8);
    char *stem = stem_of(word, n);
    assert_int_equal(strlen(stem), n <= OMEN__PORTER_MAX ? n - 3 : n);
    free(stem);
  }
  for (size_t i = 0; i < 1000; i++) word[i] = "relational"[i % 10];
  char *stem = stem_of(word, 1000);
  assert_int_equal(strlen(stem), 1000);
  assert_memory_equal(stem, word, 1000);
  free(stem);
}

/* -- Robustness ------------------------------------------------------------- */

/* Random bytes of every value, and random runs of the pieces the rules
** look for, at every length up to past the limit: the stem never grows and
** stays inside the token. */
static void t_random(void **state)
{
  (void)state;
  static const char *const pieces[] = {
    "a", "e", "i", "o", "u", "y", "b", "l", "s", "t", "z", "ss", "ll", "at",
    "bl", "iz", "ed", "eed", "ing", "ies", "ational", "ization", "ement",
    "ion", "ness", "ful", "ous", "li", "iti", "\xc3\xa9", "\xff", "7",
  };
  uint64_t seed = 42;
  char buf[80];
  for (int round = 0; round < 200000; round++) {
    size_t n = (size_t)(tu_next(&seed) % sizeof buf);
    if (round & 1) {
      for (size_t i = 0; i < n; i++) buf[i] = (char)(tu_next(&seed) & 0xff);
    } else {
      size_t len = 0;
      while (len < n) {
        const char *p = pieces[tu_next(&seed) % (sizeof pieces / sizeof pieces[0])];
        for (; *p && len < n; p++) buf[len++] = *p;
      }
    }
    char *w = malloc(n ? n : 1);
    assert_non_null(w);
    memcpy(w, buf, n);
    size_t len = omen__porter_stem(w, n);
    assert_true(len <= n);
    if (n < 3 || n > OMEN__PORTER_MAX) assert_memory_equal(w, buf, n);
    free(w);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(t_fixture),    cmocka_unit_test(t_classic),
    cmocka_unit_test(t_short_kept), cmocka_unit_test(t_long_kept),
    cmocka_unit_test(t_random),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
