/*
** Storage (storage.c): the database file. Loading maps it and attaches its
** collections (their bulk checked on first use); saving writes every
** collection to a new file and puts it in place of the old one.
*/
#ifndef OMEN_STORAGE_H
#define OMEN_STORAGE_H

#include "omen_int.h"

/* Open (creating if missing) and lock db->path, map it and attach its
** collections. */
int omen__storage_load(omen_db *db);
/* Write every collection to a new file of the given generation and put it
** in place of the old one. Every collection's lock is held for reading. */
int omen__storage_save(omen_db *db, uint64_t generation);
/* Release the mapping once no collection points into it. */
void omen__storage_unmap(omen_db *db);
/* Check every chunk of a collection mapped from the file (before a write
** changes them); the collection's lock is held for writing. */
int omen__storage_check_all(omen_coll *c);
/* The same for every collection (db->mu held). */
int omen__storage_verify(omen_db *db);
/* Whether db->path is no longer the file that was loaded (a checkpoint of
** another process replaced it). */
int omen__storage_replaced(const omen_db *db);

#endif
