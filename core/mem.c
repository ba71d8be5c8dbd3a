/*
** Memory: the allocator hook of a database, and aligned growable buffers.
**
** Calls: the allocator hook only (a leaf).
*/
#include "port.h"

#include "mem.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Blocks this large (vectors, codes, links of big collections) are read at
** random by graph walks: with 4 KiB pages nearly every node visited costs
** a TLB miss, so they ask the kernel for huge pages where it has them. */
#define HUGE_MIN ((size_t)8 << 20)
#define HUGE_PAGE ((size_t)2 << 20)

static void *default_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
  (void)ud;
  (void)osize;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  return realloc(ptr, nsize);
}

/* Only for blocks of the default allocator: memory an application hands
** out is its own business. */
static void advise_huge(const omen__mem *m, void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
  if (m->fn != default_alloc || n < HUGE_MIN) return;
  uintptr_t start = ((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
  uintptr_t end = ((uintptr_t)p + n) & ~(uintptr_t)(HUGE_PAGE - 1);
  if (end > start) madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
  (void)m, (void)p, (void)n;
#endif
}

void omen__mem_init(omen__mem *m, omen_alloc_fn fn, void *ud)
{
  m->fn = fn ? fn : default_alloc;
  m->ud = fn ? ud : NULL;
}

void *omen__malloc(const omen__mem *m, size_t n)
{
  return n ? m->fn(m->ud, NULL, 0, n) : NULL;
}

void *omen__calloc(const omen__mem *m, size_t n)
{
  void *p = omen__malloc(m, n);
  if (p) memset(p, 0, n);
  return p;
}

void *omen__realloc(const omen__mem *m, void *p, size_t old, size_t n)
{
  if (!p) return omen__malloc(m, n);
  return m->fn(m->ud, p, old, n);
}

void omen__free(const omen__mem *m, void *p, size_t n)
{
  if (p) m->fn(m->ud, p, n, 0);
}

/* An aligned block is carved out of a larger raw one; the raw pointer is
** kept in the bytes just before the aligned start. */
static void *aligned_alloc_raw(const omen__mem *m, size_t n)
{
  size_t total = n + OMEN__ALIGN + sizeof(void *);
  if (total < n) return NULL;
  unsigned char *raw = omen__malloc(m, total);
  if (!raw) return NULL;
  uintptr_t start = (uintptr_t)(raw + sizeof(void *));
  unsigned char *p = raw + (OMEN__ALIGN - start % OMEN__ALIGN) % OMEN__ALIGN +
                     sizeof(void *);
  memcpy(p - sizeof(void *), &raw, sizeof raw);
  return p;
}

static void aligned_free_raw(const omen__mem *m, void *p, size_t n)
{
  if (!p) return;
  void *raw;
  memcpy(&raw, (unsigned char *)p - sizeof(void *), sizeof raw);
  omen__free(m, raw, n + OMEN__ALIGN + sizeof(void *));
}

int omen__buf_reserve(const omen__mem *m, omen__buf *b, size_t size,
                      size_t used)
{
  if (size <= b->size) return OMEN_OK;
  unsigned char *p = aligned_alloc_raw(m, size);
  if (!p) return OMEN_NOMEM;
  advise_huge(m, p, size);
  size_t keep = used < b->size ? used : b->size;
  if (keep) memcpy(p, b->p, keep);
  if (!b->mapped) aligned_free_raw(m, b->p, b->size);
  b->p = p;
  b->size = size;
  b->mapped = 0;
  return OMEN_OK;
}

void omen__buf_free(const omen__mem *m, omen__buf *b)
{
  if (!b->mapped) aligned_free_raw(m, b->p, b->size);
  b->p = NULL;
  b->size = 0;
  b->mapped = 0;
}

int omen__buf_ensure(const omen__mem *m, omen__buf *b, size_t need,
                     size_t used, size_t floor)
{
  if (need <= b->size) return OMEN_OK;
  return omen__buf_reserve(m, b, omen__grow_cap(b->size, need, floor), used);
}

size_t omen__grow_cap(size_t cur, size_t need, size_t floor)
{
  size_t cap = cur + cur / 2;
  if (cap < need) cap = need;
  if (cap < floor) cap = floor;
  return cap;
}
