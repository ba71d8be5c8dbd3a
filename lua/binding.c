/*
** The omen Lua module, classic C API part: handle types and lifetimes,
** argument checks, and conversion between Lua values and the C API. The
** engine's logic stays in core/, so C users get the same behaviour.
**
** Handles: a database userdata owns an omen_db; a collection userdata owns
** an omen_coll handle and keeps its database userdata alive through its
** environment table, so a script may drop the database first. Every __gc is
** idempotent, and the C library counts handles, so finalizers may run in any
** order, also at lua_close.
**
** Errors, one rule for every call (see failed()): misuse raises (bad
** arguments, wrong dimension, a closed handle, a write to a read-only
** database); failures of the environment return nil, message (I/O, a full
** disk, a lock, damage, memory), as io.open does. A missing collection is
** nil, message too; a missing record is nil (get) or false (delete).
**
** lua/omen.lua wraps the methods that take vectors: it turns FFI float
** arrays and pointers into a `const float *` cdata, which this file then
** reads in place. The raw methods are reachable only through that wrapper.
*/
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lomen.h"
#include "omen.h"
#include "omen_lua.h" /* omen_lua: lua/omen.lua as text */

#define lua_absindex_(L, i) ((i) > 0 || (i) <= LUA_REGISTRYINDEX ? (i) : lua_gettop(L) + (i) + 1)

#define DB_MT "omen.db"
#define COLL_MT "omen.collection"
#define LUA_TCDATA_ 10 /* LuaJIT's type tag for FFI cdata */

/* A Lua function registered as a tokenizer: run on a Lua thread of its
** own, so it works from whatever coroutine the engine was called. */
typedef struct ltok {
  struct ltok *next;
  lua_State *T;     /* anchored by thread_ref */
  int fn_ref, thread_ref;
  char name[65];
} ltok;

typedef struct ldb {
  omen_db *db;      /* NULL once closed */
  int borrowed;     /* the host's database (lomen_push_db): never closed here */
  ltok *toks;       /* tokenizers registered through this handle */
} ldb;

typedef struct lcoll {
  omen_coll *c;     /* NULL once released */
  omen_result *res; /* reused by every call on this handle */
  omen_result **batch; /* search_batch's results, kept for the next call */
  size_t n_batch;
  uint32_t dim;
} lcoll;

/* -- Handles ------------------------------------------------------------------ */

/* The databases this module has open, for lomen_interrupt_all: a fixed
** table of atomic slots, so that a signal handler may walk it while the
** program (on the thread it interrupted) is adding or removing one. A
** database is removed before it is closed. Past OPEN_SLOTS databases the
** rest are not interruptible, nothing worse. */
#define OPEN_SLOTS 256
static omen_db *_Atomic open_dbs[OPEN_SLOTS];

static void note_open(omen_db *db)
{
  for (int i = 0; i < OPEN_SLOTS; i++) {
    omen_db *expected = NULL;
    if (atomic_compare_exchange_strong(&open_dbs[i], &expected, db)) return;
  }
}

static void note_closed(omen_db *db)
{
  for (int i = 0; i < OPEN_SLOTS; i++) {
    omen_db *expected = db;
    if (atomic_compare_exchange_strong(&open_dbs[i], &expected, NULL)) return;
  }
}

void lomen_interrupt_all(void)
{
  for (int i = 0; i < OPEN_SLOTS; i++) {
    omen_db *db = atomic_load(&open_dbs[i]);
    if (db) omen_interrupt(db);
  }
}

static ldb *check_ldb(lua_State *L, int idx)
{
  ldb *d = luaL_checkudata(L, idx, DB_MT);
  if (!d->db) luaL_error(L, "database is closed");
  return d;
}

static lcoll *check_lcoll(lua_State *L, int idx)
{
  lcoll *c = luaL_checkudata(L, idx, COLL_MT);
  if (!c->c) luaL_error(L, "collection is closed");
  return c;
}

static int push_fail(lua_State *L, const char *msg)
{
  lua_pushnil(L);
  lua_pushstring(L, msg);
  return 2;
}

/* A call on db failed with rc: nil, message for what the environment did
** to it, an error raised for misuse (and for an interrupt, which must stop
** the running chunk). */
static int failed(lua_State *L, omen_db *db, int rc)
{
  const char *msg = db ? omen_errmsg(db) : omen_strerror(rc);
  switch (rc) {
  case OMEN_IOERR: case OMEN_CORRUPT: case OMEN_LOCKED: case OMEN_NOMEM:
  case OMEN_NOTOMEN: case OMEN_FORMAT: case OMEN_EXISTS: case OMEN_NOTFOUND:
    return push_fail(L, msg);
  default:
    return luaL_error(L, "%s", msg);
  }
}

static int coll_error(lua_State *L, lcoll *c, int rc)
{
  return failed(L, omen_coll_db(c->c), rc);
}

/* -- Option tables ------------------------------------------------------------ */

/* Reject keys of an options table that are not in `known`. */
static void check_keys(lua_State *L, int idx, const char *const *known,
                       const char *what)
{
  for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    int ok = 0;
    for (int i = 0; k && known[i] && !ok; i++) ok = !strcmp(k, known[i]);
    if (!ok)
      luaL_error(L, "unknown %s option '%s'", what,
                 k ? k : luaL_typename(L, -2));
  }
}

/* Integer field of an options table in [lo, hi], or def when absent. */
static double opt_int(lua_State *L, int idx, const char *key, double def,
                      double lo, double hi)
{
  lua_getfield(L, idx, key);
  double v = def;
  if (!lua_isnil(L, -1)) {
    v = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : NAN;
    if (!(v == floor(v) && v >= lo && v <= hi))
      luaL_error(L, "%s must be an integer between %.0f and %.0f", key, lo, hi);
  }
  lua_pop(L, 1);
  return v;
}

static int opt_bool(lua_State *L, int idx, const char *key, int def)
{
  lua_getfield(L, idx, key);
  int v = def;
  if (!lua_isnil(L, -1)) {
    if (!lua_isboolean(L, -1)) luaL_error(L, "%s must be a boolean", key);
    v = lua_toboolean(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

/* -- Vectors ------------------------------------------------------------------ */

static float *scratch_floats(lua_State *L, size_t n)
{
  return lua_newuserdata(L, (n ? n : 1) * sizeof(float));
}

/* Where an error is: "" for a single call, "record 12 (id 'x'): " for an
** item of a batch (bytes of the id that are not printable as \xNN). */
typedef struct where {
  char text[160];
} where;

static const char *record_at(where *w, size_t i, const char *id, size_t len)
{
  int at = snprintf(w->text, sizeof w->text, "record %zu (id '", i + 1);
  for (size_t k = 0; k < len && at < 120; k++) {
    unsigned char ch = (unsigned char)id[k];
    at += snprintf(w->text + at, sizeof w->text - (size_t)at,
                   ch >= 32 && ch < 127 && ch != '\'' ? "%c" : "\\x%02x", ch);
  }
  snprintf(w->text + at, sizeof w->text - (size_t)at, "%s'): ", at >= 120 ? "..." : "");
  return w->text;
}

/* A vector argument: a Lua array of dim numbers, copied into buf (a new
** scratch buffer when NULL), or a `const float *` cdata from lua/omen.lua,
** read in place (lua/omen.lua lets no other cdata through). `pre` says
** where it is, for messages. */
static const float *check_vec(lua_State *L, int idx, uint32_t dim, float *buf,
                              const char *what, const char *pre)
{
  int t = lua_type(L, idx);
  if (t == LUA_TCDATA_) return *(const float *const *)lua_topointer(L, idx);
  if (t != LUA_TTABLE)
    luaL_error(L, "%s%s must be a table of numbers or an FFI float array (got %s)",
               pre, what, luaL_typename(L, idx));
  size_t n = lua_objlen(L, idx);
  if (n != dim)
    luaL_error(L, "%swrong dimension for %s: expected %d, got %d", pre, what,
               (int)dim, (int)n);
  if (!buf) buf = scratch_floats(L, dim);
  for (uint32_t i = 0; i < dim; i++) {
    lua_rawgeti(L, idx, (int)i + 1);
    if (lua_type(L, -1) != LUA_TNUMBER)
      luaL_error(L, "%s%s component %d is not a number (%s)", pre, what, (int)i + 1,
                 luaL_typename(L, -1));
    buf[i] = (float)lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  return buf;
}

static void push_floats(lua_State *L, const float *v, uint32_t n)
{
  lua_createtable(L, (int)n, 0);
  for (uint32_t i = 0; i < n; i++) {
    lua_pushnumber(L, v[i]);
    lua_rawseti(L, -2, (int)i + 1);
  }
}

/* -- Metadata ----------------------------------------------------------------- */

/* Count the fields and string-array items of a meta table (nil and false:
** none); `pre` as for check_vec. */
static void count_meta(lua_State *L, int idx, size_t *fields, size_t *items,
                       const char *pre)
{
  if (lua_isnil(L, idx) || (lua_isboolean(L, idx) && !lua_toboolean(L, idx))) return;
  if (!lua_istable(L, idx))
    luaL_error(L, "%smeta must be a table (got %s)", pre, luaL_typename(L, idx));
  for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
    (*fields)++;
    if (lua_istable(L, -1)) *items += lua_objlen(L, -1);
  }
}

static void to_strings(lua_State *L, int idx, const char *key, omen_value *v,
                       omen_str **items, const char *pre)
{
  size_t n = lua_objlen(L, idx), seen = 0;
  for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) seen++;
  if (seen != n)
    luaL_error(L, "%smeta field '%s': a table must be an array of strings", pre, key);
  v->type = OMEN_STRINGS;
  v->u.strings.items = *items;
  v->u.strings.n = n;
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, idx, (int)i + 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "%smeta field '%s': item %d is not a string", pre, key, (int)i + 1);
    (*items)[i].ptr = lua_tolstring(L, -1, &(*items)[i].len);
    lua_pop(L, 1); /* still referenced by the array */
  }
  *items += n;
}

