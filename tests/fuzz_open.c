/*
** libFuzzer harness for the database file loader. The input is a database
** file; it is opened read-only (without and with the full check), and
** whatever opens is read: every collection's info, a graph search, an exact
** search, a get of every hit, and text searches where there is an index. Built by `make fuzz` with checksums
** accepted whatever they are, so the checks behind them are reached.
*/
#include "port.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "omen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(omen_db *db)
{
  size_t need, count;
  if (omen_coll_names(db, NULL, 0, &need, &count)) return;
  char *names = malloc(need + 1);
  omen_result *r = NULL, *got = NULL;
  if (!names || omen_coll_names(db, names, need, &need, &count) ||
      omen_result_new(db, &r) || omen_result_new(db, &got))
    goto done;
  for (const char *name = names; count--; name += strlen(name) + 1) {
    omen_coll *c;
    omen_coll_info info;
    if (omen_coll_open(db, name, &c)) continue;
    if (!omen_coll_info_get(c, &info)) {
      float *q = calloc(info.config.dim, sizeof(float));
      for (uint32_t i = 0; q && i < info.config.dim; i++) q[i] = (float)(i % 7) - 3;
      omen_search_opts o;
      omen_search_opts_init(&o, 5);
      o.with = OMEN_WITH_META | OMEN_WITH_VECTOR;
      for (int exact = 0; q && exact < 2; exact++) {
        o.exact = exact;
        if (omen_search(c, q, &o, r)) continue;
        for (size_t i = 0; i < omen_result_count(r); i++) {
          const omen_hit *h = omen_result_hit(r, i);
          omen_get(c, h->id.ptr, h->id.len, got);
        }
      }
      if (info.text_field[0]) { /* text alone, and fused */
        o.text = "t cat-3 +cat -odd \"t cat\" x";
        omen_search(c, NULL, &o, r);
        if (q) omen_search(c, q, &o, r);
        o.text = NULL;
      }
      free(q);
    }
    omen_coll_close(c);
  }
done:
  omen_result_free(r);
  omen_result_free(got);
  free(names);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static char path[64];
  if (!path[0]) snprintf(path, sizeof path, "/tmp/omen-fuzz-open-%d.omen", (int)getpid());
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  fwrite(data, 1, size, f);
  fclose(f);
  for (int verify = 0; verify < 2; verify++) {
    omen_options o;
    omen_options_init(&o);
    o.flags = OMEN_OPEN_READONLY | (verify ? OMEN_OPEN_VERIFY : 0);
    omen_db *db;
    if (omen_open(path, &o, &db) == OMEN_OK) exercise(db);
    omen_close(db);
  }
  return 0;
}
