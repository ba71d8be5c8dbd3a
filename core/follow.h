/*
** Live readers (follow.c): a read-only database follows the process that
** writes it.
*/
#ifndef OMEN_FOLLOW_H
#define OMEN_FOLLOW_H

#include "omen_int.h"

/* Map the file and apply its log, at open (again while a writer's
** checkpoints replace the file under it); on failure nothing stays
** attached. */
int omen__follow_load(omen_db *db);
/* Before a call that reads: for a read-only database, take in what the
** writer committed since the last look (at most every refresh_ns; `now`
** looks regardless). Others return OMEN_OK at once. */
int omen__follow(omen_db *db);
int omen__follow_now(omen_db *db);

#endif
