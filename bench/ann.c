/*
** ann: omen through its C API on a dataset of raw float32 files, for the
** benchmark (bench/run.sh). Builds one collection of every base vector with
** the batch API, then answers every query one at a time for each ef,
** timing the whole API call; recall@k against a ground-truth file. Writes
** one JSON object (bench/report.lua reads it).
**
**   ann --name NAME --base F --queries F --dim D --truth T [--m 16]
**       [--efc 200] [--threads 1] [--ef 10,20,...] [--k 10] [--repeat 3]
**       [--quant none|sq8|pca8] [--path FILE] [--batch-ef EF] [--exact] --out FILE
**
** --repeat: sweeps of every ef, keeping each ef's best time (other work on
** the machine only ever slows a sweep down). --path: build into a database
** file through the write-ahead log (sync normal) instead of memory.
** --batch-ef: also time omen_search_batch at that ef, on one thread and on
** one per core. --exact: also time exact searches, against the speed of a
** plain read of the base vectors.
**   ann --truth-out T --base F --queries F --dim D [--k 10]
**       computes the exact ground truth with omen's exact search
*/
#include "port.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "omen.h"

#define MAX_EFS 32

typedef struct args {
  const char *name, *base, *queries, *truth, *truth_out, *out, *quant, *path;
  size_t dim, k;
  unsigned m, efc, threads, repeat, batch_ef;
  int exact;
  uint32_t ef[MAX_EFS];
  int n_ef;
} args;

static void die(const char *what, const char *detail)
{
  fprintf(stderr, "ann: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  exit(1);
}

/* A file of float32 rows of dim: returns the rows, *n their number. */
static float *load(const char *path, size_t dim, size_t *n)
{
  FILE *f = fopen(path, "rb");
  if (!f) die("cannot open", path);
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  if (size <= 0 || size % (long)(dim * sizeof(float))) die("not rows of dim floats", path);
  float *v = malloc((size_t)size);
  if (!v || fread(v, 1, (size_t)size, f) != (size_t)size) die("cannot read", path);
  fclose(f);
  *n = (size_t)size / (dim * sizeof(float));
  return v;
}

static void parse(int argc, char **argv, args *a)
{
  memset(a, 0, sizeof *a);
  a->k = 10;
  a->m = 16;
  a->efc = 200;
  a->threads = 1;
  a->repeat = 3;
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(o, "--exact")) {
      a->exact = 1;
      continue;
    }
    if (!v) die("missing value for", o);
    i++;
    if (!strcmp(o, "--name")) a->name = v;
    else if (!strcmp(o, "--base")) a->base = v;
    else if (!strcmp(o, "--queries")) a->queries = v;
    else if (!strcmp(o, "--truth")) a->truth = v;
    else if (!strcmp(o, "--truth-out")) a->truth_out = v;
    else if (!strcmp(o, "--out")) a->out = v;
    else if (!strcmp(o, "--quant")) a->quant = v;
    else if (!strcmp(o, "--path")) a->path = v;
    else if (!strcmp(o, "--repeat")) a->repeat = (unsigned)strtoul(v, NULL, 10);
    else if (!strcmp(o, "--batch-ef")) a->batch_ef = (unsigned)strtoul(v, NULL, 10);
    else if (!strcmp(o, "--dim")) a->dim = strtoul(v, NULL, 10);
    else if (!strcmp(o, "--k")) a->k = strtoul(v, NULL, 10);
    else if (!strcmp(o, "--m")) a->m = (unsigned)strtoul(v, NULL, 10);
    else if (!strcmp(o, "--efc")) a->efc = (unsigned)strtoul(v, NULL, 10);
    else if (!strcmp(o, "--threads")) a->threads = (unsigned)strtoul(v, NULL, 10);
    else if (!strcmp(o, "--ef")) {
      char *p = (char *)v;
      while (*p && a->n_ef < MAX_EFS) {
        a->ef[a->n_ef++] = (uint32_t)strtoul(p, &p, 10);
        if (*p == ',') p++;
      }
    } else die("unknown option", o);
  }
  if (!a->base || !a->queries || !a->dim || !a->k || !a->repeat)
    die("need --base, --queries, --dim", NULL);
  if (!a->truth_out && (!a->truth || !a->out || !a->n_ef))
    die("need --truth, --out and --ef (or --truth-out)", NULL);
}

