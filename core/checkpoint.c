/*
** Checkpoints: the collections are compacted where enough of them was
** deleted, then written, each held still under its read lock, to a new file
** that replaces the old one (storage.c); only then is the log emptied. A
** checkpoint that fails leaves the old file and the whole log, so it loses
** nothing.
**
** Calls: compact, storage, wal. Called with db->mu held, which keeps the
** catalog still; it takes each collection's lock in turn.
*/
#include "port.h"

#include "checkpoint.h"
#include "compact.h"
#include "storage.h"
#include "wal.h"

static int compact_all(omen_db *db, double min_share)
{
  int rc = OMEN_OK;
  for (size_t i = 0; i < db->n_colls && !rc; i++)
    rc = omen__compact(db->colls[i], min_share);
  return rc;
}

static int save(omen_db *db)
{
  for (size_t i = 0; i < db->n_colls; i++)
    pthread_rwlock_rdlock(&db->colls[i]->rw);
  int rc = omen__storage_save(db, db->generation + 1);
  if (!rc) rc = omen__wal_reset(db);
  for (size_t i = 0; i < db->n_colls; i++)
    pthread_rwlock_unlock(&db->colls[i]->rw);
  return rc;
}

int omen__checkpoint(omen_db *db, double min_share)
{
  if (db->closed) return omen__fail(db, OMEN_CLOSED, "database is closed");
  if (!db->path) return compact_all(db, min_share);
  if (db->flags & OMEN_OPEN_READONLY) return OMEN_OK;
  int rc = compact_all(db, min_share);
  if (!rc && atomic_exchange(&db->dirty, 0) && (rc = save(db)))
    atomic_store(&db->dirty, 1);
  return rc;
}

void omen__checkpoint_due(omen_db *db)
{
  if (!omen__wal_active(db) || !omen__wal_full(db)) return;
  pthread_mutex_lock(&db->mu);
  int rc = omen__checkpoint(db, OMEN__AUTO_COMPACT);
  pthread_mutex_unlock(&db->mu);
  if (rc) omen__wal_backoff(db);
}
