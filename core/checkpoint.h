/*
** Checkpoints (checkpoint.c): folding the log into a new database file.
** Called from the top only: by the database's calls (checkpoint, compact,
** close) and by a write call once it has returned its work.
*/
#ifndef OMEN_CHECKPOINT_H
#define OMEN_CHECKPOINT_H

#include "omen_int.h"

/* Share of deleted slots above which an automatic checkpoint compacts a
** collection; explicit checkpoints pass OMEN__NEVER_COMPACT, compaction 0. */
#define OMEN__AUTO_COMPACT 0.25
#define OMEN__NEVER_COMPACT 2.0

/* Compact the collections with at least min_share of their slots deleted,
** then, if anything changed since the last one, write the file and empty
** the log (db->mu held). A database in memory only compacts. */
int omen__checkpoint(omen_db *db, double min_share);

/* After a write returned: checkpoint if the log has grown past its size;
** a failed attempt is retried once the log has grown as much again (the
** log still holds every write, so nothing is lost meanwhile). */
void omen__checkpoint_due(omen_db *db);

#endif
