/*
** Postings: the block encoding of inverted lists and the cursors that walk
** them (see postings.h). Decoding trusts nothing: every varint stays inside
** its list, every block inside its bytes, every slot below the slot count
** and above the one before, and a list that breaks a rule reads as damaged.
**
** Calls nothing.
*/
#include "port.h"

#include <string.h>

#include "postings.h"

static size_t put_u32v(uint8_t *p, uint32_t v)
{
  size_t n = 0;
  while (v >= 0x80) {
    p[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  p[n++] = (uint8_t)v;
  return n;
}

/* Read a varint of at most 32 bits before end; 0 when it runs over. */
static int get_u32v(const uint8_t **p, const uint8_t *end, uint32_t *v)
{
  const uint8_t *s = *p;
  if (s < end && *s < 0x80) { /* the common case: one byte */
    *v = *s;
    *p = s + 1;
    return 1;
  }
  uint64_t x = 0;
  for (int shift = 0; shift < 35 && s < end; shift += 7) {
    uint8_t b = *s++;
    x |= (uint64_t)(b & 0x7f) << shift;
    if (b < 0x80) {
      if (x > UINT32_MAX) return 0;
      *v = (uint32_t)x;
      *p = s;
      return 1;
    }
  }
  return 0;
}

/* -- Encoding ------------------------------------------------------------------ */

#define HEAD_MAX (5 * 5)

size_t omen__postings_bound(size_t n)
{
  size_t blocks = (n + OMEN__BLOCK - 1) / OMEN__BLOCK;
  return blocks * HEAD_MAX + n * 10;
}

static size_t encode_block(const omen__posting *p, uint32_t n, const uint32_t *len,
                           uint32_t prev, uint8_t *out)
{
  uint8_t data[OMEN__BLOCK * 10];
  uint32_t max_tf = 0, min_len = OMEN__LEN_MASK;
  size_t bytes = 0;
  for (uint32_t i = 0; i < n; i++) {
    bytes += put_u32v(data + bytes, p[i].slot - (i ? p[i - 1].slot : prev));
    bytes += put_u32v(data + bytes, p[i].tf);
    if (p[i].tf > max_tf) max_tf = p[i].tf;
    uint32_t l = len[p[i].slot] & OMEN__LEN_MASK;
    if (l < min_len) min_len = l;
  }
  size_t at = put_u32v(out, n);
  at += put_u32v(out + at, p[n - 1].slot - prev);
  at += put_u32v(out + at, max_tf);
  at += put_u32v(out + at, min_len);
  at += put_u32v(out + at, (uint32_t)bytes);
  memcpy(out + at, data, bytes);
  return at + bytes;
}

size_t omen__postings_encode(const omen__posting *p, size_t n, const uint32_t *len,
                             uint8_t *out)
{
  size_t at = 0;
  uint32_t prev = UINT32_MAX; /* -1: the first delta is slot + 1 */
  for (size_t i = 0; i < n; i += OMEN__BLOCK) {
    uint32_t k = n - i < OMEN__BLOCK ? (uint32_t)(n - i) : OMEN__BLOCK;
    at += encode_block(p + i, k, len, prev, out + at);
    prev = p[i + k - 1].slot;
  }
  return at;
}

/* -- Decoding ------------------------------------------------------------------ */

typedef struct block_head {
  uint32_t n, last, max_tf, min_len, bytes;
} block_head;

/* Read a block header at *p whose previous block ended at prev (-1 first),
** with `left` postings still to come; 0 when damaged. */
static int read_head(const uint8_t **p, const uint8_t *end, uint32_t prev,
                     uint32_t left, uint32_t n_slots, block_head *h)
{
  uint32_t delta;
  if (!get_u32v(p, end, &h->n) || !get_u32v(p, end, &delta) ||
      !get_u32v(p, end, &h->max_tf) || !get_u32v(p, end, &h->min_len) ||
      !get_u32v(p, end, &h->bytes))
    return 0;
  uint64_t last = prev == UINT32_MAX ? (uint64_t)delta - 1 : (uint64_t)prev + delta;
  return h->n >= 1 && h->n <= OMEN__BLOCK && h->n <= left && delta >= h->n &&
         last < n_slots && h->max_tf >= 1 && h->bytes <= (size_t)(end - *p) &&
         (h->last = (uint32_t)last, 1);
}

/* Decode a block's data; 0 when it does not match its header. */
static int decode_block(const uint8_t *p, const block_head *h, uint32_t prev,
                        omen__posting *out)
{
  const uint8_t *end = p + h->bytes;
  int64_t slot = prev == UINT32_MAX ? -1 : (int64_t)prev;
  for (uint32_t i = 0; i < h->n; i++) {
    uint32_t delta, tf;
    if (!get_u32v(&p, end, &delta) || !get_u32v(&p, end, &tf) || delta == 0 ||
        tf == 0 || tf > h->max_tf)
      return 0;
    slot += delta;
    if (slot > (int64_t)h->last) return 0;
    out[i].slot = (uint32_t)slot;
    out[i].tf = tf;
  }
  return p == end && slot == (int64_t)h->last;
}

int omen__postings_decode(const uint8_t *p, const uint8_t *end, uint32_t n,
                          uint32_t n_slots, omen__posting *out, size_t *used)
{
  const uint8_t *start = p;
  uint32_t prev = UINT32_MAX;
  for (uint32_t done = 0; done < n;) {
    block_head h;
    if (!read_head(&p, end, prev, n - done, n_slots, &h) ||
        !decode_block(p, &h, prev, out + done))
      return 0;
    p += h.bytes;
    done += h.n;
    prev = h.last;
  }
  *used = (size_t)(p - start);
  return 1;
}

/* -- Cursors ------------------------------------------------------------------- */

/* Whether an encoded posting still counts: its slot holds the document
** that was encoded. */
static inline int counts(const omen__pcur *c, uint32_t slot)
{
  uint32_t l = c->len[slot];
  return l != OMEN__NO_DOC && (l & OMEN__IN_LISTS);
}

static void leave_block(omen__pcur *c)
{
  c->blk_prev = c->blk_last;
  c->blk_n = 0;
  c->decoded = 0;
}

/* Enter the next block (its header only); 0 at the end or on damage. */
static int enter_block(omen__pcur *c)
{
  if (!c->left) return 0;
  block_head h;
  if (!read_head(&c->p, c->end, c->blk_prev, c->left, c->n_slots, &h)) {
    c->bad = 1;
    c->left = 0;
    return 0;
  }
  c->blk_n = h.n;
  c->blk_last = h.last;
  c->blk_max_tf = h.max_tf;
  c->blk_min_len = h.min_len;
  c->blk_bytes = h.bytes;
  c->blk_data = c->p;
  c->p += h.bytes;
  c->left -= h.n;
  c->at = 0;
  return 1;
}

/* The encoded list's first counting posting at slot >= target, or
** OMEN__NO_DOC. */
static uint32_t list_seek(omen__pcur *c, uint32_t target, uint32_t *tf)
{
  for (;;) {
    if (!c->blk_n && !enter_block(c)) return OMEN__NO_DOC;
    if (c->blk_last >= target) {
      if (!c->decoded) {
        block_head h = {c->blk_n, c->blk_last, c->blk_max_tf, c->blk_min_len,
                        c->blk_bytes};
        if (!decode_block(c->blk_data, &h, c->blk_prev, c->buf)) {
          c->bad = 1;
          c->left = c->blk_n = 0;
          return OMEN__NO_DOC;
        }
        c->decoded = 1;
      }
      while (c->at < c->blk_n &&
             (c->buf[c->at].slot < target || !counts(c, c->buf[c->at].slot)))
        c->at++;
      if (c->at < c->blk_n) {
        *tf = c->buf[c->at].tf;
        return c->buf[c->at].slot;
      }
    }
    leave_block(c);
  }
}

static uint32_t tail_slot(const omen__pcur *c)
{
  return c->tail_at < c->tail_n ? c->tail[c->tail_at].slot : OMEN__NO_DOC;
}

void omen__pcur_seek(omen__pcur *c, uint32_t target)
{
  uint32_t list_tf = 0, list_slot = OMEN__NO_DOC;
  if (c->blk_n && c->decoded && c->at < c->blk_n && c->buf[c->at].slot >= target) {
    list_slot = c->buf[c->at].slot; /* still ahead of target */
    list_tf = c->buf[c->at].tf;
  } else {
    list_slot = list_seek(c, target, &list_tf);
  }
  while (c->tail_at < c->tail_n && c->tail[c->tail_at].slot < target) c->tail_at++;
  uint32_t t = tail_slot(c);
  if (t < list_slot) {
    c->slot = t;
    c->tf = c->tail[c->tail_at].tf;
  } else {
    c->slot = list_slot;
    c->tf = list_tf;
  }
}

void omen__pcur_init(omen__pcur *c, const uint8_t *p, const uint8_t *end, uint32_t n,
                     const omen__posting *tail, uint32_t tail_n, uint32_t tail_max_tf,
                     uint32_t tail_min_len, const uint32_t *len, uint32_t n_slots)
{
  c->p = p;
  c->end = end;
  c->left = n;
  c->n_slots = n_slots;
  c->len = len;
  c->blk_n = 0;
  c->blk_last = c->blk_prev = UINT32_MAX;
  c->decoded = 0;
  c->at = 0;
  c->tail = tail;
  c->tail_n = tail_n;
  c->tail_at = 0;
  c->tail_max_tf = tail_max_tf;
  c->tail_min_len = tail_min_len;
  c->bad = 0;
  c->slot = 0;
  omen__pcur_seek(c, 0);
}

void omen__pcur_bound(omen__pcur *c, uint32_t target, uint32_t *max_tf,
                      uint32_t *min_len, uint32_t *upto)
{
  uint32_t tf = 0, len = OMEN__LEN_MASK, last = OMEN__NO_DOC;
  for (;;) {
    if (!c->blk_n && !enter_block(c)) break;
    if (c->blk_last >= target) {
      tf = c->blk_max_tf;
      len = c->blk_min_len;
      last = c->blk_last;
      break;
    }
    leave_block(c);
  }
  if (c->tail_at < c->tail_n) { /* the tail has no blocks: its bound is one */
    if (c->tail_max_tf > tf) tf = c->tail_max_tf;
    if (c->tail_min_len < len) len = c->tail_min_len;
  }
  *max_tf = tf;
  *min_len = len;
  *upto = last;
}

int omen__pcur_list_bound(const uint8_t *p, const uint8_t *end, uint32_t n,
                          uint32_t *max_tf, uint32_t *min_len)
{
  uint32_t tf = 0, len = OMEN__LEN_MASK, prev = UINT32_MAX, left = n;
  block_head h;
  for (; left && read_head(&p, end, prev, left, UINT32_MAX, &h); left -= h.n) {
    if (h.max_tf > tf) tf = h.max_tf;
    if (h.min_len < len) len = h.min_len;
    p += h.bytes;
    prev = h.last;
  }
  *max_tf = tf;
  *min_len = len;
  return left == 0;
}
