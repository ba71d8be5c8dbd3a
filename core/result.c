/*
** Results: the reusable buffer hits are copied into, so that they outlive
** the collection lock. Hit data lives in a chain of blocks that are never
** moved while a result is filled (hits point into them) and are kept for
** the next fill, so a warm result allocates nothing. A hit is copied from a
** collection's records: its id, its vector and its decoded metadata.
**
** Calls: records, meta (reading a record), mem.
*/
#include "port.h"

#include <math.h>
#include <string.h>

#include "result.h"

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

/* -- Hits from a collection's records ------------------------------------------- */

static char *copy_bytes(omen_result *r, const void *p, size_t len)
{
  char *dst = omen__result_alloc(r, len ? len : 1, 1);
  if (dst && len) memcpy(dst, p, len);
  return dst;
}

static int copy_value(omen_result *r, omen_value *v, const uint8_t *raw,
                      size_t raw_len)
{
  if (v->type == OMEN_STRING) {
    v->u.string.ptr = copy_bytes(r, v->u.string.ptr, v->u.string.len);
    return v->u.string.ptr ? OMEN_OK : OMEN_NOMEM;
  }
  if (v->type != OMEN_STRINGS) return OMEN_OK;
  size_t n = v->u.strings.n;
  omen_str *items = omen__result_alloc(r, (n ? n : 1) * sizeof(omen_str),
                                       _Alignof(omen_str));
  if (!items) return OMEN_NOMEM;
  const uint8_t *p = raw, *end = raw + raw_len;
  for (size_t i = 0; i < n; i++) {
    if (omen__meta_next_string(&p, end, &items[i])) return OMEN_CORRUPT;
    items[i].ptr = copy_bytes(r, items[i].ptr, items[i].len);
    if (!items[i].ptr) return OMEN_NOMEM;
  }
  v->u.strings.items = items;
  return OMEN_OK;
}

static int copy_meta(omen_result *r, const omen_coll *c, uint32_t slot,
                     omen_hit *h)
{
  uint32_t len;
  const uint8_t *meta = omen__records_meta(&c->recs, slot, &len);
  omen__meta_it it;
  uint64_t n;
  if (omen__meta_open(&it, meta, len, &n)) return OMEN_CORRUPT;
  if (n == 0) return OMEN_OK;
  omen_field *f = omen__result_alloc(r, (size_t)n * sizeof *f, _Alignof(omen_field));
  if (!f) return OMEN_NOMEM;
  for (uint64_t i = 0; i < n; i++) {
    uint32_t key;
    const uint8_t *raw = NULL;
    size_t raw_len = 0, key_len;
    if (omen__meta_next(&it, &key, &f[i].value, &raw, &raw_len) ||
        key >= c->keys.n)
      return OMEN_CORRUPT;
    const char *name = omen__keys_name(&c->keys, key, &key_len);
    f[i].key.ptr = copy_bytes(r, name, key_len);
    f[i].key.len = key_len;
    if (!f[i].key.ptr) return OMEN_NOMEM;
    int rc = copy_value(r, &f[i].value, raw, raw_len);
    if (rc) return rc;
  }
  h->meta = f;
  h->n_meta = (size_t)n;
  return OMEN_OK;
}

int omen__result_add_hit(omen_result *r, const omen_coll *c, uint32_t slot, float d,
                         unsigned with)
{
  omen_hit *h = omen__result_push(r);
  if (!h) return OMEN_NOMEM;
  uint32_t id_len;
  const char *id = omen__records_id(&c->recs, slot, &id_len);
  h->id.ptr = copy_bytes(r, id, id_len);
  h->id.len = id_len;
  h->distance = d;
  h->score = NAN;
  if (!h->id.ptr) return OMEN_NOMEM;
  if (with & OMEN_WITH_VECTOR) {
    float *v = omen__result_alloc(r, c->cfg.dim * sizeof(float), OMEN__ALIGN);
    if (!v) return OMEN_NOMEM;
    memcpy(v, (const float *)c->vecs.p + (size_t)slot * c->stride,
           c->cfg.dim * sizeof(float));
    h->vec = v;
  }
  return with & OMEN_WITH_META ? copy_meta(r, c, slot, h) : OMEN_OK;
}
