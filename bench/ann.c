/*
** ann: omen through its C API on a dataset of raw float32 files, for the
** benchmark (bench/run.sh). Builds one collection of every base vector with
** the batch API, then answers every query one at a time for each ef,
** timing the whole API call; recall@k against a ground-truth file. Writes
** one JSON object (bench/report.lua reads it).
**
**   ann --name NAME --base F --queries F --dim D --truth T [--m 16]
**       [--efc 200] [--threads 1] [--ef 10,20,...] [--k 10]
**       [--quant none|sq8] --out FILE
**   ann --truth-out T --base F --queries F --dim D [--k 10]
**       computes the exact ground truth with omen's exact search
*/
#include "port.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "omen.h"

#define MAX_EFS 32

typedef struct args {
  const char *name, *base, *queries, *truth, *truth_out, *out, *quant;
  size_t dim, k;
  unsigned m, efc, threads;
  uint32_t ef[MAX_EFS];
  int n_ef;
} args;

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

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

/* VmRSS or VmHWM of this process, in MiB. */
static double mem_mb(const char *field)
{
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  double kib = 0;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, field, strlen(field))) kib = atof(line + strlen(field) + 1);
  if (f) fclose(f);
  return kib / 1024;
}

static void parse(int argc, char **argv, args *a)
{
  memset(a, 0, sizeof *a);
  a->k = 10;
  a->m = 16;
  a->efc = 200;
  a->threads = 1;
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) die("missing value for", o);
    i++;
    if (!strcmp(o, "--name")) a->name = v;
    else if (!strcmp(o, "--base")) a->base = v;
    else if (!strcmp(o, "--queries")) a->queries = v;
    else if (!strcmp(o, "--truth")) a->truth = v;
    else if (!strcmp(o, "--truth-out")) a->truth_out = v;
    else if (!strcmp(o, "--out")) a->out = v;
    else if (!strcmp(o, "--quant")) a->quant = v;
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
  if (!a->base || !a->queries || !a->dim || !a->k) die("need --base, --queries, --dim", NULL);
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
  double t = now();
  if (omen_coll_create(db, "b", &cfg, c) ||
      omen_upsert_batch(*c, n, ids, base, NULL, threads))
    die("build failed", omen_errmsg(db));
  t = now() - t;
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

int main(int argc, char **argv)
{
  args a;
  parse(argc, argv, &a);
  size_t n, nq;
  float *base = load(a.base, a.dim, &n), *q = load(a.queries, a.dim, &nq);
  omen_db *db;
  omen_coll *c;
  omen_result *r;
  if (omen_open(NULL, NULL, &db) || omen_result_new(db, &r)) die("cannot open", NULL);
  double rss0 = mem_mb("VmRSS");
  double build_s = build(&a, db, &c, base, n, a.truth_out ? 0 : a.threads);
  double rss = mem_mb("VmRSS") - rss0;
  if (a.truth_out) {
    make_truth(&a, c, r, q, nq);
    return 0;
  }
  int32_t *truth = malloc(nq * a.k * sizeof *truth);
  FILE *tf = fopen(a.truth, "rb");
  if (!tf || fread(truth, sizeof *truth, nq * a.k, tf) != nq * a.k) die("bad truth file", a.truth);
  fclose(tf);

  FILE *out = fopen(a.out, "w");
  if (!out) die("cannot write", a.out);
  int sq8 = a.quant && strcmp(a.quant, "none");
  fprintf(out, "{\"system\": \"omen-c%s%s\", \"quantization\": \"%s\", "
          "\"dataset\": \"%s\", \"n\": %zu, \"nq\": %zu, "
          "\"dim\": %zu, \"m\": %u, \"ef_construction\": %u, \"threads\": %u, "
          "\"build_seconds\": %.3f, \"build_vectors_per_second\": %.0f, "
          "\"rss_mb\": %.1f, \"points\": [", sq8 ? "-" : "", sq8 ? a.quant : "",
          sq8 ? a.quant : "none", a.name ? a.name : "data", n, nq, a.dim,
          a.m, a.efc, a.threads, build_s, n / build_s, rss);
  omen_search_opts o;
  omen_search_opts_init(&o, (uint32_t)a.k);
  o.with = 0;
  for (int e = 0; e < a.n_ef; e++) {
    o.ef = a.ef[e];
    size_t found = 0;
    double t = now();
    for (size_t i = 0; i < nq; i++) {
      if (omen_search(c, q + i * a.dim, &o, r)) die("search failed", omen_errmsg(db));
      for (size_t h = 0; h < omen_result_count(r); h++) {
        int32_t id = (int32_t)id_of(omen_result_hit(r, h));
        for (size_t j = 0; j < a.k; j++)
          if (truth[i * a.k + j] == id) {
            found++;
            break;
          }
      }
    }
    t = now() - t;
    double recall = (double)found / (double)(nq * a.k);
    fprintf(out, "%s{\"ef\": %u, \"recall\": %.4f, \"qps\": %.0f}", e ? ", " : "",
            a.ef[e], recall, nq / t);
    fprintf(stderr, "omen-c%s%s %s ef %u: recall %.4f, %.0f queries/s\n",
            sq8 ? "-" : "", sq8 ? a.quant : "", a.name ? a.name : "", a.ef[e], recall,
            nq / t);
  }
  fprintf(out, "], \"peak_rss_mb\": %.1f}\n", mem_mb("VmHWM"));
  fclose(out);
  omen_result_free(r);
  omen_coll_close(c);
  omen_close(db);
  free(truth);
  free(base);
  free(q);
  return 0;
}
