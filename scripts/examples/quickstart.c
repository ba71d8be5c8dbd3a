/*
** quickstart.c: omen from C, no Lua involved. Opens a database, stores three
** vectors with metadata, searches, and prints the hits.
**
**   cc -Icore scripts/examples/quickstart.c build/libomen.a -lpthread -lm \
**      -o quickstart
**   ./quickstart [path]        (no path: the database lives in memory)
*/
#include <stdio.h>
#include <string.h>

#include "omen.h"

static int check(omen_db *db, int rc, const char *what)
{
  if (rc) fprintf(stderr, "%s: %s\n", what, db ? omen_errmsg(db) : omen_strerror(rc));
  return rc;
}

int main(int argc, char **argv)
{
  omen_db *db;
  if (check(NULL, omen_open(argc > 1 ? argv[1] : NULL, NULL, &db), "open")) {
    omen_close(db);
    return 1;
  }
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, 3); /* dim 3, L2, m 16, ef_construction 200 */
  cfg.metric = OMEN_COSINE;
  omen_coll *docs;
  int rc = omen_coll_open(db, "docs", &docs);
  if (rc == OMEN_NOTFOUND) rc = omen_coll_create(db, "docs", &cfg, &docs);
  if (check(db, rc, "collection")) return 1;

  const char *ids[] = {"apple", "banana", "cherry"};
  const float vecs[][3] = {{0.9f, 0.1f, 0.0f}, {0.1f, 0.9f, 0.1f}, {0.8f, 0.0f, 0.3f}};
  for (int i = 0; i < 3; i++) {
    omen_field meta[] = {
      {{"kind", 4}, {.type = OMEN_STRING, .u.string = {"fruit", 5}}},
      {{"rank", 4}, {.type = OMEN_NUMBER, .u.number = i + 1}},
    };
    rc = omen_upsert(docs, ids[i], strlen(ids[i]), vecs[i], meta, 2);
    if (check(db, rc, "upsert")) return 1;
  }

  omen_result *res;
  omen_search_opts opts;
  omen_search_opts_init(&opts, 2); /* k = 2, with metadata */
  const float query[3] = {1.0f, 0.0f, 0.1f};
  if (check(db, omen_result_new(db, &res), "result") ||
      check(db, omen_search(docs, query, &opts, res), "search"))
    return 1;
  for (size_t i = 0; i < omen_result_count(res); i++) {
    const omen_hit *h = omen_result_hit(res, i);
    printf("%zu. %.*s  distance %.4f  (%zu meta fields)\n", i + 1, (int)h->id.len,
           h->id.ptr, h->distance, h->n_meta);
  }
  omen_result_free(res);
  omen_coll_close(docs);
  return check(db, omen_close(db), "close") ? 1 : 0;
}
