/*
** Filters: every operator and the combinations on known records; bad
** filters refused with a message; searches that return exactly the
** min(k, matches) closest matching records, with recall against exact
** filtered search at selectivities from 50% to 0.1%; count and delete by
** filter, through a reopen and the log.
*/
#include "testutil.h"

#include <unistd.h>

#define DIM 16
#define N 6000

static omen_db *db;
static omen_coll *coll;
static float *data;

/* Record i: cat = cats[i % 3], n = i % 1000 (so n < t matches t/1000 of
** them), odd = i odd, tags = {"t<i%5>", "all"}; every tenth has no "cat". */
static const char *const cats[] = {"shoes", "hats", "bags"};

static void meta_of(size_t i, omen_field *f, size_t *n, omen_str *tags, char *tag)
{
  snprintf(tag, 8, "t%zu", i % 5);
  tags[0] = (omen_str){tag, strlen(tag)};
  tags[1] = (omen_str){"all", 3};
  size_t k = 0;
  if (i % 10) {
    const char *cat = cats[i % 3];
    f[k++] = (omen_field){{"cat", 3}, {.type = OMEN_STRING, .u.string = {cat, strlen(cat)}}};
  }
  f[k++] = (omen_field){{"n", 1}, {.type = OMEN_NUMBER, .u.number = (double)(i % 1000)}};
  f[k++] = (omen_field){{"odd", 3}, {.type = OMEN_BOOL, .u.boolean = (int)(i & 1)}};
  f[k++] = (omen_field){{"tags", 4}, {.type = OMEN_STRINGS, .u.strings = {tags, 2}}};
  *n = k;
}

static void fill(omen_coll *c, size_t from, size_t to)
{
  for (size_t i = from; i < to; i++) {
    omen_field f[4];
    omen_str tags[2];
    char tag[8], id[16];
    size_t n;
    meta_of(i, f, &n, tags, tag);
    tu_id(id, sizeof id, i);
    assert_int_equal(omen_upsert(c, id, strlen(id), data + i * DIM, f, n), OMEN_OK);
  }
}

static int setup(void **state)
{
  (void)state;
  db = tu_open(NULL, 0);
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, DIM);
  assert_int_equal(omen_coll_create(db, "c", &cfg, &coll), OMEN_OK);
  fill(coll, 0, N);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  omen_coll_close(coll);
  omen_close(db);
  return 0;
}

/* -- Building conditions ------------------------------------------------------ */

static omen_cond leaf(omen_op op, const char *key, omen_value v)
{
  omen_cond c;
  memset(&c, 0, sizeof c);
  c.op = op;
  c.key = (omen_str){key, strlen(key)};
  c.value = v;
  return c;
}

static omen_value num(double x) { return (omen_value){.type = OMEN_NUMBER, .u.number = x}; }
static omen_value str(const char *s) { return (omen_value){.type = OMEN_STRING, .u.string = {s, strlen(s)}}; }
static omen_value boolean(int b) { return (omen_value){.type = OMEN_BOOL, .u.boolean = b}; }

static omen_cond group(omen_op op, const omen_cond *kids, size_t n)
{
  omen_cond c;
  memset(&c, 0, sizeof c);
  c.op = op;
  c.kids = kids;
  c.n_kids = n;
  return c;
}

static uint64_t count_of(const omen_cond *c)
{
  omen_filter *f;
  assert_int_equal(omen_filter_new(db, c, &f), OMEN_OK);
  uint64_t n = 0;
  assert_int_equal(omen_count_where(coll, f, &n), OMEN_OK);
  omen_filter_free(f);
  return n;
}

/* -- Operators ------------------------------------------------------------------ */

