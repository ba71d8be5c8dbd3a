/*
** Search plumbing: the heaps order candidates; scratch grows and its visit
** stamps survive the epoch counter wrapping.
*/
#include "testutil.h"

#include "codes.h"
#include "search.h"

static void t_heaps(void **state)
{
  (void)state;
  omen__cand h[1000], out[1000];
  size_t n = 0;
  uint64_t s = 3;
  for (uint32_t i = 0; i < 1000; i++)
    omen__maxheap_push(h, &n, (omen__cand){(float)tu_uniform(&s), i});
  assert_int_equal(omen__maxheap_drain(h, &n, out), 1000);
  assert_int_equal(n, 0);
  for (int i = 1; i < 1000; i++) assert_true(out[i - 1].d <= out[i].d);
  for (uint32_t i = 0; i < 1000; i++)
    omen__minheap_push(h, &n, (omen__cand){out[999 - i].d, i});
  float last = -1;
  while (n) {
    omen__cand c = omen__minheap_pop(h, &n);
    assert_true(c.d >= last);
    last = c.d;
  }
}

static void t_scratch(void **state)
{
  (void)state;
  omen__mem mem;
  omen__mem_init(&mem, tu_alloc, NULL);
  omen__scratch sc = {0};
  assert_int_equal(omen__scratch_prepare(&mem, &sc, 10, 16, 0, 32, 64), OMEN_OK);
  assert_true(sc.visited_cap >= 10 && sc.top_cap >= 65 && sc.q_cap >= 16);
  assert_int_equal((uintptr_t)sc.q % 64, 0);
  sc.epoch = UINT16_MAX - 1;
  omen__stamp e = omen__visit_epoch(&sc);
  sc.visited[3] = e;
  e = omen__visit_epoch(&sc); /* wraps: every stamp must be cleared */
  assert_int_equal(e, 1);
  for (size_t i = 0; i < sc.visited_cap; i++) assert_int_equal(sc.visited[i], 0);
  assert_int_equal(omen__scratch_prepare(&mem, &sc, 100000, 800, 0, 32, 500), OMEN_OK);
  for (size_t i = 0; i < 100000; i++) assert_true(sc.visited[i] != e);
  omen__scratch_free(&mem, &sc);
}

static void t_prepare_query(void **state)
{
  (void)state;
  omen__mem mem;
  omen__mem_init(&mem, tu_alloc, NULL);
  omen__scratch sc = {0};
  assert_int_equal(omen__scratch_prepare(&mem, &sc, 1, 16, 0, 4, 4), OMEN_OK);
  omen__codes cs = {0};
  cs.metric = omen__metric(OMEN_COSINE);
  omen__space sp = {0};
  sp.metric = OMEN_COSINE;
  sp.codes = &cs;
  sp.stride = 16;
  float v[3] = {3, 0, 4};
  const float *q = omen__prepare_query(&sc, &sp, v, 3);
  assert_float_equal(q[0], 0.6, 1e-6);
  assert_float_equal(q[2], 0.8, 1e-6);
  for (int i = 3; i < 16; i++) assert_true(q[i] == 0.0f);
  omen__scratch_free(&mem, &sc);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(t_heaps), cmocka_unit_test(t_scratch),
    cmocka_unit_test(t_prepare_query),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
