/*
** Filters: compiling condition trees, binding them to a collection's keys,
** and matching records against them.
**
** Calls: meta (reading encoded records), mem, error (it reads the
** database only for its allocator).
*/
#include "port.h"

#include "filter.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hash.h"
#include "omen_int.h"

/* -- Operators --------------------------------------------------------------- */

static const char *const op_names[] = {
  NULL, "$and", "$or", "$not", "$eq", "$ne", "$gt", "$gte", "$lt", "$lte",
  "$in", "$nin", "$contains", "$exists"};

#define N_OPS (sizeof op_names / sizeof op_names[0])

omen_op omen_op_from_name(const char *name)
{
  for (size_t i = 1; name && i < N_OPS; i++)
    if (!strcmp(name, op_names[i])) return (omen_op)i;
  return (omen_op)0;
}

const char *omen_op_name(omen_op op)
{
  return (size_t)op > 0 && (size_t)op < N_OPS ? op_names[op] : NULL;
}

static int is_logical(omen_op op)
{
  return op == OMEN_OP_AND || op == OMEN_OP_OR || op == OMEN_OP_NOT;
}

/* -- Checking ---------------------------------------------------------------- */

typedef struct sizes {
  uint32_t nodes, values, keys;
  size_t text;
} sizes;

static int bad(omen_db *db, const omen_cond *c, const char *what)
{
  const char *name = omen_op_name(c->op);
  if (c->key.len)
    return omen__fail(db, OMEN_INVALID, "filter on '%.*s': %s %s",
                      (int)(c->key.len > 64 ? 64 : c->key.len), c->key.ptr,
                      name ? name : "operator", what);
  return omen__fail(db, OMEN_INVALID, "filter: %s %s", name ? name : "operator",
                    what);
}

static size_t text_of(const omen_value *v)
{
  return v->type == OMEN_STRING ? v->u.string.len : 0;
}

/* A scalar operand: string, finite-or-infinite number, or boolean. */
static int scalar(const omen_value *v)
{
  return (v->type == OMEN_STRING && (v->u.string.ptr || !v->u.string.len)) ||
         (v->type == OMEN_NUMBER && !isnan(v->u.number)) || v->type == OMEN_BOOL;
}

static int check_operand(omen_db *db, const omen_cond *c, sizes *z)
{
  const omen_value *v = &c->value;
  switch (c->op) {
  case OMEN_OP_EQ:
  case OMEN_OP_NE:
    if (!scalar(v)) return bad(db, c, "needs a string, number or boolean");
    break;
  case OMEN_OP_GT:
  case OMEN_OP_GTE:
  case OMEN_OP_LT:
  case OMEN_OP_LTE:
    if (!scalar(v) || v->type == OMEN_BOOL)
      return bad(db, c, "needs a number or a string");
    break;
  case OMEN_OP_CONTAINS:
    if (v->type != OMEN_STRING || !scalar(v)) return bad(db, c, "needs a string");
    break;
  case OMEN_OP_EXISTS:
    if (v->type != OMEN_BOOL) return bad(db, c, "needs true or false");
    break;
  case OMEN_OP_IN:
  case OMEN_OP_NIN:
    if (!c->values && c->n_values) return bad(db, c, "needs a list of values");
    for (size_t i = 0; i < c->n_values; i++) {
      if (!scalar(&c->values[i]))
        return bad(db, c, "needs a list of strings, numbers or booleans");
      z->text += text_of(&c->values[i]);
    }
    z->values += (uint32_t)c->n_values;
    return OMEN_OK;
  default:
    return omen__fail(db, OMEN_INVALID, "filter: unknown operator %d", (int)c->op);
  }
  z->text += text_of(v);
  return OMEN_OK;
}

