/*
** Metadata: encoding round-trips every type; bad fields are refused with a
** message; damaged encodings are refused, never read past their end.
*/
#include "testutil.h"

#include "meta.h"

static omen__mem mem;

static omen_field field_num(const char *k, double v)
{
  omen_field f = {{k, strlen(k)}, {.type = OMEN_NUMBER, .u.number = v}};
  return f;
}

static omen_field field_str(const char *k, const char *v)
{
  omen_field f = {{k, strlen(k)}, {.type = OMEN_STRING, .u.string = {v, strlen(v)}}};
  return f;
}

static omen_field field_bool(const char *k, int v)
{
  omen_field f = {{k, strlen(k)}, {.type = OMEN_BOOL, .u.boolean = v}};
  return f;
}

static const omen_str tags[] = {{"red", 3}, {"", 0}, {"a\0b", 3}};

static size_t encode(omen__keys *keys, const omen_field *f, size_t n,
                     uint8_t *out)
{
  size_t bound, len;
  char err[128];
  assert_int_equal(omen__meta_check(f, n, &bound, err, sizeof err), OMEN_OK);
  assert_int_equal(omen__meta_encode(&mem, keys, f, n, out, &len), OMEN_OK);
  assert_true(len <= bound);
  return len;
}

static void t_roundtrip(void **state)
{
  (void)state;
  omen__keys keys = {0};
  omen_field f[5] = {field_str("cat", "shoes"), field_num("price", -19.25),
                     field_bool("sale", 1), field_num("big", 1e300),
                     {{"tags", 4}, {.type = OMEN_STRINGS, .u.strings = {tags, 3}}}};
  uint8_t buf[256];
  size_t len = encode(&keys, f, 5, buf);
  assert_int_equal(keys.n, 5);
  assert_int_equal(omen__meta_validate(buf, len, keys.n), OMEN_OK);
  omen__meta_it it;
  uint64_t n;
  assert_int_equal(omen__meta_open(&it, buf, len, &n), OMEN_OK);
  assert_int_equal(n, 5);
  int seen = 0;
  for (uint64_t i = 0; i < n; i++) {
    uint32_t key;
    omen_value v;
    const uint8_t *raw = NULL;
    size_t raw_len = 0, key_len;
    assert_int_equal(omen__meta_next(&it, &key, &v, &raw, &raw_len), OMEN_OK);
    const char *name = omen__keys_name(&keys, key, &key_len);
    if (key_len == 3 && !memcmp(name, "cat", 3)) {
      assert_int_equal(v.type, OMEN_STRING);
      assert_int_equal(v.u.string.len, 5);
      assert_memory_equal(v.u.string.ptr, "shoes", 5);
      seen |= 1;
    } else if (key_len == 5 && !memcmp(name, "price", 5)) {
      assert_true(v.type == OMEN_NUMBER && v.u.number == -19.25);
      seen |= 2;
    } else if (key_len == 4 && !memcmp(name, "sale", 4)) {
      assert_true(v.type == OMEN_BOOL && v.u.boolean == 1);
      seen |= 4;
    } else if (key_len == 3 && !memcmp(name, "big", 3)) {
      assert_true(v.type == OMEN_NUMBER && v.u.number == 1e300);
      seen |= 8;
    } else {
      assert_int_equal(v.type, OMEN_STRINGS);
      assert_int_equal(v.u.strings.n, 3);
      const uint8_t *p = raw;
      for (int j = 0; j < 3; j++) {
        omen_str s;
        assert_int_equal(omen__meta_next_string(&p, raw + raw_len, &s), OMEN_OK);
        assert_int_equal(s.len, tags[j].len);
        assert_memory_equal(s.ptr, tags[j].ptr, s.len);
      }
      seen |= 16;
    }
  }
  assert_int_equal(seen, 31);
  /* The same keys are reused, not added again. */
  encode(&keys, f, 2, buf);
  assert_int_equal(keys.n, 5);
  omen__keys_free(&mem, &keys);
}

