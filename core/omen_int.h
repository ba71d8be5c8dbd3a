/*
** Private structures of databases and collections, shared by the files
** that implement them (db.c, coll.c, result.c, storage.c). Nothing here is
** visible to users of omen.h.
**
** Locking: db->mu guards the catalog and every handle count; a collection's
** rw lock guards its data (readers share it, writers hold it alone). Lock
** order is db->mu before a collection's rw; calls on a collection never take
** db->mu.
*/
#ifndef OMEN_INT_H
#define OMEN_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "distance.h"
#include "error.h"
#include "hnsw.h"
#include "idmap.h"
#include "mem.h"
#include "meta.h"
#include "omen.h"
#include "codes.h"
#include "metric.h"
#include "records.h"
#include "search.h"

/* A filter's bitmap of matching live slots, cached per collection (up to
** OMEN__FCACHE filters): a filter used again is answered from its bitmap.
** Valid while the collection's version is unchanged; shared by searches
** through a reference count. */
#define OMEN__FCACHE 4

typedef struct omen__fbits {
  uint64_t hash;          /* of the filter's signature; 0: empty entry */
  unsigned char *sig;
  size_t sig_len;
  uint64_t version;       /* of the collection it was made for */
  uint64_t stamp;         /* last use, for eviction */
  uint64_t *bits;         /* NULL: seen once, not built */
  size_t words;
  uint64_t count;         /* bits set */
  unsigned refs;          /* searches using bits now */
} omen__fbits;

struct omen_coll {
  omen_db *db;
  char *name;
  size_t name_len;
  omen_coll_config cfg;

  /* Lifetime, under db->mu. */
  unsigned handles;       /* open handles on this collection */
  int in_catalog;         /* cleared when dropped or when the db closes */

  /* Data, under rw. */
  pthread_rwlock_t rw;
  int dead_rc;            /* nonzero once the data is released: the error
                             calls get (OMEN_DROPPED or OMEN_CLOSED) */
  omen__kernels kern;
  const omen__metric_desc *metric;
  uint32_t stride;        /* floats per stored vector */
  uint32_t n_slots;       /* slots ever handed out; the rest is capacity */
  uint32_t cap;
  omen__buf vecs;         /* stride floats per slot */
  omen__buf inv_norm;     /* float per slot (cosine only) */
  omen__codes codes;      /* what graph walks read (codes.h) */
  omen__buf state;        /* uint8 per slot: OMEN__SLOT_* */
  omen__buf free_slots;   /* uint32 stack of free slots (OMEN__SLOT_FREE) */
  uint32_t n_free;
  uint32_t n_deleted;     /* deleted slots not consolidated yet (routes) */
  omen__buf gone;         /* bitmap of the slots a consolidation takes out */
  omen__graph graph;
  omen__idmap ids;
  omen__records recs;
  omen__keys keys;
  uint64_t graph_inserts; /* nodes linked since the collection was opened */
  uint64_t version;       /* bumped by every write (invalidates fcache) */
  omen__lazy lazy;        /* first-use checks of the mapped bulk */
  pthread_mutex_t lazy_mu;
  int lazy_on;            /* some chunks are unchecked (reads only) */

  /* Search scratch, one per concurrent searcher. */
  pthread_mutex_t pool_mu;
  omen__scratch *pool;

  /* Bitmaps of recent filters (filter.c), under fcache_mu. */
  pthread_mutex_t fcache_mu;
  omen__fbits fcache[OMEN__FCACHE];
  uint64_t fcache_clock;
};

/* The write-ahead log of a database (wal.c). */
typedef struct omen__wal {
  pthread_mutex_t mu;     /* one append at a time */
  int fd;                 /* the log file, or -1 until the first write */
  omen_sync sync;
  int broken;             /* a failed append could not be undone */
  uint64_t salt;          /* of this log: records of an older one never fit */
  uint64_t seq;           /* of the last record */
  uint64_t size;          /* bytes written to the file */
  unsigned char *buf;     /* bytes not yet written */
  size_t n, cap;
  uint64_t limit;         /* checkpoint once the log is this large (0: auto) */
} omen__wal;

