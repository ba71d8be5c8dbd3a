/*
** Databases: opening and closing, handle lifetimes, and the calls on a
** whole database (flush, verify, checkpoint, compact, interrupt, sizes). A
** database is closed once, but its memory lives on as long as collection
** handles do, so handles can be released in any order (as Lua's garbage
** collector does).
**
** Calls: follow (loading at open, and what a reader does before opening or
** listing collections), storage, catalog, checkpoint, wal, coll (releasing
** collections at close).
*/
#include "port.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "checkpoint.h"
#include "coll.h"
#include "follow.h"
#include "registry.h"
#include "storage.h"
#include "wal.h"

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
  cfg->quantization = OMEN_QUANT_AUTO;
}

void omen_search_opts_init(omen_search_opts *o, uint32_t k)
{
  memset(o, 0, sizeof *o);
  o->k = k;
  o->with = OMEN_WITH_META;
  o->rrf_k = 60;
  o->vector_weight = o->text_weight = 1;
  o->alpha = 0.5f;
}

const char *omen_isa(omen_db *db)
{
  return omen__isa_name(db ? db->isa : omen__isa_best());
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
  pthread_mutex_destroy(&db->follow_mu);
  omen__registry_free(db);
  omen__errs_destroy(&db->errs);
  omen__free(&mem, db, sizeof *db);
}

/* The kernels' instruction set: the best this CPU runs, capped by the
** environment's OMEN_ISA. */
static int choose_isa(omen_db *db)
{
  omen__isa best = omen__isa_best();
  const char *cap = getenv("OMEN_ISA");
  db->isa = best;
  if (!cap || !*cap) return OMEN_OK;
  int want = omen__isa_from_name(cap);
  if (want < 0)
    return omen__fail(db, OMEN_INVALID, "OMEN_ISA='%.40s' is not an instruction set "
                      "omen knows (scalar, avx2, avx512)", cap);
  if ((omen__isa)want < best) db->isa = (omen__isa)want;
  return OMEN_OK;
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
  if (pthread_mutex_init(&db->mu, NULL)) goto fail_mu;
  if (pthread_mutex_init(&db->wal.mu, NULL)) goto fail_wal;
  if (pthread_mutex_init(&db->follow_mu, NULL)) goto fail_follow;
  db->refresh_ns = opts->refresh_ms == OMEN_REFRESH_MANUAL ? UINT64_MAX
                                                            : (uint64_t)opts->refresh_ms * 1000000u;
  omen__wal_init(db, opts);
  *out = db;
  if (choose_isa(db)) {
    db->closed = 1;
    return OMEN_INVALID;
  }
  if (omen__registry_init(db, opts)) {
    db->closed = 1;
    return omen__fail(db, OMEN_INVALID, "%s", omen_errmsg(db));
  }
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
  int rc = omen__follow_load(db);
  if (rc) db->closed = 1; /* leave a closed handle that only reports why */
  return rc;
fail_follow:
  pthread_mutex_destroy(&db->wal.mu);
fail_wal:
  pthread_mutex_destroy(&db->mu);
fail_mu:
  omen__errs_destroy(&db->errs);
  omen__free(&mem, db, sizeof *db);
  return OMEN_ERROR;
}

int omen_refresh(omen_db *db)
{
  return db ? omen__follow_now(db) : OMEN_INVALID;
}

int omen_coll_open(omen_db *db, const char *name, omen_coll **out)
{
  if (!db) return OMEN_INVALID;
  if (!out) return omen__missing(db, "out");
  *out = NULL;
  int rc = omen__follow(db);
  return rc ? rc : omen__catalog_open(db, name, out);
}

int omen_coll_names(omen_db *db, char *buf, size_t cap, size_t *needed,
                    size_t *count)
{
  if (!db) return OMEN_INVALID;
  if (!needed || !count) return omen__missing(db, !needed ? "needed" : "count");
  int rc = omen__follow(db);
  return rc ? rc : omen__catalog_names(db, buf, cap, needed, count);
}

int omen_flush(omen_db *db)
{
  if (!db) return OMEN_INVALID;
  int rc = omen__catalog_lock(db);
  if (rc) return rc;
  pthread_mutex_unlock(&db->mu);
  return omen__wal_active(db) ? omen__wal_flush(db, 1) : OMEN_OK;
}

int omen_verify(omen_db *db)
{
  if (!db) return OMEN_INVALID;
  int rc = omen__catalog_lock(db);
  if (rc) return rc;
  rc = omen__storage_verify(db);
  pthread_mutex_unlock(&db->mu);
  return rc;
}

int omen_checkpoint(omen_db *db)
{
  if (!db) return OMEN_INVALID;
  int rc = omen__reentered(db);
  if (rc) return rc;
  pthread_mutex_lock(&db->mu);
  rc = omen__checkpoint(db, OMEN__NEVER_COMPACT);
  pthread_mutex_unlock(&db->mu);
  return rc;
}

int omen_compact(omen_db *db)
{
  if (!db) return OMEN_INVALID;
  int rc = omen__check_writable(db);
  if (rc || (rc = omen__catalog_lock(db))) return rc;
  rc = omen__checkpoint(db, 0);
  pthread_mutex_unlock(&db->mu);
  return rc;
}

void omen_interrupt(omen_db *db)
{
  if (db) atomic_fetch_add_explicit(&db->interrupts, 1, memory_order_relaxed);
}

int omen_close(omen_db *db)
{
  if (!db) return OMEN_OK;
  int rc = omen__reentered(db);
  if (rc) return rc;
  pthread_mutex_lock(&db->follow_mu); /* a reader's look finishes first */
  pthread_mutex_lock(&db->mu);
  if (db->closed) { /* a zombie, or a handle whose open failed */
    int gone = db->handles == 0;
    pthread_mutex_unlock(&db->mu);
    pthread_mutex_unlock(&db->follow_mu);
    if (gone) free_db(db);
    return OMEN_OK;
  }
  rc = OMEN_OK;
  if (db->path && !(db->flags & OMEN_OPEN_READONLY) && atomic_load(&db->dirty))
    rc = omen__checkpoint(db, OMEN__NEVER_COMPACT);
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
  pthread_mutex_unlock(&db->follow_mu);
  if (gone) free_db(db);
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