/* Fill fields from the meta table at idx; strings stay owned by Lua. */
static size_t to_fields(lua_State *L, int idx, omen_field *f, omen_str **items,
                        const char *pre)
{
  size_t n = 0;
  if (!lua_istable(L, idx)) return 0; /* nil or false, as count_meta saw */
  for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1), n++) {
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_error(L, "%smeta keys must be strings (got %s)", pre, luaL_typename(L, -2));
    const char *key = lua_tolstring(L, -2, &f[n].key.len);
    f[n].key.ptr = key;
    omen_value *v = &f[n].value;
    switch (lua_type(L, -1)) {
    case LUA_TNUMBER:
      v->type = OMEN_NUMBER;
      v->u.number = lua_tonumber(L, -1);
      break;
    case LUA_TSTRING:
      v->type = OMEN_STRING;
      v->u.string.ptr = lua_tolstring(L, -1, &v->u.string.len);
      break;
    case LUA_TBOOLEAN:
      v->type = OMEN_BOOL;
      v->u.boolean = lua_toboolean(L, -1);
      break;
    case LUA_TTABLE:
      to_strings(L, lua_gettop(L), key, v, items, pre);
      break;
    default:
      luaL_error(L, "%smeta field '%s' has unsupported type %s", pre, key,
                 luaL_typename(L, -1));
    }
  }
  return n;
}

static void push_value(lua_State *L, const omen_value *v)
{
  switch (v->type) {
  case OMEN_NUMBER:
    lua_pushnumber(L, v->u.number);
    break;
  case OMEN_STRING:
    lua_pushlstring(L, v->u.string.ptr, v->u.string.len);
    break;
  case OMEN_BOOL:
    lua_pushboolean(L, v->u.boolean);
    break;
  case OMEN_STRINGS:
    lua_createtable(L, (int)v->u.strings.n, 0);
    for (size_t i = 0; i < v->u.strings.n; i++) {
      lua_pushlstring(L, v->u.strings.items[i].ptr, v->u.strings.items[i].len);
      lua_rawseti(L, -2, (int)i + 1);
    }
    break;
  default:
    lua_pushnil(L);
  }
}

static void push_meta(lua_State *L, const omen_hit *h)
{
  lua_createtable(L, 0, (int)h->n_meta);
  for (size_t i = 0; i < h->n_meta; i++) {
    lua_pushlstring(L, h->meta[i].key.ptr, h->meta[i].key.len);
    push_value(L, &h->meta[i].value);
    lua_rawset(L, -3);
  }
}

/* A string argument that C will read up to its first NUL: refuse any NUL
** inside, or "a\0b" would silently name "a". */
static const char *check_cstring(lua_State *L, int idx, const char *what)
{
  size_t len;
  const char *s = luaL_checklstring(L, idx, &len);
  if (strlen(s) != len) luaL_error(L, "%s must not contain NUL bytes", what);
  return s;
}

static const char *opt_cstring(lua_State *L, int idx, const char *what)
{
  return lua_isnoneornil(L, idx) ? NULL : check_cstring(L, idx, what);
}

/* -- Filters ------------------------------------------------------------------- */
/* A filter table, {cat = "shoes", price = {["$lt"] = 50}, ["$or"] = {...}},
** becomes an omen_cond tree in blocks on the Lua stack (freed with the call)
** and then an omen_filter, which checks it. Several entries of one table,
** and several operators on one field, are joined by $and. */

#define FILTER_DEPTH 32

typedef struct fbuild {
  lua_State *L;
  omen_cond *nodes;
  size_t n_nodes;
  omen_value *values;
  size_t n_values;
} fbuild;

/* Whether the table at idx is a list: keys exactly 1..#t. */
static int is_list(lua_State *L, int idx)
{
  size_t n = lua_objlen(L, idx), seen = 0;
  for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) seen++;
  return seen == n;
}

static int is_op(lua_State *L, int idx)
{
  return lua_type(L, idx) == LUA_TSTRING && lua_tostring(L, idx)[0] == '$';
}

static omen_op op_of(lua_State *L, int idx)
{
  const char *name = lua_tostring(L, idx);
  omen_op op = omen_op_from_name(name);
  if (!op) luaL_error(L, "unknown filter operator '%s'", name);
  return op;
}

/* A Lua scalar as an omen_value (strings stay owned by Lua). */
static omen_value to_operand(lua_State *L, int idx, const char *key, const char *op)
{
  omen_value v;
  memset(&v, 0, sizeof v);
  switch (lua_type(L, idx)) {
  case LUA_TSTRING:
    v.type = OMEN_STRING;
    v.u.string.ptr = lua_tolstring(L, idx, &v.u.string.len);
    break;
  case LUA_TNUMBER:
    v.type = OMEN_NUMBER;
    v.u.number = lua_tonumber(L, idx);
    break;
  case LUA_TBOOLEAN:
    v.type = OMEN_BOOL;
    v.u.boolean = lua_toboolean(L, idx);
    break;
  default:
    luaL_error(L, "filter on '%s': %s needs a string, number or boolean (got %s)",
               key, op, luaL_typename(L, idx));
  }
  return v;
}

/* Count the conditions and $in values of the filter table at idx. */
static void count_filter(lua_State *L, int idx, size_t *nodes, size_t *values,
                         int depth);

static void count_field(lua_State *L, int v, size_t *nodes, size_t *values,
                        const char *key)
{
  if (lua_type(L, v) != LUA_TTABLE) {
    (*nodes)++;
    return;
  }
  lua_pushnil(L);
  if (!lua_next(L, v))
    luaL_error(L, "filter on '%s': an empty table; give a value or operators "
               "like {$lt = 5}", key);
  lua_pop(L, 2);
  for (lua_pushnil(L); lua_next(L, v); lua_pop(L, 1)) {
    if (!is_op(L, -2))
      luaL_error(L, "filter on '%s': a table needs operators like $lt or $in "
                 "(lists go in $in, $nin or $contains)", key);
    omen_op op = op_of(L, -2);
    if (op == OMEN_OP_AND || op == OMEN_OP_OR || op == OMEN_OP_NOT)
      luaL_error(L, "filter on '%s': %s goes around conditions, not inside a field",
                 key, lua_tostring(L, -2));
    (*nodes)++;
    if (op == OMEN_OP_IN || op == OMEN_OP_NIN) {
      if (!lua_istable(L, -1) || !is_list(L, lua_gettop(L)))
        luaL_error(L, "filter on '%s': %s needs a list of values", key,
                   lua_tostring(L, -2));
      *values += lua_objlen(L, -1);
    }
  }
}

