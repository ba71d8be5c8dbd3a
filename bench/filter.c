/*
** filter: filtered search against unfiltered search at the same recall.
** N clustered vectors, each with a field `bucket` drawn at random from
** 0..999, unrelated to the vector; filters `bucket < t` let 50%, 10%, 1%
** and 0.1% of the records through. For each, an ef sweep measures recall@10
** against exact filtered search and queries per second (one thread, API
** call included), for the planner's choice and for the graph forced; the
** summary compares queries/s at recall 0.95.
**
**   build/bench/filter [N] [DIM]
*/
#include "port.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "omen.h"

#define NQ 200
#define K 10

typedef struct point {
  double recall, qps;
} point;

/* Recall@K (against truth ids) and queries/s of one configuration. */
static point run(omen_coll *c, omen_result *r, const float *q, size_t dim,
                 const omen_search_opts *o, char (*truth)[K][16], size_t *truth_n)
{
  size_t found = 0, total = 0;
  double t = bench_now();
  for (int i = 0; i < NQ; i++) {
    if (omen_search(c, q + i * dim, o, r)) exit(1);
    for (size_t h = 0; h < omen_result_count(r); h++) {
      const omen_hit *hit = omen_result_hit(r, h);
      for (size_t j = 0; j < truth_n[i]; j++)
        if (strlen(truth[i][j]) == hit->id.len && !memcmp(truth[i][j], hit->id.ptr, hit->id.len)) {
          found++;
          break;
        }
    }
    total += truth_n[i];
  }
  point p = {total ? (double)found / (double)total : 1.0, NQ / (bench_now() - t)};
  return p;
}

/* Queries/s at `target` recall, interpolated along the sweep (0: never). */
static double qps_at(const point *p, int n, double target)
{
  for (int i = 0; i < n; i++) {
    if (p[i].recall < target) continue;
    if (i == 0) return p[0].qps;
    double f = (target - p[i - 1].recall) / (p[i].recall - p[i - 1].recall);
    return p[i - 1].qps + f * (p[i].qps - p[i - 1].qps);
  }
  return 0;
}

int main(int argc, char **argv)
{
  size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
  size_t dim = argc > 2 ? strtoul(argv[2], NULL, 10) : 64;
  float *data = malloc(n * dim * sizeof(float)), *q = malloc(NQ * dim * sizeof(float));
  bench_clusters(data, n, dim, 200, 12, 777, 1);
  bench_clusters(q, NQ, dim, 200, 12, 777, 2);
  omen_db *db;
  omen_coll *c;
  omen_result *r;
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, (uint32_t)dim);
  if (omen_open(NULL, NULL, &db) || omen_coll_create(db, "f", &cfg, &c) ||
      omen_result_new(db, &r))
    return 1;
  omen_str *ids = malloc(n * sizeof *ids);
  char *names = malloc(n * 16);
  omen_field *f = malloc(n * sizeof *f);
  omen_meta *metas = malloc(n * sizeof *metas);
  uint64_t s = 5;
  for (size_t i = 0; i < n; i++) {
    int len = snprintf(names + i * 16, 16, "v%zu", i);
    ids[i] = (omen_str){names + i * 16, (size_t)len};
    f[i] = (omen_field){{"bucket", 6}, {.type = OMEN_NUMBER, .u.number = (double)(bench_next(&s) % 1000)}};
    metas[i] = (omen_meta){&f[i], 1};
  }
  double t = bench_now();
  if (omen_upsert_batch(c, n, ids, data, metas, 0)) return 1;
  printf("filter: %zu x %zu built in %.1f s; bucket uniform in 0..999, unrelated "
         "to the vectors; %d queries, k = %d\n", n, dim, bench_now() - t, NQ, K);

  static const double limits[] = {1000, 500, 100, 10, 1};
  static const uint32_t efs[] = {10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512};
  enum { NEF = sizeof efs / sizeof efs[0] };
  char (*truth)[K][16] = malloc(NQ * sizeof *truth);
  size_t truth_n[NQ];
  double base95 = 0, base99 = 0;
  printf("\n%-12s %-6s", "filter", "plan");
  for (int e = 0; e < NEF; e++) printf(" %9s", "ef" );
  printf("\n");
  for (size_t li = 0; li < sizeof limits / sizeof limits[0]; li++) {
    omen_cond cond = {OMEN_OP_LT, {"bucket", 6}, {.type = OMEN_NUMBER, .u.number = limits[li]},
                      NULL, 0, NULL, 0};
    omen_filter *flt = NULL;
    if (li && omen_filter_new(db, &cond, &flt)) return 1;
    omen_search_opts o;
    omen_search_opts_init(&o, K);
    o.with = 0;
    o.filter = flt;
    o.exact = 1;
    for (int i = 0; i < NQ; i++) { /* exact filtered ground truth */
      if (omen_search(c, q + i * dim, &o, r)) return 1;
      truth_n[i] = omen_result_count(r);
      for (size_t h = 0; h < truth_n[i]; h++) {
        const omen_hit *hit = omen_result_hit(r, h);
        snprintf(truth[i][h], 16, "%.*s", (int)hit->id.len, hit->id.ptr);
      }
    }
    o.exact = 0;
    for (int plan = 0; plan < (li ? 2 : 1); plan++) {
      o.plan = plan ? OMEN_PLAN_GRAPH : OMEN_PLAN_AUTO;
      point pts[NEF];
      char label[32];
      snprintf(label, sizeof label, li ? "%.1f%%" : "none", limits[li] / 10);
      printf("%-12s %-6s", label, plan ? "graph" : "auto");
      for (int e = 0; e < NEF; e++) {
        o.ef = efs[e];
        pts[e] = run(c, r, q, dim, &o, truth, truth_n);
        printf(" %3u:%.3f", efs[e], pts[e].recall);
      }
      printf("\n%-19s", "  queries/s");
      for (int e = 0; e < NEF; e++) printf(" %9.0f", pts[e].qps);
      double at95 = qps_at(pts, NEF, 0.95), at99 = qps_at(pts, NEF, 0.99);
      if (!li) {
        base95 = at95;
        base99 = at99;
        printf("\n  at recall 0.95: %.0f queries/s; at 0.99: %.0f\n", at95, at99);
      } else {
        printf("\n  at recall 0.95: %.0f queries/s (%.2fx slower than unfiltered); "
               "at 0.99: %.0f (%.2fx)\n", at95, at95 ? base95 / at95 : 0, at99,
               at99 ? base99 / at99 : 0);
      }
    }
    omen_filter_free(flt);
  }
  omen_result_free(r);
  omen_coll_close(c);
  omen_close(db);
  return 0;
}
