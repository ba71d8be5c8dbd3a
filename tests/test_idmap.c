/*
** Id map and record store: ids of any bytes map to slots through growth,
** removal and reuse; the record heap compacts without losing records.
*/
#include "testutil.h"

#include "idmap.h"
#include "records.h"

static omen__mem mem;

static void put(omen__idmap *map, omen__records *recs, uint32_t slot,
                const char *id, size_t len)
{
  assert_int_equal(omen__idmap_reserve(&mem, map, 1), OMEN_OK);
  assert_int_equal(omen__records_reserve_heap(&mem, recs, len, slot + 1), OMEN_OK);
  omen__records_put(recs, slot, id, (uint32_t)len, NULL, 0);
  omen__idmap_insert(map, omen__idmap_hash(map, id, len), slot);
}

static uint32_t find(const omen__idmap *map, const omen__records *recs,
                     const char *id, size_t len)
{
  return omen__idmap_find(map, recs, id, len, omen__idmap_hash(map, id, len));
}

static void t_many(void **state)
{
  (void)state;
  omen__idmap map = {0};
  omen__records recs = {0};
  const uint32_t n = 50000;
  assert_int_equal(omen__records_reserve(&mem, &recs, n, 0), OMEN_OK);
  char id[32];
  for (uint32_t i = 0; i < n; i++) {
    omen__records_init_slot(&recs, i);
    tu_id(id, sizeof id, i);
    put(&map, &recs, i, id, strlen(id));
  }
  assert_int_equal(map.live, n);
  for (uint32_t i = 0; i < n; i++) {
    tu_id(id, sizeof id, i);
    assert_int_equal(find(&map, &recs, id, strlen(id)), i);
  }
  assert_int_equal(find(&map, &recs, "id-", 3), UINT32_MAX);
  assert_int_equal(find(&map, &recs, "nope", 4), UINT32_MAX);
  /* Remove the even ones; the odd ones stay findable. */
  for (uint32_t i = 0; i < n; i += 2) {
    tu_id(id, sizeof id, i);
    omen__idmap_remove(&map, omen__idmap_hash(&map, id, strlen(id)), i);
    omen__records_clear(&recs, i);
  }
  for (uint32_t i = 0; i < n; i++) {
    tu_id(id, sizeof id, i);
    assert_int_equal(find(&map, &recs, id, strlen(id)), i % 2 ? i : UINT32_MAX);
  }
  /* Reuse the freed slots under new ids, forcing heap compaction. */
  for (uint32_t i = 0; i < n; i += 2) {
    snprintf(id, sizeof id, "new-%u", i);
    put(&map, &recs, i, id, strlen(id));
  }
  for (uint32_t i = 0; i < n; i += 2) {
    snprintf(id, sizeof id, "new-%u", i);
    assert_int_equal(find(&map, &recs, id, strlen(id)), i);
    uint32_t len;
    const char *stored = omen__records_id(&recs, i, &len);
    assert_int_equal(len, strlen(id));
    assert_memory_equal(stored, id, len);
  }
  assert_int_equal(map.live, n);
  omen__idmap_free(&mem, &map);
  omen__records_free(&mem, &recs);
}

/* Binary ids, embedded NULs, prefixes of each other, up to 1 KiB. */
static void t_binary(void **state)
{
  (void)state;
  omen__idmap map = {0};
  omen__records recs = {0};
  char big[OMEN_MAX_ID];
  memset(big, 0, sizeof big);
  big[OMEN_MAX_ID - 1] = 1;
  const struct { const char *p; size_t n; } ids[] = {
    {"a", 1}, {"a\0", 2}, {"a\0b", 3}, {"\0", 1}, {"\0\0", 2},
    {"\xff\xfe", 2}, {big, OMEN_MAX_ID}, {big, OMEN_MAX_ID - 1},
  };
  size_t n = sizeof ids / sizeof ids[0];
  assert_int_equal(omen__records_reserve(&mem, &recs, (uint32_t)n, 0), OMEN_OK);
  for (uint32_t i = 0; i < n; i++) {
    omen__records_init_slot(&recs, i);
    put(&map, &recs, i, ids[i].p, ids[i].n);
  }
  for (uint32_t i = 0; i < n; i++)
    assert_int_equal(find(&map, &recs, ids[i].p, ids[i].n), i);
  omen__idmap_free(&mem, &map);
  omen__records_free(&mem, &recs);
}

static void t_records_meta(void **state)
{
  (void)state;
  omen__records recs = {0};
  assert_int_equal(omen__records_reserve(&mem, &recs, 4, 0), OMEN_OK);
  for (uint32_t s = 0; s < 4; s++) omen__records_init_slot(&recs, s);
  const uint8_t meta[] = {1, 2, 3, 4, 5};
  assert_int_equal(omen__records_reserve_heap(&mem, &recs, 16, 4), OMEN_OK);
  omen__records_put(&recs, 2, "key", 3, meta, sizeof meta);
  uint32_t len;
  const uint8_t *m = omen__records_meta(&recs, 2, &len);
  assert_int_equal(len, sizeof meta);
  assert_memory_equal(m, meta, sizeof meta);
  assert_int_equal(recs.garbage, 0);
  assert_int_equal(omen__records_reserve_heap(&mem, &recs, 16, 4), OMEN_OK);
  omen__records_put(&recs, 2, "k2", 2, NULL, 0); /* replaces: old is garbage */
  assert_int_equal(recs.garbage, 8);
  assert_int_equal(omen__records_meta(&recs, 2, &len) != NULL, 1);
  assert_int_equal(len, 0);
  omen__records_free(&mem, &recs);
}

int main(void)
{
  omen__mem_init(&mem, tu_alloc, NULL);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(t_many),
    cmocka_unit_test(t_binary),
    cmocka_unit_test(t_records_meta),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
