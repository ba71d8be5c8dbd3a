/*
** follow: what a live reader pays to follow a writer, through the C API.
** A database file of N clustered vectors (default quantization) is opened
** by a writer and by two readers: one that looks for new writes before
** every call (refresh_ms 0, the default) and one that never looks by
** itself (OMEN_REFRESH_MANUAL: a plain read-only handle). With the writer
** idle, both answer the same queries at one ef in alternating rounds, each
** keeping its best: the difference is the cost of a look. Then a writer
** thread upserts new vectors one call at a time (sync normal, checkpoints
** as they come) while the live reader answers queries, and at the end the
** reader must hold every record the writer wrote. The readers go through
** the file and its log exactly as another process would.
**
**   build/bench/follow PATH [N] [DIM] [JSON]
*/
#include "port.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "omen.h"

#define NQ 2000
#define K 10
#define EF 40
#define ROUNDS 5
#define INGEST_SECONDS 3.0

static void die(omen_db *db, const char *what)
{
  fprintf(stderr, "follow: %s: %s\n", what, db ? omen_errmsg(db) : "failed");
  exit(1);
}

static omen_db *open_db(const char *path, unsigned flags, uint32_t refresh_ms)
{
  omen_options o;
  omen_options_init(&o);
  o.flags = flags;
  o.refresh_ms = refresh_ms;
  omen_db *db = NULL;
  if (omen_open(path, &o, &db)) die(db, path);
  return db;
}

/* Queries/s of one pass over the queries. */
static double pass(omen_coll *c, omen_result *r, const float *q, size_t dim)
{
  omen_search_opts o;
  omen_search_opts_init(&o, K);
  o.ef = EF;
  o.with = 0;
  double t = bench_now();
  for (size_t i = 0; i < NQ; i++) {
    if (omen_search(c, q + i * dim, &o, r)) die(omen_coll_db(c), "search");
    if (omen_result_count(r) != K) die(NULL, "a search came back short");
  }
  return NQ / (bench_now() - t);
}

typedef struct ingest {
  omen_coll *c;
  const float *vecs; /* NEW_MAX of them, written in turn */
  size_t dim;
  atomic_int stop;
  size_t written;
} ingest;

#define NEW_MAX 60000

static void *ingest_run(void *arg)
{
  ingest *g = arg;
  char id[32];
  while (!atomic_load(&g->stop) && g->written < NEW_MAX) {
    int len = snprintf(id, sizeof id, "new%zu", g->written);
    if (omen_upsert(g->c, id, (size_t)len, g->vecs + g->written * g->dim, NULL, 0))
      die(omen_coll_db(g->c), "upsert");
    g->written++;
  }
  return NULL;
}

static void remove_files(const char *path)
{
  char side[4200];
  unlink(path);
  snprintf(side, sizeof side, "%s-wal", path);
  unlink(side);
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: follow PATH [N] [DIM] [JSON]\n");
    return 2;
  }
  const char *path = argv[1], *json = argc > 4 ? argv[4] : NULL;
  size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 100000;
  size_t dim = argc > 3 ? strtoul(argv[3], NULL, 10) : 128;
  if (strlen(path) > 4000 || !n || !dim) return 2;
  remove_files(path);
  float *data = malloc(n * dim * sizeof(float)), *q = malloc(NQ * dim * sizeof(float));
  char *names = malloc(n * 16);
  omen_str *ids = malloc(n * sizeof *ids);
  if (!data || !q || !names || !ids) return 1;
  bench_clusters(data, n, dim, 200, 12, 777, 1);
  bench_clusters(q, NQ, dim, 200, 12, 777, 2);
  for (size_t i = 0; i < n; i++) {
    int len = snprintf(names + i * 16, 16, "v%zu", i);
    ids[i] = (omen_str){names + i * 16, (size_t)len};
  }
  omen_db *w = open_db(path, 0, 0);
  omen_coll *wc;
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, (uint32_t)dim);
  if (omen_coll_create(w, "c", &cfg, &wc) || omen_upsert_batch(wc, n, ids, data, NULL, 0) ||
      omen_checkpoint(w))
    die(w, "build");

  omen_db *plain = open_db(path, OMEN_OPEN_READONLY, OMEN_REFRESH_MANUAL);
  omen_db *live = open_db(path, OMEN_OPEN_READONLY, 0);
  omen_coll *pc, *lc;
  omen_result *pr, *lr;
  if (omen_coll_open(plain, "c", &pc) || omen_result_new(plain, &pr)) die(plain, "plain reader");
  if (omen_coll_open(live, "c", &lc) || omen_result_new(live, &lr)) die(live, "live reader");
  double best_plain = 0, best_live = 0;
  for (int round = 0; round < ROUNDS; round++) {
    double a = pass(pc, pr, q, dim), b = pass(lc, lr, q, dim);
    if (a > best_plain) best_plain = a;
    if (b > best_live) best_live = b;
  }
  double look_us = 1e6 / best_live - 1e6 / best_plain;
  printf("follow: %zu x %zu (%s), ef %d, k %d, %d queries, best of %d rounds, isa %s\n", n,
         dim, omen_quant_name(cfg.quantization), EF, K, NQ, ROUNDS, omen_isa(live));
  printf("  writer idle: plain reader %.0f queries/s, live reader %.0f: %.3fx, "
         "%.2f us per call to look\n", best_plain, best_live, best_live / best_plain, look_us);

  float *fresh = malloc(NEW_MAX * dim * sizeof(float));
  if (!fresh) return 1;
  bench_clusters(fresh, NEW_MAX, dim, 200, 12, 777, 3);
  ingest g = {wc, fresh, dim, 0, 0};
  pthread_t t;
  if (pthread_create(&t, NULL, ingest_run, &g)) return 1;
  double t0 = bench_now(), queries = 0;
  while (bench_now() - t0 < INGEST_SECONDS) queries += pass(lc, lr, q, dim) > 0 ? NQ : 0;
  double secs = bench_now() - t0;
  atomic_store(&g.stop, 1);
  pthread_join(t, NULL);
  uint64_t seen, want;
  if (omen_count(lc, &seen) || omen_count(wc, &want)) die(live, "count");
  if (seen != want) {
    fprintf(stderr, "follow: the live reader holds %llu records, the writer %llu\n",
            (unsigned long long)seen, (unsigned long long)want);
    return 1;
  }
  printf("  writer ingesting (one upsert per call, sync normal): %.0f writes/s while the "
         "live reader answered %.0f queries/s (%.2fx its idle rate); it then held all "
         "%llu records\n", g.written / secs, queries / secs, queries / secs / best_live,
         (unsigned long long)seen);
  if (json) {
    FILE *f = fopen(json, "w");
    if (!f) return 1;
    fprintf(f, "{\"n\": %zu, \"dim\": %zu, \"ef\": %d, \"isa\": \"%s\", "
               "\"plain_qps\": %.0f, \"live_qps\": %.0f, \"look_us\": %.3f, "
               "\"ingest_writes_per_s\": %.0f, \"ingest_live_qps\": %.0f}\n",
            n, dim, EF, omen_isa(live), best_plain, best_live, look_us, g.written / secs,
            queries / secs);
    fclose(f);
  }
  omen_result_free(pr);
  omen_result_free(lr);
  omen_coll_close(pc);
  omen_coll_close(lc);
  omen_coll_close(wc);
  omen_close(plain);
  omen_close(live);
  omen_close(w);
  remove_files(path);
  free(data);
  free(fresh);
  free(q);
  free(names);
  free(ids);
  return 0;
}
