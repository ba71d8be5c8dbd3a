/*
** Shared helpers of the cmocka suites: an allocator hook routed through
** cmocka's test_malloc family (so every test is also a leak test; a mutex
** makes it usable from the engine's threads), seeded random data, and
** brute-force references.
*/
#ifndef OMEN_TESTUTIL_H
#define OMEN_TESTUTIL_H

#include "port.h"

#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "omen.h"

/* Recursive: a failed cmocka check inside test_free longjmps out with the
** lock held, and the next test on this thread must still get in. */
static pthread_mutex_t tu_alloc_mu;
static pthread_once_t tu_alloc_once = PTHREAD_ONCE_INIT;

static void tu_alloc_init(void)
{
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&tu_alloc_mu, &a);
  pthread_mutexattr_destroy(&a);
}

static inline void *tu_alloc(void *ud, void *p, size_t osize, size_t nsize)
{
  (void)ud;
  (void)osize;
  void *r = NULL;
  pthread_once(&tu_alloc_once, tu_alloc_init);
  pthread_mutex_lock(&tu_alloc_mu);
  if (nsize == 0) test_free(p);
  else r = test_realloc(p, nsize);
  pthread_mutex_unlock(&tu_alloc_mu);
  return r;
}

/* Open a database with options o, which must succeed. */
static inline omen_db *tu_open_opts(const char *path, const omen_options *o)
{
  omen_db *db = NULL;
  int rc = omen_open(path, o, &db);
  if (rc) fprintf(stderr, "open %s: %s\n", path ? path : "(memory)", omen_errmsg(db));
  assert_int_equal(rc, OMEN_OK);
  return db;
}

/* Open a database with the allocator hook alloc (and its ud). */
static inline omen_db *tu_open_with(const char *path, unsigned flags, omen_alloc_fn alloc,
                                    void *ud)
{
  omen_options o;
  omen_options_init(&o);
  o.alloc = alloc;
  o.alloc_ud = ud;
  o.flags = flags;
  return tu_open_opts(path, &o);
}

/* OMEN_TEST_QUANT=none|sq8|pca8 makes the collections a suite creates use
** that code kind: tests/run_all.sh runs the collection suites once per kind
** this way, so deletes, updates, filters, files and recovery are checked
** for every kind. */
static inline void tu_config_init(omen_coll_config *cfg, uint32_t dim)
{
  omen_coll_config_init(cfg, dim);
  const char *name = getenv("OMEN_TEST_QUANT");
  int kind = name && *name ? omen_quant_from_name(name) : -1;
  if (kind >= 0) cfg->quantization = (omen_quant)kind;
}
#define omen_coll_config_init tu_config_init

/* Open a database whose memory cmocka tracks. */
static inline omen_db *tu_open(const char *path, unsigned flags)
{
  return tu_open_with(path, flags, tu_alloc, NULL);
}

static inline uint64_t tu_next(uint64_t *s)
{
  uint64_t x = *s += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static inline double tu_uniform(uint64_t *s) /* [0, 1) */
{
  return (double)(tu_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

static inline double tu_gauss(uint64_t *s)
{
  double u = tu_uniform(s) + 1e-12, v = tu_uniform(s);
  return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static inline void tu_random_vec(uint64_t *s, float *v, size_t dim)
{
  for (size_t i = 0; i < dim; i++) v[i] = (float)(tu_uniform(s) * 2 - 1);
}

/* n vectors in `clusters` clusters shaped like real embeddings: each
** cluster is a random 8-dimensional subspace through a Gaussian centre, plus
** a little full-rank noise (malloc'd; free with free()). */
#define TU_LATENT 8
static inline float *tu_clustered(size_t n, size_t dim, size_t clusters,
                                  uint64_t seed)
{
  uint64_t s = seed;
  float *centres = malloc(clusters * dim * sizeof(float));
  float *basis = malloc(clusters * dim * TU_LATENT * sizeof(float));
  float *v = malloc(n * dim * sizeof(float));
  for (size_t i = 0; i < clusters * dim; i++) centres[i] = (float)(tu_gauss(&s) * 4);
  for (size_t i = 0; i < clusters * dim * TU_LATENT; i++)
    basis[i] = (float)tu_gauss(&s);
  for (size_t i = 0; i < n; i++) {
    size_t c = (size_t)(tu_next(&s) % clusters);
    double z[TU_LATENT];
    for (int l = 0; l < TU_LATENT; l++) z[l] = tu_gauss(&s);
    for (size_t j = 0; j < dim; j++) {
      double x = centres[c * dim + j] + 0.1 * tu_gauss(&s);
      for (int l = 0; l < TU_LATENT; l++)
        x += basis[(c * dim + j) * TU_LATENT + l] * z[l];
      v[i * dim + j] = (float)x;
    }
  }
  free(centres);
  free(basis);
  return v;
}

/* Reference distance in double precision. */
static inline double tu_dist(omen_metric m, const float *a, const float *b,
                             size_t dim)
{
  double l2 = 0, dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < dim; i++) {
    double d = (double)a[i] - b[i];
    l2 += d * d;
    dot += (double)a[i] * b[i];
    na += (double)a[i] * a[i];
    nb += (double)b[i] * b[i];
  }
  if (m == OMEN_L2) return l2;
  if (m == OMEN_IP) return -dot;
  return 1.0 - dot / (sqrt(na) * sqrt(nb));
}

/* Indices of the k nearest of n vectors to q, closest first. */
static inline void tu_brute(omen_metric m, const float *data, size_t n,
                            size_t dim, const float *q, size_t k, size_t *out,
                            double *dist)
{
  for (size_t j = 0; j < k; j++) dist[j] = INFINITY;
  for (size_t i = 0; i < n; i++) {
    double d = tu_dist(m, data + i * dim, q, dim);
    if (d >= dist[k - 1]) continue;
    size_t j = k - 1;
    while (j > 0 && dist[j - 1] > d) {
      dist[j] = dist[j - 1];
      out[j] = out[j - 1];
      j--;
    }
    dist[j] = d;
    out[j] = i;
  }
}

/* When OMEN_FUZZ_CORPUS names a directory, the tests leave the files they
** make in it as fuzzing seeds: file, from byte `skip` on, goes to
** $OMEN_FUZZ_CORPUS/kind/. */
static inline void tu_corpus(const char *kind, const char *file, size_t skip)
{
  static int counter;
  const char *dir = getenv("OMEN_FUZZ_CORPUS");
  if (!dir) return;
  char out[512];
  snprintf(out, sizeof out, "%s/%s/seed-%d-%d", dir, kind, (int)getpid(), counter++);
  FILE *in = fopen(file, "rb"), *to = fopen(out, "wb");
  if (in && to && !fseek(in, (long)skip, SEEK_SET)) {
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, to);
  }
  if (in) fclose(in);
  if (to) fclose(to);
}

/* Remove a database file and its side files (log, checkpoint in progress). */
static inline void tu_remove_db(const char *path)
{
  static const char *const sides[] = {"", "-wal", "-tmp"};
  char name[4200];
  for (size_t i = 0; i < sizeof sides / sizeof sides[0]; i++) {
    snprintf(name, sizeof name, "%s%s", path, sides[i]);
    unlink(name);
  }
}

static inline void tu_id(char *buf, size_t cap, size_t i)
{
  snprintf(buf, cap, "id-%u", (unsigned)i);
}

#endif