static void t_operators(void **state)
{
  (void)state;
  /* With cat on 9 in 10 records: shoes i%3==0, hats 1, bags 2. */
  size_t shoes = 0, hats_or_bags = 0, no_cat = N / 10;
  for (size_t i = 0; i < N; i++)
    if (i % 10) {
      shoes += i % 3 == 0;
      hats_or_bags += i % 3 != 0;
    }
  omen_cond c = leaf(OMEN_OP_EQ, "cat", str("shoes"));
  assert_int_equal(count_of(&c), shoes);
  c = leaf(OMEN_OP_NE, "cat", str("shoes"));
  assert_int_equal(count_of(&c), hats_or_bags + no_cat); /* missing: $ne holds */
  c = leaf(OMEN_OP_LT, "n", num(100));
  assert_int_equal(count_of(&c), N / 10);
  c = leaf(OMEN_OP_LTE, "n", num(100));
  assert_int_equal(count_of(&c), N / 10 + N / 1000);
  c = leaf(OMEN_OP_GT, "n", num(-0.5));
  assert_int_equal(count_of(&c), N);
  c = leaf(OMEN_OP_GTE, "n", num(999));
  assert_int_equal(count_of(&c), N / 1000);
  c = leaf(OMEN_OP_GT, "cat", str("hats")); /* strings compare bytewise */
  assert_int_equal(count_of(&c), shoes);
  c = leaf(OMEN_OP_LT, "n", str("z")); /* the field is a number: no order */
  assert_int_equal(count_of(&c), 0);
  c = leaf(OMEN_OP_EQ, "odd", boolean(1));
  assert_int_equal(count_of(&c), N / 2);
  c = leaf(OMEN_OP_CONTAINS, "tags", str("t3"));
  assert_int_equal(count_of(&c), N / 5);
  c = leaf(OMEN_OP_EQ, "tags", str("all")); /* $eq on an array: some item */
  assert_int_equal(count_of(&c), N);
  c = leaf(OMEN_OP_CONTAINS, "cat", str("shoes")); /* not an array */
  assert_int_equal(count_of(&c), 0);
  c = leaf(OMEN_OP_EXISTS, "cat", boolean(0));
  assert_int_equal(count_of(&c), no_cat);
  c = leaf(OMEN_OP_EXISTS, "nowhere", boolean(0));
  assert_int_equal(count_of(&c), N);
  c = leaf(OMEN_OP_EQ, "nowhere", num(1));
  assert_int_equal(count_of(&c), 0);

  omen_value in[] = {str("hats"), str("bags"), num(5)};
  c = leaf(OMEN_OP_IN, "cat", num(0));
  c.values = in;
  c.n_values = 3;
  assert_int_equal(count_of(&c), hats_or_bags);
  c.op = OMEN_OP_NIN;
  assert_int_equal(count_of(&c), shoes + no_cat);
  omen_value tag_in[] = {str("t1"), str("t2")};
  c = leaf(OMEN_OP_IN, "tags", num(0));
  c.values = tag_in;
  c.n_values = 2;
  assert_int_equal(count_of(&c), 2 * N / 5);
  c.n_values = 0; /* $in nothing: none; $nin nothing: all */
  assert_int_equal(count_of(&c), 0);
  c.op = OMEN_OP_NIN;
  assert_int_equal(count_of(&c), N);
}

static void t_combinations(void **state)
{
  (void)state;
  omen_cond both[] = {leaf(OMEN_OP_EQ, "cat", str("hats")), leaf(OMEN_OP_LT, "n", num(500))};
  omen_cond c = group(OMEN_OP_AND, both, 2);
  size_t want = 0;
  for (size_t i = 0; i < N; i++) want += i % 10 && i % 3 == 1 && i % 1000 < 500;
  assert_int_equal(count_of(&c), want);
  c = group(OMEN_OP_OR, both, 2);
  want = 0;
  for (size_t i = 0; i < N; i++) want += (i % 10 && i % 3 == 1) || i % 1000 < 500;
  assert_int_equal(count_of(&c), want);
  omen_cond inner = group(OMEN_OP_OR, both, 2);
  c = group(OMEN_OP_NOT, &inner, 1);
  assert_int_equal(count_of(&c), N - want);
  /* $and of a range and $or of two: 100 <= n < 200 and (odd or t0) */
  omen_cond any[] = {leaf(OMEN_OP_EQ, "odd", boolean(1)), leaf(OMEN_OP_CONTAINS, "tags", str("t0"))};
  omen_cond deep[] = {leaf(OMEN_OP_GTE, "n", num(100)), leaf(OMEN_OP_LT, "n", num(200)),
                      group(OMEN_OP_OR, any, 2)};
  c = group(OMEN_OP_AND, deep, 3);
  want = 0;
  for (size_t i = 0; i < N; i++)
    want += i % 1000 >= 100 && i % 1000 < 200 && ((i & 1) || i % 5 == 0);
  assert_int_equal(count_of(&c), want);
}