static void expect_refused(const omen_field *f, size_t n, const char *want)
{
  size_t bound;
  char err[256] = "";
  assert_int_equal(omen__meta_check(f, n, &bound, err, sizeof err), OMEN_INVALID);
  if (!strstr(err, want)) fail_msg("message '%s' lacks '%s'", err, want);
}

static void t_refused(void **state)
{
  (void)state;
  omen_field nan = field_num("x", NAN);
  expect_refused(&nan, 1, "NaN");
  omen_field dup[2] = {field_num("x", 1), field_str("x", "y")};
  expect_refused(dup, 2, "twice");
  omen_field empty = field_num("", 1);
  expect_refused(&empty, 1, "1 to 255");
  char long_key[300];
  memset(long_key, 'k', sizeof long_key - 1);
  long_key[sizeof long_key - 1] = 0;
  omen_field lk = field_num(long_key, 1);
  expect_refused(&lk, 1, "1 to 255");
  omen_field bad = field_num("t", 1);
  bad.value.type = (omen_type)99;
  expect_refused(&bad, 1, "invalid value");
  char *huge = malloc(OMEN_MAX_META + 10);
  memset(huge, 'h', OMEN_MAX_META + 9);
  huge[OMEN_MAX_META + 9] = 0;
  omen_field hs = field_str("h", huge);
  expect_refused(&hs, 1, "exceeds");
  free(huge);
}

/* Every truncation and many corruptions of a valid encoding are caught or
** at least never read outside the buffer (ASan checks the latter). */
static void t_damaged(void **state)
{
  (void)state;
  omen__keys keys = {0};
  omen_field f[3] = {field_str("a", "hello"), field_num("b", 2),
                     {{"c", 1}, {.type = OMEN_STRINGS, .u.strings = {tags, 3}}}};
  uint8_t buf[128];
  size_t len = encode(&keys, f, 3, buf);
  for (size_t cut = 0; cut < len; cut++) {
    uint8_t *copy = malloc(cut ? cut : 1);
    memcpy(copy, buf, cut);
    int rc = omen__meta_validate(copy, cut, keys.n);
    assert_int_equal(rc, cut == 0 ? OMEN_OK : OMEN_CORRUPT);
    free(copy);
  }
  uint64_t s = 1;
  for (int round = 0; round < 2000; round++) {
    uint8_t copy[128];
    memcpy(copy, buf, len);
    copy[tu_next(&s) % len] ^= (uint8_t)(1u << (tu_next(&s) % 8));
    uint8_t *exact = malloc(len);
    memcpy(exact, copy, len);
    (void)omen__meta_validate(exact, len, keys.n);
    free(exact);
  }
  assert_int_equal(omen__meta_validate(buf, len, 1), OMEN_CORRUPT); /* key 2 unknown */
  omen__keys_free(&mem, &keys);
}

static void t_many_keys(void **state)
{
  (void)state;
  omen__keys keys = {0};
  char name[16];
  for (uint32_t i = 0; i < 5000; i++) {
    snprintf(name, sizeof name, "k%u", i);
    uint32_t key;
    assert_int_equal(omen__keys_intern(&mem, &keys, name, strlen(name), &key), OMEN_OK);
    assert_int_equal(key, i);
  }
  for (uint32_t i = 0; i < 5000; i++) {
    snprintf(name, sizeof name, "k%u", i);
    assert_int_equal(omen__keys_find(&keys, name, strlen(name)), i);
  }
  assert_int_equal(omen__keys_find(&keys, "k5000", 5), UINT32_MAX);
  omen__keys_free(&mem, &keys);
}

int main(void)
{
  omen__mem_init(&mem, tu_alloc, NULL);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(t_roundtrip), cmocka_unit_test(t_refused),
    cmocka_unit_test(t_damaged), cmocka_unit_test(t_many_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
