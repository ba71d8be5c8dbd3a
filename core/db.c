/*
** Databases: opening and closing, the catalog of collections, handle
** lifetimes and error messages. A database is closed once, but its memory
** lives on as long as collection handles do, so handles can be released in
** any order (as Lua's garbage collector does).
*/
#include "port.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "omen_int.h"
#include "utf8.h"

/* -- Small public helpers --------------------------------------------------- */

const char *omen_version(void) { return OMEN_VERSION; }

void omen_options_init(omen_options *o)
{
  memset(o, 0, sizeof *o);
}

void omen_coll_config_init(omen_coll_config *cfg, uint32_t dim)
{
  cfg->dim = dim;
  cfg->metric = OMEN_L2;
  cfg->m = 16;
  cfg->ef_construction = 200;
  cfg->ef_search = 64;
  cfg->quantization = OMEN_QUANT_NONE;
}

void omen_search_opts_init(omen_search_opts *o, uint32_t k)
{
  memset(o, 0, sizeof *o);
  o->k = k;
  o->with = OMEN_WITH_META;
}

const char *omen_path(omen_db *db)
{
  return db && db->path ? db->path : ":memory:";
}

int omen_file_sizes(omen_db *db, uint64_t *file_bytes, uint64_t *log_bytes)
{
  if (!db) return OMEN_INVALID;
  if (!file_bytes || !log_bytes) return omen__missing(db, !file_bytes ? "file_bytes" : "log_bytes");
  *file_bytes = *log_bytes = 0;
  if (!db->path) return OMEN_OK;
  struct stat st;
  if (stat(db->path, &st))
    return omen__fail(db, OMEN_IOERR, "cannot read the size of '%s': %s", db->path,
                      strerror(errno));
  *file_bytes = (uint64_t)st.st_size;
  size_t size;
  char *wal = omen__wal_path(db, &size);
  if (!wal) return omen__fail(db, OMEN_NOMEM, "out of memory");
  if (!stat(wal, &st)) *log_bytes = (uint64_t)st.st_size;
  omen__free(&db->mem, wal, size);
  return OMEN_OK;
}

static int lock_catalog(omen_db *db, int write);

/* -- Open and close --------------------------------------------------------- */

static void free_db(omen_db *db)
{
  omen__mem mem = db->mem;
  omen__wal_close(db, 0);
  pthread_mutex_destroy(&db->wal.mu);
  omen__storage_unmap(db);
  omen__free(&mem, db->colls, db->cap_colls * sizeof(omen_coll *));
  if (db->path) omen__free(&mem, db->path, strlen(db->path) + 1);
  if (db->lock_fd >= 0) close(db->lock_fd);
  pthread_mutex_destroy(&db->mu);
  omen__errs_destroy(&db->errs);
  omen__free(&mem, db, sizeof *db);
}

/* Forget what a failed or outdated load attached. */
static void discard(omen_db *db)
{
  for (size_t i = 0; i < db->n_colls; i++) omen__coll_free_shell(db->colls[i]);
  db->n_colls = 0;
  omen__storage_unmap(db);
}

#define LOAD_ATTEMPTS 200

/* Map the file and apply its log. A read-only open starts again when the
** writing process changed them under it (a checkpoint replaced the file). */
static int load(omen_db *db)
{
  int readonly = (db->flags & OMEN_OPEN_READONLY) != 0, rc;
  for (int attempt = 1;; attempt++) {
    rc = omen__storage_load(db);
    if (!rc && (db->flags & OMEN_OPEN_VERIFY)) rc = omen_verify(db);
    if (!rc) rc = omen__recover(db);
    if (!readonly || rc != OMEN__RETRY || attempt == LOAD_ATTEMPTS) break;
    discard(db);
    usleep((useconds_t)(attempt < 20 ? attempt : 20) * 500);
  }
  if (rc == OMEN__RETRY)
    rc = omen__fail(db, OMEN_LOCKED, "cannot open '%s': checkpoints of the "
                    "writing process kept replacing it; try again", db->path);
  return rc;
}

