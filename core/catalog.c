/*
** The catalog: a database's collections, sorted by name, and the calls that
** create, open, drop and list them (db.c opens and lists, after following
** the writer). Creating and dropping are logged like
** any write; recovery applies logged ones through omen__catalog_create and
** omen__catalog_drop with log = 0.
**
** Calls: coll (making and releasing a collection), wal. Takes db->mu.
*/
#include "port.h"

#include <string.h>

#include "catalog.h"
#include "coll.h"
#include "utf8.h"
#include "wal.h"

/* Position of name in the sorted catalog; *found tells whether it is there. */
static size_t catalog_find(const omen_db *db, const char *name, size_t len,
                           int *found)
{
  size_t lo = 0, hi = db->n_colls;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    const omen_coll *c = db->colls[mid];
    size_t n = c->name_len < len ? c->name_len : len;
    int cmp = memcmp(c->name, name, n);
    if (!cmp) cmp = (c->name_len > len) - (c->name_len < len);
    if (!cmp) {
      *found = 1;
      return mid;
    }
    if (cmp < 0) lo = mid + 1;
    else hi = mid;
  }
  *found = 0;
  return lo;
}

/* Room in the catalog for one more collection. */
static int catalog_reserve(omen_db *db)
{
  if (db->n_colls < db->cap_colls) return OMEN_OK;
  size_t cap = omen__grow_cap(db->cap_colls, db->n_colls + 1, 8);
  omen_coll **p = omen__realloc(&db->mem, db->colls,
                                db->cap_colls * sizeof *p, cap * sizeof *p);
  if (!p) return OMEN_NOMEM;
  db->colls = p;
  db->cap_colls = cap;
  return OMEN_OK;
}

int omen__catalog_add(omen_db *db, omen_coll *c)
{
  int found;
  size_t at = catalog_find(db, c->name, c->name_len, &found);
  if (found) return OMEN_EXISTS;
  int rc = catalog_reserve(db);
  if (rc) return rc;
  memmove(db->colls + at + 1, db->colls + at,
          (db->n_colls - at) * sizeof(omen_coll *));
  db->colls[at] = c;
  db->n_colls++;
  c->in_catalog = 1;
  return OMEN_OK;
}

static int check_name(omen_db *db, const char *name, size_t *len)
{
  if (!name) return omen__fail(db, OMEN_INVALID, "collection name is missing");
  *len = strlen(name);
  if (*len == 0 || *len > OMEN_MAX_NAME)
    return omen__fail(db, OMEN_INVALID,
                      "collection name must be 1 to %d bytes", OMEN_MAX_NAME);
  return OMEN_OK;
}

int omen__catalog_lock(omen_db *db)
{
  int rc = omen__reentered(db);
  if (rc) return rc;
  pthread_mutex_lock(&db->mu);
  if (!db->closed) return OMEN_OK;
  pthread_mutex_unlock(&db->mu);
  return omen__fail(db, OMEN_CLOSED, "database is closed");
}

static void add_handle(omen_db *db, omen_coll *c)
{
  c->handles++;
  db->handles++;
}

static void emit_create(omen__sink *s, const void *arg)
{
  const omen_coll *c = arg;
  omen__sink_str(s, c->name, c->name_len);
  uint32_t cfg[] = {c->cfg.dim, (uint32_t)c->cfg.metric, c->cfg.m,
                    c->cfg.ef_construction, c->cfg.ef_search,
                    (uint32_t)c->cfg.quantization};
  for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) omen__sink_u32(s, cfg[i]);
}

static void emit_name(omen__sink *s, const void *arg)
{
  const omen_coll *c = arg;
  omen__sink_str(s, c->name, c->name_len);
}