static void expect_refused(const omen_cond *c, const char *text)
{
  omen_filter *f = (omen_filter *)1;
  assert_int_equal(omen_filter_new(db, c, &f), OMEN_INVALID);
  assert_null(f);
  if (!strstr(omen_errmsg(db), text)) fail_msg("'%s' lacks '%s'", omen_errmsg(db), text);
}

static void t_refused(void **state)
{
  (void)state;
  omen_cond c = leaf(OMEN_OP_LT, "n", boolean(1));
  expect_refused(&c, "$lt needs a number or a string");
  c = leaf(OMEN_OP_EQ, "n", num(NAN));
  expect_refused(&c, "$eq needs");
  c = leaf(OMEN_OP_CONTAINS, "tags", num(1));
  expect_refused(&c, "$contains needs a string");
  c = leaf(OMEN_OP_EXISTS, "n", num(1));
  expect_refused(&c, "$exists needs true or false");
  c = leaf(OMEN_OP_EQ, "", num(1));
  expect_refused(&c, "field name");
  c = leaf((omen_op)99, "n", num(1));
  expect_refused(&c, "unknown operator");
  omen_value bad_in[] = {num(1), {.type = OMEN_STRINGS}};
  c = leaf(OMEN_OP_IN, "n", num(0));
  c.values = bad_in;
  c.n_values = 2;
  expect_refused(&c, "$in needs a list");
  c = group(OMEN_OP_AND, NULL, 0);
  expect_refused(&c, "$and needs one or more");
  omen_cond two[] = {leaf(OMEN_OP_EQ, "n", num(1)), leaf(OMEN_OP_EQ, "n", num(2))};
  c = group(OMEN_OP_NOT, two, 2);
  expect_refused(&c, "$not needs one");
  /* Too deep: a chain of 40 $not. */
  omen_cond chain[41];
  chain[40] = leaf(OMEN_OP_EQ, "n", num(1));
  for (int i = 39; i >= 0; i--) chain[i] = group(OMEN_OP_NOT, &chain[i + 1], 1);
  expect_refused(&chain[0], "too large");
  assert_int_equal(omen_op_from_name("$contains"), OMEN_OP_CONTAINS);
  assert_int_equal(omen_op_from_name("$between"), 0);
  assert_string_equal(omen_op_name(OMEN_OP_NIN), "$nin");
}

/* -- Search ---------------------------------------------------------------------- */

/* Filtered graph search against exact filtered search for "n < limit". */
static double filtered_recall(double limit, uint32_t k, omen_plan plan,
                              size_t *hits_seen)
{
  omen_cond c = leaf(OMEN_OP_LT, "n", num(limit));
  omen_filter *f;
  assert_int_equal(omen_filter_new(db, &c, &f), OMEN_OK);
  omen_result *r, *ex;
  assert_int_equal(omen_result_new(db, &r), OMEN_OK);
  assert_int_equal(omen_result_new(db, &ex), OMEN_OK);
  omen_search_opts o, e;
  omen_search_opts_init(&o, k);
  o.filter = f;
  e = o;
  e.exact = 1;
  o.plan = plan;
  float *queries = tu_clustered(50, DIM, 12, 99);
  size_t found = 0, total = 0, matches = 0;
  for (size_t i = 0; i < N; i++) matches += (double)(i % 1000) < limit;
  *hits_seen = 0;
  for (int q = 0; q < 50; q++) {
    assert_int_equal(omen_search(coll, queries + q * DIM, &o, r), OMEN_OK);
    assert_int_equal(omen_search(coll, queries + q * DIM, &e, ex), OMEN_OK);
    size_t want = k < matches ? k : matches;
    assert_int_equal(omen_result_count(r), want); /* exactly min(k, matches) */
    assert_int_equal(omen_result_count(ex), want);
    for (size_t i = 0; i < want; i++) {
      const omen_hit *h = omen_result_hit(r, i);
      assert_true(h->n_meta >= 3); /* every hit matches */
      for (size_t m = 0; m < h->n_meta; m++)
        if (h->meta[m].key.len == 1) assert_true(h->meta[m].value.u.number < limit);
      for (size_t j = 0; j < want; j++) {
        const omen_hit *g = omen_result_hit(ex, j);
        if (g->id.len == h->id.len && !memcmp(g->id.ptr, h->id.ptr, h->id.len)) {
          found++;
          break;
        }
      }
    }
    total += want;
    *hits_seen += omen_result_count(r);
  }
  free(queries);
  omen_result_free(r);
  omen_result_free(ex);
  omen_filter_free(f);
  return total ? (double)found / (double)total : 1.0;
}