static int check(omen_db *db, const omen_cond *c, int depth, sizes *z)
{
  if (depth > OMEN__FILTER_DEPTH || ++z->nodes > OMEN__FILTER_NODES)
    return omen__fail(db, OMEN_INVALID, "filter is too large (at most %d "
                      "conditions, %d deep)", OMEN__FILTER_NODES, OMEN__FILTER_DEPTH);
  if (is_logical(c->op)) {
    if (!c->kids || !c->n_kids || (c->op == OMEN_OP_NOT && c->n_kids != 1))
      return bad(db, c, c->op == OMEN_OP_NOT ? "needs one condition"
                                             : "needs one or more conditions");
    for (size_t i = 0; i < c->n_kids; i++) {
      int rc = check(db, &c->kids[i], depth + 1, z);
      if (rc) return rc;
    }
    return OMEN_OK;
  }
  if (!c->key.ptr || c->key.len == 0 || c->key.len > OMEN__MAX_KEY)
    return bad(db, c, "needs a field name of 1 to 255 bytes");
  z->text += c->key.len;
  z->keys++;
  return check_operand(db, c, z);
}

/* -- Compiling ---------------------------------------------------------------- */

static void free_parts(omen_filter *f)
{
  omen__free(&f->mem, f->nodes, f->n_nodes * sizeof *f->nodes);
  omen__free(&f->mem, f->values, f->n_values * sizeof *f->values);
  omen__free(&f->mem, f->keys, f->keys_cap * sizeof *f->keys);
  omen__free(&f->mem, f->text, f->text_size);
  omen__free(&f->mem, f->sig, f->sig_len);
}

void omen_filter_free(omen_filter *f)
{
  if (!f) return;
  omen__mem mem = f->mem;
  free_parts(f);
  omen__free(&mem, f, sizeof *f);
}

/* The filter's own copy of a string. */
static omen_str keep(omen_filter *f, size_t *used, omen_str s)
{
  omen_str out = {f->text + *used, s.len};
  if (s.len) memcpy(f->text + *used, s.ptr, s.len);
  *used += s.len;
  return out;
}

static omen_value keep_value(omen_filter *f, size_t *used, const omen_value *v)
{
  omen_value out = *v;
  if (v->type == OMEN_STRING) out.u.string = keep(f, used, v->u.string);
  return out;
}

/* The index of a field name, adding it when new. */
static uint32_t key_index(omen_filter *f, omen_str key, size_t *used)
{
  for (uint32_t i = 0; i < f->n_keys; i++)
    if (f->keys[i].len == key.len && !memcmp(f->keys[i].ptr, key.ptr, key.len)) return i;
  f->keys[f->n_keys] = keep(f, used, key);
  return f->n_keys++;
}

/* Lay the tree out in pre-order; returns the index after it. */
static uint32_t emit_cond(omen_filter *f, const omen_cond *c, uint32_t at, size_t *used)
{
  omen__fnode *n = &f->nodes[at];
  memset(n, 0, sizeof *n);
  n->op = c->op;
  uint32_t next = at + 1;
  if (is_logical(c->op)) {
    for (size_t i = 0; i < c->n_kids; i++) next = emit_cond(f, &c->kids[i], next, used);
  } else {
    n->key = key_index(f, c->key, used);
    if (c->op == OMEN_OP_IN || c->op == OMEN_OP_NIN) {
      n->values = f->n_values;
      n->n_values = (uint32_t)c->n_values;
      for (size_t i = 0; i < c->n_values; i++)
        f->values[f->n_values++] = keep_value(f, used, &c->values[i]);
    } else {
      n->value = keep_value(f, used, &c->value);
    }
  }
  f->nodes[at].end = next;
  return next;
}

/* The program as bytes, so filters can be told apart exactly (the bitmap
** cache keys on it). Pass NULL to measure. */
static size_t put_sig(unsigned char *p, const void *data, size_t n, size_t at)
{
  if (p && n) memcpy(p + at, data, n);
  return at + n;
}

static size_t sig_value(unsigned char *p, const omen_value *v, size_t at)
{
  uint32_t type = (uint32_t)v->type;
  at = put_sig(p, &type, 4, at);
  if (v->type == OMEN_NUMBER) return put_sig(p, &v->u.number, 8, at);
  if (v->type == OMEN_BOOL) {
    unsigned char b = v->u.boolean != 0;
    return put_sig(p, &b, 1, at);
  }
  uint64_t len = v->u.string.len;
  at = put_sig(p, &len, 8, at);
  return put_sig(p, v->u.string.ptr, v->u.string.len, at);
}

