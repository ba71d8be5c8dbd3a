/*
** Errors: the messages a database keeps for omen_errmsg(). Each thread that
** fails on a database gets its own message slot, so a message is never
** overwritten by another thread while its owner reads it (up to
** OMEN__ERR_SLOTS threads failing at once; beyond that the oldest slot is
** recycled).
*/
#ifndef OMEN_ERROR_H
#define OMEN_ERROR_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>

#include "omen.h"

#define OMEN__ERR_SLOTS 8
#define OMEN__ERR_LEN 512 /* room for two paths and a sentence */

typedef struct omen__errslot {
  pthread_t thread;
  unsigned long stamp; /* 0: unused */
  char msg[OMEN__ERR_LEN];
} omen__errslot;

typedef struct omen__errs {
  pthread_mutex_t mu;
  unsigned long clock;
  omen__errslot slot[OMEN__ERR_SLOTS];
} omen__errs;

int omen__errs_init(omen__errs *e);
void omen__errs_destroy(omen__errs *e);

/* Record the calling thread's message; returns rc. */
int omen__errs_setv(omen__errs *e, int rc, const char *fmt, va_list ap);

/* The calling thread's last message, or "not an error". */
const char *omen__errs_get(omen__errs *e);

/* An id for a message, in buf: printable ASCII as it is, other bytes as
** \xNN, cut with "..." past about 48 characters. */
const char *omen__id_text(char *buf, size_t cap, const char *id, size_t len);

/* Record the calling thread's error message on db; returns rc . */
int omen__fail(omen_db *db, int rc, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* OMEN_INVALID, saying that the argument `what` is missing. */
int omen__missing(omen_db *db, const char *what);
/* OMEN_READONLY, said, if db was opened read-only; else OMEN_OK. */
int omen__check_writable(omen_db *db);

/* Calls back into the application (its tokenizers) run with the calling
** thread marked, since it holds locks a call into omen would wait for:
** omen__reentered fails such a call with OMEN_INVALID (OMEN_OK otherwise). */
void omen__callback_enter(void);
void omen__callback_leave(void);
int omen__reentered(omen_db *db);

#endif