static void t_selectivities(void **state)
{
  (void)state;
  /* The planner at every selectivity; the graph forced where the planner
  ** would walk it (it scans the matches when they are few). Each filter is
  ** run twice: new, then from its cached bitmap. */
  const double limits[] = {500, 100, 10, 1}; /* 50%, 10%, 1%, 0.1% */
  for (int plan = OMEN_PLAN_AUTO; plan <= OMEN_PLAN_GRAPH; plan++)
    for (int i = 0; i < (plan ? 2 : 4); i++)
      for (int round = 0; round < 2; round++) {
        size_t seen;
        double r = filtered_recall(limits[i], 10, (omen_plan)plan, &seen);
        print_message("  selectivity %4.1f%%, %s, %s: recall@10 %.4f\n", limits[i] / 10,
                      plan ? "graph" : "auto ", round ? "cached" : "new   ", r);
        assert_true(r >= 0.95);
      }
  size_t seen;
  filtered_recall(0.5, 10, OMEN_PLAN_GRAPH, &seen); /* n == 0: 6 records */
  assert_int_equal(seen, 50 * 6);
}

/* -- Count and delete by filter -------------------------------------------------- */

static void t_delete_where(void **state)
{
  (void)state;
  omen_cond c = leaf(OMEN_OP_EQ, "cat", str("bags"));
  omen_filter *f;
  assert_int_equal(omen_filter_new(db, &c, &f), OMEN_OK);
  uint64_t bags, deleted, left;
  assert_int_equal(omen_count_where(coll, f, &bags), OMEN_OK);
  assert_int_equal(omen_delete_where(coll, f, &deleted), OMEN_OK);
  assert_int_equal(deleted, bags);
  assert_int_equal(omen_count_where(coll, f, &left), OMEN_OK);
  assert_int_equal(left, 0);
  assert_int_equal(omen_count(coll, &left), OMEN_OK);
  assert_int_equal(left, N - bags);
  assert_int_equal(omen_delete_where(coll, f, &deleted), OMEN_OK);
  assert_int_equal(deleted, 0);
  /* Searches never return a deleted record. */
  omen_result *r;
  assert_int_equal(omen_result_new(db, &r), OMEN_OK);
  omen_search_opts o;
  omen_search_opts_init(&o, 50);
  assert_int_equal(omen_search(coll, data + 2 * DIM, &o, r), OMEN_OK);
  for (size_t i = 0; i < omen_result_count(r); i++)
    for (size_t m = 0; m < omen_result_hit(r, i)->n_meta; m++) {
      const omen_field *g = &omen_result_hit(r, i)->meta[m];
      if (g->key.len == 3 && !memcmp(g->key.ptr, "cat", 3))
        assert_false(g->value.u.string.len == 4 && !memcmp(g->value.u.string.ptr, "bags", 4));
    }
  omen_result_free(r);
  omen_filter_free(f);
}

/* A filter keeps names, so it finds keys that only later records bring. */
static void t_later_keys(void **state)
{
  (void)state;
  omen_cond c = leaf(OMEN_OP_EQ, "colour", str("red"));
  omen_filter *f;
  assert_int_equal(omen_filter_new(db, &c, &f), OMEN_OK);
  uint64_t n;
  assert_int_equal(omen_count_where(coll, f, &n), OMEN_OK);
  assert_int_equal(n, 0);
  omen_field red = {{"colour", 6}, {.type = OMEN_STRING, .u.string = {"red", 3}}};
  assert_int_equal(omen_upsert(coll, "red one", 7, data, &red, 1), OMEN_OK);
  assert_int_equal(omen_count_where(coll, f, &n), OMEN_OK);
  assert_int_equal(n, 1);
  omen_filter_free(f);
}

/* Readers share cached bitmaps while a writer keeps outdating them; every
** hit a reader gets matches, and counts stay consistent. */
typedef struct reader_arg {
  omen_filter *f;
  int bad;
} reader_arg;