static void count_filter(lua_State *L, int idx, size_t *nodes, size_t *values,
                         int depth)
{
  if (depth > FILTER_DEPTH) luaL_error(L, "filter is nested too deeply");
  if (!lua_istable(L, idx))
    luaL_error(L, "filter must be a table (got %s)", luaL_typename(L, idx));
  (*nodes)++; /* an $and around the entries (dropped when there is one) */
  for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
    int v = lua_gettop(L);
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_error(L, "filter keys must be field names or operators (got %s)",
                 luaL_typename(L, -2));
    if (!is_op(L, -2)) {
      count_field(L, v, nodes, values, lua_tostring(L, -2));
      continue;
    }
    omen_op op = op_of(L, -2);
    if (op != OMEN_OP_AND && op != OMEN_OP_OR && op != OMEN_OP_NOT)
      luaL_error(L, "filter: %s needs a field, as in {price = {%s = ...}}",
                 lua_tostring(L, -2), lua_tostring(L, -2));
    (*nodes)++;
    if (op == OMEN_OP_NOT) {
      if (lua_istable(L, v)) {
        lua_pushnil(L);
        if (!lua_next(L, v))
          luaL_error(L, "filter: $not needs a condition, as in {[\"$not\"] = {cat = \"hats\"}}");
        lua_pop(L, 2);
      }
      count_filter(L, v, nodes, values, depth + 1);
    } else {
      if (!lua_istable(L, v) || lua_objlen(L, v) == 0 || !is_list(L, v))
        luaL_error(L, "filter: %s needs a list of filters", lua_tostring(L, -2));
      for (size_t i = 1; i <= lua_objlen(L, v); i++) {
        lua_rawgeti(L, v, (int)i);
        count_filter(L, lua_gettop(L), nodes, values, depth + 1);
        lua_pop(L, 1);
      }
    }
  }
}

static omen_cond *new_nodes(fbuild *b, size_t n)
{
  omen_cond *c = b->nodes + b->n_nodes;
  memset(c, 0, n * sizeof *c);
  b->n_nodes += n;
  return c;
}

static void build_filter(fbuild *b, int idx, omen_cond *out);

/* The conditions of one field, from a scalar or an operator table. */
static size_t build_field(fbuild *b, int v, omen_str key, omen_cond *out)
{
  lua_State *L = b->L;
  if (lua_type(L, v) != LUA_TTABLE) {
    out[0].op = OMEN_OP_EQ;
    out[0].key = key;
    out[0].value = to_operand(L, v, key.ptr, "$eq");
    return 1;
  }
  size_t n = 0;
  for (lua_pushnil(L); lua_next(L, v); lua_pop(L, 1), n++) {
    omen_cond *c = &out[n];
    c->op = omen_op_from_name(lua_tostring(L, -2));
    c->key = key;
    if (c->op == OMEN_OP_IN || c->op == OMEN_OP_NIN) {
      size_t k = lua_objlen(L, -1);
      c->values = b->values + b->n_values;
      c->n_values = k;
      for (size_t i = 1; i <= k; i++) {
        lua_rawgeti(L, -1, (int)i);
        b->values[b->n_values++] = to_operand(L, lua_gettop(L), key.ptr,
                                              lua_tostring(L, -3));
        lua_pop(L, 1);
      }
    } else {
      c->value = to_operand(L, lua_gettop(L), key.ptr, lua_tostring(L, -2));
    }
  }
  return n;
}

/* How many conditions a table's entries make (as count_filter saw them). */
static size_t direct_conditions(lua_State *L, int idx)
{
  size_t n = 0;
  for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
    if (is_op(L, -2) || !lua_istable(L, -1)) n++;
    else
      for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1)) n++;
  }
  return n;
}

static void build_filter(fbuild *b, int idx, omen_cond *out)
{
  lua_State *L = b->L;
  size_t n = direct_conditions(L, idx), at = 0;
  omen_cond *kids = n == 1 ? out : new_nodes(b, n);
  if (n != 1) {
    out->op = OMEN_OP_AND;
    out->kids = kids;
    out->n_kids = n;
  }
  for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
    int v = lua_gettop(L);
    size_t klen;
    const char *k = lua_tolstring(L, -2, &klen);
    if (!is_op(L, -2)) {
      at += build_field(b, v, (omen_str){k, klen}, kids + at);
      continue;
    }
    omen_cond *c = &kids[at++];
    c->op = omen_op_from_name(k);
    if (c->op == OMEN_OP_NOT) {
      c->kids = new_nodes(b, 1);
      c->n_kids = 1;
      build_filter(b, v, (omen_cond *)c->kids);
    } else {
      size_t m = lua_objlen(L, v);
      omen_cond *list = new_nodes(b, m);
      c->kids = list;
      c->n_kids = m;
      for (size_t i = 0; i < m; i++) {
        lua_rawgeti(L, v, (int)i + 1);
        build_filter(b, lua_gettop(L), &list[i]);
        lua_pop(L, 1);
      }
    }
  }
}

/* The omen_filter of the Lua filter at idx (NULL for nil, and for {}: no
** condition, every record). The caller frees it; nothing between here and
** its C call may raise. */
static omen_filter *check_filter(lua_State *L, int idx, omen_db *db)
{
  if (lua_isnoneornil(L, idx)) return NULL;
  idx = lua_absindex_(L, idx);
  if (lua_istable(L, idx)) {
    lua_pushnil(L);
    if (!lua_next(L, idx)) return NULL;
    lua_pop(L, 2);
  }
  size_t n_nodes = 0, n_values = 0;
  count_filter(L, idx, &n_nodes, &n_values, 0);
  fbuild b = {L, lua_newuserdata(L, (n_nodes + 1) * sizeof(omen_cond)), 0,
              lua_newuserdata(L, (n_values + 1) * sizeof(omen_value)), 0};
  omen_cond *root = new_nodes(&b, 1);
  build_filter(&b, idx, root);
  omen_filter *f;
  int rc = omen_filter_new(db, root, &f);
  if (rc == OMEN_NOMEM) luaL_error(L, "out of memory"); /* nowhere to return nil: raise */
  if (rc) luaL_error(L, "%s", omen_errmsg(db));
  return f;
}

/* -- Module functions --------------------------------------------------------- */

/* -- Tokenizers written in Lua ------------------------------------------------- */

/* The engine's call of a Lua tokenizer: text in, an array of strings out,
** each handed on; an error or a bad result fails the engine's call. */
static int lua_tokenize(void *ud, const char *text, size_t len, omen_token_sink *sink)
{
  ltok *t = ud;
  lua_State *T = t->T;
  int top = lua_gettop(T), rc = 0;
  lua_rawgeti(T, LUA_REGISTRYINDEX, t->fn_ref);
  lua_pushlstring(T, text, len);
  if (lua_pcall(T, 1, 1, 0)) {
    omen_token_error(sink, lua_type(T, -1) == LUA_TSTRING ? lua_tostring(T, -1)
                                                          : "(error object is not a string)");
    rc = 1;
  } else if (!lua_istable(T, -1)) {
    omen_token_error(sink, "it must return an array of strings");
    rc = 1;
  } else {
    size_t n = lua_objlen(T, -1);
    for (size_t i = 1; i <= n && !rc; i++) {
      lua_rawgeti(T, -1, (int)i);
      size_t tl;
      const char *term = lua_type(T, -1) == LUA_TSTRING ? lua_tolstring(T, -1, &tl) : NULL;
      if (!term) {
        omen_token_error(sink, "it must return an array of strings");
        rc = 1;
      } else {
        rc = omen_token_emit(sink, term, tl);
      }
      lua_pop(T, 1);
    }
  }
  lua_settop(T, top);
  return rc;
}

/* What a tokenizer does once the Lua state that made it is gone. */
static int orphan_tokenize(void *ud, const char *text, size_t len, omen_token_sink *sink)
{
  (void)ud, (void)text, (void)len;
  omen_token_error(sink, "the Lua state that registered it is closed");
  return 1;
}

/* A new Lua tokenizer for d from the function at idx (kept by d). */
static ltok *new_ltok(lua_State *L, ldb *d, const char *name, int idx)
{
  if (lua_type(L, idx) != LUA_TFUNCTION)
    luaL_error(L, "tokenizer '%s' must be a function (got %s)", name, luaL_typename(L, idx));
  if (strlen(name) < 1 || strlen(name) > 64)
    luaL_error(L, "a tokenizer's name is 1 to 64 bytes");
  ltok *t = calloc(1, sizeof *t);
  if (!t) luaL_error(L, "out of memory");
  memcpy(t->name, name, strlen(name));
  lua_pushvalue(L, idx);
  t->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  t->T = lua_newthread(L);
  t->thread_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  t->next = d->toks;
  d->toks = t;
  return t;
}

