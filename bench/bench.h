/*
** What the C benchmarks share: a clock, the memory of this process, and the
** seeded generator of clustered vectors (bench/prepare.lua makes the same
** data in Lua).
*/
#ifndef OMEN_BENCH_H
#define OMEN_BENCH_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double bench_now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* A field of /proc/self/status ("VmRSS", "VmHWM") in MiB; 0 if unknown. */
static inline double bench_mem_mb(const char *field)
{
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  double kib = 0;
  size_t len = strlen(field);
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, field, len) && line[len] == ':') kib = atof(line + len + 1);
  if (f) fclose(f);
  return kib / 1024;
}

/* splitmix64 */
static inline uint64_t bench_next(uint64_t *s)
{
  uint64_t x = *s += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* Box-Muller, one value per two draws. */
static inline double bench_gauss(uint64_t *s)
{
  double u = ((double)(bench_next(s) >> 11) + 1) / 9007199254740993.0;
  double v = (double)(bench_next(s) >> 11) / 9007199254740992.0;
  return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* n vectors in Gaussian clusters: centres N(0, 4^2) from centre_seed, each
** cluster spread along `latent` (at most 16) random directions (basis
** entries N(0, 0.5^2), latent draws N(0, 1)), plus noise N(0, 0.05^2) in
** every coordinate; the points from seed. */
static inline void bench_clusters(float *v, size_t n, size_t dim, size_t clusters,
                                  int latent, uint64_t centre_seed, uint64_t seed)
{
  uint64_t s = centre_seed;
  float *centre = malloc(clusters * dim * sizeof(float));
  float *basis = malloc(clusters * dim * (size_t)latent * sizeof(float));
  if (!centre || !basis) {
    fputs("bench: out of memory\n", stderr);
    exit(1);
  }
  for (size_t i = 0; i < clusters * dim; i++) centre[i] = (float)(4 * bench_gauss(&s));
  for (size_t i = 0; i < clusters * dim * (size_t)latent; i++)
    basis[i] = (float)(bench_gauss(&s) / 2);
  s = seed;
  for (size_t i = 0; i < n; i++) {
    size_t c = bench_next(&s) % clusters;
    double z[16];
    for (int l = 0; l < latent; l++) z[l] = bench_gauss(&s);
    for (size_t j = 0; j < dim; j++) {
      double x = centre[c * dim + j] + 0.05 * bench_gauss(&s);
      for (int l = 0; l < latent; l++) x += basis[(c * dim + j) * (size_t)latent + l] * z[l];
      v[i * dim + j] = (float)x;
    }
  }
  free(centre);
  free(basis);
}

#endif
