/*
** HNSW graph, through a collection: recall against brute force on clustered
** data, built alone and on several threads, for every metric; structural
** invariants of the flat link arrays; repair when deleted slots are reused;
** overwriting half the records, one by one or in batches of any size, on
** one thread or two, is as good as a fresh build of the same records.
*/
#include "testutil.h"

#include "graphcheck.h"

#define DIM 32
#define N 6000
#define K 10

static omen_coll *build(omen_db *db, const char *name, omen_metric metric,
                        const float *data, size_t n, unsigned threads)
{
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, DIM);
  cfg.metric = metric;
  omen_coll *c;
  assert_int_equal(omen_coll_create(db, name, &cfg, &c), OMEN_OK);
  omen_str *ids = malloc(n * sizeof *ids);
  char (*names)[16] = malloc(n * sizeof *names);
  for (size_t i = 0; i < n; i++) {
    tu_id(names[i], sizeof names[i], i);
    ids[i] = (omen_str){names[i], strlen(names[i])};
  }
  assert_int_equal(omen_upsert_batch(c, n, ids, data, NULL, threads), OMEN_OK);
  free(ids);
  free(names);
  return c;
}

/* Mean recall@K of graph search against brute force over nq queries; ids
** are "id-<index into data>", and only indices with alive[i] count. */
static double recall(omen_coll *c, omen_metric metric, const float *data,
                     size_t n, const uint8_t *alive, const float *queries,
                     size_t nq)
{
  omen_result *r;
  assert_int_equal(omen_result_new(omen_coll_db(c), &r), OMEN_OK);
  omen_search_opts o;
  omen_search_opts_init(&o, K);
  size_t found = 0, total = 0;
  float *live = malloc(n * DIM * sizeof(float));
  size_t *index = malloc(n * sizeof(size_t)), n_live = 0;
  for (size_t i = 0; i < n; i++)
    if (!alive || alive[i]) {
      memcpy(live + n_live * DIM, data + i * DIM, DIM * sizeof(float));
      index[n_live++] = i;
    }
  for (size_t q = 0; q < nq; q++) {
    size_t truth[K];
    double dist[K];
    tu_brute(metric, live, n_live, DIM, queries + q * DIM, K, truth, dist);
    assert_int_equal(omen_search(c, queries + q * DIM, &o, r), OMEN_OK);
    assert_int_equal(omen_result_count(r), K);
    for (size_t i = 0; i < K; i++) {
      const omen_hit *h = omen_result_hit(r, i);
      if (i) assert_true(h->distance >= omen_result_hit(r, i - 1)->distance);
      for (size_t j = 0; j < K; j++) {
        char id[16];
        tu_id(id, sizeof id, index[truth[j]]);
        if (h->id.len == strlen(id) && !memcmp(h->id.ptr, id, h->id.len)) {
          found++;
          break;
        }
      }
    }
    total += K;
  }
  free(live);
  free(index);
  omen_result_free(r);
  return (double)found / (double)total;
}

static void check_recall(omen_metric metric, unsigned threads)
{
  omen_db *db = tu_open(NULL, 0);
  float *data = tu_clustered(N, DIM, 20, 11);
  float *queries = tu_clustered(200, DIM, 20, 11 + 1000);
  omen_coll *c = build(db, "g", metric, data, N, threads);
  tu_check_graph(c);
  double r = recall(c, metric, data, N, NULL, queries, 200);
  print_message("  %s, %u thread(s): recall@%d = %.4f, levels %u\n",
                omen_metric_name(metric), threads, K, r, c->graph.max_level + 1);
  assert_true(r >= 0.95);
  omen_coll_close(c);
  assert_int_equal(omen_close(db), OMEN_OK);
  free(data);
  free(queries);
}

static void t_recall_l2(void **s) { (void)s; check_recall(OMEN_L2, 1); }
static void t_recall_cosine(void **s) { (void)s; check_recall(OMEN_COSINE, 1); }
static void t_recall_ip(void **s) { (void)s; check_recall(OMEN_IP, 1); }
static void t_recall_threads(void **s) { (void)s; check_recall(OMEN_L2, 2); }

/* Delete a third, then insert new vectors into the freed slots (each reuse
** repairs the graph around the slot); the graph stays valid and finds the
** survivors and the newcomers. */
static void t_reuse(void **state)
{
  (void)state;
  omen_db *db = tu_open(NULL, 0);
  size_t total = N + N / 3;
  float *data = tu_clustered(total, DIM, 20, 5);
  float *queries = tu_clustered(200, DIM, 20, 5 + 1000);
  omen_coll *c = build(db, "g", OMEN_L2, data, N, 1);
  uint8_t *alive = calloc(total, 1);
  memset(alive, 1, N);
  char id[16];
  for (size_t i = 0; i < N; i += 3) {
    tu_id(id, sizeof id, i);
    assert_int_equal(omen_delete(c, id, strlen(id)), OMEN_OK);
    alive[i] = 0;
  }
  uint32_t slots_before = c->n_slots;
  for (size_t i = N; i < total; i++) {
    tu_id(id, sizeof id, i);
    assert_int_equal(omen_upsert(c, id, strlen(id), data + i * DIM, NULL, 0), OMEN_OK);
    alive[i] = 1;
  }
  /* new records reused the slots freed by consolidation (due every
  ** max(64, live / 32) deletes): fewer than that many came new */
  assert_true(c->n_slots < slots_before + 64);
  tu_check_graph(c);
  double r = recall(c, OMEN_L2, data, total, alive, queries, 200);
  print_message("  after reuse: recall@%d = %.4f\n", K, r);
  assert_true(r >= 0.95);
  omen_coll_close(c);
  omen_close(db);
  free(alive);
  free(data);
  free(queries);
}