/* Build a collection of every base vector; returns the build time. */
static double build(const args *a, omen_db *db, omen_coll **c, const float *base,
                    size_t n, unsigned threads)
{
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, (uint32_t)a->dim);
  cfg.m = a->m;
  cfg.ef_construction = a->efc;
  if (a->quant) {
    int q = omen_quant_from_name(a->quant);
    if (q < 0) die("unknown quantization", a->quant);
    cfg.quantization = (omen_quant)q;
  }
  omen_str *ids = malloc(n * sizeof *ids);
  char *names = malloc(n * 12);
  for (size_t i = 0; i < n; i++) {
    int len = snprintf(names + i * 12, 12, "%zu", i);
    ids[i] = (omen_str){names + i * 12, (size_t)len};
  }
  double t = bench_now();
  if (omen_coll_create(db, "b", &cfg, c) ||
      omen_upsert_batch(*c, n, ids, base, NULL, threads))
    die("build failed", omen_errmsg(db));
  t = bench_now() - t;
  free(ids);
  free(names);
  return t;
}

static size_t id_of(const omen_hit *h)
{
  char buf[24];
  size_t len = h->id.len < sizeof buf - 1 ? h->id.len : sizeof buf - 1;
  memcpy(buf, h->id.ptr, len);
  buf[len] = 0;
  return strtoul(buf, NULL, 10);
}

static void make_truth(const args *a, omen_coll *c, omen_result *r, const float *q,
                       size_t nq)
{
  int32_t *t = malloc(nq * a->k * sizeof *t);
  omen_search_opts o;
  omen_search_opts_init(&o, (uint32_t)a->k);
  o.exact = 1;
  o.with = 0;
  for (size_t i = 0; i < nq; i++) {
    if (omen_search(c, q + i * a->dim, &o, r)) die("exact search failed", NULL);
    for (size_t j = 0; j < a->k; j++)
      t[i * a->k + j] = j < omen_result_count(r) ? (int32_t)id_of(omen_result_hit(r, j)) : -1;
  }
  FILE *f = fopen(a->truth_out, "wb");
  if (!f || fwrite(t, sizeof *t, nq * a->k, f) != nq * a->k) die("cannot write", a->truth_out);
  fclose(f);
  free(t);
}

/* One pass over the queries at opts' ef: its seconds, the hits that are
** true neighbours in *found. Reading the hits' ids is part of the time. */
static double pass(const args *a, omen_coll *c, omen_result *r, const float *q, size_t nq,
                   const omen_search_opts *o, const int32_t *truth, size_t *found)
{
  *found = 0;
  double t = bench_now();
  for (size_t i = 0; i < nq; i++) {
    if (omen_search(c, q + i * a->dim, o, r)) die("search failed", omen_errmsg(omen_coll_db(c)));
    for (size_t h = 0; h < omen_result_count(r); h++) {
      int32_t id = (int32_t)id_of(omen_result_hit(r, h));
      for (size_t j = 0; j < a->k; j++)
        if (truth[i * a->k + j] == id) {
          (*found)++;
          break;
        }
    }
  }
  return bench_now() - t;
}

/* Queries/s of omen_search_batch over all queries on `threads` threads,
** best of a->repeat. */
static double batch_qps(const args *a, omen_coll *c, omen_result **rs, const float *q,
                        size_t nq, const omen_search_opts *o, unsigned threads)
{
  double best = 1e30;
  for (unsigned rep = 0; rep < a->repeat; rep++) {
    double t = bench_now();
    if (omen_search_batch(c, nq, q, o, rs, threads))
      die("batch search failed", omen_errmsg(omen_coll_db(c)));
    t = bench_now() - t;
    if (t < best) best = t;
  }
  return nq / best;
}

