/*
** text: omen's full-text index against SQLite FTS5, one process, one run.
**
**   text CORPUS QUERIES [ROUNDS]
**
** CORPUS holds one document per line (tabs and the like as spaces); QUERIES
** one query per line, its terms separated by spaces (bench/text_prep.lua
** makes both). Both engines index the same documents with their default
** settings (FTS5: unicode61, bm25(); omen: text = "body"), then answer the
** same OR queries, top 10:
**  - build: documents per second into FTS5 (a contentless table, inserts
**    in one transaction) and into omen's index (omen_text_index over the
**    records), and upserts of records (a 16-d vector each) into a
**    collection indexed already, against the same upserts unindexed;
**  - size: FTS5's database file against omen's text arrays (text_bytes);
**  - agreement: the share of omen's top 10 that FTS5 ranks in its top 10,
**    ties aside (a hit scoring the same as FTS5's 10th counts);
**  - speed: queries per second, rounds alternating, each keeping its best;
**  - hybrid: a fused query (vector and text, RRF) against its two halves.
** Prints a table and one JSON object (last line).
*/
#include "port.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "omen.h"

#define K 10
#define DIM 16

typedef struct lines {
  char **s;
  size_t *len;
  size_t n;
} lines;

static lines read_lines(const char *path)
{
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(1);
  }
  lines l = {NULL, NULL, 0};
  size_t cap = 0;
  char *line = NULL;
  size_t lcap = 0;
  ssize_t n;
  while ((n = getline(&line, &lcap, f)) > 0) {
    if (line[n - 1] == '\n') line[--n] = 0;
    if (l.n == cap) {
      cap = cap ? 2 * cap : 1024;
      l.s = realloc(l.s, cap * sizeof *l.s);
      l.len = realloc(l.len, cap * sizeof *l.len);
    }
    l.s[l.n] = strdup(line);
    l.len[l.n++] = (size_t)n;
  }
  free(line);
  fclose(f);
  return l;
}

static void check(int rc, omen_db *db, const char *what)
{
  if (rc) {
    fprintf(stderr, "text: %s: %s\n", what, omen_errmsg(db));
    exit(1);
  }
}

static void sqlcheck(int rc, sqlite3 *db, const char *what)
{
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    fprintf(stderr, "text: sqlite %s: %s\n", what, sqlite3_errmsg(db));
    exit(1);
  }
}

/* A document's vector: a fixed pseudo-random point, for the hybrid part. */
static void doc_vector(size_t i, float *v)
{
  uint64_t x = i * 0x9e3779b97f4a7c15ull + 1;
  for (int d = 0; d < DIM; d++) {
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    v[d] = (float)((x >> 40) & 0xffff) / 65536.0f;
  }
}

/* -- FTS5 -------------------------------------------------------------------------- */

typedef struct fts {
  sqlite3 *db;
  sqlite3_stmt *q;
  double build_s;
  uint64_t bytes;
} fts;

static void fts_build(fts *F, const char *path, const lines *docs)
{
  unlink(path);
  sqlcheck(sqlite3_open(path, &F->db), F->db, "open");
  sqlcheck(sqlite3_exec(F->db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                        "CREATE VIRTUAL TABLE t USING fts5(body, content='')",
                        NULL, NULL, NULL), F->db, "create");
  sqlite3_stmt *ins;
  sqlcheck(sqlite3_prepare_v2(F->db, "INSERT INTO t(rowid, body) VALUES(?, ?)", -1, &ins,
                              NULL), F->db, "prepare");
  double t0 = bench_now();
  sqlcheck(sqlite3_exec(F->db, "BEGIN", NULL, NULL, NULL), F->db, "begin");
  for (size_t i = 0; i < docs->n; i++) {
    sqlite3_bind_int64(ins, 1, (sqlite3_int64)i + 1);
    sqlite3_bind_text(ins, 2, docs->s[i], (int)docs->len[i], SQLITE_STATIC);
    sqlcheck(sqlite3_step(ins), F->db, "insert");
    sqlite3_reset(ins);
  }
  sqlcheck(sqlite3_exec(F->db, "COMMIT", NULL, NULL, NULL), F->db, "commit");
  F->build_s = bench_now() - t0;
  sqlite3_finalize(ins);
  struct stat st;
  F->bytes = stat(path, &st) ? 0 : (uint64_t)st.st_size;
  /* rank is bm25() by default; ORDER BY rank is FTS5's fast path for it */
  sqlcheck(sqlite3_prepare_v2(F->db, "SELECT rowid, rank FROM t WHERE t MATCH ? "
                              "ORDER BY rank LIMIT 10", -1, &F->q, NULL), F->db,
           "prepare");
}