/* Let the handle's tokenizers go: the database keeps a stub under each
** name, so that it never calls into a state that is gone. */
static void free_ltoks(lua_State *L, ldb *d)
{
  for (ltok *t = d->toks, *next; t; t = next) {
    next = t->next;
    if (d->db) {
      omen_tokenizer stub = {t->name, orphan_tokenize, NULL};
      omen_tokenizer_register(d->db, &stub);
    }
    luaL_unref(L, LUA_REGISTRYINDEX, t->fn_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, t->thread_ref);
    free(t);
  }
  d->toks = NULL;
}

/* open's tokenizers = {name = function, ...}, as omen_options wants them
** (in a userdata on the stack). */
static void open_tokenizers(lua_State *L, int opts, ldb *d, omen_options *o)
{
  lua_getfield(L, opts, "tokenizers");
  int t = lua_gettop(L);
  if (lua_isnil(L, t)) return;
  if (!lua_istable(L, t)) luaL_error(L, "tokenizers must be a table of functions by name");
  size_t n = 0;
  for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1)) n++;
  omen_tokenizer *list = lua_newuserdata(L, (n ? n : 1) * sizeof *list);
  size_t i = 0;
  for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1)) {
    if (lua_type(L, -2) != LUA_TSTRING) luaL_error(L, "tokenizers are named by strings");
    ltok *k = new_ltok(L, d, lua_tostring(L, -2), lua_gettop(L));
    list[i].name = k->name;
    list[i].fn = lua_tokenize;
    list[i++].ud = k;
  }
  o->tokenizers = list;
  o->n_tokenizers = n;
}

/* db:register_tokenizer(name, function) */
static int db_register_tokenizer(lua_State *L)
{
  ldb *d = check_ldb(L, 1);
  const char *name = check_cstring(L, 2, "tokenizer name");
  ltok *t = new_ltok(L, d, name, 3);
  omen_tokenizer tok = {t->name, lua_tokenize, t};
  int rc = omen_tokenizer_register(d->db, &tok);
  if (rc) return failed(L, d->db, rc);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_open(lua_State *L)
{
  const char *path = opt_cstring(L, 1, "path");
  omen_options o;
  omen_options_init(&o);
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    static const char *const known[] = {"readonly", "verify", "sync", "checkpoint_bytes",
                                        "recover", "refresh_ms", "tokenizers", NULL};
    check_keys(L, 2, known, "open");
    if (opt_bool(L, 2, "readonly", 0)) o.flags |= OMEN_OPEN_READONLY;
    if (opt_bool(L, 2, "verify", 0)) o.flags |= OMEN_OPEN_VERIFY;
    o.checkpoint_bytes = (uint64_t)opt_int(L, 2, "checkpoint_bytes", 0, 0, 9007199254740992.0);
    lua_getfield(L, 2, "sync");
    if (!lua_isnil(L, -1)) {
      static const char *const modes[] = {"normal", "full", "off", NULL};
      const char *m = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
      int i = 0;
      while (modes[i] && strcmp(modes[i], m)) i++;
      if (!modes[i]) luaL_error(L, "unknown sync mode '%s' (expected normal, full or off)", m);
      o.sync = (omen_sync)i;
    }
    lua_pop(L, 1);
    lua_getfield(L, 2, "refresh_ms"); /* a number of ms, or "manual" */
    if (lua_type(L, -1) == LUA_TSTRING) {
      if (strcmp(lua_tostring(L, -1), "manual"))
        luaL_error(L, "refresh_ms must be a number of milliseconds or \"manual\" (got '%s')",
                   lua_tostring(L, -1));
      o.refresh_ms = OMEN_REFRESH_MANUAL;
    } else {
      o.refresh_ms = (uint32_t)opt_int(L, 2, "refresh_ms", 0, 0, (double)(OMEN_REFRESH_MANUAL - 1));
    }
    lua_pop(L, 1);
    lua_getfield(L, 2, "recover"); /* what to do with a log damaged before its end */
    if (!lua_isnil(L, -1)) {
      const char *r = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
      if (!strcmp(r, "truncate")) o.flags |= OMEN_OPEN_TRUNCATE_LOG;
      else if (strcmp(r, "refuse"))
        luaL_error(L, "unknown recover mode '%s' (expected refuse or truncate)", r);
    }
    lua_pop(L, 1);
  }
  ldb *d = lua_newuserdata(L, sizeof *d);
  d->db = NULL;
  d->borrowed = 0;
  d->toks = NULL;
  luaL_getmetatable(L, DB_MT);
  lua_setmetatable(L, -2);
  int ud = lua_gettop(L);
  if (!lua_isnoneornil(L, 2)) open_tokenizers(L, 2, d, &o);
  omen_db *db;
  int rc = omen_open(path, &o, &db);
  lua_settop(L, ud); /* the handle on top */
  if (rc) {
    lua_pushnil(L);
    lua_pushstring(L, db ? omen_errmsg(db) : omen_strerror(rc));
    omen_close(db);
    return 2;
  }
  d->db = db;
  note_open(db);
  return 1;
}

/* -- Database methods --------------------------------------------------------- */

static int db_close(lua_State *L)
{
  ldb *d = luaL_checkudata(L, 1, DB_MT);
  if (!d->db || d->borrowed) { /* a borrowed handle is only let go */
    free_ltoks(L, d);
    d->db = NULL;
    lua_pushboolean(L, 1);
    return 1;
  }
  /* Checkpoint first, so a failure is reported while the data is still here. */
  if (omen_checkpoint(d->db)) return push_fail(L, omen_errmsg(d->db));
  note_closed(d->db);
  omen_close(d->db);
  d->db = NULL;
  free_ltoks(L, d);
  lua_pushboolean(L, 1);
  return 1;
}

static int db_gc(lua_State *L)
{
  ldb *d = luaL_checkudata(L, 1, DB_MT);
  if (d->db && !d->borrowed) {
    note_closed(d->db);
    omen_close(d->db);
    d->db = NULL;
  }
  free_ltoks(L, d);
  d->db = NULL;
  return 0;
}

void lomen_push_db(lua_State *L, omen_db *db)
{
  luaL_getmetatable(L, DB_MT);
  if (lua_isnil(L, -1)) luaL_error(L, "lomen_push_db: load the omen module first");
  ldb *d = lua_newuserdata(L, sizeof *d);
  d->db = db;
  d->borrowed = 1;
  d->toks = NULL;
  lua_insert(L, -2);
  lua_setmetatable(L, -2);
}

static int db_tostring(lua_State *L)
{
  ldb *d = luaL_checkudata(L, 1, DB_MT);
  if (d->db) lua_pushfstring(L, "omen.db(%s)", omen_path(d->db));
  else lua_pushliteral(L, "omen.db(closed)");
  return 1;
}

/* A call on the whole database that answers true, or nil and a message. */
static int db_call(lua_State *L, int (*fn)(omen_db *))
{
  ldb *d = check_ldb(L, 1);
  int rc = fn(d->db);
  if (rc) return failed(L, d->db, rc);
  lua_pushboolean(L, 1);
  return 1;
}

static int db_checkpoint(lua_State *L) { return db_call(L, omen_checkpoint); }
static int db_flush(lua_State *L) { return db_call(L, omen_flush); }
static int db_compact(lua_State *L) { return db_call(L, omen_compact); }
static int db_refresh(lua_State *L) { return db_call(L, omen_refresh); }

/* db:file_sizes(): the bytes of the file and of its log now. */
static int db_file_sizes(lua_State *L)
{
  ldb *d = check_ldb(L, 1);
  uint64_t file, log;
  int rc = omen_file_sizes(d->db, &file, &log);
  if (rc) return failed(L, d->db, rc);
  lua_pushnumber(L, (lua_Number)file);
  lua_pushnumber(L, (lua_Number)log);
  return 2;
}

static int db_path(lua_State *L)
{
  lua_pushstring(L, omen_path(check_ldb(L, 1)->db));
  return 1;
}

static int db_isa(lua_State *L)
{
  lua_pushstring(L, omen_isa(check_ldb(L, 1)->db));
  return 1;
}

/* Wrap an omen_coll handle in a userdata that pins the database userdata. */
static int push_coll(lua_State *L, omen_coll *c)
{
  lcoll *lc = lua_newuserdata(L, sizeof *lc);
  lc->c = NULL;
  lc->res = NULL;
  lc->batch = NULL;
  lc->n_batch = 0;
  luaL_getmetatable(L, COLL_MT);
  lua_setmetatable(L, -2);
  lc->c = c;
  omen_coll_info info;
  if (omen_coll_info_get(c, &info) == OMEN_OK) lc->dim = info.config.dim;
  if (omen_result_new(omen_coll_db(c), &lc->res)) luaL_error(L, "out of memory");
  lua_createtable(L, 1, 0); /* environment: { db userdata } */
  lua_pushvalue(L, 1);
  lua_rawseti(L, -2, 1);
  lua_setfenv(L, -2);
  return 1;
}