struct omen_db {
  omen__mem mem;
  char *path;             /* NULL in memory */
  unsigned flags;
  pthread_mutex_t mu;
  omen_coll **colls;      /* sorted by name */
  size_t n_colls, cap_colls;
  unsigned handles;       /* open collection handles, all collections */
  int closed;
  atomic_int dirty;       /* changed since the last write to the file */
  atomic_uint interrupts; /* omen_interrupt calls: a search stops when it moves */
  int lock_fd;            /* holds the writer lock on the file, or -1 */
  void *map;              /* the file as opened, mapped private */
  size_t map_len;
  uint64_t file_dev, file_ino; /* of the file loaded */
  uint64_t generation;    /* of the file's checkpoint */
  uint64_t id;            /* chosen when the file was created; its log
                             carries it too */
  omen__wal wal;
  int replaying;          /* applying the log at open: do not log again */
  omen__errs errs;
};

/* Record the calling thread's error message on db; returns rc (error.c). */
int omen__fail(omen_db *db, int rc, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* OMEN_INVALID, saying that the argument `what` is missing. */
int omen__missing(omen_db *db, const char *what);

/* The checkpoint a growing log triggers; it also compacts collections with
** a quarter of their slots deleted. */
int omen__auto_checkpoint(omen_db *db);

/* Insert a collection into the sorted catalog (db->mu held). */
int omen__catalog_add(omen_db *db, omen_coll *c);

/* -- Write-ahead log (wal.c) -------------------------------------------------- */

enum {
  OMEN__LOG_CREATE = 1,
  OMEN__LOG_DROP,
  OMEN__LOG_UPSERT,
  OMEN__LOG_DELETE,
  OMEN__LOG_DELETE_MANY /* name, count, ids: one delete_where */
};

/* A record is emitted by a function called three times on a sink: to size
** it, to checksum it, and to write it. */
typedef struct omen__sink {
  int pass;
  uint64_t size;
  uint32_t crc;
  omen__wal *wal;
  int err;                /* errno of a failed write */
} omen__sink;
typedef void (*omen__emit_fn)(omen__sink *s, const void *arg);

void omen__sink_put(omen__sink *s, const void *p, size_t n);
void omen__sink_u32(omen__sink *s, uint32_t v);
void omen__sink_str(omen__sink *s, const char *p, size_t n); /* u32 length, bytes */
void omen__sink_meta(omen__sink *s, const omen_field *f, size_t n);

/* 64 random-enough bits (time, process, address): ids and salts. */
uint64_t omen__random(const omen_db *db);

/* Whether writes to db go to a log (a file database, writable, not replaying). */
int omen__wal_active(const omen_db *db);
void omen__wal_init(omen_db *db, const omen_options *o);
/* Append one record (a whole batch is one) and make it as durable as the
** sync mode asks; on failure nothing of it remains in the log. */
int omen__wal_append(omen_db *db, int type, omen__emit_fn emit, const void *arg);
/* Take over the log after recovery: append after byte `end`, the whole
** records of log `salt` up to sequence number seq (end 0: start a new log
** at the first write). */
int omen__wal_resume(omen_db *db, int fd, uint64_t salt, uint64_t seq, uint64_t end);
/* "<path>-wal", allocated (size bytes). */
char *omen__wal_path(omen_db *db, size_t *size);

/* -- Recovery (recover.c) ------------------------------------------------------- */

/* Apply the log that follows the file's checkpoint, at open. A read-only
** open returns OMEN__RETRY if the file was replaced meanwhile. */
int omen__recover(omen_db *db);
#define OMEN__RETRY (-1001)
/* Empty the log once a checkpoint holds everything in it. */
int omen__wal_reset(omen_db *db);
int omen__wal_flush(omen_db *db, int sync);
/* Whether the log has grown past its checkpoint size. */
int omen__wal_full(omen_db *db);
/* After a failed automatic checkpoint: try again once the log doubled. */
void omen__wal_backoff(omen_db *db);
void omen__wal_close(omen_db *db, int remove);

/* -- Collections (coll.c) --------------------------------------------------- */

int omen__coll_new(omen_db *db, const char *name, size_t name_len,
                   const omen_coll_config *cfg, omen_coll **out);
/* Release the data (under the write lock), leaving a shell whose calls fail
** with dead_rc. */
void omen__coll_kill(omen_coll *c, int dead_rc);
void omen__coll_free_shell(omen_coll *c);
int omen__coll_check_config(omen_db *db, const omen_coll_config *cfg);

/* Renumber a collection's slots without its deleted ones (compact.c); its
** lock is held for writing and its bulk checked. */
int omen__compact_slots(omen_coll *c, omen__scratch *sc);
/* Compact a collection if it has more than `min_share` of its slots
** deleted (0: any), taking its lock. */
int omen__coll_compact(omen_coll *c, double min_share);

/* Link slots (new, or to link again) into the graph with up to `threads`
** threads, then relink nodes left unreachable; lock held for writing. */
int omen__coll_link(omen_coll *c, const uint32_t *slots, size_t n,
                    unsigned threads, omen__scratch *sc);

/* Grow every per-slot table to hold cap slots. */
int omen__coll_reserve(omen_coll *c, uint32_t cap);

/* Records in a collection (its lock held). */
static inline uint32_t omen__coll_live(const omen_coll *c)
{
  return c->n_slots - c->n_free - c->n_deleted;
}

/* Take every deleted slot out of the graph and free it (see hnsw.c), then
** relink nodes left unreachable; lock held for writing, bulk checked. */
int omen__coll_consolidate(omen_coll *c, omen__scratch *sc);

/* The vector space view of a collection's current tables. */
omen__space omen__coll_space(const omen_coll *c);

/* -- A collection's codes (coll.c, through codes.h) ---------------------------- */

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

/* -- Results (result.c) ----------------------------------------------------- */

void omen__result_reset(omen_result *r);
void *omen__result_alloc(omen_result *r, size_t size, size_t align);
omen_hit *omen__result_push(omen_result *r);

/* -- Filter bitmaps (filter.c) ----------------------------------------------- */

/* A filter's cached bitmap for c as it is now, with a reference taken; or
** NULL, with *seen telling whether the filter was used before. */
omen__fbits *omen__fcache_get(omen_coll *c, const omen_filter *f, int *seen);
/* Remember that f was used (bits NULL), or give the cache its bitmap (the
** cache then owns bits; the entry comes back with a reference taken, or
** NULL if every entry is in use, leaving bits with the caller). */
omen__fbits *omen__fcache_put(omen_coll *c, const omen_filter *f, uint64_t *bits,
                              size_t words, uint64_t count);
void omen__fcache_release(omen_coll *c, omen__fbits *e);
void omen__fcache_clear(omen_coll *c);

static inline int omen__bit(const uint64_t *bits, uint32_t i)
{
  return (int)(bits[i >> 6] >> (i & 63) & 1);
}

/* -- Exact search (exact.c) ------------------------------------------------- */

/* The k returnable slots (live, matching pred if given) closest to a
** prepared query, ascending, into out; OMEN_CORRUPT if a chunk it reads
** fails its first-use check. */
int omen__exact_search(const omen__space *sp, const uint8_t *state,
                       const omen__pred *pred, uint32_t n_slots, const float *q,
                       uint32_t k, omen__scratch *sc, omen__cand *out, size_t *n);
/* The same over the slots set in bits (a filter's bitmap). */
int omen__exact_search_bits(const omen__space *sp, const uint64_t *bits,
                            uint32_t n_slots, const float *q, uint32_t k,
                            omen__scratch *sc, omen__cand *out, size_t *n);

/* -- Storage (storage.c) ---------------------------------------------------- */

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
/* Whether db->path is no longer the file that was loaded (a checkpoint of
** another process replaced it). */
int omen__storage_replaced(const omen_db *db);
/* fsync the directory of path (so a rename in it is durable). */
int omen__sync_dir(const char *path);

#endif
