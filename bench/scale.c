/*
** scale: insert N clustered vectors (default 1,000,000 x 128) into one
** collection with the batch API, then search it. Reports build rate,
** resident memory against the raw vector and link bytes, query rate and
** recall@10 against exact search. With a PATH the database is a file: the
** insert goes through the write-ahead log, and the close (a checkpoint),
** the reopen and the first searches after it are timed too.
**
**   build/bench/scale [N] [DIM] [THREADS] [PATH]
*/
#include "port.h"

#include <unistd.h>

#include "bench.h"
#include "omen.h"

int main(int argc, char **argv)
{
  size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
  size_t dim = argc > 2 ? strtoul(argv[2], NULL, 10) : 128;
  unsigned threads = argc > 3 ? (unsigned)atoi(argv[3]) : 0;
  const char *path = argc > 4 ? argv[4] : NULL;
  size_t nq = 1000, k = 10;
  float *data = malloc(n * dim * sizeof(float));
  float *queries = malloc(nq * dim * sizeof(float));
  omen_str *ids = malloc(n * sizeof *ids);
  char *names = malloc(n * 16);
  if (!data || !queries || !ids || !names) return 1;
  /* Gaussian clusters around 1,000 centres, each spread along 16 directions. */
  bench_clusters(data, n, dim, 1000, 16, 12345, 1);
  bench_clusters(queries, nq, dim, 1000, 16, 12345, 2);
  for (size_t i = 0; i < n; i++) {
    int len = snprintf(names + i * 16, 16, "v%zu", i);
    ids[i] = (omen_str){names + i * 16, (size_t)len};
  }
  double rss0 = bench_mem_mb("VmRSS");

  omen_db *db;
  omen_coll *c;
  omen_result *r;
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, (uint32_t)dim);
  if (path) {
    char side[4096];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
  }
  if (omen_open(path, NULL, &db) || omen_coll_create(db, "scale", &cfg, &c) ||
      omen_result_new(db, &r))
    return 1;
  double t = bench_now();
  if (omen_upsert_batch(c, n, ids, data, NULL, threads)) {
    fprintf(stderr, "insert: %s\n", omen_errmsg(db));
    return 1;
  }
  double build = bench_now() - t;
  double rss1 = bench_mem_mb("VmRSS");
  omen_coll_info info;
  omen_coll_info_get(c, &info);

  omen_search_opts o;
  omen_search_opts_init(&o, (uint32_t)k);
  o.with = 0;
  t = bench_now();
  for (size_t q = 0; q < nq; q++)
    if (omen_search(c, queries + q * dim, &o, r)) return 1;
  double qtime = bench_now() - t;

  /* Recall on the first 100 queries against exact search. */
  size_t hits = 0, checked = 100;
  omen_result *truth;
  omen_result_new(db, &truth);
  omen_search_opts ex = o;
  ex.exact = 1;
  for (size_t q = 0; q < checked; q++) {
    omen_search(c, queries + q * dim, &o, r);
    omen_search(c, queries + q * dim, &ex, truth);
    for (size_t i = 0; i < omen_result_count(r); i++)
      for (size_t j = 0; j < omen_result_count(truth); j++) {
        const omen_hit *a = omen_result_hit(r, i), *b = omen_result_hit(truth, j);
        if (a->id.len == b->id.len && !memcmp(a->id.ptr, b->id.ptr, a->id.len)) {
          hits++;
          break;
        }
      }
  }
  double raw = (double)n * dim * 4 / 1048576.0;
  printf("scale: %zu x %zu, m = %u, ef_construction = %u\n", n, dim, cfg.m,
         cfg.ef_construction);
  printf("  build   %.1f s, %.0f vectors/s (%s threads)\n", build, n / build,
         threads ? argv[3] : "all");
  printf("  memory  %.0f MiB resident for the collection (raw vectors %.0f MiB); "
         "engine reports %.0f MiB\n", rss1 - rss0, raw,
         info.memory / 1048576.0);
  printf("  search  %.0f queries/s (k = %zu, ef = %u, one thread)\n", nq / qtime, k,
         cfg.ef_search);
  printf("  recall@%zu = %.4f against exact search (%zu queries)\n", k,
         (double)hits / (double)(checked * k), checked);
  omen_result_free(truth);
  omen_result_free(r);
  omen_coll_close(c);
  t = bench_now();
  if (omen_close(db)) return 1;
  double close_time = bench_now() - t;
  if (path) {
    /* Reopen: map the file, attach the collection, answer queries. */
    t = bench_now();
    uint64_t count;
    if (omen_open(path, NULL, &db) || omen_coll_open(db, "scale", &c) ||
        omen_count(c, &count))
      return 1;
    double reopen = bench_now() - t;
    omen_result_new(db, &r);
    t = bench_now();
    omen_search(c, queries, &o, r);
    double first = bench_now() - t;
    t = bench_now();
    for (size_t q = 0; q < nq; q++)
      if (omen_search(c, queries + q * dim, &o, r)) return 1;
    double again = bench_now() - t;
    omen_coll_info_get(c, &info);
    printf("  file    close (checkpoint) %.2f s; reopen %.3f s (%llu records, "
           "%llu graph inserts); first search %.1f ms; then %.0f queries/s\n",
           close_time, reopen, (unsigned long long)count,
           (unsigned long long)info.graph_inserts, first * 1000, nq / again);
    omen_result_free(r);
    omen_coll_close(c);
    omen_close(db);
  }
  free(data);
  free(queries);
  free(ids);
  free(names);
  return 0;
}