/* Raise "unknown metric 'x' (expected l2, cosine or ip)", the choices as
** the engine names them. */
static void unknown_name(lua_State *L, const char *what, const char *name,
                         const char *(*at)(size_t))
{
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  size_t n = 0;
  while (at(n)) n++;
  for (size_t i = 0; i < n; i++) {
    if (i) luaL_addstring(&b, i + 1 < n ? ", " : " or ");
    luaL_addstring(&b, at(i));
  }
  luaL_pushresult(&b);
  luaL_error(L, "unknown %s '%s' (expected %s)", what, name, lua_tostring(L, -1));
}

/* An array of the names at(0), at(1), ... */
static void push_names(lua_State *L, const char *(*at)(size_t))
{
  lua_newtable(L);
  for (size_t i = 0; at(i); i++) {
    lua_pushstring(L, at(i));
    lua_rawseti(L, -2, (int)i + 1);
  }
}

/* -- Full text ---------------------------------------------------------------- */

static double opt_number(lua_State *L, int idx, const char *key, double def)
{
  lua_getfield(L, idx, key);
  double v = def;
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TNUMBER) luaL_error(L, "%s must be a number", key);
    v = lua_tonumber(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

static const char *opt_string(lua_State *L, int idx, const char *key)
{
  lua_getfield(L, idx, key);
  const char *v = NULL;
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "%s must be a string", key);
    v = lua_tostring(L, -1);
  }
  lua_pop(L, 1); /* the table holds the string */
  return v;
}

/* text.tokenizer given as a function: registered under the collection's
** name (reopen with tokenizers = {[name] = function}). */
#define LUA_FN_TOKENIZER "\1lua"

/* Register the function of text.tokenizer (at idx's options) as the
** tokenizer `name`, for a config that asked for it. */
static int register_text_fn(lua_State *L, ldb *d, int idx, const char *name,
                            omen_text_config *tc)
{
  if (!tc->tokenizer || strcmp(tc->tokenizer, LUA_FN_TOKENIZER)) return OMEN_OK;
  lua_getfield(L, idx, "tokenizer");
  ltok *t = new_ltok(L, d, name, lua_gettop(L));
  lua_pop(L, 1);
  omen_tokenizer tok = {t->name, lua_tokenize, t};
  tc->tokenizer = t->name;
  return omen_tokenizer_register(d->db, &tok);
}

/* A text index's settings: the field's name, or a table of options. The
** strings stay in the table at idx, which the caller keeps on the stack. */
static void check_text_config(lua_State *L, int idx, omen_text_config *tc)
{
  omen_text_config_init(tc, NULL);
  if (lua_type(L, idx) == LUA_TSTRING) {
    tc->field.ptr = lua_tolstring(L, idx, &tc->field.len);
    return;
  }
  if (!lua_istable(L, idx))
    luaL_error(L, "text must be a field name or a table of options (got %s)",
               luaL_typename(L, idx));
  static const char *const known[] = {"field", "tokenizer", "stemmer", "remove_diacritics",
                                      "case_sensitive", "stopwords", "k1", "b", NULL};
  check_keys(L, idx, known, "text");
  lua_getfield(L, idx, "field");
  if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "text.field must be a string");
  tc->field.ptr = lua_tolstring(L, -1, &tc->field.len);
  lua_pop(L, 1);
  lua_getfield(L, idx, "tokenizer");
  int fn = lua_type(L, -1) == LUA_TFUNCTION;
  lua_pop(L, 1);
  tc->tokenizer = fn ? NULL : opt_string(L, idx, "tokenizer");
  if (fn) tc->tokenizer = LUA_FN_TOKENIZER; /* the caller registers it */
  tc->stemmer = opt_string(L, idx, "stemmer");
  tc->remove_diacritics = (int)opt_int(L, idx, "remove_diacritics", -1, 0, 3);
  tc->case_sensitive = opt_bool(L, idx, "case_sensitive", 0);
  tc->k1 = opt_number(L, idx, "k1", tc->k1);
  tc->b = opt_number(L, idx, "b", tc->b);
  lua_getfield(L, idx, "stopwords");
  if (!lua_isnil(L, -1)) {
    if (!lua_istable(L, -1)) luaL_error(L, "stopwords must be an array of strings");
    size_t n = lua_objlen(L, -1);
    omen_str *words = lua_newuserdata(L, (n ? n : 1) * sizeof *words);
    for (size_t i = 0; i < n; i++) {
      lua_rawgeti(L, -2, (int)i + 1);
      if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "stopword %d is not a string", (int)i + 1);
      words[i].ptr = lua_tolstring(L, -1, &words[i].len);
      lua_pop(L, 1);
    }
    tc->stopwords = words;
    tc->n_stopwords = n;
    lua_remove(L, -2); /* the array stays in the options; the copy on the stack */
  } else {
    lua_pop(L, 1);
  }
}

static int db_create_collection(lua_State *L)
{
  ldb *d = check_ldb(L, 1);
  const char *name = check_cstring(L, 2, "collection name");
  luaL_checktype(L, 3, LUA_TTABLE);
  static const char *const known[] = {"dim", "metric", "m", "ef_construction",
                                      "ef_search", "quantization", "text", NULL};
  check_keys(L, 3, known, "collection");
  lua_getfield(L, 3, "dim");
  if (lua_isnil(L, -1)) luaL_error(L, "dim is required");
  lua_pop(L, 1);
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, 0);
  cfg.dim = (uint32_t)opt_int(L, 3, "dim", 0, 1, OMEN_MAX_DIM);
  /* The engine checks the ranges of the rest; here only that they fit. */
  cfg.m = (uint32_t)opt_int(L, 3, "m", cfg.m, 0, UINT32_MAX);
  cfg.ef_construction = (uint32_t)opt_int(L, 3, "ef_construction",
                                          cfg.ef_construction, 0, UINT32_MAX);
  cfg.ef_search = (uint32_t)opt_int(L, 3, "ef_search", cfg.ef_search, 0,
                                    UINT32_MAX);
  lua_getfield(L, 3, "metric");
  if (!lua_isnil(L, -1)) {
    const char *metric = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    cfg.metric = omen_metric_from_name(metric);
    if (!cfg.metric) unknown_name(L, "metric", metric, omen_metric_at);
  }
  lua_pop(L, 1);
  lua_getfield(L, 3, "quantization");
  if (!lua_isnil(L, -1)) {
    const char *quant = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    int q = omen_quant_from_name(quant);
    if (q < 0) unknown_name(L, "quantization", quant, omen_quantization_at);
    cfg.quantization = (omen_quant)q;
  }
  lua_pop(L, 1);
  omen_text_config tc;
  lua_getfield(L, 3, "text"); /* stays on the stack: tc points into it */
  int text = !lua_isnil(L, -1);
  if (text) check_text_config(L, lua_gettop(L), &tc);
  omen_coll *c;
  int rc = omen_coll_create(d->db, name, &cfg, &c);
  if (rc) return failed(L, d->db, rc);
  /* A function tokenizer takes the collection's name once that is its. */
  if (text && ((rc = register_text_fn(L, d, lua_gettop(L), name, &tc)) ||
               (rc = omen_text_index(c, &tc)))) { /* no half-made collection stays */
    lua_pushstring(L, omen_errmsg(d->db));
    omen_coll_close(c);
    omen_coll_drop(d->db, name);
    return push_fail(L, lua_tostring(L, -1));
  }
  return push_coll(L, c);
}

static int db_collection(lua_State *L)
{
  ldb *d = check_ldb(L, 1);
  const char *name = check_cstring(L, 2, "collection name");
  omen_coll *c;
  int rc = omen_coll_open(d->db, name, &c);
  if (rc) return failed(L, d->db, rc);
  return push_coll(L, c);
}

static int db_collections(lua_State *L)
{
  ldb *d = check_ldb(L, 1);
  size_t need = 0, count = 0, cap = 0;
  char *buf = NULL;
  for (;;) { /* the catalog may grow between the two calls */
    int rc = omen_coll_names(d->db, buf, cap, &need, &count);
    if (rc) return failed(L, d->db, rc);
    if (buf && need <= cap) break;
    cap = need + 64;
    buf = lua_newuserdata(L, cap);
  }
  lua_createtable(L, (int)count, 0);
  const char *p = buf;
  for (size_t i = 0; i < count; i++) {
    size_t len = strlen(p);
    lua_pushlstring(L, p, len);
    lua_rawseti(L, -2, (int)i + 1);
    p += len + 1;
  }
  return 1;
}

