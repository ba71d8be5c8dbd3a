/*
** Live readers: a database opened read-only follows the process that
** writes it. Before each call that reads, it looks at the file and the log
** (omen__follow): the log's new records apply in place (recover.c); a file
** that a checkpoint replaced is loaded afresh beside the old one, and then
** each collection's data moves under the handles users hold (a collection
** the new file lacks counts as dropped; one it adds appears). Opening is
** the first load.
**
** A look costs two stat() calls when nothing changed, and refresh_ns
** spaces looks out (UINT64_MAX: only when asked). Readers take no lock the
** writer could wait for, and write nothing: a reader that hangs or dies
** holds nobody up.
**
** Calls: storage (load, replaced), recover (the log), catalog (the staged
** catalog), coll (moving data). Called by db (open, refresh, opening
** collections) and query (every read).
*/
#include "port.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "coll.h"
#include "follow.h"
#include "recover.h"
#include "registry.h"
#include "storage.h"

/* -- Loading ------------------------------------------------------------------ */

/* Forget what a failed or outdated load attached. */
static void discard(omen_db *db)
{
  for (size_t i = 0; i < db->n_colls; i++) omen__coll_free_shell(db->colls[i]);
  db->n_colls = 0;
  omen__storage_unmap(db);
}

#define LOAD_ATTEMPTS 200

int omen__follow_load(omen_db *db)
{
  int readonly = (db->flags & OMEN_OPEN_READONLY) != 0, rc;
  for (int attempt = 1;; attempt++) {
    rc = omen__storage_load(db);
    if (!rc) omen__registry_bind_all(db); /* the log may need tokenizers */
    if (!rc && (db->flags & OMEN_OPEN_VERIFY)) { /* before the log changes anything */
      pthread_mutex_lock(&db->mu);
      rc = omen__storage_verify(db);
      pthread_mutex_unlock(&db->mu);
    }
    if (!rc) rc = omen__recover(db);
    if (!readonly || rc != OMEN__RETRY || attempt == LOAD_ATTEMPTS) break;
    discard(db);
    usleep((useconds_t)(attempt < 20 ? attempt : 20) * 500);
  }
  if (rc == OMEN__RETRY)
    rc = omen__fail(db, OMEN_LOCKED, "cannot open '%s': checkpoints of the "
                    "writing process kept replacing it; try again", db->path);
  if (rc) discard(db);
  return rc;
}

/* -- Loading again, beside the old state --------------------------------------- */

/* A private database to load the new file into. */
static int stage(const omen_db *db, omen_db *fresh)
{
  memset(fresh, 0, sizeof *fresh);
  fresh->mem = db->mem;
  fresh->path = db->path; /* borrowed */
  fresh->flags = db->flags & ~(unsigned)OMEN_OPEN_VERIFY;
  fresh->isa = db->isa;
  fresh->lock_fd = -1;
  fresh->wal.fd = -1;
  fresh->tokenizers = db->tokenizers; /* borrowed: the list only grows */
  if (omen__errs_init(&fresh->errs)) return OMEN_ERROR;
  if (pthread_mutex_init(&fresh->mu, NULL)) {
    omen__errs_destroy(&fresh->errs);
    return OMEN_ERROR;
  }
  return OMEN_OK;
}

static void unstage(omen_db *fresh)
{
  discard(fresh);
  omen__free(&fresh->mem, fresh->colls, fresh->cap_colls * sizeof(omen_coll *));
  pthread_mutex_destroy(&fresh->mu);
  omen__errs_destroy(&fresh->errs);
}

static omen_coll *named(const omen_db *db, const char *name)
{
  for (size_t i = 0; i < db->n_colls; i++)
    if (!strcmp(db->colls[i]->name, name)) return db->colls[i];
  return NULL;
}

/* Whether a handle on old may go on to new's data: a collection dropped and
** made again with another configuration is another collection. */
static int same_shape(const omen_coll *old, const omen_coll *new)
{
  const omen_coll_config *a = &old->cfg, *b = &new->cfg;
  return a->dim == b->dim && a->metric == b->metric && a->m == b->m &&
         a->ef_construction == b->ef_construction && a->ef_search == b->ef_search &&
         a->quantization == b->quantization;
}

/* Put what fresh loaded in place of db's state (db->mu held): collections
** in both keep their structs (users hold them) and take the new data. */
static void take_over(omen_db *db, omen_db *fresh)
{
  for (size_t i = 0; i < fresh->n_colls; i++) {
    omen_coll *nc = fresh->colls[i], *oc = named(db, nc->name);
    if (oc && same_shape(oc, nc)) {
      fresh->colls[i] = oc;
      omen__coll_adopt(oc, nc);
    } else {
      nc->db = db;
    }
  }
  for (size_t i = 0; i < db->n_colls; i++) {
    omen_coll *oc = db->colls[i];
    if (named(fresh, oc->name) == oc) continue;
    oc->in_catalog = 0;
    if (oc->handles) omen__coll_kill(oc, OMEN_DROPPED);
    else omen__coll_free_shell(oc);
  }
  omen__free(&db->mem, db->colls, db->cap_colls * sizeof(omen_coll *));
  db->colls = fresh->colls;
  db->n_colls = fresh->n_colls;
  db->cap_colls = fresh->cap_colls;
  fresh->colls = NULL;
  fresh->n_colls = fresh->cap_colls = 0;
  omen__storage_unmap(db); /* nothing points into the old file any more */
  db->map = fresh->map;
  db->map_len = fresh->map_len;
  fresh->map = NULL;
  fresh->map_len = 0;
  db->file_dev = fresh->file_dev;
  db->file_ino = fresh->file_ino;
  db->generation = fresh->generation;
  db->id = fresh->id;
  db->tail = fresh->tail;
}

/* Load the file that replaced db's, with its log; on failure db keeps
** serving what it had. */
static int reload(omen_db *db)
{
  omen_db fresh;
  if (stage(db, &fresh)) return omen__fail(db, OMEN_ERROR, "cannot set up a reload");
  int rc = omen__follow_load(&fresh);
  if (rc) {
    rc = omen__fail(db, rc, "%s", omen_errmsg(&fresh));
  } else if (!(rc = omen__catalog_lock(db))) {
    take_over(db, &fresh);
    pthread_mutex_unlock(&db->mu);
  }
  unstage(&fresh);
  return rc;
}

/* -- Looking --------------------------------------------------------------------- */

static int look(omen_db *db)
{
  if (omen__storage_replaced(db)) return reload(db);
  int rc = omen__recover_tail(db, 0);
  return rc == OMEN__RELOAD ? reload(db) : rc;
}

static uint64_t now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int follows(const omen_db *db)
{
  return db->path && (db->flags & OMEN_OPEN_READONLY);
}

int omen__follow_now(omen_db *db)
{
  if (!follows(db)) return OMEN_OK;
  int rc = omen__reentered(db); /* a tokenizer of the records being applied */
  if (rc) return rc;
  pthread_mutex_lock(&db->follow_mu);
  /* omen_close sets closed holding follow_mu too; its handles' calls say so */
  rc = db->closed ? OMEN_OK : look(db);
  if (db->refresh_ns && db->refresh_ns != UINT64_MAX)
    atomic_store(&db->next_look_ns, now_ns() + db->refresh_ns);
  pthread_mutex_unlock(&db->follow_mu);
  return rc;
}

int omen__follow(omen_db *db)
{
  if (!follows(db) || db->refresh_ns == UINT64_MAX) return OMEN_OK;
  if (db->refresh_ns && now_ns() < atomic_load(&db->next_look_ns)) return OMEN_OK;
  return omen__follow_now(db);
}
