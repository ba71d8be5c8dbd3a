/*
** Errors: result code names, the per-thread messages of a database, and
** the helpers every module fails through (omen__fail, omen__missing).
** Calls nothing but the C library.
*/
#include "port.h"

#include "error.h"

#include <stdio.h>
#include <string.h>

#include "omen_int.h"

int omen__fail(omen_db *db, int rc, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  omen__errs_setv(&db->errs, rc, fmt, ap);
  va_end(ap);
  return rc;
}

int omen__missing(omen_db *db, const char *what)
{
  return omen__fail(db, OMEN_INVALID, "%s is missing (NULL)", what);
}

int omen__check_writable(omen_db *db)
{
  if (db->flags & OMEN_OPEN_READONLY)
    return omen__fail(db, OMEN_READONLY, "database is read-only");
  return OMEN_OK;
}

const char *omen_errmsg(omen_db *db)
{
  return db ? omen__errs_get(&db->errs) : omen_strerror(OMEN_NOMEM);
}

const char *omen_strerror(int rc)
{
  switch (rc) {
#define OMEN__MSG(name, value, msg) \
  case value:                       \
    return msg;
    OMEN_ERRORS(OMEN__MSG)
#undef OMEN__MSG
  }
  return "unknown error";
}

int omen__errs_init(omen__errs *e)
{
  memset(e, 0, sizeof *e);
  return pthread_mutex_init(&e->mu, NULL) ? OMEN_ERROR : OMEN_OK;
}

void omen__errs_destroy(omen__errs *e)
{
  pthread_mutex_destroy(&e->mu);
}

static omen__errslot *find_slot(omen__errs *e, pthread_t self)
{
  for (int i = 0; i < OMEN__ERR_SLOTS; i++)
    if (e->slot[i].stamp && pthread_equal(e->slot[i].thread, self))
      return &e->slot[i];
  return NULL;
}

static omen__errslot *oldest_slot(omen__errs *e)
{
  omen__errslot *best = &e->slot[0];
  for (int i = 1; i < OMEN__ERR_SLOTS; i++)
    if (e->slot[i].stamp < best->stamp) best = &e->slot[i];
  return best;
}

int omen__errs_setv(omen__errs *e, int rc, const char *fmt, va_list ap)
{
  pthread_t self = pthread_self();
  pthread_mutex_lock(&e->mu);
  omen__errslot *s = find_slot(e, self);
  if (!s) {
    s = oldest_slot(e);
    s->thread = self;
  }
  s->stamp = ++e->clock;
  vsnprintf(s->msg, sizeof s->msg, fmt, ap);
  pthread_mutex_unlock(&e->mu);
  return rc;
}

const char *omen__id_text(char *buf, size_t cap, const char *id, size_t len)
{
  size_t at = 0;
  buf[0] = 0;
  for (size_t i = 0; i < len && at + 8 < cap; i++) {
    if (at >= 48) {
      memcpy(buf + at, "...", 4);
      return buf;
    }
    unsigned char ch = (unsigned char)id[i];
    at += (size_t)snprintf(buf + at, cap - at, ch >= 32 && ch < 127 ? "%c" : "\\x%02x", ch);
  }
  return buf;
}

const char *omen__errs_get(omen__errs *e)
{
  pthread_mutex_lock(&e->mu);
  omen__errslot *s = find_slot(e, pthread_self());
  pthread_mutex_unlock(&e->mu);
  return s ? s->msg : omen_strerror(OMEN_OK);
}

static _Thread_local int in_callback;

void omen__callback_enter(void) { in_callback++; }
void omen__callback_leave(void) { in_callback--; }

int omen__reentered(omen_db *db)
{
  if (!in_callback) return OMEN_OK;
  return omen__fail(db, OMEN_INVALID, "a tokenizer may not call omen");
}
