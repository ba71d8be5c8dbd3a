/*
** Small modules: aligned growable buffers (mem.c), CRC-32C in both its
** versions (crc32c.c), result codes and per-thread messages (error.c).
*/
#include "testutil.h"

#include "crc32c.h"
#include "error.h"
#include "mem.h"

static void t_buffers(void **state)
{
  (void)state;
  omen__mem m;
  omen__mem_init(&m, tu_alloc, NULL);
  omen__buf b = {0};
  assert_int_equal(omen__buf_ensure(&m, &b, 100, 0, 64), OMEN_OK);
  assert_true(b.size >= 100);
  assert_int_equal((uintptr_t)b.p % OMEN__ALIGN, 0);
  memset(b.p, 7, 100);
  void *before = b.p;
  assert_int_equal(omen__buf_ensure(&m, &b, 90, 100, 64), OMEN_OK);
  assert_ptr_equal(b.p, before); /* no growth when it fits */
  assert_int_equal(omen__buf_ensure(&m, &b, 5000, 100, 64), OMEN_OK);
  assert_int_equal((uintptr_t)b.p % OMEN__ALIGN, 0);
  for (int i = 0; i < 100; i++) assert_int_equal(((unsigned char *)b.p)[i], 7);
  omen__buf_free(&m, &b);
  assert_null(b.p);
  assert_int_equal(omen__grow_cap(100, 101, 8), 150);
  assert_int_equal(omen__grow_cap(100, 400, 8), 400);
  assert_int_equal(omen__grow_cap(0, 1, 64), 64);
}

static void t_crc(void **state)
{
  (void)state;
  assert_int_equal(omen__crc32c(0, "123456789", 9), 0xe3069283u);
  assert_int_equal(omen__crc32c_portable(0, "123456789", 9), 0xe3069283u);
  assert_int_equal(omen__crc32c(0, "", 0), 0);
  uint64_t s = 1;
  unsigned char buf[4099];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)tu_next(&s);
  for (size_t n = 0; n < sizeof buf; n += 1 + n / 3) {
    uint32_t whole = omen__crc32c(0, buf, n);
    assert_int_equal(whole, omen__crc32c_portable(0, buf, n));
    size_t half = n / 2; /* chaining equals one pass */
    assert_int_equal(omen__crc32c(omen__crc32c(0, buf, half), buf + half, n - half), whole);
  }
}

static void t_codes(void **state)
{
  (void)state;
  assert_string_equal(omen_strerror(OMEN_OK), "not an error");
  assert_string_equal(omen_strerror(OMEN_DROPPED), "collection was dropped");
  assert_string_equal(omen_strerror(1), "unknown error");
#define CHECK_CODE(name, value, msg)             \
  assert_int_equal(OMEN_##name, value);          \
  assert_string_equal(omen_strerror(value), msg);
  OMEN_ERRORS(CHECK_CODE)
#undef CHECK_CODE
}

static int set(omen__errs *e, int rc, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  rc = omen__errs_setv(e, rc, fmt, ap);
  va_end(ap);
  return rc;
}

static void *other_thread(void *p)
{
  omen__errs *e = p;
  set(e, OMEN_IOERR, "from the other thread");
  return (void *)(uintptr_t)!strcmp(omen__errs_get(e), "from the other thread");
}

static void t_messages(void **state)
{
  (void)state;
  omen__errs e;
  assert_int_equal(omen__errs_init(&e), OMEN_OK);
  assert_string_equal(omen__errs_get(&e), "not an error");
  assert_int_equal(set(&e, OMEN_INVALID, "bad %s %d", "thing", 3), OMEN_INVALID);
  assert_string_equal(omen__errs_get(&e), "bad thing 3");
  pthread_t t;
  void *ok;
  pthread_create(&t, NULL, other_thread, &e);
  pthread_join(t, &ok);
  assert_true(ok != NULL);
  assert_string_equal(omen__errs_get(&e), "bad thing 3"); /* still ours */
  char long_msg[1000];
  memset(long_msg, 'x', sizeof long_msg - 1);
  long_msg[sizeof long_msg - 1] = 0;
  set(&e, OMEN_INVALID, "%s", long_msg); /* truncated, not overflowed */
  assert_int_equal(strlen(omen__errs_get(&e)), OMEN__ERR_LEN - 1);
  omen__errs_destroy(&e);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(t_buffers), cmocka_unit_test(t_crc),
    cmocka_unit_test(t_codes), cmocka_unit_test(t_messages),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
