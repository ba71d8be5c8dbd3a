/*
** Metadata: the per-collection dictionary of field names (so records store a
** small key number instead of the name), and the compact binary encoding of
** a record's fields, sorted by key number:
**
**   meta   := varint n_fields, field * n_fields      (empty meta: no bytes)
**   field  := varint key, u8 type, payload
**   NUMBER : 8 bytes, little-endian IEEE double
**   BOOL   : 1 byte, 0 or 1
**   STRING : varint length, bytes
**   STRINGS: varint count, (varint length, bytes) * count
**
** Encoded bytes may come from disk, so every decoder checks every length.
*/
#ifndef OMEN_META_H
#define OMEN_META_H

#include <stddef.h>
#include <stdint.h>

#include "mem.h"
#include "omen.h"

#define OMEN__MAX_KEY 255
#define OMEN__MAX_FIELDS 1024
#define OMEN__MAX_KEYS (1u << 16) /* distinct field names per collection */

/* -- Key dictionary -------------------------------------------------------- */

typedef struct omen__keys {
  omen__buf names;  /* the names, back to back */
  uint64_t names_used;
  omen__buf index;  /* uint64_t per key: offset << 8 | length */
  uint32_t n;
  omen__buf table;  /* uint32_t: key + 1, 0 empty */
  uint32_t mask;
  uint32_t limit;   /* most names it takes; 0: OMEN__MAX_KEYS (metadata) */
} omen__keys;

void omen__keys_free(const omen__mem *m, omen__keys *k);

/* The number of a key, or UINT32_MAX. */
uint32_t omen__keys_find(const omen__keys *k, const char *name, size_t len);

/* The number of a key, adding it when new. */
int omen__keys_intern(const omen__mem *m, omen__keys *k, const char *name,
                      size_t len, uint32_t *key);

const char *omen__keys_name(const omen__keys *k, uint32_t key, size_t *len);

/* Rebuild the hash table from names and index (after loading them);
** OMEN_CORRUPT if a name repeats. */
int omen__keys_rehash(const omen__mem *m, omen__keys *k);

/* -- Encoding -------------------------------------------------------------- */

/* Check fields for encoding and return in *size the most bytes their
** encoding can take. On error writes a message to err (errcap bytes). */
int omen__meta_check(const omen_field *f, size_t n, size_t *size, char *err,
                     size_t errcap);

/* Encode checked fields into out (room for the size omen__meta_check gave),
** interning their keys. *len receives the bytes written. */
int omen__meta_encode(const omen__mem *m, omen__keys *k, const omen_field *f,
                      size_t n, uint8_t *out, size_t *len);

/* -- Decoding -------------------------------------------------------------- */

typedef struct omen__meta_it {
  const uint8_t *p, *end;
  uint64_t left;
} omen__meta_it;

/* Start reading encoded fields; *n receives their count. */
int omen__meta_open(omen__meta_it *it, const uint8_t *p, size_t len,
                    uint64_t *n);

/* Read the next field. For STRINGS, v->u.strings.items is NULL and raw and
** raw_len receive the encoded items, read by omen__meta_next_string. */
int omen__meta_next(omen__meta_it *it, uint32_t *key, omen_value *v,
                    const uint8_t **raw, size_t *raw_len);

/* Read one string of an encoded STRINGS list, advancing *p. */
int omen__meta_next_string(const uint8_t **p, const uint8_t *end, omen_str *s);

/* Check a whole encoding (used on data loaded from disk). */
int omen__meta_validate(const uint8_t *p, size_t len, uint32_t n_keys);

#endif