/* "a" OR "b" OR ...: each term quoted, so no term reads as syntax. */
static void fts_query(const char *terms, char *out, size_t cap)
{
  size_t at = 0;
  const char *p = terms;
  while (*p && at + 16 < cap) {
    while (*p == ' ') p++;
    if (!*p) break;
    if (at) at += (size_t)snprintf(out + at, cap - at, " OR ");
    out[at++] = '"';
    while (*p && *p != ' ' && at + 8 < cap) out[at++] = *p++;
    out[at++] = '"';
  }
  out[at] = 0;
}

static size_t fts_search(fts *F, const char *match, int64_t *rows, double *scores)
{
  sqlite3_bind_text(F->q, 1, match, -1, SQLITE_STATIC);
  size_t n = 0;
  while (sqlite3_step(F->q) == SQLITE_ROW && n < K) {
    rows[n] = sqlite3_column_int64(F->q, 0) - 1;
    scores[n++] = -sqlite3_column_double(F->q, 1);
  }
  sqlite3_reset(F->q);
  return n;
}

/* -- omen -------------------------------------------------------------------------- */

/* A collection of the documents, indexed before the upserts (`indexed`)
** or after them: the seconds the upserts took, and the indexing after. */
static omen_coll *omen_build(omen_db *db, const char *name, const lines *docs, int indexed,
                             double *upsert_s, double *index_s)
{
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, DIM);
  cfg.m = 8; /* the vectors only serve the fused queries: a light graph */
  cfg.ef_construction = 32;
  omen_coll *c;
  check(omen_coll_create(db, name, &cfg, &c), db, "create");
  omen_text_config tc;
  omen_text_config_init(&tc, "body");
  if (indexed) check(omen_text_index(c, &tc), db, "text index");
  size_t chunk = 1000;
  omen_str *ids = malloc(chunk * sizeof *ids);
  float *vecs = malloc(chunk * DIM * sizeof *vecs);
  omen_field *fields = malloc(chunk * sizeof *fields);
  omen_meta *metas = malloc(chunk * sizeof *metas);
  char (*idbuf)[16] = malloc(chunk * 16);
  double t0 = bench_now();
  for (size_t at = 0; at < docs->n; at += chunk) {
    size_t n = docs->n - at < chunk ? docs->n - at : chunk;
    for (size_t i = 0; i < n; i++) {
      snprintf(idbuf[i], 16, "%zu", at + i);
      ids[i].ptr = idbuf[i];
      ids[i].len = strlen(idbuf[i]);
      doc_vector(at + i, vecs + i * DIM);
      fields[i].key.ptr = "body";
      fields[i].key.len = 4;
      fields[i].value.type = OMEN_STRING;
      fields[i].value.u.string.ptr = docs->s[at + i];
      fields[i].value.u.string.len = docs->len[at + i];
      metas[i].fields = &fields[i];
      metas[i].n = 1;
    }
    check(omen_upsert_batch(c, n, ids, vecs, metas, 1), db, "upsert");
  }
  double t1 = bench_now();
  if (!indexed) check(omen_text_index(c, &tc), db, "text index");
  *upsert_s = t1 - t0;
  *index_s = bench_now() - t1;
  free(ids);
  free(vecs);
  free(fields);
  free(metas);
  free(idbuf);
  return c;
}