/* Replacing the vector of every record in place (same ids) keeps the graph
** searchable; this reuses each slot, the entry point's included. */
static void t_update_all(void **state)
{
  (void)state;
  omen_db *db = tu_open(NULL, 0);
  float *data = tu_clustered(2 * 3000, DIM, 20, 9);
  float *queries = tu_clustered(100, DIM, 20, 9 + 1000);
  omen_coll *c = build(db, "g", OMEN_L2, data, 3000, 1);
  char id[16];
  for (size_t i = 0; i < 3000; i++) {
    tu_id(id, sizeof id, i);
    assert_int_equal(omen_upsert(c, id, strlen(id), data + (3000 + i) * DIM, NULL, 0),
                     OMEN_OK);
  }
  assert_true(c->n_slots < 3000 + 3000 / 32); /* replaced slots were reused */
  tu_check_graph(c);
  double r = recall(c, OMEN_L2, data + 3000 * DIM, 3000, NULL, queries, 100);
  print_message("  after updating every record: recall@%d = %.4f\n", K, r);
  assert_true(r >= 0.95);
  omen_coll_close(c);
  omen_close(db);
  free(data);
  free(queries);
}

/* Every record stays reachable by the graph search through heavy churn:
** delete everything, insert single records into the freed slots, then a
** batch that reuses the rest of them; then random deletes and updates. */
static void t_churn(void **state)
{
  (void)state;
  omen_db *db = tu_open(NULL, 0);
  float *data = tu_clustered(4000, DIM, 10, 31);
  omen_coll *c = build(db, "g", OMEN_L2, data, 1500, 1);
  char id[16];
  for (size_t i = 0; i < 1500; i++) {
    tu_id(id, sizeof id, i);
    assert_int_equal(omen_delete(c, id, strlen(id)), OMEN_OK);
  }
  for (size_t i = 1500; i < 1510; i++) {
    tu_id(id, sizeof id, i);
    assert_int_equal(omen_upsert(c, id, strlen(id), data + i * DIM, NULL, 0), OMEN_OK);
  }
  omen_str ids[1490];
  char names[1490][16];
  for (size_t i = 0; i < 1490; i++) {
    tu_id(names[i], sizeof names[i], 1510 + i);
    ids[i] = (omen_str){names[i], strlen(names[i])};
  }
  assert_int_equal(omen_upsert_batch(c, 1490, ids, data + 1510 * DIM, NULL, 2), OMEN_OK);
  tu_check_graph(c);
  uint64_t s = 3;
  for (int round = 0; round < 3000; round++) {
    size_t i = 1500 + tu_next(&s) % 1500;
    tu_id(id, sizeof id, i);
    if (round % 3 == 0) omen_delete(c, id, strlen(id));
    else omen_upsert(c, id, strlen(id), data + (i + 1000) * DIM, NULL, 0);
  }
  tu_check_graph(c);
  /* Each live record is found by searching for its own vector. */
  omen_result *r, *all;
  assert_int_equal(omen_result_new(db, &r), OMEN_OK);
  assert_int_equal(omen_result_new(db, &all), OMEN_OK);
  omen_search_opts o, ex;
  omen_search_opts_init(&o, 1);
  omen_search_opts_init(&ex, 100000);
  ex.exact = 1;
  ex.with = OMEN_WITH_VECTOR;
  assert_int_equal(omen_search(c, data, &ex, all), OMEN_OK);
  size_t lost = 0;
  for (size_t i = 0; i < omen_result_count(all); i++) {
    const omen_hit *h = omen_result_hit(all, i);
    assert_int_equal(omen_search(c, h->vec, &o, r), OMEN_OK);
    const omen_hit *g = omen_result_hit(r, 0);
    lost += g->distance > 0; /* another record at distance 0 is as good */
  }
  print_message("  %zu live records, %zu not found by their own vector\n",
                omen_result_count(all), lost);
  assert_int_equal(lost, 0);
  omen_result_free(r);
  omen_result_free(all);
  omen_coll_close(c);
  omen_close(db);
  free(data);
}

