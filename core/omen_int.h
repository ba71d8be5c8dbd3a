/*
** The private structures of databases and collections, shared by the core
** modules; each module's functions are declared in its own header. Nothing
** here is visible to users of omen.h.
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
#include "text.h"

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

  /* Data, under rw (omen__coll_adopt moves all of it). */
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
  omen__text *text;       /* the full-text index, or NULL (text.h) */
  uint64_t graph_inserts; /* nodes linked since the collection was opened */
  uint64_t version;       /* bumped by every write (invalidates fcache) */
  omen__lazy lazy;        /* first-use checks of the mapped bulk */
  pthread_mutex_t lazy_mu;
  int lazy_on;            /* some chunks are unchecked (reads only) */

  /* Search scratch, one per concurrent searcher. */
  pthread_mutex_t pool_mu;
  omen__scratch *pool;

  /* Bitmaps of recent filters (fcache.c), under fcache_mu. */
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

/* Where a read-only database stands in the writer's log (recover.c): the
** log file, and the end and sequence number of the records applied. */
typedef struct omen__tail {
  uint64_t dev, ino;      /* of the log followed (0: none yet) */
  uint64_t salt;          /* of its header */
  uint64_t end;           /* byte after the last record applied (0: none read) */
  uint64_t seq;           /* of that record */
} omen__tail;

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
  omen__isa isa;          /* of its collections' kernels */
  uint64_t id;            /* chosen when the file was created; its log
                             carries it too */
  omen__wal wal;
  omen__errs errs;
  struct omen__tokreg *tokenizers; /* the application's (registry.c) */

  /* A read-only database follows the writer (follow.c). */
  pthread_mutex_t follow_mu; /* one follower at a time */
  omen__tail tail;
  uint64_t refresh_ns;    /* look at most this often (0: at every call) */
  _Atomic uint64_t next_look_ns; /* monotonic time of the next look */
};

#endif