int omen_open(const char *path, const omen_options *opts, omen_db **out)
{
  omen_options defaults;
  if (!out) return OMEN_INVALID;
  *out = NULL;
  if (!opts) {
    omen_options_init(&defaults);
    opts = &defaults;
  }
  omen__mem mem;
  omen__mem_init(&mem, opts->alloc, opts->alloc_ud);
  omen_db *db = omen__calloc(&mem, sizeof *db);
  if (!db) return OMEN_NOMEM;
  db->mem = mem;
  db->flags = opts->flags;
  db->lock_fd = -1;
  if (omen__errs_init(&db->errs)) {
    omen__free(&mem, db, sizeof *db);
    return OMEN_ERROR;
  }
  if (pthread_mutex_init(&db->mu, NULL) || pthread_mutex_init(&db->wal.mu, NULL)) {
    omen__errs_destroy(&db->errs);
    omen__free(&mem, db, sizeof *db);
    return OMEN_ERROR;
  }
  omen__wal_init(db, opts);
  *out = db;
  if (!path || !strcmp(path, ":memory:")) return OMEN_OK;
  size_t len = strlen(path);
  if (len == 0) {
    db->closed = 1;
    return omen__fail(db, OMEN_INVALID, "database path is empty");
  }
  if (!(db->path = omen__malloc(&mem, len + 1))) {
    db->closed = 1;
    return omen__fail(db, OMEN_NOMEM, "out of memory");
  }
  memcpy(db->path, path, len + 1);
  if (opts->sync > OMEN_SYNC_OFF) {
    db->closed = 1;
    return omen__fail(db, OMEN_INVALID, "unknown sync mode %d", (int)opts->sync);
  }
  int rc = load(db);
  if (rc) {
    discard(db); /* leave a closed handle that only reports why */
    db->closed = 1;
  }
  return rc;
}

/* Write a checkpoint with every collection held still for it, then empty
** the log it folds in. */
static int save_locked(omen_db *db)
{
  for (size_t i = 0; i < db->n_colls; i++)
    pthread_rwlock_rdlock(&db->colls[i]->rw);
  int rc = omen__storage_save(db, db->generation + 1);
  if (!rc) rc = omen__wal_reset(db);
  for (size_t i = 0; i < db->n_colls; i++)
    pthread_rwlock_unlock(&db->colls[i]->rw);
  return rc;
}

int omen_flush(omen_db *db)
{
  if (!db) return OMEN_INVALID;
  int rc = lock_catalog(db, 0);
  if (rc) return rc;
  pthread_mutex_unlock(&db->mu);
  return omen__wal_active(db) ? omen__wal_flush(db, 1) : OMEN_OK;
}

int omen_verify(omen_db *db)
{
  if (!db) return OMEN_INVALID;
  int rc = lock_catalog(db, 0);
  if (rc) return rc;
  for (size_t i = 0; i < db->n_colls && !rc; i++) {
    omen_coll *c = db->colls[i];
    pthread_rwlock_wrlock(&c->rw);
    rc = omen__storage_check_all(c);
    pthread_rwlock_unlock(&c->rw);
  }
  pthread_mutex_unlock(&db->mu);
  return rc;
}

#define AUTO_COMPACT 0.25 /* share of deleted slots an automatic checkpoint
                             compacts (explicit ones and close leave the
                             numbering, and so search results, as they are) */

/* Compact the collections with at least min_share of their slots deleted. */
static int compact_locked(omen_db *db, double min_share)
{
  int rc = OMEN_OK;
  for (size_t i = 0; i < db->n_colls && !rc; i++)
    rc = omen__coll_compact(db->colls[i], min_share);
  return rc;
}

static int checkpoint_locked(omen_db *db, double min_share)
{
  int rc = OMEN_OK;
  if (db->closed)
    rc = omen__fail(db, OMEN_CLOSED, "database is closed");
  else if (db->path && !(db->flags & OMEN_OPEN_READONLY) &&
           !(rc = compact_locked(db, min_share)) &&
           atomic_exchange(&db->dirty, 0) && (rc = save_locked(db)))
    atomic_store(&db->dirty, 1);
  return rc;
}

int omen_checkpoint(omen_db *db)
{
  if (!db) return OMEN_INVALID;
  pthread_mutex_lock(&db->mu);
  int rc = checkpoint_locked(db, 2.0); /* a share above 1: never compacts */
  pthread_mutex_unlock(&db->mu);
  return rc;
}

int omen__auto_checkpoint(omen_db *db)
{
  pthread_mutex_lock(&db->mu);
  int rc = checkpoint_locked(db, AUTO_COMPACT);
  pthread_mutex_unlock(&db->mu);
  return rc;
}

int omen_compact(omen_db *db)
{
  if (!db) return OMEN_INVALID;
  int rc = lock_catalog(db, 1);
  if (rc) return rc;
  rc = db->path ? checkpoint_locked(db, 0) : compact_locked(db, 0);
  pthread_mutex_unlock(&db->mu);
  return rc;
}