/* Levels follow the geometric law P(level >= l) = m^-l. */
static void t_levels(void **state)
{
  (void)state;
  omen__graph g;
  omen__graph_init(&g, 16, 200, 1234);
  size_t at_least[4] = {0};
  for (uint32_t s = 0; s < 1000000; s++) {
    uint32_t l = omen__graph_level_of(&g, s);
    for (uint32_t j = 0; j < 4 && j <= l; j++) at_least[j]++;
  }
  assert_int_equal(at_least[0], 1000000);
  assert_true(at_least[1] > 1000000 / 16 * 0.95 && at_least[1] < 1000000 / 16 * 1.05);
  assert_true(at_least[2] > 1000000 / 256 * 0.85 && at_least[2] < 1000000 / 256 * 1.15);
}

/* -- Overwrites ----------------------------------------------------------------
** 20,000 records, then half of them given new vectors (points of the same
** clusters, so records move between clusters): every way of doing it must
** leave recall at the default ef within 0.005 of a fresh build of the
** final records. */

#define OW_N 20000
#define OW_Q 300

typedef struct overwrite_case {
  float *base, *repl, *final, *queries;
  char (*names)[16];
  omen_str *ids;
} overwrite_case;

static omen_coll *ow_coll(omen_db *db, const char *name)
{
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, DIM);
  omen_coll *c;
  assert_int_equal(omen_coll_create(db, name, &cfg, &c), OMEN_OK);
  return c;
}

/* Upsert records [from, from + n) from vecs (row i for record from + i), in
** batches of `batch` on `threads` threads. */
static void ow_put(omen_coll *c, const overwrite_case *w, size_t from, size_t n,
                   const float *vecs, size_t batch, unsigned threads)
{
  for (size_t at = 0; at < n; at += batch) {
    size_t m = n - at < batch ? n - at : batch;
    assert_int_equal(omen_upsert_batch(c, m, w->ids + from + at, vecs + at * DIM, NULL,
                                       threads), OMEN_OK);
  }
}

static double ow_recall(omen_coll *c, const overwrite_case *w)
{
  tu_check_graph(c);
  return recall(c, OMEN_L2, w->final, OW_N, NULL, w->queries, OW_Q);
}

static void t_overwrites(void **state)
{
  (void)state;
  size_t half = OW_N / 2;
  overwrite_case w;
  float *all = tu_clustered(OW_N + half + OW_Q, DIM, 40, 77);
  w.base = all;
  w.repl = all + (size_t)OW_N * DIM;
  w.queries = all + (size_t)(OW_N + half) * DIM;
  w.final = malloc((size_t)OW_N * DIM * sizeof(float));
  memcpy(w.final, w.repl, half * DIM * sizeof(float));
  memcpy(w.final + half * DIM, w.base + half * DIM, (OW_N - half) * DIM * sizeof(float));
  w.names = malloc(OW_N * sizeof *w.names);
  w.ids = malloc(OW_N * sizeof *w.ids);
  for (size_t i = 0; i < OW_N; i++) {
    tu_id(w.names[i], sizeof w.names[i], i);
    w.ids[i] = (omen_str){w.names[i], strlen(w.names[i])};
  }
  omen_db *db = tu_open(NULL, 0);
  omen_coll *fresh = ow_coll(db, "fresh");
  ow_put(fresh, &w, 0, OW_N, w.final, OW_N, 2);
  double want = ow_recall(fresh, &w) - 0.005;
  print_message("  fresh build of the final records: recall@%d %.4f\n", K, want + 0.005);
  static const struct { const char *what; size_t batch; unsigned threads; int delete_first; } ways[] = {
    {"one by one", 1, 1, 0},
    {"batches of 1000, 2 threads", 1000, 2, 0},
    {"one batch, 1 thread", OW_N / 2, 1, 0},
    {"one batch, 2 threads", OW_N / 2, 2, 0},
    {"deleted, then one batch", OW_N / 2, 2, 1},
  };
  for (size_t k = 0; k < sizeof ways / sizeof ways[0]; k++) {
    char name[8];
    snprintf(name, sizeof name, "w%zu", k);
    omen_coll *c = ow_coll(db, name);
    ow_put(c, &w, 0, OW_N, w.base, OW_N, 2);
    for (size_t i = 0; ways[k].delete_first && i < half; i++)
      assert_int_equal(omen_delete(c, w.ids[i].ptr, w.ids[i].len), OMEN_OK);
    ow_put(c, &w, 0, half, w.repl, ways[k].batch, ways[k].threads);
    double r = ow_recall(c, &w);
    print_message("  %-28s recall@%d %.4f\n", ways[k].what, K, r);
    if (r < want) fail_msg("%s: recall %.4f is more than 0.005 below a fresh build's %.4f",
                           ways[k].what, r, want + 0.005);
    omen_coll_close(c);
  }
  omen_coll_close(fresh);
  assert_int_equal(omen_close(db), OMEN_OK);
  free(all);
  free(w.final);
  free(w.names);
  free(w.ids);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(t_recall_l2),     cmocka_unit_test(t_recall_cosine),
    cmocka_unit_test(t_recall_ip),     cmocka_unit_test(t_recall_threads),
    cmocka_unit_test(t_reuse),         cmocka_unit_test(t_update_all),
    cmocka_unit_test(t_churn),         cmocka_unit_test(t_overwrites),
    cmocka_unit_test(t_levels),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