static size_t omen_text_search(omen_coll *c, omen_result *r, const char *q, const float *v,
                               uint32_t k, int64_t *rows, double *scores)
{
  omen_search_opts o;
  omen_search_opts_init(&o, k);
  o.with = 0;
  o.text = q;
  check(omen_search(c, v, &o, r), omen_coll_db(c), "search");
  size_t n = omen_result_count(r);
  for (size_t i = 0; i < n && rows; i++) {
    const omen_hit *h = omen_result_hit(r, i);
    int64_t row = 0; /* ids are not NUL-terminated */
    for (size_t j = 0; j < h->id.len; j++) row = 10 * row + (h->id.ptr[j] - '0');
    rows[i] = row;
    scores[i] = h->score;
  }
  return n;
}

/* -- Agreement --------------------------------------------------------------------- */

/* The share of omen's hits FTS5 ranks in its top 10, ties aside. */
static double agreement(const int64_t *a, const double *as, size_t na, const int64_t *b,
                        const double *bs, size_t nb)
{
  if (!na && !nb) return 1;
  size_t agree = 0;
  for (size_t i = 0; i < na; i++) {
    int found = 0;
    for (size_t j = 0; j < nb && !found; j++) found = a[i] == b[j];
    if (!found && nb == K) /* a tie with FTS5's last */
      found = fabs(as[i] - bs[nb - 1]) <= 1e-6 * fabs(bs[nb - 1]) + 1e-9;
    agree += found;
  }
  return (double)agree / (double)(na > nb ? na : nb);
}