/* GB/s of the best of a few plain reads of n bytes (summed, so the reads
** cannot be skipped): what one thread can stream from memory here, with
** the widest loads the machine has and independent sums, so the loop
** waits on memory and not on itself. */
static uint64_t sum_words(const uint64_t *w, size_t words)
{
  uint64_t s[8] = {0};
  for (size_t i = 0; i + 8 <= words; i += 8)
    for (int j = 0; j < 8; j++) s[j] += w[i + j];
  return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx2"))) static uint64_t sum_avx2(const uint64_t *w, size_t words)
{
  __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
  for (size_t i = 0; i + 16 <= words; i += 16) {
    const __m256i *v = (const __m256i *)(w + i);
    s0 = _mm256_add_epi64(s0, _mm256_loadu_si256(v));
    s1 = _mm256_add_epi64(s1, _mm256_loadu_si256(v + 1));
    s2 = _mm256_add_epi64(s2, _mm256_loadu_si256(v + 2));
    s3 = _mm256_add_epi64(s3, _mm256_loadu_si256(v + 3));
  }
  uint64_t out[4], total = 0;
  s0 = _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3));
  _mm256_storeu_si256((__m256i *)out, s0);
  for (int j = 0; j < 4; j++) total += out[j];
  return total;
}
#define HAVE_AVX2_SUM 1
#endif

static double read_gbps(const void *p, size_t n)
{
  uint64_t (*sum)(const uint64_t *, size_t) = sum_words;
#ifdef HAVE_AVX2_SUM
  if (__builtin_cpu_supports("avx2")) sum = sum_avx2;
#endif
  double best = 1e30;
  uint64_t total = 0;
  for (int rep = 0; rep < 5; rep++) {
    double t = bench_now();
    total += sum(p, n / 8);
    t = bench_now() - t;
    if (t < best) best = t;
  }
  volatile uint64_t sink = total; /* keeps the sums alive */
  (void)sink;
  return (double)n / best / 1e9;
}

/* GB/s of vector data exact searches scan (a few queries, best pass). */
static double exact_gbps(const args *a, omen_coll *c, omen_result *r, const float *q,
                         size_t n)
{
  omen_search_opts o;
  omen_search_opts_init(&o, (uint32_t)a->k);
  o.exact = 1;
  o.with = 0;
  size_t nq = 20;
  double best = 1e30;
  for (unsigned rep = 0; rep < a->repeat; rep++) {
    double t = bench_now();
    for (size_t i = 0; i < nq; i++)
      if (omen_search(c, q + i * a->dim, &o, r)) die("exact search failed", NULL);
    t = bench_now() - t;
    if (t < best) best = t;
  }
  return (double)n * a->dim * sizeof(float) * nq / best / 1e9;
}

static omen_db *open_db(const args *a)
{
  omen_db *db;
  if (a->path) {
    char wal[1024];
    snprintf(wal, sizeof wal, "%s-wal", a->path);
    unlink(a->path);
    unlink(wal);
  }
  if (omen_open(a->path, NULL, &db)) die("cannot open", a->path ? a->path : "memory");
  return db;
}

