/*
** Writes through the public API (write.c): records stored, replaced and
** deleted, metadata, slot reuse, batch atomicity, and bad input refused
** with nothing changed.
*/
#include "coll_fixture.h"

static void t_upsert_get_delete(void **state)
{
  (void)state;
  assert_int_equal(put("a", 1), OMEN_OK);
  assert_int_equal(put("b", 2), OMEN_OK);
  assert_int_equal(count(), 2);
  assert_int_equal(omen_get(coll, "a", 1, res), OMEN_OK);
  const omen_hit *h = omen_result_hit(res, 0);
  float v[DIM];
  vec_of(v, 1);
  assert_memory_equal(h->vec, v, sizeof v);
  assert_int_equal(h->id.len, 1);
  assert_int_equal(h->n_meta, 0);
  assert_int_equal(put("a", 5), OMEN_OK); /* replace */
  assert_int_equal(count(), 2);
  assert_int_equal(omen_get(coll, "a", 1, res), OMEN_OK);
  vec_of(v, 5);
  assert_memory_equal(omen_result_hit(res, 0)->vec, v, sizeof v);
  assert_int_equal(omen_delete(coll, "a", 1), OMEN_OK);
  assert_int_equal(omen_delete(coll, "a", 1), OMEN_NOTFOUND);
  assert_int_equal(omen_get(coll, "a", 1, res), OMEN_NOTFOUND);
  assert_int_equal(omen_result_count(res), 0);
  assert_int_equal(count(), 1);
}

static void t_meta(void **state)
{
  (void)state;
  const omen_str tags[] = {{"x", 1}, {"yz", 2}};
  omen_field f[4] = {
    {{"cat", 3}, {.type = OMEN_STRING, .u.string = {"shoes", 5}}},
    {{"price", 5}, {.type = OMEN_NUMBER, .u.number = 49.5}},
    {{"new", 3}, {.type = OMEN_BOOL, .u.boolean = 1}},
    {{"tags", 4}, {.type = OMEN_STRINGS, .u.strings = {tags, 2}}},
  };
  float v[DIM];
  vec_of(v, 0);
  assert_int_equal(omen_upsert(coll, "m", 1, v, f, 4), OMEN_OK);
  assert_int_equal(omen_get(coll, "m", 1, res), OMEN_OK);
  const omen_hit *h = omen_result_hit(res, 0);
  assert_int_equal(h->n_meta, 4);
  int seen = 0;
  for (size_t i = 0; i < h->n_meta; i++) {
    const omen_field *g = &h->meta[i];
    if (g->key.len == 3 && !memcmp(g->key.ptr, "cat", 3)) {
      assert_int_equal(g->value.type, OMEN_STRING);
      assert_memory_equal(g->value.u.string.ptr, "shoes", 5);
      seen |= 1;
    } else if (g->key.len == 5) {
      assert_true(g->value.u.number == 49.5);
      seen |= 2;
    } else if (g->key.len == 3) {
      assert_int_equal(g->value.u.boolean, 1);
      seen |= 4;
    } else {
      assert_int_equal(g->value.u.strings.n, 2);
      assert_memory_equal(g->value.u.strings.items[1].ptr, "yz", 2);
      seen |= 8;
    }
  }
  assert_int_equal(seen, 15);
  /* Same vector, new meta: the record changes without touching the graph. */
  assert_int_equal(omen_upsert(coll, "m", 1, v, f, 1), OMEN_OK);
  assert_int_equal(omen_get(coll, "m", 1, res), OMEN_OK);
  assert_int_equal(omen_result_hit(res, 0)->n_meta, 1);
  /* Search can leave metadata out. */
  omen_search_opts o;
  omen_search_opts_init(&o, 1);
  o.with = 0;
  assert_int_equal(omen_search(coll, v, &o, res), OMEN_OK);
  assert_int_equal(omen_result_hit(res, 0)->n_meta, 0);
  assert_null(omen_result_hit(res, 0)->vec);
}

/* Bad input is refused with a message naming the problem, changing nothing. */
static void t_bad_input(void **state)
{
  (void)state;
  assert_int_equal(put("keep", 1), OMEN_OK);
  float v[DIM];
  vec_of(v, 0);
  v[3] = NAN;
  expect(omen_upsert(coll, "x", 1, v, NULL, 0), OMEN_INVALID, "component 4 is NaN");
  v[3] = INFINITY;
  expect(omen_upsert(coll, "x", 1, v, NULL, 0), OMEN_INVALID, "infinite");
  vec_of(v, 0);
  expect(omen_upsert(coll, "", 0, v, NULL, 0), OMEN_INVALID, "empty");
  char big[OMEN_MAX_ID + 1];
  memset(big, 'x', sizeof big);
  expect(omen_upsert(coll, big, sizeof big, v, NULL, 0), OMEN_INVALID, "at most 1024");
  assert_int_equal(omen_upsert(coll, big, OMEN_MAX_ID, v, NULL, 0), OMEN_OK);
  assert_int_equal(omen_delete(coll, big, OMEN_MAX_ID), OMEN_OK);
  expect(omen_upsert(coll, "x", 1, NULL, NULL, 0), OMEN_INVALID, "missing");
  omen_field f = {{"k", 1}, {.type = OMEN_NUMBER, .u.number = NAN}};
  expect(omen_upsert(coll, "x", 1, v, &f, 1), OMEN_INVALID, "NaN");
  omen_search_opts o;
  omen_search_opts_init(&o, 0);
  expect(omen_search(coll, v, &o, res), OMEN_INVALID, "k must be");
  assert_int_equal(count(), 1);
  assert_int_equal(omen_get(coll, "x", 1, res), OMEN_NOTFOUND);

  omen_coll_config cfg;
  omen_coll_config_init(&cfg, 0);
  omen_coll *c2;
  expect(omen_coll_create(db, "d", &cfg, &c2), OMEN_INVALID, "dim must be");
  cfg.dim = 4;
  cfg.metric = (omen_metric)9;
  expect(omen_coll_create(db, "d", &cfg, &c2), OMEN_INVALID, "metric");
  cfg.metric = OMEN_L2;
  cfg.m = 1;
  expect(omen_coll_create(db, "d", &cfg, &c2), OMEN_INVALID, "m must be");
  cfg.m = 16;
  expect(omen_coll_create(db, "", &cfg, &c2), OMEN_INVALID, "name");
  expect(omen_coll_create(db, "c", &cfg, &c2), OMEN_EXISTS, "already exists");
  expect(omen_coll_open(db, "nope", &c2), OMEN_NOTFOUND, "no collection");
}

