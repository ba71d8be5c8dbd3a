/*
** Recovery (recover.c): applying the log that follows the file's checkpoint
** when a database opens.
*/
#ifndef OMEN_RECOVER_H
#define OMEN_RECOVER_H

#include "omen_int.h"

/* Apply the log that follows the file's checkpoint, at open. A read-only
** open returns OMEN__RETRY if the file was replaced meanwhile. */
int omen__recover(omen_db *db);
#define OMEN__RETRY (-1001)

#endif