int main(int argc, char **argv)
{
  args a;
  parse(argc, argv, &a);
  size_t n, nq;
  float *base = load(a.base, a.dim, &n), *q = load(a.queries, a.dim, &nq);
  omen_db *db = open_db(&a);
  omen_coll *c;
  omen_result *r;
  if (omen_result_new(db, &r)) die("out of memory", NULL);
  double rss0 = bench_mem_mb("VmRSS");
  double build_s = build(&a, db, &c, base, n, a.truth_out ? 0 : a.threads);
  double rss = bench_mem_mb("VmRSS") - rss0;
  if (a.truth_out) {
    make_truth(&a, c, r, q, nq);
    return 0;
  }
  int32_t *truth = malloc(nq * a.k * sizeof *truth);
  FILE *tf = fopen(a.truth, "rb");
  if (!tf || fread(truth, sizeof *truth, nq * a.k, tf) != nq * a.k) die("bad truth file", a.truth);
  fclose(tf);

  /* Every ef once per round, so slow spells of the machine spread out. */
  omen_search_opts o;
  omen_search_opts_init(&o, (uint32_t)a.k);
  o.with = 0;
  double best[MAX_EFS];
  size_t found[MAX_EFS];
  for (int e = 0; e < a.n_ef; e++) best[e] = 1e30;
  for (unsigned rep = 0; rep < a.repeat; rep++)
    for (int e = 0; e < a.n_ef; e++) {
      o.ef = a.ef[e];
      double t = pass(&a, c, r, q, nq, &o, truth, &found[e]);
      if (t < best[e]) best[e] = t;
    }

  int sq8 = a.quant && strcmp(a.quant, "none");
  char system[64];
  snprintf(system, sizeof system, "omen-c%s%s%s", sq8 ? "-" : "", sq8 ? a.quant : "",
           a.path ? "-file" : "");
  FILE *out = fopen(a.out, "w");
  if (!out) die("cannot write", a.out);
  fprintf(out, "{\"system\": \"%s\", \"quantization\": \"%s\", \"storage\": \"%s\", "
          "\"dataset\": \"%s\", \"n\": %zu, \"nq\": %zu, "
          "\"dim\": %zu, \"m\": %u, \"ef_construction\": %u, \"threads\": %u, "
          "\"build_seconds\": %.3f, \"build_vectors_per_second\": %.0f, "
          "\"rss_mb\": %.1f, \"raw_vectors_mb\": %.1f, \"points\": [", system,
          sq8 ? a.quant : "none", a.path ? "file" : "memory", a.name ? a.name : "data", n, nq,
          a.dim, a.m, a.efc, a.threads, build_s, n / build_s, rss,
          (double)n * a.dim * sizeof(float) / (1 << 20));
  for (int e = 0; e < a.n_ef; e++) {
    double recall = (double)found[e] / (double)(nq * a.k);
    fprintf(out, "%s{\"ef\": %u, \"recall\": %.4f, \"qps\": %.0f}", e ? ", " : "", a.ef[e],
            recall, nq / best[e]);
    fprintf(stderr, "%s %s ef %u: recall %.4f, %.0f queries/s\n", system,
            a.name ? a.name : "", a.ef[e], recall, nq / best[e]);
  }
  fprintf(out, "]");
  if (a.batch_ef) {
    omen_result **rs = malloc(nq * sizeof *rs);
    for (size_t i = 0; i < nq; i++)
      if (!rs || omen_result_new(db, &rs[i])) die("out of memory", NULL);
    o.ef = a.batch_ef;
    unsigned cores = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    double one = batch_qps(&a, c, rs, q, nq, &o, 1), all = batch_qps(&a, c, rs, q, nq, &o, 0);
    fprintf(out, ", \"batch\": {\"ef\": %u, \"threads\": %u, \"qps_1\": %.0f, "
            "\"qps_all\": %.0f}", a.batch_ef, cores, one, all);
    fprintf(stderr, "%s %s search_batch ef %u: %.0f queries/s on 1 thread, %.0f on %u\n",
            system, a.name ? a.name : "", a.batch_ef, one, all, cores);
    for (size_t i = 0; i < nq; i++) omen_result_free(rs[i]);
    free(rs);
  }
  if (a.exact) {
    double ex = exact_gbps(&a, c, r, q, n), rd = read_gbps(base, n * a.dim * sizeof(float));
    fprintf(out, ", \"exact\": {\"scan_gbps\": %.2f, \"read_gbps\": %.2f}", ex, rd);
    fprintf(stderr, "%s %s exact search: %.2f GB/s of vectors; a plain read: %.2f GB/s\n",
            system, a.name ? a.name : "", ex, rd);
  }
  fprintf(out, ", \"peak_rss_mb\": %.1f}\n", bench_mem_mb("VmHWM"));
  fclose(out);
  omen_result_free(r);
  omen_coll_close(c);
  if (omen_close(db)) die("close failed", NULL);
  free(truth);
  free(base);
  free(q);
  return 0;
}
