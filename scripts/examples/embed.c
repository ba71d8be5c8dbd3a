/*
** embed.c: omen inside an application, the way a game or a device embeds
** it, with no Lua. The application gives the database its own allocator
** with a memory budget; a loader thread streams records in batches while
** the main thread answers queries every "frame" from the same collection;
** a write that would go over budget fails cleanly and changes nothing.
**
**   cc -std=c11 -O2 -Icore scripts/examples/embed.c build/libomen.a \
**      -pthread -lm -o embed
**   ./embed
**
** Or with the single-file library: cc -std=c11 -O2 -pthread -c omen.c, and
** link omen.o instead of libomen.a.
*/
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "omen.h"

#define DIM 32
#define BATCH 500

/* The application's allocator: counts bytes and refuses to go over a budget.
** (A real one might hand out memory from an arena it owns.) */
typedef struct budget {
  pthread_mutex_t mu;
  size_t used, limit, refused;
} budget;

static void *budget_alloc(void *ud, void *p, size_t osize, size_t nsize)
{
  budget *b = ud;
  size_t old = p ? osize : 0;
  void *r = NULL;
  pthread_mutex_lock(&b->mu);
  if (nsize == 0) {
    free(p);
    b->used -= old;
  } else if (b->used - old + nsize > b->limit) {
    b->refused++;
  } else if ((r = realloc(p, nsize))) {
    b->used += nsize - old;
  }
  pthread_mutex_unlock(&b->mu);
  return r;
}

static void point(float *v, int i)
{
  for (int j = 0; j < DIM; j++) v[j] = sinf((float)(i * (j + 1)) * 0.001f);
}

/* The loader: batches of records until the budget says no. */
static void *load(void *p)
{
  omen_coll *c = p;
  static float vecs[BATCH * DIM];
  static char names[BATCH][16];
  omen_str ids[BATCH];
  for (int start = 0;; start += BATCH) {
    for (int i = 0; i < BATCH; i++) {
      int n = snprintf(names[i], sizeof names[i], "item%d", start + i);
      ids[i] = (omen_str){names[i], (size_t)n};
      point(vecs + i * DIM, start + i);
    }
    int rc = omen_upsert_batch(c, BATCH, ids, vecs, NULL, 1);
    if (rc == OMEN_NOMEM) {
      printf("loader: stopped at the budget after %d records (%s)\n", start,
             omen_errmsg(omen_coll_db(c)));
      return NULL;
    }
    if (rc) {
      fprintf(stderr, "loader: %s\n", omen_errmsg(omen_coll_db(c)));
      return NULL;
    }
  }
}

int main(void)
{
  budget b = {PTHREAD_MUTEX_INITIALIZER, 0, 8u << 20, 0};
  omen_options o;
  omen_options_init(&o);
  o.alloc = budget_alloc;
  o.alloc_ud = &b;
  omen_db *db;
  omen_coll *c;
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, DIM);
  cfg.ef_construction = 64;
  if (omen_open(NULL, &o, &db) || omen_coll_create(db, "items", &cfg, &c)) {
    fprintf(stderr, "setup: %s\n", db ? omen_errmsg(db) : "out of memory");
    return 1;
  }
  pthread_t loader;
  pthread_create(&loader, NULL, load, c);

  /* The frame loop: one query per frame into a result reused every time
  ** (once warm, a search allocates nothing). */
  omen_result *res;
  omen_search_opts so;
  omen_search_opts_init(&so, 3);
  so.with = 0;
  if (omen_result_new(db, &res)) return 1;
  float q[DIM];
  int frames = 0;
  for (; frames < 2000; frames++) {
    point(q, frames * 7);
    if (omen_search(c, q, &so, res)) {
      fprintf(stderr, "search: %s\n", omen_errmsg(db));
      return 1;
    }
  }
  pthread_join(loader, NULL);
  uint64_t n;
  omen_count(c, &n);
  omen_search(c, q, &so, res);
  const omen_hit *h = omen_result_hit(res, 0);
  printf("%d frames searched beside the loader; %llu records in %zu KiB of an "
         "8192 KiB budget; nearest to the last query: %.*s\n",
         frames, (unsigned long long)n, b.used >> 10, (int)h->id.len, h->id.ptr);
  omen_result_free(res);
  omen_coll_close(c);
  omen_close(db);
  printf("after close: %zu bytes held\n", b.used);
  return b.used != 0;
}
