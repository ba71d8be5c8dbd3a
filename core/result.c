/*
** Results: the reusable buffer hits are copied into, so that they outlive
** the collection lock. Hit data lives in a chain of blocks that are never
** moved while a result is filled (hits point into them) and are kept for
** the next fill, so a warm result allocates nothing.
*/
#include "port.h"

#include <string.h>

#include "omen_int.h"

typedef struct result_block {
  struct result_block *next;
  size_t cap, used;
  /* data follows, 64-byte aligned */
} result_block;

#define BLOCK_HEAD ((sizeof(result_block) + OMEN__ALIGN - 1) / OMEN__ALIGN * OMEN__ALIGN)
#define BLOCK_MIN (64u << 10)

struct omen_result {
  omen__mem mem;
  omen_hit *hits;
  size_t n, cap;
  result_block *first, *cur;
};

int omen_result_new(omen_db *db, omen_result **out)
{
  if (!db) return OMEN_INVALID;
  if (!out) return omen__missing(db, "out");
  *out = NULL;
  omen_result *r = omen__calloc(&db->mem, sizeof *r);
  if (!r) return omen__fail(db, OMEN_NOMEM, "out of memory");
  r->mem = db->mem;
  *out = r;
  return OMEN_OK;
}

void omen_result_free(omen_result *r)
{
  if (!r) return;
  omen__mem mem = r->mem;
  for (result_block *b = r->first, *next; b; b = next) {
    next = b->next;
    omen__buf buf = {b, BLOCK_HEAD + b->cap, 0};
    omen__buf_free(&mem, &buf);
  }
  omen__free(&mem, r->hits, r->cap * sizeof(omen_hit));
  omen__free(&mem, r, sizeof *r);
}

size_t omen_result_count(const omen_result *r) { return r ? r->n : 0; }

const omen_hit *omen_result_hit(const omen_result *r, size_t i)
{
  return r && i < r->n ? &r->hits[i] : NULL;
}

void omen__result_reset(omen_result *r)
{
  r->n = 0;
  for (result_block *b = r->first; b; b = b->next) b->used = 0;
  r->cur = r->first;
}

static result_block *new_block(omen_result *r, size_t size)
{
  size_t cap = size < BLOCK_MIN ? BLOCK_MIN : size;
  omen__buf buf = {0};
  if (omen__buf_reserve(&r->mem, &buf, BLOCK_HEAD + cap, 0)) return NULL;
  result_block *b = buf.p;
  b->next = NULL;
  b->cap = cap;
  b->used = 0;
  return b;
}

void *omen__result_alloc(omen_result *r, size_t size, size_t align)
{
  for (result_block *b = r->cur, *prev = NULL; ; prev = b, b = b->next) {
    if (!b) { /* past the chain: add a block sized for the request */
      b = new_block(r, size + align);
      if (!b) return NULL;
      if (prev) prev->next = b;
      else r->first = b;
    }
    size_t at = (b->used + align - 1) / align * align;
    if (at + size <= b->cap) {
      b->used = at + size;
      r->cur = b;
      return (unsigned char *)b + BLOCK_HEAD + at;
    }
  }
}

omen_hit *omen__result_push(omen_result *r)
{
  if (r->n == r->cap) {
    size_t cap = omen__grow_cap(r->cap, r->n + 1, 16);
    omen_hit *h = omen__realloc(&r->mem, r->hits, r->cap * sizeof *h,
                                cap * sizeof *h);
    if (!h) return NULL;
    r->hits = h;
    r->cap = cap;
  }
  omen_hit *h = &r->hits[r->n++];
  memset(h, 0, sizeof *h);
  return h;
}