static void t_cosine_zero(void **state)
{
  (void)state;
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, 3);
  cfg.metric = OMEN_COSINE;
  omen_coll *c;
  assert_int_equal(omen_coll_create(db, "cos", &cfg, &c), OMEN_OK);
  float zero[3] = {0, 0, 0};
  expect(omen_upsert(c, "z", 1, zero, NULL, 0), OMEN_INVALID, "all zeros");
  omen_coll_close(c);
}

/* Deleted slots are reused once consolidated (every 64 deletes here): the
** slot count grows by less than that, round after round. */
static void t_slot_reuse(void **state)
{
  (void)state;
  char id[16];
  for (int i = 0; i < 2000; i++) {
    tu_id(id, sizeof id, (size_t)i);
    assert_int_equal(put(id, (float)i), OMEN_OK);
  }
  omen_coll_info info;
  assert_int_equal(omen_coll_info_get(coll, &info), OMEN_OK);
  assert_int_equal(info.slots, 2000);
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 2000; i += 2) {
      tu_id(id, sizeof id, (size_t)i);
      assert_int_equal(omen_delete(coll, id, strlen(id)), OMEN_OK);
    }
    assert_int_equal(omen_coll_info_get(coll, &info), OMEN_OK);
    assert_int_equal(info.count, 1000);
    assert_int_equal(info.deleted, info.slots - 1000);
    for (int i = 0; i < 2000; i += 2) {
      tu_id(id, sizeof id, (size_t)i);
      assert_int_equal(put(id, (float)(i + round)), OMEN_OK);
    }
    assert_int_equal(omen_coll_info_get(coll, &info), OMEN_OK);
    assert_true(info.slots < 2000 + 64);
    assert_int_equal(info.count, 2000);
  }
  float v[DIM];
  vec_of(v, 1000 + 2);
  omen_search_opts o;
  omen_search_opts_init(&o, 1);
  /* These 2,000 vectors lie on one line, ten to a code step: 8-bit codes
  ** cannot order them, and a walk on them gets lost (a known limit of the
  ** code kinds, noted on issue 14). With codes, the records are checked by
  ** an exact search. */
  assert_int_equal(omen_coll_info_get(coll, &info), OMEN_OK);
  o.exact = info.config.quantization != OMEN_QUANT_NONE;
  assert_int_equal(omen_search(coll, v, &o, res), OMEN_OK);
  assert_memory_equal(omen_result_hit(res, 0)->id.ptr, "id-1000", 7);
  assert_float_equal(omen_result_hit(res, 0)->distance, 0, 1e-6);
}

/* A batch is all or nothing; a repeated id keeps its last record. */
static void t_batch(void **state)
{
  (void)state;
  float v[4 * DIM];
  for (int i = 0; i < 4; i++) vec_of(v + i * DIM, (float)i);
  omen_str ids[4] = {{"p", 1}, {"q", 1}, {"p", 1}, {"r", 1}};
  omen_field f = {{"n", 1}, {.type = OMEN_NUMBER, .u.number = 3}};
  omen_meta metas[4] = {{NULL, 0}, {NULL, 0}, {&f, 1}, {NULL, 0}};
  assert_int_equal(omen_upsert_batch(coll, 4, ids, v, metas, 2), OMEN_OK);
  assert_int_equal(count(), 3);
  assert_int_equal(omen_get(coll, "p", 1, res), OMEN_OK);
  assert_memory_equal(omen_result_hit(res, 0)->vec, v + 2 * DIM, DIM * sizeof(float));
  assert_int_equal(omen_result_hit(res, 0)->n_meta, 1);

  v[3 * DIM + 1] = NAN; /* the 4th record is bad: nothing is stored */
  omen_str more[4] = {{"s", 1}, {"t", 1}, {"p", 1}, {"u", 1}};
  expect(omen_upsert_batch(coll, 4, more, v, NULL, 1), OMEN_INVALID, "record 4");
  assert_int_equal(count(), 3);
  assert_int_equal(omen_get(coll, "s", 1, res), OMEN_NOTFOUND);
  assert_int_equal(omen_get(coll, "p", 1, res), OMEN_OK);
  assert_int_equal(omen_result_hit(res, 0)->n_meta, 1);
  assert_int_equal(omen_upsert_batch(coll, 0, NULL, NULL, NULL, 1), OMEN_OK);
}

WITH_FIXTURE(t_upsert_get_delete)
WITH_FIXTURE(t_meta)
WITH_FIXTURE(t_bad_input)
WITH_FIXTURE(t_cosine_zero)
WITH_FIXTURE(t_slot_reuse)
WITH_FIXTURE(t_batch)

int main(void)
{
#define T(f) cmocka_unit_test(f##_)
  const struct CMUnitTest tests[] = {
    T(t_upsert_get_delete), T(t_meta), T(t_bad_input), T(t_cosine_zero),
    T(t_slot_reuse), T(t_batch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