static size_t signature(const omen_filter *f, unsigned char *p)
{
  size_t at = 0;
  for (uint32_t i = 0; i < f->n_nodes; i++) {
    const omen__fnode *n = &f->nodes[i];
    uint32_t head[3] = {(uint32_t)n->op, n->end, n->n_values};
    at = put_sig(p, head, sizeof head, at);
    if (is_logical(n->op)) continue;
    uint64_t key_len = f->keys[n->key].len;
    at = put_sig(p, &key_len, 8, at);
    at = put_sig(p, f->keys[n->key].ptr, f->keys[n->key].len, at);
    if (n->op == OMEN_OP_IN || n->op == OMEN_OP_NIN)
      for (uint32_t k = 0; k < n->n_values; k++)
        at = sig_value(p, &f->values[n->values + k], at);
    else
      at = sig_value(p, &n->value, at);
  }
  return at;
}

int omen_filter_new(omen_db *db, const omen_cond *root, omen_filter **out)
{
  if (!db) return OMEN_INVALID;
  if (!out) return omen__missing(db, "out");
  *out = NULL;
  if (!root) return omen__missing(db, "filter");
  sizes z = {0, 0, 0, 0};
  int rc = check(db, root, 0, &z);
  if (rc) return rc;
  omen_filter *f = omen__calloc(&db->mem, sizeof *f);
  if (!f) return omen__fail(db, OMEN_NOMEM, "out of memory");
  f->mem = db->mem;
  f->n_nodes = z.nodes;
  f->keys_cap = z.keys; /* names repeat: the distinct ones may be fewer */
  f->text_size = z.text + 1;
  f->nodes = omen__malloc(&f->mem, z.nodes * sizeof *f->nodes);
  f->values = z.values ? omen__malloc(&f->mem, z.values * sizeof *f->values) : NULL;
  f->keys = z.keys ? omen__malloc(&f->mem, z.keys * sizeof *f->keys) : NULL;
  f->text = omen__malloc(&f->mem, f->text_size);
  f->n_values = z.values; /* as allocated, for a free on failure */
  if (!f->nodes || (z.values && !f->values) || (z.keys && !f->keys) || !f->text) {
    omen_filter_free(f);
    return omen__fail(db, OMEN_NOMEM, "out of memory");
  }
  size_t used = 0;
  f->n_values = 0;
  emit_cond(f, root, 0, &used);
  f->sig_len = signature(f, NULL);
  if (!(f->sig = omen__malloc(&f->mem, f->sig_len))) {
    f->sig_len = 0;
    omen_filter_free(f);
    return omen__fail(db, OMEN_NOMEM, "out of memory");
  }
  signature(f, f->sig);
  f->hash = omen__hash_bytes(f->sig, f->sig_len, 0x66696c746572ull);
  *out = f;
  return OMEN_OK;
}

/* -- Binding and matching ----------------------------------------------------- */

void omen__filter_bind(const omen_filter *f, const omen__keys *keys,
                       uint32_t *ids)
{
  for (uint32_t i = 0; i < f->n_keys; i++)
    ids[i] = omen__keys_find(keys, f->keys[i].ptr, f->keys[i].len);
}

/* A field of a record: its value, and for arrays the encoded items. */
typedef struct field {
  int found;
  omen_value v;
  const uint8_t *raw;
  size_t raw_len;
} field;

/* Find a field in encoded metadata (fields are sorted by key number). */
static field find(const uint8_t *meta, uint32_t len, uint32_t key)
{
  field out = {0};
  omen__meta_it it;
  uint64_t n;
  if (key == UINT32_MAX || omen__meta_open(&it, meta, len, &n)) return out;
  for (uint64_t i = 0; i < n; i++) {
    uint32_t k;
    if (omen__meta_next(&it, &k, &out.v, &out.raw, &out.raw_len) || k > key) break;
    if (k == key) {
      out.found = 1;
      return out;
    }
  }
  out.found = 0;
  return out;
}

