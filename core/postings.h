/*
** Postings (postings.c): the inverted list of one term, that is the slots
** of the documents holding it, ascending, each with how often it occurs
** (tf). A list is kept in blocks of up to OMEN__BLOCK postings; each block
** is headed by what bounds its scores, so a search can pass over a block
** whose best document could not enter its top k without decoding it:
**
**   block := varint n, varint (last - previous block's last), varint max_tf,
**            varint min_len, varint bytes, data (bytes long)
**   data  := n * (varint slot - previous slot, varint tf)
**
** Every delta is at least 1: the slot before a list's first is taken as -1.
** min_len is the shortest document of the block; BM25 grows with tf and
** shrinks with length, so (max_tf, min_len) bounds every score in it.
** Lists come from disk: decoding checks every length and every slot.
*/
#ifndef OMEN_POSTINGS_H
#define OMEN_POSTINGS_H

#include <stddef.h>
#include <stdint.h>

#define OMEN__BLOCK 128u

/* A document's length in a collection's table of them, and the flag that
** says its postings are in the encoded lists (not the unencoded tail). */
#define OMEN__NO_DOC UINT32_MAX
#define OMEN__IN_LISTS 0x80000000u
#define OMEN__LEN_MASK 0x7fffffffu

typedef struct omen__posting {
  uint32_t slot, tf;
} omen__posting;

/* Most bytes n postings can take, encoded. */
size_t omen__postings_bound(size_t n);

/* Encode n postings (ascending slots) into out (omen__postings_bound(n)
** bytes); len gives each slot's document length. Returns the bytes used. */
size_t omen__postings_encode(const omen__posting *p, size_t n, const uint32_t *len,
                             uint8_t *out);

/* Read n postings encoded at p (up to end) into out (n of them), checking
** that every slot is below n_slots; *used receives the bytes read. 0 when
** the list is damaged. */
int omen__postings_decode(const uint8_t *p, const uint8_t *end, uint32_t n,
                          uint32_t n_slots, omen__posting *out, size_t *used);

/* -- Cursors -------------------------------------------------------------------
** A cursor walks one term's postings: its encoded list merged with the
** unencoded ones written since (its tail, ascending). An encoded posting
** counts only while its document is still the one encoded (the slot's
** length carries OMEN__IN_LISTS): replaced and deleted documents drop out
** without rewriting the list. */

typedef struct omen__pcur {
  const uint8_t *p, *end;   /* the next block header of the list */
  uint32_t left;            /* postings in the blocks not yet entered */
  uint32_t n_slots;
  const uint32_t *len;      /* the collection's document lengths */
  /* the block entered: its header, and its postings once decoded */
  uint32_t blk_n, blk_last, blk_max_tf, blk_min_len, blk_prev;
  const uint8_t *blk_data;
  uint32_t blk_bytes;
  int decoded;
  uint32_t at;              /* next posting of the block */
  omen__posting buf[OMEN__BLOCK];
  /* the tail */
  const omen__posting *tail;
  uint32_t tail_n, tail_at;
  uint32_t tail_max_tf, tail_min_len;
  /* the current posting (slot OMEN__NO_DOC once past the end) */
  uint32_t slot, tf;
  int bad;                  /* the list is damaged */
} omen__pcur;

/* Start a cursor on a list of n postings at p (up to end) and a tail of
** tail_n, bounded by (tail_max_tf, tail_min_len); positioned on the first
** posting that counts. */
void omen__pcur_init(omen__pcur *c, const uint8_t *p, const uint8_t *end, uint32_t n,
                     const omen__posting *tail, uint32_t tail_n, uint32_t tail_max_tf,
                     uint32_t tail_min_len, const uint32_t *len, uint32_t n_slots);

/* Move to the first counting posting at slot >= target (never back). */
void omen__pcur_seek(omen__pcur *c, uint32_t target);

static inline void omen__pcur_next(omen__pcur *c)
{
  if (c->slot != OMEN__NO_DOC) omen__pcur_seek(c, c->slot + 1);
}

/* What bounds the scores of the postings from target up to *upto (the last
** slot of the block holding target, or beyond): the largest tf and the
** shortest document. Enters that block without decoding it. */
void omen__pcur_bound(omen__pcur *c, uint32_t target, uint32_t *max_tf,
                      uint32_t *min_len, uint32_t *upto);

/* The bound over the whole list (reads every block header); 0 when a
** header is damaged. */
int omen__pcur_list_bound(const uint8_t *p, const uint8_t *end, uint32_t n,
                          uint32_t *max_tf, uint32_t *min_len);

#endif
