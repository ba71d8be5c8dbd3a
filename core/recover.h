/*
** Recovery (recover.c): applying the log that follows the file's checkpoint
** when a database opens, and, for a read-only database, what the writing
** process appends to it later.
*/
#ifndef OMEN_RECOVER_H
#define OMEN_RECOVER_H

#include "omen_int.h"

/* Apply the log that follows the file's checkpoint, at open. A read-only
** open returns OMEN__RETRY if the file was replaced meanwhile. */
int omen__recover(omen_db *db);
#define OMEN__RETRY (-1001)

/* Apply the log's records that follow those applied already (db->tail), as
** a reader: at open (at_open 1, from omen__recover) and before its calls.
** Returns OMEN__RELOAD when the log shows that a checkpoint replaced the
** file (the reader must load it again), or OMEN__RETRY at open. */
int omen__recover_tail(omen_db *db, int at_open);
#define OMEN__RELOAD (-1002)

#endif