static int db_drop_collection(lua_State *L)
{
  ldb *d = check_ldb(L, 1);
  int rc = omen_coll_drop(d->db, check_cstring(L, 2, "collection name"));
  if (rc && rc != OMEN_NOTFOUND) return failed(L, d->db, rc);
  lua_pushboolean(L, rc == OMEN_OK);
  return 1;
}

/* -- Collection methods ------------------------------------------------------- */

/* Let go of the collection: c:close(), and the collector. Idempotent. */
static void release_coll(lcoll *c)
{
  omen_result_free(c->res);
  for (size_t i = 0; i < c->n_batch; i++) omen_result_free(c->batch[i]);
  free(c->batch);
  c->batch = NULL;
  c->n_batch = 0;
  omen_coll_close(c->c);
  c->res = NULL;
  c->c = NULL;
}

static int coll_gc(lua_State *L)
{
  release_coll(luaL_checkudata(L, 1, COLL_MT));
  return 0;
}

static int coll_close(lua_State *L)
{
  release_coll(luaL_checkudata(L, 1, COLL_MT));
  lua_pushboolean(L, 1);
  return 1;
}

static int coll_tostring(lua_State *L)
{
  lcoll *c = luaL_checkudata(L, 1, COLL_MT);
  if (c->c) lua_pushfstring(L, "omen.collection(%s)", omen_coll_name(c->c));
  else lua_pushliteral(L, "omen.collection(closed)");
  return 1;
}

static const char *check_id(lua_State *L, int idx, size_t *len)
{
  if (lua_type(L, idx) != LUA_TSTRING)
    luaL_error(L, "id must be a string (got %s)", luaL_typename(L, idx));
  return lua_tolstring(L, idx, len);
}

static int coll_upsert(lua_State *L)
{
  lcoll *c = check_lcoll(L, 1);
  size_t id_len, n_fields = 0, n_items = 0;
  lua_settop(L, 4);
  const char *id = check_id(L, 2, &id_len);
  const float *vec = check_vec(L, 3, c->dim, NULL, "vector", "");
  count_meta(L, 4, &n_fields, &n_items, "");
  omen_field *fields = lua_newuserdata(L, (n_fields + 1) * sizeof(omen_field));
  omen_str *items = lua_newuserdata(L, (n_items + 1) * sizeof(omen_str));
  size_t n = to_fields(L, 4, fields, &items, "");
  int rc = omen_upsert(c->c, id, id_len, vec, fields, n);
  if (rc) return coll_error(L, c, rc);
  lua_pushboolean(L, 1);
  return 1;
}

/* Collect the vectors of a batch into one flat buffer (or use the caller's);
** ids (NULL for queries) name the records in messages. */
static const float *batch_vectors(lua_State *L, lcoll *c, int idx, size_t n,
                                  const omen_str *ids, const char *what)
{
  if (lua_type(L, idx) == LUA_TCDATA_) return check_vec(L, idx, c->dim, NULL, what, "");
  if (!lua_istable(L, idx))
    luaL_error(L, "%s must be an array of vectors or an FFI float buffer", what);
  if (ids && lua_objlen(L, idx) != n)
    luaL_error(L, "got %d ids but %d vectors", (int)n, (int)lua_objlen(L, idx));
  float *flat = scratch_floats(L, n * c->dim);
  int top = lua_gettop(L);
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, idx, (int)i + 1);
    where w;
    char item[48];
    snprintf(item, sizeof item, "query %zu", i + 1);
    const float *v = ids ? check_vec(L, top + 1, c->dim, flat + i * c->dim, "vector",
                                     record_at(&w, i, ids[i].ptr, ids[i].len))
                         : check_vec(L, top + 1, c->dim, flat + i * c->dim, item, "");
    if (v != flat + i * c->dim) memcpy(flat + i * c->dim, v, c->dim * sizeof(float));
    lua_settop(L, top);
  }
  return flat;
}

/* metas is an array for the n ids: holes (nil) are records without
** metadata, but its last entry must be the n-th, so an array cut short is
** not taken for one whose tail has none (give false there). */
static void check_metas_length(lua_State *L, int idx, size_t n)
{
  double last = 0;
  for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
    double k = lua_type(L, -2) == LUA_TNUMBER ? lua_tonumber(L, -2) : -1;
    if (!(k >= 1 && k == floor(k)))
      luaL_error(L, "metas must be an array (it has the key %s)",
                 lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : luaL_typename(L, -2));
    if (k > last) last = k;
  }
  if (last != (double)n && (n || last))
    luaL_error(L, "got %d ids but metas up to [%.0f] (a record without metadata "
               "takes false or {})", (int)n, last);
}

static int coll_upsert_batch(lua_State *L)
{
  lcoll *c = check_lcoll(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 5);
  size_t n = lua_objlen(L, 2);
  unsigned threads = 0;
  if (!lua_isnil(L, 5)) {
    luaL_checktype(L, 5, LUA_TTABLE);
    static const char *const known[] = {"threads", NULL};
    check_keys(L, 5, known, "upsert_batch");
    threads = (unsigned)opt_int(L, 5, "threads", 0, 0, 1024);
  }
  if (!lua_isnil(L, 4)) luaL_checktype(L, 4, LUA_TTABLE);
  omen_str *ids = lua_newuserdata(L, (n + 1) * sizeof(omen_str));
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, 2, (int)i + 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "ids[%d] must be a string (got %s)", (int)i + 1,
                 luaL_typename(L, -1));
    ids[i].ptr = lua_tolstring(L, -1, &ids[i].len); /* kept alive by ids */
    lua_pop(L, 1);
  }
  const float *vecs = batch_vectors(L, c, 3, n, ids, "vectors");
  omen_meta *metas = NULL;
  if (!lua_isnil(L, 4)) {
    size_t n_fields = 0, n_items = 0;
    check_metas_length(L, 4, n);
    int top = lua_gettop(L);
    for (size_t i = 0; i < n; i++) {
      lua_rawgeti(L, 4, (int)i + 1);
      where w;
      count_meta(L, top + 1, &n_fields, &n_items, record_at(&w, i, ids[i].ptr, ids[i].len));
      lua_settop(L, top);
    }
    metas = lua_newuserdata(L, (n + 1) * sizeof(omen_meta));
    omen_field *f = lua_newuserdata(L, (n_fields + 1) * sizeof(omen_field));
    omen_str *items = lua_newuserdata(L, (n_items + 1) * sizeof(omen_str));
    top = lua_gettop(L);
    for (size_t i = 0; i < n; i++) {
      lua_rawgeti(L, 4, (int)i + 1);
      metas[i].fields = f;
      where w;
      metas[i].n = to_fields(L, top + 1, f, &items, record_at(&w, i, ids[i].ptr, ids[i].len));
      f += metas[i].n;
      lua_settop(L, top);
    }
  }
  int rc = omen_upsert_batch(c->c, n, ids, vecs, metas, threads);
  if (rc) return coll_error(L, c, rc);
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}

static int coll_get(lua_State *L)
{
  lcoll *c = check_lcoll(L, 1);
  size_t len;
  const char *id = check_id(L, 2, &len);
  int rc = omen_get(c->c, id, len, c->res);
  if (rc == OMEN_NOTFOUND) {
    lua_pushnil(L);
    return 1;
  }
  if (rc) return coll_error(L, c, rc);
  const omen_hit *h = omen_result_hit(c->res, 0);
  push_floats(L, h->vec, c->dim);
  push_meta(L, h);
  return 2;
}

static int coll_delete(lua_State *L)
{
  lcoll *c = check_lcoll(L, 1);
  size_t len;
  const char *id = check_id(L, 2, &len);
  int rc = omen_delete(c->c, id, len);
  if (rc && rc != OMEN_NOTFOUND) return coll_error(L, c, rc);
  lua_pushboolean(L, rc == OMEN_OK);
  return 1;
}

static int coll_count(lua_State *L)
{
  lcoll *c = check_lcoll(L, 1);
  omen_filter *f = check_filter(L, 2, omen_coll_db(c->c));
  uint64_t n;
  int rc = omen_count_where(c->c, f, &n);
  omen_filter_free(f);
  if (rc) return coll_error(L, c, rc);
  lua_pushnumber(L, (lua_Number)n);
  return 1;
}

