/*
** Metadata: key dictionary and record encoding.
**
** Calls: mem, hash.
*/
#include "port.h"

#include "meta.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hash.h"

/* -- Key dictionary -------------------------------------------------------- */

static uint32_t key_hash(const char *name, size_t len)
{
  return (uint32_t)omen__hash_bytes(name, len, 0x6b657973ull);
}

void omen__keys_free(const omen__mem *m, omen__keys *k)
{
  omen__buf_free(m, &k->names);
  omen__buf_free(m, &k->index);
  omen__buf_free(m, &k->table);
  uint32_t limit = k->limit;
  memset(k, 0, sizeof *k);
  k->limit = limit;
}

const char *omen__keys_name(const omen__keys *k, uint32_t key, size_t *len)
{
  uint64_t e = ((const uint64_t *)k->index.p)[key];
  *len = (size_t)(e & 0xff);
  return (const char *)k->names.p + (e >> 8);
}

uint32_t omen__keys_find(const omen__keys *k, const char *name, size_t len)
{
  if (!k->mask) return UINT32_MAX;
  const uint32_t *tab = k->table.p;
  for (uint32_t i = key_hash(name, len) & k->mask; tab[i];
       i = (i + 1) & k->mask) {
    size_t l;
    const char *s = omen__keys_name(k, tab[i] - 1, &l);
    if (l == len && memcmp(s, name, len) == 0) return tab[i] - 1;
  }
  return UINT32_MAX;
}

static int table_resize(const omen__mem *m, omen__keys *k, uint32_t size)
{
  omen__buf fresh = {0};
  int rc = omen__buf_reserve(m, &fresh, (size_t)size * sizeof(uint32_t), 0);
  if (rc) return rc;
  uint32_t *tab = fresh.p;
  memset(tab, 0, (size_t)size * sizeof(uint32_t));
  for (uint32_t key = 0; key < k->n && !rc; key++) {
    size_t len, l2;
    const char *s = omen__keys_name(k, key, &len);
    uint32_t i = key_hash(s, len) & (size - 1);
    for (; tab[i]; i = (i + 1) & (size - 1)) {
      const char *t = omen__keys_name(k, tab[i] - 1, &l2);
      if (l2 == len && !memcmp(s, t, len)) rc = OMEN_CORRUPT;
    }
    tab[i] = key + 1;
  }
  if (rc) {
    omen__buf_free(m, &fresh);
    return rc;
  }
  omen__buf_free(m, &k->table);
  k->table = fresh;
  k->mask = size - 1;
  return OMEN_OK;
}

int omen__keys_rehash(const omen__mem *m, omen__keys *k)
{
  uint32_t size = 16;
  while (size < 2 * k->n) size *= 2;
  return table_resize(m, k, size);
}

int omen__keys_intern(const omen__mem *m, omen__keys *k, const char *name,
                      size_t len, uint32_t *key)
{
  *key = omen__keys_find(k, name, len);
  if (*key != UINT32_MAX) return OMEN_OK;
  if (k->n >= (k->limit ? k->limit : OMEN__MAX_KEYS)) return OMEN_INVALID;
  int rc = omen__buf_ensure(m, &k->names, (size_t)k->names_used + len,
                            (size_t)k->names_used, 256);
  if (!rc)
    rc = omen__buf_ensure(m, &k->index, (k->n + 1) * sizeof(uint64_t),
                          k->n * sizeof(uint64_t), 128);
  if (!rc && 2 * (k->n + 1) > k->mask)
    rc = table_resize(m, k, k->mask ? 2 * (k->mask + 1) : 16);
  if (rc) return rc;
  memcpy((char *)k->names.p + k->names_used, name, len);
  ((uint64_t *)k->index.p)[k->n] = k->names_used << 8 | len;
  k->names_used += len;
  uint32_t *tab = k->table.p;
  uint32_t i = key_hash(name, len) & k->mask;
  while (tab[i]) i = (i + 1) & k->mask;
  tab[i] = k->n + 1;
  *key = k->n++;
  return OMEN_OK;
}

/* -- Encoding -------------------------------------------------------------- */

static size_t put_varint(uint8_t *p, uint64_t v)
{
  size_t n = 0;
  while (v >= 0x80) {
    p[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  p[n++] = (uint8_t)v;
  return n;
}

static int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
  uint64_t x = 0;
  for (int shift = 0; shift < 64 && *p < end; shift += 7) {
    uint8_t b = *(*p)++;
    x |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = x;
      return OMEN_OK;
    }
  }
  return OMEN_CORRUPT;
}