int main(int argc, char **argv)
{
  if (argc < 3) {
    fprintf(stderr, "usage: text CORPUS QUERIES [ROUNDS] [FTS5_DB]\n");
    return 2;
  }
  lines docs = read_lines(argv[1]), queries = read_lines(argv[2]);
  int rounds = argc > 3 ? atoi(argv[3]) : 3;
  const char *fts_path = argc > 4 ? argv[4] : "/tmp/omen-bench-fts5.db";
  /* Builds, rounds alternating, each system keeping its best (the last
  ** round's index is the one searched). */
  fts F = {0};
  omen_db *db;
  check(omen_open(NULL, NULL, &db), db, "open");
  double fts_s = 1e30, index_s = 1e30, plain_s = 1e30, upsert_s = 1e30;
  omen_coll *c = NULL;
  for (int round = 0; round < rounds; round++) {
    if (F.db) {
      sqlite3_finalize(F.q);
      sqlite3_close(F.db);
    }
    fts_build(&F, fts_path, &docs);
    if (F.build_s < fts_s) fts_s = F.build_s;
    if (c) {
      omen_coll_close(c);
      check(omen_coll_drop(db, "late"), db, "drop");
    }
    double idx, plain, upsert, none;
    c = omen_build(db, "late", &docs, 0, &plain, &idx);
    omen_coll *c2 = omen_build(db, "early", &docs, 1, &upsert, &none);
    omen_coll_close(c2);
    check(omen_coll_drop(db, "early"), db, "drop");
    if (idx < index_s) index_s = idx;
    if (plain < plain_s) plain_s = plain;
    if (upsert < upsert_s) upsert_s = upsert;
  }
  F.build_s = fts_s;
  check(omen_checkpoint(db), db, "checkpoint");
  omen_coll_info info;
  check(omen_coll_info_get(c, &info), db, "info");
  omen_result *r;
  check(omen_result_new(db, &r), db, "result");

  /* Agreement, and the terms each engine matched. */
  char match[4096];
  int64_t ra[K], rb[K];
  double sa[K], sb[K], agree = 0;
  size_t worst = 0;
  double worst_a = 2;
  for (size_t i = 0; i < queries.n; i++) {
    fts_query(queries.s[i], match, sizeof match);
    size_t nb = fts_search(&F, match, rb, sb);
    size_t na = omen_text_search(c, r, queries.s[i], NULL, K, ra, sa);
    double a = agreement(ra, sa, na, rb, sb, nb);
    agree += a;
    if (a < worst_a) {
      worst_a = a;
      worst = i;
    }
  }
  agree /= (double)(queries.n ? queries.n : 1);

  /* Speed: rounds alternate, each system keeps its best. */
  double fts_best = 1e30, omen_best = 1e30, fused_best = 1e30, vec_best = 1e30;
  double text50_best = 1e30;
  float v[DIM];
  omen_search_opts vo;
  omen_search_opts_init(&vo, K);
  vo.with = 0;
  vo.depth = 0;
  for (int round = 0; round < rounds; round++) {
    double t0 = bench_now();
    for (size_t i = 0; i < queries.n; i++) {
      fts_query(queries.s[i], match, sizeof match);
      fts_search(&F, match, rb, sb);
    }
    double t1 = bench_now();
    for (size_t i = 0; i < queries.n; i++)
      omen_text_search(c, r, queries.s[i], NULL, K, NULL, NULL);
    double t2 = bench_now();
    for (size_t i = 0; i < queries.n; i++) {
      doc_vector(i * 7919, v);
      omen_text_search(c, r, queries.s[i], v, K, NULL, NULL);
    }
    double t3 = bench_now();
    /* The halves of a fused query, each as deep as it goes: max(k, 50). */
    for (size_t i = 0; i < queries.n; i++) {
      doc_vector(i * 7919, v);
      vo.k = 50;
      check(omen_search(c, v, &vo, r), db, "vector search");
    }
    double t4 = bench_now();
    for (size_t i = 0; i < queries.n; i++)
      omen_text_search(c, r, queries.s[i], NULL, 50, NULL, NULL);
    double t5 = bench_now();
    if (t1 - t0 < fts_best) fts_best = t1 - t0;
    if (t2 - t1 < omen_best) omen_best = t2 - t1;
    if (t3 - t2 < fused_best) fused_best = t3 - t2;
    if (t4 - t3 < vec_best) vec_best = t4 - t3;
    if (t5 - t4 < text50_best) text50_best = t5 - t4;
  }
  double nq = (double)queries.n;
  printf("documents %zu, queries %zu (OR, 1-5 terms), top %d\n", docs.n, queries.n, K);
  printf("%-34s %12s %12s %8s\n", "", "FTS5", "omen", "ratio");
  printf("%-34s %12.0f %12.0f %7.2fx\n", "build, documents/s (index)", docs.n / F.build_s,
         docs.n / index_s, F.build_s / index_s);
  printf("%-34s %12s %12.0f\n", "  upserts into an indexed collection", "", docs.n / upsert_s);
  printf("%-34s %12s %12.0f\n", "  the same upserts, no text index", "", docs.n / plain_s);
  printf("%-34s %12.1f %12.1f %7.2fx\n", "index size, MB", F.bytes / 1e6,
         info.text_bytes / 1e6, (double)info.text_bytes / (double)F.bytes);
  printf("%-34s %12.0f %12.0f %7.2fx\n", "text queries/s", nq / fts_best, nq / omen_best,
         fts_best / omen_best);
  printf("%-34s %25.4f (worst %.2f: %s)\n", "top-10 agreement", agree, worst_a,
         queries.n ? queries.s[worst] : "");
  printf("%-34s %12s %12.1f\n", "fused query, us", "", 1e6 * fused_best / nq);
  printf("%-34s %12s %12.1f\n", "  its halves (50 deep), summed, us", "",
         1e6 * (text50_best + vec_best) / nq);
  printf("{\"docs\": %zu, \"queries\": %zu, \"fts5_build_dps\": %.0f, \"omen_index_dps\": %.0f, "
         "\"omen_upsert_dps\": %.0f, \"omen_plain_upsert_dps\": %.0f, \"fts5_bytes\": %llu, \"omen_bytes\": %llu, "
         "\"fts5_qps\": %.0f, \"omen_qps\": %.0f, \"agreement\": %.4f, \"fused_us\": %.1f, "
         "\"halves_us\": %.1f, \"text_terms\": %llu}\n",
         docs.n, queries.n, docs.n / F.build_s, docs.n / index_s, docs.n / upsert_s,
         docs.n / plain_s,
         (unsigned long long)F.bytes, (unsigned long long)info.text_bytes, nq / fts_best,
         nq / omen_best, agree, 1e6 * fused_best / nq, 1e6 * (text50_best + vec_best) / nq,
         (unsigned long long)info.text_terms);
  omen_result_free(r);
  omen_coll_close(c);
  omen_close(db);
  sqlite3_finalize(F.q);
  sqlite3_close(F.db);
  unlink(fts_path);
  return 0;
}