int omen_close(omen_db *db)
{
  if (!db) return OMEN_OK;
  pthread_mutex_lock(&db->mu);
  if (db->closed) { /* a zombie, or a handle whose open failed */
    int gone = db->handles == 0;
    pthread_mutex_unlock(&db->mu);
    if (gone) free_db(db);
    return OMEN_OK;
  }
  int rc = OMEN_OK;
  if (db->path && !(db->flags & OMEN_OPEN_READONLY) && atomic_load(&db->dirty))
    rc = checkpoint_locked(db, 2.0);
  /* A failed checkpoint leaves the log, which holds every write. */
  if (rc) omen__wal_flush(db, 1);
  omen__wal_close(db, rc == OMEN_OK);
  db->closed = 1;
  if (db->lock_fd >= 0) { /* another process may open it now */
    close(db->lock_fd);
    db->lock_fd = -1;
  }
  for (size_t i = 0; i < db->n_colls; i++) {
    omen_coll *c = db->colls[i];
    c->in_catalog = 0;
    if (c->handles) omen__coll_kill(c, OMEN_CLOSED);
    else omen__coll_free_shell(c);
  }
  db->n_colls = 0;
  omen__storage_unmap(db); /* no collection points into it any more */
  int gone = db->handles == 0;
  pthread_mutex_unlock(&db->mu);
  if (gone) free_db(db);
  return rc;
}

/* -- Catalog ---------------------------------------------------------------- */

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

/* Lock db->mu for a catalog change; fails if closed (or read-only). */
static int lock_catalog(omen_db *db, int write)
{
  if (write && (db->flags & OMEN_OPEN_READONLY) && !db->replaying)
    return omen__fail(db, OMEN_READONLY, "database is read-only");
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

int omen_coll_create(omen_db *db, const char *name, const omen_coll_config *cfg,
                     omen_coll **out)
{
  size_t len;
  if (!db) return OMEN_INVALID;
  if (!out) return omen__missing(db, "out");
  *out = NULL;
  if (!cfg) return omen__missing(db, "collection config");
  int rc = check_name(db, name, &len);
  if (!rc && !omen__utf8_valid(name, len))
    rc = omen__fail(db, OMEN_INVALID, "collection name is not valid UTF-8");
  if (rc || (rc = omen__coll_check_config(db, cfg))) return rc;
  if ((rc = lock_catalog(db, 1))) return rc;
  int found;
  catalog_find(db, name, len, &found);
  omen_coll *c = NULL;
  if (found)
    rc = omen__fail(db, OMEN_EXISTS, "collection '%s' already exists", name);
  else if ((rc = omen__coll_new(db, name, len, cfg, &c)) ||
           (rc = catalog_reserve(db)) ||
           (omen__wal_active(db) &&
            (rc = omen__wal_append(db, OMEN__LOG_CREATE, emit_create, c))) ||
           (rc = omen__catalog_add(db, c))) { /* cannot fail once reserved */
    if (c) omen__coll_free_shell(c);
    if (rc != OMEN_IOERR)
      omen__fail(db, rc, "cannot create collection: %s", omen_strerror(rc));
  } else {
    add_handle(db, c);
    atomic_store(&db->dirty, 1);
    *out = c;
  }
  pthread_mutex_unlock(&db->mu);
  return rc;
}

int omen_coll_open(omen_db *db, const char *name, omen_coll **out)
{
  size_t len;
  if (!db) return OMEN_INVALID;
  if (!out) return omen__missing(db, "out");
  *out = NULL;
  int rc = check_name(db, name, &len);
  if (rc || (rc = lock_catalog(db, 0))) return rc;
  int found;
  size_t at = catalog_find(db, name, len, &found);
  if (!found) {
    rc = omen__fail(db, OMEN_NOTFOUND, "no collection named '%s'", name);
  } else {
    *out = db->colls[at];
    add_handle(db, *out);
  }
  pthread_mutex_unlock(&db->mu);
  return rc;
}

void omen_coll_close(omen_coll *c)
{
  if (!c) return;
  omen_db *db = c->db;
  pthread_mutex_lock(&db->mu);
  c->handles--;
  db->handles--;
  if (!c->in_catalog && c->handles == 0) omen__coll_free_shell(c);
  int gone = db->closed && db->handles == 0;
  pthread_mutex_unlock(&db->mu);
  if (gone) free_db(db);
}

int omen_coll_drop(omen_db *db, const char *name)
{
  size_t len;
  if (!db) return OMEN_INVALID;
  int rc = check_name(db, name, &len);
  if (rc || (rc = lock_catalog(db, 1))) return rc;
  int found;
  size_t at = catalog_find(db, name, len, &found);
  if (!found) {
    rc = omen__fail(db, OMEN_NOTFOUND, "no collection named '%s'", name);
  } else if (omen__wal_active(db) &&
             (rc = omen__wal_append(db, OMEN__LOG_DROP, emit_name, db->colls[at]))) {
    /* not dropped: the log could not record it */
  } else {
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

int omen_coll_names(omen_db *db, char *buf, size_t cap, size_t *needed,
                    size_t *count)
{
  if (!db) return OMEN_INVALID;
  if (!needed || !count) return omen__missing(db, !needed ? "needed" : "count");
  int rc = lock_catalog(db, 0);
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