int omen__catalog_create(omen_db *db, const char *name, const omen_coll_config *cfg,
                         int log, omen_coll **out)
{
  size_t len;
  int rc = check_name(db, name, &len);
  if (!rc && !omen__utf8_valid(name, len))
    rc = omen__fail(db, OMEN_INVALID, "collection name is not valid UTF-8");
  if (rc || (rc = omen__coll_check_config(db, cfg))) return rc;
  if ((rc = omen__catalog_lock(db))) return rc;
  int found;
  catalog_find(db, name, len, &found);
  omen_coll *c = NULL;
  if (found)
    rc = omen__fail(db, OMEN_EXISTS, "collection '%s' already exists", name);
  else if ((rc = omen__coll_new(db, name, len, cfg, &c)) ||
           (rc = catalog_reserve(db)) ||
           (log && (rc = omen__wal_append(db, OMEN__LOG_CREATE, emit_create, c))) ||
           (rc = omen__catalog_add(db, c))) { /* cannot fail once reserved */
    if (c) omen__coll_free_shell(c);
    if (rc != OMEN_IOERR)
      omen__fail(db, rc, "cannot create collection: %s", omen_strerror(rc));
  } else {
    atomic_store(&db->dirty, 1);
    if (out) {
      add_handle(db, c);
      *out = c;
    }
  }
  pthread_mutex_unlock(&db->mu);
  return rc;
}

int omen_coll_create(omen_db *db, const char *name, const omen_coll_config *cfg,
                     omen_coll **out)
{
  if (!db) return OMEN_INVALID;
  if (!out) return omen__missing(db, "out");
  *out = NULL;
  if (!cfg) return omen__missing(db, "collection config");
  int rc = omen__check_writable(db);
  if (rc) return rc;
  omen_coll_config chosen = *cfg;
  if (chosen.quantization == OMEN_QUANT_AUTO)
    chosen.quantization = omen__quant_auto(chosen.dim);
  return omen__catalog_create(db, name, &chosen, omen__wal_active(db), out);
}

omen_coll *omen__catalog_get(omen_db *db, const char *name)
{
  int found;
  pthread_mutex_lock(&db->mu);
  size_t at = catalog_find(db, name, strlen(name), &found);
  omen_coll *c = found ? db->colls[at] : NULL;
  pthread_mutex_unlock(&db->mu);
  return c;
}

/* Take db->mu and find the collection named name at *at; on failure (no
** such collection, a bad name, a closed database) nothing is held. */
static int lock_named(omen_db *db, const char *name, size_t *at)
{
  size_t len;
  int found, rc = check_name(db, name, &len);
  if (rc || (rc = omen__catalog_lock(db))) return rc;
  *at = catalog_find(db, name, len, &found);
  if (found) return OMEN_OK;
  pthread_mutex_unlock(&db->mu);
  return omen__fail(db, OMEN_NOTFOUND, "no collection named '%s'", name);
}

int omen__catalog_open(omen_db *db, const char *name, omen_coll **out)
{
  size_t at;
  int rc = lock_named(db, name, &at);
  if (rc) return rc;
  *out = db->colls[at];
  add_handle(db, *out);
  pthread_mutex_unlock(&db->mu);
  return OMEN_OK;
}

int omen__catalog_drop(omen_db *db, const char *name, int log)
{
  size_t at;
  int rc = lock_named(db, name, &at);
  if (rc) return rc;
  /* Not dropped if the log could not record it. */
  if (!log || !(rc = omen__wal_append(db, OMEN__LOG_DROP, emit_name, db->colls[at]))) {
    omen_coll *c = db->colls[at];
    memmove(db->colls + at, db->colls + at + 1,
            (db->n_colls - at - 1) * sizeof(omen_coll *));
    db->n_colls--;
    c->in_catalog = 0;
    if (c->handles) omen__coll_kill(c, OMEN_DROPPED);
    else omen__coll_free_shell(c);
    atomic_store(&db->dirty, 1);
  }
  pthread_mutex_unlock(&db->mu);
  return rc;
}

int omen_coll_drop(omen_db *db, const char *name)
{
  if (!db) return OMEN_INVALID;
  int rc = omen__check_writable(db);
  return rc ? rc : omen__catalog_drop(db, name, omen__wal_active(db));
}

int omen__catalog_names(omen_db *db, char *buf, size_t cap, size_t *needed,
                        size_t *count)
{
  int rc = omen__catalog_lock(db);
  if (rc) return rc;
  size_t need = 0;
  for (size_t i = 0; i < db->n_colls; i++) need += db->colls[i]->name_len + 1;
  *needed = need;
  *count = db->n_colls;
  if (buf && need <= cap) {
    for (size_t i = 0, at = 0; i < db->n_colls; i++) {
      memcpy(buf + at, db->colls[i]->name, db->colls[i]->name_len + 1);
      at += db->colls[i]->name_len + 1;
    }
  }
  pthread_mutex_unlock(&db->mu);
  return OMEN_OK;
}