static int coll_delete_where(lua_State *L)
{
  lcoll *c = check_lcoll(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  omen_filter *f = check_filter(L, 2, omen_coll_db(c->c));
  if (!f) return luaL_error(L, "delete_where needs a condition ({} would delete everything)");
  uint64_t n;
  int rc = omen_delete_where(c->c, f, &n);
  omen_filter_free(f);
  if (rc) return coll_error(L, c, rc);
  lua_pushnumber(L, (lua_Number)n);
  return 1;
}

/* fusion = "rrf" | "linear" | {method = "rrf", k = 60, vector = 1, text = 1}
** | {method = "linear", alpha = 0.5}. */
static void check_fusion(lua_State *L, int idx, omen_search_opts *o)
{
  lua_getfield(L, idx, "fusion");
  int t = lua_gettop(L);
  const char *method = lua_type(L, t) == LUA_TSTRING ? lua_tostring(L, t) : NULL;
  if (lua_istable(L, t)) {
    static const char *const known[] = {"method", "k", "vector", "text", "alpha", NULL};
    check_keys(L, t, known, "fusion");
    method = opt_string(L, t, "method");
    if (!method) { /* alpha alone means a weighted sum */
      lua_getfield(L, t, "alpha");
      method = lua_isnil(L, -1) ? "rrf" : "linear";
      lua_pop(L, 1);
    }
  } else if (!lua_isnil(L, t) && !method) {
    luaL_error(L, "fusion must be \"rrf\", \"linear\" or a table (got %s)",
               luaL_typename(L, t));
  }
  if (method && !strcmp(method, "linear")) o->fusion = OMEN_FUSION_LINEAR;
  else if (method && strcmp(method, "rrf"))
    luaL_error(L, "unknown fusion method '%s' (rrf or linear)", method);
  if (lua_istable(L, t)) { /* each setting with its method */
    static const char *const rrf_only[] = {"k", "vector", "text", NULL};
    lua_getfield(L, t, "alpha");
    int alpha = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (alpha && o->fusion != OMEN_FUSION_LINEAR)
      luaL_error(L, "fusion alpha goes with method = \"linear\"");
    for (int i = 0; rrf_only[i] && o->fusion == OMEN_FUSION_LINEAR; i++) {
      lua_getfield(L, t, rrf_only[i]);
      if (!lua_isnil(L, -1)) luaL_error(L, "fusion %s goes with method = \"rrf\"", rrf_only[i]);
      lua_pop(L, 1);
    }
    o->rrf_k = (float)opt_number(L, t, "k", o->rrf_k);
    o->vector_weight = (float)opt_number(L, t, "vector", o->vector_weight);
    o->text_weight = (float)opt_number(L, t, "text", o->text_weight);
    o->alpha = (float)opt_number(L, t, "alpha", o->alpha);
  }
  lua_pop(L, 1);
}

/* Options of search, and of search_batch with its own (`batch`) too. */
static void check_search_opts(lua_State *L, int idx, omen_search_opts *o, int batch)
{
  if (lua_type(L, idx) == LUA_TNUMBER) {
    double k = lua_tonumber(L, idx);
    if (!(k >= 1 && k <= OMEN_MAX_K && k == floor(k)))
      luaL_error(L, "k must be an integer between 1 and %d (got %s)", (int)OMEN_MAX_K,
                 lua_tostring(L, idx));
    o->k = (uint32_t)k;
    return;
  }
  if (!lua_istable(L, idx))
    luaL_error(L, "search takes k or an options table (got %s)",
               luaL_typename(L, idx));
  static const char *const known[] = {"k", "ef", "exact", "with_meta", "with_vectors",
                                      "filter", "text", "fusion", "depth", NULL};
  static const char *const known_batch[] = {"k", "ef", "exact", "with_meta", "with_vectors",
                                            "filter", "threads", "n", "text", "fusion",
                                            "depth", NULL};
  check_keys(L, idx, batch ? known_batch : known, batch ? "search_batch" : "search");
  o->k = (uint32_t)opt_int(L, idx, "k", 10, 1, OMEN_MAX_K);
  o->ef = (uint32_t)opt_int(L, idx, "ef", 0, 1, OMEN_MAX_EF);
  o->exact = opt_bool(L, idx, "exact", 0);
  o->with = (opt_bool(L, idx, "with_meta", 1) ? OMEN_WITH_META : 0) |
            (opt_bool(L, idx, "with_vectors", 0) ? OMEN_WITH_VECTOR : 0);
  o->text = opt_string(L, idx, "text");
  if (o->text) {
    lua_getfield(L, idx, "text");
    o->text_len = lua_objlen(L, -1);
    lua_pop(L, 1);
    if (!o->text_len) o->text = ""; /* empty: no terms, no hits */
  }
  o->depth = (uint32_t)opt_int(L, idx, "depth", 0, 1, OMEN_MAX_K);
  check_fusion(L, idx, o);
  lua_getfield(L, idx, "fusion");
  int fusion = !lua_isnil(L, -1);
  lua_pop(L, 1);
  if ((fusion || o->depth) && !o->text) luaL_error(L, "fusion and depth go with text");
}

/* The hits of a result as an array of {id, distance, meta, vector}. */
#define WITH_DISTANCE 0x100u /* beside OMEN_WITH_*: hits of a search */

static void push_hits(lua_State *L, lcoll *c, const omen_result *r, unsigned with)
{
  size_t n = omen_result_count(r);
  int fields = 2 + !!(with & OMEN_WITH_META) + !!(with & OMEN_WITH_VECTOR);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    const omen_hit *h = omen_result_hit(r, i);
    lua_createtable(L, 0, fields);
    lua_pushlstring(L, h->id.ptr, h->id.len);
    lua_setfield(L, -2, "id");
    if ((with & WITH_DISTANCE) && !isnan(h->distance)) {
      lua_pushnumber(L, h->distance);
      lua_setfield(L, -2, "distance");
    }
    if ((with & WITH_DISTANCE) && !isnan(h->score)) {
      lua_pushnumber(L, h->score);
      lua_setfield(L, -2, "score");
    }
    if (with & OMEN_WITH_META) {
      push_meta(L, h);
      lua_setfield(L, -2, "meta");
    }
    if (h->vec) {
      push_floats(L, h->vec, c->dim);
      lua_setfield(L, -2, "vector");
    }
    lua_rawseti(L, -2, (int)i + 1);
  }
}

static int coll_search(lua_State *L)
{
  lcoll *c = check_lcoll(L, 1);
  lua_settop(L, 3);
  const float *q = lua_isnil(L, 2) && lua_istable(L, 3) ? NULL
                   : check_vec(L, 2, c->dim, NULL, "query", "");
  omen_search_opts o;
  omen_search_opts_init(&o, 10);
  omen_filter *f = NULL;
  if (!lua_isnil(L, 3)) {
    check_search_opts(L, 3, &o, 0);
    if (lua_istable(L, 3)) {
      lua_getfield(L, 3, "filter");
      o.filter = f = check_filter(L, -1, omen_coll_db(c->c));
    }
  }
  if (!q && !o.text) {
    omen_filter_free(f);
    return luaL_error(L, "search needs a query vector, or text in its options");
  }
  int rc = omen_search(c->c, q, &o, c->res);
  omen_filter_free(f);
  if (rc) return coll_error(L, c, rc);
  push_hits(L, c, c->res, o.with | WITH_DISTANCE);
  return 1;
}

/* Results for n queries, reused from call to call. */
static omen_result *const *batch_results(lua_State *L, lcoll *c, size_t n)
{
  if (n <= c->n_batch) return c->batch;
  omen_result **grown = realloc(c->batch, n * sizeof *grown);
  if (!grown) luaL_error(L, "out of memory");
  c->batch = grown;
  for (; c->n_batch < n; c->n_batch++)
    if (omen_result_new(omen_coll_db(c->c), &c->batch[c->n_batch]))
      luaL_error(L, "out of memory");
  return c->batch;
}