static size_t varint_len(uint64_t v)
{
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

static size_t str_size(omen_str s) { return varint_len(s.len) + s.len; }

/* Bytes a value takes once encoded (type byte included), or 0 if invalid. */
static size_t value_size(const omen_value *v)
{
  size_t size = 0;
  switch (v->type) {
  case OMEN_NUMBER:
    return isnan(v->u.number) ? 0 : 1 + 8;
  case OMEN_BOOL:
    return 1 + 1;
  case OMEN_STRING:
    return v->u.string.ptr || !v->u.string.len ? 1 + str_size(v->u.string) : 0;
  case OMEN_STRINGS:
    if (!v->u.strings.items && v->u.strings.n) return 0;
    size = 1 + varint_len(v->u.strings.n);
    for (size_t i = 0; i < v->u.strings.n; i++) {
      omen_str s = v->u.strings.items[i];
      if (!s.ptr && s.len) return 0;
      size += str_size(s);
    }
    return size;
  }
  return 0;
}

int omen__meta_check(const omen_field *f, size_t n, size_t *size, char *err,
                     size_t errcap)
{
  *size = 0;
  if (n == 0) return OMEN_OK;
  if (!f || n > OMEN__MAX_FIELDS) {
    snprintf(err, errcap, "metadata has %zu fields (at most %d)", n,
             OMEN__MAX_FIELDS);
    return OMEN_INVALID;
  }
  size_t total = varint_len(n);
  for (size_t i = 0; i < n; i++) {
    const omen_str *key = &f[i].key;
    if (!key->ptr || key->len == 0 || key->len > OMEN__MAX_KEY) {
      snprintf(err, errcap, "meta key must be 1 to %d bytes", OMEN__MAX_KEY);
      return OMEN_INVALID;
    }
    for (size_t j = 0; j < i; j++)
      if (f[j].key.len == key->len && !memcmp(f[j].key.ptr, key->ptr, key->len)) {
        snprintf(err, errcap, "meta key '%.*s' appears twice", (int)key->len,
                 key->ptr);
        return OMEN_INVALID;
      }
    size_t vs = value_size(&f[i].value);
    if (!vs) {
      snprintf(err, errcap, "meta field '%.*s' has an invalid value%s",
               (int)key->len, key->ptr,
               f[i].value.type == OMEN_NUMBER ? " (NaN)" : "");
      return OMEN_INVALID;
    }
    total += 3 + vs; /* a key number takes at most 3 bytes (< 2^21) */
  }
  if (total - 2 * n > OMEN_MAX_META) {
    snprintf(err, errcap, "metadata exceeds %u bytes", OMEN_MAX_META);
    return OMEN_INVALID;
  }
  *size = total;
  return OMEN_OK;
}

static size_t put_str(uint8_t *p, omen_str s)
{
  size_t n = put_varint(p, s.len);
  if (s.len) memcpy(p + n, s.ptr, s.len);
  return n + s.len;
}

static size_t put_value(uint8_t *p, const omen_value *v)
{
  size_t n = 0;
  p[n++] = (uint8_t)v->type;
  switch (v->type) {
  case OMEN_NUMBER: {
    uint64_t bits;
    memcpy(&bits, &v->u.number, 8);
    for (int i = 0; i < 8; i++) p[n++] = (uint8_t)(bits >> (8 * i));
    break;
  }
  case OMEN_BOOL:
    p[n++] = v->u.boolean ? 1 : 0;
    break;
  case OMEN_STRING:
    n += put_str(p + n, v->u.string);
    break;
  case OMEN_STRINGS:
    n += put_varint(p + n, v->u.strings.n);
    for (size_t i = 0; i < v->u.strings.n; i++)
      n += put_str(p + n, v->u.strings.items[i]);
    break;
  }
  return n;
}

typedef struct keyed {
  uint32_t key;
  uint32_t field;
} keyed;

int omen__meta_encode(const omen__mem *m, omen__keys *k, const omen_field *f,
                      size_t n, uint8_t *out, size_t *len)
{
  *len = 0;
  if (n == 0) return OMEN_OK;
  keyed order[64], *ord = n <= 64 ? order : omen__malloc(m, n * sizeof(keyed));
  if (!ord) return OMEN_NOMEM;
  int rc = OMEN_OK;
  for (size_t i = 0; i < n && !rc; i++) {
    rc = omen__keys_intern(m, k, f[i].key.ptr, f[i].key.len, &ord[i].key);
    ord[i].field = (uint32_t)i;
  }
  if (!rc) {
    for (size_t i = 1; i < n; i++) /* insertion sort: n is small */
      for (size_t j = i; j > 0 && ord[j - 1].key > ord[j].key; j--) {
        keyed t = ord[j];
        ord[j] = ord[j - 1];
        ord[j - 1] = t;
      }
    size_t at = put_varint(out, n);
    for (size_t i = 0; i < n; i++) {
      at += put_varint(out + at, ord[i].key);
      at += put_value(out + at, &f[ord[i].field].value);
    }
    *len = at;
    if (at > OMEN_MAX_META) rc = OMEN_INVALID;
  }
  if (ord != order) omen__free(m, ord, n * sizeof(keyed));
  return rc;
}

/* -- Decoding -------------------------------------------------------------- */

int omen__meta_open(omen__meta_it *it, const uint8_t *p, size_t len,
                    uint64_t *n)
{
  it->p = p;
  it->end = p + len;
  it->left = 0;
  *n = 0;
  if (len == 0) return OMEN_OK;
  if (get_varint(&it->p, it->end, &it->left)) return OMEN_CORRUPT;
  *n = it->left;
  return OMEN_OK;
}

static int get_str(const uint8_t **p, const uint8_t *end, omen_str *s)
{
  uint64_t len;
  if (get_varint(p, end, &len) || len > (uint64_t)(end - *p))
    return OMEN_CORRUPT;
  s->ptr = (const char *)*p;
  s->len = (size_t)len;
  *p += len;
  return OMEN_OK;
}

int omen__meta_next_string(const uint8_t **p, const uint8_t *end, omen_str *s)
{
  return get_str(p, end, s);
}

int omen__meta_next(omen__meta_it *it, uint32_t *key, omen_value *v,
                    const uint8_t **raw, size_t *raw_len)
{
  uint64_t k;
  if (!it->left || get_varint(&it->p, it->end, &k) || k > UINT32_MAX ||
      it->p >= it->end)
    return OMEN_CORRUPT;
  it->left--;
  *key = (uint32_t)k;
  v->type = (omen_type)*it->p++;
  switch (v->type) {
  case OMEN_NUMBER: {
    if (it->end - it->p < 8) return OMEN_CORRUPT;
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++) bits |= (uint64_t)it->p[i] << (8 * i);
    memcpy(&v->u.number, &bits, 8);
    it->p += 8;
    return OMEN_OK;
  }
  case OMEN_BOOL:
    if (it->p >= it->end || *it->p > 1) return OMEN_CORRUPT;
    v->u.boolean = *it->p++;
    return OMEN_OK;
  case OMEN_STRING:
    return get_str(&it->p, it->end, &v->u.string);
  case OMEN_STRINGS: {
    uint64_t count;
    if (get_varint(&it->p, it->end, &count)) return OMEN_CORRUPT;
    const uint8_t *start = it->p;
    for (uint64_t i = 0; i < count; i++) {
      omen_str s;
      if (get_str(&it->p, it->end, &s)) return OMEN_CORRUPT;
    }
    v->u.strings.items = NULL;
    v->u.strings.n = (size_t)count;
    *raw = start;
    *raw_len = (size_t)(it->p - start);
    return OMEN_OK;
  }
  }
  return OMEN_CORRUPT;
}

int omen__meta_validate(const uint8_t *p, size_t len, uint32_t n_keys)
{
  omen__meta_it it;
  uint64_t n;
  if (omen__meta_open(&it, p, len, &n)) return OMEN_CORRUPT;
  if (len && (n == 0 || n > OMEN__MAX_FIELDS)) return OMEN_CORRUPT;
  for (uint64_t i = 0; i < n; i++) {
    uint32_t key;
    omen_value v;
    const uint8_t *raw;
    size_t raw_len;
    if (omen__meta_next(&it, &key, &v, &raw, &raw_len) || key >= n_keys)
      return OMEN_CORRUPT;
  }
  return it.p == it.end ? OMEN_OK : OMEN_CORRUPT;
}
