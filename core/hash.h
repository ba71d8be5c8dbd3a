/*
** Hashing for the in-memory hash tables (id map, metadata keys) and for the
** deterministic graph levels. Not cryptographic; tables are seeded per
** collection.
*/
#ifndef OMEN_HASH_H
#define OMEN_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A strong 64-bit finalizer (from splitmix64). */
static inline uint64_t omen__mix64(uint64_t x)
{
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

/* Index of the lowest set bit of a nonzero word. */
static inline int omen__ctz64(uint64_t x)
{
#if defined(__GNUC__) || defined(__clang__)
  return __builtin_ctzll(x);
#else
  int n = 0;
  while (!(x & 1)) {
    x >>= 1;
    n++;
  }
  return n;
#endif
}

static inline uint64_t omen__rotl64(uint64_t x, int r)
{
  return (x << r) | (x >> (64 - r));
}

/* Bytes to 64 bits, eight at a time, in the manner of xxHash's rounds. */
static inline uint64_t omen__hash_bytes(const void *data, size_t n,
                                        uint64_t seed)
{
  const unsigned char *p = data;
  uint64_t h = seed ^ (0x9e3779b97f4a7c15ull * (n + 1));
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = omen__rotl64(h ^ (w * 0xc2b2ae3d27d4eb4full), 31) *
        0x9e3779b97f4a7c15ull;
    p += 8;
    n -= 8;
  }
  uint64_t w = 0;
  for (size_t i = 0; i < n; i++) w |= (uint64_t)p[i] << (8 * i);
  h ^= w * 0x165667b19e3779f9ull;
  return omen__mix64(h);
}

#endif
