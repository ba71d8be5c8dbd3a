/*
** Tokenizer registry: a list of the application's tokenizers per database,
** copied in (name, function, pointer), never shrinking until the database
** closes, so that a loading copy of the database (follow.c) may share it.
** Registering binds the text indexes that name the tokenizer at once;
** loads bind theirs before the log is replayed, as replaying may need it.
**
** Calls: text (the index's tokenizer), mem, error.
*/
#include "port.h"

#include <string.h>

#include "registry.h"

typedef struct omen__tokreg {
  struct omen__tokreg *next;
  char name[OMEN__MAX_TOKNAME + 1];
  omen_tokenize_fn fn;
  void *ud;
} omen__tokreg;

static omen__tokreg *registered(const omen_db *db, const char *name)
{
  for (omen__tokreg *r = db->tokenizers; r; r = r->next)
    if (!strcmp(r->name, name)) return r;
  return NULL;
}

void omen__registry_bind(omen_db *db, omen__text *t)
{
  if (!t || !t->custom[0]) return;
  const omen__tokreg *r = registered(db, t->custom);
  t->custom_fn = r ? r->fn : NULL;
  t->custom_ud = r ? r->ud : NULL;
}

void omen__registry_bind_all(omen_db *db)
{
  for (size_t i = 0; i < db->n_colls; i++) {
    omen_coll *c = db->colls[i];
    pthread_rwlock_wrlock(&c->rw);
    omen__registry_bind(db, c->text);
    pthread_rwlock_unlock(&c->rw);
  }
}

static int add(omen_db *db, const omen_tokenizer *tok)
{
  size_t len = tok && tok->name ? strlen(tok->name) : 0;
  if (!tok || !tok->fn || len < 1 || len > OMEN__MAX_TOKNAME ||
      !strcmp(tok->name, "unicode61") || !strcmp(tok->name, "trigram"))
    return omen__fail(db, OMEN_INVALID, "a tokenizer needs a function and a name of 1 "
                      "to 64 bytes that is not a built-in one's");
  omen__tokreg *r = registered(db, tok->name);
  if (r) {
    r->fn = tok->fn;
    r->ud = tok->ud;
    return OMEN_OK;
  }
  if (!(r = omen__calloc(&db->mem, sizeof *r)))
    return omen__fail(db, OMEN_NOMEM, "out of memory");
  memcpy(r->name, tok->name, len);
  r->fn = tok->fn;
  r->ud = tok->ud;
  r->next = db->tokenizers; /* whole before a reader of the list can see it */
  db->tokenizers = r;
  return OMEN_OK;
}

int omen_tokenizer_register(omen_db *db, const omen_tokenizer *tok)
{
  if (!db) return OMEN_INVALID;
  if (omen__reentered(db)) return OMEN_INVALID;
  pthread_mutex_lock(&db->mu);
  int rc = db->closed ? omen__fail(db, OMEN_CLOSED, "database is closed") : add(db, tok);
  if (!rc) omen__registry_bind_all(db);
  pthread_mutex_unlock(&db->mu);
  return rc;
}

int omen__registry_init(omen_db *db, const omen_options *opts)
{
  int rc = OMEN_OK;
  for (size_t i = 0; i < opts->n_tokenizers && !rc; i++)
    rc = add(db, &opts->tokenizers[i]);
  return rc;
}

void omen__registry_free(omen_db *db)
{
  for (omen__tokreg *r = db->tokenizers, *next; r; r = next) {
    next = r->next;
    omen__free(&db->mem, r, sizeof *r);
  }
  db->tokenizers = NULL;
}
