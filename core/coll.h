/*
** Collections as containers (coll.c): a collection's slots and the tables
** indexed by them, its lock, its pool of search scratch and its worker
** threads, the checks of ids and vectors every call makes, and a filter
** bound to its records. The modules above (write, link, query, compact,
** storage) build on these; nothing here logs, plans or schedules.
*/
#ifndef OMEN_COLL_H
#define OMEN_COLL_H

#include "omen_int.h"

#define OMEN__MAX_SLOTS (UINT32_MAX - 1)
#define OMEN__MAX_THREADS 256

/* -- Lifetime ----------------------------------------------------------------- */

int omen__coll_check_config(omen_db *db, const omen_coll_config *cfg);
int omen__coll_new(omen_db *db, const char *name, size_t name_len,
                   const omen_coll_config *cfg, omen_coll **out);
/* Release the data (under the write lock), leaving a shell whose calls fail
** with dead_rc. */
void omen__coll_kill(omen_coll *c, int dead_rc);
void omen__coll_free_shell(omen_coll *c);
/* Release dst's data and give it src's (a collection of the same name and
** configuration loaded afresh), under dst's write lock; src is freed. */
void omen__coll_adopt(omen_coll *dst, omen_coll *src);

/* Take the lock for reading or writing, failing if the collection was
** dropped or closed; a write lock outdates the cached filter bitmaps.
** Released with pthread_rwlock_unlock(&c->rw). */
int omen__coll_lock(omen_coll *c, int write);

/* -- Slots -------------------------------------------------------------------- */

/* Records in a collection (its lock held). */
static inline uint32_t omen__coll_live(const omen_coll *c)
{
  return c->n_slots - c->n_free - c->n_deleted;
}

static inline uint8_t *omen__coll_state(const omen_coll *c) { return c->state.p; }

static inline const float *omen__coll_vector(const omen_coll *c, uint32_t slot)
{
  return (const float *)c->vecs.p + (size_t)slot * c->stride;
}

/* What the vector of slot is multiplied by for the metric (1 / |v| when it
** is normalised). */
static inline float omen__coll_mul(const omen_coll *c, uint32_t slot)
{
  return c->metric->normalised ? ((const float *)c->inv_norm.p)[slot] : 1.0f;
}

/* The vector space view of a collection's current tables. */
omen__space omen__coll_space(const omen_coll *c);
/* Grow every per-slot table to hold cap slots. */
int omen__coll_reserve(omen_coll *c, uint32_t cap);
/* Room on the free list for n slots. */
int omen__coll_reserve_free(omen_coll *c, size_t n);
uint32_t omen__coll_find(const omen_coll *c, const char *id, size_t len, uint32_t hash);
/* Turn a live slot into a deleted one: its record goes, its node stays in
** the graph as a route until consolidation. */
void omen__coll_delete_slot(omen_coll *c, uint32_t slot);
/* Store vec in slot, with its norm and its code. */
void omen__coll_write_vector(omen_coll *c, uint32_t slot, const float *vec);

/* -- Codes (through codes.h) ---------------------------------------------------- */

/* Bytes a query takes in the form of the collection's code kind. */
static inline size_t omen__coll_query_bytes(const omen_coll *c)
{
  return c->codes.kind->query_bytes(&c->codes);
}

/* Encode slots [first, end) that are not pending from their vectors. */
void omen__coll_codes_fill(omen_coll *c, uint32_t first, uint32_t end);
/* Fit the codes afresh to the live records and the n vectors about to be
** written (vecs may be NULL), and encode every slot again; without memory
** for that, the old fit stays. */
void omen__coll_codes_refit(omen_coll *c, const float *vecs, size_t n);

/* -- Scratch and threads ---------------------------------------------------------- */

/* A scratch from the pool (or a new one; NULL without memory), and back. */
omen__scratch *omen__coll_scratch(omen_coll *c);
void omen__coll_scratch_put(omen_coll *c, omen__scratch *s);
/* Size s for n_slots and a search of width ef; OMEN_NOMEM if s is NULL. */
int omen__coll_scratch_prepare(omen_coll *c, omen__scratch *s, uint32_t n_slots,
                               uint32_t ef);

/* Online cores, at most OMEN__MAX_THREADS. */
unsigned omen__cores(void);

/* The parallel part of a write: up to `threads` threads, the caller one of
** them, each run fn(job, scratch) with a scratch of its own and share the
** work through the job. Fewer start when threads or scratch cannot be had,
** which is still correct. After the join, merge(c, first, sc) runs for each
** other thread's scratch, if given. */
typedef void (*omen__work_fn)(void *job, omen__scratch *sc);
void omen__coll_crew(omen_coll *c, unsigned threads, omen__scratch *first,
                     omen__work_fn fn, void *job,
                     void (*merge)(omen_coll *, omen__scratch *, omen__scratch *));

/* -- Input checks ------------------------------------------------------------------ */

/* OMEN_NOTFOUND, naming the id. */
int omen__coll_no_record(omen_coll *c, const char *id, size_t len);
/* Prefix for messages about item i of n in a batch ("" when n is 1). */
const char *omen__item_prefix(char *buf, size_t cap, size_t i, size_t n,
                              const omen_str *id);
int omen__check_id(omen_db *db, const char *id, size_t len, const char *pre);
/* A vector of the collection's dimension: finite, not too long, with a
** direction for normalised metrics; `what` names it in messages. */
int omen__coll_check_vector(const omen_coll *c, const float *v, const char *what,
                            const char *pre);

/* -- Filters on records -------------------------------------------------------------- */

/* A filter bound to a collection for one call. */
typedef struct omen__bound_filter {
  const omen_filter *f;
  const omen__records *recs;
  const uint32_t *ids; /* the collection's key number of each filter field */
} omen__bound_filter;

/* Bind f to c (lock held) as a predicate, in bf and pred; NULL f gives a
** NULL *out. */
int omen__coll_bind_filter(omen_coll *c, omen__scratch *sc, const omen_filter *f,
                           omen__bound_filter *bf, omen__pred *pred,
                           const omen__pred **out);

#endif