/* search_batch(queries, k or opts[, n]): queries is an array of vectors,
** or (from lua/omen.lua) a float pointer to n of them. */
static int coll_search_batch(lua_State *L)
{
  lcoll *c = check_lcoll(L, 1);
  lua_settop(L, 4);
  size_t n = lua_type(L, 2) == LUA_TCDATA_ ? (size_t)luaL_checknumber(L, 4)
             : lua_istable(L, 2) ? lua_objlen(L, 2) : 0;
  const float *qs = batch_vectors(L, c, 2, n, NULL, "queries");
  omen_result *const *res = batch_results(L, c, n); /* before the filter: may raise */
  omen_search_opts o;
  omen_search_opts_init(&o, 10);
  unsigned threads = 0;
  omen_filter *f = NULL;
  if (!lua_isnil(L, 3)) {
    check_search_opts(L, 3, &o, 1);
    if (lua_istable(L, 3)) {
      threads = (unsigned)opt_int(L, 3, "threads", 0, 0, 1024);
      lua_getfield(L, 3, "filter");
      o.filter = f = check_filter(L, -1, omen_coll_db(c->c));
      lua_pop(L, 1);
    }
  }
  int rc = omen_search_batch(c->c, n, qs, &o, res, threads);
  omen_filter_free(f);
  if (rc) return coll_error(L, c, rc);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    push_hits(L, c, res[i], o.with | WITH_DISTANCE);
    lua_rawseti(L, -2, (int)i + 1);
  }
  return 1;
}

/* The dimension cached in the handle, without touching the collection: for
** lua/omen.lua to size-check FFI vectors (the call itself checks the rest). */
static int coll_cached_dim(lua_State *L)
{
  lua_pushinteger(L, check_lcoll(L, 1)->dim);
  return 1;
}

/* list([cursor[, n[, opts]]]): up to n records (1000) from cursor (0) as
** {id, vector, meta}, and the cursor of the next page (nil at the end). */
static int coll_list(lua_State *L)
{
  lcoll *c = check_lcoll(L, 1);
  double from = luaL_optnumber(L, 2, 0), n = luaL_optnumber(L, 3, 1000);
  if (!(from >= 0 && from == floor(from) && from <= 4294967296.0))
    return luaL_error(L, "cursor must be a non-negative integer (got %s)", lua_tostring(L, 2));
  if (!(n >= 1 && n <= OMEN_MAX_K && n == floor(n)))
    return luaL_error(L, "n must be an integer between 1 and %d", (int)OMEN_MAX_K);
  unsigned with = OMEN_WITH_META | OMEN_WITH_VECTOR;
  if (!lua_isnoneornil(L, 4)) {
    luaL_checktype(L, 4, LUA_TTABLE);
    static const char *const known[] = {"with_meta", "with_vectors", NULL};
    check_keys(L, 4, known, "list");
    with = (opt_bool(L, 4, "with_meta", 1) ? OMEN_WITH_META : 0) |
           (opt_bool(L, 4, "with_vectors", 1) ? OMEN_WITH_VECTOR : 0);
  }
  uint64_t cursor = (uint64_t)from;
  int rc = omen_list(c->c, &cursor, (size_t)n, with, c->res);
  if (rc) return coll_error(L, c, rc);
  push_hits(L, c, c->res, with);
  if (omen_result_count(c->res)) lua_pushnumber(L, (lua_Number)cursor);
  else lua_pushnil(L);
  return 2;
}

/* text_index(field or options): index a field of every record. */
static int coll_text_index(lua_State *L)
{
  lcoll *c = check_lcoll(L, 1);
  lua_settop(L, 2);
  omen_text_config tc;
  check_text_config(L, 2, &tc);
  if (tc.tokenizer && !strcmp(tc.tokenizer, LUA_FN_TOKENIZER))
    return luaL_error(L, "text_index takes a tokenizer by name: register the function "
                      "with db:register_tokenizer(name, fn) first");
  int rc = omen_text_index(c->c, &tc);
  if (rc) return coll_error(L, c, rc);
  lua_pushboolean(L, 1);
  return 1;
}

static int coll_info(lua_State *L)
{
  lcoll *c = check_lcoll(L, 1);
  omen_coll_info info;
  int rc = omen_coll_info_get(c->c, &info);
  if (rc) return coll_error(L, c, rc);
  lua_createtable(L, 0, 14);
  lua_pushstring(L, omen_coll_name(c->c));
  lua_setfield(L, -2, "name");
#define SETNUM(name, v) (lua_pushnumber(L, (lua_Number)(v)), lua_setfield(L, -2, name))
  SETNUM("dim", info.config.dim);
  lua_pushstring(L, omen_metric_name(info.config.metric));
  lua_setfield(L, -2, "metric");
  lua_pushstring(L, omen_quant_name(info.config.quantization));
  lua_setfield(L, -2, "quantization");
  SETNUM("m", info.config.m);
  SETNUM("ef_construction", info.config.ef_construction);
  SETNUM("ef_search", info.config.ef_search);
  SETNUM("count", info.count);
  SETNUM("slots", info.slots);
  SETNUM("deleted", info.deleted);
  SETNUM("memory", info.memory);
  SETNUM("levels", info.max_level + (info.slots ? 1 : 0));
  SETNUM("graph_inserts", info.graph_inserts);
  if (info.text_field[0]) {
    lua_createtable(L, 0, 4);
    lua_pushstring(L, info.text_field);
    lua_setfield(L, -2, "field");
    SETNUM("docs", info.text_docs);
    SETNUM("terms", info.text_terms);
    SETNUM("bytes", info.text_bytes);
    lua_setfield(L, -2, "text");
  }
#undef SETNUM
  return 1;
}

/* A collection handle whose collection still exists (not dropped, its
** database not closed). */
static lcoll *check_live(lua_State *L, int idx)
{
  lcoll *c = check_lcoll(L, idx);
  uint64_t n;
  if (omen_count(c->c, &n)) luaL_error(L, "%s", omen_errmsg(omen_coll_db(c->c)));
  return c;
}

static int coll_name(lua_State *L)
{
  lua_pushstring(L, omen_coll_name(check_live(L, 1)->c));
  return 1;
}

static int coll_dim(lua_State *L)
{
  lua_pushinteger(L, check_live(L, 1)->dim);
  return 1;
}

/* -- Registration ------------------------------------------------------------- */

static const luaL_Reg db_methods[] = {
  {"close", db_close},
  {"checkpoint", db_checkpoint},
  {"register_tokenizer", db_register_tokenizer},
  {"flush", db_flush},
  {"compact", db_compact},
  {"refresh", db_refresh},
  {"path", db_path},
  {"isa", db_isa},
  {"file_sizes", db_file_sizes},
  {"create_collection", db_create_collection},
  {"collection", db_collection},
  {"collections", db_collections},
  {"drop_collection", db_drop_collection},
  {NULL, NULL}};

static const luaL_Reg coll_methods[] = {
  {"upsert", coll_upsert},
  {"upsert_batch", coll_upsert_batch},
  {"get", coll_get},
  {"delete", coll_delete},
  {"delete_where", coll_delete_where},
  {"count", coll_count},
  {"search", coll_search},
  {"search_batch", coll_search_batch},
  {"list", coll_list},
  {"info", coll_info},
  {"text_index", coll_text_index},
  {"name", coll_name},
  {"dim", coll_dim},
  {"close", coll_close},
  {NULL, NULL}};

/* A metatable with its methods in __index; leaves the methods on the stack. */
static void new_type(lua_State *L, const char *name, const luaL_Reg *methods,
                     lua_CFunction gc, lua_CFunction tostring)
{
  luaL_newmetatable(L, name);
  lua_pushcfunction(L, gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushliteral(L, "omen handle");
  lua_setfield(L, -2, "__metatable");
  lua_newtable(L);
  luaL_register(L, NULL, methods);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "__index");
  lua_remove(L, -2);
}

int luaopen_omen(lua_State *L)
{
  if (luaL_loadbuffer(L, omen_lua, omen_lua_SIZE,
                      "=omen.lua"))
    return lua_error(L);
  lua_createtable(L, 0, 8); /* what the C side hands to omen.lua */
  new_type(L, DB_MT, db_methods, db_gc, db_tostring);
  lua_setfield(L, -2, "db_methods");
  new_type(L, COLL_MT, coll_methods, coll_gc, coll_tostring);
  lua_setfield(L, -2, "coll_methods");
  lua_pushcfunction(L, l_open);
  lua_setfield(L, -2, "open");
  lua_pushcfunction(L, coll_cached_dim);
  lua_setfield(L, -2, "coll_dim");
  lua_pushstring(L, omen_version());
  lua_setfield(L, -2, "version");
  lua_pushinteger(L, OMEN_MAX_K);
  lua_setfield(L, -2, "max_k");
  push_names(L, omen_metric_at);
  lua_setfield(L, -2, "metrics");
  push_names(L, omen_quantization_at);
  lua_setfield(L, -2, "quantizations");
  lua_call(L, 1, 1);
  return 1;
}
