/*
** The catalog of a database's collections (catalog.c), under db->mu.
*/
#ifndef OMEN_CATALOG_H
#define OMEN_CATALOG_H

#include "omen_int.h"

/* Take db->mu, failing if the database is closed. */
int omen__catalog_lock(omen_db *db);
/* Insert a collection into the sorted catalog (db->mu held). */
int omen__catalog_add(omen_db *db, omen_coll *c);
/* Create a collection (name and config checked); with log set the creation
** is logged first. With out, a handle on it is returned. */
int omen__catalog_create(omen_db *db, const char *name, const omen_coll_config *cfg,
                         int log, omen_coll **out);
int omen__catalog_drop(omen_db *db, const char *name, int log);
/* omen_coll_open and omen_coll_names, their arguments checked. */
int omen__catalog_open(omen_db *db, const char *name, omen_coll **out);
int omen__catalog_names(omen_db *db, char *buf, size_t cap, size_t *needed,
                        size_t *count);
/* The collection named name, or NULL, without taking a handle: for
** recovery, before the database is handed to anyone. */
omen_coll *omen__catalog_get(omen_db *db, const char *name);

#endif
