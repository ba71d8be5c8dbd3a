/*
** Memory: every allocation of a database goes through its allocator hook
** (omen_options.alloc), so an embedding application sees and bounds all of
** it. omen__buf is the growable flat array that every per-slot table of a
** collection is built from; its blocks are 64-byte aligned so SIMD kernels
** and cache lines line up, and it may instead point into a mapped file.
*/
#ifndef OMEN_MEM_H
#define OMEN_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "omen.h"

typedef struct omen__mem {
  omen_alloc_fn fn;
  void *ud;
} omen__mem;

void omen__mem_init(omen__mem *m, omen_alloc_fn fn, void *ud);

void *omen__malloc(const omen__mem *m, size_t n);
void *omen__calloc(const omen__mem *m, size_t n);
void *omen__realloc(const omen__mem *m, void *p, size_t old, size_t n);
void omen__free(const omen__mem *m, void *p, size_t n);

#define OMEN__ALIGN 64

/* A flat, 64-byte-aligned block of `size` bytes. Growth copies only the
** bytes in use and leaves the rest untouched (so unused capacity costs no
** resident memory); callers initialize what they add. A block may instead
** lie in a mapped database file (`mapped`): it is then never freed or
** resized in place, and its first growth moves it to the heap. */
typedef struct omen__buf {
  void *p;
  size_t size;
  int mapped;
} omen__buf;

/* A block inside a mapping. */
static inline omen__buf omen__buf_mapped(void *p, size_t size)
{
  omen__buf b = {p, size, 1};
  return b;
}

/* Grow b to at least `size` bytes, keeping its first `used` bytes.
** OMEN_NOMEM leaves b as it was. */
int omen__buf_reserve(const omen__mem *m, omen__buf *b, size_t size,
                      size_t used);
void omen__buf_free(const omen__mem *m, omen__buf *b);

/* Make room for `need` bytes, growing by the shared policy (at least
** `floor` bytes) only when needed. */
int omen__buf_ensure(const omen__mem *m, omen__buf *b, size_t need,
                     size_t used, size_t floor);

/* Capacity policy shared by all growable tables: at least `need`, at least
** 1.5 times the current one, never below `floor`. */
size_t omen__grow_cap(size_t cur, size_t need, size_t floor);

#endif
