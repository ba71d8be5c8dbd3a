/*
** Tokenizer registry (registry.c): the application's tokenizers registered
** on a database, and their binding to the text indexes that name them.
*/
#ifndef OMEN_REGISTRY_H
#define OMEN_REGISTRY_H

#include "omen_int.h"

/* Give t the function of the tokenizer it names, if it names a registered
** one (t not shared yet, or its collection's write lock held). */
void omen__registry_bind(omen_db *db, omen__text *t);

/* Bind every collection's text index (after a load; each collection's
** lock is taken). */
void omen__registry_bind_all(omen_db *db);

/* Register each of opts' tokenizers (at open). */
int omen__registry_init(omen_db *db, const omen_options *opts);

void omen__registry_free(omen_db *db);

#endif