static void *filtered_reader(void *p)
{
  reader_arg *a = p;
  omen_result *r;
  if (omen_result_new(db, &r)) return NULL;
  omen_search_opts o;
  omen_search_opts_init(&o, 10);
  o.filter = a->f;
  for (int i = 0; i < 300; i++) {
    if (omen_search(coll, data + (size_t)(i % 50) * DIM, &o, r)) a->bad++;
    for (size_t h = 0; h < omen_result_count(r); h++)
      for (size_t m = 0; m < omen_result_hit(r, h)->n_meta; m++) {
        const omen_field *g = &omen_result_hit(r, h)->meta[m];
        if (g->key.len == 1 && g->value.u.number >= 100) a->bad++;
      }
    uint64_t n;
    if (omen_count_where(coll, a->f, &n) || n < 100) a->bad++;
  }
  omen_result_free(r);
  return NULL;
}

static void t_threads(void **state)
{
  (void)state;
  omen_cond c = leaf(OMEN_OP_LT, "n", num(100));
  omen_filter *f;
  assert_int_equal(omen_filter_new(db, &c, &f), OMEN_OK);
  reader_arg args[2] = {{f, 0}, {f, 0}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, filtered_reader, &args[i]);
  for (int i = 0; i < 200; i++) { /* writes outdate the cached bitmap */
    char id[16];
    tu_id(id, sizeof id, (size_t)(N + i));
    omen_field nf = {{"n", 1}, {.type = OMEN_NUMBER, .u.number = (double)(i % 200)}};
    assert_int_equal(omen_upsert(coll, id, strlen(id), data + (size_t)i * DIM, &nf, 1), OMEN_OK);
  }
  for (int i = 0; i < 2; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(args[i].bad, 0);
  }
  omen_filter_free(f);
}

/* Filters and their deletions on a file: through the log and a reopen. */
static void t_file(void **state)
{
  (void)state;
  char path[128], side[160];
  snprintf(path, sizeof path, "/tmp/omen-test-filter-%d.omen", (int)getpid());
  unlink(path);
  omen_db *d = tu_open(path, 0);
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, DIM);
  omen_coll *c;
  assert_int_equal(omen_coll_create(d, "c", &cfg, &c), OMEN_OK);
  fill(c, 0, 2000);
  omen_cond cond = leaf(OMEN_OP_GTE, "n", num(500));
  omen_filter *f;
  assert_int_equal(omen_filter_new(d, &cond, &f), OMEN_OK);
  uint64_t deleted, n;
  assert_int_equal(omen_delete_where(c, f, &deleted), OMEN_OK);
  assert_int_equal(deleted, 1000);
  omen_filter_free(f);
  omen_coll_close(c);
  omen_close(d);

  d = tu_open(path, 0);
  assert_int_equal(omen_coll_open(d, "c", &c), OMEN_OK);
  assert_int_equal(omen_count(c, &n), OMEN_OK);
  assert_int_equal(n, 1000);
  cond = leaf(OMEN_OP_CONTAINS, "tags", str("t4"));
  assert_int_equal(omen_filter_new(d, &cond, &f), OMEN_OK);
  assert_int_equal(omen_count_where(c, f, &n), OMEN_OK);
  assert_int_equal(n, 200);
  omen_filter_free(f);
  omen_coll_close(c);
  omen_close(d);
  unlink(path);
  snprintf(side, sizeof side, "%s-wal", path);
  unlink(side);
}

/* Fixtures run inside each test, so cmocka's leak check covers them too. */
#define WITH_FIXTURE(f)          \
  static void f##_(void **state) \
  {                              \
    setup(state);                \
    f(state);                    \
    teardown(state);             \
  }
WITH_FIXTURE(t_operators)
WITH_FIXTURE(t_combinations)
WITH_FIXTURE(t_refused)
WITH_FIXTURE(t_selectivities)
WITH_FIXTURE(t_delete_where)
WITH_FIXTURE(t_later_keys)
WITH_FIXTURE(t_threads)
WITH_FIXTURE(t_file)

int main(void)
{
  data = tu_clustered(N, DIM, 12, 98);
#define T(f) cmocka_unit_test(f##_)
  const struct CMUnitTest tests[] = {
    T(t_operators), T(t_combinations), T(t_refused), T(t_selectivities),
    T(t_delete_where), T(t_later_keys), T(t_threads), T(t_file),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  free(data);
  return rc;
}