/* Bytewise order of two strings: -1, 0 or 1. */
static int cmp_str(omen_str a, omen_str b)
{
  size_t n = a.len < b.len ? a.len : b.len;
  int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
  if (c) return c < 0 ? -1 : 1;
  return (a.len > b.len) - (a.len < b.len);
}

/* Compare a scalar with an operand of the same type: <0, 0, >0, or 2 when
** the types differ (no order between them). */
static int compare(const omen_value *a, const omen_value *b)
{
  if (a->type != b->type) return 2;
  if (a->type == OMEN_NUMBER)
    return (a->u.number > b->u.number) - (a->u.number < b->u.number);
  if (a->type == OMEN_BOOL) return (a->u.boolean != 0) - (b->u.boolean != 0);
  return cmp_str(a->u.string, b->u.string);
}

static int holds(omen_op op, int c)
{
  switch (op) {
  case OMEN_OP_EQ:
    return c == 0;
  case OMEN_OP_GT:
    return c == 1;
  case OMEN_OP_GTE:
    return c == 0 || c == 1;
  case OMEN_OP_LT:
    return c == -1;
  case OMEN_OP_LTE:
    return c == 0 || c == -1;
  default:
    return 0;
  }
}

/* Whether the field (or, for an array, some item) stands in relation op to
** operand. */
static int test(const field *fl, omen_op op, const omen_value *operand)
{
  if (fl->v.type != OMEN_STRINGS) return holds(op, compare(&fl->v, operand));
  const uint8_t *p = fl->raw, *end = fl->raw + fl->raw_len;
  omen_value item = {.type = OMEN_STRING};
  for (size_t i = 0; i < fl->v.u.strings.n; i++) {
    if (omen__meta_next_string(&p, end, &item.u.string)) return 0;
    if (holds(op, compare(&item, operand))) return 1;
  }
  return 0;
}

static int in_list(const omen_filter *f, const omen__fnode *n, const field *fl)
{
  for (uint32_t i = 0; i < n->n_values; i++)
    if (test(fl, OMEN_OP_EQ, &f->values[n->values + i])) return 1;
  return 0;
}

static int eval(const omen_filter *f, const uint32_t *ids, const uint8_t *meta,
                uint32_t len, uint32_t at)
{
  const omen__fnode *n = &f->nodes[at];
  uint32_t kid;
  switch (n->op) {
  case OMEN_OP_AND:
    for (kid = at + 1; kid < n->end; kid = f->nodes[kid].end)
      if (!eval(f, ids, meta, len, kid)) return 0;
    return 1;
  case OMEN_OP_OR:
    for (kid = at + 1; kid < n->end; kid = f->nodes[kid].end)
      if (eval(f, ids, meta, len, kid)) return 1;
    return 0;
  case OMEN_OP_NOT:
    return !eval(f, ids, meta, len, at + 1);
  default:
    break;
  }
  field fl = find(meta, len, ids[n->key]);
  switch (n->op) {
  case OMEN_OP_EXISTS:
    return fl.found == (n->value.u.boolean != 0);
  case OMEN_OP_NE:
    return !fl.found || !test(&fl, OMEN_OP_EQ, &n->value);
  case OMEN_OP_IN:
    return fl.found && in_list(f, n, &fl);
  case OMEN_OP_NIN:
    return !fl.found || !in_list(f, n, &fl);
  case OMEN_OP_CONTAINS:
    return fl.found && fl.v.type == OMEN_STRINGS && test(&fl, OMEN_OP_EQ, &n->value);
  default: /* $eq and the order comparisons */
    return fl.found && test(&fl, n->op, &n->value);
  }
}

int omen__filter_match(const omen_filter *f, const uint32_t *ids,
                       const uint8_t *meta, uint32_t meta_len)
{
  return eval(f, ids, meta, meta_len, 0);
}
